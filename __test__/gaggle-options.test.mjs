// The gaggle face's option checks: gaggle 2.1.4's messages, order of checks and defaults, and our own options.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const {
  validate,
  validateFactoryOptions,
  validateChannelOptions,
  validateInstanceOptions,
  sibling
} = require('../lib/gaggle/options.js')
const { factoryCases, instanceCases, channel } = require('./fixtures/gaggle-2.1.4-options.cjs')

// The checks in the order gaggle's factory runs them: factory, channel constructor, instance.
function factoryChecks (opts) {
  const { options, channelName, channelOptions } = validateFactoryOptions(opts)
  validateChannelOptions(channelName, channelOptions)
  return validateInstanceOptions({ ...options, channel })
}

function answerOf (check, opts) {
  try {
    check(opts)
    return 'OK'
  } catch (error) {
    assert.equal(error.constructor, Error)
    return error.message
  }
}

const base = { id: 'a', channel, clusterSize: 3 }

test('the messages gaggle callers see, word for word', () => {
  const cases = [
    [factoryChecks, {}, 'Invalid options: "id" is required'],
    [factoryChecks, { id: 'a' }, 'Invalid options: "channel" is required'],
    [factoryChecks, { id: 'a', channel: { name: 'memory' } }, 'Invalid options: "clusterSize" is required'],
    [factoryChecks, { id: 'a', channel: { name: 'carrier-pigeon' } }, 'Invalid options: "name" must be one of [memory, socket.io, redis]'],
    [factoryChecks, { id: '', channel: { name: 'memory' } }, 'Invalid options: "id" is not allowed to be empty'],
    [factoryChecks, { id: 5, channel: { name: 'memory' } }, 'Invalid options: "id" must be a string'],
    [factoryChecks, { id: 'a', channel: { name: 'redis' }, clusterSize: 3 }, 'Invalid options: "channelName" is required'],
    [factoryChecks, { id: 'a', channel: { name: 'socket.io' }, clusterSize: 3 }, 'Invalid options: "host" is required'],
    [validateInstanceOptions, { ...base, clusterSize: '3' }, 'Invalid options: "clusterSize" must be a number'],
    [validateInstanceOptions, { ...base, clusterSize: 0 }, 'Invalid options: "clusterSize" must be larger than or equal to 1'],
    [validateInstanceOptions, { ...base, foo: 1 }, 'Invalid options: "foo" is not allowed'],
    [validateInstanceOptions, { ...base, electionTimeout: { min: 300, max: 200 } }, 'Invalid options: "max" must be larger than or equal to 300'],
    [validateInstanceOptions, { ...base, electionTimeout: { min: 500, max: 400 } }, 'Invalid options: "max" must be larger than or equal to 500'],
    [validateInstanceOptions, { ...base, heartbeatInterval: -1 }, 'Invalid options: "heartbeatInterval" must be larger than or equal to 0']
  ]
  for (const [check, opts, message] of cases) {
    assert.throws(() => check(opts), { constructor: Error, message }, JSON.stringify(opts))
  }
})

test('the factory path answers as gaggle 2.1.4 did, row for row', () => {
  for (const [what, opts, answer] of factoryCases) {
    assert.equal(answerOf(factoryChecks, opts), answer, what)
  }
})

test('the instance checks answer as gaggle 2.1.4\'s constructor did, row for row', () => {
  for (const [what, opts, answer] of instanceCases) {
    assert.equal(answerOf(validateInstanceOptions, opts), answer, what)
  }
})

test('missing instance options are an error, not a crash', () => {
  // gaggle's constructor threw a TypeError from inside itself here
  assert.throws(() => validateInstanceOptions(undefined), { message: 'Invalid options: "value" is required' })
})

test('defaults fill every option gaggle and flotilla define', () => {
  assert.deepEqual(validateInstanceOptions(base), {
    clusterSize: 3,
    channel,
    id: 'a',
    electionTimeout: { min: 300, max: 500 },
    heartbeatInterval: 50,
    accelerateHeartbeats: false,
    rpc: {},
    segmentBytes: 67108864,
    preVote: true,
    checkQuorum: true,
    leaseReads: false,
    join: false,
    maxInflightMessages: 256,
    maxInflightBytes: 16777216,
    maxMessageBytes: 1048576
  })
})

