// Linearizable reads on the gaggle face (Raft thesis 6.4): `node.read([timeout])` and `node.read({lease, timeout})`
// resolve with an index at least that of every acknowledged append, once this node's 'committed' listeners have
// seen the entries up to it; lease reads are served at once on the leader and refused without checkQuorum; reads
// fail with a typed error when the node closes, or when no leader can be reached in time.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createRequire } from 'node:module'
import { gaggle, STEADY, WITHIN, uniqueName, waitFor, rejection, thrown, memoryCluster, electLeader } from './gaggle-support.mjs'

// Lease reads are opt-in (every node of the cluster): these clusters turn them on.
const LEASED = { ...STEADY, leaseReads: true }

const require = createRequire(import.meta.url)
const { CODES } = require('../lib/engine/errors')

// A state machine fed by 'committed', as an application keeps one: the data of every entry, by index.
function stateMachine (node) {
  const applied = []
  node.on('committed', (entry, index) => { applied[index] = entry.data })
  return applied
}

// An append whose index is known when it is acknowledged (an append with a request id resolves with it).
function write (node, data) {
  return node.append(data, { requestId: uniqueName('w') })
}

test('a read on the leader resolves with an index at least that of every acknowledged append', WITHIN, async (t) => {
  const nodes = memoryCluster(t, 3, LEASED)
  const leader = await electLeader(nodes)
  const applied = stateMachine(leader)
  assert.equal(await leader.read(), -1, 'nothing was ever committed')
  let acknowledged = -1
  for (let i = 0; i < 30; i++) {
    // writes through every node, then a read on the leader
    acknowledged = Math.max(acknowledged, await write(nodes[i % 3], { i }))
    const index = await leader.read()
    assert.ok(index >= acknowledged, `read ${i}: index ${index} is below the acknowledged ${acknowledged}`)
    assert.deepEqual(applied[acknowledged], { i }, 'the leader\'s state machine holds the acknowledged write')
  }
  assert.equal(leader.status().pendingReads, 0)
})

test('a read on a follower resolves only once that follower emitted committed for the entries up to it', WITHIN, async (t) => {
  const nodes = memoryCluster(t, 3, LEASED)
  const leader = await electLeader(nodes)
  const followers = nodes.filter((node) => node !== leader)
  const applied = new Map(followers.map((node) => [node, stateMachine(node)]))
  let behind = 0
  for (let i = 0; i < 40; i++) {
    const follower = followers[i % 2]
    const acknowledged = await write(leader, { i })
    // The leader acknowledged the write when it committed; the follower learns of the commit later.
    if (follower.getCommitIndex() < acknowledged) behind++
    const index = await follower.read()
    assert.ok(index >= acknowledged, `read ${i}: index ${index} is below the acknowledged ${acknowledged}`)
    assert.deepEqual(applied.get(follower)[acknowledged], { i },
      `read ${i}: ${follower.id}'s state machine holds the last acknowledged write when the read resolves`)
    assert.ok(follower.getCommitIndex() >= index)
  }
  assert.ok(behind > 0, 'some reads started on a follower that had not applied the acknowledged write yet')
})

test('lease reads are off unless leaseReads is on: refused with FLOTILLA_INVALID_STATE', WITHIN, async (t) => {
  const nodes = memoryCluster(t, 3, STEADY)
  const leader = await electLeader(nodes)
  const refused = await rejection(leader.read({ lease: true }))
  assert.equal(refused.code, CODES.INVALID_STATE)
  assert.match(refused.message, /leaseReads/)
  assert.equal(leader._native.leaseRead(), null)
  assert.equal(await leader.read(), -1, 'a ReadIndex read is always on')
})

