// A brig user's saved LogState (`LogState.deserialize(cluster.state.serialize())`, or one built by hand) as the
// engine's `savedState` option: the term, the vote and the log entries, which the node starts from as if it had
// restarted from its own disk. brig's commitLength, sentLength and ackedLength are not taken over: Raft finds
// the commit point again (a majority holds every committed entry) and the leader learns its followers' logs.
'use strict'

const { invalidArgument } = require('../engine/errors')

function invalid (what) {
  return invalidArgument('flotilla/brig: the saved state cannot seed this node: ' + what, TypeError)
}

// -> {term, votedFor, entries: [{term, dataJson}]}; throws a TypeError naming what is wrong. The engine checks the
// rest (terms in order and within currentTerm, the vote for a member, sizes) when the node starts.
function savedStateOf (state) {
  const term = state.currentTerm
  if (!Number.isSafeInteger(term) || term < 0) throw invalid('currentTerm must be a whole number, at least 0')
  const votedFor = state.votedFor
  if (votedFor !== null && (typeof votedFor !== 'string' || votedFor === '')) {
    throw invalid('votedFor must be a member id or null')
  }
  const entries = state.log.entries.map((entry, position) => {
    if (entry === null || typeof entry !== 'object' || !Number.isSafeInteger(entry.term) || entry.term < 1) {
      throw invalid('log entry ' + position + ' needs a term that is a whole number, at least 1')
    }
    return { term: entry.term, dataJson: JSON.stringify(entry.data === undefined ? null : entry.data) }
  })
  return { term, votedFor, entries }
}

module.exports = { savedStateOf }
