// The native transport (channel `tcp`): clusters of processes, each node its own process with a dataDir, its Raft
// loop on its own Rust thread and its peers reached over TCP, appending all the time (fixtures/durable-node.cjs).
// The leader killed with SIGKILL (a new leader commits, nothing acknowledged is lost), a follower stopped with
// SIGSTOP and resumed, nodes restarted, 5 processes through fault-injecting proxies (the leader cut off), members
// added and removed over TCP, a secret cluster (a node with the wrong secret is refused and counted), brig over
// TCP, the options' checks, and the event loop test: the leader's JS thread blocked for 2 s keeps its leadership,
// the followers see no election, and commits go on meanwhile.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { connect, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { waitFor, freePort, freePorts, reservePort } from './gaggle-support.mjs'
import { NodeProcess, STEP_MS, statuses, leaderAmong, acknowledged, progress, assertConverged } from './node-process.mjs'

const TIMING = { electionTimeout: { min: 300, max: 600 }, heartbeatInterval: 50 }

// A fault-injecting proxy for each ordered pair of nodes (the dialer's connections to one peer go through it):
// `cut(id)` closes every connection to or from the node and refuses new ones until `heal()`.
async function proxies (t, ids, addresses) {
  const links = []
  const cut = new Set()
  const via = {}
  for (const from of ids) {
    via[from] = {}
    for (const to of ids.filter((other) => other !== from)) {
      const sockets = new Set()
      const [host, port] = addresses[to].split(':')
      const server = createServer((client) => {
        if (cut.has(from) || cut.has(to)) return client.destroy()
        const upstream = connect(Number(port), host)
        for (const socket of [client, upstream]) {
          sockets.add(socket)
          socket.on('error', () => {})
          socket.on('close', () => { sockets.delete(socket); client.destroy(); upstream.destroy() })
        }
        client.pipe(upstream)
        upstream.pipe(client)
      })
      await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
      via[from][to] = `127.0.0.1:${server.address().port}`
      links.push({ from, to, server, sockets })
    }
  }
  t.after(() => Promise.all(links.map(({ server, sockets }) => {
    for (const socket of sockets) socket.destroy()
    return new Promise((resolve) => server.close(resolve))
  })))
  return {
    via,
    cut (id) {
      cut.add(id)
      for (const { from, to, sockets } of links) if (from === id || to === id) for (const socket of sockets) socket.destroy()
    },
    heal () { cut.clear() }
  }
}

async function tcpCluster (t, ids, { secret, joiners = [], seeds = ids, appenders = 2, proxied = false, startJoiners = true } = {}) {
  const base = mkdtempSync(path.join(tmpdir(), 'flotilla-tcp-'))
  const all = [...ids, ...joiners]
  // The nodes' ports are held until the proxies listen, so that no proxy is given one of them.
  const reserved = await Promise.all(all.map(() => reservePort()))
  const addresses = Object.fromEntries(all.map((id, i) => [id, `127.0.0.1:${reserved[i].port}`]))
  const network = proxied ? await proxies(t, all, addresses) : null
  await Promise.all(reserved.map(({ release }) => release()))
  const nodes = all.map((id) => {
    // The first members are not told of a joiner; a joiner knows the `seeds` only. The configuration that adds it
    // carries its address to every member.
    const known = joiners.includes(id) ? seeds : ids
    const addressOf = (other) => network === null ? addresses[other] : network.via[id][other]
    const peers = Object.fromEntries(known.filter((other) => other !== id).map((other) => [other, addressOf(other)]))
    const channel = { name: 'tcp', listen: addresses[id], peers, cluster: 'tcp-test', ...(secret === undefined ? {} : { secret }) }
    return new NodeProcess({
      id,
      dataDir: path.join(base, id),
      options: { channel, clusterSize: ids.length, timing: TIMING, appenders, appendTimeoutMs: 3000, join: joiners.includes(id) }
    })
  })
  t.after(async () => {
    await Promise.all(nodes.map((node) => node.kill()))
    rmSync(base, { recursive: true, force: true })
  })
  await Promise.all(nodes.filter((node) => startJoiners || !joiners.includes(node.id)).map((node) => node.start()))
  nodes.network = network
  nodes.addresses = addresses
  return nodes
}

