// The entries stream (zmq-raft's RequestEntries): `node.entries({from, to})` iterates the committed entries in
// gaggle's indices, a page at a time from the engine's log; without `to` it follows new commits until close();
// a `from` that a snapshot compacted away is FLOTILLA_COMPACTED, naming the snapshot's last index.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { STEADY, WITHIN, memoryCluster, electLeader, allCommitted, thrown, rejection, gaggle, uniqueName, waitFor } from './gaggle-support.mjs'

const require = createRequire(import.meta.url)
const { CODES } = require('../lib/engine/errors')

async function collect (iterator, count = Infinity) {
  const entries = []
  for await (const entry of iterator) {
    entries.push(entry)
    if (entries.length >= count) break
  }
  return entries
}

test('entries({from, to}) yields the committed entries in order, with their indices, on any node', WITHIN, async (t) => {
  const nodes = memoryCluster(t, 3, STEADY)
  const leader = await electLeader(nodes)
  await Promise.all(Array.from({ length: 600 }, (_, i) => leader.append({ i })))
  await allCommitted(nodes, 599)
  const follower = nodes.find((node) => node !== leader)
  const all = await collect(follower.entries({ from: 0, to: 599 }))
  assert.equal(all.length, 600, 'more than two pages')
  assert.deepEqual(all.map((entry) => entry.index), Array.from({ length: 600 }, (_, i) => i))
  const log = follower.getLog()
  for (const entry of all) {
    assert.deepEqual(entry.data, log[entry.index].data)
    assert.equal(entry.term, log[entry.index].term)
    assert.equal(entry.id, log[entry.index].id)
  }
  const middle = await collect(leader.entries({ from: 250, to: 260 }))
  assert.deepEqual(middle.map((entry) => entry.data.i), Array.from({ length: 11 }, (_, i) => 250 + i))
})

test('without "to" the stream follows new commits, and close() ends it with FLOTILLA_CLOSED', WITHIN, async (t) => {
  const nodes = memoryCluster(t, 3, STEADY)
  const leader = await electLeader(nodes)
  await leader.append('before')
  const seen = []
  const following = (async () => {
    for await (const entry of nodes[2].entries({ from: 0 })) seen.push(entry.data)
  })().then(() => null, (error) => error)
  await waitFor(() => seen.length === 1, 5000, 'the entry already committed')
  for (let i = 0; i < 5; i++) await leader.append(`after ${i}`)
  await waitFor(() => seen.length === 6, 5000, 'the new commits')
  assert.deepEqual(seen, ['before', 'after 0', 'after 1', 'after 2', 'after 3', 'after 4'])
  await nodes[2].close()
  assert.equal((await following)?.code, CODES.CLOSED)
})

test('a "from" compacted into a snapshot is FLOTILLA_COMPACTED, naming the snapshot\'s last index', WITHIN, async (t) => {
  let state = []
  const node = gaggle({
    id: 'solo',
    clusterSize: 1,
    channel: { name: 'memory', namespace: uniqueName('entries') },
    ...STEADY,
    snapshot: { threshold: 50, save: () => state.slice(), restore: (data) => { state = data } }
  })
  t.after(() => node.close())
  node.on('committed', ({ data }) => state.push(data))
  await waitFor(() => node.isLeader(), 5000, 'the single node to lead')
  for (let i = 0; i < 120; i++) await node.append(i)
  await waitFor(() => node.status().raftFirstIndex > 50, 5000, 'a snapshot')
  const error = await rejection(collect(node.entries({ from: 0 })))
  assert.equal(error.code, CODES.COMPACTED)
  const last = Number(/up to (\d+)/.exec(error.message)[1])
  assert.ok(last >= 49, `the snapshot's last index is named (${error.message})`)
  const rest = await collect(node.entries({ from: last + 1, to: 119 }))
  assert.deepEqual(rest.map((entry) => entry.data), Array.from({ length: 119 - last }, (_, i) => last + 1 + i))
})

test('bad ranges throw FLOTILLA_INVALID_ARGUMENT at once', WITHIN, async (t) => {
  const [node] = memoryCluster(t, 1, STEADY)
  for (const options of [null, 7, { from: -1 }, { from: 1.5 }, { from: 5, to: 4 }, { to: 'x' }]) {
    assert.equal(thrown(() => node.entries(options)).code, CODES.INVALID_ARGUMENT, JSON.stringify(options))
  }
  await electLeader([node])
  await allCommitted([node], -1)
})
