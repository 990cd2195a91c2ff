// A node killed (SIGKILL, durable, its own process) in the middle of a joint configuration change (Raft thesis 4.3)
// and restarted on its dataDir: the cluster finishes the change, nothing acknowledged is lost, and the members of
// the new configuration end with one log. Five processes on the redis channel (against a real redis-server started
// here), each appending all the time (fixtures/durable-node.cjs): n0, n1, n2 start the cluster; m3 and m4 join and
// are added as learners; then the leader is asked to swap two voters at once ({leader, m3, m4}), which needs the
// joint step, and the node to die kills itself the moment the joint configuration is in force on it. Two cases:
// the leader dies (a new leader needs both majorities, then leaves the joint configuration; one of the old voters
// may lead it out and hand over), and an incoming voter dies at the first change it sees (a follower may learn
// that the joint configuration committed only together with leaving it); the change finishes without it, and it
// catches up after.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { startRedis, uniqueName, waitFor } from './gaggle-support.mjs'
import { NodeProcess, STEP_MS, leaderAmong, progress, assertConverged } from './node-process.mjs'


async function cluster (t) {
  const redis = await startRedis()
  const base = mkdtempSync(path.join(tmpdir(), 'flotilla-joint-crash-'))
  const channelName = uniqueName('joint-crash')
  const nodes = ['n0', 'n1', 'n2', 'm3', 'm4'].map((id) => new NodeProcess({
    id,
    dataDir: path.join(base, id),
    options: { redisUrl: redis.url, channelName, appenders: 2, appendTimeoutMs: 3000, segmentBytes: 32 * 1024, join: id.startsWith('m') }
  }))
  t.after(async () => {
    await Promise.all(nodes.map((node) => node.kill()))
    await redis.stop()
    rmSync(base, { recursive: true, force: true })
  })
  await Promise.all(nodes.map((node) => node.start()))
  return nodes
}

// A member that joined but has not spoken to `node` yet cannot be named in a change there: that refusal says to try
// again shortly, and so the test does, as an application would.
async function change (node, method, ...args) {
  let error
  await waitFor(async () => {
    ({ error } = await node.request('change', { method, args }))
    return !(error?.code === 'FLOTILLA_INVALID_STATE' && /has not spoken yet/.test(error.message))
  }, STEP_MS, `${node.id} to know the members named in ${method}`)
  assert.equal(error, null, `${node.id}.${method}(${JSON.stringify(args)}): ${error?.message}`)
}

// `victimOf(leader)`: the node that kills itself once the joint configuration is in force on it.
async function killDuringJointChange (t, victimOf) {
  const nodes = await cluster(t)
  const byId = (id) => nodes.find((node) => node.id === id)
  const leader = await leaderAmong(nodes.slice(0, 3))
  await progress(nodes, 20, 'before the change')
  await change(leader, 'addMember', 'm3', { learner: true })
  await change(leader, 'addMember', 'm4', { learner: true })
  await waitFor(async () => {
    const { members } = await leader.request('members')
    return ['m3', 'm4'].every((id) => members.progress?.[id]?.caughtUp)
  }, STEP_MS, 'the learners to catch up')

  const voters = [leader.id, 'm3', 'm4']
  const victim = victimOf(leader, byId)
  const died = victim.expectSelfKill()
  await victim.request('dieInJoint', { orAnyChange: victim !== leader })
  // The leader answers once the change (and leaving the joint configuration) committed, unless it is the victim.
  const asked = victim === leader ? null : change(leader, 'changeMembership', { voters, learners: [] })
  if (asked === null) leader.request('change', { method: 'changeMembership', args: [{ voters, learners: [] }] }).catch(() => {})
  await Promise.race([died, new Promise((resolve, reject) => setTimeout(() => reject(new Error(`${victim.id} did not see the change`)), STEP_MS))])
  await progress(nodes.filter((node) => node.alive), 20, `with ${victim.id} dead inside the joint configuration`)
  await victim.start()
  if (asked !== null) await asked

  // The new configuration is in force everywhere it matters, and the cluster keeps committing.
  const members = voters.map(byId)
  await waitFor(async () => {
    const answers = await Promise.all(members.map((node) => node.request('members')))
    return answers.every(({ members }) => members.outgoing.length === 0 && [...members.voters].sort().join() === [...voters].sort().join())
  }, STEP_MS, 'every new voter to have left the joint configuration')
  await progress(members, 20, 'after the restart')

  // Appends stop; the new members converge to one log holding every acknowledged append once.
  const { acked, entries } = await assertConverged(nodes, members)
  t.diagnostic(`${victim.id} died in the joint configuration; ${acked} appends acknowledged, ${entries} in the final log`)
}

test('the leader killed inside a joint configuration: a new leader finishes the change, nothing acknowledged is lost', { timeout: 120_000 }, async (t) => {
  await killDuringJointChange(t, (leader) => leader)
})

test('an incoming voter killed as the joint change reaches it and restarted: the change completes, it catches up', { timeout: 120_000 }, async (t) => {
  await killDuringJointChange(t, (leader, byId) => byId('m3'))
})
