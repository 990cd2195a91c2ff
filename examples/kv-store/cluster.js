// Starts and stops kv-store members as child processes on this machine (the walkthrough script and the example's
// test use it): each with its own free ports and data directory.
'use strict'

const { fork } = require('node:child_process')
const { createServer } = require('node:net')
const path = require('node:path')

const SERVER = path.join(__dirname, 'server.js')

function freePort () {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

class Member {
  constructor ({ id, raft, http, dataDir }) {
    Object.assign(this, { id, raft, http, dataDir })
    this.child = null
  }

  get url () { return `http://127.0.0.1:${this.http}` }

  // Starts the process; resolves once its HTTP API listens.
  start (peers, { join = false } = {}) {
    const args = ['--id', this.id, '--raft', this.raft, '--http', String(this.http), '--data-dir', this.dataDir,
      '--peers', peers.map((peer) => `${peer.id}=${peer.raft}`).join(',')]
    if (join) args.push('--join')
    this.child = fork(SERVER, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    const child = this.child
    return new Promise((resolve, reject) => {
      child.once('message', () => resolve(this))
      child.once('exit', (code, signal) => reject(new Error(`${this.id} exited (${code ?? signal}) before it listened`)))
    })
  }

  // SIGKILL: a crash. SIGTERM: the member closes its node (a leader hands over first) and exits.
  kill () { return this._end('SIGKILL') }
  stop () { return this._end('SIGTERM') }

  _end (signal) {
    if (this.child === null) return Promise.resolve()
    const child = this.child
    this.child = null
    return new Promise((resolve) => {
      child.once('exit', () => resolve())
      child.kill(signal)
    })
  }

  async request (method, route, body, headers = {}) {
    const response = await fetch(this.url + route, { method, body, headers, signal: AbortSignal.timeout(10_000) })
    return { status: response.status, body: await response.json() }
  }
}

/** `ids.length` members in `baseDir` (each its own data directory), not started. */
async function members (ids, baseDir) {
  const made = []
  for (const id of ids) {
    made.push(new Member({ id, raft: `127.0.0.1:${await freePort()}`, http: await freePort(), dataDir: path.join(baseDir, id) }))
  }
  return made
}

/** The member that leads, by asking each running one for its status (null when none does). */
async function leaderOf (running) {
  for (const member of running) {
    try {
      const { body } = await member.request('GET', '/status')
      if (body.state === 'LEADER') return member
    } catch {
      // not answering: not the leader
    }
  }
  return null
}

module.exports = { members, leaderOf }
