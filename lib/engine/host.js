// The one engine host both faces (gaggle, brig) stand on: it opens the native node (in memory at once, or durable
// on a worker thread), runs the flush loop (one flush per microtask burst, long outputs one piece per turn),
// hands the disk thread's acknowledgements to the engine, drives the application's snapshot hooks, answers
// ready(), serves linearizable reads, reports a node that cannot start or whose disk fails, and closes the engine
// and its storage. A face keeps only its API shape: it says what to do once the engine runs (`onAttach`) and how
// to carry out a flush's output (`carryOut`). A node on its own thread (the native transport) plugs in here too.
// What the outputs tell of elections, membership, snapshots, the transport and the storage goes to the `debug`
// logs (log.js), and `metrics()` writes the status as Prometheus text (metrics.js).
'use strict'

const { NativeNode } = require('../native')
const { openDurableNode } = require('./open-node')
const { DeferredFlush } = require('./deferred-flush')
const { SnapshotHooks } = require('./snapshot-hooks')
const { PendingRequests } = require('./pending-requests')
const { PendingReads } = require('./pending-reads')
const { reportError, reportStartFailure } = require('./report-error')
const { CODES, codedError } = require('./errors')
const { membershipTarget } = require('./membership-target')
const { NodeLog } = require('./log')
const { metricsText } = require('./metrics')

// Outputs of a node on its own thread taken in one turn of the event loop (each settles up to a flush's worth of
// appends: about 256 KiB of committed entries).
const OUTPUTS_PER_TURN = 4

class EngineHost {
  /**
   * @param {import('node:events').EventEmitter} face - where failures nobody asked for are reported ('error')
   * @param {object} settings
   * @param {string} settings.prefix - the face's name at the start of its messages ('flotilla', 'flotilla/brig')
   * @param {string} settings.closedBeforeOpen - ready()'s message when the node was closed before it opened
   * @param {object} [settings.snapshot] - the application's hooks `{threshold, save(), restore(data)}`
   * @param {(native: NativeNode) => void} settings.onAttach - the engine runs: hand it what waited for it
   * @param {(error: Error) => void} settings.onOpenFailed - the log cannot be read: fail what waited for it
   * @param {(native: NativeNode) => object | null} settings.carryOut - flushes the engine and carries out its
   *   output (null when there was nothing to do)
   * @param {() => void} [settings.onEngineInput] - called after each input the host gives the engine
   */
  constructor (face, settings) {
    this._face = face
    this._prefix = settings.prefix
    this._closedBeforeOpen = settings.closedBeforeOpen
    this._onAttach = settings.onAttach
    this._onOpenFailed = settings.onOpenFailed
    this._carryOut = settings.carryOut
    this._onEngineInput = settings.onEngineInput || (() => {})
    this.native = null // the engine, once it runs
    this.closed = false
    this._durable = false
    this.openError = null
    this.pendingRequests = new PendingRequests() // appends / broadcasts with a request id
    this.pendingReads = new PendingReads(this._prefix, (request) => this.native.cancelRead(request))
    this._pendingChanges = new Map() // membership change number -> {resolve, reject}
    this._snapshotHooks = settings.snapshot === undefined ? null : new SnapshotHooks(settings.snapshot, face, this)
    this._opened = null // settles when the engine runs, or could not start; never rejects
    this._readyAsked = false
    this._flushScheduled = false
    this._handedOver = null // resolves a hand-over under way (see handOver) once this node no longer leads
    this._transport = null // the native transport's settings (see open)
    this._dataDir = null // a durable node's
    this.log = new NodeLog(face)
    this.flush = this.flush.bind(this)
    this._deferredFlush = new DeferredFlush(this.flush)
  }

