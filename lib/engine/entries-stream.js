// The committed entries of a node as an async iterator (zmq-raft's RequestEntries): from an index to another,
// both inclusive, in the face's indices (gaggle's, from 0), read from the engine's log a page at a time, so that
// memory stays bounded however long the log; without `to` it follows new commits as they come. An index the
// log no longer holds (compacted into a snapshot) is an error with code FLOTILLA_COMPACTED that names the last
// index the snapshot holds.
'use strict'

const { CODES, codedError, invalidArgument } = require('./errors')

const PAGE_ENTRIES = 256
const PAGE_BYTES = 1 << 20

/**
 * `{from, to, signal}` checked: whole numbers, `from` >= 0 (default 0), `to` >= `from` or undefined; `signal` an
 * AbortSignal or undefined.
 */
function entriesRange (options, prefix) {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw invalidArgument(`${prefix}: the entries options must be an object {from, to}`, TypeError)
  }
  const { from = 0, to, signal } = options
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw invalidArgument(`${prefix}: "signal" must be an AbortSignal`, TypeError)
  }
  const whole = (value) => Number.isSafeInteger(value) && value >= 0
  if (!whole(from)) throw invalidArgument(`${prefix}: "from" must be a whole number >= 0`, TypeError)
  if (to !== undefined && !(whole(to) && to >= from)) {
    throw invalidArgument(`${prefix}: "to" must be a whole number >= "from"`, TypeError)
  }
  return { from, to, signal }
}

/**
 * `source`: `{native(): the engine or null, closed(): boolean, nextCommit(): Promise settled at the next commit
 * (or close)}`. Yields `{index, term, id, data}`. An aborted `signal` ends the stream at once, even while it waits
 * for a commit (a `return()` would wait for the commit).
 */
async function * entriesStream (source, { from, to, signal }, prefix) {
  const aborted = signal === undefined
    ? null
    : new Promise((resolve) => signal.aborted ? resolve() : signal.addEventListener('abort', resolve, { once: true }))
  let next = from
  while (to === undefined || next <= to) {
    if (signal !== undefined && signal.aborted) return
    if (source.closed()) throw codedError(CODES.CLOSED, `${prefix}: the node was closed while entries were read`)
    const native = source.native()
    const wanted = to === undefined ? PAGE_ENTRIES : Math.min(PAGE_ENTRIES, to - next + 1)
    const page = native === null ? [] : JSON.parse(native.entriesJson(next, wanted, PAGE_BYTES))
    if (page.length === 0) {
      await (aborted === null ? source.nextCommit() : Promise.race([source.nextCommit(), aborted]))
      continue
    }
    for (const [index, term, id, data] of page) {
      yield { index, term, id, data }
      next = index + 1
    }
  }
}

module.exports = { entriesRange, entriesStream }
