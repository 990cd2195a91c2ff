// The gaggle 2.1.4 face on the native engine: the same constructor, methods, events and state fields, so an
// application swaps `require('gaggle')` for flotilla and keeps its code. Consensus runs in Rust; this class
// shapes arguments, moves messages between the channel and the engine, and settles promises.
'use strict'

const { EventEmitter } = require('node:events')
const { randomUUID } = require('node:crypto')
const { NativeNode } = require('../native')
const { validateInstanceOptions } = require('./options')
const { parseAppendArgs, parseDispatchArgs, parseCloseArgs, settle, settleSpread } = require('./call-args')
const { DispatchLink } = require('./dispatch')
const { SnapshotHooks } = require('../snapshot-hooks')
const { openDurableNode } = require('../open-node')
const { reportError, reportStartFailure } = require('../report-error')
const { notCommitted, outcomeUnknown } = require('../outcome-errors')
const { PendingRequests } = require('../pending-requests')
const { DeferredFlush } = require('../deferred-flush')
const MemoryChannel = require('../channels/memory')

const STATES = { CANDIDATE: 'CANDIDATE', LEADER: 'LEADER', FOLLOWER: 'FOLLOWER' }
const RPC_TYPE = {
  REQUEST_VOTE: 'REQUEST_VOTE',
  REQUEST_VOTE_REPLY: 'REQUEST_VOTE_REPLY',
  APPEND_ENTRIES: 'APPEND_ENTRIES',
  APPEND_ENTRIES_REPLY: 'APPEND_ENTRIES_REPLY',
  APPEND_ENTRY: 'APPEND_ENTRY',
  DISPATCH: 'DISPATCH',
  DISPATCH_REPLY: 'DISPATCH_REPLY'
}

const CLOSED_BEFORE_COMMIT = 'The node was closed before the entry was committed'
const TIMED_OUT_BEFORE_COMMIT = 'Timed out before the entry was committed'

// How many channel messages a durable node keeps while it reads its log; more are dropped (Raft sends again).
const MAX_MESSAGES_WHILE_OPENING = 10000

function isChannel (channel) {
  return channel !== null && typeof channel === 'object' &&
    ['connect', 'disconnect', 'send', 'broadcast', 'on', 'removeListener'].every((m) => typeof channel[m] === 'function')
}

// The native engine's options, from validated gaggle options.
function nativeOptions (options) {
  const native = {
    id: options.id,
    clusterSize: options.clusterSize,
    electionTimeoutMin: options.electionTimeout.min,
    electionTimeoutMax: options.electionTimeout.max,
    heartbeatInterval: options.heartbeatInterval,
    preVote: options.preVote,
    checkQuorum: options.checkQuorum,
    maxInflightMessages: options.maxInflightMessages,
    maxInflightBytes: options.maxInflightBytes,
    maxMessageBytes: options.maxMessageBytes
  }
  if (options.seed !== undefined) native.seed = options.seed
  if (options.snapshot !== undefined) native.snapshotThreshold = options.snapshot.threshold
  if (options.dataDir !== undefined) {
    native.dataDir = options.dataDir
    native.segmentBytes = options.segmentBytes
  }
  return native
}

