// An in-process channel for tests and single-process clusters: nodes of one namespace find each other by id on a
// shared bus; packets arrive asynchronously, in order for each pair of nodes, and none is dropped.
'use strict'

const ChannelInterface = require('./channel-interface')
const { assertChannelOptions } = require('./validate-options')

const DEFAULT_NAMESPACE = ''
const buses = new Map() // namespace -> Map(node id -> channel)

// One queue for every bus keeps each pair of nodes FIFO, and one setImmediate per batch costs far less than a
// timer per packet. setImmediate rather than a microtask: a busy cluster cannot starve timers and I/O, and a
// packet is never handled inside the sender's own call stack.
let pending = []
let drainScheduled = false

function enqueue (namespace, from, to, packet) {
  pending.push({ namespace, from, to, packet })
  if (!drainScheduled) {
    drainScheduled = true
    setImmediate(drain)
  }
}

// Packets sent while draining wait for the next batch, so that I/O gets its turn between batches.
function drain () {
  const batch = pending
  pending = []
  drainScheduled = false
  let next = 0
  try {
    while (next < batch.length) {
      const { namespace, from, to, packet } = batch[next++]
      const target = buses.get(namespace)?.get(to)
      if (target !== undefined && target.state.connected) target._recieved(from, packet)
    }
  } finally {
    // A listener threw: keep the rest of the batch, in order, for whoever handles the exception.
    if (next < batch.length) {
      pending = batch.slice(next).concat(pending)
      if (!drainScheduled) {
        drainScheduled = true
        setImmediate(drain)
      }
    }
  }
}

class MemoryChannel extends ChannelInterface {
  constructor (opts) {
    super(opts)
    const { namespace = DEFAULT_NAMESPACE } = assertChannelOptions(
      opts, { namespace: { type: 'string' } }, { required: false, allowUnknown: true })
    this._namespace = namespace
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
}

module.exports = MemoryChannel
