// Option checking for the gaggle face: the factory's, the shipped channels' and the instance's options,
// with gaggle 2.1.4's order of checks and its Joi 6 error texts, so that callers see the same errors.
'use strict'

const { invalidArgument } = require('../engine/errors')
// The engine's defaults and limits, written once in Rust
const native = require('../native')

const CHANNEL_NAMES = ['memory', 'socket.io', 'redis'] // gaggle lists them in this order in its message
// flotilla's own channels, accepted beside gaggle's (its message above stays gaggle's)
const NATIVE_CHANNEL_NAMES = ['tcp']
// A node's proposal ids are its id, '_' and a 36-character UUID, and the wire takes ids of at most 256 bytes
const MAX_ID_BYTES = native.MAX_NAME_BYTES
// Every message of a flush reaches JS in one string, which holds at most 2^29 - 24 characters
const MAX_FLOW_BYTES = native.MAX_FLOW_BYTES

// A limit taken from a sibling key, like Joi.ref('min').
function sibling (key) {
  return { sibling: key }
}

// The rules, one line per key. Key order is check order: the first failing key is the one reported, so
// gaggle's keys keep gaggle's schema order and ours come after them.
// rule fields: type ('string'|'number'|'boolean'|'function'|'object'), required, valid (list), integer,
// alsoValid (accepted too, left out of the message), min, max (number or sibling(key)),
// maxBytes (a string's UTF-8 length at most; such a string must be well-formed Unicode too), keys (rules of an object's
// keys; unknown keys are then rejected unless allowUnknown), parseJson (a JSON string counts as the object it
// encodes), default (a value, or a function of the object being filled, for objects and values derived from
// siblings).

const FACTORY_OPTIONS = {
  id: { type: 'string', required: true, maxBytes: MAX_ID_BYTES },
  channel: {
    type: 'object', required: true, parseJson: true, allowUnknown: true,
    keys: { name: { type: 'string', required: true, valid: CHANNEL_NAMES, alsoValid: NATIVE_CHANNEL_NAMES } }
  }
}

// Channel options as each shipped channel's constructor checks them ('memory' takes any).
const CHANNEL_OPTIONS = {
  memory: null,
  tcp: null, // checked by the channel itself (channels/tcp.js)
  redis: {
    connectionString: { type: 'string' },
    channelName: { type: 'string', required: true }
  },
  'socket.io': {
    host: { type: 'string', required: true },
    channel: { type: 'string', required: true }
  }
}

const ELECTION_TIMEOUT = {
  min: { type: 'number', min: 0, default: 300 },
  // gaggle let `max` be left out when `min` is given; keeping the default spread keeps elections randomized
  max: { type: 'number', min: sibling('min'), default: (timeout) => timeout.min + 200 }
}

const SNAPSHOT = {
  threshold: { type: 'number', required: true, integer: true, min: 1 },
  save: { type: 'function', required: true },
  restore: { type: 'function', required: true }
}

const INSTANCE_OPTIONS = {
  // gaggle 2.1.4
  clusterSize: { type: 'number', required: true, min: 1 },
  channel: { type: 'object', required: true },
  id: { type: 'string', required: true, maxBytes: MAX_ID_BYTES },
  electionTimeout: { type: 'object', keys: ELECTION_TIMEOUT, default: () => ({ min: 300, max: 500 }) },
  heartbeatInterval: { type: 'number', min: 0, default: 50 },
  accelerateHeartbeats: { type: 'boolean', default: false },
  rpc: { type: 'object', default: () => ({}) },
  // flotilla
  dataDir: { type: 'string' },
  segmentBytes: { type: 'number', integer: true, min: native.MIN_SEGMENT_BYTES, default: native.DEFAULT_SEGMENT_BYTES },
  snapshot: { type: 'object', keys: SNAPSHOT },
  preVote: { type: 'boolean', default: native.DEFAULT_PRE_VOTE },
  checkQuorum: { type: 'boolean', default: native.DEFAULT_CHECK_QUORUM },
  leaseReads: { type: 'boolean', default: native.DEFAULT_LEASE_READS },
  join: { type: 'boolean', default: false },
  maxInflightMessages: { type: 'number', integer: true, min: 1, default: native.DEFAULT_MAX_INFLIGHT_MESSAGES },
  maxInflightBytes: {
    type: 'number', integer: true, min: 1, max: MAX_FLOW_BYTES, default: native.DEFAULT_MAX_INFLIGHT_BYTES
  },
  maxMessageBytes: {
    type: 'number', integer: true, min: 1, max: MAX_FLOW_BYTES, default: native.DEFAULT_MAX_MESSAGE_BYTES
  },
  // a seed past 2^53 would not reach the engine exactly, and the engine's seed is unsigned
  seed: { type: 'number', integer: true, min: 0, max: Number.MAX_SAFE_INTEGER }
}

const TYPES = {
  string: { is: (value) => typeof value === 'string', message: 'must be a string' },
  number: { is: (value) => typeof value === 'number' && !Number.isNaN(value), message: 'must be a number' },
  boolean: { is: (value) => typeof value === 'boolean', message: 'must be a boolean' },
  function: { is: (value) => typeof value === 'function', message: 'must be a Function' },
  object: {
    is: (value) => value !== null && typeof value === 'object' && !Array.isArray(value),
    message: 'must be an object'
  }
}

