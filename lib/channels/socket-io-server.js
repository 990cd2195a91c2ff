// Turns an HTTP server into the relay that socket.io channels talk through: every 'msg' a client sends is
// emitted to every client of the same channel, sender included. Returns teardown([callback]).
'use strict'

const { Server } = require('socket.io')

// The largest message the relay takes: socket.io 4's default (1 MB) is below the engine's message limit (1 MiB of
// entries, more as JSON, and snapshot chunks in base64), and a larger message would close the sender's connection
// every time it was sent again. 100 MB is what gaggle's socket.io 1.x took.
const MAX_MESSAGE_BYTES = 1e8

function enhanceServerForSocketIOChannel (httpServer) {
  const io = new Server(httpServer, { serveClient: false, maxHttpBufferSize: MAX_MESSAGE_BYTES })

  io.on('connection', (socket) => {
    let channel = null
    const join = (name) => {
      if (typeof name !== 'string' || name === channel) return
      if (channel !== null) socket.leave(channel)
      channel = name
      socket.join(name)
    }

    join(socket.handshake.auth.channel)
    socket.on('declareChannel', join)
    socket.on('msg', (message) => {
      // A client that never named its channel is asked to, as gaggle's client expects.
      if (channel === null) socket.emit('unknownChannel')
      else io.to(channel).emit('msg', message)
    })
  })

  // Like gaggle's, this disconnects every client and closes the HTTP server at once, so that the port is free
  // when teardown returns (socket.io 4's io.close() stops listening only a few ticks later: EADDRINUSE for a
  // listen right after it). The callback comes once the last connection has closed.
  return function teardown (callback) {
    io.disconnectSockets(true)
    io.engine.close()
    httpServer.close((error) => {
      if (typeof callback === 'function') callback(error)
    })
  }
}

module.exports = enhanceServerForSocketIOChannel
