// Types of flotilla's public API: the gaggle face (factory, constructor, channels) and the status it reports.
// The brig face is typed in lib/brig/index.d.ts (`require('flotilla/brig')`).

import { EventEmitter } from 'node:events'

declare namespace gaggle {
  /** gaggle's roles; values equal keys. A pre-candidate (PreVote round) reports CANDIDATE. */
  type State = 'FOLLOWER' | 'CANDIDATE' | 'LEADER'

  /**
   * One user entry of the replicated log. `id` is `<id of the node where append was called>_<uuid>`, or
   * `req(<requestId>)` for an append made with a request id.
   */
  interface Entry<T = unknown> {
    term: number
    data: T
    id: string
  }

  interface ElectionTimeout {
    /** ms, >= 0. Default 300. */
    min?: number
    /** ms, >= min. Default 500. */
    max?: number
  }

  /** flotilla's options of `append(data, options)`. */
  interface AppendOptions {
    /**
     * Names this append across its retries: appends with the same request id, on any node, after a leader change
     * or a restart of a durable cluster, commit one entry, and each settles with that entry's index. Covered while
     * the entry is in the log or among the 100,000 entries compacted last. A non-empty string of at most 251
     * bytes (UTF-8). A retry's data is ignored: the first entry stands.
     */
    requestId?: string
    /** ms to wait for the commit, as gaggle's `timeout` argument. Default: forever. */
    timeout?: number
  }

  /** The configuration in force (`members()`, the `membershipChanged` event). */
  interface Members {
    voters: Array<string | null>
    /** The old voters while a joint configuration is in force (empty otherwise). */
    outgoing: Array<string | null>
    learners: Array<string | null>
    /** On the leader: each member's replication, and whether it is close enough to be promoted. */
    progress?: Record<string, { matchIndex: number, caughtUp: boolean }>
  }

  /** flotilla's options of `read(options)`. */
  interface ReadOptions {
    /**
     * Answer from the leader's lease (Raft thesis 6.4.1): on the leader, at once once its lease holds, without a
     * heartbeat round. Linearizable while the nodes' clocks run at rates within 25% of each other; needs
     * `leaseReads` and `checkQuorum` on every node (refused with `FLOTILLA_INVALID_STATE` without them). Default
     * false: a ReadIndex round.
     */
    lease?: boolean
    /** ms to wait (a deadline: 0 always times out), then reject with `FLOTILLA_TIMEOUT`. Default: forever. */
    timeout?: number
  }

  /**
   * `code` of the error an append rejects with. `FLOTILLA_NOT_COMMITTED`: the entry never left this node (refused,
   * or the node closed, failed to start or timed out before its engine took it) and will not commit.
   * `FLOTILLA_OUTCOME_UNKNOWN`: the engine had taken it (it may be with a leader) when the append timed out or
   * the node closed; it may commit. Retrying with the same request id is safe in both cases.
   */
  type AppendErrorCode = 'FLOTILLA_NOT_COMMITTED' | 'FLOTILLA_OUTCOME_UNKNOWN'

  /** An append's rejection: gaggle's message, and what is known of the entry; the engine's reason is its `cause`. */
  interface AppendError extends Error {
    code: AppendErrorCode
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


  /** Options of a node, as gaggle had them, plus flotilla's own (all optional). */
  interface NodeOptions {
    /** This node's id: a non-empty string, unique in the cluster. */
    id: string
    /** How many nodes the cluster has; a majority of it decides (2 of 3, 3 of 4, 1 of 1). */
    clusterSize: number
    electionTimeout?: ElectionTimeout
    /** ms between the leader's heartbeats. Default 50. */
    heartbeatInterval?: number
    /** Accepted for compatibility; flotilla always replicates appends at once. */
    accelerateHeartbeats?: boolean
    /** Functions `dispatchOnLeader` can run on the leader: `fn.apply(leader, args.concat(callback))`. */
    rpc?: Record<string, (this: GaggleNode, ...args: any[]) => void>
    /** Ask for pre-votes before an election, so a rejoining node does not disturb a healthy leader. Default true. */
    preVote?: boolean
    /** A leader that cannot hear a majority steps down; voters ignore candidates while a leader is heard. Default true. */
    checkQuorum?: boolean
    /**
     * Lease reads (`read({lease: true})`, Raft thesis 6.4.1): give it to every node of the cluster; a node restarted
     * from its data then waits an election timeout before it votes. Needs `checkQuorum`. Default false.
     */
    leaseReads?: boolean
    /**
     * Join an existing cluster: the node knows no members and waits for the leader that adds it (`addMember`);
     * `clusterSize` is not used then. Default false.
     */
    join?: boolean
    /** Append messages in flight to one follower. Default 256. */
    maxInflightMessages?: number
    /** Entry bytes in flight to one follower. Default 16 MiB. */
    maxInflightBytes?: number
    /** Entry bytes in one message; also the largest entry accepted. Default 1 MiB. */
    maxMessageBytes?: number
    /** Seeds the randomized election timeouts (tests). */
    seed?: number
    /** Keep term, vote and log in a write-ahead log in this directory (durable); without it, nothing survives. */
    dataDir?: string
    /** Bytes per log segment file (default 64 MiB, at least 4096). */
    segmentBytes?: number
    /** Compact the log every `threshold` applied entries behind the application's snapshot. */
    snapshot?: SnapshotHooks
  }

