// flotilla/client against three `flotilla serve` processes. Proves that: an append retried with the same
// requestId commits once, whether the calls run concurrently or the retry follows a SIGKILL of the leader that
// held the entry uncommitted; the client follows the leader when it is SIGKILLed, appends keep succeeding and
// every acknowledged append is in the log exactly once, at its index; an entries() stream without `to` keeps
// yielding across the kill with no gap and no duplicate; a TLS cluster serves a client whose certificate (of
// the cluster's CA) names it, and refuses (FLOTILLA_UNAVAILABLE) one of another CA; and hostile input on a
// NativeClient (2,000+ bad frames) crashes nothing: requests with a usable id get {id, error: {code, message}}
// with the right code, frames without one are counted in status().clients.refused, the per-client limit of
// requests holds, and the cluster keeps committing.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { createRequire } from 'node:module'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { ServeProcess, serveCluster, certificateAuthority, flotilla, freePort, waitFor, hasOpenssl, STEP_MS } from './fixtures/serve-cluster.mjs'

const require = createRequire(import.meta.url)
const { Client } = require('../client.js')
const { NativeClient } = require('../lib/native')

const WITHIN = { timeout: 60_000 }
const IDS = ['n1', 'n2', 'n3']

let base
let secret
let nodes
const started = [] // every process started, killed after the tests
const clients = [] // every Client made, closed after the tests

const track = (node) => {
  started.push(node)
  return node
}

before(async () => {
  base = mkdtempSync(path.join(tmpdir(), 'flotilla-client-'))
  secret = randomBytes(24).toString('hex')
  const secretFile = path.join(base, 'secret')
  writeFileSync(secretFile, secret + '\n')
  nodes = await serveCluster(IDS, { base, security: ['--secret-file', secretFile], track })
})

after(async () => {
  for (const client of clients) client.close()
  await Promise.all(started.map((node) => node.kill()))
  rmSync(base, { recursive: true, force: true })
})

function newClient (addresses, options = {}) {
  const client = new Client({ addresses, secret, ...options })
  clients.push(client)
  return client
}

const byId = (id) => nodes.find((node) => node.id === id)

// A client that asks the node at `address` first (its status is that node's while it answers).
const onNode = new Map()
function clientOn (address) {
  if (!onNode.has(address)) onNode.set(address, newClient([address]))
  return onNode.get(address)
}

async function collect (iterable) {
  const items = []
  for await (const item of iterable) items.push(item)
  return items
}

async function rejection (promise) {
  try {
    await promise
  } catch (error) {
    return error
  }
  assert.fail('expected a rejection')
}

// The leader every running member names, once they agree.
async function agreedLeader () {
  return waitFor(async () => {
    const views = await Promise.all(nodes.filter((node) => node.alive).map((node) => clientOn(node.address).status()))
    const leaders = new Set(views.map((view) => view.status?.leader ?? null))
    const [leader] = leaders
    return leaders.size === 1 && leader !== null && views.some((view) => view.id === leader && view.status.state === 'LEADER') ? leader : null
  }, STEP_MS, 'a leader every running member names')
}

// A killed member started again on its data directory, back in the cluster with everything up to `index`.
async function restart (node, index) {
  await node.start()
  const client = clientOn(node.address)
  await waitFor(async () => {
    const view = await client.status()
    return view.id === node.id && view.status !== null && view.status.leader !== null && view.status.commitIndex >= index
  }, STEP_MS, `${node.id} to be back with index ${index}`)
}