test('tcp, 3 processes: the leader killed (SIGKILL) and restarted, a follower stopped (SIGSTOP) and resumed: nothing acknowledged is lost', { timeout: 120_000 }, async (t) => {
  const nodes = await tcpCluster(t, ['a', 'b', 'c'])
  const leader = await leaderAmong(nodes)
  await progress(nodes, 50, 'before the kill')
  await leader.kill()
  await progress(nodes.filter((node) => node.alive), 50, `with the leader ${leader.id} dead`)
  await leader.start()
  await progress(nodes, 50, 'after the restart')

  const follower = (await statuses(nodes)).find(({ status }) => status.state !== 'LEADER').node
  follower.child.kill('SIGSTOP')
  await progress(nodes.filter((node) => node !== follower), 50, `with ${follower.id} stopped`)
  follower.child.kill('SIGCONT')
  await progress(nodes, 50, `after ${follower.id} resumed`)

  const { acked, entries } = await assertConverged(nodes)
  const { status } = (await statuses([leader]))[0]
  assert.ok(status.transport.framesReceived > 0, 'the transport counts what it carries')
  t.diagnostic(`${acked} appends acknowledged, ${entries} entries`)
})

test('tcp, 5 processes through fault-injecting proxies: the leader cut off steps down, a new leader commits, the old one rejoins after the heal', { timeout: 120_000 }, async (t) => {
  const nodes = await tcpCluster(t, ['a', 'b', 'c', 'd', 'e'], { proxied: true, appenders: 1 })
  const leader = await leaderAmong(nodes)
  await progress(nodes, 50, 'before the partition')
  nodes.network.cut(leader.id)
  const others = nodes.filter((node) => node !== leader)
  const next = await waitFor(async () => {
    const found = (await statuses(others)).find(({ status }) => status.state === 'LEADER')
    return found?.node
  }, STEP_MS, 'a new leader among the majority')
  await progress(others, 50, 'on the majority side')
  // Check-quorum: the old leader hears from nobody and steps down within about an election timeout.
  await waitFor(async () => (await statuses([leader]))[0].status.state !== 'LEADER', STEP_MS, 'the cut-off leader to step down')
  nodes.network.heal()
  await progress(nodes, 50, 'after the heal')
  const { acked } = await assertConverged(nodes)
  t.diagnostic(`${leader.id} cut off, ${next.id} led meanwhile; ${acked} appends acknowledged`)
})

test('tcp: the leader\'s event loop blocked for 2 s: it stays leader, no election anywhere, commits resume at once', { timeout: 120_000 }, async (t) => {
  const nodes = await tcpCluster(t, ['a', 'b', 'c'], { appenders: 1 })
  const leader = await leaderAmong(nodes)
  await progress(nodes, 30, 'before the block')
  const before = await statuses(nodes)
  const followers = nodes.filter((node) => node !== leader)
  const countBefore = acknowledged(followers)
  await leader.request('block', { ms: 2000 })
  // The followers' appends are forwarded to the leader's engine, which kept running on its own thread.
  const during = acknowledged(followers) - countBefore
  const after = await statuses(nodes)
  for (const { node, status } of after) {
    const was = before.find((entry) => entry.node === node).status
    assert.equal(status.term, was.term, `${node.id}: no election (term ${was.term} -> ${status.term})`)
  }
  assert.equal(after.find(({ node }) => node === leader).status.state, 'LEADER', 'the blocked node is still the leader')
  assert.ok(during > 0, `the followers' appends committed while the leader's event loop was blocked (${during})`)
  await progress(nodes, 20, 'after the block')
  await assertConverged(nodes)
  t.diagnostic(`${during} appends committed through the blocked leader`)
})

