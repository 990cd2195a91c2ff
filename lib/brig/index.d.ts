// Types of the brig face: `require('flotilla/brig')` (brig.js at the package root re-exports lib/brig).
/// <reference types="node" />
import { EventEmitter } from 'node:events'

export declare namespace roles {
  const Follower: unique symbol
  const Candidate: unique symbol
  const Leader: unique symbol
  type Role = typeof Follower | typeof Candidate | typeof Leader
}

export declare namespace events {
  /** A node's election timer fired and it started an election (a pre-vote round first). */
  const ElectionTimeout: unique symbol
  /** The leader's replication timer fired and it sent heartbeats. */
  const ReplicationTimeout: unique symbol
  /** `(msg: VoteRequestMessage)`, received through the protocol mapping. */
  const VoteRequest: unique symbol
  /** `(msg: VoteResponseMessage)` */
  const VoteResponse: unique symbol
  /** `(msg: LogRequestMessage)`, heartbeats included (`msg.heartbeat === true`). */
  const LogRequest: unique symbol
  /** `(msg: LogResponseMessage)` */
  const LogResponse: unique symbol
  /** `(msg: BroadcastMessage)`: a local broadcast() or a relayed one received. */
  const Broadcast: unique symbol
  /** `(entry: LogEntry)`: once per committed entry, in log order. */
  const LogCommit: unique symbol
  /** `(oldRole, newRole)` on the LogState and the Cluster. */
  const RoleChanged: unique symbol
  /** `(oldLeaderId: string | null, newLeaderId: string | null)` on the LogState and the Cluster. */
  const LeaderChanged: unique symbol
  /** `(peerId: string, msg: messages.Message)` on a Peer, on every send. */
  const MessageQueued: unique symbol
  /** `(args: unknown[])` on the Cluster. */
  const Debug: unique symbol
}

export declare namespace messages {
  class Message {
    /** The RPC name a transport uses: `msg.constructor.method`. */
    static readonly method: string
    /** brig's fields, in brig's order. */
    static readonly fields: string[]
    /** The extra key sets the engine may add to `fields`. */
    static readonly extensions: string[][]
    static readonly VoteRequestOptions: string[]
    static readonly VoteResponseOptions: string[]
    static readonly LogRequestOptions: string[]
    static readonly LogResponseOptions: string[]
    static readonly BroadcastOptions: string[]
    /** The message whose class has exactly `obj`'s keys; throws `Error('Failed to detect message type from keys: ...')`. */
    static from (obj: object): AnyMessage
    /** `JSON.stringify(this)` */
    serialize (): string
  }

  class VoteRequestMessage extends Message {
    static readonly method: 'REQUEST_VOTE'
    constructor (params?: Partial<VoteRequestMessage>)
    candidateId: string
    currentTerm: number
    currentLogLength: number
    currentLogLastTerm: number
    /** Present (true) on the vote asked for at the end of a leadership transfer. */
    transfer?: true
  }

  class VoteResponseMessage extends Message {
    static readonly method: 'CAST_VOTE'
    constructor (params?: Partial<VoteResponseMessage>)
    voterId: string
    term: number
    granted: boolean
  }

  interface SuffixEntry {
    data: unknown
    term: number
    /** The engine's entry id (null for the no-op entry a new leader appends). */
    id?: string | null
    /** `'noop'` or `'config'` for the engine's own entries; absent for broadcast entries. */
    kind?: 'noop' | 'config'
  }

  class LogRequestMessage extends Message {
    static readonly method: 'APPEND_LOG'
    constructor (params?: Partial<LogRequestMessage>)
    leaderId: string
    term: number
    prefixLength: number
    prefixTerm: number
    /** The leader's commit length. */
    leaderCommit: number
    suffix: SuffixEntry[]
    /** Present (true) on a heartbeat: no entries, no prefix check. */
    heartbeat?: true
    /** On a heartbeat: the leader's latest round of read confirmations, which the answer echoes. */
    readRound?: number
  }

