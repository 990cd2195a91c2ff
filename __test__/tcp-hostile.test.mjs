// The native transport (channel `tcp`, secret mode) under attack: a live 3-node cluster in this process, appending
// all the time through its leader, is hit with FLOTILLA_TCP_HOSTILE_CASES (default 10,000) hostile connections
// from Node's `net` sockets, a seeded mix (FLOTILLA_TCP_HOSTILE_SEED replays one): garbage bytes, huge length
// prefixes, truncated frames, HELLOs with the wrong magic/version/cluster, the node's own name or a malformed or
// overlong field, a dialer that knows a WRONG secret (the HMACs computed here as handshake.rs does), a real node's
// handshake recorded through a proxy and replayed, engine frames sent without a completed handshake, slow and
// silent handshakes, thousands of half-open connections, a flood of connections opened and closed, and
// connections from a fake node that knows the RIGHT secret (so its frames carry valid MACs) sending malformed
// engine and application frames, frames with bad or replayed MACs, oversized and cut-off frames.
// Every outcome is predicted here and the counters must match it exactly (status().transport, status().dropped);
// no node may fail, the cluster keeps committing during and after the attack, every node ends with one log
// holding every acknowledged append, memory stays bounded, and the open connections come back to normal.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { connect, createServer } from 'node:net'
import { createHmac } from 'node:crypto'
import { createRequire } from 'node:module'
import { gaggle, waitFor, freePorts } from './gaggle-support.mjs'

const CASES = Number(process.env.FLOTILLA_TCP_HOSTILE_CASES || 10_000)
const SEED = Number(process.env.FLOTILLA_TCP_HOSTILE_SEED || 0x5eed1e)
const CLUSTER = 'hostile'
const SECRET = 'the hostile test secret, 32 byte'
const WRONG_SECRET = 'not the secret, but just as long'
const TIMING = { electionTimeout: { min: 500, max: 1000 }, heartbeatInterval: 50 }
const IDS = ['n0', 'n1', 'n2']
// Strangers that know the secret (learned by the transport, unknown to the engine): a few names only, as each one
// learned stays in the transport's peer table.
const STRANGERS = ['mallory-0', 'mallory-1', 'mallory-2']
const STRANGER_ADVERTISE = '127.0.0.1:1'

// The transport's limits (crates/transport): handshake messages are at most 1024 bytes, frames after the handshake
// at most 3 * MAX_FLOW_BYTES (src/binding/transport_options.rs) + a 16-byte tag, 256 accepted connections at once,
// and the handshake must be over within 5 s.
const native = createRequire(import.meta.url)('../lib/native.js')
const HANDSHAKE_MAX_FRAME = 1024
const MAX_FRAME_BYTES = 3 * native.MAX_FLOW_BYTES
const TAG_LEN = 16
const SOON_MS = 12_000 // a hostile connection must be closed by the node by then
const MEMORY_BOUND = 300 * 1024 * 1024

// The counters compared with the prediction, as `path` in status().
const COUNTERS = [
  'transport.refusedBadMagicOrVersion',
  'transport.refusedWrongCluster',
  'transport.refusedUnknownOrSelfName',
  'transport.refusedBadAuth',
  'transport.refusedHandshakeTimeout',
  'transport.refusedTooManyConnections',
  'transport.droppedOversizedFrame',
  'transport.droppedBadFrameMac',
  'transport.malformedFrames',
  'transport.unknownFrames',
  'dropped.malformed',
  'dropped.unknownSender',
  'dropped.channel'
]
// Moved by real traffic as well: only at least the prediction.
const AT_LEAST = ['transport.connectionsAccepted', 'transport.framesReceived']
// Not aimed at (no TLS in secret mode): must not move.
const NEVER = ['transport.refusedTls']

// ---- seeded randomness ----

function random (seed) {
  let state = seed >>> 0
  const next = () => {
    state = (state + 0x6D2B79F5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const int = (n) => Math.floor(next() * n)
  return {
    int,
    between: (lo, hi) => lo + int(hi - lo + 1),
    chance: (p) => next() < p,
    pick: (list) => list[int(list.length)],
    bytes: (n) => {
      const out = Buffer.allocUnsafe(n)
      for (let i = 0; i < n; i++) out[i] = int(256)
      return out
    },
    weighted (table) {
      const total = table.reduce((sum, [, weight]) => sum + weight, 0)
      let at = next() * total
      for (const [value, weight] of table) {
        at -= weight
        if (at < 0) return value
      }
      return table[table.length - 1][0]
    }
  }
}

// ---- the wire, as crates/transport writes it ----

const u8 = (v) => Buffer.from([v & 0xff])
const u16 = (v) => { const b = Buffer.alloc(2); b.writeUInt16BE(v); return b }
const u32 = (v) => { const b = Buffer.alloc(4); b.writeUInt32BE(v >>> 0); return b }
const u64 = (v) => { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(v)); return b }
const bytesOf = (s) => Buffer.isBuffer(s) ? s : Buffer.from(s)
// A field behind its one-byte length (`lie`: the length written instead of the true one).
const field = (s, lie) => { const b = bytesOf(s); return Buffer.concat([u8(lie === undefined ? b.length : lie), b]) }
const frame = (payload) => Buffer.concat([u32(payload.length), payload])

function hello ({ magic = 'FLOTILLA', version = 1, lane = 0, cluster = CLUSTER, dialer, advertise, nonce }) {
  return Buffer.concat([bytesOf(magic), u16(version), u8(lane), field(cluster), field(dialer), field(advertise), nonce])
}

// handshake.rs/cluster_key.rs: HMAC-SHA256(secret, label | route | len advertise | len cluster | len dialer |
// len acceptor | nonce_d | nonce_a), the route being the HELLO's lane byte.
function proofMac (secret, label, { lane, advertise, dialer, acceptor, nonceD, nonceA, cluster = CLUSTER }) {
  const mac = createHmac('sha256', secret).update(label).update(u8(lane))
  for (const text of [advertise, cluster, dialer, acceptor]) mac.update(field(text))
  return mac.update(nonceD).update(nonceA).digest()
}

const sessionKey = (secret, nonceD, nonceA) => createHmac('sha256', secret).update('flotilla session').update(nonceD).update(nonceA).digest()

// frame_mac.rs: each frame's tag is HMAC-SHA256(session key, 1 | sequence u64 | payload), cut to 16 bytes.
class Sealer {
  constructor (key) {
    this.key = key
    this.sequence = 0n
  }

  seal (payload) {
    const tag = createHmac('sha256', this.key).update(u8(1)).update(u64(this.sequence)).update(payload).digest().subarray(0, TAG_LEN)
    this.sequence++
    return frame(Buffer.concat([payload, tag]))
  }
}

// WELCOME: magic, version, the acceptor's name, its nonce, its proof behind a length byte.
function parseWelcome (payload) {
  if (payload === null || payload.length < 11 || payload.subarray(0, 8).toString() !== 'FLOTILLA' || payload.readUInt16BE(8) !== 1) return null
  let at = 10
  const nameLength = payload[at++]
  const acceptor = payload.subarray(at, at + nameLength).toString()
  at += nameLength
  const nonce = payload.subarray(at, at + 32)
  at += 32
  const macLength = payload[at++]
  const mac = payload.subarray(at, at + macLength)
  if (nonce.length !== 32 || mac.length !== macLength || at + macLength !== payload.length) return null
  return { acceptor, nonce, mac }
}

// ---- a client connection ----

class Conn {
  static open (port) {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host: '127.0.0.1' })
      socket.setNoDelay(true)
      const failed = (error) => reject(error)
      socket.once('error', failed)
      socket.once('connect', () => {
        socket.removeListener('error', failed)
        resolve(new Conn(socket))
      })
    })
  }

  constructor (socket) {
    this.socket = socket
    this.buffer = Buffer.alloc(0)
    this.closed = false
    this.wakers = new Set()
    socket.on('data', (data) => {
      // Only the handshake's replies are ever read: a node never writes more than that.
      this.buffer = this.buffer.length === 0 ? data : Buffer.concat([this.buffer, data])
      this.wake()
    })
    socket.on('error', () => {})
    socket.on('close', () => {
      this.closed = true
      this.wake()
    })
  }

  wake () {
    for (const waker of this.wakers) waker()
    this.wakers.clear()
  }

  changed (ms) {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms)
      this.wakers.add(() => { clearTimeout(timer); resolve() })
    })
  }

  write (bytes) {
    if (!this.closed && this.socket.writable) this.socket.write(bytes)
  }

  end () {
    if (!this.closed && this.socket.writable) this.socket.end()
  }

  // The next frame the node wrote, or null when the connection closed (or nothing came in time).
  async readFrame (ms = 5000) {
    const deadline = Date.now() + ms
    for (;;) {
      if (this.buffer.length >= 4) {
        const length = this.buffer.readUInt32BE(0)
        if (this.buffer.length >= 4 + length) {
          const payload = this.buffer.subarray(4, 4 + length)
          this.buffer = this.buffer.subarray(4 + length)
          return payload
        }
      }
      const left = deadline - Date.now()
      if (this.closed || left <= 0) return null
      await this.changed(left)
    }
  }

  async closedWithin (ms) {
    const deadline = Date.now() + ms
    while (!this.closed) {
      const left = deadline - Date.now()
      if (left <= 0) return false
      await this.changed(left)
    }
    return true
  }
}

