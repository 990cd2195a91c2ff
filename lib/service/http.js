// The HTTP endpoints `flotilla serve` can open: `/metrics` (the node's Prometheus text) and the live monitor
// (`/` and its data, see monitor.js). Plain node:http, read-only, no framework.
'use strict'

const http = require('node:http')
const { isAddress } = require('../engine/transport-settings')

const PROMETHEUS_TYPE = 'text/plain; version=0.0.4; charset=utf-8'
// Connections open at once, at most: more are closed as they come, so that idle or slow connections to these
// read-only endpoints cannot take the file descriptors the node's own transport needs.
const MAX_CONNECTIONS = 64
// A request's headers must come within this; an idle kept-alive connection is closed after IDLE_MS.
const HEADERS_MS = 5000
const IDLE_MS = 5000

/**
 * Listens on `address` ("host:port") and serves `{metrics: node}` or `{monitor: {node, connection}}` (connection: the settings to reach the other members); resolves to
 * `{what, address, close()}` once listening, rejects when it cannot listen.
 */
function startHttp (address, serves) {
  if (!isAddress(address)) return Promise.reject(new Error(`"${address}" is not HOST:PORT`))
  const at = address.lastIndexOf(':')
  const host = address.slice(0, at).replace(/^\[(.*)\]$/, '$1')
  const port = Number(address.slice(at + 1))
  let handle
  let closeRoutes = () => {}
  let what
  if (serves.metrics !== undefined) {
    what = 'metrics'
    handle = (request, response) => metrics(serves.metrics, request, response)
  } else {
    what = 'monitor'
    const monitor = require('./monitor').createMonitor(serves.monitor)
    handle = (request, response) => monitor.handle(request, response)
    closeRoutes = () => monitor.close()
  }
  const server = http.createServer((request, response) => {
    if (request.method !== 'GET' && request.method !== 'HEAD') return send(response, 405, 'text/plain', 'only GET\n')
    try {
      if (!handle(request, response)) send(response, 404, 'text/plain', 'not found\n')
    } catch (error) {
      send(response, 500, 'text/plain', `${error.message}\n`)
    }
  })
  server.maxConnections = MAX_CONNECTIONS
  server.headersTimeout = HEADERS_MS
  server.requestTimeout = HEADERS_MS
  server.keepAliveTimeout = IDLE_MS
  server.setTimeout(IDLE_MS, (socket) => socket.destroy())
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.removeListener('error', reject)
      const bound = server.address()
      resolve({
        what,
        address: `${bound.family === 'IPv6' ? `[${bound.address}]` : bound.address}:${bound.port}`,
        close: () => {
          closeRoutes()
          server.close()
          server.closeAllConnections()
        }
      })
    })
  })
}

function metrics (node, request, response) {
  if (request.url !== '/metrics') return false
  const text = node.metrics()
  if (text === null) send(response, 503, 'text/plain', 'the node is still reading its log\n')
  else send(response, 200, PROMETHEUS_TYPE, text)
  return true
}

function send (response, status, type, body) {
  response.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' })
  response.end(body)
}

module.exports = { startHttp, send }
