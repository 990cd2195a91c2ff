// `require('flotilla/client')`: the client of a cluster run as a service (see lib/client).
'use strict'

module.exports = require('./lib/client')
