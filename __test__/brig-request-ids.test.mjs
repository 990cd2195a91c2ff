// brig's broadcast with a request id (flotilla's): `broadcast(payload, {requestId})` returns a Promise of the
// entry's position in the log; retries with the same request id, on any node, commit one entry and resolve with
// its position; a failure's `code` says whether the entry may have committed.
import test from 'node:test'
import assert from 'node:assert/strict'
import { brig, memoryNetwork, commitRecorder, waitFor, withTiming, NO_TIMEOUTS } from './brig-support.mjs'

const { consensus } = brig

test('broadcasts retried with one request id on every node commit once, each resolving with its position', { timeout: 20_000 }, async (t) => {
  const net = memoryNetwork(['a', 'b', 'c'])
  t.after(() => net.close())
  const commits = commitRecorder(net.clusters)
  withTiming(NO_TIMEOUTS, () => net.joinAll())
  const [a, b, c] = net.clusters
  a.startElection()
  await waitFor(net.clusters, () => a.state.currentRole === brig.roles.Leader)

  assert.equal(b.broadcast('plain'), true, 'without options, broadcast returns a boolean as brig\'s did')
  const first = await c.broadcast('once', { requestId: 'order-7' })
  const retries = await Promise.all(net.clusters.map((cluster) => cluster.broadcast('once again', { requestId: 'order-7' })))
  assert.deepEqual(retries, [first, first, first])
  await waitFor(net.clusters, () => net.clusters.every((cluster) => commits.get(cluster.id).length === 2))
  for (const cluster of net.clusters) {
    assert.deepEqual(commits.get(cluster.id), ['plain', 'once'], `LogCommit on ${cluster.id}`)
    assert.equal(cluster.state.log.entries[first].data.payload, 'once')
  }

  // A timeout is a deadline: a retry of a committed request answers at once, but a timeout of 0 has passed by then.
  await assert.rejects(a.broadcast('once more', { requestId: 'order-7', timeout: 0 }), {
    code: 'FLOTILLA_OUTCOME_UNKNOWN', message: 'flotilla/brig: timed out before the entry was committed'
  })
  assert.equal(await a.broadcast('once more', { requestId: 'order-7', timeout: 5000 }), first)
})

test('a broadcast with a request id says by its code whether it may have committed', { timeout: 20_000 }, async () => {
  const early = new consensus.Cluster('x', [new consensus.Peer('y', () => {})])
  const beforeJoin = early.broadcast('never sent', { requestId: 'r1' })
  await early.close()
  await assert.rejects(beforeJoin, { code: 'FLOTILLA_NOT_COMMITTED' })
  await assert.rejects(early.broadcast('closed', { requestId: 'r2' }), { code: 'FLOTILLA_NOT_COMMITTED' })

  // Alone of two, the node can elect nobody: what the engine took times out, or is cut off by close().
  const alone = withTiming(NO_TIMEOUTS, () => new consensus.Cluster('x', [new consensus.Peer('y', () => {})]).join())
  await assert.rejects(alone.broadcast('no quorum', { requestId: 'r3', timeout: 20 }), {
    code: 'FLOTILLA_OUTCOME_UNKNOWN', message: 'flotilla/brig: timed out before the entry was committed'
  })
  const cutOff = alone.broadcast('no quorum either', { requestId: 'r4' })
  await alone.close()
  await assert.rejects(cutOff, { code: 'FLOTILLA_OUTCOME_UNKNOWN' })
})

test('broadcast options are checked at the call', () => {
  const cluster = new consensus.Cluster('x')
  assert.throws(() => cluster.broadcast('p', { requestId: '' }), /"requestId" must be a non-empty string/)
  assert.throws(() => cluster.broadcast('p', {}), /the broadcast options need a "requestId"/)
  assert.throws(() => cluster.broadcast('p', { requestId: 'r', retry: true }), /unknown broadcast option "retry"/)
  assert.throws(() => cluster.broadcast('p', { requestId: 'r', timeout: -1 }), /"timeout" must be a number of ms/)
  assert.throws(() => cluster.broadcast('p', null), /the broadcast options must be an object/)
  assert.throws(() => cluster.broadcast('p', { requestId: 'x'.repeat(252) }), /252 bytes \(UTF-8\), more than the limit of 251/)
})