test('an append retried with the same requestId, concurrently and through other nodes, commits once', WITHIN, async () => {
  await agreedLeader()
  const client = newClient([nodes[0].address])
  const other = newClient([nodes[2].address])
  const [a, b] = await Promise.all([
    client.append({ twice: 1 }, { requestId: 'twice' }),
    client.append({ twice: 1 }, { requestId: 'twice' })
  ])
  assert.equal(a, b)
  assert.equal(await other.append({ twice: 1 }, { requestId: 'twice' }), a)
  const many = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? client : other).append({ ten: true }, { requestId: 'ten-times' })))
  assert.equal(new Set(many).size, 1, `one index: ${many}`)
  assert.notEqual(many[0], a)
  // Another request id with the same data is another entry.
  const distinct = await client.append({ twice: 1 }, { requestId: 'not-twice' })
  assert.ok(distinct > Math.max(a, many[0]))

  const entries = await collect(other.entries({ from: 0, to: distinct }))
  assert.deepEqual(entries.map((entry) => entry.index), Array.from({ length: distinct + 1 }, (_, i) => i))
  assert.equal(entries.filter((entry) => entry.data?.twice === 1).length, 2, 'twice and not-twice')
  assert.equal(entries.filter((entry) => entry.data?.ten === true).length, 1)
  assert.deepEqual(entries[a].data, { twice: 1 })
  assert.deepEqual(entries[many[0]].data, { ten: true })
})

test('the leader SIGKILLed: the client follows the new leader, appends keep succeeding, none acknowledged is lost or doubled; a following entries() stream has no gap or duplicate', WITHIN, async (t) => {
  await agreedLeader()
  const client = newClient([nodes[0].address, nodes[1].address])
  const watcher = newClient([nodes[2].address])

  // A stream without `to`, on the leader (where the client streams from): it must go on elsewhere after the kill.
  const streamed = []
  let stopAt = Infinity
  let streamDone = false
  let streamError = null
  ;(async () => {
    try {
      for await (const entry of watcher.entries({ from: 0 })) {
        streamed.push(entry)
        if (entry.index >= stopAt) break
      }
    } catch (error) {
      streamError = error
    }
    streamDone = true
  })()

  let stop = false
  let seq = 0
  const acked = [] // {seq, index}
  const failures = []
  const appender = async () => {
    while (!stop) {
      const mine = seq++
      try {
        acked.push({ seq: mine, index: await client.append({ seq: mine }) })
      } catch (error) {
        failures.push(`${mine}: ${error.code} ${error.message}`)
      }
    }
  }
  const appenders = Array.from({ length: 4 }, appender)

  await waitFor(() => acked.length >= 40 && streamed.length >= 20, STEP_MS, 'appends before the kill')
  const leaderId = (await client.status({ leader: true })).id
  const leader = byId(leaderId)
  t.after(() => leader.alive ? undefined : leader.start()) // for the next tests, should this one fail
  await leader.kill()
  const atKill = acked.length
  const streamedAtKill = streamed.length
  await waitFor(() => acked.length >= atKill + 60, STEP_MS, 'appends after the kill')
  const newLeader = (await client.status({ leader: true })).id
  assert.notEqual(newLeader, leaderId, 'another node leads')
  stop = true
  await Promise.all(appenders)
  assert.deepEqual(failures, [], 'every append succeeded')

  // The stream stops at the first entry it yields at or past `end` from now on: `end` itself, or the next one when
  // it had yielded `end` already.
  const end = await client.append('end')
  stopAt = end
  await client.append('next')
  await waitFor(() => streamDone, STEP_MS, 'the stream to reach the end').catch((error) => {
    throw new Error(`${error.message}: streamed ${streamed.length}, last ${streamed.at(-1)?.index}, end ${end}`)
  })
  assert.equal(streamError, null, `the stream went on: ${streamError?.message}`)
  assert.ok(streamed.length > streamedAtKill, 'the stream yielded after the kill')
  const last = streamed.at(-1).index
  assert.ok(last === end || last === end + 1, `the stream stopped at ${last}`)
  assert.deepEqual(streamed.map((entry) => entry.index), Array.from({ length: last + 1 }, (_, i) => i), 'no gap, no duplicate')

  const log = await collect(newClient([nodes.find((node) => node.alive).address]).entries({ from: 0, to: last }))
  assert.deepEqual(streamed, log, 'the stream gave the log')
  const counts = new Map()
  for (const entry of log) if (Number.isSafeInteger(entry.data?.seq)) counts.set(entry.data.seq, (counts.get(entry.data.seq) ?? 0) + 1)
  for (const { seq: mine, index } of acked) {
    assert.deepEqual(log[index].data, { seq: mine }, `append ${mine} is at its index ${index}`)
    assert.equal(counts.get(mine), 1, `append ${mine} is in the log once`)
  }
  assert.ok([...counts.values()].every((count) => count === 1), 'no append twice')
  t.diagnostic(`${acked.length} appends acknowledged (${acked.length - atKill} after ${leaderId} was killed, ${newLeader} leads), ${log.length} entries`)

  await restart(leader, end)
})