function parseJsonOrKeep (text) {
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

const LIMITS = [
  ['min', 'must be larger than or equal to', (value, limit) => value >= limit],
  ['max', 'must be less than or equal to', (value, limit) => value <= limit]
]

function resolveLimit (limit, parent) {
  return typeof limit === 'object' ? parent[limit.sibling] : limit
}

// Returns {value} or {errors: [message, ...]}. Like Joi with abortEarly, the first failing check ends the
// walk, except that all unknown keys of one object are reported together, as Joi does.
function checkValue (rule, value, key, parent) {
  const fail = (text) => ({ errors: ['"' + key + '" ' + text] })

  if (value === undefined) {
    return rule.required ? fail('is required') : { value }
  }
  // Joi tests these forbidden values before the type, so they get their own wording
  if (rule.type === 'string' && value === '') return fail('is not allowed to be empty')
  if (rule.type === 'number' && (value === Infinity || value === -Infinity)) return fail('contains an invalid value')
  if (rule.parseJson && typeof value === 'string') value = parseJsonOrKeep(value)
  if (!TYPES[rule.type].is(value)) return fail(TYPES[rule.type].message)
  if (rule.valid && !rule.valid.includes(value) && !(rule.alsoValid || []).includes(value)) return fail('must be one of [' + rule.valid.join(', ') + ']')
  if (rule.integer && !Number.isInteger(value)) return fail('must be an integer')
  if (rule.maxBytes !== undefined && Buffer.byteLength(value) > rule.maxBytes) {
    return fail('must be at most ' + rule.maxBytes + ' bytes long (in UTF-8)')
  }
  // A lone surrogate has no UTF-8 form: the engine would hold another name than the one given.
  if (rule.maxBytes !== undefined && !value.isWellFormed()) return fail('must be well-formed Unicode (no lone surrogates)')
  for (const [bound, words, within] of LIMITS) {
    if (rule[bound] === undefined) continue
    const limit = resolveLimit(rule[bound], parent)
    if (typeof limit !== 'number' || Number.isNaN(limit)) {
      return fail('references "' + rule[bound].sibling + '" which is not a number')
    }
    if (!within(value, limit)) return fail(words + ' ' + limit)
  }
  return rule.keys ? checkObject(rule, value) : { value }
}

// Builds a new object, so the caller's options are never changed; values themselves (rpc, channel,
// functions) are kept as they are. Defaults are filled only once every check passed, so a sibling limit
// never sees a default: gaggle rejects `{max: 600}` ("max" references "min" ...) and so do we.
function checkObject (rule, input) {
  const output = {}
  for (const [key, childRule] of Object.entries(rule.keys)) {
    const checked = checkValue(childRule, input[key], key, output)
    if (checked.errors) return checked
    if (checked.value !== undefined) output[key] = checked.value
  }
  const unknownKeys = Object.keys(input).filter((key) => !Object.hasOwn(rule.keys, key))
  if (rule.allowUnknown) {
    for (const key of unknownKeys) output[key] = input[key]
  } else if (unknownKeys.length > 0) {
    return { errors: unknownKeys.map((key) => '"' + key + '" is not allowed') }
  }
  for (const [key, childRule] of Object.entries(rule.keys)) {
    if (output[key] === undefined && childRule.default !== undefined) {
      output[key] = typeof childRule.default === 'function' ? childRule.default(output) : childRule.default
    }
  }
  return { value: output }
}

// Checks `value` against an object rule (`{type: 'object', keys, ...}`) labelled "value" as Joi labels
// the root; returns the normalized object or throws gaggle's `Invalid options: ...` error.
function validate (rule, value) {
  const checked = checkValue(rule, value, 'value', null)
  if (checked.errors) throw invalidArgument('Invalid options: ' + checked.errors.join(', '))
  return checked.value
}

const FACTORY_RULE = { type: 'object', required: true, parseJson: true, allowUnknown: true, keys: FACTORY_OPTIONS }
const INSTANCE_RULE = { type: 'object', required: true, keys: INSTANCE_OPTIONS }

// The factory checks only `id` and `channel.name` and passes everything else on. Falsy options count as
// `{}` and, as Joi converted them, a JSON string stands for its object (for the root and for `channel`).
// Returns the options to hand on, the channel's name and its options (the channel object without `name`).
function validateFactoryOptions (opts) {
  const options = validate(FACTORY_RULE, opts || {})
  const { name: channelName, ...channelOptions } = options.channel
  return { options, channelName, channelOptions }
}

// What a shipped channel's constructor checks of its `channelOptions`; run between the factory's and the
// instance's checks, as gaggle builds the channel before the instance. Returns the channel options.
function validateChannelOptions (channelName, channelOptions) {
  const keys = CHANNEL_OPTIONS[channelName]
  if (keys === undefined) {
    throw invalidArgument('Invalid options: "name" must be one of [' + CHANNEL_NAMES.join(', ') + ']')
  }
  if (keys === null) return channelOptions
  const rule = { type: 'object', required: true, keys: { channelOptions: { type: 'object', required: true, keys } } }
  return validate(rule, { channelOptions }).channelOptions
}

// The instance's options (`channel` is a channel instance by then). Returns a new object with every
// default filled; optional keys without a default are absent when not given.
function validateInstanceOptions (opts) {
  return validate(INSTANCE_RULE, opts)
}

module.exports = {
  CHANNEL_NAMES,
  FACTORY_OPTIONS,
  CHANNEL_OPTIONS,
  INSTANCE_OPTIONS,
  sibling,
  validate,
  validateFactoryOptions,
  validateChannelOptions,
  validateInstanceOptions
}
