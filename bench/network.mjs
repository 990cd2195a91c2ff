// Network benchmark (part of `npm run bench`, not of CI): 3 processes on this machine, one cluster member in each,
// 64-byte entries, every system on a cluster of its own, started fresh:
//   flotilla-tcp-durable    flotilla over its native TCP transport (channel tcp), a dataDir per node: fsync on
//   flotilla-tcp-volatile   the same without a dataDir: no fsync
//   flotilla-redis-durable  flotilla over the redis channel (a redis-server of its own), a dataDir per node
//   etcd                    etcd 3.x, 3 members (Debian's etcd-server), its own --data-dir each, fsync on (etcd's
//                           default), driven through the npm package etcd3
// Workloads, for each system:
//   seq/s            sequential appends (puts) from the leader's process, one at a time
//   1000-in-flight/s 1,000 appends outstanding, topped up as they commit (at most --top-up-burst issued per turn of
//                    the event loop, as gaggle-compare.mjs does)
//   loop max         during the 1,000 in flight, the longest gap perf_hooks.monitorEventLoopDelay (1 ms timer) saw
//                    in each flotilla process; the bench's own idle process is watched beside them, as the baseline
//                    of this machine
//   failover kill    the leader's process killed with SIGKILL: ms until a new leader committed an append
//   failover close   the leader's close() (flotilla hands leadership over first): ms until a new leader committed
//                    (etcd: kill only, ms until a put to a surviving member succeeded)
// flotilla's workloads run inside the leader's process (bench/network-node.cjs), and etcd's in a client process
// (bench/network-etcd.cjs) whose client talks to the leader member: each measures itself, so that no number
// includes the IPC to this process. Each failover trial has a fresh cluster; the median of --failover-trials is
// shown. Every node runs with the same timing: election timeout 300-500 ms, heartbeat 50 ms (etcd: heartbeat
// 50 ms, election timeout 300 ms, which etcd draws from 300-600 ms).
//
//   node bench/network.mjs [--seconds S] [--only name,...] [--failover-trials N] [--top-up-burst N] [--in-flight N]
//                          [--json]
//
// --seconds: per measured workload (default 3; each has a 1 s warm-up before it). --only: some of the systems
// above. --in-flight: the appends kept outstanding in the second workload (default 1,000; the goals are named for
// the default). --json: one JSON object on stdout instead of the table (progress goes to stderr either way).
// After the table: each process's event loop, garbage collections and CPU during the in-flight workload, every
// failover trial, and the ratios flotilla-tcp-durable / etcd and / flotilla-redis-durable with the issue's goals
// beside them, met or not.
// The loop goal (a block < 1 ms) is judged on the leader's max less 1 ms: monitorEventLoopDelay's max is the
// longest interval between runs of its 1 ms timer, which counts that 1 ms itself. The idle baseline shows how far
// this machine's scheduler alone stretches that interval.
// etcd: when `etcd` is not installed, the bench installs Debian's etcd-server if it runs as root, else prints
// "etcd: not available (install etcd-server)" and goes on; the npm package etcd3 is installed with
// `npm install --no-save` when missing (never a dependency of flotilla). Every process this bench starts is
// stopped and every directory it made is removed at the end, on failure too.
import { spawn, spawnSync } from 'node:child_process'
import { EventEmitter } from 'node:events'
import fs from 'node:fs'
import { createServer } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { monitorEventLoopDelay, performance } from 'node:perf_hooks'

const here = path.dirname(fileURLToPath(import.meta.url))
const repo = path.resolve(here, '..')
const NODE_SCRIPT = path.join(here, 'network-node.cjs')
const ETCD_SCRIPT = path.join(here, 'network-etcd.cjs')

const SYSTEMS = ['flotilla-tcp-durable', 'flotilla-tcp-volatile', 'flotilla-redis-durable', 'etcd']
const WARM_UP_MS = 1000
const TIMING = { electionTimeout: { min: 300, max: 500 }, heartbeatInterval: 50 }
const ETCD_TIMING = { heartbeatMs: 50, electionMs: 300 }
const IDS = ['n1', 'n2', 'n3']
const STEP_MS = 30_000 // the most any one step (start, election, a request) may take before it counts as a hang

