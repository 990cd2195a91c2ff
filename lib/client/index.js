// `require('flotilla/client')`: a client for a cluster run as a service (`flotilla serve`, or nodes whose tcp
// channel has `clients: true`), as zmq-raft's client is for its peers. It connects to the addresses it is given
// (TLS or a secret, as the cluster is configured), learns every member's address from them, finds and follows
// the leader, and retries on another node when one goes away. An append with a request id commits once however
// often it is retried (the engine remembers request ids). The CLI is built on it.
'use strict'

const { randomBytes, randomUUID } = require('node:crypto')
const { ConnectionPool } = require('./connection-pool')
const { CODES, codedError, invalidArgument } = require('../engine/errors')
const { isAddress } = require('../engine/transport-settings')
const { membershipTarget } = require('../engine/membership-target')
const { entriesRange } = require('../engine/entries-stream')
const { MIN_SECRET_BYTES, MAX_NAME_BYTES } = require('../native')

const DEFAULT_TIMEOUT_MS = 10000
// The longest a timer waits in Node.js (a longer one fires at once).
const MAX_TIMEOUT_MS = 2147483647
// Between two rounds of looking for the leader (an election may be under way).
const RETRY_PAUSE_MS = 100
// Batches of entries an entries stream lets the node send ahead of what the caller took.
const STREAM_WINDOW = 16

class Client {
  /**
   * @param {object} options
   * @param {string[]} options.addresses - "host:port" of one or more nodes (the others are learned from them)
   * @param {string} [options.cluster] - the cluster's name (default 'flotilla')
   * @param {string} [options.secret] - the cluster's shared secret (the client proves the client key made from it)
   * @param {string} [options.clientKey] - instead of the secret: the client key (64 hex digits, `flotilla
   *   client-key`), which lets a client in without the power to act as a member
   * @param {{cert, key, ca}} [options.tls] - mutual TLS: this client's certificate (naming `name`) and key, the CA
   * @param {string} [options.name] - this client's name (default 'client-' and random hex)
   * @param {number} [options.timeout] - ms a call may take, retries included (default 10000)
   */
  constructor (options) {
    if (options === null || typeof options !== 'object') throw invalidArgument('flotilla/client: the options must be an object', TypeError)
    const { addresses, cluster = 'flotilla', secret, clientKey, tls, name = 'client-' + randomBytes(6).toString('hex'), timeout = DEFAULT_TIMEOUT_MS } = options
    if (!Array.isArray(addresses) || addresses.length === 0 || !addresses.every(isAddress)) {
      throw invalidArgument('flotilla/client: "addresses" must be a non-empty array of "host:port"', TypeError)
    }
    if (secret !== undefined && (typeof secret !== 'string' || Buffer.byteLength(secret) < MIN_SECRET_BYTES)) {
      throw invalidArgument(`flotilla/client: "secret" must be a string of at least ${MIN_SECRET_BYTES} bytes`, TypeError)
    }
    if (clientKey !== undefined && (typeof clientKey !== 'string' || !/^[0-9a-f]{64}$/.test(clientKey))) {
      throw invalidArgument('flotilla/client: "clientKey" must be 64 hex digits (flotilla client-key)', TypeError)
    }
    if ([secret, clientKey, tls].filter((given) => given !== undefined).length > 1) {
      throw invalidArgument('flotilla/client: give one of "secret", "clientKey" and "tls"', TypeError)
    }
    if (!Number.isSafeInteger(timeout) || timeout <= 0 || timeout > MAX_TIMEOUT_MS) {
      throw invalidArgument(`flotilla/client: "timeout" must be a whole number of ms from 1 to ${MAX_TIMEOUT_MS}`, TypeError)
    }
    for (const [what, text] of [['cluster', cluster], ['name', name]]) {
      if (typeof text !== 'string' || text === '' || Buffer.byteLength(text) > MAX_NAME_BYTES) {
        throw invalidArgument(`flotilla/client: "${what}" must be a string of 1 to ${MAX_NAME_BYTES} bytes`, TypeError)
      }
    }
    const settings = { cluster, name }
    if (secret !== undefined) settings.secret = secret
    if (clientKey !== undefined) settings.clientKey = clientKey
    if (tls !== undefined) settings.tls = pemStrings(tls)
    this._connections = new ConnectionPool(settings)
    this._seeds = [...addresses]
    this._addresses = new Set(addresses) // every address known, the seeds first
    this._timeoutMs = timeout
    this._leader = null // the address of the node last found leading
  }

