// A gaggle cluster over the redis channel against a real redis-server (started here on a free port, stopped at
// the end): election, commits on every node, and failover when the leader goes.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import {
  gaggle, STEADY, startRedis, uniqueName, trackNodes, electLeader, stableLeader, allCommitted, assertSameLogs
} from './gaggle-support.mjs'

const WITHIN = { timeout: 30_000 }

let redis
before(async () => { redis = await startRedis() })
after(async () => { await redis?.stop() })

function redisCluster (t, count, channelName = uniqueName('gaggle')) {
  const track = trackNodes(t)
  return Array.from({ length: count }, (_, i) => track(gaggle({
    id: `r${i}`,
    channel: { name: 'redis', channelName, connectionString: redis.url },
    clusterSize: count,
    ...STEADY,
    rpc: { whoLeads (cb) { cb(null, this.isLeader() ? 'the leader' : this.id) } }
  })))
}

test('3 nodes over redis elect a leader, commit on every node, and survive the leader closing', WITHIN, async (t) => {
  const nodes = redisCluster(t, 3)
  const committed = new Map(nodes.map((node) => [node, []]))
  for (const node of nodes) node.on('committed', (entry, index) => committed.get(node).push(index))
  const first = await electLeader(nodes)
  await Promise.all(nodes.map((node, i) => node.append({ over: 'redis', i })))
  await allCommitted(nodes, 2, 10_000)
  const before = assertSameLogs(nodes)
  assert.deepEqual(before.map((entry) => entry.data.i).sort(), [0, 1, 2])
  for (const node of nodes) assert.deepEqual(committed.get(node), [0, 1, 2])
  const follower = nodes.find((node) => node !== first)
  assert.deepEqual(await follower.dispatchOnLeader('whoLeads', []), ['the leader'])

  await first.close()
  const survivors = nodes.filter((node) => node !== first)
  const second = await stableLeader(survivors, 10_000)
  assert.notEqual(second.id, first.id)
  await Promise.all(survivors.map((node, i) => node.append({ after: i })))
  await allCommitted(survivors, 4, 10_000)
  const log = assertSameLogs(survivors)
  assert.deepEqual(log.slice(0, 3), before)
  assert.equal(log.length, 5)
  assert.deepEqual(await survivors.find((node) => node !== second).dispatchOnLeader('whoLeads', []), ['the leader'])
})

test('messages on the redis channel are gaggle\'s envelope around gaggle\'s RPC names', WITHIN, async (t) => {
  const { createRequire } = await import('node:module')
  const { createClient } = createRequire(import.meta.url)('redis')
  // listening before the nodes exist, so that the election's messages are seen too
  const channelName = uniqueName('gaggle')
  const observer = createClient({ url: redis.url })
  t.after(() => observer.close())
  await observer.connect()
  const types = new Set()
  // broadcasts on channelName, messages for one node on channelName:id
  await observer.pSubscribe(`${channelName}*`, (message) => {
    const envelope = JSON.parse(message)
    assert.equal(typeof envelope.from, 'string')
    types.add(envelope.data.data.type)
  })
  const nodes = redisCluster(t, 3, channelName)
  const leader = await electLeader(nodes)
  await nodes.find((node) => node !== leader).append('seen on the wire')
  await allCommitted(nodes, 0, 10_000)
  for (const type of ['REQUEST_VOTE', 'REQUEST_VOTE_REPLY', 'APPEND_ENTRIES', 'APPEND_ENTRIES_REPLY', 'APPEND_ENTRY']) {
    assert.ok(types.has(type), `${type} seen among ${[...types]}`)
  }
})
