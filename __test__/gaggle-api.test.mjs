// The gaggle 2.1.4 face as callers see it: the entry points, the deep imports, the state fields, the log and its
// events, and the forms of append and dispatchOnLeader (spec/gaggle.md).
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { EventEmitter } from 'node:events'
import {
  gaggle, FAST, STEADY, WITHIN, uniqueName, waitFor, trackNodes, memoryCluster, electLeader, stableLeader, allCommitted,
  assertSameLogs, rejection, Gaggle, ChannelInterface, TestChannel, TestBus, testBusCluster
} from './gaggle-support.mjs'

const require = createRequire(import.meta.url)
const ENTRY_ID = /^([^_]+)_[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

describe('entry points', () => {
  test('the package root is the factory, called without new', WITHIN, async (t) => {
    assert.equal(typeof gaggle, 'function')
    const track = trackNodes(t)
    const node = track(gaggle({ id: 'solo', channel: { name: 'memory', namespace: uniqueName('ns') }, clusterSize: 1, ...FAST }))
    assert.ok(node instanceof Gaggle)
    assert.ok(node instanceof EventEmitter)
    assert.equal(node.id, 'solo')
  })

  test('_STATES and _RPC_TYPE: values equal keys', () => {
    assert.deepEqual(gaggle._STATES, { CANDIDATE: 'CANDIDATE', LEADER: 'LEADER', FOLLOWER: 'FOLLOWER' })
    const names = ['REQUEST_VOTE', 'REQUEST_VOTE_REPLY', 'APPEND_ENTRIES', 'APPEND_ENTRIES_REPLY', 'APPEND_ENTRY',
      'DISPATCH', 'DISPATCH_REPLY']
    assert.deepEqual(gaggle._RPC_TYPE, Object.fromEntries(names.map((name) => [name, name])))
    assert.deepEqual(Gaggle._STATES, gaggle._STATES)
    assert.deepEqual(Gaggle._RPC_TYPE, gaggle._RPC_TYPE)
  })

  test('enhanceServerForSocketIOChannel is on the factory and at gaggle\'s deep path', () => {
    assert.equal(typeof gaggle.enhanceServerForSocketIOChannel, 'function')
    assert.equal(typeof require('../lib/socket-io-server-enhancer'), 'function')
  })

  test('deep imports: lib/gaggle, channels, channels/channel-interface and the channel files', () => {
    assert.equal(require('../lib/gaggle'), Gaggle)
    assert.equal(typeof Gaggle, 'function')
    const channels = require('../channels')
    assert.deepEqual(Object.keys(channels).sort(), ['memory', 'redis', 'socket.io'])
    const Base = require('../channels/channel-interface')
    assert.equal(Base, ChannelInterface)
    for (const name of ['memory', 'redis', 'socket.io']) {
      assert.equal(typeof channels[name], 'function', name)
      assert.ok(channels[name].prototype instanceof Base, `${name} extends the base class`)
    }
    assert.equal(require('../channels/in-memory-channel'), channels.memory)
    assert.equal(require('../channels/redis-channel'), channels.redis)
    assert.equal(require('../channels/socket-io-channel'), channels['socket.io'])
    assert.equal(gaggle.channels, channels)
  })

  test('the constructor takes a channel instance', WITHIN, async (t) => {
    const Memory = require('../channels').memory
    const track = trackNodes(t)
    const channel = new Memory({ id: 'x', channelOptions: { namespace: uniqueName('ns') } })
    const node = track(new Gaggle({ id: 'x', channel, clusterSize: 1, ...FAST }))
    assert.equal(node._channel, channel)
    await node.append('alone')
    assert.deepEqual(node.getLog().map((entry) => entry.data), ['alone'])
  })

  test('the constructor refuses something that is not a channel', () => {
    assert.throws(() => new Gaggle({ id: 'x', channel: { name: 'memory' }, clusterSize: 1 }), /Invalid options: "channel"/)
  })

  test('a custom channel subclassing the base class carries a cluster end to end', WITHIN, async (t) => {
    const { bus, nodes } = testBusCluster(t, 3, STEADY)
    let seen = 0
    bus.tap = () => { seen++ }
    const leader = await electLeader(nodes)
    await nodes.find((node) => node !== leader).append({ over: 'custom channel' })
    await allCommitted(nodes, 0)
    assertSameLogs(nodes)
    assert.ok(seen > 0)
    assert.ok(nodes.every((node) => node._channel instanceof TestChannel))
  })

  test('a custom channel written the gaggle way (ChannelInterface.apply in a constructor function)', WITHIN, async (t) => {
    const bus = new TestBus()
    function OldStyleChannel (opts) {
      ChannelInterface.apply(this, arguments)
      this.inner = new TestChannel({ id: opts.id, bus })
      this.inner.on('recieved', (from, data) => this.emit('recieved', from, data))
    }
    Object.setPrototypeOf(OldStyleChannel.prototype, ChannelInterface.prototype)
    OldStyleChannel.prototype._connect = function () {
      this.inner.once('connected', () => this._connected())
      this.inner.connect()
    }
    OldStyleChannel.prototype._disconnect = function () {
      this.inner.once('disconnected', () => this._disconnected())
      this.inner.disconnect()
    }
    OldStyleChannel.prototype._broadcast = function (packet) { this.inner.broadcast(packet.data) }
    OldStyleChannel.prototype._send = function (to, packet) { this.inner.send(to, packet.data) }

    const track = trackNodes(t)
    const nodes = ['p', 'q', 'r'].map((id) =>
      track(new Gaggle({ id, channel: new OldStyleChannel({ id }), clusterSize: 3, ...STEADY })))
    await electLeader(nodes)
    await nodes[2].append(42)
    await allCommitted(nodes, 0)
    assert.deepEqual(assertSameLogs(nodes).map((entry) => entry.data), [42])
  })
})

describe('state fields', () => {
  test('before and after an election', WITHIN, async (t) => {
    const nodes = memoryCluster(t, 3, STEADY)
    for (const node of nodes) {
      assert.equal(typeof node.id, 'string')
      assert.ok(Object.values(gaggle._STATES).includes(node._state))
      assert.equal(typeof node._currentTerm, 'number')
      assert.deepEqual(node._log, [])
      assert.deepEqual(node.getLog(), [])
      assert.equal(node._commitIndex, -1)
      assert.equal(node.getCommitIndex(), -1)
      assert.equal(node._lastApplied, -1)
      assert.ok(node._channel instanceof ChannelInterface)
      assert.equal(node.hasUncommittedEntriesInPreviousTerms(), false)
    }
    const leader = await electLeader(nodes)
    assert.equal(leader._state, 'LEADER')
    assert.equal(leader.isLeader(), true)
    assert.equal(leader._leader, null, '_leader is null on the leader itself')
    assert.equal(leader._votedFor, leader.id)
    assert.ok(leader._currentTerm >= 1)
    for (const follower of nodes.filter((node) => node !== leader)) {
      assert.equal(follower._state, 'FOLLOWER')
      assert.equal(follower.isLeader(), false)
      assert.equal(follower._leader, leader.id)
      assert.equal(follower._currentTerm, leader._currentTerm)
    }
    // the engine's own entries (no-ops of new leaders) never show in the gaggle log
    assert.deepEqual(leader.getLog(), [])
    assert.equal(leader.getCommitIndex(), -1)
  })

  test('entries are {term, data, id}, 0-based, with id <node id>_<uuid>', WITHIN, async (t) => {
    const nodes = memoryCluster(t, 3, STEADY)
    const leader = await electLeader(nodes)
    const follower = nodes.find((node) => node !== leader)
    await follower.append({ a: [1, 'two', null] })
    await leader.append('second')
    await allCommitted(nodes, 1)
    const log = assertSameLogs(nodes)
    assert.equal(log.length, 2)
    for (const entry of log) assert.deepEqual(Object.keys(entry).sort(), ['data', 'id', 'term'])
    assert.deepEqual(log.map((entry) => entry.data), [{ a: [1, 'two', null] }, 'second'])
    assert.equal(ENTRY_ID.exec(log[0].id)?.[1], follower.id)
    assert.equal(ENTRY_ID.exec(log[1].id)?.[1], leader.id)
    assert.notEqual(log[0].id, log[1].id)
    assert.ok(log[0].term >= 1 && log[0].term <= leader._currentTerm)
    for (const node of nodes) {
      assert.equal(node.getCommitIndex(), 1)
      assert.equal(node._commitIndex, 1)
      assert.equal(node._lastApplied, 1)
      assert.deepEqual(node._log, log)
      assert.equal(node.hasUncommittedEntriesInPreviousTerms(), false)
    }
    // getLog hands out a copy: changing it changes nothing
    log[0].data = 'changed'
    assert.deepEqual(leader.getLog()[0].data, { a: [1, 'two', null] })
  })

  test('JSON values of every kind survive the log', WITHIN, async (t) => {
    const [node] = memoryCluster(t, 1, STEADY)
    const values = [0, -1.5, 1e300, 'text', '', 'ünïcödé \u2028 "quotes"', true, false, null, [], {}, [1, [2, [3]]],
      { nested: { deep: { x: 'y' } } }]
    for (const value of values) await node.append(value)
    assert.deepEqual(node.getLog().map((entry) => entry.data), values)
    // undefined has no JSON form: it is stored as null, as JSON.stringify turns it inside arrays
    await node.append(undefined)
    assert.equal(node.getLog().at(-1).data, null)
  })

  test('setting _currentTerm to a later term, as gaggle\'s own tests do: the old leader is answered with failure in it', WITHIN, async (t) => {
    const nodes = memoryCluster(t, 2, STEADY)
    const leader = await electLeader(nodes)
    const follower = nodes.find((node) => node !== leader)
    const later = follower._currentTerm + 1
    const answered = new Promise((resolve) => leader._channel.on('recieved', (from, message) => {
      if (message.type === 'APPEND_ENTRIES_REPLY' && message.term === later) resolve(message.success)
    }))
    follower._currentTerm = later
    assert.equal(follower._currentTerm, later)
    assert.equal(follower._state, 'FOLLOWER')
    assert.equal(follower._votedFor, null)
    assert.equal(await answered, false)
    follower._currentTerm = follower._currentTerm // the current term: nothing changes
    for (const term of [later - 1, 1.5, 'x', Number.MAX_VALUE]) {
      assert.throws(() => { follower._currentTerm = term }, { code: 'FLOTILLA_INVALID_ARGUMENT' }, String(term))
    }
  })
})

describe('events', () => {
  test('appended fires on the leader only; committed on every node, once per index, in order', WITHIN, async (t) => {
    const nodes = memoryCluster(t, 3, STEADY)
    const appended = new Map(nodes.map((node) => [node, []]))
    const committed = new Map(nodes.map((node) => [node, []]))
    for (const node of nodes) {
      node.on('appended', (entry, index) => appended.get(node).push([index, entry, node.isLeader()]))
      node.on('committed', (entry, index) => committed.get(node).push([index, entry]))
    }
    const leader = await electLeader(nodes)
    const term = leader._currentTerm
    const COUNT = 50
    await Promise.all(Array.from({ length: COUNT }, (_, i) => nodes[i % 3].append({ i })))
    await allCommitted(nodes, COUNT - 1)
    const log = assertSameLogs(nodes)
    for (const node of nodes) {
      const events = committed.get(node)
      assert.deepEqual(events.map(([index]) => index), log.map((_, i) => i), `committed indices on ${node.id}`)
      assert.deepEqual(events.map(([, entry]) => entry), log, `committed entries on ${node.id}`)
      assert.ok(appended.get(node).every(([, , wasLeader]) => wasLeader), `appended only while ${node.id} led`)
    }
    // every entry was announced by the leader that appended it
    const announced = new Map()
    for (const events of appended.values()) for (const [index, entry] of events) announced.set(index, entry)
    assert.deepEqual(log.map((_, i) => announced.get(i)), log)
    if (leader._currentTerm === term && leader.isLeader()) {
      // one leader all along (the usual case): it announced everything, the followers nothing
      assert.deepEqual(appended.get(leader).map(([index, entry]) => [index, entry]), log.map((entry, i) => [i, entry]))
      for (const node of nodes) if (node !== leader) assert.deepEqual(appended.get(node), [], `no appended on ${node.id}`)
    }
    // the committed entry is a private copy
    committed.get(nodes[0])[0][1].data = 'changed'
    assert.deepEqual(nodes[0].getLog()[0], log[0])
  })

  test('leaderElected fires once per change of leader, not on heartbeats', WITHIN, async (t) => {
    const nodes = memoryCluster(t, 3, STEADY)
    // The term each node was in at each leaderElected: once per leader means never twice in one term (a machine
    // under load may still hold an election of its own during the test; that one may fire again, in its term).
    const elected = new Map(nodes.map((node) => [node, []]))
    for (const node of nodes) node.on('leaderElected', () => elected.get(node).push(node._currentTerm))
    const leader = await electLeader(nodes)
    const follower = nodes.find((node) => node !== leader)
    let heartbeats = 0
    follower._channel.on('recieved', (from, data) => {
      if (from === leader.id && data?.type === 'APPEND_ENTRIES') heartbeats++
    })
    await waitFor(() => heartbeats >= 30, 5000, '30 heartbeats')
    assert.equal(leader.id, (await stableLeader(nodes)).id, 'the leader did not change')
    for (const node of nodes) {
      const terms = elected.get(node)
      assert.ok(terms.length >= 1, `leaderElected fired on ${node.id}`)
      assert.deepEqual(terms, [...new Set(terms)].sort((a, b) => a - b), `once per term on ${node.id}: ${terms}`)
      assert.ok(terms.length <= leader._currentTerm, `at most one per term on ${node.id}: ${terms}`)
    }
  })
})

describe('append', () => {
  test('promise, callback and timeout forms', WITHIN, async (t) => {
    const nodes = memoryCluster(t, 3, STEADY)
    const leader = await electLeader(nodes)
    const follower = nodes.find((node) => node !== leader)

    const promise = follower.append('p')
    assert.ok(promise instanceof Promise)
    assert.equal(await promise, undefined)

    const args = await new Promise((resolve) => {
      const returned = follower.append('cb', (...cbArgs) => resolve(cbArgs))
      assert.equal(returned, undefined)
    })
    assert.equal(args[0], null)

    const withTimeout = await new Promise((resolve) => follower.append('cb2', 5000, (...cbArgs) => resolve(cbArgs)))
    assert.equal(withTimeout[0], null)
    assert.equal(await leader.append('t', 5000), undefined)
    assert.equal(await leader.append('u', undefined, undefined), undefined)
    await allCommitted(nodes, 4)
    assert.deepEqual(assertSameLogs(nodes).map((entry) => entry.data), ['p', 'cb', 'cb2', 't', 'u'])
  })

  test('times out when nothing can commit', WITHIN, async (t) => {
    // one node of three: no majority, so nothing commits
    const [lonely] = memoryCluster(t, 1, { ...STEADY, clusterSize: 3 })
    assert.equal(lonely._leader, null, '_leader is null while no leader is known')
    const error = await rejection(lonely.append('never', 30))
    assert.ok(error instanceof Error)
    assert.equal(error.message, 'Timed out before the entry was committed')
    const cbError = await new Promise((resolve) => lonely.append('never', 0, resolve))
    assert.equal(cbError.message, 'Timed out before the entry was committed')
  })
})

// gaggle's own tests: `append('foobar', 0)` and `dispatchOnLeader('ping', ['foo', 'bar'], 0, cb)` time out.
describe('a timeout is a deadline', () => {
  const rpc = {
    ping (f, b, cb) { cb(null, 'pong') },
    slow (ms, cb) {
      const until = performance.now() + ms
      while (performance.now() < until) { /* the rpc holds the event loop past the caller's deadline */ }
      cb(null, 'late')
    },
    slowThenLater (ms, cb) {
      const until = performance.now() + ms
      while (performance.now() < until) { /* past the caller's deadline, then the answer comes after the call */ }
      queueMicrotask(() => cb(null, 'late'))
    }
  }
  const busyFor = (ms) => {
    const until = performance.now() + ms
    while (performance.now() < until) { /* the caller holds the event loop past its own deadline */ }
  }

  test('append with timeout 0 times out although the entry commits before a 0 ms timer fires', WITHIN, async (t) => {
    const [solo] = memoryCluster(t, 1, STEADY)
    await electLeader([solo])
    const error = await rejection(solo.append('foobar', 0))
    assert.equal(error.toString(), 'Error: Timed out before the entry was committed')
    await waitFor(() => solo.getCommitIndex() === 0, 5000, 'the entry committed all the same')
    assert.equal(await solo.append('in time', 5000), undefined, 'an answer before the deadline succeeds')
  })

  test('append: a commit seen after the deadline settles as timed out', WITHIN, async (t) => {
    const [solo] = memoryCluster(t, 1, STEADY)
    await electLeader([solo])
    const late = rejection(solo.append('late', 5))
    busyFor(20) // the commit comes in this turn's microtasks, before the 5 ms timer, but after the deadline
    assert.equal((await late).message, 'Timed out before the entry was committed')
  })

  test('dispatchOnLeader with timeout 0 calls back with the timeout from a follower; on the leader an rpc that answers within the call succeeds, as in gaggle', WITHIN, async (t) => {
    const nodes = memoryCluster(t, 5, { ...STEADY, rpc })
    const leader = await electLeader(nodes)
    const notTheLeader = nodes.find((node) => node.id !== leader.id)
    const err = await new Promise((resolve) => notTheLeader.dispatchOnLeader('ping', ['foo', 'bar'], 0, resolve))
    assert.ok(err instanceof Error, 'there should be an error')
    assert.equal(err.toString(), 'Error: Timed out before the rpc method returned', 'about timing out')
    // gaggle's reply came before its 0 ms timer could fire: so here.
    const answered = await new Promise((resolve) => leader.dispatchOnLeader('ping', ['foo', 'bar'], 0, (...args) => resolve(args)))
    assert.deepEqual(answered, [null, 'pong'])
    for (const node of [notTheLeader, leader]) {
      assert.deepEqual(await node.dispatchOnLeader('ping', ['foo', 'bar'], 5000), ['pong'], 'in time: the answer')
    }
  })

  test('dispatchOnLeader: an answer that comes after the deadline settles as timed out, even before the timer', WITHIN, async (t) => {
    const nodes = memoryCluster(t, 3, { ...STEADY, rpc })
    const leader = await electLeader(nodes)
    // Within the call, past the deadline: answered, as gaggle's was.
    assert.deepEqual(await leader.dispatchOnLeader('slow', [20], 5), ['late'])
    // After the call (a microtask later), past the deadline and before the 5 ms timer: only the deadline refuses it.
    const error = await rejection(leader.dispatchOnLeader('slowThenLater', [20], 5))
    assert.equal(error.message, 'Timed out before the rpc method returned')
  })
})

describe('dispatchOnLeader', () => {
  function rpcCluster (t) {
    const calls = []
    const rpc = {
      add (a, b, callback) {
        calls.push([this, this.isLeader()])
        callback(null, a + b, this.isLeader())
      },
      later (value, callback) { setTimeout(() => callback(null, value), 5) },
      fail (callback) { callback(new Error('the rpc failed')) },
      throws () { throw new Error('the rpc threw') },
      never () {}
    }
    return { nodes: memoryCluster(t, 3, { ...STEADY, rpc }), calls }
  }

  test('promise with .spread, callback, and this = the leader', WITHIN, async (t) => {
    const { nodes, calls } = rpcCluster(t)
    const leader = await electLeader(nodes)
    const follower = nodes.find((node) => node !== leader)

    const promise = follower.dispatchOnLeader('add', [2, 3])
    assert.equal(typeof promise.spread, 'function')
    assert.deepEqual(await promise, [5, true])
    assert.deepEqual(await follower.dispatchOnLeader('add', [1, 1]).spread((sum, ranOnLeader) => [sum, ranOnLeader]), [2, true])
    assert.deepEqual(await leader.dispatchOnLeader('add', [4, 4]), [8, true])
    assert.deepEqual(await follower.dispatchOnLeader('later', ['v'], 5000), ['v'])

    const cbArgs = await new Promise((resolve) => {
      const returned = follower.dispatchOnLeader('add', [10, 20], (...args) => resolve(args))
      assert.equal(returned, undefined)
    })
    assert.deepEqual(cbArgs, [null, 30, true])
    assert.ok(calls.length >= 4)
    for (const [self, wasLeader] of calls) {
      assert.ok(nodes.includes(self) && wasLeader, 'the rpc runs with this = the leader instance')
    }
    assert.ok(calls.some(([self]) => self === leader))
  })

  test('rpc errors, missing methods and timeouts reject with clear errors', WITHIN, async (t) => {
    const { nodes } = rpcCluster(t)
    const leader = await electLeader(nodes)
    const follower = nodes.find((node) => node !== leader)
    for (const node of [follower, leader]) {
      const failed = await rejection(node.dispatchOnLeader('fail', []))
      assert.ok(failed instanceof Error)
      assert.equal(failed.message, 'the rpc failed')
      assert.equal((await rejection(node.dispatchOnLeader('throws', []))).message, 'the rpc threw')
      const missing = await rejection(node.dispatchOnLeader('nope', []))
      assert.ok(missing instanceof Error)
      assert.equal(missing.message, 'The RPC method nope does not exist')
      // names of Object.prototype are not rpc methods
      assert.equal((await rejection(node.dispatchOnLeader('toString', []))).message, 'The RPC method toString does not exist')
      const timedOut = await rejection(node.dispatchOnLeader('never', [], 30))
      assert.ok(timedOut instanceof Error)
      assert.equal(timedOut.message, 'Timed out before the rpc method returned')
      const cbError = await new Promise((resolve) => node.dispatchOnLeader('fail', [], 5000, resolve))
      assert.equal(cbError.message, 'the rpc failed')
    }
  })
})

test('status() reports the engine\'s view', WITHIN, async (t) => {
  const nodes = memoryCluster(t, 3, STEADY)
  const leader = await electLeader(nodes)
  const status = leader.status()
  assert.equal(status.id, leader.id)
  assert.equal(status.state, 'LEADER')
  assert.equal(status.leader, leader.id)
  assert.equal(status.commitIndex, -1)
  assert.equal(status.peers.length, 2)
  assert.equal(typeof status.dropped.total, 'number')
  assert.equal(status.pendingAppends, 0)
  assert.equal(status.pendingDispatches, 0)
})
