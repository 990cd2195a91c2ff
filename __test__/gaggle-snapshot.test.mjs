// Snapshots on the gaggle face: the application's save() is asked for every `threshold` applied entries, the log
// is compacted behind it, a follower that missed the compacted entries catches up by InstallSnapshot and
// restore(), and a durable node restarts from its snapshot plus the log after it.
import test from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createRequire } from 'node:module'
import { STEADY, electLeader } from './gaggle-support.mjs'

const require = createRequire(import.meta.url)
const gaggle = require('../index.js')

let namespaceCounter = 0

function waitFor (predicate, timeoutMs = 10000) {
  return new Promise((resolve, reject) => {
    const started = Date.now()
    const check = () => {
      if (predicate()) return resolve()
      if (Date.now() - started > timeoutMs) return reject(new Error('timed out waiting'))
      setTimeout(check, 5)
    }
    check()
  })
}

// A cluster whose application state is a running sum of the committed values, kept per node id.
function makeCluster ({ dataDir = null, threshold = 50 } = {}) {
  const namespace = `snapshot-${process.pid}-${namespaceCounter++}`
  const states = {}
  const calls = { save: 0, restore: 0 }
  const restored = {} // id -> the states restore() was given, in order
  const start = (id) => {
    states[id] = { sum: 0, count: 0 }
    restored[id] = []
    const node = gaggle({
      id,
      channel: { name: 'memory', namespace },
      clusterSize: 3,
      ...STEADY,
      ...(dataDir ? { dataDir: path.join(dataDir, id) } : {}),
      snapshot: {
        threshold,
        save: () => { calls.save++; return { ...states[id] } },
        restore: (data) => { calls.restore++; restored[id].push(data); states[id] = { ...data } }
      }
    })
    node.on('committed', (entry) => { states[id].sum += entry.data.value; states[id].count++ })
    return node
  }
  return { start, states, calls, restored }
}

async function appendMany (node, count, value) {
  await Promise.all(Array.from({ length: count }, () => node.append({ value })))
}

for (const durable of [false, true]) {
  test(`a follower that missed compacted entries catches up by snapshot (${durable ? 'durable' : 'in memory'})`, async (t) => {
    const dataDir = durable ? fs.mkdtempSync(path.join(os.tmpdir(), 'flotilla-snapshot-')) : null
    t.after(() => dataDir && fs.rmSync(dataDir, { recursive: true, force: true }))
    const cluster = makeCluster({ dataDir, threshold: 50 })
    let nodes = ['a', 'b', 'c'].map(cluster.start)
    t.after(() => Promise.all(nodes.map((node) => node.close())))
    await electLeader(nodes)
    const leader = () => nodes.find((node) => node.isLeader())
    await appendMany(leader(), 60, 1)

    const lagging = nodes.find((node) => !node.isLeader())
    await lagging.close()
    nodes = nodes.filter((node) => node !== lagging)
    for (let round = 0; round < 4; round++) await appendMany(leader(), 50, 2)
    await waitFor(() => leader().status().raftFirstIndex > 100)
    assert.ok(cluster.calls.save >= 2, `save() was asked for (${cluster.calls.save} times)`)

    const back = cluster.start(lagging.id)
    nodes.push(back)
    // A durable node also restores its own snapshot from disk: only the messages and the state tell the two apart.
    let snapshotChunks = 0
    back._channel.on('recieved', (from, data) => { if (data.type === 'INSTALL_SNAPSHOT') snapshotChunks++ })
    await waitFor(() => back.getCommitIndex() === 259)
    assert.ok(snapshotChunks > 0, 'InstallSnapshot travelled to the follower')
    const fromLeader = cluster.restored[back.id].filter((state) => state.count > 60)
    assert.equal(fromLeader.length, 1, 'the follower restored the leader\'s snapshot, which holds entries it never had')
    assert.ok(back.status().raftFirstIndex > 100, 'the follower\'s log starts after the leader\'s snapshot')
    const expected = { sum: 60 + 200 * 2, count: 260 }
    for (const node of nodes) {
      await waitFor(() => cluster.states[node.id].count === expected.count)
      assert.deepEqual(cluster.states[node.id], expected, `state of ${node.id}`)
    }
    await appendMany(back, 5, 3)
    await waitFor(() => nodes.every((node) => cluster.states[node.id].count === 265))
  })
}

test('a durable cluster restarts from its snapshots plus the log after them', async (t) => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'flotilla-snapshot-restart-'))
  t.after(() => fs.rmSync(dataDir, { recursive: true, force: true }))
  const cluster = makeCluster({ dataDir, threshold: 40 })
  let nodes = ['a', 'b', 'c'].map(cluster.start)
  await appendMany(await electLeader(nodes), 130, 1)
  await waitFor(() => nodes.every((node) => cluster.states[node.id].count === 130))
  await Promise.all(nodes.map((node) => node.close()))
  for (const id of ['a', 'b', 'c']) {
    assert.ok(fs.readdirSync(path.join(dataDir, id)).some((name) => name.endsWith('.snap')), `${id} kept a snapshot`)
  }

  nodes = ['a', 'b', 'c'].map(cluster.start)
  t.after(() => Promise.all(nodes.map((node) => node.close())))
  await waitFor(() => nodes.every((node) => node.getCommitIndex() === 129))
  for (const node of nodes) assert.deepEqual(cluster.states[node.id], { sum: 130, count: 130 }, node.id)
})

test('a failing save() is reported and asked again later; the cluster keeps committing', async (t) => {
  const namespace = `snapshot-fail-${process.pid}`
  let saves = 0
  const reported = []
  const nodes = ['a', 'b', 'c'].map((id) => gaggle({
    id,
    channel: { name: 'memory', namespace },
    clusterSize: 3,
    ...STEADY,
    snapshot: { threshold: 10, save: () => { saves++; throw new Error('disk full') }, restore: () => {} }
  }))
  for (const node of nodes) node.on('error', (error) => reported.push(error.message))
  t.after(() => Promise.all(nodes.map((node) => node.close())))
  const leader = await electLeader(nodes)
  for (let i = 0; i < 3; i++) await appendMany(leader, 12, 1)
  await waitFor(() => saves >= 3 && reported.length >= 3)
  assert.match(reported[0], /the snapshot save\(\) hook failed: disk full/)
  assert.equal(leader.status().raftFirstIndex, 1, 'nothing was compacted without a snapshot')
})
