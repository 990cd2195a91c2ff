// brig's face on durable storage: a cluster given `dataDir` keeps its term, vote and log, and a node that joins
// again replays what was committed; bad options are refused at once.
import test from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createRequire } from 'node:module'
import { withTiming, NO_TIMEOUTS } from './brig-support.mjs'

const require = createRequire(import.meta.url)
const { consensus, events } = require('../brig.js')

// Gives every cluster a Peer for each other one. A message reaches an open cluster one turn later, through
// JSON, as over a network; `onMessage` sees each one delivered.
function connect (clusters, onMessage = () => {}) {
  const ids = Object.keys(clusters)
  for (const id of ids) {
    for (const other of ids.filter((o) => o !== id)) {
      clusters[id].addPeer(new consensus.Peer(other, (to, msg) => setImmediate(() => {
        if (clusters[to]._closed) return
        onMessage(msg)
        clusters[to].createProtocolMapping()[msg.constructor.method](JSON.parse(JSON.stringify(msg)), () => {})
      })))
    }
  }
  return clusters
}

function wire (dir, ids) {
  const clusters = {}
  for (const id of ids) clusters[id] = new consensus.Cluster(id, [], undefined, { dataDir: path.join(dir, id) })
  return connect(clusters)
}

// Polls `condition` every 5 ms; fails after 20 s, saying what it waited for and what it saw.
function until (condition, what) {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + 20_000
    const poll = setInterval(() => {
      if (condition()) {
        clearInterval(poll)
        resolve()
      } else if (Date.now() > deadline) {
        clearInterval(poll)
        reject(new Error('timed out waiting for ' + what()))
      }
    }, 5)
  })
}

function commitsOf (cluster, count) {
  const payloads = []
  return new Promise((resolve) => {
    cluster.on(events.LogCommit, (entry) => {
      payloads.push(entry.data.payload)
      if (payloads.length === count) resolve(payloads)
    })
  })
}

test('a durable brig cluster keeps its term and vote, and replays its committed log, after every node restarts', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flotilla-brig-durable-'))
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  const ids = ['a', 'b', 'c']
  // No node campaigns on its own: the elections are the test's, so nothing but the restart can change a term.
  let clusters = wire(dir, ids)
  const before = commitsOf(clusters.a, 5)
  withTiming(NO_TIMEOUTS, () => { for (const cluster of Object.values(clusters)) cluster.join() })
  await Promise.all(Object.values(clusters).map((cluster) => cluster.ready()))
  clusters.a.startElection()
  for (let n = 0; n < 5; n++) clusters.b.broadcast({ n })
  assert.deepEqual(await before, [0, 1, 2, 3, 4].map((n) => ({ n })))
  const hardStates = ids.map((id) => [clusters[id].state.currentTerm, clusters[id].state.votedFor])
  assert.deepEqual(hardStates, ids.map(() => [1, 'a']), 'every node voted for a in term 1')
  await Promise.all(Object.values(clusters).map((cluster) => cluster.close()))

  clusters = wire(dir, ids)
  t.after(() => Promise.all(Object.values(clusters).map((cluster) => cluster.close())))
  const replayed = commitsOf(clusters.c, 6)
  withTiming(NO_TIMEOUTS, () => { for (const cluster of Object.values(clusters)) cluster.join() })
  await Promise.all(Object.values(clusters).map((cluster) => cluster.ready()))
  assert.deepEqual(ids.map((id) => [clusters[id].state.currentTerm, clusters[id].state.votedFor]), hardStates,
    'the term and the vote survived the restart')
  clusters.b.startElection()
  clusters.a.broadcast('after the restart')
  assert.deepEqual(await replayed, [...[0, 1, 2, 3, 4].map((n) => ({ n })), 'after the restart'])
  assert.equal(clusters.c.state.currentTerm, 2, 'the election after the restart was in the next term')
})

test('bad durable options are refused when the Cluster is made', () => {
  assert.throws(() => new consensus.Cluster('a', [], undefined, { dataDir: '' }), /"dataDir" must be a non-empty string/)
  assert.throws(() => new consensus.Cluster('a', [], undefined, { segmentBytes: 10 }), /"segmentBytes"/)
  assert.throws(() => new consensus.Cluster('a', [], undefined, { nope: 1 }), /unknown Cluster option "nope"/)
  assert.throws(() => new consensus.Cluster('a', [], undefined, 'x'), /must be an object/)
})

