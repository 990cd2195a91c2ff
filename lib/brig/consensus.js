// brig's consensus module on the flotilla engine: `Peer(id, tx)`, `Cluster`, and the timing constants.
//
// A Cluster owns one native engine node, created by join() with every member named (this node and its peers).
// The engine decides everything (elections, replication, commits); this class only moves messages between the
// user's transport and the engine and reports what happened in brig's events:
//   - out: the engine's messages become brig message objects (lib/brig/wire.js) handed to `peer.send(msg)`,
//     which calls the user's `tx(id, msg)`; a transport reads the RPC name as `msg.constructor.method`;
//   - in: createProtocolMapping() gives the RPC server one handler per method; a handler rebuilds the message
//     with `Message.from`, gives it to the engine, calls back, and emits the message's event;
//   - state: `cluster.state` becomes a read-only view of the engine (lib/brig/log.js), and RoleChanged,
//     LeaderChanged and LogCommit report the engine's changes in the order they happened.
// What brig had and we fix: a strict majority in every cluster size, no exception on a refused append,
// broadcasts kept in order until a leader is known (the engine keeps them; before join() this class does), and
// close(). The first members are the peers given before join(); after it, addPeer() on the leader adds a member
// (as a learner, then a voter once caught up) and removePeer() removes one (the engine's membership changes).
'use strict'

const { EngineHost } = require('../engine/host')
const { requestIdOf } = require('../engine/request-id')
const { readOptionsOf } = require('../engine/read-options')
const { CODES, codedError, invalidArgument, notCommitted, outcomeUnknown } = require('../engine/errors')
const { Deadlines, stopWaiting } = require('../engine/deadlines')
const { savedStateOf } = require('./saved-state')
const { membershipTarget } = require('../engine/membership-target')
const { transportSettings } = require('../engine/transport-settings')
const { MAX_NAME_BYTES, MIN_SEGMENT_BYTES } = require('../native')
const { EventEmitter } = require('node:events')
const {
  ElectionTimeout,
  ReplicationTimeout,
  VoteRequest,
  VoteResponse,
  LogRequest,
  LogResponse,
  Broadcast,
  LogCommit,
  RoleChanged,
  LeaderChanged,
  MessageQueued,
  Debug
} = require('./events')
const { Follower, Candidate, Leader } = require('./roles')
const {
  Message,
  VoteRequestMessage,
  VoteResponseMessage,
  LogRequestMessage,
  LogResponseMessage,
  BroadcastMessage,
  MESSAGE_TYPES
} = require('./messages')
const { LogState, LogEntry, EngineLog } = require('./log')
const { toBrig, toEngine } = require('./wire')

const ROLE_OF_STATE = { FOLLOWER: Follower, CANDIDATE: Candidate, LEADER: Leader }

// The brig event a received message is announced with; the classes brig lacks have none.
const EVENT_OF_TYPE = new Map([
  [VoteRequestMessage, VoteRequest],
  [VoteResponseMessage, VoteResponse],
  [LogRequestMessage, LogRequest],
  [LogResponseMessage, LogResponse],
  [BroadcastMessage, Broadcast]
])

class Peer extends EventEmitter {
  /**
   * @param {string} id - the peer's node id
   * @param {(id: string, msg: Message) => void} tx - sends `msg` to the node `id`
   */
  constructor (id, tx) {
    super()
    this.id = id
    this.tx = tx
  }

  /** Emits MessageQueued(id, msg), hands the message to `tx`, and returns the peer. */
  send (msg) {
    this.emit(MessageQueued, this.id, msg)
    const sent = this.tx(this.id, msg)
    if (sent !== null && typeof sent === 'object' && typeof sent.then === 'function') {
      // An asynchronous tx that fails loses the message, which Raft sends again; it must not crash the process.
      sent.then(undefined, (error) => this.emit(Debug, ['tx failed for peer', this.id, error]))
    }
    return this
  }
}

