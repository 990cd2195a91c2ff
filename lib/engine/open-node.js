// Opens a durable native node without blocking the event loop: the engine replays its write-ahead log and loads
// its newest snapshot on a worker thread (`NativeNode.open`), and the Promise settles on the JS thread. The disk
// thread may acknowledge writes before the node is handed over; those acknowledgements are kept and given to
// the node first, so the face's `onStorage` only ever sees a node it holds.
// @ts-check
'use strict'

const { NativeNode } = require('../native')

/**
 * @param {import('../native').NativeOptions} options - the native options, with `dataDir`
 * @param {(token: number, error: string | null) => void} onStorage - the disk thread's reports, once open
 * @returns {Promise<NativeNode>} rejects with the reason the log cannot be read (naming the file and offset)
 */
function openDurableNode (options, onStorage) {
  let opened = false
  let earlyToken = 0
  let earlyError = null
  const opening = NativeNode.open(options, (token, error) => {
    if (opened) return onStorage(token, error)
    if (error !== null) earlyError = earlyError === null ? error : earlyError
    else if (token > earlyToken) earlyToken = token
  })
  return opening.then((native) => {
    opened = true
    if (earlyToken > 0) native.persisted(earlyToken)
    // After the face has taken the node (its own `then` runs first).
    if (earlyError !== null) setImmediate(() => onStorage(-1, earlyError))
    return native
  })
}

module.exports = { openDurableNode }