function parseArgs (argv) {
  const options = { seconds: 3, only: null, failoverTrials: 3, topUpBurst: 250, inFlight: 1000, json: false }
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
    if (arg === '--seconds') options.seconds = number()
    else if (arg === '--only') options.only = value().split(',').map((name) => name.trim()).filter(Boolean)
    else if (arg === '--failover-trials') options.failoverTrials = Math.floor(number())
    else if (arg === '--top-up-burst') options.topUpBurst = Math.floor(number())
    else if (arg === '--in-flight') options.inFlight = Math.floor(number())
    else if (arg === '--json') options.json = true
    else throw new Error(`unknown argument ${arg}`)
  }
  for (const name of options.only || []) {
    if (!SYSTEMS.includes(name)) throw new Error(`--only: unknown system ${name} (one of ${SYSTEMS.join(', ')})`)
  }
  return options
}

const options = parseArgs(process.argv.slice(2))
const progress = (line) => process.stderr.write(line + '\n')
const now = () => performance.timeOrigin + performance.now()
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

// ---- everything this bench starts, stopped at the end whatever happens ----------------------------------------

const processes = new Set()
const directories = new Set()

function track (child) {
  processes.add(child)
  child.once('exit', () => processes.delete(child))
  return child
}

function cleanUpNow () {
  for (const child of processes) {
    try { child.kill('SIGKILL') } catch {}
  }
  for (const dir of directories) {
    try { fs.rmSync(dir, { recursive: true, force: true }) } catch {}
  }
}

process.on('exit', cleanUpNow)
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    progress(`${signal}: stopping every process the bench started`)
    process.exit(130)
  })
}

function exited (child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => child.once('exit', () => resolve()))
}

async function stopProcess (child, signal = 'SIGKILL', graceMs = 3000) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return
  try { child.kill(signal) } catch {}
  if (signal !== 'SIGKILL') {
    const timer = setTimeout(() => { try { child.kill('SIGKILL') } catch {} }, graceMs)
    await exited(child)
    clearTimeout(timer)
  } else {
    await exited(child)
  }
}

function makeDirectory (prefix) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
  directories.add(dir)
  return dir
}

function removeDirectory (dir) {
  fs.rmSync(dir, { recursive: true, force: true })
  directories.delete(dir)
}

// A port free now (the server binds it a moment later).
function freePort () {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

// ---- a child process driven over IPC (network-node.cjs, network-etcd.cjs) -------------------------------------

class Driven extends EventEmitter {
  constructor (name, script, env) {
    super()
    this.name = name
    this.stderr = ''
    this.notes = []
    this.requests = new Map()
    this.nextRid = 0
    this.child = track(spawn(process.execPath, [script], { cwd: repo, stdio: ['ignore', 'ignore', 'pipe', 'ipc'], env: { ...process.env, ...env } }))
    this.child.stderr.on('data', (chunk) => { this.stderr = (this.stderr + chunk).slice(-4000) })
    this.exit = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })))
    this.exit.then(({ code, signal }) => {
      this.exitedWith = code ?? signal
      for (const [, pending] of this.requests) pending.reject(new Error(`${this.name} exited (${code ?? signal}) before it answered ${pending.type}${this.describeStderr()}`))
      this.requests.clear()
      this.emit('exited')
    })
    this.child.on('message', (message) => {
      if (message.rid !== undefined) {
        const pending = this.requests.get(message.rid)
        if (pending === undefined) return
        this.requests.delete(message.rid)
        if (message.error) pending.reject(new Error(`${this.name}: ${pending.type}: ${message.error}`))
        else pending.resolve(message)
        return
      }
      if (message.type === 'note' || message.type === 'fatal') this.notes.push(`${message.type}: ${message.message}`)
      this.emit(message.type, message)
    })
  }

  describeStderr () {
    const tail = this.stderr.trim().split('\n').slice(-5).join(' | ')
    return tail ? `; stderr: ${tail}` : ''
  }

  get alive () { return this.child.exitCode === null && this.child.signalCode === null }

  request (type, fields = {}, timeoutMs = STEP_MS) {
    if (!this.alive) return Promise.reject(new Error(`${this.name} is not running`))
    const rid = ++this.nextRid
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.requests.delete(rid)
        reject(new Error(`${this.name}: no answer to ${type} in ${timeoutMs} ms (hung?)${this.describeStderr()}`))
      }, timeoutMs)
      this.requests.set(rid, {
        type,
        resolve: (value) => { clearTimeout(timer); resolve(value) },
        reject: (error) => { clearTimeout(timer); reject(error) }
      })
      this.child.send({ ...fields, type, rid })
    })
  }

  // The next message of `type` this process sends by itself.
  next (type, timeoutMs = STEP_MS) {
    return new Promise((resolve, reject) => {
      const onMessage = (message) => { done(); resolve(message) }
      const onExit = () => { done(); reject(new Error(`${this.name} exited (${this.exitedWith}) before it sent ${type}${this.describeStderr()}`)) }
      const timer = setTimeout(() => { done(); reject(new Error(`${this.name}: no ${type} in ${timeoutMs} ms`)) }, timeoutMs)
      const done = () => {
        clearTimeout(timer)
        this.off(type, onMessage)
        this.off('exited', onExit)
      }
      this.on(type, onMessage)
      this.on('exited', onExit)
      if (!this.alive) onExit()
    })
  }

  kill (signal = 'SIGKILL') {
    return stopProcess(this.child, signal)
  }
}

