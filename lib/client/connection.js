// One connection from a client to one node of a `flotilla serve` cluster (or any node whose tcp channel has
// `clients: true`): requests with ids, each settled by its reply, and entries streams fed batch by batch. The
// protocol is in lib/service/client-service.js.
'use strict'

const { NativeClient, MAX_CLIENT_REQUEST_BYTES } = require('../native')
const { CODES, codedError, invalidArgument } = require('../engine/errors')

// A node sends `{}` every 2 s to a client with a stream under way: a streaming connection silent for this long
// leads to a node that is gone or frozen (its TCP connection may stay open), and is given up, so that the
// stream goes on from another node.
const SILENT_STREAM_MS = 7000

class Connection {
  /** Connects to `address`; rejects (FLOTILLA_UNAVAILABLE) when the node cannot be reached or refuses. */
  static async open (address, settings) {
    const connection = new Connection(address)
    try {
      connection._native = await NativeClient.connect({ ...settings, address }, (text) => connection._onFrame(text))
    } catch (error) {
      throw codedError(CODES.UNAVAILABLE, `flotilla/client: ${error.message}`, error)
    }
    return connection
  }

  constructor (address) {
    this.address = address
    this.closed = false
    this._native = null
    this._nextId = 1
    this._pending = new Map() // request id -> {resolve, reject, timer}
    this._streams = new Map() // request id -> (message) => void
    this._heardAt = 0 // when the node last sent a frame
    this._watchdog = null // while streams are open: gives up a connection silent for SILENT_STREAM_MS
  }

  /** The name of the node at the other end. */
  get node () { return this._native.node }

  /**
   * Sends `{op, ...args}`; resolves with the reply's result, or rejects with its error (and its code):
   * FLOTILLA_TOO_LARGE before sending a request above the node's limit, FLOTILLA_UNAVAILABLE when the connection
   * ends first, FLOTILLA_TIMEOUT when no answer came within `timeoutMs` (the request may have been carried out).
   */
  request (op, args, timeoutMs) {
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(this._closedError())
      const id = this._nextId++
      let text
      try {
        text = JSON.stringify({ ...args, id, op })
      } catch (error) {
        return reject(invalidArgument(`flotilla/client: the "${op}" request cannot be serialized to JSON: ${error.message}`, TypeError))
      }
      if (Buffer.byteLength(text) > MAX_CLIENT_REQUEST_BYTES) {
        return reject(codedError(CODES.TOO_LARGE, `flotilla/client: the "${op}" request is ${Buffer.byteLength(text)} bytes, more than a node takes (${MAX_CLIENT_REQUEST_BYTES})`))
      }
      const timer = setTimeout(() => {
        this._pending.delete(id)
        reject(codedError(CODES.TIMEOUT, `flotilla/client: no answer to "${op}" from ${this.address} within ${timeoutMs} ms`))
      }, timeoutMs)
      this._pending.set(id, { resolve, reject, timer })
      // Not queued (too many frames wait): the connection is given up, which fails this request with the others.
      this._send(text)
    })
  }

  // Sends a frame; one that cannot be queued ends the connection (everything on it fails over, as when it breaks).
  _send (text) {
    if (this.closed) return false
    if (this._native.send(text)) return true
    this.close()
    return false
  }

  /** Opens an entries stream: `onMessage` gets each `{entries}`, `{end}` or `{error}`; returns its controls. */
  stream (args, onMessage) {
    if (this.closed) throw this._closedError()
    const id = this._nextId++
    this._streams.set(id, onMessage)
    if (this._watchdog === null) {
      this._heardAt = Date.now()
      this._watchdog = setInterval(() => this._watch(), 1000).unref()
    }
    const send = (message) => this._send(JSON.stringify({ ...message, id }))
    send({ ...args, op: 'entries' })
    return {
      ack: () => send({ op: 'ack' }),
      cancel: () => {
        this._streams.delete(id)
        send({ op: 'cancel' })
      }
    }
  }

  close () {
    if (!this.closed && this._native !== null) this._native.close()
  }

  _watch () {
    if (this._streams.size === 0) {
      clearInterval(this._watchdog)
      this._watchdog = null
    } else if (Date.now() - this._heardAt > SILENT_STREAM_MS) {
      this.close()
    }
  }

  _onFrame (text) {
    if (text === null) return this._ended()
    this._heardAt = Date.now()
    let message
    try {
      message = JSON.parse(text)
    } catch {
      return
    }
    if (message === null || typeof message !== 'object') return
    const stream = this._streams.get(message.id)
    if (stream !== undefined) {
      if (message.end || message.error) this._streams.delete(message.id)
      return stream(message)
    }
    const pending = this._pending.get(message.id)
    if (pending === undefined) return
    this._pending.delete(message.id)
    clearTimeout(pending.timer)
    if (message.error) {
      const { code, message: why } = message.error
      pending.reject(codedError(typeof code === 'string' ? code : CODES.INTERNAL, `flotilla/client: ${why}`))
    } else {
      pending.resolve(message.result)
    }
  }

  _ended () {
    this.closed = true
    clearInterval(this._watchdog)
    this._watchdog = null
    for (const pending of this._pending.values()) {
      clearTimeout(pending.timer)
      pending.reject(this._closedError())
    }
    this._pending.clear()
    for (const stream of this._streams.values()) stream({ error: { code: CODES.UNAVAILABLE, message: `the connection to ${this.address} ended` } })
    this._streams.clear()
  }

  _closedError () {
    return codedError(CODES.UNAVAILABLE, `flotilla/client: the connection to ${this.address} ended`)
  }
}

module.exports = { Connection }
