// Timeouts for many waiters at once (appends, broadcasts) without a timer each: a timer per call cost a third
// of the throughput with 1,000 appends in flight. Waiters with the same timeout expire in the order they were
// added, so each timeout length keeps one queue and one timer, set for its oldest waiter. A waiter is an object
// with `waiting` (true until it settles), `deadline` and `deadlineQueue` (both null without a timeout),
// `resolve`, `reject` and `late` (a function that makes the error of a waiter settled at or after its deadline).
// A waiter settled before its deadline leaves its queue when it reaches the front, or when settled waiters
// make up most of the queue; once none waits, the queue's timer stops, so it keeps no process alive, and the
// queue is dropped (timeouts of many lengths, a remaining budget say, leave nothing behind).
'use strict'

// setTimeout's longest delay: longer ones fire at once.
const MAX_TIMER_MS = 2147483647
// Settled waiters a queue may hold beyond twice the waiting ones before it drops them all.
const SETTLED_SLACK = 1024

class Deadlines {
  // `onExpired(waiter)`: a waiter's deadline passed while it waited; it is no longer waiting.
  constructor (onExpired) {
    this._onExpired = onExpired
    this._queues = new Map() // timeout ms -> DeadlineQueue
  }

  // Starts `waiter`'s timeout of `timeoutMs` (a number, at least 0).
  add (waiter, timeoutMs) {
    let queue = this._queues.get(timeoutMs)
    if (queue === undefined) {
      const created = new DeadlineQueue(timeoutMs, this._onExpired, () => {
        if (this._queues.get(timeoutMs) === created) this._queues.delete(timeoutMs)
      })
      this._queues.set(timeoutMs, created)
      queue = created
    }
    queue.push(waiter)
  }
}

class DeadlineQueue {
  // `onEmpty`: called when no waiter is left (the queue is then not used again).
  constructor (timeoutMs, onExpired, onEmpty) {
    this._timeoutMs = timeoutMs
    this._onExpired = onExpired
    this._onEmpty = onEmpty
    this._waiters = [] // oldest first, from `_head` on; settled ones stay until they reach the front
    this._head = 0
    this._waiting = 0
    this._timer = null
    this._fire = () => this._expire()
  }

  push (waiter) {
    waiter.deadline = performance.now() + this._timeoutMs
    waiter.deadlineQueue = this
    this._waiters.push(waiter)
    this._waiting++
    if (this._timer === null) this._arm()
  }

  // `waiter` no longer waits for its deadline.
  release (waiter) {
    waiter.deadlineQueue = null
    this._waiting--
    if (this._waiting === 0) return this._clear()
    this._skipSettled()
    const waiters = this._waiters
    if (waiters.length - this._head > 2 * this._waiting + SETTLED_SLACK) {
      this._waiters = waiters.filter((other, i) => i >= this._head && other.deadlineQueue === this)
      this._head = 0
    } else if (this._head > SETTLED_SLACK && this._head * 2 > waiters.length) {
      this._waiters = waiters.slice(this._head)
      this._head = 0
    }
  }

  // The timer fired: every waiter whose deadline passed expires, oldest first.
  _expire () {
    this._timer = null
    const now = performance.now()
    try {
      for (;;) {
        this._skipSettled()
        const waiter = this._waiters[this._head]
        if (waiter === undefined || waiter.deadline > now) break
        this._head++
        waiter.deadlineQueue = null
        this._waiting--
        waiter.waiting = false
        // It may settle or add other waiters, even of this queue.
        this._onExpired(waiter)
      }
    } finally {
      // Even after a callback that threw, the others still expire.
      if (this._waiting === 0) this._clear()
      else this._arm()
    }
  }

  _skipSettled () {
    const waiters = this._waiters
    while (this._head < waiters.length && waiters[this._head].deadlineQueue !== this) this._head++
  }

  // The timer, for the oldest waiter's deadline.
  _arm () {
    if (this._timer !== null) clearTimeout(this._timer)
    this._skipSettled()
    const deadline = this._waiters[this._head].deadline
    const delay = Math.min(Math.max(0, Math.ceil(deadline - performance.now())), MAX_TIMER_MS)
    this._timer = setTimeout(this._fire, delay)
  }

  _clear () {
    if (this._timer !== null) clearTimeout(this._timer)
    this._timer = null
    this._waiters = []
    this._head = 0
    this._onEmpty()
  }
}

// `waiter` settles (or is rejected): it stops waiting for its deadline, if it had one.
function stopWaiting (waiter) {
  waiter.waiting = false
  if (waiter.deadlineQueue !== null) waiter.deadlineQueue.release(waiter)
}

// `waiter` is settled with `value`, unless its deadline passed: a value seen at or after the deadline settles it
// as timed out (with `waiter.late()`), even before the timer fires, as gaggle's timeouts do.
function settleInTime (waiter, value) {
  const late = waiter.deadline !== null && performance.now() >= waiter.deadline
  stopWaiting(waiter)
  if (late) waiter.reject(waiter.late())
  else waiter.resolve(value)
}

module.exports = { Deadlines, stopWaiting, settleInTime }
