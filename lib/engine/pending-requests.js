// The appends (gaggle) or broadcasts (brig) made with a request id that wait for their entry to commit, by the
// entry id the engine gave them. Retries of one request on one node wait together, and all settle with the
// index of the one entry, which the engine reports in its output's `settledRequests` ([entry id, index] pairs).
'use strict'

const { outcomeUnknown } = require('./errors')
const { settleInTime, stopWaiting } = require('./deadlines')

// The engine stopped retrying: the log moved on so far that a retry could have committed the entry twice.
const ABANDONED_BEFORE_COMMIT = "The entry's outcome is unknown: the log moved on too far while it was waiting"

class PendingRequests {
  constructor () {
    this._byId = new Map() // entry id -> [pending, ...]; a pending is {id, ...} and a waiter of deadlines.js
  }

  get size () {
    return this._byId.size
  }

  add (pending) {
    const waiting = this._byId.get(pending.id)
    if (waiting === undefined) this._byId.set(pending.id, [pending])
    else waiting.push(pending)
  }

  // One of them stops waiting (it timed out); the others still wait for the entry.
  remove (pending) {
    const waiting = this._byId.get(pending.id)
    if (waiting === undefined) return
    const rest = waiting.filter((other) => other !== pending)
    if (rest.length === 0) this._byId.delete(pending.id)
    else this._byId.set(pending.id, rest)
  }

  settle (settled) {
    for (const [id, index] of settled) {
      const waiting = this._byId.get(id)
      if (waiting === undefined) continue
      this._byId.delete(id)
      for (const pending of waiting) settleInTime(pending, index)
    }
  }

  // The engine gave these entry ids up (its output's `abandoned`): their outcome is unknown.
  abandon (ids) {
    for (const id of ids) {
      const waiting = this._byId.get(id)
      if (waiting === undefined) continue
      this._byId.delete(id)
      for (const pending of waiting) {
        if (!pending.waiting) continue
        stopWaiting(pending)
        pending.reject(outcomeUnknown(ABANDONED_BEFORE_COMMIT))
      }
    }
  }

  // Every one still waiting, which the caller rejects; none is kept.
  takeAll () {
    const all = [...this._byId.values()].flat()
    this._byId.clear()
    return all
  }
}

module.exports = { PendingRequests, ABANDONED_BEFORE_COMMIT }