  class LogResponseMessage extends Message {
    static readonly method: 'ACK_APPEND'
    constructor (params?: Partial<LogResponseMessage>)
    followerId: string
    term: number
    ack: number
    success: boolean
    /** Present (true) on the answer to a heartbeat. */
    heartbeat?: true
    /** On the answer to a heartbeat: the read round it answers (which confirms the leader's reads of that round). */
    readRound?: number
    /** On a refused append: the prefix length refused, and where the follower's log may match. */
    rejectedLength?: number
    hintLength?: number
    hintTerm?: number
  }

  class BroadcastMessage extends Message {
    static readonly method: 'REQUEST_LOG_RELAY'
    constructor (payload: unknown)
    payload: unknown
    /** Present when the engine relays a broadcast to the leader: the relaying node and the entry's id. */
    relayerId?: string
    id?: string
  }

  /** Not in brig: a pre-vote request ("would you vote for me in proposedTerm?"). */
  class PreVoteRequestMessage extends Message {
    static readonly method: 'REQUEST_PRE_VOTE'
    constructor (params?: Partial<PreVoteRequestMessage>)
    candidateId: string
    proposedTerm: number
    currentLogLength: number
    currentLogLastTerm: number
  }

  /** Not in brig: the answer to a pre-vote. */
  class PreVoteResponseMessage extends Message {
    static readonly method: 'CAST_PRE_VOTE'
    constructor (params?: Partial<PreVoteResponseMessage>)
    voterId: string
    term: number
    preVoteGranted: boolean
  }

  /** Not in brig: the leader tells the target of a leadership transfer to campaign now. */
  class TimeoutNowMessage extends Message {
    static readonly method: 'TIMEOUT_NOW'
    constructor (params?: Partial<TimeoutNowMessage>)
    leaderId: string
    term: number
  }

  /**
   * Not in brig: a follower asks the leader for a read index (Raft thesis 6.4). `request` numbers the follower's
   * read; `lease`: the leader may answer from its lease.
   */
  class ReadIndexRequestMessage extends Message {
    static readonly method: 'READ_INDEX'
    constructor (params?: Partial<ReadIndexRequestMessage>)
    followerId: string
    term: number
    request: number
    lease: boolean
  }

  /** Not in brig: the leader's read index; the follower serves read `request` once it has applied `readLength`. */
  class ReadIndexResponseMessage extends Message {
    static readonly method: 'ACK_READ_INDEX'
    constructor (params?: Partial<ReadIndexResponseMessage>)
    leaderId: string
    term: number
    request: number
    readLength: number
  }

  /**
   * Not in brig: one chunk of a snapshot, for a follower whose missing entries were compacted away.
   * `lastIncludedLength` is the log length the snapshot stands for; `chunk` holds the snapshot stream's bytes
   * from `offset` (of `total`), in base64.
   */
  class InstallSnapshotMessage extends Message {
    static readonly method: 'INSTALL_SNAPSHOT'
    constructor (params?: Partial<InstallSnapshotMessage>)
    leaderId: string
    term: number
    lastIncludedLength: number
    lastIncludedTerm: number
    offset: number
    total: number
    chunk: string
  }

  /** Not in brig: the answer to a snapshot chunk (`received` bytes held, or `done`: the snapshot is durable). */
  class InstallSnapshotResponseMessage extends Message {
    static readonly method: 'ACK_SNAPSHOT'
    constructor (params?: Partial<InstallSnapshotResponseMessage>)
    followerId: string
    term: number
    lastIncludedLength: number
    received: number
    done: boolean
  }

  type AnyMessage = VoteRequestMessage | VoteResponseMessage | LogRequestMessage | LogResponseMessage |
    BroadcastMessage | PreVoteRequestMessage | PreVoteResponseMessage | TimeoutNowMessage |
    ReadIndexRequestMessage | ReadIndexResponseMessage | InstallSnapshotMessage | InstallSnapshotResponseMessage

  /** Every message class, as createProtocolMapping() serves them. */
  const MESSAGE_TYPES: Array<typeof Message>
}

export declare namespace log {
  class LogEntry {
    /** For a broadcast, `data` is `{payload}`. */
    constructor (payload?: unknown, term?: number)
    data: any
    term: number
  }

  class Log {
    constructor (entries?: LogEntry[])
    entries: LogEntry[]
    /** Throws `TypeError('Invalid LogEntry.')` for anything but a LogEntry. */
    append (entry: LogEntry): this
    getEntriesAfterIndex (index: number): LogEntry[]
    getEntryByIndex (index: number): LogEntry | undefined
  }

