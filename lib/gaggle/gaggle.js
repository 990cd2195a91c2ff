// The gaggle 2.1.4 face on the native engine: the same constructor, methods, events and state fields, so an
// application swaps `require('gaggle')` for flotilla and keeps its code. Consensus runs in Rust; this class
// shapes arguments, moves messages between the channel and the engine, and settles promises.
'use strict'

const { EventEmitter } = require('node:events')
const { randomUUID } = require('node:crypto')
const { validateInstanceOptions } = require('./options')
const { parseAppendArgs, parseDispatchArgs, parseReadArgs, parseCloseArgs, settle, settleSpread } = require('./call-args')
const { DispatchLink } = require('./dispatch')
const { EngineHost } = require('../engine/host')
const { CODES, codedError, invalidArgument, notCommitted, outcomeUnknown } = require('../engine/errors')
const { Deadlines, settleInTime, stopWaiting } = require('../engine/deadlines')
const { membershipTarget } = require('../engine/membership-target')
const { entriesRange, entriesStream } = require('../engine/entries-stream')
const { isAddress } = require('../engine/transport-settings')
const MemoryChannel = require('../channels/memory')
const { MAX_CLUSTER_SIZE, MAX_NAME_BYTES: MAX_ID_BYTES } = require('../native')
const { ABANDONED_BEFORE_COMMIT } = require('../engine/pending-requests')
const { ClientService } = require('../service/client-service')

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
// An append that committed at or after its deadline settles as gaggle's did, with the code for an unknown outcome.
const appendCommittedLate = () => outcomeUnknown(TIMED_OUT_BEFORE_COMMIT)
// On its own thread: the appends numbered in JS and not handed to the engine yet (see _numberAppend).
const noNumberedAppends = () => ({ datas: [], pendings: [] })

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
    leaseReads: options.leaseReads,
    join: options.join,
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

function checkMemberId (id) {
  if (typeof id !== 'string' || id === '' || Buffer.byteLength(id) > MAX_ID_BYTES) {
    throw invalidArgument(`Invalid arguments: "id" must be a non-empty string of at most ${MAX_ID_BYTES} bytes`, TypeError)
  }
}

class Gaggle extends EventEmitter {
  constructor (opts) {
    super()
    const options = validateInstanceOptions(opts)
    if (!isChannel(options.channel)) {
      throw invalidArgument('Invalid options: "channel" must be a channel instance (see channels/channel-interface)')
    }
    if (!Number.isInteger(options.clusterSize) || options.clusterSize > MAX_CLUSTER_SIZE) {
      throw invalidArgument('Invalid options: "clusterSize" must be a whole number from 1 to ' + MAX_CLUSTER_SIZE)
    }
    this.id = options.id
    this._rpc = options.rpc
    this._handOverTiming = { electionTimeoutMin: options.electionTimeout.min, heartbeatInterval: options.heartbeatInterval }
    this._channel = options.channel
    // A channel that carries the engine's texts as they are (the memory channel) is given them unparsed.
    const channel = this._channel
    this._keepWireTexts = typeof channel.sendText === 'function' && typeof channel.broadcastText === 'function'
    this._host = new EngineHost(this, {
      prefix: 'flotilla',
      closedBeforeOpen: 'The node was closed before it opened',
      snapshot: options.snapshot,
      onAttach: () => this._attach(),
      onOpenFailed: (error) => this._openFailed(error),
      carryOut: (native) => this._carryOut(native)
    })
    // A durable node reads its log on a worker thread: until it is open, appends wait in `_appendsWhileOpening`
    // and channel messages in `_messagesWhileOpening` (null once they were handed over).
    this._appendsWhileOpening = []
    this._messagesWhileOpening = options.dataDir === undefined ? null : []
    this._commitIndex = -1
    this._knownLeader = null
    this._pendingAppends = new Map() // entry id, or number on its own thread -> pending append (see append)
    this._deadlines = new Deadlines((pending) => this._appendTimedOut(pending))
    // On its own thread, appends numbered here and not yet handed to the engine (see _numberAppend).
    this._numbered = noNumberedAppends()
    this._nextAppendNumber = 1
    this._closePromise = null // set by close(): no new appends from then on
    this._stopped = false // set once close() has handed over (or had nothing to hand): no input, no output
    this._droppedInJs = 0
    this._droppedStrangersInJs = 0
    this._droppedWhileOpening = 0 // beyond MAX_MESSAGES_WHILE_OPENING
    this._dispatch = new DispatchLink(this)
    this._commitWaiters = new Set() // resolved at the next commit (see entries())

    this._onRecieved = this._onRecieved.bind(this)
    if (this._keepWireTexts) MemoryChannel.readWireTexts(this._onRecieved)
    this._channel.on('recieved', this._onRecieved)
    this._channel.connect()
    // The tcp channel: the node runs on its own thread and its transport carries the engine's messages.
    const transport = typeof channel.nativeTransport === 'function' ? channel.nativeTransport() : null
    this._clientService = null
    if (transport !== null && transport.servesClients) {
      const reply = (client, text) => this._native !== null && this._native.replyToClient(client, text)
      this._clientService = new ClientService(this, reply, () => this._clientView())
      transport.onClient = this._clientService.onClient
    }
    this._host.open(nativeOptions(options), transport)
  }

