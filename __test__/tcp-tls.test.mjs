// The native transport with mutual TLS (channel `tcp` with `tls: {cert, key, ca}`): certificates made with the
// openssl CLI in a temporary folder (a cluster CA, a certificate per node naming it, and another CA), three
// in-process gaggle nodes that elect a leader and commit appends over TLS, and a fourth node whose certificate
// another CA signed: it cannot join, and the refusals show in status().transport on both sides. Also the options:
// PEM as Buffers, empty or oversized PEM, tls together with a secret, bad PEM refused at start.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { gaggle, trackNodes, waitFor, freePort, freePorts } from './gaggle-support.mjs'
import { certificateAuthority } from './fixtures/serve-cluster.mjs'

const STEP_MS = 20_000
const TIMING = { electionTimeout: { min: 300, max: 600 }, heartbeatInterval: 50 }
const hasOpenssl = spawnSync('openssl', ['version']).status === 0


function tcpNode (track, id, listen, peers, tls, extra = {}) {
  return track(gaggle({
    id,
    clusterSize: 3,
    ...TIMING,
    ...extra,
    channel: { name: 'tcp', listen, peers, cluster: 'tls-test', tls }
  }))
}

// The PEM texts of a certificate the CA issued, as the tcp channel's `tls` takes them.
const pemOnly = ({ cert, key, ca }) => ({ cert, key, ca })

test('tcp with mutual TLS: 3 nodes elect a leader and commit appends; a node of another CA cannot join', { timeout: 120_000, skip: !hasOpenssl && 'openssl is not installed' }, async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'flotilla-tls-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const cluster = certificateAuthority(dir, 'cluster-ca')
  const other = certificateAuthority(dir, 'other-ca')
  const track = trackNodes(t)

  const ids = ['a', 'b', 'c']
  const ports = await freePorts(ids.length)
  const addresses = Object.fromEntries(ids.map((id, i) => [id, `127.0.0.1:${ports[i]}`]))
  const nodes = ids.map((id) => {
    const peers = Object.fromEntries(ids.filter((other) => other !== id).map((other) => [other, addresses[other]]))
    // One node is given its PEM as Buffers, as read from files.
    const { cert, key, ca } = cluster.issue(id)
    const tls = id === 'c' ? { cert: Buffer.from(cert), key: Buffer.from(key), ca: Buffer.from(ca) } : { cert, key, ca }
    return tcpNode(track, id, addresses[id], peers, tls)
  })
  await Promise.all(nodes.map((node) => node.ready()))
  const leader = await waitFor(() => {
    const leaders = nodes.filter((node) => node.isLeader())
    return leaders.length === 1 && nodes.every((node) => node === leaders[0] || node._leader === leaders[0].id) ? leaders[0] : null
  }, STEP_MS, 'one leader that every node knows')

  const appends = 30
  for (let i = 0; i < appends; i++) await nodes[i % 3].append({ over: 'tls', i }, 5000)
  await waitFor(() => nodes.every((node) => node.getLog().length === appends && node.getCommitIndex() === appends - 1), STEP_MS, 'every log to hold the appends')
  const logs = nodes.map((node) => JSON.stringify(node.getLog()))
  for (const [i, log] of logs.entries()) assert.equal(log, logs[0], `${ids[i]} has the same log as a`)
  assert.deepEqual(nodes[0].getLog().map((entry) => entry.data.i), Array.from({ length: appends }, (_, i) => i))
  for (const node of nodes) {
    const { transport } = node.status()
    assert.ok(transport.framesReceived > 0 && transport.connectionsAccepted > 0, `${node.id}: ${JSON.stringify(transport)}`)
    assert.equal(transport.refusedTls + transport.refusedBadAuth, 0, `${node.id}: ${JSON.stringify(transport)}`)
  }

  // A fourth node, told of the members, with a certificate (naming it) from another CA that it trusts alone: every
  // member refuses its certificate, and it refuses theirs. Nothing gets through either way.
  const totals = (key) => nodes.reduce((sum, node) => sum + node.status().transport[key], 0)
  const acceptedBefore = totals('connectionsAccepted')
  const intruder = tcpNode(track, 'd', `127.0.0.1:${await freePort()}`, addresses, pemOnly(other.issue('d')), { join: true })
  await intruder.ready()
  await waitFor(() => intruder.status().transport.refusedTls >= 3 && totals('refusedTls') >= 3, STEP_MS, 'the intruder and the members to refuse each other')
  const seen = intruder.status().transport
  assert.equal(seen.connectionsDialed, 0, 'no connection of the intruder completed its handshake')
  assert.equal(seen.framesReceived, 0, 'the intruder received nothing')
  assert.equal(totals('connectionsAccepted'), acceptedBefore, 'no member accepted the intruder')
  assert.equal(intruder.getLog().length, 0)

  // The cluster carries on meanwhile.
  await leader.append({ over: 'tls', after: 'intruder' }, 5000)
  await waitFor(() => nodes.every((node) => node.getLog().length === appends + 1), STEP_MS, 'the last append everywhere')
  t.diagnostic(`leader ${leader.id}; the intruder counted ${seen.refusedTls} refusals, the members ${totals('refusedTls')}`)
})

test('tcp tls options are checked: PEM strings or Buffers, non-empty, at most 1 MiB, not with a secret; bad PEM fails at start', { timeout: 30_000 }, async (t) => {
  const make = (channel) => gaggle({ id: 'a', clusterSize: 3, channel: { name: 'tcp', listen: '127.0.0.1:0', peers: {}, ...channel } })
  const pem = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'
  const good = { cert: pem, key: pem, ca: pem }
  for (const [channel, message] of [
    [{ tls: 'pem' }, /"tls" must be an object/],
    [{ tls: null }, /"tls" must be an object/],
    [{ tls: { cert: pem, key: pem } }, /"tls.ca" must be PEM text/],
    [{ tls: { ...good, cert: '' } }, /"tls.cert" must be PEM text/],
    [{ tls: { ...good, key: 42 } }, /"tls.key" must be PEM text/],
    [{ tls: { ...good, ca: 'x'.repeat(1024 * 1024 + 1) } }, /"tls.ca" must be PEM text .* 1 MiB/],
    [{ tls: { ...good, extra: pem } }, /"tls.extra" is not allowed/],
    [{ tls: good, secret: 'a shared secret of 32 bytes long' }, /"secret" and "tls" cannot both be given/]
  ]) {
    assert.throws(() => make(channel), (error) => error.code === 'FLOTILLA_INVALID_ARGUMENT' && message.test(error.message), JSON.stringify(channel).slice(0, 200))
  }
  // Well-formed options whose PEM is not a usable certificate: the transport refuses them when the node starts.
  const node = make({ tls: { cert: Buffer.from(pem), key: 'not a key', ca: pem } })
  const refused = await node.ready().then(() => null, (error) => error)
  await node.close()
  assert.ok(refused !== null && /TLS settings/.test(refused.message), `refused: ${refused?.message}`)
})
