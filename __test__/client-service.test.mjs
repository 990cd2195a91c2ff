// The client service's rules, against a stand-in node (no engine, no network): replies carry the request's id
// and its result or coded error; frames that are not a request are counted and dropped; a client has at most 256
// requests and 4 entries streams at once; an entries stream sends at most `window` batches ahead of the client's
// acknowledgements, splits batches at 256 entries, and stops when cancelled or when its client goes away.
import { test, mock } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { setImmediate as turn } from 'node:timers/promises'

const require = createRequire(import.meta.url)
const { ClientService } = require('../lib/service/client-service')

// A node whose log holds `count` committed entries; past them, entries() waits until `close()`.
function standIn (count) {
  let wake = null
  return {
    status: () => ({ state: 'LEADER' }),
    read: () => new Promise(() => {}), // never answered: requests pile up
    append: (data, options) => Promise.resolve(options.requestId === 'bad' ? Promise.reject(Object.assign(new Error('refused'), { code: 'FLOTILLA_TOO_LARGE' })) : 7),
    entries: ({ from = 0, to }) => (async function * () {
      for (let index = from; to === undefined || index <= to; index++) {
        if (index >= count) await new Promise((resolve) => { wake = resolve })
        if (index >= count) return
        yield { index, term: 1, id: `e${index}`, data: index }
      }
    })(),
    close: () => wake && wake()
  }
}

function serve (node) {
  const sent = []
  const service = new ClientService(node, (client, text) => { sent.push({ client, ...JSON.parse(text) }); return true }, () => ({ id: 'n1', addresses: {} }))
  const request = (client, message) => service.onClient(client, 'tester', JSON.stringify(message))
  return { service, sent, request }
}

async function until (what, condition) {
  for (let i = 0; i < 1000 && !condition(); i++) await turn()
  assert.ok(condition(), what)
}

test('a reply carries the request id and its result or coded error', async () => {
  const { sent, request } = serve(standIn(0))
  request(1, { id: 5, op: 'append', data: 'x', requestId: 'r' })
  request(1, { id: 6, op: 'append', data: 'x', requestId: 'bad' })
  request(1, { id: 7, op: 'frobnicate' })
  await until('three replies', () => sent.length === 3)
  assert.deepEqual(sent.find((m) => m.id === 5), { client: 1, id: 5, result: 7 })
  assert.equal(sent.find((m) => m.id === 6).error.code, 'FLOTILLA_TOO_LARGE')
  assert.equal(sent.find((m) => m.id === 7).error.code, 'FLOTILLA_INVALID_ARGUMENT')
})

test('frames that are not a request are dropped and counted', async () => {
  const { service, sent } = serve(standIn(0))
  const bad = ['not json', '[]', 'null', '7', '{"op":"status"}', '{"id":-1,"op":"status"}', '{"id":1.5,"op":"status"}',
    '{"id":1e300,"op":"status"}', '{"id":"1","op":"status"}', '{"id":1}', '{"id":1,"op":5}']
  for (const text of bad) service.onClient(1, 'tester', text)
  await turn()
  assert.equal(service.stats.refused, bad.length)
  assert.equal(sent.length, 0)
})

test('a client has at most 256 requests at once', async () => {
  const { sent, request } = serve(standIn(0))
  for (let id = 0; id < 260; id++) request(1, { id, op: 'read' })
  await until('four refusals', () => sent.length === 4)
  assert.deepEqual(sent.map((m) => [m.id, m.error.code]), [256, 257, 258, 259].map((id) => [id, 'FLOTILLA_TOO_MANY_PENDING']))
  request(2, { id: 0, op: 'status' })
  await until('another client is served', () => sent.length === 5)
  assert.equal(sent[4].client, 2)
})

test('an entries stream stays within its window until acknowledged, in batches of at most 256', async () => {
  const { sent, request } = serve(standIn(2000))
  request(1, { id: 1, op: 'entries', from: 0, window: 2 })
  await until('two batches', () => sent.length === 2)
  for (let i = 0; i < 20; i++) await turn()
  assert.equal(sent.length, 2, 'no third batch before an acknowledgement')
  assert.deepEqual(sent.map((m) => m.entries.length), [256, 256])
  // Acknowledgements ahead of what was sent count for nothing: still two batches out at most.
  for (let early = 0; early < 6; early++) request(1, { id: 1, op: 'ack' })
  await until('two more batches', () => sent.length === 4)
  for (let i = 0; i < 20; i++) await turn()
  assert.equal(sent.length, 4, 'early acknowledgements granted no more than the two batches sent')
  for (let acked = 2; sent.flatMap((m) => m.entries).length < 2000; acked++) {
    await until(`batch ${acked + 1}`, () => sent.length > acked)
    request(1, { id: 1, op: 'ack' })
  }
  const indices = sent.flatMap((m) => m.entries).map((entry) => entry.index)
  assert.deepEqual(indices, [...Array(2000).keys()], 'in order, none missing or twice')
})

test('a bounded stream ends; a cancelled one and a gone client\'s stop', async () => {
  const node = standIn(10)
  const { service, sent, request } = serve(node)
  request(1, { id: 1, op: 'entries', from: 3, to: 5 })
  await until('the end', () => sent.some((m) => m.id === 1 && m.end))
  assert.deepEqual(sent.filter((m) => m.id === 1 && m.entries).flatMap((m) => m.entries).map((e) => e.index), [3, 4, 5])
  request(1, { id: 2, op: 'entries', from: 8 })
  await until('the follower at the end of the log sends what it has', () => sent.some((m) => m.id === 2 && m.entries))
  request(1, { id: 2, op: 'cancel' })
  service.onClient(1, '', null)
  node.close()
  for (let i = 0; i < 20; i++) await turn()
  assert.ok(!sent.some((m) => m.id === 2 && (m.end || m.error)), 'a cancelled stream sends nothing more')
})

test('a client has at most 4 entries streams at once', async () => {
  const { sent, request } = serve(standIn(0))
  for (let id = 0; id < 5; id++) request(1, { id, op: 'entries', from: 0 })
  await until('one refusal', () => sent.length === 1)
  assert.deepEqual([sent[0].id, sent[0].error.code], [4, 'FLOTILLA_TOO_MANY_PENDING'])
})

test('a client with a request or a stream under way hears from the node every 2 s; an idle one does not', async () => {
  mock.timers.enable({ apis: ['setInterval'] })
  try {
    const { service, sent, request } = serve(standIn(0))
    request(1, { id: 1, op: 'entries', from: 0 }) // waits at the end of an empty log
    request(2, { id: 1, op: 'read' }) // never answered
    request(3, { id: 1, op: 'status' })
    await until('the status reply', () => sent.some((m) => m.client === 3))
    const keepalives = () => sent.filter((m) => m.id === undefined).map((m) => m.client).sort()
    assert.deepEqual(keepalives(), [])
    mock.timers.tick(2000)
    assert.deepEqual(keepalives(), [1, 2], 'the busy clients: their frames keep them from counting as idle')
    service.onClient(1, 'tester', null) // client 1 goes away
    mock.timers.tick(2000)
    assert.deepEqual(keepalives(), [1, 2, 2])
    service.close()
    mock.timers.tick(2000)
    assert.equal(keepalives().length, 3, 'none after close()')
  } finally {
    mock.timers.reset()
  }
})
