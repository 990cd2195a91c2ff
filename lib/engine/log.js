// flotilla's logs, through the npm `debug` package as zmq-raft has them: off unless DEBUG names them
// (DEBUG=flotilla:* for all). One namespace per concern: `flotilla:elections` (role, term and leader changes),
// `flotilla:membership`, `flotilla:snapshots`, `flotilla:transport` (the native transport's listener, its
// connections and the connections it refused) and `flotilla:storage` (the data directory opened, what recovery
// found, failures). A caller checks `enabled` before it builds a message, so that a log that is off costs a
// property read.
'use strict'

const createDebug = require('debug')

const log = {
  elections: createDebug('flotilla:elections'),
  membership: createDebug('flotilla:membership'),
  snapshots: createDebug('flotilla:snapshots'),
  transport: createDebug('flotilla:transport'),
  storage: createDebug('flotilla:storage')
}

// How often the transport's counters are compared with the last look, while `flotilla:transport` is on.
const TRANSPORT_CHECK_MS = 1000

// The transport's counters whose changes are worth a line: connections and refusals (the frames flow all the
// time and would drown them).
const TRANSPORT_EVENTS = /^(refused|connections|reconnects|openConnections|droppedUnknownPeer|droppedBadFrameMac)/

/**
 * What one node says in the logs: its role, term and leader as each flush reports them changed, its membership,
 * its transport's connections, its storage. The face's `id` names the node at the start of each line.
 */
class NodeLog {
  constructor (face) {
    this._face = face
    this._role = null
    this._term = null
    this._leader = null
    this._members = null // the configuration last logged
    this._transportTimer = null
    this._transportCounts = null
  }

  get _id () { return this._face.id }

  // The engine reported a state change: the role, the term or the leader (or only the vote) changed.
  stateChanged (native) {
    if (!log.elections.enabled) return
    const role = native.state
    const term = native.term
    const leader = native.leader
    if (role !== this._role || term !== this._term) {
      log.elections('%s: %s in term %d (was %s in term %s)', this._id, role, term, this._role || 'starting', this._term ?? '-')
    }
    if (leader !== this._leader) {
      log.elections('%s: leader %s in term %d (was %s)', this._id, leader ?? 'unknown', term, this._leader ?? 'unknown')
    }
    this._role = role
    this._term = term
    this._leader = leader
  }

  // The configuration in force changed (`membersJson`, read only when the log is on).
  membershipChanged (native) {
    if (!log.membership.enabled) return
    const { voters, outgoing, learners } = JSON.parse(native.membersJson())
    // A seat whose member this node has not met yet has no name.
    const names = (list) => list.map((name) => name ?? '?').join(',') || '-'
    const joint = outgoing.length > 0 ? `, leaving ${names(outgoing)} (joint)` : ''
    const members = `voters ${names(voters)}, learners ${names(learners)}${joint}`
    // (A change of the seats' ids alone is reported too: it reads the same.)
    if (members === this._members) return
    this._members = members
    log.membership('%s: %s', this._id, members)
  }

  // A change asked of this node, the leader: `action` and its subject, then whether it committed.
  membershipAsked (action, subject) {
    if (!log.membership.enabled) return
    log.membership('%s: asked to %s %s', this._id, action, typeof subject === 'string' ? subject : JSON.stringify(subject))
  }

  membershipSettled (committed) {
    if (!log.membership.enabled) return
    log.membership('%s: a membership change %s', this._id, committed ? 'committed' : 'was lost (a new leader overwrote it)')
  }

  // `json`: the application's state as the engine took it.
  snapshotTaken (index, json, seconds) {
    if (!log.snapshots.enabled) return
    const bytes = Buffer.byteLength(json)
    log.snapshots('%s: snapshot at index %d taken: %d bytes of JSON in %s ms', this._id, index, bytes, (seconds * 1000).toFixed(1))
  }

  snapshotRestored (seconds) {
    if (!log.snapshots.enabled) return
    log.snapshots('%s: snapshot restored: restore() took %s ms', this._id, (seconds * 1000).toFixed(1))
  }

  snapshotFailed (hook, error) {
    if (!log.snapshots.enabled) return
    log.snapshots('%s: the snapshot %s() hook failed: %s', this._id, hook, error && error.message)
  }

  // A durable node opened its data directory: what recovery found (from the engine's status).
  storageOpened (dataDir, native) {
    if (!log.storage.enabled) return
    const status = JSON.parse(native.statusJson())
    log.storage('%s: opened %s: term %d, log %d..%d, commit %d, snapshots restored %d', this._id, dataDir, status.term,
      status.raftFirstIndex, status.raftLastIndex, status.raftCommitIndex, status.snapshots.restored)
    if (status.recoveredTornTail !== null) log.storage('%s: recovery cut a torn write off the log: %s', this._id, status.recoveredTornTail)
  }

  storageFailed (what, error) {
    if (!log.storage.enabled) return
    log.storage('%s: %s: %s', this._id, what, error && error.message ? error.message : error)
  }

  storageClosed () {
    if (!log.storage.enabled) return
    log.storage('%s: storage closed', this._id)
  }

  /**
   * The native transport runs: says where it listens, then, while the log is on, reports every change of its
   * connection and refusal counters once a second (`stats()`: the counters, or null once the node stopped).
   */
  transportStarted (listen, stats) {
    if (!log.transport.enabled) return
    log.transport('%s: listening on %s', this._id, listen)
    this._transportCounts = stats()
    this._transportTimer = setInterval(() => this._transportChanges(stats()), TRANSPORT_CHECK_MS)
    this._transportTimer.unref()
  }

  _transportChanges (counts) {
    if (counts === null) return
    const before = this._transportCounts
    const changes = []
    for (const key in counts) {
      if (TRANSPORT_EVENTS.test(key) && counts[key] !== before[key]) changes.push(`${key} ${before[key]} -> ${counts[key]}`)
    }
    this._transportCounts = counts
    if (changes.length > 0) log.transport('%s: %s', this._id, changes.join(', '))
  }

  transportFailed (error) {
    if (!log.transport.enabled) return
    log.transport('%s: the transport cannot start: %s', this._id, error && error.message)
  }

  transportClosed () {
    if (this._transportTimer === null) return
    clearInterval(this._transportTimer)
    this._transportTimer = null
    log.transport('%s: transport closed', this._id)
  }
}

module.exports = { NodeLog }
