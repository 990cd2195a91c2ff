// One node of three stops for 20 s behind a Redis whose pubsub output buffer limit is tight (a common setting),
// while the other two go on committing large entries. Redis disconnects a subscriber that falls that far behind;
// what it must not do is disconnect the others because of messages meant for the stalled node. The stalled node
// runs in a child process (fixtures/redis-node.cjs) and is stopped with SIGSTOP, its connections left open and
// unread, as a stalled machine's would be.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { createRequire } from 'node:module'
import { gaggle, startRedis, uniqueName, trackNodes, stableLeader, waitFor } from './gaggle-support.mjs'

const { createClient } = createRequire(import.meta.url)('redis')
const FIXTURE = fileURLToPath(new URL('./fixtures/redis-node.cjs', import.meta.url))
const PAUSE_MS = 20_000
const ENTRY = 'x'.repeat(64 * 1024)

// How many connections Redis has accepted so far.
async function connectionsReceived (redis) {
  const client = createClient({ url: redis.url })
  await client.connect()
  const stats = await client.info('stats')
  await client.close()
  return Number(/total_connections_received:(\d+)/.exec(stats)[1])
}

// Starts the node to be paused; `commitIndex()` is the last index it reported.
function startChildNode (t, options) {
  const child = spawn(process.execPath, [FIXTURE, JSON.stringify(options)], { stdio: ['pipe', 'pipe', 'inherit'] })
  const exited = new Promise((resolve) => child.once('exit', resolve))
  t.after(async () => {
    child.kill('SIGCONT')
    child.stdin.end()
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
    await exited
    clearTimeout(timer)
  })
  let commitIndex = -1
  createInterface({ input: child.stdout }).on('line', (line) => { commitIndex = JSON.parse(line).commitIndex })
  return { child, commitIndex: () => commitIndex }
}

test('a node paused for 20 s behind a tight pubsub limit does not stop the others from committing, and catches up',
  { timeout: 180_000 }, async (t) => {
    const redis = await startRedis(['--client-output-buffer-limit', 'pubsub 1mb 256kb 2'])
    t.after(() => redis.stop())
    const common = {
      channel: { name: 'redis', channelName: uniqueName('lagging'), connectionString: redis.url },
      clusterSize: 3,
      heartbeatInterval: 50,
      // Redis disconnects a subscriber for any one message above the hard limit (1mb here), so a node behind by
      // more than a message could never catch up with the default 1 MiB batches: the README says to set this
      // below the limit.
      maxMessageBytes: 512 * 1024
    }
    // The paused node never campaigns, so the leader is always one of the two nodes of this process.
    const paused = startChildNode(t, { id: 'paused', ...common, electionTimeout: { min: 60_000, max: 60_001 } })
    const track = trackNodes(t)
    const nodes = ['a', 'b'].map((id) => track(gaggle({ id, ...common, electionTimeout: { min: 1000, max: 2000 } })))
    const leader = await stableLeader(nodes, 30_000)
    await leader.append('before the pause')
    await waitFor(() => paused.commitIndex() === leader.getCommitIndex(), 30_000, 'the paused node in step first')

    const connectionsBefore = await connectionsReceived(redis)
    paused.child.kill('SIGSTOP')
    const stoppedAt = Date.now()
    let appended = 0
    let slowest = 0
    while (Date.now() - stoppedAt < PAUSE_MS) {
      const started = Date.now()
      await leader.append({ i: appended, ENTRY }, 10_000)
      slowest = Math.max(slowest, Date.now() - started)
      appended++
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    paused.child.kill('SIGCONT')
    assert.ok(appended >= 20, `the cluster kept committing while the node was paused (${appended} appends)`)

    await waitFor(() => paused.commitIndex() === leader.getCommitIndex(), 60_000, 'the paused node caught up')
    // (less the connection that asks)
    assert.ok(await connectionsReceived(redis) - 1 > connectionsBefore, 'Redis dropped the paused node, which reconnected')
    t.diagnostic(`${appended} appends of 64 KiB during the pause, slowest ${slowest} ms; caught up ` +
      `${Date.now() - stoppedAt - PAUSE_MS} ms after the pause`)
  })
