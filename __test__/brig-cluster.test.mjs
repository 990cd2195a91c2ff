// The brig face driving real engine nodes over an in-memory transport wired as a brig user wires one: state that
// is the engine's, brig's events, close(), and one test for each brig bug that flotilla does not copy
// (spec/brig.md, "brig bugs we do NOT copy"). Every wait resolves on events; the test timeouts bound them.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { brig, waitFor, withTiming, NO_TIMEOUTS, memoryNetwork, commitRecorder, leaderWatch } from './brig-support.mjs'

const { events, consensus, messages, roles, log } = brig
const FAST = { ELECTION_T_MIN: 60, ELECTION_T_MAX: 120, REPLICATE_T: 15 }
const TIMEOUT = 30000

function leaderAgreed (clusters) {
  const leader = clusters[0].state.currentLeader
  return leader !== null && clusters.every((c) => c.state.currentLeader === leader)
}

// a, b and c on a memory network with no election timer within the test; a leads, as all of them know.
async function threeLedByA (t) {
  const net = memoryNetwork(['a', 'b', 'c'])
  t.after(() => net.close())
  withTiming(NO_TIMEOUTS, () => net.joinAll())
  const [a] = net.clusters
  a.startElection()
  await waitFor(net.clusters, () => leaderAgreed(net.clusters) && a.state.currentLeader === 'a')
  return net
}

function allCommitted (commits, count) {
  return () => [...commits.values()].every((list) => list.length >= count)
}

