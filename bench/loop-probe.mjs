// A probe of the event loop for the benchmarks: it re-arms a setImmediate from itself and records the time
// between its runs (one per turn of the loop, without timer granularity) into a histogram, in nanoseconds. While
// enabled it keeps the loop from sleeping, so an idle loop shows gaps of microseconds.
import { createHistogram, performance } from 'node:perf_hooks'

export function immediateGapProbe () {
  const histogram = createHistogram()
  let last = 0
  let running = false
  const run = () => {
    if (!running) return
    const now = performance.now()
    histogram.record(Math.max(1, Math.round((now - last) * 1e6)))
    last = now
    setImmediate(run)
  }
  return {
    histogram,
    enable () {
      histogram.reset()
      running = true
      last = performance.now()
      setImmediate(run)
    },
    disable () { running = false }
  }
}

