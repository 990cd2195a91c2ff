// The gaggle face's call shapes: append/dispatchOnLeader/close argument forms, and promise or callback results.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { spawnSync } from 'node:child_process'

const require = createRequire(import.meta.url)
const modulePath = require.resolve('../lib/gaggle/call-args.js')
const { parseAppendArgs, parseDispatchArgs, parseCloseArgs, settle, settleSpread } = require(modulePath)

const callback = () => {}
const other = () => {}

// Resolves with the arguments of the callback's first call, and fails on a second call.
function callbackCall () {
  let calls = 0
  let resolveArgs
  const args = new Promise((resolve) => { resolveArgs = resolve })
  const cb = function () {
    calls += 1
    assert.equal(calls, 1, 'callback called once')
    resolveArgs([...arguments])
  }
  return { cb, args }
}

test('append: timeout and callback forms', () => {
  const forms = [
    [[], null, null],
    [[undefined], null, null],
    [[undefined, undefined], null, null],
    [[100], 100, null],
    [[0], 0, null],
    [[2.5], 2.5, null],
    [[-0.5], 0, null], // gaggle armed a timer for anything above -1
    [[-1], null, null],
    [[-10], null, null],
    [[NaN], null, null],
    [[Infinity], null, null],
    [['100'], null, null], // not a number: wait forever
    [[null], null, null],
    [[callback], null, callback],
    [[callback, other], null, callback], // the function in the timeout slot wins
    [[100, callback], 100, callback],
    [[0, callback], 0, callback],
    [[undefined, callback], null, callback],
    [[null, callback], null, callback],
    [['soon', callback], null, callback],
    [[100, null], 100, null],
    [[100, undefined], 100, null]
  ]
  const data = { any: ['json', 1] }
  for (const [rest, timeoutMs, cb] of forms) {
    assert.deepEqual(parseAppendArgs(data, ...rest), { data, requestId: null, timeoutMs, callback: cb }, String(rest))
  }
})

test('append: flotilla\'s options form {requestId, timeout}, with or without a callback', () => {
  const forms = [
    [[{ requestId: 'r1' }], 'r1', null, null],
    [[{ requestId: 'r1', timeout: 100 }], 'r1', 100, null],
    [[{ timeout: 100 }], null, 100, null],
    [[{}], null, null, null],
    [[{ requestId: 'r1', timeout: -1 }, callback], 'r1', null, callback]
  ]
  const data = 'x'
  for (const [rest, requestId, timeoutMs, cb] of forms) {
    assert.deepEqual(parseAppendArgs(data, ...rest), { data, requestId, timeoutMs, callback: cb }, JSON.stringify(rest))
  }
})

test('append: a callback that is not a function is a TypeError thrown at once', () => {
  for (const bad of ['cb', 5, {}, true]) {
    assert.throws(() => parseAppendArgs('x', 100, bad), { name: 'TypeError', message: 'Invalid arguments: "callback" must be a Function' })
  }
})

test('dispatchOnLeader: the same timeout and callback forms after name and args', () => {
  const args = ['foo', 'bar']
  assert.deepEqual(parseDispatchArgs('ping', args), { name: 'ping', args, timeoutMs: null, callback: null })
  assert.deepEqual(parseDispatchArgs('ping', args, 0), { name: 'ping', args, timeoutMs: 0, callback: null })
  assert.deepEqual(parseDispatchArgs('ping', args, callback), { name: 'ping', args, timeoutMs: null, callback })
  assert.deepEqual(parseDispatchArgs('ping', args, 0, callback), { name: 'ping', args, timeoutMs: 0, callback })
  assert.deepEqual(parseDispatchArgs('ping', args, undefined, callback), { name: 'ping', args, timeoutMs: null, callback })
  assert.deepEqual(parseDispatchArgs('ping', [], undefined, undefined), { name: 'ping', args: [], timeoutMs: null, callback: null })
})

