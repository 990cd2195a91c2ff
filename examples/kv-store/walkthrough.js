// The kv-store in action on this machine: starts 3 members, writes through all of them, kills the leader with
// SIGKILL, keeps writing, and reads every key back linearizably from each member still up; then restarts the
// killed member, which catches up. `node examples/kv-store/walkthrough.js [KEYS]` (default 200).
'use strict'

const { mkdtempSync, rmSync } = require('node:fs')
const { tmpdir } = require('node:os')
const path = require('node:path')
const { members, leaderOf } = require('./cluster')

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

async function waitForLeader (running) {
  for (let tries = 0; tries < 200; tries++) {
    const leader = await leaderOf(running)
    if (leader !== null) return leader
    await sleep(50)
  }
  throw new Error('no leader after 10 s')
}

/** Runs the walkthrough; `say` prints a line (silent in the test). Resolves with what was written and read. */
async function walkthrough ({ keys = 200, say = console.log } = {}) {
  const baseDir = mkdtempSync(path.join(tmpdir(), 'kv-store-'))
  const all = await members(['a', 'b', 'c'], baseDir)
  const acknowledged = new Map()
  try {
    await Promise.all(all.map((member) => member.start(all.filter((other) => other !== member))))
    const leader = await waitForLeader(all)
    say(`3 members up; ${leader.id} leads`)
    // Writes go to every member in turn: a follower passes them to the leader. A retried write keeps its id.
    const write = async (member, i) => {
      const key = `key-${i}`
      for (let attempt = 0; attempt < 20; attempt++) {
        try {
          const { status } = await member.request('PUT', `/keys/${key}`, `value-${i}`, { 'x-request-id': `put-${i}` })
          if (status === 200) return acknowledged.set(key, `value-${i}`)
        } catch {
          // the member is down or timed out: try the next one
        }
        member = all[(all.indexOf(member) + 1) % all.length]
        await sleep(50)
      }
      throw new Error(`${key} was never acknowledged`)
    }
    const half = Math.floor(keys / 2)
    for (let i = 0; i < half; i++) await write(all[i % 3], i)
    say(`${half} keys written; killing the leader ${leader.id} (SIGKILL)`)
    await leader.kill()
    const survivors = all.filter((member) => member !== leader)
    for (let i = half; i < keys; i++) await write(survivors[i % 2], i)
    const next = await waitForLeader(survivors)
    say(`${keys - half} more keys written; ${next.id} leads now`)
    const reads = {}
    for (const member of survivors) {
      let seen = 0
      for (const [key, value] of acknowledged) {
        const { status, body } = await member.request('GET', `/keys/${key}`)
        if (status === 200 && body.value === value) seen++
      }
      reads[member.id] = seen
      say(`linearizable reads on ${member.id}: ${seen} of ${acknowledged.size} acknowledged writes seen`)
    }
    await leader.start(all.filter((other) => other !== leader))
    let caughtUp = 0
    for (let tries = 0; tries < 100 && caughtUp < acknowledged.size; tries++) {
      caughtUp = 0
      for (const [key, value] of acknowledged) {
        const { status, body } = await leader.request('GET', `/keys/${key}?stale`)
        if (status === 200 && body.value === value) caughtUp++
      }
      if (caughtUp < acknowledged.size) await sleep(100)
    }
    say(`${leader.id} restarted from its data directory and caught up: ${caughtUp} of ${acknowledged.size} keys`)
    reads[`${leader.id} (restarted, stale reads)`] = caughtUp
    return { acknowledged: acknowledged.size, reads }
  } finally {
    await Promise.all(all.map((member) => member.stop()))
    rmSync(baseDir, { recursive: true, force: true })
  }
}

if (require.main === module) {
  walkthrough({ keys: Number(process.argv[2] || 200) }).catch((error) => {
    console.error(error.message)
    process.exitCode = 1
  })
}

module.exports = { walkthrough }
