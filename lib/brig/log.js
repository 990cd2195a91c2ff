// brig's log types: LogEntry, Log and LogState, with brig's constructors, checks, errors and `serialize()` form.
// A LogState on its own is a plain brig state object. Once its Cluster joins, it becomes a read-only view of the
// engine: every field is read from the flotilla engine when asked (term, vote, role, leader, log, commit length,
// replication progress), so what a user reads is the engine's real state, never a copy that may drift.
'use strict'

const { EventEmitter } = require('node:events')
const { RoleChanged, LeaderChanged } = require('./events')
const { Follower, Leader, Candidate } = require('./roles')
const { CODES, codedError, invalidArgument } = require('../engine/errors')

class LogEntry {
  /**
   * @param {*} [payload={}] - the entry's data; for a broadcast, `{payload}`
   * @param {number} [term=0] - the term in which a leader appended it
   */
  constructor (payload = {}, term = 0) {
    this.data = payload
    this.term = term
  }
}

class Log {
  /** @param {LogEntry[]} [entries=[]] */
  constructor (entries = []) {
    this.entries = entries
  }

  append (logEntry) {
    if (!(logEntry instanceof LogEntry)) throw invalidArgument('Invalid LogEntry.', TypeError)
    this.entries.push(logEntry)
    return this
  }

  /** The entries from 0-based position `index` on. */
  getEntriesAfterIndex (index) {
    return this.entries.slice(index, this.entries.length)
  }

  /** The entry at 0-based position `index`. */
  getEntryByIndex (index) {
    return this.entries[index]
  }
}

/** The log of a joined cluster: a snapshot of the engine's log taken when read. Entries are added by `broadcast`. */
class EngineLog extends Log {
  append () {
    const message = 'flotilla/brig: this log is a view of the engine\'s log; add entries with cluster.broadcast(payload)'
    throw codedError(CODES.NOT_SUPPORTED, message)
  }
}

function readOnly (field) {
  const why = ' is a view of the engine\'s state once the cluster has joined, and cannot be set'
  return codedError(CODES.NOT_SUPPORTED, 'flotilla/brig: state.' + field + why)
}

function toLogEntry (entry) {
  if (entry instanceof LogEntry) return entry
  return new LogEntry(entry && entry.data, entry && entry.term)
}

function entriesOf (log) {
  if (log instanceof Log) return log.entries.map(toLogEntry)
  if (Array.isArray(log)) return log.map(toLogEntry)
  return []
}

// The fields of LogState, each read from the engine view once the state is bound to one.
const FIELDS = ['currentTerm', 'votedFor', 'currentRole', 'currentLeader', 'votesReceived', 'log', 'commitLength',
  'sentLength', 'ackedLength']

class LogState extends EventEmitter {
  /**
   * @param {object} [nodeState] - brig's options: currentTerm, votedFor, currentRole, currentLeader,
   *   votesReceived (Set), log (LogEntry[] or Log), commitLength, sentLength (Map), ackedLength (Map)
   */
  constructor (nodeState = {}) {
    super()
    this._view = null
    this.currentTerm = nodeState.currentTerm || 0
    this.votedFor = nodeState.votedFor || null
    this.currentRole = nodeState.currentRole || Follower
    this._currentLeader = nodeState.currentLeader || null
    this.votesReceived = nodeState.votesReceived || new Set()
    this.log = new Log(entriesOf(nodeState.log))
    this.commitLength = nodeState.commitLength || 0
    this.sentLength = nodeState.sentLength || new Map()
    this.ackedLength = nodeState.ackedLength || new Map()
  }

  get currentTerm () { return this._view ? this._view.currentTerm : this._currentTerm }
  set currentTerm (val) {
    if (!Number.isInteger(val)) throw invalidArgument(`Invalid value "${val}".`, TypeError)
    if (this._view) throw readOnly('currentTerm')
    this._currentTerm = val
  }

