// Nothing acknowledged is lost: a 3-node durable cluster of child processes (each its own dataDir, on the redis
// channel against a real redis-server started here) appends all the time while nodes are killed with SIGKILL at
// random moments and restarted on the same dataDir: one node, the leader, two in a row, sometimes all three.
// Each child reports every append that resolved before it appends again (fixtures/durable-node.cjs). When all
// three die at once, every acknowledged append must be in the logs of at least two of them as they restart. At
// the end, with appends stopped and the cluster converged: the logs of all nodes are identical, every payload
// appears once, every acknowledged one is there, and each node's acknowledged payloads are in the order they
// were acknowledged in. The nodes take snapshots every few hundred entries, so kills also land while one is
// written, renamed into place, or the segments it covers are deleted.
//
// SIGKILL keeps the page cache, so it only proves that acknowledged writes were handed to the kernel. Half the
// kills (seeded) are power cuts too: each child runs with FLOTILLA_TEST_FSYNC_LOG (a test-only switch of the
// engine), which notes every segment's length after each fsync, and after the kill every segment of the node is
// cut to its last fsynced length (a segment never fsynced: to nothing), as a machine that lost power keeps it.
// When all three die that way, everything acknowledged must still be on two of them.
//
// Seeded: `CRASH_SEED=<n>` replays a schedule (as far as timing allows), `CRASH_ROUNDS=<n>` runs more rounds
// (default 10). A failure prints both.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { startRedis, uniqueName, waitFor } from './gaggle-support.mjs'
import { NodeProcess, STEP_MS, digest } from './node-process.mjs'

const ROUNDS = Number(process.env.CRASH_ROUNDS ?? 10)
const SEED = process.env.CRASH_SEED !== undefined ? Number(process.env.CRASH_SEED) : Math.floor(Math.random() * 2 ** 32)
const APPENDERS = 3
const APPEND_TIMEOUT_MS = 3000
// Small segments, so that kills also land while segments roll.
const SEGMENT_BYTES = 32 * 1024
// Frequent snapshots, so that kills also land while a snapshot is written or renamed, or the segments it covers
// are deleted; restarts then start from a snapshot, and a node that was down long may be sent one.
const SNAPSHOT_THRESHOLD = 200

// mulberry32: a small seeded generator.
function seeded (seed) {
  let state = seed >>> 0
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0
    let z = state
    z = Math.imul(z ^ (z >>> 15), z | 1)
    z ^= z + Math.imul(z ^ (z >>> 7), z | 61)
    return ((z ^ (z >>> 14)) >>> 0) / 4294967296
  }
  return {
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    pick: (items) => items[Math.floor(next() * items.length)],
    chance: (p) => next() < p
  }
}

function describeLogDifference (a, b) {
  const length = Math.max(a.length, b.length)
  for (let i = 0; i < length; i++) {
    if (JSON.stringify(a[i]) !== JSON.stringify(b[i])) {
      return `first difference at ${i}: ${JSON.stringify(a[i])} vs ${JSON.stringify(b[i])} (lengths ${a.length}, ${b.length})`
    }
  }
  return 'no difference'
}

test(`a durable 3-node cluster loses no acknowledged append across ${ROUNDS} rounds of SIGKILL and restart`, { timeout: 60_000 + ROUNDS * 10_000 }, async (t) => {
  const replay = `CRASH_SEED=${SEED} CRASH_ROUNDS=${ROUNDS} node --test __test__/durability-crash.test.mjs`
  t.diagnostic(`seed ${SEED} (replay: ${replay})`)
  const started = Date.now()
  const redis = await startRedis()
  const base = mkdtempSync(path.join(tmpdir(), 'flotilla-crash-'))
  const channelName = uniqueName('crash')
  const nodes = ['a', 'b', 'c'].map((id) =>
    new NodeProcess({
      id,
      dataDir: path.join(base, id),
      fsyncLog: path.join(base, `${id}.fsync`),
      options: {
        redisUrl: redis.url, channelName, appenders: APPENDERS, appendTimeoutMs: APPEND_TIMEOUT_MS, segmentBytes: SEGMENT_BYTES,
        snapshotThreshold: SNAPSHOT_THRESHOLD
      }
    }))
  t.after(async () => {
    await Promise.all(nodes.map((node) => node.kill()))
    await redis.stop()
    rmSync(base, { recursive: true, force: true })
  })

  try {
    await run(t, nodes)
  } catch (error) {
    error.message += `\n  seed ${SEED}; replay: ${replay}`
    throw error
  }
  t.diagnostic(`${((Date.now() - started) / 1000).toFixed(1)} s`)
})