  /**
   * The status of one node: the first of `addresses` that answers (`{leader: true}`: the leader's), with its id,
   * every member's address and its `status()`.
   */
  async status ({ leader = false } = {}) {
    return leader ? this._onLeader('status', {}) : this._onAny('status', {})
  }

  /** The configuration `{voters, outgoing, learners, addresses}` and, from the leader, each member's `progress`. */
  async members () {
    return this._onLeader('members', {})
  }

  /** The leader's metrics in the Prometheus text format. */
  async metrics () {
    return this._onLeader('metrics', {})
  }

  /**
   * Appends `data` (JSON) to the log; resolves with its index once committed. Every append carries a request id
   * (a random one unless `requestId` is given), so the entry commits once however often it is retried: by this
   * client when a node goes away, or by the caller (or another client) with the same `requestId`.
   */
  async append (data, { requestId = 'client-' + randomUUID(), timeout } = {}) {
    const args = { data, requestId }
    if (timeout !== undefined) args.timeout = timeout
    return this._onLeader('append', args, { retry: true })
  }

  /** A linearizable read: the index the leader confirmed (every entry acknowledged before the call is at or below it). */
  async read ({ timeout } = {}) {
    return this._onLeader('read', timeout === undefined ? {} : { timeout }, { retry: true })
  }

  /**
   * Adds the node `id` (started with `join`): a learner, then a voter once caught up (unless `learner`). Its
   * address is `address`, or else the one it dialed any member from (the members are asked).
   */
  async addMember (id, { address, learner } = {}) {
    const args = { member: memberId(id) }
    if (address === undefined) address = await this._addressOf(args.member)
    if (address !== null && address !== undefined) args.address = address
    if (learner !== undefined) args.learner = learner
    return this._onLeader('add', args)
  }

  // The address some member's transport knows for `id` (it dialed that member), or null.
  async _addressOf (id) {
    const deadline = Date.now() + this._timeoutMs
    // Every member's address first (a status names them all), so that every member is asked.
    await this._onAny('status', {}).catch(() => {})
    for (const address of [...this._addresses]) {
      try {
        const connection = await this._connections.get(address)
        const known = await connection.request('address', { member: id }, Math.max(1, deadline - Date.now()))
        if (isAddress(known)) return known
      } catch {
        // That member is away: ask the next.
      }
    }
    return null
  }

  promoteMember (id) { return this._onLeader('promote', { member: memberId(id) }) }
  removeMember (id) { return this._onLeader('remove', { member: memberId(id) }) }

  changeMembership (target) {
    return this._onLeader('change', membershipTarget(target, 'flotilla/client'))
  }

  transferLeadership (id) { return this._onLeader('transfer', { member: memberId(id) }) }

  /**
   * The committed entries from `from` to `to` (inclusive, 0-based as gaggle's), as an async iterator of
   * `{index, term, id, data}`; without `to` it follows new commits until the caller stops (break) or `close()`.
   */
  entries (options = {}) {
    const range = entriesRange(options, 'flotilla/client')
    return entriesFrom(this, range)
  }

  /** Closes every connection. */
  close () {
    this._connections.close()
  }

  // ---- connections and the leader ----

  _learn (view) {
    if (view === null || typeof view !== 'object' || view.addresses === null || typeof view.addresses !== 'object') return
    for (const address of Object.values(view.addresses)) if (isAddress(address)) this._addresses.add(address)
  }

