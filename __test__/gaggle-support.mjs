// Helpers the gaggle-face test files share: clusters on the memory channel that close themselves after the
// test, and waiting for a condition instead of sleeping.
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { randomUUID } from 'node:crypto'

const require = createRequire(import.meta.url)
export const gaggle = require('../index.js')

// Short timeouts keep elections fast; heartbeats stay well inside the election timeout.
export const FAST = { electionTimeout: { min: 40, max: 80 }, heartbeatInterval: 10 }

// Timing for scenario tests that must not depend on the machine's load: no node campaigns on its own before a
// leader has been silent for a second or more, so the first election is the test's (electLeader) and a busy
// machine cannot start another one; failover after a leader closes still happens by timeout, within 1-2 s.
export const STEADY = { electionTimeout: { min: 1000, max: 2000 }, heartbeatInterval: 20 }

// A test that waits for something that never comes fails instead of hanging the run.
export const WITHIN = { timeout: 20_000 }

export const uniqueName = (prefix) => `${prefix}-${randomUUID()}`

// Polls `predicate` on every turn of the event loop (a short timer, so timers and I/O run in between) until it
// returns a truthy value, which it resolves with; rejects after `timeoutMs`.
export async function waitFor (predicate, timeoutMs = 5000, what = 'a condition') {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await predicate()
    if (value) return value
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
}

// Closes every tracked node after the test, even a failed one, so that nothing keeps the process alive.
export function trackNodes (t) {
  const nodes = []
  t.after(() => Promise.all(nodes.map((node) => node.close())))
  return (node) => {
    nodes.push(node)
    return node
  }
}

// `count` nodes named `${prefix}0..` built by the factory on their own memory namespace; closed after the test.
export function memoryCluster (t, count, { clusterSize = count, namespace = uniqueName('ns'), prefix = 'n', ...extra } = {}) {
  const track = trackNodes(t)
  return Array.from({ length: count }, (_, i) => track(gaggle({
    id: `${prefix}${i}`,
    channel: { name: 'memory', namespace },
    clusterSize,
    ...FAST,
    ...extra
  })))
}

// The one leader that every given node agrees on; waits until there is one.
export async function stableLeader (nodes, timeoutMs = 10_000) {
  return waitFor(() => {
    const leaders = nodes.filter((node) => node.isLeader())
    if (leaders.length !== 1) return null
    const leader = leaders[0]
    const agreed = nodes.every((node) => node === leader ||
      (node._leader === leader.id && node._currentTerm === leader._currentTerm))
    return agreed ? leader : null
  }, timeoutMs, 'one leader that every node knows')
}

// Starts an election on `candidate` and waits for the leader that every node agrees on. The gaggle face has no
// startElection() (brig's does), so this asks the engine directly, once the candidate knows a majority of the
// cluster (nodes find each other by HELLO, repeated every electionTimeout.min while some are unknown).
export async function electLeader (nodes, candidate = nodes[0], timeoutMs = 10_000) {
  await waitFor(() => {
    const status = candidate.status() // null while a durable node reads its log
    if (status === null) return false
    return 2 * (status.peers.filter((peer) => peer !== null).length + 1) > status.peers.length + 1
  }, timeoutMs, `${candidate.id} to know a majority of the cluster`)
  candidate._native.campaign()
  candidate._scheduleFlush()
  return stableLeader(nodes, timeoutMs)
}

// Waits until every node has committed up to `index` (0-based).
export async function allCommitted (nodes, index, timeoutMs = 5000) {
  await waitFor(() => nodes.every((node) => node.getCommitIndex() >= index), timeoutMs,
    `commit index ${index} on ${nodes.map((n) => n.id).join(', ')} (now ${nodes.map((n) => n.getCommitIndex())})`)
}

// Asserts that all nodes hold the same log (entries `{term, data, id}`), and returns it.
export function assertSameLogs (nodes) {
  const [first, ...rest] = nodes.map((node) => node.getLog())
  for (const [i, log] of rest.entries()) assert.deepEqual(log, first, `log of ${nodes[i + 1].id} equals log of ${nodes[0].id}`)
  return first
}

// Returns what `fn` throws, or fails if it returns.
export function thrown (fn) {
  try {
    fn()
  } catch (error) {
    return error
  }
  assert.fail('expected a throw')
}

// Resolves with the rejection of `promise`, or fails if it fulfils.
export async function rejection (promise) {
  try {
    await promise
  } catch (error) {
    return error
  }
  assert.fail('expected a rejection')
}

// ---- a custom channel, written as an application would for gaggle: a subclass of the base class ----

export const ChannelInterface = require('../channels/channel-interface')
export const Gaggle = require('../lib/gaggle')

// The network of TestChannels: asynchronous, FIFO for each pair of nodes, and under the test's control:
// `bus.filter(from, to, data)` returning false drops a packet (partitions), `bus.tap` sees every delivered one.
export class TestBus {
  constructor () {
    this.channels = new Map() // id -> TestChannel
    this.queue = []
    this.scheduled = false
    this.filter = null
    this.tap = null
    this.delivered = 0
    // like a real network: packets travel as JSON text, and one JSON cannot carry fails to send
    this.serialize = false
  }