  // What a client's status and members requests tell besides status(): this node's id and every member's address
  // (a member whose name this node has not heard yet, null in members(), has none to tell).
  _clientView () {
    const members = this.members()
    const all = members === null ? [this.id] : [this.id, ...members.voters, ...members.outgoing, ...members.learners]
    const names = [...new Set(all.filter((name) => name !== null))]
    const addresses = {}
    for (const name of names) addresses[name] = this._peerAddress(name)
    return { id: this.id, addresses }
  }

  // Where the native transport reaches the node `id` (this node: where it is reached), or null.
  _peerAddress (id) {
    if (typeof id !== 'string') throw invalidArgument('Invalid arguments: "id" must be a string', TypeError)
    if (id === this.id) return this._channel.advertisedAddress
    return this._native === null ? null : this._native.peerAddress(id)
  }

  get _native () { return this._host.native }
  get _pendingRequests () { return this._host.pendingRequests }
  _scheduleFlush () { this._host.scheduleFlush() }

  // The engine runs: it takes the appends that waited for it. The messages that came meanwhile follow in a later
  // turn of the event loop, so that whoever awaited ready() sees the recovered state first; until they are all
  // in, newer ones queue behind them.
  _attach () {
    for (const { json, requestId, pending } of this._appendsWhileOpening.splice(0)) {
      if (pending.waiting) this._proposeWaiting(json, requestId, pending)
    }
    if (this._messagesWhileOpening === null) return
    setImmediate(() => {
      const messages = this._messagesWhileOpening
      this._messagesWhileOpening = null
      if (this._stopped || messages === null) return
      for (const [originNodeId, data] of messages) this._onRecieved(originNodeId, data)
    })
  }

  // The log cannot be read: the appends that waited for the engine fail with the reason.
  _openFailed (error) {
    for (const { pending } of this._appendsWhileOpening.splice(0)) {
      if (!pending.waiting) continue
      stopWaiting(pending)
      pending.reject(notCommitted(error.message, error))
    }
  }

  // ---- gaggle's state fields (read-only views of the engine) ----

  // Until a durable node has read its log, it reports a follower that knows nothing yet.
  get _state () { return this._native === null ? STATES.FOLLOWER : this._native.state }
  get _currentTerm () { return this._native === null ? 0 : this._native.term }
  // gaggle's own tests move a node to a later term by setting this: the node becomes a follower in that term, as if
  // it had heard of it, and a leader of an earlier term steps down when it hears the node's answer. A term can only
  // be raised; setting the current one changes nothing.
  set _currentTerm (term) {
    if (this._native === null) throw codedError(CODES.NOT_RUNNING, 'The node is not running yet: its term cannot be set')
    if (typeof term !== 'number') throw invalidArgument('Invalid arguments: "_currentTerm" must be a number', TypeError)
    if (term === this._native.term) return
    this._native.raiseTerm(term)
    this._scheduleFlush()
  }
  get _votedFor () { return this._native === null ? null : this._native.votedFor }
  get _log () { return this.getLog() }
  get _lastApplied () { return this._commitIndex }
  get _leader () {
    if (this._native === null) return null
    const leader = this._native.leader
    return leader === this.id ? null : leader
  }

  // ---- methods ----

