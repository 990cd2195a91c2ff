// A request id names one append (gaggle) or broadcast (brig) across its retries, so that it commits once: a
// non-empty string of at most MAX_REQUEST_ID_BYTES bytes in UTF-8 (the wire's limit for an entry id, less the
// wrapping that keeps request ids apart from the nodes' own ids). Checked here to throw at the call.
'use strict'

const { MAX_REQUEST_ID_BYTES } = require('../native')
const { invalidArgument } = require('./errors')

// The request id, or null when none is given; throws a TypeError (FLOTILLA_INVALID_ARGUMENT) for anything else.
function requestIdOf (requestId) {
  if (requestId === undefined) return null
  if (typeof requestId !== 'string' || requestId === '') {
    throw invalidArgument('Invalid arguments: "requestId" must be a non-empty string', TypeError)
  }
  // A lone surrogate has no UTF-8 form: the engine would see U+FFFD in its place, and two different ids would be one.
  if (!requestId.isWellFormed()) {
    throw invalidArgument('Invalid arguments: "requestId" must be well-formed Unicode (it has a lone surrogate)', TypeError)
  }
  const bytes = Buffer.byteLength(requestId)
  if (bytes > MAX_REQUEST_ID_BYTES) {
    const limit = 'more than the limit of ' + MAX_REQUEST_ID_BYTES
    throw invalidArgument('Invalid arguments: "requestId" is ' + bytes + ' bytes (UTF-8), ' + limit, TypeError)
  }
  return requestId
}

module.exports = { requestIdOf, MAX_REQUEST_ID_BYTES }
