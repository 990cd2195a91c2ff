// A replicated key-value store, one process per member: a flotilla node over the native transport (`tcp`) with a
// data directory and snapshots, and an HTTP API beside it. Start one per machine (see README.md here):
//
//   node server.js --id a --raft 10.0.0.1:7100 --http 8080 --peers b=10.0.0.2:7100,c=10.0.0.3:7100 \
//     --data-dir /var/lib/kv/a [--secret-file /etc/kv/secret] [--cluster-size 3] [--join]
//
// HTTP: PUT /keys/:key (the body is the value), GET /keys/:key (linearizable: a ReadIndex round first; with
// ?stale, this node's own state at once), DELETE /keys/:key, GET /status (the node's status()), GET /members,
// PUT /members/:id (add a node started with --join), DELETE /members/:id. A write may go to any member (a
// follower passes it to the leader); an `x-request-id` header makes a retried write commit once.
'use strict'

const http = require('node:http')
const fs = require('node:fs')
const { parseArgs } = require('node:util')
const gaggle = require('../..')

const { values: args } = parseArgs({
  options: {
    id: { type: 'string' },
    raft: { type: 'string' },
    http: { type: 'string' },
    peers: { type: 'string', default: '' },
    'data-dir': { type: 'string' },
    'secret-file': { type: 'string' },
    'cluster-size': { type: 'string', default: '3' },
    join: { type: 'boolean', default: false }
  }
})
for (const required of ['id', 'raft', 'http', 'data-dir']) {
  if (args[required] === undefined) {
    console.error(`kv-store: --${required} is required`)
    process.exit(2)
  }
}

const peers = Object.fromEntries(args.peers.split(',').filter(Boolean).map((pair) => pair.split('=')))
// `clients: true`: the flotilla CLI and `flotilla/client` reach the cluster on the raft port (status, members).
const channel = { name: 'tcp', listen: args.raft, peers, cluster: 'kv-store', clients: true }
if (args['secret-file'] !== undefined) channel.secret = fs.readFileSync(args['secret-file'], 'utf8').trim()

// The application's state: every committed put and delete, in order. Its snapshot is the whole map.
let store = new Map()
const node = gaggle({
  id: args.id,
  clusterSize: Number(args['cluster-size']),
  join: args.join,
  channel,
  dataDir: args['data-dir'],
  electionTimeout: { min: 300, max: 500 },
  heartbeatInterval: 50,
  snapshot: {
    threshold: 1000,
    save: () => Object.fromEntries(store),
    restore: (data) => { store = new Map(Object.entries(data)) }
  }
})
node.on('committed', ({ data }) => {
  // Entries this application did not write (a `flotilla append`, say) are not puts or deletes: skipped.
  if (data === null || typeof data !== 'object') return
  if (data.op === 'put') store.set(data.key, data.value)
  else if (data.op === 'del') store.delete(data.key)
})
node.on('error', (error) => console.error(`kv-store ${args.id}: ${error.message}`))

const MAX_BODY_BYTES = 1 << 20

function reply (response, status, body) {
  response.writeHead(status, { 'content-type': 'application/json' })
  response.end(JSON.stringify(body))
}

function readBody (request) {
  return new Promise((resolve, reject) => {
    const chunks = []
    let size = 0
    request.on('data', (chunk) => {
      size += chunk.length
      if (size > MAX_BODY_BYTES) reject(Object.assign(new Error('the value is too large'), { status: 413 }))
      else chunks.push(chunk)
    })
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    request.on('error', reject)
  })
}

async function handle (request, response) {
  const url = new URL(request.url, 'http://localhost')
  if (url.pathname === '/status' && request.method === 'GET') return reply(response, 200, node.status())
  if (url.pathname === '/members' && request.method === 'GET') return reply(response, 200, node.members())
  const member = /^\/members\/([^/]+)$/.exec(url.pathname)
  if (member !== null) {
    // Membership changes (any member passes them to the leader): PUT adds a node started with --join (as a learner,
    // a voter once caught up; `?address=host:port` names its raft address), DELETE removes one.
    const id = decodeURIComponent(member[1])
    const address = url.searchParams.get('address') ?? undefined
    if (request.method === 'PUT') await node.addMember(id, address === undefined ? {} : { address })
    else if (request.method === 'DELETE') await node.removeMember(id)
    else return reply(response, 405, { error: 'PUT or DELETE' })
    return reply(response, 200, node.members())
  }
  const match = /^\/keys\/([^/]+)$/.exec(url.pathname)
  if (match === null) return reply(response, 404, { error: 'no such route' })
  const key = decodeURIComponent(match[1])
  const requestId = request.headers['x-request-id']
  const write = (entry) => node.append(entry, requestId === undefined ? { timeout: 5000 } : { requestId, timeout: 5000 })
  switch (request.method) {
    case 'PUT':
      await write({ op: 'put', key, value: await readBody(request) })
      return reply(response, 200, { key, ok: true })
    case 'DELETE':
      await write({ op: 'del', key })
      return reply(response, 200, { key, ok: true })
    case 'GET': {
      if (!url.searchParams.has('stale')) await node.read(5000)
      return store.has(key) ? reply(response, 200, { key, value: store.get(key) }) : reply(response, 404, { key, error: 'not found' })
    }
    default:
      return reply(response, 405, { error: 'PUT, GET or DELETE' })
  }
}

const server = http.createServer((request, response) => {
  handle(request, response).catch((error) => {
    const status = error.status || (error.code === 'FLOTILLA_TIMEOUT' || error.code === 'FLOTILLA_OUTCOME_UNKNOWN' ? 503
      : error.code === 'FLOTILLA_INVALID_ARGUMENT' || error.code === 'FLOTILLA_UNKNOWN_MEMBER' ? 400 : 500)
    reply(response, status, { error: error.message, code: error.code })
  })
})
// `--http` is a port (on loopback) or host:port.
const [httpHost, httpPort] = args.http.includes(':') ? args.http.split(/:(?=\d+$)/) : ['127.0.0.1', args.http]
server.listen(Number(httpPort), httpHost, () => {
  if (process.send) process.send({ type: 'listening', port: server.address().port })
})

function shutDown () {
  server.close()
  node.close().then(() => process.exit(0))
}
process.on('SIGTERM', shutDown)
process.on('SIGINT', shutDown)
