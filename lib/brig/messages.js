// brig's wire messages: the classes a brig transport sends (it reads the RPC name as `msg.constructor.method`)
// and `Message.from`, which rebuilds a message from the plain object a transport delivers by its exact key set.
//
// The flotilla engine needs a few things brig's messages cannot say. Where brig has a message for the same job,
// the engine's message travels as that class with extra keys (a heartbeat is a LogRequestMessage with
// `heartbeat: true`); where brig has none, it is a class of its own with its own `method` (pre-vote,
// timeout-now, snapshot chunks, read index).
// Every class lists the exact key sets it may have, and no key set belongs to two classes, so `Message.from`
// stays a lookup by exact key set, as in brig. Extra keys are only set when they have a value: a message built
// by this module and one rebuilt from its JSON have the same keys. lib/brig/wire.js maps these to the engine.
'use strict'

const { invalidArgument } = require('../engine/errors')

class Message {
  // brig's sorted key lists, kept for code that read them.
  static get VoteRequestOptions () { return [...VoteRequestMessage.fields].sort() }
  static get VoteResponseOptions () { return [...VoteResponseMessage.fields].sort() }
  static get LogRequestOptions () { return [...LogRequestMessage.fields].sort() }
  static get LogResponseOptions () { return [...LogResponseMessage.fields].sort() }
  static get BroadcastOptions () { return [...BroadcastMessage.fields].sort() }

  /**
   * The message whose class has exactly the object's keys. Throws when no class has them.
   * @param {object} obj - a message as a transport delivered it (usually parsed JSON)
   */
  static from (obj) {
    const keys = obj !== null && typeof obj === 'object' ? Object.keys(obj).sort() : []
    const type = TYPE_BY_KEYS.get(JSON.stringify(keys))
    if (type === undefined) {
      throw invalidArgument('Failed to detect message type from keys: ' + JSON.stringify(keys))
    }
    return type.fromObject(obj)
  }

  /** The class's own fields (brig's), in brig's order. */
  static get fields () { return [] }

  /** Further keys the engine may add, each a set allowed together with `fields`. */
  static get extensions () { return [] }

  static fromObject (obj) {
    return new this(obj)
  }

  serialize () {
    return JSON.stringify(this)
  }
}

// Sets brig's fields from `params`, then the extension keys that have a value.
function assignFields (message, params, fields, extensionKeys) {
  for (const field of fields) message[field] = params[field]
  for (const key of extensionKeys) {
    if (params[key] !== undefined) message[key] = params[key]
  }
  return message
}

function extensionKeysOf (type) {
  return [...new Set(type.extensions.flat())]
}

class VoteRequestMessage extends Message {
  static get method () { return 'REQUEST_VOTE' }
  static get fields () { return ['candidateId', 'currentTerm', 'currentLogLength', 'currentLogLastTerm'] }
  // `transfer`: the vote asked for after a leadership transfer, which followers grant inside a leader's lease.
  static get extensions () { return [['transfer']] }

  constructor (params = {}) {
    super()
    assignFields(this, params, VoteRequestMessage.fields, extensionKeysOf(VoteRequestMessage))
  }
}

class VoteResponseMessage extends Message {
  static get method () { return 'CAST_VOTE' }
  static get fields () { return ['voterId', 'term', 'granted'] }

  constructor (params = {}) {
    super()
    assignFields(this, params, VoteResponseMessage.fields, [])
  }
}

class LogRequestMessage extends Message {
  static get method () { return 'APPEND_LOG' }
  static get fields () { return ['leaderId', 'term', 'prefixLength', 'prefixTerm', 'leaderCommit', 'suffix'] }
  // `heartbeat`: the leader's periodic "I am here", which carries no entries and checks no prefix. `readRound`:
  // the leader's latest round of read confirmations (Raft thesis 6.4), which the follower's answer echoes.
  static get extensions () { return [['heartbeat'], ['heartbeat', 'readRound']] }

  constructor (params = {}) {
    super()
    assignFields(this, params, LogRequestMessage.fields, extensionKeysOf(LogRequestMessage))
  }
}

class LogResponseMessage extends Message {
  static get method () { return 'ACK_APPEND' }
  static get fields () { return ['followerId', 'term', 'ack', 'success'] }
  // `heartbeat`: the answer to a heartbeat, with the `readRound` it answers (which confirms the leader's reads of
  // that round). `rejectedLength, hintLength, hintTerm`: a refused append says which prefix it refused and where
  // the follower's log may match, so the leader finds the match in few round trips.
  static get extensions () {
    return [['heartbeat'], ['heartbeat', 'readRound'], ['rejectedLength', 'hintLength', 'hintTerm']]
  }

  constructor (params = {}) {
    super()
    assignFields(this, params, LogResponseMessage.fields, extensionKeysOf(LogResponseMessage))
  }
}

class BroadcastMessage extends Message {
  static get method () { return 'REQUEST_LOG_RELAY' }
  static get fields () { return ['payload'] }
  // `relayerId, id`: a broadcast the engine relays to the leader, under the id that makes a retried relay
  // commit once.
  static get extensions () { return [['relayerId', 'id']] }

  static fromObject (obj) {
    return assignFields(new BroadcastMessage(obj.payload), obj, [], extensionKeysOf(BroadcastMessage))
  }

  /** @param {*} payload - the data to append to the replicated log */
  constructor (payload) {
    super()
    this.payload = payload
  }
}

// ---- messages brig does not have ----

