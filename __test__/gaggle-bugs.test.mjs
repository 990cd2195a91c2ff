// gaggle 2.1.4's bugs that flotilla does not copy (spec/gaggle.md, last section): one test for each.
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import {
  gaggle, FAST, STEADY, WITHIN, uniqueName, waitFor, trackNodes, memoryCluster, electLeader, stableLeader, allCommitted,
  assertSameLogs, rejection, testBusCluster, allDiscovered, Gaggle, TestBus, TestChannel
} from './gaggle-support.mjs'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'

const require = createRequire(import.meta.url)
const MemoryChannel = require('../channels').memory

function memoryNode (track, id, namespace, extra = {}) {
  return track(gaggle({ id, channel: { name: 'memory', namespace }, ...FAST, ...extra }))
}

describe('quorum is a true majority', () => {
  test('3 nodes elect and commit with one node down', WITHIN, async (t) => {
    const nodes = memoryCluster(t, 2, { ...STEADY, clusterSize: 3 })
    await electLeader(nodes)
    await nodes[0].append('two of three')
    await allCommitted(nodes, 0)
    assert.deepEqual(assertSameLogs(nodes).map((entry) => entry.data), ['two of three'])
  })

  test('clusterSize 1 elects itself and commits', WITHIN, async (t) => {
    const [node] = memoryCluster(t, 1, STEADY)
    await waitFor(() => node.isLeader(), 5000, 'the single node to lead')
    await node.append('solo')
    assert.equal(node.getCommitIndex(), 0)
    assert.deepEqual(node.getLog().map((entry) => entry.data), ['solo'])
  })

  test('a 2-node cluster needs both nodes', WITHIN, async (t) => {
    const track = trackNodes(t)
    const namespace = uniqueName('ns')
    const first = memoryNode(track, 'first', namespace, { clusterSize: 2 })
    const pending = first.append('needs both')
    let settled = false
    pending.then(() => { settled = true }, () => { settled = true })
    // several election rounds go by without a leader or a commit
    await waitFor(() => first.status().stats.electionsStarted >= 5, 5000, '5 election attempts')
    assert.equal(first.isLeader(), false)
    assert.equal(first.getCommitIndex(), -1)
    assert.equal(settled, false)
    const second = memoryNode(track, 'second', namespace, { clusterSize: 2 })
    await pending
    await stableLeader([first, second])
    await allCommitted([first, second], 0)
    assert.deepEqual(assertSameLogs([first, second]).map((entry) => entry.data), ['needs both'])
  })
})

test('leaderElected fires once per leader, not on every heartbeat', WITHIN, async (t) => {
  const nodes = memoryCluster(t, 3, STEADY)
  const events = new Map(nodes.map((node) => [node, []]))
  for (const node of nodes) node.on('leaderElected', () => events.get(node).push([node._currentTerm, node._leader]))
  const first = await electLeader(nodes)
  let heartbeats = 0
  const follower = nodes.find((node) => node !== first)
  follower._channel.on('recieved', (from, data) => { if (data?.type === 'APPEND_ENTRIES') heartbeats++ })
  await waitFor(() => heartbeats >= 20, 5000, '20 heartbeats')
  for (const node of nodes) assert.equal(events.get(node).length, 1, `one leaderElected on ${node.id}`)

  await first.close()
  const survivors = nodes.filter((node) => node !== first)
  const second = await stableLeader(survivors)
  heartbeats = 0
  const other = survivors.find((node) => node !== second)
  other._channel.on('recieved', (from, data) => { if (from === second.id && data?.type === 'APPEND_ENTRIES') heartbeats++ })
  await waitFor(() => heartbeats >= 20, 5000, '20 heartbeats of the new leader')
  for (const node of survivors) {
    const terms = events.get(node).map(([term]) => term)
    assert.ok(terms.length >= 2, `a second leaderElected on ${node.id}`)
    assert.equal(new Set(terms).size, terms.length, `at most one leaderElected per term on ${node.id}: ${terms}`)
  }
})

