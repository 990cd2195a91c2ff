// One node of three stops for 20 s behind a Redis whose pubsub output buffer limit is tight (a common setting),
// while the other two go on committing entries. Redis disconnects a subscriber that falls that far behind;
// what it must not do is disconnect the others because of messages meant for the stalled node. The stalled node
// runs in a child process (fixtures/redis-node.cjs) and is stopped with SIGSTOP, its connections left open and
// unread, as a stalled machine's would be. With the default maxMessageBytes, a catch-up message is above Redis's
// hard limit: it gets through only because the channel cuts it into fragments.
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
// Small entries, appended in bursts: a catch-up message holds as many as the default maxMessageBytes (1 MiB)
// allows, and their fields on the wire (beyond the 32 bytes an entry counts for) take it above Redis's 1mb hard
// limit, so that only fragments can get it through.
const ENTRY = 'x'.repeat(1024)
const BURST = 64
const HARD_LIMIT = 1024 * 1024

// How many connections Redis has accepted so far.
async function connectionsReceived (redis) {
  const client = createClient({ url: redis.url })
  await client.connect()
  const stats = await client.info('stats')
  await client.close()
  return Number(/total_connections_received:(\d+)/.exec(stats)[1])
}

// Watches what is published for the node `nodeId`; `largest()` is the length of the largest packet text (a
// message, or the fragments of one put together).
async function watchPacketsFor (t, redis, channelName, nodeId) {
  const observer = createClient({ url: redis.url })
  // Redis may drop the observer too (under the same limit); it reconnects and subscribes again.
  observer.on('error', () => {})
  t.after(() => observer.close())
  await observer.connect()
  const fragmented = new Map()
  let largest = 0
  await observer.subscribe(`${channelName}:${nodeId}`, (message) => {
    const { fragment, text } = JSON.parse(message)
    const length = fragment === undefined ? message.length : (fragmented.get(fragment) ?? 0) + text.length
    if (fragment !== undefined) fragmented.set(fragment, length)
    largest = Math.max(largest, length)
  })
  return { largest: () => largest }
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

test('a node paused for 20 s behind a tight pubsub limit does not stop the others from committing, and catches up ' +
  'with default options (catch-up messages above the limit go as fragments)',
  { timeout: 180_000 }, async (t) => {
    const redis = await startRedis(['--client-output-buffer-limit', 'pubsub 1mb 256kb 2'])
    t.after(() => redis.stop())
    const common = {
      channel: { name: 'redis', channelName: uniqueName('lagging'), connectionString: redis.url },
      clusterSize: 3,
      heartbeatInterval: 50
    }
    // The paused node never campaigns, so the leader is always one of the two nodes of this process.
    const paused = startChildNode(t, { id: 'paused', ...common, electionTimeout: { min: 60_000, max: 60_001 } })
    const track = trackNodes(t)
    const nodes = ['a', 'b'].map((id) => track(gaggle({ id, ...common, electionTimeout: { min: 1000, max: 2000 } })))
    const leader = await stableLeader(nodes, 30_000)
    await leader.append('before the pause')
    await waitFor(() => paused.commitIndex() === leader.getCommitIndex(), 30_000, 'the paused node in step first')

    const watched = await watchPacketsFor(t, redis, common.channel.channelName, 'paused')
    const connectionsBefore = await connectionsReceived(redis)
    paused.child.kill('SIGSTOP')
    const stoppedAt = Date.now()
    let appended = 0
    let slowest = 0
    while (Date.now() - stoppedAt < PAUSE_MS) {
      const started = Date.now()
      await Promise.all(Array.from({ length: BURST }, (_, j) => leader.append({ i: appended, j, ENTRY }, 10_000)))
      slowest = Math.max(slowest, Date.now() - started)
      appended++
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    paused.child.kill('SIGCONT')
    assert.ok(appended >= 20, `the cluster kept committing while the node was paused (${appended} bursts)`)

    await waitFor(() => paused.commitIndex() === leader.getCommitIndex(), 60_000, 'the paused node caught up')
    // (less the connection that asks)
    assert.ok(await connectionsReceived(redis) - 1 > connectionsBefore,
      'Redis dropped the paused node, which reconnected')
    assert.ok(watched.largest() > HARD_LIMIT, `the catch-up sent packets above the 1mb limit (${watched.largest()})`)
    t.diagnostic(`${appended} bursts of ${BURST} appends of 1 KiB during the pause, largest packet ` +
      `${watched.largest()} characters, slowest burst ${slowest} ms; caught up ` +
      `${Date.now() - stoppedAt - PAUSE_MS} ms after the pause`)
  })
