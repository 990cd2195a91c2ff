// A channel through a socket.io server prepared by enhanceServerForSocketIOChannel: the server relays every
// envelope {from, to?, data} to all the clients of the same channel, sender included.
'use strict'

const { io } = require('socket.io-client')
const ChannelInterface = require('./channel-interface')
const { assertChannelOptions } = require('./validate-options')
const { isEnvelopeFor } = require('./envelope')

const OPTION_RULES = {
  host: { type: 'string', required: true },
  channel: { type: 'string', required: true },
}

class SocketIOChannel extends ChannelInterface {
  constructor (opts) {
    super(opts)
    const { host, channel } = assertChannelOptions(opts, OPTION_RULES)
    this._host = host
    this._channelName = channel
    this._socket = null
  }

  _connect () {
    if (this._socket !== null) return
    // The channel rides in the handshake so the server has placed the socket before its first message;
    // forceNew gives each channel its own connection, closed with it.
    const socket = io(this._host, { forceNew: true, auth: { channel: this._channelName } })
    this._socket = socket

    // declareChannel is gaggle's way of naming the channel, kept for relays that only know it.
    const declareChannel = () => socket.emit('declareChannel', this._channelName)
    socket.on('connect', () => {
      declareChannel()
      this.state.isReconnecting = false
      if (!this.state.connected) this._connected()
    })
    socket.on('unknownChannel', declareChannel)
    socket.on('disconnect', (reason) => {
      this.state.isReconnecting = true
      // socket.io leaves reconnecting to us only when the server closed the socket (its teardown does).
      if (reason === 'io server disconnect') socket.connect()
    })
    socket.on('msg', (message) => {
      if (this.state.connected && isEnvelopeFor(message, this.id)) this._recieved(message.from, message.data)
    })
  }

  _disconnect () {
    const socket = this._socket
    this._socket = null
    if (socket !== null) {
      socket.removeAllListeners()
      socket.disconnect()
    }
    // At once, as gaggle's did (socket.io's client says 'disconnect' within the call): gaggle's own tests close
    // their socket.io server on 'disconnected' and start the next test's server on the same port right after.
    this._settleDisconnect()
  }

  _broadcast (packet) {
    this._emit({ from: this.id, data: packet })
  }

  _send (nodeId, packet) {
    this._emit({ from: this.id, to: nodeId, data: packet })
  }

  // Packets are dropped, not buffered, while the connection is down, as a network would: a long outage must not
  // pile up heartbeats to replay.
  _emit (envelope) {
    if (this._socket !== null && this._socket.connected) this._socket.emit('msg', envelope)
  }
}

module.exports = SocketIOChannel
