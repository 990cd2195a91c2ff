// Leader failover on the gaggle face: the leader goes away, the others elect a new one, appends go on from every
// remaining node, and their logs stay identical.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { WITHIN, STEADY, FAST, gaggle, uniqueName, trackNodes, waitFor, memoryCluster, electLeader, stableLeader, allCommitted, assertSameLogs } from './gaggle-support.mjs'

test('closing the leader of 3: a new leader, appends continue, logs identical', WITHIN, async (t) => {
  const nodes = memoryCluster(t, 3, STEADY)
  const first = await electLeader(nodes)
  await Promise.all(nodes.map((node, i) => node.append({ before: i })))
  await allCommitted(nodes, 2)
  const before = assertSameLogs(nodes)

  const elected = []
  const survivors = nodes.filter((node) => node !== first)
  for (const node of survivors) node.on('leaderElected', () => elected.push(node.id))
  const firstTerm = first._currentTerm
  await first.close()
  const second = await stableLeader(survivors)
  assert.notEqual(second.id, first.id)
  assert.ok(second._currentTerm > firstTerm)
  assert.ok(elected.length >= 2, 'both survivors heard of the new leader')

  await Promise.all(survivors.map((node, i) => node.append({ after: i })))
  await allCommitted(survivors, 4)
  const after = assertSameLogs(survivors)
  assert.deepEqual(after.slice(0, 3), before, 'the committed prefix is kept')
  assert.deepEqual(after.slice(3).map((entry) => entry.data).sort((a, b) => a.after - b.after), [{ after: 0 }, { after: 1 }])
  for (const entry of after.slice(3)) assert.equal(entry.term, second._currentTerm)
})

test('a closing leader hands over first: the most caught-up follower campaigns at once, one election', WITHIN, async (t) => {
  const nodes = memoryCluster(t, 3, STEADY)
  const first = await electLeader(nodes)
  await first.append({ before: true })
  await allCommitted(nodes, 0)
  const firstTerm = first._currentTerm
  // Election timeouts are 1 to 2 s here: the hand-over takes a round trip or two, so the next term is its own.
  await first.close()
  const second = await stableLeader(nodes.filter((node) => node !== first))
  assert.equal(second._currentTerm, firstTerm + 1, 'one election: the hand-over\'s, not a timeout\'s')
  assert.equal(first._currentTerm, firstTerm + 1, 'the old leader heard the new term before it stopped')
  assert.equal(first._state, 'FOLLOWER')
})

test('five nodes lose two leaders in a row and keep a single history', WITHIN, async (t) => {
  const nodes = memoryCluster(t, 5, STEADY)
  let alive = nodes
  const committedOn = new Map(nodes.map((node) => [node, []]))
  for (const node of nodes) node.on('committed', (entry, index) => committedOn.get(node).push(index))
  let mustCommit = 0
  let mayCommit = 0
  for (let round = 0; round < 3; round++) {
    // the first leader is elected by the test; the next ones by timeout, once their leader is gone
    const leader = round === 0 ? await electLeader(alive) : await stableLeader(alive)
    const followers = alive.filter((node) => node !== leader)
    // appends under way from every node while the leader goes: the followers' must all commit; the leader's
    // own is rejected at close, or commits if it got out in time
    const fromFollowers = followers.map((node, i) => node.append({ round, i }))
    const fromLeader = leader.append({ round, leader: true }).then(() => 'committed', (error) => error.message)
    mustCommit += followers.length
    mayCommit += 1
    if (round < 2) {
      await leader.close()
      alive = followers
      assert.match(await fromLeader, /^(committed|The node was closed before the entry was committed)$/)
    }
    await Promise.all(fromFollowers)
  }
  const leader = await stableLeader(alive)
  await leader.append('last')
  const lastIndex = leader.getCommitIndex()
  await allCommitted(alive, lastIndex)
  const log = assertSameLogs(alive).slice(0, lastIndex + 1)
  assert.equal(new Set(log.map((entry) => entry.id)).size, log.length, 'no entry twice')
  assert.ok(log.length >= mustCommit + 1 && log.length <= mustCommit + mayCommit + 1, `log length ${log.length}`)
  for (const node of alive) {
    assert.deepEqual(committedOn.get(node), log.map((_, i) => i), `committed once per index, in order, on ${node.id}`)
  }
})

