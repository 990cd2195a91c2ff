// The one table of error codes: every error flotilla raises (the native engine's, mapped in src/binding/error.rs,
// and those the JS side raises) is an `Error` with one of these as its `code`, so a caller tells them apart by
// code, never by message. An append (gaggle) or a broadcast with a request id (brig) says by its code what is
// known of the entry: FLOTILLA_NOT_COMMITTED when it never left this node (refused, or the node closed or timed
// out before the engine took it), so it will not commit; FLOTILLA_OUTCOME_UNKNOWN when the engine had taken it (it
// may be with a leader already), so it may still commit; the engine's own reason, if any, is its `cause`. A
// caller that retries with the same request id is safe in both cases: the entry commits once.
'use strict'

const CODES = Object.freeze({
  // raised by the JS side
  INVALID_ARGUMENT: 'FLOTILLA_INVALID_ARGUMENT', // bad options or arguments (also from the engine)
  NOT_COMMITTED: 'FLOTILLA_NOT_COMMITTED',
  OUTCOME_UNKNOWN: 'FLOTILLA_OUTCOME_UNKNOWN',
  TIMEOUT: 'FLOTILLA_TIMEOUT', // a dispatchOnLeader call that was not answered in time
  CLOSED: 'FLOTILLA_CLOSED', // the node is closed (also from the engine)
  NOT_RUNNING: 'FLOTILLA_NOT_RUNNING', // not joined yet, or a durable node still reading its log
  NOT_SUPPORTED: 'FLOTILLA_NOT_SUPPORTED', // brig: writing to the read-only state view
  SNAPSHOT_HOOK: 'FLOTILLA_SNAPSHOT_HOOK', // the application's snapshot save() or restore() failed
  UNAVAILABLE: 'FLOTILLA_UNAVAILABLE', // flotilla/client: no node of the cluster could be reached (or no leader)
  // raised by the engine (src/binding/error.rs)
  STORAGE: 'FLOTILLA_STORAGE', // the log cannot be read or written
  DATA_MISMATCH: 'FLOTILLA_DATA_MISMATCH', // the data directory holds another node's or cluster's state
  NOT_LEADER: 'FLOTILLA_NOT_LEADER',
  UNKNOWN_MEMBER: 'FLOTILLA_UNKNOWN_MEMBER',
  ALREADY_LEADER: 'FLOTILLA_ALREADY_LEADER',
  TOO_LARGE: 'FLOTILLA_TOO_LARGE',
  TOO_MANY_PENDING: 'FLOTILLA_TOO_MANY_PENDING',
  LOG_FULL: 'FLOTILLA_LOG_FULL',
  SNAPSHOT_REFUSED: 'FLOTILLA_SNAPSHOT_REFUSED',
  INVALID_STATE: 'FLOTILLA_INVALID_STATE',
  COMPACTED: 'FLOTILLA_COMPACTED', // entries asked for are in a snapshot now (`entries({from})`)
  INTERNAL: 'FLOTILLA_INTERNAL'
})

// `ErrorType`: TypeError where gaggle or brig threw one for the same mistake.
function codedError (code, message, cause, ErrorType = Error) {
  const error = new ErrorType(message)
  error.code = code
  if (cause !== undefined) error.cause = cause
  return error
}

function invalidArgument (message, ErrorType = Error) {
  return codedError(CODES.INVALID_ARGUMENT, message, undefined, ErrorType)
}

function notCommitted (message, cause) {
  return codedError(CODES.NOT_COMMITTED, message, cause)
}

function outcomeUnknown (message, cause) {
  return codedError(CODES.OUTCOME_UNKNOWN, message, cause)
}

module.exports = {
  CODES,
  codedError,
  invalidArgument,
  notCommitted,
  outcomeUnknown
}
