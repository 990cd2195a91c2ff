// Every error flotilla raises is an Error with a stable `code` (the README's table): the engine's own, mapped once
// in the binding, and the faces'. Each code is reached here, with its message, through the API a caller uses.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { once } from 'node:events'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createRequire } from 'node:module'
import {
  gaggle, FAST, STEADY, WITHIN, uniqueName, waitFor, rejection, thrown, memoryCluster, electLeader, trackNodes,
  TestBus, TestChannel, Gaggle
} from './gaggle-support.mjs'

const require = createRequire(import.meta.url)
const { consensus } = require('../brig.js')
const { NativeNode } = require('../lib/native')
const { CODES } = require('../lib/engine/errors')

const NATIVE_OPTIONS = { id: 'a', clusterSize: 3, electionTimeoutMin: 1000, electionTimeoutMax: 2000, heartbeatInterval: 50 }

function tempDir (t, prefix) {
  const dir = mkdtempSync(path.join(tmpdir(), prefix))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

function soloNode (t, extra = {}) {
  const channel = { name: 'memory', namespace: uniqueName('solo') }
  const node = gaggle({ id: extra.id || 'solo', channel, clusterSize: 1, ...FAST, ...extra })
  t.after(() => node.close())
  return node
}

test('every code in the table is a FLOTILLA_ name, and no two share one', () => {
  const codes = Object.values(CODES)
  assert.ok(codes.every((code) => /^FLOTILLA_[A-Z_]+$/.test(code)), codes.join(' '))
  assert.equal(new Set(codes).size, codes.length)
})

test('FLOTILLA_INVALID_ARGUMENT: bad options and arguments keep their messages, and TypeError where it was one', (t) => {
  const options = thrown(() => gaggle({ id: 'a', channel: { name: 'carrier-pigeon' } }))
  assert.equal(options.code, CODES.INVALID_ARGUMENT)
  assert.equal(options.message, 'Invalid options: "name" must be one of [memory, socket.io, redis]')
  const node = soloNode(t)
  const argument = thrown(() => node.append('x', 10, 'not a function'))
  assert.ok(argument instanceof TypeError)
  assert.equal(argument.code, CODES.INVALID_ARGUMENT)
  assert.equal(argument.message, 'Invalid arguments: "callback" must be a Function')
  const requestId = thrown(() => node.append('x', { requestId: '' }))
  assert.ok(requestId instanceof TypeError)
  assert.equal(requestId.code, CODES.INVALID_ARGUMENT)
  assert.equal(requestId.message, 'Invalid arguments: "requestId" must be a non-empty string')
  const channel = thrown(() => new (require('../lib/channels/memory'))({}))
  assert.deepEqual([channel.code, channel.message], [CODES.INVALID_ARGUMENT, 'Invalid options: "id" is required'])
  const brigOption = thrown(() => new consensus.Cluster('a', [], undefined, { colour: 'red' }))
  assert.ok(brigOption instanceof TypeError)
  assert.equal(brigOption.code, CODES.INVALID_ARGUMENT)
  assert.equal(brigOption.message, 'flotilla/brig: unknown Cluster option "colour"')
  const native = thrown(() => new NativeNode({ ...NATIVE_OPTIONS, clusterSize: 0 }))
  assert.equal(native.code, CODES.INVALID_ARGUMENT)
  assert.match(native.message, /^Invalid options: "clusterSize" must be between 1 and \d+, not 0$/)
})

test('a refused append says by its code that it did not commit, and by its cause why (FLOTILLA_TOO_LARGE)', WITHIN,
  async (t) => {
  const node = soloNode(t, { maxMessageBytes: 1000 })
  await node.ready()
  const error = await rejection(node.append('x'.repeat(2000)))
  assert.equal(error.code, CODES.NOT_COMMITTED)
  assert.equal(error.cause.code, CODES.TOO_LARGE)
  assert.match(error.message, /^the entry is \d+ bytes, more than the limit of 1000$/)
  assert.equal(error.cause.message, error.message)
})

test('transferLeadership: FLOTILLA_NOT_LEADER, FLOTILLA_UNKNOWN_MEMBER, FLOTILLA_ALREADY_LEADER', WITHIN, async (t) => {
  const nodes = memoryCluster(t, 3, { ...STEADY })
  const leader = await electLeader(nodes)
  const follower = nodes.find((node) => node !== leader)
  const notLeader = thrown(() => follower.transferLeadership(leader.id))
  assert.deepEqual([notLeader.code, notLeader.message], [CODES.NOT_LEADER, 'only the leader can transfer leadership'])
  const unknown = thrown(() => leader.transferLeadership('nobody'))
  assert.equal(unknown.code, CODES.UNKNOWN_MEMBER)
  assert.match(unknown.message, /is not a voter/)
  const self = thrown(() => leader.transferLeadership(leader.id))
  assert.deepEqual([self.code, self.message], [CODES.ALREADY_LEADER, 'this node is already the leader'])
})

test('transferLeadership to a name no member has says so by name, never by a node number', WITHIN, async (t) => {
  const nodes = memoryCluster(t, 3, { ...STEADY })
  const leader = await electLeader(nodes)
  const unknown = thrown(() => leader.transferLeadership('unknown'))
  assert.deepEqual(
    [unknown.code, unknown.message],
    [CODES.UNKNOWN_MEMBER, 'node "unknown" is not a voter: no member of this cluster has that name']
  )
})

test('dispatchOnLeader: FLOTILLA_TIMEOUT when nobody answers, FLOTILLA_CLOSED when the node closes', WITHIN, async (t) => {
  // One node of three: there is never a leader to run the method.
  const channel = { name: 'memory', namespace: uniqueName('alone') }
  const node = gaggle({ id: 'alone', channel, clusterSize: 3, ...STEADY })
  const timedOut = await rejection(node.dispatchOnLeader('anything', [], 50))
  assert.deepEqual([timedOut.code, timedOut.message], [CODES.TIMEOUT, 'Timed out before the rpc method returned'])
  const waiting = rejection(node.dispatchOnLeader('anything', []))
  await node.close()
  const closed = await waiting
  assert.deepEqual([closed.code, closed.message], [CODES.CLOSED, 'The node was closed before the rpc method returned'])
  const notRunning = thrown(() => node.transferLeadership('b'))
  assert.equal(notRunning.code, CODES.NOT_RUNNING)
  assert.equal(notRunning.message, 'The node is not running (it is still reading its log, or it stopped)')
})

test('the engine refuses proposals once closed (FLOTILLA_CLOSED) and misuse of its handle ' +
  '(FLOTILLA_INVALID_STATE, FLOTILLA_SNAPSHOT_REFUSED)', async () => {
  const native = new NativeNode(NATIVE_OPTIONS)
  const refused = thrown(() => native.snapshotTaken(5, '{}'))
  assert.deepEqual([refused.code, refused.message], [CODES.SNAPSHOT_REFUSED, 'no snapshot at index 5 was asked for'])
  native.start(() => {})
  const twice = thrown(() => native.start(() => {}))
  assert.deepEqual([twice.code, twice.message], [CODES.INVALID_STATE, 'the node is already started'])
  await native.close()
  const closed = thrown(() => native.propose('1'))
  assert.deepEqual([closed.code, closed.message], [CODES.CLOSED, 'the node is closed: it takes no more proposals'])
})

test('brig: FLOTILLA_NOT_RUNNING before join, FLOTILLA_CLOSED after close',
  async () => {
  const cluster = new consensus.Cluster('a', [new consensus.Peer('b', () => {})])
  const notJoined = await rejection(cluster.ready())
  assert.deepEqual([notJoined.code, notJoined.message], [CODES.NOT_RUNNING, 'flotilla/brig: the cluster has not joined'])
  const noTransfer = thrown(() => cluster.transferLeadership('b'))
  assert.equal(noTransfer.code, CODES.NOT_RUNNING)
  assert.equal(noTransfer.message, 'flotilla/brig: the cluster has not joined, is still reading its log, or is closed')
  cluster.join()
  const notJoinedRemoval = await rejection(new consensus.Cluster('x').removePeer('b'))
  assert.equal(notJoinedRemoval.code, CODES.NOT_RUNNING)
  await cluster.close()
  const rejoined = thrown(() => cluster.join())
  assert.equal(rejoined.code, CODES.CLOSED)
  assert.equal(rejoined.message, 'flotilla/brig: this cluster was closed; create a new Cluster to join again')
})

test('a failing snapshot hook is reported with FLOTILLA_SNAPSHOT_HOOK and its error as the cause', WITHIN, async (t) => {
  const failure = new Error('disk full')
  const node = soloNode(t, { snapshot: { threshold: 1, save: () => { throw failure }, restore: () => {} } })
  const reported = once(node, 'error')
  node.on('error', () => {}) // the engine asks again at every entry: later failures are expected
  await node.ready()
  await waitFor(() => node.isLeader(), 5000, 'the solo node to lead')
  await node.append('x')
  const [error] = await reported
  assert.equal(error.code, CODES.SNAPSHOT_HOOK)
  assert.equal(error.message, 'flotilla: the snapshot save() hook failed: disk full')
  assert.equal(error.cause, failure)
})

test('a log that cannot be read: FLOTILLA_STORAGE; another node\'s data directory: FLOTILLA_DATA_MISMATCH', WITHIN,
  async (t) => {
  const dir = tempDir(t, 'codes-')
  const file = path.join(dir, 'a-file')
  require('node:fs').writeFileSync(file, 'not a directory')
  const damaged = soloNode(t, { dataDir: file })
  const storage = await rejection(damaged.ready())
  assert.equal(storage.code, CODES.STORAGE)
  assert.match(storage.message, /^flotilla: the node cannot start: cannot recover the log: /)
  assert.equal(storage.cause.code, CODES.STORAGE)

  const dataDir = path.join(dir, 'data')
  const first = soloNode(t, { dataDir })
  await first.ready()
  await first.close()
  const other = soloNode(t, { id: 'someone-else', dataDir })
  const mismatch = await rejection(other.ready())
  assert.equal(mismatch.code, CODES.DATA_MISMATCH)
  assert.match(mismatch.message, /^flotilla: the node cannot start: /)
})

test('a durable node closed before it opened: ready() rejects with FLOTILLA_CLOSED', WITHIN, async (t) => {
  const node = soloNode(t, { dataDir: path.join(tempDir(t, 'codes-'), 'data') })
  const ready = rejection(node.ready())
  await node.close()
  const error = await ready
  assert.deepEqual([error.code, error.message], [CODES.CLOSED, 'The node was closed before it opened'])
})

// The host hands the engine's message texts to any channel that can carry them (`sendText`/`broadcastText`),
// not only to the memory channel class itself.
class TextChannel extends TestChannel {
  constructor (options) {
    super(options)
    this.texts = 0
  }

  sendText (nodeId, text) {
    this.texts++
    this.send(nodeId, JSON.parse(text))
  }

  broadcastText (text) {
    this.texts++
    this.broadcast(JSON.parse(text))
  }
}

test('a channel that can carry texts (sendText, broadcastText) is given the engine\'s texts', WITHIN, async (t) => {
  const bus = new TestBus()
  const track = trackNodes(t)
  const channels = ['t0', 't1'].map((id) => new TextChannel({ id, bus }))
  const nodes = channels.map((channel) => track(new Gaggle({ id: channel.id, channel, clusterSize: 2, ...FAST })))
  await electLeader(nodes)
  assert.ok(channels.every((channel) => channel.texts > 0), 'every node sent through the text methods')
})
