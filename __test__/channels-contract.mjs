// What every shipped channel must do, whatever carries its packets; each channel's test file runs it against
// its own transport. Also the small helpers those files share.
import { it } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { randomUUID } from 'node:crypto'

export const uniqueName = (prefix) => `${prefix}-${randomUUID()}`

// A packet that never arrives fails its test instead of hanging the run.
export const WITHIN = { timeout: 10_000 }

export async function connectAll (channels) {
  await Promise.all(channels.map((channel) => {
    const connected = once(channel, 'connected')
    channel.connect()
    return connected
  }))
}

export async function disconnectAll (channels) {
  await Promise.all(channels.map((channel) => {
    const disconnected = once(channel, 'disconnected')
    channel.disconnect()
    return disconnected
  }))
}

// Resolves with the first `count` packets the channel receives, as [origin, data] pairs.
export function collect (channel, count) {
  return new Promise((resolve) => {
    const packets = []
    const onRecieved = (origin, data) => {
      packets.push([origin, data])
      if (packets.length === count) {
        channel.removeListener('recieved', onRecieved)
        resolve(packets)
      }
    }
    channel.on('recieved', onRecieved)
  })
}

// Returns track(channel): every tracked channel is disconnected after the test, even a failed one, so that
// nothing is left to keep the process alive. Disconnecting twice is harmless.
export function trackChannels (t) {
  const tracked = []
  t.after(() => disconnectAll(tracked))
  return (channel) => {
    tracked.push(channel)
    return channel
  }
}

// makeChannel(id, group) builds a channel; channels of one group reach each other, other groups are apart.
export function channelContract (makeChannel) {
  async function cluster (t, count) {
    const track = trackChannels(t)
    const group = uniqueName('group')
    const channels = Array.from({ length: count },
      (_, index) => track(makeChannel(`node-${index}-${randomUUID()}`, group)))
    await connectAll(channels)
    return { channels, group, track }
  }

  it('emits connected and disconnected, and tracks state.connected', WITHIN, async (t) => {
    const channel = trackChannels(t)(makeChannel(uniqueName('solo'), uniqueName('group')))
    assert.deepEqual(channel.state, { connected: false, isReconnecting: false })
    await connectAll([channel])
    assert.equal(channel.state.connected, true)
    await disconnectAll([channel])
    assert.equal(channel.state.connected, false)
  })

  it('delivers send() to the addressed node only', WITHIN, async (t) => {
    const { channels: [a, b, c] } = await cluster(t, 3)
    const atB = collect(b, 1)
    const atC = collect(c, 1)
    a.send(b.id, 'foo')
    // a's packets travel in order, so had c been handed 'foo' it would come before 'bar'.
    a.send(c.id, { bar: [1, 2] })
    assert.deepEqual(await atB, [[a.id, 'foo']])
    assert.deepEqual(await atC, [[a.id, { bar: [1, 2] }]])
  })

  it('delivers send() to the sender itself', WITHIN, async (t) => {
    const { channels: [a] } = await cluster(t, 1)
    const atA = collect(a, 1)
    a.send(a.id, 'to myself')
    assert.deepEqual(await atA, [[a.id, 'to myself']])
  })

  it('delivers broadcast() to every node, the sender included', WITHIN, async (t) => {
    const { channels } = await cluster(t, 3)
    const received = Promise.all(channels.map((channel) => collect(channel, 1)))
    channels[0].broadcast({ term: 1 })
    assert.deepEqual(await received, channels.map(() => [[channels[0].id, { term: 1 }]]))
  })

  it('keeps the packets from one node to another in order, dropping none', WITHIN, async (t) => {
    const { channels: [a, b] } = await cluster(t, 2)
    const count = 1000
    const atB = collect(b, count)
    for (let i = 0; i < count; i++) {
      if (i % 10 === 0) a.broadcast(i)
      else a.send(b.id, i)
    }
    assert.deepEqual((await atB).map(([, data]) => data), Array.from({ length: count }, (_, i) => i))
  })

  it('keeps groups apart', WITHIN, async (t) => {
    const { channels: [a, b] } = await cluster(t, 2)
    const { channels: [stranger] } = await cluster(t, 1)
    const heardByStranger = []
    stranger.on('recieved', (origin, data) => heardByStranger.push(data))
    a.broadcast('for my group')
    a.send(stranger.id, 'not even by id')
    assert.deepEqual(await collect(b, 1), [[a.id, 'for my group']])
    // By the time a packet of its own has gone round, a leak from a would have arrived too.
    const ownPacket = collect(stranger, 1)
    stranger.send(stranger.id, 'own group')
    await ownPacket
    assert.deepEqual(heardByStranger, ['own group'])
  })

  it('hears a node restarted under the same id from its first packet', WITHIN, async (t) => {
    const { channels: [a, b], group, track } = await cluster(t, 2)
    const before = collect(b, 5)
    for (let i = 0; i < 5; i++) a.send(b.id, i)
    await before
    await disconnectAll([a])

    const restarted = track(makeChannel(a.id, group))
    await connectAll([restarted])
    const after = collect(b, 1)
    restarted.send(b.id, 'back')
    assert.deepEqual(await after, [[a.id, 'back']])
  })

  it('sends and receives nothing once disconnect() was called, and works again after connect()', WITHIN, async (t) => {
    const { channels: [a, b] } = await cluster(t, 2)
    let received = 0
    b.on('recieved', () => received++)
    await disconnectAll([b])
    assert.doesNotThrow(() => b.send(a.id, 'dropped'))
    // Once a hears its own broadcast, the medium has handled it: only then may b come back.
    const heardByA = collect(a, 1)
    a.broadcast('b is gone')
    assert.deepEqual(await heardByA, [[a.id, 'b is gone']])

    await connectAll([b])
    const atB = collect(b, 1)
    a.send(b.id, 'welcome back')
    assert.deepEqual(await atB, [[a.id, 'welcome back']])
    assert.equal(received, 1)
  })

  it('reports disconnected when disconnect() comes before the connection', WITHIN, async (t) => {
    const channel = trackChannels(t)(makeChannel(uniqueName('hasty'), uniqueName('group')))
    let connected = false
    channel.on('connected', () => { connected = true })
    const disconnected = once(channel, 'disconnected')
    channel.connect()
    channel.disconnect()
    await disconnected
    assert.equal(channel.state.connected, false)
    assert.equal(connected, false)
  })
}
