// The brig face's shape, as brig 1.0 users see it (spec/brig.md): module layout, Symbols and their descriptions,
// message classes and `Message.from`, LogEntry, Log, LogState and its exact `serialize()` form, the timing
// constants, Peer, and the translation of every engine message to a brig message and back.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import fs from 'node:fs'

const require = createRequire(import.meta.url)
const brig = require('../brig.js')
const { events, consensus, messages, roles, log } = brig
const { toBrig, toEngine } = require('../lib/brig/wire.js')

test('require("flotilla/brig") has brig\'s module shape', () => {
  assert.deepEqual(Object.keys(brig).sort(), ['consensus', 'events', 'log', 'messages', 'roles'])
  assert.equal(require('../lib/brig'), brig)
})

test('roles are Symbols with brig\'s descriptions', () => {
  for (const name of ['Follower', 'Candidate', 'Leader']) {
    assert.equal(typeof roles[name], 'symbol')
    assert.equal(roles[name].description, 'brig/roles~' + name)
  }
})

test('events are Symbols with brig\'s descriptions', () => {
  const names = ['ElectionTimeout', 'ReplicationTimeout', 'VoteRequest', 'VoteResponse', 'LogRequest', 'LogResponse',
    'Broadcast', 'LogCommit', 'RoleChanged', 'LeaderChanged', 'MessageQueued', 'Debug']
  assert.deepEqual(Object.keys(events).sort(), [...names].sort())
  for (const name of names) {
    assert.equal(typeof events[name], 'symbol')
    assert.equal(events[name].description, 'brig/events~' + name)
  }
})

test('the timing constants and the static timeouts', () => {
  assert.equal(consensus.ELECTION_T_MIN, 150)
  assert.equal(consensus.ELECTION_T_MAX, 300)
  assert.equal(consensus.REPLICATE_T, 50)
  for (let i = 0; i < 50; i++) {
    const ms = consensus.Cluster.getElectionTimeoutMs()
    assert.ok(Number.isInteger(ms) && ms >= 150 && ms <= 300, String(ms))
  }
  assert.equal(consensus.Cluster.getReplicateTimeoutMs(), 50)
  const saved = consensus.REPLICATE_T
  consensus.REPLICATE_T = 70 // read when used
  try {
    assert.equal(consensus.Cluster.getReplicateTimeoutMs(), 70)
  } finally {
    consensus.REPLICATE_T = saved
  }
})

test('message classes: brig\'s methods and fields', () => {
  const cases = [
    [messages.VoteRequestMessage, 'REQUEST_VOTE', ['candidateId', 'currentTerm', 'currentLogLength', 'currentLogLastTerm']],
    [messages.VoteResponseMessage, 'CAST_VOTE', ['voterId', 'term', 'granted']],
    [messages.LogRequestMessage, 'APPEND_LOG', ['leaderId', 'term', 'prefixLength', 'prefixTerm', 'leaderCommit', 'suffix']],
    [messages.LogResponseMessage, 'ACK_APPEND', ['followerId', 'term', 'ack', 'success']]
  ]
  for (const [Type, method, fields] of cases) {
    assert.equal(Type.method, method)
    const params = Object.fromEntries(fields.map((f, i) => [f, i]))
    const message = new Type(params)
    assert.ok(message instanceof messages.Message)
    assert.deepEqual(Object.keys(message), fields, method)
    assert.equal(message.constructor.method, method)
    assert.equal(message.serialize(), JSON.stringify(params))
    assert.deepEqual(Object.keys(new Type()), fields, 'brig set every field, even without params')
  }
  const broadcast = new messages.BroadcastMessage({ key: 'value' })
  assert.equal(messages.BroadcastMessage.method, 'REQUEST_LOG_RELAY')
  assert.deepEqual(broadcast, Object.assign(Object.create(messages.BroadcastMessage.prototype), { payload: { key: 'value' } }))
  assert.equal(broadcast.serialize(), '{"payload":{"key":"value"}}')
  assert.deepEqual(messages.Message.VoteRequestOptions, ['candidateId', 'currentLogLastTerm', 'currentLogLength', 'currentTerm'])
  assert.deepEqual(messages.Message.BroadcastOptions, ['payload'])
})