test('tcp: a node joins and is added over TCP; a secret cluster refuses a node with the wrong secret', { timeout: 120_000 }, async (t) => {
  const secret = 'a shared secret of 32 bytes long'
  const nodes = await tcpCluster(t, ['a', 'b', 'c'], { secret, joiners: ['d'], startJoiners: false })
  const leader = await leaderAmong(nodes.slice(0, 3))
  await progress(nodes.slice(0, 3), 20, 'before the change')
  // d knows one follower only (its seed), which passes d's address on to the leader with the change; the
  // configuration carries it to every member, so the leader (whom d never dialed) reaches d.
  const joiner = nodes[3]
  const seed = nodes.find((node) => node !== leader && node !== joiner)
  joiner.options.channel.peers = { [seed.id]: nodes.addresses[seed.id] }
  await joiner.start()
  await waitFor(async () => (await statuses([seed]))[0].status.transport.connectionsAccepted > 2, STEP_MS, 'd to dial its seed')
  const { error } = await seed.request('change', { method: 'addMember', args: ['d'] })
  assert.equal(error, null, error?.message)
  await waitFor(async () => (await joiner.request('members')).members.voters.includes('d'), STEP_MS, 'd to vote')
  await progress(nodes, 20, 'after the change')
  // A member removed over TCP (asked of the new member: it goes to the leader); the rest go on without it.
  const removed = nodes.find((node) => node !== leader && node !== joiner && node !== seed)
  const removal = await joiner.request('change', { method: 'removeMember', args: [removed.id] })
  assert.equal(removal.error, null, removal.error?.message)
  const members = nodes.filter((node) => node !== removed)
  await waitFor(async () => (await Promise.all(members.map((node) => node.request('members'))))
    .every(({ members }) => !members.voters.includes(removed.id)), STEP_MS, `${removed.id} removed everywhere`)
  await progress(members, 20, 'after the removal')
  await assertConverged(nodes, members)

  // One more process with the wrong secret: refused at the handshake, counted by the members it dials.
  const intruderBase = mkdtempSync(path.join(tmpdir(), 'flotilla-tcp-intruder-'))
  t.after(() => rmSync(intruderBase, { recursive: true, force: true }))
  const peers = {}
  for (const { node, status } of await statuses(nodes)) peers[node.id] = status.transport.listen
  const intruder = new NodeProcess({
    id: 'x',
    dataDir: path.join(intruderBase, 'x'),
    options: {
      channel: { name: 'tcp', listen: `127.0.0.1:${await freePort()}`, peers, cluster: 'tcp-test', secret: 'not the secret, but as long' },
      clusterSize: 3, timing: TIMING, appenders: 0, appendTimeoutMs: 1000, join: true
    }
  })
  t.after(() => intruder.kill())
  const accepted = async () => (await statuses(nodes)).reduce((sum, { status }) => sum + status.transport.connectionsAccepted, 0)
  const acceptedBefore = await accepted()
  await intruder.start()
  // The members answer its dial with their proof, which it cannot check: it refuses them (and never sends a proof).
  await waitFor(async () => (await statuses([intruder]))[0].status.transport.refusedBadAuth >= 3, STEP_MS, 'the intruder to fail every member')
  const { status } = (await statuses([intruder]))[0]
  assert.equal(status.transport.framesReceived, 0, 'the intruder received nothing')
  assert.equal(status.transport.connectionsDialed, 0, 'no connection of the intruder completed its handshake')
  assert.equal(await accepted(), acceptedBefore, 'no member accepted the intruder')
})

test('brig over tcp: three Clusters with the tcp option elect a leader and commit a broadcast; the Peers\' tx carry nothing', { timeout: 60_000 }, async (t) => {
  const { brig, waitFor: waitForEvents, commitRecorder } = await import('./brig-support.mjs')
  const ids = ['x', 'y', 'z']
  const ports = await freePorts(ids.length)
  const addresses = Object.fromEntries(ids.map((id, i) => [id, `127.0.0.1:${ports[i]}`]))
  const saved = { ...brig.consensus }
  Object.assign(brig.consensus, { ELECTION_T_MIN: 300, ELECTION_T_MAX: 600, REPLICATE_T: 50 })
  let clusters
  try {
    clusters = ids.map((id) => {
      const peers = ids.filter((other) => other !== id)
      const tcp = { listen: addresses[id], peers: Object.fromEntries(peers.map((other) => [other, addresses[other]])), cluster: 'brig-tcp' }
      const untouched = (to) => { throw new Error(`the Peer's tx was called for ${to}`) }
      return new brig.consensus.Cluster(id, peers.map((other) => new brig.consensus.Peer(other, untouched)), undefined, { tcp })
    })
    for (const cluster of clusters) cluster.join()
  } finally {
    Object.assign(brig.consensus, { ELECTION_T_MIN: saved.ELECTION_T_MIN, ELECTION_T_MAX: saved.ELECTION_T_MAX, REPLICATE_T: saved.REPLICATE_T })
  }
  t.after(() => Promise.all(clusters.map((cluster) => cluster.close())))
  const commits = commitRecorder(clusters)
  await waitForEvents(clusters, () => clusters.some((cluster) => cluster.state.currentRole === brig.roles.Leader))
  const leader = clusters.find((cluster) => cluster.state.currentRole === brig.roles.Leader)
  leader.broadcast({ over: 'tcp' })
  await waitForEvents(clusters, () => ids.every((id) => commits.get(id).some((payload) => payload && payload.over === 'tcp')))
  const { transport } = leader.status()
  assert.ok(transport.framesSent > 0, `the engine's messages went over the transport: ${JSON.stringify(transport)}`)
})

