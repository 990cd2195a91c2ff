// brig's event names: Symbols with brig's exact descriptions. See consensus.js for when each is emitted on the
// flotilla engine (the timer events mark what the engine's own clock did; the message events carry the brig
// message received through the protocol mapping).
'use strict'

const NAMES = [
  'ElectionTimeout',
  'ReplicationTimeout',
  'VoteRequest',
  'VoteResponse',
  'LogRequest',
  'LogResponse',
  'Broadcast',
  'LogCommit',
  'RoleChanged',
  'LeaderChanged',
  'MessageQueued',
  'Debug'
]

for (const name of NAMES) module.exports[name] = Symbol('brig/events~' + name)
