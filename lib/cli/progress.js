// The progress line of long work, on stderr: redrawn in place on a terminal (and only once the work has taken a
// moment, so that quick commands print nothing), a line every second elsewhere when asked for (`--progress`).
'use strict'

const TERMINAL_DELAY_MS = 300
const TERMINAL_INTERVAL_MS = 100
const LINE_INTERVAL_MS = 1000

class Progress {
  // `forced`: show it even when `stream` is not a terminal. `onTerminal`: show it on a terminal unasked (not when
  // the output goes to the same terminal, where the line would be drawn over it).
  constructor (stream, forced = false, onTerminal = true) {
    this._stream = stream
    this._terminal = Boolean(stream.isTTY)
    this._enabled = forced || (this._terminal && onTerminal)
    this._started = Date.now()
    this._last = 0
    this._drawn = false
  }

  update (text) {
    if (!this._enabled) return
    const now = Date.now()
    if (this._terminal) {
      if (now - this._started < TERMINAL_DELAY_MS || now - this._last < TERMINAL_INTERVAL_MS) return
      this._stream.write('\r\x1b[K' + text)
      this._drawn = true
    } else {
      if (this._last !== 0 && now - this._last < LINE_INTERVAL_MS) return
      this._stream.write(text + '\n')
    }
    this._last = now
  }

  // The work is done: a terminal's line is cleared; elsewhere the last state is written (when asked for).
  done (text) {
    if (!this._enabled) return
    if (this._terminal) {
      if (this._drawn) this._stream.write('\r\x1b[K')
    } else {
      this._stream.write(text + '\n')
    }
  }
}

module.exports = { Progress }
