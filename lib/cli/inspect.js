// `flotilla inspect DIR`: what a data directory holds, read offline (read-only, without the node's lock): its
// segments, snapshots, hard state and members, the log's range, every checksum verified and every problem found;
// or, with --entries, the log's entries as JSON lines, read a page at a time.
'use strict'

const { EXIT, CliError } = require('./cli-error')
const { inspectDataDir } = require('./data-dir')
const { entryLine } = require('./entry-lines')
const { output } = require('./output')
const { Progress } = require('./progress')
const { describeProblem, describeReport, plural } = require('./report-text')

const PAGE_ENTRIES = 1000

const help = `Usage: flotilla inspect DIR [options]

Reads the flotilla data directory DIR offline and reports what it holds: the write-ahead log's segments (index
ranges, sizes, records), the snapshot files, the hard state (term, vote, commit), the members, the range of the
log a node would start from, and every problem found. Every record's and snapshot's checksum is verified.
Nothing is changed and no lock is taken: stop the node first, or expect a torn write at the end of its log.

Options:
  --json          print the report as JSON
  --entries       print the log's entries instead, one JSON object a line:
                  {"index":..,"term":..,"kind":"normal"|"noop"|"config","id":..,"data":..}; data is the
                  entry's JSON, or "dataBase64" holds bytes that are not JSON
  --from INDEX    with --entries: start at this log index (raft's, counted from 1)
  --progress      show progress on stderr even when it is not a terminal
  -h, --help      show this help

Exit status: 0 sound, 1 damaged (problems are listed; with --entries, on stderr), 2 usage error or not a
flotilla data directory.
`

const options = {
  json: { type: 'boolean' },
  entries: { type: 'boolean' },
  from: { type: 'string' },
  progress: { type: 'boolean' }
}

function fromIndex (values) {
  if (values.from === undefined) return 0
  if (!values.entries) throw new CliError('--from goes with --entries')
  if (!/^\d+$/.test(values.from) || !Number.isSafeInteger(Number(values.from))) {
    throw new CliError(`--from must be a log index (a whole number), not ${JSON.stringify(values.from)}`)
  }
  return Number(values.from)
}

async function printEntries (inspection, report, from, values, io) {
  const out = output(io.stdout)
  const progress = new Progress(io.stderr, values.progress, !io.stdout.isTTY)
  const total = report.log.entries
  let written = 0
  let next = from
  while (!out.closed) {
    const page = inspection.readEntries(next, PAGE_ENTRIES)
    if (page.length === 0) break
    await out.write(page.map(entryLine).join(''))
    written += page.length
    next = page[page.length - 1].index + 1
    progress.update(`flotilla: ${plural(written, 'entry', 'entries')} of ${total.toLocaleString('en-US')}`)
  }
  progress.done(`flotilla: ${plural(written, 'entry', 'entries')} written`)
  for (const problem of report.problems) io.stderr.write(describeProblem(problem) + '\n')
}

async function run ({ values, positionals }, io) {
  if (positionals.length !== 1) throw new CliError('give one data directory: flotilla inspect DIR')
  const from = fromIndex(values)
  const { inspection, report } = inspectDataDir(positionals[0], io, values)
  if (values.entries) {
    await printEntries(inspection, report, from, values, io)
  } else {
    const text = values.json ? JSON.stringify(report, null, 2) : describeReport(report).join('\n')
    await output(io.stdout).write(text + '\n')
  }
  return report.sound ? EXIT.OK : EXIT.DAMAGED
}

module.exports = { name: 'inspect', summary: 'what a data directory holds, read offline', help, options, run }
