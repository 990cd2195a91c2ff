// The etcd client of bench/network.mjs in its own process, driven by the parent over IPC: puts through the npm
// package etcd3 (gRPC), measured here as network-node.cjs measures flotilla's appends. The etcd members themselves
// are processes of the parent (it starts and kills them). The client's own retries and circuit breakers are off
// (cockatiel's no-op policies), so that a put is one request and a failure shows at once.
//   leader {urls}                                     which member leads: the client URL whose member id is the
//                                                     leader its member reports (null while there is none)
//   seq {url, seconds, warmUpMs}                      sequential puts, one at a time, through a client of `url`
//   inflight {url, seconds, warmUpMs, inFlight, burst} `inFlight` puts outstanding, topped up as they complete
//   probe {urls, killPid}                             kills the leader member (SIGKILL to killPid), then puts to each
//                                                     of `urls` (250 ms deadline, again and again) until one
//                                                     succeeds: reports the kill's and the put's wall-clock times
'use strict'

const path = require('node:path')
const { performance } = require('node:perf_hooks')
const { Etcd3 } = require('etcd3')
// cockatiel is etcd3's own dependency: found from etcd3's directory, wherever npm put it.
const { noop } = require(require.resolve('cockatiel', { paths: [path.dirname(require.resolve('etcd3'))] }))

const now = () => performance.timeOrigin + performance.now()
// 64-byte values; keys cycle over 1,000 names.
const value = (i) => `${i}:`.padEnd(64, 'x')
const key = (i) => `bench/${i % 1000}`
const PUT_DEADLINE_MS = 30_000

const clients = new Map()
function client (url) {
  let c = clients.get(url)
  if (c === undefined) {
    c = new Etcd3({ hosts: url, dialTimeout: 2000, faultHandling: { host: () => noop, global: noop } })
    clients.set(url, c)
  }
  return c
}

function send (message) {
  return new Promise((resolve) => {
    if (!process.connected) return resolve()
    process.send(message, () => resolve())
  })
}

const put = (c, i, deadlineMs) => c.put(key(i)).value(value(i)).options({ deadline: Date.now() + deadlineMs })

let counter = 0
let failures = 0
let firstFailure = null
const failed = (error) => {
  failures++
  if (firstFailure === null) firstFailure = error.message
}

async function sequential (c, until) {
  let done = 0
  while (performance.now() < until) {
    try {
      await put(c, counter++, PUT_DEADLINE_MS)
      done++
    } catch (error) {
      failed(error)
    }
  }
  return done
}

function concurrent (c, until, inFlight, burst) {
  return new Promise((resolve) => {
    let proposed = 0
    let settled = 0
    let committed = 0
    let finished = false
    let scheduled = false
    const topUp = () => {
      scheduled = false
      if (finished) return
      if (performance.now() >= until) {
        if (settled === proposed) {
          finished = true
          resolve(committed)
        }
        return
      }
      let issued = 0
      while (proposed - settled < inFlight && issued++ < burst) {
        proposed++
        put(c, counter++, PUT_DEADLINE_MS).then(() => { committed++; settle() }, (error) => { failed(error); settle() })
      }
      if (proposed - settled < inFlight) schedule()
    }
    const schedule = () => {
      if (scheduled) return
      scheduled = true
      setImmediate(topUp)
    }
    const settle = () => {
      settled++
      if (settled === proposed) topUp()
      else schedule()
    }
    topUp()
  })
}

async function measure (body, seconds, warmUpMs) {
  if (warmUpMs > 0) await body(performance.now() + warmUpMs)
  failures = 0
  firstFailure = null
  const start = performance.now()
  const count = await body(start + seconds * 1000)
  const ms = performance.now() - start
  return { count, ms, perSecond: count / (ms / 1000), failures, firstFailure }
}

async function leaderOf (urls) {
  const answers = await Promise.all(urls.map((url) =>
    client(url).maintenance.status({ deadline: Date.now() + 1000 }).then((status) => ({ url, status }), () => null)))
  const known = answers.filter((answer) => answer !== null)
  const leaderIds = new Set(known.map(({ status }) => status.leader))
  // Every member answered and names the same leader, which is one of them.
  if (known.length !== urls.length || leaderIds.size !== 1) return null
  const found = known.find(({ status }) => status.header.member_id === status.leader)
  return found ? found.url : null
}

let probing = false
function probe (urls, killPid) {
  const from = now()
  process.kill(killPid, 'SIGKILL')
  probing = true
  for (const url of urls) {
    const c = client(url)
    ;(async () => {
      while (probing) {
        try {
          await put(c, counter++, 250)
          if (!probing) return
          const at = now()
          probing = false
          await send({ type: 'putCommitted', url, from, at })
          return
        } catch {
          await new Promise((resolve) => setTimeout(resolve, 1))
        }
      }
    })()
  }
}

process.on('message', async (message) => {
  const reply = (fields) => send({ rid: message.rid, ...fields })
  try {
    switch (message.type) {
      case 'leader':
        return reply({ url: await leaderOf(message.urls) })
      case 'seq':
        return reply({ result: await measure((until) => sequential(client(message.url), until), message.seconds, message.warmUpMs) })
      case 'inflight':
        return reply({ result: await measure((until) => concurrent(client(message.url), until, message.inFlight, message.burst), message.seconds, message.warmUpMs) })
      case 'probe':
        probe(message.urls, message.killPid)
        return reply({})
      case 'forget':
        // Drops the clients (a new cluster's members come on new ports).
        probing = false
        for (const c of clients.values()) c.close()
        clients.clear()
        return reply({})
    }
  } catch (error) {
    return reply({ error: error.message })
  }
})

process.on('disconnect', () => {
  probing = false
  for (const c of clients.values()) c.close()
  setTimeout(() => process.exit(0), 1000).unref()
})

send({ type: 'ready' })