// The timing in milliseconds, read from the exported constants when join() is called.
function readTiming () {
  const timing = {}
  for (const name of ['ELECTION_T_MIN', 'ELECTION_T_MAX', 'REPLICATE_T']) {
    const value = module.exports[name]
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
      throw invalidArgument(`flotilla/brig: consensus.${name} must be a positive number of milliseconds, not ${value}`)
    }
    timing[name] = value
  }
  if (timing.ELECTION_T_MAX < timing.ELECTION_T_MIN) {
    throw invalidArgument('flotilla/brig: consensus.ELECTION_T_MAX must not be less than consensus.ELECTION_T_MIN')
  }
  return timing
}

// flotilla's own Cluster options, checked when the Cluster is made so that a mistake shows at once.
function checkOptions (options) {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw invalidArgument('flotilla/brig: the Cluster options must be an object', TypeError)
  }
  for (const key of Object.keys(options)) {
    if (!['dataDir', 'segmentBytes', 'snapshot', 'leaseReads', 'join', 'tcp'].includes(key)) {
      throw invalidArgument(`flotilla/brig: unknown Cluster option "${key}"`, TypeError)
    }
  }
  const snapshot = options.snapshot
  if (snapshot !== undefined) {
    const valid = snapshot !== null && typeof snapshot === 'object' && Number.isInteger(snapshot.threshold) &&
      snapshot.threshold >= 1 && typeof snapshot.save === 'function' && typeof snapshot.restore === 'function'
    if (!valid) {
      const shape = '{threshold: a whole number >= 1, save(), restore(data)}'
      throw invalidArgument(`flotilla/brig: "snapshot" must be ${shape}`, TypeError)
    }
  }
  if (options.dataDir !== undefined && (typeof options.dataDir !== 'string' || options.dataDir === '')) {
    throw invalidArgument('flotilla/brig: "dataDir" must be a non-empty string', TypeError)
  }
  for (const key of ['leaseReads', 'join']) {
    if (options[key] !== undefined && typeof options[key] !== 'boolean') {
      throw invalidArgument(`flotilla/brig: "${key}" must be a boolean`, TypeError)
    }
  }
  const segmentBytes = options.segmentBytes
  if (segmentBytes !== undefined && !(Number.isInteger(segmentBytes) && segmentBytes >= MIN_SEGMENT_BYTES)) {
    throw invalidArgument(`flotilla/brig: "segmentBytes" must be a whole number of at least ${MIN_SEGMENT_BYTES}`,
      TypeError)
  }
  return { ...options }
}

const TIMED_OUT_BEFORE_COMMIT = 'flotilla/brig: timed out before the entry was committed'
const broadcastCommittedLate = () => outcomeUnknown(TIMED_OUT_BEFORE_COMMIT)

// A node's proposal ids are its id, '_' and a 36-character UUID, and the wire takes ids of at most 256 bytes
const MAX_ID_BYTES = MAX_NAME_BYTES

// (Well-formed: a lone surrogate has no UTF-8 form, so the engine would hold another name than the one given.)
function isNodeId (id) {
  return typeof id === 'string' && id !== '' && id.isWellFormed() && Buffer.byteLength(id) <= MAX_ID_BYTES
}

class Cluster extends EventEmitter {
  /** A random election timeout between ELECTION_T_MIN and ELECTION_T_MAX, in ms (the engine draws its own). */
  static getElectionTimeoutMs () {
    const min = module.exports.ELECTION_T_MIN
    const max = module.exports.ELECTION_T_MAX
    return min + Math.floor(Math.random() * (max - min))
  }

  /** The leader's replication (heartbeat) interval, in ms. */
  static getReplicateTimeoutMs () {
    return module.exports.REPLICATE_T
  }