describe('forwarded calls are retried after a leader change', () => {
  test('a follower\'s append without timeout resolves although its leader was closed', WITHIN, async (t) => {
    const { bus, nodes } = testBusCluster(t, 3, { ...STEADY, rpc: { whoLeads (cb) { cb(null, this.id, this.isLeader()) } } })
    const leader = await electLeader(nodes)
    await allDiscovered(nodes)
    const follower = nodes.find((node) => node !== leader)
    // the follower's forwarded append and dispatch never reach this leader
    bus.filter = (from, to, data) => !(from === follower.id && to === leader.id &&
      (data.type === 'APPEND_ENTRY' || data.type === 'DISPATCH'))
    let forwarded = 0
    const originalSend = follower._channel.send.bind(follower._channel)
    follower._channel.send = (to, data) => {
      if (to === leader.id && (data.type === 'APPEND_ENTRY' || data.type === 'DISPATCH')) forwarded++
      return originalSend(to, data)
    }
    const append = follower.append('survives the leader')
    const dispatch = follower.dispatchOnLeader('whoLeads', [])
    await waitFor(() => forwarded >= 2, 5000, 'the calls to be forwarded')
    await leader.close()
    bus.filter = null
    await append
    const survivors = nodes.filter((node) => node !== leader)
    await stableLeader(survivors)
    const [ranOn, ranOnLeader] = await dispatch
    assert.ok(survivors.some((node) => node.id === ranOn) && ranOnLeader, `ran on the new leader, not on ${ranOn}`)
    await allCommitted(survivors, 0)
    assert.deepEqual(assertSameLogs(survivors).map((entry) => entry.data), ['survives the leader'])
  })

  test('on the memory channel: close the leader while the forwarded append is in flight', WITHIN, async (t) => {
    const nodes = memoryCluster(t, 3, { ...STEADY, rpc: { ping (cb) { cb(null, 'pong') } } })
    const leader = await electLeader(nodes)
    const follower = nodes.find((node) => node !== leader)
    const append = follower.append('in flight')
    const dispatch = follower.dispatchOnLeader('ping', [])
    const closed = leader.close()
    await Promise.all([append, closed])
    assert.deepEqual(await dispatch, ['pong'])
    const survivors = nodes.filter((node) => node !== leader)
    await allCommitted(survivors, 0)
    assert.deepEqual(assertSameLogs(survivors).map((entry) => entry.data), ['in flight'])
  })
})

describe('close', () => {
  test('close() twice is safe, with promises and callbacks', WITHIN, async (t) => {
    const nodes = memoryCluster(t, 3, STEADY)
    await electLeader(nodes)
    const [a, b, c] = nodes
    const first = a.close()
    const second = a.close()
    assert.equal(await first, undefined)
    assert.equal(await second, undefined)
    assert.equal(await a.close(), undefined)
    await new Promise((resolve, reject) => b.close((error) => error ? reject(error) : resolve()))
    await new Promise((resolve, reject) => b.close((error) => error ? reject(error) : resolve()))
    await Promise.all([c.close(), c.close()])
  })

  test('pending calls reject with a clear error at close, and later calls too', WITHIN, async (t) => {
    // one node of three: nothing can commit and no leader exists, so every call stays pending
    const [node] = memoryCluster(t, 1, { ...STEADY, clusterSize: 3, rpc: { noop (cb) { cb(null) } } })
    const appends = [node.append('a'), node.append('b', 60_000)]
    const dispatch = node.dispatchOnLeader('noop', [])
    const cbError = new Promise((resolve) => node.append('c', resolve))
    assert.equal(node.status().pendingAppends, 3)
    assert.equal(node.status().pendingDispatches, 1)
    await node.close()
    for (const pending of appends) {
      const error = await rejection(pending)
      assert.ok(error instanceof Error)
      assert.equal(error.message, 'The node was closed before the entry was committed')
    }
    assert.equal((await cbError).message, 'The node was closed before the entry was committed')
    assert.equal((await rejection(dispatch)).message, 'The node was closed before the rpc method returned')
    assert.equal((await rejection(node.append('late'))).message, 'The node was closed before the entry was committed')
    assert.equal((await rejection(node.dispatchOnLeader('noop', []))).message,
      'The node was closed before the rpc method returned')
    assert.equal(node.status().pendingAppends, 0)
    await node.close()
  })
})

