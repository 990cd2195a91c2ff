// Translates between the engine's messages (gaggle-style JSON, see crates/wire/src/gaggle.rs) and brig's message classes,
// so that a brig transport carries the engine's protocol without knowing it. Each engine message becomes the brig
// class with the same job, field for field; what brig cannot say travels as extra keys or as a class of its own:
//
//   engine                        brig class (method)                    notes
//   PRE_VOTE                      PreVoteRequestMessage (REQUEST_PRE_VOTE)  proposedTerm = the term it would take
//   PRE_VOTE_REPLY                PreVoteResponseMessage (CAST_PRE_VOTE)
//   REQUEST_VOTE                  VoteRequestMessage (REQUEST_VOTE)       + transfer: true after a leader transfer
//   REQUEST_VOTE_REPLY            VoteResponseMessage (CAST_VOTE)
//   APPEND_ENTRIES                LogRequestMessage (APPEND_LOG)          suffix entries {data, term, id[, kind]}
//   APPEND_ENTRIES (heartbeat)    LogRequestMessage (APPEND_LOG)          + heartbeat: true, readRound; empty suffix
//   APPEND_ENTRIES_REPLY          LogResponseMessage (ACK_APPEND)         refusal: ack 0 + rejectedLength, hintLength, hintTerm
//   APPEND_ENTRIES_REPLY (hb)     LogResponseMessage (ACK_APPEND)         + heartbeat: true, readRound; ack 0
//   APPEND_ENTRY (relayed)        BroadcastMessage (REQUEST_LOG_RELAY)    + relayerId, id; one message per entry, in order
//   TIMEOUT_NOW                   TimeoutNowMessage (TIMEOUT_NOW)
//   READ_INDEX                    ReadIndexRequestMessage (READ_INDEX)    request, lease
//   READ_INDEX_REPLY              ReadIndexResponseMessage (ACK_READ_INDEX)  request, readLength = readIndex + 1
//   COMMIT_NOTICE                 CommitNoticeMessage (COMMIT_NOTICE)     commitLength = commitIndex + 1, commitTerm
//   INSTALL_SNAPSHOT              InstallSnapshotMessage (INSTALL_SNAPSHOT)       lastIncludedLength; chunk in base64
//   INSTALL_SNAPSHOT_REPLY        InstallSnapshotResponseMessage (ACK_SNAPSHOT)   lastIncludedLength, received, done
//
// Positions: the engine counts log indices from 0 with -1 for none; brig counts lengths (prefixLength,
// currentLogLength, ack, leaderCommit = commit length, readLength). Length = index + 1, exactly, both ways. These
// lengths count the engine's whole log, which also holds the no-op entry each new leader appends (Raft section 8),
// so they can exceed `state.log.entries.length`, which lists the broadcast entries only.
//
// The sender of a message is named in its fields (candidateId, voterId, leaderId, followerId, relayerId), as in
// brig: that is the name the engine is told the message came from. Everything from a transport is untrusted: a
// field of the wrong type becomes a message the engine drops and counts, never an exception in the engine.
'use strict'

const {
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
} = require('./messages')

const lengthOf = (index) => index + 1
// A length from a transport: arithmetic would turn `[7]`, `"7"`, `true` and `null` into numbers the engine
// accepts, so anything but a number is refused here (the caller drops and counts the message). Out-of-range
// numbers go through, for the engine to refuse.
function indexOf (length, field) {
  if (typeof length !== 'number') throw new TypeError(`${field} is not a number`)
  return length - 1
}
// The engine writes -1 as the term of "no entry"; brig writes 0.
const brigTerm = (term) => (term < 0 ? 0 : term)

function suffixEntry (entry) {
  const out = { data: entry.data, term: entry.term, id: entry.id }
  if (entry.kind !== undefined) out.kind = entry.kind
  return out
}

/**
 * The brig messages for one engine message sent by `selfId` (usually one; a relayed batch gives one per entry).
 * @returns {import('./messages').Message[]}
 */
