// `flotilla read ADDR`: a linearizable read index from the leader.
'use strict'

const { EXIT } = require('./cli-error')
const { clusterOptions, clusterHelp, withClient, checkArguments } = require('./cluster-options')
const { output } = require('./output')

const help = `Usage: flotilla read ADDR [options]

Asks the leader for a linearizable read index (it confirms its leadership with a majority first) and prints it:
every entry acknowledged before the call is at or below it (0-based, as gaggle's; -1 for an empty log).

${clusterHelp}
  -h, --help            show this help

Exit status: 0 done, 2 usage error, 4 no leader could confirm a read in time.
`

async function run ({ values, positionals }, io) {
  checkArguments(positionals, 1, 'flotilla read ADDR')
  return withClient(positionals[0], values, async (client) => {
    const index = await client.read()
    await output(io.stdout).write(values.json ? JSON.stringify({ index }) + '\n' : `${index}\n`)
    return EXIT.OK
  })
}

module.exports = { name: 'read', summary: 'a linearizable read index', help, options: clusterOptions, run }
