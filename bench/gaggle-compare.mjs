// flotilla against gaggle 2.1.4: the same script, three nodes in one process on each library's memory channel.
// Every case of every library runs in a fresh child process (gaggle's memory channel is one global map), under
// a hard time cap, so that a library that hangs is reported as "timeout" instead of stopping the run.
//
//   npm run bench                                  defaults: well under a minute in all
//   node bench/gaggle-compare.mjs --appends 5000   sequential appends per flotilla case
//   options: --appends N  --concurrent-total N  --gaggle-seconds S  --failover-trials N  --repeat N (flotilla
//            runs per case: the best rate is reported with the median, and the event loop of the worst and the
//            median run; default 3)  --only flotilla|gaggle  --json-only
//            --breakdown (flotilla: time native calls and JSON.parse/stringify; the rest is JS glue, channel, promises)
//            --top-up-burst N (concurrent case: most appends issued in one turn of the event loop; default 250)
//            --warm-up N (appends run, unmeasured, before each append case: at most N and one second; default 2000)
//
// Cases: sequential appends from the leader and from a follower (appends/s); 1,000 appends in flight from the
// leader, topped up as they commit, at most --top-up-burst of them per turn of the event loop, as from many
// clients whose requests arrive spread over time rather than in one synchronous run (commits/s); time to elect a
// new leader after the leader closes (ms: flotilla's leader hands over first) and after it crashes (flotilla's
// stops at once, as a killed process would; gaggle's close is the same stop). Each append case first runs unmeasured (--warm-up), so that the
// measured appends run compiled code on a heap that has found its size, for either library.
//
// During every case the event loop is watched two ways. perf_hooks.monitorEventLoopDelay (1 ms resolution): the
// longest and the 99th-percentile gap between its 1 ms timer's runs, so an idle loop shows about 1 ms and a turn
// of the loop shows up to about 1 ms longer than it took. And a probe that re-arms a setImmediate from itself:
// the gaps between its runs, one per turn of the loop, without timer granularity. The probe keeps the loop from
// sleeping, so an idle loop shows microseconds there, and the CPU times of a case include its spinning.
import { spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import path from 'node:path'
import { monitorEventLoopDelay, performance } from 'node:perf_hooks'
import { immediateGapProbe } from './loop-probe.mjs'
import { readFileSync } from 'node:fs'
import { sleep, waitFor, agreedLeader } from './cluster-wait.mjs'

const require = createRequire(import.meta.url)
const here = fileURLToPath(import.meta.url)
const repo = path.resolve(path.dirname(here), '..')

const CASES = ['seq-leader', 'seq-follower', 'concurrent-1000', 'failover', 'failover-crash']
const FAILOVERS = ['failover', 'failover-crash']
const IN_FLIGHT = 1000
// 64 bytes of JSON per entry, like the engine bench.
const PAD = 'x'.repeat(48)
const entry = (i) => ({ i, pad: PAD })

function parseArgs (argv) {
  const options = {
    appends: 5000,
    concurrentTotal: 50_000,
    gaggleSeconds: 3,
    topUpBurst: 250,
    warmUp: 2000,
    failoverTrials: 3,
    repeat: 3,
    only: null,
    breakdown: false,
    jsonOnly: false,
    child: null
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    const value = () => {
      const v = argv[++i]
      if (v === undefined) throw new Error(`${arg} needs a value`)
      return v
    }
    const number = () => {
      const n = Number(value())
      if (!Number.isFinite(n) || n <= 0) throw new Error(`${arg} needs a positive number`)
      return n
    }
    if (arg === '--appends') options.appends = Math.floor(number())
    else if (arg === '--concurrent-total') options.concurrentTotal = Math.floor(number())
    else if (arg === '--gaggle-seconds') options.gaggleSeconds = number()
    else if (arg === '--top-up-burst') options.topUpBurst = Math.floor(number())
    else if (arg === '--warm-up') {
      options.warmUp = Math.floor(Number(value()))
      if (!(options.warmUp >= 0)) throw new Error('--warm-up needs a number, 0 for none')
    }
    else if (arg === '--failover-trials') options.failoverTrials = Math.floor(number())
    else if (arg === '--repeat') options.repeat = Math.floor(number())
    else if (arg === '--only') options.only = value()
    else if (arg === '--breakdown') options.breakdown = true
    else if (arg === '--json-only') options.jsonOnly = true
    else if (arg === '--child') options.child = JSON.parse(value())
    else if (/^\d+$/.test(arg)) options.appends = Number(arg)
    else throw new Error(`unknown argument ${arg}`)
  }
  return options
}

// ---- the child: one case of one library --------------------------------------------------------------

// CPU time of the main (JS) thread alone, in ms, where Linux tells it (10 ms ticks); null elsewhere. Steadier
// than wall time on a busy machine, and free of the GC and timer threads that process.cpuUsage counts.
function mainThreadCpuMs () {
  try {
    const fields = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8').split(') ')[1].split(' ')
    return (Number(fields[11]) + Number(fields[12])) * 10
  } catch {
    return null
  }
}