  // The first node (seeds first) that answers `op`.
  async _onAny (op, args) {
    const deadline = Date.now() + this._timeoutMs
    let lastError = null
    while (!this._connections.closed && Date.now() < deadline) {
      for (const address of [...this._seeds, ...this._addresses]) {
        try {
          const connection = await this._connections.get(address)
          const result = await connection.request(op, args, Math.max(1, deadline - Date.now()))
          this._learn(result)
          return result
        } catch (error) {
          lastError = error
        }
      }
      await pause(RETRY_PAUSE_MS)
    }
    throw this._unavailable(lastError)
  }

  // The leader's connection: the one found last if it still leads, else the leader some node names.
  // `cached`: the leader found last will do, while its connection lasts (for requests a node that no longer leads
  // refuses with NOT_LEADER, forwards to the leader, or answers as well: see CACHED_LEADER_OK).
  async _leaderConnection (deadline, cached = false) {
    const known = this._leader === null || !cached ? null : await this._connections.current(this._leader)
    if (known !== null) return known
    let lastError = null
    while (!this._connections.closed && Date.now() < deadline) {
      const candidates = this._leader === null ? [...this._addresses] : [this._leader, ...this._addresses]
      for (const address of candidates) {
        try {
          const connection = await this._connections.get(address)
          const view = await connection.request('status', {}, Math.max(1, deadline - Date.now()))
          this._learn(view)
          const status = view.status
          if (status !== null && status.state === 'LEADER') {
            this._leader = address
            return connection
          }
          const leaderAddress = status !== null && status.leader !== null ? view.addresses[status.leader] : null
          if (isAddress(leaderAddress) && leaderAddress !== address) {
            this._addresses.add(leaderAddress)
            const leader = await this._connections.get(leaderAddress)
            const leaderView = await leader.request('status', {}, Math.max(1, deadline - Date.now()))
            this._learn(leaderView)
            if (leaderView.status !== null && leaderView.status.state === 'LEADER') {
              this._leader = leaderAddress
              return leader
            }
          }
        } catch (error) {
          lastError = error
        }
      }
      this._leader = null
      await pause(RETRY_PAUSE_MS)
    }
    throw this._unavailable(lastError, 'no leader')
  }

  // `op` on the leader. A node that no longer leads refused it (nothing was done): it goes to the new leader. A
  // lost connection or no answer sends it again only when that is safe: a read, a status, or (`retry`) an append
  // with a request id. An append sent and never answered ends as FLOTILLA_OUTCOME_UNKNOWN, naming its request id.
  async _onLeader (op, args, { retry = SAFE_TO_RETRY.has(op) } = {}) {
    const deadline = Date.now() + this._timeoutMs
    let sent = false
    for (;;) {
      let connection
      try {
        connection = await this._leaderConnection(deadline, CACHED_LEADER_OK.has(op))
      } catch (error) {
        throw sent ? this._outcomeUnknown(op, args, error) : error
      }
      try {
        sent = true
        const result = await connection.request(op, args, Math.max(1, deadline - Date.now()))
        this._learn(result)
        return result
      } catch (error) {
        if (error.code === CODES.TOO_LARGE) throw error
        const refusedElsewhere = error.code === CODES.NOT_LEADER
        const unanswered = error.code === CODES.UNAVAILABLE || error.code === CODES.TIMEOUT
        if (refusedElsewhere) sent = false
        if (!(refusedElsewhere || (unanswered && retry)) || Date.now() >= deadline || this._connections.closed) {
          throw unanswered ? this._outcomeUnknown(op, args, error) : error
        }
        this._leader = null
        await pause(RETRY_PAUSE_MS)
      }
    }
  }

  // A request that may have been carried out though no answer came (a change, or an append: retry it with its
  // request id, which commits it once).
  _outcomeUnknown (op, args, cause) {
    if (SAFE_TO_RETRY.has(op)) return cause
    const retry = args.requestId === undefined ? '' : `; retry with the request id ${args.requestId}, which commits it once`
    const error = codedError(CODES.OUTCOME_UNKNOWN, `flotilla/client: "${op}" was sent but not answered, it may have been carried out${retry} (${cause.message.replace(/^flotilla\/client: /, '')})`, cause)
    if (args.requestId !== undefined) error.requestId = args.requestId
    return error
  }