test('an append whose leader is SIGKILLed while it holds the entry uncommitted, retried with its requestId, commits once', WITHIN, async (t) => {
  const leaderId = await agreedLeader()
  const leader = byId(leaderId)
  t.after(() => leader.alive ? undefined : leader.start()) // for the next tests, should this one fail
  const followers = nodes.filter((node) => node !== leader)
  const client = newClient(nodes.map((node) => node.address))
  const onLeader = newClient([leader.address])
  await client.append('before') // the client knows the leader
  const lastBefore = (await onLeader.status()).status.raftLastIndex

  // The followers stopped: the leader takes the entry and cannot commit it. Then it dies; the followers may have
  // the entry in their sockets' buffers, or not.
  let first
  try {
    for (const follower of followers) follower.child.kill('SIGSTOP')
    first = client.append({ retried: 'across a kill' }, { requestId: 'across-kill' }).then((index) => ({ index }), (error) => ({ error }))
    await waitFor(async () => (await onLeader.status()).status.raftLastIndex > lastBefore, 5000, 'the leader to take the entry')
    await leader.kill()
  } finally {
    for (const follower of followers) follower.child?.kill('SIGCONT')
  }
  const index = await client.append({ retried: 'across a kill' }, { requestId: 'across-kill' })
  const outcome = await first
  // The first call was retried by the client after the kill (the same entry), or failed saying the outcome is unknown.
  if (outcome.error === undefined) assert.equal(outcome.index, index)
  else assert.ok(['FLOTILLA_OUTCOME_UNKNOWN', 'FLOTILLA_NOT_COMMITTED'].includes(outcome.error.code), outcome.error.message)
  const log = await collect(client.entries({ from: 0, to: index }))
  assert.equal(log.filter((entry) => entry.data?.retried === 'across a kill').length, 1, 'one entry')
  t.diagnostic(`${leaderId} killed holding the entry; the first call ${outcome.error === undefined ? `resolved with ${outcome.index}` : `failed: ${outcome.error.code}`}, the retry ${index}`)
  assert.deepEqual(log[index].data, { retried: 'across a kill' })
  await restart(leader, index)
})

