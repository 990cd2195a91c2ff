// The channel base class keeps gaggle 2.1.4's contract: option checks and their texts, the implementer hooks,
// packet sequencing, events, and the gaggle deep-import paths.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { EventEmitter } from 'node:events'
import util from 'node:util'

const require = createRequire(import.meta.url)
const ChannelInterface = require('../lib/channels/channel-interface.js')
const channels = require('../lib/channels')

// Records what the base class hands to an implementation.
class RecordingChannel extends ChannelInterface {
  constructor (opts) {
    super(opts)
    this.sent = []
  }

  _connect () { this._connected() }
  _disconnect () { this._disconnected() }
  _broadcast (packet) { this.sent.push(['*', packet]) }
  _send (nodeId, packet) { this.sent.push([nodeId, packet]) }
}

function connected (opts = { id: 'me' }) {
  const channel = new RecordingChannel(opts)
  channel.connect()
  return channel
}

function recievedBy (channel) {
  const seen = []
  channel.on('recieved', (origin, data) => seen.push([origin, data]))
  return seen
}

describe('channel options', () => {
  const baseCases = [
    [undefined, '"id" is required'],
    [null, '"id" is required'],
    [{}, '"id" is required'],
    [{ foo: 1 }, '"id" is required'],
    ['abc', '"value" must be an object'],
    [5, '"value" must be an object'],
    [[], '"value" must be an object'],
    [{ id: 1 }, '"id" must be a string'],
    [{ id: null }, '"id" must be a string'],
    [{ id: '' }, '"id" is not allowed to be empty'],
    [{ id: 'a', logFunction: 1 }, '"logFunction" must be a Function'],
    [{ id: 'a', logFunction: null }, '"logFunction" must be a Function'],
    [{ id: 'a', channelOptions: 1 }, '"channelOptions" must be an object'],
    [{ id: 'a', channelOptions: null }, '"channelOptions" must be an object'],
    [{ id: 'a', channelOptions: [] }, '"channelOptions" must be an object'],
    [{ id: 'a', foo: 1 }, '"foo" is not allowed'],
    [{ id: 'a', foo: undefined }, '"foo" is not allowed'],
    [{ id: 'a', foo: 1, channelOptions: {}, bar: 2 }, '"foo" is not allowed, "bar" is not allowed'],
    [{ id: 'a', foo: 1, channelOptions: 2 }, '"channelOptions" must be an object'],
  ]

  for (const [name, Channel] of [['base', ChannelInterface], ...Object.entries(channels)]) {
    it(`${name}: rejects bad base options with gaggle's texts`, () => {
      for (const [opts, problem] of baseCases) {
        assert.throws(() => new Channel(opts), { message: `Invalid options: ${problem}` }, JSON.stringify(opts))
      }
    })
  }

  it('accepts what gaggle accepted', () => {
    for (const opts of [{ id: 'a' }, { id: ' a ' }, { id: 'a', logFunction: undefined }, { id: 'a', channelOptions: {} },
      { id: 'a', logFunction: () => {}, channelOptions: { anything: 1 } }]) {
      assert.equal(new ChannelInterface(opts).id, opts.id)
    }
  })

  it('redis: requires channelName, takes an optional connectionString, nothing else', () => {
    const cases = [
      [{ id: 'a' }, '"channelOptions" is required'],
      [{ id: 'a', channelOptions: {} }, '"channelName" is required'],
      [{ id: 'a', channelOptions: { foo: 1 } }, '"channelName" is required'],
      [{ id: 'a', channelOptions: { channelName: 5 } }, '"channelName" must be a string'],
      [{ id: 'a', channelOptions: { channelName: null } }, '"channelName" must be a string'],
      [{ id: 'a', channelOptions: { channelName: '' } }, '"channelName" is not allowed to be empty'],
      [{ id: 'a', channelOptions: { channelName: 'x', foo: 1 } }, '"foo" is not allowed'],
      [{ id: 'a', channelOptions: { channelName: 'x', foo: 1, bar: 2 } }, '"foo" is not allowed, "bar" is not allowed'],
      [{ id: 'a', channelOptions: { channelName: 'x', connectionString: 3 } }, '"connectionString" must be a string'],
      [{ id: 'a', channelOptions: { channelName: 'x', connectionString: '' } }, '"connectionString" is not allowed to be empty'],
      [{ id: 'a', channelOptions: { connectionString: 3 } }, '"connectionString" must be a string'],
    ]
    for (const [opts, problem] of cases) {
      assert.throws(() => new channels.redis(opts), { message: `Invalid options: ${problem}` }, JSON.stringify(opts))
    }
    assert.doesNotThrow(() => new channels.redis({
      id: 'a', channelOptions: { channelName: 'x', connectionString: 'redis://127.0.0.1:1' },
    }))
  })

  it('socket.io: requires host and channel, nothing else', () => {
    const cases = [
      [{ id: 'a' }, '"channelOptions" is required'],
      [{ id: 'a', channelOptions: {} }, '"host" is required'],
      [{ id: 'a', channelOptions: { channel: 'c' } }, '"host" is required'],
      [{ id: 'a', channelOptions: { host: 'h' } }, '"channel" is required'],
      [{ id: 'a', channelOptions: { zz: 1, host: 'h' } }, '"channel" is required'],
      [{ id: 'a', channelOptions: { host: 5, channel: 'c' } }, '"host" must be a string'],
      [{ id: 'a', channelOptions: { host: '', channel: '' } }, '"host" is not allowed to be empty'],
      [{ id: 'a', channelOptions: { host: 'h', channel: 'c', x: 1 } }, '"x" is not allowed'],
    ]
    for (const [opts, problem] of cases) {
      assert.throws(() => new channels['socket.io'](opts), { message: `Invalid options: ${problem}` }, JSON.stringify(opts))
    }
  })

  it('memory: takes an optional string namespace and ignores other keys, as gaggle did', () => {
    assert.throws(() => new channels.memory({ id: 'a', channelOptions: { namespace: 3 } }),
      { message: 'Invalid options: "namespace" must be a string' })
    assert.throws(() => new channels.memory({ id: 'a', channelOptions: { namespace: '' } }),
      { message: 'Invalid options: "namespace" is not allowed to be empty' })
    assert.doesNotThrow(() => new channels.memory({ id: 'a', channelOptions: { namespace: 'n', redisChannel: 'x' } }))
  })
})