  enqueue (from, to, packet) {
    if (this.serialize) packet = JSON.parse(JSON.stringify(packet))
    this.queue.push([from, to, packet])
    if (!this.scheduled) {
      this.scheduled = true
      setImmediate(() => this.drain())
    }
  }

  drain () {
    const batch = this.queue
    this.queue = []
    this.scheduled = false
    for (const [from, to, packet] of batch) {
      if (this.filter !== null && !this.filter(from, to, packet.data)) continue
      const target = this.channels.get(to)
      if (target === undefined || !target.state.connected) continue
      this.delivered++
      if (this.tap !== null) this.tap(from, to, packet.data)
      target._recieved(from, packet)
    }
  }

  // Cuts every link between `isolated` and the other nodes (both ways); returns heal().
  isolate (...isolated) {
    const set = new Set(isolated.map((node) => typeof node === 'string' ? node : node.id))
    this.filter = (from, to) => set.has(from) === set.has(to)
    return () => { this.filter = null }
  }
}

export class TestChannel extends ChannelInterface {
  constructor ({ id, bus }) {
    super({ id, channelOptions: {} })
    this.bus = bus
    this.wanted = false
  }

  _connect () {
    this.wanted = true
    setImmediate(() => {
      if (!this.wanted || this.state.connected) return
      this.bus.channels.set(this.id, this)
      this._connected()
    })
  }

  _disconnect () {
    this.wanted = false
    setImmediate(() => {
      if (this.bus.channels.get(this.id) === this) this.bus.channels.delete(this.id)
      if (this.state.connected) this._disconnected()
      else this.emit('disconnected')
    })
  }

  _broadcast (packet) {
    for (const id of this.bus.channels.keys()) this.bus.enqueue(this.id, id, packet)
  }

  _send (nodeId, packet) {
    this.bus.enqueue(this.id, nodeId, packet)
  }
}

// `count` nodes built with the constructor on TestChannels of one TestBus; closed after the test.
export function testBusCluster (t, count, { clusterSize = count, prefix = 'n', ...extra } = {}) {
  const bus = new TestBus()
  const track = trackNodes(t)
  const nodes = Array.from({ length: count }, (_, i) => {
    const id = `${prefix}${i}`
    return track(new Gaggle({ id, channel: new TestChannel({ id, bus }), clusterSize, ...FAST, ...extra }))
  })
  return { bus, nodes }
}

// Waits until every node has bound every other one (gaggle nodes discover each other on the channel).
export async function allDiscovered (nodes, timeoutMs = 5000) {
  await waitFor(() => nodes.every((node) => node.status().peers.every((peer) => peer !== null)),
    timeoutMs, 'every node to know every other')
}

// ---- real transports ----

export async function freePort () {
  const { port, release } = await reservePort()
  await release()
  return port
}

// `count` distinct free loopback ports: held all at once while chosen (a port freed before the next is chosen
// could be chosen again), then freed.
export async function freePorts (count) {
  const reserved = await Promise.all(Array.from({ length: count }, () => reservePort()))
  await Promise.all(reserved.map(({ release }) => release()))
  return reserved.map(({ port }) => port)
}

// A loopback port held open until `release()`: nothing else in this process (a proxy listening on port 0, say)
// can be given it meanwhile. Resolves {port, release}.
export async function reservePort () {
  const net = await import('node:net')
  const server = net.createServer().listen(0, '127.0.0.1')
  await new Promise((resolve) => server.once('listening', resolve))
  return { port: server.address().port, release: () => new Promise((resolve) => server.close(resolve)) }
}

// Starts `redis-server` on a free port without persistence, with `extraArgs` as further options; resolves
// {port, url, stop()}. Throws with advice when redis-server is not installed.
export async function startRedis (extraArgs = []) {
  const { spawn, spawnSync } = await import('node:child_process')
  if (spawnSync('redis-server', ['--version']).error) {
    throw new Error('redis-server is not installed, and the redis tests need a real one: ' +
      'install it (e.g. apt-get install -y redis-server) and run the tests again')
  }
  const port = await freePort()
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...extraArgs],
    { stdio: ['ignore', 'pipe', 'inherit'] })
  let output = ''
  await new Promise((resolve, reject) => {
    child.once('error', reject)
    child.once('exit', (code) => reject(new Error(`redis-server exited with ${code} before it was ready:\n${output}`)))
    child.stdout.on('data', (chunk) => {
      output += chunk
      if (output.includes('Ready to accept connections')) resolve()
    })
  })
  child.removeAllListeners('exit')
  child.stdout.resume()
  const exited = new Promise((resolve) => child.once('exit', resolve))
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    stop () {
      child.kill('SIGTERM')
      return exited
    }
  }
}
