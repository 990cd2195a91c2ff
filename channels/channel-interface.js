// gaggle's deep import `gaggle/channels/channel-interface`: the base class for custom channels.
'use strict'

module.exports = require('../lib/channels/channel-interface')
