// A damaged log never makes a node disagree with its cluster. A 3-node durable cluster writes (small segments,
// so several of them), is closed, and one node's segment file is damaged: cut at an offset, or a byte flipped.
// Started again, that node either refuses (its `ready()` rejects with an Error naming the file and the offset,
// and it stops) or starts, rejoins, and ends with a log identical to the others', which still hold everything committed. A cut
// of the newest segment after its opening frame is what a crash leaves: that node must start (reporting the torn
// tail it cut off).
// Damage anywhere but the tail must be refused.
//
// Seeded: `DAMAGE_SEED=<n>` replays the random cases, `DAMAGE_CASES=<n>` runs more (default 10).
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { gaggle, FAST, uniqueName, waitFor, trackNodes, stableLeader, rejection } from './gaggle-support.mjs'

const SEED = process.env.DAMAGE_SEED !== undefined ? Number(process.env.DAMAGE_SEED) : Math.floor(Math.random() * 2 ** 32)
const CASES = Number(process.env.DAMAGE_CASES ?? 10)
const IDS = ['a', 'b', 'c']
const SEGMENT_BYTES = 4096
const WITHIN = { timeout: 30_000 }
const ROOT = fileURLToPath(new URL('..', import.meta.url))

let base
let pristine // the closed cluster's data directories, never damaged
let written // the log every node held when the cluster closed

function startNode (dataDir, id, namespace) {
  return gaggle({ id, channel: { name: 'memory', namespace }, clusterSize: 3, ...FAST, dataDir: path.join(dataDir, id), segmentBytes: SEGMENT_BYTES })
}

// Waits until the nodes hold one log, all of it committed, and returns it.
async function converged (nodes, what) {
  return waitFor(() => {
    const logs = nodes.map((node) => JSON.stringify(node.getLog()))
    const same = logs.every((log) => log === logs[0])
    const committed = nodes.every((node) => node.getCommitIndex() === node.getLog().length - 1)
    return same && committed && nodes[0].getLog()
  }, 10_000, `one committed log on ${what}`)
}

before(async () => {
  base = mkdtempSync(path.join(tmpdir(), 'flotilla-damage-'))
  pristine = path.join(base, 'pristine')
  const namespace = uniqueName('damage')
  const nodes = IDS.map((id) => startNode(pristine, id, namespace))
  try {
    await stableLeader(nodes, 10_000)
    // Payloads of varied sizes, from every node, in a few bursts: several segments per node.
    for (let burst = 0; burst < 4; burst++) {
      await Promise.all(Array.from({ length: 60 }, (_, i) => nodes[i % 3].append({ burst, i, pad: 'x'.repeat((i * 37) % 200) })))
    }
    written = await converged(nodes, 'the pristine cluster')
  } finally {
    await Promise.all(nodes.map((node) => node.close()))
  }
  assert.equal(written.length, 240)
})

after(() => rmSync(base, { recursive: true, force: true }))

function segmentsOf (dataDir, id) {
  const dir = path.join(dataDir, id)
  return readdirSync(dir).filter((name) => name.endsWith('.wal')).sort().map((name) => path.join(dir, name))
}

// Where the records of an undamaged segment start and end: [start, end) each.
function framesOf (bytes) {
  const frames = []
  // The newest segment's file runs on past its records with zeros (written ahead of them): a zero length ends them.
  for (let at = 0; at + 4 <= bytes.length && bytes.readUInt32LE(at) !== 0;) {
    const end = at + 8 + bytes.readUInt32LE(at)
    frames.push([at, end])
    at = end
  }
  return frames
}

// mulberry32
function seeded (seed) {
  let state = seed >>> 0
  return (n) => {
    state = (state + 0x6d2b79f5) >>> 0
    let z = state
    z = Math.imul(z ^ (z >>> 15), z | 1)
    z ^= z + Math.imul(z ^ (z >>> 7), z | 61)
    return Math.floor((((z ^ (z >>> 14)) >>> 0) / 4294967296) * n)
  }
}

