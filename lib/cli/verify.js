// `flotilla verify DIR`: whether a data directory is sound, read offline as the node would read it when it opens
// (every checksum, the segments' chain, the manifest, the snapshots against the log), said by the exit status.
'use strict'

const { EXIT, CliError } = require('./cli-error')
const { inspectDataDir } = require('./data-dir')
const { output } = require('./output')
const { describeChecksums, describeLog, describeProblem } = require('./report-text')

const help = `Usage: flotilla verify DIR [options]

Checks the flotilla data directory DIR offline, as a node checks it when it opens: every record's and
snapshot's checksum, each segment against the one before it and the MANIFEST, the log's start against its
compaction point, and the newest snapshot against the log. Nothing is changed and no lock is taken.

Damage is what the node would refuse (or could not trust). Notices are things it handles by itself: a torn
write at the end of the log (a crash mid-append; cut off when the node opens), files a crash left behind, files
that are not flotilla's.

Options:
  --json          print the verdict as JSON: {"dir","sound","checksumsVerified","problems":[...]}
  --progress      show progress on stderr even when it is not a terminal
  -h, --help      show this help

Exit status: 0 sound, 1 damaged (each problem names its file and byte offset), 2 usage error or not a flotilla
data directory.
`

const options = {
  json: { type: 'boolean' },
  progress: { type: 'boolean' }
}

function describeVerdict (report) {
  const lines = [
    `${report.sound ? 'sound' : 'DAMAGED'}: ${report.dir}`,
    `  ${describeChecksums(report)}; log ${describeLog(report.log)}`
  ]
  return lines.concat(report.problems.map((problem) => '  ' + describeProblem(problem)))
}

async function run ({ values, positionals }, io) {
  if (positionals.length !== 1) throw new CliError('give one data directory: flotilla verify DIR')
  const { report } = inspectDataDir(positionals[0], io, values)
  const { dir, sound, checksumsVerified, problems } = report
  const text = values.json
    ? JSON.stringify({ dir, sound, checksumsVerified, problems }, null, 2)
    : describeVerdict(report).join('\n')
  await output(io.stdout).write(text + '\n')
  return sound ? EXIT.OK : EXIT.DAMAGED
}

module.exports = { name: 'verify', summary: 'whether a data directory is sound (exit status 0 or 1)', help, options, run }
