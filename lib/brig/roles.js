// brig's roles: the three Symbols a node's `currentRole` takes and `RoleChanged` carries, with brig's exact
// descriptions, so code that compares against `roles.Leader` or prints `role.description` keeps working.
'use strict'

module.exports.Follower = Symbol('brig/roles~Follower')
module.exports.Candidate = Symbol('brig/roles~Candidate')
module.exports.Leader = Symbol('brig/roles~Leader')
