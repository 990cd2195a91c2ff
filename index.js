// flotilla's entry point: gaggle's factory (a drop-in for `require('gaggle')`), with the constructor, the
// channels and the channel base class beside it. The brig face is `require('flotilla/brig')`.
'use strict'

const gaggle = require('./lib/gaggle/factory')

gaggle.Gaggle = require('./lib/gaggle/gaggle')
gaggle.ChannelInterface = require('./lib/channels/channel-interface')
Object.defineProperty(gaggle, 'channels', { enumerable: true, get: () => require('./lib/channels') })

module.exports = gaggle
