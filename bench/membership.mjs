// Membership benchmark (part of `npm run bench`): the time to add a node to a cluster that holds a long log. Three
// nodes in one process on the memory channel commit ENTRIES entries (1,000 in flight), snapshotting every 100,000
// (so the log behind is compacted); then a fourth node started with `join: true` is added with `addMember`: it
// takes the snapshot (InstallSnapshot) and the log after it as a learner, and is promoted to voter once caught up.
// Prints the time of the fill, of the addition until the learner holds the whole log, and until it votes.
//
//   node bench/membership.mjs [ENTRIES] [--json-only]      default 1,000,000 entries
import { createRequire } from 'node:module'
import { performance } from 'node:perf_hooks'
import { waitFor, agreedLeader } from './cluster-wait.mjs'

const require = createRequire(import.meta.url)
const gaggle = require('../index.js')

const entries = Number(process.argv.slice(2).find((arg) => /^\d+$/.test(arg)) || 1_000_000)
const jsonOnly = process.argv.includes('--json-only')
const IN_FLIGHT = 1000
const SNAPSHOT_EVERY = 100_000
const PAD = 'x'.repeat(48)

function node (id, namespace, extra) {
  const state = { count: 0 }
  const snapshot = { threshold: SNAPSHOT_EVERY, save: () => ({ count: state.count }), restore: (data) => { state.count = data.count } }
  const instance = gaggle({ id, clusterSize: 3, channel: { name: 'memory', namespace }, snapshot, ...extra })
  instance.on('committed', () => { state.count++ })
  instance.state = state
  return instance
}

async function fill (leader, total) {
  let sent = 0
  let done = 0
  await new Promise((resolve, reject) => {
    const next = () => {
      while (sent < total && sent - done < IN_FLIGHT) {
        sent++
        leader.append({ i: sent, pad: PAD }).then(() => {
          done++
          if (done === total) resolve()
          else next()
        }, reject)
      }
    }
    next()
  })
}

async function main () {
  const namespace = `membership-${process.pid}`
  const nodes = ['n1', 'n2', 'n3'].map((id) => node(id, namespace, {}))
  const leader = await waitFor(() => agreedLeader(nodes), 30_000, 'a leader')
  const startFill = performance.now()
  await fill(leader, entries)
  const fillMs = performance.now() - startFill
  const fresh = node('n4', namespace, { join: true })
  const start = performance.now()
  const added = leader.addMember('n4')
  await waitFor(() => fresh.getCommitIndex() >= entries - 1, 600_000, 'the learner to hold the log')
  const caughtUpMs = performance.now() - start
  await added
  const votingMs = performance.now() - start
  const result = { bench: 'membership', entries, fillMs, caughtUpMs, votingMs, voters: leader.members().voters }
  if (!jsonOnly) {
    console.log(`add a node to a cluster of ${entries.toLocaleString('en')} entries (3 nodes, one process, memory channel, snapshot every ${SNAPSHOT_EVERY.toLocaleString('en')})`)
    console.log(`  fill: ${(fillMs / 1000).toFixed(2)} s (${Math.round(entries / fillMs * 1000).toLocaleString('en')} commits/s)`)
    console.log(`  addMember until the learner holds the whole log (snapshot + catch-up): ${(caughtUpMs / 1000).toFixed(2)} s`)
    console.log(`  addMember until it is promoted and votes: ${(votingMs / 1000).toFixed(2)} s`)
  }
  console.log(JSON.stringify(result))
  await Promise.all([...nodes, fresh].map((n) => n.close()))
  process.exit(0)
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