  interface SnapshotHooks {
    /** Applied entries between snapshots (a whole number >= 1). */
    threshold: number
    /** The application's state now, as any JSON value (or a promise of it); capture it synchronously. */
    save (): unknown
    /** Replaces the application's state: at a restart from a snapshot, or when one arrives from the leader. */
    restore (data: any): void
  }

  interface MemoryChannelOptions {
    name: 'memory'
    /** Nodes only hear nodes of the same namespace (default: one shared namespace, as in gaggle). */
    namespace?: string
  }

  interface RedisChannelOptions {
    name: 'redis'
    /** The pub/sub channel the cluster talks on. */
    channelName: string
    /** e.g. `redis://127.0.0.1:6379` (default: the client's default). */
    connectionString?: string
  }

  interface SocketIOChannelOptions {
    name: 'socket.io'
    /** e.g. `http://localhost:9000`: a server prepared by `enhanceServerForSocketIOChannel`. */
    host: string
    /** The room the cluster talks in. */
    channel: string
  }

  /** The native transport's settings (gaggle's `tcp` channel, brig's `tcp` Cluster option). */
  interface TcpSettings {
    /** "host:port" to listen on (port 0: any free port). Without a secret or TLS, loopback only unless `allowRemote`. */
    listen: string
    /** The other members to dial, by id. A member added later dials these; they learn its address from it. */
    peers: Record<string, string>
    /** The cluster's name: a peer of another cluster is refused (default "flotilla"). */
    cluster?: string
    /** A shared secret of at least 16 bytes: peers prove they know it, and every frame is authenticated. */
    secret?: string
    /**
     * Mutual TLS instead of a secret: PEM text (strings, or Buffers read as UTF-8; each at most 1 MiB). Every
     * connection is TLS 1.3; each node presents `cert` (signed by the cluster's CA `ca`, naming the node's id in a
     * subjectAltName DNS entry or its common name, with no extended key usage or both serverAuth and clientAuth)
     * and `key`, and accepts only peers whose certificate the CA signed and that names them.
     */
    tls?: { cert: string | Buffer, key: string | Buffer, ca: string | Buffer }
    /** The address peers dial to reach this node (default: the one it listens on). */
    advertise?: string
    /** Without a secret or TLS, listen on an address other than loopback anyway. */
    allowRemote?: boolean
  }

  /** The native transport: the node's Raft loop runs on its own thread and talks to its peers over TCP. */
  interface TcpChannelOptions extends TcpSettings {
    name: 'tcp'
    /** Serve flotilla's clients (`flotilla/client`, the CLI) on the same port, authenticated as the peers are. */
    clients?: boolean
  }

  type ChannelSpec = MemoryChannelOptions | RedisChannelOptions | SocketIOChannelOptions | TcpChannelOptions

  interface FactoryOptions extends NodeOptions {
    channel: ChannelSpec
  }

  interface ConstructorOptions extends NodeOptions {
    /** A channel instance (a ChannelInterface subclass). */
    channel: ChannelInterfaceClass
  }

  interface Packet<T = unknown> {
    data: T
    sequence: number
  }

  interface ChannelConstructorOptions {
    id: string
    logFunction?: (...args: any[]) => void
    channelOptions?: Record<string, unknown>
  }

  interface PeerStatus {
    id: string
    matchIndex?: number
    nextIndex?: number
    replicating?: boolean
  }

