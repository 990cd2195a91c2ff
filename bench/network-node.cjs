// One flotilla node in its own process, for bench/network.mjs: a gaggle node on the channel it is given (tcp or
// redis), durable when it has a dataDir, driven by the parent over IPC. The workloads run here, in the leader's
// process, and this process measures them itself, so that no number includes the IPC to the parent:
//   seq {seconds, warmUpMs}                       sequential appends from this node (one at a time)
//   inflight {seconds, warmUpMs, inFlight, burst} `inFlight` appends outstanding, topped up as they commit (at most
//                                                 `burst` issued per turn of the event loop, the rest on the next
//                                                 turns, as in gaggle-compare.mjs); with this process's event loop
//                                                 watched over the measured phase
//   loopStart / loopStop                          this process's event loop watched (monitorEventLoopDelay, 1 ms),
//                                                 its garbage collections (each pause blocks the loop), and the CPU
//                                                 it used
//   watch                                         from now on, the moment this node leads it appends one entry, and
//                                                 reports the wall-clock time the append committed (failover)
//   close                                         reports the time, then close() (a leader hands over first)
//   status, warm {count}
// Options come in the environment (NETWORK_NODE_OPTIONS): {id, clusterSize, channel, dataDir, timing}.
'use strict'

const fs = require('node:fs')
const { monitorEventLoopDelay, performance, PerformanceObserver } = require('node:perf_hooks')
const gaggle = require('..')

const options = JSON.parse(process.env.NETWORK_NODE_OPTIONS)
const { id, clusterSize, channel, dataDir, timing } = options

// 64 bytes of JSON per entry: a 62-character string and its quotes.
const entry = (i) => `${id}:${i}:`.padEnd(62, 'x')
// Wall-clock time in ms with sub-ms resolution, comparable between the processes of this machine.
const now = () => performance.timeOrigin + performance.now()
const APPEND_TIMEOUT_MS = 30_000

const node = gaggle({
  id,
  clusterSize,
  channel,
  electionTimeout: timing.electionTimeout,
  heartbeatInterval: timing.heartbeatInterval,
  ...(dataDir ? { dataDir } : {})
})

function send (message) {
  return new Promise((resolve) => {
    if (!process.connected) return resolve()
    process.send(message, () => resolve())
  })
}

// CPU time of the main (JS) thread alone, in ms, where Linux tells it (10 ms ticks); null elsewhere.
function jsThreadCpuMs () {
  try {
    const fields = fs.readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8').split(') ')[1].split(' ')
    return (Number(fields[11]) + Number(fields[12])) * 10
  } catch {
    return null
  }
}

// The event loop (monitorEventLoopDelay, 1 ms timer), the garbage collections' pauses, and the CPU this process
// used (all its threads, and its JS thread alone), in percent of one core, between start() and stats().
const histogram = monitorEventLoopDelay({ resolution: 1 })
let cpuFrom = null
let gc = null
const gcObserver = new PerformanceObserver((list) => {
  if (gc === null) return
  for (const { duration } of list.getEntries()) {
    gc.count++
    gc.totalMs += duration
    gc.maxMs = Math.max(gc.maxMs, duration)
  }
})
function loopStart () {
  histogram.reset()
  histogram.enable()
  gc = { count: 0, totalMs: 0, maxMs: 0 }
  gcObserver.observe({ entryTypes: ['gc'] })
  cpuFrom = { wall: performance.now(), process: process.cpuUsage(), js: jsThreadCpuMs() }
}
function loopStats () {
  histogram.disable()
  gcObserver.disconnect()
  const collections = gc
  gc = null
  const wall = performance.now() - cpuFrom.wall
  const used = process.cpuUsage(cpuFrom.process)
  const js = jsThreadCpuMs()
  return {
    maxMs: histogram.max / 1e6,
    p99Ms: histogram.percentile(99) / 1e6,
    meanMs: histogram.mean / 1e6,
    gc: collections,
    cpuPercent: (100 * (used.user + used.system) / 1000) / wall,
    jsThreadCpuPercent: js === null || cpuFrom.js === null ? null : (100 * (js - cpuFrom.js)) / wall
  }
}

let counter = 0
let failures = 0

