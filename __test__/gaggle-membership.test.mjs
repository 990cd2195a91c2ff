// Membership changes on the gaggle face (Raft thesis 4): a node started with `join: true` is added as a learner,
// gets the log, is promoted once caught up; members are removed, the leader too (it hands over); a change asked of
// a follower goes to the leader; every log stays identical, and appends go on throughout.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { gaggle, STEADY, WITHIN, uniqueName, waitFor, rejection, thrown, memoryCluster, electLeader, allCommitted, assertSameLogs } from './gaggle-support.mjs'

const require = createRequire(import.meta.url)
const { CODES } = require('../lib/engine/errors')

function joiner (t, namespace, id) {
  const node = gaggle({ id, clusterSize: 1, join: true, channel: { name: 'memory', namespace }, ...STEADY })
  t.after(() => node.close())
  return node
}

// Three nodes with a leader and a committed entry, and the node `id` started with join (not added yet).
async function withJoiner (t, id) {
  const namespace = uniqueName('members')
  const nodes = memoryCluster(t, 3, { namespace, ...STEADY })
  const leader = await electLeader(nodes)
  await leader.append({ before: true })
  joiner(t, namespace, id)
  return { nodes, leader }
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
  const { leader } = await withJoiner(t, 'n4')
  await leader.addMember('n4')
  assert.ok(leader.members().voters.includes('n4'), 'a voter once caught up')
  assert.equal((await rejection(leader.addMember('n4'))).code, CODES.INVALID_ARGUMENT, 'a member already')
  assert.equal((await rejection(leader.removeMember('nobody'))).code, CODES.UNKNOWN_MEMBER)
  assert.equal(thrown(() => leader.addMember('')).code, CODES.INVALID_ARGUMENT)
  assert.equal(thrown(() => leader.addMember(7)).code, CODES.INVALID_ARGUMENT)
  await leader.close()
  assert.equal((await rejection(leader.addMember('n5'))).code, CODES.CLOSED)
})

test('every node of a durable 3-node cluster replaced, one at a time, while appends run: nothing acknowledged lost', WITHIN, async (t) => {
  const namespace = uniqueName('replace')
  const root = mkdtempSync(path.join(tmpdir(), 'flotilla-replace-'))
  t.after(() => rmSync(root, { recursive: true, force: true }))
  const durable = (id, extra) => {
    const node = gaggle({ id, clusterSize: 3, channel: { name: 'memory', namespace }, dataDir: path.join(root, id), ...STEADY, ...extra })
    t.after(() => node.close())
    return node
  }
  let nodes = ['n0', 'n1', 'n2'].map((id) => durable(id))
  await Promise.all(nodes.map((node) => node.ready()))
  await electLeader(nodes)
  // Appends all the time, through whichever node leads (a retried request id commits once).
  const acknowledged = []
  let running = true
  let count = 0
  const appender = (async () => {
    while (running) {
      const leader = nodes.find((node) => node.isLeader())
      if (!leader) { await new Promise((resolve) => setTimeout(resolve, 5)); continue }
      const value = count++
      try {
        await leader.append({ value }, { requestId: `w${value}`, timeout: 2000 })
        acknowledged.push(value)
      } catch {
        // not acknowledged: it may or may not commit, and is not counted
      }
    }
  })()
  for (const [old, spare] of [['n0', 'm0'], ['n1', 'm1'], ['n2', 'm2']]) {
    const before = acknowledged.length
    await waitFor(() => acknowledged.length >= before + 3, 5000, 'appends between the changes')
    const fresh = durable(spare, { join: true })
    await fresh.ready()
    nodes.push(fresh)
    const leader = await waitFor(() => nodes.find((node) => node.isLeader()), 5000, 'a leader')
    await leader.addMember(spare)
    const current = await waitFor(() => nodes.find((node) => node.isLeader()), 5000, 'a leader')
    await current.removeMember(old)
    const gone = nodes.find((node) => node.id === old)
    nodes = nodes.filter((node) => node !== gone)
    await waitFor(() => nodes.some((node) => node.isLeader()), 5000, 'a leader among the members')
    await gone.close()
  }
  running = false
  await appender
  const leader = await waitFor(() => nodes.find((node) => node.isLeader()), 5000, 'a leader')
  assert.deepEqual(leader.members().voters.slice().sort(), ['m0', 'm1', 'm2'])
  await leader.append({ last: true })
  await allCommitted(nodes, leader.getCommitIndex())
  const log = assertSameLogs(nodes)
  const values = new Set(log.map((entry) => entry.data.value))
  for (const value of acknowledged) assert.ok(values.has(value), `acknowledged append ${value} is in the log`)
  assert.ok(acknowledged.length >= 9, `appends ran all along (${acknowledged.length} acknowledged)`)
})

test('a cluster grows from 3 to 5 voters and shrinks back to 3; the logs stay one', WITHIN, async (t) => {
  const namespace = uniqueName('grow')
  const nodes = memoryCluster(t, 3, { namespace, ...STEADY })
  const leader = await electLeader(nodes)
  await leader.append({ at: 3 })
  const spares = ['g3', 'g4'].map((id) => joiner(t, namespace, id))
  for (const spare of spares) await leader.addMember(spare.id)
  assert.equal(leader.members().voters.length, 5)
  await leader.append({ at: 5 })
  const all = [...nodes, ...spares]
  await allCommitted(all, 1)
  await leader.removeMember(nodes[1].id === leader.id ? nodes[2].id : nodes[1].id)
  const remaining = all.filter((node) => leader.members().voters.includes(node.id))
  const other = remaining.find((node) => node !== leader && !nodes.includes(node))
  await leader.removeMember(other.id)
  assert.equal(leader.members().voters.length, 3)
  const members = all.filter((node) => leader.members().voters.includes(node.id))
  await leader.append({ at: 3 })
  await allCommitted(members, 2)
  assertSameLogs(members)
})

