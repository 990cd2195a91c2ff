// A channel over Redis pub/sub with gaggle's JSON envelope {from, to?, data: packet}. Broadcasts go on the Redis
// channel `channelName`, as in gaggle; a message for one node goes on `channelName:nodeId`, which only that node
// subscribes to, so that a large message for a lagging node (a catch-up) is not delivered to every node and
// cannot push the others over Redis's pubsub output buffer limit. Each node also keeps what gaggle nodes send it
// on `channelName` (envelopes addressed to it or to everyone). Redis also disconnects a subscriber for any single
// message above its output buffer hard limit ('pubsub 1mb' is common), so a packet whose JSON is longer than
// FRAGMENT_CHARS goes as fragments {from, to?, fragment, part, parts, text} that the receiver puts back together
// (./fragments.js); smaller packets keep gaggle's envelope exactly.
'use strict'

const { createClient } = require('redis')
const ChannelInterface = require('./channel-interface')
const { assertChannelOptions } = require('./validate-options')
const { isEnvelopeFor } = require('./envelope')
const { FRAGMENT_CHARS, MAX_REASSEMBLY_CHARS, cutText, Reassembly } = require('./fragments')

const OPTION_RULES = {
  connectionString: { type: 'string' },
  channelName: { type: 'string', required: true },
}

// The Redis channel of the messages for one node.
const directChannelOf = (channelName, nodeId) => `${channelName}:${nodeId}`

// close() lets queued publishes go out first; a client that is not ready may retry forever, so it is destroyed.
async function closeClient (client) {
  if (client.isReady) await client.close()
  else if (client.isOpen) client.destroy()
}

class RedisChannel extends ChannelInterface {
  constructor (opts) {
    super(opts)
    const { connectionString, channelName } = assertChannelOptions(opts, OPTION_RULES)
    this._connectionString = connectionString
    this._redisChannel = channelName
    this._clients = null
    this._nextFragment = 0
    this._reassembly = new Reassembly()
    // Redis errors (refused connections while retrying, mostly) go to the log function, as in gaggle.
    this._onError = (error) => this._logFunction(error)
  }

  // Fragments and incomplete packets dropped by the reassembly: a node adds them to `status().dropped.channel`.
  get droppedPackets () {
    return this._reassembly.dropped
  }

  _connect () {
    if (this._clients !== null) return
    // A client in subscriber mode cannot publish: one client for each direction.
    const publisher = createClient(this._connectionString === undefined ? {} : { url: this._connectionString })
    const subscriber = publisher.duplicate()
    const clients = { publisher, subscriber }
    this._clients = clients

    for (const client of [publisher, subscriber]) {
      client.on('error', this._onError)
      client.on('reconnecting', () => {
        if (this._clients === clients) this.state.isReconnecting = true
      })
      client.on('ready', () => {
        if (this._clients === clients) this.state.isReconnecting = !(publisher.isReady && subscriber.isReady)
      })
    }

    // node-redis reconnects a dropped client (Redis disconnects a subscriber that falls too far behind) and
    // subscribes it again; Raft resends what was lost meanwhile.
    const subscribed = subscriber.connect().then(() => subscriber.subscribe(
      [this._redisChannel, directChannelOf(this._redisChannel, this.id)], (message) => this._onMessage(message)))
    Promise.all([publisher.connect(), subscribed]).then(() => {
      if (this._clients === clients && !this.state.connected) this._connected()
    }, this._onError)
  }

  // Disconnected at once: from here on this node neither sends nor hears, while its two connections close in
  // the background. (Waiting for them gave the other nodes of a process I/O turns first: after a leader's
  // close(), which hands leadership over, they could elect and all follow the new leader before close()
  // settled, and gaggle's own test/raft.js checks that consensus is not reached yet at that moment.)
  _disconnect () {
    const clients = this._clients
    this._clients = null
    this._reassembly.clear()
    if (clients !== null) {
      Promise.allSettled([closeClient(clients.subscriber), closeClient(clients.publisher)])
    }
    this._settleDisconnect()
  }

  _broadcast (packet) {
    this._publish(this._redisChannel, undefined, packet)
  }

  _send (nodeId, packet) {
    this._publish(directChannelOf(this._redisChannel, nodeId), nodeId, packet)
  }

  // The packet is serialized once; the envelope is written around its text as JSON.stringify would write it.
  _publish (redisChannel, to, packet) {
    if (this._clients === null) return
    const text = JSON.stringify(packet)
    // (a `to` that JSON cannot write is left out, as JSON.stringify leaves it out of an object)
    const toText = JSON.stringify(to)
    const head = '{"from":' + JSON.stringify(this.id) + (toText === undefined ? '' : ',"to":' + toText)
    if (text.length <= FRAGMENT_CHARS) {
      this._publishText(redisChannel, head + ',"data":' + text + '}')
      return
    }
    if (text.length > MAX_REASSEMBLY_CHARS) {
      throw new Error(`The redis channel cannot carry a packet of ${text.length} characters of JSON: receivers ` +
        `put back together at most ${MAX_REASSEMBLY_CHARS}`)
    }
    const pieces = cutText(text)
    const fragment = this._nextFragment++
    pieces.forEach((piece, part) => {
      this._publishText(redisChannel, head + `,"fragment":${fragment},"part":${part},"parts":${pieces.length}` +
        ',"text":' + JSON.stringify(piece) + '}')
    })
  }

  _publishText (redisChannel, message) {
    this._clients.publisher.publish(redisChannel, message).catch(this._onError)
  }

  _onMessage (message) {
    if (!this.state.connected) return
    let envelope
    try {
      envelope = JSON.parse(message)
    } catch {
      return
    }
    if (!isEnvelopeFor(envelope, this.id)) return
    if (envelope.fragment === undefined) {
      this._recieved(envelope.from, envelope.data)
      return
    }
    const packet = this._reassembly.add(envelope.from, envelope)
    if (packet !== undefined) this._recieved(envelope.from, packet)
  }
}

module.exports = RedisChannel
