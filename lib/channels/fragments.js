// Cutting a packet's JSON text into fragments and putting it back together, for a transport that must not carry
// one large message (Redis disconnects a pub/sub subscriber for any single message above its output buffer hard
// limit, 'pubsub 1mb' being common). The reassembly holds what peers send until a packet is whole, so it is bounded:
// see the limits below.
'use strict'

// A packet whose JSON text is longer than this (in UTF-16 code units, as String.length counts) goes as fragments
// of at most this many. One fragment, once its text is escaped again inside the fragment's own JSON and encoded as
// UTF-8, is at most about 3 × 128 KiB plus a small header: well below a '1mb' hard limit.
const FRAGMENT_CHARS = 128 * 1024
// A packet of more fragments than this is refused; with FRAGMENT_CHARS that is 128 Mi code units, more than
// MAX_REASSEMBLY_CHARS, so no packet the sender cut is refused for its count alone.
const MAX_PARTS = 1024
// The text of all the incomplete packets held at once, all senders together; the largest packet the channel can
// carry (as the socket.io relay, which relays messages up to 100 MB).
const MAX_REASSEMBLY_CHARS = 100 * 1000 * 1000
// Senders with an incomplete packet at once; the one that sent least recently is forgotten first.
const MAX_INCOMPLETE_PACKETS = 64
// An incomplete packet that gets no fragment for this long is forgotten: its sender is gone or lost the rest.
const FRAGMENT_TIMEOUT_MS = 10_000

const isCount = (value, min, max) => Number.isSafeInteger(value) && value >= min && value <= max

// The pieces of `text`, each at most FRAGMENT_CHARS long (a surrogate pair may be cut: the pieces are joined again
// before anything reads them, and JSON carries a lone surrogate as an escape).
function cutText (text) {
  const pieces = []
  for (let start = 0; start < text.length; start += FRAGMENT_CHARS) {
    pieces.push(text.slice(start, start + FRAGMENT_CHARS))
  }
  return pieces
}

// A fragment's fields are well-formed, whoever sent it.
function isFragment (message) {
  return isCount(message.fragment, 0, Number.MAX_SAFE_INTEGER) && isCount(message.parts, 2, MAX_PARTS) &&
    isCount(message.part, 0, message.parts - 1) && typeof message.text === 'string'
}

// Puts back together the fragments of each sender. A sender's messages arrive in the order it sent them (one
// connection to Redis, and Redis keeps the order), so a sender has at most one incomplete packet: a fragment that
// does not continue it (a part skipped because a message was lost, another packet) drops it. A fragment that
// starts no packet and continues none, or is malformed, is dropped; `dropped` counts the fragments and the
// incomplete packets dropped.
class Reassembly {
  // The limits can be lowered (for tests); the defaults are the constants above.
  constructor ({ maxChars = MAX_REASSEMBLY_CHARS, maxIncomplete = MAX_INCOMPLETE_PACKETS,
    timeoutMs = FRAGMENT_TIMEOUT_MS } = {}) {
    this._maxChars = maxChars
    this._maxIncomplete = maxIncomplete
    this._timeoutMs = timeoutMs
    // sender -> {fragment, parts, pieces, chars, lastAt}, ordered from the least recent fragment
    this._incomplete = new Map()
    this._chars = 0
    this.dropped = 0
  }

  // Takes the fragment `message` ({fragment, part, parts, text}) from `sender`; returns the packet, parsed from
  // its whole JSON text, once its last part arrives, otherwise undefined.
  add (sender, message, now = performance.now()) {
    this._forgetOlderThan(now - this._timeoutMs)
    if (!isFragment(message)) {
      this.dropped++
      return undefined
    }
    // Taken out, and put back (as the most recent) if it goes on.
    const held = this._incomplete.get(sender)
    if (held !== undefined) this._forget(sender, held)
    let packet
    if (message.part === 0) {
      // a newer packet: the rest of the held one was lost
      if (held !== undefined) this.dropped++
      packet = { fragment: message.fragment, parts: message.parts, pieces: [], chars: 0, lastAt: now }
    } else if (held !== undefined && message.fragment === held.fragment && message.parts === held.parts &&
      message.part === held.pieces.length) {
      packet = held
    } else {
      // the fragment, and the packet it does not continue
      this.dropped += held === undefined ? 1 : 2
      return undefined
    }
    if (this._chars + packet.chars + message.text.length > this._maxChars) {
      this.dropped++
      return undefined
    }
    packet.pieces.push(message.text)
    packet.chars += message.text.length
    packet.lastAt = now
    if (packet.pieces.length === packet.parts) return this._parse(packet.pieces.join(''))
    this._incomplete.set(sender, packet)
    this._chars += packet.chars
    if (this._incomplete.size > this._maxIncomplete) {
      const [oldest, oldestPacket] = this._incomplete.entries().next().value
      this._forget(oldest, oldestPacket)
      this.dropped++
    }
    return undefined
  }

  // Forgets every incomplete packet (the channel disconnected: the rest of them will not come).
  clear () {
    this._incomplete.clear()
    this._chars = 0
  }

  _parse (text) {
    try {
      return JSON.parse(text)
    } catch {
      this.dropped++
      return undefined
    }
  }

  _forget (sender, packet) {
    this._incomplete.delete(sender)
    this._chars -= packet.chars
  }

  _forgetOlderThan (time) {
    for (const [sender, packet] of this._incomplete) {
      if (packet.lastAt >= time) break
      this._forget(sender, packet)
      this.dropped++
    }
  }
}

module.exports = { FRAGMENT_CHARS, MAX_PARTS, MAX_REASSEMBLY_CHARS, cutText, Reassembly }
