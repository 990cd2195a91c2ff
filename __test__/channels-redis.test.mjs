// The redis channel against a real redis-server that this file starts on a free port and stops: the shared
// channel contract, gaggle's wire envelope, and a clean exit when Redis cannot be reached.
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { spawnSync } from 'node:child_process'
import { freePort, startRedis } from './gaggle-support.mjs'
import { WITHIN, channelContract, collect, connectAll, disconnectAll, trackChannels, uniqueName } from './channels-contract.mjs'

const require = createRequire(import.meta.url)
const RedisChannel = require('../lib/channels/redis.js')
const { createClient } = require('redis')

let redis
before(async () => { redis = await startRedis() })
after(async () => {
  if (redis !== undefined) await redis.stop()
})

// Counted as a failure, not hidden among cancelled tests, when the machine lacks Redis.
it('has a redis-server to test against', () => {
  assert.ok(!spawnSync('redis-server', ['--version']).error,
    'redis-server is not installed, and the redis channel tests need a real one: ' +
    'install it (e.g. apt-get install -y redis-server) and run the tests again')
})

function makeChannel (id, channelName, logFunction) {
  return new RedisChannel({
    id,
    logFunction,
    channelOptions: { channelName, connectionString: `redis://127.0.0.1:${redis.port}` },
  })
}

describe('redis channel: contract', () => {
  channelContract(makeChannel)
})

describe('redis channel', () => {
  it("publishes gaggle's envelope {from, to?, data: packet}: broadcasts on channelName, the rest on channelName:to",
    WITHIN, async (t) => {
      const channelName = uniqueName('wire')
      const a = trackChannels(t)(makeChannel('a', channelName))
      await connectAll([a])
      const observer = createClient({ url: `redis://127.0.0.1:${redis.port}` })
      t.after(() => observer.close())
      await observer.connect()
      const messages = []
      let allSeen
      const seen = new Promise((resolve) => { allSeen = resolve })
      await observer.pSubscribe(`${channelName}*`, (message, redisChannel) => {
        if (messages.push([redisChannel, JSON.parse(message)]) === 3) allSeen()
      })
      a.send('b', { term: 1 })
      a.broadcast('all')
      a.send('c', { term: 2 })
      await seen
      const [incarnation] = new Set(messages.map(([, message]) => message.data.incarnation))
      assert.deepEqual(messages, [
        [`${channelName}:b`, { from: 'a', to: 'b', data: { data: { term: 1 }, sequence: 0, incarnation } }],
        [channelName, { from: 'a', data: { data: 'all', sequence: 1, incarnation } }],
        [`${channelName}:c`, { from: 'a', to: 'c', data: { data: { term: 2 }, sequence: 2, incarnation } }],
      ])
    })

  // Every message Redis hands a subscriber counts against that subscriber's output buffer limit: a large message
  // for a lagging node, handed to every node, made Redis disconnect them all.
  it('a message for one node is delivered by Redis to that node only', WITHIN, async (t) => {
    const channelName = uniqueName('direct')
    const track = trackChannels(t)
    const [a, b, c] = ['a', 'b', 'c'].map((id) => track(makeChannel(id, channelName)))
    await connectAll([a, b, c])
    const delivered = new Map([[b, []], [c, []]])
    for (const [channel, messages] of delivered) {
      const onMessage = channel._onMessage.bind(channel)
      channel._onMessage = (message) => {
        messages.push(JSON.parse(message).data.data)
        onMessage(message)
      }
    }
    const arrived = Promise.all([collect(b, 1), collect(c, 1)])
    a.send('b', 'for b')
    a.send('c', 'for c')
    await arrived
    assert.deepEqual(delivered.get(b), ['for b'])
    assert.deepEqual(delivered.get(c), ['for c'], 'c was not handed the message for b')
  })

  it('hears envelopes from gaggle nodes and ignores what is not an envelope for it', WITHIN, async (t) => {
    const channelName = uniqueName('foreign')
    const b = trackChannels(t)(makeChannel('b', channelName))
    await connectAll([b])
    const publisher = createClient({ url: `redis://127.0.0.1:${redis.port}` })
    t.after(() => publisher.close())
    await publisher.connect()
    const atB = collect(b, 2)
    for (const message of ['not json', 'null', '[1]', '{"to":"b","data":{"data":"no from","sequence":0}}',
      JSON.stringify({ from: 'gaggle-node', to: 'c', data: { data: 'for c', sequence: 0 } }),
      JSON.stringify({ from: 'gaggle-node', to: 'b', data: { data: 'for b', sequence: 1 } }),
      JSON.stringify({ from: 'gaggle-node', data: { data: 'for all', sequence: 2 } })]) {
      await publisher.publish(channelName, message)
    }
    assert.deepEqual(await atB, [['gaggle-node', 'for b'], ['gaggle-node', 'for all']])
  })

  // Redis drops a subscriber that falls behind its output buffer limit; the channel must come back by itself.
  it('reconnects and subscribes again after Redis drops its connections', WITHIN, async (t) => {
    const channelName = uniqueName('reconnect')
    const track = trackChannels(t)
    const [a, b] = ['a', 'b'].map((id) => track(makeChannel(id, channelName)))
    await connectAll([a, b])
    const admin = createClient({ url: `redis://127.0.0.1:${redis.port}` })
    t.after(() => admin.close())
    await admin.connect()
    const heard = []
    b.on('recieved', (from, data) => heard.push(data))
    const killed = await admin.sendCommand(['CLIENT', 'KILL', 'TYPE', 'pubsub'])
    assert.ok(killed >= 2, 'both subscribers were dropped')
    await admin.sendCommand(['CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes'])
    // what is published while the clients reconnect is lost, as on any pub/sub: send until both kinds arrive
    while (!(heard.includes('direct') && heard.includes('broadcast'))) {
      a.send('b', 'direct')
      a.broadcast('broadcast')
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    assert.equal(b.state.connected, true)
  })

  it('logs connection errors and still reports disconnected when Redis cannot be reached', WITHIN, async (t) => {
    const errors = []
    const channel = trackChannels(t)(new RedisChannel({
      id: 'lonely',
      logFunction: (error) => errors.push(error),
      channelOptions: { channelName: 'nowhere', connectionString: `redis://127.0.0.1:${await freePort()}` },
    }))
    channel.connect()
    while (errors.length === 0) await new Promise((resolve) => setTimeout(resolve, 5))
    assert.match(String(errors[0]), /ECONNREFUSED/)
    assert.equal(channel.state.connected, false)
    channel.send('someone', 'dropped')
    await disconnectAll([channel])
  })
})