test('a TLS cluster serves a client whose certificate names it; a certificate of another CA, a wrong name or a secret gets FLOTILLA_UNAVAILABLE', { ...WITHIN, skip: !hasOpenssl && 'openssl is not installed' }, async () => {
  const dir = path.join(base, 'tls')
  mkdirSync(dir)
  const cluster = certificateAuthority(dir, 'cluster-ca')
  const other = certificateAuthority(dir, 'other-ca')
  const certificates = Object.fromEntries(IDS.map((id) => [id, cluster.issue(`t${id}`)]))
  const tlsNodes = await serveCluster(IDS.map((id) => `t${id}`), {
    base: dir,
    track,
    security: (id) => {
      const { certFile, keyFile, caFile } = certificates[id.slice(1)]
      return ['--tls-cert', certFile, '--tls-key', keyFile, '--tls-ca', caFile, '--cluster', 'tls-test']
    }
  })
  const seed = [tlsNodes[0].address]
  const mine = cluster.issue('app-client')
  const tlsClient = (tls, options = {}) => {
    const client = new Client({ addresses: seed, cluster: 'tls-test', name: 'app-client', tls, ...options })
    clients.push(client)
    return client
  }

  const good = tlsClient({ cert: mine.cert, key: mine.key, ca: mine.ca })
  const indices = []
  for (let i = 0; i < 5; i++) indices.push(await good.append({ over: 'tls', i }))
  assert.deepEqual(indices, [0, 1, 2, 3, 4])
  assert.ok(await good.read() >= 4)
  const entries = await collect(good.entries({ from: 0, to: 4 }))
  assert.deepEqual(entries.map((entry) => entry.data), indices.map((i) => ({ over: 'tls', i })))
  const members = await good.members()
  assert.deepEqual([...members.voters].sort(), tlsNodes.map((node) => node.id))
  // PEM as Buffers, as read from files, do as well.
  const buffers = tlsClient({ cert: Buffer.from(mine.cert), key: Buffer.from(mine.key), ca: Buffer.from(mine.ca) })
  assert.equal(await buffers.append('buffers'), 5)

  const refusedBefore = (await good.status()).status.transport.refusedTls
  const intruder = other.issue('app-client')
  const rejected = [
    // Of another CA (that trusts the cluster's CA, so only the node refuses).
    tlsClient({ cert: intruder.cert, key: intruder.key, ca: cluster.ca }, { timeout: 1500 }),
    // Of the cluster's CA, but not naming the client's name.
    tlsClient({ cert: mine.cert, key: mine.key, ca: mine.ca }, { name: 'someone-else', timeout: 1500 }),
    // A secret where the cluster wants TLS.
    new Client({ addresses: seed, cluster: 'tls-test', secret, timeout: 1500 })
  ]
  clients.push(rejected[2])
  const errors = await Promise.all(rejected.flatMap((client) => [rejection(client.status()), rejection(client.append({ must: 'not commit' }))]))
  for (const [i, error] of errors.entries()) assert.equal(error.code, 'FLOTILLA_UNAVAILABLE', `call ${i}: ${error.message}`)
  assert.ok((await good.status()).status.transport.refusedTls > refusedBefore, 'the node counted the refused certificate')
  const log = await collect(good.entries({ from: 0, to: 5 }))
  assert.ok(log.every((entry) => entry.data?.must === undefined), 'nothing of the refused clients committed')
  assert.equal(await good.append('after'), 6)

  // The CLI takes the same files.
  const cli = await flotilla('status', seed[0], '--cluster', 'tls-test', '--name', 'app-client', '--tls-cert', mine.certFile, '--tls-key', mine.keyFile, '--tls-ca', mine.caFile, '--json')
  assert.equal(cli.status, 0, cli.stderr)
  assert.equal(JSON.parse(cli.stdout).node.id, tlsNodes[0].id)
  const wrong = await flotilla('status', seed[0], '--cluster', 'tls-test', '--name', 'app-client', '--tls-cert', intruder.certFile, '--tls-key', intruder.keyFile, '--tls-ca', cluster.caFile, '--timeout', '800')
  assert.equal(wrong.status, 4, wrong.stderr)
  await Promise.all(tlsNodes.map((node) => node.kill()))
})

// ---- hostile input on a raw connection ----