  append (data, timeout, cb) {
    const call = parseAppendArgs(data, timeout, cb)
    const promise = new Promise((resolve, reject) => {
      const openError = this._host.openError
      if (openError !== null) return reject(notCommitted(openError.message, openError))
      if (this._closePromise) return reject(notCommitted(CLOSED_BEFORE_COMMIT))
      let json
      try {
        json = JSON.stringify(call.data)
      } catch (error) {
        return reject(notCommitted('The data cannot be serialized to JSON: ' + error.message, error))
      }
      // `waiting`: not settled yet (a timeout may settle it before the engine has even taken it). The timeout is
      // a deadline, as in gaggle: a commit seen at or after it settles the append as timed out (`late`), even
      // when it comes before the timer fires (so a 0 ms timeout always times out). See deadlines.js.
      const pending = {
        resolve, reject, id: null, request: false, waiting: true, deadline: null, deadlineQueue: null, late: appendCommittedLate
      }
      if (call.timeoutMs !== null) this._deadlines.add(pending, call.timeoutMs)
      if (this._native === null) this._appendsWhileOpening.push({ json, requestId: call.requestId, pending })
      else this._proposeWaiting(json, call.requestId, pending)
    })
    return settle(promise, call.callback)
  }

  // Hands an append's data to the engine, which names the entry (after the request id, if there is one); the
  // append settles when it commits. Retries of one request id on this node wait together.
  _proposeWaiting (json, requestId, pending) {
    if (requestId === null && this._host.ownThread) return this._numberAppend(json, pending)
    let id
    try {
      id = requestId === null ? this._native.propose(json) : this._native.propose(json, requestId)
    } catch (error) {
      stopWaiting(pending)
      // The engine's error (with its own code: FLOTILLA_TOO_MANY_PENDING, ...) says why it was refused.
      return pending.reject(notCommitted(error.message, error))
    }
    pending.id = id
    pending.request = requestId !== null
    if (pending.request) this._pendingRequests.add(pending)
    else this._pendingAppends.set(id, pending)
    this._scheduleFlush()
  }

  // On its own thread the engine takes proposals at its next flush anyway: an append is numbered here and handed
  // over with the others of this turn in one call at the flush (a call per append cost more than the rest of the
  // append on this thread). The engine names the entries; its outputs speak of them by these numbers, so that no
  // entry id is made, parsed or looked up on this thread.
  _numberAppend (json, pending) {
    pending.id = this._nextAppendNumber++
    this._pendingAppends.set(pending.id, pending)
    const numbered = this._numbered
    numbered.datas.push(json === undefined ? 'null' : json)
    numbered.pendings.push(pending)
    this._scheduleFlush()
  }

  // The appends numbered since the last flush (consecutive numbers), to the engine in one call (those it refuses
  // come back in an output's `refused` list).
  _handOverNumbered (native) {
    const { datas, pendings } = this._numbered
    this._numbered = noNumberedAppends()
    try {
      native.proposeBatch(pendings[0].id, pendings.length, datas.join('\n'))
    } catch (error) {
      for (const pending of pendings) this._refuseAppend(pending.id, error)
    }
  }

  // An append whose timeout passed before it committed.
  _appendTimedOut (pending) {
    // Still waiting for the engine to open: it never saw the entry.
    if (pending.id === null) return pending.reject(notCommitted(TIMED_OUT_BEFORE_COMMIT))
    this._forgetPending(pending)
    pending.reject(outcomeUnknown(TIMED_OUT_BEFORE_COMMIT))
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
    return this._host.ready()
  }

  dispatchOnLeader (name, args, timeout, cb) {
    const call = parseDispatchArgs(name, args, timeout, cb)
    return settleSpread(this._dispatch.request(call), call.callback)
  }

  /**
   * A linearizable read: resolves with the index of the last entry this node applied (-1 for none) once it has
   * emitted 'committed' for every entry up to the read index, so that a state machine fed by 'committed' then
   * holds every append acknowledged before the call. `read(timeout)` or `read({lease, timeout})`.
   */
  read (timeoutOrOptions) {
    const call = parseReadArgs(timeoutOrOptions)
    return this._host.read(call.lease, call.timeoutMs)
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
    if (typeof nodeId !== 'string') throw invalidArgument('Invalid arguments: "nodeId" must be a string', TypeError)
    if (this._native === null || this._closePromise) {
      throw codedError(CODES.NOT_RUNNING, 'The node is not running (it is still reading its log, or it stopped)')
    }
    this._native.transferLeadership(nodeId)
    this._scheduleFlush()
  }

  // The engine's view of this node: role, term, leader, indices, peers and the counters of dropped messages;
  // null while a durable node is still reading its log.
  // ---- membership (Raft thesis 4): the leader changes it; a call on another node goes to the leader ----