  /** The log of a joined cluster: a read-only snapshot of the engine's log; append() throws. */
  class EngineLog extends Log {}

  interface LogStateOptions {
    currentTerm?: number
    votedFor?: string | null
    currentRole?: roles.Role
    currentLeader?: string | null
    votesReceived?: Set<string>
    log?: LogEntry[] | Log
    commitLength?: number
    sentLength?: Map<string, number>
    ackedLength?: Map<string, number>
  }

  /**
   * brig's node state. Once its Cluster has joined, a read-only view of the engine: reading a field reads the
   * engine, setting one throws. `sentLength`/`ackedLength` are the leader's per-peer progress in engine log
   * positions (empty Maps on a follower).
   */
  class LogState extends EventEmitter {
    constructor (nodeState?: LogStateOptions)
    /** Setting a non-integer throws `TypeError('Invalid value "<v>".')`. */
    currentTerm: number
    votedFor: string | null
    currentRole: roles.Role
    currentLeader: string | null
    votesReceived: Set<string>
    log: Log
    commitLength: number
    sentLength: Map<string, number>
    ackedLength: Map<string, number>
    readonly lastTerm: number
    toNextTerm (): this
    /** Throws `Error('Invalid role.')` for anything but a role Symbol. */
    setCurrentRole (role: roles.Role): roles.Role
    voteFor (id: string | null): this
    toJSON (): {
      currentTerm: number
      votedFor: string | null
      currentLeader: string | null
      votesReceived: Array<[string, string]>
      log: LogEntry[]
      commitLength: number
      sentLength: Array<[string, number]>
      ackedLength: Array<[string, number]>
    }
    /** JSON in brig's key order, as a Buffer. */
    serialize (): Buffer
    static deserialize (buffer: Buffer | string): LogState
  }
}

export declare namespace consensus {
  /** Election timeout bounds and the replication interval, in ms; read when join() is called. */
  let ELECTION_T_MIN: number
  let ELECTION_T_MAX: number
  let REPLICATE_T: number

  type Transmit = (id: string, msg: messages.AnyMessage) => unknown

  class Peer extends EventEmitter {
    constructor (id: string, tx: Transmit)
    id: string
    tx: Transmit
    /**
     * Emits MessageQueued(id, msg), calls `tx(id, msg)`, returns the peer. When `tx` returns a promise that
     * rejects, the peer emits `Debug([why, id, error])` (the message is lost; Raft sends again).
     */
    send (msg: messages.AnyMessage): this
  }

  type ProtocolMapping = Record<string, (plainMsg: object, callback?: (error?: Error | null) => void) => void>

  interface Status {
    id: string
    state: 'FOLLOWER' | 'CANDIDATE' | 'LEADER'
    preCandidate: boolean
    term: number
    leader: string | null
    votedFor: string | null
    commitIndex: number
    raftFirstIndex: number
    raftLastIndex: number
    raftCommitIndex: number
    raftAppliedIndex: number
    pendingProposals: number
    /** This node's reads not yet done (waiting for a read index, or for this node's apply). */
    pendingReads: number
    peers: Array<{ id: string, matchIndex?: number, nextIndex?: number, replicating?: boolean } | null>
    dropped: { total: number, malformed: number, unknownSender: number, misaddressed: number, staleTerm: number, unexpected: number }
    stats: Record<string, number>
    /** The application's snapshots: taken here, restored here, sent and received (see gaggle's Status). */
    snapshots: Record<'taken' | 'lastTakenBytes' | 'restored' | 'lastRestoredBytes' | 'sent' | 'received', number>
    /** The write-ahead log's fsync times (cumulative buckets `[seconds, count]`); null for a node in memory. */
    fsync: { count: number, sumSeconds: number, buckets: Array<[number, number]> } | null
    /** With the `tcp` option: the address the transport listens on and its counters (frames, bytes, refusals). */
    transport?: { listen: string } & Record<string, number | string>
  }