// A NativeClient and what it heard: replies by id, frames that are not JSON objects with an id, its end.
async function rawClient (address, name = 'hostile') {
  const raw = { replies: new Map(), odd: [], ended: false, nextSync: 1 }
  raw.native = await NativeClient.connect({ cluster: 'flotilla', name, address, secret }, (text) => {
    if (text === null || text === undefined) {
      raw.ended = true
      return
    }
    let message
    try {
      message = JSON.parse(text)
    } catch {
      return raw.odd.push(text)
    }
    if (message === null || typeof message !== 'object' || !Number.isSafeInteger(message.id)) return raw.odd.push(text)
    const list = raw.replies.get(message.id) ?? []
    list.push(message)
    raw.replies.set(message.id, list)
  })
  raw.send = (frame) => assert.equal(raw.native.send(typeof frame === 'string' ? frame : JSON.stringify(frame)), true, 'the frame was queued')
  // Every frame sent before it has been served once the node answers this status request (one connection's frames
  // are served in order).
  raw.sync = async () => {
    const id = 9_000_000_000 + raw.nextSync++
    raw.send({ id, op: 'status' })
    await waitFor(() => raw.replies.has(id) || raw.ended, STEP_MS, 'the sync reply')
    assert.equal(raw.ended, false, `the connection is still open (${started.map((node) => `${node.id} ${node.alive ? 'runs' : 'is gone'} ${node.stderr}`).join('; ')})`)
    return raw.replies.get(id)[0].result
  }
  return raw
}

const INVALID = 'FLOTILLA_INVALID_ARGUMENT'
const UNKNOWN_MEMBER = 'FLOTILLA_UNKNOWN_MEMBER'
const TOO_MANY = 'FLOTILLA_TOO_MANY_PENDING'

// Frames without a usable id (not JSON, not an object, no id or a bad one, no op): no reply, counted as refused.
const NO_ID = [
  'not json', '{', '', ' ', '42', '-1', 'null', 'true', '"text"', '[]', '[1,2,3]', '{}', '\ud800', '{"id":1,"op":"status"',
  '{"op":"status"}', '{"id":null,"op":"status"}', '{"id":-1,"op":"status"}', '{"id":-7.5,"op":"status"}',
  '{"id":1.5,"op":"status"}', '{"id":"7","op":"status"}', '{"id":9007199254740992,"op":"status"}', '{"id":1e308,"op":"status"}',
  '{"id":[1],"op":"status"}', '{"id":{"n":1},"op":"status"}', '{"id":true,"op":"status"}', '{"id":5}', '{"id":6,"op":7}',
  '{"id":8,"op":null}', '{"id":9,"op":["status"]}', '{"id":10,"op":{"name":"status"}}'
]
const NO_ID_LARGE = ['x'.repeat(100_000), '['.repeat(50_000) + ']'.repeat(50_000), JSON.stringify({ op: 'append', data: 'y'.repeat(200_000) })]

// Requests with a usable id that the node refuses, with the code it must give.
const BAD = [
  [{ op: 'nope' }, INVALID], [{ op: '' }, INVALID], [{ op: 'STATUS' }, INVALID], [{ op: 'status ' }, INVALID],
  [{ op: '__proto__' }, INVALID], [{ op: 'constructor' }, INVALID], [{ op: 'toString' }, INVALID],
  [{ op: 'hasOwnProperty' }, INVALID], [{ op: 'valueOf' }, INVALID], [{ op: '__defineGetter__' }, INVALID],
  [{ op: 'entries', from: -1 }, INVALID], [{ op: 'entries', from: 'x' }, INVALID], [{ op: 'entries', from: 1.5 }, INVALID],
  [{ op: 'entries', from: 2 ** 53 }, INVALID], [{ op: 'entries', from: 1e300 }, INVALID], [{ op: 'entries', from: null }, INVALID],
  [{ op: 'entries', from: 5, to: 2 }, INVALID], [{ op: 'entries', from: 0, to: 'y' }, INVALID], [{ op: 'entries', to: -1 }, INVALID],
  [{ op: 'entries', from: 0, to: 2 ** 60 }, INVALID],
  [{ op: 'append', data: 1, requestId: 5 }, INVALID], [{ op: 'append', data: 1, requestId: '' }, INVALID],
  [{ op: 'append', data: 1, requestId: 'r'.repeat(300) }, INVALID], [{ op: 'append', data: 1, requestId: {} }, INVALID],
  [{ op: 'append', data: 1, timeout: 'soon' }, INVALID],
  [{ op: 'read', timeout: 'x' }, INVALID], [{ op: 'read', timeout: -5 }, INVALID],
  [{ op: 'add' }, INVALID], [{ op: 'add', member: 5 }, INVALID], [{ op: 'add', member: 'n9', learner: 'yes' }, INVALID],
  [{ op: 'add', member: 'n9', address: 'nowhere' }, INVALID],
  [{ op: 'promote', member: 'ghost' }, UNKNOWN_MEMBER], [{ op: 'remove', member: 'ghost' }, UNKNOWN_MEMBER],
  [{ op: 'remove', member: '' }, INVALID], [{ op: 'transfer', member: 42 }, INVALID], [{ op: 'transfer', member: 'ghost' }, UNKNOWN_MEMBER],
  [{ op: 'change', voters: 'x' }, INVALID], [{ op: 'change', voters: [] }, INVALID], [{ op: 'change' }, INVALID]
]