  /**
   * Opens the engine with the native options: in memory at once, or (with `dataDir`) on a worker thread.
   * `transport` (the tcp channel's, see channels/tcp.js): the node runs on its own thread with the native
   * transport, `{options, onApplication(from, text), onStart(native), onClient(client, name, text)}` (without
   * `onClient` the node refuses clients).
   */
  open (nativeOptions, transport = null) {
    this._transport = transport
    this._durable = nativeOptions.dataDir !== undefined
    this._dataDir = nativeOptions.dataDir ?? null
    if (!this._durable) {
      this._opened = Promise.resolve()
      this._attach(new NativeNode(nativeOptions))
      return
    }
    this._opened = openDurableNode(nativeOptions, (token, error) => this._onStorage(token, error))
      .then((native) => this._attach(native), (error) => this._openFailed(error))
  }

  _attach (native) {
    if (this.closed) return native.close()
    if (this._transport !== null) {
      // On its own thread: it ticks, receives and sends there; each output it queued comes with a call to flush.
      const { options, onApplication, onStart, onClient } = this._transport
      try {
        native.startThreaded(options, this.flush, onApplication, onClient)
      } catch (error) {
        native.close()
        this.log.transportFailed(error)
        return this._openFailed(error)
      }
      onStart(native)
      this.log.transportStarted(native.listenAddress, () => this.closed ? null : JSON.parse(native.transportStatsJson()))
    } else {
      native.start(() => {
        native.tick()
        this._onEngineInput()
        this.flush()
      })
    }
    this.native = native
    if (this._durable) this.log.storageOpened(this._dataDir, native)
    this._onAttach(native)
    for (const read of this.pendingReads.notStarted()) this._startRead(read)
    this.scheduleFlush()
  }

  // The log cannot be read (damaged, locked, another node's): the node stops, and says why, under the code of
  // the reason (FLOTILLA_STORAGE, FLOTILLA_DATA_MISMATCH, ...).
  _openFailed (cause) {
    const code = typeof cause.code === 'string' && cause.code.startsWith('FLOTILLA_') ? cause.code : CODES.STORAGE
    this.openError = codedError(code, `${this._prefix}: the node cannot start: ${cause.message}`, cause)
    if (this._durable) this.log.storageFailed(`${this._dataDir} cannot be opened`, cause)
    this._onOpenFailed(this.openError)
    this._face.close()
    reportStartFailure(this._face, this.openError, this._readyAsked)
  }

  // The disk thread made writes durable (the engine may now send what waited for them), or failed for good.
  _onStorage (token, error) {
    if (this.closed) return
    if (error !== null) {
      this.log.storageFailed('the log cannot be written, the node stops', error)
      const message = `${this._prefix}: the node stopped, its log cannot be written: ${error}`
      reportError(this._face, codedError(CODES.STORAGE, message))
      this._face.close()
      return
    }
    this.native.persisted(token)
    this._onEngineInput()
    this.scheduleFlush()
  }

  /**
   * Resolves when the engine runs: at once in memory; for a durable node once it has read its log and snapshot.
   * Rejects with the reason when the log cannot be read, or when the node was closed first.
   */
  ready () {
    this._readyAsked = true
    if (this._opened === null) {
      return Promise.reject(codedError(CODES.NOT_RUNNING, `${this._prefix}: the cluster has not joined`))
    }
    return this._opened.then(() => {
      if (this.openError !== null) throw this.openError
      if (this.native === null) throw codedError(CODES.CLOSED, this._closedBeforeOpen)
    })
  }

  // Whether the node runs on its own thread (the native transport): it takes inputs at its next flush.
  get ownThread () {
    return this._transport !== null
  }

  scheduleFlush () {
    if (this._flushScheduled) return
    this._flushScheduled = true
    queueMicrotask(this.flush)
  }

  flush () {
    this._flushScheduled = false
    if (this.closed || this.native === null) return
    // While the engine hands over a long committed log, one piece per turn of the loop: that flush is due.
    if (this._deferredFlush.pending) return
    if (this._transport !== null) return this._drainOutputs()
    const output = this._carryOut(this.native)
    if (output !== null) this._logOutput(output)
    // More is due: the engine held back part of a long committed log.
    if (output !== null && output.more) this._deferredFlush.schedule()
    if (this._handedOver !== null && this.native.state !== 'LEADER') this._handedOver()
  }

