// A node's metrics in the Prometheus text exposition format (version 0.0.4), written from its `status()` and
// the durations of the application's snapshot hooks: both faces' `metrics()` (gaggle's node.metrics(), brig's
// cluster.metrics()) return this text for a scrape endpoint to serve as `text/plain; version=0.0.4`. Names follow
// Prometheus's conventions: the `flotilla_` prefix, `_total` on counters, base units (`_seconds`, `_bytes`).
'use strict'

// The role gauge has one series per role, 1 for the node's own.
const ROLES = ['follower', 'pre_candidate', 'candidate', 'leader']

// Counters of `status().stats`: [metric name, status key, help].
const CORE_COUNTERS = [
  ['flotilla_proposals_total', 'proposals', 'Proposals this node\'s application made that the engine took.'],
  ['flotilla_entries_appended_total', 'entriesAppended', 'Entries appended to this node\'s log (as leader or follower).'],
  ['flotilla_reads_answered_total', 'readsAnswered', 'This node\'s linearizable reads that got their read index.'],
  ['flotilla_lease_reads_served_total', 'readsByLease', 'Reads this node, as leader, answered from its lease without a heartbeat round.'],
  ['flotilla_read_rounds_confirmed_total', 'readRoundsConfirmed', 'Heartbeat rounds a quorum confirmed while reads waited for them.'],
  ['flotilla_read_requests_dropped_total', 'readRequestsDropped', 'Other nodes\' read requests dropped here (not the leader, or too many waiting).'],
  ['flotilla_read_retries_total', 'readRetries', 'Reads this node asked the leader for again.'],
  ['flotilla_elections_started_total', 'electionsStarted', 'Elections this node started.'],
  ['flotilla_elections_refused_total', 'electionsRefused', 'Elections not started because the next term would pass the limits.'],
  ['flotilla_leader_changes_total', 'leaderChanges', 'Changes of the leader this node knows.'],
  ['flotilla_check_quorum_step_downs_total', 'checkQuorumStepDowns', 'Times this leader stepped down for not hearing from a quorum.'],
  ['flotilla_votes_ignored_in_lease_total', 'votesIgnoredInLease', 'Vote requests ignored while this node knew a live leader.'],
  ['flotilla_append_rejections_total', 'appendRejections', 'Appends this node rejected (its log did not match).'],
  ['flotilla_proposal_retries_total', 'proposalRetries', 'Proposals this node sent to the leader again.'],
  ['flotilla_duplicate_proposals_total', 'duplicateProposals', 'Proposals dropped as duplicates of one already in the log.']
]

// `status().snapshots`: [metric name, key, type, help].
const SNAPSHOT_METRICS = [
  ['flotilla_snapshots_taken_total', 'taken', 'counter', 'Snapshots of the application this node took.'],
  ['flotilla_snapshots_restored_total', 'restored', 'counter', 'Snapshots handed to the application to restore (at a restart, or received).'],
  ['flotilla_snapshots_sent_total', 'sent', 'counter', 'Snapshots this leader sent that a follower installed.'],
  ['flotilla_snapshots_received_total', 'received', 'counter', 'Snapshots this node received in full from a leader.'],
  ['flotilla_snapshot_last_taken_bytes', 'lastTakenBytes', 'gauge', 'Size of the last snapshot this node took.'],
  ['flotilla_snapshot_last_restored_bytes', 'lastRestoredBytes', 'gauge', 'Size of the last snapshot this node restored.']
]

// `status().transport` counters with a direction or an origin: [metric name, help, [[key, label value]]].
const TRANSPORT_LABELLED = [
  ['flotilla_transport_frames_total', 'Frames the native transport sent and received.', 'direction',
    [['framesSent', 'sent'], ['framesReceived', 'received']]],
  ['flotilla_transport_bytes_total', 'Bytes the native transport sent and received.', 'direction',
    [['bytesSent', 'sent'], ['bytesReceived', 'received']]],
  ['flotilla_transport_connections_total', 'Connections the native transport accepted and dialed.', 'origin',
    [['connectionsAccepted', 'accepted'], ['connectionsDialed', 'dialed'], ['clientsAccepted', 'client']]]
]

