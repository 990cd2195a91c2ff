// The options every command that talks to a running cluster shares (how to reach and authenticate to it), the
// client they make, and how a failure of the cluster becomes an exit status.
'use strict'

const { readFileSync } = require('node:fs')
const { EXIT, CliError } = require('./cli-error')
const { Client } = require('../client')

const clusterOptions = {
  cluster: { type: 'string' },
  'secret-file': { type: 'string' },
  'client-key-file': { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'tls-ca': { type: 'string' },
  name: { type: 'string' },
  timeout: { type: 'string' },
  json: { type: 'boolean' }
}

const clusterHelp = `Connecting:
  --cluster NAME        the cluster's name (default flotilla)
  --secret-file FILE    the cluster's shared secret, read from FILE (trailing newline ignored)
  --client-key-file FILE  instead: the client key (flotilla client-key), which lets a client in without the
                        power to act as a member
  --tls-cert FILE       mutual TLS: this client's certificate (PEM; it must name the client, see --name)
  --tls-key FILE        its private key (PEM)
  --tls-ca FILE         the cluster's CA certificate (PEM)
  --name NAME           this client's name (default client-<random>; with TLS, the name its certificate gives)
  --timeout MS          how long to keep trying (default 10000)
  --json                print JSON instead of text`

function readText (path, what) {
  try {
    return readFileSync(path, 'utf8')
  } catch (error) {
    throw new CliError(`cannot read ${what} ${path}: ${error.message}`)
  }
}

/** The security settings of a node or a client, from --secret-file or the three --tls-* options. */
function securityOf (values) {
  const security = {}
  const tlsGiven = ['tls-cert', 'tls-key', 'tls-ca'].filter((key) => values[key] !== undefined)
  if (values['client-key-file'] !== undefined) {
    if (tlsGiven.length > 0 || values['secret-file'] !== undefined) throw new CliError('give --client-key-file, --secret-file or the --tls-* options, only one')
    security.clientKey = readText(values['client-key-file'], 'the client key file').trim()
  } else if (values['secret-file'] !== undefined) {
    if (tlsGiven.length > 0) throw new CliError('give --secret-file or the --tls-* options, not both')
    security.secret = readText(values['secret-file'], 'the secret file').replace(/\r?\n$/, '')
  } else if (tlsGiven.length > 0) {
    if (tlsGiven.length !== 3) throw new CliError('mutual TLS needs all of --tls-cert, --tls-key and --tls-ca')
    security.tls = {
      cert: readText(values['tls-cert'], 'the certificate'),
      key: readText(values['tls-key'], 'the key'),
      ca: readText(values['tls-ca'], 'the CA certificate')
    }
  }
  return security
}

function timeoutOf (values) {
  if (values.timeout === undefined) return undefined
  const timeout = Number(values.timeout)
  if (!Number.isSafeInteger(timeout) || timeout <= 0) throw new CliError('--timeout must be a whole number of ms > 0')
  return timeout
}

/** A client of the cluster at `addresses` (one or more "host:port", comma-separated). */
function clientOf (addresses, values) {
  const list = addresses.split(',').filter((address) => address !== '')
  const options = { addresses: list, ...securityOf(values) }
  if (values.cluster !== undefined) options.cluster = values.cluster
  if (values.name !== undefined) options.name = values.name
  const timeout = timeoutOf(values)
  if (timeout !== undefined) options.timeout = timeout
  try {
    return new Client(options)
  } catch (error) {
    throw new CliError(error.message)
  }
}

/** Throws a usage error unless there are at most `most` arguments (`usage` names them). */
function checkArguments (positionals, most, usage) {
  if (positionals.length > most) throw new CliError(`unexpected argument '${positionals[most]}' (${usage})`)
}

/** Runs `work(client)` and closes the client; the cluster's refusals and unavailability become exit statuses. */
async function withClient (address, values, work) {
  if (address === undefined) throw new CliError('give the address of a node: host:port')
  const client = clientOf(address, values)
  try {
    return await work(client)
  } catch (error) {
    if (error instanceof CliError || typeof error.code !== 'string' || !error.code.startsWith('FLOTILLA_')) throw error
    if (error instanceof TypeError && error.code === 'FLOTILLA_INVALID_ARGUMENT') throw new CliError(`${error.message} (${error.code})`) // the client's own checks: a usage error
    const status = error.code === 'FLOTILLA_UNAVAILABLE' || error.code === 'FLOTILLA_TIMEOUT' ? EXIT.UNAVAILABLE : EXIT.REFUSED
    throw new CliError(`${error.message} (${error.code})`, status)
  } finally {
    client.close()
  }
}

function parseJsonArgument (text, what) {
  try {
    return JSON.parse(text)
  } catch (error) {
    throw new CliError(`${what} must be JSON: ${error.message}`)
  }
}

module.exports = { clusterOptions, clusterHelp, securityOf, withClient, parseJsonArgument, checkArguments }