  /**
   * @param {string} id - this node's id
   * @param {Peer[]} [peers=[]] - the other nodes (this node may be among them; it is skipped)
   * @param {LogState} [logState] - the state object to use: fresh, or a saved one (`LogState.deserialize`), whose
   *   term, vote and log the node starts from as if it had restarted (a durable node whose `dataDir` holds a log
   *   already refuses one)
   * @param {{dataDir?: string, segmentBytes?: number, tcp?: object}} [options] - flotilla's own: with `dataDir`, the
   *   node keeps its term, vote and log in a write-ahead log there and recovers them when it joins again; with `tcp`
   *   (`{listen, peers: {id: 'host:port'}, cluster, secret}`) it runs on its own thread and reaches its peers over
   *   the native transport (the Peers' `tx` are then not used for the engine's messages)
   */
  constructor (id, peers = [], logState, options = {}) {
    super()
    this._options = checkOptions(options)
    this._host = new EngineHost(this, {
      prefix: 'flotilla/brig',
      closedBeforeOpen: 'flotilla/brig: the cluster was closed before it opened',
      snapshot: this._options.snapshot,
      onAttach: () => this._attach(),
      onOpenFailed: () => {}, // close() fails the broadcasts that waited
      carryOut: (native) => this._flushEngine(native),
      onEngineInput: () => { this._engineVersion++ }
    })
    this.id = id
    // The native transport: the node runs on its own thread and reaches its peers over TCP itself.
    this._tcp = this._options.tcp === undefined ? null : transportSettings('flotilla/brig', id, this._options.tcp)
    this.state = logState || new LogState()
    this.peers = peers
    this._joined = false // join() was called; a durable node's engine (`_native`) comes once it has read its log
    this._closing = false // close() was called: no new broadcasts
    this._handOverTiming = null // set at join(): how long a closing leader may take to hand over
    this._closed = false // the node stopped (after handing over): no input, no output
    this._closePromise = null
    this._broadcastsBeforeJoin = [] // {json, requestId, pending}, proposed in order at join()
    this._deadlines = new Deadlines((pending) => this._broadcastTimedOut(pending))
    this._memberIds = null
    this._configIds = null
    this._role = Follower
    this._leader = null
    this._engineVersion = 0 // bumped by every input that may change the engine's log
    this._logView = null
    this._logViewVersion = -1
    this._droppedInJs = 0
    this._listenerError = null
    this._flushing = false
  }

  // ---- brig's methods ----

  /**
   * Starts this node: creates the engine with every member named, starts its clock. Returns the cluster. A
   * durable node (`dataDir`) reads its log on a worker thread first; `ready()` says when it runs.
   */
  join () {
    if (this._closing) {
      throw codedError(CODES.CLOSED, 'flotilla/brig: this cluster was closed; create a new Cluster to join again')
    }
    if (this._joined) return this
    if (!isNodeId(this.id)) {
      const what = `a non-empty string of at most ${MAX_ID_BYTES} bytes, with no lone surrogates`
      throw invalidArgument(`flotilla/brig: the cluster id must be ${what}`, TypeError)
    }
    if (!Array.isArray(this.peers)) throw invalidArgument('flotilla/brig: peers must be an array of Peer', TypeError)
    for (const peer of this.peers) {
      if (peer === null || typeof peer !== 'object' || !isNodeId(peer.id) || typeof peer.send !== 'function') {
        throw invalidArgument('flotilla/brig: every peer must be a Peer with a non-empty string id of at most ' +
          `${MAX_ID_BYTES} bytes`, TypeError)
      }
    }
    if (!(this.state instanceof LogState)) throw invalidArgument('flotilla/brig: the state must be a LogState', TypeError)
    const timing = readTiming()
    this._handOverTiming = { electionTimeoutMin: timing.ELECTION_T_MIN, heartbeatInterval: timing.REPLICATE_T }
    const members = [...new Set([this.id, ...this.peers.map((peer) => peer.id)])]
    const nativeOptions = {
      id: this.id,
      members,
      electionTimeoutMin: timing.ELECTION_T_MIN,
      electionTimeoutMax: timing.ELECTION_T_MAX,
      heartbeatInterval: timing.REPLICATE_T
    }
    if (this._options.snapshot !== undefined) nativeOptions.snapshotThreshold = this._options.snapshot.threshold
    if (this._options.leaseReads !== undefined) nativeOptions.leaseReads = this._options.leaseReads
    // A node that joins a running cluster knows no members: the leader that adds it tells them.
    if (this._options.join === true) nativeOptions.join = true
    if (!this.state._isFresh()) nativeOptions.savedState = savedStateOf(this.state)
    this._joined = true
    this._memberIds = new Set(members)
    // The members of the configuration last seen (see _followConfiguration).
    this._configIds = new Set(this._options.join === true ? [] : members)
    if (this._options.dataDir !== undefined) {
      // The engine reads its log on a worker thread; until then the cluster is as before join(): broadcasts
      // wait in order, received messages are not taken (Raft sends them again), and the state is the fresh one.
      nativeOptions.dataDir = this._options.dataDir
      if (this._options.segmentBytes !== undefined) nativeOptions.segmentBytes = this._options.segmentBytes
    }
    this._host.open(nativeOptions, this._tcp === null ? null : { options: this._tcp, onApplication: () => {}, onStart: () => {} })
    return this
  }

