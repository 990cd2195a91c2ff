// A process that uses flotilla ends by itself once every node is closed: close() releases the native clock,
// the channel and every timer, so callers need no process.exit().
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const FIXTURE = fileURLToPath(new URL('./fixtures/gaggle-exit.cjs', import.meta.url))
const LIMIT_MS = 8000

// Runs `args` with node; resolves {code, signal, stdout, stderr, ms}. A child still running after LIMIT_MS is
// killed and reported as such: it would have hung.
function runNode (args) {
  return new Promise((resolve, reject) => {
    const started = Date.now()
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk) => { stdout += chunk })
    child.stderr.on('data', (chunk) => { stderr += chunk })
    let killed = false
    const timer = setTimeout(() => {
      killed = true
      child.kill('SIGKILL')
    }, LIMIT_MS)
    child.once('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    child.once('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr, killed, ms: Date.now() - started })
    })
  })
}

function assertExitedByItself (result) {
  assert.equal(result.killed, false, `the process did not end within ${LIMIT_MS} ms:\n${result.stdout}${result.stderr}`)
  assert.equal(result.code, 0, result.stderr)
  assert.equal(result.signal, null)
}

test('a script that builds 3 nodes, appends and closes them all exits on its own', { timeout: 20_000 }, async () => {
  const result = await runNode([FIXTURE])
  assertExitedByItself(result)
  const summary = JSON.parse(result.stdout)
  assert.equal(summary.pong, 'pong')
  assert.equal(summary.committed.length, 3)
  for (const index of summary.committed) assert.ok(index >= 2, `committed ${summary.committed}`)
  assert.ok(summary.pending === undefined || summary.pending === 'The node was closed before the entry was committed')
})

test('closing nodes right after creating them, before any election, lets the process exit', { timeout: 20_000 }, async () => {
  const script = `
    const gaggle = require('./')
    const nodes = ['a', 'b', 'c'].map((id) => gaggle({ id, channel: { name: 'memory', namespace: 'x' }, clusterSize: 3,
      electionTimeout: { min: 40, max: 80 }, heartbeatInterval: 10 }))
    const pending = nodes[0].append('never').catch((e) => e.message)
    Promise.all(nodes.map((n) => n.close())).then(() => pending).then((m) => console.log(m))
  `
  const result = await runNode(['-e', script])
  assertExitedByItself(result)
  assert.equal(result.stdout.trim(), 'The node was closed before the entry was committed')
})

test('a node that never saw a leader, with calls pending without timeout, exits after close', { timeout: 20_000 }, async () => {
  const script = `
    const gaggle = require('./')
    const node = gaggle({ id: 'alone', channel: { name: 'memory' }, clusterSize: 5,
      electionTimeout: { min: 40, max: 80 }, heartbeatInterval: 10, rpc: { f (cb) { cb(null) } } })
    const calls = [node.append('x'), node.dispatchOnLeader('f', [])].map((p) => p.catch((e) => e.message))
    setTimeout(() => node.close(() => Promise.all(calls).then((m) => console.log(JSON.stringify(m)))), 200)
  `
  const result = await runNode(['-e', script])
  assertExitedByItself(result)
  assert.deepEqual(JSON.parse(result.stdout), [
    'The node was closed before the entry was committed',
    'The node was closed before the rpc method returned'
  ])
})