// ---- flotilla clusters ---------------------------------------------------------------------------------------

function median (values) {
  const sorted = values.filter((v) => typeof v === 'number').sort((a, b) => a - b)
  return sorted.length ? sorted[Math.floor((sorted.length - 1) / 2)] : null
}

async function startRedis () {
  const binary = fs.existsSync('/usr/bin/redis-server') ? '/usr/bin/redis-server' : 'redis-server'
  if (spawnSync(binary, ['--version']).error) throw new Error('redis-server is not installed (apt-get install -y redis-server)')
  const port = await freePort()
  const child = track(spawn(binary, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] }))
  let output = ''
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server not ready in ${STEP_MS} ms:\n${output}`)), STEP_MS)
    child.once('error', (error) => { clearTimeout(timer); reject(error) })
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`redis-server exited with ${code} before it was ready:\n${output}`)) })
    const onData = (chunk) => {
      output += chunk
      if (output.includes('Ready to accept connections')) { clearTimeout(timer); resolve() }
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', onData)
  })
  child.removeAllListeners('exit')
  child.once('exit', () => processes.delete(child))
  child.stdout.resume()
  child.stderr.resume()
  return { url: `redis://127.0.0.1:${port}`, stop: () => stopProcess(child, 'SIGTERM') }
}

let clusterCount = 0

// Three nodes of `system`, each in its own process; resolves once they agree on a leader.
async function startFlotilla (system, context) {
  const tag = `c${++clusterCount}`
  const durable = system !== 'flotilla-tcp-volatile'
  const base = durable ? makeDirectory(`flotilla-network-${tag}-`) : null
  let channels
  if (system === 'flotilla-redis-durable') {
    const channel = { name: 'redis', channelName: `flotilla-network-${process.pid}-${tag}`, connectionString: context.redis.url }
    channels = Object.fromEntries(IDS.map((id) => [id, channel]))
  } else {
    const addresses = Object.fromEntries(await Promise.all(IDS.map(async (id) => [id, `127.0.0.1:${await freePort()}`])))
    channels = Object.fromEntries(IDS.map((id) => [id, {
      name: 'tcp',
      listen: addresses[id],
      peers: Object.fromEntries(IDS.filter((other) => other !== id).map((other) => [other, addresses[other]])),
      cluster: `network-bench-${tag}`,
      secret: `network-bench-secret-${process.pid}-${tag}`
    }]))
  }
  const nodes = IDS.map((id) => new Driven(`${system} ${tag} ${id}`, NODE_SCRIPT, {
    NETWORK_NODE_OPTIONS: JSON.stringify({ id, clusterSize: IDS.length, channel: channels[id], dataDir: durable ? path.join(base, id) : null, timing: TIMING })
  }))
  nodes.forEach((node, i) => { node.id = IDS[i] })
  const cluster = {
    nodes,
    leader: null,
    async stop () {
      await Promise.all(nodes.map((node) => node.kill()))
      if (base !== null) removeDirectory(base)
    }
  }
  try {
    await Promise.all(nodes.map((node) => Promise.race([
      node.next('ready'),
      node.next('refused').then((message) => { throw new Error(`${node.name} refused to start: ${message.message}`) })
    ])))
    cluster.leader = await agreedLeader(nodes)
  } catch (error) {
    await cluster.stop()
    throw error
  }
  return cluster
}

