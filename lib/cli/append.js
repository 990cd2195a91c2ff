// `flotilla append ADDR JSON`: appends an entry through the leader and prints its index once committed.
'use strict'

const { EXIT, CliError } = require('./cli-error')
const { clusterOptions, clusterHelp, withClient, parseJsonArgument, checkArguments } = require('./cluster-options')
const { output } = require('./output')

const help = `Usage: flotilla append ADDR JSON [options]

Appends JSON (the entry's data) to the log through the leader, and prints the entry's index (0-based, as
gaggle's) once it has committed.

  --request-id ID       the request's id: retried with the same id, the entry commits once
${clusterHelp}
  -h, --help            show this help

Exit status: 0 committed, 1 refused or outcome unknown (the message gives the code), 2 usage error, 4 no leader
answered.
`

const options = { ...clusterOptions, 'request-id': { type: 'string' } }

async function run ({ values, positionals }, io) {
  checkArguments(positionals, 2, 'flotilla append ADDR JSON')
  const [address, json] = positionals
  if (json === undefined) throw new CliError('give the entry as JSON')
  const data = parseJsonArgument(json, 'the entry')
  return withClient(address, values, async (client) => {
    const appendOptions = values['request-id'] === undefined ? {} : { requestId: values['request-id'] }
    const index = await client.append(data, appendOptions)
    await output(io.stdout).write(values.json ? JSON.stringify({ index }) + '\n' : `${index}\n`)
    return EXIT.OK
  })
}

module.exports = { name: 'append', summary: 'append an entry and print its index once committed', help, options, run }