function loadLibrary (lib) {
  return lib === 'flotilla' ? require(repo) : require('gaggle')
}

// Wraps the native node's methods and JSON.parse/stringify with timers: where the time of a flotilla case goes.
function installBreakdown () {
  const { NativeNode } = require(path.join(repo, 'lib', 'native.js'))
  const spent = {}
  const wrap = (target, name, label) => {
    const original = target[name]
    const slot = spent[label] = { ms: 0, calls: 0, maxMs: 0 }
    target[name] = function (...args) {
      const start = performance.now()
      try {
        return original.apply(this, args)
      } finally {
        const ms = performance.now() - start
        slot.ms += ms
        slot.calls++
        if (ms > slot.maxMs) slot.maxMs = ms
      }
    }
  }
  for (const name of ['receive', 'propose', 'flush', 'flushParts', 'tick']) wrap(NativeNode.prototype, name, 'native.' + name)
  wrap(JSON, 'parse', 'JSON.parse')
  wrap(JSON, 'stringify', 'JSON.stringify')
  return spent
}

async function runChild ({ lib, kase, appends, concurrentTotal, seconds, breakdown, topUpBurst = 250, warmUp = 2000 }) {
  const gaggle = loadLibrary(lib)
  const spent = lib === 'flotilla' && breakdown ? installBreakdown() : null
  const ids = ['a', 'b', 'c'].map((name) => `${name}-${process.pid}`)
  const nodes = ids.map((id) => gaggle({ id, clusterSize: 3, channel: { name: 'memory' } }))
  const result = { lib, case: kase }
  const closed = new Set()
  const leader = await waitFor(() => agreedLeader(nodes), 30_000, 'a leader')
  const followers = nodes.filter((node) => node !== leader)
  const histogram = monitorEventLoopDelay({ resolution: 1 })
  const probe = immediateGapProbe()
  const loopResults = () => {
    result.loopMaxMs = histogram.max / 1e6
    result.loopP99Ms = histogram.percentile(99) / 1e6
    result.gapMaxMs = probe.histogram.max / 1e6
    result.gapP99Ms = probe.histogram.percentile(99) / 1e6
  }

  const measure = async (body) => {
    if (spent) for (const slot of Object.values(spent)) Object.assign(slot, { ms: 0, calls: 0, maxMs: 0 })
    histogram.reset()
    histogram.enable()
    probe.enable()
    const startCpu = process.cpuUsage()
    const startMainCpu = mainThreadCpuMs()
    const start = performance.now()
    // The time limit counts from the first measured append, not from the start of the election.
    const done = await body(start + seconds * 1000)
    const ms = performance.now() - start
    histogram.disable()
    probe.disable()
    const cpu = process.cpuUsage(startCpu)
    const mainCpu = mainThreadCpuMs()
    result.mainThreadCpuMs = mainCpu === null || startMainCpu === null ? null : mainCpu - startMainCpu
    result.count = done
    result.ms = ms
    result.perSecond = done / (ms / 1000)
    result.cpuMs = (cpu.user + cpu.system) / 1000
    loopResults()
  }

  // The bodies of the append cases: `count` appends, or as many as fit before `until`; each resolves with how
  // many were committed.
  const sequential = (via) => async (count, until) => {
    let done = 0
    while (done < count && performance.now() < until) {
      await via.append(entry(done))
      done++
    }
    return done
  }
  const concurrent = (count, until) => new Promise((resolve, reject) => {
    let proposed = 0
    let committed = 0
    let finished = false
    let topUpScheduled = false
    const finish = () => {
      finished = true
      resolve(committed)
    }
    // Brings the appends in flight back to IN_FLIGHT, at most topUpBurst of them now and the rest on the
    // next turns of the event loop.
    const topUp = () => {
      topUpScheduled = false
      if (finished) return
      const timeUp = performance.now() >= until
      if (committed >= count || (timeUp && committed > 0 && committed === proposed)) return finish()
      if (timeUp) return
      let burst = 0
      while (proposed - committed < IN_FLIGHT && proposed < count && burst++ < topUpBurst) {
        leader.append(entry(proposed++)).then(onCommit, reject)
      }
      if (proposed - committed < IN_FLIGHT && proposed < count) scheduleTopUp()
    }
    const scheduleTopUp = () => {
      if (topUpScheduled) return
      topUpScheduled = true
      setImmediate(topUp)
    }
    const onCommit = () => {
      committed++
      if (committed >= count || committed === proposed) topUp()
      else scheduleTopUp()
    }
    topUp()
    // A library that commits nothing in time still ends the case, with what it did.
    const timer = setInterval(() => {
      if (!finished && performance.now() >= until + 1000) finish()
      if (finished) clearInterval(timer)
    }, 50)
  })
  const bodies = {
    'seq-leader': [sequential(leader), appends],
    'seq-follower': [sequential(followers[0]), appends],
    'concurrent-1000': [concurrent, concurrentTotal]
  }

  if (bodies[kase]) {
    const [body, count] = bodies[kase]
    // Warm-up, not measured: the same body, at most warmUp appends and one second, so that the measured appends
    // run compiled code on a heap that has found its size. A fresh process spends its first few hundred appends
    // on that, once, whatever the library.
    if (warmUp > 0) await body(warmUp, performance.now() + 1000)
    await measure((until) => body(count, until))
  } else if (FAILOVERS.includes(kase)) {
    await leader.append(entry(0))
    histogram.reset()
    histogram.enable()
    probe.enable()
    const start = performance.now()
    // A crash: flotilla's node stops at once, without handing over (its close() minus the hand-over).
    const crash = kase === 'failover-crash' && typeof leader._shutDown === 'function'
    const closing = crash ? (leader._closePromise = leader._shutDown()) : leader.close()
    closed.add(leader)
    let newLeader = null
    try {
      newLeader = await waitFor(() => followers.find((node) => node.isLeader()), seconds * 1000, 'a new leader')
    } catch {
      newLeader = null
    }
    const ms = performance.now() - start
    histogram.disable()
    probe.disable()
    await closing
    result.ms = newLeader ? ms : null
    result.timeout = !newLeader
    loopResults()
  }
  if (spent) result.breakdown = spent
  // gaggle throws (from a timer) when a node is closed twice.
  await Promise.race([Promise.all(nodes.filter((node) => !closed.has(node)).map((node) => node.close())), sleep(2000)])
  return result
}