async function agreedLeader (nodes, timeoutMs = STEP_MS) {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    const answers = await Promise.all(nodes.filter((node) => node.alive).map(async (node) => ({ node, status: (await node.request('status')).status })))
    const leaders = answers.filter(({ status }) => status && status.state === 'LEADER')
    if (leaders.length === 1) {
      const { node: leader, status: leading } = leaders[0]
      if (answers.every(({ status }) => status && status.leader === leader.id && status.term === leading.term)) return leader
    }
    if (performance.now() > deadline) throw new Error(`no leader that every node agrees on in ${timeoutMs} ms: ${JSON.stringify(answers.map(({ node, status }) => [node.id, status]))}`)
    await sleep(20)
  }
}

// The first `type` message from any of `nodes` (rejects when none comes).
function firstOf (nodes, type, timeoutMs) {
  return Promise.any(nodes.map((node) => node.next(type, timeoutMs))).catch((error) => {
    throw new Error(`no ${type} from ${nodes.map((node) => node.name).join(', ')} in ${timeoutMs} ms: ${error.errors.map((e) => e.message).join('; ')}`)
  })
}

const workloadTimeout = () => (options.seconds * 1000 + WARM_UP_MS) * 3 + STEP_MS

async function runFlotilla (system, result, context) {
  progress(`${system}: starting 3 processes`)
  const cluster = await startFlotilla(system, context)
  try {
    const { nodes, leader } = cluster
    const followers = nodes.filter((node) => node !== leader)
    result.leader = leader.id
    progress(`${system}: leader ${leader.id}; sequential appends`)
    result.seq = (await leader.request('seq', { seconds: options.seconds, warmUpMs: WARM_UP_MS }, workloadTimeout())).result
    progress(`${system}:   ${fmt(result.seq.perSecond)}/s; ${options.inFlight} in flight`)
    // The leader starts watching its loop as its measured phase starts; the followers and this process then.
    const measuring = leader.next('measuring', workloadTimeout())
    const inFlight = leader.request('inflight', { seconds: options.seconds, warmUpMs: WARM_UP_MS, inFlight: options.inFlight, burst: options.topUpBurst }, workloadTimeout())
    inFlight.catch(() => {})
    await measuring
    const baseline = monitorEventLoopDelay({ resolution: 1 })
    baseline.enable()
    await Promise.all(followers.map((node) => node.request('loopStart')))
    result.inFlight = (await inFlight).result
    baseline.disable()
    const followerLoops = await Promise.all(followers.map((node) => node.request('loopStop')))
    result.loop = {
      leader: { id: leader.id, ...result.inFlight.loop },
      followers: followers.map((node, i) => ({ id: node.id, ...followerLoops[i].loop })),
      benchProcessIdle: { maxMs: baseline.max / 1e6, p99Ms: baseline.percentile(99) / 1e6 }
    }
    delete result.inFlight.loop
    progress(`${system}:   ${fmt(result.inFlight.perSecond)}/s, leader's loop max ${fmt(result.loop.leader.maxMs, 2)} ms`)
    result.notes.push(...nodes.flatMap((node) => node.notes.map((note) => `${node.id}: ${note}`)))
  } finally {
    await cluster.stop()
  }

  result.failoverKill = []
  result.failoverClose = []
  for (let trial = 0; trial < options.failoverTrials; trial++) {
    for (const how of ['kill', 'close']) {
      try {
        const ms = await flotillaFailover(system, context, how, result.notes)
        result[how === 'kill' ? 'failoverKill' : 'failoverClose'].push(ms)
        progress(`${system}: failover (${how}) ${fmt(ms)} ms`)
      } catch (error) {
        result[how === 'kill' ? 'failoverKill' : 'failoverClose'].push(null)
        result.errors.push(`failover ${how}: ${error.message}`)
        progress(`${system}: failover (${how}) failed: ${error.message}`)
      }
    }
  }
}

