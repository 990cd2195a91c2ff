// The `flotilla` command line: finds the command, parses its arguments (node:util parseArgs), runs it and
// returns the exit status. Expected failures (bad arguments, a path that is not a data directory) are one line
// on stderr, never a stack trace; only a failure of flotilla itself shows one, to be reported.
'use strict'

const { parseArgs } = require('node:util')
const { EXIT, CliError } = require('./cli-error')

const COMMANDS = [
  require('./serve'),
  require('./status'),
  require('./members'),
  require('./transfer'),
  require('./append'),
  require('./tail'),
  require('./read'),
  require('./client-key'),
  require('./inspect'),
  require('./verify')
]

function commandList () {
  const width = Math.max(...COMMANDS.map((command) => command.name.length)) + 2
  return [
    'Commands:',
    ...COMMANDS.map((command) => `  ${command.name.padEnd(width)}${command.summary}`)
  ].join('\n')
}

function mainHelp () {
  return `Usage: flotilla COMMAND [options]

The flotilla command line: run a node of a replicated log service, see and change a running cluster (ADDR is
a node's host:port), and look into a node's data directory offline.

${commandList()}

Run 'flotilla COMMAND --help' for a command's options.
Exit status: 0 done (and sound), 1 damaged or refused by the cluster, 2 usage error, 3 an internal error of
flotilla, 4 no node of the cluster answered.
`
}

function version () {
  return require('../../package.json').version
}

// Runs `flotilla` with the arguments `argv` (without node and the script); resolves to the exit status.
async function main (argv, io = { stdout: process.stdout, stderr: process.stderr }) {
  const [name, ...rest] = argv
  if (name === undefined) {
    io.stderr.write(mainHelp())
    return EXIT.USAGE
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    const topic = name === 'help' && rest.length > 0 ? COMMANDS.find((command) => command.name === rest[0]) : null
    io.stdout.write(topic ? topic.help : mainHelp())
    return EXIT.OK
  }
  if (name === '--version' || name === '-v') {
    io.stdout.write(version() + '\n')
    return EXIT.OK
  }
  const command = COMMANDS.find((candidate) => candidate.name === name)
  if (!command) {
    io.stderr.write(`flotilla: unknown command '${name}'\n\n${commandList()}\n`)
    return EXIT.USAGE
  }
  try {
    const options = { ...command.options, help: { type: 'boolean', short: 'h' } }
    let parsed
    try {
      parsed = parseArgs({ args: rest, options, allowPositionals: true, strict: true })
    } catch (error) {
      throw new CliError(error.message)
    }
    if (parsed.values.help) {
      io.stdout.write(command.help)
      return EXIT.OK
    }
    return await command.run(parsed, io)
  } catch (error) {
    return failed(error, command, io)
  }
}

function failed (error, command, io) {
  if (error instanceof CliError) {
    const hint = error.exitCode === EXIT.USAGE ? `\nRun 'flotilla ${command.name} --help' for its usage.` : ''
    io.stderr.write(`flotilla ${command.name}: ${error.message}${hint}\n`)
    return error.exitCode
  }
  if (error && error.code === 'FLOTILLA_STORAGE') {
    // The directory changed while it was read (a node was writing to it): what was read is no longer sure.
    io.stderr.write(`flotilla ${command.name}: ${error.message}\n`)
    return EXIT.DAMAGED
  }
  io.stderr.write(`flotilla ${command.name}: an internal error (please report it): ${error && error.stack}\n`)
  return EXIT.INTERNAL
}

module.exports = { main }
