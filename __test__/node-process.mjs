// One cluster member as a child process (a fixture that answers requests over IPC, see fixtures/durable-node.cjs):
// started, killed with SIGKILL, and started again on the same dataDir; and the waits and checks of a cluster of
// them. Shared by the tests that kill processes.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, statSync, truncateSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { waitFor } from './gaggle-support.mjs'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const FIXTURE = fileURLToPath(new URL('./fixtures/durable-node.cjs', import.meta.url))
// No single step of a test of processes (an election, a restart, a few hundred appends) takes anywhere near this.
export const STEP_MS = 20_000

// One cluster member as a child process that is killed and started again on the same dataDir.
export class NodeProcess {
  // `options`: the fixture's (DURABLE_NODE_OPTIONS); `fsyncLog`: where the engine notes what it fsynced (optional).
  constructor ({ id, dataDir, fsyncLog, options }) {
    this.id = id
    this.dataDir = dataDir
    this.fsyncLog = fsyncLog
    // Bytes written but never fsynced that power cuts took away: proof that the cuts cut something.
    this.bytesCut = 0
    this.options = { id, dataDir, ...options }
    this.child = null
    this.incarnation = 0
    // Every payload this node acknowledged, in the order it did: [payload, round].
    this.acked = []
    // What each start recovered: {incarnation, round, digest of the log, status}.
    this.recoveries = []
    this.problems = []
    this.requests = new Map()
    this.nextRequest = 0
    this.stderr = ''
    this.round = 0
  }

  get alive () { return this.child !== null }

  // Starts the process; resolves once it reported what it recovered.
  start () {
    this.incarnation++
    const child = spawn(process.execPath, [FIXTURE], {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      env: {
        ...process.env,
        DURABLE_NODE_OPTIONS: JSON.stringify({ ...this.options, incarnation: this.incarnation }),
        ...(this.fsyncLog === undefined ? {} : { FLOTILLA_TEST_FSYNC_LOG: this.fsyncLog })
      }
    })
    this.child = child
    const incarnation = this.incarnation
    child.stderr.on('data', (chunk) => { this.stderr = (this.stderr + chunk).slice(-4000) })
    child.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
    child.exited.then(({ code, signal }) => {
      if (!child.killedByTest && !child.closing && !(child.mayKillItself && signal === 'SIGKILL')) this.problems.push(`${this.id}#${incarnation} exited by itself (${code ?? signal}): ${this.stderr}`)
      for (const [rid, pending] of this.requests) {
        if (pending.child === child) {
          this.requests.delete(rid)
          pending.reject(new Error(`${this.id} exited before it answered ${pending.type}`))
        }
      }
    })
    return new Promise((resolve, reject) => {
      child.on('message', (message) => {
        switch (message.type) {
          case 'ready':
            this.recoveries.push({ incarnation, round: this.round, digest: digest(message.log), status: message.status })
            return resolve(message)
          case 'refused':
            this.problems.push(`${this.id}#${incarnation} refused to start: ${message.message}`)
            return reject(new Error(`${this.id} refused to start: ${message.message}`))
          case 'acked':
            return this.acked.push([message.payload, this.round])
          case 'fatal':
            return this.problems.push(`${this.id}#${incarnation}: ${message.message}`)
          default: {
            const pending = this.requests.get(message.rid)
            if (pending !== undefined) {
              this.requests.delete(message.rid)
              pending.resolve(message)
            }
          }
        }
      })
      child.exited.then(({ code, signal }) => reject(new Error(`${this.id} exited (${code ?? signal}) before it was ready: ${this.stderr}`)))
    })
  }

  // `powerCut`: what was not fsynced is lost too (see the top of the file).
  async kill ({ powerCut = false } = {}) {
    const child = this.child
    if (child === null) return
    this.child = null
    child.killedByTest = true
    child.kill('SIGKILL')
    // The dataDir is only opened again once this process is gone.
    await child.exited
    if (powerCut) this.cutToFsynced()
  }

  // Cuts every segment to the length its last fsync covered, from the lines "<segment path> <length>" the engine
  // wrote (a last line without its newline was being written when the process died: it does not count).
  cutToFsynced () {
    const synced = new Map()
    const text = existsSync(this.fsyncLog) ? readFileSync(this.fsyncLog, 'utf8') : ''
    for (const line of text.split('\n').slice(0, -1)) {
      const at = line.lastIndexOf(' ')
      synced.set(path.basename(line.slice(0, at)), Number(line.slice(at + 1)))
    }
    if (!existsSync(this.dataDir)) return
    for (const name of readdirSync(this.dataDir).filter((name) => name.endsWith('.wal'))) {
      const file = path.join(this.dataDir, name)
      const length = synced.get(name) ?? 0
      const size = statSync(file).size
      if (size > length) {
        truncateSync(file, length)
        this.bytesCut += size - length
      }
    }
  }