test('dispatchOnLeader: bad name, args or callback are TypeErrors thrown at once', () => {
  for (const name of [undefined, null, 5, {}, ['ping']]) {
    assert.throws(() => parseDispatchArgs(name, []), { name: 'TypeError', message: 'Invalid arguments: "name" must be a string' })
  }
  for (const args of [undefined, null, 'foo', { 0: 'foo', length: 1 }, callback]) {
    assert.throws(() => parseDispatchArgs('ping', args), { name: 'TypeError', message: 'Invalid arguments: "args" must be an array' })
  }
  assert.throws(() => parseDispatchArgs('ping', [], 10, 'cb'), { name: 'TypeError', message: 'Invalid arguments: "callback" must be a Function' })
})

test('close: optional callback', () => {
  assert.deepEqual(parseCloseArgs(), { callback: null })
  assert.deepEqual(parseCloseArgs(null), { callback: null })
  assert.deepEqual(parseCloseArgs(callback), { callback })
  assert.throws(() => parseCloseArgs(1), { name: 'TypeError', message: 'Invalid arguments: "callback" must be a Function' })
})

test('settle without a callback returns the promise itself', async () => {
  const promise = Promise.resolve(undefined)
  assert.equal(settle(promise, null), promise)
  assert.equal(await settle(Promise.resolve(undefined), undefined), undefined)
})

test('settle with a callback: cb(null, value) and no return value, as gaggle\'s append and close', async () => {
  const { cb, args } = callbackCall()
  assert.equal(settle(Promise.resolve(undefined), cb), undefined)
  const received = await args
  assert.equal(received.length, 2)
  assert.deepEqual(received, [null, undefined])
})

test('settle with a callback: cb(err) alone on failure, with no unhandled rejection', async () => {
  const { cb, args } = callbackCall()
  const error = new Error('Timed out before the entry was committed')
  settle(Promise.reject(error), cb)
  assert.deepEqual(await args, [error])
})

test('a falsy rejection reaches the callback as an Error, never as success', async () => {
  const { cb, args } = callbackCall()
  settle(Promise.reject(0), cb) // eslint-disable-line prefer-promise-reject-errors
  const [error] = await args
  assert.ok(error instanceof Error)
  assert.equal(error.reason, 0)
})

test('settleSpread without a callback: the array of values, and bluebird\'s .spread', async () => {
  const promise = settleSpread(Promise.resolve(['pong', 2]), null)
  assert.ok(promise instanceof Promise)
  assert.deepEqual(await promise, ['pong', 2])
  const spreadArgs = await promise.spread(function () { return [...arguments] })
  assert.deepEqual(spreadArgs, ['pong', 2])
  assert.equal(await settleSpread(Promise.resolve([]), null).spread(function () { return arguments.length }), 0)
})

test('settleSpread: .spread passes a rejection on', async () => {
  const error = new Error('The RPC method ping does not exist')
  const promise = settleSpread(Promise.reject(error), undefined)
  await assert.rejects(promise.spread(() => assert.fail('not called')), error)
})

test('settleSpread with a callback: cb(null, ...values), as gaggle\'s dispatchOnLeader', async () => {
  const one = callbackCall()
  assert.equal(settleSpread(Promise.resolve(['pong']), one.cb), undefined)
  const received = await one.args
  assert.equal(received.length, 2)
  assert.deepEqual(received, [null, 'pong'])

  const none = callbackCall()
  settleSpread(Promise.resolve([]), none.cb)
  assert.deepEqual(await none.args, [null])

  const failed = callbackCall()
  const error = new Error('baz')
  settleSpread(Promise.reject(error), failed.cb)
  assert.deepEqual(await failed.args, [error])
})

test('a callback that throws is an uncaught exception and is not called again', () => {
  // gaggle's `p.then(cb).catch(cb)` called the callback a second time with its own exception
  const script = `
    const { settle } = require(${JSON.stringify(modulePath)})
    let calls = 0
    process.on('exit', () => console.log('calls=' + calls))
    settle(Promise.resolve(), () => { calls += 1; throw new Error('thrown by callback') })
  `
  const run = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' })
  assert.equal(run.status, 1)
  assert.match(run.stderr, /thrown by callback/)
  assert.equal(run.stdout.trim(), 'calls=1')
})