// ---- what a node does with the first bytes of a connection, followed by the end of the stream ----

// frame_codec.rs + handshake_messages.rs, for bytes that are not a valid HELLO: the counter it bumps (null: none).
function handshakeOutcome (bytes) {
  if (bytes.length === 0) return null
  if (bytes.length < 4) return 'transport.malformedFrames' // the stream ended inside a frame
  const length = bytes.readUInt32BE(0)
  if (length > HANDSHAKE_MAX_FRAME) return 'transport.droppedOversizedFrame'
  if (bytes.length < 4 + length) return 'transport.malformedFrames'
  const payload = bytes.subarray(4, 4 + length)
  if (payload.length < 10 || payload.subarray(0, 8).toString('latin1') !== 'FLOTILLA' || payload.readUInt16BE(8) !== 1) {
    return 'transport.refusedBadMagicOrVersion'
  }
  throw new Error('garbage that starts like a HELLO: predict it by hand')
}

// ---- hostile bodies for a connection that completed the handshake with the right secret ----

const engineJson = (from) => [
  'not json', '{', '}', '', ' ', '[]', 'null', '42', '"APPEND_ENTRIES"', 'true', '{}', '[1,2,3]',
  '{"type":42}', '{"type":null,"term":1}', '{"type":"NO_SUCH_MESSAGE","term":1}', '{"type":"append_entries","term":1}',
  '{"type":"APPEND_ENTRIES"}',
  `{"type":"APPEND_ENTRIES","term":1e400,"leaderId":"${from}","prevLogIndex":0,"prevLogTerm":0,"entries":[],"leaderCommit":0}`,
  `{"type":"APPEND_ENTRIES","term":9007199254740992,"leaderId":"${from}","prevLogIndex":0,"prevLogTerm":0,"entries":[],"leaderCommit":0}`,
  `{"type":"APPEND_ENTRIES","term":18446744073709551616,"leaderId":"${from}","prevLogIndex":0,"prevLogTerm":0,"entries":[],"leaderCommit":0}`,
  `{"type":"APPEND_ENTRIES","term":-1,"leaderId":"${from}","prevLogIndex":0,"prevLogTerm":0,"entries":[],"leaderCommit":0}`,
  `{"type":"APPEND_ENTRIES","term":"1","leaderId":"${from}","prevLogIndex":0,"prevLogTerm":0,"entries":[],"leaderCommit":0}`,
  `{"type":"APPEND_ENTRIES","term":null,"leaderId":"${from}","prevLogIndex":0,"prevLogTerm":0,"entries":[],"leaderCommit":0}`,
  `{"type":"APPEND_ENTRIES","term":1.5,"leaderId":"${from}","prevLogIndex":0,"prevLogTerm":0,"entries":[],"leaderCommit":0}`,
  `{"type":"APPEND_ENTRIES","term":1,"leaderId":"${from}","prevLogIndex":4503599627370496,"prevLogTerm":0,"entries":[],"leaderCommit":0}`,
  `{"type":"APPEND_ENTRIES","term":1,"leaderId":"${from}","prevLogIndex":-2,"prevLogTerm":0,"entries":[],"leaderCommit":0}`,
  `{"type":"APPEND_ENTRIES","term":1,"leaderId":"${from}","prevLogIndex":0,"prevLogTerm":0,"entries":[],"leaderCommit":99999999999999999999}`,
  `{"type":"APPEND_ENTRIES","term":1,"leaderId":"${from}","prevLogIndex":0,"prevLogTerm":0,"entries":"x","leaderCommit":0}`,
  `{"type":"APPEND_ENTRIES","term":1,"leaderId":"${from}","prevLogIndex":0,"prevLogTerm":0,"entries":[{"index":"a","term":1}],"leaderCommit":0}`,
  `{"type":"APPEND_ENTRIES","term":1,"leaderId":"${from}","prevLogIndex":0,"prevLogTerm":0,"entries":[{}],"leaderCommit":0}`,
  `{"type":"APPEND_ENTRIES","term":1,"leaderId":"${from}","prevLogIndex":0,"prevLogTerm":0,"entries":null,"leaderCommit":0}`,
  `{"type":"APPEND_ENTRIES","term":1,"term":2,"leaderId":"${from}","prevLogIndex":0,"prevLogTerm":0,"entries":[],"leaderCommit":0}`,
  '{"type":"APPEND_ENTRIES","term":1,"leaderId":"somebody-else","prevLogIndex":0,"prevLogTerm":0,"entries":[],"leaderCommit":0}',
  '{"type":"REQUEST_VOTE","term":1,"candidateId":"somebody-else","lastLogIndex":0,"lastLogTerm":0}',
  `{"type":"REQUEST_VOTE","term":1,"candidateId":"${from}","lastLogIndex":-5,"lastLogTerm":0}`,
  `{"type":"REQUEST_VOTE","term":1,"candidateId":"${from}","lastLogIndex":0,"lastLogTerm":9007199254740993}`,
  '{"type":"PRE_VOTE","term":1}',
  '{"type":"REQUEST_VOTE_REPLY","term":1}',
  '{"type":"REQUEST_VOTE_REPLY","term":1,"voteGranted":"yes"}',
  '{"type":"APPEND_ENTRIES_REPLY","term":1,"success":true}',
  '{"type":"APPEND_ENTRIES_REPLY","term":1,"success":1,"lastLogIndex":0}',
  '{"type":"APPEND_ENTRY","id":"","data":1}',
  `{"type":"APPEND_ENTRY","id":"${'x'.repeat(300)}","data":1}`,
  '{"type":"APPEND_ENTRY","batch":[{"data":1}]}',
  '{"type":"APPEND_ENTRY","batch":"x"}',
  `{"type":"INSTALL_SNAPSHOT","term":1,"leaderId":"${from}","lastIncludedIndex":0,"lastIncludedTerm":1,"offset":0,"total":1,"chunk":"***"}`,
  `{"type":"INSTALL_SNAPSHOT","term":1,"leaderId":"${from}","lastIncludedIndex":0,"lastIncludedTerm":1,"offset":0,"total":1099511627776,"chunk":""}`,
  '{"type":"INSTALL_SNAPSHOT_REPLY","term":1,"lastIncludedIndex":0,"received":-1,"done":true}',
  '{"type":"READ_INDEX","request":-1}',
  '{"type":"READ_INDEX_REPLY","term":1,"request":1}',
  '{"type":"COMMIT_NOTICE","commitIndex":0}',
  '{"type":"TIMEOUT_NOW"}',
  '{"type":"TIMEOUT_NOW","term":-3}',
  '{"type":"HELLO","from":"somebody-else"}',
  `{"type":"NO_SUCH_MESSAGE","deep":${'['.repeat(300)}${']'.repeat(300)}}`
]
// Application frames (kind 1) carry a channel packet {data, sequence, incarnation} as JSON: text that is not JSON
// is counted by the channel, a packet that is not an object is dropped by ChannelInterface#_recieved (uncounted),
// a packet without an object as its data is counted by the gaggle face, and data that is no message by the engine.
const APP_NOT_JSON = ['not json', '{', '{"a":}', "{'a':1}", '', '[1,', 'undefined']
const APP_NOT_OBJECT = ['42', 'null', '"text"', 'true', '-0']
const APP_NO_DATA = ['{}', '[1,2]', '{"type":"NO_SUCH_RPC"}', '{"data":42}', '{"data":null}', '{"data":"text"}']
const APP_DATA_NOT_A_MESSAGE = ['{"data":{"type":"NO_SUCH_RPC"}}', '{"data":{}}', '{"data":[1,2]}', '{"data":{"type":"APPEND_ENTRIES","term":"x"}}', '{"data":{"type":7}}']

