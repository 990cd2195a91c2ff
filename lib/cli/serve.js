// `flotilla serve`: runs one node of a replicated log service (as zmq-raft's peer with its broadcast state
// machine): a durable gaggle node on the native transport that serves clients (`flotilla/client`, the other
// commands) on its peer port, authenticated as its peers are; optionally its metrics and a live monitor over HTTP.
'use strict'

const { EXIT, CliError } = require('./cli-error')
const { securityOf } = require('./cluster-options')
const { startHttp } = require('../service/http')

const help = `Usage: flotilla serve --id ID --listen HOST:PORT (--peers ID=HOST:PORT,... | --join) --data-dir DIR [options]

Runs the node ID of a replicated log: clients append JSON entries and read them back (flotilla append, tail,
read, or require('flotilla/client')), the membership changes through flotilla members. Clients connect to the
node's --listen port and authenticate as its peers do (the secret, or a certificate signed by the cluster's CA).
SIGINT or SIGTERM closes the node (a leader hands over first).

  --id ID                   this node's id
  --listen HOST:PORT        where peers and clients connect (port 0: any free port)
  --peers ID=HOST:PORT,...  the other members of a new cluster (all nodes are started with the same set)
  --join                    join a running cluster instead (then: flotilla members ADDR add ID); with --peers
                            naming members to dial
  --data-dir DIR            where the log, the state and the snapshots live
  --cluster NAME            the cluster's name (default flotilla)
  --advertise HOST:PORT     the address peers and clients should dial (default: --listen's)
  --secret-file FILE        the cluster's shared secret (at least 16 bytes), read from FILE
  --tls-cert FILE           mutual TLS: this node's certificate (naming ID), PEM
  --tls-key FILE            its private key, PEM
  --tls-ca FILE             the cluster's CA certificate, PEM
  --allow-remote            without a secret or TLS, listen on an address other than loopback anyway
  --metrics HOST:PORT       serve the node's metrics (Prometheus text) at http://HOST:PORT/metrics
  --monitor HOST:PORT       serve a live view of the cluster at http://HOST:PORT/
  --election-timeout MS     the shortest election timeout (default 300; the longest is 200 more)
  --heartbeat MS            the heartbeat interval (default 50)
  -h, --help                show this help

Prints one line when the node listens, then one line per change of role or leader.
Exit status: 0 closed by a signal, 1 the node could not start or failed, 2 usage error.
`

const options = {
  id: { type: 'string' },
  listen: { type: 'string' },
  peers: { type: 'string' },
  join: { type: 'boolean' },
  'data-dir': { type: 'string' },
  cluster: { type: 'string' },
  advertise: { type: 'string' },
  'secret-file': { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'tls-ca': { type: 'string' },
  'allow-remote': { type: 'boolean' },
  metrics: { type: 'string' },
  monitor: { type: 'string' },
  'election-timeout': { type: 'string' },
  heartbeat: { type: 'string' }
}

function required (values, name) {
  if (values[name] === undefined) throw new CliError(`--${name} is required`)
  return values[name]
}

function msOf (values, name) {
  if (values[name] === undefined) return undefined
  const ms = Number(values[name])
  if (!Number.isSafeInteger(ms) || ms <= 0) throw new CliError(`--${name} must be a whole number of ms > 0`)
  return ms
}

function peersOf (text) {
  const peers = {}
  if (text === undefined) return peers
  for (const pair of text.split(',').filter((part) => part !== '')) {
    const at = pair.indexOf('=')
    if (at <= 0) throw new CliError(`--peers: "${pair}" is not ID=HOST:PORT`)
    peers[pair.slice(0, at)] = pair.slice(at + 1)
  }
  return peers
}

/** The gaggle options of the node `flotilla serve` runs. */
function nodeOptions (values) {
  const peers = peersOf(values.peers)
  if (!values.join && Object.keys(peers).length === 0) throw new CliError('give --peers (a new cluster) or --join')
  const channel = { name: 'tcp', listen: required(values, 'listen'), peers, clients: true, ...securityOf(values) }
  if (values.cluster !== undefined) channel.cluster = values.cluster
  if (values.advertise !== undefined) channel.advertise = values.advertise
  if (values['allow-remote']) channel.allowRemote = true
  const options = {
    id: required(values, 'id'),
    clusterSize: Object.keys(peers).length + 1,
    dataDir: required(values, 'data-dir'),
    join: values.join === true,
    channel
  }
  const electionTimeout = msOf(values, 'election-timeout')
  if (electionTimeout !== undefined) options.electionTimeout = { min: electionTimeout, max: electionTimeout + 200 }
  const heartbeat = msOf(values, 'heartbeat')
  if (heartbeat !== undefined) options.heartbeatInterval = heartbeat
  return options
}

async function run ({ values, positionals }, io) {
  if (positionals.length > 0) throw new CliError(`unexpected argument '${positionals[0]}'`)
  const gaggle = require('../..')
  const options = nodeOptions(values)
  let node
  try {
    node = gaggle(options)
  } catch (error) {
    throw new CliError(error.message)
  }
  try {
    await node.ready()
  } catch (error) {
    throw new CliError(`the node cannot start: ${error.message}`, EXIT.REFUSED)
  }
  const servers = []
  try {
    if (values.metrics !== undefined) servers.push(await startHttp(values.metrics, { metrics: node }))
    if (values.monitor !== undefined) servers.push(await startHttp(values.monitor, { monitor: { node, connection: clientSettings(options) } }))
  } catch (error) {
    await node.close()
    throw new CliError(error.message, EXIT.REFUSED)
  }
  const address = node._channel.advertisedAddress
  io.stdout.write(`flotilla serve: node ${options.id} of cluster ${options.channel.cluster ?? 'flotilla'} listening on ${address}` +
    servers.map((server) => `, ${server.what} on http://${server.address}/`).join('') + '\n')
  let last = ''
  const report = () => {
    const status = node.status()
    if (status === null) return
    const line = `${status.state} term ${status.term} leader ${status.leader ?? 'none'}`
    if (line !== last) io.stdout.write(`flotilla serve: ${line}\n`)
    last = line
  }
  const watch = setInterval(report, 50)
  report()
  return new Promise((resolve) => {
    let failed = false
    node.on('error', (error) => {
      failed = true
      io.stderr.write(`flotilla serve: ${error.message}\n`)
      stop()
    })
    const stop = () => {
      clearInterval(watch)
      process.removeListener('SIGINT', stop)
      process.removeListener('SIGTERM', stop)
      for (const server of servers) server.close()
      node.close().then(() => resolve(failed ? EXIT.REFUSED : EXIT.OK), () => resolve(EXIT.REFUSED))
    }
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
  })
}

// How the monitor connects to the other members (lib/client/connection.js settings): as the node does. With
// TLS its name must be the one the node's certificate gives, the node's own id.
function clientSettings (options) {
  const { channel } = options
  const settings = { cluster: channel.cluster ?? 'flotilla', name: channel.tls === undefined ? options.id + '-monitor' : options.id }
  if (channel.secret !== undefined) settings.secret = channel.secret
  if (channel.tls !== undefined) settings.tls = channel.tls
  return settings
}

module.exports = { name: 'serve', summary: 'run a node of a replicated log service', help, options, run }