// A damage: {id, segment (position), kind: 'cut' | 'flip', offset, mask?}; `must` is 'start', 'refuse' or 'either'.
function expectation (damage) {
  const segments = segmentsOf(pristine, damage.id)
  const newest = damage.segment === segments.length - 1
  const frames = framesOf(readFileSync(segments[damage.segment]))
  // The newest segment's opening frame is durable once MANIFEST names the segment, as it does here: a cut
  // inside it is not a crash's.
  if (damage.kind === 'cut') return newest && damage.offset >= frames[0][1] ? 'start' : 'refuse'
  return newest && damage.offset >= frames[frames.length - 1][0] ? 'either' : 'refuse'
}

function pinnedCases () {
  const cases = []
  const segments = segmentsOf(pristine, 'b')
  const newest = segments.length - 1
  const newestFrames = framesOf(readFileSync(segments[newest]))
  const [lastStart, lastEnd] = newestFrames[newestFrames.length - 1]
  const olderFrames = framesOf(readFileSync(segments[1]))
  cases.push({ id: 'b', segment: newest, kind: 'cut', offset: lastEnd - 3, why: 'a torn last record' })
  cases.push({ id: 'b', segment: newest, kind: 'cut', offset: newestFrames[1][0] + 5, why: 'the newest segment torn early' })
  cases.push({ id: 'b', segment: newest, kind: 'flip', offset: lastStart + 12, mask: 0x20, why: 'a flip in the last record' })
  cases.push({ id: 'b', segment: newest, kind: 'flip', offset: newestFrames[0][0] + 3, mask: 0x01, why: 'a length before the last record' })
  // (A frame holds all the records of one write: a segment may hold only its header and one or two of them.)
  const olderFrame = olderFrames[Math.min(2, olderFrames.length - 1)]
  cases.push({ id: 'b', segment: 1, kind: 'flip', offset: olderFrame[0] + 20, mask: 0x80, why: 'a flip in an older segment' })
  cases.push({ id: 'b', segment: 1, kind: 'cut', offset: olderFrames[olderFrames.length - 1][0], why: 'an older segment cut at a record boundary' })
  cases.push({ id: 'b', segment: newest, kind: 'cut', offset: 5, why: 'the newest segment cut inside its opening frame, which MANIFEST says is durable' })
  return cases
}

function randomCases () {
  const random = seeded(SEED)
  return Array.from({ length: CASES }, () => {
    const id = IDS[random(3)]
    const segments = segmentsOf(pristine, id)
    const segment = random(2) === 0 ? segments.length - 1 : random(segments.length)
    const length = readFileSync(segments[segment]).length
    return random(2) === 0
      ? { id, segment, kind: 'cut', offset: random(length), why: `seed ${SEED}` }
      : { id, segment, kind: 'flip', offset: random(length), mask: 1 + random(255), why: `seed ${SEED}` }
  })
}

function damage (dataDir, { id, segment, kind, offset, mask }) {
  const file = segmentsOf(dataDir, id)[segment]
  if (kind === 'cut') {
    truncateSync(file, offset)
  } else {
    const bytes = readFileSync(file)
    bytes[offset] ^= mask
    writeFileSync(file, bytes)
  }
  return file
}

