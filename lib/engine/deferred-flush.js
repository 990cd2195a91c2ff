// A flush put off to the next turn of the event loop, as both faces use it when the engine held part of its
// output back (a restart replaying a long log): one piece per turn, with timers and I/O running in between.
'use strict'

class DeferredFlush {
  // `flush`: the face's flush, called once per turn at most while pieces keep coming.
  constructor (flush) {
    this._flush = flush
    this.pending = false
  }

  schedule () {
    if (this.pending) return
    this.pending = true
    setImmediate(() => {
      this.pending = false
      this._flush()
    })
  }
}

module.exports = { DeferredFlush }
