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
  it("publishes gaggle's envelope {from, to?, data: packet} on channelName", WITHIN, async (t) => {
    const channelName = uniqueName('wire')
    const a = trackChannels(t)(makeChannel('a', channelName))
    await connectAll([a])
    const observer = createClient({ url: `redis://127.0.0.1:${redis.port}` })
    t.after(() => observer.close())
    await observer.connect()
    const messages = []
    let allSeen
    const seen = new Promise((resolve) => { allSeen = resolve })
    await observer.subscribe(channelName, (message) => {
      if (messages.push(JSON.parse(message)) === 2) allSeen()
    })
    a.send('b', { term: 1 })
    a.broadcast('all')
    await seen
    const [incarnation] = new Set(messages.map((message) => message.data.incarnation))
    assert.deepEqual(messages, [
      { from: 'a', to: 'b', data: { data: { term: 1 }, sequence: 0, incarnation } },
      { from: 'a', data: { data: 'all', sequence: 1, incarnation } },
    ])
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
