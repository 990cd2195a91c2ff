// Durability benchmark (part of `npm run bench`): 3 durable nodes in one process on the memory channel, fsync
// on, 100-byte entries. Cases: sequential appends from the leader; 1,000 appends in flight; and resident memory
// over a long run with a snapshot every 10,000 entries (the log is compacted behind it, so memory stays flat).
// And a restart: one durable node whose log holds N entries is opened again, with the event loop watched: the
// log is read on a worker thread, so the loop keeps turning while the node recovers.
//
//   node bench/durable.mjs [--sequential N] [--concurrent-total N] [--memory-appends N] [--restart-entries N]
//                          [--json-only]
//
// Each case runs in its own child process, so that one case's memory and timers do not touch the next.
import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { createRequire } from 'node:module'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { immediateGapProbe } from './loop-probe.mjs'

const require = createRequire(import.meta.url)
const here = fileURLToPath(import.meta.url)

function option (name, fallback) {
  const at = process.argv.indexOf(name)
  return at === -1 ? fallback : Number(process.argv[at + 1])
}

const ENTRY = 'x'.repeat(100 - 2) // JSON.stringify adds the quotes: 100 bytes of data

async function startCluster (dir, snapshotThreshold) {
  const gaggle = require('../index.js')
  const state = { count: 0 }
  const nodes = ['a', 'b', 'c'].map((id) => gaggle({
    id,
    channel: { name: 'memory', namespace: `durable-bench-${process.pid}` },
    clusterSize: 3,
    electionTimeout: { min: 150, max: 300 },
    heartbeatInterval: 30,
    dataDir: path.join(dir, id),
    ...(snapshotThreshold
      ? { snapshot: { threshold: snapshotThreshold, save: () => ({ count: state.count }), restore: (data) => { state.count = data.count } } }
      : {})
  }))
  await new Promise((resolve) => {
    const check = () => nodes.some((node) => node.isLeader()) ? resolve() : setTimeout(check, 5)
    check()
  })
  const leader = nodes.find((node) => node.isLeader())
  await leader.append('warm-up')
  return { nodes, leader, state }
}

// Appends `total` entries through `leader`, keeping `inFlight` of them outstanding until all have committed.
function keepInFlight (leader, total, inFlight) {
  return new Promise((resolve, reject) => {
    let issued = 0
    let done = 0
    const issue = () => {
      issued++
      leader.append(ENTRY).then(() => {
        done++
        if (issued < total) issue()
        else if (done === total) resolve()
      }, reject)
    }
    for (let i = 0; i < Math.min(inFlight, total); i++) issue()
  })
}