// A fresh cluster; the leader killed (SIGKILL) or closed: ms until a new leader committed an append.
async function flotillaFailover (system, context, how, notes) {
  const cluster = await startFlotilla(system, context)
  try {
    const { nodes, leader } = cluster
    await leader.request('warm', { count: 100 })
    const survivors = nodes.filter((node) => node !== leader)
    await Promise.all(survivors.map((node) => node.request('watch')))
    const committed = firstOf(survivors, 'leaderCommitted', 15_000)
    committed.catch(() => {})
    let from
    if (how === 'kill') {
      from = now()
      leader.child.kill('SIGKILL')
    } else {
      from = (await leader.request('close', {}, 15_000)).at
    }
    const { at } = await committed
    if (how === 'close') {
      // A closed node leaves nothing behind: its process ends by itself once the parent lets go of it.
      await Promise.race([leader.exit, sleep(1500)])
      if (leader.alive) notes.push(`the closed leader's process (${leader.name}) had not exited 1.5 s after close() resolved`)
    }
    return at - from
  } finally {
    notes.push(...cluster.nodes.flatMap((node) => node.notes.map((note) => `failover (${how}) ${node.id}: ${note}`)))
    await cluster.stop()
  }
}

// ---- etcd -----------------------------------------------------------------------------------------------------

function etcdBinary () {
  const works = () => !spawnSync('etcd', ['--version'], { stdio: 'ignore' }).error
  if (works()) return 'etcd'
  if (typeof process.getuid === 'function' && process.getuid() === 0) {
    progress('etcd: not installed; apt-get install -y etcd-server')
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
    const install = () => spawnSync('apt-get', ['install', '-y', 'etcd-server'], { stdio: ['ignore', 'ignore', 'inherit'], env, timeout: 300_000 })
    if (install().status !== 0) {
      spawnSync('apt-get', ['update'], { stdio: ['ignore', 'ignore', 'inherit'], env, timeout: 300_000 })
      install()
    }
    if (works()) return 'etcd'
  }
  return null
}

function etcdClientInstalled () {
  // Asked of a fresh process each time: this one's module loader remembers a package.json it did not find.
  const resolves = () => spawnSync(process.execPath, ['-e', 'require.resolve("etcd3")'], { cwd: here, stdio: 'ignore' }).status === 0
  if (resolves()) return true
  progress('etcd: npm install --no-save etcd3 (the client; not a dependency of flotilla)')
  spawnSync('npm', ['install', '--no-save', '--no-audit', '--no-fund', '--ignore-scripts', 'etcd3'], { cwd: repo, stdio: ['ignore', 'ignore', 'inherit'], timeout: 300_000 })
  return resolves()
}

async function startEtcd (binary, driver) {
  const tag = `e${++clusterCount}`
  const base = makeDirectory(`flotilla-network-etcd-${tag}-`)
  const members = await Promise.all(['m1', 'm2', 'm3'].map(async (name) => ({
    name,
    client: `http://127.0.0.1:${await freePort()}`,
    peer: `http://127.0.0.1:${await freePort()}`,
    dataDir: path.join(base, name),
    stderr: ''
  })))
  const initialCluster = members.map(({ name, peer }) => `${name}=${peer}`).join(',')
  for (const member of members) {
    member.child = track(spawn(binary, [
      '--name', member.name,
      '--data-dir', member.dataDir,
      '--listen-client-urls', member.client,
      '--advertise-client-urls', member.client,
      '--listen-peer-urls', member.peer,
      '--initial-advertise-peer-urls', member.peer,
      '--initial-cluster', initialCluster,
      '--initial-cluster-state', 'new',
      '--initial-cluster-token', `flotilla-network-${process.pid}-${tag}`,
      '--heartbeat-interval', String(ETCD_TIMING.heartbeatMs),
      '--election-timeout', String(ETCD_TIMING.electionMs),
      '--logger', 'zap',
      '--log-outputs', 'stderr',
      '--log-level', 'error'
    ], { stdio: ['ignore', 'ignore', 'pipe'] }))
    member.child.stderr.on('data', (chunk) => { member.stderr = (member.stderr + chunk).slice(-4000) })
  }
  const cluster = {
    members,
    leader: null,
    async stop () {
      await driver.request('forget').catch(() => {})
      await Promise.all(members.map((member) => stopProcess(member.child, 'SIGKILL')))
      removeDirectory(base)
    }
  }
  try {
    cluster.leader = await etcdLeader(driver, members)
  } catch (error) {
    const logs = members.map((member) => `${member.name} (${member.child.exitCode ?? member.child.signalCode ?? 'running'}): ${member.stderr.trim().split('\n').slice(-3).join(' | ')}`).join('; ')
    await cluster.stop()
    throw new Error(`${error.message}; ${logs}`)
  }
  return cluster
}

