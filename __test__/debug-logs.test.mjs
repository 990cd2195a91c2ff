// The logs (npm `debug`, namespaces flotilla:elections, :membership, :snapshots, :transport, :storage): a child
// process runs a small cluster with DEBUG=flotilla:* and prints what each namespace tells; without DEBUG it
// prints nothing at all.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const FIXTURE = fileURLToPath(new URL('./fixtures/logging-cluster.cjs', import.meta.url))

// Runs the fixture with `debug` as the DEBUG variable (undefined: none); resolves with its output and exit code.
function runCluster (debug) {
  const env = { ...process.env }
  delete env.DEBUG
  if (debug !== undefined) env.DEBUG = debug
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [FIXTURE], { env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk) => { stdout += chunk })
    child.stderr.on('data', (chunk) => { stderr += chunk })
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

test('with DEBUG=flotilla:* each namespace tells what it saw', { timeout: 60_000 }, async () => {
  const { code, stdout, stderr } = await runCluster('flotilla:*')
  assert.equal(code, 0, stderr)
  assert.equal(stdout, 'done\n')
  const lines = stderr.split('\n')
  const linesOf = (namespace) => lines.filter((line) => line.includes(`flotilla:${namespace} `))
  const elections = linesOf('elections')
  assert.ok(elections.some((line) => /a: LEADER in term \d+/.test(line)), stderr)
  assert.ok(elections.some((line) => /b: leader a in term \d+/.test(line)), 'a follower learns the leader')
  assert.ok(linesOf('membership').some((line) => /a: voters [abc],[abc],[abc], learners -/.test(line)), stderr)
  assert.ok(linesOf('snapshots').some((line) => /a: snapshot at index \d+ taken: \d+ bytes of JSON/.test(line)), stderr)
  const transport = linesOf('transport')
  assert.ok(transport.some((line) => /a: listening on 127\.0\.0\.1:\d+/.test(line)), stderr)
  assert.ok(transport.some((line) => /c: transport closed/.test(line)), stderr)
  const storage = linesOf('storage')
  assert.ok(storage.some((line) => /a: opened .*flotilla-logs-.*: term 0/.test(line)), stderr)
  assert.ok(storage.some((line) => /a: storage closed/.test(line)), stderr)
  for (const line of storage) assert.match(line, /flotilla:storage a: /, 'b and c keep nothing')
})

test('with DEBUG naming one namespace only that one prints', { timeout: 60_000 }, async () => {
  const { code, stderr } = await runCluster('flotilla:elections')
  assert.equal(code, 0, stderr)
  const printed = stderr.split('\n').filter((line) => line !== '')
  assert.ok(printed.length > 0)
  for (const line of printed) assert.match(line, /flotilla:elections /)
})

test('without DEBUG nothing is printed', { timeout: 60_000 }, async () => {
  const { code, stdout, stderr } = await runCluster(undefined)
  assert.equal(code, 0, stderr)
  assert.equal(stdout, 'done\n')
  assert.equal(stderr, '')
})
