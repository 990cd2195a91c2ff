// A node's service to clients (`flotilla/client`, the CLI, the monitor): the requests they send over the native
// transport's client route (same port as the peers, authenticated the same way) and the replies this node sends
// back, each a JSON frame. The protocol:
//   request  {id, op, ...arguments}      reply  {id, result} | {id, error: {code, message}}
//   entries  {id, op: 'entries', from, to, window}   replies {id, entries: [...]} ... then {id, end: true};
//            the client acknowledges each batch with {id, op: 'ack'} (at most `window` batches unacknowledged)
//            and may stop the stream with {id, op: 'cancel'}.
//   keepalive {} from the node, to a client with a request or a stream under way (clients ignore it).
// Hostile or broken requests never throw here: they get an error reply (or, without a usable id, are dropped)
// and are counted. A client with a request or a stream under way gets a frame `{}` (which clients ignore) at least
// every 2 s, so that the transport never takes it for idle (an idle client may lose its place to a newcomer).
'use strict'

const { CODES, codedError } = require('../engine/errors')

// Requests of one client being served at once; more are refused (FLOTILLA_TOO_MANY_PENDING).
const MAX_PENDING_PER_CLIENT = 256
// Requests under way for all clients, those that left included (a client's requests go on when it leaves): a
// client that sends its 256 and reconnects, again and again, cannot make the node hold more.
const MAX_PENDING = 64 * MAX_PENDING_PER_CLIENT
// The longest a client's read waits on the node (a read of a client that left would otherwise wait for good on a
// node that cannot complete it, a member to come, say); the client's own timeout may be shorter.
const MAX_CLIENT_READ_MS = 120_000
// Requests the node answers at once, which MAX_PENDING does not hold back (a client can always see the node).
const ANSWERED_AT_ONCE = new Set(['status', 'members', 'metrics', 'address'])
// Entries streams of one client open at once.
const MAX_STREAMS_PER_CLIENT = 4
// Entries in one reply frame of a stream, at most, and the bytes of their data (a batch goes out once it holds
// more), so that a frame stays far below the transport's frame limit whatever the entries' size.
const ENTRIES_PER_BATCH = 256
const BATCH_DATA_BYTES = 256 * 1024
// The largest entry (its data as JSON) a stream carries: half the replies a client's queue holds (32 MiB), so
// that a batch with it always fits an empty queue. A larger one (a node may allow up to 64 MiB) ends the stream
// with FLOTILLA_TOO_LARGE: sent anyway, the client would be disconnected and ask for it again and again.
const MAX_STREAMED_ENTRY_BYTES = 16 * 1024 * 1024
// Batches a stream sends ahead of the client's acknowledgements, at most (and by default): with the limits above,
// a client's streams hold at most about 16 MiB of replies in the transport's queue for it (whose bound is 32 MiB).
const MAX_WINDOW = 16
const MAX_REQUEST_ID = Number.MAX_SAFE_INTEGER
// How often a busy client hears from the node at least: well within the transport's 5 s before a client is idle.
const KEEPALIVE_MS = 2000

class ClientService {
  /**
   * @param {object} node - the gaggle face's node
   * @param {(client: number, text: string) => boolean} reply - sends a frame to a client
   * @param {() => object} view - what `status` and `members` tell of the node besides its status()
   */
  constructor (node, reply, view) {
    this._node = node
    this._reply = reply
    this._view = view
    this._clients = new Map() // client -> {pending: number, streams: Map<id, stream>}
    this._pending = 0 // requests under way, of every client
    this.stats = { connected: 0, requests: 0, refused: 0 }
    this.onClient = this.onClient.bind(this)
    // Never keeps the process alive by itself.
    this._keepalive = setInterval(() => this._keepBusyClientsAlive(), KEEPALIVE_MS).unref()
  }