test('hostile frames: no crash, error replies with their codes, frames without a usable id counted as refused, the per-client limit holds, the cluster keeps committing', WITHIN, async (t) => {
  const leaderId = await agreedLeader()
  const target = byId(leaderId)
  const observer = newClient([target.address])
  const countersOf = async () => {
    const view = await observer.status()
    assert.equal(view.id, target.id)
    return view.status.clients
  }
  await observer.append('a first entry') // the log has entries 0 and 1 for the good stream below
  await observer.append('a second entry')
  const before = await countersOf()
  const raw = await rawClient(target.address)
  let sent = 0

  // Frames without a usable id, in batches (a client's queue holds 1,024 frames).
  let refusedSent = 0
  for (let batch = 0; batch < 8; batch++) {
    for (let i = 0; i < 100; i++) raw.send(NO_ID[(batch * 100 + i) % NO_ID.length])
    refusedSent += 100
    if (batch < NO_ID_LARGE.length) {
      raw.send(NO_ID_LARGE[batch])
      refusedSent++
    }
    await raw.sync()
  }
  sent += refusedSent
  assert.equal(raw.replies.size, 8, 'no reply but the syncs')
  assert.deepEqual(raw.odd, [])

  // Bad requests with a usable id, in batches of fewer than the 256 a client may have pending.
  const expected = new Map() // id -> code
  let id = 1
  for (let batch = 0; batch < 4; batch++) {
    for (let i = 0; i < 200; i++) {
      const [request, code] = BAD[(batch * 200 + i) % BAD.length]
      expected.set(id, code)
      raw.send({ ...request, id: id++ })
    }
    await raw.sync()
  }
  sent += expected.size
  await waitFor(() => [...expected.keys()].every((key) => raw.replies.has(key)), STEP_MS, 'a reply to every bad request')
  for (const [key, code] of expected) {
    const replies = raw.replies.get(key)
    assert.equal(replies.length, 1, `one reply to ${key}`)
    const [reply] = replies
    assert.deepEqual(Object.keys(reply).sort(), ['error', 'id'], JSON.stringify(reply))
    assert.equal(reply.error.code, code, `request ${key} (${JSON.stringify(BAD[(key - 1) % BAD.length][0]).slice(0, 80)}): ${reply.error.message}`)
    assert.equal(typeof reply.error.message, 'string')
    assert.ok(reply.error.message.length > 0)
  }

  // Acknowledgements and cancels of streams that do not exist: no reply at all.
  const streamless = []
  for (let i = 0; i < 300; i++) {
    streamless.push(id)
    raw.send({ id: id++, op: i % 2 === 0 ? 'ack' : 'cancel' })
  }
  sent += 300
  await raw.sync()

  // Entries streams: one far past the end of the log waits (no reply); the same id again is refused; a good one
  // gives its entries and ends; a window of nonsense is the default one.
  const far = id++
  raw.send({ id: far, op: 'entries', from: Number.MAX_SAFE_INTEGER })
  const farRange = id++
  raw.send({ id: farRange, op: 'entries', from: 10 ** 12, to: 10 ** 12 + 5 })
  const again = id++
  raw.send({ id: far, op: 'entries', from: 0 })
  raw.send({ id: again, op: 'entries', from: 0, to: 1, window: -5 })
  sent += 4
  await waitFor(() => raw.replies.get(again)?.some((message) => message.end), STEP_MS, 'the good stream to end')
  assert.deepEqual(raw.replies.get(again).flatMap((message) => message.entries ?? []).map((entry) => entry.index), [0, 1])
  assert.deepEqual(raw.replies.get(far), [{ id: far, error: { code: INVALID, message: `request ${far} is already a stream` } }])
  assert.equal(raw.replies.has(farRange), false)
  for (const key of streamless) assert.equal(raw.replies.has(key), false, `no reply to the ack/cancel ${key}`)

  // 300 reads at once on the leader: each answered, with the read index or the per-client limit.
  const reads = []
  for (let i = 0; i < 300; i++) {
    reads.push(id)
    raw.send({ id: id++, op: 'read' })
  }
  sent += 300
  await waitFor(() => reads.every((key) => raw.replies.has(key)), STEP_MS, 'a reply to every read')
  const readCodes = reads.map((key) => raw.replies.get(key)[0]).map((reply) => reply.error === undefined ? 'index' : reply.error.code)
  assert.ok(readCodes.every((code) => code === 'index' || code === TOO_MANY), [...new Set(readCodes)].join())
  assert.ok(reads.every((key) => raw.replies.get(key).length === 1))

  // The node counted the frames without a usable id, exactly, and served the rest.
  const afterCounters = await countersOf()
  assert.equal(afterCounters.refused - before.refused, refusedSent)
  assert.ok(afterCounters.requests - before.requests >= sent - refusedSent, JSON.stringify({ before, afterCounters }))
  assert.equal(raw.ended, false, 'the hostile client was served, not cut off')

  // Nothing crashed, and the cluster still commits.
  for (const node of nodes) assert.ok(node.alive, `${node.id} runs: ${node.stderr}`)
  const client = newClient(nodes.map((node) => node.address))
  const index = await client.append({ after: 'hostile' })
  assert.deepEqual((await collect(client.entries({ from: index, to: index })))[0].data, { after: 'hostile' })
  raw.native.close()
  await waitFor(() => raw.ended, STEP_MS, 'the connection to end')
  t.diagnostic(`${sent} hostile frames (${refusedSent} without a usable id); reads: ${readCodes.filter((code) => code === TOO_MANY).length} over the limit`)
})

