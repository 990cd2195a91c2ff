// The options of a linearizable read, as both faces take them (gaggle's `read({lease, timeout})`, brig's
// `cluster.read({lease, timeout})`): checked here to throw at the call, before anything is started.
'use strict'

const { invalidArgument } = require('./errors')

function invalid (what) {
  return invalidArgument('Invalid arguments: ' + what, TypeError)
}

// A read's timeout in ms, or null to wait until it completes (or the node closes). A read is new in flotilla, so
// it has none of gaggle's leniency (which waited forever for a negative or non-number timeout): those throw.
function readTimeoutOf (timeout) {
  if (timeout === undefined || timeout === Infinity) return null
  if (typeof timeout !== 'number' || !(timeout >= 0)) throw invalid('"timeout" must be a number of ms, at least 0')
  return timeout
}

// -> {lease (boolean), timeoutMs (ms, or null to wait until the read completes)}; `options` may be left out.
function readOptionsOf (options) {
  if (options === undefined) return { lease: false, timeoutMs: null }
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw invalid('the read options must be an object {lease, timeout}')
  }
  for (const key of Object.keys(options)) {
    if (key !== 'lease' && key !== 'timeout') throw invalid('unknown read option "' + key + '"')
  }
  const { lease = false, timeout } = options
  if (typeof lease !== 'boolean') throw invalid('"lease" must be a boolean')
  return { lease, timeoutMs: readTimeoutOf(timeout) }
}

module.exports = { readOptionsOf, readTimeoutOf }