  /** The transport's call: a client's frame (`text`), or its connection's end (`text` null). */
  onClient (client, name, text) {
    if (text === null) return this._closed(client)
    let state = this._clients.get(client)
    if (state === undefined) {
      state = { name, pending: 0, streams: new Map() }
      this._clients.set(client, state)
      this.stats.connected++
    }
    let request
    try {
      request = JSON.parse(text)
    } catch {
      this.stats.refused++
      return
    }
    if (request === null || typeof request !== 'object' || !Number.isSafeInteger(request.id) || request.id < 0 ||
      request.id > MAX_REQUEST_ID || typeof request.op !== 'string') {
      this.stats.refused++
      return
    }
    this.stats.requests++
    this._serve(client, state, request)
  }

  _serve (client, state, request) {
    const { id, op } = request
    if (op === 'ack' || op === 'cancel') {
      const stream = state.streams.get(id)
      if (stream !== undefined) op === 'ack' ? stream.ack() : stream.cancel()
      return
    }
    if (op === 'entries') return this._entries(client, state, request)
    const handler = Object.hasOwn(OPS, op) ? OPS[op] : undefined // not an inherited name: "constructor" would be Object()
    if (handler === undefined) return this._fail(client, id, CODES.INVALID_ARGUMENT, `unknown request "${op}"`)
    if (state.pending >= MAX_PENDING_PER_CLIENT) {
      return this._fail(client, id, CODES.TOO_MANY_PENDING, `at most ${MAX_PENDING_PER_CLIENT} requests at once`)
    }
    if (this._pending >= MAX_PENDING && !ANSWERED_AT_ONCE.has(op)) {
      return this._fail(client, id, CODES.TOO_MANY_PENDING, `at most ${MAX_PENDING} requests of all clients at once`)
    }
    state.pending++
    this._pending++
    let result
    try {
      result = Promise.resolve(handler(this._node, request, this._view))
    } catch (error) {
      result = Promise.reject(error)
    }
    result.then(
      (value) => this._send(client, { id, result: value === undefined ? null : value }),
      (error) => this._fail(client, id, codeOf(error), error.message)
    ).finally(() => {
      state.pending--
      this._pending--
    })
  }

  _entries (client, state, request) {
    const { id } = request
    if (state.streams.has(id)) return this._fail(client, id, CODES.INVALID_ARGUMENT, `request ${id} is already a stream`)
    if (state.streams.size >= MAX_STREAMS_PER_CLIENT) {
      return this._fail(client, id, CODES.TOO_MANY_PENDING, `at most ${MAX_STREAMS_PER_CLIENT} entries streams at once`)
    }
    let iterator
    const abort = new AbortController()
    try {
      const range = { signal: abort.signal }
      if (request.from !== undefined) range.from = request.from
      if (request.to !== undefined) range.to = request.to
      iterator = this._node.entries(range)[Symbol.asyncIterator]()
    } catch (error) {
      return this._fail(client, id, codeOf(error), error.message)
    }
    const window = Number.isSafeInteger(request.window) && request.window > 0 ? Math.min(request.window, MAX_WINDOW) : MAX_WINDOW
    const stream = new EntriesStream(iterator, abort, window, (message) => this._send(client, { id, ...message }))
    state.streams.set(id, stream)
    stream.run().finally(() => state.streams.delete(id))
  }

  _closed (client) {
    const state = this._clients.get(client)
    if (state === undefined) return
    this._clients.delete(client)
    for (const stream of state.streams.values()) stream.cancel()
  }

  /** Stops every stream (the node is closing). */
  close () {
    clearInterval(this._keepalive)
    for (const client of [...this._clients.keys()]) this._closed(client)
  }

  _keepBusyClientsAlive () {
    for (const [client, state] of this._clients) {
      if (state.pending > 0 || state.streams.size > 0) this._reply(client, '{}')
    }
  }

  _send (client, message) {
    return this._reply(client, JSON.stringify(message))
  }

  _fail (client, id, code, message) {
    this._send(client, { id, error: { code, message } })
  }
}

// One entries stream: batches of committed entries, at most `window` ahead of the client's acknowledgements.
class EntriesStream {
  constructor (iterator, abort, window, send) {
    this._iterator = iterator
    this._abort = abort
    this._window = window
    this._sent = 0 // batches sent
    this._acked = 0 // of them, acknowledged
    this._send = send
    this._wakeCredit = null
    this._cancelled = false
  }