// ---- the parent: runs every case in a child and prints the comparison -------------------------------------

function runInChild (spec, capMs) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [here, '--child', JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (chunk) => { out += chunk })
    child.stderr.on('data', (chunk) => { err += chunk })
    const timer = setTimeout(() => child.kill('SIGKILL'), capMs)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      const line = out.trim().split('\n').pop()
      try {
        resolve(JSON.parse(line))
      } catch {
        resolve({ ...spec, error: signal === 'SIGKILL' ? 'timeout' : `exit ${code}: ${err.trim().split('\n').slice(-3).join(' | ')}` })
      }
    })
  })
}

const fmt = (value, digits = 0) => value === null || value === undefined ? '-' : Number(value).toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })

const median = (values) => {
  const sorted = values.filter((v) => typeof v === 'number').sort((a, b) => a - b)
  return sorted.length ? sorted[Math.floor((sorted.length - 1) / 2)] : null
}

function rateCell (r) {
  if (r.error) return r.error
  const spread = r.ratesOfAllRuns ? `; median ${fmt(r.medianPerSecond)}/s of ${r.ratesOfAllRuns.length} runs` : ''
  return `${fmt(r.perSecond)}/s (${r.count} in ${fmt(r.ms)} ms${spread})`
}

function failoverCell (trials) {
  const errors = trials.filter((t) => t.error || t.timeout)
  const times = trials.filter((t) => !t.error && !t.timeout).map((t) => t.ms).sort((a, b) => a - b)
  if (times.length === 0) return errors[0]?.error || 'timeout'
  const median = times[Math.floor(times.length / 2)]
  return `${fmt(median)} ms median of ${times.length} (${times.map((t) => fmt(t)).join(', ')})` +
    (errors.length ? `, ${errors.length} timeout` : '')
}