// A node started with join, which no leader adds: its reads can never complete.
async function startJoiner (id) {
  const joiner = track(new ServeProcess({
    id,
    address: `127.0.0.1:${await freePort()}`,
    peers: { n1: byId('n1').address },
    join: true,
    dataDir: path.join(base, id),
    security: ['--secret-file', path.join(base, 'secret')]
  }))
  await joiner.start()
  return joiner
}

test('the per-client limit: 300 reads that cannot complete (a node that is no member yet): 256 wait, 44 are refused', WITHIN, async () => {
  const lonely = await startJoiner('lonely')
  const raw = await rawClient(lonely.address)
  const reads = Array.from({ length: 300 }, (_, i) => i + 1)
  for (const key of reads) raw.send({ id: key, op: 'read', timeout: 1000 })
  await waitFor(() => reads.every((key) => raw.replies.has(key)), STEP_MS, 'a reply to every read')
  const codes = {}
  for (const key of reads) {
    const [reply] = raw.replies.get(key)
    codes[reply.error?.code ?? 'index'] = (codes[reply.error?.code ?? 'index'] ?? 0) + 1
  }
  assert.deepEqual(codes, { FLOTILLA_TIMEOUT: 256, [TOO_MANY]: 44 })
  // Once they are over, the client may read again (and is refused by the timeout only).
  raw.send({ id: 1000, op: 'read', timeout: 10 })
  await waitFor(() => raw.replies.has(1000), STEP_MS, 'the last read')
  assert.equal(raw.replies.get(1000)[0].error.code, 'FLOTILLA_TIMEOUT')
  assert.ok(lonely.alive)
  raw.native.close()
  await lonely.kill()
})