function toBrig (engine, selfId) {
  switch (engine.type) {
    case 'PRE_VOTE':
      return [new PreVoteRequestMessage({
        candidateId: selfId,
        proposedTerm: engine.term,
        currentLogLength: lengthOf(engine.lastLogIndex),
        currentLogLastTerm: brigTerm(engine.lastLogTerm)
      })]
    case 'PRE_VOTE_REPLY':
      return [new PreVoteResponseMessage({ voterId: selfId, term: engine.term, preVoteGranted: engine.voteGranted })]
    case 'REQUEST_VOTE':
      return [new VoteRequestMessage({
        candidateId: selfId,
        currentTerm: engine.term,
        currentLogLength: lengthOf(engine.lastLogIndex),
        currentLogLastTerm: brigTerm(engine.lastLogTerm),
        transfer: engine.transfer === true ? true : undefined
      })]
    case 'REQUEST_VOTE_REPLY':
      return [new VoteResponseMessage({ voterId: selfId, term: engine.term, granted: engine.voteGranted })]
    case 'APPEND_ENTRIES':
      if (engine.heartbeat === true) {
        return [new LogRequestMessage({
          leaderId: selfId,
          term: engine.term,
          prefixLength: 0,
          prefixTerm: 0,
          leaderCommit: lengthOf(engine.leaderCommit),
          suffix: [],
          heartbeat: true,
          readRound: engine.readRound
        })]
      }
      return [new LogRequestMessage({
        leaderId: selfId,
        term: engine.term,
        prefixLength: lengthOf(engine.prevLogIndex),
        prefixTerm: brigTerm(engine.prevLogTerm),
        leaderCommit: lengthOf(engine.leaderCommit),
        suffix: engine.entries.map(suffixEntry)
      })]
    case 'APPEND_ENTRIES_REPLY':
      if (engine.heartbeat === true) {
        return [new LogResponseMessage({
          followerId: selfId,
          term: engine.term,
          ack: 0,
          success: true,
          heartbeat: true,
          readRound: engine.readRound
        })]
      }
      if (engine.success) {
        return [new LogResponseMessage({ followerId: selfId, term: engine.term, ack: lengthOf(engine.lastLogIndex), success: true })]
      }
      return [new LogResponseMessage({
        followerId: selfId,
        term: engine.term,
        ack: 0,
        success: false,
        rejectedLength: lengthOf(engine.rejectIndex),
        hintLength: lengthOf(engine.hintIndex),
        hintTerm: engine.hintTerm
      })]
    case 'APPEND_ENTRY': {
      const proposals = Array.isArray(engine.batch) ? engine.batch : [{ data: engine.data, id: engine.id }]
      return proposals.map((proposal) => relayOf(proposal, selfId))
    }
    case 'TIMEOUT_NOW':
      return [new TimeoutNowMessage({ leaderId: selfId, term: engine.term })]
    case 'READ_INDEX':
      return [new ReadIndexRequestMessage({
        followerId: selfId,
        term: engine.term,
        request: engine.request,
        lease: engine.lease
      })]
    case 'READ_INDEX_REPLY':
      return [new ReadIndexResponseMessage({
        leaderId: selfId,
        term: engine.term,
        request: engine.request,
        readLength: lengthOf(engine.readIndex)
      })]
    case 'COMMIT_NOTICE':
      return [new CommitNoticeMessage({
        voterId: selfId,
        term: engine.term,
        commitLength: lengthOf(engine.commitIndex),
        commitTerm: engine.commitTerm
      })]
    case 'INSTALL_SNAPSHOT':
      return [new InstallSnapshotMessage({
        leaderId: selfId,
        term: engine.term,
        lastIncludedLength: lengthOf(engine.lastIncludedIndex),
        lastIncludedTerm: engine.lastIncludedTerm,
        offset: engine.offset,
        total: engine.total,
        chunk: engine.chunk,
        members: engine.members
      })]
    case 'INSTALL_SNAPSHOT_REPLY':
      return [new InstallSnapshotResponseMessage({
        followerId: selfId,
        term: engine.term,
        lastIncludedLength: lengthOf(engine.lastIncludedIndex),
        received: engine.received,
        done: engine.done
      })]
    default:
      // HELLO is only sent to discover members by name, and a brig cluster names all of them at join().
      return []
  }
}

// A relayed broadcast: the engine's entry data is `{payload}` (see Cluster#broadcast).
function relayOf (proposal, selfId) {
  const data = proposal.data
  const payload = data !== null && typeof data === 'object' ? data.payload : undefined
  const message = new BroadcastMessage(payload === undefined ? null : payload)
  message.relayerId = selfId
  message.id = proposal.id
  return message
}

function engineEntry (entry, index) {
  const out = { index, term: entry && entry.term, data: entry ? entry.data : null, id: entry && entry.id !== undefined ? entry.id : null }
  if (entry && entry.kind !== undefined) out.kind = entry.kind
  return out
}

/**
 * The engine's form of a brig message: `{from, json}` for `NativeNode.receive`, or `null` for a plain brig
 * BroadcastMessage (no relayer, no id), which the receiving node appends as its own broadcast.
 * Throws a TypeError for a message whose shape cannot be carried over (the caller drops it).
 */
