// Reading a data directory for the offline commands: the native inspection (read-only, without the node's
// lock), one segment at a time behind a progress line, then its report.
'use strict'

const path = require('node:path')
const { EXIT, CliError } = require('./cli-error')
const { Progress } = require('./progress')
const { formatBytes } = require('./report-text')

// Loaded when a command needs it, not at the top, so that `--help` works without the addon built; a missing
// addon is said in one line (how to build it), not with a stack trace.
function nativeAddon () {
  try {
    return require('../native')
  } catch (error) {
    throw new CliError(error.message, EXIT.INTERNAL)
  }
}

// Returns the inspection (for its entries) and its report, parsed. A path that is not a data directory is a
// usage error.
function inspectDataDir (dir, io, { progress: forced = false } = {}) {
  const { DataDirInspection } = nativeAddon()
  let inspection
  try {
    inspection = new DataDirInspection(path.resolve(dir))
  } catch (error) {
    if (error.code === 'FLOTILLA_INVALID_ARGUMENT') throw new CliError(error.message)
    throw error
  }
  const progress = new Progress(io.stderr, forced)
  const total = inspection.bytesTotal
  while (inspection.scanNextSegment()) {
    const scanned = inspection.bytesScanned
    const percent = total === 0 ? 100 : Math.floor((scanned / total) * 100)
    progress.update(`flotilla: scanning the log: ${formatBytes(scanned)} of ${formatBytes(total)} (${percent}%)`)
  }
  progress.done(`flotilla: scanned the log: ${formatBytes(total)}`)
  return { inspection, report: JSON.parse(inspection.report()) }
}

module.exports = { inspectDataDir }