  /**
   * Adds the node `id` (started with `join: true`): as a learner, which receives the log and never votes; unless
   * `{learner: true}`, it is then promoted to voter once it has caught up. Resolves once the change committed.
   */
  addMember (id, options = {}) {
    checkMemberId(id)
    if (options === null || typeof options !== 'object' || (options.learner !== undefined && typeof options.learner !== 'boolean') ||
      (options.address !== undefined && !isAddress(options.address))) {
      return Promise.reject(invalidArgument('Invalid arguments: the options must be an object {learner: boolean, address: "host:port"}', TypeError))
    }
    // A learner already (an addMember whose node went away before it promoted it, say): asked again, it is
    // promoted (or, with {learner: true}, left as it is).
    const members = this.members()
    const added = members !== null && members.learners.includes(id) ? Promise.resolve() : this._changeMembership('add', id, options.address)
    return options.learner === true ? added : added.then(() => this._promoteOnceCaughtUp(id))
  }

  /** Makes the learner `id` a voter; refused (FLOTILLA_INVALID_STATE) while it is far behind the leader's log. */
  promoteMember (id) {
    checkMemberId(id)
    return this._changeMembership('promote', id)
  }

  /** Removes the member `id`; a leader that removes itself hands over once the change committed. */
  removeMember (id) {
    checkMemberId(id)
    return this._changeMembership('remove', id)
  }

  /**
   * Moves the cluster to exactly these members, by id: `{voters, learners}`. When more than one voter changes, the
   * cluster goes through a joint configuration (Raft thesis 4.3) and leaves it on its own; a new voter must be a
   * learner that has caught up. Resolves once the change (and leaving the joint configuration) committed.
   */
  changeMembership (target) {
    return this._changeMembership('set', membershipTarget(target, 'Invalid arguments'))
  }

  /**
   * The committed entries from index `from` (default 0) to `to` (both inclusive), as an async iterator of
   * `{index, term, id, data}`; without `to` it follows new commits until `close()`. A `from` the log no longer
   * holds (compacted into a snapshot) throws FLOTILLA_COMPACTED, naming the snapshot's last index.
   */
  entries (options = {}) {
    const range = entriesRange(options, 'Invalid arguments')
    const source = {
      native: () => this._native,
      closed: () => this._closePromise !== null,
      // The flush tells the engine that someone waits: the next commit index comes at once, not at a tick.
      nextCommit: () => new Promise((resolve) => {
        this._commitWaiters.add(resolve)
        this._scheduleFlush()
      })
    }
    return entriesStream(source, range, 'flotilla')
  }

  // Wakes whoever waits for the next commit (an entries stream at the end of the log).
  _wakeCommitWaiters () {
    const waiters = [...this._commitWaiters]
    this._commitWaiters.clear()
    for (const resolve of waiters) resolve()
  }

  /**
   * The configuration in force: `{voters, outgoing, learners}` (names; `outgoing` is not empty during a joint
   * change) and, on the leader, `progress`: each member's `{matchIndex, caughtUp}`. null until the node runs.
   */
  members () {
    return this._native === null ? null : JSON.parse(this._native.membersJson())
  }

  _changeMembership (action, id, address) {
    if (this._closePromise) return Promise.reject(codedError(CODES.CLOSED, 'The node is closed'))
    if (this.isLeader()) return this._host.changeMembership(action, id, address)
    // With the native transport, the new member may have dialed this node only: its address goes along.
    if (action === 'add' && address === undefined && this._native !== null) address = this._native.peerAddress(id) ?? undefined
    const args = address === undefined ? [action, id] : [action, id, address]
    if (action === 'remove' && this._isMember(id)) return this._removeThroughLeader(args)
    return this._dispatch.request({ name: 'flotilla:changeMembership', args, timeoutMs: null }).then(() => undefined)
  }

  // The leader that carried out a removal may step down before its answer arrives (the removed member may be
  // that leader): the request then goes to the next leader, which finds the change not committed yet (asked
  // again a heartbeat later), or the member gone: removed, as asked.
  async _removeThroughLeader (args) {
    for (;;) {
      try {
        await this._dispatch.request({ name: 'flotilla:changeMembership', args, timeoutMs: null })
        return
      } catch (error) {
        if (error.code === CODES.UNKNOWN_MEMBER) return
        if (error.code !== CODES.INVALID_STATE || this._closePromise) throw error
        await new Promise((resolve) => setTimeout(resolve, this._handOverTiming.heartbeatInterval))
      }
    }
  }

