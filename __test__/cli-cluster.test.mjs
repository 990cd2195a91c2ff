// The online command line against a running cluster, run as a user runs it: three `flotilla serve` processes
// (a secret read from a file, fast elections, their own data directories) and `node bin/flotilla.js ...` in child
// processes. Proves that status tells the role, term, leader and the members' progress (text and --json) and
// agrees with what the nodes print; append prints the committed index and an append retried with the same
// --request-id commits once; tail gives back exactly the entries appended (JSON lines); read is at or past
// every acknowledged append; transfer hands the leadership over and status then shows the new leader; members
// adds a node started with --join (a voter once caught up), removes it, and set moves the configuration; and the
// exit statuses: 0 done, 1 refused by the cluster, 2 usage, 4 nothing answered (a wrong secret), 0 for --help.
// And `serve --metrics`: Prometheus text a parser reads, whose counters move.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createRequire } from 'node:module'
import { ServeProcess, serveCluster, flotilla, freePort, waitFor, STEP_MS } from './fixtures/serve-cluster.mjs'

const parsePrometheusTextFormat = createRequire(import.meta.url)('parse-prometheus-text-format')

const WITHIN = { timeout: 60_000 }
const IDS = ['n1', 'n2', 'n3']

let base
let secretFile
let wrongSecretFile
let metricsAddress // n1's --metrics
let nodes // the three first members, n1..n3
const started = [] // every process started, killed after the tests

const track = (node) => {
  started.push(node)
  return node
}

before(async () => {
  base = mkdtempSync(path.join(tmpdir(), 'flotilla-cli-cluster-'))
  secretFile = path.join(base, 'secret')
  writeFileSync(secretFile, randomBytes(24).toString('hex') + '\n')
  wrongSecretFile = path.join(base, 'wrong-secret')
  writeFileSync(wrongSecretFile, randomBytes(24).toString('hex') + '\n')
  metricsAddress = `127.0.0.1:${await freePort()}`
  nodes = await serveCluster(IDS, { base, security: ['--secret-file', secretFile], track, extra: (id) => id === 'n1' ? ['--metrics', metricsAddress] : [] })
})

after(async () => {
  await Promise.all(started.map((node) => node.kill()))
  rmSync(base, { recursive: true, force: true })
})

const byId = (id) => started.find((node) => node.id === id)

// A command of the running cluster, authenticated with the secret.
const cli = (...args) => flotilla(...args, '--secret-file', secretFile)

async function ok (...args) {
  const result = await cli(...args)
  assert.equal(result.status, 0, `flotilla ${args.join(' ')}: ${result.stderr}`)
  return result.stdout
}

const okJson = async (...args) => JSON.parse(await ok(...args, '--json'))

// `status --json` of the node at `address` once it knows a leader that answered, with the members.
function settledStatus (address, check = () => true) {
  return waitFor(async () => {
    const result = await cli('status', address, '--json')
    if (result.status !== 0) return null
    const view = JSON.parse(result.stdout)
    return view.leader !== null && view.members !== null && view.node.status.leader === view.leader.id && check(view) ? view : null
  }, STEP_MS, `a settled status from ${address}`)
}

// `members` text: [{id, role, address}].
function memberLines (stdout) {
  return stdout.trim().split('\n').map((line) => {
    const match = /^(\S+)\s+(voter|learner|outgoing voter)\s+(\S+)$/.exec(line)
    assert.ok(match, `a member line: ${JSON.stringify(line)}`)
    return { id: match[1], role: match[2], address: match[3] }
  })
}

const entryLines = (stdout) => stdout.split('\n').filter((line) => line !== '').map((line) => JSON.parse(line))

