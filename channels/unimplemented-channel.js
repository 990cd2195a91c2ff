// gaggle's deep import `gaggle/channels/unimplemented-channel`: a channel that implements nothing, which gaggle's
// tests use to check that the base class refuses to run without an implementation.
'use strict'

const ChannelInterface = require('../lib/channels/channel-interface')

class UnimplementedChannel extends ChannelInterface {}

module.exports = UnimplementedChannel
