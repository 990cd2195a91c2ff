// The application's snapshot hooks, `{threshold, save(), restore(data)}`, as both faces (gaggle and brig) drive
// them: save() when the engine asks (every `threshold` applied entries), restore() when the engine restarts
// from, or receives, a snapshot. A hook that fails is reported, never fatal: the engine asks again later. How
// long each took goes to a histogram for the metrics, and to the `flotilla:snapshots` log.
'use strict'

const { reportError } = require('./report-error')
const { CODES, codedError } = require('./errors')
const { DurationHistogram } = require('./duration-histogram')

const secondsSince = (start) => (performance.now() - start) / 1000

class SnapshotHooks {
  // `face`: the EventEmitter a failure goes to (its 'error' listeners, or a process warning when it has none);
  // `host`: the engine host, with `native`, `closed`, `scheduleFlush()` and `log` (its NodeLog).
  constructor (hooks, face, host) {
    this._hooks = hooks
    this._face = face
    this._host = host
    this._takeSeconds = new DurationHistogram() // from save() to the engine holding the snapshot
    this._restoreSeconds = new DurationHistogram()
  }

  // How long the snapshots taken and restored took, for the metrics.
  durations () {
    return { take: this._takeSeconds.snapshot(), restore: this._restoreSeconds.snapshot() }
  }

  // Restores the application's state from a snapshot envelope's data.
  restore (data) {
    const start = performance.now()
    try {
      this._hooks.restore(data)
    } catch (error) {
      this._report('restore', error)
      return
    }
    const seconds = secondsSince(start)
    this._restoreSeconds.observe(seconds)
    this._host.log.snapshotRestored(seconds)
  }

  // Takes the application's state (or a promise of it) for the snapshot at `index`, and hands it to the engine.
  take (index) {
    const start = performance.now()
    let saved
    try {
      saved = this._hooks.save()
    } catch (error) {
      saved = Promise.reject(error)
    }
    const native = this._host.native
    Promise.resolve(saved).then(
      (data) => {
        if (this._host.closed) return
        let json
        try {
          json = JSON.stringify(data === undefined ? null : data)
        } catch (error) {
          this._report('save', error)
          return native.snapshotTaken(index, null)
        }
        try {
          native.snapshotTaken(index, json)
        } catch (error) {
          // too large to send to a follower, say: the log is kept, and the next threshold asks again
          this._report('save', error)
          return this._host.scheduleFlush()
        }
        const seconds = secondsSince(start)
        this._takeSeconds.observe(seconds)
        this._host.log.snapshotTaken(index, json, seconds)
        this._host.scheduleFlush()
      },
      (error) => {
        if (this._host.closed) return
        this._report('save', error)
        native.snapshotTaken(index, null)
      }
    )
  }

  _report (hook, error) {
    this._host.log.snapshotFailed(hook, error)
    const message = `flotilla: the snapshot ${hook}() hook failed: ${error && error.message}`
    reportError(this._face, codedError(CODES.SNAPSHOT_HOOK, message, error))
  }
}

module.exports = { SnapshotHooks }