test('a lease read without checkQuorum is refused with FLOTILLA_INVALID_STATE', WITHIN, async (t) => {
  const nodes = memoryCluster(t, 3, { ...LEASED, checkQuorum: false })
  const leader = await electLeader(nodes)
  await write(leader, 'x')
  for (const node of nodes) {
    const refused = await rejection(node.read({ lease: true }))
    assert.equal(refused.code, CODES.INVALID_STATE, `${node.id}: ${refused.message}`)
    assert.match(refused.message, /checkQuorum/)
    assert.equal(await node.read(), 0, 'a ReadIndex read needs no lease')
  }
})

test('a lease read on the leader is served at once, without a round, and matches a ReadIndex read', WITHIN, async (t) => {
  const nodes = memoryCluster(t, 3, LEASED)
  const leader = await electLeader(nodes)
  const applied = stateMachine(leader)
  const acknowledged = await write(nodes[1], 'through a follower')
  await waitFor(() => leader._native.leaseRead() !== null, 5000, 'the leader\'s lease')
  // The fast path: no read started in the engine, no flush scheduled.
  const native = leader._native
  const engineRead = native.read
  let started = 0
  native.read = function (...args) {
    started++
    return engineRead.apply(this, args)
  }
  t.after(() => { native.read = engineRead })
  const scheduleFlush = leader._host.scheduleFlush
  let flushes = 0
  leader._host.scheduleFlush = function () {
    flushes++
    return scheduleFlush.call(this)
  }
  t.after(() => { leader._host.scheduleFlush = scheduleFlush })
  const leased = await Promise.all([leader.read({ lease: true }), leader.read({ lease: true, timeout: 1000 })])
  assert.deepEqual([started, flushes], [0, 0], 'served from the lease, without the engine\'s read round')
  assert.deepEqual(leased, [acknowledged, acknowledged])
  assert.equal(applied[acknowledged], 'through a follower')
  native.read = engineRead
  assert.equal(await leader.read(), acknowledged, 'a ReadIndex read finds the same index')
  // a follower's lease read asks the leader, whose lease answers it
  for (const follower of nodes.filter((node) => node !== leader)) {
    assert.equal(await follower.read({ lease: true }), acknowledged)
  }
})

test('a read on a closed node rejects with FLOTILLA_CLOSED, and a pending read rejects when its node closes', WITHIN, async (t) => {
  const nodes = memoryCluster(t, 3, LEASED)
  // No leader yet (the first election is more than a second away): the read waits.
  const pending = rejection(nodes[0].read())
  assert.equal(nodes[0].status().pendingReads, 1)
  await nodes[0].close()
  const cutOff = await pending
  assert.equal(cutOff.code, CODES.CLOSED)
  assert.equal(cutOff.message, 'flotilla: the node was closed before the read completed')
  const closed = await rejection(nodes[0].read({ lease: true }))
  assert.equal(closed.code, CODES.CLOSED)
  assert.equal(closed.message, 'flotilla: the node is closed')
})

test('a read times out with FLOTILLA_TIMEOUT when no leader can be reached', WITHIN, async (t) => {
  // Two of three nodes closed: once the followers are gone the leader cannot confirm its leadership; once the leader
  // and a follower are gone the last follower has no leader to ask.
  for (const alone of ['leader', 'follower']) {
    const nodes = memoryCluster(t, 3, { ...LEASED, prefix: alone })
    const leader = await electLeader(nodes)
    const acknowledged = await write(leader, 'before')
    const survivor = alone === 'leader' ? leader : nodes.find((node) => node !== leader)
    assert.ok(await survivor.read() >= acknowledged)
    await Promise.all(nodes.filter((node) => node !== survivor).map((node) => node.close()))
    // Within its lease a leader still serves lease reads, rightly: no other leader can be elected before it ends.
    await waitFor(() => survivor._native.leaseRead() === null, 5000, 'the lease to end')
    for (const options of [200, { timeout: 200 }, { lease: true, timeout: 200 }]) {
      const timedOut = await rejection(survivor.read(options))
      assert.equal(timedOut.code, CODES.TIMEOUT, `${alone} alone, ${JSON.stringify(options)}: ${timedOut.message}`)
      assert.equal(timedOut.message, 'flotilla: timed out before the read completed')
    }
    assert.equal(survivor.status().pendingReads, 0, 'a read that timed out is forgotten')
  }
})

