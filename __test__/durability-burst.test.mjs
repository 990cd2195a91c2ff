// A burst of large appends is durable however big it is: a single-node durable cluster with default options takes
// 300 appends of 1 MB in one turn of the event loop (one persist request of about 300 MB, above the write-ahead
// log's 256 MiB record limit), every one resolves, and after close() and a reopen the commit index and the whole
// log are back. The log splits such a request over several records that recovery applies whole.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { gaggle, uniqueName, waitFor } from './gaggle-support.mjs'

const BURST = 300
const ENTRY_CHARS = 1_000_000

test(`a burst of ${BURST} appends of 1 MB in one turn survives a restart`, { timeout: 180_000 }, async (t) => {
  const base = mkdtempSync(path.join(tmpdir(), 'flotilla-burst-'))
  t.after(() => rmSync(base, { recursive: true, force: true }))
  const dataDir = path.join(base, 'solo')
  const open = () => gaggle({ id: 'solo', channel: { name: 'memory', namespace: uniqueName('burst') }, clusterSize: 1, dataDir })
  const node = open()
  await node.ready()
  await waitFor(() => node.isLeader(), 10_000, 'the solo node to lead')
  const filler = 'x'.repeat(ENTRY_CHARS - 8)
  const appends = []
  for (let i = 0; i < BURST; i++) appends.push(node.append(`${String(i).padStart(8, '0')}${filler}`, 120_000))
  await Promise.all(appends)
  assert.equal(node.getCommitIndex(), BURST - 1)
  await node.close()

  const reopened = open()
  t.after(() => reopened.close())
  await reopened.ready()
  assert.equal(reopened.status().recoveredTornTail, null, 'the burst was not taken for a torn write')
  await waitFor(() => reopened.getCommitIndex() === BURST - 1, 30_000, 'the commit index to come back')
  const log = reopened.getLog()
  assert.equal(log.length, BURST)
  for (const [i, entry] of log.entries()) {
    assert.equal(entry.data.length, ENTRY_CHARS, `entry ${i} is whole`)
    assert.equal(entry.data.slice(0, 8), String(i).padStart(8, '0'), `entry ${i} is in its place`)
  }
})