test('entries streams cancelled while they wait past the end of the log free their place (at most 4 per client)', {
  ...WITHIN
}, async () => {
  const leaderId = await agreedLeader()
  const raw = await rawClient(byId(leaderId).address, 'streams')
  for (let key = 1; key <= 4; key++) raw.send({ id: key, op: 'entries', from: Number.MAX_SAFE_INTEGER })
  raw.send({ id: 9, op: 'entries', from: 0, to: 0 })
  await waitFor(() => raw.replies.has(9), STEP_MS, 'the fifth stream')
  assert.equal(raw.replies.get(9)[0].error.code, TOO_MANY, 'at most 4 streams at once')
  for (let key = 1; key <= 4; key++) raw.send({ id: key, op: 'cancel' })
  // Commits wake the waiting streams.
  const client = newClient(nodes.map((node) => node.address))
  await client.append('wake the streams')
  await client.append('wake them again')
  await raw.sync()
  raw.send({ id: 10, op: 'entries', from: 0, to: 0 })
  try {
    await waitFor(() => raw.replies.get(10)?.some((message) => message.end || message.error), STEP_MS, 'the stream after the cancels')
    assert.deepEqual(raw.replies.get(10).find((message) => message.error)?.error, undefined, 'a place is free again')
  } finally {
    raw.native.close()
  }
})

test('the client checks its own arguments at once (FLOTILLA_INVALID_ARGUMENT): timeout, name, cluster, port, data that is not JSON', WITHIN, async () => {
  const addresses = [nodes[0].address]
  const bad = [
    { timeout: 2 ** 31 }, { timeout: 3e9 }, { timeout: 0 }, { timeout: 1.5 },
    { name: '' }, { name: 'a'.repeat(300) }, { name: 7 }, { cluster: '' }, { cluster: 'c'.repeat(300) }
  ]
  for (const options of bad) {
    assert.throws(() => new Client({ addresses, secret, ...options }), { code: INVALID }, JSON.stringify(options))
  }
  assert.throws(() => new Client({ addresses: ['127.0.0.1:99999'], secret }), { code: INVALID }, 'a port above 65535')
  const client = newClient(addresses, { timeout: 2 ** 31 - 1 })
  const circular = {}
  circular.self = circular
  for (const data of [circular, 10n]) {
    await assert.rejects(client.append(data), { code: INVALID, name: 'TypeError' })
  }
  assert.equal(typeof await client.append({ fine: true }), 'number', 'the longest timeout a timer has works')
})

test('clients that send their 256 reads and leave, again and again, make the node hold at most 64 x 256 (then refused, FLOTILLA_TOO_MANY_PENDING); status still answers', WITHIN, async () => {
  const lonely = await startJoiner('lonely2')
  // 64 clients' worth of reads that cannot complete (a node that is no member yet), each client gone after.
  for (let round = 0; round < 64; round++) {
    const raw = await rawClient(lonely.address, `leaver-${round}`)
    for (let id = 1; id <= 256; id++) raw.send({ id, op: 'read' })
    await raw.sync()
    raw.native.close()
  }
  const raw = await rawClient(lonely.address, 'one-more')
  raw.send({ id: 1, op: 'read', timeout: 60_000 })
  raw.send({ id: 2, op: 'status' })
  await waitFor(() => raw.replies.has(1) && raw.replies.has(2), STEP_MS, 'the replies')
  assert.equal(raw.replies.get(1)[0].error?.code, TOO_MANY, 'the node holds no more reads')
  assert.equal(raw.replies.get(2)[0].result.id, 'lonely2', 'a status is answered at once all the same')
  assert.ok(lonely.alive)
  raw.native.close()
  await lonely.kill()
})
