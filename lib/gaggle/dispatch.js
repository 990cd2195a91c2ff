// gaggle's `dispatchOnLeader`: run a named function of `opts.rpc` on the current leader and return its callback
// values. Not part of the replicated log, so it lives here, beside the engine: requests are sent again when the
// leader changes and periodically until answered, and the leader remembers recent replies by request id, so a
// request sent twice runs once.
'use strict'

const { CODES, codedError, invalidArgument } = require('../engine/errors')

const RETRY_MS = 500
const REPLY_CACHE_SIZE = 10000
const CLOSED = 'The node was closed before the rpc method returned'
const TIMED_OUT = 'Timed out before the rpc method returned'

// The leader's own methods a node may ask for by name, beside the application's `rpc` (membership changes).
const BUILT_IN = { 'flotilla:changeMembership': '_changeMembershipHere' }

function serializeError (error) {
  const serialized = { message: error.message, stack: error.stack, isSerializedError: true }
  if (typeof error.code === 'string') serialized.code = error.code
  return serialized
}

// Why `value` has no JSON form, or null when it has one.
function jsonError (value) {
  try {
    JSON.stringify(value)
    return null
  } catch (error) {
    return error.message
  }
}

function deserializeError (value) {
  if (value !== null && typeof value === 'object' && value.isSerializedError === true) {
    const error = new Error(String(value.message))
    if (typeof value.stack === 'string') error.stack = value.stack
    if (typeof value.code === 'string') error.code = value.code
    return error
  }
  return value
}

class DispatchLink {
  constructor (node) {
    this._node = node
    this._pending = new Map() // rpc id -> {name, args, resolve, reject, timer, deadline}
    this._running = new Set() // rpc ids the leader is running now
    this._replies = new Map() // rpc id -> returnValues, oldest first
    this._retryTimer = null
  }

  get pendingCount () {
    return this._pending.size
  }

  // Starts a call; the promise settles with the rpc's values (after its error slot) or its error.
  request ({ name, args, timeoutMs }) {
    return new Promise((resolve, reject) => {
      if (this._node._closePromise) return reject(codedError(CODES.CLOSED, CLOSED))
      // A channel that cannot send the request would lose it on every retry: say so now, whatever the channel.
      const unserializable = jsonError(args)
      if (unserializable) return reject(invalidArgument('The arguments cannot be serialized to JSON: ' + unserializable))
      const id = this._node._newRpcId()
      // The timeout is a deadline, as in gaggle: an answer seen at or after it settles the call as timed out,
      // even when it comes before the timer fires (so a 0 ms timeout times out), but for an answer within the
      // call itself (on the leader, an rpc that calls back at once), which came before gaggle's timer could.
      const deadline = timeoutMs === null ? Infinity : performance.now() + timeoutMs
      const call = { name, args, resolve, reject, timer: null, deadline, starting: true }
      if (timeoutMs !== null) {
        call.timer = setTimeout(() => {
          this._pending.delete(id)
          this._stopRetryIfIdle()
          reject(codedError(CODES.TIMEOUT, TIMED_OUT))
        }, Math.min(timeoutMs, 2147483647))
      }
      this._pending.set(id, call)
      this._send(id, call)
      call.starting = false
      if (this._pending.has(id)) this._armRetry()
    })
  }

  // A DISPATCH or DISPATCH_REPLY from the channel. Returns false when the message is malformed.
  receive (from, message) {
    if (typeof message.id !== 'string') return false
    if (message.type === 'DISPATCH') {
      if (typeof message.methodName !== 'string' || !Array.isArray(message.args)) return false
      this._serve(message.id, message.methodName, message.args, (values) => {
        this._node._sendMessage(from, { type: 'DISPATCH_REPLY', term: this._node._currentTerm, id: message.id, returnValues: values })
      })
      return true
    }
    if (!Array.isArray(message.returnValues)) return false
    this._settle(message.id, message.returnValues)
    return true
  }

  leaderChanged () {
    for (const [id, call] of this._pending) this._send(id, call)
  }

  close () {
    clearInterval(this._retryTimer)
    this._retryTimer = null
    for (const call of this._pending.values()) {
      clearTimeout(call.timer)
      call.reject(codedError(CODES.CLOSED, CLOSED))
    }
    this._pending.clear()
  }

  _send (id, call) {
    const node = this._node
    if (node.isLeader()) {
      this._serve(id, call.name, call.args, (values) => this._settle(id, values))
    } else {
      const leader = node._leader
      if (leader !== null) {
        node._sendMessage(leader, { type: 'DISPATCH', term: node._currentTerm, id, methodName: call.name, args: call.args })
      }
    }
  }

  // Runs the rpc as gaggle did: `fn.apply(leaderInstance, args.concat(callback))`, once per request id.
  _serve (id, name, args, reply) {
    const node = this._node
    if (!node.isLeader()) return
    if (this._replies.has(id)) return reply(this._replies.get(id))
    if (this._running.has(id)) return
    const remember = (values) => {
      this._running.delete(id)
      this._replies.set(id, values)
      if (this._replies.size > REPLY_CACHE_SIZE) this._replies.delete(this._replies.keys().next().value)
      reply(values)
    }
    const rpc = node._rpc
    const own = Object.prototype.hasOwnProperty.call(BUILT_IN, name) ? node[BUILT_IN[name]] : undefined
    const fn = own || (Object.prototype.hasOwnProperty.call(rpc, name) ? rpc[name] : undefined)
    if (typeof fn !== 'function') {
      return remember([serializeError({ message: 'The RPC method ' + name + ' does not exist', stack: 'Gaggle.prototype._dispatchOnLeader' })])
    }
    this._running.add(id)
    let answered = false
    const callback = (...values) => {
      if (answered) return
      answered = true
      if (values[0] instanceof Error) values[0] = serializeError(values[0])
      const unserializable = jsonError(values)
      if (unserializable) {
        values = [serializeError(new Error('The values of the RPC method ' + name + ' cannot be serialized to JSON: ' +
          unserializable))]
      }
      remember(values)
    }
    try {
      fn.apply(node, args.concat(callback))
    } catch (error) {
      callback(error instanceof Error ? error : new Error(String(error)))
    }
  }

  _settle (id, returnValues) {
    const call = this._pending.get(id)
    if (call === undefined) return
    this._pending.delete(id)
    clearTimeout(call.timer)
    if (!call.starting && performance.now() >= call.deadline) call.reject(codedError(CODES.TIMEOUT, TIMED_OUT))
    else if (returnValues[0] != null) call.reject(deserializeError(returnValues[0]))
    else call.resolve(returnValues.slice(1))
    this._stopRetryIfIdle()
  }

  _stopRetryIfIdle () {
    if (this._pending.size > 0) return
    clearInterval(this._retryTimer)
    this._retryTimer = null
  }

  // Requests (or their replies) can be lost on the way: ask again until answered.
  _armRetry () {
    if (this._retryTimer !== null) return
    this._retryTimer = setInterval(() => this.leaderChanged(), RETRY_MS)
  }
}

module.exports = { DispatchLink }
