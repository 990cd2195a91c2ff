// `require('flotilla/brig')`: the brig 1.0 API on the flotilla engine (see lib/brig).
'use strict'

module.exports = require('./lib/brig')
