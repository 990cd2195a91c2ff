// node.metrics() (gaggle) and cluster.metrics() (brig): Prometheus text format 0.0.4 that a Prometheus text
// parser reads, with HELP and TYPE for every family and Prometheus's naming; counters that move with appends,
// reads and elections; the leader's lag per peer; a durable node's fsync histogram and the snapshot hooks'
// durations; the native transport's counters with the tcp channel.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { gaggle, memoryCluster, electLeader, allCommitted, trackNodes, waitFor, STEADY, WITHIN, freePorts } from './gaggle-support.mjs'
import { brig } from './brig-support.mjs'

const require = createRequire(import.meta.url)
const parsePrometheusTextFormat = require('parse-prometheus-text-format')

// The families of a metrics text, by name; every family has its help and its type.
function parse (text) {
  assert.equal(typeof text, 'string')
  assert.ok(text.endsWith('\n'), 'the text ends with a line feed')
  const families = new Map()
  for (const family of parsePrometheusTextFormat(text)) {
    assert.ok(!families.has(family.name), `${family.name} is written once`)
    assert.match(family.name, /^flotilla_[a-z_]+$/, 'prefixed, in snake case')
    assert.ok(family.help.length > 0, `${family.name} has a HELP line`)
    assert.ok(['COUNTER', 'GAUGE', 'HISTOGRAM'].includes(family.type), `${family.name} has a TYPE line: ${family.type}`)
    if (family.type === 'COUNTER') assert.match(family.name, /_total$/, `the counter ${family.name} ends in _total`)
    if (family.type !== 'COUNTER') assert.doesNotMatch(family.name, /_total$/, `${family.name} is not a counter`)
    families.set(family.name, family)
  }
  return families
}

// The value of the sample of `name` whose labels include `labels` (a number), or undefined.
function value (families, name, labels = {}) {
  const family = families.get(name)
  if (family === undefined) return undefined
  const sample = family.metrics.find((metric) =>
    Object.entries(labels).every(([label, wanted]) => (metric.labels || {})[label] === wanted))
  return sample === undefined ? undefined : Number(sample.value)
}

const metricsOf = (node) => parse(node.metrics())

// A histogram family's series: cumulative buckets that end with +Inf equal to the count.
function histogram (families, name) {
  const family = families.get(name)
  assert.ok(family !== undefined, `${name} is reported`)
  assert.equal(family.type, 'HISTOGRAM')
  assert.equal(family.metrics.length, 1, `${name} has one series`)
  const series = family.metrics[0]
  // (An object's keys are not in the text's order: "1" and "10" come first.)
  const bounds = Object.keys(series.buckets).sort((a, b) => Number(a.replace('+Inf', 'Infinity')) - Number(b.replace('+Inf', 'Infinity')))
  assert.equal(bounds.at(-1), '+Inf', 'the last bucket is +Inf')
  const counts = bounds.map((bound) => Number(series.buckets[bound]))
  for (let i = 1; i < counts.length; i++) assert.ok(counts[i] >= counts[i - 1], `cumulative buckets: ${counts}`)
  const count = Number(series.count)
  assert.equal(counts.at(-1), count, 'the +Inf bucket holds every observation')
  return { count, sum: Number(series.sum), buckets: series.buckets }
}

test('metrics() is Prometheus text with the term, the role, the indices and the counters', WITHIN, async (t) => {
  const nodes = memoryCluster(t, 3, STEADY)
  const leader = await electLeader(nodes)
  await leader.append({ n: 1 })
  await allCommitted(nodes, 0)
  for (const node of nodes) {
    const families = metricsOf(node)
    const status = node.status()
    assert.equal(value(families, 'flotilla_term'), status.term)
    const isLeader = node === leader
    assert.equal(value(families, 'flotilla_role', { role: 'leader' }), isLeader ? 1 : 0)
    assert.equal(value(families, 'flotilla_role', { role: 'follower' }), isLeader ? 0 : 1)
    assert.equal(value(families, 'flotilla_role', { role: 'candidate' }), 0)
    assert.equal(value(families, 'flotilla_role', { role: 'pre_candidate' }), 0)
    assert.equal(families.get('flotilla_role').metrics.length, 4, 'one series per role')
    assert.equal(value(families, 'flotilla_commit_index'), status.raftCommitIndex)
    assert.ok(value(families, 'flotilla_commit_index') >= 2, 'the leader\'s empty entry and the append')
    assert.ok(value(families, 'flotilla_applied_index') >= 2)
    for (const name of ['flotilla_proposals_total', 'flotilla_entries_appended_total', 'flotilla_elections_started_total',
      'flotilla_leader_changes_total', 'flotilla_reads_answered_total', 'flotilla_snapshots_taken_total',
      'flotilla_last_log_index', 'flotilla_pending_reads']) {
      assert.equal(typeof value(families, name), 'number', `${name} on ${node.id}`)
    }
    for (const reason of ['malformed', 'unknown_sender', 'misaddressed', 'stale_term', 'unexpected']) {
      assert.equal(typeof value(families, 'flotilla_dropped_messages_total', { reason }), 'number', reason)
    }
    assert.equal(families.get('flotilla_fsync_duration_seconds'), undefined, 'a node in memory does not fsync')
    assert.equal(families.get('flotilla_transport_frames_total'), undefined, 'no native transport')
    assert.equal(families.get('flotilla_snapshot_take_duration_seconds'), undefined, 'no snapshot hooks')
  }
})