// One hostile frame from an authenticated connection as `from`: its payload and the counter it must bump.
function hostileFrame (rng, from) {
  const member = IDS.includes(from)
  const engineDrop = member ? 'dropped.malformed' : 'dropped.unknownSender'
  switch (rng.weighted([['engine', 10], ['engineUtf8', 1], ['engineHuge', 0.05], ['empty', 1], ['kind', 2], ['appUtf8', 1], ['appNotJson', 2], ['appNotObject', 1], ['appNoData', 2], ['appNotMessage', 2]])) {
    case 'engine': return { payload: Buffer.concat([u8(0), Buffer.from(rng.pick(engineJson(from)))]), counter: engineDrop }
    case 'engineUtf8': return { payload: Buffer.concat([u8(0), Buffer.from('{"type":"'), rng.bytes(rng.between(1, 8)).map((b) => b | 0x80), Buffer.from([0xff])]), counter: engineDrop }
    case 'engineHuge': return { payload: Buffer.concat([u8(0), Buffer.from('{"type":"APPEND_ENTRIES","junk":"'), Buffer.alloc(rng.between(1, 4) << 20, 'x')]), counter: engineDrop }
    case 'empty': return { payload: Buffer.alloc(0), counter: 'transport.unknownFrames' }
    case 'kind': return { payload: Buffer.concat([u8(rng.between(2, 255)), rng.bytes(rng.int(64))]), counter: 'transport.unknownFrames' }
    case 'appUtf8': return { payload: Buffer.concat([u8(1), Buffer.from([0xff, 0xfe, 0xc3])]), counter: 'transport.unknownFrames' }
    case 'appNotJson': return { payload: Buffer.concat([u8(1), Buffer.from(rng.pick(APP_NOT_JSON))]), counter: 'dropped.channel' }
    case 'appNotObject': return { payload: Buffer.concat([u8(1), Buffer.from(rng.pick(APP_NOT_OBJECT))]), counter: 'uncounted' }
    case 'appNoData': return { payload: Buffer.concat([u8(1), Buffer.from(rng.pick(APP_NO_DATA))]), counter: 'dropped.malformed' }
    case 'appNotMessage': return { payload: Buffer.concat([u8(1), Buffer.from(rng.pick(APP_DATA_NOT_A_MESSAGE))]), counter: engineDrop }
  }
}

// A HELLO the node would take from `dialer`.
function validHello (rng, dialer, { lane = 0, nonce = rng.bytes(32) } = {}) {
  const advertise = IDS.includes(dialer) ? `127.0.0.1:${rng.between(1024, 65535)}` : STRANGER_ADVERTISE
  return { bytes: hello({ lane, dialer, advertise, nonce }), nonce, lane, advertise }
}

// ---- the cases ----