test('brig snapshots: the log is compacted behind save(), and a restart restores the state', { timeout: 60_000 }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flotilla-brig-snapshot-'))
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  const ids = ['a', 'b', 'c']
  const sums = {}
  const build = () => {
    const clusters = {}
    for (const id of ids) {
      sums[id] = 0
      const snapshot = { threshold: 10, save: () => ({ sum: sums[id] }), restore: (data) => { sums[id] = data.sum } }
      clusters[id] = new consensus.Cluster(id, [], undefined, { dataDir: path.join(dir, id), snapshot })
      clusters[id].on(events.LogCommit, (entry) => { sums[id] += entry.data.payload })
    }
    return connect(clusters)
  }
  let clusters = build()
  for (const cluster of Object.values(clusters)) cluster.join()
  for (let n = 1; n <= 30; n++) clusters.a.broadcast(n)
  const total = (30 * 31) / 2
  await until(() => ids.every((id) => sums[id] === total), () => `every sum to be ${total}: ${JSON.stringify(sums)}`)
  await until(() => ids.every((id) => fs.readdirSync(path.join(dir, id)).some((f) => f.endsWith('.snap'))), () => 'a snapshot file on every node')
  await Promise.all(Object.values(clusters).map((cluster) => cluster.close()))

  clusters = build()
  t.after(() => Promise.all(Object.values(clusters).map((cluster) => cluster.close())))
  for (const cluster of Object.values(clusters)) cluster.join()
  await until(() => ids.every((id) => sums[id] === total), () => `every sum to be ${total} after the restart: ${JSON.stringify(sums)}, ` +
    `states ${JSON.stringify(ids.map((id) => clusters[id].status() && clusters[id].status().state))}`)
  for (const id of ids) assert.equal(sums[id], total, `${id} restored its snapshot and replayed the rest`)
})

test('brig InstallSnapshot: a node that joins after the log was compacted gets the snapshot and restores it', { timeout: 60_000 }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flotilla-brig-install-'))
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  const ids = ['a', 'b', 'c']
  const sums = { a: 0, b: 0, c: 0 }
  const restored = { a: [], b: [], c: [] }
  const clusters = {}
  for (const id of ids) {
    const snapshot = { threshold: 10, save: () => ({ sum: sums[id] }), restore: (data) => { restored[id].push(data.sum); sums[id] = data.sum } }
    clusters[id] = new consensus.Cluster(id, [], undefined, { dataDir: path.join(dir, id), snapshot })
    clusters[id].on(events.LogCommit, (entry) => { sums[id] += entry.data.payload })
  }
  const sentTypes = new Set()
  connect(clusters, (msg) => sentTypes.add(msg.constructor.method))
  t.after(() => Promise.all(Object.values(clusters).map((cluster) => cluster.close())))
  // a and b are a majority: they commit and compact without c.
  clusters.a.join()
  clusters.b.join()
  for (let n = 1; n <= 30; n++) clusters.a.broadcast(n)
  const total = (30 * 31) / 2
  await until(() => sums.a === total && sums.b === total, () => `a and b to reach ${total}: ${JSON.stringify(sums)}`)
  await until(() => ['a', 'b'].every((id) => clusters[id].status().raftFirstIndex > 20),
    () => `a and b to compact: first indices ${clusters.a.status().raftFirstIndex}, ${clusters.b.status().raftFirstIndex}`)

  clusters.c.join()
  await until(() => sums.c === total, () => `c to reach ${total}: ${JSON.stringify(sums)}, restored ${JSON.stringify(restored.c)}`)
  assert.equal(restored.c.length, 1, 'c restored one snapshot')
  assert.ok(restored.c[0] > 0, 'the snapshot held the leader\'s state')
  assert.ok(sentTypes.has('INSTALL_SNAPSHOT') && sentTypes.has('ACK_SNAPSHOT'), [...sentTypes].join(', '))
  assert.ok(clusters.c.status().raftFirstIndex > 1, 'c\'s log starts after the snapshot')
  assert.ok(clusters.c.state.log.entries.length < 30, 'c holds only the entries after the snapshot')
})