test('given values are kept, and the caller\'s objects are neither changed nor copied where it matters', () => {
  const rpc = { ping () {} }
  const opts = {
    ...base,
    electionTimeout: { min: 10, max: 20 },
    heartbeatInterval: 5,
    accelerateHeartbeats: true,
    rpc,
    preVote: false,
    checkQuorum: false,
    maxInflightMessages: 1,
    maxInflightBytes: 2,
    maxMessageBytes: 3,
    dataDir: '/var/lib/flotilla',
    seed: 0
  }
  const before = structuredClone({ ...opts, rpc: null, channel: null })
  const options = validateInstanceOptions(opts)
  assert.equal(options.rpc, rpc)
  assert.equal(options.channel, channel)
  assert.notEqual(options, opts)
  assert.deepEqual({ ...opts, rpc: null, channel: null }, before)
  assert.deepEqual(options.electionTimeout, { min: 10, max: 20 })
  assert.equal(options.heartbeatInterval, 5)
  assert.equal(options.accelerateHeartbeats, true)
  assert.equal(options.preVote, false)
  assert.equal(options.checkQuorum, false)
  assert.deepEqual([options.maxInflightMessages, options.maxInflightBytes, options.maxMessageBytes], [1, 2, 3])
  assert.equal(options.dataDir, '/var/lib/flotilla')
  assert.equal(options.seed, 0)
})

test('default objects are fresh for every instance', () => {
  const first = validateInstanceOptions(base)
  const second = validateInstanceOptions(base)
  assert.notEqual(first.rpc, second.rpc)
  assert.notEqual(first.electionTimeout, second.electionTimeout)
})

test('electionTimeout: missing bounds are filled after the checks', () => {
  const timeoutOf = (electionTimeout) => validateInstanceOptions({ ...base, electionTimeout }).electionTimeout
  assert.deepEqual(timeoutOf({}), { min: 300, max: 500 })
  assert.deepEqual(timeoutOf(undefined), { min: 300, max: 500 })
  // gaggle accepted min alone and then drew timeouts in [0, min]; we keep the default 200 ms spread above min
  assert.deepEqual(timeoutOf({ min: 600 }), { min: 600, max: 800 })
  assert.deepEqual(timeoutOf({ min: 0, max: 0 }), { min: 0, max: 0 })
  // a default min does not satisfy max's reference to min, as in gaggle
  assert.throws(() => timeoutOf({ max: 600 }), { message: 'Invalid options: "max" references "min" which is not a number' })
})

test('no type coercion in the instance options', () => {
  assert.throws(() => validateInstanceOptions({ ...base, clusterSize: '3' }), { message: 'Invalid options: "clusterSize" must be a number' })
  assert.throws(() => validateInstanceOptions({ ...base, heartbeatInterval: '50' }), { message: 'Invalid options: "heartbeatInterval" must be a number' })
  assert.throws(() => validateInstanceOptions({ ...base, accelerateHeartbeats: 'true' }), { message: 'Invalid options: "accelerateHeartbeats" must be a boolean' })
  assert.throws(() => validateInstanceOptions({ ...base, preVote: 'false' }), { message: 'Invalid options: "preVote" must be a boolean' })
})

test('flotilla\'s own options, checked in the same words', () => {
  const save = () => {}
  const restore = () => {}
  const cases = [
    [{ dataDir: '' }, '"dataDir" is not allowed to be empty'],
    [{ dataDir: 5 }, '"dataDir" must be a string'],
    [{ snapshot: null }, '"snapshot" must be an object'],
    [{ snapshot: save }, '"snapshot" must be an object'],
    [{ snapshot: {} }, '"threshold" is required'],
    [{ snapshot: { threshold: 0, save, restore } }, '"threshold" must be larger than or equal to 1'],
    [{ snapshot: { threshold: 1.5, save, restore } }, '"threshold" must be an integer'],
    [{ snapshot: { threshold: '2', save, restore } }, '"threshold" must be a number'],
    [{ snapshot: { threshold: 2 } }, '"save" is required'],
    [{ snapshot: { threshold: 2, save: 1, restore } }, '"save" must be a Function'],
    [{ snapshot: { threshold: 2, save } }, '"restore" is required'],
    [{ snapshot: { threshold: 2, save, restore: 'x' } }, '"restore" must be a Function'],
    [{ snapshot: { threshold: 2, save, restore, every: 1 } }, '"every" is not allowed'],
    [{ preVote: 1 }, '"preVote" must be a boolean'],
    [{ checkQuorum: null }, '"checkQuorum" must be a boolean'],
    [{ maxInflightMessages: 0 }, '"maxInflightMessages" must be larger than or equal to 1'],
    [{ maxInflightMessages: 2.5 }, '"maxInflightMessages" must be an integer'],
    [{ maxInflightMessages: Infinity }, '"maxInflightMessages" contains an invalid value'],
    [{ maxInflightBytes: -1 }, '"maxInflightBytes" must be larger than or equal to 1'],
    [{ maxInflightBytes: NaN }, '"maxInflightBytes" must be a number'],
    [{ maxMessageBytes: 0 }, '"maxMessageBytes" must be larger than or equal to 1'],
    [{ maxMessageBytes: '1' }, '"maxMessageBytes" must be a number'],
    [{ seed: 1.5 }, '"seed" must be an integer'],
    [{ seed: -1 }, '"seed" must be larger than or equal to 0'],
    [{ seed: 2 ** 60 }, '"seed" must be less than or equal to 9007199254740991'],
    [{ seed: '1' }, '"seed" must be a number']
  ]
  for (const [extra, message] of cases) {
    assert.throws(() => validateInstanceOptions({ ...base, ...extra }), { message: 'Invalid options: ' + message }, JSON.stringify(extra))
  }
  const snapshot = { threshold: 1000, save, restore }
  const options = validateInstanceOptions({ ...base, snapshot })
  assert.deepEqual(options.snapshot, snapshot)
  assert.equal(options.snapshot.save, save)
  assert.equal('dataDir' in validateInstanceOptions({ ...base, dataDir: undefined }), false)
})

