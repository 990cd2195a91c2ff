// The errors an append (gaggle) or a broadcast with a request id (brig) fails with, each with a `code` that says
// what is known of the entry: FLOTILLA_NOT_COMMITTED when it never left this node (it was refused, or the node
// closed or timed out before the engine took it), so it will not commit; FLOTILLA_OUTCOME_UNKNOWN when the
// engine had taken it (it may be with a leader already), so it may still commit. A caller that retries with the
// same request id is safe in both cases: the entry commits once.
'use strict'

const NOT_COMMITTED = 'FLOTILLA_NOT_COMMITTED'
const OUTCOME_UNKNOWN = 'FLOTILLA_OUTCOME_UNKNOWN'

function withCode (message, code, cause) {
  const error = new Error(message)
  error.code = code
  if (cause !== undefined) error.cause = cause
  return error
}

function notCommitted (message, cause) {
  return withCode(message, NOT_COMMITTED, cause)
}

function outcomeUnknown (message, cause) {
  return withCode(message, OUTCOME_UNKNOWN, cause)
}

module.exports = { NOT_COMMITTED, OUTCOME_UNKNOWN, notCommitted, outcomeUnknown }
