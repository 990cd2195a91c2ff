// One log entry as one line of JSON (`flotilla inspect --entries`): {"index","term","kind","id","data"}, where
// data is the entry's own JSON text when its bytes are UTF-8 JSON (copied as it is, so that no number loses
// digits), "dataBase64" holds any other bytes (a configuration entry's), and an empty entry's data is null.
'use strict'

const utf8 = new TextDecoder('utf-8', { fatal: true })

// The bytes as JSON text on one line, or null when they are not UTF-8 JSON.
function jsonText (bytes) {
  let text
  try {
    text = utf8.decode(bytes)
    JSON.parse(text)
  } catch {
    return null
  }
  // Line breaks in JSON text are whitespace between tokens (inside strings they are escaped): a space keeps it
  // the same value on one line.
  return text.replace(/[\r\n]+/g, ' ')
}

function dataField (bytes) {
  if (bytes.length === 0) return '"data":null'
  const json = jsonText(bytes)
  if (json !== null) return '"data":' + json
  return '"dataBase64":' + JSON.stringify(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('base64'))
}

function entryLine (entry) {
  const head = JSON.stringify({ index: entry.index, term: entry.term, kind: entry.kind, id: entry.id ?? null })
  return head.slice(0, -1) + ',' + dataField(entry.data) + '}\n'
}

module.exports = { entryLine }