  get _native () { return this._host.native }

  /**
   * Resolves when the engine is running: at once for an in-memory node; for a durable one, once it has read its
   * log and snapshot. Rejects when the log cannot be read, or when the cluster has not joined.
   */
  ready () {
    return this._host.ready()
  }

  // The engine is ready: the state becomes its view, and waiting broadcasts go to it.
  _attach () {
    this.state._bindView(this._engineView())
    this.state.on(RoleChanged, (oldRole, newRole) => this.emit(RoleChanged, oldRole, newRole))
    this.state.on(LeaderChanged, (oldLeader, newLeader) => this.emit(LeaderChanged, oldLeader, newLeader))
    for (const { json, requestId, pending } of this._broadcastsBeforeJoin.splice(0)) {
      if (requestId === null) this._proposeJson(json)
      else if (pending.waiting) this._proposeRequest(json, requestId, pending)
    }
  }

  /**
   * Stops this node: no broadcast is taken from the call on; a leader first hands leadership to its most
   * caught-up peer (for at most one election timeout), so that the others have a leader again after a round trip
   * or two instead of an election timeout; then its clock, input and output stop. The Promise resolves when a
   * durable node's storage has written what was queued and let go of its data directory. The process can exit
   * once its transport is closed.
   */
  close () {
    if (this._closePromise === null) {
      this._closing = true
      this._closePromise = this._host.handOver(this._handOverTiming).then(() => this._shutDown())
    }
    return this._closePromise
  }

  _shutDown () {
    this._closed = true
    // Broadcasts with a request id: those the engine took may commit all the same; the others will not.
    const closedBeforeCommit = 'flotilla/brig: the cluster was closed before the entry was committed'
    for (const pending of this._host.pendingRequests.takeAll()) this._rejectRequest(pending, outcomeUnknown(closedBeforeCommit))
    for (const { pending } of this._broadcastsBeforeJoin) {
      if (pending !== null) this._rejectRequest(pending, notCommitted(closedBeforeCommit))
    }
    this._broadcastsBeforeJoin = []
    return this._host.close()
  }

  /** The RPC server's handler map: `{[method]: (plainMsg, callback) => void}` for every message class. */
  createProtocolMapping () {
    const mapping = {}
    for (const type of MESSAGE_TYPES) {
      mapping[type.method] = (plainMsg, callback) => this._onRpc(plainMsg, callback)
    }
    return mapping
  }

  /**
   * Appends `payload` to the replicated log (as a LogEntry whose data is `{payload}`), through the leader,
   * in the order of the calls. Returns true when the entry was taken (it commits once a leader is known),
   * false when the node is closed or the engine refused it (see the Debug event).
   */
  broadcast (payload, options) {
    if (options !== undefined) return this._broadcastRequest(payload, options)
    if (this._closing) return false
    const message = new BroadcastMessage(payload === undefined ? null : payload)
    const json = dataJson(message.payload)
    this._emitToListeners(Broadcast, message)
    return this._proposeJson(json)
  }

