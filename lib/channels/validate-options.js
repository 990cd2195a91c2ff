// Checks channel constructor options and words the first failure as gaggle 2.1.4 did (Joi 6), because callers
// match on those texts, e.g. 'Invalid options: "channelName" is required'.
'use strict'

const { invalidArgument } = require('../engine/errors')

const isObject = (value) => value !== null && typeof value === 'object' && !Array.isArray(value)

const TYPES = {
  string: { test: (value) => typeof value === 'string', problem: 'must be a string' },
  function: { test: (value) => typeof value === 'function', problem: 'must be a Function' },
  object: { test: isObject, problem: 'must be an object' },
}

function invalid (problem) {
  return invalidArgument('Invalid options: ' + problem)
}

// Joi 6 checked the declared keys in declaration order, then the unknown ones, which it reported all together;
// it treated undefined as absent.
function assertKeys (object, rules, { allowUnknown = false } = {}) {
  for (const [key, rule] of Object.entries(rules)) {
    const value = object[key]
    if (value === undefined) {
      if (rule.required) throw invalid(`"${key}" is required`)
      continue
    }
    if (!TYPES[rule.type].test(value)) throw invalid(`"${key}" ${TYPES[rule.type].problem}`)
    if (value === '') throw invalid(`"${key}" is not allowed to be empty`)
  }
  if (!allowUnknown) {
    const unknown = Object.keys(object).filter((key) => !Object.hasOwn(rules, key))
    if (unknown.length > 0) throw invalid(unknown.map((key) => `"${key}" is not allowed`).join(', '))
  }
}

const BASE_RULES = {
  id: { type: 'string', required: true },
  logFunction: { type: 'function' },
  channelOptions: { type: 'object' },
}

// Validates what every channel takes: {id, logFunction, channelOptions}. Returns the options object.
function assertBaseOptions (opts) {
  const options = opts == null ? {} : opts
  if (!isObject(options)) throw invalid('"value" must be an object')
  assertKeys(options, BASE_RULES)
  return options
}

// Validates a channel's own keys inside channelOptions, once the base options passed. Returns channelOptions.
function assertChannelOptions (opts, rules, { required = true, allowUnknown = false } = {}) {
  const channelOptions = opts.channelOptions
  if (channelOptions === undefined) {
    if (required) throw invalid('"channelOptions" is required')
    return {}
  }
  assertKeys(channelOptions, rules, { allowUnknown })
  return channelOptions
}

module.exports = { assertBaseOptions, assertChannelOptions }
