// Appends a caller can retry safely: `append(data, {requestId, timeout})` commits once however often it is
// retried, on whichever node, and settles with the index of the one entry; every failure says by its `code`
// whether the entry may have committed. Exercised as a client would: retry every failed append under a nemesis
// that closes durable nodes (and opens them again on their data) and drops messages.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {
  gaggle, Gaggle, TestBus, TestChannel, FAST, WITHIN, memoryCluster, stableLeader, allCommitted, waitFor, rejection
} from './gaggle-support.mjs'

const CODES = ['FLOTILLA_NOT_COMMITTED', 'FLOTILLA_OUTCOME_UNKNOWN']

// A small seeded generator, so that a failing run can be replayed.
function random (seed) {
  let state = seed >>> 0
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0
    return state / 2 ** 32
  }
}

test('a request id that already committed settles at once with the original index, on any node', WITHIN, async (t) => {
  const nodes = memoryCluster(t, 3)
  await stableLeader(nodes)
  const first = await nodes[0].append('first', { requestId: 'order-1', timeout: 5000 })
  const other = await nodes[1].append('other', 5000)
  assert.equal(other, undefined, 'an append without a request id resolves with nothing, as gaggle\'s did')
  await allCommitted(nodes, 1)
  for (const node of nodes) {
    assert.equal(await node.append('first again', { requestId: 'order-1', timeout: 5000 }), first)
  }
  const log = nodes[2].getLog()
  assert.equal(log.length, 2, 'the retries appended nothing')
  assert.deepEqual(log[first], { term: log[first].term, data: 'first', id: 'req(order-1)' })
})

test('retries of one request id on one node wait together and commit once', WITHIN, async (t) => {
  const nodes = memoryCluster(t, 3)
  await stableLeader(nodes)
  const indices = await Promise.all([1, 2, 3].map(() => nodes[1].append('x', { requestId: 'same' })))
  assert.equal(new Set(indices).size, 1)
  await allCommitted(nodes, 0)
  assert.equal(nodes[0].getLog().filter((entry) => entry.id === 'req(same)').length, 1)
})

test('after the whole durable cluster restarts, a retry settles with the original index and appends nothing', WITHIN, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flotilla-request-restart-'))
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  const bus = new TestBus()
  const start = () => ['a', 'b', 'c'].map((id) => new Gaggle({
    id, channel: new TestChannel({ id, bus }), clusterSize: 3, ...FAST, dataDir: path.join(dir, id)
  }))
  let nodes = start()
  await stableLeader(nodes)
  await nodes[1].append('before', 5000)
  const original = await nodes[2].append('the request', { requestId: 'restart-1', timeout: 5000 })
  await Promise.all(nodes.map((node) => node.close()))

  nodes = start()
  t.after(() => Promise.all(nodes.map((node) => node.close())))
  await Promise.all(nodes.map((node) => node.ready()))
  assert.equal(await nodes[0].append('retried', { requestId: 'restart-1', timeout: 5000 }), original)
  await allCommitted(nodes, original)
  assert.equal(nodes[0].getLog().filter((entry) => entry.id === 'req(restart-1)').length, 1)
  assert.equal(nodes[0].getLog().length, 2)
})

test('a request id is checked at the call: a non-empty string within the byte limit', () => {
  const node = gaggle({ id: 'lonely', channel: { name: 'memory', namespace: 'request-id-args' }, clusterSize: 1, ...FAST })
  try {
    for (const requestId of ['', 42, null]) {
      assert.throws(() => node.append('x', { requestId }), /"requestId" must be a non-empty string/)
    }
    assert.throws(() => node.append('x', { requestId: 'é'.repeat(126) }), /"requestId" is 252 bytes \(UTF-8\), more than the limit of 251/)
    // Two ids that differ only in a lone surrogate would both reach the engine as U+FFFD: refused, not merged.
    for (const requestId of ['a\uD800', 'a\uDC00', '\uDFFFb']) {
      assert.throws(() => node.append('x', { requestId }), /"requestId" must be well-formed Unicode/)
    }
    assert.throws(() => node.append('x', { requestId: 'a', retries: 3 }), /unknown append option "retries"/)
    assert.throws(() => node.append('x', { timeout: '5' }), /"timeout" must be a number/)
  } finally {
    node.close()
  }
})