test('status: role, term, leader, and the members with their progress, as text and --json', WITHIN, async () => {
  const addresses = Object.fromEntries(nodes.map((node) => [node.id, node.address]))
  const view = await settledStatus(nodes[0].address, (candidate) => Object.keys(candidate.members.progress ?? {}).length === 2)
  const leader = view.leader.id
  assert.ok(IDS.includes(leader), `leader ${leader}`)
  const followers = IDS.filter((id) => id !== leader)

  assert.equal(view.node.id, 'n1')
  assert.deepEqual(view.node.addresses, addresses)
  assert.equal(view.node.status.state, leader === 'n1' ? 'LEADER' : 'FOLLOWER')
  assert.ok(view.node.status.term >= 1)
  assert.equal(view.leader.status.state, 'LEADER')
  assert.equal(view.leader.status.term, view.node.status.term)
  assert.deepEqual([...view.members.voters].sort(), IDS)
  assert.deepEqual(view.members.learners, [])
  assert.deepEqual(view.members.outgoing, [])
  assert.deepEqual(view.members.addresses, addresses)
  assert.deepEqual(Object.keys(view.members.progress).sort(), followers)
  for (const id of followers) {
    const progress = view.members.progress[id]
    assert.ok(Number.isSafeInteger(progress.matchIndex) && progress.matchIndex >= 1, `${id}: ${JSON.stringify(progress)}`)
    assert.equal(typeof progress.caughtUp, 'boolean')
  }

  // The text of another node: its own line, then every member with its address and progress.
  const text = await ok('status', nodes[1].address)
  const [first, logLine, header, ...rows] = text.trim().split('\n')
  assert.match(first, new RegExp(`^node n2 at ${nodes[1].address}: (LEADER|FOLLOWER), term ${view.node.status.term}, leader ${leader}$`))
  assert.match(logLine, /^ {2}log: first \d+, last \d+, commit \d+, applied \d+ \(gaggle's commit index -?\d+\)$/)
  assert.equal(header, `members (as leader ${leader} sees them):`)
  assert.equal(rows.length, 3)
  for (const id of IDS) {
    const row = rows.find((line) => line.trim().startsWith(id + ' '))
    assert.ok(row, `a row for ${id}: ${text}`)
    assert.match(row, new RegExp(`^ {2}${id}\\s+voter\\s+${addresses[id]}, ` + (id === leader ? 'leader$' : 'match \\d+, lag \\d+$')))
  }

  // What the nodes printed agrees: the leader's process said it leads in that term, the others follow it.
  await waitFor(() => nodes.every((node) => node.states().some(({ state, term, leader: named }) =>
    named === leader && term === view.leader.status.term && state === (node.id === leader ? 'LEADER' : 'FOLLOWER'))), STEP_MS, 'every node to print the leader')
})

test('append prints the committed index; --request-id twice commits once; tail gives back the entries; read covers them', WITHIN, async () => {
  const appended = [{ n: 0, text: 'première' }, { n: 1, nested: { list: [1, 2, 3] } }, 'a string', 42]
  const indices = []
  for (const [i, data] of appended.entries()) {
    const stdout = await ok('append', nodes[i % 3].address, JSON.stringify(data))
    assert.match(stdout, /^\d+\n$/)
    indices.push(Number(stdout))
  }
  assert.deepEqual(indices, [0, 1, 2, 3], 'indices are 0-based and consecutive')

  // The same request id through two nodes: the second append is the first one's entry.
  const once = { once: true }
  const first = await ok('append', nodes[1].address, JSON.stringify(once), '--request-id', 'req-X')
  const again = await ok('append', nodes[2].address, JSON.stringify(once), '--request-id', 'req-X')
  assert.equal(first, '4\n')
  assert.equal(again, first)
  assert.deepEqual(await okJson('append', nodes[0].address, '"last"'), { index: 5 })

  // Each through another node: the same lines.
  const tails = await Promise.all(nodes.map((node) => ok('tail', node.address, '--from', '0', '--to', '5')))
  for (const tail of tails) assert.equal(tail, tails[0])
  const entries = entryLines(tails[0])
  assert.deepEqual(entries.map((entry) => entry.index), [0, 1, 2, 3, 4, 5])
  assert.deepEqual(entries.map((entry) => entry.data), [...appended, once, 'last'])
  for (const entry of entries) {
    assert.deepEqual(Object.keys(entry), ['index', 'term', 'id', 'data'])
    assert.ok(Number.isSafeInteger(entry.term) && entry.term >= 1)
    assert.equal(typeof entry.id, 'string')
  }
  assert.equal(entries.filter((entry) => entry.id.includes('req-X')).length, 1, 'one entry for the request id')
  assert.ok(entries[4].id.includes('req-X'), entries[4].id)
  assert.equal(new Set(entries.map((entry) => entry.id)).size, entries.length)

  const middle = entryLines(await ok('tail', nodes[2].address, '--from', '2', '--to', '3'))
  assert.deepEqual(middle, entries.slice(2, 4))

  const read = await ok('read', nodes[1].address)
  assert.match(read, /^\d+\n$/)
  assert.ok(Number(read) >= 5, `read index ${read} covers the appends`)
  const { index } = await okJson('read', nodes[2].address)
  assert.ok(index >= 5, `read index ${index}`)
})

test('transfer ADDR ID: ID leads, status shows it everywhere; the leader itself or an unknown member is refused', WITHIN, async () => {
  const view = await settledStatus(nodes[0].address)
  const from = view.leader.id
  const to = IDS.find((id) => id !== from)
  assert.equal(await ok('transfer', nodes[0].address, to), `${to} leads\n`)
  for (const node of nodes) {
    const seen = await settledStatus(node.address, (candidate) => candidate.leader.id === to)
    assert.equal(seen.node.status.leader, to)
    assert.ok(seen.leader.status.term > view.leader.status.term, 'a new term')
  }
  await waitFor(() => byId(to).states().some(({ state, leader }) => state === 'LEADER' && leader === to), STEP_MS, `${to} to print that it leads`)

  const already = await cli('transfer', nodes[1].address, to)
  assert.equal(already.status, 1)
  assert.match(already.stderr, /FLOTILLA_ALREADY_LEADER/)
  const unknown = await cli('transfer', nodes[1].address, 'ghost')
  assert.equal(unknown.status, 1)
  assert.match(unknown.stderr, /FLOTILLA_UNKNOWN_MEMBER/)

  // And back, with --json.
  assert.deepEqual(await okJson('transfer', nodes[2].address, from), { leader: from })
  await settledStatus(nodes[1].address, (candidate) => candidate.leader.id === from)
})

test('members: a node started with --join is added (a voter once caught up) and removed; set moves the configuration', WITHIN, async () => {
  const view = await settledStatus(nodes[0].address)
  const leader = view.leader.id
  const leaderAddress = view.members.addresses[leader]
  const joiner = async (id) => {
    const node = track(new ServeProcess({
      id,
      address: `127.0.0.1:${await freePort()}`,
      peers: { [leader]: leaderAddress },
      join: true,
      dataDir: path.join(base, id),
      security: ['--secret-file', secretFile]
    }))
    await node.start()
    return node
  }

  // add: the joiner dialed the leader, which knows its address; the command returns once it is a voter.
  const n4 = await joiner('n4')
  const added = memberLines(await ok('members', nodes[1].address, 'add', 'n4'))
  assert.deepEqual(added.find((member) => member.id === 'n4'), { id: 'n4', role: 'voter', address: n4.address })
  assert.equal(added.length, 4)
  const members = await okJson('members', nodes[2].address)
  assert.deepEqual([...members.voters].sort(), [...IDS, 'n4'])
  assert.equal(members.addresses.n4, n4.address)
  // Caught up: it holds what the others hold, and follows the leader.
  const { index } = await okJson('append', n4.address, '{"to":"n4 too"}')
  await settledStatus(n4.address, (candidate) => candidate.node.status.commitIndex === index &&
    candidate.members.progress.n4?.caughtUp === true && candidate.members.progress.n4.matchIndex === candidate.leader.status.raftLastIndex)
  await waitFor(() => n4.states().some((state) => state.leader === leader), STEP_MS, 'n4 to print its leader')

  const removed = memberLines(await ok('members', nodes[0].address, 'remove', 'n4'))
  assert.deepEqual(removed.map((member) => member.id).sort(), IDS)
  assert.deepEqual([...(await okJson('members', nodes[1].address)).voters].sort(), IDS)

  // promote: the learner made a voter; set: the configuration set back to the three.
  const n5 = await joiner('n5')
  const learner = memberLines(await ok('members', nodes[2].address, 'add', 'n5', '--learner'))
  assert.deepEqual(learner.find((member) => member.id === 'n5'), { id: 'n5', role: 'learner', address: n5.address })
  await waitFor(async () => (await okJson('members', nodes[0].address)).progress?.n5?.caughtUp === true, STEP_MS, 'n5 to catch up')
  const four = memberLines(await ok('members', nodes[0].address, 'promote', 'n5'))
  assert.deepEqual(four.map(({ id, role }) => `${id} ${role}`).sort(), ['n1 voter', 'n2 voter', 'n3 voter', 'n5 voter'])
  const three = memberLines(await ok('members', nodes[1].address, 'set', '--voters', 'n1,n2,n3', '--learners', ''))
  assert.deepEqual(three.map(({ id, role }) => `${id} ${role}`).sort(), ['n1 voter', 'n2 voter', 'n3 voter'])
  const same = await cli('members', nodes[1].address, 'set', '--voters', 'n1,n2,n3')
  assert.equal(same.status, 1, 'the configuration is already that')
  assert.match(same.stderr, /FLOTILLA_INVALID_ARGUMENT/)

  // The cluster still commits with its three voters.
  assert.deepEqual(await okJson('append', nodes[2].address, '"after set"'), { index: index + 1 })
})

test('members add: a joiner that dialed a follower only is added through that follower (its address "the one it dialed the cluster from")', {
  ...WITHIN
}, async () => {
  const view = await settledStatus(nodes[0].address)
  const follower = IDS.find((id) => id !== view.leader.id)
  const n6 = track(new ServeProcess({
    id: 'n6',
    address: `127.0.0.1:${await freePort()}`,
    peers: { [follower]: view.members.addresses[follower] },
    join: true,
    dataDir: path.join(base, 'n6'),
    security: ['--secret-file', secretFile]
  }))
  await n6.start()
  // The follower heard from it (its HELLO); the leader did not.
  const result = await cli('members', view.members.addresses[follower], 'add', 'n6', '--learner')
  if (result.status === 0) await ok('members', nodes[0].address, 'remove', 'n6')
  assert.equal(result.status, 0, result.stderr)
  assert.deepEqual(memberLines(result.stdout).find((member) => member.id === 'n6'), { id: 'n6', role: 'learner', address: n6.address })
})

test('exit statuses: a wrong secret or nobody listening 4, refusals 1, bad arguments 2, --help 0', WITHIN, async () => {
  const address = nodes[0].address
  for (const args of [['status', address], ['append', address, '1'], ['members', address]]) {
    const wrong = await flotilla(...args, '--secret-file', wrongSecretFile, '--timeout', '800')
    assert.equal(wrong.status, 4, `${args[0]} with a wrong secret: ${wrong.stderr}`)
    assert.match(wrong.stderr, /FLOTILLA_UNAVAILABLE/)
    assert.equal(wrong.stdout, '')
  }
  const nobody = await cli('read', `127.0.0.1:${await freePort()}`, '--timeout', '500')
  assert.equal(nobody.status, 4, nobody.stderr)

  for (const [args, code] of [
    [['transfer', address, 'ghost'], /FLOTILLA_UNKNOWN_MEMBER/],
    [['members', address, 'promote', 'ghost'], /FLOTILLA_UNKNOWN_MEMBER/],
    [['members', address, 'remove', 'ghost'], /FLOTILLA_UNKNOWN_MEMBER/],
    [['append', address, '1', '--request-id', 'x'.repeat(300)], /FLOTILLA_INVALID_ARGUMENT/]
  ]) {
    const refused = await cli(...args)
    assert.equal(refused.status, 1, `${args.join(' ')}: ${refused.stderr}`)
    assert.match(refused.stderr, code)
  }

  const missing = path.join(base, 'no-such-file')
  for (const args of [
    ['status'],
    ['status', 'not-an-address'],
    ['status', address, '--bogus'],
    ['status', address, '--timeout', '0'],
    ['status', address, '--timeout', 'soon'],
    ['read', address, '--tls-cert', secretFile],
    ['append', address],
    ['append', address, '{not json'],
    ['tail', address, '--from', 'x'],
    ['tail', address, '--to=-1'],
    ['tail', address, '--from=1.5'],
    ['transfer', address],
    ['members', address, 'frob'],
    ['members', address, 'add'],
    ['members', address, 'promote'],
    ['members', address, 'set']
  ]) {
    const usage = await cli(...args)
    assert.equal(usage.status, 2, `${args.join(' ')}: ${usage.stderr}`)
    assert.equal(usage.stdout, '')
    assert.match(usage.stderr, /^flotilla /)
    assert.equal(usage.stderr.trim().split('\n').length <= 4, true, `a short message: ${usage.stderr}`)
  }
  assert.equal((await flotilla('read', address, '--secret-file', missing)).status, 2)
  const unknown = await flotilla('nope')
  assert.equal(unknown.status, 2)
  assert.match(unknown.stderr, /^flotilla: unknown command 'nope'/)
  const tooShort = path.join(base, 'short-secret')
  writeFileSync(tooShort, 'short\n')
  assert.equal((await flotilla('status', address, '--secret-file', tooShort)).status, 2)
  assert.equal((await flotilla('status', address, '--secret-file', secretFile, '--tls-cert', secretFile, '--tls-key', secretFile, '--tls-ca', secretFile)).status, 2)

  for (const command of ['serve', 'status', 'members', 'transfer', 'append', 'tail', 'read']) {
    const help = await flotilla(command, '--help')
    assert.equal(help.status, 0, `${command} --help`)
    assert.match(help.stdout, new RegExp(`^Usage: flotilla ${command} `))
    assert.match(help.stdout, /Exit status:/)
    assert.equal(help.stderr, '')
    assert.equal((await flotilla('help', command)).stdout, help.stdout)
  }
  const main = await flotilla('--help')
  assert.equal(main.status, 0)
  for (const command of ['serve', 'status', 'members', 'transfer', 'append', 'tail', 'read']) assert.match(main.stdout, new RegExp(`^ {2}${command} `, 'm'))
})

test('arguments the client itself rejects before sending anything are usage errors (2), not refusals (1)', WITHIN, async () => {
  const address = nodes[0].address
  for (const args of [
    ['tail', address, '--from', '5', '--to', '2'],
    ['members', address, 'set', '--voters', 'n1,n1'],
    ['members', address, 'set', '--voters', ''],
    ['members', address, 'add', '']
  ]) {
    const usage = await cli(...args)
    assert.equal(usage.status, 2, `${args.join(' ')}: ${usage.stderr}`)
    assert.match(usage.stderr, /FLOTILLA_INVALID_ARGUMENT|must|needs|twice/)
  }
})

test('serve --metrics: Prometheus text at /metrics that a parser reads, whose counters move with the clients\' requests', WITHIN, async () => {
  const scrape = async () => {
    const response = await fetch(`http://${metricsAddress}/metrics`)
    assert.equal(response.status, 200)
    assert.match(response.headers.get('content-type'), /^text\/plain; version=0\.0\.4/)
    const values = {}
    for (const family of parsePrometheusTextFormat(await response.text())) {
      if (family.metrics.length === 1 && family.metrics[0].value !== undefined) values[family.name] = Number(family.metrics[0].value)
    }
    return values
  }
  const before = await scrape()
  assert.ok(before.flotilla_term >= 1, JSON.stringify(before))
  for (const family of ['flotilla_commit_index', 'flotilla_client_requests_total', 'flotilla_client_frames_refused_total']) {
    assert.equal(typeof before[family], 'number', family)
  }
  await ok('status', nodes[0].address)
  await ok('append', nodes[0].address, '"metrics"')
  const later = await scrape()
  assert.ok(later.flotilla_client_requests_total > before.flotilla_client_requests_total, 'requests counted')
  assert.ok(later.flotilla_commit_index > before.flotilla_commit_index, 'the commit index moved')
  assert.equal((await fetch(`http://${metricsAddress}/elsewhere`)).status, 404)
})

test('client-key: a client given the client key instead of the secret is served; a wrong key is refused (4)', WITHIN, async () => {
  const made = await flotilla('client-key', '--secret-file', secretFile)
  assert.equal(made.status, 0, made.stderr)
  assert.match(made.stdout, /^[0-9a-f]{64}\n$/)
  const keyFile = path.join(base, 'client-key')
  writeFileSync(keyFile, made.stdout)
  const served = await flotilla('status', nodes[0].address, '--client-key-file', keyFile, '--json')
  assert.equal(served.status, 0, served.stderr)
  assert.equal(JSON.parse(served.stdout).node.status.id, nodes[0].id)
  const wrongKeyFile = path.join(base, 'wrong-client-key')
  writeFileSync(wrongKeyFile, 'ab'.repeat(32) + '\n')
  const refused = await flotilla('status', nodes[0].address, '--client-key-file', wrongKeyFile, '--timeout', '1000')
  assert.equal(refused.status, 4, refused.stderr)
  const both = await flotilla('status', nodes[0].address, '--client-key-file', keyFile, '--secret-file', secretFile)
  assert.equal(both.status, 2, both.stderr)
})

test('a member never heard from (it never started): the two others serve status, appends and the monitor', WITHIN, async () => {
  const ids = ['u1', 'u2', 'u3']
  const ports = [await freePort(), await freePort(), await freePort()]
  const addresses = Object.fromEntries(ids.map((id, i) => [id, `127.0.0.1:${ports[i]}`]))
  const monitor = `127.0.0.1:${await freePort()}`
  const two = ids.slice(0, 2).map((id) => track(new ServeProcess({
    id,
    address: addresses[id],
    peers: Object.fromEntries(ids.filter((other) => other !== id).map((other) => [other, addresses[other]])),
    dataDir: path.join(base, id),
    security: ['--secret-file', secretFile],
    extra: id === 'u1' ? ['--monitor', monitor] : []
  })))
  await Promise.all(two.map((node) => node.start()))
  await waitFor(() => two.some((node) => node.states().some((state) => state.state === 'LEADER')), STEP_MS, 'a leader of u1 and u2')
  // u1's view names no one for u3's seat: the answers say so instead of failing.
  const status = await ok('status', addresses.u1)
  assert.match(status, /\(not heard\)\s+voter/)
  assert.match(await ok('append', addresses.u2, '{"unheard":1}'), /^\d+\s*$/)
  const response = await fetch(`http://${monitor}/cluster.json`)
  assert.equal(response.status, 200)
  const cluster = await response.json()
  assert.deepEqual(cluster.members.map((member) => member.id).sort(), ['u1', 'u2'])
  assert.equal(cluster.unheardVoters, 1)
})

test('serve --metrics holds at most 64 connections at once, and closes idle ones: a flood of them leaves the node serving', WITHIN, async () => {
  const net = await import('node:net')
  const [host, port] = [metricsAddress.slice(0, metricsAddress.lastIndexOf(':')), Number(metricsAddress.slice(metricsAddress.lastIndexOf(':') + 1))]
  const sockets = Array.from({ length: 300 }, () => {
    const socket = net.connect(port, host)
    socket.on('error', () => {})
    socket.closedByServer = false
    socket.on('close', () => { socket.closedByServer = true })
    return socket
  })
  try {
    await waitFor(() => sockets.filter((socket) => !socket.closedByServer).length <= 64, STEP_MS, 'the connections beyond 64 closed')
    assert.equal((await cli('status', nodes[0].address)).status, 0, 'n1 still serves its clients')
    // Idle ones are closed too, after 5 s.
    await waitFor(() => sockets.every((socket) => socket.closedByServer), STEP_MS, 'the idle connections closed')
  } finally {
    for (const socket of sockets) socket.destroy()
  }
  const response = await fetch(`http://${metricsAddress}/metrics`)
  assert.equal(response.status, 200)
})