async function run (t, nodes) {
  const rng = seeded(SEED)
  const totalAcked = () => nodes.reduce((sum, node) => sum + node.acked.length, 0)
  // Waits for `count` more acknowledged appends: the cluster makes progress (with a minority down, too).
  const progress = (count, what) => {
    const target = totalAcked() + count
    return waitFor(() => totalAcked() >= target, STEP_MS, `${count} more acknowledged appends ${what}`)
  }
  const kills = { one: 0, leader: 0, twoInARow: 0, all: 0, powerCuts: 0 }
  // Half the kills lose what was not fsynced, too; three in four when all three die (what loses acknowledged
  // appends if any node answers before its fsync).
  const killHow = (chance = 0.5) => {
    const powerCut = rng.chance(chance)
    if (powerCut) kills.powerCuts++
    return { powerCut }
  }
  let majorityChecks = 0

  const start = (node) => node.start()
  const leaderOf = async () => {
    const alive = nodes.filter((node) => node.alive)
    const answers = await Promise.all(alive.map((node) => node.request('status')))
    const leaders = answers.map((answer, i) => [answer.status, alive[i]]).filter(([status]) => status.state === 'LEADER')
    leaders.sort(([x], [y]) => y.term - x.term)
    return leaders[0]?.[1] ?? null
  }
  // Kills one node, lets the others go on for a while (or not), and starts it again.
  const killAndRestart = async (node, round) => {
    await node.kill(killHow())
    if (rng.chance(0.7)) await progress(rng.int(1, 150), `with ${node.id} down in round ${round}`)
    await start(node)
  }

  await Promise.all(nodes.map(start))
  for (let round = 1; round <= ROUNDS; round++) {
    for (const node of nodes) node.round = round
    // A random moment: a random number of acknowledgements on, and a few milliseconds more.
    await progress(rng.int(5, 250), `before the kill of round ${round}`)
    const jitter = rng.int(0, 15)
    if (jitter > 0) await new Promise((resolve) => setTimeout(resolve, jitter))
    const kind = rng.pick(['one', 'one', 'leader', 'leader', 'twoInARow', 'twoInARow', 'all', 'all'])
    kills[kind]++
    if (kind === 'one') {
      await killAndRestart(rng.pick(nodes), round)
    } else if (kind === 'leader') {
      await killAndRestart((await leaderOf()) ?? rng.pick(nodes), round)
    } else if (kind === 'twoInARow') {
      const first = rng.pick(nodes)
      await first.kill(killHow())
      await start(first)
      // The first one is back (not necessarily caught up) when the second dies: never two down at once.
      await killAndRestart(rng.pick(nodes.filter((node) => node !== first)), round)
    } else {
      const acknowledged = nodes.flatMap((node) => node.acked.map(([payload]) => payload))
      // One power cut takes all three, or none.
      const how = killHow(0.75)
      await Promise.all(nodes.map((node) => node.kill(how)))
      const recoveries = await Promise.all(nodes.map(start))
      // Acknowledged means durable on a majority: two of the three logs hold it before anyone speaks.
      const logs = recoveries.map((recovered) => new Set(recovered.log.map((entry) => entry.data)))
      const short = acknowledged.filter((payload) => logs.filter((log) => log.has(payload)).length < 2)
      assert.deepEqual(short.slice(0, 10), [], `round ${round}: ${short.length} of ${acknowledged.length} acknowledged appends are on fewer than two nodes after all three were killed`)
      majorityChecks++
    }
    assert.deepEqual(nodes.flatMap((node) => node.problems), [], `round ${round}`)
  }

  // Stop appending, let every proposal still retried inside the engines settle, and wait for one log everywhere.
  await Promise.all(nodes.map((node) => node.request('stop')))
  let statuses
  await waitFor(async () => {
    statuses = (await Promise.all(nodes.map((node) => node.request('status')))).map((answer) => answer.status)
    const [first] = statuses
    return statuses.every((status) => status.pendingProposals === 0 && status.raftCommitIndex === status.raftLastIndex &&
      status.raftLastIndex === first.raftLastIndex && status.commitIndex === first.commitIndex)
  }, STEP_MS, 'the nodes to converge').catch((error) => {
    error.message += `: ${JSON.stringify(statuses?.map(({ id, state, term, commitIndex, raftCommitIndex, raftLastIndex, pendingProposals }) =>
      ({ id, state, term, commitIndex, raftCommitIndex, raftLastIndex, pendingProposals })))}`
    throw error
  })
  const answers = await Promise.all(nodes.map((node) => node.request('log')))
  const logs = answers.map((answer) => answer.log)

  for (const [i, log] of logs.entries()) {
    assert.equal(answers[i].commitIndex, log.length - 1, `${nodes[i].id} committed its whole log`)
    if (i > 0) assert.ok(JSON.stringify(log) === JSON.stringify(logs[0]), `the logs of ${nodes[i].id} and a differ: ${describeLogDifference(log, logs[0])}`)
  }
  const log = logs[0]
  const position = new Map()
  const ids = new Set()
  for (const [index, entry] of log.entries()) {
    assert.ok(!position.has(entry.data), `payload ${entry.data} is in the log twice (at ${position.get(entry.data)} and ${index})`)
    assert.ok(!ids.has(entry.id), `entry id ${entry.id} is in the log twice`)
    position.set(entry.data, index)
    ids.add(entry.id)
  }
  for (const node of nodes) {
    const missing = node.acked.filter(([payload]) => !position.has(payload))
    assert.deepEqual(missing.slice(0, 10), [], `${missing.length} of the ${node.acked.length} appends ${node.id} acknowledged are lost ([payload, round])`)
    let last = -1
    for (const [payload] of node.acked) {
      const at = position.get(payload)
      assert.ok(at > last, `${node.id} acknowledged ${payload} after the entry at ${last}, but it is at ${at}`)
      last = at
    }
  }
  // No node restarted with a log that disagrees with the cluster: where a recovered log holds an entry of the final
  // log (same id and term: the same entry, so at the same index), everything before it is the final log's too, and
  // no entry of the final log sits anywhere else in it.
  const final = digest(log)
  const finalEntries = new Set(final.entries)
  for (const node of nodes) {
    for (const { incarnation, round, digest: recovered } of node.recoveries) {
      const what = `${node.id}#${incarnation} (started in round ${round}, ${recovered.entries.length} entries)`
      let agreed = Math.min(recovered.entries.length, log.length) - 1
      while (agreed >= 0 && recovered.entries[agreed] !== final.entries[agreed]) agreed--
      if (agreed >= 0 && recovered.prefixes[agreed] !== final.prefixes[agreed]) {
        const q = recovered.entries.findIndex((hash, i) => hash !== final.entries[i])
        assert.fail(`${what} recovered a log that differs from the cluster's at ${q} (the cluster has ${JSON.stringify(log[q])}), but agrees at ${agreed}`)
      }
      for (let q = agreed + 1; q < recovered.entries.length; q++) {
        assert.ok(!finalEntries.has(recovered.entries[q]), `${what} recovered an entry of the cluster's log at ${q}, not where the cluster has it`)
      }
    }
  }
  const acknowledged = new Set(nodes.flatMap((node) => node.acked.map(([payload]) => payload)))
  const tornTails = nodes.flatMap((node) => node.recoveries.filter((r) => r.status.recoveredTornTail !== null))
  assert.deepEqual(nodes.flatMap((node) => node.problems), [])

  const stopped = await Promise.all(nodes.map((node) => node.request('stop')))
  const failures = stopped.reduce((sum, answer) => sum + answer.failures, 0)
  const snapshotsTaken = stopped.reduce((sum, answer) => sum + answer.snapshotsTaken, 0)
  await Promise.all(nodes.map((node) => node.close()))
  t.diagnostic(`${ROUNDS} rounds: kills ${JSON.stringify(kills)}, ${majorityChecks} majority checks after all three died, ` +
    `${acknowledged.size} acknowledged appends, ${log.length} entries in the final log, ${failures} appends of the last incarnations timed out, ` +
    `${nodes.reduce((sum, node) => sum + node.incarnation, 0)} processes, ${tornTails.length} torn tails recovered, ` +
    `${snapshotsTaken} snapshots taken by the last incarnations, ` +
    `${nodes.reduce((sum, node) => sum + node.bytesCut, 0)} unsynced bytes lost in power cuts`)
}
