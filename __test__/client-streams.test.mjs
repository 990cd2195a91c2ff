// The client's entries stream against nodes that misbehave: a node that freezes (its TCP connection stays open,
// it sends nothing) is given up after its keepalives stop and the stream goes on from another node; a node that
// sends replies of the wrong shape gets a coded error, never a bare TypeError nor an entry of another index.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { serveCluster, freePort, waitFor } from './fixtures/serve-cluster.mjs'

const require = createRequire(import.meta.url)
const { Client } = require('../client.js')
const gaggle = require('../index.js')

const started = []
const cleanups = []
after(async () => {
  for (const node of started) node.child?.kill('SIGCONT')
  await Promise.all(started.map((node) => node.kill()))
  for (const cleanup of cleanups) await cleanup()
})

test('a following entries stream goes on from another node when its node freezes', { timeout: 90_000 }, async () => {
  const base = mkdtempSync(path.join(tmpdir(), 'flotilla-frozen-'))
  cleanups.push(() => rmSync(base, { recursive: true, force: true }))
  const secret = randomBytes(24).toString('hex')
  writeFileSync(path.join(base, 'secret'), secret)
  const nodes = await serveCluster(['f1', 'f2', 'f3'], {
    base, security: ['--secret-file', path.join(base, 'secret')], track: (node) => { started.push(node); return node }
  })
  const client = new Client({ addresses: nodes.map((node) => node.address), secret, timeout: 10_000 })
  const writer = new Client({ addresses: nodes.map((node) => node.address), secret, timeout: 15_000 })
  cleanups.push(() => { client.close(); writer.close() })
  await writer.append('before')
  const seen = []
  const following = (async () => {
    for await (const entry of client.entries({ from: 0 })) seen.push(entry.data)
  })().catch((error) => seen.push(`error ${error.code}`))
  await waitFor(() => seen.includes('before'), 15_000, 'the stream to yield the first entry')
  // The stream follows the leader: freeze it (SIGSTOP: its connections stay open and say nothing).
  const leaderId = (await writer.status({ leader: true })).id
  const leader = nodes.find((node) => node.id === leaderId)
  leader.child.kill('SIGSTOP')
  const others = new Client({ addresses: nodes.filter((node) => node !== leader).map((node) => node.address), secret, timeout: 15_000 })
  cleanups.push(() => others.close())
  await others.append('after the freeze')
  await waitFor(() => seen.includes('after the freeze'), 30_000, `the stream to go on from another node (seen ${JSON.stringify(seen)})`)
  assert.deepEqual(seen, ['before', 'after the freeze'])
  client.close()
  await following
})

// A real node on the tcp channel whose client service answers as `answer(op, id)` says: the handshake is genuine.
async function nodeAnswering (answer) {
  const port = await freePort()
  const node = gaggle({ id: 'odd', clusterSize: 1, channel: { name: 'tcp', listen: `127.0.0.1:${port}`, peers: {}, clients: true } })
  cleanups.push(() => node.close())
  const address = `127.0.0.1:${port}`
  node._clientService._serve = (client, state, { id, op }) => {
    const reply = op === 'entries' || op === 'ack'
      ? answer(op, id)
      : { id, result: { id: 'odd', addresses: { odd: address }, status: { state: 'LEADER', leader: 'odd' } } }
    if (reply !== null) node._native.replyToClient(client, JSON.stringify(reply))
  }
  await waitFor(() => node._native !== null && node._channel.address, 10_000, 'the node to listen')
  return address
}

for (const [what, answer] of [
  ['entries that are not an array', (op, id) => op === 'entries' ? { id, entries: 5 } : null],
  ['an entry whose index is not a number', (op, id) => op === 'entries' ? { id, entries: [{ index: 'x', term: 1, data: 1 }] } : null],
  ['entries that skip an index', (op, id) => op === 'entries' ? { id, entries: [{ index: 0, data: 1 }, { index: 2, data: 2 }] } : null],
  ['an ordinary reply to the stream\'s ack', (op, id) => op === 'entries' ? { id, entries: [{ index: 0, term: 1, data: 1 }] } : { id, result: 7 }],
  ['an error reply whose code is not a string', (op, id) => op === 'entries' ? { id, error: { code: 5, message: 'odd' } } : null]
]) {
  test(`a stream answered with ${what} fails with a coded error, having yielded only the entries in order`, { timeout: 30_000 }, async () => {
    const address = await nodeAnswering(answer)
    const client = new Client({ addresses: [address], timeout: 3000 })
    try {
      const yielded = []
      const error = await (async () => {
        for await (const entry of client.entries({ from: 0, to: 5 })) yielded.push(entry)
      })().then(() => null, (e) => e)
      assert.ok(error !== null, 'the stream did not end normally')
      assert.equal(typeof error.code, 'string', `${error.name} without a code: ${error.message}`)
      assert.deepEqual(yielded.map((entry) => entry.index), yielded.map((_, i) => i))
    } finally {
      client.close()
    }
  })
}

test('a stream that keeps breaking before any node says a word ends with FLOTILLA_UNAVAILABLE after the client\'s timeout, across its reconnections', { timeout: 30_000 }, async () => {
  let streams = 0
  const address = await nodeAnswering((op, id) => {
    if (op !== 'entries') return null
    streams++
    return { id, error: { code: 'FLOTILLA_UNAVAILABLE', message: 'the stream ended' } }
  })
  const client = new Client({ addresses: [address], timeout: 1000 })
  try {
    const error = await (async () => {
      for await (const entry of client.entries({ from: 0 })) assert.fail(`an entry from a node that sent none: ${JSON.stringify(entry)}`)
    })().then(() => null, (e) => e)
    assert.equal(error?.code, 'FLOTILLA_UNAVAILABLE', String(error))
    assert.match(error.message, /the stream ended/)
    assert.ok(streams > 1, `the stream was asked for ${streams} time(s): it did not go on after the first break`)
  } finally {
    client.close()
  }
})

test('an entry larger than a stream carries (16 MiB of data) ends the stream with FLOTILLA_TOO_LARGE, after the entries before it', { timeout: 60_000 }, async () => {
  const port = await freePort()
  const address = `127.0.0.1:${port}`
  const node = gaggle({ id: 'big', clusterSize: 1, maxMessageBytes: 64 * 1024 * 1024, channel: { name: 'tcp', listen: address, peers: {}, clients: true } })
  cleanups.push(() => node.close())
  await waitFor(() => node.isLeader(), 10_000, 'the node to lead')
  await node.append('small')
  await node.append('x'.repeat(17 * 1024 * 1024), 30_000)
  const client = new Client({ addresses: [address], timeout: 10_000 })
  try {
    const yielded = []
    const error = await (async () => {
      for await (const entry of client.entries({ from: 0, to: 1 })) yielded.push(entry.data)
    })().then(() => null, (e) => e)
    assert.deepEqual(yielded, ['small'])
    assert.equal(error?.code, 'FLOTILLA_TOO_LARGE', String(error))
  } finally {
    client.close()
  }
})
