// The human form of an inspection report (`flotilla inspect`, `flotilla verify` without --json): sizes, ranges
// and problems in words, files named relative to the data directory.
'use strict'

const UNITS = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB']

function formatBytes (bytes) {
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024
    unit++
  }
  return unit === 0 ? `${bytes} bytes` : `${value.toFixed(1)} ${UNITS[unit]}`
}

function plural (count, one, many = one + 's') {
  return `${count.toLocaleString('en-US')} ${count === 1 ? one : many}`
}

// "damage  segment-0000000000000002.wal at offset 1908: a record fails its checksum"
function describeProblem (problem) {
  const where = problem.offset === null ? problem.file : `${problem.file} at offset ${problem.offset}`
  return `${problem.severity.padEnd(6)}  ${where}: ${problem.message}`
}

function describeLog (log) {
  const compacted = log.compactedIndex === 0
    ? 'nothing compacted'
    : `compacted up to index ${log.compactedIndex} (term ${log.compactedTerm})`
  if (log.lastIndex === null) return `no entries, ${compacted}`
  return `indices ${log.firstIndex} to ${log.lastIndex} (${plural(log.entries, 'entry', 'entries')}, last term ` +
    `${log.lastTerm}), ${compacted}`
}

function describeVote (hardState) {
  if (hardState.vote === null) return 'no vote'
  return `voted for ${hardState.voteName ?? 'an unnamed member'} (id ${hardState.vote})`
}

function describeChecksums (report) {
  const soundSnapshots = report.snapshots.filter((snapshot) => snapshot.sound).length
  const records = report.checksumsVerified - soundSnapshots
  return `${plural(records, 'record')} and ${plural(soundSnapshots, 'snapshot')} verified`
}

function describeSegment (segment) {
  const range = segment.firstIndex === null ? 'no entries' : `indices ${segment.firstIndex} to ${segment.lastIndex}`
  // The newest segment's file is made longer ahead of its records: its size is not what was written.
  const size = segment.writtenBytes === segment.bytes
    ? formatBytes(segment.bytes)
    : `${formatBytes(segment.writtenBytes)} written (file ${formatBytes(segment.bytes)})`
  const parts = [size, plural(segment.records, 'record'), plural(segment.entries, 'entry', 'entries'), range]
  if (segment.tornAt !== null) parts.push(`torn at offset ${segment.tornAt}`)
  if (segment.damaged) parts.push('DAMAGED')
  return `  ${segment.file}  ${parts.join(', ')}`
}

function describeSnapshot (snapshot) {
  const voters = snapshot.voters.map((voter) => voter.name ?? `id ${voter.id}`).join(', ')
  const parts = [`index ${snapshot.index}`, `term ${snapshot.term}`, formatBytes(snapshot.bytes)]
  if (snapshot.sound) parts.push(`voters ${voters || 'none'}`)
  else parts.push('DAMAGED')
  if (snapshot.newest) parts.push('newest')
  return `  ${snapshot.file}  ${parts.join(', ')}`
}

// The whole report, as lines.
function describeReport (report) {
  const members = report.members.map((member) => member.name || `(vacant seat, id ${member.id})`).join(', ')
  const lines = [
    `${report.dir}: ${report.sound ? 'sound' : 'DAMAGED'}`,
    `  hard state  term ${report.hardState.term}, ${describeVote(report.hardState)}, commit ${report.hardState.commit}`,
    `  members     ${members || 'none recorded'}`,
    `  log         ${describeLog(report.log)}`,
    `  checksums   ${describeChecksums(report)}`,
    `  manifest    ${report.manifestNewestSegment === null ? 'none' : `newest segment ${report.manifestNewestSegment}`}`,
    '',
    `Segments: ${report.segments.length}, ${formatBytes(report.segments.reduce((sum, segment) => sum + segment.bytes, 0))}`,
    ...report.segments.map(describeSegment),
    '',
    `Snapshots: ${report.snapshots.length}`,
    ...report.snapshots.map(describeSnapshot)
  ]
  if (report.otherFiles.length > 0) lines.push('', `Other files: ${report.otherFiles.join(', ')}`)
  lines.push('', report.problems.length === 0 ? 'Problems: none' : `Problems: ${report.problems.length}`)
  lines.push(...report.problems.map((problem) => '  ' + describeProblem(problem)))
  return lines
}

module.exports = { formatBytes, plural, describeProblem, describeLog, describeChecksums, describeReport }