  /** What `status()` reports: the engine's view of this node and its counters. */
  interface Status {
    id: string
    state: State
    preCandidate: boolean
    term: number
    leader: string | null
    votedFor: string | null
    /** gaggle's 0-based index of the last committed user entry (-1 when none). */
    commitIndex: number
    /** The engine's own 1-based log positions (engine entries included). */
    raftFirstIndex: number
    raftLastIndex: number
    raftCommitIndex: number
    raftAppliedIndex: number
    pendingProposals: number
    /** This node's reads not yet done (waiting for a read index, or for this node's apply). */
    pendingReads: number
    /** Where recovery cut a torn write off the log at startup ("<file> at offset <n>"), or null. */
    recoveredTornTail: string | null
    pendingAppends: number
    pendingDispatches: number
    /** Peers by slot; null for a member not heard from yet. */
    peers: Array<PeerStatus | null>
    /** Messages dropped because they made no sense, by reason. */
    dropped: {
      total: number
      malformed: number
      unknownSender: number
      misaddressed: number
      staleTerm: number
      unexpected: number
      /** Received while a durable node read its log, beyond the 10,000 it keeps for then (Raft sends again). */
      whileOpening: number
      /** Dropped by the channel itself, for a channel that counts them (`droppedPackets`): the redis channel's
       *  fragments that could not be put back together. */
      channel: number
    }
    stats: {
      electionsStarted: number
      /** Elections not started because the next term (or the new leader's first entry) would pass the limits. */
      electionsRefused: number
      leaderChanges: number
      checkQuorumStepDowns: number
      votesIgnoredInLease: number
      appendRejections: number
      proposalRetries: number
      duplicateProposals: number
      /** This node's reads that got their read index. */
      readsAnswered: number
      /** Reads this node answered from its lease as leader, without a heartbeat round. */
      readsByLease: number
      /** Heartbeat rounds a quorum confirmed while reads waited for them. */
      readRoundsConfirmed: number
      /** Other nodes' read requests dropped here: this node did not lead, or too many waited. */
      readRequestsDropped: number
      /** Reads this node asked the leader for again (the answer was late or lost). */
      readRetries: number
      /** Proposals of this node's application the engine took (appends; a retry that had committed is none). */
      proposals: number
      /** Entries appended to this node's log, as leader or follower. */
      entriesAppended: number
      /** Reads asked here with `lease: true`, and without. */
      leaseReads: number
      readIndexReads: number
    }
    /** The application's snapshots: taken here, restored here (at a restart, or received), sent and received. */
    snapshots: {
      taken: number
      lastTakenBytes: number
      restored: number
      lastRestoredBytes: number
      sent: number
      received: number
    }
    /**
     * How long the write-ahead log's fsyncs took (one per group commit), as a histogram: `buckets` holds
     * `[upper bound in seconds, fsyncs at most that long]` (cumulative). null for a node in memory.
     */
    fsync: { count: number, sumSeconds: number, buckets: Array<[number, number]> } | null
    /** The native transport's address and counters (frames, bytes, connections, refusals); only with it. */
    transport?: { listen: string | null, [counter: string]: number | string | null }
    /** With the tcp channel's `clients: true`: clients that sent a request, requests served, frames refused. */
    clients?: { connected: number, requests: number, refused: number }
  }

  /** A promise with bluebird's `.spread`, as gaggle's dispatch promises had. */
  interface SpreadPromise<T extends unknown[]> extends Promise<T> {
    spread<R>(fn: (...values: T) => R | PromiseLike<R>): Promise<R>
  }

  type Callback<T = void> = (error: Error | null, value?: T) => void