test('Message.from detects the class from the exact key set', () => {
  const plain = {
    REQUEST_VOTE: { candidateId: 'a', currentTerm: 2, currentLogLength: 3, currentLogLastTerm: 1 },
    CAST_VOTE: { voterId: 'b', term: 2, granted: true },
    APPEND_LOG: { leaderId: 'a', term: 2, prefixLength: 0, prefixTerm: 0, leaderCommit: 0, suffix: [{ data: { payload: 1 }, term: 2 }] },
    ACK_APPEND: { followerId: 'b', term: 2, ack: 1, success: true },
    REQUEST_LOG_RELAY: { payload: { key: 'value' } }
  }
  for (const [method, obj] of Object.entries(plain)) {
    const message = messages.Message.from(JSON.parse(JSON.stringify(obj)))
    assert.equal(message.constructor.method, method)
    assert.deepEqual({ ...message }, obj)
  }
  // key order does not matter, the key set does
  assert.equal(messages.Message.from({ granted: false, term: 1, voterId: 'c' }).constructor, messages.VoteResponseMessage)
  assert.throws(() => messages.Message.from({ voterId: 'c', term: 1 }),
    { constructor: Error, message: 'Failed to detect message type from keys: ["term","voterId"]' })
  assert.throws(() => messages.Message.from({ voterId: 'c', term: 1, granted: true, extra: 1 }),
    { message: /^Failed to detect message type from keys: / })
  assert.throws(() => messages.Message.from(null), { message: /^Failed to detect message type from keys: / })
})

test('every message class has its own key sets, and every class round-trips through JSON', () => {
  const seen = new Map()
  for (const Type of messages.MESSAGE_TYPES) {
    assert.equal(typeof Type.method, 'string')
    for (const extension of [[], ...Type.extensions]) {
      const keys = JSON.stringify([...Type.fields, ...extension].sort())
      assert.ok(!seen.has(keys), `${Type.name} and ${seen.get(keys)} share ${keys}`)
      seen.set(keys, Type.name)
      const obj = Object.fromEntries([...Type.fields, ...extension].map((k) => [k, k === 'payload' ? { x: 1 } : 1]))
      const message = messages.Message.from(obj)
      assert.equal(message.constructor, Type)
      assert.deepEqual(messages.Message.from(JSON.parse(message.serialize())), message)
    }
  }
  assert.equal(new Set(messages.MESSAGE_TYPES.map((T) => T.method)).size, messages.MESSAGE_TYPES.length)
})

test('LogEntry and Log', () => {
  const entry = new log.LogEntry({ payload: 1 }, 3)
  assert.deepEqual(Object.keys(entry), ['data', 'term'])
  assert.deepEqual({ ...entry }, { data: { payload: 1 }, term: 3 })
  assert.deepEqual({ ...new log.LogEntry() }, { data: {}, term: 0 })

  const l = new log.Log()
  assert.deepEqual(l.entries, [])
  assert.equal(l.append(entry), l)
  l.append(new log.LogEntry('b', 4)).append(new log.LogEntry('c', 4))
  assert.throws(() => l.append({ data: 1, term: 1 }), { constructor: TypeError, message: 'Invalid LogEntry.' })
  assert.equal(l.getEntryByIndex(1).data, 'b')
  assert.deepEqual(l.getEntriesAfterIndex(1).map((e) => e.data), ['b', 'c'])
  assert.deepEqual(l.getEntriesAfterIndex(0).length, 3)
})

test('LogState: brig\'s defaults, checks and events', () => {
  const state = new log.LogState()
  assert.equal(state.currentTerm, 0)
  assert.equal(state.votedFor, null)
  assert.equal(state.currentRole, roles.Follower)
  assert.equal(state.currentLeader, null)
  assert.ok(state.votesReceived instanceof Set)
  assert.ok(state.log instanceof log.Log)
  assert.equal(state.commitLength, 0)
  assert.ok(state.sentLength instanceof Map && state.ackedLength instanceof Map)

  assert.throws(() => { state.currentTerm = 1.5 }, { constructor: TypeError, message: 'Invalid value "1.5".' })
  assert.throws(() => { state.currentTerm = '2' }, { constructor: TypeError, message: 'Invalid value "2".' })
  state.currentTerm = 4
  assert.equal(state.toNextTerm().currentTerm, 5)

  const changes = []
  state.on(events.RoleChanged, (oldRole, newRole) => changes.push([oldRole, newRole]))
  assert.throws(() => state.setCurrentRole('Leader'), { constructor: Error, message: 'Invalid role.' })
  assert.equal(state.setCurrentRole(roles.Candidate), roles.Candidate)
  state.setCurrentRole(roles.Candidate) // unchanged: no event
  assert.deepEqual(changes, [[roles.Follower, roles.Candidate]])

  const leaders = []
  state.on(events.LeaderChanged, (oldLeader, newLeader) => leaders.push([oldLeader, newLeader]))
  state.currentLeader = 'a'
  assert.deepEqual(leaders, [[null, 'a']])
  assert.equal(state.voteFor('b').votedFor, 'b')
  assert.equal(state.lastTerm, 0)
})

