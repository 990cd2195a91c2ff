// Opening a durable node never blocks the event loop: the engine reads its write-ahead log and snapshot on a
// worker thread, so the gaggle constructor (and brig's join()) return at once, calls made meanwhile wait for the
// engine, and the recovered log reaches the application in small pieces, one per turn of the loop. A node whose
// log cannot be read says so through ready(), its 'error' listeners, or a process warning, and stops.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { once } from 'node:events'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createRequire } from 'node:module'
import { gaggle, FAST, uniqueName, waitFor, rejection } from './gaggle-support.mjs'

const require = createRequire(import.meta.url)
const { consensus, events } = require('../brig.js')
const WITHIN = { timeout: 60_000 }
const ENTRY = 'x'.repeat(98)

function tempDir (t, prefix) {
  const dir = mkdtempSync(path.join(tmpdir(), prefix))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

// A one-node cluster (its own majority) on its own data directory.
function soloNode (dataDir, namespace = uniqueName('solo')) {
  return gaggle({ id: 'solo', channel: { name: 'memory', namespace }, clusterSize: 1, ...FAST, dataDir })
}

// Writes `count` entries through a solo node, 500 in flight, then closes it.
async function writeLog (dataDir, count) {
  const node = soloNode(dataDir)
  await node.ready()
  await waitFor(() => node.isLeader(), 5000, 'the solo node to lead')
  let next = 0
  const worker = async () => {
    while (next < count) {
      const n = next++
      await node.append({ n, pad: ENTRY })
    }
  }
  await Promise.all(Array.from({ length: 500 }, worker))
  await node.close()
}

// Counts the turns of the event loop until `promise` settles.
async function turnsUntil (promise) {
  let turns = 0
  let settled = false
  const spin = () => {
    if (settled) return
    turns++
    setImmediate(spin)
  }
  setImmediate(spin)
  try {
    return { value: await promise, turns }
  } finally {
    settled = true
  }
}

test('a durable node opens off the JS thread; appends made meanwhile commit after the recovered log', WITHIN, async (t) => {
  const dataDir = path.join(tempDir(t, 'flotilla-open-'), 'solo')
  const COUNT = 20_000
  await writeLog(dataDir, COUNT)

  const node = soloNode(dataDir)
  t.after(() => node.close())
  // The constructor returned before the engine read anything: the node knows nothing yet.
  assert.equal(node.status(), null)
  assert.deepEqual(node.getLog(), [])
  assert.equal(node.getCommitIndex(), -1)
  assert.equal(node.isLeader(), false)
  assert.throws(() => node.transferLeadership('x'), /still reading its log/)

  const commits = []
  const turnOfCommit = []
  let turn = 0
  const counter = setInterval(() => {}, 1000) // keeps the loop alive while counting turns
  const countTurns = () => { turn++; if (commits.length <= COUNT) setImmediate(countTurns) }
  setImmediate(countTurns)
  node.on('committed', (entry, index) => {
    commits.push([index, entry.data])
    turnOfCommit.push(turn)
  })
  const during = node.append('appended while opening')
  const { turns } = await turnsUntil(node.ready())
  assert.ok(turns >= 1, 'the event loop turned while the log was read')
  assert.notEqual(node.status(), null)

  await during
  clearInterval(counter)
  // Every recovered entry was handed to the application again, once, in order, then the new one.
  assert.equal(commits.length, COUNT + 1)
  commits.forEach(([index], i) => assert.equal(index, i))
  assert.deepEqual(commits.slice(0, COUNT).map(([, data]) => data.n), Array.from({ length: COUNT }, (_, n) => n))
  assert.equal(commits[COUNT][1], 'appended while opening')
  assert.equal(node.getLog().length, COUNT + 1)
  // In pieces: no turn of the event loop carried more than a small part of the replay.
  const perTurn = new Map()
  for (const at of turnOfCommit) perTurn.set(at, (perTurn.get(at) || 0) + 1)
  const most = Math.max(...perTurn.values())
  assert.ok(most <= COUNT / 4, `one turn of the event loop carried ${most} of the ${COUNT} commits`)
})

test('a durable node keeps 10,000 channel messages while it opens, and counts the ones it drops beyond', WITHIN, async (t) => {
  const dataDir = path.join(tempDir(t, 'flotilla-open-'), 'a')
  const node = gaggle({ id: 'a', channel: { name: 'memory', namespace: uniqueName('held') }, clusterSize: 3, ...FAST, dataDir })
  t.after(() => node.close())
  // All in one turn of the event loop: the log cannot have been read meanwhile.
  for (let n = 0; n < 10_050; n++) node._channel.emit('recieved', 'b', { type: 'HELLO', from: 'b' })
  await node.ready()
  assert.equal(node.status().dropped.whileOpening, 50)
  assert.ok(node.status().dropped.total >= 50)
})

test('close() while a durable node is opening: calls reject, and the data directory is free once it resolves', WITHIN, async (t) => {
  const dataDir = path.join(tempDir(t, 'flotilla-open-close-'), 'solo')
  await writeLog(dataDir, 2000)
  const node = soloNode(dataDir)
  const pending = rejection(node.append('never'))
  const ready = rejection(node.ready())
  await node.close()
  assert.equal((await ready).message, 'The node was closed before it opened')
  assert.equal((await pending).message, 'The node was closed before the entry was committed')
  assert.equal((await rejection(node.append('late'))).message, 'The node was closed before the entry was committed')
  const again = soloNode(dataDir)
  await again.ready()
  await waitFor(() => again.getCommitIndex() === 1999, 5000, 'the log to be replayed')
  await again.close()
})

test('a log that cannot be read: ready() rejects, appends reject with the reason, and the node has stopped', WITHIN, async (t) => {
  const dataDir = path.join(tempDir(t, 'flotilla-open-refused-'), 'solo')
  const holder = soloNode(dataDir)
  t.after(() => holder.close())
  await holder.ready()

  const refused = soloNode(dataDir)
  const waiting = refused.append('waits for the engine')
  const timed = refused.append('waits with a timeout', 60_000)
  const error = await rejection(refused.ready())
  assert.match(error.message, /^flotilla: the node cannot start: .*LOCK.*in use/)
  assert.equal((await rejection(waiting)).message, error.message)
  assert.equal((await rejection(timed)).message, error.message)
  assert.equal(refused._deadlines._queues.size, 0, 'no timeout left running: it would keep the process alive')
  assert.equal((await rejection(refused.append('later'))).message, error.message)
  assert.equal(refused.status(), null)
  await refused.close()
})

test('a log that cannot be read is reported to \'error\' listeners, or else as a process warning', WITHIN, async (t) => {
  const dataDir = path.join(tempDir(t, 'flotilla-open-report-'), 'solo')
  const holder = soloNode(dataDir)
  t.after(() => holder.close())
  await holder.ready()

  const listened = soloNode(dataDir)
  const [error] = await once(listened, 'error')
  assert.match(error.message, /the node cannot start: .*in use/)
  await listened.close()

  const warnings = []
  const onWarning = (warning) => warnings.push(warning)
  process.on('warning', onWarning)
  t.after(() => process.removeListener('warning', onWarning))
  const unheard = soloNode(dataDir)
  await waitFor(() => warnings.length > 0, 5000, 'a process warning')
  assert.match(warnings[0].message, /the node cannot start: .*in use/)
  await unheard.close()
})

test('brig: a durable join() returns at once; broadcasts made while the log is read commit; ready() reports a refusal', WITHIN, async (t) => {
  const dir = tempDir(t, 'flotilla-open-brig-')
  const cluster = new consensus.Cluster('a', [], undefined, { dataDir: path.join(dir, 'a') })
  t.after(() => cluster.close())
  const committed = []
  cluster.on(events.LogCommit, (entry) => committed.push(entry.data.payload))
  assert.equal(cluster.join(), cluster)
  assert.equal(cluster.status(), null, 'the engine is not open yet')
  assert.equal(cluster.state.currentTerm, 0)
  assert.equal(cluster.broadcast('while opening'), true)
  await cluster.ready()
  assert.notEqual(cluster.status(), null)
  await waitFor(() => committed.length === 1, 5000, 'the broadcast to commit')
  assert.deepEqual(committed, ['while opening'])

  const second = new consensus.Cluster('a', [], undefined, { dataDir: path.join(dir, 'a') })
  const errors = []
  second.on('error', (error) => errors.push(error))
  second.join()
  const error = await rejection(second.ready())
  assert.match(error.message, /^flotilla\/brig: the node cannot start: .*in use/)
  assert.deepEqual(errors, [error])
  assert.equal(second.broadcast('refused'), false, 'a node that cannot start has stopped')
  await second.close()
  assert.equal((await rejection(new consensus.Cluster('b').ready())).message, 'flotilla/brig: the cluster has not joined')
})
