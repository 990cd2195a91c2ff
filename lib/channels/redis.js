// A channel over Redis pub/sub with gaggle's JSON envelope {from, to?, data: packet}. Broadcasts go on the Redis
// channel `channelName`, as in gaggle; a message for one node goes on `channelName:nodeId`, which only that node
// subscribes to, so that a large message for a lagging node (a catch-up) is not delivered to every node and
// cannot push the others over Redis's pubsub output buffer limit. Each node also keeps what gaggle nodes send it
// on `channelName` (envelopes addressed to it or to everyone).
'use strict'

const { createClient } = require('redis')
const ChannelInterface = require('./channel-interface')
const { assertChannelOptions } = require('./validate-options')
const { isEnvelopeFor } = require('./envelope')

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
    // Redis errors (refused connections while retrying, mostly) go to the log function, as in gaggle.
    this._onError = (error) => this._logFunction(error)
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

  _disconnect () {
    const clients = this._clients
    this._clients = null
    const closing = clients === null ? [] : [closeClient(clients.subscriber), closeClient(clients.publisher)]
    Promise.allSettled(closing).then(() => this._settleDisconnect())
  }

  _broadcast (packet) {
    this._publish(this._redisChannel, { from: this.id, data: packet })
  }

  _send (nodeId, packet) {
    this._publish(directChannelOf(this._redisChannel, nodeId), { from: this.id, to: nodeId, data: packet })
  }

  _publish (redisChannel, envelope) {
    if (this._clients === null) return
    this._clients.publisher.publish(redisChannel, JSON.stringify(envelope)).catch(this._onError)
  }

  _onMessage (message) {
    if (!this.state.connected) return
    let envelope
    try {
      envelope = JSON.parse(message)
    } catch {
      return
    }
    if (isEnvelopeFor(envelope, this.id)) this._recieved(envelope.from, envelope.data)
  }
}

module.exports = RedisChannel
