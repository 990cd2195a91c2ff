// Types of `require('flotilla/client')`: the client of a cluster run as a service (`flotilla serve`, or gaggle
// nodes whose tcp channel has `clients: true`).
import gaggle = require('./index')

export interface ClientOptions {
  /** "host:port" of one or more nodes; the other members' addresses are learned from them. */
  addresses: string[]
  /** The cluster's name (default 'flotilla'). */
  cluster?: string
  /** The cluster's shared secret (at least 16 bytes): the client proves the client key made from it. */
  secret?: string
  /** Instead of the secret: the client key (64 hex digits, `flotilla client-key`). */
  clientKey?: string
  /** Mutual TLS: this client's certificate (signed by the cluster's CA, naming `name`), its key, the CA (PEM). */
  tls?: { cert: string | Buffer; key: string | Buffer; ca: string | Buffer }
  /** This client's name (default 'client-' and random hex). */
  name?: string
  /** How long a call may take, retries included, in ms (default 10000). */
  timeout?: number
}

/** A node's answer to `status()`: its id, every member's address, and its status (null while it opens). */
export interface NodeView {
  id: string
  addresses: Record<string, string | null>
  status: gaggle.Status | null
}

export interface Members {
  voters: string[]
  outgoing: string[]
  learners: string[]
  /** On the leader: each member's replication progress. */
  progress?: Record<string, { matchIndex: number; caughtUp: boolean }>
  addresses: Record<string, string | null>
}

export interface Entry {
  /** gaggle's 0-based index. */
  index: number
  term: number
  id: string
  data: unknown
}

export class Client {
  constructor (options: ClientOptions)
  /** The first node of `addresses` that answers (with `{leader: true}`: the leader). */
  status (options?: { leader?: boolean }): Promise<NodeView>
  members (): Promise<Members>
  /** The leader's metrics, Prometheus text. */
  metrics (): Promise<string>
  /** Resolves with the entry's index once committed; one request id commits once however often retried. */
  append (data: unknown, options?: { requestId?: string; timeout?: number }): Promise<number>
  /** A linearizable read index (-1 for an empty log). */
  read (options?: { timeout?: number }): Promise<number>
  /**
   * The committed entries from `from` to `to` (inclusive; without `to` it follows new commits), going on from
   * another node when its node goes away; ends with FLOTILLA_UNAVAILABLE when no node said anything on it (entries
   * or a keepalive) for the client's `timeout`, across reconnections.
   */
  entries (options?: { from?: number; to?: number }): AsyncIterableIterator<Entry>
  addMember (id: string, options?: { address?: string; learner?: boolean }): Promise<null>
  promoteMember (id: string): Promise<null>
  removeMember (id: string): Promise<null>
  changeMembership (target: { voters: string[]; learners?: string[] }): Promise<null>
  transferLeadership (id: string): Promise<null>
  close (): void
}
