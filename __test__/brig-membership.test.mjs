// Membership changes on the brig face (Raft thesis 4): a node started with `join: true` is added by addPeer() on the
// leader (a learner, then a voter once caught up), members are removed with removePeer() (the leader too: it hands
// over), changeMembership() swaps two voters at once through a joint configuration, and every node forgets the Peer
// of a member that left. Broadcasts with request ids run through whichever node leads; at the end nothing
// acknowledged is lost, each acknowledged broadcast is in the log once at the index it was acknowledged with, and
// every member holds the same log. The last test runs each node in its own process (fixtures/brig-member-node.cjs,
// the parent relaying the messages) and kills one with SIGKILL inside the joint configuration.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { brig, withTiming } from './brig-support.mjs'

const { consensus, events } = brig
const ROOT = fileURLToPath(new URL('..', import.meta.url))
const FIXTURE = fileURLToPath(new URL('./fixtures/brig-member-node.cjs', import.meta.url))
const TIMING = { ELECTION_T_MIN: 150, ELECTION_T_MAX: 300, REPLICATE_T: 30 }
// Bounds every wait: no step comes near it unless something is broken.
const STEP_MS = 15_000
const TEST = { timeout: 45_000 }
// A membership change refused for a reason that passes: asked again (of the leader then).
const RETRIED_CHANGE_ERRORS = ['FLOTILLA_NOT_LEADER', 'FLOTILLA_OUTCOME_UNKNOWN', 'FLOTILLA_INVALID_STATE']

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
// A deadline that does not keep the process alive once the race it bounds is over.
const deadline = (ms) => new Promise((resolve) => setTimeout(resolve, ms).unref()).then(() => null)

// Resolves with the first truthy value of `condition()`, polled every 5 ms; fails after STEP_MS saying what it
// waited for (`what()` may describe what it saw).
async function until (condition, what) {
  const end = Date.now() + STEP_MS
  for (;;) {
    const value = await condition()
    if (value) return value
    if (Date.now() > end) throw new Error('timed out waiting for ' + (typeof what === 'function' ? what() : what))
    await sleep(5)
  }
}