test('a timeout of 0 always times out, even for a lease read the leader could serve at once', WITHIN, async (t) => {
  const nodes = memoryCluster(t, 3, LEASED)
  const leader = await electLeader(nodes)
  await waitFor(() => leader._native.leaseRead() !== null, 5000, 'the leader\'s lease')
  for (const options of [0, { timeout: 0 }, { lease: true, timeout: 0 }]) {
    assert.equal((await rejection(leader.read(options))).code, CODES.TIMEOUT, JSON.stringify(options))
  }
  assert.equal(await leader.read({ lease: true, timeout: Infinity }), -1, 'Infinity waits as long as it takes')
})

test('read() checks its arguments: FLOTILLA_INVALID_ARGUMENT, thrown at the call', WITHIN, async (t) => {
  const [node] = memoryCluster(t, 1, LEASED)
  const cases = [
    ['5', 'Invalid arguments: the read options must be an object {lease, timeout}'],
    [null, 'Invalid arguments: the read options must be an object {lease, timeout}'],
    [[100], 'Invalid arguments: the read options must be an object {lease, timeout}'],
    [-1, 'Invalid arguments: "timeout" must be a number of ms, at least 0'],
    [NaN, 'Invalid arguments: "timeout" must be a number of ms, at least 0'],
    [{ timeout: '100' }, 'Invalid arguments: "timeout" must be a number of ms, at least 0'],
    [{ timeout: -Infinity }, 'Invalid arguments: "timeout" must be a number of ms, at least 0'],
    [{ lease: 'yes' }, 'Invalid arguments: "lease" must be a boolean'],
    [{ lease: 1 }, 'Invalid arguments: "lease" must be a boolean'],
    [{ requestId: 'r' }, 'Invalid arguments: unknown read option "requestId"']
  ]
  for (const [argument, message] of cases) {
    const error = thrown(() => node.read(argument))
    assert.ok(error instanceof TypeError, String(argument))
    assert.deepEqual([error.code, error.message], [CODES.INVALID_ARGUMENT, message], String(argument))
  }
  assert.equal(node.status().pendingReads, 0, 'nothing was started')
})

test('a single node serves reads as its own majority', WITHIN, async (t) => {
  const [node] = memoryCluster(t, 1, LEASED)
  await waitFor(() => node.isLeader(), 5000, 'the node to lead')
  const applied = stateMachine(node)
  assert.equal(await node.read(), -1)
  const acknowledged = await write(node, 'solo')
  assert.equal(await node.read(), acknowledged)
  assert.equal(await node.read({ lease: true }), acknowledged)
  assert.equal(applied[acknowledged], 'solo')
})

test('a read made while a durable node opens waits for it, and resolves with the recovered log', WITHIN, async (t) => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'flotilla-reads-'))
  t.after(() => rmSync(dataDir, { recursive: true, force: true }))
  const options = { id: 'solo', channel: { name: 'memory', namespace: uniqueName('durable') }, clusterSize: 1, ...LEASED, dataDir }
  const first = gaggle(options)
  await first.ready()
  await waitFor(() => first.isLeader(), 5000, 'the node to lead')
  await write(first, 'kept')
  await first.close()

  const again = gaggle(options)
  t.after(() => again.close())
  const applied = stateMachine(again)
  const read = again.read()
  assert.equal(again.status(), null, 'the node is still reading its log')
  assert.equal(await read, 0)
  assert.equal(applied[0], 'kept', 'the recovered entry was replayed to the application before the read resolved')

  const closedWhileOpening = gaggle({ ...options, id: 'other', dataDir: path.join(dataDir, 'other') })
  const cutOff = rejection(closedWhileOpening.read())
  await closedWhileOpening.close()
  assert.equal((await cutOff).code, CODES.CLOSED)
})