async function etcdLeader (driver, members, timeoutMs = STEP_MS) {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    const { url } = await driver.request('leader', { urls: members.map((member) => member.client) })
    if (url) return members.find((member) => member.client === url)
    if (performance.now() > deadline) throw new Error(`etcd: no leader that every member agrees on in ${timeoutMs} ms`)
    await sleep(50)
  }
}

async function runEtcd (result) {
  const binary = etcdBinary()
  if (binary === null) {
    result.unavailable = 'etcd: not available (install etcd-server)'
    progress(result.unavailable)
    return
  }
  if (!etcdClientInstalled()) {
    result.unavailable = 'etcd: not available (the npm package etcd3 could not be installed)'
    progress(result.unavailable)
    return
  }
  result.version = (spawnSync(binary, ['--version'], { encoding: 'utf8' }).stdout || '').split('\n')[0].replace('etcd Version: ', '')
  const driver = new Driven('etcd client', ETCD_SCRIPT, {})
  try {
    await driver.next('ready')
    progress(`etcd ${result.version}: starting 3 members`)
    const cluster = await startEtcd(binary, driver)
    try {
      result.leader = cluster.leader.name
      progress(`etcd: leader ${cluster.leader.name}; sequential puts`)
      result.seq = (await driver.request('seq', { url: cluster.leader.client, seconds: options.seconds, warmUpMs: WARM_UP_MS }, workloadTimeout())).result
      progress(`etcd:   ${fmt(result.seq.perSecond)}/s; ${options.inFlight} in flight`)
      result.inFlight = (await driver.request('inflight', { url: cluster.leader.client, seconds: options.seconds, warmUpMs: WARM_UP_MS, inFlight: options.inFlight, burst: options.topUpBurst }, workloadTimeout())).result
      progress(`etcd:   ${fmt(result.inFlight.perSecond)}/s`)
      for (const r of [result.seq, result.inFlight]) if (r.failures > 0) result.notes.push(`${r.failures} puts failed: ${r.firstFailure}`)
    } finally {
      await cluster.stop()
    }
    result.failoverKill = []
    for (let trial = 0; trial < options.failoverTrials; trial++) {
      try {
        const ms = await etcdFailover(binary, driver)
        result.failoverKill.push(ms)
        progress(`etcd: failover (kill) ${fmt(ms)} ms`)
      } catch (error) {
        result.failoverKill.push(null)
        result.errors.push(`failover kill: ${error.message}`)
        progress(`etcd: failover (kill) failed: ${error.message}`)
      }
    }
  } finally {
    await driver.kill()
  }
}

async function etcdFailover (binary, driver) {
  const cluster = await startEtcd(binary, driver)
  try {
    const survivors = cluster.members.filter((member) => member !== cluster.leader)
    // A warm-up like flotilla's: puts through the leader for 100 ms.
    await driver.request('seq', { url: cluster.leader.client, seconds: 0.1, warmUpMs: 0 })
    const committed = driver.next('putCommitted', 15_000)
    committed.catch(() => {})
    // The client process kills the leader itself and then puts to the survivors, so no IPC is timed.
    await driver.request('probe', { urls: survivors.map((member) => member.client), killPid: cluster.leader.child.pid })
    const { from, at } = await committed
    return at - from
  } finally {
    await cluster.stop()
  }
}

// ---- the report -----------------------------------------------------------------------------------------------

function fmt (value, digits = 0) {
  return value === null || value === undefined || Number.isNaN(value) ? '-' : Number(value).toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
}

function failoverCell (trials) {
  if (!trials || trials.length === 0) return '-'
  const m = median(trials)
  return m === null ? 'failed' : fmt(m)
}