function tempDir (t, name) {
  const dir = mkdtempSync(path.join(tmpdir(), `flotilla-brig-${name}-`))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

const sorted = (ids) => [...ids].sort()

// Brig clusters in this process, wired through an in-memory transport: a Peer's tx hands the message, as JSON, to
// the target's protocol mapping one turn later (dropped when the target is not there). Clusters come and go.
class Network {
  constructor (t) {
    this.clusters = new Map()
    this.mappings = new Map()
    this.sent = [] // {from, to, method}
    t.after(() => Promise.all([...this.clusters.values()].map((cluster) => cluster.close())))
  }

  get (id) { return this.clusters.get(id) }

  peer (from, to) {
    return new consensus.Peer(to, (id, msg) => {
      this.sent.push({ from, to: id, method: msg.constructor.method })
      const plain = JSON.parse(msg.serialize())
      setImmediate(() => {
        const mapping = this.mappings.get(id)
        if (mapping !== undefined) mapping[msg.constructor.method](plain, () => {})
      })
    })
  }

  // A cluster whose first members are `memberIds` (none for a joining node), not joined yet.
  create (id, memberIds, options) {
    const peers = memberIds.filter((other) => other !== id).map((other) => this.peer(id, other))
    const cluster = new consensus.Cluster(id, peers, undefined, options)
    this.clusters.set(id, cluster)
    this.mappings.set(id, cluster.createProtocolMapping())
    return cluster
  }

  start (id) {
    const cluster = this.get(id)
    withTiming(TIMING, () => cluster.join())
    return cluster.ready()
  }

  async stop (id) {
    await this.get(id).close()
    this.mappings.delete(id)
  }

  // The leader among `ids` (the one of the highest term, should two think they lead for a moment), or null.
  leaderNow (ids) {
    let leader = null
    for (const id of ids) {
      const status = this.get(id).status()
      if (status !== null && status.state === 'LEADER' && (leader === null || status.term > leader.status().term)) leader = this.get(id)
    }
    return leader
  }

  leader (ids) {
    return until(() => this.leaderNow(ids), () => `a leader among ${ids.join(', ')}`)
  }

  // Adds the running node `id` to the cluster of `memberIds`: its Peer on every follower, then on the leader,
  // where addPeer() starts the change (learner, then voter); resolves once the leader's membershipChange did.
  async add (memberIds, id) {
    const leader = await this.leader(memberIds)
    for (const other of memberIds) if (other !== leader.id) this.get(other).addPeer(this.peer(other, id))
    const before = leader.membershipChange
    leader.addPeer(this.peer(leader.id, id))
    assert.notEqual(leader.membershipChange, before, `addPeer(${id}) on the leader ${leader.id} started a change`)
    await leader.membershipChange
    assert.ok(leader.members().voters.includes(id), `${id} votes once the leader's membershipChange resolved`)
    return leader
  }

  // Removes `id` on the leader of `memberIds`; asked again when a leader change lost it, or when a new leader
  // has not yet committed its first entry (removePeer() does not wait for that, as addPeer() does).
  async remove (memberIds, id) {
    for (let attempt = 1; ; attempt++) {
      const leader = await this.leader(memberIds)
      try {
        await leader.removePeer(id)
        return leader
      } catch (error) {
        if (attempt === 20 || !RETRIED_CHANGE_ERRORS.includes(error.code)) throw error
        await sleep(TIMING.REPLICATE_T)
      }
    }
  }
}

// Broadcasts with request ids, all the time, through whichever node of `members()` leads: each value is asked
// (with the same request id) until acknowledged, so a value is acknowledged once even when its first try
// committed unseen. `acked` maps each acknowledged value to the index it was acknowledged with.
// A try times out after a second: a broadcast taken by a node that is being removed may never settle there (it
// commits, but the node hears of no commit once removed), and is asked again of the next leader.
function writer (tryBroadcast, prefix) {
  const acked = new Map()
  const state = { running: true }
  const done = (async () => {
    for (let value = 0; state.running; value++) {
      while (state.running) {
        try {
          const index = await tryBroadcast({ value }, { requestId: `${prefix}${value}`, timeout: 1000 })
          if (index !== null) {
            acked.set(value, index)
            break
          }
        } catch (error) {
          if (typeof error.code !== 'string' || !error.code.startsWith('FLOTILLA_')) throw error
        }
        await sleep(5)
      }
    }
  })()
  return {
    acked,
    // Resolves once `count` more values were acknowledged.
    more (count) {
      const target = acked.size + count
      return until(() => acked.size >= target, () => `${count} more acknowledged broadcasts (${acked.size} so far)`)
    },
    stop () {
      state.running = false
      return done
    }
  }
}

// Every log a list of [term, payload]: they must be one, and hold every acknowledged value once, at its index.
function assertOneLog (logs, acked) {
  const [first, ...rest] = [...logs.entries()]
  for (const [id, log] of rest) assert.deepEqual(log, first[1], `${id}'s log is ${first[0]}'s`)
  const log = first[1]
  const positions = new Map()
  log.forEach(([, payload], index) => {
    if (payload === null || typeof payload !== 'object' || !('value' in payload)) return
    assert.ok(!positions.has(payload.value), `value ${payload.value} is in the log once (at ${positions.get(payload.value)} and ${index})`)
    positions.set(payload.value, index)
  })
  for (const [value, index] of acked) {
    assert.equal(positions.get(value), index, `acknowledged value ${value} is in the log at the index it was acknowledged with`)
  }
  return log
}

// Waits until every cluster of `ids` committed its whole log, and the logs are as long as the leader's.
async function settledLogs (net, ids) {
  const leader = await net.leader(ids)
  // A last broadcast of the leader's term: once it committed, so did everything before it.
  const last = await leader.broadcast({ last: true }, { requestId: `last-${leader.id}`, timeout: STEP_MS })
  const length = () => net.get(ids[0]).state.log.entries.length
  await until(() => ids.every((id) => {
    const cluster = net.get(id)
    return cluster.state.commitLength === leader.state.commitLength && cluster.state.log.entries.length === last + 1 &&
      cluster.state.log.entries.length === length()
  }), () => `every log committed: ${ids.map((id) => `${id} ${net.get(id).state.commitLength}/${net.get(id).state.log.entries.length}`).join(', ')}, leader's ${leader.state.commitLength}`)
  return new Map(ids.map((id) => [id, net.get(id).state.log.entries.map((entry) => [entry.term, entry.data.payload])]))
}

// The membership every node of `ids` has in force, with no joint or learner left.
function assertMembers (net, ids, voters) {
  for (const id of ids) {
    const members = net.get(id).members()
    assert.deepEqual({ voters: sorted(members.voters), outgoing: members.outgoing, learners: members.learners },
      { voters: sorted(voters), outgoing: [], learners: [] }, `the members on ${id}`)
  }
}

// Waits until every node of `ids` has `voters` in force (followers learn a commit on the next message).
function membersSettled (net, ids, voters) {
  return until(() => ids.every((id) => {
    const members = net.get(id).members()
    return sorted(members.voters).join() === sorted(voters).join() && members.outgoing.length === 0 && members.learners.length === 0
  }), () => `the members ${sorted(voters)} on ${ids.join(', ')}: ${ids.map((id) => JSON.stringify(net.get(id).members())).join(' ')}`)
}

function leaderWriter (net, members, prefix) {
  return writer(async (payload, options) => {
    const leader = net.leaderNow(members())
    return leader === null ? null : leader.broadcast(payload, options)
  }, prefix)
}

test('every node of a durable 3-node brig cluster replaced one at a time while broadcasts run: nothing acknowledged lost', TEST, async (t) => {
  const root = tempDir(t, 'replace')
  const net = new Network(t)
  const options = (id, extra) => ({ dataDir: path.join(root, id), ...extra })
  let members = ['n0', 'n1', 'n2']
  for (const id of members) net.create(id, members, options(id))
  await Promise.all(members.map((id) => net.start(id)))
  await net.leader(members)
  const writes = leaderWriter(net, () => members, 'replace-')
  t.after(() => writes.stop())

  for (const [old, spare] of [['n0', 'm0'], ['n1', 'm1'], ['n2', 'm2']]) {
    await writes.more(3)
    const fresh = net.create(spare, [], options(spare, { join: true }))
    for (const id of members) fresh.addPeer(net.peer(spare, id))
    await net.start(spare)
    assert.equal(fresh.state.log.entries.length, 0, 'a joining node starts empty and waits to be added')
    await net.add(members, spare)
    members = [...members, spare]
    await writes.more(3)
    await net.remove(members, old)
    members = members.filter((id) => id !== old)
    await net.leader(members)
    await net.stop(old)
  }
  await writes.more(3)
  await writes.stop()

  const logs = await settledLogs(net, members)
  assertMembers(net, members, ['m0', 'm1', 'm2'])
  const log = assertOneLog(logs, writes.acked)
  assert.ok(writes.acked.size >= 21, `broadcasts ran all along (${writes.acked.size} acknowledged)`)
  assert.ok(log.length >= writes.acked.size + 1)
  for (const id of members) {
    assert.deepEqual(sorted(net.get(id).peers.map((peer) => peer.id)), sorted(members.filter((other) => other !== id)),
      `${id} holds the Peers of the members only`)
  }
})

test('a brig cluster grows from 3 to 5 voters and shrinks back to 3; the logs stay one', TEST, async (t) => {
  const net = new Network(t)
  let members = ['a', 'b', 'c']
  for (const id of members) net.create(id, members)
  await Promise.all(members.map((id) => net.start(id)))
  const writes = leaderWriter(net, () => members, 'grow-')
  t.after(() => writes.stop())
  await writes.more(3)
  for (const id of ['d', 'e']) {
    const fresh = net.create(id, [], { join: true })
    for (const other of [...members, 'd', 'e']) if (other !== id) fresh.addPeer(net.peer(id, other))
    await net.start(id)
    await net.add(members, id)
    members = [...members, id]
    await writes.more(2)
  }
  await membersSettled(net, members, ['a', 'b', 'c', 'd', 'e'])
  // The writer runs on: once every node of the five committed what was acknowledged so far, their committed
  // logs are one.
  const acked = new Map(writes.acked)
  const needed = Math.max(...acked.values()) + 1
  await until(() => members.every((id) => net.get(id).state.commitLength >= needed), `every node of the five to commit ${needed} entries`)
  const committed = members.map((id) => net.get(id).state.log.entries.slice(0, net.get(id).state.commitLength))
  const shortest = Math.min(...committed.map((entries) => entries.length))
  assertOneLog(new Map(members.map((id, i) => [id, committed[i].slice(0, shortest).map((entry) => [entry.term, entry.data.payload])])), acked)

  // Shrink by two voters of the first three, the leader kept (its removal is the next test).
  const leader = await net.leader(members)
  const leaving = ['a', 'b', 'c'].filter((id) => id !== leader.id).slice(0, 2)
  for (const id of leaving) {
    await net.remove(members, id)
    members = members.filter((other) => other !== id)
    await writes.more(2)
  }
  await writes.stop()
  await membersSettled(net, members, members)
  assert.equal(members.length, 3)
  const logs = await settledLogs(net, members)
  assertMembers(net, members, members)
  assertOneLog(logs, writes.acked)
})

test('the leader removes itself: it hands over, a new leader is elected among the rest, commits go on', TEST, async (t) => {
  const net = new Network(t)
  const ids = ['a', 'b', 'c']
  for (const id of ids) net.create(id, ids)
  await Promise.all(ids.map((id) => net.start(id)))
  const old = await net.leader(ids)
  const rest = ids.filter((id) => id !== old.id)
  let members = ids
  const writes = leaderWriter(net, () => members, 'self-')
  t.after(() => writes.stop())
  await writes.more(5)
  const term = old.status().term

  await old.removePeer(old.id)
  assert.deepEqual(sorted(old.members().voters), rest, 'the removal committed on the old leader')
  members = rest
  const next = await net.leader(rest)
  assert.notEqual(next.id, old.id)
  assert.ok(next.status().term > term, 'the new leader was elected in a later term')
  await until(() => old.status().state !== 'LEADER', 'the old leader to step down')
  await writes.more(5)
  await writes.stop()
  await membersSettled(net, rest, rest)
  assertOneLog(await settledLogs(net, rest), writes.acked)
  // The old leader is no member now: the rest do not wait for it, and its vote is not asked.
  assert.equal(net.get(rest[0]).getPeer(old.id), null)
  assert.equal(net.get(rest[1]).getPeer(old.id), null)
})

test('a removal made on the leader: every follower forgets the removed member\'s Peer once it committed', TEST, async (t) => {
  const net = new Network(t)
  const ids = ['a', 'b', 'c', 'd']
  for (const id of ids) net.create(id, ids)
  await Promise.all(ids.map((id) => net.start(id)))
  const leader = await net.leader(ids)
  await leader.broadcast('before', { requestId: 'before' })
  const removed = ids.find((id) => id !== leader.id)
  const rest = ids.filter((id) => id !== removed)
  for (const id of rest) assert.notEqual(net.get(id).getPeer(removed), null, `${id} has ${removed}'s Peer before`)

  await leader.removePeer(removed)
  assert.equal(leader.getPeer(removed), null, 'the leader forgot the Peer when removePeer() resolved')
  assert.ok(!leader.peers.some((peer) => peer.id === removed))
  // Each follower: from the moment its configuration has no `removed`, it has no Peer for it either.
  const followers = rest.filter((id) => id !== leader.id)
  await until(() => followers.every((id) => {
    const cluster = net.get(id)
    const inForce = cluster.members()
    const member = [...inForce.voters, ...inForce.outgoing, ...inForce.learners].includes(removed)
    if (!member) {
      assert.equal(cluster.getPeer(removed), null, `${id} forgot ${removed}'s Peer with the configuration`)
      assert.deepEqual(sorted(cluster.peers.map((peer) => peer.id)), rest.filter((other) => other !== id), `${id}'s peers`)
    }
    return !member
  }), () => `the removal in force on ${followers.join(', ')}`)

  // Nothing is sent to the removed member from here on, and the rest commit on their own.
  const sentBefore = net.sent.filter((message) => message.to === removed).length
  await leader.broadcast('after', { requestId: 'after' })
  const logs = await settledLogs(net, rest)
  assert.equal(net.sent.filter((message) => message.to === removed).length, sentBefore, `nothing sent to ${removed}`)
  assertOneLog(logs, new Map())
  assert.deepEqual(logs.get(leader.id).map(([, payload]) => payload), ['before', 'after', { last: true }])
})

test('changeMembership() swaps two voters at once through a joint configuration, left on its own', TEST, async (t) => {
  const net = new Network(t)
  const ids = ['a', 'b', 'c']
  for (const id of ids) net.create(id, ids)
  await Promise.all(ids.map((id) => net.start(id)))
  const incoming = ['d', 'e']
  let members = ids
  const writes = leaderWriter(net, () => members, 'swap-')
  t.after(() => writes.stop())
  await writes.more(3)
  for (const id of incoming) {
    const fresh = net.create(id, [], { join: true })
    for (const other of [...ids, ...incoming]) if (other !== id) fresh.addPeer(net.peer(id, other))
  }
  await Promise.all(incoming.map((id) => net.start(id)))

  // The learners first: named to the leader by changeMembership(), then their Peers given (on the leader, to a
  // member already, so addPeer() starts no change of its own).
  const leader = await net.leader(ids)
  for (const id of ids) if (id !== leader.id) for (const other of incoming) net.get(id).addPeer(net.peer(id, other))
  const learning = leader.changeMembership({ voters: ids, learners: incoming })
  for (const other of incoming) leader.addPeer(net.peer(leader.id, other))
  assert.equal(leader.membershipChange, undefined, 'addPeer() of a member started no change')
  await learning
  members = [...ids, ...incoming]
  assert.deepEqual(sorted(leader.members().learners), incoming)
  await until(() => incoming.every((id) => leader.members().progress[id].caughtUp), 'the learners to catch up')

  // Swap the two followers for the learners. The joint configuration is seen by the leader on the LogResponses
  // that commit leaving it (each is announced before the engine takes it).
  const outgoing = ids.filter((id) => id !== leader.id)
  const target = [leader.id, ...incoming]
  const seen = []
  const watch = () => {
    const inForce = leader.members()
    if (inForce.outgoing.length > 0) seen.push({ voters: sorted(inForce.voters), outgoing: sorted(inForce.outgoing) })
  }
  leader.on(events.LogResponse, watch)
  await leader.changeMembership({ voters: target })
  leader.off(events.LogResponse, watch)
  assert.ok(seen.length > 0, 'the leader was in a joint configuration')
  assert.deepEqual(seen[0], { voters: sorted(target), outgoing: ids }, 'the joint configuration: the new voters and the old')
  assert.deepEqual(leader.members().outgoing, [], 'the joint configuration was left when changeMembership() resolved')
  assert.deepEqual(sorted(leader.members().voters), sorted(target))
  members = target
  await writes.more(3)
  await writes.stop()

  await membersSettled(net, target, target)
  assertMembers(net, target, target)
  for (const id of target) for (const gone of outgoing) assert.equal(net.get(id).getPeer(gone), null, `${id} forgot ${gone}`)
  assertOneLog(await settledLogs(net, target), writes.acked)
})

// ---- one process per node ----

// One brig node in a child process (fixtures/brig-member-node.cjs), started again on the same dataDir after a kill.
class NodeProcess {
  constructor (nodes, options) {
    this.nodes = nodes
    this.id = options.id
    this.options = options
    this.child = null
    this.status = null // the last {state, term, leader} it reported
    this.requests = new Map()
    this.nextRequest = 0
    this.stderr = ''
    this.exits = [] // {code, signal} of each process that ended
  }

  get alive () { return this.child !== null }

  start () {
    const child = spawn(process.execPath, [FIXTURE], {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      env: { ...process.env, BRIG_MEMBER_NODE: JSON.stringify({ ...this.options, timing: TIMING }) }
    })
    this.child = child
    this.status = null
    child.stderr.on('data', (chunk) => { this.stderr = (this.stderr + chunk).slice(-4000) })
    child.exited = new Promise((resolve) => child.once('exit', (code, signal) => {
      this.exits.push({ code, signal })
      if (this.child === child) this.child = null
      for (const [rid, pending] of this.requests) {
        this.requests.delete(rid)
        pending.reject(Object.assign(new Error(`${this.id} exited before it answered`), { code: 'FLOTILLA_TEST_EXITED' }))
      }
      resolve({ code, signal })
    }))
    return new Promise((resolve, reject) => {
      child.on('message', (message) => {
        switch (message.type) {
          case 'send': return this.nodes.relay(message)
          case 'status':
            this.status = message.status
            return
          case 'ready': return resolve()
          default: {
            const pending = this.requests.get(message.rid)
            if (pending === undefined) return
            this.requests.delete(message.rid)
            if (message.error) pending.reject(Object.assign(new Error(message.error.message), { code: message.error.code }))
            else pending.resolve(message.value)
          }
        }
      })
      child.exited.then(({ code, signal }) => reject(new Error(`${this.id} exited (${code ?? signal}) before it was ready: ${this.stderr}`)))
    })
  }

  deliver (message) {
    if (this.child !== null && this.child.connected) this.child.send(message, () => {})
  }

  request (type, body = {}) {
    if (this.child === null || !this.child.connected) {
      return Promise.reject(Object.assign(new Error(`${this.id} is down`), { code: 'FLOTILLA_TEST_EXITED' }))
    }
    const rid = this.nextRequest++
    return new Promise((resolve, reject) => {
      this.requests.set(rid, { resolve, reject })
      this.child.send({ type, rid, ...body }, () => {})
    })
  }

  async close () {
    const child = this.child
    if (child === null) return
    await this.request('close').catch(() => {})
    const exited = await Promise.race([child.exited, deadline(5000)])
    if (exited === null) {
      this.stuck = true
      child.kill('SIGKILL')
      await child.exited
    }
  }
}

class Processes {
  constructor (t, root) {
    this.root = root
    this.byId = new Map()
    t.after(() => Promise.all([...this.byId.values()].map((node) => node.close())))
  }

  add (options) {
    const node = new NodeProcess(this, { ...options, dataDir: path.join(this.root, options.id) })
    this.byId.set(node.id, node)
    return node
  }

  get (id) { return this.byId.get(id) }

  // A message a child sent: to its target, when it runs (a lost message is sent again by Raft).
  relay ({ to, method, plain }) {
    const target = this.byId.get(to)
    if (target !== undefined) target.deliver({ type: 'deliver', method, plain })
  }

  leaderNow (ids) {
    let leader = null
    for (const id of ids) {
      const node = this.get(id)
      if (node.alive && node.status !== null && node.status.state === 'LEADER' && (leader === null || node.status.term > leader.status.term)) leader = node
    }
    return leader
  }

  leader (ids) {
    return until(() => this.leaderNow(ids), () => `a leader among ${ids.join(', ')}: ${ids.map((id) => `${id} ${JSON.stringify(this.get(id).status)}`).join(', ')}`)
  }

  // Asks the leader of `ids` for `change`, again of the next leader when a leader change lost it.
  async change (ids, target) {
    for (let attempt = 1; ; attempt++) {
      const leader = await this.leader(ids)
      try {
        return await leader.request('change', { target })
      } catch (error) {
        if (attempt === 20 || ![...RETRIED_CHANGE_ERRORS, 'FLOTILLA_TEST_EXITED'].includes(error.code)) throw error
        await sleep(TIMING.REPLICATE_T)
      }
    }
  }
}

test('SIGKILL inside a joint configuration, restart on the same dataDir: the change completes, nothing acknowledged is lost', { timeout: 60_000 }, async (t) => {
  const root = tempDir(t, 'joint-kill')
  const nodes = new Processes(t, root)
  const first = ['a', 'b', 'c']
  const incoming = ['d', 'e']
  const all = [...first, ...incoming]
  for (const id of first) nodes.add({ id, members: first, others: incoming })
  for (const id of incoming) nodes.add({ id, join: true, others: all.filter((other) => other !== id) })
  await Promise.all(all.map((id) => nodes.get(id).start()))

  let members = first
  const writes = writer(async (payload, options) => {
    const leader = nodes.leaderNow(members)
    return leader === null ? null : leader.request('broadcast', { payload, options })
  }, 'joint-')
  t.after(() => writes.stop())
  await writes.more(5)
  await nodes.change(first, { voters: first, learners: incoming })
  members = all
  await until(async () => {
    const leader = nodes.leaderNow(first)
    if (leader === null) return false
    const { progress } = await leader.request('members')
    return incoming.every((id) => progress && progress[id] && progress[id].caughtUp)
  }, 'the learners to catch up')
  await writes.more(5)

  // The leader swaps the other two voters for the learners, and kills itself once it is in the joint configuration.
  const victim = await nodes.leader(first)
  const target = [victim.id, ...incoming]
  await victim.request('arm')
  const ackedBeforeKill = writes.acked.size
  const change = victim.request('change', { target: { voters: target } })
  const exit = await Promise.race([victim.child.exited, deadline(STEP_MS)])
  const outcome = await change.then((value) => ({ value }), (error) => ({ error }))
  assert.notEqual(exit, null, `the leader was not killed: the change settled with ${JSON.stringify(outcome)}`)
  assert.equal(exit.signal, 'SIGKILL', `the leader exited (${exit.code}): ${victim.stderr}`)
  assert.equal(outcome.error && outcome.error.code, 'FLOTILLA_TEST_EXITED', 'the change was not acknowledged before the kill')
  const jointFile = path.join(root, `${victim.id}.joint.json`)
  assert.ok(existsSync(jointFile), 'the leader saw the joint configuration before it died')
  const joint = JSON.parse(readFileSync(jointFile, 'utf8'))
  assert.deepEqual({ voters: sorted(joint.voters), outgoing: sorted(joint.outgoing) }, { voters: sorted(target), outgoing: first },
    'killed inside the joint configuration: the new voters and the old')

  // The rest (both halves of the joint configuration) elect a leader, which leaves the joint configuration.
  await nodes.leader(all.filter((id) => id !== victim.id))
  await writes.more(3)
  await victim.start()
  members = target
  await until(async () => {
    const leader = nodes.leaderNow(all)
    if (leader === null) return false
    const inForce = await leader.request('members').catch(() => null)
    return inForce !== null && sorted(inForce.voters).join() === sorted(target).join() && inForce.outgoing.length === 0 &&
      inForce.learners.length === 0
  }, 'the change to complete on a leader')
  await writes.more(5)
  await writes.stop()
  assert.ok(ackedBeforeKill >= 10 && writes.acked.size >= ackedBeforeKill + 8, `acknowledged ${ackedBeforeKill} before the kill, ${writes.acked.size} in all`)

  // Every final member: the change in force, the removed members' Peers forgotten, one log.
  const leader = await nodes.leader(target)
  const last = await leader.request('broadcast', { payload: { last: true }, options: { requestId: 'joint-last', timeout: STEP_MS } })
  const logs = await until(async () => {
    const answers = await Promise.all(target.map((id) => nodes.get(id).request('log').catch(() => null)))
    const settled = answers.every((answer) => answer !== null && answer.log.length === last + 1 && answer.commitLength === answers[0].commitLength &&
      sorted(answer.members.voters).join() === sorted(target).join() && answer.members.outgoing.length === 0)
    return settled && answers
  }, 'every final member to hold the change and the whole log')
  for (const [i, id] of target.entries()) {
    assert.deepEqual(logs[i].peers, target.filter((other) => other !== id).sort(), `${id} holds the Peers of the members only`)
  }
  assertOneLog(new Map(target.map((id, i) => [id, logs[i].log])), writes.acked)
  for (const id of all) if (id !== victim.id) assert.deepEqual(nodes.get(id).exits, [], `${id} ran throughout`)
  await Promise.all(all.map((id) => nodes.get(id).close()))
  for (const id of all) assert.deepEqual(nodes.get(id).exits.at(-1), { code: 0, signal: null }, `${id} exited once closed`)
})
