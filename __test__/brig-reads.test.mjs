// Linearizable reads on the brig face (flotilla's `cluster.read({lease, timeout})`), over a transport wired as a
// brig user wires one: the read rounds, read index requests and their answers travel as brig messages, so a read
// completes on the leader and on a follower only if the wire mapping carries them.
import test from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { brig, memoryNetwork, commitRecorder, waitFor, withTiming, NO_TIMEOUTS } from './brig-support.mjs'

const require = createRequire(import.meta.url)
const { CODES } = require('../lib/engine/errors')
const { messages } = brig
const TIMEOUT = 20_000

// Three clusters joined, `a` elected; every node knows it leads.
async function threeNodes (t, { record = false } = {}) {
  const net = memoryNetwork(['a', 'b', 'c'], { record, options: { leaseReads: true } })
  t.after(() => net.close())
  const commits = commitRecorder(net.clusters)
  withTiming(NO_TIMEOUTS, () => net.joinAll())
  const [a] = net.clusters
  a.startElection()
  await waitFor(net.clusters, () => net.clusters.every((c) => c.state.currentLeader === 'a'))
  return { net, commits }
}

test('cluster.read() on the leader and on a follower: at least every acknowledged broadcast, LogCommit emitted first',
  { timeout: TIMEOUT }, async (t) => {
    const { net, commits } = await threeNodes(t, { record: true })
    const [a, b, c] = net.clusters
    assert.equal(await a.read(), -1, 'nothing was ever committed')
    let behind = 0
    for (let i = 0; i < 20; i++) {
      const acknowledged = await a.broadcast({ i }, { requestId: `r${i}` })
      for (const cluster of [b, c, a]) {
        if (commits.get(cluster.id).length <= acknowledged) behind++
        const index = await cluster.read()
        assert.ok(index >= acknowledged, `${cluster.id}, read ${i}: index ${index} is below the acknowledged ${acknowledged}`)
        assert.deepEqual(commits.get(cluster.id)[acknowledged], { i },
          `${cluster.id}: LogCommit reported the acknowledged broadcast before the read resolved`)
      }
    }
    assert.ok(behind > 0, 'some reads started on a follower that had not committed the acknowledged broadcast yet')
    const methods = new Set(net.sent.map(({ msg }) => msg.constructor.method))
    assert.ok(methods.has('READ_INDEX') && methods.has('ACK_READ_INDEX'), 'followers asked the leader for read indices')
    const rounds = net.sent.filter(({ msg }) => msg instanceof messages.LogResponseMessage && msg.readRound > 0)
    assert.ok(rounds.length > 0, 'heartbeat answers carried read rounds')
  })

test('cluster.read({lease: true}) on the leader and on a follower', { timeout: TIMEOUT }, async (t) => {
  const { net } = await threeNodes(t)
  const [a, b] = net.clusters
  const acknowledged = await b.broadcast('x', { requestId: 'lease' })
  await waitFor(net.clusters, () => a._native.leaseRead() !== null)
  assert.equal(await a.read({ lease: true }), acknowledged)
  assert.equal(await b.read({ lease: true, timeout: 5000 }), acknowledged)
})

test('cluster.read(): waits for join(), rejects when closed, checks its options', { timeout: TIMEOUT }, async (t) => {
  const net = memoryNetwork(['solo'])
  t.after(() => net.close())
  const [solo] = net.clusters
  const early = solo.read()
  withTiming(NO_TIMEOUTS, () => solo.join())
  solo.startElection()
  assert.equal(await early, -1, 'a read made before join() waits for the engine')
  assert.equal(await solo.broadcast('y', { requestId: 'y' }), 0)
  assert.equal(await solo.read({}), 0)

  for (const [options, message] of [
    ['x', 'Invalid arguments: the read options must be an object {lease, timeout}'],
    [{ lease: 1 }, 'Invalid arguments: "lease" must be a boolean'],
    [{ timeout: -5 }, 'Invalid arguments: "timeout" must be a number of ms, at least 0'],
    [{ requestId: 'r' }, 'Invalid arguments: unknown read option "requestId"']
  ]) {
    assert.throws(() => solo.read(options), { name: 'TypeError', code: CODES.INVALID_ARGUMENT, message })
  }

  const net2 = memoryNetwork(['p', 'q', 'r'])
  t.after(() => net2.close())
  withTiming(NO_TIMEOUTS, () => net2.joinAll())
  const [p] = net2.clusters
  const pending = assert.rejects(p.read(), { code: CODES.CLOSED, message: 'flotilla/brig: the node was closed before the read completed' })
  const timedOut = assert.rejects(p.read({ timeout: 50 }), { code: CODES.TIMEOUT, message: 'flotilla/brig: timed out before the read completed' })
  await timedOut // no leader: nobody answers
  await p.close()
  await pending
  await assert.rejects(p.read(), { code: CODES.CLOSED, message: 'flotilla/brig: the node is closed' })
})
