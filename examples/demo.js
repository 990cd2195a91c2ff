// `npm start`: a 3-node flotilla cluster in one process on the memory channel. It shows the election, appends
// committing on every node, the leader closed, a new leader elected and the appends continuing.
'use strict'

const gaggle = require('..')

const ids = ['alpha', 'bravo', 'charlie']
const started = Date.now()
const clock = () => `${String(Date.now() - started).padStart(5)} ms`
const say = (text) => console.log(`${clock()}  ${text}`)

function startNode (id) {
  const node = gaggle({
    id,
    channel: { name: 'memory', namespace: 'demo' },
    clusterSize: ids.length,
    electionTimeout: { min: 150, max: 300 },
    heartbeatInterval: 30
  })
  node.on('leaderElected', () => {
    if (node.isLeader()) say(`${id} is the leader of term ${node._currentTerm}`)
  })
  node.on('committed', (entry, index) => {
    say(`${id.padEnd(8)} committed #${index}: ${JSON.stringify(entry.data)}`)
  })
  return node
}

function waitForLeader (nodes) {
  return new Promise((resolve) => {
    const check = () => {
      const leader = nodes.find((node) => node.isLeader())
      if (leader) resolve(leader)
      else setTimeout(check, 10)
    }
    check()
  })
}

async function main () {
  say(`starting ${ids.join(', ')} (a cluster of ${ids.length}: any 2 make a majority)`)
  let nodes = ids.map(startNode)
  const leader = await waitForLeader(nodes)

  const follower = nodes.find((node) => !node.isLeader())
  say(`${leader.id} appends; ${follower.id} appends too (a follower forwards to the leader)`)
  await leader.append({ order: 1, from: leader.id })
  await follower.append({ order: 2, from: follower.id })

  say(`closing the leader, ${leader.id}`)
  await leader.close()
  nodes = nodes.filter((node) => node !== leader)

  const next = await waitForLeader(nodes)
  say(`${nodes.length} of ${ids.length} nodes left: still a majority, so the cluster goes on`)
  await next.append({ order: 3, from: next.id })
  const other = nodes.find((node) => node !== next)
  await other.append({ order: 4, from: other.id })

  for (const node of nodes) {
    say(`${node.id} holds ${node.getLog().length} entries, commit index ${node.getCommitIndex()}`)
  }
  await Promise.all(nodes.map((node) => node.close()))
  say('all nodes closed; the process exits on its own')
}

main().catch((error) => {
  console.error(error)
  process.exitCode = 1
})