  interface ChannelsMap {
    memory: typeof ChannelInterfaceClass
    redis: typeof ChannelInterfaceClass
    'socket.io': typeof ChannelInterfaceClass
  }
}

/** The channel base class (gaggle's `channels/channel-interface`): subclass it for a custom transport. */
declare class ChannelInterfaceClass extends EventEmitter {
  constructor (options: gaggle.ChannelConstructorOptions)
  id: string
  state: { connected: boolean, isReconnecting: boolean }
  connect (): void
  disconnect (): void
  broadcast (data: unknown): void
  send (nodeId: string, data: unknown): void
  protected _connect (): void
  protected _disconnect (): void
  protected _broadcast (packet: gaggle.Packet): void
  protected _send (nodeId: string, packet: gaggle.Packet): void
  protected _connected (): void
  protected _disconnected (): void
  /** gaggle's spelling. Drops a packet whose sequence is not above the last seen from that origin. */
  protected _recieved (originNodeId: string, packet: gaggle.Packet): void
  on (event: 'connected' | 'disconnected', listener: () => void): this
  on (event: 'recieved', listener: (originNodeId: string, data: unknown) => void): this
  on (event: string | symbol, listener: (...args: any[]) => void): this
}

/** A node of a gaggle cluster (gaggle's `lib/gaggle`). Events: `appended`, `committed`, `leaderElected`. */
declare class GaggleNode extends EventEmitter {
  constructor (options: gaggle.ConstructorOptions)
  readonly id: string
  readonly _state: gaggle.State
  /**
   * Setting a later term (as gaggle's own tests do) makes the node a follower in it, as if it had heard of it; a
   * lower one throws (FLOTILLA_INVALID_ARGUMENT).
   */
  _currentTerm: number
  /** The leader's id; null on the leader itself and when unknown. */
  readonly _leader: string | null
  readonly _votedFor: string | null
  /** A fresh copy of the log's user entries. */
  readonly _log: gaggle.Entry[]
  readonly _commitIndex: number
  readonly _lastApplied: number
  readonly _channel: ChannelInterfaceClass

  /**
   * Appends `data` (any JSON value) from any node; settles when this node sees it committed. Rejects with a
   * `gaggle.AppendError`, whose `code` tells an entry that will not commit from one that may have.
   */
  append (data: unknown, timeout?: number): Promise<void>
  /** With a request id: resolves with the (0-based) index of the one entry the request committed as. */
  append (data: unknown, options: gaggle.AppendOptions & { requestId: string }): Promise<number>
  append (data: unknown, options: gaggle.AppendOptions): Promise<number | void>
  append (data: unknown, options: gaggle.AppendOptions, callback: (error: gaggle.AppendError | null, index?: number) => void): void
  append (data: unknown, callback: gaggle.Callback): void
  append (data: unknown, timeout: number | undefined, callback: gaggle.Callback): void
  /**
   * A linearizable read (Raft thesis 6.4), from any node: resolves with the (0-based) index of the last entry this
   * node applied (-1 when nothing was ever committed), once it has emitted `committed` for every entry up to the
   * read's index, so a state machine fed by `committed` holds every append acknowledged before the call. Waits
   * through leader changes; rejects with a `gaggle.FlotillaError`: `FLOTILLA_TIMEOUT` (no leader confirmed it in
   * time), `FLOTILLA_CLOSED` (the node closed), `FLOTILLA_INVALID_STATE` (a lease read without leaseReads or checkQuorum),
   * `FLOTILLA_TOO_MANY_PENDING`. Bad arguments throw a TypeError (`FLOTILLA_INVALID_ARGUMENT`).
   */
  read (timeout?: number): Promise<number>
  read (options: gaggle.ReadOptions): Promise<number>
  /** Runs `rpc[name]` on the leader; resolves with the values its callback passed after the error. */
  dispatchOnLeader<T extends unknown[] = unknown[]> (name: string, args: unknown[], timeout?: number): gaggle.SpreadPromise<T>
  dispatchOnLeader (name: string, args: unknown[], callback: (error: Error | null, ...values: any[]) => void): void
  dispatchOnLeader (name: string, args: unknown[], timeout: number | undefined, callback: (error: Error | null, ...values: any[]) => void): void
  getLog (): gaggle.Entry[]
  getCommitIndex (): number
  isLeader (): boolean
  hasUncommittedEntriesInPreviousTerms (): boolean
  /**
   * Adds the node `id` (started with `join: true`) as a learner, which receives the log and never votes; without
   * `{learner: true}` it is promoted to voter once caught up. Callable on any node (it goes to the leader); resolves
   * once the change committed. Refusals are coded: `FLOTILLA_INVALID_STATE` (another change in flight),
   * `FLOTILLA_INVALID_ARGUMENT` (a member already), `FLOTILLA_NOT_LEADER`, `FLOTILLA_CLOSED`.
   */
  addMember (id: string, options?: { learner?: boolean, address?: string }): Promise<void>
  /** Makes the learner `id` a voter (refused with `FLOTILLA_INVALID_STATE` while it is far behind). */
  promoteMember (id: string): Promise<void>
  /** Removes the member `id`; a leader that removes itself hands over once the change committed. */
  removeMember (id: string): Promise<void>
  /**
   * Moves the cluster to exactly these members. When more than one voter changes it goes through a joint
   * configuration (Raft thesis 4.3), left on its own; a new voter must be a caught-up learner. Callable on any
   * node; resolves once the change, and leaving the joint configuration, committed.
   */
  changeMembership (target: { voters: string[], learners?: string[] }): Promise<void>
  /**
   * The committed entries from `from` (default 0) to `to`, both inclusive, read a page at a time; without `to` it
   * follows new commits until `close()` (then it throws `FLOTILLA_CLOSED`). A `from` compacted into a snapshot
   * throws `FLOTILLA_COMPACTED`, whose message names the snapshot's last index.
   */
  entries (range?: { from?: number, to?: number, signal?: AbortSignal }): AsyncIterableIterator<{ index: number, term: number, id: string, data: any }>
  /** The configuration in force; null until the node runs. */
  members (): gaggle.Members | null
  /** Hands leadership to another node: it catches up, then campaigns at once. Leader only. */
  transferLeadership (nodeId: string): void
  /** The engine's view of this node; null while a durable node is still reading its log (see ready()). */
  status (): gaggle.Status | null
  /**
   * The node's metrics in the Prometheus text exposition format 0.0.4 (serve it as `text/plain; version=0.0.4`):
   * `flotilla_term`, `flotilla_role{role}`, indices, counters (`flotilla_proposals_total`,
   * `flotilla_reads_total{kind}`, `flotilla_dropped_messages_total{reason}`, ...), `flotilla_peer_lag_entries{peer}`
   * on the leader, `flotilla_fsync_duration_seconds` with `dataDir`, the snapshot hooks' durations, and the native
   * transport's counters. null while a durable node is still reading its log.
   */
  metrics (): string | null
  /**
   * Resolves once the node runs: at once in memory; with `dataDir`, once its log and snapshot have been read (on
   * a worker thread; meanwhile appends wait and the node reports a fresh follower). Rejects when the log cannot
   * be read (the error names the file and offset, and the node has stopped), or when it was closed first.
   */
  ready (): Promise<void>
  /**
   * Stops the node and disconnects its channel; pending appends and dispatches reject. Resolves once a durable
   * node's queued writes are on disk and its data directory is free. Safe to call twice.
   */
  close (): Promise<void>
  close (callback: gaggle.Callback): void