  // Sends a request ({type, ...fields}) and resolves with the answer.
  request (type, fields = {}) {
    const child = this.child
    if (child === null) return Promise.reject(new Error(`${this.id} is not running`))
    const rid = ++this.nextRequest
    return new Promise((resolve, reject) => {
      this.requests.set(rid, { resolve, reject, child, type })
      child.send({ ...fields, type, rid })
    })
  }

  // Call before telling the fixture to kill itself at some moment: resolves once it did (with SIGKILL), and the
  // process is then gone, to be started again.
  async expectSelfKill () {
    const child = this.child
    child.mayKillItself = true
    const { signal } = await child.exited
    assert.equal(signal, 'SIGKILL', `${this.id} killed itself`)
    if (this.child === child) this.child = null
  }

  // Closes the node and lets the process end by itself.
  async close () {
    const child = this.child
    child.closing = true
    await this.request('close')
    const { code, signal } = await child.exited
    this.child = null
    assert.equal(code, 0, `${this.id} exits cleanly after close (${code ?? signal}): ${this.stderr}`)
  }
}

// A log in little memory (a long run restarts nodes hundreds of times): for each entry a 53-bit hash of the entry
// ({term, id, data}), and one of the whole log up to it.
export function digest (log) {
  const entries = new Float64Array(log.length)
  const prefixes = new Float64Array(log.length)
  let prefixHigh = 0x811c9dc5
  let prefixLow = 0x9747b28c
  for (const [q, { term, id, data }] of log.entries()) {
    const text = `${term}|${id}|${JSON.stringify(data)}`
    let high = 0x811c9dc5
    let low = 0x01000193
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i)
      high = Math.imul(high ^ c, 16777619)
      low = Math.imul(low ^ c, 0x5bd1e995)
    }
    entries[q] = (high >>> 0) * 2 ** 21 + ((low >>> 0) >>> 11)
    prefixHigh = Math.imul(prefixHigh ^ high, 16777619) ^ (prefixHigh >>> 13)
    prefixLow = Math.imul(prefixLow ^ low, 0x5bd1e995) ^ (prefixLow >>> 15)
    prefixes[q] = (prefixHigh >>> 0) * 2 ** 21 + ((prefixLow >>> 0) >>> 11)
  }
  return { entries, prefixes }
}

// The status of each node running.
export async function statuses (nodes) {
  const alive = nodes.filter((node) => node.alive)
  const answers = await Promise.all(alive.map((node) => node.request('status')))
  return answers.map((answer, i) => ({ node: alive[i], status: answer.status }))
}

// The node that leads (in the highest term), once one does.
export async function leaderAmong (nodes) {
  let leader = null
  await waitFor(async () => {
    const leaders = (await statuses(nodes)).filter(({ status }) => status.state === 'LEADER').sort((a, b) => b.status.term - a.status.term)
    leader = leaders[0]?.node ?? null
    return leader !== null
  }, STEP_MS, 'a leader')
  return leader
}

// How many appends the nodes acknowledged so far; a wait for `count` more.
export const acknowledged = (nodes) => nodes.reduce((sum, node) => sum + node.acked.length, 0)
export const progress = (nodes, count, what) => {
  const target = acknowledged(nodes) + count
  return waitFor(() => acknowledged(nodes) >= target, STEP_MS, `${count} more acknowledged appends ${what}`)
}

// Appends stop; `members` converge to one log holding every append any of `nodes` acknowledged, exactly once.
export async function assertConverged (nodes, members = nodes) {
  await Promise.all(nodes.filter((node) => node.alive).map((node) => node.request('stop')))
  let answers
  await waitFor(async () => {
    answers = await Promise.all(members.map((node) => node.request('log')))
    const [first] = answers
    return answers.every((answer) => answer.commitIndex === first.commitIndex && answer.log.length === first.log.length && answer.commitIndex === answer.log.length - 1)
  }, STEP_MS, 'the nodes to converge')
  const logs = answers.map((answer) => JSON.stringify(answer.log))
  for (const [i, log] of logs.entries()) assert.ok(log === logs[0], `${members[i].id} has the same log as ${members[0].id}`)
  const payloads = answers[0].log.map((entry) => entry.data)
  assert.equal(new Set(payloads).size, payloads.length, 'every payload is in the log once')
  const committed = new Set(payloads)
  const acked = nodes.flatMap((node) => node.acked.map(([payload]) => payload))
  const lost = acked.filter((payload) => !committed.has(payload))
  assert.deepEqual(lost.slice(0, 10), [], `${lost.length} of ${acked.length} acknowledged appends are lost`)
  assert.deepEqual(nodes.flatMap((node) => node.problems), [])
  return { acked: acked.length, entries: payloads.length }
}