// Sequential appends until `until` (performance.now()); resolves with how many committed.
async function sequential (until) {
  let done = 0
  while (performance.now() < until) {
    try {
      await node.append(entry(counter++), APPEND_TIMEOUT_MS)
      done++
    } catch (error) {
      failures++
      if (failures === 1) send({ type: 'note', message: `append failed: ${error.code || ''} ${error.message}` })
    }
  }
  return done
}

// `inFlight` appends outstanding until `until`; then waits for the last ones. Resolves with how many committed.
function concurrent (until, inFlight, burst) {
  return new Promise((resolve) => {
    let proposed = 0
    let settled = 0
    let committed = 0
    let finished = false
    let scheduled = false
    const finish = () => {
      if (finished) return
      finished = true
      resolve(committed)
    }
    const topUp = () => {
      scheduled = false
      if (finished) return
      if (performance.now() >= until) {
        if (settled === proposed) finish()
        return
      }
      let issued = 0
      while (proposed - settled < inFlight && issued++ < burst) {
        proposed++
        node.append(entry(counter++), APPEND_TIMEOUT_MS).then(onCommit, onFailure)
      }
      if (proposed - settled < inFlight) schedule()
    }
    const schedule = () => {
      if (scheduled) return
      scheduled = true
      setImmediate(topUp)
    }
    const settle = () => {
      settled++
      if (settled === proposed) topUp()
      else schedule()
    }
    const onCommit = () => {
      committed++
      settle()
    }
    const onFailure = (error) => {
      failures++
      if (failures === 1) send({ type: 'note', message: `append failed: ${error.code || ''} ${error.message}` })
      settle()
    }
    topUp()
  })
}

// Runs `body` for a warm-up (not measured) and then for `seconds`, measured from the first measured append to the
// commit of the last one.
async function measure (body, seconds, warmUpMs, watchLoop) {
  if (warmUpMs > 0) await body(performance.now() + warmUpMs)
  failures = 0
  if (watchLoop) {
    await send({ type: 'measuring' })
    loopStart()
  }
  const start = performance.now()
  const count = await body(start + seconds * 1000)
  const ms = performance.now() - start
  return { count, ms, perSecond: count / (ms / 1000), failures, ...(watchLoop ? { loop: loopStats() } : {}) }
}

// Failover: once this node leads, one append; its commit time is reported (once).
let watching = false
function watch () {
  if (watching) return
  watching = true
  let appending = false
  const timer = setInterval(() => {
    if (appending || !node.isLeader()) return
    appending = true
    node.append(entry(counter++), 5000).then(() => {
      const at = now()
      clearInterval(timer)
      send({ type: 'leaderCommitted', id, at })
    }, () => { appending = false })
  }, 1)
}

process.on('message', async (message) => {
  const reply = (fields) => send({ rid: message.rid, ...fields })
  try {
    switch (message.type) {
      case 'status': {
        const status = node.status()
        return reply({ status: status === null ? null : { state: status.state, term: status.term, leader: status.leader, commitIndex: status.commitIndex } })
      }
      case 'warm': {
        for (let i = 0; i < message.count; i++) await node.append(entry(counter++), APPEND_TIMEOUT_MS)
        return reply({})
      }
      case 'seq':
        return reply({ result: await measure(sequential, message.seconds, message.warmUpMs, false) })
      case 'inflight':
        return reply({ result: await measure((until) => concurrent(until, message.inFlight, message.burst), message.seconds, message.warmUpMs, true) })
      case 'loopStart':
        loopStart()
        return reply({})
      case 'loopStop':
        return reply({ loop: loopStats() })
      case 'watch':
        watch()
        return reply({})
      case 'close': {
        const at = now()
        await node.close()
        await reply({ at, closedMs: now() - at })
        process.disconnect()
        return
      }
    }
  } catch (error) {
    return reply({ error: `${error.code || ''} ${error.message}` })
  }
})

process.on('disconnect', () => {
  // The parent went away (or asked us to go): nothing is left to measure.
  setTimeout(() => process.exit(0), 2000).unref()
})

node.ready().then(
  () => {
    node.on('error', (error) => send({ type: 'fatal', message: error.message }))
    return send({ type: 'ready' })
  },
  (error) => send({ type: 'refused', message: error.message })
)
