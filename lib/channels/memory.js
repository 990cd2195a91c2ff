// An in-process channel for tests and single-process clusters: nodes of one namespace find each other by id on a
// shared bus; packets arrive asynchronously, in order for each pair of nodes, and none is dropped.
'use strict'

const { performance } = require('node:perf_hooks')
const ChannelInterface = require('./channel-interface')
const { assertChannelOptions } = require('./validate-options')

const DEFAULT_NAMESPACE = ''
const buses = new Map() // namespace -> Map(node id -> channel)

// One queue for every bus keeps each pair of nodes FIFO, and one setImmediate per batch costs far less than a
// timer per packet. setImmediate rather than a microtask: a busy cluster cannot starve timers and I/O, and a
// packet is never handled inside the sender's own call stack.
// A batch is delivered in slices: once a slice has taken SLICE_MS, the rest waits for the next turn of the
// event loop, so that a burst of packets never holds the loop for long (what their receivers do with them, in
// the microtasks that follow the slice, comes on top).
const SLICE_MS = 1
let queue = []
let head = 0 // queue[head] is the next packet to deliver
let drainScheduled = false

function enqueue (namespace, from, to, packet) {
  queue.push({ namespace, from, to, packet })
  scheduleDrain()
}

function scheduleDrain () {
  if (!drainScheduled) {
    drainScheduled = true
    setImmediate(drain)
  }
}

// Packets sent while draining wait for the next batch, so that I/O gets its turn between batches.
function drain () {
  drainScheduled = false
  const end = queue.length
  const started = performance.now()
  try {
    while (head < end) {
      const { namespace, from, to, packet } = queue[head]
      queue[head++] = undefined
      deliver(namespace, from, to, packet)
      if (head < end && performance.now() - started >= SLICE_MS) break
    }
  } finally {
    // Also when a listener threw: the rest stays queued, in order, for whoever handles the exception.
    if (head === queue.length) {
      queue = []
      head = 0
    } else {
      if (head >= 1024 && head * 2 >= queue.length) {
        queue = queue.slice(head)
        head = 0
      }
      scheduleDrain()
    }
  }
}

function deliver (namespace, from, to, packet) {
  const target = buses.get(namespace)?.get(to)
  if (target === undefined || !target.state.connected) return
  if (packet.data instanceof WireText && !readsWireTexts(target)) {
    packet = { data: packet.data.value(), sequence: packet.sequence, incarnation: packet.incarnation }
  }
  target._recieved(from, packet)
}

// A message handed on as the JSON text its sender's engine wrote (see `sendText`), so that neither side parses
// it: the receiving engine reads the text itself. Anyone else gets the message, parsed from the text.
class WireText {
  constructor (text) {
    this.text = text
    this._value = undefined
  }

  // Parsed once: every receiver of a broadcast gets the same object, as with any packet.
  value () {
    if (this._value === undefined) this._value = JSON.parse(this.text)
    return this._value
  }
}

// The 'recieved' listeners that take a WireText for a message (flotilla's gaggle nodes).
const wireTextReaders = new WeakSet()

// Only a plain memory channel whose one listener reads wire texts, with no log function to print the packet,
// is handed a WireText: nobody can tell it from the parsed message.
function readsWireTexts (channel) {
  if (channel.constructor !== MemoryChannel || channel._logFunction !== channel._silentLogFunction) return false
  const count = channel.listenerCount('recieved')
  return count === 0 || (count === 1 && wireTextReaders.has(channel.rawListeners('recieved')[0]))
}

class MemoryChannel extends ChannelInterface {
  constructor (opts) {
    super(opts)
    const { namespace = DEFAULT_NAMESPACE } = assertChannelOptions(
      opts, { namespace: { type: 'string' } }, { required: false, allowUnknown: true })
    this._namespace = namespace
    // The base class's do-nothing log function, when no logFunction was given (packets are then not printed).
    this._silentLogFunction = opts.logFunction === undefined ? this._logFunction : undefined
  }

  // A second channel with the same id takes the place of the first, as a restarted node would.
  _connect () {
    setImmediate(() => {
      if (this._disconnectRequested || this.state.connected) return
      if (!buses.has(this._namespace)) buses.set(this._namespace, new Map())
      buses.get(this._namespace).set(this.id, this)
      this._connected()
    })
  }

  _disconnect () {
    setImmediate(() => {
      const bus = buses.get(this._namespace)
      if (bus !== undefined && bus.get(this.id) === this) {
        bus.delete(this.id)
        if (bus.size === 0) buses.delete(this._namespace)
      }
      this._settleDisconnect()
    })
  }

  _broadcast (packet) {
    const bus = buses.get(this._namespace)
    if (bus === undefined) return
    for (const nodeId of bus.keys()) enqueue(this._namespace, this.id, nodeId, packet)
  }

  // The target is looked up on delivery: a node that connects meanwhile still gets the packet.
  _send (nodeId, packet) {
    enqueue(this._namespace, this.id, nodeId, packet)
  }

  // `send` and `broadcast` for a message given as JSON text (valid JSON of an object, such as the engine
  // writes). Receivers get the message as if it had been sent parsed.
  sendText (nodeId, text) {
    if (this._logFunction !== this._silentLogFunction) return this.send(nodeId, JSON.parse(text))
    if (this._disconnectRequested) return
    return this._send(nodeId, this._createPacket(new WireText(text)))
  }

  broadcastText (text) {
    if (this._logFunction !== this._silentLogFunction) return this.broadcast(JSON.parse(text))
    if (this._disconnectRequested) return
    return this._broadcast(this._createPacket(new WireText(text)))
  }

  // Declares that `listener`, a 'recieved' listener, takes a WireText for a message (reading `.text`).
  static readWireTexts (listener) {
    wireTextReaders.add(listener)
  }
}

MemoryChannel.WireText = WireText

module.exports = MemoryChannel
