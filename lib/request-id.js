// A request id names one append (gaggle) or broadcast (brig) across its retries, so that it commits once: a
// non-empty string of at most MAX_REQUEST_ID_BYTES bytes in UTF-8 (the wire's limit for an entry id, less the
// wrapping that keeps request ids apart from the nodes' own ids). Checked here to throw at the call.
'use strict'

const { MAX_REQUEST_ID_BYTES } = require('./native')

// The request id, or null when none is given; throws a TypeError for anything else.
function requestIdOf (requestId) {
  if (requestId === undefined) return null
  if (typeof requestId !== 'string' || requestId === '') {
    throw new TypeError('Invalid arguments: "requestId" must be a non-empty string')
  }
  const bytes = Buffer.byteLength(requestId)
  if (bytes > MAX_REQUEST_ID_BYTES) {
    throw new TypeError('Invalid arguments: "requestId" is ' + bytes + ' bytes (UTF-8), more than the limit of ' +
      MAX_REQUEST_ID_BYTES)
  }
  return requestId
}

module.exports = { requestIdOf, MAX_REQUEST_ID_BYTES }
