// One open connection per node address, shared by whoever asks (the client, serve's monitor): opened on first use,
// opened again once it ended or failed to open, and all closed by `close()`, including those still opening then.
'use strict'

const { Connection } = require('./connection')
const { CODES, codedError } = require('../engine/errors')

class ConnectionPool {
  /** `settings`: how to connect (see Connection.open): `{cluster, name, secret | clientKey | tls}`. */
  constructor (settings) {
    this._settings = settings
    this._opening = new Map() // address -> Promise<Connection>
    this.closed = false
  }

  /** The open connection to `address`; rejects (FLOTILLA_UNAVAILABLE) when it cannot be opened. */
  get (address) {
    if (this.closed) return Promise.reject(codedError(CODES.CLOSED, 'flotilla/client: the client is closed'))
    let opening = this._opening.get(address)
    // Forgets this attempt only: a newer one for the address may have taken its place meanwhile.
    const forget = () => { if (this._opening.get(address) === opening) this._opening.delete(address) }
    if (opening === undefined) {
      opening = Connection.open(address, this._settings)
      this._opening.set(address, opening)
      // One that opens after close() is closed at once.
      opening.then((open) => { if (this.closed) open.close() }, forget)
    }
    return opening.then((open) => {
      if (!open.closed) return open
      forget()
      return this.get(address)
    })
  }

  /** The connection to `address` if one is open or opening now (null otherwise), without opening one. */
  async current (address) {
    const opening = this._opening.get(address)
    if (opening === undefined) return null
    const open = await opening.catch(() => null)
    return open !== null && !open.closed ? open : null
  }

  close () {
    this.closed = true
    for (const opening of this._opening.values()) opening.then((open) => open.close(), () => {})
    this._opening.clear()
  }
}

module.exports = { ConnectionPool }
