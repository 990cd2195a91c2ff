// Durability benchmark (part of `npm run bench`): 3 durable nodes in one process on the memory channel, fsync
// on, 100-byte entries. Cases: sequential appends from the leader; 1,000 appends in flight; and resident memory
// over a long run with a snapshot every 10,000 entries (the log is compacted behind it, so memory stays flat).
//
//   node bench/durable.mjs [--sequential N] [--concurrent-total N] [--memory-appends N] [--json-only]
//
// Each case runs in its own child process, so that one case's memory and timers do not touch the next.
import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { createRequire } from 'node:module'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

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
    throw new Error('unknown case ' + name)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
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
  process.send(result)
  process.disconnect()
} else {
  const results = []
  for (const name of ['sequential', 'concurrent', 'memory']) results.push(await inChild(name))
  if (!process.argv.includes('--json-only')) {
    console.log('\nflotilla, 3 durable nodes in one process (fsync on, 100-byte entries)\n')
    console.log('| case | commits/s | notes |')
    console.log('|---|---|---|')
    for (const r of results) {
      const notes = r.peakRssMB !== undefined
        ? `peak RSS ${r.peakRssMB} MB (at 10%: ${r.rssAtTenthMB} MB, at the end: ${r.rssAtEndMB} MB); ${r.logEntriesInMemoryAtEnd} entries left in the log`
        : `${r.count} appends`
      console.log(`| ${r.case} | ${r.commitsPerSecond.toLocaleString('en')} | ${notes} |`)
    }
  }
  console.log(JSON.stringify({ bench: 'durable', results }))
}