async function checkDamage (t, damage_) {
  const must = expectation(damage_)
  const dataDir = mkdtempSync(path.join(base, 'case-'))
  t.after(() => rmSync(dataDir, { recursive: true, force: true }))
  cpSync(pristine, dataDir, { recursive: true })
  const file = damage(dataDir, damage_)
  const namespace = uniqueName('damaged')
  const track = trackNodes(t)
  const others = IDS.filter((id) => id !== damage_.id).map((id) => track(startNode(dataDir, id, namespace)))
  let damaged = track(startNode(dataDir, damage_.id, namespace))
  try {
    await damaged.ready()
  } catch (error) {
    damaged = null
    assert.ok(error instanceof Error)
    assert.notEqual(must, 'start', `a crash can leave this damage, the node must start: ${error.message}`)
    assert.ok(error.message.includes(file), `the error names the damaged file ${file}: ${error.message}`)
    assert.match(error.message, /at offset \d+/, 'the error names the offset')
    const offset = Number(/at offset (\d+)/.exec(error.message)[1])
    assert.ok(offset <= damage_.offset, `offset ${offset} is at or before the damage at ${damage_.offset}: ${error.message}`)
  }
  if (damaged === null) {
    // The two others go on without it.
    await others[0].append('after the damage')
    const log = await converged(others, 'the two undamaged nodes')
    assert.deepEqual(log.slice(0, written.length), written)
    return 'refused'
  }
  assert.notEqual(must, 'refuse', `the damage is not at the tail: the node must refuse to start, it started with ${damaged.getLog().length} entries`)
  const recovered = damaged.getLog()
  // What it recovered is a prefix of what was written, never anything else.
  assert.deepEqual(recovered, written.slice(0, recovered.length), 'the damaged node recovered a prefix of the log')
  const torn = damaged.status().recoveredTornTail
  if (torn !== null) assert.match(torn, new RegExp(`${path.basename(file)} at offset \\d+$`))
  const nodes = [...others, damaged]
  await Promise.all(nodes.map((node) => node.append(`after the damage, from ${node.id}`)))
  const log = await converged(nodes, 'the cluster with the damaged node')
  assert.deepEqual(log.slice(0, written.length), written, 'nothing committed is lost')
  assert.equal(log.length, written.length + 3)
  return 'started'
}

test('damaged segments: the pinned cases', WITHIN, async (t) => {
  const outcomes = []
  for (const damage_ of pinnedCases()) {
    await t.test(`${damage_.why}: ${damage_.kind} at ${damage_.offset} of segment ${damage_.segment + 1} of ${damage_.id}`, async (t) => {
      outcomes.push(await checkDamage(t, damage_))
    })
  }
  assert.deepEqual(outcomes.slice(0, 2), ['started', 'started'])
  assert.deepEqual(outcomes.slice(3), ['refused', 'refused', 'refused', 'refused'])
})

test(`damaged segments: ${CASES} random cuts and flips (seed ${SEED}, replay with DAMAGE_SEED=${SEED})`, { timeout: 30_000 + CASES * 3000 }, async (t) => {
  for (const damage_ of randomCases()) {
    const name = `${damage_.kind} at ${damage_.offset}${damage_.mask ? ` (xor ${damage_.mask})` : ''} of segment ${damage_.segment + 1} of ${damage_.id} (seed ${SEED})`
    await t.test(name, async (t) => { await checkDamage(t, damage_) })
  }
})

test('a data directory open in one node refuses a second node, and is free again once it closed', WITHIN, async (t) => {
  const dataDir = mkdtempSync(path.join(base, 'lock-'))
  t.after(() => rmSync(dataDir, { recursive: true, force: true }))
  const namespace = uniqueName('lock')
  const first = startNode(dataDir, 'a', namespace)
  let closed = false
  t.after(() => closed || first.close())
  await first.ready()
  const second = startNode(dataDir, 'a', namespace)
  const refused = await rejection(second.ready())
  assert.ok(refused.message.includes(path.join(dataDir, 'a', 'LOCK')), refused.message)
  assert.match(refused.message, /in use/)
  // A node that cannot start has stopped: its appends reject with the same reason.
  assert.equal((await rejection(second.append('x'))).message, refused.message)
  await second.close()
  // close() resolves once the data directory is free again: it opens at once.
  await first.close()
  closed = true
  const again = startNode(dataDir, 'a', namespace)
  await again.ready()
  await again.close()
})

// CRC32C (Castagnoli), bit-reflected, as the write-ahead log checksums its frames when a segment has no salt.
const CRC32C_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n
  for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1
  return c >>> 0
})
function crc32c (bytes) {
  let c = 0xffffffff
  for (const byte of bytes) c = CRC32C_TABLE[(c ^ byte) & 0xff] ^ (c >>> 8)
  return (c ^ 0xffffffff) >>> 0
}

