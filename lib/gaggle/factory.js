// gaggle's factory: `gaggle({id, channel: {name, ...channelOptions}, clusterSize, ...})` builds the named
// channel, then the node, checking options in gaggle's order (factory, channel, instance).
'use strict'

const Gaggle = require('./gaggle')
const channels = require('../channels')
// flotilla's own channels beside gaggle's (whose list stays gaggle's: callers import it): the native transport.
const nativeChannels = {
  get tcp () {
    return require('../channels/tcp')
  }
}
const { validateFactoryOptions } = require('./options')

function gaggle (opts) {
  const { options, channelName, channelOptions } = validateFactoryOptions(opts)
  const Channel = Object.hasOwn(channels, channelName) ? channels[channelName] : nativeChannels[channelName]
  const channel = new Channel({ id: options.id, channelOptions })
  return new Gaggle({ ...options, channel })
}

gaggle.enhanceServerForSocketIOChannel = function enhanceServerForSocketIOChannel (server) {
  return require('../channels/socket-io-server')(server)
}
gaggle._STATES = Gaggle._STATES
gaggle._RPC_TYPE = Gaggle._RPC_TYPE

module.exports = gaggle