  _unavailable (cause, what = 'no node') {
    if (this._connections.closed) return codedError(CODES.CLOSED, 'flotilla/client: the client is closed')
    const detail = cause === null ? '' : `; last: ${cause.message.replace(/^flotilla\/client: /, '')}`
    return codedError(CODES.UNAVAILABLE, `flotilla/client: ${what} of the cluster answered within ${this._timeoutMs} ms${detail}`, cause)
  }
}

const SAFE_TO_RETRY = new Set(['status', 'members', 'metrics', 'read'])
// Requests that need no status round trip to find the leader each time: a node that no longer leads forwards them
// (appends, membership changes), refuses them with NOT_LEADER (transfer), or answers them as well (a read index).
// A status or the members' progress must come from the leader itself.
const CACHED_LEADER_OK = new Set(['append', 'read', 'add', 'promote', 'remove', 'change', 'transfer'])

// Follows the stream on the leader; when its connection ends, it goes on from the next index on another node. The
// client's timeout runs from the last word a node said on the stream (entries, or the keepalive of a stream that
// waits for them), across reconnections: a stream that keeps breaking before any node says anything ends with
// FLOTILLA_UNAVAILABLE, as a call would.
async function * entriesFrom (client, { from, to }) {
  let next = from
  let lastHeard = Date.now()
  let lastBreak = null
  while (to === undefined || next <= to) {
    const deadline = lastHeard + client._timeoutMs
    if (lastBreak !== null) {
      await pause(RETRY_PAUSE_MS)
      if (Date.now() >= deadline) throw client._unavailable(lastBreak, 'no leader')
    }
    const connection = await client._leaderConnection(deadline)
    const args = { from: next, window: STREAM_WINDOW }
    if (to !== undefined) args.to = to
    const messages = []
    let wake = null
    const controls = connection.stream(args, (message) => {
      messages.push(message)
      if (wake !== null) wake()
    })
    try {
      for (;;) {
        while (messages.length === 0) await new Promise((resolve) => { wake = resolve })
        wake = null
        const message = messages.shift()
        if (message.end) return
        if (message.error) {
          const { code, message: why } = message.error
          if (code !== CODES.UNAVAILABLE || client._connections.closed) {
            throw codedError(typeof code === 'string' ? code : CODES.INTERNAL, `flotilla/client: ${why}`)
          }
          lastBreak = codedError(CODES.UNAVAILABLE, `flotilla/client: ${why}`)
          break // the connection ended: go on elsewhere
        }
        lastHeard = Date.now()
        // `{}` keeps the connection alive; anything else must be the entries from `next` on, in order.
        if (message.entries === undefined && Object.keys(message).length <= 1) continue
        if (!wellFormedEntries(message.entries, next, to)) {
          throw codedError(CODES.UNAVAILABLE, `flotilla/client: the node at ${connection.address} sent entries that are not the ones from ${next} on`)
        }
        for (const entry of message.entries) {
          yield entry
          next = entry.index + 1
        }
        controls.ack()
      }
    } finally {
      controls.cancel()
    }
  }
}

// Whether `entries` are entry objects whose indices run from `next` on, one by one (none beyond `to`).
function wellFormedEntries (entries, next, to) {
  if (!Array.isArray(entries)) return false
  return entries.every((entry, i) => entry !== null && typeof entry === 'object' && entry.index === next + i &&
    (to === undefined || entry.index <= to))
}

function memberId (id) {
  if (typeof id !== 'string' || id === '') throw invalidArgument('flotilla/client: a member id must be a non-empty string', TypeError)
  return id
}

function pemStrings (tls) {
  if (tls === null || typeof tls !== 'object') throw invalidArgument('flotilla/client: "tls" must be {cert, key, ca}', TypeError)
  const pem = {}
  for (const key of ['cert', 'key', 'ca']) {
    const value = Buffer.isBuffer(tls[key]) ? tls[key].toString('utf8') : tls[key]
    if (typeof value !== 'string' || value === '') throw invalidArgument(`flotilla/client: "tls.${key}" must be PEM text`, TypeError)
    pem[key] = value
  }
  return pem
}

function pause (ms) {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

module.exports = { Client }
