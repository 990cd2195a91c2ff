// The offline command line: `flotilla inspect` and `flotilla verify` on data directories written by real durable
// gaggle nodes (with and without snapshots), run as a user runs them (node bin/flotilla.js, in a child process).
// Sound directories report the log that was written, and --entries gives back what was appended; damaged ones
// (a flipped byte, a cut segment, a deleted snapshot) make verify exit 1 naming the file and offset; usage errors
// exit 2 with one clear line, never a stack trace.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { gaggle, FAST, uniqueName, waitFor } from './gaggle-support.mjs'

const BIN = fileURLToPath(new URL('../bin/flotilla.js', import.meta.url))
const SEGMENT_BYTES = 4096
const COUNT = 150
const WITHIN = { timeout: 60_000 }

let base
let plainDir // a log of COUNT appends, several segments, no snapshot
let snapshotDir // the same appends with snapshots every 40 entries: compacted
const appended = Array.from({ length: COUNT }, (_, n) => ({ n, text: `entry ${n} é ✓`, nested: { even: n % 2 === 0 } }))

async function writeDataDir (dataDir, snapshot) {
  let applied = 0
  const node = gaggle({
    id: 'solo',
    clusterSize: 1,
    channel: { name: 'memory', namespace: uniqueName('cli') },
    ...FAST,
    dataDir,
    segmentBytes: SEGMENT_BYTES,
    ...(snapshot ? { snapshot: { threshold: 40, save: () => ({ applied }), restore: () => {} } } : {})
  })
  node.on('committed', () => { applied++ })
  await node.ready()
  await waitFor(() => node.isLeader(), 5000, 'the solo node to lead')
  for (const data of appended) await node.append(data)
  await node.close()
}

before(async () => {
  base = mkdtempSync(path.join(tmpdir(), 'flotilla-cli-'))
  plainDir = path.join(base, 'plain')
  snapshotDir = path.join(base, 'snapshot')
  await writeDataDir(plainDir, false)
  await writeDataDir(snapshotDir, true)
})

after(() => rmSync(base, { recursive: true, force: true }))

function flotilla (...args) {
  const result = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' })
  assert.doesNotMatch(result.stderr, /^\s+at /m, 'no stack trace')
  return { status: result.status, stdout: result.stdout, stderr: result.stderr }
}

function inspectJson (dir) {
  const { status, stdout } = flotilla('inspect', dir, '--json')
  return { status, report: JSON.parse(stdout) }
}

// A copy of a pristine directory to damage.
function copyOf (dir, name) {
  const copy = path.join(base, `${name}-${Math.random().toString(36).slice(2)}`)
  cpSync(dir, copy, { recursive: true })
  return copy
}

function segments (dir) {
  return readdirSync(dir).filter((name) => name.endsWith('.wal')).sort()
}

// Where each record of a sound segment starts: a record is its length (u32 LE), its checksum, then the payload.
// The newest segment's file runs on past its records with zeros (written ahead of them): a zero length ends them.
function recordStarts (bytes) {
  const starts = []
  for (let at = 0; at + 4 <= bytes.length && bytes.readUInt32LE(at) !== 0; at += 8 + bytes.readUInt32LE(at)) starts.push(at)
  return starts
}

// Where a sound segment's records end.
function recordsEnd (bytes) {
  const starts = recordStarts(bytes)
  const last = starts[starts.length - 1]
  return last + 8 + bytes.readUInt32LE(last)
}

function entryLines (stdout) {
  return stdout.split('\n').filter((line) => line !== '').map((line) => JSON.parse(line))
}

