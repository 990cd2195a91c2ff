#!/usr/bin/env node
// The `flotilla` command (package.json "bin"): the commands live in lib/cli. The exit status is set, not forced,
// so that output still queued for a pipe is written before the process ends.
'use strict'

const { main } = require('../lib/cli')

main(process.argv.slice(2)).then((status) => {
  process.exitCode = status
})