test('three nodes: one leader, the state is the engine\'s, brig\'s events fire', { timeout: TIMEOUT }, async (t) => {
  const net = memoryNetwork(['a', 'b', 'c'])
  t.after(() => net.close())
  const seen = new Map(Object.values(events).map((e) => [e, 0]))
  const roleChanges = []
  const leaderChanges = []
  for (const c of net.clusters) {
    for (const event of seen.keys()) c.on(event, () => seen.set(event, seen.get(event) + 1))
    c.on(events.RoleChanged, (oldRole, newRole) => roleChanges.push([c.id, oldRole, newRole]))
    c.on(events.LeaderChanged, (oldLeader, newLeader) => leaderChanges.push([c.id, oldLeader, newLeader]))
    c.on(events.VoteRequest, (m) => assert.ok(m instanceof messages.VoteRequestMessage))
    c.on(events.VoteResponse, (m) => assert.ok(m instanceof messages.VoteResponseMessage))
    c.on(events.LogRequest, (m) => assert.ok(m instanceof messages.LogRequestMessage))
    c.on(events.LogResponse, (m) => assert.ok(m instanceof messages.LogResponseMessage))
    c.on(events.Broadcast, (m) => assert.ok(m instanceof messages.BroadcastMessage))
  }
  let queued = 0
  for (const c of net.clusters) {
    for (const p of c.peers) {
      p.on(events.MessageQueued, (id, msg) => {
        assert.equal(id, p.id)
        assert.equal(typeof msg.constructor.method, 'string')
        queued++
      })
    }
  }
  const commits = commitRecorder(net.clusters)
  const watch = leaderWatch(net.clusters)
  assert.equal(net.clusters[0].join(), net.clusters[0])
  net.joinAll()
  await waitFor(net.clusters, () => leaderAgreed(net.clusters))
  for (const c of net.clusters) assert.equal(c.broadcast({ from: c.id }), true)
  await waitFor(net.clusters, allCommitted(commits, 3))
  const [leader] = net.leaders()
  await waitFor(net.clusters, () => seen.get(events.ReplicationTimeout) > 0)
  watch.check()

  // the state a user reads is the engine's
  const order = commits.get('a')
  for (const c of net.clusters) {
    const status = c.status()
    assert.equal(c.state.currentTerm, status.term)
    assert.equal(c.state.currentLeader, leader.id)
    assert.equal(c.state.votedFor, status.votedFor)
    assert.equal(c.state.currentRole, c === leader ? roles.Leader : roles.Follower)
    assert.equal(c.state.commitLength, 3)
    assert.ok(c.state.log instanceof log.Log)
    assert.ok(c.state.log.entries.every((e) => e instanceof log.LogEntry))
    assert.deepEqual(c.state.log.entries.map((e) => e.data.payload), order)
    assert.deepEqual(commits.get(c.id), order, 'LogCommit once per entry, in log order')
  }
  assert.deepEqual([...order].map((p) => p.from).sort(), ['a', 'b', 'c'])
  assert.ok(leader.state.votesReceived.has(leader.id))
  assert.ok(leader.state.votesReceived.size >= 2, 'a majority of votes')
  assert.deepEqual([...leader.state.ackedLength.keys()].sort(), net.clusters.filter((c) => c !== leader).map((c) => c.id).sort())
  assert.ok([...leader.state.ackedLength.values()].every((n) => n >= 4), 'no-op + three entries')
  assert.equal(net.clusters.find((c) => c !== leader).state.sentLength.size, 0, 'progress is the leader\'s')
  const json = JSON.parse(leader.state.serialize().toString())
  assert.deepEqual(Object.keys(json), ['currentTerm', 'votedFor', 'currentLeader', 'votesReceived', 'log', 'commitLength', 'sentLength', 'ackedLength'])
  assert.deepEqual(json.log, leader.state.log.entries.map((e) => ({ data: e.data, term: e.term })))

  // the view is read-only
  assert.throws(() => { leader.state.currentTerm = 9 }, /view of the engine/)
  assert.throws(() => { leader.state.currentTerm = 'x' }, { constructor: TypeError, message: 'Invalid value "x".' })
  assert.throws(() => leader.state.setCurrentRole(roles.Follower), /view of the engine/)
  assert.throws(() => leader.state.log.append(new log.LogEntry()), /cluster\.broadcast/)

  // brig's events
  for (const event of [events.ElectionTimeout, events.ReplicationTimeout, events.VoteRequest, events.VoteResponse,
    events.LogRequest, events.LogResponse, events.Broadcast, events.LogCommit, events.RoleChanged, events.LeaderChanged]) {
    assert.ok(seen.get(event) > 0, event.description)
  }
  assert.equal(seen.get(events.LogCommit), 9)
  assert.ok(queued > 0)
  assert.ok(roleChanges.some(([id, oldRole, newRole]) => id === leader.id && oldRole === roles.Candidate && newRole === roles.Leader))
  for (const c of net.clusters) {
    assert.ok(leaderChanges.some(([id, oldLeader, newLeader]) => id === c.id && oldLeader === null && newLeader === leader.id))
  }
})

test('close(): the node stops, its handlers still answer, it cannot join again', { timeout: TIMEOUT }, async (t) => {
  const net = memoryNetwork(['a', 'b', 'c'])
  t.after(() => net.close())
  const commits = commitRecorder(net.clusters)
  net.joinAll()
  net.clusters[0].broadcast('one')
  await waitFor(net.clusters, allCommitted(commits, 1))
  const [a] = net.clusters
  const closing = a.close()
  assert.ok(closing instanceof Promise)
  assert.equal(a.close(), closing, 'safe to call twice')
  await closing
  assert.equal(a.broadcast('after'), false)
  assert.equal(a.startElection(), a)
  let answered = false
  net.mappings.get('a').CAST_VOTE({ voterId: 'b', term: 1, granted: true }, (error) => { answered = error === undefined })
  assert.ok(answered)
  assert.throws(() => a.join(), /closed/)
  // the two others go on without it
  net.clusters[1].broadcast('two')
  await waitFor(net.clusters.slice(1), () => commits.get('b').length === 2 && commits.get('c').length === 2)
  assert.equal(commits.get('a').length, 1)
})

