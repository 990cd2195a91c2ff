// gaggle 2.1.4's own test suite, unchanged, against flotilla: each of its files (as the gaggle package ships them,
// run with tap 5 as gaggle's `npm test` did) with its requires of gaggle turned to flotilla's same paths
// (fixtures/gaggle-own-suite-redirect.cjs). Its redis tests use a redis-server on the default port, 6379: this
// file starts one there when nothing listens on it (and stops it), or uses the one that does.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { readdirSync, statSync } from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const require = createRequire(import.meta.url)
const repo = path.join(path.dirname(fileURLToPath(import.meta.url)), '..')
const gaggleRoot = path.dirname(require.resolve('gaggle/package.json', { paths: [repo] }))
const redirect = path.join(repo, '__test__', 'fixtures', 'gaggle-own-suite-redirect.cjs')
const REDIS_PORT = 6379

function testFiles (dir) {
  return readdirSync(dir).sort().flatMap((name) => {
    const file = path.join(dir, name)
    if (statSync(file).isDirectory()) return testFiles(file)
    return name.endsWith('.js') ? [file] : []
  })
}

function listening (port) {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1')
    socket.once('connect', () => { socket.destroy(); resolve(true) })
    socket.once('error', () => resolve(false))
  })
}

let redis = null
before(async () => {
  if (await listening(REDIS_PORT)) return
  assert.ok(!spawnSync('redis-server', ['--version']).error,
    'redis-server is not installed, and gaggle\'s redis tests need a real one on port 6379: install it ' +
    '(e.g. apt-get install -y redis-server) and run the tests again')
  redis = spawn('redis-server', ['--port', String(REDIS_PORT), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: ['ignore', 'pipe', 'inherit'] })
  await new Promise((resolve, reject) => {
    let output = ''
    redis.once('exit', (code) => reject(new Error(`redis-server exited with ${code}:\n${output}`)))
    redis.stdout.on('data', (chunk) => {
      output += chunk
      if (output.includes('Ready to accept connections')) resolve()
    })
  })
  redis.removeAllListeners('exit')
  redis.stdout.resume()
})

after(async () => {
  if (redis === null) return
  const exited = new Promise((resolve) => redis.once('exit', resolve))
  redis.kill('SIGTERM')
  await exited
})

// tap's output: a line per assertion, `ok` or `not ok`, and a plan per test.
function run (file) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['-r', redirect, file], { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (chunk) => { output += chunk })
    child.stderr.on('data', (chunk) => { output += chunk })
    child.once('exit', (code, signal) => resolve({ code, signal, output }))
  })
}

const files = testFiles(path.join(gaggleRoot, 'test'))

test('gaggle\'s own suite is there to run: its seven files', () => {
  assert.equal(files.length, 7, files.join(', '))
})

for (const file of files) {
  test(`gaggle's own ${path.relative(gaggleRoot, file)} passes against flotilla`, { timeout: 120_000 }, async () => {
    const { code, signal, output } = await run(file)
    const failed = output.split('\n').filter((line) => /^\s*not ok\b/.test(line))
    const passed = output.split('\n').filter((line) => /^\s*ok\b/.test(line))
    assert.deepEqual(failed, [], output)
    assert.equal(code, 0, `exit ${code} (${signal}):\n${output}`)
    assert.ok(passed.length > 0, `no assertion ran:\n${output}`)
  })
}