test('tcp options are checked: bad addresses, a short secret, a peer named like the node; an open address needs a secret', { timeout: 30_000 }, async (t) => {
  const { createRequire } = await import('node:module')
  const require = createRequire(import.meta.url)
  const gaggle = require('..')
  const make = (channel) => gaggle({ id: 'a', clusterSize: 3, channel: { name: 'tcp', peers: {}, ...channel } })
  for (const [channel, message] of [
    [{ listen: 'nowhere' }, /"listen" must be "host:port"/],
    [{ listen: '127.0.0.1:0', peers: { b: 'x' } }, /address of peer "b"/],
    [{ listen: '127.0.0.1:0', peers: { a: '127.0.0.1:1' } }, /another node's/],
    [{ listen: '127.0.0.1:0', secret: 'short' }, /"secret" must be a string of at least 16 bytes/],
    [{ listen: '127.0.0.1:0', cluster: '' }, /"cluster"/],
    [{ listen: '127.0.0.1:0', extra: 1 }, /"extra" is not allowed/]
  ]) {
    assert.throws(() => make(channel), (error) => error.code === 'FLOTILLA_INVALID_ARGUMENT' && message.test(error.message), JSON.stringify(channel))
  }
  // Without a secret, a node listens on loopback only unless told otherwise: it cannot start.
  const open = make({ listen: '0.0.0.0:0' })
  const refused = await open.ready().then(() => null, (error) => error)
  assert.ok(refused !== null && /loopback|allowRemote|secret/i.test(refused.message), `refused: ${refused?.message}`)
  await open.close()
  const allowed = make({ listen: '0.0.0.0:0', allowRemote: true })
  t.after(() => allowed.close())
  await allowed.ready()
  assert.match(allowed.status().transport.listen, /^0\.0\.0\.0:\d+$/)
})

test('tcp: a proposal the engine refuses on its own thread rejects with its code, as on the JS thread', { timeout: 30_000 }, async (t) => {
  const { createRequire } = await import('node:module')
  const require = createRequire(import.meta.url)
  const gaggle = require('..')
  const node = gaggle({
    id: 'solo', clusterSize: 1, maxMessageBytes: 1024, electionTimeout: { min: 50, max: 60 }, heartbeatInterval: 10,
    channel: { name: 'tcp', listen: '127.0.0.1:0', peers: {} }
  })
  t.after(() => node.close())
  await waitFor(() => node.isLeader(), STEP_MS, 'the single node to lead')
  await node.append('fits')
  const refused = await node.append('x'.repeat(2000)).then(() => null, (error) => error)
  assert.equal(refused?.code, 'FLOTILLA_NOT_COMMITTED')
  assert.equal(refused.cause.code, 'FLOTILLA_TOO_LARGE')
  await node.append('fits again')
  assert.deepEqual(node.getLog().map((entry) => entry.data), ['fits', 'fits again'])
  // Appends of one turn go to the engine in one call (proposeBatch): one it refuses (data nested deeper than a
  // follower reads) rejects alone, with its code; the others of the batch commit, in order.
  let nested = 'leaf'
  for (let i = 0; i < 200; i++) nested = [nested]
  const batch = [node.append('before'), node.append(nested), node.append('after'), node.append(undefined)]
  const settled = await Promise.allSettled(batch)
  assert.deepEqual(settled.map((result) => result.status), ['fulfilled', 'rejected', 'fulfilled', 'fulfilled'])
  assert.equal(settled[1].reason.code, 'FLOTILLA_NOT_COMMITTED')
  assert.equal(settled[1].reason.cause.code, 'FLOTILLA_INVALID_ARGUMENT')
  assert.deepEqual(node.getLog().map((entry) => entry.data), ['fits', 'fits again', 'before', 'after', null])
  const ids = node.getLog().map((entry) => entry.id)
  assert.ok(ids.every((id) => /^solo_[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(id)), `entry ids are the node's name and a random UUID: ${ids}`)
  assert.equal(new Set(ids).size, ids.length, 'every entry has an id of its own')
  // The call itself, given what no face would give it: malformed batches throw and queue nothing; texts that are
  // not JSON are refused (and never reach the log); the node goes on.
  const native = node._native
  for (const [first, count, datas] of [[1e9, 0, ''], [1e9, 2, '1'], [1e9, 1, '1\n2'], [-1, 1, '1'], [1.5, 1, '1'], [NaN, 1, '1'], [2 ** 53 - 1, 2, '1\n2'], [Infinity, 1, '1']]) {
    assert.throws(() => native.proposeBatch(first, count, datas), { code: 'FLOTILLA_INVALID_ARGUMENT' }, `${first} / ${count} / ${datas}`)
  }
  native.proposeBatch(1e9, 2, '{"a":\n7}')
  await node.append('still committing')
  assert.deepEqual(node.getLog().slice(-2).map((entry) => entry.data), [null, 'still committing'])
})

test('tcp: a sequential append wakes the node\'s thread once; taking its outputs wakes it not at all', { timeout: 30_000 }, async (t) => {
  const { createRequire } = await import('node:module')
  const gaggle = createRequire(import.meta.url)('..')
  const node = gaggle({
    id: 'solo', clusterSize: 1, electionTimeout: { min: 50, max: 60 }, heartbeatInterval: 10,
    channel: { name: 'tcp', listen: '127.0.0.1:0', peers: {} }
  })
  t.after(() => node.close())
  await waitFor(() => node.isLeader(), STEP_MS, 'the single node to lead')
  await node.append('first')
  const appends = 100
  const before = node.status().transport
  for (let i = 0; i < appends; i++) await node.append(i)
  const after = node.status().transport
  // Each append is a proposal handed over at a flush (one wake-up) and an output that settles it, which JS takes
  // with flushes that hand over nothing (no wake-up): three wake-ups an append before.
  const wakeups = after.wakeups - before.wakeups
  assert.ok(wakeups <= appends + 2, `${wakeups} wake-ups for ${appends} sequential appends`)
  assert.ok(after.outputs - before.outputs >= appends / 2, 'the appends were settled through outputs')
  assert.match(node.metrics(), /^flotilla_transport_wakeups_total \d+$/m)
})

test('tcp: a follower nobody waits on learns new commit indexes at its ticks, not in an output per entry; an entries() stream on it gets every entry', { timeout: 60_000 }, async (t) => {
  const { createRequire } = await import('node:module')
  const gaggle = createRequire(import.meta.url)('..')
  const ids = ['a', 'b', 'c']
  const ports = await freePorts(ids.length)
  const addresses = Object.fromEntries(ids.map((id, i) => [id, `127.0.0.1:${ports[i]}`]))
  // A tick of 100 ms (an election timeout's minimum / 20): a few ticks for the whole run of appends.
  const TICK_MS = 100
  const nodes = ids.map((id) => gaggle({
    id,
    clusterSize: 3,
    electionTimeout: { min: 2000, max: 3000 },
    heartbeatInterval: 500,
    channel: { name: 'tcp', listen: addresses[id], peers: Object.fromEntries(ids.filter((other) => other !== id).map((other) => [other, addresses[other]])) }
  }))
  t.after(() => Promise.all(nodes.map((node) => node.close())))
  const leader = await waitFor(() => nodes.find((node) => node.isLeader()), STEP_MS, 'a leader')
  const [quiet, streaming] = nodes.filter((node) => node !== leader)
  await leader.append('first')
  await waitFor(() => quiet.getCommitIndex() === 0 && streaming.getCommitIndex() === 0, STEP_MS, 'the followers to learn the first commit')
  const streamed = []
  const stream = (async () => {
    for await (const entry of streaming.entries({ from: 1 })) {
      streamed.push(entry.data)
      if (entry.data === 'last') return
    }
  })()
  const appends = 200
  const before = quiet.status().transport.outputs
  const started = performance.now()
  for (let i = 0; i < appends; i++) await leader.append(i)
  const ticks = Math.ceil((performance.now() - started) / TICK_MS)
  const outputs = quiet.status().transport.outputs - before
  await leader.append('last')
  // At most one for each tick (plus a few for anything else), however slow the machine; one per entry before.
  assert.ok(outputs <= ticks + 5, `the quiet follower had ${outputs} outputs for ${appends} appends over ${ticks} ticks`)
  await waitFor(() => quiet.getCommitIndex() === leader.getCommitIndex(), STEP_MS, 'the quiet follower to learn the last commit')
  await stream
  assert.deepEqual(streamed, [...Array.from({ length: appends }, (_, i) => i), 'last'])
  // A commit index the quiet follower kept back, then a listener for 'committed' and an append of its own: the
  // entries come with their data, and the index they reach is not undone by the older one kept back.
  await leader.append('kept back')
  const seen = []
  quiet.on('committed', (entry, index) => seen.push(index))
  await quiet.append('own')
  assert.equal(quiet.getCommitIndex(), seen[seen.length - 1], `commit index after the events ${seen}`)
  await waitFor(() => quiet.getCommitIndex() === leader.getCommitIndex(), STEP_MS, 'the quiet follower to stay caught up')
})
