// Helpers for the brig face's tests: an in-memory transport wired the way a brig user wires one (a `tx` per peer
// that calls the target's protocol mapping by `msg.constructor.method`, with the message as JSON), partitions,
// and waits that resolve on events, never on a fixed sleep.
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
export const brig = require('../brig.js')
const { consensus, events } = brig

// Every event a cluster emits when its state may have changed: a wait checks its condition on each.
const PROGRESS_EVENTS = [events.RoleChanged, events.LeaderChanged, events.LogCommit, events.ElectionTimeout,
  events.ReplicationTimeout, events.LogResponse, events.VoteResponse]

/**
 * Resolves once `condition()` is true, checking it now and on every progress event of `clusters`.
 * The test's own timeout bounds the wait.
 */
export function waitFor (clusters, condition) {
  return new Promise((resolve, reject) => {
    const check = () => {
      let done
      try {
        done = condition()
      } catch (error) {
        cleanup()
        return reject(error)
      }
      if (done) {
        cleanup()
        resolve()
      }
    }
    const cleanup = () => {
      for (const cluster of clusters) for (const event of PROGRESS_EVENTS) cluster.off(event, check)
    }
    for (const cluster of clusters) for (const event of PROGRESS_EVENTS) cluster.on(event, check)
    check()
  })
}

/** Sets the timing constants for the clusters joined inside `fn`, and puts the old ones back. */
export function withTiming (timing, fn) {
  const saved = { ELECTION_T_MIN: consensus.ELECTION_T_MIN, ELECTION_T_MAX: consensus.ELECTION_T_MAX, REPLICATE_T: consensus.REPLICATE_T }
  Object.assign(consensus, timing)
  try {
    return fn()
  } finally {
    Object.assign(consensus, saved)
  }
}

/** Timing that no node reaches during a test: elections happen only when a test calls startElection(). */
export const NO_TIMEOUTS = { ELECTION_T_MIN: 60000, ELECTION_T_MAX: 60001, REPLICATE_T: 50 }

/**
 * `ids.length` clusters wired through an in-memory transport: messages are delivered as JSON, one per
 * setImmediate, in the order sent. Not joined. `net.partition([...groups])` cuts every link between groups;
 * `net.heal()` joins them again; `net.sent` records every message sent (`{from, to, msg}`) when `record` is set.
 */
export function memoryNetwork (ids, { record = false, options } = {}) {
  const clusters = ids.map((id) => new consensus.Cluster(id, undefined, undefined, options))
  const byId = new Map(clusters.map((c) => [c.id, c]))
  const mappings = new Map(clusters.map((c) => [c.id, c.createProtocolMapping()]))
  let groupOf = null
  const net = {
    clusters,
    byId,
    mappings,
    sent: [],
    record,
    linked (from, to) {
      return groupOf === null || groupOf.get(from) === groupOf.get(to)
    },
    partition (groups) {
      groupOf = new Map()
      groups.forEach((group, i) => group.forEach((id) => groupOf.set(id, i)))
    },
    heal () {
      groupOf = null
    },
    joinAll () {
      for (const c of clusters) c.join()
    },
    close () {
      return Promise.all(clusters.map((c) => c.close()))
    },
    leaders () {
      return clusters.filter((c) => c.state.currentRole === brig.roles.Leader)
    }
  }
  for (const cluster of clusters) {
    for (const other of clusters) {
      if (other === cluster) continue
      cluster.addPeer(new consensus.Peer(other.id, (to, msg) => {
        if (net.record) net.sent.push({ from: cluster.id, to, msg })
        if (!net.linked(cluster.id, to)) return
        const plain = JSON.parse(msg.serialize())
        setImmediate(() => {
          if (!net.linked(cluster.id, to)) return
          mappings.get(to)[msg.constructor.method](plain, (error) => {
            if (error) throw error
          })
        })
      }))
    }
  }
  return net
}

/** Records, per cluster, the payloads of its LogCommit events in order, and whether each was a LogEntry. */
export function commitRecorder (clusters) {
  const commits = new Map(clusters.map((c) => [c.id, []]))
  for (const cluster of clusters) {
    cluster.on(events.LogCommit, (entry) => {
      if (!(entry instanceof brig.log.LogEntry)) throw new Error('LogCommit without a LogEntry')
      commits.get(cluster.id).push(entry.data.payload)
    })
  }
  return commits
}

/**
 * Watches for two leaders in one term: every RoleChanged to Leader is recorded with the engine's term.
 * `check()` throws when a term had two leaders.
 */
export function leaderWatch (clusters) {
  const leadersByTerm = new Map()
  for (const cluster of clusters) {
    cluster.on(events.RoleChanged, (oldRole, newRole) => {
      if (newRole !== brig.roles.Leader) return
      const term = cluster.state.currentTerm
      if (!leadersByTerm.has(term)) leadersByTerm.set(term, new Set())
      leadersByTerm.get(term).add(cluster.id)
    })
  }
  return {
    leadersByTerm,
    elected () {
      return [...leadersByTerm.values()].reduce((n, set) => n + set.size, 0)
    },
    check () {
      for (const [term, leaders] of leadersByTerm) {
        if (leaders.size > 1) throw new Error(`two leaders in term ${term}: ${[...leaders].join(', ')}`)
      }
    }
  }
}
