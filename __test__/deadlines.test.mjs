// The shared timeouts of appends and broadcasts (lib/engine/deadlines.js): each waiter expires once, at its
// deadline, unless it settled first; a settle at or after the deadline counts as late; one timer per timeout
// length, none once nobody waits; settled waiters do not pile up behind one that still waits.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { setTimeout as sleep } from 'node:timers/promises'

const require = createRequire(import.meta.url)
const { Deadlines, settleInTime, stopWaiting } = require('../lib/engine/deadlines.js')

function waiter (name, log) {
  return {
    name,
    waiting: true,
    deadline: null,
    deadlineQueue: null,
    resolve: (value) => log.push(`${name} resolved ${value}`),
    reject: (error) => log.push(`${name} rejected ${error.message}`),
    late: () => new Error('late')
  }
}

const timers = () => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length

test('waiters expire once each, at their deadline, oldest first, unless they settled first', async () => {
  const log = []
  const expired = []
  const deadlines = new Deadlines((w) => expired.push(w.name))
  const before = timers()
  const a = waiter('a', log)
  const b = waiter('b', log)
  const c = waiter('c', log)
  const d = waiter('d', log)
  const started = performance.now()
  deadlines.add(a, 40)
  deadlines.add(b, 40)
  deadlines.add(c, 40)
  deadlines.add(d, 80)
  assert.equal(timers(), before + 2, 'one timer per timeout length')
  settleInTime(b, 7)
  assert.deepEqual(log, ['b resolved 7'])
  await sleep(60)
  assert.deepEqual(expired, ['a', 'c'], 'the waiters of 40 ms that still waited, in order')
  assert.ok(a.deadline - started >= 40 && !a.waiting && !c.waiting)
  assert.equal(timers(), before + 1, 'the 40 ms queue has nobody left: its timer stopped')
  stopWaiting(d)
  assert.equal(timers(), before, 'nobody waits: no timer keeps the process alive')
  await sleep(40)
  assert.deepEqual(expired, ['a', 'c'], 'a waiter that stopped waiting never expires')
})

test('a value seen at or after the deadline settles the waiter as late, before its timer fires too', async () => {
  const log = []
  const deadlines = new Deadlines(() => assert.fail('the settle came first'))
  const w = waiter('w', log)
  deadlines.add(w, 0)
  settleInTime(w, 1)
  assert.deepEqual(log, ['w rejected late'], 'a 0 ms timeout always times out')
  await sleep(10)
  const none = waiter('none', log)
  settleInTime(none, 2)
  assert.deepEqual(log, ['w rejected late', 'none resolved 2'], 'without a deadline it settles as given')
})

test('waiters settled out of order do not pile up behind one that still waits', () => {
  const log = []
  const deadlines = new Deadlines(() => {})
  const first = waiter('first', log)
  deadlines.add(first, 60_000)
  for (let i = 0; i < 100_000; i++) {
    const w = waiter(`w${i}`, log)
    deadlines.add(w, 60_000)
    settleInTime(w, i)
  }
  const queue = first.deadlineQueue
  assert.ok(queue._waiters.length - queue._head <= 2 * 1 + 1024 + 1, `${queue._waiters.length - queue._head} held`)
  assert.equal(log.length, 100_000)
  stopWaiting(first)
  assert.equal(queue._waiters.length, 0)
})

test('an expiry that adds and settles waiters of the same queue leaves one timer for the oldest left', async () => {
  const log = []
  const before = timers()
  let late = null
  const deadlines = new Deadlines((w) => {
    log.push(`${w.name} expired`)
    if (w.name === 'a') {
      late = waiter('late', log)
      deadlines.add(late, 20)
      settleInTime(b, 'b')
    }
  })
  const a = waiter('a', log)
  const b = waiter('b', log)
  deadlines.add(a, 20)
  await sleep(5)
  deadlines.add(b, 20)
  await sleep(25)
  assert.deepEqual(log, ['a expired', 'b resolved b'])
  assert.equal(timers(), before + 1)
  await sleep(30)
  assert.deepEqual(log, ['a expired', 'b resolved b', 'late expired'])
  assert.equal(timers(), before)
})

test('timeouts of many lengths leave no queue behind once settled, and a callback that throws stops no other expiry', async () => {
  const log = []
  const deadlines = new Deadlines((w) => {
    log.push(`${w.name} expired`)
    if (w.name === 'thrower') throw new Error('a callback that throws')
  })
  for (let i = 0; i < 10_000; i++) {
    const w = waiter(`w${i}`, log)
    deadlines.add(w, 1000 + i / 7) // a remaining budget, say: a new length each time
    settleInTime(w, i)
  }
  assert.equal(deadlines._queues.size, 0, 'an empty queue is dropped')
  const thrower = waiter('thrower', log)
  const after = waiter('after', log)
  deadlines.add(thrower, 60_000)
  deadlines.add(after, 60_000)
  thrower.deadline = after.deadline = performance.now() - 1 // both due: expire them now, by hand
  const queue = thrower.deadlineQueue
  clearTimeout(queue._timer) // (what its timer would do: else that timer keeps the test alive for its 60 s)
  assert.throws(() => queue._expire(), { message: 'a callback that throws' })
  assert.deepEqual(log.slice(-1), ['thrower expired'])
  await sleep(20)
  assert.deepEqual(log.slice(-2), ['thrower expired', 'after expired'], 'the timer was set again for the others')
  assert.equal(deadlines._queues.size, 0)
})
