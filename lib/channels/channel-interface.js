// The base class of every channel, with gaggle 2.1.4's contract: a channel carries JSON packets between the nodes
// of a cluster and reports them as 'recieved' (gaggle's spelling). Custom channels extend it.
'use strict'

const { EventEmitter } = require('node:events')
const { randomInt } = require('node:crypto')
const { assertBaseOptions } = require('./validate-options')

function noop () {}

// A constructor function rather than a class: channels written for gaggle call
// `ChannelInterface.apply(this, arguments)` from their own constructors, which a class forbids.
function ChannelInterface (opts) {
  EventEmitter.call(this)
  const options = assertBaseOptions(opts)

  this.id = options.id
  this.state = { connected: false, isReconnecting: false }
  // Always a function, since gaggle-era channels call it directly; messages are only formatted for a real one.
  this._logFunction = options.logFunction === undefined ? noop : options.logFunction
  this._sequence = 0
  // A node restarted under the same id counts from 0 again; a new incarnation tells receivers to start over
  // instead of dropping its packets until it passes its old sequence.
  this._incarnation = randomInt(2 ** 47)
  this._lastRecieved = new Map() // origin id -> {incarnation, sequence}
  this._disconnectRequested = false
}

Object.setPrototypeOf(ChannelInterface.prototype, EventEmitter.prototype)

// For consumers.

ChannelInterface.prototype.connect = function connect () {
  this._disconnectRequested = false
  return this._connect()
}

// Once asked to disconnect, the channel drops outgoing and incoming packets, as gaggle's did.
ChannelInterface.prototype.disconnect = function disconnect () {
  this._disconnectRequested = true
  return this._disconnect()
}

// Reaches every connected node, this one included.
ChannelInterface.prototype.broadcast = function broadcast (data) {
  if (this._disconnectRequested) return
  if (this._logFunction !== noop) this._logFunction(`${this.id} broadcasted\n${JSON.stringify(data, null, 2)}`)
  return this._broadcast(this._createPacket(data))
}

ChannelInterface.prototype.send = function send (nodeId, data) {
  if (this._disconnectRequested) return
  if (this._logFunction !== noop) this._logFunction(`${this.id} sent to ${nodeId}\n${JSON.stringify(data, null, 2)}`)
  return this._send(nodeId, this._createPacket(data))
}

// For implementers: override these four.

ChannelInterface.prototype._connect = function _connect () {
  throw new Error('Not implemented')
}

ChannelInterface.prototype._disconnect = function _disconnect () {
  throw new Error('Not implemented')
}

ChannelInterface.prototype._broadcast = function _broadcast (packet) {
  throw new Error('Not implemented')
}

ChannelInterface.prototype._send = function _send (nodeId, packet) {
  throw new Error('Not implemented')
}

// For implementers: call these.

ChannelInterface.prototype._connected = function _connected () {
  if (this.state.connected) {
    throw new Error('_connected was called although the channel is already in the connected state')
  }
  this.state.connected = true
  this.state.isReconnecting = false
  this.emit('connected')
}

ChannelInterface.prototype._disconnected = function _disconnected () {
  if (!this.state.connected) {
    throw new Error('_disconnected was called although the channel is already in the disconnected state')
  }
  this.state.connected = false
  this.state.isReconnecting = false
  this.emit('disconnected')
}

// Drops a packet whose sequence is not above the last one seen from the same incarnation of its origin.
ChannelInterface.prototype._recieved = function _recieved (originNodeId, packet) {
  if (this._disconnectRequested) return
  if (!this.state.connected) {
    throw new Error('_recieved was called although the channel is in the disconnected state')
  }
  if (packet === null || typeof packet !== 'object') return
  if (typeof packet.sequence === 'number') {
    const last = this._lastRecieved.get(originNodeId)
    if (last === undefined) {
      this._lastRecieved.set(originNodeId, { incarnation: packet.incarnation, sequence: packet.sequence })
    } else if (last.incarnation === packet.incarnation && packet.sequence <= last.sequence) {
      return
    } else {
      last.incarnation = packet.incarnation
      last.sequence = packet.sequence
    }
  }
  if (this._logFunction !== noop) {
    this._logFunction(`${this.id} recieved from ${originNodeId}\n${JSON.stringify(packet.data, null, 2)}`)
  }
  this.emit('recieved', originNodeId, packet.data)
}

// Ends a disconnect() with 'disconnected' even when the channel never got connected, so that a consumer
// waiting for the event is not left hanging.
ChannelInterface.prototype._settleDisconnect = function _settleDisconnect () {
  if (this.state.connected) this._disconnected()
  else this.emit('disconnected')
}

ChannelInterface.prototype._createPacket = function _createPacket (data) {
  return { data, sequence: this._sequence++, incarnation: this._incarnation }
}

module.exports = ChannelInterface
