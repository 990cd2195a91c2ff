// `flotilla tail ADDR --from N`: streams committed entries as JSON lines, following new commits.
'use strict'

const { EXIT, CliError } = require('./cli-error')
const { clusterOptions, clusterHelp, withClient, checkArguments } = require('./cluster-options')
const { output } = require('./output')

const help = `Usage: flotilla tail ADDR [options]

Prints the committed entries as JSON lines {"index","term","id","data"} (indices 0-based, as gaggle's), from
--from on; without --to it follows new commits until interrupted. When the node streaming them goes away it goes
on from another. A --from that a snapshot compacted away is refused and the message names the snapshot's index.

  --from N              the first index (default 0)
  --to N                the last index (default: follow)
${clusterHelp}
  -h, --help            show this help

Exit status: 0 done (--to reached, or interrupted), 1 refused (compacted), 2 usage error, 4 no node answered.
`

const options = { ...clusterOptions, from: { type: 'string' }, to: { type: 'string' } }

function indexOf (text, what) {
  if (text === undefined) return undefined
  const index = Number(text)
  if (!Number.isSafeInteger(index) || index < 0) throw new CliError(`${what} must be a whole number >= 0`)
  return index
}

async function run ({ values, positionals }, io) {
  checkArguments(positionals, 1, 'flotilla tail ADDR')
  const range = { from: indexOf(values.from, '--from') ?? 0 }
  const to = indexOf(values.to, '--to')
  if (to !== undefined) range.to = to
  return withClient(positionals[0], values, async (client) => {
    const out = output(io.stdout)
    let interrupted = false
    const stop = () => { interrupted = true; client.close() }
    process.once('SIGINT', stop)
    try {
      for await (const entry of client.entries(range)) {
        await out.write(JSON.stringify(entry) + '\n')
        if (out.closed) break
      }
    } catch (error) {
      if (!interrupted) throw error
    } finally {
      process.removeListener('SIGINT', stop)
    }
    return EXIT.OK
  })
}

module.exports = { name: 'tail', summary: 'stream committed entries as JSON lines', help, options, run }
