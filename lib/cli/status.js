// `flotilla status ADDR`: one node's role, term, leader and indices, and the members with their progress as the
// leader sees it.
'use strict'

const { EXIT } = require('./cli-error')
const { clusterOptions, clusterHelp, withClient, checkArguments } = require('./cluster-options')
const { output } = require('./output')

const help = `Usage: flotilla status ADDR [options]

Shows the node at ADDR (host:port; several, comma-separated: the first that answers): its role, term, leader,
log indices and snapshot, then the members and how far each has replicated, as the leader sees it.

${clusterHelp}
  -h, --help            show this help

Exit status: 0 done, 2 usage error, 4 no node answered.
`

function describe (view, members, leaderView) {
  const status = view.status
  const lines = []
  if (status === null) return [`node ${view.id}: still reading its log`]
  const leader = status.leader === null ? 'none known' : status.leader
  lines.push(`node ${view.id} at ${view.addresses[view.id]}: ${status.state}, term ${status.term}, leader ${leader}`)
  lines.push(`  log: first ${status.raftFirstIndex}, last ${status.raftLastIndex}, commit ${status.raftCommitIndex}, applied ${status.raftAppliedIndex} (gaggle's commit index ${status.commitIndex})`)
  if (status.snapshot) lines.push(`  snapshot: ${JSON.stringify(status.snapshot)}`)
  if (members === null) {
    lines.push('members: unknown (no leader answered)')
    return lines
  }
  const lastIndex = leaderView !== null && leaderView.status !== null ? leaderView.status.raftLastIndex : null
  lines.push(`members (as leader ${leaderView === null ? '?' : leaderView.id} sees them):`)
  for (const member of memberRows(members)) {
    const progress = members.progress ? members.progress[member.id] : undefined
    const isLeader = leaderView !== null && member.id === leaderView.id
    const lag = isLeader ? ', leader' : progress && lastIndex !== null ? `, match ${progress.matchIndex}, lag ${lastIndex - progress.matchIndex}` : ''
    if (member.id === null) {
      lines.push(`  ${'(not heard)'.padEnd(12)} ${member.role.padEnd(16)} its name is not known to the leader yet`)
      continue
    }
    const address = members.addresses[member.id] ?? 'address unknown'
    lines.push(`  ${member.id.padEnd(12)} ${member.role.padEnd(16)} ${address}${lag}`)
  }
  return lines
}

/** Every member once, with its role in the configuration; each seat whose member is not heard yet (null). */
function memberRows (members) {
  const rows = new Map()
  const unheard = []
  for (const id of members.voters) {
    if (id === null) unheard.push({ id, role: 'voter' })
    else rows.set(id, { id, role: 'voter' })
  }
  for (const id of members.outgoing) if (id !== null && !rows.has(id)) rows.set(id, { id, role: 'outgoing voter' })
  for (const id of members.learners) if (id !== null) rows.set(id, { id, role: 'learner' })
  return [...rows.values(), ...unheard]
}

async function run ({ values, positionals }, io) {
  checkArguments(positionals, 1, 'flotilla status ADDR')
  return withClient(positionals[0], values, async (client) => {
    const view = await client.status()
    let members = null
    let leaderView = null
    try {
      leaderView = view.status !== null && view.status.state === 'LEADER' ? view : await client.status({ leader: true })
      members = await client.members()
    } catch {
      // No leader now (an election, a lost quorum): the node's own status still says something.
    }
    const text = values.json
      ? JSON.stringify({ node: view, leader: leaderView, members }, null, 2)
      : describe(view, members, leaderView).join('\n')
    await output(io.stdout).write(text + '\n')
    return EXIT.OK
  })
}

module.exports = { name: 'status', summary: "a node's role, term, leader, indices, and the members' progress", help, options: clusterOptions, run, memberRows }
