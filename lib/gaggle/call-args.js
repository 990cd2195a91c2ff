// The argument forms of gaggle's `append(data, [timeout], [cb])`, `dispatchOnLeader(name, args, [timeout], [cb])`
// and `close([cb])`, and of flotilla's `read([timeout])`, and the way their results reach the caller: a native
// Promise, or a node-style callback.
//
// Bad arguments throw a TypeError synchronously, before anything is sent: they are programming errors, Node's
// callback APIs throw them the same way, and gaggle itself threw synchronously (or crashed later) on them.
// A call whose arguments are well formed reports every later failure (timeouts, rpc errors, close) through its
// promise or callback, never by throwing.
'use strict'

const { requestIdOf } = require('../engine/request-id')
const { invalidArgument } = require('../engine/errors')
const { readOptionsOf, readTimeoutOf } = require('../engine/read-options')

// gaggle armed a timer for any number above -1 and waited forever otherwise (other types, -1 and below, NaN).
// Infinity also means forever here: gaggle's setTimeout(Infinity) fired after 1 ms, which nobody meant.
function timeoutMsOf (timeout) {
  if (typeof timeout !== 'number' || !(timeout > -1) || timeout === Infinity) return null
  return Math.max(0, timeout)
}

function invalid (what) {
  return invalidArgument('Invalid arguments: ' + what, TypeError)
}

// gaggle tested the callback with `!= null`, so null and undefined both mean "no callback".
function callbackOf (callback) {
  if (callback == null) return null
  if (typeof callback !== 'function') throw invalid('"callback" must be a Function')
  return callback
}

// A function in the timeout slot is the callback (and then the last slot is ignored, as in gaggle).
function timeoutAndCallback (timeout, callback) {
  if (typeof timeout === 'function') return { timeoutMs: null, callback: timeout }
  return { timeoutMs: timeoutMsOf(timeout), callback: callbackOf(callback) }
}

// -> {data, requestId (string or null), timeoutMs (ms, or null to wait forever), callback (function or null)}.
// The second argument is gaggle's timeout, or flotilla's options `{requestId, timeout}`.
function parseAppendArgs (data, timeoutOrOptions, callback) {
  if (timeoutOrOptions === null || typeof timeoutOrOptions !== 'object' || Array.isArray(timeoutOrOptions)) {
    return { data, requestId: null, ...timeoutAndCallback(timeoutOrOptions, callback) }
  }
  for (const key of Object.keys(timeoutOrOptions)) {
    if (key !== 'requestId' && key !== 'timeout') throw invalid('unknown append option "' + key + '"')
  }
  const { requestId, timeout } = timeoutOrOptions
  if (timeout !== undefined && typeof timeout !== 'number') throw invalid('"timeout" must be a number of ms')
  return { data, requestId: requestIdOf(requestId), timeoutMs: timeoutMsOf(timeout), callback: callbackOf(callback) }
}

// -> {name, args, timeoutMs, callback}. gaggle needed `args` as an array (it ran `args.concat(cb)`).
function parseDispatchArgs (name, args, timeout, callback) {
  if (typeof name !== 'string') throw invalid('"name" must be a string')
  if (!Array.isArray(args)) throw invalid('"args" must be an array')
  return { name, args, ...timeoutAndCallback(timeout, callback) }
}

// -> {lease, timeoutMs}. The argument is a timeout in ms, or options `{lease, timeout}` (see read-options.js).
function parseReadArgs (timeoutOrOptions) {
  if (typeof timeoutOrOptions === 'number') return { lease: false, timeoutMs: readTimeoutOf(timeoutOrOptions) }
  return readOptionsOf(timeoutOrOptions)
}

// -> {callback}
function parseCloseArgs (callback) {
  return { callback: callbackOf(callback) }
}

// A callback must get an Error (or null for success): a falsy rejection reason would read as success.
function asError (reason) {
  if (reason) return reason
  const error = new Error('The operation was rejected with a falsy value')
  error.reason = reason
  return error
}

// The callback runs on its own tick, outside the promise chain, so that an exception it throws is an
// uncaught exception as with any node callback, not a rejection nobody sees (and never a second call
// of the callback, which gaggle's `p.then(cb).catch(cb)` made).
function notify (promise, callback, onValue) {
  promise.then(
    (value) => process.nextTick(onValue, value),
    (reason) => process.nextTick(callback, asError(reason))
  )
}

// For append and close: `callback(null, value)` when a callback is given (gaggle passed the resolved
// value, undefined, as a second argument), else the promise itself. Returns undefined with a callback.
function settle (promise, callback) {
  if (callback == null) return promise
  notify(promise, callback, (value) => callback(null, value))
  return undefined
}

// bluebird's `.spread`, which gaggle's callers use on dispatch results: the array's items become arguments.
function spread (onValues) {
  return this.then((values) => onValues(...values))
}

// For dispatchOnLeader, whose promise resolves with the array of the rpc's values: `callback(null,
// ...values)` when a callback is given, else the promise with a `.spread(fn)` method. Only this promise has
// `.spread`, not the ones its `.then` returns; a Promise subclass would give it to them but slow every call.
function settleSpread (promise, callback) {
  if (callback == null) {
    promise.spread = spread
    return promise
  }
  notify(promise, callback, (values) => callback(null, ...values))
  return undefined
}

module.exports = {
  parseAppendArgs,
  parseDispatchArgs,
  parseReadArgs,
  parseCloseArgs,
  settle,
  settleSpread
}
