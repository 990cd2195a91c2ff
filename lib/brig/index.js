// The brig 1.0 face on the flotilla engine: `require('flotilla/brig')` gives brig's module shape,
// `{events, consensus, messages, roles, log}`, so code written for `@yipsec/brig` runs unchanged on flotilla's
// engine. consensus.js joins the pieces; wire.js says how the engine's messages travel as brig's.
'use strict'

module.exports = {
  events: require('./events'),
  consensus: require('./consensus'),
  messages: require('./messages'),
  roles: require('./roles'),
  log: require('./log')
}