test('inspect --json reports the log a durable node wrote', WITHIN, () => {
  const { status, report } = inspectJson(plainDir)
  assert.equal(status, 0)
  assert.equal(report.sound, true)
  assert.deepEqual(report.problems, [])
  assert.equal(report.dir, plainDir)
  assert.deepEqual(report.members.map((member) => member.name), ['solo'])
  assert.equal(report.hardState.voteName, 'solo')
  assert.ok(report.hardState.term >= 1)
  // The appends, after the leader's first (empty) entry of its term.
  assert.equal(report.log.firstIndex, 1)
  assert.equal(report.log.lastIndex, COUNT + report.hardState.term)
  assert.equal(report.log.entries, report.log.lastIndex)
  assert.equal(report.log.lastTerm, report.hardState.term)
  assert.ok(report.hardState.commit >= COUNT && report.hardState.commit <= report.log.lastIndex, `commit ${report.hardState.commit}`)
  assert.deepEqual(report.segments.map((segment) => segment.file), segments(plainDir))
  assert.ok(report.segments.length > 2, `${report.segments.length} segments`)
  for (const [i, segment] of report.segments.entries()) {
    assert.equal(segment.bytes, statSync(path.join(plainDir, segment.file)).size)
    // Only the newest segment's file may be longer than what was written to it: zeros ahead of its records.
    if (i < report.segments.length - 1) assert.equal(segment.writtenBytes, segment.bytes, JSON.stringify(segment))
    else assert.ok(segment.writtenBytes > 0 && segment.writtenBytes <= segment.bytes, JSON.stringify(segment))
    // A frame holds one record, or all the records of one write (the records of a segment's header, say).
    const frames = recordStarts(readFileSync(path.join(plainDir, segment.file))).length
    assert.ok(segment.records > frames, `${segment.records} records in ${frames} frames`)
  }
  assert.equal(report.checksumsVerified, report.segments.reduce((sum, segment) => sum + segment.records, 0))
  assert.deepEqual(report.snapshots, [])

  const human = flotilla('inspect', plainDir)
  assert.equal(human.status, 0)
  assert.match(human.stdout, /: sound\n/)
  assert.match(human.stdout, new RegExp(`log {9}indices 1 to ${report.log.lastIndex} \\(${report.log.entries} entries`))
  assert.match(human.stdout, /Problems: none/)
  // A segment's line says what was written, and the file's size when that is more.
  for (const segment of report.segments) {
    const line = human.stdout.split('\n').find((text) => text.includes(segment.file))
    assert.equal(/ written \(file /.test(line), segment.writtenBytes < segment.bytes, line)
  }
})

test('inspect --entries gives back what was appended, as JSON lines', WITHIN, () => {
  const { status, stdout, stderr } = flotilla('inspect', plainDir, '--entries')
  assert.equal(status, 0, stderr)
  const entries = entryLines(stdout)
  assert.deepEqual(entries.map((entry) => entry.index), entries.map((_, i) => i + 1), 'every index, in order')
  const normal = entries.filter((entry) => entry.kind === 'normal')
  assert.deepEqual(normal.map((entry) => entry.data), appended)
  assert.ok(normal.every((entry) => entry.id.startsWith('solo_')))
  assert.deepEqual(entries.filter((entry) => entry.kind !== 'normal').map((entry) => [entry.kind, entry.data]), [['noop', null]])

  const from = flotilla('inspect', plainDir, '--entries', '--from', '100')
  assert.equal(from.status, 0)
  assert.deepEqual(entryLines(from.stdout), entries.slice(99))
})

test('a compacted log reports its snapshot, and its entries start after it', WITHIN, () => {
  const { status, report } = inspectJson(snapshotDir)
  assert.equal(status, 0)
  assert.equal(report.sound, true, JSON.stringify(report.problems))
  assert.equal(report.snapshots.length, 1)
  const [snapshot] = report.snapshots
  assert.equal(snapshot.sound, true)
  assert.equal(snapshot.newest, true)
  assert.deepEqual(snapshot.voters.map((voter) => voter.name), ['solo'])
  assert.ok(snapshot.index >= 120, `a snapshot at ${snapshot.index}`)
  assert.equal(report.log.compactedIndex, snapshot.index)
  assert.equal(report.log.lastIndex, COUNT + report.hardState.term)
  assert.ok(!report.segments.some((segment) => segment.file === 'segment-0000000000000001.wal'), 'covered segments went')

  const entries = entryLines(flotilla('inspect', snapshotDir, '--entries').stdout)
  assert.equal(entries[0].index, snapshot.index + 1)
  assert.deepEqual(entries.map((entry) => entry.data), appended.slice(appended.length - entries.length))
  assert.equal(flotilla('verify', snapshotDir).status, 0)
})

test('verify says sound with exit status 0', WITHIN, () => {
  const { status, stdout } = flotilla('verify', plainDir)
  assert.equal(status, 0)
  assert.match(stdout, /^sound: /)
  const json = flotilla('verify', plainDir, '--json')
  assert.equal(json.status, 0)
  assert.deepEqual(JSON.parse(json.stdout).problems, [])
})

test('a flipped byte in an older segment: verify exits 1 naming the file and the offset of its record', WITHIN, () => {
  const dir = copyOf(plainDir, 'flipped')
  const [first] = segments(dir)
  const file = path.join(dir, first)
  const bytes = readFileSync(file)
  const starts = recordStarts(bytes)
  bytes[starts[10] + 12] ^= 0x01
  writeFileSync(file, bytes)

  const { status, stdout } = flotilla('verify', dir)
  assert.equal(status, 1)
  assert.match(stdout, /^DAMAGED: /)
  assert.ok(stdout.includes(`${first} at offset ${starts[10]}: a record fails its checksum`), stdout)
  const json = JSON.parse(flotilla('verify', dir, '--json').stdout)
  assert.equal(json.sound, false)
  assert.deepEqual([json.problems[0].severity, json.problems[0].file, json.problems[0].offset], ['damage', first, starts[10]])

  // inspect says so too (exit 1), and still gives the entries before the damage.
  const inspected = flotilla('inspect', dir, '--entries')
  assert.equal(inspected.status, 1)
  assert.ok(inspected.stderr.includes(`${first} at offset ${starts[10]}`), inspected.stderr)
  const entries = entryLines(inspected.stdout)
  assert.ok(entries.length > 0 && entries.length < 10, `${entries.length} entries before the damage`)
  assert.deepEqual(entries.filter((entry) => entry.kind === 'normal').map((entry) => entry.data), appended.slice(0, entries.length - 1))
})

test('a cut older segment and a deleted snapshot make verify exit 1', WITHIN, () => {
  const cut = copyOf(plainDir, 'cut')
  const [first] = segments(cut)
  const file = path.join(cut, first)
  const starts = recordStarts(readFileSync(file))
  truncateSync(file, statSync(file).size - 5)
  const { status, stdout } = flotilla('verify', cut)
  assert.equal(status, 1)
  assert.ok(stdout.includes(`${first} at offset ${starts[starts.length - 1]}: a record is cut short`), stdout)

  const noSnapshot = copyOf(snapshotDir, 'no-snapshot')
  for (const name of readdirSync(noSnapshot).filter((name) => name.endsWith('.snap'))) rmSync(path.join(noSnapshot, name))
  const deleted = flotilla('verify', noSnapshot)
  assert.equal(deleted.status, 1)
  assert.match(deleted.stdout, /the log was compacted up to index \d+ but the newest snapshot covers only 0/)
})

test('a torn tail and foreign files are notices: verify exits 0, and nothing is changed', WITHIN, () => {
  const dir = copyOf(plainDir, 'torn')
  const newest = segments(dir).pop()
  const file = path.join(dir, newest)
  truncateSync(file, recordsEnd(readFileSync(file)) - 3)
  writeFileSync(path.join(dir, 'notes.txt'), 'mine')
  const before = readdirSync(dir).map((name) => [name, readFileSync(path.join(dir, name)).toString('base64')])
  const { status, report } = inspectJson(dir)
  assert.equal(status, 0)
  assert.equal(report.sound, true)
  assert.deepEqual(report.problems.map((problem) => [problem.severity, problem.file]), [['notice', 'notes.txt'], ['notice', newest]])
  assert.deepEqual(report.otherFiles, ['notes.txt'])
  assert.equal(report.segments.at(-1).tornAt, report.problems[1].offset)
  const verified = flotilla('verify', dir)
  assert.equal(verified.status, 0)
  assert.match(verified.stdout, /notice {2}segment-\d+\.wal at offset \d+: a torn write/)
  const afterwards = readdirSync(dir).map((name) => [name, readFileSync(path.join(dir, name)).toString('base64')])
  assert.deepEqual(afterwards, before, 'read-only: nothing cut, nothing created')
})

test('--progress draws progress on stderr', WITHIN, () => {
  const { status, stderr } = flotilla('verify', plainDir, '--progress')
  assert.equal(status, 0)
  assert.match(stderr, /flotilla: scanned the log: /)
  assert.equal(flotilla('verify', plainDir).stderr, '', 'not a terminal, not asked for: no progress')
})

test('--help for flotilla and for each command', WITHIN, () => {
  for (const args of [['--help'], ['help'], ['-h']]) {
    const { status, stdout } = flotilla(...args)
    assert.equal(status, 0)
    assert.match(stdout, /Usage: flotilla COMMAND/)
    assert.match(stdout, /inspect .*\n.*verify /)
    for (const command of ['serve', 'status', 'members', 'transfer', 'append', 'tail', 'read']) {
      assert.match(stdout, new RegExp(`\\n  ${command} +\\S`), command)
    }
  }
  for (const command of ['inspect', 'verify']) {
    for (const args of [[command, '--help'], [command, '-h'], ['help', command]]) {
      const { status, stdout } = flotilla(...args)
      assert.equal(status, 0)
      assert.match(stdout, new RegExp(`^Usage: flotilla ${command} DIR`))
      assert.match(stdout, /Exit status: 0 sound, 1 damaged/)
    }
  }
})

test('usage errors exit 2 with a clear message', WITHIN, () => {
  const notADir = path.join(base, 'a-file')
  writeFileSync(notADir, 'x')
  const emptyDir = mkdtempSync(path.join(base, 'empty-'))
  const cases = [
    [['verify', notADir], /flotilla verify: .*a-file: not a directory/],
    [['inspect', path.join(base, 'missing')], /flotilla inspect: .*missing: no such directory/],
    [['verify', emptyDir], /not a flotilla data directory/],
    [['verify'], /give one data directory/],
    [['inspect', plainDir, '--bogus'], /Unknown option '--bogus'/],
    [['inspect', plainDir, '--entries', '--from', 'x'], /--from must be a log index/],
    [['frobnicate'], /unknown command 'frobnicate'[\s\S]*inspect[\s\S]*verify/],
    [['serve'], /give --peers \(a new cluster\) or --join/],
    [['serve', '--peers', 'b=127.0.0.1:1'], /--listen is required/],
    [['status'], /give the address of a node/],
    [['status', '127.0.0.1:1', 'extra'], /unexpected argument 'extra'/],
    [[], /Usage: flotilla COMMAND/]
  ]
  for (const [args, message] of cases) {
    const { status, stdout, stderr } = flotilla(...args)
    assert.equal(status, 2, `${args.join(' ')}: ${stderr}`)
    assert.match(stderr, message, args.join(' '))
    assert.equal(stdout, '', args.join(' '))
  }
})
