// `flotilla members ADDR [add|promote|remove|set ...]`: the configuration, and changes to it.
'use strict'

const { EXIT, CliError } = require('./cli-error')
const { clusterOptions, clusterHelp, withClient, checkArguments } = require('./cluster-options')
const { memberRows } = require('./status')
const { output } = require('./output')

const help = `Usage: flotilla members ADDR [ACTION] [options]

Without ACTION, lists the members (voters, learners, a joint change's outgoing voters) and their addresses.
ACTION changes the membership through the leader and returns once the change has committed:
  add ID [--address HOST:PORT] [--learner]   add the node ID (started with --join) as a learner, then promote
                                             it once it has caught up (not with --learner); its address is the
                                             one it dialed the cluster from, unless given
  promote ID                                 make the learner ID a voter (refused while it is far behind)
  remove ID                                  remove the member ID
  set --voters A,B,C [--learners D,E]        move to exactly this configuration (a joint change if needed)

  --address HOST:PORT   the new member's address (add)
  --learner             keep the new member a learner (add)
  --voters IDS          comma-separated (set)
  --learners IDS        comma-separated (set)
${clusterHelp}
  -h, --help            show this help

Exit status: 0 done, 1 the cluster refused the change (the message says why), 2 usage error, 4 no leader
answered.
`

const options = {
  ...clusterOptions,
  address: { type: 'string' },
  learner: { type: 'boolean' },
  voters: { type: 'string' },
  learners: { type: 'string' }
}

const list = (text) => text === undefined || text === '' ? [] : text.split(',')

async function change (client, action, id, values) {
  switch (action) {
    case 'add': {
      const addOptions = { learner: values.learner === true }
      if (values.address !== undefined) addOptions.address = values.address
      return client.addMember(id, addOptions)
    }
    case 'promote': return client.promoteMember(id)
    case 'remove': return client.removeMember(id)
    case 'set':
      if (values.voters === undefined) throw new CliError('set needs --voters')
      return client.changeMembership({ voters: list(values.voters), learners: list(values.learners) })
  }
}

async function run ({ values, positionals }, io) {
  checkArguments(positionals, 3, 'flotilla members ADDR [ACTION [ID]]')
  const [address, action, id] = positionals
  if (action !== undefined && !['add', 'promote', 'remove', 'set'].includes(action)) {
    throw new CliError(`unknown action '${action}': add, promote, remove or set`)
  }
  if (['add', 'promote', 'remove'].includes(action) && id === undefined) throw new CliError(`${action} needs a member id`)
  return withClient(address, values, async (client) => {
    if (action !== undefined) await change(client, action, id, values)
    const members = await client.members()
    const text = values.json
      ? JSON.stringify(members, null, 2)
      : memberRows(members).map((member) => `${member.id.padEnd(12)} ${member.role.padEnd(16)} ${members.addresses[member.id] ?? 'address unknown'}`).join('\n')
    await output(io.stdout).write(text + '\n')
    return EXIT.OK
  })
}

module.exports = { name: 'members', summary: 'list the members, or add, promote, remove or set them', help, options, run }
