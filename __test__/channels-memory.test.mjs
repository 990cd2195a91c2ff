// The memory channel: the shared channel contract, plus what only an in-process bus promises (asynchronous,
// loss-free FIFO delivery, namespaces, the default namespace shared as in gaggle).
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { WITHIN, channelContract, collect, connectAll, trackChannels, uniqueName } from './channels-contract.mjs'

const require = createRequire(import.meta.url)
const MemoryChannel = require('../lib/channels/memory.js')

const inNamespace = (t, namespace) => {
  const track = trackChannels(t)
  return (id) => track(new MemoryChannel({ id, channelOptions: { namespace } }))
}

describe('memory channel: contract', () => {
  channelContract((id, group) => new MemoryChannel({ id, channelOptions: { namespace: group } }))
})

describe('memory channel', () => {
  it('delivers 10,000 packets each way between two nodes, in order, none dropped', WITHIN, async (t) => {
    const make = inNamespace(t, uniqueName('bulk'))
    const a = make('a')
    const b = make('b')
    await connectAll([a, b])
    const count = 10000
    const atA = collect(a, count)
    const atB = collect(b, count)
    for (let i = 0; i < count; i++) {
      a.send('b', i)
      b.send('a', -i)
    }
    const expected = Array.from({ length: count }, (_, i) => i)
    assert.deepEqual((await atB).map(([, data]) => data), expected)
    assert.deepEqual((await atA).map(([, data]) => data), expected.map((i) => -i))
  })

  it('delivers asynchronously, never inside the call that sent', WITHIN, async (t) => {
    const make = inNamespace(t, uniqueName('async'))
    const a = make('a')
    const b = make('b')
    let connectedYet = false
    a.once('connected', () => { connectedYet = true })
    const connecting = connectAll([a, b])
    assert.equal(connectedYet, false)
    await connecting

    let depth = 0
    let reentered = false
    let replies = 0
    b.on('recieved', () => b.send('a', 'pong'))
    a.on('recieved', () => {
      if (depth > 0) reentered = true
      replies++
    })
    const pongs = collect(a, 300) // 100 own broadcasts, and b answers both of every pair
    for (let i = 0; i < 100; i++) {
      depth++
      a.send('b', 'ping')
      a.broadcast('ping')
      depth--
    }
    assert.equal(replies, 0)
    await pongs
    assert.equal(reentered, false)
  })

  it('keeps namespaces apart, even for the same node ids', WITHIN, async (t) => {
    const [red, blue] = [inNamespace(t, uniqueName('red')), inNamespace(t, uniqueName('blue'))]
    const redA = red('a')
    const redB = red('b')
    const blueA = blue('a')
    const blueB = blue('b')
    await connectAll([redA, redB, blueA, blueB])
    const atRedB = collect(redB, 2)
    const atBlueB = collect(blueB, 2)
    redA.send('b', 'red 1')
    blueA.send('b', 'blue 1')
    redA.broadcast('red 2')
    blueA.broadcast('blue 2')
    assert.deepEqual((await atRedB).map(([, data]) => data), ['red 1', 'red 2'])
    assert.deepEqual((await atBlueB).map(([, data]) => data), ['blue 1', 'blue 2'])
  })

  it('shares one default namespace between channels given none, as gaggle did', WITHIN, async (t) => {
    const track = trackChannels(t)
    const a = track(new MemoryChannel({ id: uniqueName('default-a') }))
    const b = track(new MemoryChannel({ id: uniqueName('default-b'), channelOptions: {} }))
    await connectAll([a, b])
    const atB = collect(b, 1)
    a.send(b.id, 'hello')
    assert.deepEqual(await atB, [[a.id, 'hello']])
  })

  it('drops packets for nodes that are not connected, without complaint', WITHIN, async (t) => {
    const make = inNamespace(t, uniqueName('absent'))
    const a = make('a')
    const late = make('late')
    await connectAll([a])
    a.send('nobody', 'lost')
    a.send('late', 'lost too')
    await new Promise((resolve) => setImmediate(resolve))
    await connectAll([late])
    const atLate = collect(late, 1)
    a.send('late', 'found')
    assert.deepEqual(await atLate, [['a', 'found']])
  })
})
