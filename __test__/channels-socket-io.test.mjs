// The socket.io channel through a real HTTP server on a free port, prepared by enhanceServerForSocketIOChannel:
// the shared channel contract, the relay's handling of gaggle's declareChannel, and teardown.
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { once } from 'node:events'
import http from 'node:http'
import { WITHIN, channelContract, collect, connectAll, disconnectAll, trackChannels, uniqueName } from './channels-contract.mjs'

const require = createRequire(import.meta.url)
const SocketIOChannel = require('../lib/channels/socket.io.js')
const enhanceServerForSocketIOChannel = require('../lib/channels/socket-io-server.js')
const { io } = require('socket.io-client')

async function startRelay () {
  const server = http.createServer((request, response) => response.writeHead(200).end())
  const teardown = enhanceServerForSocketIOChannel(server)
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return { server, teardown, host: `http://127.0.0.1:${server.address().port}` }
}

let relay
before(async () => { relay = await startRelay() })
after(async () => {
  if (relay !== undefined) await new Promise((resolve) => relay.teardown(resolve))
})

const makeChannel = (id, channel) => new SocketIOChannel({ id, channelOptions: { host: relay.host, channel } })

describe('socket.io channel: contract', () => {
  channelContract(makeChannel)
})

describe('socket.io channel', () => {
  it("relays for clients that name their channel gaggle's way, with declareChannel", WITHIN, async (t) => {
    const channel = uniqueName('declared')
    const a = trackChannels(t)(makeChannel('a', channel))
    await connectAll([a])
    const client = io(relay.host, { forceNew: true })
    t.after(() => client.disconnect())
    await once(client, 'connect')

    // Not yet in any channel: the relay asks the client to name one.
    const asked = once(client, 'unknownChannel')
    client.emit('msg', { from: 'old', data: { data: 'unplaced', sequence: 0 } })
    await asked

    client.emit('declareChannel', channel)
    const atA = collect(a, 1)
    const atClient = once(client, 'msg')
    client.emit('msg', { from: 'old', to: 'a', data: { data: 'placed', sequence: 1 } })
    assert.deepEqual(await atA, [['old', 'placed']])
    assert.deepEqual(await atClient, [{ from: 'old', to: 'a', data: { data: 'placed', sequence: 1 } }])
  })

  it('teardown closes the HTTP server and calls back', WITHIN, async (t) => {
    const own = await startRelay()
    const a = trackChannels(t)(new SocketIOChannel({ id: 'a', channelOptions: { host: own.host, channel: 'c' } }))
    await connectAll([a])
    await disconnectAll([a])
    const closed = once(own.server, 'close')
    await new Promise((resolve, reject) => own.teardown((error) => (error ? reject(error) : resolve())))
    await closed
    assert.equal(own.server.listening, false)
  })

  it('teardown frees the port at once: the same port can be listened on in the same tick', WITHIN, async (t) => {
    const own = await startRelay()
    const port = own.server.address().port
    const a = trackChannels(t)(new SocketIOChannel({ id: 'a', channelOptions: { host: own.host, channel: 'c' } }))
    const b = trackChannels(t)(new SocketIOChannel({ id: 'b', channelOptions: { host: own.host, channel: 'c' } }))
    await connectAll([a, b])
    const torndown = new Promise((resolve, reject) => own.teardown((error) => (error ? reject(error) : resolve())))
    assert.equal(own.server.listening, false, 'not listening once teardown returns')
    // the channels try to reconnect to the port: answered, and cut when the test ends
    const again = http.createServer((request, response) => response.writeHead(404).end())
    t.after(() => {
      again.closeAllConnections()
      again.close()
    })
    const listening = new Promise((resolve, reject) => {
      again.once('error', reject)
      again.once('listening', resolve)
    })
    again.listen(port, '127.0.0.1')
    await listening
    await torndown
  })
})
