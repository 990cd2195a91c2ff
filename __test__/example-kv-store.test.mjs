// The example service (examples/kv-store): 3 processes over tcp with data directories and snapshots. Its
// walkthrough writes through every member, kills the leader with SIGKILL, keeps writing, and reads every
// acknowledged write back linearizably from each survivor; the killed member restarts and catches up. And the
// HTTP API: put, linearizable and stale gets, delete, and a member added through it, then removed by the flotilla
// CLI on the members' raft port.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const require = createRequire(import.meta.url)
const { walkthrough } = require('../examples/kv-store/walkthrough')
const { members, leaderOf } = require('../examples/kv-store/cluster')

test('kv-store: the leader killed mid-writes; linearizable reads on every survivor see every acknowledged write', { timeout: 120_000 }, async (t) => {
  const lines = []
  const { acknowledged, reads } = await walkthrough({ keys: 100, say: (line) => lines.push(line) })
  assert.equal(acknowledged, 100)
  for (const [member, seen] of Object.entries(reads)) assert.equal(seen, acknowledged, `${member}: ${lines.join('\n')}`)
  t.diagnostic(lines.join(' | '))
})

test('kv-store HTTP API: put, get (linearizable and ?stale), delete, 404, a member added', { timeout: 60_000 }, async (t) => {
  const baseDir = mkdtempSync(path.join(tmpdir(), 'kv-api-'))
  const all = await members(['a', 'b', 'c'], baseDir)
  t.after(async () => {
    await Promise.all(all.map((member) => member.stop()))
    rmSync(baseDir, { recursive: true, force: true })
  })
  await Promise.all(all.map((member) => member.start(all.filter((other) => other !== member))))
  let leader = null
  for (let tries = 0; tries < 200 && leader === null; tries++) {
    leader = await leaderOf(all)
    if (leader === null) await new Promise((resolve) => setTimeout(resolve, 50))
  }
  const follower = all.find((member) => member !== leader)
  assert.equal((await follower.request('PUT', '/keys/colour', 'blue')).status, 200, 'a write to a follower')
  assert.deepEqual((await leader.request('GET', '/keys/colour')).body, { key: 'colour', value: 'blue' })
  assert.deepEqual((await follower.request('GET', '/keys/colour')).body, { key: 'colour', value: 'blue' }, 'read-your-writes on any member')
  assert.equal((await leader.request('DELETE', '/keys/colour')).status, 200)
  assert.equal((await follower.request('GET', '/keys/colour')).status, 404)
  assert.equal((await leader.request('GET', '/keys/nothing?stale')).status, 404)
  assert.equal((await leader.request('POST', '/keys/colour')).status, 405)
  assert.equal((await leader.request('GET', '/status')).body.state, 'LEADER')

  // A fourth member started with --join knows one follower only; added through that follower's API, it votes.
  const [joiner] = await members(['d'], baseDir)
  all.push(joiner)
  await joiner.start([follower], { join: true })
  // Until d has dialed its seed, the seed does not know d's address, and says so (400).
  let added
  for (let tries = 0; tries < 50; tries++) {
    added = await follower.request('PUT', '/members/d')
    if (added.status !== 400) break
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  assert.equal(added.status, 200, JSON.stringify(added.body))
  assert.ok(added.body.voters.includes('d'), JSON.stringify(added.body))
  const fromD = await joiner.request('PUT', '/keys/from-d', 'hello')
  if (fromD.status !== 200) {
    const status = (await joiner.request('GET', '/status')).body
    assert.fail(`d's write: ${JSON.stringify(fromD.body)}; d: ${JSON.stringify({ state: status.state, leader: status.leader, term: status.term, transport: status.transport, dropped: status.dropped, pending: status.pendingProposals })}`)
  }
  assert.deepEqual((await leader.request('GET', '/keys/from-d')).body, { key: 'from-d', value: 'hello' })

  // The members serve flotilla's clients on their raft port: the CLI removes d there, and the leader's view agrees.
  const removed = await flotillaCli('members', follower.raft, 'remove', 'd', '--cluster', 'kv-store', '--json')
  assert.deepEqual(JSON.parse(removed).voters.sort(), ['a', 'b', 'c'])
  assert.deepEqual((await leader.request('GET', '/members')).body.voters.sort(), ['a', 'b', 'c'])
})

// Runs the flotilla CLI; resolves with its stdout, fails the test on a non-zero exit.
function flotillaCli (...args) {
  const bin = fileURLToPath(new URL('../bin/flotilla.js', import.meta.url))
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [bin, ...args], (error, stdout, stderr) => error ? reject(new Error(`flotilla ${args.join(' ')}: ${stderr}`)) : resolve(stdout))
  })
}