test('gaggle\'s options are checked before ours, so gaggle callers see gaggle\'s first error', () => {
  assert.throws(() => validateInstanceOptions({ ...base, preVote: 1, rpc: 1 }), { message: 'Invalid options: "rpc" must be an object' })
  assert.throws(() => validateInstanceOptions({ ...base, seed: -1, heartbeatInterval: -1 }), { message: 'Invalid options: "heartbeatInterval" must be larger than or equal to 0' })
})

test('the factory hands on the options, the channel name and the channel options', () => {
  const rpc = {}
  const opts = { id: 'n1', clusterSize: 3, rpc, channel: { name: 'redis', channelName: 'c', connectionString: 'redis://x' } }
  const { options, channelName, channelOptions } = validateFactoryOptions(opts)
  assert.equal(channelName, 'redis')
  assert.deepEqual(channelOptions, { channelName: 'c', connectionString: 'redis://x' })
  assert.equal(options.clusterSize, 3)
  assert.equal(options.rpc, rpc)
  assert.deepEqual(opts.channel, { name: 'redis', channelName: 'c', connectionString: 'redis://x' })
  // as Joi converted them, a JSON string stands for its object
  assert.deepEqual(validateFactoryOptions({ id: 'n1', channel: '{"name":"memory","ns":"t"}' }).channelOptions, { ns: 't' })
  assert.equal(validateFactoryOptions('{"id":"n1","channel":{"name":"memory"}}').options.id, 'n1')
})

test('channel options: memory takes any, redis and socket.io are checked, unknown names rejected', () => {
  const anything = { namespace: 'x', foo: 1 }
  assert.equal(validateChannelOptions('memory', anything), anything)
  assert.deepEqual(validateChannelOptions('redis', { channelName: 'c' }), { channelName: 'c' })
  assert.deepEqual(validateChannelOptions('socket.io', { host: 'http://localhost:9000', channel: 'c' }), { host: 'http://localhost:9000', channel: 'c' })
  assert.throws(() => validateChannelOptions('redis', undefined), { message: 'Invalid options: "channelOptions" is required' })
  assert.throws(() => validateChannelOptions('socket.io', { host: 'h' }), { message: 'Invalid options: "channel" is required' })
  assert.throws(() => validateChannelOptions('carrier-pigeon', {}), { message: 'Invalid options: "name" must be one of [memory, socket.io, redis]' })
})

test('the interpreter reads a new rule table as is', () => {
  const rule = {
    type: 'object',
    required: true,
    keys: {
      low: { type: 'number', integer: true, default: 1 },
      high: { type: 'number', min: sibling('low'), max: 10, default: (range) => range.low * 2 },
      mode: { type: 'string', valid: ['fast', 'safe'], default: 'safe' }
    }
  }
  assert.deepEqual(validate(rule, {}), { low: 1, high: 2, mode: 'safe' })
  assert.deepEqual(validate(rule, { low: 3 }), { low: 3, high: 6, mode: 'safe' })
  assert.throws(() => validate(rule, { low: 3, high: 11 }), { message: 'Invalid options: "high" must be less than or equal to 10' })
  assert.throws(() => validate(rule, { low: 3, high: 2 }), { message: 'Invalid options: "high" must be larger than or equal to 3' })
  assert.throws(() => validate(rule, { mode: 'slow' }), { message: 'Invalid options: "mode" must be one of [fast, safe]' })
  assert.throws(() => validate(rule, []), { message: 'Invalid options: "value" must be an object' })
})