function report (results, meta) {
  const lines = []
  const log = (line = '') => lines.push(line)
  log(`network benchmark: 3 processes on this machine (${os.cpus().length} cores), 64-byte entries, ${options.seconds} s per workload (node ${process.version})`)
  log(`timing: election timeout ${TIMING.electionTimeout.min}-${TIMING.electionTimeout.max} ms, heartbeat ${TIMING.heartbeatInterval} ms (etcd: --heartbeat-interval ${ETCD_TIMING.heartbeatMs} --election-timeout ${ETCD_TIMING.electionMs}); failover: median of ${options.failoverTrials} trials, each on a fresh cluster`)
  log(`load average when the run ended (1, 5, 15 min): ${os.loadavg().map((v) => fmt(v, 2)).join(', ')} (other work on the machine skews every number)`)
  if (meta.tmpfs) log(`warning: ${os.tmpdir()} is a tmpfs: fsync costs nothing there`)
  log()
  const header = ['system', 'seq/s', `${options.inFlight}-in-flight/s`, 'leader loop max ms', 'failover kill ms', 'failover close ms']
  const widths = [24, 10, 17, 19, 17, 18]
  const row = (cells) => cells.map((cell, i) => (i === 0 ? String(cell).padEnd(widths[i]) : String(cell).padStart(widths[i]))).join(' ')
  log(row(header))
  for (const name of SYSTEMS) {
    const r = results[name]
    if (!r) continue
    if (r.unavailable) {
      log(row([name, '-', '-', '-', '-', '-']) + `   ${r.unavailable}`)
      continue
    }
    log(row([
      name,
      r.seq ? fmt(r.seq.perSecond) : 'error',
      r.inFlight ? fmt(r.inFlight.perSecond) : 'error',
      r.loop ? fmt(r.loop.leader.maxMs, 2) : '-',
      failoverCell(r.failoverKill),
      failoverCell(r.failoverClose)
    ]))
  }

  const loops = SYSTEMS.filter((name) => results[name]?.loop)
  if (loops.length) {
    log()
    log(`event loop during ${fmt(options.inFlight)} in flight, monitorEventLoopDelay max (p99) in ms, per process; the bench's own idle process is the baseline:`)
    for (const name of loops) {
      const { leader, followers, benchProcessIdle } = results[name].loop
      const cell = (l) => `${fmt(l.maxMs, 2)} (${fmt(l.p99Ms, 2)})`
      log(`  ${name.padEnd(24)} leader ${leader.id} ${cell(leader)}; ${followers.map((f) => `${f.id} ${cell(f)}`).join(', ')}; idle baseline ${cell(benchProcessIdle)}`)
    }
    log(`garbage collection during ${fmt(options.inFlight)} in flight, per process: collections, longest pause (each blocks the event loop), time paused:`)
    for (const name of loops) {
      const { leader, followers } = results[name].loop
      const cell = (l) => l.gc ? `${fmt(l.gc.count)}, ${fmt(l.gc.maxMs, 2)} ms, ${fmt(l.gc.totalMs)} ms` : '-'
      log(`  ${name.padEnd(24)} leader ${leader.id} ${cell(leader)}; ${followers.map((f) => `${f.id} ${cell(f)}`).join('; ')}`)
    }
    log(`CPU during ${fmt(options.inFlight)} in flight, % of one core: whole process (JS thread alone):`)
    for (const name of loops) {
      const { leader, followers } = results[name].loop
      const cell = (l) => `${fmt(l.cpuPercent)}% (${fmt(l.jsThreadCpuPercent)}%)`
      log(`  ${name.padEnd(24)} leader ${leader.id} ${cell(leader)}; ${followers.map((f) => `${f.id} ${cell(f)}`).join(', ')}`)
    }
  }
  const trials = SYSTEMS.filter((name) => results[name]?.failoverKill?.length)
  if (trials.length) {
    log()
    log('failover trials (ms):')
    for (const name of trials) {
      const r = results[name]
      const list = (values) => values.map((v) => (v === null ? 'failed' : fmt(v))).join(', ')
      log(`  ${name.padEnd(24)} kill ${list(r.failoverKill)}${r.failoverClose ? `; close ${list(r.failoverClose)}` : ''}`)
    }
  }

  log()
  log(`${'ratio / goal'.padEnd(64)} ${'value'.padStart(12)} ${'goal'.padStart(12)}  status`)
  for (const g of meta.goals) {
    log(`${g.label.padEnd(64)} ${g.value.padStart(12)} ${g.goal.padStart(12)}  ${g.status}`)
  }
  const problems = SYSTEMS.filter((name) => results[name] && (results[name].errors.length || results[name].notes.length))
  if (problems.length) {
    log()
    for (const name of problems) {
      for (const error of results[name].errors) log(`${name}: error: ${error}`)
      for (const note of results[name].notes) log(`${name}: ${note}`)
    }
  }
  return lines.join('\n')
}