test('counters move with appends, reads and elections', WITHIN, async (t) => {
  const nodes = memoryCluster(t, 3, { ...STEADY, checkQuorum: true, leaseReads: true })
  const before = nodes.map(metricsOf)
  for (const families of before) {
    assert.equal(value(families, 'flotilla_elections_started_total'), 0)
    assert.equal(value(families, 'flotilla_proposals_total'), 0)
  }
  const leader = await electLeader(nodes, nodes[1])
  const follower = nodes[0]
  const elected = metricsOf(leader)
  // The campaign that won, and any before it that a lost pre-vote round cost (timing on a busy machine).
  const started = value(elected, 'flotilla_elections_started_total')
  assert.ok(started >= 1, `elections started: ${started}`)
  assert.equal(started, leader.status().stats.electionsStarted, 'the metric is the engine\'s own count')
  assert.equal(value(elected, 'flotilla_role', { role: 'leader' }), 1)
  await waitFor(() => value(metricsOf(follower), 'flotilla_leader_changes_total') >= 1, 5000, 'the follower to count the new leader')

  await leader.append('a')
  await leader.append('b')
  await follower.append('c')
  await allCommitted(nodes, 2)
  await waitFor(() => value(metricsOf(follower), 'flotilla_entries_appended_total') >= 4, 5000, 'the follower to append every entry')
  const appended = metricsOf(leader)
  assert.equal(value(appended, 'flotilla_proposals_total'), 2, 'the leader\'s own appends')
  assert.equal(value(metricsOf(follower), 'flotilla_proposals_total'), 1, 'the follower\'s own append')
  assert.ok(value(appended, 'flotilla_entries_appended_total') >= 4, 'the empty entry and the three appends')

  await follower.read()
  await follower.read()
  await leader.read({ lease: true })
  const read = metricsOf(follower)
  assert.equal(value(read, 'flotilla_reads_total', { kind: 'read_index' }), 2)
  assert.equal(value(read, 'flotilla_reads_total', { kind: 'lease' }), 0)
  assert.equal(value(read, 'flotilla_reads_answered_total'), 2)
  assert.equal(value(metricsOf(leader), 'flotilla_reads_total', { kind: 'lease' }), 1)
})

test('the leader reports how far behind each peer is; a follower reports no lag', WITHIN, async (t) => {
  const nodes = memoryCluster(t, 3, STEADY)
  const leader = await electLeader(nodes)
  await leader.append(0)
  await allCommitted(nodes, 0)
  const [behind, caughtUp] = nodes.filter((node) => node !== leader)
  let families = metricsOf(leader)
  assert.deepEqual(families.get('flotilla_peer_lag_entries').metrics.map((m) => m.labels.peer).sort(), [behind.id, caughtUp.id].sort())
  assert.equal(value(families, 'flotilla_peer_lag_entries', { peer: behind.id }), 0)
  for (const follower of [behind, caughtUp]) {
    assert.equal(metricsOf(follower).get('flotilla_peer_lag_entries').metrics.length, 0, 'only the leader knows the lag')
  }
  await behind.close()
  for (let n = 1; n <= 5; n++) await leader.append(n)
  families = metricsOf(leader)
  assert.equal(value(families, 'flotilla_peer_lag_entries', { peer: behind.id }), 5, 'five entries it never got')
  await waitFor(() => value(metricsOf(leader), 'flotilla_peer_lag_entries', { peer: caughtUp.id }) === 0, 5000, 'the live follower to catch up')
})