  // Whether `id` is a member of the configuration this node knows.
  _isMember (id) {
    const members = this.members()
    return members !== null && [members.voters, members.outgoing, members.learners].some((ids) => ids.includes(id))
  }

  // The leader's side of a forwarded change (DispatchLink's built-in method).
  // (From another node: `[action, id]` or `[action, id, address]`, then the callback, always last.)
  _changeMembershipHere (...args) {
    const callback = args.pop()
    const [action, id] = args
    const address = isAddress(args[2]) ? args[2] : undefined
    this._host.changeMembership(action, id, address).then(() => callback(null), (error) => callback(error))
  }

  // Promotes a new learner as soon as the leader finds it caught up (asking again every heartbeat interval).
  async _promoteOnceCaughtUp (id) {
    for (;;) {
      try {
        return await this._changeMembership('promote', id)
      } catch (error) {
        if (error.code !== CODES.INVALID_STATE || this._closePromise) throw error
        await new Promise((resolve) => setTimeout(resolve, this._handOverTiming.heartbeatInterval))
      }
    }
  }

  status () {
    const status = this._host.status({
      malformed: this._droppedInJs,
      unknownSender: this._droppedStrangersInJs,
      whileOpening: this._droppedWhileOpening,
      // What the channel itself dropped (the redis channel: fragments it could not put back together), if it counts.
      channel: typeof this._channel.droppedPackets === 'number' ? this._channel.droppedPackets : 0
    })
    if (status === null) return null
    status.pendingAppends = this._pendingAppends.size + this._pendingRequests.size
    status.pendingDispatches = this._dispatch.pendingCount
    // With `clients: true`: the clients served, their requests, and the frames refused as not a request.
    if (this._clientService !== null) status.clients = { ...this._clientService.stats }
    return status
  }

  /**
   * The node's metrics in the Prometheus text format 0.0.4 (term, role, indices, counters, fsync and snapshot
   * durations, peers' lag on the leader, the native transport's counters; see lib/engine/metrics.js), or null
   * while a durable node is still reading its log.
   */
  metrics () {
    return this._host.metrics(this.status())
  }

  // A leader first hands leadership over (for at most one election timeout, see EngineHost#handOver), so that a
  // planned restart costs the cluster a round trip or two rather than an election timeout; then the node stops.
  close (cb) {
    const call = parseCloseArgs(cb)
    if (!this._closePromise) {
      this._closePromise = this._host.handOver(this._handOverTiming).then(() => this._shutDown())
    }
    return settle(this._closePromise, call.callback)
  }