  // flotilla's `broadcast(payload, {requestId, timeout})`: a Promise of the entry's index (see index.d.ts).
  _broadcastRequest (payload, options) {
    if (options === null || typeof options !== 'object' || Array.isArray(options)) {
      throw invalidArgument('flotilla/brig: the broadcast options must be an object {requestId, timeout}', TypeError)
    }
    for (const key of Object.keys(options)) {
      if (key !== 'requestId' && key !== 'timeout') {
        throw invalidArgument('flotilla/brig: unknown broadcast option "' + key + '"', TypeError)
      }
    }
    const requestId = requestIdOf(options.requestId)
    if (requestId === null) throw invalidArgument('flotilla/brig: the broadcast options need a "requestId"', TypeError)
    const { timeout } = options
    if (timeout !== undefined && !(typeof timeout === 'number' && timeout >= 0)) {
      throw invalidArgument('flotilla/brig: "timeout" must be a number of ms, at least 0', TypeError)
    }
    const message = new BroadcastMessage(payload === undefined ? null : payload)
    const json = dataJson(message.payload)
    return new Promise((resolve, reject) => {
      if (this._closing) return reject(notCommitted('flotilla/brig: the cluster is closed'))
      this._emitToListeners(Broadcast, message)
      // A deadline, as gaggle's timeouts are: an index that arrives at or after it settles as timed out (`late`),
      // even before the timer fires (so a timeout of 0 always times out). The entry did commit: its outcome is
      // unknown to this caller, who retries with the same request id and gets the same index. See deadlines.js.
      const pending = {
        id: null, resolve, reject, waiting: true, deadline: null, deadlineQueue: null, late: broadcastCommittedLate
      }
      if (timeout !== undefined && timeout !== Infinity) this._deadlines.add(pending, timeout)
      if (this._native === null) this._broadcastsBeforeJoin.push({ json, requestId, pending })
      else this._proposeRequest(json, requestId, pending)
    })
  }

  /**
   * flotilla's linearizable read, `read({lease, timeout})` (both optional): a Promise of the 0-based position in
   * `state.log` of the last entry this node applied (-1 for none), once it has emitted LogCommit for every entry
   * up to the read index (see index.d.ts). A read made before join() waits for the engine.
   */
  read (options) {
    const { lease, timeoutMs } = readOptionsOf(options)
    return this._host.read(lease, timeoutMs)
  }

  /** Starts an election now, as if the election timer had fired (a leader ignores it). */
  startElection () {
    if (this._native !== null && !this._closing) {
      this._native.campaign()
      this._engineVersion++
      this._scheduleFlush()
    }
    return this
  }

  getPeer (id) {
    for (const peer of this.peers) {
      if (peer.id === id) return peer
    }
    return null
  }

  /**
   * Adds a peer. Before join(), a member of the cluster that starts. After join(), the Peer a node sends to (give
   * it on every node); on the leader, a new one is also added to the cluster: as a learner (it gets the log and
   * never votes), then as a voter once caught up (Raft thesis 4), each step taken as soon as the engine allows.
   * The change's outcome is the Promise `cluster.membershipChange` holds (the Debug event tells a failure too). A peer already a member is replaced
   * (a new tx).
   */
  addPeer (peer) {
    if (this._joined) {
      const id = peer && peer.id
      if (!isNodeId(id) || typeof peer.send !== 'function' || id === this.id) {
        throw invalidArgument('flotilla/brig: a peer must be a Peer with another node\'s id', TypeError)
      }
      const index = this.peers.findIndex((p) => p.id === id)
      if (index === -1) this.peers.push(peer)
      else this.peers[index] = peer
      if (!this._memberIds.has(id) && this._native !== null && this._native.state === 'LEADER') {
        this._memberIds.add(id)
        this.membershipChange = this._changeWhenPossible('add', id).then(() => this._changeWhenPossible('promote', id))
        this.membershipChange.catch((error) => this._debug('membership change failed:', error.message))
      }
      return peer
    }
    this.peers.push(peer)
    return this.getPeer(peer.id)
  }