// Each kind gets its own seeded randomness, its target ({id, port}) and the shared context (the recorded handshake
// of a real dialer, tallies); it returns its connection and the counters it expects to move.
const CASE_KINDS = {
  // Random bytes (some behind a plausible length prefix), then the end of the stream.
  async garbage (rng, target) {
    let bytes
    switch (rng.int(3)) {
      case 0: bytes = rng.bytes(rng.int(2049)); break
      case 1: { const length = rng.int(HANDSHAKE_MAX_FRAME + 1); bytes = Buffer.concat([u32(length), rng.bytes(rng.int(length + 64))]); break }
      default: bytes = rng.bytes(rng.between(1, 3))
    }
    // Random bytes that happen to start like a HELLO are left out (the prediction does not cover them).
    if (bytes.length >= 12 && bytes.subarray(4, 12).toString('latin1') === 'FLOTILLA') bytes[4] ^= 0xff
    const conn = await Conn.open(target.port)
    conn.write(bytes)
    conn.end()
    return { conn, expect: counted(handshakeOutcome(bytes)) }
  },

  // A length prefix far above the handshake's limit, then nothing or a trickle: closed at once.
  async hugeLength (rng, target) {
    const length = rng.pick([0xFFFFFFFF, 0x7FFFFFFF, 0x80000000, MAX_FRAME_BYTES + TAG_LEN + 1, HANDSHAKE_MAX_FRAME + 1, rng.between(HANDSHAKE_MAX_FRAME + 1, 0xFFFFFFFF)])
    const conn = await Conn.open(target.port)
    conn.write(u32(length))
    for (let i = rng.int(4); i > 0 && !conn.closed; i--) {
      await conn.changed(rng.between(1, 20))
      conn.write(rng.bytes(rng.between(1, 16)))
    }
    return { conn, expect: counted('transport.droppedOversizedFrame') }
  },

  // A frame cut off by the end of the stream: part of a length prefix, or part of a (HELLO) payload.
  async truncated (rng, target) {
    const whole = frame(validHello(rng, rng.pick(otherIds(target))).bytes)
    const bytes = rng.chance(0.2) ? whole.subarray(0, rng.between(1, 3)) : whole.subarray(0, rng.between(4, whole.length - 1))
    const conn = await Conn.open(target.port)
    if (rng.chance(0.5)) {
      conn.write(bytes)
    } else {
      for (let at = 0; at < bytes.length;) {
        const next = Math.min(bytes.length, at + rng.between(1, 40))
        conn.write(bytes.subarray(at, next))
        at = next
        await conn.changed(1)
      }
    }
    conn.end()
    return { conn, expect: counted('transport.malformedFrames') }
  },

  async badMagic (rng, target) {
    const magic = rng.pick(['FLOTILLX', 'flotilla', 'GAGGLE!!', rng.bytes(8), 'FLOTILL\0'])
    return sendAndEnd(target, hello({ magic, dialer: rng.pick(otherIds(target)), advertise: '127.0.0.1:9', nonce: rng.bytes(32) }), 'transport.refusedBadMagicOrVersion')
  },

  async badVersion (rng, target) {
    const version = rng.pick([0, 2, 3, 256, 0xFFFF])
    return sendAndEnd(target, hello({ version, dialer: rng.pick(otherIds(target)), advertise: '127.0.0.1:9', nonce: rng.bytes(32) }), 'transport.refusedBadMagicOrVersion')
  },

  async wrongCluster (rng, target) {
    const cluster = rng.pick(['other', 'hostile2', 'HOSTILE', 'hostil', 'flotilla', 'x'.repeat(255), `c-${rng.int(1e6)}`])
    return sendAndEnd(target, hello({ cluster, dialer: rng.pick(otherIds(target)), advertise: '127.0.0.1:9', nonce: rng.bytes(32) }), 'transport.refusedWrongCluster')
  },

  // A dialer calling itself by the node's own name.
  async selfName (rng, target) {
    return sendAndEnd(target, hello({ lane: rng.int(2), dialer: target.id, advertise: '127.0.0.1:9', nonce: rng.bytes(32) }), 'transport.refusedUnknownOrSelfName')
  },

  // A HELLO with a field that lies about its length, a bad lane, name, address or nonce, bytes after it, or one
  // too long for a handshake message.
  async badField (rng, target) {
    const dialer = rng.pick(otherIds(target))
    const nonce = rng.bytes(32)
    const head = Buffer.concat([Buffer.from('FLOTILLA'), u16(1)])
    let payload
    let counter = 'transport.malformedFrames'
    switch (rng.int(9)) {
      case 0: payload = Buffer.concat([head, u8(0), field(CLUSTER, rng.between(60, 255)), field(dialer)]); break
      case 1: payload = Buffer.concat([hello({ dialer, advertise: '127.0.0.1:9', nonce }), rng.bytes(rng.between(1, 100))]); break
      case 2: payload = hello({ lane: rng.between(2, 255), dialer, advertise: '127.0.0.1:9', nonce }); break
      case 3: payload = hello({ dialer: '', advertise: '127.0.0.1:9', nonce }); break
      case 4: payload = hello({ dialer: Buffer.from([0x6e, 0xff, 0xfe]), advertise: '127.0.0.1:9', nonce }); break
      case 5: payload = hello({ dialer, advertise: rng.pick(['nohost', ':80', 'host:99999', 'host:', 'host:-1', '']), nonce }); break
      case 6: payload = hello({ dialer, advertise: '127.0.0.1:9', nonce: nonce.subarray(0, rng.int(32)) }); break
      case 7: payload = hello({ cluster: '', dialer, advertise: '127.0.0.1:9', nonce }); break
      default:
        // Three 255-byte fields and more: above the 1024 bytes a handshake message may take.
        payload = Buffer.concat([hello({ cluster: 'c'.repeat(255), dialer: 'd'.repeat(255), advertise: `${'h'.repeat(249)}:12345`, nonce }), rng.bytes(rng.between(214, 2000))])
        counter = 'transport.droppedOversizedFrame'
    }
    return sendAndEnd(target, payload, counter)
  },

  // A dialer that knows a WRONG secret (or none): it cannot prove itself.
  async wrongSecret (rng, target, context) {
    const dialer = rng.pick([...otherIds(target), rng.pick(STRANGERS)])
    const { bytes, nonce, lane, advertise } = validHello(rng, dialer)
    const conn = await Conn.open(target.port)
    conn.write(frame(bytes))
    const welcome = parseWelcome(await conn.readFrame())
    if (welcome === null) return { conn, expect: {}, problem: `${target.id} sent no WELCOME to a valid HELLO` }
    // The acceptor's proof checks with the right secret: these HMACs are computed as the nodes compute them.
    const transcript = { lane, advertise, dialer, acceptor: target.id, nonceD: nonce, nonceA: welcome.nonce }
    if (welcome.acceptor !== target.id || !welcome.mac.equals(proofMac(SECRET, 'flotilla acceptor', transcript))) {
      return { conn, expect: {}, problem: `${target.id}'s WELCOME does not carry the proof computed here` }
    }
    context.welcomesVerified++
    let proof
    let counter = 'transport.refusedBadAuth'
    switch (rng.int(6)) {
      case 0: case 1: proof = field(proofMac(WRONG_SECRET, 'flotilla dialer', transcript)); break
      case 2: proof = u8(0); break // no proof at all
      case 3: proof = field(welcome.mac); break // the acceptor's own proof reflected back
      case 4: proof = field(rng.bytes(32)); break
      default: proof = field(rng.bytes(rng.pick([1, 16, 31, 33]))); counter = 'transport.malformedFrames' // a MAC of the wrong length
    }
    conn.write(frame(proof))
    return { conn, expect: counted(counter) }
  },

  // A real dialer's bytes (n1 calling n0, recorded through a proxy) played again: its proof was for another nonce.
  async replay (rng, target, context) {
    const { recorded, dialer } = context.recording
    const conn = await Conn.open(target.port)
    if (rng.chance(0.5)) {
      conn.write(recorded.bytes)
    } else {
      conn.write(recorded.frames[0])
      await conn.readFrame()
      conn.write(Buffer.concat(recorded.frames.slice(1)))
    }
    return { conn, expect: counted(target.id === dialer ? 'transport.refusedUnknownOrSelfName' : 'transport.refusedBadAuth') }
  },

  // An engine frame from a peer that never completed the handshake: as its first frame, in place of the proof,
  // or after an empty proof.
  async unauthenticatedFrame (rng, target) {
    const from = rng.pick(otherIds(target))
    const message = `{"type":"APPEND_ENTRIES","term":${rng.between(1, 1000)},"leaderId":"${from}","prevLogIndex":0,"prevLogTerm":0,"entries":[{"index":1,"term":1,"data":"forged","id":"x"}],"leaderCommit":1}`
    const engineFrame = Buffer.concat([u8(rng.int(2)), Buffer.from(message)])
    const withTag = rng.chance(0.5) ? Buffer.concat([engineFrame, rng.bytes(TAG_LEN)]) : engineFrame
    const conn = await Conn.open(target.port)
    const variant = rng.int(3)
    if (variant === 0) {
      conn.write(frame(withTag))
      return { conn, expect: counted('transport.refusedBadMagicOrVersion') }
    }
    conn.write(frame(validHello(rng, from).bytes))
    await conn.readFrame()
    if (variant === 1) {
      conn.write(frame(withTag))
      return { conn, expect: counted('transport.malformedFrames') }
    }
    conn.write(Buffer.concat([frame(u8(0)), frame(withTag)]))
    return { conn, expect: counted('transport.refusedBadAuth') }
  },

  // A fake node that knows the RIGHT secret: a member's name on the bulk lane (so the member's own connection on
  // the messages lane is left alone) or a stranger's, hostile frames with valid MACs, then an ending.
  async authenticated (rng, target, context) {
    const from = rng.pick([...otherIds(target), ...STRANGERS])
    const lane = IDS.includes(from) ? 1 : rng.int(2)
    // One connection per dialer and lane at a time: a new one replaces the old (readers.rs).
    return context.exclusive(`${target.id}/${from}/${lane}`, async () => {
      const { bytes, nonce, advertise } = validHello(rng, from, { lane })
      const conn = await Conn.open(target.port)
      conn.write(frame(bytes))
      const welcome = parseWelcome(await conn.readFrame())
      if (welcome === null) return { conn, expect: {}, problem: `${target.id} sent no WELCOME to a valid HELLO` }
      const transcript = { lane, advertise, dialer: from, acceptor: target.id, nonceD: nonce, nonceA: welcome.nonce }
      if (!welcome.mac.equals(proofMac(SECRET, 'flotilla acceptor', transcript))) {
        return { conn, expect: {}, problem: `${target.id}'s WELCOME does not carry the proof computed here` }
      }
      conn.write(frame(field(proofMac(SECRET, 'flotilla dialer', transcript))))
      const ok = await conn.readFrame()
      if (ok === null || ok.toString() !== 'OK') return { conn, expect: {}, problem: `${target.id} did not say OK to the right proof` }
      context.authenticated++
      const expect = { 'transport.connectionsAccepted': 1 }
      const sealer = new Sealer(sessionKey(SECRET, nonce, welcome.nonce))
      let last = null
      const sent = rng.between(1, 8)
      for (let i = 0; i < sent; i++) {
        const { payload, counter } = hostileFrame(rng, from)
        last = sealer.seal(payload)
        conn.write(last)
        add(expect, counter)
        add(expect, 'transport.framesReceived')
      }
      const ending = rng.weighted([['end', 4], ['badTag', 1], ['replayed', 1], ['wrongKey', 1], ['short', 1], ['oversized', 1], ['truncated', 1]])
      context.endings[ending] = (context.endings[ending] || 0) + 1
      switch (ending) {
        case 'end': break
        case 'badTag': {
          const sealed = sealer.seal(Buffer.from('{"type":"HELLO"}'))
          sealed[sealed.length - 1 - rng.int(TAG_LEN)] ^= 1 << rng.int(8)
          conn.write(sealed)
          add(expect, 'transport.droppedBadFrameMac')
          break
        }
        case 'replayed': conn.write(last); add(expect, 'transport.droppedBadFrameMac'); break
        case 'wrongKey': conn.write(new Sealer(sessionKey(WRONG_SECRET, nonce, welcome.nonce)).seal(Buffer.from('{"type":"HELLO"}'))); add(expect, 'transport.droppedBadFrameMac'); break
        case 'short': conn.write(frame(rng.bytes(rng.int(TAG_LEN)))); add(expect, 'transport.droppedBadFrameMac'); break
        case 'oversized': conn.write(u32(rng.pick([0xFFFFFFFF, MAX_FRAME_BYTES + TAG_LEN + 1]))); add(expect, 'transport.droppedOversizedFrame'); break
        case 'truncated': conn.write(Buffer.concat([u32(200), rng.bytes(rng.int(200))])); add(expect, 'transport.malformedFrames'); break
      }
      conn.end()
      const closed = await conn.closedWithin(SOON_MS)
      return { conn, expect, closed }
    })
  }
}