class Gaggle extends EventEmitter {
  constructor (opts) {
    super()
    const options = validateInstanceOptions(opts)
    if (!isChannel(options.channel)) {
      throw new Error('Invalid options: "channel" must be a channel instance (see channels/channel-interface)')
    }
    if (!Number.isInteger(options.clusterSize) || options.clusterSize > 1024) {
      throw new Error('Invalid options: "clusterSize" must be a whole number from 1 to 1024')
    }
    this.id = options.id
    this._clusterSize = options.clusterSize
    this._rpc = options.rpc
    this._channel = options.channel
    // Only the memory channel itself (not a subclass, which might rewrite packets) passes objects on unchanged.
    this._keepWireTexts = this._channel.constructor === MemoryChannel
    this._storageError = null
    this._snapshotHooks = options.snapshot === undefined ? null : new SnapshotHooks(options.snapshot, this, () => this._closePromise !== null)
    // A durable node reads its log on a worker thread: until it is open, `_native` is null, appends wait in
    // `_appendsWhileOpening` and channel messages in `_messagesWhileOpening` (null once they were handed over).
    this._native = null
    this._openError = null
    this._readyAsked = false
    this._appendsWhileOpening = []
    this._messagesWhileOpening = options.dataDir === undefined ? null : []
    this._durable = options.dataDir !== undefined
    this._commitIndex = -1
    this._lastApplied = -1
    this._knownLeader = null
    this._pendingAppends = new Map() // entry id -> {resolve, reject, timer}
    this._pendingRequests = new PendingRequests() // appends with a request id
    this._flushScheduled = false
    this._closePromise = null
    this._droppedInJs = 0
    this._droppedStrangersInJs = 0
    this._droppedWhileOpening = 0 // beyond MAX_MESSAGES_WHILE_OPENING
    this._dispatch = new DispatchLink(this)

    this._onRecieved = this._onRecieved.bind(this)
    this._flush = this._flush.bind(this)
    this._deferredFlush = new DeferredFlush(this._flush)
    this._channel.on('recieved', this._onRecieved)
    this._channel.connect()
    if (options.dataDir === undefined) {
      this._native = new NativeNode(JSON.stringify(nativeOptions(options)))
      this._opened = Promise.resolve()
      this._start()
    } else {
      // Never rejects: a log that cannot be read stops the node (see `_openFailed`) and rejects `ready()`.
      this._opened = openDurableNode(nativeOptions(options), (token, error) => this._onStorage(token, error))
        .then((native) => this._attach(native), (error) => this._openFailed(error))
    }
  }

  _start () {
    this._native.start(() => {
      this._native.tick()
      this._flush()
    })
    this._scheduleFlush()
  }

  // The durable engine is open: it takes the appends that waited for it and starts. The messages that came
  // meanwhile follow in a later turn of the event loop, so that whoever awaited ready() sees the recovered
  // state first; until they are all in, newer ones queue behind them.
  _attach (native) {
    if (this._closePromise) return native.close()
    this._native = native
    for (const { json, requestId, pending } of this._appendsWhileOpening.splice(0)) {
      if (pending.waiting) this._proposeWaiting(json, requestId, pending)
    }
    this._start()
    setImmediate(() => {
      const messages = this._messagesWhileOpening
      this._messagesWhileOpening = null
      if (this._closePromise || messages === null) return
      for (const [originNodeId, data] of messages) this._onRecieved(originNodeId, data)
    })
  }

  // The log cannot be read (damaged, locked, another node's): the node stops, and says why.
  _openFailed (cause) {
    const error = new Error('flotilla: the node cannot start: ' + cause.message)
    error.cause = cause
    this._openError = error
    for (const { pending } of this._appendsWhileOpening.splice(0)) {
      if (pending.waiting) pending.reject(notCommitted(error.message, error))
    }
    this.close()
    reportStartFailure(this, error, this._readyAsked)
  }

  // ---- gaggle's state fields (read-only views of the engine) ----

  // Until a durable node has read its log, it reports a follower that knows nothing yet.
  get _state () { return this._native === null ? STATES.FOLLOWER : this._native.state }
  get _currentTerm () { return this._native === null ? 0 : this._native.term }
  get _votedFor () { return this._native === null ? null : this._native.votedFor }
  get _log () { return this.getLog() }
  get _leader () {
    if (this._native === null) return null
    const leader = this._native.leader
    return leader === this.id ? null : leader
  }

  // ---- methods ----

