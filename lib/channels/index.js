// The channels a cluster can be built on, by the names gaggle's factory accepts, in gaggle's order (its
// validation message lists them). redis and socket.io load on first use: requiring redis alone takes ~100 ms.
'use strict'

module.exports = {
  memory: require('./memory'),
  get 'socket.io' () {
    return require('./socket.io')
  },
  get redis () {
    return require('./redis')
  },
}
