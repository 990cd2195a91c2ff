// The native transport's settings as both faces take them (gaggle's `tcp` channel options, brig's `tcp` Cluster
// option), checked once here: `{listen, peers: {id: 'host:port'}, cluster, secret, tls, advertise, allowRemote}`,
// turned into what the engine's `startThreaded` reads. Limits are the engine's: names of at most MAX_NAME_BYTES, at
// most MAX_MEMBERS peers, addresses of at most MAX_ADDRESS_BYTES, a secret of at least MIN_SECRET_BYTES; `tls: {cert, key, ca}`
// (mutual TLS: PEM strings or Buffers, each at most 1 MiB) instead of a secret.
'use strict'

const { invalidArgument } = require('./errors')
const { MAX_ADDRESS_BYTES, MAX_MEMBERS, MAX_NAME_BYTES, MIN_SECRET_BYTES } = require('../native')

const MAX_PEM_BYTES = 1024 * 1024
const KEYS = ['listen', 'peers', 'cluster', 'secret', 'tls', 'advertise', 'allowRemote']
const TLS_KEYS = ['cert', 'key', 'ca']

/** Whether `address` is a member's network address: "host:port", at most MAX_ADDRESS_BYTES bytes. */
function isAddress (address) {
  if (typeof address !== 'string' || Buffer.byteLength(address) > MAX_ADDRESS_BYTES) return false
  const port = /^.+:(\d{1,5})$/.exec(address)
  return port !== null && Number(port[1]) <= 65535
}

function checkAddress (prefix, what, address) {
  if (!isAddress(address)) {
    throw invalidArgument(`${prefix}: ${what} must be "host:port" (at most ${MAX_ADDRESS_BYTES} bytes)`, TypeError)
  }
}

// `tls: {cert, key, ca}`: each PEM text, a string or a Buffer (read as UTF-8), non-empty and at most 1 MiB.
function tlsSettings (prefix, tls) {
  if (tls === null || typeof tls !== 'object' || Array.isArray(tls) || Buffer.isBuffer(tls)) {
    throw invalidArgument(`${prefix}: "tls" must be an object {cert, key, ca} of PEM strings or Buffers`, TypeError)
  }
  const unknown = Object.keys(tls).filter((key) => !TLS_KEYS.includes(key))
  if (unknown.length > 0) throw invalidArgument(`${prefix}: "tls.${unknown[0]}" is not allowed`, TypeError)
  const settings = {}
  for (const key of TLS_KEYS) {
    let pem = tls[key]
    if (Buffer.isBuffer(pem)) pem = pem.toString('utf8')
    if (typeof pem !== 'string' || pem === '' || Buffer.byteLength(pem) > MAX_PEM_BYTES) {
      throw invalidArgument(`${prefix}: "tls.${key}" must be PEM text (a string or a Buffer) of 1 byte to 1 MiB`, TypeError)
    }
    settings[key] = pem
  }
  return settings
}

/**
 * Checks `options` (the node is `selfId`) and returns the engine's transport settings. `prefix` starts each
 * message ('Invalid options' for gaggle, 'flotilla/brig' for brig); `known` lists keys the caller takes besides.
 */
function transportSettings (prefix, selfId, options, known = []) {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw invalidArgument(`${prefix}: the tcp options must be an object`, TypeError)
  }
  const unknown = Object.keys(options).filter((key) => !KEYS.includes(key) && !known.includes(key))
  if (unknown.length > 0) throw invalidArgument(`${prefix}: ${unknown.map((key) => `"${key}"`).join(', ')} is not allowed`, TypeError)
  checkAddress(prefix, '"listen"', options.listen)
  if (options.advertise !== undefined) checkAddress(prefix, '"advertise"', options.advertise)
  const peersGiven = options.peers
  if (peersGiven === null || typeof peersGiven !== 'object' || Array.isArray(peersGiven)) {
    throw invalidArgument(`${prefix}: "peers" must be an object {id: 'host:port'}`, TypeError)
  }
  const peers = Object.entries(peersGiven)
  if (peers.length > MAX_MEMBERS) throw invalidArgument(`${prefix}: at most ${MAX_MEMBERS} "peers"`, TypeError)
  for (const [name, address] of peers) {
    if (name === '' || Buffer.byteLength(name) > MAX_NAME_BYTES || name === selfId) {
      throw invalidArgument(`${prefix}: a peer's id must be another node's, 1 to ${MAX_NAME_BYTES} bytes`, TypeError)
    }
    checkAddress(prefix, `the address of peer ${JSON.stringify(name)}`, address)
  }
  const cluster = options.cluster === undefined ? 'flotilla' : options.cluster
  if (typeof cluster !== 'string' || cluster === '' || Buffer.byteLength(cluster) > MAX_NAME_BYTES) {
    throw invalidArgument(`${prefix}: "cluster" must be a name of 1 to ${MAX_NAME_BYTES} bytes`, TypeError)
  }
  const secret = options.secret
  if (secret !== undefined && (typeof secret !== 'string' || Buffer.byteLength(secret) < MIN_SECRET_BYTES)) {
    throw invalidArgument(`${prefix}: "secret" must be a string of at least ${MIN_SECRET_BYTES} bytes`, TypeError)
  }
  if (secret !== undefined && options.tls !== undefined) {
    throw invalidArgument(`${prefix}: "secret" and "tls" cannot both be given: choose one`, TypeError)
  }
  const tls = options.tls === undefined ? undefined : tlsSettings(prefix, options.tls)
  if (options.allowRemote !== undefined && typeof options.allowRemote !== 'boolean') {
    throw invalidArgument(`${prefix}: "allowRemote" must be a boolean`, TypeError)
  }
  const settings = { cluster, listen: options.listen, peers: peers.map(([name, address]) => ({ name, address })) }
  if (options.advertise !== undefined) settings.advertise = options.advertise
  if (secret !== undefined) settings.secret = secret
  if (tls !== undefined) settings.tls = tls
  if (options.allowRemote !== undefined) settings.allowRemote = options.allowRemote
  return settings
}

module.exports = { isAddress, transportSettings }
