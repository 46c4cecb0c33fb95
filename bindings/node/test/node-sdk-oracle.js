'use strict'

// The published @use-tusk/drift-node-sdk's own `JsonSchemaHelper` (schemas, value and schema
// hashes), taken from the installed package's bundle and evaluated here: the oracle the Node
// flavour of the exporter is held to. The SDK does not export it, so its source region is cut
// out of `dist/index.cjs` by the bundler's `//#region` markers, with the three enums it uses.

const fs = require('node:fs')
const path = require('node:path')
const crypto = require('node:crypto')

function sdkBundle() {
  const main = require.resolve('@use-tusk/drift-node-sdk')
  return fs.readFileSync(path.join(path.dirname(main), 'index.cjs'), 'utf8')
}

function region(text, name) {
  const start = text.indexOf(`//#region ${name}\n`)
  if (start === -1) throw new Error(`the SDK bundle has no region ${name}`)
  const end = text.indexOf('//#endregion', start)
  return text.slice(start, end)
}

function enumDefinition(text, name) {
  const match = new RegExp(`let ${name} = /\\* @__PURE__ \\*/ function\\(${name}\\$1\\) \\{[\\s\\S]*?\\n\\}\\(\\{\\}\\);`).exec(text)
  if (!match) throw new Error(`the SDK bundle has no enum ${name}`)
  return match[0]
}

let helper
/** The SDK's `JsonSchemaHelper` class. */
function jsonSchemaHelper() {
  if (helper) return helper
  const text = sdkBundle()
  const source = [
    enumDefinition(text, 'JsonSchemaType'),
    enumDefinition(text, 'EncodingType'),
    enumDefinition(text, 'DecodedType'),
    region(text, 'src/core/tracing/JsonSchemaHelper.ts'),
    'return JsonSchemaHelper',
  ].join('\n')
  const logger = { debug() {}, info() {}, warn() {}, error() {} }
  // eslint-disable-next-line no-new-func
  helper = new Function('crypto', 'Buffer', 'logger', source)(crypto, Buffer, logger)
  return helper
}

/** `generateSchemaAndHash(JSON.parse(valueJson), mergesJson ? JSON.parse(mergesJson) : undefined)`. */
function sdkSchemaAndHash(valueJson, mergesJson) {
  const merges = mergesJson ? JSON.parse(mergesJson) : undefined
  return jsonSchemaHelper().generateSchemaAndHash(JSON.parse(valueJson), merges)
}

module.exports = { jsonSchemaHelper, sdkSchemaAndHash }