test('more than 100 pending appends and dispatches print no MaxListenersExceededWarning', WITHIN, async (t) => {
  const warnings = []
  const onWarning = (warning) => warnings.push(warning)
  process.on('warning', onWarning)
  t.after(() => process.removeListener('warning', onWarning))
  const nodes = memoryCluster(t, 3, { ...STEADY, rpc: { echo (value, cb) { cb(null, value) } } })
  const leader = await electLeader(nodes)
  const follower = nodes.find((node) => node !== leader)
  const COUNT = 500
  const calls = []
  for (let i = 0; i < COUNT; i++) {
    calls.push(follower.append({ i }), follower.append({ i, timed: true }, 10_000), leader.append({ i, leader: true }))
    calls.push(follower.dispatchOnLeader('echo', [i]), follower.dispatchOnLeader('echo', [i], 10_000))
  }
  await Promise.all(calls)
  await allCommitted(nodes, 3 * COUNT - 1)
  // process 'warning' is emitted on a later tick than emitWarning
  await new Promise((resolve) => setImmediate(resolve))
  const maxListeners = warnings.filter((warning) => warning.name === 'MaxListenersExceededWarning')
  assert.deepEqual(maxListeners.map(String), [])
})

describe('memory channel', () => {
  async function connectedPair (t, namespace) {
    const a = new MemoryChannel({ id: 'a', channelOptions: { namespace } })
    const b = new MemoryChannel({ id: 'b', channelOptions: { namespace } })
    t.after(() => Promise.all([a, b].map((channel) => new Promise((resolve) => {
      channel.once('disconnected', resolve)
      channel.disconnect()
    }))))
    await Promise.all([a, b].map((channel) => new Promise((resolve) => {
      channel.once('connected', resolve)
      channel.connect()
    })))
    return [a, b]
  }

  test('delivers every packet, in order, without a timer per hop', WITHIN, async (t) => {
    const [a, b] = await connectedPair(t, uniqueName('ns'))
    // With setTimeout mocked, a channel that delivers through setTimeout would deliver nothing here.
    t.mock.timers.enable({ apis: ['setTimeout'] })
    const received = []
    b.on('recieved', (from, data) => received.push([from, data]))
    const COUNT = 2000
    for (let i = 0; i < COUNT; i++) {
      if (i % 3 === 0) a.broadcast({ i })
      else a.send('b', { i })
    }
    await waitForImmediate(() => received.length === COUNT)
    assert.deepEqual(received.map(([, data]) => data.i), Array.from({ length: COUNT }, (_, i) => i))
    assert.ok(received.every(([from]) => from === 'a'))

    // 200 hops of a ping-pong, each one waiting for the last
    let hops = 0
    const done = new Promise((resolve) => {
      a.on('recieved', (from, data) => { if (data.hop < 200) a.send('b', { hop: data.hop + 1 }); else resolve() })
      b.on('recieved', (from, data) => { hops++; b.send('a', { hop: data.hop + 1 }) })
    })
    a.send('b', { hop: 0 })
    await done
    assert.ok(hops >= 100)
    t.mock.timers.reset()
  })

  // waitFor uses setTimeout, mocked in the test above: this one polls with setImmediate only.
  async function waitForImmediate (predicate, maxTurns = 100_000) {
    for (let turn = 0; turn < maxTurns; turn++) {
      if (predicate()) return
      await new Promise((resolve) => setImmediate(resolve))
    }
    throw new Error('the condition never came true')
  }
})