async function main () {
  const options = parseArgs(process.argv.slice(2))
  if (options.child) {
    const result = await runChild(options.child)
    process.stdout.write(JSON.stringify(result) + '\n')
    process.exit(0)
  }
  const libs = ['flotilla', 'gaggle'].filter((lib) => !options.only || options.only === lib)
  const results = {}
  const log = (line) => { if (!options.jsonOnly) console.log(line) }
  log(`flotilla vs gaggle 2.1.4: 3 nodes in one process, memory channel, ~64-byte JSON entries (node ${process.version})`)
  for (const lib of libs) {
    results[lib] = {}
    const flotilla = lib === 'flotilla'
    // gaggle runs each case for a few seconds at most and reports its rate.
    const seconds = flotilla ? 60 : options.gaggleSeconds
    for (const kase of CASES) {
      const spec = {
        lib,
        kase,
        appends: options.appends,
        concurrentTotal: options.concurrentTotal,
        seconds: FAILOVERS.includes(kase) ? (flotilla ? 10 : Math.max(5, options.gaggleSeconds)) : seconds,
        breakdown: options.breakdown,
        topUpBurst: options.topUpBurst,
        warmUp: options.warmUp
      }
      const capMs = (spec.seconds + 20) * 1000
      if (FAILOVERS.includes(kase)) {
        const trials = []
        const count = flotilla ? options.failoverTrials : 1
        for (let i = 0; i < count; i++) trials.push(await runInChild(spec, capMs))
        results[lib][kase] = trials
        log(`  ${lib.padEnd(8)} ${kase.padEnd(16)} ${failoverCell(trials)}`)
      } else {
        // A busy machine slows single runs down by up to 2x: flotilla's rates are the best of `repeat` runs.
        const runs = []
        for (let i = 0; i < (flotilla ? options.repeat : 1); i++) runs.push(await runInChild(spec, capMs))
        const ok = runs.filter((run) => !run.error)
        const r = ok.length ? ok.reduce((best, run) => (run.perSecond > best.perSecond ? run : best)) : runs[0]
        if (runs.length > 1) {
          r.ratesOfAllRuns = runs.map((run) => run.perSecond ?? null)
          r.medianPerSecond = median(r.ratesOfAllRuns)
          // The event loop is judged on every run, not only the fastest: the worst run, and the median run.
          for (const key of ['loopMaxMs', 'loopP99Ms', 'gapMaxMs', 'gapP99Ms']) {
            r[key + 'AllRuns'] = Math.max(...ok.map((run) => run[key]))
            r[key + 'Median'] = median(ok.map((run) => run[key]))
          }
        }
        results[lib][kase] = r
        log(`  ${lib.padEnd(8)} ${kase.padEnd(16)} ${rateCell(r)}`)
      }
    }
  }

  const goals = { 'seq-leader': 20_000, 'concurrent-1000': 200_000 }
  const rows = [
    ['sequential appends, leader (appends/s)', 'seq-leader'],
    ['sequential appends, follower (appends/s)', 'seq-follower'],
    ['1,000 in flight (commits/s)', 'concurrent-1000']
  ]
  const cell = (r) => (!r ? '-' : r.error ? r.error : fmt(r.perSecond))
  log('')
  log(`${'case'.padEnd(42)} ${'flotilla'.padStart(12)} ${'gaggle 2.1.4'.padStart(14)} ${'goal'.padStart(10)} ${'speed-up'.padStart(9)}`)
  for (const [label, kase] of rows) {
    const f = results.flotilla?.[kase]
    const g = results.gaggle?.[kase]
    const ratio = f?.perSecond && g?.perSecond ? `${fmt(f.perSecond / g.perSecond, 0)}x` : '-'
    log(`${label.padEnd(42)} ${cell(f).padStart(12)} ${cell(g).padStart(14)} ${(goals[kase] ? fmt(goals[kase]) : '').padStart(10)} ${ratio.padStart(9)}`)
  }
  const failover = (trials) => {
    if (!trials) return '-'
    const times = trials.filter((t) => !t.error && !t.timeout).map((t) => t.ms).sort((a, b) => a - b)
    return times.length ? fmt(times[Math.floor(times.length / 2)]) + ' ms' : (trials[0].error || 'timeout')
  }
  log(`${'new leader after the leader closes'.padEnd(42)} ${failover(results.flotilla?.failover).padStart(12)} ${failover(results.gaggle?.failover).padStart(14)}`)
  log(`${'new leader after the leader crashes'.padEnd(42)} ${failover(results.flotilla?.['failover-crash']).padStart(12)} ${failover(results.gaggle?.['failover-crash']).padStart(14)}`)

  let loop = null
  if (results.flotilla) {
    // Per case: the worst run's longest and 99th-percentile gap, and the median run's, for both probes.
    const runsOf = (r) => [r].flat().filter((x) => x && !x.error && x.loopMaxMs !== undefined)
    const worst = (list, key) => Math.max(...list.map((x) => x[key + 'AllRuns'] ?? x[key]))
    const typical = (list, key) => median(list.map((x) => x[key + 'Median'] ?? x[key]))
    const byCase = {}
    for (const [kase, r] of Object.entries(results.flotilla)) {
      const list = runsOf(r)
      if (list.length === 0) continue
      byCase[kase] = {}
      for (const key of ['loopMaxMs', 'loopP99Ms', 'gapMaxMs', 'gapP99Ms']) {
        byCase[kase][key] = worst(list, key)
        byCase[kase][key + 'Median'] = typical(list, key)
      }
    }
    const cases = Object.values(byCase)
    loop = {
      maxMs: Math.max(...cases.map((c) => c.loopMaxMs)),
      p99Ms: Math.max(...cases.map((c) => c.loopP99Ms)),
      gapMaxMs: Math.max(...cases.map((c) => c.gapMaxMs)),
      gapP99Ms: Math.max(...cases.map((c) => c.gapP99Ms)),
      byCase
    }
    const pair = (a, b) => `${fmt(a, 1)} / ${fmt(b, 1)}`
    log(`${'event loop, flotilla runs: max / p99 gap'.padEnd(42)} ${`${pair(loop.maxMs, loop.p99Ms)} ms`.padStart(12)}   (1 ms timer, worst run; goal: blocked <= 5 ms)`)
    log(`${''.padEnd(42)} ${`${pair(loop.gapMaxMs, loop.gapP99Ms)} ms`.padStart(12)}   (setImmediate gaps, worst run)`)
    log(`  ${'per case, worst run (median run)'.padEnd(40)} ${'1 ms timer'.padStart(24)} ${'setImmediate gaps'.padStart(24)}`)
    for (const [kase, c] of Object.entries(byCase)) {
      const timer = `${pair(c.loopMaxMs, c.loopP99Ms)} (${pair(c.loopMaxMsMedian, c.loopP99MsMedian)})`
      const gaps = `${pair(c.gapMaxMs, c.gapP99Ms)} (${pair(c.gapMaxMsMedian, c.gapP99MsMedian)})`
      log(`  ${kase.padEnd(40)} ${timer.padStart(24)} ${gaps.padStart(24)}`)
    }
  }
  if (options.breakdown && results.flotilla) {
    log('')
    log('where the time goes (flotilla; ms over the measured phase, calls, longest call):')
    for (const [kase, r] of Object.entries(results.flotilla)) {
      for (const trial of [r].flat()) {
        if (!trial?.breakdown || trial.ms === null) continue
        const parts = Object.entries(trial.breakdown).filter(([, v]) => v.calls > 0)
        const named = parts.reduce((sum, [, v]) => sum + v.ms, 0)
        log(`  ${kase} (${fmt(trial.ms)} ms wall, ${fmt(trial.cpuMs)} ms cpu):`)
        for (const [name, v] of parts) log(`    ${name.padEnd(16)} ${fmt(v.ms, 1).padStart(9)} ms ${fmt(100 * v.ms / trial.ms, 1).padStart(5)}%  ${String(v.calls).padStart(8)} calls  max ${fmt(v.maxMs, 2)} ms`)
        log(`    ${'rest (JS glue, channel, promises)'.padEnd(16)} ${fmt(trial.ms - named, 1).padStart(9)} ms ${fmt(100 * (trial.ms - named) / trial.ms, 1).padStart(5)}%`)
        break
      }
    }
  }
  const summary = { bench: 'gaggle-compare', node: process.version, options: { appends: options.appends, concurrentTotal: options.concurrentTotal, gaggleSeconds: options.gaggleSeconds, topUpBurst: options.topUpBurst, warmUp: options.warmUp }, results, eventLoop: loop }
  console.log(JSON.stringify(summary))
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
