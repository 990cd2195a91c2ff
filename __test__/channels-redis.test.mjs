// The redis channel against a real redis-server that this file starts on a free port and stops: the shared
// channel contract, gaggle's wire envelope, and a clean exit when Redis cannot be reached.
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { spawnSync } from 'node:child_process'
import { freePort, startRedis } from './gaggle-support.mjs'
import {
  WITHIN, channelContract, collect, connectAll, disconnectAll, trackChannels, uniqueName,
} from './channels-contract.mjs'

const require = createRequire(import.meta.url)
const RedisChannel = require('../lib/channels/redis.js')
const { FRAGMENT_CHARS, MAX_PARTS, MAX_REASSEMBLY_CHARS, Reassembly } = require('../lib/channels/fragments.js')
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

// The messages a sender publishes for `packet` cut into `parts` fragments (of any size: receivers take them all).
function fragmentsOf ({ from, to, fragment }, packet, parts) {
  const text = JSON.stringify(packet)
  const size = Math.ceil(text.length / parts)
  return Array.from({ length: parts }, (_, part) =>
    JSON.stringify({ from, to, fragment, part, parts, text: text.slice(part * size, (part + 1) * size) }))
}

// A packet as a channel makes it; `sequence` orders the packets of one origin.
const packetOf = (data, sequence) => ({ data, sequence, incarnation: 1 })