// What a hostile client can send without knowing anything of the node: a whole log frame (a compaction record,
// checksummed plainly) whose every byte is below 0x80, so that a request id made of those characters holds exactly
// those bytes.
function forgedFrameAsText () {
  for (let index = 1; ; index++) {
    const payload = Buffer.alloc(17)
    payload[0] = 4 // a compaction record: index and term
    payload.writeBigUInt64LE(BigInt(index), 1)
    payload.writeBigUInt64LE(1n, 9)
    const header = Buffer.alloc(8)
    header.writeUInt32LE(payload.length, 0)
    header.writeUInt32LE(crc32c(payload), 4)
    const frame = Buffer.concat([header, payload])
    if (frame.every((byte) => byte < 0x80)) return frame.toString('latin1')
  }
}

test('a torn write whose request id holds a whole log frame is cut at restart, not refused as damage', WITHIN, async (t) => {
  assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283, 'the checksum is CRC32C')
  const dataDir = mkdtempSync(path.join(base, 'forged-'))
  t.after(() => rmSync(dataDir, { recursive: true, force: true }))
  const namespace = uniqueName('forged')
  const start = () => gaggle({ id: 'a', channel: { name: 'memory', namespace }, clusterSize: 1, ...FAST, dataDir: path.join(dataDir, 'a') })
  const node = start()
  await node.ready()
  for (let i = 0; i < 5; i++) await node.append({ i })
  const forged = forgedFrameAsText()
  await node.append({ hostile: true }, { requestId: forged })
  await node.close()
  // A crash tore that write: its last bytes never reached the disk, and nothing came after it.
  const newest = segmentsOf(dataDir, 'a').at(-1)
  const bytes = readFileSync(newest)
  const forgedAt = bytes.indexOf(Buffer.from(forged, 'latin1'))
  assert.ok(forgedAt > 0, 'the request id is in the log as it was sent')
  const [tornStart, tornEnd] = framesOf(bytes).find(([start, end]) => start < forgedAt && forgedAt < end)
  truncateSync(newest, tornEnd - 2)
  const reopened = start()
  t.after(() => reopened.close())
  await reopened.ready()
  assert.equal(reopened.status().recoveredTornTail, `${newest} at offset ${tornStart}`)
  assert.deepEqual(reopened.getLog().filter((entry) => entry.data?.i !== undefined).map((entry) => entry.data.i), [0, 1, 2, 3, 4])
  assert.ok(!reopened.getLog().some((entry) => entry.data?.hostile), 'the torn write is gone')
})

// A node in another process, on `dataDir`: resolves with 'ready', or with the reason it refused to start.
function nodeInAnotherProcess (dataDir) {
  const script = `
    const node = require(${JSON.stringify(ROOT)})({ id: 'a', channel: { name: 'memory', namespace: 'lock' }, clusterSize: 1, dataDir: ${JSON.stringify(dataDir)} })
    node.ready().then(() => process.send('ready'), (error) => process.send(error.message))`
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
  const answer = new Promise((resolve, reject) => {
    child.once('message', resolve)
    child.once('exit', (code) => reject(new Error(`the node process exited (${code}) before it answered`)))
  })
  return { child, answer }
}

test('deleting LOCK does not let a second process open a data directory in use', WITHIN, async (t) => {
  const dataDir = path.join(mkdtempSync(path.join(base, 'lock-deleted-')), 'a')
  const first = nodeInAnotherProcess(dataDir)
  t.after(() => first.child.kill('SIGKILL'))
  assert.equal(await first.answer, 'ready')
  rmSync(path.join(dataDir, 'LOCK'))
  const second = nodeInAnotherProcess(dataDir)
  t.after(() => second.child.kill('SIGKILL'))
  const refused = await second.answer
  assert.match(refused, /in use/)
  assert.ok(refused.includes(dataDir), refused)
})
