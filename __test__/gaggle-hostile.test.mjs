// Hostile input: a live cluster gets thousands of malformed, random and replayed messages through its channels,
// and callers pass bad arguments to every public method. Nothing may crash, nothing committed may change, the
// cluster must keep working, and what was dropped must be counted in status().dropped.
//
// Raft trusts a member's messages (it tolerates crashes and a lossy, duplicating, reordering network, not lies),
// so well-formed messages that claim a member's name are sent here only as replays of what that member really
// sent, or with stale terms. Anything else claims a name that is not a member, or is malformed.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import {
  WITHIN, memoryCluster, stableLeader, allCommitted, assertSameLogs, rejection, waitFor, trackNodes, gaggle, FAST,
  uniqueName, Gaggle, testBusCluster
} from './gaggle-support.mjs'

const require = createRequire(import.meta.url)
const { NativeNode } = require('../lib/native.js')
const MemoryChannel = require('../channels/in-memory-channel')
const { consensus } = require('../brig.js')

// A small seeded generator (mulberry32), so that a failure can be replayed with the seed it prints.
function generator (seed) {
  let state = seed >>> 0
  const next = () => {
    state = (state + 0x6D2B79F5) >>> 0
    let x = state
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
  const int = (n) => Math.floor(next() * n)
  const pick = (list) => list[int(list.length)]
  return { next, int, pick }
}

const RAFT_TYPES = ['REQUEST_VOTE', 'REQUEST_VOTE_REPLY', 'APPEND_ENTRIES', 'APPEND_ENTRIES_REPLY', 'APPEND_ENTRY',
  'PRE_VOTE', 'PRE_VOTE_REPLY', 'TIMEOUT_NOW']
// Values no numeric field of the wire accepts: out of range, fractional, not numbers, or JSON null (NaN, Infinity).
// 2^52 is past the largest index (2^52 - 1 on the wire) and, as a term, more than 2^32 above the cluster's.
const BAD_NUMBERS = [-1e20, -5, -2, -1.5, 0.5, 1.5, 2 ** 52, 2 ** 53 - 1, 2 ** 53, 2 ** 53 + 2, 2 ** 64, 1e308, -1e308,
  NaN, Infinity, -Infinity, '1', '', 'NaN', true, false, null, [], [1], {}, { n: 1 }]
// The fields each message type cannot do without, and whose bad values make it malformed.
const REQUIRED_NUMBERS = {
  REQUEST_VOTE: ['term', 'lastLogIndex', 'lastLogTerm'],
  PRE_VOTE: ['term', 'lastLogIndex', 'lastLogTerm'],
  REQUEST_VOTE_REPLY: ['term'],
  PRE_VOTE_REPLY: ['term'],
  APPEND_ENTRIES: ['term', 'prevLogIndex', 'prevLogTerm', 'leaderCommit'],
  APPEND_ENTRIES_REPLY: ['term', 'lastLogIndex'],
  TIMEOUT_NOW: ['term']
}

// A well-formed message of `type` from `from`, in term `term`: the base for corruptions and stale messages.
function template (type, from, term, random) {
  const index = random.int(50) - 1
  switch (type) {
    case 'REQUEST_VOTE':
    case 'PRE_VOTE':
      return { type, term, candidateId: from, lastLogIndex: index, lastLogTerm: Math.max(-1, term - 1) }
    case 'REQUEST_VOTE_REPLY':
    case 'PRE_VOTE_REPLY':
      return { type, term, voteGranted: random.next() < 0.5 }
    case 'APPEND_ENTRIES':
      return {
        type, term, leaderId: from, prevLogIndex: index, prevLogTerm: term, leaderCommit: index,
        entries: [{ index: index + 1, term, data: { forged: true }, id: `${from}_forged-${random.int(1e9)}` }]
      }
    case 'APPEND_ENTRIES_REPLY':
      return { type, term, success: true, lastLogIndex: index }
    case 'APPEND_ENTRY':
      return { type, data: { forged: true }, id: `${from}_forged-${random.int(1e9)}` }
    case 'TIMEOUT_NOW':
      return { type, term }
    default:
      throw new Error('no template for ' + type)
  }
}

function deeplyNested (depth, leaf) {
  let value = leaf
  for (let i = 0; i < depth; i++) value = i % 2 ? { nested: value } : [value]
  return value
}

// One hostile message for `to`, as {how, from, data, counted}: `how` is 'emit' (straight into the node's channel
// listeners) or 'packet' (through the channel's _recieved, with a packet around it); `counted` says whether the
// node must count it in status().dropped.
function hostileMessage (random, to, members, term, replays) {
  const others = members.filter((id) => id !== to)
  const member = random.pick(others)
  const kind = random.int(12)
  switch (kind) {
    case 0: { // a required number with a bad value or type
      const type = random.pick(Object.keys(REQUIRED_NUMBERS))
      const data = template(type, member, term, random)
      data[random.pick(REQUIRED_NUMBERS[type])] = random.pick(BAD_NUMBERS)
      if (data.type === 'APPEND_ENTRIES_REPLY') data.success = true
      return { how: 'emit', from: member, data, counted: true }
    }
    case 1: { // a required field missing, or of the wrong type
      const type = random.pick(RAFT_TYPES)
      const data = template(type, member, term, random)
      const field = type === 'APPEND_ENTRY'
        ? 'id'
        : random.pick([...(REQUIRED_NUMBERS[type] || ['term']), ...(type.endsWith('VOTE_REPLY') ? ['voteGranted'] : []),
            ...(type === 'APPEND_ENTRIES' ? ['entries'] : []), ...(type === 'APPEND_ENTRIES_REPLY' ? ['success'] : [])])
      // every one of these is wrong for the field: no number for a flag, no string for a number, [] is no id
      const wrong = { id: [null, 7.5, [], { a: 1 }, 12, ''], entries: [null, 'x', 7.5, { a: 1 }, -3] }
      if (random.next() < 0.5) delete data[field]
      else data[field] = random.pick(wrong[field] || [null, 'x', 7.5, [], { a: 1 }, -3])
      if (type === 'APPEND_ENTRIES_REPLY' && field !== 'success') data.success = true
      return { how: 'emit', from: member, data, counted: true }
    }
    case 2: { // bad entries inside an APPEND_ENTRIES, or forwarded proposals with bad ids
      if (random.next() < 0.5) {
        const data = template('APPEND_ENTRIES', member, term, random)
        const entry = data.entries[0]
        const bad = random.int(5)
        if (bad === 0) entry.index = random.pick(BAD_NUMBERS.filter((v) => v !== null))
        else if (bad === 1) entry.term = random.pick(BAD_NUMBERS.filter((v) => v !== null))
        else if (bad === 2) entry.kind = random.pick(['weird', 7, ''])
        else if (bad === 3) entry.id = random.pick(['', 'x'.repeat(300), 42])
        else data.entries = random.pick(['entries', 5, { 0: entry }, [5], [null], [[1, 2]]])
        return { how: 'emit', from: member, data, counted: true }
      }
      const data = { type: 'APPEND_ENTRY', batch: [{ data: 1, id: random.pick(['', 'y'.repeat(1000), 3, null]) }] }
      if (random.next() < 0.3) data.term = random.pick(BAD_NUMBERS.filter((v) => v !== null))
      return { how: 'emit', from: member, data, counted: true }
    }
    case 3: { // an unknown type, or no type
      const data = random.pick([{ type: 'NOPE', term }, { type: '' }, { type: 'request_vote', term }, { type: 7 },
        { type: null }, { term }, {}, { type: ['APPEND_ENTRIES'] }, { type: { toString: 'x' } }])
      return { how: 'emit', from: member, data, counted: true }
    }
    case 4: { // a member's name claimed inside the message that is not the sender's
      const type = random.pick(['REQUEST_VOTE', 'PRE_VOTE', 'APPEND_ENTRIES'])
      const data = template(type, member, term, random)
      const claimed = random.pick([to, 'mallory', others.find((id) => id !== member)])
      if (type === 'APPEND_ENTRIES') data.leaderId = claimed
      else data.candidateId = claimed
      return { how: 'emit', from: member, data, counted: true }
    }
    case 5: { // anything at all from a sender that is not a member
      const from = random.pick(['mallory', `stranger-${random.int(1000)}`, '__proto__', 'constructor', 'hasOwnProperty',
        'x'.repeat(10_000), '\u0000', 'ünï', '\ud800'])
      const type = random.pick([...RAFT_TYPES, 'HELLO'])
      const data = type === 'HELLO' ? { type, from } : template(type, from, term + random.int(3), random)
      return { how: 'emit', from, data, counted: true }
    }
    case 6: { // an origin that is not a name at all
      const from = random.pick([undefined, null, 42, '', {}, ['a'], true])
      return { how: 'emit', from, data: template(random.pick(RAFT_TYPES), member, term, random), counted: true }
    }
    case 7: { // data that is not a message object
      const data = random.pick([undefined, null, 0, -1, 1e308, NaN, '', 'REQUEST_VOTE', '{"type":"HELLO"}', true,
        [], [1, 2, 3], ['REQUEST_VOTE', term], () => {}, Symbol('s'), 10n])
      return { how: 'emit', from: member, data, counted: true }
    }
    case 8: { // objects JSON cannot carry or that nest too deep for a message
      const pickOne = random.int(5)
      let data
      if (pickOne === 0) {
        data = template(random.pick(RAFT_TYPES), member, term, random)
        data.self = data
      } else if (pickOne === 1) {
        data = { ...template('REQUEST_VOTE', member, term, random), big: 10n }
      } else if (pickOne === 2) {
        data = { ...template('APPEND_ENTRY', member, term, random), toJSON () { throw new Error('no JSON for you') } }
      } else if (pickOne === 3) {
        data = template('APPEND_ENTRIES', member, term, random)
        data.entries = deeplyNested(2000 + random.int(3000), 1)
      } else {
        data = template('REQUEST_VOTE', member, term, random)
        data.term = deeplyNested(300, 1)
      }
      return { how: 'emit', from: member, data, counted: true }
    }
    case 9: { // a replay of a real message, to the node it was sent to, as it was sent
      const replay = replays.length > 0 ? random.pick(replays) : null
      if (replay === null || replay.to !== to) return hostileMessage(random, to, members, term, replays)
      return random.next() < 0.5
        ? { how: 'emit', from: replay.from, data: structuredClone(replay.data), counted: false, answered: true }
        : { how: 'packet', from: replay.from, packet: structuredClone(replay.packet), counted: false, answered: true }
    }
    case 10: { // a well-formed message of an old term (term 0: every node is past it)
      const type = random.pick(['REQUEST_VOTE', 'REQUEST_VOTE_REPLY', 'APPEND_ENTRIES_REPLY', 'TIMEOUT_NOW',
        'PRE_VOTE_REPLY', 'APPEND_ENTRIES', 'PRE_VOTE'])
      const data = template(type, member, 0, random)
      // answered (so that a stale leader or (pre-)candidate learns the term) rather than dropped
      const answered = type === 'APPEND_ENTRIES' || type === 'PRE_VOTE' || type === 'REQUEST_VOTE'
      return { how: 'emit', from: member, data, counted: !answered, answered }
    }
    default: { // through _recieved: a garbled packet, or a packet around a malformed message
      // each forged packet has an incarnation of its own, so the channel's sequence check lets it through
      const packets = [null, 5, 'packet', [], { sequence: 'x' }, { data: null, sequence: 1e308, incarnation: random.next() },
        { data: { type: 'NOPE' }, sequence: random.int(1e9), incarnation: `forged-${random.next()}` },
        { data: template('REQUEST_VOTE', member, -4, random), sequence: -1, incarnation: random.next() }]
      const packet = random.pick(packets)
      // the base class drops packets that are no objects before the node sees them; the others reach it, malformed
      const counted = packet !== null && typeof packet === 'object'
      return { how: 'packet', from: member, packet, counted }
    }
  }
}

function describeMessage (message) {
  try {
    return JSON.stringify(message, (key, value) => typeof value === 'bigint' ? `${value}n` : value).slice(0, 300)
  } catch {
    return String(message.how)
  }
}

test('a live cluster survives 12,000 hostile messages and counts what it drops', { timeout: 60_000 }, async (t) => {
  const seed = Number(process.env.HOSTILE_SEED) || (Date.now() % 1e9)
  t.diagnostic(`seed ${seed} (set HOSTILE_SEED to replay)`)
  const random = generator(seed)
  let rpcCalls = 0
  const nodes = memoryCluster(t, 3, { rpc: { count (cb) { rpcCalls++; cb(null, rpcCalls) } } })
  const members = nodes.map((node) => node.id)
  const byId = new Map(nodes.map((node) => [node.id, node]))

  // Capture real traffic, packets included, to replay it later.
  const replays = []
  let capturing = true
  for (const node of nodes) {
    const channel = node._channel
    const original = channel._recieved
    channel._recieved = function (from, packet) {
      if (capturing && replays.length < 3000 && packet?.data?.type !== 'HELLO') {
        replays.push({ from, to: node.id, data: structuredClone(packet.data), packet: structuredClone(packet) })
      }
      return original.call(this, from, packet)
    }
    t.after(() => { channel._recieved = original })
  }

  const leader = await stableLeader(nodes)
  const follower = nodes.find((node) => node !== leader)
  await Promise.all(Array.from({ length: 30 }, (_, i) => nodes[i % 3].append({ before: i })))
  for (let i = 0; i < 5; i++) await follower.dispatchOnLeader('count', [])
  await allCommitted(nodes, 29)
  // heartbeats and their replies too
  await waitFor(() => replays.length >= 300, 5000, '300 captured messages')
  const rpcCallsBefore = rpcCalls
  capturing = false

  const committedBefore = nodes.map((node) => node.getLog().slice(0, node.getCommitIndex() + 1))
  const droppedBefore = new Map(nodes.map((node) => [node, node.status().dropped.total]))
  const injected = new Map(nodes.map((node) => [node, 0]))
  const mustDrop = new Map(nodes.map((node) => [node, 0]))
  // a stale or replayed message may be answered, and the answer dropped by the node it goes to
  const induced = new Map(nodes.map((node) => [node, 0]))

  // Inject, a batch per turn of the event loop so that the cluster runs (and heartbeats) in between.
  const TOTAL = 12_000
  const BATCH = 400
  const uncaught = []
  const onUncaught = (error) => uncaught.push(error)
  process.on('uncaughtException', onUncaught)
  t.after(() => process.removeListener('uncaughtException', onUncaught))
  for (let sent = 0; sent < TOTAL; sent += BATCH) {
    for (let i = 0; i < BATCH; i++) {
      const target = nodes[random.int(3)]
      const message = hostileMessage(random, target.id, members, target._currentTerm, replays)
      injected.set(target, injected.get(target) + 1)
      if (message.counted) mustDrop.set(target, mustDrop.get(target) + 1)
      if (message.answered) induced.set(byId.get(message.from), induced.get(byId.get(message.from)) + 1)
      try {
        if (message.how === 'emit') target._channel.emit('recieved', message.from, message.data)
        else target._channel._recieved(message.from, message.packet)
      } catch (error) {
        assert.fail(`delivering ${describeMessage(message)} threw: ${error.stack}`)
      }
    }
    await new Promise((resolve) => setImmediate(resolve))
  }
  assert.deepEqual(uncaught, [])

  // What was committed is still there, unchanged, on every node.
  for (const [i, node] of nodes.entries()) {
    const log = node.getLog()
    assert.ok(node.getCommitIndex() >= committedBefore[i].length - 1)
    assert.deepEqual(log.slice(0, committedBefore[i].length), committedBefore[i], `committed prefix of ${node.id}`)
  }
  // Every malformed or foreign message was counted, and no more than were sent (plus the few a live cluster
  // drops on its own, such as late replies).
  for (const node of nodes) {
    const dropped = node.status().dropped.total - droppedBefore.get(node)
    const most = injected.get(node) + induced.get(node) + 100
    t.diagnostic(`${node.id}: injected ${injected.get(node)}, must drop ${mustDrop.get(node)}, dropped ${dropped}, ` +
      `at most ${most}`)
    assert.ok(dropped >= mustDrop.get(node), `${node.id} dropped ${dropped}, at least ${mustDrop.get(node)} expected`)
    assert.ok(dropped <= most, `${node.id} dropped ${dropped} of ${injected.get(node)} injected`)
  }
  const status = leader.status()
  assert.ok(status.dropped.malformed > 0 && status.dropped.unknownSender > 0, JSON.stringify(status.dropped))

  // The cluster keeps working: new appends from every node commit everywhere, and the logs agree.
  const after = await stableLeader(nodes)
  await Promise.all(Array.from({ length: 30 }, (_, i) => nodes[i % 3].append({ after: i })))
  const lastIndex = after.getLog().length - 1
  await allCommitted(nodes, lastIndex)
  const log = assertSameLogs(nodes)
  assert.deepEqual(log.slice(0, committedBefore[0].length), committedBefore[0])
  assert.equal(new Set(log.map((entry) => entry.id)).size, log.length, 'replayed proposals did not append twice')
  assert.ok(log.every((entry) => entry.data?.forged !== true), 'no forged entry made it into the log')
  assert.equal(log.filter((entry) => entry.data?.after !== undefined).length, 30)
  // replayed dispatches were answered from the leader's memory of them, not run again
  assert.equal(rpcCalls, rpcCallsBefore)
  assert.deepEqual(await follower.dispatchOnLeader('count', []), [rpcCallsBefore + 1])
})

test('a dispatch from a sender that is not a member does not run, even once its vote request made its name known', WITHIN, async (t) => {
  let calls = 0
  const nodes = memoryCluster(t, 3, { rpc: { effect (cb) { calls++; cb(null, 'done') } } })
  const leader = await stableLeader(nodes)
  // a vote request makes its name known, not a member's
  leader._channel.emit('recieved', 'mallory', { type: 'REQUEST_VOTE', term: leader._currentTerm, candidateId: 'mallory', lastLogIndex: -1, lastLogTerm: -1 })
  const before = leader.status().dropped.total
  leader._channel.emit('recieved', 'mallory', { type: 'DISPATCH', term: leader._currentTerm, id: 'rpc-1', methodName: 'effect', args: [] })
  leader._channel.emit('recieved', 'mallory', { type: 'DISPATCH_REPLY', term: leader._currentTerm, id: 'rpc-2', returnValues: [null] })
  await new Promise((resolve) => setImmediate(resolve))
  assert.equal(calls, 0)
  assert.equal(leader.status().dropped.total - before, 2)
})

test('a stranger known from its vote request cannot append nor read through the leader, nor lead or campaign in its term', WITHIN, async (t) => {
  const nodes = memoryCluster(t, 3)
  const leader = await stableLeader(nodes)
  await leader.append('before')
  const term = leader._currentTerm
  const before = leader.status().dropped.unknownSender
  // A vote request makes the stranger's name known (a server answers candidates outside its configuration)...
  leader._channel.emit('recieved', 'mallory', { type: 'REQUEST_VOTE', term, candidateId: 'mallory', lastLogIndex: -1, lastLogTerm: -1 })
  // ...but its forwarded proposals, alone and in a batch, and its read request are not a member's.
  leader._channel.emit('recieved', 'mallory', { type: 'APPEND_ENTRY', data: { forged: true }, id: 'mallory_1' })
  leader._channel.emit('recieved', 'mallory', { type: 'APPEND_ENTRY', batch: [{ data: { forged: true }, id: 'mallory_2' }] })
  leader._channel.emit('recieved', 'mallory', { type: 'READ_INDEX', request: 1 })
  // Nor does a follower take an append of the leader's term from it: its entry would sit where the leader's next
  // entry of the same term is taken as matching.
  const follower = nodes.find((node) => node !== leader)
  const unexpectedBefore = follower.status().dropped.unexpected
  follower._channel.emit('recieved', 'mallory', { type: 'REQUEST_VOTE', term, candidateId: 'mallory', lastLogIndex: -1, lastLogTerm: -1 })
  follower._channel.emit('recieved', 'mallory', {
    type: 'APPEND_ENTRIES', term, leaderId: 'mallory', prevLogIndex: 0, prevLogTerm: term, leaderCommit: 0,
    entries: [{ index: 1, term, data: { forged: true }, id: 'mallory_3' }]
  })
  // Nor a campaign, which would skip pre-vote and the leader's lease: only the leader hands over.
  follower._channel.emit('recieved', 'mallory', { type: 'TIMEOUT_NOW', term })
  follower._channel.emit('recieved', 'mallory', { type: 'TIMEOUT_NOW', term: term + 1 })
  assert.equal(follower.status().dropped.unexpected - unexpectedBefore, 3)
  assert.equal(follower._currentTerm, term)
  await leader.append('after')
  await allCommitted(nodes, 1)
  const log = assertSameLogs(nodes)
  assert.deepEqual(log.map((entry) => entry.data), ['before', 'after'])
  assert.equal(leader.status().dropped.unknownSender - before, 3)
  assert.equal(leader._currentTerm, term)
})

test('malformed messages from strangers do not take the seat of a member still to come', WITHIN, async (t) => {
  const namespace = uniqueName('ns')
  const track = trackNodes(t)
  const make = (id) => track(gaggle({ id, channel: { name: 'memory', namespace }, clusterSize: 3, ...FAST }))
  const a = make('a')
  const b = make('b')
  await stableLeader([a, b])
  for (let i = 0; i < 100; i++) {
    for (const node of [a, b]) node._channel.emit('recieved', `stranger-${i}`, random100(i))
  }
  const c = make('c')
  await stableLeader([a, b, c])
  await c.append('the third member is in')
  await allCommitted([a, b, c], 0)
  for (const node of [a, b, c]) {
    assert.deepEqual(node.status().peers.map((peer) => peer.id).sort(), ['a', 'b', 'c'].filter((id) => id !== node.id))
  }

  function random100 (i) {
    return [null, 'x', { type: 'NOPE' }, { type: 'REQUEST_VOTE', term: -1 }, [i]][i % 5]
  }
})

test('bad arguments to every public method throw a clear Error or reject, and the node keeps working', WITHIN, async (t) => {
  const nodes = memoryCluster(t, 3, { rpc: { echo (...args) { args.pop()(null, ...args) } } })
  const leader = await stableLeader(nodes)
  const follower = nodes.find((node) => node !== leader)

  // constructor and factory
  for (const bad of [undefined, null, 42, 'text', [], {}, { id: 'x' }, { id: 'x', channel: { name: 'pigeon' }, clusterSize: 3 }]) {
    assert.throws(() => gaggle(bad), (error) => error instanceof Error && /^Invalid options: /.test(error.message))
    assert.throws(() => new Gaggle(bad), (error) => error instanceof Error && /^Invalid options: /.test(error.message))
  }
  for (const clusterSize of [0, -1, 1.5, NaN, Infinity, 1e9, '3']) {
    assert.throws(() => gaggle({ id: 'x', channel: { name: 'memory', namespace: uniqueName('ns') }, clusterSize }),
      /^Error: Invalid options: /, `clusterSize ${clusterSize}`)
  }

  // append
  const cyclic = { a: 1 }
  cyclic.self = cyclic
  assert.match((await rejection(follower.append(cyclic))).message, /cannot be serialized to JSON/)
  assert.match((await rejection(follower.append({ big: 10n }))).message, /cannot be serialized to JSON/)
  assert.match((await rejection(leader.append({ toJSON () { throw new Error('nope') } }))).message, /nope/)
  assert.match((await rejection(leader.append('x'.repeat(2 * 1024 * 1024)))).message, /large|limit|bytes/i)
  for (const [timeout, cb] of [[10, 'not a function'], [10, 42], [undefined, {}], [null, []]]) {
    assert.throws(() => follower.append('x', timeout, cb), (error) => error instanceof TypeError && /callback/.test(error.message))
  }
  // things JSON has no form for are stored as JSON.stringify stores them
  await follower.append(Symbol('s'))
  await follower.append(() => {})
  await follower.append([undefined, () => {}, NaN])
  const tail = follower.getLog().slice(-3).map((entry) => entry.data)
  assert.deepEqual(tail, [null, null, [null, null, null]])

  // dispatchOnLeader
  for (const [name, args] of [[undefined, []], [42, []], [{}, []], [null, []], ['echo', undefined], ['echo', 'a'],
    ['echo', { 0: 1, length: 1 }], ['echo', null]]) {
    assert.throws(() => follower.dispatchOnLeader(name, args), TypeError, `dispatchOnLeader(${String(name)}, ${String(args)})`)
  }
  assert.throws(() => follower.dispatchOnLeader('echo', [], 10, 'cb'), TypeError)
  assert.equal((await rejection(follower.dispatchOnLeader('__proto__', []))).message, 'The RPC method __proto__ does not exist')
  assert.equal((await rejection(follower.dispatchOnLeader('', []))).message, 'The RPC method  does not exist')
  assert.deepEqual(await follower.dispatchOnLeader('echo', [1, 'two', { three: [3] }]), [1, 'two', { three: [3] }])

  // close, transferLeadership, and the getters
  for (const bad of ['x', 42, {}, []]) {
    assert.throws(() => follower.close(bad), (error) => error instanceof TypeError && /callback/.test(error.message))
  }
  for (const bad of [undefined, 42, null, {}]) assert.throws(() => leader.transferLeadership(bad), TypeError)
  {
    // the leader of now (a busy machine may have changed it), and the checks in the same turn
    const current = await stableLeader(nodes)
    const other = nodes.find((node) => node !== current)
    assert.throws(() => current.transferLeadership('nobody'), Error)
    assert.throws(() => current.transferLeadership(current.id), Error)
    assert.throws(() => other.transferLeadership(current.id), Error)
  }
  for (const node of nodes) {
    assert.equal(typeof node.getLog(1, 2, 3).length, 'number')
    assert.equal(typeof node.getCommitIndex('x'), 'number')
    assert.equal(typeof node.isLeader({}), 'boolean')
    assert.equal(typeof node.hasUncommittedEntriesInPreviousTerms(null), 'boolean')
    assert.equal(typeof node.status(42).term, 'number')
  }

  // still working
  await follower.append('still fine')
  await allCommitted(nodes, follower.getLog().length - 1)
  assertSameLogs(nodes)
  await waitFor(() => nodes.every((node) => node.status().pendingAppends === 0), 5000, 'no pending appends')
})

test('dispatch arguments and rpc values JSON cannot carry reject, on every channel', WITHIN, async (t) => {
  const { bus, nodes } = testBusCluster(t, 3, {
    rpc: {
      echo (...args) { args.pop()(null, ...args) },
      bigValue (cb) { cb(null, 10n) },
      cyclicValue (cb) { const value = {}; value.self = value; cb(null, value) }
    }
  })
  bus.serialize = true
  const leader = await stableLeader(nodes)
  const follower = nodes.find((node) => node !== leader)
  const cyclic = {}
  cyclic.self = cyclic
  for (const node of [follower, leader]) {
    for (const args of [[10n], [cyclic], [{ toJSON () { throw new Error('no JSON') } }]]) {
      const error = await rejection(node.dispatchOnLeader('echo', args, 3000))
      assert.match(error.message, /^The arguments cannot be serialized to JSON: /, `${node.id}: ${error.message}`)
    }
    for (const name of ['bigValue', 'cyclicValue']) {
      const error = await rejection(node.dispatchOnLeader(name, [], 3000))
      assert.match(error.message, new RegExp(`^The values of the RPC method ${name} cannot be serialized to JSON: `),
        `${node.id}: ${error.message}`)
    }
  }
  assert.deepEqual(await follower.dispatchOnLeader('echo', [1, [2], { three: 3 }]), [1, [2], { three: 3 }])
})

// A node that reads one message and waits for the answer, as gaggle's own tests do: a bare channel in the
// cluster's namespace, speaking gaggle's wire.
function fakeMember (t, id, namespace) {
  const channel = new MemoryChannel({ id, channelOptions: { namespace } })
  const received = []
  channel.on('recieved', (from, data) => received.push({ from, data }))
  channel.connect()
  t.after(() => channel.disconnect())
  const reply = (type, count) => waitFor(() => {
    const replies = received.filter(({ data }) => data?.type === type)
    return replies.length >= count && replies[count - 1].data
  }, 5000, `${type} number ${count}`)
  return { channel, reply }
}

test('a REQUEST_VOTE of an earlier term is answered with voteGranted false and the current term', WITHIN, async (t) => {
  // Raft, Figure 2: "Reply false if term < currentTerm", with the receiver's term. The message carries only
  // gaggle's fields.
  const namespace = uniqueName('ns')
  const track = trackNodes(t)
  track(gaggle({ id: 'real', channel: { name: 'memory', namespace }, clusterSize: 2 }))
  const fake = fakeMember(t, 'fake', namespace)
  const vote = (term) => ({ type: 'REQUEST_VOTE', term, candidateId: 'fake', lastLogIndex: -1, lastLogTerm: -1 })

  fake.channel.send('real', vote(5))
  const granted = await fake.reply('REQUEST_VOTE_REPLY', 1)
  assert.equal(granted.term, 5)
  assert.equal(granted.voteGranted, true)

  fake.channel.send('real', vote(3))
  const refused = await fake.reply('REQUEST_VOTE_REPLY', 2)
  assert.equal(refused.term, 5)
  assert.equal(refused.voteGranted, false)

  // The same for a pre-vote of an earlier term.
  fake.channel.send('real', { ...vote(4), type: 'PRE_VOTE' })
  const preVote = await fake.reply('PRE_VOTE_REPLY', 1)
  assert.equal(preVote.term, 5)
  assert.equal(preVote.voteGranted, false)
})

test('a node id longer than proposal ids allow throws a clear error at construction, on both faces', WITHIN, async (t) => {
  // Proposal ids are the node id, '_' and a UUID, and the wire takes ids of at most 256 bytes. Before, such a
  // cluster started, and no append ever settled.
  const namespace = uniqueName('ns')
  const track = trackNodes(t)
  for (let i = 0; i < 3; i++) {
    const id = 'n'.repeat(250) + i
    const channel = new MemoryChannel({ id: 'c', channelOptions: { namespace } })
    for (const make of [() => gaggle({ id, channel: { name: 'memory', namespace }, clusterSize: 3 }),
      () => new Gaggle({ id, channel, clusterSize: 3 })]) {
      assert.throws(make, { message: 'Invalid options: "id" must be at most 219 bytes long (in UTF-8)' })
    }
  }
  assert.throws(() => gaggle({ id: 'é'.repeat(110), channel: { name: 'memory', namespace }, clusterSize: 3 }),
    /"id" must be at most 219 bytes long/)
  assert.throws(() => new consensus.Cluster('n'.repeat(220)).join(), { constructor: TypeError, message: /at most 219 bytes/ })
  const peer = new consensus.Peer('p'.repeat(220), () => {})
  assert.throws(() => new consensus.Cluster('a', [peer]).join(), { constructor: TypeError, message: /at most 219 bytes/ })
  assert.throws(() => new NativeNode({ id: 'n'.repeat(220), clusterSize: 1, electionTimeoutMin: 300,
    electionTimeoutMax: 500, heartbeatInterval: 50 }), /"id" is 220 bytes long, more than the limit of 219 bytes/)
  // A lone surrogate has no UTF-8 form: the engine would hold another name (with U+FFFD), and an append named in
  // JS (over tcp) would never match its entry.
  assert.throws(() => gaggle({ id: 'n\ud800', channel: { name: 'memory', namespace }, clusterSize: 3 }),
    { code: 'FLOTILLA_INVALID_ARGUMENT', message: 'Invalid options: "id" must be well-formed Unicode (no lone surrogates)' })
  assert.throws(() => new consensus.Cluster('n\udc00').join(), { constructor: TypeError, message: /no lone surrogates/ })

  // The longest id works: three nodes elect a leader and commit.
  const nodes = [0, 1, 2].map((i) => track(gaggle({ id: 'n'.repeat(218) + i, channel: { name: 'memory', namespace },
    clusterSize: 3, ...FAST })))
  await stableLeader(nodes)
  await Promise.all(nodes.map((node, i) => node.append({ from: i })))
  await allCommitted(nodes, 2)
})

test('NativeNode.propose takes only JSON text, and nothing after close()', WITHIN, async () => {
  const node = new NativeNode({ id: 'a', clusterSize: 1, electionTimeoutMin: 300,
    electionTimeoutMax: 500, heartbeatInterval: 50 })
  node.campaign()
  node.flush()
  assert.equal(node.state, 'LEADER')
  const deep = (depth) => '['.repeat(depth) + ']'.repeat(depth)
  for (const bad of ['', '{', 'undefined', "{'a':1}", '1 2', '[1,]', 'NaN', '"\u0000"', '{"a":1}x']) {
    assert.throws(() => node.propose(bad), (error) => error instanceof Error && /^the data is not JSON text/.test(error.message),
      JSON.stringify(bad))
  }
  assert.throws(() => node.propose(deep(101)), { message: 'the data nests more than 100 levels deep' })
  for (const good of ['null', '{"a":[1,"]"]}', deep(100), ' 7 ', undefined, null]) node.propose(good)
  let output
  while ((output = node.flush()) !== null) JSON.parse(output) // every output is still JSON
  assert.equal(node.commitIndex, 5)

  // Batches numbered in JS are for a node on its own thread.
  assert.throws(() => node.proposeBatch(1, 1, '1'), { code: 'FLOTILLA_INVALID_STATE' })
  await node.close()
  assert.throws(() => node.propose('1'), { message: 'the node is closed: it takes no more proposals' })
  // getters answer after close
  assert.deepEqual([node.state, node.term, node.leader, node.votedFor, node.commitIndex], ['LEADER', 1, 'a', 'a', 5])
})

test('malformed fields are counted, numbers above every limit are dropped, and a term of 2^53 - 1 stalls nothing', WITHIN, async (t) => {
  const nodes = memoryCluster(t, 3)
  const leader = await stableLeader(nodes)
  const follower = nodes.find((node) => node !== leader)
  const sender = nodes.find((node) => node !== leader && node !== follower).id
  const term = leader._currentTerm
  const dropped = () => follower.status().dropped.malformed
  const before = dropped()
  const hostile = [
    { type: 'HELLO', from: 5 },
    { type: 'PRE_VOTE', term: term + 1, candidateId: null, lastLogIndex: 0, lastLogTerm: 0 },
    { type: 'APPEND_ENTRIES', term, leaderId: null, heartbeat: true, leaderCommit: -1 },
    { type: 'APPEND_ENTRY', term: null, data: 1, id: `${sender}_x` },
    // more than a message may raise a term: dropped, and the node rises by the step (2^32) instead
    { type: 'REQUEST_VOTE_REPLY', term: term + 2 ** 32 + 1, voteGranted: false },
    // the message: every node adopted this term, and then no election could be sent
    { type: 'REQUEST_VOTE_REPLY', term: 2 ** 53 - 1, voteGranted: false },
    { type: 'REQUEST_VOTE', term, candidateId: sender, lastLogIndex: 2 ** 52, lastLogTerm: 0 },
    { type: 'APPEND_ENTRIES_REPLY', term, success: true, lastLogIndex: 2 ** 52 },
    { type: 'APPEND_ENTRIES', term, leaderId: sender, prevLogIndex: -1, prevLogTerm: -1, entries: [], leaderCommit: 2 ** 52 },
    { type: 'APPEND_ENTRY', data: 1, id: 'x'.repeat(257) },
    // a snapshot transfer larger than the 1 GiB a follower may be made to buffer
    { type: 'INSTALL_SNAPSHOT', term, leaderId: sender, lastIncludedIndex: 5, lastIncludedTerm: term, offset: 0,
      total: 2 ** 30 + 1, chunk: 'AA==' }
  ]
  for (const data of hostile) follower._channel.emit('recieved', sender, data)
  // a sender whose name no member can have (proposal ids would exceed the wire's 256 bytes)
  const longName = 'x'.repeat(220)
  follower._channel.emit('recieved', longName, { type: 'HELLO', from: longName })
  await waitFor(() => dropped() - before >= hostile.length + 1, 2000, 'every hostile message counted')
  assert.equal(dropped() - before, hostile.length + 1)
  // Two refused terms raised the follower by the step twice, far below 2^53 - 1, whatever its peers' terms.
  assert.equal(follower._currentTerm, term + 2 * 2 ** 32)

  // The cluster keeps electing leaders (in the follower's new term or above) and committing.
  await waitFor(() => nodes.some((node) => node.isLeader() && node._currentTerm > term + 2 * 2 ** 32), 10_000, 'a leader')
  await stableLeader(nodes)
  await Promise.all(nodes.map((node, i) => node.append({ after: i }, 10_000)))
  await allCommitted(nodes, nodes[0].getLog().length - 1)
  assertSameLogs(nodes)
})

test('what the channel itself drops is counted in status().dropped.channel and in the total', WITHIN, async (t) => {
  const nodes = memoryCluster(t, 1, { clusterSize: 1 })
  const [node] = nodes
  await stableLeader(nodes)
  const before = node.status().dropped
  assert.equal(before.channel, 0, 'a channel that does not count drops adds nothing')
  // The redis channel counts the fragments it could not put back together as `droppedPackets`.
  Object.defineProperty(node._channel, 'droppedPackets', { value: 3, configurable: true })
  const after = node.status().dropped
  assert.equal(after.channel, 3)
  assert.equal(after.total - before.total, 3)
})
