// The live monitor `flotilla serve --monitor` serves over HTTP: a page (monitor.html, at `/`) and the cluster as
// this node sees it and as each other member tells it over the client protocol (`/cluster.json`).
'use strict'

const fs = require('node:fs')
const path = require('node:path')
const { ConnectionPool } = require('../client/connection-pool')
const { send } = require('./http')

// How often the local node's leader and term are looked at, for the history of elections.
const POLL_MS = 200
// The longest a member may take to answer (connecting included) before it counts as unreachable.
const ASK_TIMEOUT_MS = 1000
// A view built this recently is served again rather than asking every member anew.
const CACHE_MS = 250
// Elections kept in the history, the latest.
const ELECTIONS_KEPT = 20

/**
 * `node`: the local gaggle node; `connection`: the settings (lib/client/connection.js) to connect to the other
 * members with. Returns `{handle(request, response), close()}`: handle answers (and returns true) for its paths.
 */
function createMonitor ({ node, connection: settings }) {
  const page = fs.readFileSync(path.join(__dirname, 'monitor.html'), 'utf8')
  const elections = [] // {at, term, leader}, oldest first
  const connections = new ConnectionPool(settings)
  let cached = null // {at, view: Promise}

  // Notes a leader (or term) the local node had not reported before.
  function observe (status) {
    if (status === null || status.leader === null) return
    const last = elections[elections.length - 1]
    if (last !== undefined && last.leader === status.leader && last.term === status.term) return
    elections.push({ at: new Date().toISOString(), term: status.term, leader: status.leader })
    if (elections.length > ELECTIONS_KEPT) elections.shift()
  }
  const watch = setInterval(() => observe(node.status()), POLL_MS)
  watch.unref()
  observe(node.status())

  // `op`'s result from the member at `address`, or null when it does not answer within ASK_TIMEOUT_MS.
  async function ask (address, op) {
    if (typeof address !== 'string') return null
    let timer
    const late = new Promise((resolve, reject) => { timer = setTimeout(reject, ASK_TIMEOUT_MS, new Error('timeout')) })
    try {
      return await Promise.race([connections.get(address).then((open) => open.request(op, {}, ASK_TIMEOUT_MS)), late])
    } catch {
      return null
    } finally {
      clearTimeout(timer)
    }
  }

  async function build () {
    const observedAt = new Date().toISOString()
    const status = node.status()
    const members = node.members()
    observe(status)
    const history = elections.slice().reverse()
    if (status === null || members === null) {
      return { observedAt, monitoredBy: node.id, leader: null, term: null, members: [], elections: history }
    }
    const { addresses } = node._clientView()
    const roles = new Map()
    for (const id of members.learners) roles.set(id, 'learner')
    for (const id of members.outgoing) roles.set(id, 'outgoing voter')
    for (const id of members.voters) roles.set(id, 'voter')
    // A seat whose member this node has not heard yet (null in members()) has no name to ask or show.
    const unheard = members.voters.filter((id) => id === null).length
    roles.delete(null)
    const ids = [...roles.keys()].sort()
    const leader = status.leader
    // Each other member's status, and the leader's progress (when another node leads), all at once.
    const [remote, leaderMembers] = await Promise.all([
      Promise.all(ids.map((id) => id === node.id ? { status } : ask(addresses[id], 'status'))),
      leader === null || leader === node.id ? members : ask(addresses[leader], 'members')
    ])
    const statusOf = new Map(ids.map((id, i) => [id, remote[i]?.status ?? null]))
    const progress = leaderMembers?.progress ?? null
    const leaderLast = leader === null ? null : statusOf.get(leader)?.raftLastIndex ?? null
    const lagOf = (id) => {
      if (leaderLast === null) return null
      if (id === leader) return 0
      const match = progress?.[id]?.matchIndex
      return typeof match === 'number' ? Math.max(0, leaderLast - match) : null
    }
    const rows = ids.map((id) => {
      const row = { id, address: addresses[id] ?? null, role: roles.get(id) }
      const seen = statusOf.get(id)
      if (seen === null) return { ...row, reachable: false }
      return {
        ...row,
        reachable: true,
        state: seen.state,
        term: seen.term,
        leader: seen.leader,
        commitIndex: seen.raftCommitIndex,
        appliedIndex: seen.raftAppliedIndex,
        lastIndex: seen.raftLastIndex,
        lag: lagOf(id)
      }
    })
    return { observedAt, monitoredBy: node.id, leader, term: status.term, members: rows, unheardVoters: unheard, elections: history }
  }

  function view () {
    if (cached === null || Date.now() - cached.at > CACHE_MS) cached = { at: Date.now(), view: build() }
    return cached.view
  }

  return {
    handle (request, response) {
      const pathname = request.url.split('?')[0]
      if (pathname === '/') {
        send(response, 200, 'text/html; charset=utf-8', page)
        return true
      }
      if (pathname !== '/cluster.json') return false
      view().then(
        (cluster) => send(response, 200, 'application/json', JSON.stringify(cluster)),
        (error) => send(response, 500, 'text/plain', `${error.message}\n`)
      )
      return true
    },

    close () {
      clearInterval(watch)
      connections.close()
    }
  }
}

module.exports = { createMonitor }
