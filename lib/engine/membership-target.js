// The argument of a whole-configuration membership change (`changeMembership({voters, learners})` on both faces,
// and the same change forwarded from another node, so it is checked again where it arrives): the names of the
// voters and learners the cluster should have, each a non-empty string of at most MAX_NAME_BYTES bytes, no name
// twice, at most MAX_MEMBERS in all.
'use strict'

const { MAX_MEMBERS, MAX_NAME_BYTES } = require('../native')
const { invalidArgument } = require('./errors')

function isName (name) {
  return typeof name === 'string' && name !== '' && Buffer.byteLength(name) <= MAX_NAME_BYTES
}

/** `{voters, learners}` as two fresh arrays of names; throws a FLOTILLA_INVALID_ARGUMENT TypeError otherwise. */
function membershipTarget (target, prefix) {
  const wrong = (why) => invalidArgument(`${prefix}: the membership must be {voters: string[], learners?: string[]}: ${why}`, TypeError)
  if (target === null || typeof target !== 'object' || Array.isArray(target)) throw wrong('not an object')
  const { voters, learners = [] } = target
  if (!Array.isArray(voters) || !Array.isArray(learners)) throw wrong('voters and learners must be arrays')
  if (voters.length + learners.length > MAX_MEMBERS) throw wrong(`more than ${MAX_MEMBERS} members`)
  const seen = new Set()
  for (const name of [...voters, ...learners]) {
    if (!isName(name)) throw wrong(`a name must be a non-empty string of at most ${MAX_NAME_BYTES} bytes`)
    if (seen.has(name)) throw wrong(`${JSON.stringify(name)} is named twice`)
    seen.add(name)
  }
  if (voters.length === 0) throw wrong('a cluster needs at least one voter')
  return { voters: voters.slice(), learners: learners.slice() }
}

module.exports = { membershipTarget }