// Frames dropped without the `dropped` prefix in their key.
const TRANSPORT_DROPPED_OTHERS = { malformedFrames: 'malformed', unknownFrames: 'unknown_kind' }

// "staleTerm" -> "stale_term"
const snakeCase = (key) => key.replace(/[A-Z]/g, (letter) => '_' + letter.toLowerCase())

// A label value in the text format: backslash, double quote and line feed escaped.
const labelValue = (value) => String(value).replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : '\\' + c))

// A sample value: Prometheus reads Go floats, whose infinities are written +Inf and -Inf.
const sampleValue = (value) => (value === Infinity ? '+Inf' : value === -Infinity ? '-Inf' : String(value))

// Writes metric families: each with its HELP and TYPE lines, then its samples, once.
class Exposition {
  constructor () {
    this._lines = []
  }

  family (name, type, help, samples) {
    this._lines.push(`# HELP ${name} ${help.replace(/[\\\n]/g, (c) => (c === '\n' ? '\\n' : '\\\\'))}`, `# TYPE ${name} ${type}`)
    for (const [suffix, labels, value] of samples) {
      if (typeof value !== 'number') continue // a counter this build does not report
      const pairs = Object.entries(labels).map(([label, v]) => `${label}="${labelValue(v)}"`)
      this._lines.push(`${name}${suffix}${pairs.length > 0 ? `{${pairs.join(',')}}` : ''} ${sampleValue(value)}`)
    }
  }

  // One unlabelled sample.
  single (name, type, help, value) {
    this.family(name, type, help, [['', {}, value]])
  }

  // A histogram from `{count, sumSeconds, buckets: [[upper bound, cumulative count]]}` for each label set.
  histogram (name, help, series) {
    const samples = []
    for (const [labels, { count, sumSeconds, buckets }] of series) {
      for (const [bound, cumulative] of buckets) samples.push(['_bucket', { ...labels, le: String(bound) }, cumulative])
      samples.push(['_bucket', { ...labels, le: '+Inf' }, count], ['_sum', labels, sumSeconds], ['_count', labels, count])
    }
    this.family(name, 'histogram', help, samples)
  }

  text () {
    return this._lines.join('\n') + '\n'
  }
}

/**
 * The metrics text of a node. `status`: its `status()` (not null); `extra.snapshotDurations`: the snapshot
 * hooks' `{take, restore}` histograms, or null without hooks.
 */
