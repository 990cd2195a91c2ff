// The linearizable reads (Raft thesis 6.4) a node waits for: those made before its engine ran, and those the
// engine took, by the number it gave each. A read settles from a flush output's `reads` ([number, index] pairs:
// this node has applied every entry up to the read index), which a face hands over only after that output's
// committed entries reached the application, so that its state machine is current when the read resolves.
// A read that times out is given up in the engine too; close() rejects every read still waiting.
'use strict'

const { CODES, codedError } = require('./errors')

// setTimeout fires at once for a delay above 2^31 - 1 ms; a longer timeout waits that long, about 24.8 days.
const MAX_TIMER_MS = 2147483647

class PendingReads {
  /**
   * @param {string} prefix - the face's name at the start of the messages ('flotilla', 'flotilla/brig')
   * @param {(request: number) => void} cancel - gives a read the engine took up (`NativeNode.cancelRead`)
   */
  constructor (prefix, cancel) {
    this._prefix = prefix
    this._cancel = cancel
    this._notStarted = new Set() // made before the engine ran
    this._byRequest = new Map() // the engine's read number -> read
  }

  /**
   * A new read, waiting to be started. `timeoutMs`: null waits until the read completes or the node closes;
   * otherwise a deadline, as for appends: a read completed at or after it settles as timed out.
   */
  add (lease, timeoutMs, resolve, reject) {
    const read = { lease, request: null, resolve, reject, timer: null, deadline: null }
    if (timeoutMs !== null) {
      read.deadline = performance.now() + timeoutMs
      read.timer = setTimeout(() => this._timedOut(read), Math.min(timeoutMs, MAX_TIMER_MS))
    }
    this._notStarted.add(read)
    return read
  }

  /** The reads made before the engine ran, which it now takes. */
  notStarted () {
    return [...this._notStarted]
  }

  /** The engine took the read under the number `request`. */
  started (read, request) {
    this._notStarted.delete(read)
    read.request = request
    this._byRequest.set(request, read)
  }

  /** The engine refused the read (its error has the reason's code). */
  refused (read, error) {
    this._notStarted.delete(read)
    clearTimeout(read.timer)
    read.reject(error)
  }

  /** The reads a flush output reports done: `[request, index]` pairs. */
  settle (done) {
    for (const [request, index] of done) {
      const read = this._byRequest.get(request)
      if (read === undefined) continue
      this._byRequest.delete(request)
      clearTimeout(read.timer)
      if (read.deadline !== null && performance.now() >= read.deadline) read.reject(this._timeoutError())
      else read.resolve(index)
    }
  }

  /** Rejects every read still waiting with `error`; none is kept. */
  rejectAll (error) {
    const reads = [...this._notStarted, ...this._byRequest.values()]
    this._notStarted.clear()
    this._byRequest.clear()
    for (const read of reads) {
      clearTimeout(read.timer)
      read.reject(error)
    }
  }

  _timedOut (read) {
    if (read.request === null) {
      this._notStarted.delete(read)
    } else {
      this._byRequest.delete(read.request)
      this._cancel(read.request)
    }
    read.reject(this._timeoutError())
  }

  _timeoutError () {
    return codedError(CODES.TIMEOUT, `${this._prefix}: timed out before the read completed`)
  }
}

module.exports = { PendingReads }