describe('channel base class', () => {
  it('is an EventEmitter with id and state', () => {
    const channel = new ChannelInterface({ id: 'node-1' })
    assert.ok(channel instanceof EventEmitter)
    assert.equal(channel.id, 'node-1')
    assert.deepEqual(channel.state, { connected: false, isReconnecting: false })
  })

  it('throws Not implemented for every hook an implementation leaves out', () => {
    for (const call of [(c) => c.connect(), (c) => c.broadcast('x'), (c) => c.send('other', 'x'), (c) => c.disconnect()]) {
      assert.throws(() => call(new ChannelInterface({ id: 'a' })), { message: 'Not implemented' })
    }
  })

  it("throws gaggle's texts when an implementation reports an impossible state", () => {
    assert.throws(() => new ChannelInterface({ id: 'a' })._recieved('b', { data: 1, sequence: 0 }),
      { message: '_recieved was called although the channel is in the disconnected state' })
    assert.throws(() => new ChannelInterface({ id: 'a' })._disconnected(),
      { message: '_disconnected was called although the channel is already in the disconnected state' })
    const channel = new ChannelInterface({ id: 'a' })
    channel._connected()
    assert.throws(() => channel._connected(),
      { message: '_connected was called although the channel is already in the connected state' })
  })

  it('emits connected, disconnected and recieved(origin, data)', () => {
    const channel = new ChannelInterface({ id: 'a' })
    const events = []
    channel.on('connected', () => events.push(['connected', channel.state.connected]))
    channel.on('disconnected', () => events.push(['disconnected', channel.state.connected]))
    channel.on('recieved', (origin, data) => events.push(['recieved', origin, data]))
    channel._connected()
    channel._recieved('b', { data: { hello: 'world' }, sequence: 0 })
    channel._disconnected()
    assert.deepEqual(events, [['connected', true], ['recieved', 'b', { hello: 'world' }], ['disconnected', false]])
  })

  it('wraps data in packets {data, sequence} numbered by one counter for send and broadcast', () => {
    const channel = connected()
    channel.send('b', 'first')
    channel.broadcast({ second: true })
    channel.send('c', 3)
    assert.deepEqual(channel.sent.map(([to, { data, sequence }]) => [to, data, sequence]),
      [['b', 'first', 0], ['*', { second: true }, 1], ['c', 3, 2]])
    const incarnations = new Set(channel.sent.map(([, packet]) => packet.incarnation))
    assert.equal(incarnations.size, 1)
    const other = connected()
    other.send('b', 'x')
    assert.notEqual(other.sent[0][1].incarnation, channel.sent[0][1].incarnation)
  })

  it('drops a packet whose sequence is not above the last one seen from its origin', () => {
    const channel = connected()
    const seen = recievedBy(channel)
    for (const [origin, sequence] of [['b', 5], ['b', 5], ['b', 4], ['c', 0], ['b', 6], ['c', 0], ['c', 9]]) {
      channel._recieved(origin, { data: `${origin}${sequence}`, sequence })
    }
    assert.deepEqual(seen.map(([, data]) => data), ['b5', 'c0', 'b6', 'c9'])
  })

  it('starts over with the sequence of a new incarnation of an origin', () => {
    const channel = connected()
    const seen = recievedBy(channel)
    const before = connected({ id: 'b' })
    const restarted = connected({ id: 'b' })
    for (let i = 0; i < 3; i++) before.send('me', `old ${i}`)
    restarted.send('me', 'new 0')
    for (const [, packet] of [...before.sent, ...restarted.sent]) channel._recieved('b', packet)
    assert.deepEqual(seen.map(([, data]) => data), ['old 0', 'old 1', 'old 2', 'new 0'])
  })

  it('delivers a packet that carries no number as sequence, as gaggle did', () => {
    const channel = connected()
    const seen = recievedBy(channel)
    channel._recieved('b', { data: 1 })
    channel._recieved('b', { data: 2 })
    channel._recieved('b', null)
    assert.deepEqual(seen, [['b', 1], ['b', 2]])
  })

  it('goes quiet once disconnect() was called, and wakes up with connect()', () => {
    const channel = connected()
    const seen = recievedBy(channel)
    channel.disconnect()
    channel.send('b', 'dropped')
    channel.broadcast('dropped')
    assert.doesNotThrow(() => channel._recieved('b', { data: 'late', sequence: 0 }))
    channel.connect()
    channel.send('b', 'sent')
    channel._recieved('b', { data: 'heard', sequence: 1 })
    assert.deepEqual(channel.sent.map(([, packet]) => packet.data), ['sent'])
    assert.deepEqual(seen, [['b', 'heard']])
  })

  it('formats log lines for a logFunction, and never without one', () => {
    const lines = []
    const logged = connected({ id: 'a', logFunction: (line) => lines.push(line) })
    logged.send('b', { x: 1 })
    logged.broadcast('y')
    logged._recieved('b', { data: [1], sequence: 0 })
    assert.deepEqual(lines, [
      'a sent to b\n{\n  "x": 1\n}',
      'a broadcasted\n"y"',
      'a recieved from b\n[\n  1\n]',
    ])

    let serialized = 0
    const counted = { toJSON () { serialized++; return 'counted' } }
    const silent = connected()
    silent.send('b', counted)
    silent.broadcast(counted)
    silent._recieved('b', { data: counted, sequence: 0 })
    assert.equal(serialized, 0)
  })

  it('supports channels written the gaggle way, with apply and util.inherits', () => {
    function OldStyleChannel (opts) {
      ChannelInterface.apply(this, Array.prototype.slice.call(arguments))
      this.sent = []
    }
    util.inherits(OldStyleChannel, ChannelInterface)
    OldStyleChannel.prototype._connect = function () { this._connected() }
    OldStyleChannel.prototype._send = function (nodeId, packet) { this.sent.push(packet) }

    const channel = new OldStyleChannel({ id: 'old' })
    let connectedEvents = 0
    channel.on('connected', () => connectedEvents++)
    channel.connect()
    channel.send('b', 'hi')
    assert.equal(connectedEvents, 1)
    assert.equal(channel.sent[0].data, 'hi')
    assert.throws(() => new OldStyleChannel({}), { message: 'Invalid options: "id" is required' })
  })
})

describe("gaggle's deep-import paths", () => {
  it('resolve to the same classes', () => {
    assert.equal(require('../channels/channel-interface'), ChannelInterface)
    assert.equal(require('../channels'), channels)
    assert.deepEqual(Object.keys(channels), ['memory', 'socket.io', 'redis'])
    assert.equal(require('../channels/in-memory-channel'), channels.memory)
    assert.equal(require('../channels/redis-channel'), channels.redis)
    assert.equal(require('../channels/socket-io-channel'), channels['socket.io'])
    assert.equal(require('../lib/socket-io-server-enhancer'), require('../lib/channels/socket-io-server'))
    for (const Channel of Object.values(channels)) assert.ok(Channel.prototype instanceof ChannelInterface)
  })

  it('include the unimplemented channel that gaggle tested with', () => {
    const UnimplementedChannel = require('../channels/unimplemented-channel')
    assert.throws(() => new UnimplementedChannel({ id: 'u' }).connect(), { message: 'Not implemented' })
  })
})
