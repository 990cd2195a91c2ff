// What the benchmarks wait on, in one place: a sleep, a condition polled every millisecond until a deadline, and
// the one leader every node of a cluster agrees on.
import { performance } from 'node:perf_hooks'

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

export async function waitFor (predicate, timeoutMs, what) {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    const value = predicate()
    if (value) return value
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(1)
  }
}

// The one leader every node agrees on.
export function agreedLeader (nodes) {
  const leaders = nodes.filter((node) => node.isLeader())
  if (leaders.length !== 1) return null
  const leader = leaders[0]
  return nodes.every((node) => node === leader || node._leader === leader.id) ? leader : null
}
