// The native options object as NativeNode takes it: read by napi-rs into a typed struct and checked strictly.
// Whatever a JS caller passes (wrong types, NaN, negative or huge numbers, unknown keys, huge arrays), the
// constructor throws FLOTILLA_INVALID_ARGUMENT naming the option, and never crashes the process.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const native = require('../lib/native')
const { NativeNode } = native
const { CODES } = require('../lib/engine/errors')

const BASE = { id: 'a', clusterSize: 3, electionTimeoutMin: 300, electionTimeoutMax: 500, heartbeatInterval: 50 }

const TIMINGS = ['electionTimeoutMin', 'heartbeatInterval']

function refusal (options) {
  try {
    new NativeNode(options) // eslint-disable-line no-new
  } catch (error) {
    return error
  }
  assert.fail('accepted: ' + JSON.stringify(options))
}

test('valid native options make a node, with every option the engine takes', () => {
  const node = new NativeNode({
    ...BASE,
    preVote: false,
    checkQuorum: false,
    maxInflightMessages: 4,
    maxInflightBytes: 1024,
    maxMessageBytes: 512,
    seed: 7,
    snapshotThreshold: 10
  })
  assert.equal(node.state, 'FOLLOWER')
  const named = new NativeNode({ ...BASE, clusterSize: undefined, members: ['a', 'b'] })
  assert.equal(named.term, 0)
})

test('hostile numbers are refused with FLOTILLA_INVALID_ARGUMENT naming the option', () => {
  for (const key of ['clusterSize', 'maxInflightMessages', 'maxInflightBytes', 'maxMessageBytes', 'seed',
    'snapshotThreshold', 'segmentBytes', 'electionTimeoutMin', 'heartbeatInterval']) {
    for (const value of [NaN, -1, 1e30, Infinity, -Infinity, 2.5]) {
      // a time in milliseconds may have a fraction, and a long one is valid (the engine's clock clamps it)
      if (TIMINGS.includes(key) && (value === 1e30 || value === 2.5)) continue
      const options = key === 'segmentBytes' ? { ...BASE, dataDir: 'unused', [key]: value } : { ...BASE, [key]: value }
      const error = refusal(options)
      assert.equal(error.code, CODES.INVALID_ARGUMENT, `${key} = ${value}: ${error.message}`)
      assert.ok(error.message.startsWith('Invalid options: '), error.message)
      assert.ok(error.message.includes(key), `${key} = ${value}: ${error.message}`)
    }
  }
})

test('wrong types are refused with FLOTILLA_INVALID_ARGUMENT naming the option', () => {
  for (const [key, value] of [['id', 3], ['clusterSize', '3'], ['preVote', 'yes'], ['members', 'a,b'],
    ['maxInflightBytes', 10n], ['dataDir', {}], ['savedState', 'none'], ['heartbeatInterval', null]]) {
    const error = refusal({ ...BASE, [key]: value })
    assert.equal(error.code, CODES.INVALID_ARGUMENT, `${key}: ${error.message}`)
    assert.ok(error.message.includes(key), `${key}: ${error.message}`)
  }
  for (const options of [undefined, null, 'a', 42, JSON.stringify(BASE)]) {
    assert.equal(refusal(options).code, CODES.INVALID_ARGUMENT, String(options))
  }
})

test('unknown keys are refused, at every level of the options', () => {
  assert.equal(refusal({ ...BASE, colour: 'red' }).message, 'Invalid options: "colour" is not an option of the native options')
  const savedState = { term: 1, votedFor: null, entries: [{ term: 1, dataJson: '1', extra: true }] }
  assert.equal(refusal({ ...BASE, savedState }).message, 'Invalid options: "extra" is not an option of a saved entry')
  const stateKey = refusal({ ...BASE, savedState: { term: 1, votedFor: null, entries: [], log: [] } })
  assert.equal(stateKey.message, 'Invalid options: "log" is not an option of "savedState"')
})

test('huge arrays are refused before they are copied', () => {
  const members = refusal({ ...BASE, clusterSize: undefined, members: new Array(2 ** 32 - 1) })
  assert.equal(members.code, CODES.INVALID_ARGUMENT)
  assert.match(members.message, /"members" has 4294967295 items, more than the limit of 1024/)
  const entries = refusal({ ...BASE, savedState: { term: 1, votedFor: null, entries: new Array(2 ** 32 - 1) } })
  assert.match(entries.message, /"savedState.entries" has 4294967295 items/)
})

test('a saved entry whose data is not JSON text is refused', () => {
  const savedState = { term: 1, votedFor: null, entries: [{ term: 1, dataJson: '{' }] }
  const error = refusal({ ...BASE, savedState })
  assert.equal(error.code, CODES.INVALID_ARGUMENT)
  assert.match(error.message, /^Invalid options: saved entry 0: the data is not JSON text/)
})

test('the engine exports its defaults and limits once, for the faces', () => {
  assert.deepEqual(
    [native.DEFAULT_PRE_VOTE, native.DEFAULT_CHECK_QUORUM, native.DEFAULT_MAX_INFLIGHT_MESSAGES,
      native.DEFAULT_MAX_INFLIGHT_BYTES, native.DEFAULT_MAX_MESSAGE_BYTES, native.DEFAULT_SEGMENT_BYTES,
      native.MIN_SEGMENT_BYTES, native.MAX_FLOW_BYTES, native.MAX_NAME_BYTES, native.MAX_CLUSTER_SIZE],
    [true, true, 256, 16 * 1024 * 1024, 1024 * 1024, 64 * 1024 * 1024, 4096, 64 * 1024 * 1024, 219, 1024])
})
