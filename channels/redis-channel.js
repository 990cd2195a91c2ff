// gaggle's deep import `gaggle/channels/redis-channel`.
'use strict'

module.exports = require('../lib/channels/redis')