function goals (results) {
  const rate = (name, key) => results[name]?.[key]?.perSecond ?? null
  const out = []
  const ratio = (label, a, b, target) => {
    const value = a !== null && b !== null && b > 0 ? a / b : null
    out.push({
      label,
      ratio: value,
      target,
      value: value === null ? '-' : `${fmt(value, 1)}x`,
      goal: target === null ? '' : `>= ${target}x`,
      status: target === null ? '' : value === null ? 'n/a' : value >= target ? 'met' : 'not met'
    })
  }
  const floor = (label, value, target) => out.push({
    label,
    measured: value,
    target,
    value: value === null ? '-' : `${fmt(value)}/s`,
    goal: `>= ${fmt(target)}/s`,
    status: value === null ? 'n/a' : value >= target ? 'met' : 'not met'
  })
  const durable = 'flotilla-tcp-durable'
  ratio('durable seq: tcp-durable / etcd', rate(durable, 'seq'), rate('etcd', 'seq'), 5)
  ratio('durable seq: tcp-durable / redis-durable', rate(durable, 'seq'), rate('flotilla-redis-durable', 'seq'), null)
  floor('durable seq: tcp-durable', rate(durable, 'seq'), 2500)
  ratio('durable 1000 in flight: tcp-durable / etcd', rate(durable, 'inFlight'), rate('etcd', 'inFlight'), 50)
  ratio('durable 1000 in flight: tcp-durable / redis-durable', rate(durable, 'inFlight'), rate('flotilla-redis-durable', 'inFlight'), null)
  floor('durable 1000 in flight: tcp-durable', rate(durable, 'inFlight'), 150_000)
  floor('no fsync seq: tcp-volatile', rate('flotilla-tcp-volatile', 'seq'), 20_000)
  floor('no fsync 1000 in flight: tcp-volatile', rate('flotilla-tcp-volatile', 'inFlight'), 300_000)
  // monitorEventLoopDelay's max is the longest interval between runs of its 1 ms timer: it counts that 1 ms
  // itself, so the longest block is judged as max - 1 ms.
  for (const name of ['flotilla-tcp-durable', 'flotilla-tcp-volatile']) {
    const loop = results[name]?.loop
    const block = loop ? Math.max(0, loop.leader.maxMs - 1) : null
    out.push({
      label: `loop block at 1000 in flight, ${name.replace('flotilla-', '')} leader (max - 1 ms)`,
      measured: block,
      target: 1,
      value: block === null ? '-' : `${fmt(block, 2)} ms`,
      goal: '< 1 ms',
      status: block === null ? 'n/a' : block < 1 ? 'met' : 'not met'
    })
  }
  return out
}

async function main () {
  const systems = SYSTEMS.filter((name) => !options.only || options.only.includes(name))
  const meta = { tmpfs: false }
  try {
    meta.tmpfs = fs.statfsSync(os.tmpdir()).type === 0x01021994
  } catch {}
  const results = {}
  const context = {}
  try {
    for (const system of systems) {
      const result = results[system] = { errors: [], notes: [] }
      try {
        if (system === 'etcd') {
          await runEtcd(result)
        } else if (system === 'flotilla-redis-durable') {
          context.redis = await startRedis()
          try {
            await runFlotilla(system, result, context)
          } finally {
            await context.redis.stop()
            context.redis = null
          }
        } else {
          await runFlotilla(system, result, context)
        }
      } catch (error) {
        result.errors.push(error.message)
        progress(`${system}: error: ${error.message}`)
      }
    }
  } finally {
    await Promise.all([...processes].map((child) => stopProcess(child, 'SIGKILL')))
    for (const dir of [...directories]) removeDirectory(dir)
  }
  meta.goals = goals(results)
  if (options.json) {
    const summary = {
      bench: 'network',
      node: process.version,
      cores: os.cpus().length,
      loadAverage: os.loadavg(),
      options: { seconds: options.seconds, failoverTrials: options.failoverTrials, topUpBurst: options.topUpBurst, inFlight: options.inFlight, entryBytes: 64, timing: TIMING, etcdTiming: ETCD_TIMING },
      results,
      goals: meta.goals.map(({ label, ratio, measured, target, status }) => ({ label, value: ratio ?? measured ?? null, target, status: status || null }))
    }
    console.log(JSON.stringify(summary))
  } else {
    console.log(report(results, meta))
  }
}

main().catch((error) => {
  console.error(error)
  process.exitCode = 1
})
