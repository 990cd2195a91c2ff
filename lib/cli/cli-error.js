// The command line's exit statuses, and the error that ends a command with one and a message (never a stack
// trace): a usage error (bad arguments, or a path that is not a data directory) exits 2.
'use strict'

const EXIT = Object.freeze({
  OK: 0, // done; for inspect and verify: the data directory is sound
  DAMAGED: 1, // the data directory is damaged (or a file in it cannot be read)
  REFUSED: 1, // commands of a running cluster: the cluster refused the request (the message gives its code)
  USAGE: 2, // bad arguments, an unknown command, or not a flotilla data directory
  INTERNAL: 3, // flotilla itself failed (a bug: the message says so)
  UNAVAILABLE: 4 // commands of a running cluster: no node (or no leader) answered in time
})

class CliError extends Error {
  constructor (message, exitCode = EXIT.USAGE) {
    super(message)
    this.name = 'CliError'
    this.exitCode = exitCode
  }
}

module.exports = { EXIT, CliError }