// Kinds that hold their connection until the node's 5 s handshake timeout.
const SLOW_KINDS = {
  // A length prefix within the limit, then one byte at a time.
  async trickle (rng, target) {
    const conn = await Conn.open(target.port)
    conn.write(u32(rng.between(100, HANDSHAKE_MAX_FRAME)))
    const until = Date.now() + SOON_MS
    while (!conn.closed && Date.now() < until) {
      conn.write(rng.bytes(1))
      await conn.changed(rng.between(200, 700))
    }
    return { conn, expect: counted('transport.refusedHandshakeTimeout') }
  },

  // Half a HELLO, then silence.
  async partialHello (rng, target) {
    const whole = frame(validHello(rng, rng.pick(otherIds(target))).bytes)
    const conn = await Conn.open(target.port)
    conn.write(whole.subarray(0, rng.between(1, whole.length - 1)))
    return { conn, expect: counted('transport.refusedHandshakeTimeout') }
  },

  // A valid HELLO, the node's WELCOME, then no proof ever.
  async silentAfterHello (rng, target) {
    const conn = await Conn.open(target.port)
    conn.write(frame(validHello(rng, rng.pick([...otherIds(target), ...STRANGERS])).bytes))
    return { conn, expect: counted('transport.refusedHandshakeTimeout') }
  },

  async silent (rng, target) {
    return { conn: await Conn.open(target.port), expect: counted('transport.refusedHandshakeTimeout') }
  }
}

function counted (counter) {
  return counter === null ? {} : { [counter]: 1 }
}

function add (into, counter, n = 1) {
  into[counter] = (into[counter] || 0) + n
}

async function sendAndEnd (target, payload, counter) {
  const conn = await Conn.open(target.port)
  conn.write(frame(payload))
  conn.end()
  return { conn, expect: counted(counter) }
}

const otherIds = (target) => IDS.filter((id) => id !== target.id)

const ONLY = process.env.FLOTILLA_TCP_HOSTILE_KINDS ? process.env.FLOTILLA_TCP_HOSTILE_KINDS.split(',') : null // to replay one kind
const ALL_FAST_WEIGHTS = [
  ['garbage', 14], ['hugeLength', 8], ['truncated', 8], ['badMagic', 5], ['badVersion', 5], ['wrongCluster', 6],
  ['selfName', 5], ['badField', 9], ['wrongSecret', 12], ['replay', 8], ['unauthenticatedFrame', 8], ['authenticated', 12]
]
const FAST_WEIGHTS = ALL_FAST_WEIGHTS.filter(([kind]) => ONLY === null || ONLY.includes(kind))
const SLOW_WEIGHTS = [['trickle', 1], ['partialHello', 1], ['silentAfterHello', 1], ['silent', 1]]

// ---- the cluster ----