  append (data, timeout, cb) {
    const call = parseAppendArgs(data, timeout, cb)
    const promise = new Promise((resolve, reject) => {
      if (this._openError !== null) return reject(notCommitted(this._openError.message, this._openError))
      if (this._closePromise) return reject(notCommitted(CLOSED_BEFORE_COMMIT))
      let json
      try {
        json = JSON.stringify(call.data)
      } catch (error) {
        return reject(notCommitted('The data cannot be serialized to JSON: ' + error.message))
      }
      // `waiting`: not settled yet (a timeout may settle it before the engine has even taken it).
      const pending = { resolve, reject, timer: null, id: null, waiting: true }
      if (call.timeoutMs !== null) {
        pending.timer = setTimeout(() => {
          pending.waiting = false
          // Still waiting for the engine to open: it never saw the entry.
          if (pending.id === null) return reject(notCommitted(TIMED_OUT_BEFORE_COMMIT))
          this._forgetPending(pending)
          reject(outcomeUnknown(TIMED_OUT_BEFORE_COMMIT))
        }, Math.min(call.timeoutMs, 2147483647))
        // The timeout is a deadline, as in gaggle: a commit seen at or after it settles the append as timed out,
        // even when it comes before the timer fires (so a 0 ms timeout always times out).
        const deadline = performance.now() + call.timeoutMs
        // Such an append did commit, but too late: it settles as gaggle's did, with the code for an unknown outcome.
        pending.resolve = (index) => {
          if (performance.now() < deadline) resolve(index)
          else reject(outcomeUnknown(TIMED_OUT_BEFORE_COMMIT))
        }
      }
      if (this._native === null) this._appendsWhileOpening.push({ json, requestId: call.requestId, pending })
      else this._proposeWaiting(json, call.requestId, pending)
    })
    return settle(promise, call.callback)
  }

  // Hands an append's data to the engine, which names the entry (after the request id, if there is one); the
  // append settles when it commits. Retries of one request id on this node wait together.
  _proposeWaiting (json, requestId, pending) {
    let id
    try {
      id = requestId === null ? this._native.propose(json) : this._native.propose(json, requestId)
    } catch (error) {
      clearTimeout(pending.timer)
      pending.waiting = false
      return pending.reject(notCommitted(error.message))
    }
    pending.id = id
    pending.request = requestId !== null
    if (pending.request) this._pendingRequests.add(pending)
    else this._pendingAppends.set(id, pending)
    this._scheduleFlush()
  }

  // An append that timed out stops waiting for its entry.
  _forgetPending (pending) {
    if (pending.request) this._pendingRequests.remove(pending)
    else this._pendingAppends.delete(pending.id)
  }

  /**
   * Resolves when the node is running: at once for an in-memory node; for a durable node, once it has read its
   * log and snapshot (on a worker thread). Rejects with the reason when the log cannot be read.
   */
  ready () {
    this._readyAsked = true
    return this._opened.then(() => {
      if (this._openError !== null) throw this._openError
      if (this._native === null) throw new Error('The node was closed before it opened')
    })
  }

  dispatchOnLeader (name, args, timeout, cb) {
    const call = parseDispatchArgs(name, args, timeout, cb)
    return settleSpread(this._dispatch.request(call), call.callback)
  }

  getLog () {
    return this._native === null ? [] : JSON.parse(this._native.logJson())
  }

  getCommitIndex () {
    return this._commitIndex
  }

  isLeader () {
    return this._native !== null && this._native.state === STATES.LEADER
  }

  hasUncommittedEntriesInPreviousTerms () {
    return this._native !== null && this._native.hasUncommittedEntriesInPreviousTerms()
  }

  // Hands leadership to another node (it catches up, then campaigns at once). Resolves when started.
  transferLeadership (nodeId) {
    if (typeof nodeId !== 'string') throw new TypeError('Invalid arguments: "nodeId" must be a string')
    if (this._native === null) throw new Error('The node is not running (it is still reading its log, or it stopped)')
    this._native.transferLeadership(nodeId)
    this._scheduleFlush()
  }

  // The engine's view of this node: role, term, leader, indices, peers and the counters of dropped messages;
  // null while a durable node is still reading its log.
  status () {
    if (this._native === null) return null
    const status = JSON.parse(this._native.statusJson())
    status.dropped.malformed += this._droppedInJs
    status.dropped.unknownSender += this._droppedStrangersInJs
    status.dropped.whileOpening = this._droppedWhileOpening
    status.dropped.total += this._droppedInJs + this._droppedStrangersInJs + this._droppedWhileOpening
    status.pendingAppends = this._pendingAppends.size + this._pendingRequests.size
    status.pendingDispatches = this._dispatch.pendingCount
    return status
  }

  close (cb) {
    const call = parseCloseArgs(cb)
    if (!this._closePromise) this._closePromise = this._shutDown()
    return settle(this._closePromise, call.callback)
  }