  /**
   * Removes the member `id` (on the leader; a leader that removes itself hands over once the change committed)
   * and forgets its Peer once the change committed. Resolves then; rejects with a coded error when refused.
   */
  removePeer (id) {
    if (!isNodeId(id)) throw invalidArgument('flotilla/brig: the peer id must be a non-empty string', TypeError)
    if (this._native === null || this._closing) {
      return Promise.reject(codedError(CODES.NOT_RUNNING, 'flotilla/brig: the cluster has not joined, or is closed'))
    }
    // Asked again while the engine cannot make it yet (another change in flight, a new leader's first entry).
    return this._changeWhenPossible('remove', id).then(() => this._followConfiguration())
  }

  /**
   * On the leader: moves the cluster to exactly `{voters, learners}` (by id): through a joint configuration when
   * more than one voter changes (Raft thesis 4.3), left on its own. A new voter must be a learner that caught up.
   * Resolves once the change committed; rejects with a coded error when refused.
   */
  changeMembership (target) {
    const { voters, learners } = membershipTarget(target, 'flotilla/brig')
    if (this._native === null || this._closing) {
      return Promise.reject(codedError(CODES.NOT_RUNNING, 'flotilla/brig: the cluster has not joined, or is closed'))
    }
    for (const id of [...voters, ...learners]) this._memberIds.add(id)
    return this._host.changeMembership('set', { voters, learners }).then(() => this._followConfiguration())
  }

  // `peers` and `getPeer` follow the configuration: a member that left it (a removal made on any node, seen once
  // committed) is forgotten. Peers not yet members stay (given on every node before the leader adds them).
  _followConfiguration () {
    const { voters, outgoing, learners } = JSON.parse(this._native.membersJson())
    const now = new Set([...voters, ...outgoing, ...learners])
    for (const id of this._configIds) {
      if (!now.has(id)) {
        this._memberIds.delete(id)
        this.peers = this.peers.filter((peer) => peer.id !== id)
      }
    }
    this._configIds = now
  }

  /** The configuration in force: `{voters, outgoing, learners}` by id, and (on the leader) `progress`. */
  members () {
    return this._native === null ? null : JSON.parse(this._native.membersJson())
  }

  // A change asked again every replication interval while the engine says it cannot be made yet (another change
  // in flight, a new leader's first entry not yet committed, a learner not caught up).
  async _changeWhenPossible (action, id) {
    for (;;) {
      try {
        return await this._host.changeMembership(action, id)
      } catch (error) {
        if (error.code !== CODES.INVALID_STATE || this._closing) throw error
        await new Promise((resolve) => setTimeout(resolve, this._handOverTiming.heartbeatInterval))
      }
    }
  }

  // The handlers brig exposed: each gives one received message to the engine (as the protocol mapping does,
  // without the event). They accept a message object or the plain object a transport delivered.
  handleVoteRequest (vReq) { return this.handleMessage(vReq) }
  handleVoteResponse (vRes) { return this.handleMessage(vRes) }
  handleLogRequest (lReq) { return this.handleMessage(lReq) }
  handleLogResponse (lRes) { return this.handleMessage(lRes) }
  handleBroadcast (bCast) { return this.handleMessage(bCast) }

  // ---- flotilla's additions ----

  /**
   * Gives a received message of any class to the engine. Returns false when it was not taken (not joined,
   * closed, or malformed: dropped and counted in status().dropped.malformed).
   */
  handleMessage (msg) {
    if (this._native === null || this._closed) return false
    let message = msg
    if (!(msg instanceof Message)) {
      try {
        message = Message.from(msg)
      } catch (error) {
        return this._drop('not a brig message', error)
      }
    }
    if (message instanceof BroadcastMessage && message.relayerId === undefined) {
      // A brig broadcast relayed to us: we append it as our own, and the engine takes it to the leader.
      try {
        return this._proposeJson(dataJson(message.payload))
      } catch (error) {
        return this._drop('a relayed payload that cannot be serialized', error)
      }
    }
    let engine
    try {
      engine = toEngine(message)
    } catch (error) {
      return this._drop('a message the engine cannot take', error)
    }
    this._native.receive(engine.from, engine.json)
    this._engineVersion++
    this._scheduleFlush()
    return true
  }

