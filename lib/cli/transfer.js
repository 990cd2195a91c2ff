// `flotilla transfer ADDR ID`: hands the leadership to the member ID.
'use strict'

const { EXIT, CliError } = require('./cli-error')
const { clusterOptions, clusterHelp, withClient, checkArguments } = require('./cluster-options')
const { output } = require('./output')

const help = `Usage: flotilla transfer ADDR ID [options]

Asks the leader to hand its leadership to the voter ID (it catches ID up, then ID campaigns at once), and
waits until ID leads.

${clusterHelp}
  -h, --help            show this help

Exit status: 0 ID leads, 1 refused (ID is not a voter, or already leads) or ID did not take over in time,
2 usage error, 4 no leader answered.
`

async function run ({ values, positionals }, io) {
  checkArguments(positionals, 2, 'flotilla transfer ADDR ID')
  const [address, id] = positionals
  if (id === undefined) throw new CliError('give the id of the member to hand the leadership to')
  return withClient(address, values, async (client) => {
    await client.transferLeadership(id)
    const deadline = Date.now() + 10000
    for (;;) {
      const leader = await client.status({ leader: true })
      if (leader.id === id) break
      if (Date.now() > deadline) throw new CliError(`${id} did not take over the leadership (${leader.id} leads)`, EXIT.REFUSED)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    await output(io.stdout).write(values.json ? JSON.stringify({ leader: id }) + '\n' : `${id} leads\n`)
    return EXIT.OK
  })
}

module.exports = { name: 'transfer', summary: 'hand the leadership to a member', help, options: clusterOptions, run }
