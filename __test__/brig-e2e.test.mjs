// End to end, in the spirit of brig's own test: twelve nodes, each with a real JSON-RPC server on its own TCP
// port, wired the way brig's README wires them: the server serves `cluster.createProtocolMapping()`, and each
// peer's `tx(id, msg)` invokes `msg.constructor.method` with `[msg]` on a pooled client. One leader is elected,
// every node broadcasts, and all twelve logs must end with the same twelve entries in the same order.
// No fixed sleeps: every wait resolves on events. BRIG_E2E_RUNS=50 repeats it (brig's own passed about 22 of 26).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import { randomUUID } from 'node:crypto'
import { brig, waitFor, commitRecorder, leaderWatch } from './brig-support.mjs'

const { consensus, roles } = brig
const NODES = 12
const RUNS = Number.parseInt(process.env.BRIG_E2E_RUNS || '3', 10)

// ---- a small JSON-RPC 2.0 over TCP, one JSON object per line ----

function lines (socket, onLine) {
  let buffered = ''
  socket.setEncoding('utf8')
  socket.on('data', (chunk) => {
    buffered += chunk
    let newline
    while ((newline = buffered.indexOf('\n')) !== -1) {
      const line = buffered.slice(0, newline)
      buffered = buffered.slice(newline + 1)
      if (line !== '') onLine(line)
    }
  })
}

/** A server that calls `handlers[method](...params, callback)` and answers with the callback's result. */
class RpcServer {
  constructor (handlers) {
    this.handlers = handlers
    this.sockets = new Set()
    this.server = net.createServer((socket) => {
      this.sockets.add(socket)
      socket.on('close', () => this.sockets.delete(socket))
      socket.on('error', () => {}) // a peer that goes away mid-message
      lines(socket, (line) => this._call(socket, line))
    })
  }

  _call (socket, line) {
    let request
    try {
      request = JSON.parse(line)
    } catch {
      return this._answer(socket, { jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error' } })
    }
    const handler = Object.hasOwn(this.handlers, request.method) ? this.handlers[request.method] : undefined
    if (typeof handler !== 'function') {
      return this._answer(socket, { jsonrpc: '2.0', id: request.id, error: { code: -32601, message: 'Method not found' } })
    }
    handler(...(Array.isArray(request.params) ? request.params : []), (error, result) => {
      if (error) this._answer(socket, { jsonrpc: '2.0', id: request.id, error: { code: -32000, message: error.message } })
      else this._answer(socket, { jsonrpc: '2.0', id: request.id, result: result === undefined ? null : result })
    })
  }

  _answer (socket, response) {
    if (!socket.destroyed) socket.write(JSON.stringify(response) + '\n')
  }

  listen () {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject)
      this.server.listen(0, '127.0.0.1', () => resolve(this.server.address().port))
    })
  }

  close () {
    for (const socket of this.sockets) socket.destroy()
    return new Promise((resolve) => this.server.close(() => resolve()))
  }
}

/** A client that sends requests in order on one connection (Node queues writes until it connects). */
class RpcClient {
  constructor (port) {
    this.nextId = 1
    this.errors = []
    this.socket = net.connect(port, '127.0.0.1')
    this.socket.setNoDelay(true)
    this.socket.on('error', (error) => this.errors.push(error))
    lines(this.socket, (line) => {
      const response = JSON.parse(line)
      if (response.error) this.errors.push(new Error(response.error.message))
    })
  }

  get broken () {
    return this.socket.destroyed
  }

  invoke (method, params) {
    this.socket.write(JSON.stringify({ jsonrpc: '2.0', id: this.nextId++, method, params }) + '\n')
  }

  close () {
    this.socket.destroy()
  }
}

// ---- the test ----

async function startNode () {
  const cluster = new consensus.Cluster(randomUUID())
  const server = new RpcServer(cluster.createProtocolMapping())
  const port = await server.listen()
  return { cluster, server, port, pool: new Map(), closed: false }
}

// brig's transmitter: a client per peer, created on first use, replaced when its connection broke.
function transmitter (node, portOf) {
  return (id, msg) => {
    if (node.closed) return
    let client = node.pool.get(id)
    if (client === undefined || client.broken) {
      client = new RpcClient(portOf.get(id))
      node.pool.set(id, client)
    }
    client.invoke(msg.constructor.method, [msg])
  }
}

async function closeAll (nodes) {
  for (const node of nodes) node.closed = true
  await Promise.all(nodes.map((node) => node.cluster.close()))
  for (const node of nodes) for (const client of node.pool.values()) client.close()
  await Promise.all(nodes.map((node) => node.server.close()))
}

for (let run = 1; run <= RUNS; run++) {
  test(`12 nodes over TCP JSON-RPC elect one leader and agree on every broadcast (run ${run} of ${RUNS})`, { timeout: 60000 }, async (t) => {
    const nodes = []
    t.after(() => closeAll(nodes))
    for (let i = 0; i < NODES; i++) nodes.push(await startNode())
    const portOf = new Map(nodes.map((node) => [node.cluster.id, node.port]))
    for (const node of nodes) {
      for (const other of nodes) {
        if (other !== node) node.cluster.addPeer(new consensus.Peer(other.cluster.id, transmitter(node, portOf)))
      }
    }
    const clusters = nodes.map((node) => node.cluster)
    const commits = commitRecorder(clusters)
    const watch = leaderWatch(clusters)

    for (const cluster of clusters) cluster.join()
    await waitFor(clusters, () => {
      const leader = clusters[0].state.currentLeader
      return leader !== null && clusters.every((c) => c.state.currentLeader === leader)
    })
    const leaders = clusters.filter((c) => c.state.currentRole === roles.Leader)
    assert.equal(leaders.length, 1, 'one leader')
    assert.equal(leaders[0].id, clusters[0].state.currentLeader)

    for (const cluster of clusters) assert.equal(cluster.broadcast({ from: cluster.id }), true)
    await waitFor(clusters, () => [...commits.values()].every((list) => list.length >= NODES))

    watch.check()
    const expected = clusters[0].state.log.entries
    assert.equal(expected.length, NODES)
    assert.deepEqual(expected.map((e) => e.data.payload.from).sort(), clusters.map((c) => c.id).sort(),
      'each node\'s broadcast once')
    for (const cluster of clusters) {
      assert.deepEqual(cluster.state.log.entries, expected, 'the same entries in the same order')
      assert.equal(cluster.state.commitLength, NODES)
      assert.deepEqual(commits.get(cluster.id), expected.map((e) => e.data.payload), 'committed in log order')
    }
    for (const node of nodes) {
      for (const client of node.pool.values()) assert.deepEqual(client.errors, [], 'every RPC was answered without error')
    }
  })
}
