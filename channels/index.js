// gaggle's deep import `gaggle/channels`: the map of channel classes.
'use strict'

module.exports = require('../lib/channels')