function metricsText (status, extra = {}) {
  const out = new Exposition()
  const stats = status.stats
  out.single('flotilla_term', 'gauge', 'The current term.', status.term)
  const role = status.preCandidate ? 'pre_candidate' : status.state.toLowerCase()
  out.family('flotilla_role', 'gauge', 'This node\'s role: 1 for the role it has, 0 for the others.',
    ROLES.map((name) => ['', { role: name }, name === role ? 1 : 0]))
  out.single('flotilla_commit_index', 'gauge', 'The engine\'s commit index (its own log positions).', status.raftCommitIndex)
  out.single('flotilla_applied_index', 'gauge', 'The last log index applied (handed to the application).', status.raftAppliedIndex)
  out.single('flotilla_last_log_index', 'gauge', 'The last index of this node\'s log.', status.raftLastIndex)
  out.single('flotilla_first_log_index', 'gauge', 'The first index this node\'s log holds (after its snapshot).', status.raftFirstIndex)
  out.single('flotilla_pending_proposals', 'gauge', 'Proposals waiting for a leader or for their entry to commit.', status.pendingProposals)
  out.single('flotilla_pending_reads', 'gauge', 'This node\'s reads not done yet.', status.pendingReads)
  for (const [name, key, help] of CORE_COUNTERS) out.single(name, 'counter', help, stats[key])
  out.family('flotilla_reads_total', 'counter', 'Linearizable reads asked of this node, by the kind asked for.',
    [['', { kind: 'lease' }, stats.leaseReads], ['', { kind: 'read_index' }, stats.readIndexReads]])
  out.family('flotilla_dropped_messages_total', 'counter', 'Messages dropped before or by the engine, by reason.',
    Object.keys(status.dropped).filter((key) => key !== 'total').map((key) => ['', { reason: snakeCase(key) }, status.dropped[key]]))
  // Lag exists only on the leader: its peers' match indices are current there alone.
  const lag = status.state !== 'LEADER'
    ? []
    : status.peers.filter((peer) => peer !== null && peer.matchIndex !== undefined)
      .map((peer) => ['', { peer: peer.id }, Math.max(0, status.raftLastIndex - peer.matchIndex)])
  out.family('flotilla_peer_lag_entries', 'gauge', 'On the leader: its last log index less each peer\'s match index.', lag)
  for (const [name, key, type, help] of SNAPSHOT_METRICS) out.single(name, type, help, status.snapshots[key])
  const durations = extra.snapshotDurations
  // (Two families rather than one with an `operation` label: common parsers read only unlabelled histograms.)
  if (durations) {
    out.histogram('flotilla_snapshot_take_duration_seconds', 'How long taking a snapshot took: from save() until the engine held it.', [[{}, durations.take]])
    out.histogram('flotilla_snapshot_restore_duration_seconds', 'How long the application\'s restore() of a snapshot took.', [[{}, durations.restore]])
  }
  if (status.fsync) {
    out.histogram('flotilla_fsync_duration_seconds', 'How long each fsync of the write-ahead log took (one per group commit).', [[{}, status.fsync]])
  }
  if (status.transport) writeTransport(out, status.transport)
  if (status.clients) {
    out.single('flotilla_client_connections_total', 'counter', 'Clients that sent this node a request (the tcp channel with clients: true).', status.clients.connected)
    out.single('flotilla_client_requests_total', 'counter', 'Requests of clients this node served.', status.clients.requests)
    out.single('flotilla_client_frames_refused_total', 'counter', 'Frames of clients that were not a request (not JSON, no usable id or op), dropped.', status.clients.refused)
  }
  return out.text()
}

// The native transport's counters (`status().transport`).
function writeTransport (out, transport) {
  for (const [name, help, label, keys] of TRANSPORT_LABELLED) {
    out.family(name, 'counter', help, keys.map(([key, value]) => ['', { [label]: value }, transport[key]]))
  }
  out.single('flotilla_transport_reconnects_total', 'counter', 'Connections to peers the native transport made again after one was lost.', transport.reconnects)
  out.single('flotilla_transport_open_connections', 'gauge', 'Connections to and from peers open now.', transport.openConnections)
  const keys = Object.keys(transport)
  out.family('flotilla_transport_refused_connections_total', 'counter', 'Connections the native transport refused, by reason.',
    keys.filter((key) => key.startsWith('refused')).map((key) => ['', { reason: snakeCase(key.slice('refused'.length)).slice(1) }, transport[key]]))
  const dropped = keys.filter((key) => key.startsWith('dropped')).map((key) => [key, snakeCase(key.slice('dropped'.length)).slice(1)])
  for (const key in TRANSPORT_DROPPED_OTHERS) dropped.push([key, TRANSPORT_DROPPED_OTHERS[key]])
  out.family('flotilla_transport_dropped_frames_total', 'counter', 'Frames the native transport dropped, by reason.',
    dropped.map(([key, reason]) => ['', { reason }, transport[key]]))
  out.single('flotilla_transport_outputs_total', 'counter', 'Outputs the node\'s thread queued for the JS thread.', transport.outputs)
  out.single('flotilla_transport_wakeups_total', 'counter', 'Times the JS thread woke the node\'s thread after inputs.', transport.wakeups)
}

module.exports = { metricsText }