// A proxy in front of `upstream` that records both directions of each connection (its first 64 KiB).
async function recordingProxy (t, upstreamPort) {
  const sockets = new Set()
  const recordings = []
  const server = createServer((client) => {
    const upstream = connect(upstreamPort, '127.0.0.1')
    for (const socket of [client, upstream]) {
      sockets.add(socket)
      socket.setNoDelay(true)
      socket.on('error', () => {})
      socket.on('close', () => { sockets.delete(socket); client.destroy(); upstream.destroy() })
    }
    const recording = { up: [], down: [], size: 0 }
    recordings.push(recording)
    const record = (chunks) => (data) => {
      if (recording.size >= 64 * 1024) return
      chunks.push(data)
      recording.size += data.length
    }
    client.on('data', record(recording.up))
    upstream.on('data', record(recording.down))
    client.pipe(upstream)
    upstream.pipe(client)
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => {
    for (const socket of sockets) socket.destroy()
    return new Promise((resolve) => server.close(resolve))
  })
  return { port: server.address().port, recordings: () => recordings.map(({ up, down }) => ({ up: Buffer.concat(up), down: Buffer.concat(down) })) }
}

// The frames of recorded bytes (the last one possibly cut off).
function framesOf (bytes) {
  const frames = []
  for (let at = 0; at + 4 <= bytes.length;) {
    const end = Math.min(bytes.length, at + 4 + bytes.readUInt32BE(at))
    frames.push(bytes.subarray(at, end))
    at = end
  }
  return frames
}

function counterOf (status, path) {
  const [group, name] = path.split('.')
  return status[group]?.[name] ?? 0
}

function totals (nodes, paths = [...COUNTERS, ...AT_LEAST, ...NEVER]) {
  const statuses = nodes.map((node) => node.status())
  return Object.fromEntries(paths.map((path) => [path, statuses.reduce((sum, status) => sum + counterOf(status, path), 0)]))
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

test(`tcp, secret mode: a live 3-node cluster under ${CASES} hostile connections keeps committing, counts every refusal as predicted, and stays bounded`, { timeout: 180_000 }, async (t) => {
  const started = Date.now()
  const problems = []

  // n1 reaches n0 through a recording proxy, so that a real dialer's handshake can be replayed.
  const chosen = await freePorts(IDS.length)
  const ports = Object.fromEntries(IDS.map((id, i) => [id, chosen[i]]))
  const proxy = await recordingProxy(t, ports.n0)
  const nodes = IDS.map((id) => {
    const peers = Object.fromEntries(IDS.filter((other) => other !== id)
      .map((other) => [other, id === 'n1' && other === 'n0' ? `127.0.0.1:${proxy.port}` : `127.0.0.1:${ports[other]}`]))
    const node = gaggle({ id, clusterSize: 3, ...TIMING, channel: { name: 'tcp', listen: `127.0.0.1:${ports[id]}`, peers, cluster: CLUSTER, secret: SECRET } })
    node.on('error', (error) => problems.push(`${id}: ${error.stack || error}`))
    return node
  })
  t.after(() => Promise.all(nodes.map((node) => node.close())))
  const targets = IDS.map((id, i) => ({ id, port: ports[id], node: nodes[i] }))

  const leaderOf = () => nodes.find((node) => node.isLeader())
  await waitFor(leaderOf, 20_000, 'a leader')

  // Appends all the time through the leader, paced so that the log (kept in memory) does not dwarf what is measured.
  const acked = []
  let lastAckAt = Date.now()
  let attacking = false
  let longestWithoutAck = 0 // during the attack, in ms
  let appending = true
  let appendFailures = 0
  const loops = [0, 1].map(async (loop) => {
    for (let seq = 0; appending; seq++) {
      const payload = `append.${loop}.${seq}`
      try {
        await (leaderOf() ?? nodes[seq % nodes.length]).append(payload, 5000)
        acked.push(payload)
        lastAckAt = Date.now()
      } catch {
        appendFailures++
      }
      await sleep(2)
    }
  })
  await waitFor(() => acked.length >= 100, 20_000, '100 acknowledged appends before the attack')

  // The real dialer's handshake (HELLO, PROOF) and first frames, as n1 sent them to n0 (and n0's WELCOME, OK).
  const recording = await waitFor(() => {
    for (const { up, down } of proxy.recordings()) {
      const frames = framesOf(up)
      if (frames.length >= 4 && framesOf(down).length >= 2) return { recorded: { bytes: up, frames }, down: framesOf(down), dialer: 'n1' }
    }
    return null
  }, 20_000, 'the proxy to record n1\'s handshake with n0')
  // The recording is a genuine handshake, and the HMACs computed here are the nodes': n1's proof and the MAC of its
  // first frame check with the right secret (so that the replays below carry a proof that was once valid).
  {
    const [helloFrame, proofFrame, firstFrame] = recording.recorded.frames
    const nonceD = helloFrame.subarray(helloFrame.length - 32)
    const welcome = parseWelcome(recording.down[0].subarray(4))
    assert.ok(welcome !== null && welcome.acceptor === 'n0', 'n0 answered n1 with a WELCOME')
    // The HELLO's lane byte and advertised address (after the 4-byte prefix, the magic, the version).
    const lane = helloFrame[14]
    const clusterEnd = 16 + helloFrame[15]
    const dialerEnd = clusterEnd + 1 + helloFrame[clusterEnd]
    const advertise = helloFrame.subarray(dialerEnd + 1, dialerEnd + 1 + helloFrame[dialerEnd]).toString()
    const transcript = { lane, advertise, dialer: 'n1', acceptor: 'n0', nonceD, nonceA: welcome.nonce }
    assert.deepEqual(welcome.mac, proofMac(SECRET, 'flotilla acceptor', transcript), 'n0\'s proof, as computed here')
    assert.deepEqual(proofFrame.subarray(4), field(proofMac(SECRET, 'flotilla dialer', transcript)), 'n1\'s proof, as computed here')
    assert.equal(recording.down[1].subarray(4).toString(), 'OK')
    const firstPayload = firstFrame.subarray(4, firstFrame.length - TAG_LEN)
    assert.deepEqual(new Sealer(sessionKey(SECRET, nonceD, welcome.nonce)).seal(firstPayload), firstFrame, 'the MAC of n1\'s first frame, as computed here')
  }

  // Baselines.
  if (global.gc) global.gc()
  const memoryBefore = process.memoryUsage()
  const memoryPeak = { rss: memoryBefore.rss, external: memoryBefore.external }
  const sampler = setInterval(() => {
    const { rss, external } = process.memoryUsage()
    memoryPeak.rss = Math.max(memoryPeak.rss, rss)
    memoryPeak.external = Math.max(memoryPeak.external, external)
    if (attacking) longestWithoutAck = Math.max(longestWithoutAck, Date.now() - lastAckAt)
  }, 50)
  t.after(() => clearInterval(sampler))
  await waitFor(() => nodes.every((node) => node.status().transport.openConnections >= 4), 10_000, 'every node connected to both peers')
  const openBefore = nodes.map((node) => node.status().transport.openConnections)
  const before = totals(nodes)
  const termBefore = leaderOf()?.status().term
  const leaderBefore = leaderOf()?.id
  const peerLinks = (status) => `dialed ${status.transport.connectionsDialed}, accepted ${status.transport.connectionsAccepted}, reconnects ${status.transport.reconnects}`
  const linksBefore = nodes.map((node) => peerLinks(node.status()))

  // ---- the attack ----
  const rng = random(SEED)
  const burstCount = Math.round(CASES * 0.2)
  const floodCount = Math.round(CASES * 0.15)
  const slowCount = Math.min(Math.round(CASES * 0.015), 150)
  const fastCount = CASES - burstCount - floodCount - slowCount
  const kinds = {}
  const expected = {}
  const context = {
    recording,
    welcomesVerified: 0,
    authenticated: 0,
    endings: {},
    locks: new Map(),
    exclusive (key, run) {
      const previous = this.locks.get(key) ?? Promise.resolve()
      const result = previous.then(run)
      this.locks.set(key, result.then(() => {}, () => {}))
      return result
    }
  }
  const stayedOpen = []
  const acknowledgedAt = [acked.length]

  async function runCase (kind, run, seed, target) {
    kinds[kind] = (kinds[kind] || 0) + 1
    let outcome
    try {
      outcome = await run(random(seed), target, context)
    } catch (error) {
      problems.push(`case ${kind} (seed ${seed}) against ${target.id} threw: ${error.stack || error}`)
      return
    }
    if (outcome.problem) problems.push(`case ${kind} (seed ${seed}): ${outcome.problem}`)
    const closed = outcome.closed ?? await outcome.conn.closedWithin(SOON_MS)
    if (!closed) {
      stayedOpen.push(`${kind} (seed ${seed}) against ${target.id}`)
      outcome.conn.socket.destroy()
    }
    for (const [counter, n] of Object.entries(outcome.expect)) add(expected, counter, n)
  }

  // Phase 1: the seeded mix, a few dozen connections at a time, with the slow kinds beside them.
  const phase1 = Date.now()
  attacking = true
  lastAckAt = Date.now()
  const fastCases = Array.from({ length: fastCount }, () => ({ kind: rng.weighted(FAST_WEIGHTS), seed: rng.int(2 ** 32), target: rng.pick(targets) }))
  const slowCases = Array.from({ length: slowCount }, () => ({ kind: rng.weighted(SLOW_WEIGHTS), seed: rng.int(2 ** 32), target: rng.pick(targets) }))
  let next = 0
  const workers = Array.from({ length: 48 }, async () => {
    while (next < fastCases.length) {
      const { kind, seed, target } = fastCases[next++]
      await runCase(kind, CASE_KINDS[kind], seed, target)
    }
  })
  // Started a few milliseconds apart: silent connections must not arrive faster than a node accepts them (see below).
  const slow = slowCases.map(({ kind, seed, target }, i) => sleep(i * 5).then(() => runCase(kind, SLOW_KINDS[kind], seed, target)))
  await Promise.all([...workers, ...slow])
  const phase1Ms = Date.now() - phase1
  acknowledgedAt.push(acked.length)

  // Phase 2: thousands of half-open connections at once: each node holds what its 256 slots take until the
  // handshake timeout and closes the rest at once. They are opened in waves, each one accepted by the node before
  // the next: the listen backlog is 128 (mio's default), and connections arriving faster than the node's thread
  // accepts them overflow it; with SYN cookies a silent client's connection may then never reach the node at all
  // (the client thinks it connected, the node never hears of it), which is the kernel's doing, not the node's.
  const phase2 = Date.now()
  const reached = (target) => {
    const { transport } = target.node.status()
    return transport.openConnections + transport.refusedTooManyConnections + transport.refusedHandshakeTimeout
  }
  const burst = (await Promise.all(targets.map(async (target, t) => {
    const count = Math.floor(burstCount / targets.length) + (t < burstCount % targets.length ? 1 : 0)
    const base = reached(target)
    const held = []
    let connected = 0
    for (let opened = 0; opened < count;) {
      const wave = Math.min(32, count - opened)
      opened += wave
      kinds.halfOpen = (kinds.halfOpen || 0) + wave
      const conns = await Promise.all(Array.from({ length: wave }, () => Conn.open(target.port).catch((error) => ({ failed: error.code }))))
      for (const conn of conns) {
        if (conn.failed !== undefined) continue
        connected++
        held.push({ conn, opened: Date.now() })
      }
      await waitFor(() => reached(target) - base >= connected, 10_000, `${target.id} to accept ${connected} half-open connections`)
        .catch(() => problems.push(`${target.id} accepted only ${reached(target) - base} of ${connected} half-open connections within 10 s`))
    }
    return Promise.all(held.map(async ({ conn, opened }) => {
      const closed = await conn.closedWithin(SOON_MS)
      if (!closed) {
        stayedOpen.push(`halfOpen against ${target.id}`)
        conn.socket.destroy()
      }
      return { closed, heldMs: Date.now() - opened }
    }))
  }))).flat()
  const burstConnected = burst.length
  const burstHeld = burst.filter((entry) => entry.heldMs >= 4000).length
  add(expected, 'burst (refusedHandshakeTimeout + refusedTooManyConnections)', burstConnected)
  const phase2Ms = Date.now() - phase2
  acknowledgedAt.push(acked.length)

  // Phase 3: a flood of connections opened and closed at once (a FIN, a RST, or a FIN after a moment).
  const phase3 = Date.now()
  let flooded = 0
  let floodFailed = 0
  const floodWorkers = Array.from({ length: 64 }, async (_, w) => {
    const floodRng = random(SEED ^ (w + 1))
    while (flooded + floodFailed < floodCount) {
      const target = floodRng.pick(targets)
      flooded++
      kinds.flood = (kinds.flood || 0) + 1
      let conn
      try {
        conn = await Conn.open(target.port)
      } catch {
        flooded--
        floodFailed++
        continue
      }
      switch (floodRng.int(3)) {
        case 0: conn.socket.destroy(); break
        case 1: conn.socket.resetAndDestroy(); break
        default: await sleep(floodRng.int(3)); conn.end(); await conn.closedWithin(SOON_MS); conn.socket.destroy()
      }
    }
  })
  await Promise.all(floodWorkers)
  const phase3Ms = Date.now() - phase3
  acknowledgedAt.push(acked.length)
  const attackMs = Date.now() - phase1
  attacking = false

  // ---- after the attack ----
  const burstSum = (delta) => delta['transport.refusedHandshakeTimeout'] + delta['transport.refusedTooManyConnections']
  const predicted = { ...expected }
  const slowTimeouts = predicted['transport.refusedHandshakeTimeout'] || 0
  delete predicted['burst (refusedHandshakeTimeout + refusedTooManyConnections)']
  const deltaNow = () => {
    const now = totals(nodes)
    return Object.fromEntries(Object.keys(now).map((path) => [path, now[path] - before[path]]))
  }
  // Every counter reaches what was predicted (the nodes' loops publish their counters a moment later).
  const matches = (delta) => COUNTERS.every((path) => {
    if (path === 'transport.refusedHandshakeTimeout' || path === 'transport.refusedTooManyConnections') return true
    return delta[path] === (predicted[path] || 0)
  }) && burstSum(delta) === slowTimeouts + burstConnected && AT_LEAST.every((path) => delta[path] >= (predicted[path] || 0))
  let delta = deltaNow()
  try {
    await waitFor(() => matches(delta = deltaNow()), 15_000, 'the counters to match the prediction')
  } catch {}

  await waitFor(() => acked.length >= acknowledgedAt[acknowledgedAt.length - 1] + 200, 20_000, '200 more acknowledged appends after the attack')
  const openAfter = await waitFor(() => {
    const open = nodes.map((node) => node.status().transport.openConnections)
    return open.every((count, i) => count === openBefore[i]) ? open : null
  }, 15_000, `the open connections to come back to ${openBefore}`).catch(() => nodes.map((node) => node.status().transport.openConnections))
  if (global.gc) global.gc()
  const memoryAfter = process.memoryUsage()
  clearInterval(sampler)

  appending = false
  await Promise.all(loops)
  // Every node ends with the same log, which holds every acknowledged append exactly once.
  await waitFor(() => {
    const statuses = nodes.map((node) => node.status())
    return statuses.every((status) => status.raftCommitIndex === statuses[0].raftCommitIndex &&
      status.raftLastIndex === status.raftCommitIndex && status.raftAppliedIndex === status.raftCommitIndex)
  }, 20_000, 'the nodes to converge')
  const logs = nodes.map((node) => node.getLog())
  const texts = logs.map((log) => JSON.stringify(log))
  const payloads = logs[0].map((entry) => entry.data)
  const inLog = new Set(payloads)
  const lost = acked.filter((payload) => !inLog.has(payload))
  const finalStatuses = nodes.map((node) => node.status())

  // ---- the report ----
  const grew = (path) => delta[path] > 0
  t.diagnostic(`seed ${SEED} (FLOTILLA_TCP_HOSTILE_SEED), ${CASES} cases (FLOTILLA_TCP_HOSTILE_CASES): ${fastCount} mixed + ${slowCount} slow in ${phase1Ms} ms, ${burstCount} half-open at once in ${phase2Ms} ms (${burstConnected} connected, ${burstHeld} held until the handshake timeout), ${flooded} opened-and-closed in ${phase3Ms} ms (${floodFailed} failed to connect)`)
  t.diagnostic(`cases by kind: ${JSON.stringify(kinds)}`)
  t.diagnostic(`authenticated fake-node connections: ${context.authenticated} (endings ${JSON.stringify(context.endings)}); WELCOME proofs verified here: ${context.welcomesVerified}`)
  t.diagnostic(`counters (sum over the nodes, during the attack): ${JSON.stringify(delta)}`)
  t.diagnostic(`predicted: ${JSON.stringify(predicted)}; half-open burst: ${burstConnected} (+ ${slowTimeouts} slow) = timeouts + too many`)
  for (const [i, status] of finalStatuses.entries()) {
    const hostile = Object.fromEntries([...COUNTERS, ...AT_LEAST].map((path) => [path.split('.')[1], counterOf(status, path)]))
    t.diagnostic(`${IDS[i]}: ${status.state} term ${status.term}, open connections ${openBefore[i]} before / ${openAfter[i]} after, connections ${linksBefore[i]} before / ${peerLinks(status)} after; ${JSON.stringify(hostile)}`)
  }
  t.diagnostic(`appends: ${acked.length} acknowledged (${acknowledgedAt.join(' -> ')} at the phases' ends; at most ${longestWithoutAck} ms without one during the attack), ${appendFailures} timed out; leader ${leaderBefore} term ${termBefore} before, ${leaderOf()?.id} term ${leaderOf()?.status().term} after; log ${payloads.length} entries`)
  t.diagnostic(`memory: rss ${(memoryBefore.rss / 2 ** 20).toFixed(0)} MB before, peak ${(memoryPeak.rss / 2 ** 20).toFixed(0)}, after ${(memoryAfter.rss / 2 ** 20).toFixed(0)}; external ${(memoryBefore.external / 2 ** 20).toFixed(0)} MB before, peak ${(memoryPeak.external / 2 ** 20).toFixed(0)}, after ${(memoryAfter.external / 2 ** 20).toFixed(0)}`)
  t.diagnostic(`attack ${attackMs} ms, whole test ${Date.now() - started} ms`)

  // ---- the assertions ----
  assert.deepEqual(problems, [], 'no node failed and every case ran as played')
  assert.deepEqual(stayedOpen.slice(0, 10), [], `${stayedOpen.length} hostile connections were left open by the nodes`)
  for (const status of finalStatuses) assert.ok(status.transport && status.state, 'every node still runs')
  // The cluster committed all through the attack (never two seconds without an acknowledged append) and after it,
  // without an election: nothing hostile reached the Raft core.
  assert.ok(longestWithoutAck < 2000, `at most ${longestWithoutAck} ms went by without an acknowledged append during the attack`)
  for (let i = 1; i < acknowledgedAt.length; i++) {
    assert.ok(acknowledgedAt[i] > acknowledgedAt[i - 1], `appends were acknowledged during phase ${i} (${acknowledgedAt.join(' -> ')})`)
  }
  for (const status of finalStatuses) assert.equal(status.term, termBefore, `${status.id}: no election during the attack`)
  for (const [i, text] of texts.entries()) assert.ok(text === texts[0], `${IDS[i]} has the same log as n0`)
  assert.equal(inLog.size, payloads.length, 'every payload is in the log once')
  assert.deepEqual(lost.slice(0, 10), [], `${lost.length} of ${acked.length} acknowledged appends are lost`)
  // Every kind of refusal aimed at was counted, exactly as predicted.
  for (const path of COUNTERS) {
    if (path === 'transport.refusedHandshakeTimeout' || path === 'transport.refusedTooManyConnections') continue
    assert.ok(predicted[path] > 0, `the attack aimed at ${path}`)
    assert.ok(grew(path), `${path} moved`)
    assert.equal(delta[path], predicted[path], `${path}: counted ${delta[path]}, predicted ${predicted[path]}`)
  }
  assert.ok(grew('transport.refusedHandshakeTimeout'), 'the half-open connections timed out')
  if (burstConnected / IDS.length > 256) assert.ok(grew('transport.refusedTooManyConnections'), 'the half-open connections beyond the cap of 256 were refused')
  assert.ok(delta['transport.refusedHandshakeTimeout'] >= slowTimeouts, 'every slow handshake timed out')
  assert.equal(burstSum(delta), slowTimeouts + burstConnected, 'every half-open connection was either held until the timeout or refused beyond the cap')
  for (const path of AT_LEAST) assert.ok(delta[path] >= predicted[path], `${path}: ${delta[path]} >= ${predicted[path]}`)
  for (const path of NEVER) assert.equal(delta[path], 0, `${path} did not move`)
  assert.deepEqual(openAfter, openBefore, 'the open connections came back to what they were before the attack')
  assert.ok(memoryPeak.rss - memoryBefore.rss < MEMORY_BOUND, `rss grew by ${((memoryPeak.rss - memoryBefore.rss) / 2 ** 20).toFixed(0)} MB at most (bound ${MEMORY_BOUND / 2 ** 20})`)
  assert.ok(memoryPeak.external - memoryBefore.external < MEMORY_BOUND, `external memory grew by ${((memoryPeak.external - memoryBefore.external) / 2 ** 20).toFixed(0)} MB at most`)
})