test('changeMembership swaps two voters at once through a joint configuration, asked of a follower; bad targets throw', WITHIN, async (t) => {
  const namespace = uniqueName('joint')
  const nodes = memoryCluster(t, 3, { namespace, ...STEADY })
  const leader = await electLeader(nodes)
  await leader.append({ before: true })
  const spares = ['j3', 'j4'].map((id) => joiner(t, namespace, id))
  for (const spare of spares) await leader.addMember(spare.id, { learner: true })
  await waitFor(() => ['j3', 'j4'].every((id) => leader.members().progress[id].caughtUp), 5000, 'the learners to catch up')
  const seen = []
  leader.on('membershipChanged', (members) => seen.push(members))
  const follower = nodes.find((node) => node !== leader)
  const voters = [leader.id, 'j3', 'j4']
  await follower.changeMembership({ voters, learners: [] })
  assert.deepEqual(leader.members().voters.slice().sort(), voters.slice().sort())
  assert.deepEqual(leader.members().outgoing, [])
  assert.ok(seen.some((members) => members.outgoing.length === 3), 'the joint configuration was in force on the way')
  await leader.append({ after: true })
  const members = [leader, ...spares]
  await allCommitted(members, leader.getCommitIndex())
  assertSameLogs(members)

  for (const target of [null, [], { voters: 'n0' }, { voters: [] }, { voters: ['a', 'a'] }, { voters: [''] }, { voters: ['a'], learners: [7] }]) {
    assert.equal(thrown(() => leader.changeMembership(target)).code, CODES.INVALID_ARGUMENT, JSON.stringify(target))
  }
  const refused = await rejection(leader.changeMembership({ voters: [leader.id, 'stranger'] }))
  assert.equal(refused.code, CODES.INVALID_ARGUMENT, 'a new voter must be a learner first')
  assert.deepEqual(leader.members().voters.slice().sort(), voters.slice().sort(), 'a refused change changes nothing')
})

test('a removed node learns its removal committed, and an append made on it then settles as of unknown outcome', WITHIN, async (t) => {
  const nodes = memoryCluster(t, 3, STEADY)
  const leader = await electLeader(nodes)
  const removed = nodes.find((node) => node !== leader)
  // Once an entry of its term committed, the new leader takes membership changes (before, TermNotStarted).
  await leader.append('before')
  await leader.removeMember(removed.id)
  await waitFor(() => !removed.members().voters.includes(removed.id), 5000, 'the removed node to see the configuration without it')
  // Forwarded, taken by the leader (a non-member's request is answered), but the removed node hears of no more
  // commits: it stops waiting rather than wait forever.
  const error = await rejection(removed.append('orphan'))
  assert.equal(error.code, CODES.OUTCOME_UNKNOWN)
})

test('removeMember on a follower resolves when the leader that carried it out stepped down before answering: the next leader finds the change in flight, then the member gone', WITHIN, async (t) => {
  const nodes = memoryCluster(t, 3, STEADY)
  const leader = await electLeader(nodes)
  const follower = nodes.find((node) => node !== leader)
  // What the next leaders answer the request the follower forwards (its own dispatch, as a lost answer leaves it).
  const answers = [
    Object.assign(new Error('a membership change (entry 9) has not committed yet: one change at a time'), { code: CODES.INVALID_STATE }),
    Object.assign(new Error(`"${leader.id}" is not a member of the cluster`), { code: CODES.UNKNOWN_MEMBER })
  ]
  const asked = []
  follower._dispatch.request = (call) => {
    asked.push(call.args)
    return Promise.reject(answers.shift())
  }
  assert.equal(await follower.removeMember(leader.id), undefined)
  assert.deepEqual(asked, [['remove', leader.id], ['remove', leader.id]])
  // A name that was never a member is refused as before.
  follower._dispatch.request = () => Promise.reject(Object.assign(new Error('"nobody" is not a member'), { code: CODES.UNKNOWN_MEMBER }))
  assert.equal((await rejection(follower.removeMember('nobody'))).code, CODES.UNKNOWN_MEMBER)
})

test('addMember of a node that is a learner already (its first addMember\'s node went away before promoting it) promotes it', WITHIN, async (t) => {
  const { nodes, leader } = await withJoiner(t, 'n4')
  await leader.addMember('n4', { learner: true })
  const follower = nodes.find((node) => node !== leader)
  await waitFor(() => follower.members().learners.includes('n4'), 5000, 'the follower to know the learner')
  assert.equal(await follower.addMember('n4', { learner: true }), undefined, 'a learner already, as asked')
  assert.deepEqual(leader.members().learners, ['n4'])
  await follower.addMember('n4')
  assert.ok(leader.members().voters.includes('n4'), 'promoted')
  assert.deepEqual(leader.members().learners, [])
})