  // On its own thread the node queues its outputs and wakes this thread when the first is queued: take them all,
  // a few per turn of the event loop, so that the promises they settle (and what their callers do next) run
  // before the next ones, with timers and I/O between.
  _drainOutputs () {
    for (let taken = 0; taken < OUTPUTS_PER_TURN; taken++) {
      if (this.closed) break
      const output = this._carryOut(this.native)
      if (output === null) break
      this._logOutput(output)
      if (taken === OUTPUTS_PER_TURN - 1) this._deferredFlush.schedule()
    }
    if (this._handedOver !== null && this.native.state !== 'LEADER') this._handedOver()
  }

  // What a carried-out output says that the logs tell: a state change, a new configuration.
  _logOutput (output) {
    if (this.closed) return
    if (output.state) this.log.stateChanged(this.native)
    if (output.membershipChanged) this.log.membershipChanged(this.native)
  }

  /**
   * The engine's view of this node (role, term, leader, indices, peers' progress, counters), or null until it
   * runs. `droppedByFace`: messages the face dropped before they reached the engine, by reason, added to the
   * engine's counts of dropped messages and to their total.
   */
  status (droppedByFace) {
    if (this.native === null) return null
    const status = JSON.parse(this.native.statusJson())
    const transport = this.native.transportStatsJson()
    if (transport !== null) status.transport = { listen: this.native.listenAddress, ...JSON.parse(transport) }
    for (const reason in droppedByFace) {
      const count = droppedByFace[reason]
      status.dropped[reason] = (status.dropped[reason] || 0) + count
      status.dropped.total += count
    }
    return status
  }

  /**
   * A face's `status()` (null until the engine runs, then null is returned) as Prometheus text, with the
   * durations of the application's snapshot hooks (see metrics.js).
   */
  metrics (status) {
    if (status === null) return null
    const snapshotDurations = this._snapshotHooks === null ? null : this._snapshotHooks.durations()
    return metricsText(status, { snapshotDurations })
  }

  // The parts of a flush's output both faces carry out alike.
  restoreSnapshot (data) {
    if (this._snapshotHooks !== null) this._snapshotHooks.restore(data)
  }

  // Client requests the output settled (committed, with their index) or abandoned (outcome unknown).
  settleRequests (output) {
    if (output.settledRequests) this.pendingRequests.settle(output.settledRequests)
    if (output.abandoned) this.pendingRequests.abandon(output.abandoned)
  }

  /**
   * A membership change on this node, the leader (`action`: "add" a learner, "promote" it, "remove" a member, or
   * "set" the whole configuration: `subject` is then `{voters, learners}`, see membership-target.js; `address`: a
   * new member's "host:port" for the native transport, carried by the configuration):
   * resolves once it (and leaving a joint configuration) has committed; rejects with the engine's coded error
   * when refused, with FLOTILLA_OUTCOME_UNKNOWN when a new leader overwrote it, FLOTILLA_CLOSED at close().
   */
  changeMembership (action, subject, address) {
    if (this.closed) return Promise.reject(this._closedError('the node is closed'))
    if (this.native === null) return Promise.reject(codedError(CODES.NOT_RUNNING, `${this._prefix}: the node is not running yet`))
    let change
    try {
      if (action === 'set') {
        const { voters, learners } = membershipTarget(subject, this._prefix)
        change = this.native.setMembership(voters, learners)
      } else {
        change = this.native.changeMembership(String(action), String(subject), address)
      }
    } catch (error) {
      return Promise.reject(error)
    }
    this.log.membershipAsked(action, subject)
    this.scheduleFlush()
    return new Promise((resolve, reject) => this._pendingChanges.set(change, { resolve, reject }))
  }

  // Membership changes the output reports settled: `[number, committed]` pairs.
  settleMembership (output) {
    for (const [change, committed] of output.membershipSettled || []) {
      const pending = this._pendingChanges.get(change)
      if (pending === undefined) continue
      this._pendingChanges.delete(change)
      this.log.membershipSettled(committed)
      if (committed) pending.resolve()
      else pending.reject(codedError(CODES.OUTCOME_UNKNOWN, `${this._prefix}: the membership change was lost: a new leader overwrote it`))
    }
  }

