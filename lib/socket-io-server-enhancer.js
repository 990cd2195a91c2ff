// gaggle's deep import `gaggle/lib/socket-io-server-enhancer`: prepares an HTTP server for socket.io channels.
'use strict'

module.exports = require('./channels/socket-io-server')