test('LogState.serialize(): brig\'s exact form, and deserialize() reads it back', () => {
  const state = new log.LogState({
    currentTerm: 3,
    votedFor: 'a',
    currentRole: roles.Leader,
    currentLeader: 'a',
    votesReceived: new Set(['a', 'b']),
    log: [new log.LogEntry({ payload: { k: 1 } }, 2), new log.LogEntry({ payload: 'x' }, 3)],
    commitLength: 1,
    sentLength: new Map([['b', 2]]),
    ackedLength: new Map([['b', 1]])
  })
  const buffer = state.serialize()
  assert.ok(Buffer.isBuffer(buffer))
  assert.equal(buffer.toString(),
    '{"currentTerm":3,"votedFor":"a","currentLeader":"a","votesReceived":[["a","a"],["b","b"]],' +
    '"log":[{"data":{"payload":{"k":1}},"term":2},{"data":{"payload":"x"},"term":3}],"commitLength":1,' +
    '"sentLength":[["b",2]],"ackedLength":[["b",1]]}')
  const back = log.LogState.deserialize(buffer)
  assert.ok(back instanceof log.LogState)
  assert.equal(back.currentTerm, 3)
  assert.equal(back.votedFor, 'a')
  assert.equal(back.currentLeader, 'a')
  assert.deepEqual([...back.votesReceived], ['a', 'b'])
  assert.ok(back.log.entries.every((e) => e instanceof log.LogEntry))
  assert.deepEqual(back.log.entries.map((e) => e.data), [{ payload: { k: 1 } }, { payload: 'x' }])
  assert.equal(back.lastTerm, 3)
  assert.equal(back.commitLength, 1)
  assert.deepEqual([...back.sentLength], [['b', 2]])
  assert.deepEqual([...back.ackedLength], [['b', 1]])
  assert.equal(back.serialize().toString(), buffer.toString())
  assert.equal(new log.LogState().serialize().toString(),
    '{"currentTerm":0,"votedFor":null,"currentLeader":null,"votesReceived":[],"log":[],"commitLength":0,"sentLength":[],"ackedLength":[]}')
})

test('Peer.send emits MessageQueued, calls tx(id, msg) and returns the peer', () => {
  const calls = []
  const peer = new consensus.Peer('p1', (id, msg) => calls.push(['tx', id, msg]))
  peer.on(events.MessageQueued, (id, msg) => calls.push(['queued', id, msg]))
  const msg = new messages.VoteResponseMessage({ voterId: 'a', term: 1, granted: true })
  assert.equal(peer.send(msg), peer)
  assert.deepEqual(calls, [['queued', 'p1', msg], ['tx', 'p1', msg]])
  assert.equal(calls[1][2].constructor.method, 'CAST_VOTE')
})

test('a Cluster before join(): brig\'s fields, peers, protocol mapping, buffered broadcasts', () => {
  const cluster = new consensus.Cluster('a')
  assert.equal(cluster.id, 'a')
  assert.ok(cluster.state instanceof log.LogState)
  assert.deepEqual(cluster.peers, [])
  const peer = new consensus.Peer('b', () => {})
  assert.equal(cluster.addPeer(peer), peer)
  assert.equal(cluster.getPeer('b'), peer)
  assert.equal(cluster.getPeer('zz'), null)
  const mapping = cluster.createProtocolMapping()
  assert.deepEqual(Object.keys(mapping).sort(),
    ['ACK_APPEND', 'ACK_READ_INDEX', 'ACK_SNAPSHOT', 'APPEND_LOG', 'CAST_PRE_VOTE', 'CAST_VOTE', 'COMMIT_NOTICE',
      'INSTALL_SNAPSHOT', 'READ_INDEX', 'REQUEST_LOG_RELAY', 'REQUEST_PRE_VOTE', 'REQUEST_VOTE', 'TIMEOUT_NOW'])
  let answer = 'none'
  mapping.CAST_VOTE({ nope: 1 }, (error) => { answer = error })
  assert.match(answer.message, /^Failed to detect message type from keys: \["nope"\]/)
  assert.equal(cluster.broadcast({ early: true }), true, 'taken now, proposed at join()')
  const state = new log.LogState()
  assert.equal(new consensus.Cluster('x', [], state).state, state)
  assert.equal(cluster.status(), null)
})