test('no pretty-printing of messages when there is no log function', WITHIN, async (t) => {
  const stringify = JSON.stringify
  let prettyPrinted = 0
  JSON.stringify = function (value, replacer, space) {
    if (space !== undefined) prettyPrinted++
    return stringify.apply(this, arguments)
  }
  t.after(() => { JSON.stringify = stringify })
  const nodes = memoryCluster(t, 3, STEADY)
  await electLeader(nodes)
  await nodes[1].append({ some: 'data' })
  await allCommitted(nodes, 0)
  assert.equal(prettyPrinted, 0)

  // the control: a real log function gets the messages, formatted
  const lines = []
  const channel = new MemoryChannel({ id: 'logged', logFunction: (line) => lines.push(line), channelOptions: { namespace: uniqueName('ns') } })
  channel.once('connected', () => channel.send('nobody', { hello: 1 }))
  await new Promise((resolve) => {
    channel.once('connected', resolve)
    channel.connect()
  })
  await new Promise((resolve) => {
    channel.once('disconnected', resolve)
    channel.disconnect()
  })
  assert.equal(lines.length, 1)
  assert.match(lines[0], /logged sent to nobody/)
  assert.ok(prettyPrinted > 0)
})

describe('conflicting entries are truncated', () => {
  test('an uncommitted entry at index 0 of a cut-off leader gives way to the new leader\'s', WITHIN, async (t) => {
    const { bus, nodes } = testBusCluster(t, 3, STEADY)
    const oldLeader = await electLeader(nodes)
    await allDiscovered(nodes)
    const heal = bus.isolate(oldLeader)
    const stale = oldLeader.append('from the cut-off leader')
    await waitFor(() => oldLeader.getLog().length === 1, 5000, 'the entry in the old leader\'s log')
    const staleEntry = oldLeader.getLog()[0]
    assert.equal(oldLeader.getCommitIndex(), -1)

    const others = nodes.filter((node) => node !== oldLeader)
    const newLeader = await stableLeader(others)
    assert.ok(newLeader._currentTerm > staleEntry.term)
    await newLeader.append('from the new leader')
    await allCommitted(others, 0)
    assert.equal(others[0].getLog()[0].data, 'from the new leader')

    heal()
    await waitFor(() => oldLeader.getLog()[0]?.data === 'from the new leader', 5000, 'index 0 to be replaced')
    // the old leader's append was not lost: it is proposed again and commits after the new leader's entry
    await stale
    await allCommitted(nodes, 1)
    const log = assertSameLogs(nodes)
    assert.deepEqual(log.map((entry) => entry.data), ['from the new leader', 'from the cut-off leader'])
    assert.equal(log[1].id, staleEntry.id)
    assert.ok(log[1].term > staleEntry.term)
  })

  test('a leader change with uncommitted entries converges all logs to the same', WITHIN, async (t) => {
    const { bus, nodes } = testBusCluster(t, 5, STEADY)
    const first = await electLeader(nodes)
    await allDiscovered(nodes)
    await first.append('committed before')
    await allCommitted(nodes, 0)
    // the leader and one follower on one side, three nodes on the other; both sides get appends
    const buddy = nodes.find((node) => node !== first)
    const heal = bus.isolate(first, buddy)
    const minorityAppends = Array.from({ length: 5 }, (_, i) => first.append({ minority: i }))
    const majority = nodes.filter((node) => node !== first && node !== buddy)
    const second = await stableLeader(majority)
    await Promise.all(Array.from({ length: 5 }, (_, i) => majority[i % 3].append({ majority: i })))
    await allCommitted(majority, 5)
    heal()
    await Promise.all(minorityAppends)
    await allCommitted(nodes, 10)
    const log = assertSameLogs(nodes)
    assert.equal(log.length, 11)
    assert.equal(new Set(log.map((entry) => entry.id)).size, 11, 'every entry once')
    assert.ok(second._currentTerm > first.getLog()[0].term)
    for (const node of nodes) assert.equal(node.hasUncommittedEntriesInPreviousTerms(), false)
  })

  test('hasUncommittedEntriesInPreviousTerms is true while an older term\'s entry waits', WITHIN, async (t) => {
    const { bus, nodes } = testBusCluster(t, 3, STEADY)
    const leader = await electLeader(nodes)
    await allDiscovered(nodes)
    const [keeper, other] = nodes.filter((node) => node !== leader)
    // the entry reaches `keeper` only, and the leader never hears that it did: it cannot commit
    bus.filter = (from, to, data) => !((from === leader.id && to === other.id) ||
      (from === keeper.id && to === leader.id && data.type === 'APPEND_ENTRIES_REPLY'))
    const append = leader.append('waits')
    await waitFor(() => keeper.getLog().length === 1, 5000, 'the entry on the keeper')
    const entryTerm = keeper.getLog()[0].term
    if (keeper._currentTerm === entryTerm) assert.equal(keeper.hasUncommittedEntriesInPreviousTerms(), false)
    // cut the leader off: the others hold elections in later terms, and the keeper cannot commit in them
    bus.filter = (from, to, data) => from !== leader.id && to !== leader.id &&
      !(from === other.id && to === keeper.id && data.type === 'APPEND_ENTRIES_REPLY')
    await waitFor(() => keeper._currentTerm > entryTerm, 10_000, 'a later term on the keeper')
    assert.equal(keeper.getCommitIndex(), -1)
    assert.equal(keeper.hasUncommittedEntriesInPreviousTerms(), true)
    bus.filter = null
    await append
    await allCommitted(nodes, 0)
    for (const node of nodes) assert.equal(node.hasUncommittedEntriesInPreviousTerms(), false)
    assert.deepEqual(assertSameLogs(nodes).map((entry) => entry.data), ['waits'])
  })
})

