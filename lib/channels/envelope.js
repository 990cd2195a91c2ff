// The envelope that the redis and socket.io channels wrap around a packet, as gaggle did: {from, to?, data}.
// A message without `to` is for every node, its sender included.
'use strict'

// Anything else on the wire (another program's messages, garbage) is ignored rather than trusted.
function isEnvelopeFor (message, nodeId) {
  return message !== null && typeof message === 'object' && typeof message.from === 'string' &&
    (message.to == null || message.to === nodeId)
}

module.exports = { isEnvelopeFor }