  // Resolves once the channel is disconnected and the storage has written what was queued and let go of the
  // data directory (a durable node still opening is closed as soon as it opens).
  _shutDown () {
    let storageClosed = this._opened // a durable node still opening is closed as soon as it opens
    if (this._native !== null) {
      const closing = this._native.close()
      // An in-memory node has nothing to write: its close() settles as gaggle's did, when the channel is down.
      if (this._durable) storageClosed = closing
    }
    this._channel.removeListener('recieved', this._onRecieved)
    // Appends the engine took may commit all the same; those still waiting for it to open will not.
    const taken = [...this._pendingAppends.values(), ...this._pendingRequests.takeAll()]
    const notTaken = this._appendsWhileOpening.map(({ pending }) => pending)
    for (const pending of [...taken, ...notTaken]) {
      clearTimeout(pending.timer)
      if (!pending.waiting) continue
      pending.waiting = false
      if (this._openError !== null) pending.reject(notCommitted(this._openError.message, this._openError))
      else if (pending.id === null) pending.reject(notCommitted(CLOSED_BEFORE_COMMIT))
      else pending.reject(outcomeUnknown(CLOSED_BEFORE_COMMIT))
    }
    this._pendingAppends.clear()
    this._appendsWhileOpening = []
    this._messagesWhileOpening = null
    this._dispatch.close()
    const disconnected = new Promise((resolve) => {
      const state = this._channel.state
      if (state && state.connected === false) return resolve()
      this._channel.once('disconnected', () => resolve())
      this._channel.disconnect()
    })
    return Promise.all([disconnected, storageClosed]).then(() => {})
  }

  // ---- plumbing between the channel and the engine ----

  _onRecieved (originNodeId, data) {
    if (this._closePromise) return
    if (this._messagesWhileOpening !== null) {
      if (this._messagesWhileOpening.length < MAX_MESSAGES_WHILE_OPENING) this._messagesWhileOpening.push([originNodeId, data])
      else this._droppedWhileOpening++
      return
    }
    if (typeof originNodeId !== 'string' || originNodeId === '' || data === null || typeof data !== 'object') {
      this._droppedInJs++
      return
    }
    // An engine's message as the text it wrote, from the memory channel (see `_flush`).
    if (data instanceof MemoryChannel.WireText) {
      this._native.receive(originNodeId, data.text)
      this._scheduleFlush()
      return
    }
    if (data.type === RPC_TYPE.DISPATCH || data.type === RPC_TYPE.DISPATCH_REPLY) {
      // Only members may run rpc methods here; the engine checks the senders of everything else.
      if (!this._native.isPeer(originNodeId)) this._droppedStrangersInJs++
      else if (!this._dispatch.receive(originNodeId, data)) this._droppedInJs++
      return
    }
    let json
    try {
      json = JSON.stringify(data)
    } catch {
      this._droppedInJs++
      return
    }
    this._native.receive(originNodeId, json)
    this._scheduleFlush()
  }

  // The disk thread made writes durable (the engine may now send what waited for them), or failed.
  _onStorage (token, error) {
    if (this._closePromise) return
    if (error !== null) {
      this._storageError = new Error('flotilla: the node stopped, its log cannot be written: ' + error)
      reportError(this, this._storageError)
      this.close()
      return
    }
    this._native.persisted(token)
    this._scheduleFlush()
  }

  _scheduleFlush () {
    if (this._flushScheduled) return
    this._flushScheduled = true
    queueMicrotask(this._flush)
  }