test('durability: a restarted node remembers its term, vote and log', WITHIN, async (t) => {
  // gaggle forgets its vote on restart, and can then vote twice in one term (two leaders). One durable node of a
  // three-node cluster, with elections far away so that only the candidates played here move its term: it votes
  // for b in term 5, restarts on its data directory, and must then refuse c in the same term.
  const dataDir = mkdtempSync(path.join(tmpdir(), 'flotilla-vote-'))
  t.after(() => rmSync(dataDir, { recursive: true, force: true }))
  const bus = new TestBus()
  const replies = []
  bus.filter = (from, to, data) => {
    if (data.type === 'REQUEST_VOTE_REPLY') replies.push({ to, term: data.term, voteGranted: data.voteGranted })
    return true
  }
  const open = async () => {
    const node = new Gaggle({
      id: 'keeper', channel: new TestChannel({ id: 'keeper', bus }), clusterSize: 3, dataDir,
      electionTimeout: { min: 60_000, max: 60_001 }, heartbeatInterval: 1000
    })
    await node.ready()
    return node
  }
  const voteRequest = (candidateId) =>
    ({ type: 'REQUEST_VOTE', term: 5, candidateId, lastLogIndex: 0, lastLogTerm: 1 })
  // The leader of term 1 (b) gives it one entry. A node that heard from a leader ignores candidates for a while
  // (check-quorum's lease): a restart in between starts it without a leader.
  const first = await open()
  first._channel.emit('recieved', 'b', {
    type: 'APPEND_ENTRIES', term: 1, leaderId: 'b', prevLogIndex: -1, prevLogTerm: -1, leaderCommit: -1,
    entries: [{ index: 0, term: 1, data: 'kept', id: 'b_entry-1' }]
  })
  await waitFor(() => first.getLog().length === 1, 5000, 'the entry from b')
  await first.close()
  // b asks for its vote in term 5.
  const keeper = await open()
  keeper._channel.emit('recieved', 'b', voteRequest('b'))
  await waitFor(() => replies.length === 1, 5000, 'the vote reply to b')
  assert.deepEqual(replies[0], { to: 'b', term: 5, voteGranted: true })
  await keeper.close()

  const restarted = await open()
  t.after(() => restarted.close())
  assert.equal(restarted._currentTerm, 5, 'the term survives the restart')
  assert.deepEqual(restarted.getLog().map((entry) => [entry.term, entry.data]), [[1, 'kept']], 'the log survives')
  restarted._channel.emit('recieved', 'c', voteRequest('c'))
  await waitFor(() => replies.length === 2, 5000, 'the vote reply to c')
  assert.deepEqual(replies[1], { to: 'c', term: 5, voteGranted: false }, 'one vote per term, across a restart')
  // b asking again (its reply was lost, say) gets the same vote.
  restarted._channel.emit('recieved', 'b', voteRequest('b'))
  await waitFor(() => replies.length === 3, 5000, 'the second vote reply to b')
  assert.deepEqual(replies[2], { to: 'b', term: 5, voteGranted: true })
})