  // Resolves once the channel is disconnected and the storage has written what was queued and let go of the
  // data directory (a durable node still opening is closed as soon as it opens).
  _shutDown () {
    this._stopped = true
    if (this._clientService !== null) this._clientService.close()
    this._wakeCommitWaiters()
    const storageClosed = this._host.close()
    this._channel.removeListener('recieved', this._onRecieved)
    // Appends the engine took may commit all the same; those still waiting for it to open, or numbered and not
    // handed over, will not.
    const notHandedOver = this._numbered.pendings
    this._numbered = noNumberedAppends()
    for (const pending of notHandedOver) {
      this._pendingAppends.delete(pending.id)
      pending.id = null
    }
    const taken = [...this._pendingAppends.values(), ...this._pendingRequests.takeAll()]
    const notTaken = this._appendsWhileOpening.map(({ pending }) => pending)
    const openError = this._host.openError
    for (const pending of [...taken, ...notTaken, ...notHandedOver]) {
      if (!pending.waiting) continue
      stopWaiting(pending)
      if (openError !== null) pending.reject(notCommitted(openError.message, openError))
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
    if (this._stopped) return
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

  // Carries out what the engine decided: send, then report appends and commits, then role changes.
  _carryOut (native) {
    if (this._numbered.pendings.length > 0) this._handOverNumbered(native)
    // Event payloads nobody listens for are left out of the output: less to write, and less to parse.
    const announceAppended = this.listenerCount('appended') > 0
    const announceCommitted = this.listenerCount('committed') > 0
    let output
    if (this._keepWireTexts) {
      // The memory channel carries each message as the text the engine wrote, and the receiving engine reads
      // that text: the messages (most of the output when entries flow) are never parsed into objects.
      const parts = native.flushParts(announceAppended, announceCommitted)
      if (parts === null) return null
      output = JSON.parse(parts[0])
      if (output.send) {
        const send = output.send
        for (let i = 0; i < send.length; i++) this._send(send[i], parts[i + 1], true)
      }
    } else {
      // On its own thread, a new commit index alone may wait for the node's next tick unless someone waits for
      // the next commit (entries()): a follower is then not woken for each entry only to learn the index.
      const text = native.flush(announceAppended, announceCommitted, this._commitWaiters.size > 0)
      if (text === null) return null
      output = JSON.parse(text)
      if (output.send) {
        for (const [to, message] of output.send) this._send(to, message)
      }
    }
    if (output.restore !== undefined) this._restoreSnapshot(output.restore)
    if (output.settledIds) {
      for (const id of output.settledIds) this._settleAppend(id)
    }
    // Appends with a request id that committed (or had committed before they were made here), with their index,
    // or that the engine gave up.
    this._host.settleRequests(output)
    if (output.abandoned) {
      for (const id of output.abandoned) this._abandonAppend(id)
    }
    // On its own thread the engine takes proposals at its next flush: those it refused never commit.
    if (output.refused) {
      for (const [id, code, message] of output.refused) this._refuseAppend(id, codedError(code, message))
    }
    if (output.appended && this.listenerCount('appended') > 0) {
      for (const [index, term, id, data] of output.appended) this.emit('appended', { term, data, id }, index)
    }
    if (output.committed) this._onCommitted(output.committed, announceCommitted)
    if (output.commitIndex !== undefined) this._onCommitIndex(output.commitIndex, output.committedIds)
    if (output.committedSeqs) this._settleNumbered(output.committedSeqs)
    if ((output.committed || output.commitIndex !== undefined) && this._commitWaiters.size > 0) this._wakeCommitWaiters()
    // After the commits: a read resolves once the application's state machine has every entry up to it.
    this._host.settleReads(output)
    this._host.settleMembership(output)
    if (output.membershipChanged && this.listenerCount('membershipChanged') > 0) this.emit('membershipChanged', this.members())
    if (output.state) this._onStateChange()
    if (output.snapshotWanted !== undefined) this._host.takeSnapshot(output.snapshotWanted)
    return output
  }

  // The engine restarted from, or received, a snapshot: the application's state becomes the snapshot's, and the
  // commits that follow continue after the entries it covers.
  _restoreSnapshot ({ userEntries, data }) {
    this._commitIndex = userEntries - 1
    this._host.restoreSnapshot(data)
  }

  // The engine gave up an append of this node (see `ABANDONED_BEFORE_COMMIT`): it may or may not have committed.
  _refuseAppend (id, cause) {
    const pending = this._pendingAppends.get(id)
    if (pending === undefined) return
    this._pendingAppends.delete(id)
    stopWaiting(pending)
    pending.reject(notCommitted(cause.message, cause))
  }

  _abandonAppend (id) {
    const pending = this._pendingAppends.get(id)
    if (pending === undefined) return
    this._pendingAppends.delete(id)
    stopWaiting(pending)
    pending.reject(outcomeUnknown(ABANDONED_BEFORE_COMMIT))
  }

  // Appends of this node, handed over by number, that committed: `[first, count, ...]` runs of numbers.
  _settleNumbered (runs) {
    for (let i = 0; i < runs.length; i += 2) {
      for (let number = runs[i], end = runs[i] + runs[i + 1]; number < end; number++) this._settleAppend(number)
    }
  }

  // An append of this node committed (seen in a commit, or only through a snapshot from the leader).
  _settleAppend (id) {
    const pending = this._pendingAppends.get(id)
    if (pending === undefined) return
    this._pendingAppends.delete(id)
    settleInTime(pending, undefined)
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
    } catch {
      // A channel that cannot send now (disconnected, reconnecting) loses the message; Raft resends.
    }
  }

  // `withData`: the flush asked for the entries' term and data, because someone listened then.
  _onCommitted (committed, withData) {
    const announce = withData && this.listenerCount('committed') > 0
    for (const [index, term, id, data] of committed) {
      this._commitIndex = index
      this._settleAppend(id)
      if (announce) this.emit('committed', { term, data, id }, index)
    }
  }

  // Commits when nobody listens for 'committed': the new commit index and the ids of this node's own entries.
  _onCommitIndex (index, ownIds) {
    this._commitIndex = index
    if (ownIds === undefined) return
    for (const id of ownIds) this._settleAppend(id)
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