test('an append the engine never took is not committed; one it took and lost track of has an unknown outcome', WITHIN, async (t) => {
  const [node] = memoryCluster(t, 1, { clusterSize: 3 })
  const lost = node.append('no quorum', { requestId: 'lost', timeout: 30 })
  const lostError = await rejection(lost)
  assert.equal(lostError.message, 'Timed out before the entry was committed')
  assert.equal(lostError.code, 'FLOTILLA_OUTCOME_UNKNOWN')
  const closed = rejection(node.append('no quorum either'))
  await node.close()
  const closedError = await closed
  assert.equal(closedError.message, 'The node was closed before the entry was committed')
  assert.equal(closedError.code, 'FLOTILLA_OUTCOME_UNKNOWN')
  const refused = await rejection(node.append('after close'))
  assert.equal(refused.message, 'The node was closed before the entry was committed')
  assert.equal(refused.code, 'FLOTILLA_NOT_COMMITTED')
  const cyclic = {}
  cyclic.self = cyclic
  const [other] = memoryCluster(t, 1)
  assert.equal((await rejection(other.append(cyclic))).code, 'FLOTILLA_NOT_COMMITTED')
})

test('clients that retry every failed append with its request id, under a nemesis that closes durable nodes ' +
  'and drops messages, commit every request exactly once, at the index it settled with', { timeout: 120_000 }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flotilla-request-ids-'))
  const rng = random(20261206)
  const bus = new TestBus()
  const ids = ['a', 'b', 'c']
  const live = new Map() // id -> the node running now, or null while it is closed
  const committedBy = [] // per node instance: request id -> times committed
  let dropRate = 0.2
  bus.filter = () => rng() >= dropRate

  function open (id) {
    const node = new Gaggle({
      id, channel: new TestChannel({ id, bus }), clusterSize: 3, ...FAST, dataDir: path.join(dir, id)
    })
    const seen = new Map()
    committedBy.push({ id, node, seen })
    node.on('committed', (entry, index) => {
      if (!entry.id.startsWith('req(')) return
      const requestId = entry.id.slice(4, -1)
      const times = seen.get(requestId) || []
      times.push(index)
      seen.set(requestId, times)
    })
    node.on('error', () => {})
    live.set(id, node)
    return node
  }
  t.after(async () => {
    await Promise.all([...live.values()].filter(Boolean).map((node) => node.close()))
    fs.rmSync(dir, { recursive: true, force: true })
  })
  for (const id of ids) open(id)

  // The nemesis: every so often one node closes while appends are in flight, and opens again on its data.
  const RESTARTS = 10
  let restarts = 0
  const nemesis = (async () => {
    for (; restarts < RESTARTS; restarts++) {
      await new Promise((resolve) => setTimeout(resolve, 50 + rng() * 150))
      const id = ids[Math.floor(rng() * ids.length)]
      const node = live.get(id)
      live.set(id, null)
      await node.close()
      await new Promise((resolve) => setTimeout(resolve, rng() * 100))
      await open(id).ready()
    }
  })()

  // Clients: each sends requests one after another to a random open node, retrying each until it settles, for
  // as long as the nemesis runs.
  const errorCodes = new Map()
  const settledAt = new Map() // request id -> index its append settled with
  async function client (name) {
    for (let i = 0; restarts < RESTARTS; i++) {
      const requestId = `${name}-${i}`
      for (;;) {
        const node = live.get(ids[Math.floor(rng() * ids.length)])
        if (node === null) {
          await new Promise((resolve) => setTimeout(resolve, 5))
          continue
        }
        try {
          const index = await node.append({ requestId }, { requestId, timeout: 150 })
          settledAt.set(requestId, index)
          break
        } catch (error) {
          assert.ok(CODES.includes(error.code), `an append failed without a known code: ${error.stack}`)
          errorCodes.set(error.code, (errorCodes.get(error.code) || 0) + 1)
        }
      }
    }
  }
  await Promise.all(['x', 'y', 'z', 'w'].map((name) => client(name)))
  await nemesis
  dropRate = 0

  // Every node, once caught up, holds each request once, at the index its append settled with.
  const nodes = ids.map((id) => live.get(id))
  const lastIndex = Math.max(...settledAt.values())
  await allCommitted(nodes, lastIndex, 20_000)
  for (const node of nodes) {
    const log = node.getLog()
    for (const [requestId, index] of settledAt) {
      const copies = log.filter((entry) => entry.id === `req(${requestId})`).length
      assert.equal(copies, 1, `${requestId} is in the log of ${node.id} ${copies} times`)
      assert.deepEqual(log[index].data, { requestId }, `${requestId} settled with index ${index}, which holds it`)
    }
  }
  // Every node instance saw each request commit at most once, at that index; a node open at the end (which
  // replayed its log when it opened) saw each exactly once.
  for (const { id, node, seen } of committedBy) {
    for (const [requestId, times] of seen) {
      assert.deepEqual(times, [settledAt.get(requestId)], `${requestId} committed on ${id} at ${times}`)
    }
    if (nodes.includes(node)) {
      await waitFor(() => seen.size === settledAt.size, 5000, `every request committed on ${id}`)
    }
  }
  assert.ok(committedBy.length > ids.length, 'the nemesis closed nodes')
  t.diagnostic(`${settledAt.size} requests, ${committedBy.length - ids.length} restarts, failed attempts: ` +
    JSON.stringify([...errorCodes]))
})
