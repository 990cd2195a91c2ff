// A gaggle cluster over the socket.io channel: an HTTP server on a free port prepared by
// enhanceServerForSocketIOChannel relays the messages; 3 nodes elect, commit, and everything is torn down.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import { gaggle, STEADY, uniqueName, electLeader, allCommitted, assertSameLogs } from './gaggle-support.mjs'

const WITHIN = { timeout: 30_000 }

// An HTTP server on a free port, ready for socket.io channels; torn down (server included) after the test, once
// the nodes registered after it are closed.
async function relay () {
  const server = http.createServer()
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const teardown = gaggle.enhanceServerForSocketIOChannel(server)
  assert.equal(typeof teardown, 'function')
  return { host: `http://127.0.0.1:${server.address().port}`, teardown: () => new Promise((resolve) => teardown(resolve)) }
}

test('3 nodes over socket.io elect, commit on every node, and tear down', WITHIN, async (t) => {
  const { host, teardown } = await relay()
  // registered first, so it runs after the nodes are closed
  const nodesClosed = []
  t.after(async () => {
    await Promise.all(nodesClosed.map((node) => node.close()))
    await teardown()
  })
  const channel = uniqueName('gaggle')
  const nodes = ['s0', 's1', 's2'].map((id) => {
    const node = gaggle({ id, channel: { name: 'socket.io', host, channel }, clusterSize: 3, ...STEADY,
      rpc: { whoLeads (cb) { cb(null, this.isLeader() ? 'the leader' : this.id) } } })
    nodesClosed.push(node)
    return node
  })
  const committed = new Map(nodes.map((node) => [node, []]))
  for (const node of nodes) node.on('committed', (entry, index) => committed.get(node).push(entry.data))
  const leader = await electLeader(nodes)
  await Promise.all(nodes.map((node, i) => node.append({ over: 'socket.io', i })))
  await allCommitted(nodes, 2, 10_000)
  const log = assertSameLogs(nodes)
  for (const node of nodes) assert.deepEqual(committed.get(node), log.map((entry) => entry.data))
  assert.deepEqual(await nodes.find((node) => node !== leader).dispatchOnLeader('whoLeads', []), ['the leader'])
})

test('two clusters on one relay, on different channels, do not mix', WITHIN, async (t) => {
  const { host, teardown } = await relay()
  const nodes = []
  t.after(async () => {
    await Promise.all(nodes.map((node) => node.close()))
    await teardown()
  })
  const clusters = [uniqueName('blue'), uniqueName('green')].map((channel, c) => ['x', 'y'].map((id) => {
    const node = gaggle({ id, channel: { name: 'socket.io', host, channel }, clusterSize: 2, ...STEADY })
    nodes.push(node)
    return node
  }))
  await Promise.all(clusters.map((cluster) => electLeader(cluster)))
  await Promise.all(clusters.map((cluster, c) => cluster[1].append({ cluster: c })))
  await Promise.all(clusters.map((cluster) => allCommitted(cluster, 0, 10_000)))
  for (const [c, cluster] of clusters.entries()) {
    assert.deepEqual(assertSameLogs(cluster).map((entry) => entry.data), [{ cluster: c }])
  }
})

test('an entry near the message limit (1 MiB) commits over socket.io: the relay takes messages that large', WITHIN, async (t) => {
  const { host, teardown } = await relay()
  const nodes = []
  t.after(async () => {
    await Promise.all(nodes.map((node) => node.close()))
    await teardown()
  })
  const channel = uniqueName('large')
  for (const id of ['l0', 'l1', 'l2']) nodes.push(gaggle({ id, channel: { name: 'socket.io', host, channel }, clusterSize: 3, ...STEADY }))
  const leader = await electLeader(nodes)
  const big = 'x'.repeat(1_000_000)
  // From a follower: the entry travels to the leader, then from the leader to both followers.
  await nodes.find((node) => node !== leader).append(big, 10_000)
  await allCommitted(nodes, 0, 10_000)
  for (const node of nodes) assert.equal(node.getLog()[node.getLog().length - 1].data.length, big.length)
})
