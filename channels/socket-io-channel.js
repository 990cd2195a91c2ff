// gaggle's deep import `gaggle/channels/socket-io-channel`.
'use strict'

module.exports = require('../lib/channels/socket.io')
