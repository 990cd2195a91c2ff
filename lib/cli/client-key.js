// `flotilla client-key --secret-file FILE`: prints the client key of a cluster's secret, to give to clients (the
// CLI's --client-key-file, flotilla/client's `clientKey`): it lets them in on the client route only, never as a
// member, and the secret cannot be learned from it.
'use strict'

const { EXIT, CliError } = require('./cli-error')
const { securityOf } = require('./cluster-options')
const { output } = require('./output')
const { clientKeyOf } = require('../native')

const help = `Usage: flotilla client-key --secret-file FILE

Prints the client key of the cluster's secret (64 hex digits). Give it to the clients instead of the secret
(flotilla status ... --client-key-file F, or require('flotilla/client')'s clientKey): a node lets a client that
proves it in on the client route, but never as a member, and the secret cannot be learned from it.

  --secret-file FILE    the cluster's shared secret
  -h, --help            show this help

Exit status: 0 done, 2 usage error.
`

const options = { 'secret-file': { type: 'string' } }

async function run ({ values, positionals }, io) {
  if (positionals.length > 0) throw new CliError(`unexpected argument '${positionals[0]}'`)
  if (values['secret-file'] === undefined) throw new CliError('--secret-file is required')
  let key
  try {
    key = clientKeyOf(securityOf(values).secret)
  } catch (error) {
    throw new CliError(error.message)
  }
  await output(io.stdout).write(key + '\n')
  return EXIT.OK
}

module.exports = { name: 'client-key', summary: 'the client key of a cluster secret, to give to clients', help, options, run }