  // Reads the output reports done: a face calls this after the output's committed entries reached the application.
  settleReads (output) {
    if (output.reads) this.pendingReads.settle(output.reads)
  }

  /**
   * A linearizable read (Raft thesis 6.4): resolves with the face's 0-based index of the last entry this node
   * applied (-1 for none) once it has handed the application every entry up to the read index, so that the
   * application's state reflects every write acknowledged before the call. `lease`: the leader answers from its
   * lease (thesis 6.4.1; refused without leaseReads and checkQuorum), at once when it has applied enough.
   * `timeoutMs`: null waits until the read completes; otherwise it rejects with FLOTILLA_TIMEOUT at the deadline.
   * A read made before the engine runs waits for it; close() rejects it with FLOTILLA_CLOSED (or with the reason
   * the node could not start).
   */
  read (lease, timeoutMs) {
    if (this.closed) return Promise.reject(this._closedError('the node is closed'))
    // The fast path: no flush, no message. (A timeout of 0 always times out: its deadline is now.)
    if (lease && this.native !== null && timeoutMs !== 0) {
      const index = this.native.leaseRead()
      if (index !== null) return Promise.resolve(index)
    }
    return new Promise((resolve, reject) => {
      const read = this.pendingReads.add(lease, timeoutMs, resolve, reject)
      if (this.native !== null) this._startRead(read)
    })
  }

  _startRead (read) {
    try {
      this.pendingReads.started(read, this.native.read(read.lease))
    } catch (error) {
      // The engine's code says why: FLOTILLA_INVALID_STATE (lease reads off), FLOTILLA_TOO_MANY_PENDING.
      return this.pendingReads.refused(read, error)
    }
    this.scheduleFlush()
  }

  // The reason the node serves nothing: why it could not start, if that is why it closed.
  _closedError (what) {
    return this.openError !== null ? this.openError : codedError(CODES.CLOSED, `${this._prefix}: ${what}`)
  }

  takeSnapshot (index) {
    if (this._snapshotHooks !== null) this._snapshotHooks.take(index)
  }

  /**
   * Before a planned close: a leader hands leadership to its most caught-up voter, which campaigns at once, so the
   * cluster has a leader again after a round trip or two instead of an election timeout. Resolves once this node
   * no longer leads, or at once when it does not lead or leads alone, or after one election timeout or ten
   * heartbeat intervals, whichever is shorter (a hand-over takes a few round trips; one that has not happened by
   * then is not coming: the peers may be closing too). The node keeps running meanwhile (it takes no new
   * proposals: the engine holds them during a transfer).
   */
  handOver (timing) {
    if (this.closed || this.native === null || this.native.handOverLeadership() === null) return Promise.resolve()
    const timeoutMs = Math.min(timing.electionTimeoutMin, 10 * timing.heartbeatInterval)
    this.scheduleFlush()
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer)
        this._handedOver = null
        resolve()
      }
      const timer = setTimeout(done, timeoutMs)
      this._handedOver = done
    })
  }

  /**
   * Stops the engine at once: clock, input, output. Resolves when a durable node's storage has written what was
   * queued and let go of its data directory (one still opening is closed as soon as it opens).
   */
  close () {
    this.closed = true
    this.log.transportClosed()
    this.pendingReads.rejectAll(this._closedError('the node was closed before the read completed'))
    const changes = [...this._pendingChanges.values()]
    this._pendingChanges.clear()
    for (const { reject } of changes) reject(this._closedError('the node was closed before the membership change committed'))
    let storageClosed = this._opened || Promise.resolve()
    if (this.native !== null) {
      const closing = this.native.close()
      // An in-memory node has nothing to write: the face settles its close() as gaggle and brig did.
      if (this._durable) storageClosed = closing
    }
    return storageClosed.then(() => {
      if (this._durable) this.log.storageClosed()
    })
  }
}

module.exports = { EngineHost }