async function rawPublisher (t) {
  const publisher = createClient({ url: `redis://127.0.0.1:${redis.port}` })
  t.after(() => publisher.close())
  await publisher.connect()
  return publisher
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

describe('redis channel: fragments', () => {
  // Redis disconnects a subscriber for one message above its 'pubsub' hard limit (1mb is common): a catch-up
  // message of the default maxMessageBytes (1 MiB) would never reach a node behind such a limit.
  it('a packet longer than FRAGMENT_CHARS goes as fragments of well under 1 MB each, and arrives whole',
    WITHIN, async (t) => {
      const channelName = uniqueName('fragments')
      const track = trackChannels(t)
      const [a, b] = ['a', 'b'].map((id) => track(makeChannel(id, channelName)))
      await connectAll([a, b])
      const observer = await rawPublisher(t)
      const published = []
      await observer.pSubscribe(`${channelName}*`, (message, redisChannel) => published.push([redisChannel, message]))
      // quotes and backslashes (escaped again in a fragment), 3-byte characters, and astral ones that a cut splits
      const large = {
        text: '"\\'.repeat(FRAGMENT_CHARS / 4) + '€'.repeat(FRAGMENT_CHARS) + '😀'.repeat(FRAGMENT_CHARS),
      }
      const atB = collect(b, 3)
      a.send('b', large)
      a.broadcast(large)
      a.send('b', 'small')
      assert.deepEqual(await atB, [['a', large], ['a', large], ['a', 'small']])

      const parts = Math.ceil(JSON.stringify({ data: large, sequence: 0, incarnation: a._incarnation }).length /
        FRAGMENT_CHARS)
      // (the observer hears them on a connection of its own, maybe later than b)
      while (published.length < 2 * parts + 1) await new Promise((resolve) => setTimeout(resolve, 5))
      const [small, ...fragments] = published.reverse()
      assert.equal(small[0], `${channelName}:b`)
      assert.deepEqual(Object.keys(JSON.parse(small[1])), ['from', 'to', 'data'],
        "a small packet keeps gaggle's envelope")
      assert.equal(fragments.length, 2 * parts)
      for (const [redisChannel, message] of fragments) {
        const bytes = Buffer.byteLength(message)
        assert.ok(bytes < 3 * FRAGMENT_CHARS + 200, `a fragment of ${bytes} bytes`)
        const { from, to, fragment, part, parts: count, text } = JSON.parse(message)
        assert.equal(from, 'a')
        assert.equal(to, redisChannel === channelName ? undefined : 'b')
        assert.ok(Number.isInteger(fragment) && Number.isInteger(part) && count === parts)
        assert.ok(text.length <= FRAGMENT_CHARS)
      }
      assert.ok(fragments.some(([, message]) => /[\ud800-\udbff]$/.test(JSON.parse(message).text)),
        'a cut split a surrogate pair')
    })

  it('puts back together the fragments of senders that interleave', WITHIN, async (t) => {
    const channelName = uniqueName('interleaved')
    const b = trackChannels(t)(makeChannel('b', channelName))
    await connectAll([b])
    const publisher = await rawPublisher(t)
    const fromX = fragmentsOf({ from: 'x', to: 'b', fragment: 7 }, packetOf('from x', 0), 3)
    const fromY = fragmentsOf({ from: 'y', fragment: 7 }, packetOf('from y', 0), 3)
    const atB = collect(b, 2)
    for (let part = 0; part < 3; part++) {
      await publisher.publish(`${channelName}:b`, fromX[part])
      await publisher.publish(channelName, fromY[part])
    }
    assert.deepEqual(await atB, [['x', 'from x'], ['y', 'from y']])
    assert.equal(b._reassembly.dropped, 0)
  })

  // Redis drops what it would send a subscriber while it is disconnected: the rest of a packet is then useless.
  it('drops a packet that lost a fragment, and takes the next one whole', WITHIN, async (t) => {
    const channelName = uniqueName('lost')
    const b = trackChannels(t)(makeChannel('b', channelName))
    await connectAll([b])
    const publisher = await rawPublisher(t)
    const [first, , third] = fragmentsOf({ from: 'x', fragment: 1 }, packetOf('lost its middle', 0), 3)
    const [start, ...rest] = fragmentsOf({ from: 'x', fragment: 2 }, packetOf('lost its end', 1), 3)
    const atB = collect(b, 2)
    for (const message of [first, third, start, ...fragmentsOf({ from: 'x', fragment: 3 }, packetOf('whole', 2), 3),
      ...rest, JSON.stringify({ from: 'x', data: packetOf('after', 3) })]) {
      await publisher.publish(channelName, message)
    }
    assert.deepEqual(await atB, [['x', 'whole'], ['x', 'after']])
    // the 3rd part of 1 and packet 1; packet 2 (at 3's start); both parts that continue nothing
    assert.equal(b._reassembly.dropped, 5)
  })

  it('drops hostile fragments without a crash, and counts them', WITHIN, async (t) => {
    const channelName = uniqueName('hostile')
    const b = trackChannels(t)(makeChannel('b', channelName))
    await connectAll([b])
    const publisher = await rawPublisher(t)
    const valid = { from: 'x', fragment: 1, part: 0, parts: 2, text: '{' }
    const malformed = [
      { fragment: -1 }, { fragment: 1.5 }, { fragment: '1' }, { fragment: 2 ** 53 }, { fragment: true },
      { part: -1 }, { part: 2 }, { part: 0.5 }, { part: '0' }, { part: null },
      { parts: 1 }, { parts: 0 }, { parts: MAX_PARTS + 1 }, { parts: Infinity }, { parts: '2' },
      { text: 5 }, { text: null }, { text: undefined }, { text: ['{'] },
    ]
    for (const change of malformed) await publisher.publish(channelName, JSON.stringify({ ...valid, ...change }))
    // whole, but not JSON; and a start that the next start drops
    for (const message of fragmentsOf({ from: 'x', fragment: 2 }, 'not json', 2)) {
      await publisher.publish(channelName, message.replace('"\\"', '"'))
    }
    await publisher.publish(channelName, JSON.stringify(valid))
    // for another node: not even looked at
    await publisher.publish(channelName, JSON.stringify({ ...valid, from: 'y', to: 'c' }))
    const atB = collect(b, 1)
    for (const message of fragmentsOf({ from: 'x', fragment: 3 }, packetOf('still heard', 0), 2)) {
      await publisher.publish(channelName, message)
    }
    assert.deepEqual(await atB, [['x', 'still heard']])
    assert.equal(b._reassembly.dropped, malformed.length + 1 + 1)
    assert.equal(b.droppedPackets, malformed.length + 1 + 1, 'the count a node adds to status().dropped.channel')
  })

  it('refuses to send a packet longer than receivers put back together', WITHIN, async (t) => {
    const a = trackChannels(t)(makeChannel('a', uniqueName('too-large')))
    await connectAll([a])
    assert.throws(() => a.send('b', 'x'.repeat(MAX_REASSEMBLY_CHARS)), /cannot carry a packet of \d+ characters/)
  })
})

describe('redis channel: the reassembly is bounded', () => {
  const start = (fragment, text = 'x') => ({ fragment, part: 0, parts: 2, text })
  const end = (fragment, text = '1') => ({ fragment, part: 1, parts: 2, text })

  it('holds at most maxChars of incomplete packets, all senders together', () => {
    const reassembly = new Reassembly({ maxChars: 10 })
    reassembly.add('a', start(1, '"abcdef'))
    reassembly.add('b', start(1, '"abcd'))
    assert.equal(reassembly.add('b', end(1, '"')), undefined, "b's packet was dropped: 7 + 5 characters are above 10")
    assert.equal(reassembly.add('a', end(1, '"')), 'abcdef')
    reassembly.add('b', start(2, '"abcd'))
    assert.equal(reassembly.add('b', end(2, '"')), 'abcd', "taken once a's packet is no longer held")
    reassembly.add('c', start(1, '"abc'))
    assert.equal(reassembly.add('c', end(1, 'defghijk"')), undefined, 'one packet above 10 characters is dropped')
    // b's first start, the end that then continued nothing, c's last part
    assert.equal(reassembly.dropped, 3)
  })

  it('forgets the least recent sender beyond maxIncomplete incomplete packets', () => {
    const reassembly = new Reassembly({ maxIncomplete: 2 })
    reassembly.add('a', start(1, '"a'))
    reassembly.add('b', start(1, '"b'))
    reassembly.add('a', start(2, '"A'))
    reassembly.add('c', start(1, '"c'))
    assert.equal(reassembly.add('b', end(1, '"')), undefined, 'b was the least recent: forgotten')
    assert.equal(reassembly.add('a', end(2, '"')), 'A')
    assert.equal(reassembly.add('c', end(1, '"')), 'c')
  })

  it('forgets an incomplete packet that got no fragment for timeoutMs', () => {
    const reassembly = new Reassembly({ timeoutMs: 1000 })
    reassembly.add('a', start(1, '"a'), 0)
    reassembly.add('b', start(1, '"b'), 500)
    assert.equal(reassembly.add('a', end(1, '"'), 1001), undefined, 'forgotten after 1000 ms')
    assert.equal(reassembly.add('b', end(1, '"'), 1499), 'b')
  })
})
