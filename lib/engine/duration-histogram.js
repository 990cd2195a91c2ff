// How long something the JS side of a node does took (the application's snapshot hooks): counts per bucket, in
// the shape `status().fsync` has, so that metrics.js writes both as one kind of Prometheus histogram.
'use strict'

// Upper bounds in seconds: a small state (1 ms) to a large one (30 s).
const BOUNDS_SECONDS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]

class DurationHistogram {
  constructor () {
    this._inBucket = new Array(BOUNDS_SECONDS.length + 1).fill(0) // the last: slower than every bound
    this._sumSeconds = 0
  }

  observe (seconds) {
    let bucket = 0
    while (bucket < BOUNDS_SECONDS.length && seconds > BOUNDS_SECONDS[bucket]) bucket++
    this._inBucket[bucket]++
    this._sumSeconds += seconds
  }

  // `{count, sumSeconds, buckets: [[upper bound, observations at most that long]]}` (cumulative, as Prometheus).
  snapshot () {
    let running = 0
    const buckets = BOUNDS_SECONDS.map((bound, index) => [bound, (running += this._inBucket[index])])
    return { count: running + this._inBucket[BOUNDS_SECONDS.length], sumSeconds: this._sumSeconds, buckets }
  }
}

module.exports = { DurationHistogram }