// ---- the translation between the engine's messages and brig's ----

// Messages as crates/wire/src/gaggle.rs writes them.
const ENGINE_MESSAGES = [
  { type: 'PRE_VOTE', term: 3, candidateId: 'a', lastLogIndex: 4, lastLogTerm: 2 },
  { type: 'PRE_VOTE', term: 1, candidateId: 'a', lastLogIndex: -1, lastLogTerm: -1 },
  { type: 'PRE_VOTE_REPLY', term: 3, voteGranted: true },
  { type: 'REQUEST_VOTE', term: 3, candidateId: 'a', lastLogIndex: 4, lastLogTerm: 2 },
  { type: 'REQUEST_VOTE', term: 3, candidateId: 'a', lastLogIndex: 4, lastLogTerm: 2, transfer: true },
  { type: 'REQUEST_VOTE_REPLY', term: 3, voteGranted: false },
  {
    type: 'APPEND_ENTRIES',
    term: 3,
    leaderId: 'a',
    prevLogIndex: 4,
    prevLogTerm: 2,
    entries: [
      { index: 5, term: 3, data: null, id: null, kind: 'noop' },
      { index: 6, term: 3, data: { payload: { k: [1, 2] } }, id: 'a_1' }
    ],
    leaderCommit: 4
  },
  { type: 'APPEND_ENTRIES', term: 1, leaderId: 'a', prevLogIndex: -1, prevLogTerm: -1, entries: [], leaderCommit: -1 },
  { type: 'APPEND_ENTRIES', term: 3, leaderId: 'a', heartbeat: true, prevLogIndex: -1, prevLogTerm: -1, entries: [], leaderCommit: 6, readRound: 4 },
  { type: 'APPEND_ENTRIES_REPLY', term: 3, success: true, lastLogIndex: 6 },
  { type: 'APPEND_ENTRIES_REPLY', term: 3, success: false, rejectIndex: 6, hintIndex: 2, hintTerm: 1 },
  { type: 'APPEND_ENTRIES_REPLY', term: 3, success: true, heartbeat: true, readRound: 4 },
  { type: 'APPEND_ENTRY', term: 0, data: { payload: 'p' }, id: 'b_1' },
  { type: 'TIMEOUT_NOW', term: 3 },
  {
    type: 'INSTALL_SNAPSHOT',
    term: 3,
    leaderId: 'a',
    lastIncludedIndex: 30,
    lastIncludedTerm: 2,
    offset: 4096,
    total: 10000,
    chunk: 'ZmxzbmFwMDE='
  },
  { type: 'INSTALL_SNAPSHOT_REPLY', term: 3, lastIncludedIndex: 30, received: 8192, done: false },
  { type: 'INSTALL_SNAPSHOT_REPLY', term: 3, lastIncludedIndex: 30, received: 10000, done: true },
  // A snapshot chunk names the snapshot's members (null: a seat whose member the sender has not met).
  {
    type: 'INSTALL_SNAPSHOT',
    term: 3,
    leaderId: 'a',
    lastIncludedIndex: 30,
    lastIncludedTerm: 2,
    offset: 0,
    total: 10000,
    chunk: 'ZmxzbmFwMDE=',
    members: { voters: ['a', 'b', null], outgoing: [], learners: [] }
  },
  // A linearizable read (Raft thesis 6.4) from a follower: it asks the leader for a read index, and is answered.
  { type: 'READ_INDEX', term: 3, request: 9, lease: false },
  { type: 'READ_INDEX', term: 3, request: 10, lease: true },
  { type: 'READ_INDEX_REPLY', term: 3, request: 9, readIndex: 6 },
  { type: 'READ_INDEX_REPLY', term: 1, request: 1, readIndex: -1 },
  // Heartbeats without a read round, as a node that serves no reads could write them (the engine reads round 0).
  { type: 'APPEND_ENTRIES', term: 3, leaderId: 'a', heartbeat: true, prevLogIndex: -1, prevLogTerm: -1, entries: [], leaderCommit: 6 },
  { type: 'APPEND_ENTRIES_REPLY', term: 3, success: true, heartbeat: true },
  // A vote refused for the candidate's log tells it what the voter knows committed.
  { type: 'COMMIT_NOTICE', term: 4, commitIndex: 6, commitTerm: 3 }
]

