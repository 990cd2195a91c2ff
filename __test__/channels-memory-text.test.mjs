// The memory channel's text path (messages handed on as the JSON text an engine wrote, read by flotilla nodes
// without parsing) and its sliced delivery: whoever else looks at a packet sees the parsed message, as if it had
// been sent as an object, and a long burst of packets leaves the event loop turns in between.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { WITHIN, collect, connectAll, trackChannels, uniqueName } from './channels-contract.mjs'
import { STEADY, trackNodes, electLeader, allCommitted, waitFor } from './gaggle-support.mjs'

const require = createRequire(import.meta.url)
const MemoryChannel = require('../lib/channels/memory.js')
const Gaggle = require('../lib/gaggle/gaggle.js')

async function pair (t, options = {}) {
  const track = trackChannels(t)
  const namespace = uniqueName('text')
  const a = track(new MemoryChannel({ id: 'a', channelOptions: { namespace }, ...options }))
  const b = track(new MemoryChannel({ id: 'b', channelOptions: { namespace } }))
  await connectAll([a, b])
  return { a, b }
}

describe('memory channel: messages sent as text', () => {
  it('reach ordinary listeners parsed, one object for every receiver of a broadcast', WITHIN, async (t) => {
    const { a, b } = await pair(t)
    const atA = collect(a, 1)
    const atB = collect(b, 2)
    a.sendText('b', '{"type":"X","n":[1,2]}')
    a.broadcastText('{"type":"Y"}')
    const [[fromFirst, first], [fromSecond, second]] = await atB
    assert.deepEqual([fromFirst, fromSecond], ['a', 'a'])
    assert.deepEqual(first, { type: 'X', n: [1, 2] })
    assert.deepEqual(second, { type: 'Y' })
    assert.equal((await atA)[0][1], second, 'the broadcast is one object')
  })

  it('are logged parsed by a channel with a log function', WITHIN, async (t) => {
    const lines = []
    const { a, b } = await pair(t, { logFunction: (line) => lines.push(line) })
    const atB = collect(b, 1)
    a.sendText('b', '{"type":"X"}')
    assert.deepEqual(await atB, [['a', { type: 'X' }]])
    assert.equal(lines.length, 1)
    assert.match(lines[0], /a sent to b\n\{\n {2}"type": "X"\n\}/)
  })

  it('reach a listener that reads wire texts as the very text, unless someone else listens too', WITHIN, async (t) => {
    const { a, b } = await pair(t)
    const texts = []
    const reader = (origin, data) => texts.push(data)
    MemoryChannel.readWireTexts(reader)
    b.on('recieved', reader)
    a.sendText('b', '{"type":"X"}')
    // Delivery is asynchronous: wait for it rather than for a fixed time (5 ms was not enough under load).
    await waitFor(() => texts.length >= 1, 5000, 'the text at b')
    assert.ok(texts[0] instanceof MemoryChannel.WireText)
    assert.equal(texts[0].text, '{"type":"X"}')

    const spied = collect(b, 1)
    a.sendText('b', '{"type":"Y"}')
    assert.deepEqual(await spied, [['a', { type: 'Y' }]])
    assert.deepEqual(texts[1], { type: 'Y' }, 'with a second listener, the reader gets the parsed message too')
  })

  it('are sent nowhere once disconnect() was called', WITHIN, async (t) => {
    const { a, b } = await pair(t)
    let received = 0
    b.on('recieved', () => received++)
    a.disconnect()
    a.sendText('b', '{"type":"X"}')
    a.broadcastText('{"type":"X"}')
    await new Promise((resolve) => setTimeout(resolve, 5))
    assert.equal(received, 0)
  })
})

describe('memory channel: sliced delivery', () => {
  it('lets the event loop turn during a long burst, keeping order and dropping nothing', WITHIN, async (t) => {
    const { a, b } = await pair(t)
    const count = 40
    const order = []
    let turns = 0
    let turning = true
    const turn = () => { turns++; if (turning) setImmediate(turn) }
    setImmediate(turn)
    b.on('recieved', (origin, data) => {
      order.push(data)
      const until = performance.now() + 0.25 // a listener that takes its time
      while (performance.now() < until);
    })
    const all = collect(b, count)
    for (let i = 0; i < count; i++) a.send('b', i)
    await all
    turning = false
    assert.deepEqual(order, Array.from({ length: count }, (_, i) => i))
    // 40 packets of 0.25 ms each take about 10 ms: far more than one slice.
    assert.ok(turns >= 3, `the loop turned ${turns} times during the burst`)
  })
})

describe('flotilla nodes on the memory channel', () => {
  it('replicate through text, and a spy on a node\'s channel sees parsed messages', WITHIN, async (t) => {
    const track = trackNodes(t)
    const namespace = uniqueName('spied')
    const channels = ['n0', 'n1', 'n2'].map((id) => new MemoryChannel({ id, channelOptions: { namespace } }))
    const nodes = channels.map((channel) => track(new Gaggle({ id: channel.id, channel, clusterSize: 3, ...STEADY })))
    const leader = await electLeader(nodes)
    const seen = []
    channels[nodes.findIndex((node) => node !== leader)].on('recieved', (origin, data) => seen.push(data))
    await Promise.all([leader.append({ k: 1 }), leader.append('two')])
    await allCommitted(nodes, 1)
    for (const node of nodes) assert.deepEqual(node.getLog().map((entry) => entry.data), [{ k: 1 }, 'two'])
    assert.ok(seen.length > 0)
    assert.ok(seen.every((data) => data !== null && typeof data === 'object' && typeof data.type === 'string' &&
      !(data instanceof MemoryChannel.WireText)), 'the spy saw only parsed messages')
    assert.ok(seen.some((data) => data.type === 'APPEND_ENTRIES' && data.entries.length > 0))
  })
})