  /** Hands leadership to the member `peerId` (this node must be the leader). */
  transferLeadership (peerId) {
    if (this._native === null || this._closing) {
      const why = 'the cluster has not joined, is still reading its log, or is closed'
      throw codedError(CODES.NOT_RUNNING, 'flotilla/brig: ' + why)
    }
    if (typeof peerId !== 'string') throw invalidArgument('flotilla/brig: peerId must be a string', TypeError)
    this._native.transferLeadership(peerId)
    this._scheduleFlush()
  }

  /** The engine's view of this node (role, term, leader, indices, peers' progress, dropped messages), or null before join(). */
  status () {
    return this._host.status({ malformed: this._droppedInJs })
  }

  /**
   * This node's metrics in the Prometheus text format 0.0.4 (see lib/engine/metrics.js), or null before join()
   * and while a durable node reads its log.
   */
  metrics () {
    return this._host.metrics(this.status())
  }

  // ---- plumbing ----

  _onRpc (plainMsg, callback) {
    const done = typeof callback === 'function' ? callback : () => {}
    let message
    try {
      message = Message.from(plainMsg)
    } catch (error) {
      this._droppedInJs++
      return done(error)
    }
    this.handleMessage(message)
    done()
    if (this._closed) return
    const event = EVENT_OF_TYPE.get(message.constructor)
    if (event !== undefined) this.emit(event, message)
  }

  _drop (why, error) {
    this._droppedInJs++
    this._debug('Dropped ' + why + ':', error && error.message)
    return false
  }

  // Hands a broadcast with a request id to the engine; it settles when its entry commits (or had committed).
  _proposeRequest (json, requestId, pending) {
    try {
      pending.id = this._native.propose(json, requestId)
    } catch (error) {
      const refused = notCommitted('flotilla/brig: the engine refused the broadcast: ' + error.message, error)
      return this._rejectRequest(pending, refused)
    }
    this._host.pendingRequests.add(pending)
    this._engineVersion++
    this._scheduleFlush()
  }

  _rejectRequest (pending, error) {
    if (!pending.waiting) return
    stopWaiting(pending)
    pending.reject(error)
  }

  // A broadcast whose timeout passed before it committed.
  _broadcastTimedOut (pending) {
    // Not yet taken by the engine (still before join, or opening): it will not commit.
    if (pending.id === null) return pending.reject(notCommitted(TIMED_OUT_BEFORE_COMMIT))
    this._host.pendingRequests.remove(pending)
    pending.reject(outcomeUnknown(TIMED_OUT_BEFORE_COMMIT))
  }

  _proposeJson (json) {
    if (this._native === null) {
      this._broadcastsBeforeJoin.push({ json, requestId: null, pending: null })
      return true
    }
    try {
      this._native.propose(json)
    } catch (error) {
      this._debug('The engine refused a broadcast:', error.message)
      return false
    }
    this._engineVersion++
    this._scheduleFlush()
    return true
  }

  _scheduleFlush () {
    this._host.scheduleFlush()
  }

  // Carries out what the engine decided, and reports it: timer events, role and leader changes, messages to
  // send, then committed entries. Listeners run in between; one that throws does not stop the rest (its error
  // is rethrown afterwards), so no message or commit is lost to it.
  _flushEngine (native) {
    const text = native.flush()
    if (text === null) return null
    this._engineVersion++
    const output = JSON.parse(text)
    this._flushing = true
    try {
      this._carryOut(output)
    } finally {
      this._flushing = false
    }
    this._rethrowListenerError()
    return output
  }

  // ElectionTimeout and ReplicationTimeout are the engine's own events in the flush output (an election started,
  // heartbeats went out).
  _carryOut (output) {
    if (output.electionStarted) this._emitToListeners(ElectionTimeout)
    if (output.heartbeatSent) this._emitToListeners(ReplicationTimeout)
    if (output.state) this._reportStateChange()
    for (const [to, message] of output.send || []) {
      if (this._closed) break
      this._sendEngineMessage(to, message)
    }
    if (output.restore !== undefined) this._host.restoreSnapshot(output.restore.data)
    this._host.settleRequests(output)
    if (output.committed) {
      for (const [, term, , data] of output.committed) {
        if (this._closed) break
        this._emitToListeners(LogCommit, new LogEntry(data, term))
      }
    }
    // After LogCommit: a read resolves once the application has every entry up to it.
    this._host.settleReads(output)
    if (output.membershipChanged) this._followConfiguration()
    this._host.settleMembership(output)
    if (output.snapshotWanted !== undefined) this._host.takeSnapshot(output.snapshotWanted)
  }