  // An acknowledgement of a batch not sent yet counts for nothing: never more than the window ahead.
  ack () {
    if (this._acked < this._sent) this._acked++
    if (this._wakeCredit !== null) this._wakeCredit()
  }

  cancel () {
    this._cancelled = true
    if (this._wakeCredit !== null) this._wakeCredit()
    // Ends the entries at once, even while they wait at the end of the log for the next commit.
    this._abort.abort()
  }

  async run () {
    let pending = null // the iterator's next(), asked for and not taken yet
    let batch = []
    let batchBytes = 0
    try {
      for (;;) {
        if (this._cancelled) return
        if (pending === null) pending = this._iterator.next()
        // What it has goes out as soon as the next entry is not there within this turn (the end of the log).
        const next = batch.length === 0 ? await pending : await Promise.race([pending, endOfTurn()])
        if (next === FLUSH) {
          if (!await this._flush(batch)) return
          batch = []
          batchBytes = 0
          continue
        }
        pending = null
        if (next.done) break
        const bytes = Buffer.byteLength(JSON.stringify(next.value.data ?? null))
        if (bytes > MAX_STREAMED_ENTRY_BYTES) {
          if (batch.length > 0 && !await this._flush(batch)) return
          throw codedError(CODES.TOO_LARGE, `entry ${next.value.index} holds ${bytes} bytes of data, more than a client's entries stream carries (${MAX_STREAMED_ENTRY_BYTES})`)
        }
        batch.push(next.value)
        batchBytes += bytes
        if (batch.length >= ENTRIES_PER_BATCH || batchBytes >= BATCH_DATA_BYTES) {
          if (!await this._flush(batch)) return
          batch = []
          batchBytes = 0
        }
      }
      if (batch.length > 0 && !await this._flush(batch)) return
      if (!this._cancelled) this._send({ end: true })
    } catch (error) {
      if (!this._cancelled) this._send({ error: { code: codeOf(error), message: error.message } })
    }
  }

  // Waits for credit, then sends the batch; false when the stream is over (cancelled, or the client gone).
  async _flush (batch) {
    while (this._sent - this._acked >= this._window && !this._cancelled) {
      await new Promise((resolve) => { this._wakeCredit = resolve })
    }
    this._wakeCredit = null
    if (this._cancelled) return false
    this._sent++
    if (!this._send({ entries: batch })) {
      this.cancel()
      return false
    }
    return true
  }
}

const FLUSH = Symbol('flush')

function endOfTurn () {
  return new Promise((resolve) => setImmediate(resolve, FLUSH))
}

function codeOf (error) {
  return error !== null && typeof error === 'object' && typeof error.code === 'string' ? error.code : CODES.INTERNAL
}

const OPS = {
  status: (node, request, view) => ({ ...view(), status: node.status() }),
  members: (node, request, view) => ({ ...node.members(), addresses: view().addresses }),
  metrics: (node) => node.metrics(),
  append: (node, { data, requestId, timeout }) => {
    const options = {}
    if (requestId !== undefined) options.requestId = requestId
    if (timeout !== undefined) options.timeout = timeout
    return node.append(data === undefined ? null : data, options)
  },
  read: (node, { timeout = MAX_CLIENT_READ_MS }) => node.read({ timeout: typeof timeout === 'number' && timeout > MAX_CLIENT_READ_MS ? MAX_CLIENT_READ_MS : timeout }),
  add: (node, { member, address, learner }) => {
    const options = {}
    if (address !== undefined) options.address = address
    if (learner !== undefined) options.learner = learner
    return node.addMember(member, options)
  },
  // Where this node's transport reaches `member` (given, or learned when it dialed here), or null.
  address: (node, { member }) => node._peerAddress(member),
  promote: (node, { member }) => node.promoteMember(member),
  remove: (node, { member }) => node.removeMember(member),
  change: (node, { voters, learners }) => node.changeMembership({ voters, learners }),
  transfer: (node, { member }) => node.transferLeadership(member)
}

module.exports = { ClientService, MAX_WINDOW }