// The message types the engine reads, from the match in crates/wire/src/gaggle.rs that decodes them.
function engineMessageTypes () {
  const source = fs.readFileSync(new URL('../crates/wire/src/gaggle.rs', import.meta.url), 'utf8')
  const types = new Set()
  for (const [arm] of source.matchAll(/^ {8}"[A-Z_]+"( \| "[A-Z_]+")* =>/gm)) {
    for (const [, type] of arm.matchAll(/"([A-Z_]+)"/g)) types.add(type)
  }
  return types
}

test('every message type of the engine but HELLO has a brig form', () => {
  const types = engineMessageTypes()
  assert.ok(types.has('APPEND_ENTRIES') && types.has('INSTALL_SNAPSHOT'), 'the decoder\'s match was found')
  types.delete('HELLO') // only sent to discover members by name; a brig cluster names them all at join()
  const covered = new Set(ENGINE_MESSAGES.map((engine) => engine.type))
  for (const type of types) {
    assert.ok(covered.has(type), `${type} is in ENGINE_MESSAGES`)
    const engine = ENGINE_MESSAGES.find((m) => m.type === type)
    assert.equal(toBrig(engine, senderOf(engine)).length, 1, `${type} becomes a brig message`)
  }
})

function senderOf (engine) {
  return engine.candidateId || engine.leaderId || 'a'
}

test('every engine message travels as a brig message and comes back the same', () => {
  for (const engine of ENGINE_MESSAGES) {
    const sender = senderOf(engine)
    const [message, ...more] = toBrig(engine, sender)
    assert.equal(more.length, 0)
    const received = messages.Message.from(JSON.parse(message.serialize()))
    assert.equal(received.constructor, message.constructor, engine.type)
    const { from, json } = toEngine(received)
    assert.equal(from, sender)
    const expected = { ...engine }
    if (engine.type === 'APPEND_ENTRY') delete expected.term // forwarded proposals carry no term
    assert.deepEqual(JSON.parse(json), expected, JSON.stringify(engine))
  }
})