  get votedFor () { return this._view ? this._view.votedFor : this._votedFor }
  set votedFor (val) {
    if (this._view) throw readOnly('votedFor')
    this._votedFor = val
  }

  get currentRole () { return this._view ? this._view.currentRole : this._currentRole }
  set currentRole (val) {
    if (this._view) throw readOnly('currentRole')
    this._currentRole = val
  }

  get currentLeader () { return this._view ? this._view.currentLeader : this._currentLeader }
  set currentLeader (val) {
    if (this._view) throw readOnly('currentLeader')
    this.emit(LeaderChanged, this._currentLeader, val)
    this._currentLeader = val
  }

  get votesReceived () { return this._view ? this._view.votesReceived : this._votesReceived }
  set votesReceived (val) {
    if (this._view) throw readOnly('votesReceived')
    this._votesReceived = val
  }

  get log () { return this._view ? this._view.log : this._log }
  set log (val) {
    if (this._view) throw readOnly('log')
    this._log = val
  }

  get commitLength () { return this._view ? this._view.commitLength : this._commitLength }
  set commitLength (val) {
    if (this._view) throw readOnly('commitLength')
    this._commitLength = val
  }

  get sentLength () { return this._view ? this._view.sentLength : this._sentLength }
  set sentLength (val) {
    if (this._view) throw readOnly('sentLength')
    this._sentLength = val
  }

  get ackedLength () { return this._view ? this._view.ackedLength : this._ackedLength }
  set ackedLength (val) {
    if (this._view) throw readOnly('ackedLength')
    this._ackedLength = val
  }

  /** The term of the last log entry, 0 for an empty log. */
  get lastTerm () {
    const entries = this.log.entries
    return entries.length > 0 ? entries[entries.length - 1].term : 0
  }

  toNextTerm () {
    this.currentTerm++
    return this
  }

  setCurrentRole (role) {
    if (![Follower, Candidate, Leader].includes(role)) throw invalidArgument('Invalid role.')
    if (this._view) throw readOnly('currentRole')
    if (this._currentRole !== role) this.emit(RoleChanged, this._currentRole, role)
    this._currentRole = role
    return role
  }

  voteFor (id) {
    this.votedFor = id
    return this
  }

  toJSON () {
    return {
      currentTerm: this.currentTerm,
      votedFor: this.votedFor,
      currentLeader: this.currentLeader,
      votesReceived: [...this.votesReceived.entries()],
      log: this.log.entries,
      commitLength: this.commitLength,
      sentLength: [...this.sentLength.entries()],
      ackedLength: [...this.ackedLength.entries()]
    }
  }

  /** The state as a Buffer of JSON, in brig's key order (the role is not included). */
  serialize () {
    return Buffer.from(JSON.stringify(this.toJSON()))
  }

  /** A LogState from the output of `serialize()`. */
  static deserialize (buffer) {
    const nodeState = JSON.parse(buffer.toString())
    // brig wrote a Set as its entries ([id, id] pairs) and read the pairs back as members; read the ids.
    nodeState.votesReceived = new Set((nodeState.votesReceived || []).map((v) => Array.isArray(v) ? v[0] : v))
    nodeState.sentLength = new Map(nodeState.sentLength)
    nodeState.ackedLength = new Map(nodeState.ackedLength)
    return new LogState(nodeState)
  }

  // ---- for the Cluster ----

  /** True when the state holds nothing a node would have to restore (a fresh LogState). */
  _isFresh () {
    return this.currentTerm === 0 && this.votedFor === null && this.log.entries.length === 0 && this.commitLength === 0
  }

  /** Turns this state into a read-only view of `view` (an object with a getter for every field). */
  _bindView (view) {
    for (const field of FIELDS) {
      if (!(field in view)) throw new Error('flotilla/brig: the engine view lacks ' + field)
    }
    this._view = view
  }
}

module.exports = { LogState, Log, LogEntry, EngineLog }
