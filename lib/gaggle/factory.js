// gaggle's factory: `gaggle({id, channel: {name, ...channelOptions}, clusterSize, ...})` builds the named
// channel, then the node, checking options in gaggle's order (factory, channel, instance).
'use strict'

const Gaggle = require('./gaggle')
const channels = require('../channels')
const { validateFactoryOptions } = require('./options')

function gaggle (opts) {
  const { options, channelName, channelOptions } = validateFactoryOptions(opts)
  const channel = new channels[channelName]({ id: options.id, channelOptions })
  return new Gaggle({ ...options, channel })
}

gaggle.enhanceServerForSocketIOChannel = function enhanceServerForSocketIOChannel (server) {
  return require('../channels/socket-io-server')(server)
}
gaggle._STATES = Gaggle._STATES
gaggle._RPC_TYPE = Gaggle._RPC_TYPE

module.exports = gaggle