  on (event: 'appended' | 'committed', listener: (entry: gaggle.Entry, index: number) => void): this
  on (event: 'leaderElected', listener: () => void): this
  on (event: 'membershipChanged', listener: (members: gaggle.Members) => void): this
  on (event: string | symbol, listener: (...args: any[]) => void): this
  once (event: 'appended' | 'committed', listener: (entry: gaggle.Entry, index: number) => void): this
  once (event: 'leaderElected', listener: () => void): this
  once (event: string | symbol, listener: (...args: any[]) => void): this

  static _STATES: { CANDIDATE: 'CANDIDATE', LEADER: 'LEADER', FOLLOWER: 'FOLLOWER' }
  static _RPC_TYPE: Record<'REQUEST_VOTE' | 'REQUEST_VOTE_REPLY' | 'APPEND_ENTRIES' | 'APPEND_ENTRIES_REPLY' | 'APPEND_ENTRY' | 'DISPATCH' | 'DISPATCH_REPLY', string>
}

/** gaggle's factory: builds the named channel, then the node. */
declare function gaggle (options: gaggle.FactoryOptions): GaggleNode

declare namespace gaggle {
  /** Prepares an http server to relay the socket.io channel; returns a teardown function. */
  function enhanceServerForSocketIOChannel (server: import('node:http').Server): () => void
  const _STATES: typeof GaggleNode._STATES
  const _RPC_TYPE: typeof GaggleNode._RPC_TYPE
  const channels: ChannelsMap
  /** The node class, for `new Gaggle({..., channel: instance})` with a custom channel. */
  const Gaggle: typeof GaggleNode
  type Gaggle = GaggleNode
  /** The channel base class. */
  const ChannelInterface: typeof ChannelInterfaceClass
  type ChannelInterface = ChannelInterfaceClass
}

export = gaggle