test('a process whose clusters are closed exits by itself', { timeout: TIMEOUT }, async () => {
  const script = `
    const { consensus, events } = require(${JSON.stringify(fileURLToPath(new URL('../brig.js', import.meta.url)))})
    const ids = ['a', 'b', 'c']
    const clusters = ids.map((id) => new consensus.Cluster(id))
    const mappings = new Map(clusters.map((c) => [c.id, c.createProtocolMapping()]))
    for (const c of clusters) for (const o of clusters) if (o !== c) {
      c.addPeer(new consensus.Peer(o.id, (to, msg) => {
        const plain = JSON.parse(msg.serialize())
        setImmediate(() => mappings.get(to)[msg.constructor.method](plain, () => {}))
      }))
    }
    let committed = 0
    for (const c of clusters) c.on(events.LogCommit, () => {
      if (++committed === 3) Promise.all(clusters.map((x) => x.close())).then(() => console.log('closed'))
    })
    clusters.forEach((c) => c.join())
    clusters[0].broadcast('x')
  `
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.on('data', (chunk) => { out += chunk })
  const code = await new Promise((resolve) => child.on('exit', resolve))
  assert.equal(code, 0)
  assert.equal(out.trim(), 'closed')
})

test('join() checks its inputs; members are fixed at join()', { timeout: TIMEOUT }, async (t) => {
  assert.throws(() => new consensus.Cluster(7).join(), { constructor: TypeError, message: /id must be a non-empty string/ })
  assert.throws(() => new consensus.Cluster('a', [{ id: 'b' }]).join(), { constructor: TypeError, message: /every peer must be a Peer/ })
  // A saved state seeds the node (brig-saved-state.test.mjs), unless it cannot be a node's: an entry of a later term.
  const saved = new log.LogState({ currentTerm: 2, log: [new log.LogEntry({ payload: 1 }, 3)] })
  assert.throws(() => new consensus.Cluster('a', [], saved).join(), /saved state cannot seed this node/)
  assert.throws(() => withTiming({ ELECTION_T_MIN: 'x' }, () => new consensus.Cluster('a').join()), /ELECTION_T_MIN must be a positive number/)
  assert.throws(() => withTiming({ ELECTION_T_MIN: 300, ELECTION_T_MAX: 200 }, () => new consensus.Cluster('a').join()), /ELECTION_T_MAX/)

  const net = memoryNetwork(['a', 'b'])
  t.after(() => net.close())
  net.joinAll()
  const [a] = net.clusters
  assert.equal(a.join(), a, 'a second join() is a no-op')
  const z = new consensus.Peer('z', () => {})
  assert.equal(a.addPeer(z), z, 'after join(), a new Peer is taken (the leader also adds it to the cluster)')
  assert.throws(() => a.addPeer(new consensus.Peer('a', () => {})), /another node's id/)
  const old = a.getPeer('b')
  const replacement = new consensus.Peer('b', old.tx)
  assert.equal(a.addPeer(replacement), replacement, 'a member\'s Peer may be replaced')
  assert.equal(a.getPeer('b'), replacement)
  assert.equal(a.peers.length, 2)
})

test('a single node is its own majority, and commits what it broadcast before join()', { timeout: TIMEOUT }, async (t) => {
  const solo = new consensus.Cluster('solo')
  t.after(() => solo.close())
  const commits = commitRecorder([solo])
  for (let i = 0; i < 5; i++) solo.broadcast(i)
  withTiming(FAST, () => solo.join())
  await waitFor([solo], allCommitted(commits, 5))
  assert.deepEqual(commits.get('solo'), [0, 1, 2, 3, 4])
  assert.equal(solo.state.currentRole, roles.Leader)
})

test('malformed messages are dropped, counted and reported with Debug, never thrown', { timeout: TIMEOUT }, async (t) => {
  const net = memoryNetwork(['a', 'b'])
  t.after(() => net.close())
  net.joinAll()
  const [a] = net.clusters
  const debug = []
  a.on(events.Debug, (args) => debug.push(args))
  assert.equal(a.handleMessage({ what: 1 }), false)
  assert.equal(a.handleLogRequest({ leaderId: 'b', term: 1, prefixLength: 0, prefixTerm: 0, leaderCommit: 0, suffix: 'no' }), false)
  assert.equal(a.handleVoteRequest({ candidateId: 'b', currentTerm: 'x', currentLogLength: 0, currentLogLastTerm: 0 }), true,
    'taken, then dropped by the engine')
  await new Promise((resolve) => setImmediate(resolve))
  assert.equal(debug.length, 2)
  assert.ok(debug.every((args) => Array.isArray(args)))
  assert.equal(a.status().dropped.malformed, 3)
})

test('malformed snapshot chunks and answers are dropped and counted, never thrown', { timeout: TIMEOUT }, async (t) => {
  const net = memoryNetwork(['a', 'b'])
  t.after(() => net.close())
  net.joinAll()
  const [a] = net.clusters
  const chunk = { leaderId: 'b', term: 1, lastIncludedLength: 5, lastIncludedTerm: 1, offset: 0, total: 10, chunk: 'AAAA' }
  const answer = { followerId: 'b', term: 1, lastIncludedLength: 5, received: 1, done: false }
  const hostile = [
    { ...chunk, offset: -1 },
    { ...chunk, total: 1e30 },
    { ...chunk, chunk: 5 },
    { ...chunk, chunk: '!!!' },
    { ...answer, received: 'x' },
    { ...answer, done: 'yes' },
    { ...answer, received: 1e300 }
  ]
  for (const message of hostile) assert.equal(a.handleMessage(message), true, 'taken, then dropped by the engine')
  await new Promise((resolve) => setImmediate(resolve))
  assert.equal(a.status().dropped.malformed, hostile.length)
})

// JavaScript arithmetic would make 6 of `[7]` and `"7"`, 0 of `true` and -1 of `null`: numbers the engine takes.
test('a length field of the wrong type is dropped and counted, not coerced to a number', { timeout: TIMEOUT }, async (t) => {
  const net = memoryNetwork(['a', 'b'])
  t.after(() => net.close())
  net.joinAll()
  const [a] = net.clusters
  const lengthFields = [
    [{ candidateId: 'b', currentTerm: 1, currentLogLength: 0, currentLogLastTerm: 0 }, 'currentLogLength'],
    [{ candidateId: 'b', proposedTerm: 1, currentLogLength: 0, currentLogLastTerm: 0 }, 'currentLogLength'],
    [{ leaderId: 'b', term: 1, prefixLength: 0, prefixTerm: 0, leaderCommit: 0, suffix: [] }, 'prefixLength'],
    [{ leaderId: 'b', term: 1, prefixLength: 0, prefixTerm: 0, leaderCommit: 0, suffix: [] }, 'leaderCommit'],
    [{ leaderId: 'b', term: 1, prefixLength: 0, prefixTerm: 0, leaderCommit: 0, suffix: [], heartbeat: true }, 'leaderCommit'],
    [{ followerId: 'b', term: 1, ack: 1, success: true }, 'ack'],
    [{ followerId: 'b', term: 1, ack: 0, success: false, rejectedLength: 1, hintLength: 0, hintTerm: 0 }, 'rejectedLength'],
    [{ followerId: 'b', term: 1, ack: 0, success: false, rejectedLength: 1, hintLength: 0, hintTerm: 0 }, 'hintLength'],
    [{ leaderId: 'b', term: 1, lastIncludedLength: 5, lastIncludedTerm: 1, offset: 0, total: 4, chunk: 'AAAA' }, 'lastIncludedLength'],
    [{ followerId: 'b', term: 1, lastIncludedLength: 5, received: 1, done: false }, 'lastIncludedLength'],
    [{ leaderId: 'b', term: 1, request: 1, readLength: 0 }, 'readLength']
  ]
  let sent = 0
  for (const [message, field] of lengthFields) {
    for (const wrong of [[7], '7', true, null]) {
      const hostile = { ...message, [field]: wrong }
      assert.equal(a.handleMessage(hostile), false, `${JSON.stringify(hostile)} is not taken`)
      assert.equal(a.status().dropped.malformed, ++sent, `${JSON.stringify(hostile)} is counted`)
    }
  }
  assert.equal(a.state.currentTerm, 0, 'no dropped message moved the node to term 1')
})

test('read rounds and read index messages with hostile fields are dropped and counted, never thrown', { timeout: TIMEOUT }, async (t) => {
  const net = memoryNetwork(['a', 'b'])
  t.after(() => net.close())
  net.joinAll()
  const [a] = net.clusters
  const heartbeat = { leaderId: 'b', term: 1, prefixLength: 0, prefixTerm: 0, leaderCommit: 0, suffix: [], heartbeat: true, readRound: 1 }
  const heartbeatReply = { followerId: 'b', term: 1, ack: 0, success: true, heartbeat: true, readRound: 1 }
  const askRead = { followerId: 'b', term: 1, request: 1, lease: false }
  const readIndex = { leaderId: 'b', term: 1, request: 1, readLength: 0 }
  const wrongCounters = [-1, 1.5, 2 ** 53, 1e300, '1', [1], true, null, {}]
  const hostile = [
    ...wrongCounters.map((wrong) => ({ ...heartbeat, readRound: wrong })),
    ...wrongCounters.map((wrong) => ({ ...heartbeatReply, readRound: wrong })),
    ...wrongCounters.map((wrong) => ({ ...askRead, request: wrong })),
    ...wrongCounters.map((wrong) => ({ ...readIndex, request: wrong })),
    ...['false', 0, 1, null, []].map((wrong) => ({ ...askRead, lease: wrong })),
    { ...readIndex, readLength: 1.5 },
    { ...readIndex, readLength: -1 }
  ]
  for (const message of hostile) {
    assert.equal(a.handleMessage(message), true, `${JSON.stringify(message)} is taken, then dropped by the engine`)
  }
  await new Promise((resolve) => setImmediate(resolve))
  assert.equal(a.status().dropped.malformed, hostile.length)
  assert.equal(a.state.currentTerm, 0, 'no dropped message moved the node to term 1')
  // the same messages, well formed, are taken: the node moves to the sender's term
  assert.equal(a.handleMessage(heartbeat), true)
  await new Promise((resolve) => setImmediate(resolve))
  assert.equal(a.status().dropped.malformed, hostile.length)
  assert.equal(a.state.currentTerm, 1)
})

// ---- brig's bugs ----

// brig: a candidate won with ceil((peers + 1) / 2) votes, which is half, not a majority, in an even-sized cluster.
for (const [size, description] of [[2, 'one of two'], [4, 'two of four'], [12, 'six of twelve']]) {
  test(`bug: half the votes is not a majority (${description})`, { timeout: TIMEOUT }, async (t) => {
    const ids = Array.from({ length: size }, (_, i) => 'n' + i)
    const net = memoryNetwork(ids)
    t.after(() => net.close())
    const watch = leaderWatch(net.clusters)
    const timeouts = new Map(ids.map((id) => [id, 0]))
    for (const c of net.clusters) c.on(events.ElectionTimeout, () => timeouts.set(c.id, timeouts.get(c.id) + 1))
    const half = size / 2
    net.partition([ids.slice(0, half), ids.slice(half)])
    withTiming(FAST, () => net.joinAll())
    // every node campaigns three times in its half, and none may win
    await waitFor(net.clusters, () => [...timeouts.values()].every((n) => n >= 3))
    assert.equal(watch.elected(), 0, 'no leader with half the votes')
    assert.ok(net.clusters.every((c) => c.state.currentLeader === null))
    if (size === 2) return
    net.heal()
    await waitFor(net.clusters, () => leaderAgreed(net.clusters))
    watch.check()
    assert.equal(net.leaders().length, 1)
  })
}

// brig: on a refused append the leader called getPeer(self) and threw inside the event handler.
test('bug: a refused append does not throw; the follower catches up', { timeout: TIMEOUT }, async (t) => {
  const net = memoryNetwork(['a', 'b', 'c'])
  t.after(() => net.close())
  const commits = commitRecorder(net.clusters)
  withTiming(NO_TIMEOUTS, () => net.joinAll())
  const [a, b, c] = net.clusters
  a.startElection()
  await waitFor(net.clusters, () => leaderAgreed(net.clusters))
  assert.equal(a.state.currentRole, roles.Leader)
  a.broadcast(1)
  a.broadcast(2)
  await waitFor(net.clusters, allCommitted(commits, 2))

  // c misses entries 3..8; when it is back, the leader's next append refers to entries it does not have
  net.partition([['a', 'b'], ['c']])
  for (let i = 3; i <= 8; i++) a.broadcast(i)
  await waitFor([a, b], () => commits.get('a').length === 8 && commits.get('b').length === 8)
  const refusals = []
  a.on(events.LogResponse, (m) => { if (m.success === false) refusals.push(m) })
  net.heal()
  a.broadcast(9)
  await waitFor(net.clusters, allCommitted(commits, 9))
  assert.ok(refusals.length > 0, 'c refused at least one append')
  assert.equal(refusals[0].followerId, 'c')
  assert.deepEqual(commits.get('c'), [1, 2, 3, 4, 5, 6, 7, 8, 9])
  assert.deepEqual(c.state.log.entries, a.state.log.entries)

  // a refusal in brig's own form (no hints) is taken too, and harmless
  let answer = 'none'
  net.mappings.get('a').ACK_APPEND({ followerId: 'b', term: a.state.currentTerm, ack: 0, success: false }, (error) => { answer = error })
  assert.equal(answer, undefined)
  a.broadcast(10)
  await waitFor(net.clusters, allCommitted(commits, 10))
  assert.deepEqual(b.state.log.entries.map((e) => e.data.payload), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
})

// brig: the leader sent the suffix from one index and the previous entry's term from another.
test('bug: prefixLength, prefixTerm and the suffix agree, across terms', { timeout: TIMEOUT }, async (t) => {
  const net = memoryNetwork(['a', 'b', 'c'], { record: true })
  t.after(() => net.close())
  const commits = commitRecorder(net.clusters)
  withTiming(NO_TIMEOUTS, () => net.joinAll())
  const [a, b, c] = net.clusters
  a.startElection()
  await waitFor(net.clusters, () => leaderAgreed(net.clusters))
  for (let i = 1; i <= 3; i++) a.broadcast('a' + i)
  await waitFor(net.clusters, allCommitted(commits, 3))
  // c falls behind, then b takes over in a new term and appends more
  net.partition([['a', 'b'], ['c']])
  a.broadcast('a4')
  await waitFor([a, b], () => commits.get('b').length === 4)
  a.transferLeadership('b')
  await waitFor([a, b], () => b.state.currentRole === roles.Leader && a.state.currentLeader === 'b')
  for (let i = 1; i <= 3; i++) b.broadcast('b' + i)
  await waitFor([a, b], () => commits.get('a').length === 7)
  net.heal()
  await waitFor(net.clusters, allCommitted(commits, 7))
  assert.notEqual(a.state.log.entries[0].term, b.state.log.entries[6].term, 'entries of two terms')

  // every position holds one entry for every sender, each prefixTerm is the term at prefixLength - 1,
  // and the positions, read in order, are the committed log
  const atPosition = new Map()
  const appends = net.sent.filter(({ msg }) => msg instanceof messages.LogRequestMessage && msg.heartbeat !== true)
  assert.ok(appends.length > 0)
  for (const { msg } of appends) {
    msg.suffix.forEach((entry, i) => {
      const position = msg.prefixLength + i
      const known = atPosition.get(position)
      if (known) assert.deepEqual({ id: known.id, term: known.term }, { id: entry.id, term: entry.term }, `position ${position}`)
      else atPosition.set(position, { id: entry.id, term: entry.term, data: entry.data })
    })
  }
  for (const { msg } of appends) {
    if (msg.prefixLength > 0) assert.equal(msg.prefixTerm, atPosition.get(msg.prefixLength - 1).term)
    else assert.equal(msg.prefixTerm, 0)
  }
  const positions = [...atPosition.keys()].sort((x, y) => x - y)
  assert.deepEqual(positions, positions.map((_, i) => i), 'no gap')
  const replicated = positions.map((p) => atPosition.get(p)).filter((e) => e.id !== null).map((e) => e.data.payload)
  assert.deepEqual(replicated, ['a1', 'a2', 'a3', 'a4', 'b1', 'b2', 'b3'])
  for (const cluster of net.clusters) assert.deepEqual(commits.get(cluster.id), replicated)
  assert.ok(net.sent.some(({ msg }) => msg instanceof messages.TimeoutNowMessage), 'the transfer used TIMEOUT_NOW')
})

// brig: broadcasts buffered until a leader was known were sent in reverse order, and to this node itself when it
// became the leader, which threw.
test('bug: broadcasts made before a leader is known commit in order, on a follower', { timeout: TIMEOUT }, async (t) => {
  const net = memoryNetwork(['a', 'b', 'c'])
  t.after(() => net.close())
  const commits = commitRecorder(net.clusters)
  const [a, b] = net.clusters
  b.broadcast('b0') // before join()
  withTiming(NO_TIMEOUTS, () => net.joinAll())
  for (let i = 1; i <= 4; i++) assert.equal(b.broadcast('b' + i), true) // no leader yet
  a.startElection()
  await waitFor(net.clusters, () => leaderAgreed(net.clusters))
  assert.equal(a.state.currentRole, roles.Leader)
  b.broadcast('b5')
  await waitFor(net.clusters, allCommitted(commits, 6))
  for (const c of net.clusters) assert.deepEqual(commits.get(c.id), ['b0', 'b1', 'b2', 'b3', 'b4', 'b5'])
})

test('bug: broadcasts made before a leader is known commit in order, on the node that becomes leader', { timeout: TIMEOUT }, async (t) => {
  const net = memoryNetwork(['a', 'b', 'c'])
  t.after(() => net.close())
  const commits = commitRecorder(net.clusters)
  const [a] = net.clusters
  a.broadcast('a0')
  withTiming(NO_TIMEOUTS, () => net.joinAll())
  for (let i = 1; i <= 4; i++) a.broadcast('a' + i)
  a.startElection()
  await waitFor(net.clusters, allCommitted(commits, 5))
  assert.equal(a.state.currentRole, roles.Leader)
  for (const c of net.clusters) assert.deepEqual(commits.get(c.id), ['a0', 'a1', 'a2', 'a3', 'a4'])
})

test('startElection() and transferLeadership() hand leadership over', { timeout: TIMEOUT }, async (t) => {
  const net = memoryNetwork(['a', 'b', 'c'])
  t.after(() => net.close())
  const watch = leaderWatch(net.clusters)
  withTiming(NO_TIMEOUTS, () => net.joinAll())
  const [a, b, c] = net.clusters
  b.startElection()
  await waitFor(net.clusters, () => leaderAgreed(net.clusters) && b.state.currentRole === roles.Leader)
  b.transferLeadership('c')
  await waitFor(net.clusters, () => leaderAgreed(net.clusters) && c.state.currentRole === roles.Leader)
  watch.check()
  assert.equal(a.state.currentLeader, 'c')
  await b.close()
  await c.close()
  await a.close()
})

test('a closing leader hands over: with 60 s election timeouts, the others have a leader at once', { timeout: TIMEOUT }, async (t) => {
  const net = await threeLedByA(t)
  const [a, b, c] = net.clusters
  const term = a.state.currentTerm
  await a.close()
  assert.equal(a.broadcast({ late: true }), false, 'a closed cluster takes no broadcast')
  // No election timer fires within a minute: only the hand-over can have made the next leader.
  await waitFor([b, c], () => leaderAgreed([b, c]))
  assert.equal(b.state.currentTerm, term + 1, 'one election, the hand-over\'s')
  assert.ok(['b', 'c'].includes(b.state.currentLeader))
})

test('a node restarted under its id (brig kept nothing on disk) gets the log again from the leader', { timeout: TIMEOUT }, async (t) => {
  const net = await threeLedByA(t)
  const [a, b, c] = net.clusters
  a.broadcast('one')
  a.broadcast('two')
  await waitFor(net.clusters, () => net.clusters.every((cluster) => cluster.state.commitLength === 2))
  await c.close()
  // The same id, empty, wired as the first one was: its peers' messages now reach it.
  const restarted = new consensus.Cluster('c')
  t.after(() => restarted.close())
  for (const peer of [a, b]) {
    restarted.addPeer(new consensus.Peer(peer.id, (to, msg) => {
      const plain = JSON.parse(msg.serialize())
      setImmediate(() => net.mappings.get(to)[msg.constructor.method](plain, () => {}))
    }))
  }
  net.mappings.set('c', restarted.createProtocolMapping())
  const commits = commitRecorder([restarted])
  withTiming(NO_TIMEOUTS, () => restarted.join())
  // No broadcast: the leader's heartbeats carry a commit index beyond the empty log, and the node says so.
  await waitFor([restarted], () => restarted.state.commitLength === 2)
  a.broadcast('three')
  await waitFor([restarted], () => restarted.state.commitLength === 3)
  assert.deepEqual(commits.get('c'), ['one', 'two', 'three'])
  assert.deepEqual(restarted.state.log.entries.map((entry) => entry.data.payload), ['one', 'two', 'three'])
})

test('addPeer after join(): the leader adds a joining node, which catches up and votes; removePeer removes one', { timeout: TIMEOUT }, async (t) => {
  const net = memoryNetwork(['a', 'b', 'c'])
  const d = new consensus.Cluster('d', [], undefined, { join: true })
  const mapping = d.createProtocolMapping()
  const link = (from, toId, toMapping) => new consensus.Peer(toId, (to, msg) => {
    const plain = JSON.parse(msg.serialize())
    setImmediate(() => toMapping[msg.constructor.method](plain, () => {}))
  })
  t.after(() => Promise.all([net.close(), d.close()]))
  withTiming(NO_TIMEOUTS, () => net.joinAll())
  const [a, b, c] = net.clusters
  a.startElection()
  await waitFor(net.clusters, () => leaderAgreed(net.clusters) && a.state.currentLeader === 'a')
  for (const peer of net.clusters) d.addPeer(link(d, peer.id, net.mappings.get(peer.id)))
  withTiming(NO_TIMEOUTS, () => d.join())
  a.broadcast({ before: true })
  for (const cluster of net.clusters) cluster.addPeer(link(cluster, 'd', mapping))
  await a.membershipChange
  assert.ok(a.members().voters.includes('d'), 'd was added, caught up and promoted')
  await waitFor([a, d], () => d.members().voters.includes('d'))
  assert.deepEqual(d.members().voters.slice().sort(), ['a', 'b', 'c', 'd'], 'the new node knows the configuration')
  await a.removePeer('c')
  assert.equal(a.getPeer('c'), null, 'the Peer goes with the member')
  assert.deepEqual(a.members().voters.slice().sort(), ['a', 'b', 'd'])
  const refused = await a.removePeer('nobody').then(() => null, (error) => error)
  assert.equal(refused.code, 'FLOTILLA_UNKNOWN_MEMBER')
  for (const cluster of [b, d]) assert.equal(typeof cluster.members(), 'object')
})