  // Carries out what the engine decided: send, then report appends and commits, then role changes.
  _flush () {
    this._flushScheduled = false
    if (this._closePromise || this._native === null) return
    // While the engine hands over a long committed log, one piece per turn of the loop: that flush is due.
    if (this._deferredFlush.pending) return
    // Event payloads nobody listens for are left out of the output: less to write, and less to parse.
    const announceAppended = this.listenerCount('appended') > 0
    const announceCommitted = this.listenerCount('committed') > 0
    let output
    if (this._keepWireTexts) {
      // The memory channel carries each message as the text the engine wrote, and the receiving engine reads
      // that text: the messages (most of the output when entries flow) are never parsed into objects.
      // The first flush comes before any packet can arrive.
      MemoryChannel.readWireTexts(this._onRecieved)
      const parts = this._native.flushParts(announceAppended, announceCommitted)
      if (parts === null) return
      output = JSON.parse(parts[0])
      if (output.send) {
        const send = output.send
        for (let i = 0; i < send.length; i++) this._send(send[i], parts[i + 1], true)
      }
    } else {
      const text = this._native.flush(announceAppended, announceCommitted)
      if (text === null) return
      output = JSON.parse(text)
      if (output.send) {
        for (const [to, message] of output.send) this._send(to, message)
      }
    }
    if (output.restore !== undefined) this._restoreSnapshot(output.restore)
    if (output.settledIds) this._settleAppends(output.settledIds)
    // Appends with a request id that committed (or had committed before they were made here), with their index.
    if (output.settledRequests) this._pendingRequests.settle(output.settledRequests)
    if (output.appended && this.listenerCount('appended') > 0) {
      for (const [index, term, id, data] of output.appended) this.emit('appended', { term, data, id }, index)
    }
    if (output.committed) this._onCommitted(output.committed, announceCommitted)
    if (output.commitIndex !== undefined) this._onCommitIndex(output.commitIndex, output.committedIds)
    if (output.state) this._onStateChange()
    if (output.snapshotWanted !== undefined) this._takeSnapshot(output.snapshotWanted)
    if (output.more) this._deferredFlush.schedule()
  }

  // The engine restarted from, or received, a snapshot: the application's state becomes the snapshot's, and the
  // commits that follow continue after the entries it covers.
  _restoreSnapshot ({ userEntries, data }) {
    this._commitIndex = userEntries - 1
    this._lastApplied = userEntries - 1
    if (this._snapshotHooks !== null) this._snapshotHooks.restore(data)
  }

  // Appends of this node that committed, seen only through a snapshot from the leader.
  _settleAppends (ids) {
    for (const id of ids) {
      const pending = this._pendingAppends.get(id)
      if (pending === undefined) continue
      this._pendingAppends.delete(id)
      clearTimeout(pending.timer)
      pending.resolve()
    }
  }

  _takeSnapshot (index) {
    if (this._snapshotHooks !== null) this._snapshotHooks.take(index)
  }


  // `asText`: the message is JSON text, for the memory channel's `sendText`/`broadcastText`.
  _send (to, message, asText = false) {
    try {
      if (asText) {
        if (to === null) this._channel.broadcastText(message)
        else this._channel.sendText(to, message)
      } else if (to === null) {
        this._channel.broadcast(message)
      } else {
        this._channel.send(to, message)
      }
    } catch (error) {
      // A channel that cannot send now (disconnected, reconnecting) loses the message; Raft resends.
      this._sendFailures = (this._sendFailures || 0) + 1
    }
  }

  // `withData`: the flush asked for the entries' term and data, because someone listened then.
  _onCommitted (committed, withData) {
    const announce = withData && this.listenerCount('committed') > 0
    for (const [index, term, id, data] of committed) {
      this._commitIndex = index
      this._lastApplied = index
      const pending = this._pendingAppends.get(id)
      if (pending !== undefined) {
        this._pendingAppends.delete(id)
        clearTimeout(pending.timer)
        pending.resolve()
      }
      if (announce) this.emit('committed', { term, data, id }, index)
    }
  }

  // Commits when nobody listens for 'committed': the new commit index and the ids of this node's own entries.
  _onCommitIndex (index, ownIds) {
    this._commitIndex = index
    this._lastApplied = index
    if (ownIds === undefined) return
    for (const id of ownIds) {
      const pending = this._pendingAppends.get(id)
      if (pending !== undefined) {
        this._pendingAppends.delete(id)
        clearTimeout(pending.timer)
        pending.resolve()
      }
    }
  }

  _onStateChange () {
    const leader = this._native.leader
    if (leader !== null && leader !== this._knownLeader) {
      this._knownLeader = leader
      this._dispatch.leaderChanged()
      this.emit('leaderElected')
    } else if (leader === null) {
      this._knownLeader = null
    }
  }

  // Used by DispatchLink.
  _sendMessage (to, message) { this._send(to, message) }
  _newRpcId () { return randomUUID() }
}

module.exports = Gaggle
module.exports._STATES = { ...STATES }
module.exports._RPC_TYPE = { ...RPC_TYPE }
