// Linearizable reads across a partition of the leader (Raft thesis 6.4): clients read and write through every node
// of a 3-node cluster while the leader is cut off from the others, and after the partition heals. A history of
// every call (invoked, completed, index) is checked: no read returns an index older than a write, or a read, that
// completed before it started, and the node's state machine holds the entries up to the index it returned. Reads
// may fail during the partition, with a typed error; none may succeed with a stale index.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { STEADY, uniqueName, testBusCluster, electLeader, stableLeader, allDiscovered } from './gaggle-support.mjs'

const require = createRequire(import.meta.url)
const { CODES } = require('../lib/engine/errors')

const CALL_TIMEOUT_MS = 300
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
// A client lets the event loop turn between its calls: a read served at once (from the lease) resolves in a
// microtask, and a loop of those alone would never let a timer or a message through.
const nextTurn = () => new Promise((resolve) => setImmediate(resolve))

// Every call of the clients: {kind: 'write' | 'read', node, lease, invokedAt, completedAt, index, error}.
class History {
  constructor () {
    this.calls = []
  }

  async record (kind, node, lease, call) {
    const entry = { kind, node: node.id, lease, invokedAt: performance.now(), completedAt: null, index: null, error: null }
    this.calls.push(entry)
    try {
      entry.index = await call()
    } catch (error) {
      entry.error = error
    }
    entry.completedAt = performance.now()
    return entry
  }

  succeeded (kind) {
    return this.calls.filter((call) => call.kind === kind && call.error === null)
  }
}

// For calls that succeeded: a function of a time that gives the call with the highest index among those completed
// before it (null for none), by binary search over the calls in order of completion.
function newestCompleted (calls) {
  const byCompletion = [...calls].sort((a, b) => a.completedAt - b.completedAt)
  const newest = []
  for (const call of byCompletion) {
    const previous = newest[newest.length - 1]
    newest.push(previous !== undefined && previous.index >= call.index ? previous : call)
  }
  return (time) => {
    let low = 0
    let high = byCompletion.length // the calls before `low` completed before `time`; those from `high` did not
    while (low < high) {
      const middle = (low + high) >> 1
      if (byCompletion[middle].completedAt < time) low = middle + 1
      else high = middle
    }
    return low === 0 ? null : newest[low - 1]
  }
}

// A client per node that writes (appends with a request id, which resolve with their index) and one that reads,
// ReadIndex and lease reads in turn, until `running()` is false. A read checks the node's state machine when it
// resolves: every entry up to the index it returned was emitted to 'committed'.
function startClients (nodes, history, running) {
  const applied = new Map(nodes.map((node) => [node, []]))
  for (const node of nodes) node.on('committed', (entry, index) => { applied.get(node)[index] = entry.data })
  const unapplied = []
  const writer = async (node) => {
    for (let i = 0; running(); i++) {
      await history.record('write', node, false, () =>
        node.append({ from: node.id, i }, { requestId: uniqueName(node.id), timeout: CALL_TIMEOUT_MS }))
      await nextTurn()
    }
  }
  const reader = async (node) => {
    for (let i = 0; running(); i++) {
      const lease = i % 2 === 1
      await history.record('read', node, lease, async () => {
        const index = await node.read({ lease, timeout: CALL_TIMEOUT_MS })
        const log = applied.get(node)
        if (index >= log.length) unapplied.push(index) // 'committed' comes in order, from index 0
        return index
      })
      await nextTurn()
    }
  }
  return Promise.all(nodes.flatMap((node) => [writer(node), reader(node)])).then(() => unapplied)
}

test('reads through every node while the leader is partitioned and healed: never a stale success', { timeout: 60_000 }, async (t) => {
  const { bus, nodes } = testBusCluster(t, 3, { ...STEADY, leaseReads: true })
  const oldLeader = await electLeader(nodes)
  await allDiscovered(nodes)
  const others = nodes.filter((node) => node !== oldLeader)
  const history = new History()
  let running = true
  const clients = startClients(nodes, history, () => running)

  await sleep(500)
  const oldTerm = oldLeader._currentTerm
  const partitionedAt = performance.now()
  const heal = bus.isolate(oldLeader)
  const newLeader = await stableLeader(others)
  // The majority goes on under its new leader; the old one, cut off, must serve no read meanwhile.
  await sleep(1500)
  const healedAt = performance.now()
  heal()
  await sleep(1000)
  running = false
  const unapplied = await clients

  const writes = history.succeeded('write')
  const reads = history.succeeded('read')
  // The history is rich enough to catch a stale read: the old leader served reads before the partition, the new
  // leader acknowledged writes during it, and the old leader was asked to read after those.
  const during = (call) => call.invokedAt >= partitionedAt && call.completedAt <= healedAt
  assert.ok(reads.some((call) => call.node === oldLeader.id && call.completedAt < partitionedAt), 'reads on the old leader before')
  const majorityWrites = writes.filter((call) => during(call) && call.node !== oldLeader.id)
  assert.ok(majorityWrites.length > 0, 'writes acknowledged by the majority during the partition')
  const firstMajorityWrite = Math.min(...majorityWrites.map((call) => call.completedAt))
  const askedOldLeader = history.calls.filter((call) => call.kind === 'read' && call.node === oldLeader.id &&
    call.invokedAt > firstMajorityWrite && call.completedAt <= healedAt)
  assert.ok(askedOldLeader.length > 0, 'reads asked of the old leader after the majority moved on')
  for (const call of askedOldLeader) {
    assert.ok(call.error !== null, `the cut-off old leader served a read (index ${call.index}) after the majority moved on`)
    assert.equal(call.error.code, CODES.TIMEOUT, call.error.message)
  }
  for (const node of others) {
    assert.ok(reads.some((call) => call.node === node.id && during(call)), `${node.id} served reads during the partition`)
  }
  for (const node of nodes) {
    assert.ok(reads.some((call) => call.node === node.id && call.invokedAt > healedAt), `${node.id} served reads after healing`)
  }
  assert.ok(newLeader._currentTerm > oldTerm, 'a new term began during the partition')

  // Linearizability of the reads: each at least as new as every write and every read completed before it began.
  const newestBefore = newestCompleted([...writes, ...reads])
  for (const read of reads) {
    const earlier = newestBefore(read.invokedAt)
    if (earlier === null) continue
    assert.ok(read.index >= earlier.index,
      `a ${read.lease ? 'lease' : 'ReadIndex'} read on ${read.node} (invoked at ${read.invokedAt.toFixed(1)} ms) ` +
      `returned ${read.index}, older than a ${earlier.kind} on ${earlier.node} that completed at ` +
      `${earlier.completedAt.toFixed(1)} ms with ${earlier.index}`)
  }
  assert.deepEqual(unapplied, [], 'every read resolved once its node had applied the entries up to its index')
  for (const call of history.calls) {
    if (call.error === null) continue
    assert.ok([CODES.TIMEOUT, CODES.OUTCOME_UNKNOWN].includes(call.error.code), `${call.kind}: ${call.error.message}`)
  }
})