  _reportStateChange () {
    const native = this._native
    const role = ROLE_OF_STATE[native.state]
    const leader = native.leader
    if (role !== this._role) {
      const oldRole = this._role
      this._role = role
      this._emitToListeners(RoleChanged, oldRole, role, this.state)
    }
    if (leader !== this._leader) {
      const oldLeader = this._leader
      this._leader = leader
      this._emitToListeners(LeaderChanged, oldLeader, leader, this.state)
    }
  }

  _sendEngineMessage (to, engineMessage) {
    if (to === null) return // a discovery greeting; every member is named, so there is nobody to discover
    const peer = this.getPeer(to)
    if (peer === null) {
      this._debug('No peer to send to:', to)
      return
    }
    for (const message of toBrig(engineMessage, this.id)) {
      try {
        peer.send(message)
      } catch (error) {
        // A transport that cannot send now loses the message; Raft sends again.
        this._debug('tx failed for peer', to, error)
      }
    }
  }

  // Emits on `emitter` (the cluster unless given), keeping the first listener error for after the flush.
  _emitToListeners (event, a, b, emitter = this) {
    try {
      if (event === RoleChanged || event === LeaderChanged) emitter.emit(event, a, b)
      else if (a === undefined) emitter.emit(event)
      else emitter.emit(event, a)
    } catch (error) {
      if (this._listenerError === null) this._listenerError = error
    }
  }

  _rethrowListenerError () {
    const error = this._listenerError
    if (error === null) return
    this._listenerError = null
    // Thrown from a fresh tick, as an exception in a listener of a timer event would be.
    process.nextTick(() => { throw error })
  }

  _debug (...args) {
    if (this.listenerCount(Debug) === 0) return
    if (this._flushing) this._emitToListeners(Debug, args)
    else this.emit(Debug, args)
  }

  // The object behind `cluster.state` once joined: each field read from the engine when asked.
  _engineView () {
    const cluster = this
    const native = this._native
    // The leader's view of each follower, from the engine (empty on any other node).
    const progress = (field) => {
      const map = new Map()
      for (const peer of native.replication()) {
        map.set(peer.id, field === 'sent' ? peer.nextIndex - 1 : peer.matchIndex)
      }
      return map
    }
    return {
      get currentTerm () { return native.term },
      get votedFor () { return native.votedFor },
      get currentRole () { return ROLE_OF_STATE[native.state] },
      get currentLeader () { return native.leader },
      get votesReceived () { return new Set(native.votesGranted) },
      get log () { return cluster._engineLog() },
      get commitLength () { return native.commitIndex + 1 },
      get sentLength () { return progress('sent') },
      get ackedLength () { return progress('acked') }
    }
  }

  // The engine's log of broadcast entries, read again only when the engine may have changed since last time.
  _engineLog () {
    if (this._logView === null || this._logViewVersion !== this._engineVersion) {
      const entries = JSON.parse(this._native.logJson()).map((entry) => new LogEntry(entry.data, entry.term))
      this._logView = new EngineLog(entries)
      this._logViewVersion = this._engineVersion
    }
    return this._logView
  }
}

// The engine's data for a broadcast: `{payload}` as JSON, as brig stored it.
function dataJson (payload) {
  try {
    return JSON.stringify({ payload })
  } catch (error) {
    throw invalidArgument('flotilla/brig: the payload cannot be serialized to JSON: ' + error.message, TypeError)
  }
}

module.exports = {
  Peer,
  Cluster,
  // Timing in milliseconds, read when join() is called: a user may change them before.
  ELECTION_T_MIN: 150,
  ELECTION_T_MAX: 300,
  REPLICATE_T: 50
}