test('engine messages map to the brig class with the same job, in brig\'s units', () => {
  const [vote] = toBrig(ENGINE_MESSAGES[3], 'a')
  assert.deepEqual({ ...vote }, { candidateId: 'a', currentTerm: 3, currentLogLength: 5, currentLogLastTerm: 2 })
  assert.equal(vote.constructor, messages.VoteRequestMessage)
  const [reply] = toBrig(ENGINE_MESSAGES[5], 'b')
  assert.deepEqual({ ...reply }, { voterId: 'b', term: 3, granted: false })
  const [append] = toBrig(ENGINE_MESSAGES[6], 'a')
  assert.equal(append.constructor, messages.LogRequestMessage)
  assert.deepEqual({ ...append, suffix: undefined }, { leaderId: 'a', term: 3, prefixLength: 5, prefixTerm: 2, leaderCommit: 5, suffix: undefined })
  assert.deepEqual(append.suffix[1], { data: { payload: { k: [1, 2] } }, term: 3, id: 'a_1' })
  const [first] = toBrig(ENGINE_MESSAGES[7], 'a')
  assert.deepEqual([first.prefixLength, first.prefixTerm, first.leaderCommit], [0, 0, 0])
  const [heartbeat] = toBrig(ENGINE_MESSAGES[8], 'a')
  assert.deepEqual({ ...heartbeat }, {
    leaderId: 'a', term: 3, prefixLength: 0, prefixTerm: 0, leaderCommit: 7, suffix: [], heartbeat: true, readRound: 4
  })
  const [heartbeatReply] = toBrig(ENGINE_MESSAGES[11], 'b')
  assert.deepEqual({ ...heartbeatReply }, { followerId: 'b', term: 3, ack: 0, success: true, heartbeat: true, readRound: 4 })
  const [ack] = toBrig(ENGINE_MESSAGES[9], 'b')
  assert.deepEqual({ ...ack }, { followerId: 'b', term: 3, ack: 7, success: true })
  const [refusal] = toBrig(ENGINE_MESSAGES[10], 'b')
  assert.deepEqual({ ...refusal }, { followerId: 'b', term: 3, ack: 0, success: false, rejectedLength: 7, hintLength: 3, hintTerm: 1 })
  const [relay] = toBrig(ENGINE_MESSAGES[12], 'b')
  assert.equal(relay.constructor, messages.BroadcastMessage)
  assert.deepEqual({ ...relay }, { payload: 'p', relayerId: 'b', id: 'b_1' })
  const [chunk] = toBrig(ENGINE_MESSAGES[14], 'a')
  assert.equal(chunk.constructor, messages.InstallSnapshotMessage)
  assert.deepEqual({ ...chunk }, {
    leaderId: 'a', term: 3, lastIncludedLength: 31, lastIncludedTerm: 2, offset: 4096, total: 10000, chunk: 'ZmxzbmFwMDE='
  })
  const [done] = toBrig(ENGINE_MESSAGES[16], 'b')
  assert.equal(done.constructor, messages.InstallSnapshotResponseMessage)
  assert.deepEqual({ ...done }, { followerId: 'b', term: 3, lastIncludedLength: 31, received: 10000, done: true })
  const [askRead] = toBrig(ENGINE_MESSAGES[18], 'b')
  assert.equal(askRead.constructor, messages.ReadIndexRequestMessage)
  assert.equal(messages.ReadIndexRequestMessage.method, 'READ_INDEX')
  assert.deepEqual({ ...askRead }, { followerId: 'b', term: 3, request: 9, lease: false })
  const [readIndex] = toBrig(ENGINE_MESSAGES[20], 'a')
  assert.equal(readIndex.constructor, messages.ReadIndexResponseMessage)
  assert.equal(messages.ReadIndexResponseMessage.method, 'ACK_READ_INDEX')
  assert.deepEqual({ ...readIndex }, { leaderId: 'a', term: 3, request: 9, readLength: 7 }, 'index 6 is length 7')
  const [nothingToRead] = toBrig(ENGINE_MESSAGES[21], 'a')
  assert.equal(nothingToRead.readLength, 0, 'index -1 (no entry) is length 0')
  const [notice] = toBrig(ENGINE_MESSAGES[24], 'c')
  assert.equal(notice.constructor, messages.CommitNoticeMessage)
  assert.deepEqual({ ...notice }, { voterId: 'c', term: 4, commitLength: 7, commitTerm: 3 }, 'index 6 is length 7')
})

test('a relayed batch becomes one BroadcastMessage per entry, in order', () => {
  const batch = { type: 'APPEND_ENTRY', term: 0, batch: [{ data: { payload: 1 }, id: 'c_1' }, { data: { payload: 2 }, id: 'c_2' }] }
  const relays = toBrig(batch, 'c')
  assert.deepEqual(relays.map((m) => ({ ...m })), [{ payload: 1, relayerId: 'c', id: 'c_1' }, { payload: 2, relayerId: 'c', id: 'c_2' }])
  assert.deepEqual(relays.map((m) => JSON.parse(toEngine(m).json)), [
    { type: 'APPEND_ENTRY', data: { payload: 1 }, id: 'c_1' },
    { type: 'APPEND_ENTRY', data: { payload: 2 }, id: 'c_2' }
  ])
})

test('brig\'s own message forms reach the engine too', () => {
  // a plain BroadcastMessage (no relayer) is appended by the node that receives it
  assert.equal(toEngine(new messages.BroadcastMessage('x')), null)
  // a refusal in brig's form names no append
  const refusal = messages.Message.from({ followerId: 'b', term: 2, ack: 0, success: false })
  assert.deepEqual(JSON.parse(toEngine(refusal).json), { type: 'APPEND_ENTRIES_REPLY', term: 2, success: false })
  // a sender that is not a string cannot be named to the engine
  assert.throws(() => toEngine(new messages.VoteResponseMessage({ voterId: 7, term: 1, granted: true })), TypeError)
  assert.throws(() => toEngine(new messages.LogRequestMessage({ leaderId: 'a', term: 1, prefixLength: 0, prefixTerm: 0, leaderCommit: 0, suffix: 'x' })), TypeError)
})