/** A pre-vote (Raft thesis 9.6): "would you vote for me in `proposedTerm`?", asked without changing any term. */
class PreVoteRequestMessage extends Message {
  static get method () { return 'REQUEST_PRE_VOTE' }
  static get fields () { return ['candidateId', 'proposedTerm', 'currentLogLength', 'currentLogLastTerm'] }

  constructor (params = {}) {
    super()
    assignFields(this, params, PreVoteRequestMessage.fields, [])
  }
}

/** The answer to a pre-vote. */
class PreVoteResponseMessage extends Message {
  static get method () { return 'CAST_PRE_VOTE' }
  static get fields () { return ['voterId', 'term', 'preVoteGranted'] }

  constructor (params = {}) {
    super()
    assignFields(this, params, PreVoteResponseMessage.fields, [])
  }
}

/** The last step of a leadership transfer: the leader tells an up-to-date follower to campaign now. */
class TimeoutNowMessage extends Message {
  static get method () { return 'TIMEOUT_NOW' }
  static get fields () { return ['leaderId', 'term'] }

  constructor (params = {}) {
    super()
    assignFields(this, params, TimeoutNowMessage.fields, [])
  }
}

/**
 * A follower asks the leader for a read index (Raft thesis 6.4): the leader's commit index once it has confirmed
 * that it still leads. `request` numbers the follower's read; `lease`: the leader may answer from its lease.
 */
class ReadIndexRequestMessage extends Message {
  static get method () { return 'READ_INDEX' }
  static get fields () { return ['followerId', 'term', 'request', 'lease'] }

  constructor (params = {}) {
    super()
    assignFields(this, params, ReadIndexRequestMessage.fields, [])
  }
}

/**
 * The leader's answer to a read index request: the follower serves read `request` once it has applied its log
 * up to the length `readLength`.
 */
class ReadIndexResponseMessage extends Message {
  static get method () { return 'ACK_READ_INDEX' }
  static get fields () { return ['leaderId', 'term', 'request', 'readLength'] }

  constructor (params = {}) {
    super()
    assignFields(this, params, ReadIndexResponseMessage.fields, [])
  }
}

/**
 * Sent with a vote refused for the candidate's log: the entry that ends a log of length `commitLength` (of term
 * `commitTerm`) is committed, as far as `voterId` knows. A candidate whose log holds it knows it committed too.
 */
class CommitNoticeMessage extends Message {
  static get method () { return 'COMMIT_NOTICE' }
  static get fields () { return ['voterId', 'term', 'commitLength', 'commitTerm'] }

  constructor (params = {}) {
    super()
    assignFields(this, params, CommitNoticeMessage.fields, [])
  }
}

/**
 * One chunk of a snapshot, sent to a follower whose missing entries were compacted away (Raft paper section 7).
 * `lastIncludedLength` is the log length the snapshot stands for (brig counts lengths), `offset` and `total`
 * are byte positions in the snapshot stream, and `chunk` is that stream's bytes from `offset`, in base64.
 */
class InstallSnapshotMessage extends Message {
  static get method () { return 'INSTALL_SNAPSHOT' }
  static get fields () { return ['leaderId', 'term', 'lastIncludedLength', 'lastIncludedTerm', 'offset', 'total', 'chunk'] }
  // `members`: the snapshot's membership by name ({voters, outgoing, learners}), so the receiver knows its nodes.
  static get extensions () { return [['members']] }

  constructor (params = {}) {
    super()
    assignFields(this, params, InstallSnapshotMessage.fields, extensionKeysOf(InstallSnapshotMessage))
  }
}

/**
 * The answer to a snapshot chunk: the follower holds `received` bytes of the stream, or (`done`) holds the
 * snapshot durably, so that the leader goes on with the entries after it.
 */
class InstallSnapshotResponseMessage extends Message {
  static get method () { return 'ACK_SNAPSHOT' }
  static get fields () { return ['followerId', 'term', 'lastIncludedLength', 'received', 'done'] }

  constructor (params = {}) {
    super()
    assignFields(this, params, InstallSnapshotResponseMessage.fields, [])
  }
}

const MESSAGE_TYPES = [
  VoteRequestMessage,
  VoteResponseMessage,
  LogRequestMessage,
  LogResponseMessage,
  BroadcastMessage,
  PreVoteRequestMessage,
  PreVoteResponseMessage,
  TimeoutNowMessage,
  ReadIndexRequestMessage,
  ReadIndexResponseMessage,
  CommitNoticeMessage,
  InstallSnapshotMessage,
  InstallSnapshotResponseMessage
]

// Every exact key set (sorted, as JSON) and its class. Built once; a clash would be a bug in this file.
const TYPE_BY_KEYS = new Map()
for (const type of MESSAGE_TYPES) {
  for (const extension of [[], ...type.extensions]) {
    const keys = JSON.stringify([...type.fields, ...extension].sort())
    if (TYPE_BY_KEYS.has(keys)) throw new Error('flotilla/brig: two message classes share the keys ' + keys)
    TYPE_BY_KEYS.set(keys, type)
  }
}

module.exports = {
  Message,
  VoteRequestMessage,
  VoteResponseMessage,
  LogRequestMessage,
  LogResponseMessage,
  BroadcastMessage,
  PreVoteRequestMessage,
  PreVoteResponseMessage,
  TimeoutNowMessage,
  ReadIndexRequestMessage,
  ReadIndexResponseMessage,
  CommitNoticeMessage,
  InstallSnapshotMessage,
  InstallSnapshotResponseMessage,
  MESSAGE_TYPES
}