async function runCase (name) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flotilla-durable-bench-'))
  try {
    if (name === 'sequential') {
      const count = option('--sequential', 2000)
      const { nodes, leader } = await startCluster(dir)
      const started = process.hrtime.bigint()
      for (let i = 0; i < count; i++) await leader.append(ENTRY)
      const seconds = Number(process.hrtime.bigint() - started) / 1e9
      await Promise.all(nodes.map((node) => node.close()))
      return { case: 'durable sequential appends from the leader', commitsPerSecond: Math.round(count / seconds), count }
    }
    if (name === 'concurrent') {
      const total = option('--concurrent-total', 50000)
      const { nodes, leader } = await startCluster(dir)
      const started = process.hrtime.bigint()
      await keepInFlight(leader, total, 1000)
      const seconds = Number(process.hrtime.bigint() - started) / 1e9
      await Promise.all(nodes.map((node) => node.close()))
      return { case: 'durable, 1,000 appends in flight', commitsPerSecond: Math.round(total / seconds), count: total }
    }
    if (name === 'memory') {
      const total = option('--memory-appends', 1000000)
      const { nodes, leader, state } = await startCluster(dir, 10000)
      leader.on('committed', () => { state.count++ })
      const samples = []
      const sample = () => samples.push(process.memoryUsage().rss)
      const sampler = setInterval(sample, 100)
      const started = process.hrtime.bigint()
      await keepInFlight(leader, total, 1000)
      const seconds = Number(process.hrtime.bigint() - started) / 1e9
      clearInterval(sampler)
      sample()
      const status = leader.status()
      await Promise.all(nodes.map((node) => node.close()))
      const mb = (bytes) => Math.round(bytes / 1e5) / 10
      const tenth = Math.floor(samples.length / 10)
      return {
        case: `resident memory, ${total.toLocaleString('en')} appends, snapshot every 10,000`,
        commitsPerSecond: Math.round(total / seconds),
        count: total,
        peakRssMB: mb(Math.max(...samples)),
        rssAtTenthMB: mb(samples[tenth] || samples[0]),
        rssAtEndMB: mb(samples[samples.length - 1]),
        logEntriesInMemoryAtEnd: status.raftLastIndex - status.raftFirstIndex + 1
      }
    }
    if (name === 'restart') return await restartCase(dir, option('--restart-entries', 1000000))
    throw new Error('unknown case ' + name)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

// The restart the durability issue asks for: a node whose data directory holds a snapshot plus `total` entries
// logged after it. A one-node durable cluster (its own majority) writes SNAPSHOT_AT entries and takes a snapshot
// of them, then (opened again without snapshot hooks, so it takes no more) writes `total` entries. Then it is
// opened once more, with its hooks, while a probe records every turn of the event loop: how long the constructor
// took, how long until ready() (the snapshot and log read on a worker thread), how long until the log after the
// snapshot was handed to the application again (in small pieces, one per turn of the loop), and the longest the
// loop waited in all that time.
const SNAPSHOT_AT = 100000

async function restartCase (dir, total) {
  const gaggle = require('../index.js')
  const state = { count: 0, restoredAt: null }
  const hooks = {
    threshold: SNAPSHOT_AT,
    save: () => ({ count: state.count }),
    restore: (data) => { state.count = data.count; state.restoredAt = performance.now() }
  }
  const open = (snapshot) => {
    const node = gaggle({
      id: 'solo',
      channel: { name: 'memory', namespace: `restart-bench-${process.pid}` },
      clusterSize: 1,
      electionTimeout: { min: 150, max: 300 },
      heartbeatInterval: 30,
      dataDir: path.join(dir, 'solo'),
      ...(snapshot ? { snapshot } : {})
    })
    node.on('committed', () => { state.count++ })
    return node
  }
  const leading = async (node) => {
    await node.ready()
    while (!node.isLeader()) await new Promise((resolve) => setTimeout(resolve, 5))
    return node
  }
  let node = await leading(open(hooks))
  await keepInFlight(node, SNAPSHOT_AT, 1000)
  while (node.status().raftFirstIndex <= SNAPSHOT_AT) await new Promise((resolve) => setTimeout(resolve, 5))
  await node.close()
  node = await leading(open(null))
  await keepInFlight(node, total, 1000)
  await node.close()

  state.count = 0
  const probe = immediateGapProbe()
  probe.enable()
  const started = performance.now()
  node = open(hooks)
  const constructorMs = performance.now() - started
  await node.ready()
  const readyMs = performance.now() - started
  const last = SNAPSHOT_AT + total - 1
  while (node.getCommitIndex() < last) await new Promise((resolve) => setImmediate(resolve))
  const replayedMs = performance.now() - started
  await new Promise((resolve) => setImmediate(resolve)) // the probe's last run measures the last turn
  probe.disable()
  const status = node.status()
  await node.close()
  const round = (ms) => Math.round(ms * 100) / 100
  return {
    case: `restart from a snapshot of ${SNAPSHOT_AT.toLocaleString('en')} entries plus ${total.toLocaleString('en')} logged after it`,
    count: total,
    constructorMs: round(constructorMs),
    restoredMs: state.restoredAt === null ? null : round(state.restoredAt - started),
    readyMs: round(readyMs),
    replayedMs: round(replayedMs),
    appliedAfterRestart: state.count,
    longestLoopGapMs: round(probe.histogram.max / 1e6),
    loopTurns: probe.histogram.count,
    logFirstIndexAtEnd: status.raftFirstIndex
  }
}

function inChild (name) {
  return new Promise((resolve, reject) => {
    const child = fork(here, ['--case', name, ...process.argv.slice(2)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    child.once('message', resolve)
    child.once('exit', (code) => code === 0 || reject(new Error(`case ${name} exited with ${code}`)))
  })
}

const caseAt = process.argv.indexOf('--case')
if (caseAt !== -1) {
  const result = await runCase(process.argv[caseAt + 1])
  if (process.send === undefined) {
    console.log(JSON.stringify(result, null, 2)) // run by hand, e.g. under --trace-gc
  } else {
    process.send(result)
    process.disconnect()
  }
} else {
  const results = []
  for (const name of ['sequential', 'concurrent', 'memory', 'restart']) results.push(await inChild(name))
  if (!process.argv.includes('--json-only')) {
    const restart = results.pop()
    console.log('\nflotilla, 3 durable nodes in one process (fsync on, 100-byte entries)\n')
    console.log('| case | commits/s | notes |')
    console.log('|---|---|---|')
    for (const r of results) {
      const notes = r.peakRssMB !== undefined
        ? `peak RSS ${r.peakRssMB} MB (at 10%: ${r.rssAtTenthMB} MB, at the end: ${r.rssAtEndMB} MB); ${r.logEntriesInMemoryAtEnd} entries left in the log`
        : `${r.count} appends`
      console.log(`| ${r.case} | ${r.commitsPerSecond.toLocaleString('en')} | ${notes} |`)
    }
    console.log(`\n${restart.case}: the constructor returned in ${restart.constructorMs} ms, ready() resolved ` +
      `after ${restart.readyMs} ms (the snapshot restored at ${restart.restoredMs} ms), the log after it was ` +
      `replayed to the application after ${restart.replayedMs} ms; meanwhile the event loop turned ` +
      `${restart.loopTurns.toLocaleString('en')} times, its longest gap ${restart.longestLoopGapMs} ms\n`)
    results.push(restart)
  }
  console.log(JSON.stringify({ bench: 'durable', results }))
}
