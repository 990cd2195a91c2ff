// Membership changes on the gaggle face (Raft thesis 4): a node started with `join: true` is added as a learner,
// gets the log, is promoted once caught up; members are removed, the leader too (it hands over); a change asked of
// a follower goes to the leader; every log stays identical, and appends go on throughout.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { gaggle, STEADY, WITHIN, uniqueName, waitFor, rejection, thrown, memoryCluster, electLeader, allCommitted, assertSameLogs } from './gaggle-support.mjs'

const require = createRequire(import.meta.url)
const { CODES } = require('../lib/engine/errors')

function joiner (t, namespace, id) {
  const node = gaggle({ id, clusterSize: 1, join: true, channel: { name: 'memory', namespace }, ...STEADY })
  t.after(() => node.close())
  return node
}

test('a joining node is added as a learner, promoted once caught up, and the old leader removed', WITHIN, async (t) => {
  const namespace = uniqueName('members')
  const nodes = memoryCluster(t, 3, { namespace, ...STEADY })
  const leader = await electLeader(nodes)
  for (let i = 0; i < 5; i++) await leader.append({ before: i })
  const fresh = joiner(t, namespace, 'n4')
  await new Promise((resolve) => setTimeout(resolve, 100))
  assert.equal(fresh.getLog().length, 0, 'a joining node waits to be added')
  assert.equal(fresh.isLeader(), false)

  const changes = []
  leader.on('membershipChanged', (members) => changes.push(members))
  await leader.addMember('n4', { learner: true })
  assert.deepEqual(leader.members().learners, ['n4'])
  await waitFor(() => fresh.getLog().length === 5, 5000, 'the learner to get the log')
  assert.ok(changes.length >= 1 && changes.at(-1).learners.includes('n4'), 'membershipChanged with the members')

  const follower = nodes.find((node) => node !== leader)
  await follower.promoteMember('n4') // asked of a follower: it goes to the leader
  await waitFor(() => leader.members().voters.includes('n4'), 5000, 'n4 to vote')
  assert.equal(leader.members().learners.length, 0)

  await leader.removeMember(leader.id)
  const survivors = [...nodes.filter((node) => node !== leader), fresh]
  const next = await waitFor(() => survivors.find((node) => node.isLeader()), 5000, 'a new leader after the removal')
  await waitFor(() => !next.members().voters.includes(leader.id), 5000, 'the removal in force on the new leader')
  await Promise.all(survivors.map((node, i) => node.append({ after: i })))
  await allCommitted(survivors, 7)
  assertSameLogs(survivors)
})

test('addMember without {learner: true} promotes once caught up; refusals are coded', WITHIN, async (t) => {
  const namespace = uniqueName('members')
  const nodes = memoryCluster(t, 3, { namespace, ...STEADY })
  const leader = await electLeader(nodes)
  await leader.append({ before: true })
  joiner(t, namespace, 'n4')
  await leader.addMember('n4')
  assert.ok(leader.members().voters.includes('n4'), 'a voter once caught up')
  assert.equal((await rejection(leader.addMember('n4'))).code, CODES.INVALID_ARGUMENT, 'a member already')
  assert.equal((await rejection(leader.removeMember('nobody'))).code, CODES.UNKNOWN_MEMBER)
  assert.equal(thrown(() => leader.addMember('')).code, CODES.INVALID_ARGUMENT)
  assert.equal(thrown(() => leader.addMember(7)).code, CODES.INVALID_ARGUMENT)
  await leader.close()
  assert.equal((await rejection(leader.addMember('n5'))).code, CODES.CLOSED)
})
