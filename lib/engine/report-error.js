// How a face reports a failure nobody called for (a snapshot hook that threw, a disk that failed, a log that
// cannot be read at startup): to its 'error' listeners, or as a process warning when it has none, so that the
// failure is seen without an unhandled 'error' event taking the process down.
'use strict'

function reportError (emitter, error) {
  if (emitter.listenerCount('error') > 0) emitter.emit('error', error)
  else process.emitWarning(error)
}

// A node that cannot start says so once: to its 'error' listeners, else to whoever awaits its ready() (which
// rejects with the error), else as a process warning.
function reportStartFailure (emitter, error, readyAsked) {
  if (emitter.listenerCount('error') > 0 || !readyAsked) reportError(emitter, error)
}

module.exports = { reportError, reportStartFailure }
