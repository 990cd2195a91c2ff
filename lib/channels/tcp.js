// The native transport as a gaggle channel: `channel: {name: 'tcp', listen, peers, ...}`. With it the node runs on
// its own Rust thread (crates/runtime) and talks to its peers over TCP itself (crates/transport): the engine's
// messages never cross into JavaScript. This object only carries the application's packets (gaggle's
// dispatchOnLeader) over the same connections, and hands the engine host the transport's settings.
//
// channelOptions:
//   listen: 'host:port' to listen on (port 0: any free port; see `address` once the node runs)
//   peers: {id: 'host:port', ...}, the other members to dial (a node added later dials the members it is given,
//          and they learn its address from its handshake)
//   cluster: the cluster's name, checked when peers connect (default 'flotilla')
//   secret: a shared secret of at least 16 bytes: peers prove they know it (HMAC-SHA256 challenge-response) and
//           every frame is authenticated; the secret never crosses the wire
//   tls: {cert, key, ca} (PEM): mutual TLS 1.3; a peer's certificate must be signed by the cluster's CA and name
//        the peer (subjectAltName DNS or CN); not with `secret`
//   advertise: the address peers dial to reach this node (default: the one it listens on)
//   allowRemote: without a secret the transport listens on loopback only, unless this is true
//   clients: true to serve flotilla's clients (`flotilla/client`, the CLI) on the same port, authenticated as the
//            peers are: they can read the status and the entries, append, and change the membership
'use strict'

const ChannelInterface = require('./channel-interface')
const { assertBaseOptions } = require('./validate-options')
const { transportSettings } = require('../engine/transport-settings')
const { invalidArgument } = require('../engine/errors')

// Application packets sent before the node runs (a durable node still reading its log) wait, up to this many.
const MAX_WAITING_PACKETS = 1024

function TcpChannel (opts) {
  ChannelInterface.apply(this, arguments)
  const { channelOptions } = assertBaseOptions(opts)
  if (channelOptions === undefined) throw invalidArgument('Invalid options: "channelOptions" is required')
  this._transport = transportSettings('Invalid options', this.id, channelOptions, ['clients'])
  if (channelOptions.clients !== undefined && typeof channelOptions.clients !== 'boolean') {
    throw invalidArgument('Invalid options: "clients" must be a boolean', TypeError)
  }
  this._servesClients = channelOptions.clients === true
  this._native = null
  this._waiting = [] // [to, text] sent before the node ran
  this.droppedPackets = 0
}

Object.setPrototypeOf(TcpChannel.prototype, ChannelInterface.prototype)

/** The address peers and clients dial to reach this node: the one advertised, or else the one it listens on. */
Object.defineProperty(TcpChannel.prototype, 'advertisedAddress', {
  get () { return this._transport.advertise ?? this.address }
})

/** The address the transport listens on, once the node runs (null before). */
Object.defineProperty(TcpChannel.prototype, 'address', {
  get () { return this._native === null ? null : this._native.listenAddress }
})

// For the engine host (see EngineHost.open): the transport's settings and where its application texts go;
// `servesClients`: the node sets `onClient` (its client service) before it opens.
TcpChannel.prototype.nativeTransport = function nativeTransport () {
  return {
    options: this._transport,
    onApplication: (from, text) => this._application(from, text),
    onStart: (native) => this._attach(native),
    servesClients: this._servesClients,
    onClient: undefined
  }
}

TcpChannel.prototype._attach = function _attach (native) {
  this._native = native
  for (const [to, text] of this._waiting.splice(0)) this._native.sendApplication(to, text)
}

TcpChannel.prototype._application = function _application (from, text) {
  if (!this.state.connected) return
  let packet
  try {
    packet = JSON.parse(text)
  } catch {
    this.droppedPackets++
    return
  }
  this._recieved(from, packet)
}

TcpChannel.prototype._connect = function _connect () {
  // The connections are the node's own (they open when it runs): the channel is ready at once.
  setImmediate(() => { if (!this.state.connected && !this._disconnectRequested) this._connected() })
}

TcpChannel.prototype._disconnect = function _disconnect () {
  setImmediate(() => this._settleDisconnect())
}

TcpChannel.prototype._send = function _send (nodeId, packet) {
  const text = JSON.stringify(packet)
  if (this._native !== null) {
    if (!this._native.sendApplication(nodeId, text)) this.droppedPackets++
  } else if (this._waiting.length < MAX_WAITING_PACKETS) {
    this._waiting.push([nodeId, text])
  } else {
    this.droppedPackets++
  }
}

// Every peer given, and this node itself.
TcpChannel.prototype._broadcast = function _broadcast (packet) {
  for (const { name } of this._transport.peers) this._send(name, packet)
  setImmediate(() => { if (this.state.connected) this._recieved(this.id, packet) })
}

module.exports = TcpChannel