  /** flotilla's own Cluster options. */
  interface ClusterOptions {
    /** Keep term, vote and log in a write-ahead log in this directory; a node that joins again recovers them. */
    dataDir?: string
    /** Bytes per log segment file (default 64 MiB, at least 4096). */
    segmentBytes?: number
    /** Lease reads (`read({lease: true})`): give it to every Cluster of the group (default false). */
    leaseReads?: boolean
    /** Join a running cluster: the node knows no members and waits for the leader that adds it (default false). */
    join?: boolean
    /**
     * The native transport: the node runs on its own thread and reaches its peers over TCP itself (the Peers' `tx`
     * then carry nothing). `peers` gives each member's address by id.
     */
    tcp?: import('../../index').TcpSettings
    /** Compact the log every `threshold` applied entries behind the application's snapshot. */
    snapshot?: {
      threshold: number
      /** The application's state now, as any JSON value (or a promise of it). */
      save (): unknown
      /** Replaces the application's state (at a restart from a snapshot, or when one arrives from the leader). */
      restore (data: any): void
    }
  }

  /** flotilla's options of `broadcast(payload, options)`. */
  interface BroadcastOptions {
    /**
     * Names this broadcast across its retries: broadcasts with the same request id, on any node, after a leader
     * change or a restart of a durable cluster, commit one entry. Covered while the entry is in the log or among
     * the 100,000 entries compacted last. A non-empty string of at most 251 bytes (UTF-8). A retry's payload is
     * ignored: the first entry stands.
     */
    requestId: string
    /** ms to wait for the commit. Default: forever. */
    timeout?: number
  }

  /** flotilla's options of `read(options)`. */
  interface ReadOptions {
    /**
     * Answer from the leader's lease (Raft thesis 6.4.1): on the leader, at once once its lease holds. Linearizable
     * while the nodes' clocks run at rates within 25% of each other. Default false: a ReadIndex round.
     */
    lease?: boolean
    /** ms to wait (a deadline: 0 always times out), then reject with `FLOTILLA_TIMEOUT`. Default: forever. */
    timeout?: number
  }

  /**
   * A broadcast with a request id rejects with one of these codes. `FLOTILLA_NOT_COMMITTED`: the entry never left
   * this node (refused, or closed or timed out before the engine took it) and will not commit.
   * `FLOTILLA_OUTCOME_UNKNOWN`: the engine had taken it when it timed out or the cluster closed; it may commit.
   */
  interface BroadcastError extends Error {
    code: 'FLOTILLA_NOT_COMMITTED' | 'FLOTILLA_OUTCOME_UNKNOWN'
    /** The engine's reason, when it refused the entry. */
    cause?: FlotillaError
  }

  /** The `code` of every error flotilla raises (README, "Error codes"). */
  type ErrorCode =
    | 'FLOTILLA_INVALID_ARGUMENT' | 'FLOTILLA_NOT_COMMITTED' | 'FLOTILLA_OUTCOME_UNKNOWN' | 'FLOTILLA_TIMEOUT'
    | 'FLOTILLA_CLOSED' | 'FLOTILLA_NOT_RUNNING' | 'FLOTILLA_NOT_SUPPORTED' | 'FLOTILLA_NOT_LEADER'
    | 'FLOTILLA_UNKNOWN_MEMBER' | 'FLOTILLA_ALREADY_LEADER' | 'FLOTILLA_TOO_LARGE' | 'FLOTILLA_TOO_MANY_PENDING'
    | 'FLOTILLA_LOG_FULL' | 'FLOTILLA_STORAGE' | 'FLOTILLA_DATA_MISMATCH'
    | 'FLOTILLA_SNAPSHOT_HOOK' | 'FLOTILLA_SNAPSHOT_REFUSED' | 'FLOTILLA_INVALID_STATE' | 'FLOTILLA_INTERNAL'

  /** Any error flotilla raises: gaggle's (or flotilla's) message, and a stable `code` (README, "Error codes"). */
  interface FlotillaError extends Error {
    code: ErrorCode
  }


