// The live monitor of `flotilla serve --monitor` as a browser shows it: three `flotilla serve` processes (each its
// own node, as a user runs them), the page of a follower's monitor open in headless Chromium (puppeteer-core and
// Debian's chromium). It shows the three members and the leader; once the leader is killed with SIGKILL, the same
// page (no reload) shows the new leader and the killed member as unreachable; once the monitored node itself is
// killed, it says that the monitor cannot be reached. /cluster.json is checked directly too.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePorts, waitFor } from './gaggle-support.mjs'

const BIN = fileURLToPath(new URL('../bin/flotilla.js', import.meta.url))
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const HAVE_CHROMIUM = existsSync(CHROMIUM)
// Without chromium the test is skipped on a developer's machine, and fails in CI (.ci/run installs it).
const SKIP = HAVE_CHROMIUM || process.env.CI ? false : `${CHROMIUM} is not installed: apt-get install chromium (Debian's package) to run this test`
const IDS = ['a', 'b', 'c']
const STEP_MS = 20_000

let base = null
let browser = null
const servers = []

after(async () => {
  if (browser !== null) await browser.close().catch(() => {})
  await Promise.all(servers.map((server) => server.kill()))
  if (base !== null) rmSync(base, { recursive: true, force: true })
})

// One `flotilla serve` process; `state` is what its last "flotilla serve: STATE term N leader ID" line said.
class Serve {
  constructor (id, args) {
    this.id = id
    this.output = ''
    this.state = null
    this.child = spawn(process.execPath, [BIN, 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    this.exited = new Promise((resolve) => this.child.once('exit', resolve))
    this.child.stderr.on('data', (chunk) => { this.output += chunk })
    let partial = ''
    this.child.stdout.on('data', (chunk) => {
      this.output += chunk
      const lines = (partial + chunk).split('\n')
      partial = lines.pop()
      for (const line of lines) {
        const match = /^flotilla serve: (LEADER|FOLLOWER|CANDIDATE) term (\d+) leader (\S+)$/.exec(line)
        if (match !== null) this.state = { role: match[1], term: Number(match[2]), leader: match[3] === 'none' ? null : match[3] }
      }
    })
  }

  get alive () { return this.child.exitCode === null && this.child.signalCode === null }

  async kill () {
    if (this.alive) this.child.kill('SIGKILL')
    await this.exited
  }
}

const outputs = () => servers.map((server) => `--- ${server.id}:\n${server.output}`).join('\n')

// The leader every running process agrees on, once they do.
function agreedLeader () {
  const running = servers.filter((server) => server.alive)
  const leaders = running.filter((server) => server.state?.role === 'LEADER')
  if (leaders.length !== 1) return null
  const { id } = leaders[0]
  return running.every((server) => server.state?.leader === id) ? id : null
}

test('the monitor page follows the cluster through the loss of its leader', { skip: SKIP, timeout: 120_000 }, async () => {
  assert.ok(HAVE_CHROMIUM, `${CHROMIUM} is not installed: .ci/run installs it (apt-get install chromium)`)
  const { default: puppeteer } = await import('puppeteer-core')

  base = mkdtempSync(path.join(tmpdir(), 'flotilla-monitor-'))
  const secretFile = path.join(base, 'secret')
  writeFileSync(secretFile, randomBytes(16).toString('hex')) // 32 bytes
  const chosen = await freePorts(2 * IDS.length)
  const ports = Object.fromEntries(IDS.map((id, i) => [id, chosen[i]]))
  const monitors = Object.fromEntries(IDS.map((id, i) => [id, chosen[IDS.length + i]]))
  for (const id of IDS) {
    const peers = IDS.filter((other) => other !== id).map((other) => `${other}=127.0.0.1:${ports[other]}`).join(',')
    servers.push(new Serve(id, [
      '--id', id, '--listen', `127.0.0.1:${ports[id]}`, '--peers', peers, '--data-dir', path.join(base, id),
      '--secret-file', secretFile, '--election-timeout', '150', '--heartbeat', '30', '--monitor', `127.0.0.1:${monitors[id]}`
    ]))
  }
  const leader = await waitFor(agreedLeader, STEP_MS, 'the three nodes to agree on a leader').catch((error) => {
    throw new Error(`${error.message}\n${outputs()}`)
  })
  const watched = servers.find((server) => server.id !== leader)
  const url = `http://127.0.0.1:${monitors[watched.id]}/`

  // The data behind the page, and what the monitor does not serve.
  const cluster = await (await fetch(url + 'cluster.json')).json()
  assert.equal(cluster.monitoredBy, watched.id)
  assert.equal(cluster.leader, leader)
  assert.deepEqual(cluster.members.map((member) => [member.id, member.role, member.reachable]), IDS.map((id) => [id, 'voter', true]))
  for (const member of cluster.members) {
    assert.equal(member.address, `127.0.0.1:${ports[member.id]}`)
    assert.equal(member.state, member.id === leader ? 'LEADER' : 'FOLLOWER')
    assert.equal(member.leader, leader)
    assert.equal(typeof member.lag, 'number', `${member.id}'s lag is known`)
  }
  assert.ok(cluster.elections.some((election) => election.leader === leader && election.term === cluster.term), JSON.stringify(cluster.elections))
  assert.equal((await fetch(url + 'nope')).status, 404)

  browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage']
  })
  const page = await browser.newPage()
  const pageErrors = []
  page.on('pageerror', (error) => pageErrors.push(error.message))
  await page.goto(url)

  await page.waitForFunction(
    (leader) => document.querySelectorAll('tr[data-member]').length === 3 && document.getElementById('leader').textContent === leader,
    { timeout: 10_000 }, leader)
  const rows = await page.$$eval('tr[data-member]', (trs) => trs.map((tr) => [tr.dataset.member, tr.dataset.state]))
  assert.deepEqual(rows, IDS.map((id) => [id, id === leader ? 'LEADER' : 'FOLLOWER']))

  // The leader dies; the page, left open as it is, follows.
  await page.evaluate(() => { window.notReloaded = true })
  await servers.find((server) => server.id === leader).kill()
  const shown = await page.waitForFunction((old) => {
    const now = document.getElementById('leader').textContent
    const killed = document.querySelector(`tr[data-member="${old}"]`)
    return now !== old && now !== 'none' && killed !== null && killed.dataset.reachable === 'false' && now
  }, { timeout: 10_000 }, leader).catch(async (error) => {
    const body = await page.evaluate(() => document.body.innerText).catch(() => '(no page)')
    throw new Error(`${error.message}\nthe page shows:\n${body}\n${outputs()}`)
  })
  const newLeader = await shown.jsonValue()
  assert.notEqual(newLeader, leader)
  assert.ok(IDS.includes(newLeader), `"${newLeader}" is a member`)
  assert.equal(await page.evaluate(() => window.notReloaded), true, 'the page was not reloaded')
  assert.equal(await page.$eval(`tr[data-member="${leader}"] td[data-field="reachable"]`, (td) => td.textContent), 'no')
  assert.equal(await page.$eval(`tr[data-member="${newLeader}"]`, (tr) => tr.dataset.state), 'LEADER')
  await waitFor(agreedLeader, STEP_MS, 'the survivors to agree on the new leader')
  assert.equal(agreedLeader(), newLeader, 'the page shows the leader the nodes report')
  assert.ok(await page.$$eval('#elections li', (items) => items.length) >= 2, 'the history shows both elections')

  // The monitored node itself dies: the page says so.
  await watched.kill()
  await page.waitForFunction(() => document.body.classList.contains('offline') && document.getElementById('problem').offsetParent !== null,
    { timeout: 10_000 })
  assert.deepEqual(pageErrors, [])
})
