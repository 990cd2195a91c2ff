// Writing a command's output to a stream that may be slow (a pipe) or go away (`| head`): each write waits for
// the stream to drain when its buffer is full, and a closed pipe ends the output quietly instead of throwing.
'use strict'

function output (stream) {
  let closed = false
  stream.on('error', (error) => {
    // The reader went away (EPIPE): nothing more to say to it. Anything else is unexpected, and still not worth
    // a crash of a read-only tool: the output stops.
    closed = true
    if (error.code !== 'EPIPE') process.emitWarning(`flotilla: output failed: ${error.message}`)
  })
  return {
    get closed () {
      return closed
    },
    async write (text) {
      if (closed || text === '') return
      if (stream.write(text)) return
      await new Promise((resolve) => {
        const done = () => {
          stream.off('drain', done)
          stream.off('error', done)
          stream.off('close', done)
          resolve()
        }
        stream.on('drain', done)
        stream.on('error', done)
        stream.on('close', done)
      })
    }
  }
}

module.exports = { output }