function toEngine (message) {
  let from
  let engine
  switch (message.constructor) {
    case PreVoteRequestMessage:
    case VoteRequestMessage: {
      const preVote = message.constructor === PreVoteRequestMessage
      from = message.candidateId
      engine = {
        type: preVote ? 'PRE_VOTE' : 'REQUEST_VOTE',
        term: preVote ? message.proposedTerm : message.currentTerm,
        candidateId: message.candidateId,
        lastLogIndex: indexOf(message.currentLogLength, 'currentLogLength'),
        lastLogTerm: message.currentLogLength === 0 ? -1 : message.currentLogLastTerm
      }
      if (message.transfer === true) engine.transfer = true
      break
    }
    case VoteResponseMessage:
      from = message.voterId
      engine = { type: 'REQUEST_VOTE_REPLY', term: message.term, voteGranted: message.granted }
      break
    case PreVoteResponseMessage:
      from = message.voterId
      engine = { type: 'PRE_VOTE_REPLY', term: message.term, voteGranted: message.preVoteGranted }
      break
    case LogRequestMessage:
      from = message.leaderId
      if (message.heartbeat === true) {
        engine = {
          type: 'APPEND_ENTRIES',
          term: message.term,
          leaderId: message.leaderId,
          heartbeat: true,
          prevLogIndex: -1,
          prevLogTerm: -1,
          entries: [],
          leaderCommit: indexOf(message.leaderCommit, 'leaderCommit')
        }
        if (message.readRound !== undefined) engine.readRound = message.readRound
      } else {
        if (!Array.isArray(message.suffix)) throw new TypeError('suffix is not an array')
        engine = {
          type: 'APPEND_ENTRIES',
          term: message.term,
          leaderId: message.leaderId,
          prevLogIndex: indexOf(message.prefixLength, 'prefixLength'),
          prevLogTerm: message.prefixLength === 0 ? -1 : message.prefixTerm,
          entries: message.suffix.map((entry, i) => engineEntry(entry, message.prefixLength + i)),
          leaderCommit: indexOf(message.leaderCommit, 'leaderCommit')
        }
      }
      break
    case LogResponseMessage:
      from = message.followerId
      if (message.heartbeat === true) {
        engine = { type: 'APPEND_ENTRIES_REPLY', term: message.term, success: true, heartbeat: true }
        if (message.readRound !== undefined) engine.readRound = message.readRound
      } else if (message.success === true) {
        engine = { type: 'APPEND_ENTRIES_REPLY', term: message.term, success: true, lastLogIndex: indexOf(message.ack, 'ack') }
      } else {
        engine = { type: 'APPEND_ENTRIES_REPLY', term: message.term, success: message.success }
        // A refusal in brig's own form (no hints) names no append; the engine takes it for a stale answer.
        if (message.rejectedLength !== undefined) engine.rejectIndex = indexOf(message.rejectedLength, 'rejectedLength')
        if (message.hintLength !== undefined) engine.hintIndex = indexOf(message.hintLength, 'hintLength')
        if (message.hintTerm !== undefined) engine.hintTerm = message.hintTerm
      }
      break
    case BroadcastMessage:
      if (message.relayerId === undefined) return null
      from = message.relayerId
      engine = { type: 'APPEND_ENTRY', data: { payload: message.payload }, id: message.id }
      break
    case TimeoutNowMessage:
      from = message.leaderId
      engine = { type: 'TIMEOUT_NOW', term: message.term }
      break
    case ReadIndexRequestMessage:
      from = message.followerId
      engine = { type: 'READ_INDEX', term: message.term, request: message.request, lease: message.lease }
      break
    case ReadIndexResponseMessage:
      from = message.leaderId
      engine = {
        type: 'READ_INDEX_REPLY',
        term: message.term,
        request: message.request,
        readIndex: indexOf(message.readLength, 'readLength')
      }
      break
    case CommitNoticeMessage:
      from = message.voterId
      engine = {
        type: 'COMMIT_NOTICE',
        term: message.term,
        commitIndex: indexOf(message.commitLength, 'commitLength'),
        commitTerm: message.commitTerm
      }
      break
    case InstallSnapshotMessage:
      from = message.leaderId
      engine = {
        type: 'INSTALL_SNAPSHOT',
        term: message.term,
        leaderId: message.leaderId,
        lastIncludedIndex: indexOf(message.lastIncludedLength, 'lastIncludedLength'),
        lastIncludedTerm: message.lastIncludedTerm,
        offset: message.offset,
        total: message.total,
        chunk: message.chunk
      }
      if (message.members !== undefined) engine.members = message.members
      break
    case InstallSnapshotResponseMessage:
      from = message.followerId
      engine = {
        type: 'INSTALL_SNAPSHOT_REPLY',
        term: message.term,
        lastIncludedIndex: indexOf(message.lastIncludedLength, 'lastIncludedLength'),
        received: message.received,
        done: message.done
      }
      break
    default:
      throw new TypeError('not a brig message')
  }
  if (typeof from !== 'string' || from === '') throw new TypeError('the sender id is not a non-empty string')
  return { from, json: JSON.stringify(engine) }
}

module.exports = { toBrig, toEngine }
