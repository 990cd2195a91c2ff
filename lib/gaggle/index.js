// The gaggle constructor, at the deep path gaggle had (`gaggle/lib/gaggle`): `new Gaggle({..., channel})` with
// a channel instance, the way to use a custom channel.
'use strict'

module.exports = require('./gaggle')
