// Loads the native addon built by scripts/build-native.js, with an error that says how to build it.
'use strict'

const path = require('node:path')

const addonPath = path.join(__dirname, '..', 'flotilla.node')

function load () {
  try {
    return require(addonPath)
  } catch (cause) {
    const error = new Error(
      'flotilla: the native addon could not be loaded from ' + addonPath +
      ' (run `npm run build`, which needs cargo): ' + cause.message
    )
    error.cause = cause
    throw error
  }
}

module.exports = load()