test('a follower kept in memory that restarts under its id gets the log again, with or without new appends', WITHIN, async (t) => {
  // gaggle's nodes live in memory: a restarted one is empty, and its leader counted it at its old match point.
  const namespace = uniqueName('ns')
  const track = trackNodes(t)
  const start = (id) => track(gaggle({ id, channel: { name: 'memory', namespace }, clusterSize: 3, ...FAST, ...STEADY }))
  const nodes = ['n0', 'n1', 'n2'].map(start)
  const leader = await electLeader(nodes)
  await leader.append('one')
  await leader.append('two')
  await allCommitted(nodes, 1)
  const follower = nodes.find((node) => node !== leader)
  await follower.close()
  const restarted = start(follower.id)
  const survivors = nodes.filter((node) => node !== follower)
  // No append: the next heartbeat tells the restarted node the commit index, beyond its empty log, and it says so.
  await allCommitted([restarted], 1)
  assert.deepEqual(restarted.getLog().map((entry) => entry.data), ['one', 'two'])
  await leader.append('three')
  await allCommitted([...survivors, restarted], 2)
  assertSameLogs([...survivors, restarted])
})

test('a node kept in memory that comes back under a new id (gaggle\'s uuids) takes the seat of the member silent longest', WITHIN, async (t) => {
  // gaggle counted any node toward clusterSize; here the leader gives the seat of a voter silent for 10 election
  // timeouts to the new name that says hello: removed and added as a learner, then promoted once caught up.
  const namespace = uniqueName('ns')
  const track = trackNodes(t)
  const start = (id) => track(gaggle({ id, channel: { name: 'memory', namespace }, clusterSize: 3, ...FAST }))
  const nodes = ['n0', 'n1', 'n2'].map(start)
  const leader = await stableLeader(nodes)
  await leader.append('before')
  const gone = nodes.find((node) => node !== leader)
  await gone.close()
  const replacement = start('n3')
  await replacement.append('from the replacement', 15_000)
  const survivors = [...nodes.filter((node) => node !== gone), replacement]
  await allCommitted(survivors, 1)
  assertSameLogs(survivors)
  const ids = survivors.map((node) => node.id).sort()
  const members = await waitFor(() => {
    const seen = survivors.find((node) => node.isLeader())?.members()
    return seen && seen.learners.length === 0 && [...seen.voters].sort().join() === ids.join() ? seen : null
  }, 10_000, `the voters to be ${ids} (promoted once caught up)`)
  assert.deepEqual(members.outgoing, [])
})

test('a cluster kept on disk gives no seat away: its members come back under their own id', WITHIN, async (t) => {
  const { mkdtempSync, rmSync } = await import('node:fs')
  const { tmpdir } = await import('node:os')
  const path = await import('node:path')
  const base = mkdtempSync(path.join(tmpdir(), 'flotilla-seats-'))
  t.after(() => rmSync(base, { recursive: true, force: true }))
  const namespace = uniqueName('ns')
  const track = trackNodes(t)
  const start = (id) => track(gaggle({ id, channel: { name: 'memory', namespace }, clusterSize: 3, dataDir: path.join(base, id), ...FAST }))
  const nodes = ['d0', 'd1', 'd2'].map(start)
  await Promise.all(nodes.map((node) => node.ready()))
  const leader = await stableLeader(nodes)
  await leader.append('before')
  const gone = nodes.find((node) => node !== leader)
  await gone.close()
  const stranger = start('d3')
  await stranger.ready()
  // Well past 10 election timeouts (80 ms at most here) of silence.
  await new Promise((resolve) => setTimeout(resolve, 2000))
  const members = leader.members()
  assert.deepEqual([...members.voters].sort(), nodes.map((node) => node.id).sort())
  assert.deepEqual(members.learners, [])
})
