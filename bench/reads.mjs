// Linearizable reads (part of `npm run bench`): 3 nodes of the gaggle face in one process on the memory channel,
// default timing. Cases: sequential ReadIndex reads from the leader and from a follower (each waits for its
// heartbeat round to a quorum, thesis 6.4); 1,000 ReadIndex reads in flight from the leader, topped up as they
// complete (concurrent reads share a round); lease reads from the leader (thesis 6.4.1), sequential and 1,000 in
// flight, served at once from the lease. Each case runs --repeat times (best rate reported, with the median),
// after an unmeasured warm-up, and is printed next to the issue's goal and etcd's figure.
//
//   node bench/reads.mjs [READS] [--repeat N] [--json-only]
//
// READS (default 20,000): reads per sequential ReadIndex case; the in-flight case runs 10x as many, the lease
// cases 50x, so that every case lasts about as long.
import { createRequire } from 'node:module'
import { performance } from 'node:perf_hooks'
import { waitFor, agreedLeader } from './cluster-wait.mjs'

const require = createRequire(import.meta.url)
const gaggle = require('../index.js')

const IN_FLIGHT = 1000
// Issue 13's goals, in reads per second.
const GOALS = { sequentialLeader: 50_000, inFlight: 500_000, lease: 1_000_000 }
// Quoted from issue 13, not measured in this run: etcd 3.4, 3 members, driven by the `etcd3` npm client, served
// 1,143 linearizable gets per second sequentially on the development machine.
const ETCD_QUOTED = 1143

function parseArgs (argv) {
  const options = { reads: 20_000, repeat: 3, jsonOnly: false }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '--repeat') options.repeat = Number(argv[++i])
    else if (arg === '--json-only') options.jsonOnly = true
    else if (/^\d+$/.test(arg)) options.reads = Number(arg)
    else throw new Error(`unknown argument ${arg}`)
  }
  if (!(options.reads >= 1) || !(options.repeat >= 1)) throw new Error('READS and --repeat must be at least 1')
  return options
}

// `count` reads one after the other; resolves with the last index.
async function sequential (node, count, options) {
  let index = -1
  for (let i = 0; i < count; i++) index = await node.read(options)
  return index
}

// `count` reads, IN_FLIGHT of them at a time: each one that completes starts the next.
function inFlight (node, count, options) {
  return new Promise((resolve, reject) => {
    let started = 0
    let done = 0
    const start = () => {
      started++
      node.read(options).then(completed, reject)
    }
    const completed = (index) => {
      if (++done === count) return resolve(index)
      if (started < count) start()
    }
    for (let i = 0; i < Math.min(IN_FLIGHT, count); i++) start()
  })
}

// Counts the reads a node's engine started: a lease read served at once starts none.
function countEngineReads (node) {
  const native = node._native
  const read = native.read
  const counter = { started: 0 }
  native.read = function (...args) {
    counter.started++
    return read.apply(this, args)
  }
  return counter
}

const fmt = (value, digits = 0) => Number(value).toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)]

async function main () {
  const options = parseArgs(process.argv.slice(2))
  const log = (line) => { if (!options.jsonOnly) console.log(line) }
  const namespace = `reads-bench-${process.pid}`
  const nodes = ['a', 'b', 'c'].map((id) => gaggle({ id, clusterSize: 3, channel: { name: 'memory', namespace }, leaseReads: true }))
  const leader = await waitFor(() => agreedLeader(nodes), 30_000, 'a leader')
  const follower = nodes.find((node) => node !== leader)
  // Some entries, so that the reads have something to be after.
  for (let i = 0; i < 100; i++) await leader.append({ i })
  await waitFor(() => leader._native.leaseRead() !== null, 5000, 'the leader\'s lease')
  const engineReads = countEngineReads(leader)

  const n = options.reads
  const cases = [
    { name: 'seq-leader', label: 'sequential reads, leader', count: n, goal: GOALS.sequentialLeader, run: (c) => sequential(leader, c) },
    { name: 'seq-follower', label: 'sequential reads, follower', count: n, run: (c) => sequential(follower, c) },
    { name: 'in-flight-1000', label: '1,000 reads in flight, leader', count: 10 * n, goal: GOALS.inFlight, run: (c) => inFlight(leader, c) },
    { name: 'lease-seq', label: 'lease reads, sequential, leader', count: 50 * n, goal: GOALS.lease, run: (c) => sequential(leader, c, { lease: true }) },
    { name: 'lease-in-flight-1000', label: 'lease reads, 1,000 in flight, leader', count: 50 * n, goal: GOALS.lease, run: (c) => inFlight(leader, c, { lease: true }) }
  ]
  log(`linearizable reads: 3 nodes in one process, memory channel, default timing (node ${process.version}); ` +
    `best of ${options.repeat} runs, median in brackets`)
  const results = {}
  for (const kase of cases) {
    // Warm-up, not measured: compiled code and a heap that has found its size.
    await kase.run(Math.min(kase.count, 2000))
    const rates = []
    let engineStarted = 0
    for (let i = 0; i < options.repeat; i++) {
      const before = engineReads.started
      const start = performance.now()
      await kase.run(kase.count)
      rates.push(kase.count / ((performance.now() - start) / 1000))
      engineStarted += engineReads.started - before
    }
    results[kase.name] = { count: kase.count, best: Math.max(...rates), median: median(rates), rates }
    if (kase.name.startsWith('lease')) {
      // Served from the lease at once: the leader's engine started no read round for them.
      results[kase.name].servedAtOnce = 1 - engineStarted / (kase.count * options.repeat)
    }
  }

  log('')
  log(`${'case'.padEnd(38)} ${'reads/s'.padStart(24)} ${'goal'.padStart(10)} ${'of goal'.padStart(8)} ${'vs etcd*'.padStart(9)}`)
  for (const kase of cases) {
    const r = results[kase.name]
    const rate = `${fmt(r.best)} (${fmt(r.median)})`
    const goal = kase.goal ? fmt(kase.goal) : '-'
    const ofGoal = kase.goal ? `${fmt(r.best / kase.goal, 2)}x` : '-'
    log(`${kase.label.padEnd(38)} ${rate.padStart(24)} ${goal.padStart(10)} ${ofGoal.padStart(8)} ${`${fmt(r.best / ETCD_QUOTED)}x`.padStart(9)}`)
  }
  for (const kase of cases.filter((k) => results[k.name].servedAtOnce !== undefined)) {
    log(`  ${kase.label}: ${fmt(100 * results[kase.name].servedAtOnce, 1)}% served at once from the lease`)
  }
  log(`* etcd 3.4: ${fmt(ETCD_QUOTED)} linearizable gets/s sequentially (3 members, \`etcd3\` client), a figure ` +
    'quoted from issue 13, not measured in this run')
  await Promise.all(nodes.map((node) => node.close()))
  console.log(JSON.stringify({ bench: 'reads', node: process.version, options, goals: GOALS, etcdQuoted: ETCD_QUOTED, results }))
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
