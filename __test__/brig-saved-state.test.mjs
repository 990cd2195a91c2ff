// brig's way to persist a node, `cluster.state.serialize()`, and back: `new Cluster(id, peers,
// LogState.deserialize(buf)).join()` starts the node from the saved term, vote and log, as if it had restarted
// from its own disk, and Raft reconciles the nodes. A dataDir that already holds a log refuses a saved state.
import test from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { brig, withTiming, NO_TIMEOUTS, waitFor } from './brig-support.mjs'

const { consensus, events, log: { LogState } } = brig

// What brig 1.0's `LogState.serialize()` wrote for three nodes of one cluster: `a` led term 3 and appended
// "three" (on `a` and `b` only); `b` voted for `a`; `c` fell behind in term 2, with an entry of a term-1
// leader that never committed.
const SAVED = {
  a: '{"currentTerm":3,"votedFor":"a","currentLeader":"a","votesReceived":[["a","a"],["b","b"]],' +
    '"log":[{"data":{"payload":"one"},"term":1},{"data":{"payload":"two"},"term":2},{"data":{"payload":"three"},"term":3}],' +
    '"commitLength":2,"sentLength":[["b",3],["c",2]],"ackedLength":[["b",3],["c",1]]}',
  b: '{"currentTerm":3,"votedFor":"a","currentLeader":"a","votesReceived":[],' +
    '"log":[{"data":{"payload":"one"},"term":1},{"data":{"payload":"two"},"term":2},{"data":{"payload":"three"},"term":3}],' +
    '"commitLength":2,"sentLength":[],"ackedLength":[]}',
  c: '{"currentTerm":2,"votedFor":"b","currentLeader":null,"votesReceived":[],' +
    '"log":[{"data":{"payload":"one"},"term":1},{"data":{"payload":"lost"},"term":1}],' +
    '"commitLength":1,"sentLength":[],"ackedLength":[]}'
}

// Gives every cluster a Peer for each other one; messages travel as JSON, one turn later, as over a network.
function connect (clusters) {
  for (const cluster of clusters) {
    for (const other of clusters.filter((o) => o !== cluster)) {
      cluster.addPeer(new consensus.Peer(other.id, (to, msg) => {
        const plain = JSON.parse(msg.serialize())
        setImmediate(() => {
          if (!other._closed) other.createProtocolMapping()[msg.constructor.method](plain, () => {})
        })
      }))
    }
  }
  return clusters
}

test('three nodes started from brig saved states converge on one log, committed once and in order everywhere', { timeout: 20_000 }, async (t) => {
  const clusters = connect(['a', 'b', 'c'].map((id) =>
    new consensus.Cluster(id, [], LogState.deserialize(Buffer.from(SAVED[id])))))
  t.after(() => Promise.all(clusters.map((c) => c.close())))
  const commits = new Map(clusters.map((c) => [c.id, []]))
  for (const cluster of clusters) cluster.on(events.LogCommit, (entry) => commits.get(cluster.id).push(entry.data.payload))
  withTiming(NO_TIMEOUTS, () => clusters.forEach((c) => c.join()))

  const [a, b, c] = clusters
  assert.equal(a.state.currentTerm, 3, 'the saved term is the node\'s')
  assert.equal(c.state.votedFor, 'b', 'the saved vote is the node\'s')
  assert.deepEqual(c.state.log.entries.map((e) => [e.data.payload, e.term]), [['one', 1], ['lost', 1]])
  assert.equal(a.state.commitLength, 0, 'nothing is committed until a leader of a new term says so')

  // `c` cannot win (its log is behind); `a`, whose log is the most up-to-date, can.
  c.startElection()
  a.startElection()
  await waitFor(clusters, () => a.state.currentRole === brig.roles.Leader &&
    clusters.every((cluster) => commits.get(cluster.id).length === 3))
  a.broadcast('four')
  await waitFor(clusters, () => clusters.every((cluster) => commits.get(cluster.id).length === 4))
  for (const cluster of clusters) {
    assert.deepEqual(commits.get(cluster.id), ['one', 'two', 'three', 'four'], `LogCommit on ${cluster.id}`)
    assert.deepEqual(cluster.state.log.entries.map((e) => e.data.payload), ['one', 'two', 'three', 'four'])
  }
  assert.deepEqual(b.state.log.entries.map((e) => e.term).slice(0, 3), [1, 2, 3], 'the saved terms are kept')
})

test('a saved state that cannot be a node\'s is refused at join with a clear error', () => {
  const peers = () => ['a', 'b'].map((id) => new consensus.Peer(id, () => {}))
  const strangerVote = LogState.deserialize(Buffer.from(SAVED.c.replace('"votedFor":"b"', '"votedFor":"zed"')))
  assert.throws(() => new consensus.Cluster('c', peers(), strangerVote).join(),
    /saved state cannot seed this node: votedFor "zed" is not a member/)
  const laterEntry = LogState.deserialize(Buffer.from(SAVED.c.replace('"currentTerm":2', '"currentTerm":0')))
  assert.throws(() => new consensus.Cluster('c', peers(), laterEntry).join(), /entry 0 has term 1, which is not between/)
  const termZero = LogState.deserialize(Buffer.from(SAVED.c.replace('"term":1}]', '"term":0}]')))
  assert.throws(() => new consensus.Cluster('c', peers(), termZero).join(), /log entry 1 needs a term/)
})

test('a durable node starts from a saved state in an empty dataDir, and refuses one where a log is', { timeout: 20_000 }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flotilla-brig-saved-'))
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  const dataDir = path.join(dir, 'c')
  const peers = () => ['a', 'b'].map((id) => new consensus.Peer(id, () => {}))
  const seeded = new consensus.Cluster('c', peers(), LogState.deserialize(Buffer.from(SAVED.c)), { dataDir }).join()
  await seeded.ready()
  assert.equal(seeded.state.currentTerm, 2)
  assert.equal(seeded.state.log.entries.length, 2)
  await seeded.close()

  // Opened again without the saved state: the seeded log was written as the node's own.
  const reopened = new consensus.Cluster('c', peers(), undefined, { dataDir }).join()
  await reopened.ready()
  assert.deepEqual(reopened.state.log.entries.map((e) => e.data.payload), ['one', 'lost'])
  assert.equal(reopened.state.votedFor, 'b')
  await reopened.close()

  const refused = new consensus.Cluster('c', peers(), LogState.deserialize(Buffer.from(SAVED.c)), { dataDir })
  refused.on('error', () => {})
  refused.join()
  await assert.rejects(refused.ready(), /already holds a log; start from the saved state in an empty one/)
})
