// gaggle's deep import `gaggle/channels/in-memory-channel`.
'use strict'

module.exports = require('../lib/channels/memory')