test('a durable node reports its fsync histogram, and the snapshot hooks their durations and sizes', WITHIN, async (t) => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'flotilla-metrics-'))
  t.after(() => rmSync(dataDir, { recursive: true, force: true }))
  let state = []
  const track = trackNodes(t)
  const node = track(gaggle({
    id: 'solo',
    clusterSize: 1,
    channel: { name: 'memory', namespace: `metrics-${process.pid}-${Date.now()}` },
    ...STEADY,
    dataDir,
    snapshot: { threshold: 3, save: () => state.slice(), restore: (data) => { state = data } }
  }))
  node.on('committed', (entry) => state.push(entry.data))
  await node.ready()
  await electLeader([node])
  for (let n = 0; n < 6; n++) await node.append(n)
  await waitFor(() => value(metricsOf(node), 'flotilla_snapshots_taken_total') >= 1, 5000, 'a snapshot to be taken')
  const families = metricsOf(node)
  const fsync = histogram(families, 'flotilla_fsync_duration_seconds')
  assert.ok(fsync.count > 0, `fsyncs counted: ${fsync.count}`)
  assert.ok(fsync.sum > 0, 'and timed')
  assert.ok('0.001' in fsync.buckets && '2.5' in fsync.buckets, `bounds in seconds: ${Object.keys(fsync.buckets)}`)
  const take = histogram(families, 'flotilla_snapshot_take_duration_seconds')
  assert.ok(take.count >= 1, 'the snapshot taken was timed')
  assert.equal(histogram(families, 'flotilla_snapshot_restore_duration_seconds').count, 0, 'none restored')
  assert.ok(value(families, 'flotilla_snapshot_last_taken_bytes') > 0)

  // A restart restores the snapshot: counted, sized and timed.
  await node.close()
  state = []
  const again = track(gaggle({
    id: 'solo',
    clusterSize: 1,
    channel: { name: 'memory', namespace: `metrics-again-${process.pid}-${Date.now()}` },
    ...STEADY,
    dataDir,
    snapshot: { threshold: 3, save: () => state.slice(), restore: (data) => { state = data } }
  }))
  await again.ready()
  await waitFor(() => value(metricsOf(again), 'flotilla_snapshots_restored_total') === 1, 5000, 'the snapshot to be restored')
  const restarted = metricsOf(again)
  assert.equal(histogram(restarted, 'flotilla_snapshot_restore_duration_seconds').count, 1)
  assert.equal(value(restarted, 'flotilla_snapshot_last_restored_bytes'), value(families, 'flotilla_snapshot_last_taken_bytes'))
  assert.ok(state.length >= 3, 'the application got its state back')
})

test('label values are escaped as the text format asks', () => {
  const { metricsText } = require('../lib/engine/metrics.js')
  const peer = 'a "quoted" \\ name\nwith a line feed'
  const status = {
    id: 'x', state: 'LEADER', preCandidate: false, term: 2, raftFirstIndex: 1, raftLastIndex: 9, raftCommitIndex: 9,
    raftAppliedIndex: 9, pendingProposals: 0, pendingReads: 0, peers: [{ id: peer, matchIndex: 4 }, null],
    dropped: { total: 0, malformed: 0 }, stats: {}, snapshots: {}, fsync: null
  }
  const families = parse(metricsText(status))
  assert.deepEqual(families.get('flotilla_peer_lag_entries').metrics, [{ labels: { peer }, value: '5' }])
  assert.equal(families.get('flotilla_proposals_total').metrics.length, 0, 'a counter the status lacks has no sample')
})

test('a node on the native transport reports its frames, bytes, connections and refusals', WITHIN, async (t) => {
  const ids = ['ta', 'tb', 'tc']
  const ports = await freePorts(ids.length)
  const addresses = Object.fromEntries(ids.map((id, i) => [id, `127.0.0.1:${ports[i]}`]))
  const track = trackNodes(t)
  const nodes = ids.map((id) => {
    const peers = Object.fromEntries(ids.filter((other) => other !== id).map((other) => [other, addresses[other]]))
    return track(gaggle({ id, clusterSize: 3, ...STEADY, channel: { name: 'tcp', listen: addresses[id], peers, cluster: 'metrics-test' } }))
  })
  const leader = await electLeader(nodes)
  await leader.append('over tcp')
  await allCommitted(nodes, 0)
  const families = metricsOf(leader)
  assert.ok(value(families, 'flotilla_transport_frames_total', { direction: 'sent' }) > 0)
  assert.ok(value(families, 'flotilla_transport_frames_total', { direction: 'received' }) > 0)
  assert.ok(value(families, 'flotilla_transport_bytes_total', { direction: 'sent' }) > 0)
  assert.ok(value(families, 'flotilla_transport_open_connections') >= 1)
  assert.equal(typeof value(families, 'flotilla_transport_connections_total', { origin: 'dialed' }), 'number')
  for (const reason of ['wrong_cluster', 'bad_auth', 'tls', 'handshake_timeout', 'unknown_or_self_name']) {
    assert.equal(value(families, 'flotilla_transport_refused_connections_total', { reason }), 0, reason)
  }
  for (const reason of ['queue_full', 'closed', 'malformed', 'bad_frame_mac']) {
    assert.equal(typeof value(families, 'flotilla_transport_dropped_frames_total', { reason }), 'number', reason)
  }
})

test('brig: cluster.metrics() is null before join(), then Prometheus text', WITHIN, async () => {
  const cluster = new brig.consensus.Cluster('solo')
  assert.equal(cluster.metrics(), null)
  cluster.join()
  try {
    await cluster.ready()
    cluster.startElection()
    await waitFor(() => cluster.status().state === 'LEADER', 5000, 'the single node to lead')
    cluster.broadcast({ hello: 'world' })
    await waitFor(() => value(parse(cluster.metrics()), 'flotilla_commit_index') >= 2, 5000, 'the broadcast to commit')
    const families = parse(cluster.metrics())
    assert.equal(value(families, 'flotilla_role', { role: 'leader' }), 1)
    assert.equal(value(families, 'flotilla_proposals_total'), 1)
  } finally {
    await cluster.close()
  }
})