  class Cluster extends EventEmitter {
    static getElectionTimeoutMs (): number
    static getReplicateTimeoutMs (): number
    /**
     * `logState`: a fresh state, or a saved one (`LogState.deserialize(buf)`): the node starts from its term, vote
     * and log as if it had restarted (entries get fresh ids; commitLength and the leader's progress are found
     * again). join() throws for a saved state that cannot be a node's; a `dataDir` that already holds a log
     * refuses one (`ready()` rejects).
     */
    constructor (id: string, peers?: Peer[], logState?: log.LogState, options?: ClusterOptions)
    id: string
    state: log.LogState
    peers: Peer[]
    /**
     * Starts the node with every member named; the members are fixed from here on. A durable node (`dataDir`)
     * reads its log on a worker thread first: until then it is as before join() (broadcasts wait, in order).
     */
    join (): this
    /**
     * Resolves once the engine runs (at once in memory; for a durable node, once its log and snapshot are read).
     * Rejects when the log cannot be read (the error names the file and offset; the node has stopped), before
     * join(), or when the cluster was closed before it opened.
     */
    ready (): Promise<void>
    /** Stops the node (clock, input, output) at once; resolves when a durable node's data directory is free. */
    close (): Promise<void>
    createProtocolMapping (): ProtocolMapping
    /** Appends `{payload}` to the replicated log, in call order; false when closed or refused by the engine. */
    broadcast (payload: unknown): boolean
    /**
     * With a request id: resolves with the entry's 0-based position in `state.log` once it is committed, the same
     * for every retry of the request; rejects with a `BroadcastError`.
     */
    broadcast (payload: unknown, options: BroadcastOptions): Promise<number>
    /**
     * A linearizable read (Raft thesis 6.4), from any node: resolves with the 0-based position in `state.log` of the
     * last entry this node applied (-1 for none), once LogCommit has been emitted for every entry up to the read's
     * index. Waits through leader changes (and, made before join(), for the engine); rejects with a
     * `FlotillaError`: `FLOTILLA_TIMEOUT`, `FLOTILLA_CLOSED`, `FLOTILLA_TOO_MANY_PENDING`. Bad options throw a
     * TypeError (`FLOTILLA_INVALID_ARGUMENT`).
     */
    read (options?: ReadOptions): Promise<number>
    startElection (): this
    getPeer (id: string): Peer | null
    /**
     * Before join(), a member of the cluster that starts. After join(), the Peer this node sends to (give it on every
     * node); on the leader a new one is also added to the cluster, as a learner and then as a voter once caught up
     * (the outcome in `membershipChange`). A member's Peer given again replaces it.
     */
    addPeer (peer: Peer): Peer
    /** The last membership change addPeer() started on this leader: resolves once the new member votes. */
    membershipChange?: Promise<void>
    /**
     * Removes the member `id` (on the leader). Every node forgets a removed member's Peer once the removal committed
     * (`peers` and `getPeer` follow the configuration).
     */
    removePeer (id: string): Promise<void>
    /**
     * On the leader: moves the cluster to exactly these members (a joint configuration when more than one voter
     * changes, left on its own; a new voter must be a caught-up learner). Resolves once it committed; the Peers of
     * removed members are forgotten then.
     */
    changeMembership (target: { voters: string[], learners?: string[] }): Promise<void>
    /** The configuration in force by id, and (on the leader) each member's progress. null before join(). */
    members (): { voters: Array<string | null>, outgoing: Array<string | null>, learners: Array<string | null>, progress?: Record<string, { matchIndex: number, caughtUp: boolean }> } | null
    handleVoteRequest (msg: messages.VoteRequestMessage | object): boolean
    handleVoteResponse (msg: messages.VoteResponseMessage | object): boolean
    handleLogRequest (msg: messages.LogRequestMessage | object): boolean
    handleLogResponse (msg: messages.LogResponseMessage | object): boolean
    handleBroadcast (msg: messages.BroadcastMessage | object): boolean
    /** Any received message to the engine; false when not taken (not joined, closed, malformed). */
    handleMessage (msg: messages.AnyMessage | object): boolean
    /** Hands leadership to a member (this node must be the leader). */
    transferLeadership (peerId: string): void
    /** The engine's view of this node; null before join(), and while a durable node reads its log. */
    status (): Status | null
    /**
     * This node's metrics in the Prometheus text exposition format 0.0.4 (the same names as gaggle's
     * `node.metrics()`, see the README); null before join(), and while a durable node reads its log.
     */
    metrics (): string | null
  }
}
