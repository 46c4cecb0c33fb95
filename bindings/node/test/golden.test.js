'use strict'

// Golden cases from tests/fixtures/golden/*.jsonl (inputs and the published core's outputs,
// recorded from drift-core-python 0.1.9): every case of the functions the Node API shares.
// `python_flavour.jsonl` covers a Python-only entry point and is not applicable here.

const test = require('node:test')
const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const fs = require('node:fs')
const path = require('node:path')

const ours = require('..')
const { FIXTURES_DIR, loadGoldenFiles, decodeSpan, decodeStruct, decodeExportRequest } = require('./helpers.js')

/** Raw JSON text of each fixture payload, exactly as written in span_payloads.jsonl. */
function fixtureTexts() {
  const texts = new Map()
  const lines = fs.readFileSync(path.join(FIXTURES_DIR, 'span_payloads.jsonl'), 'utf8').split('\n')
  for (const line of lines) {
    if (!line.trim()) continue
    const start = line.indexOf('"value": ') + '"value": '.length
    const end = line.indexOf(', "schema_merges": ')
    texts.set(JSON.parse(line).id, line.slice(start, end))
  }
  return texts
}

const texts = fixtureTexts()
const golden = new Map(loadGoldenFiles().map(({ name, cases }) => [name, cases]))

/** The JSON text argument of a case: literal, or a fixture payload checked against its hash. */
function jsonArg(args, key) {
  if (args.fixture) {
    const text = texts.get(args.fixture)
    assert.ok(text !== undefined, `fixture ${args.fixture}`)
    assert.equal(crypto.createHash('sha256').update(text).digest('hex'), args.text_sha256, args.fixture)
    return text
  }
  return args[key]
}

/**
 * Golden outputs above a size are stored as `{len, sha256}` (of the UTF-8 text, or of the raw
 * bytes for protobuf fields); smaller ones as the value (bytes as base64).
 */
function matches(actual, expected) {
  const bytes = Buffer.isBuffer(actual) ? actual : typeof actual === 'string' ? Buffer.from(actual, 'utf8') : null
  if (expected !== null && typeof expected === 'object' && 'sha256' in expected && bytes) {
    const codePoints = typeof actual === 'string' ? [...actual].length : bytes.length
    return (
      crypto.createHash('sha256').update(bytes).digest('hex') === expected.sha256 &&
      (expected.len === bytes.length || expected.len === codePoints)
    )
  }
  if (Buffer.isBuffer(actual)) return actual.toString('base64') === expected
  return JSON.stringify(actual) === JSON.stringify(expected)
}

function assertMatches(actual, expected, label) {
  if (!matches(actual, expected)) {
    const show = (v) => (Buffer.isBuffer(v) ? v.toString('base64') : JSON.stringify(v)).slice(0, 200)
    assert.fail(`${label}: got ${show(actual)}, expected ${show(expected)}`)
  }
}

function expectError(fn, expected, label) {
  assert.throws(fn, (error) => {
    assert.ok(error instanceof Error, label)
    assert.equal(error.message, expected.message, label)
    assert.equal(typeof error.code, 'string', label)
    return true
  })
}

const TEXT_FUNCTIONS = {
  normalize_json: (json) => ours.normalizeJson(json),
  deterministic_hash: (json) => ours.deterministicHash(json),
  normalize_and_hash: (json) => {
    const result = ours.normalizeAndHash(json)
    return [result.normalizedJson, result.deterministicHash]
  },
  object_to_protobuf_struct_bytes: (json) => ours.objectToProtobufStructBytes(json),
  object_to_protobuf_struct_field_count: (json) => ours.objectToProtobufStructFieldCount(json),
}

for (const file of ['text_functions.jsonl', 'floats.jsonl']) {
  test(`golden ${file}`, { skip: !golden.has(file) && `${file} not present` }, () => {
    const cases = golden.get(file)
    assert.ok(cases.length > 0)
    for (const [index, { fn, args, expect }] of cases.entries()) {
      const call = TEXT_FUNCTIONS[fn]
      assert.ok(call, `unknown fn ${fn}`)
      const json = jsonArg(args, 'json')
      const label = `${file}#${index} ${fn}(${String(args.fixture || json).slice(0, 40)})`
      if (expect.error) {
        expectError(() => call(json), expect.error, label)
        continue
      }
      const actual = call(json)
      if (Array.isArray(expect.ok)) expect.ok.forEach((part, i) => assertMatches(actual[i], part, `${label}[${i}]`))
      else assertMatches(actual, expect.ok, label)
    }
  })
}

test('golden process_export_payload.jsonl', { skip: !golden.has('process_export_payload.jsonl') }, () => {
  const cases = golden.get('process_export_payload.jsonl')
  assert.ok(cases.length > 0)
  for (const [index, { args, expect }] of cases.entries()) {
    const payload = jsonArg(args, 'payload_json')
    const label = `#${index} ${String(args.fixture || payload).slice(0, 40)} merges=${args.schema_merges_json}`
    const call = () => ours.processExportPayload(payload, args.schema_merges_json)
    if (expect.error) {
      expectError(call, expect.error, label)
      continue
    }
    const result = call()
    const fields = {
      normalized_json: result.normalizedJson,
      decoded_json: result.decodedJson,
      decoded_value_hash: result.decodedValueHash,
      decoded_schema_json: result.decodedSchemaJson,
      decoded_schema_hash: result.decodedSchemaHash,
      protobuf_struct_bytes: result.protobufStructBytes,
    }
    assert.deepEqual(Object.keys(expect.ok).sort(), Object.keys(fields).sort(), label)
    for (const [key, expected] of Object.entries(expect.ok)) assertMatches(fields[key], expected, `${label} ${key}`)
  }
})

/** JSON text of a parsed golden value, keeping `-0.0` (which JSON.stringify writes as `0`). */
function toJsonText(value) {
  if (typeof value === 'number') return Object.is(value, -0) ? '-0.0' : JSON.stringify(value)
  if (Array.isArray(value)) return `[${value.map(toJsonText).join(',')}]`
  if (value !== null && typeof value === 'object') {
    return `{${Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}:${toJsonText(v)}`).join(',')}}`
  }
  return JSON.stringify(value)
}

/** A golden span case (Python argument names, values as objects) as the Node input. */
function spanInput(args) {
  const json = (value) => (value === null || value === undefined ? undefined : toJsonText(value))
  const bytes = (value) => (value === null || value === undefined ? undefined : Buffer.from(value, 'base64'))
  return {
    traceId: args.trace_id,
    spanId: args.span_id,
    parentSpanId: args.parent_span_id,
    name: args.name,
    packageName: args.package_name,
    instrumentationName: args.instrumentation_name,
    submoduleName: args.submodule_name,
    packageType: args.package_type,
    environment: args.environment ?? undefined,
    kind: args.kind,
    inputSchemaJson: toJsonText(args.input_schema ?? {}),
    outputSchemaJson: toJsonText(args.output_schema ?? {}),
    inputSchemaHash: args.input_schema_hash,
    outputSchemaHash: args.output_schema_hash,
    inputValueHash: args.input_value_hash,
    outputValueHash: args.output_value_hash,
    statusCode: args.status_code,
    statusMessage: args.status_message,
    isPreAppStart: args.is_pre_app_start,
    isRootSpan: args.is_root_span,
    timestampSeconds: args.timestamp_seconds,
    timestampNanos: args.timestamp_nanos,
    durationSeconds: args.duration_seconds,
    durationNanos: args.duration_nanos,
    metadataJson: json(args.metadata),
    inputValueJson: json(args.input_value),
    outputValueJson: json(args.output_value),
    inputValueProtoStructBytes: bytes(args.input_value_proto_struct_bytes),
    outputValueProtoStructBytes: bytes(args.output_value_proto_struct_bytes),
  }
}

test('golden spans.jsonl (compared by decoding)', { skip: !golden.has('spans.jsonl') }, () => {
  const cases = golden.get('spans.jsonl')
  assert.ok(cases.length > 0)
  for (const [index, { args, expect, label }] of cases.entries()) {
    const name = `#${index} ${label || ''}`
    const input = spanInput(args)
    if (expect.error) {
      expectError(() => ours.buildSpanProtoBytes(input), expect.error, name)
      continue
    }
    const mine = ours.buildSpanProtoBytes(input)
    assert.deepEqual(decodeSpan(mine), decodeSpan(Buffer.from(expect.ok, 'base64')), name)
  }
})

test('golden export_requests.jsonl (compared by decoding: the published builder re-encodes spans)', { skip: !golden.has('export_requests.jsonl') }, () => {
  const cases = golden.get('export_requests.jsonl')
  assert.ok(cases.length > 0)
  for (const [index, { args, expect }] of cases.entries()) {
    const spans = args.spans.map((span) => Buffer.from(span, 'base64'))
    const call = () => ours.buildExportSpansRequestBytes(args.observable_service_id, args.environment,
      args.sdk_version, args.sdk_instance_id, spans)
    if (expect.error) {
      // The core appends the index of the bad span to the published message.
      assert.throws(call, (error) => {
        assert.ok(error.message.startsWith(expect.error.message), `#${index}: ${error.message}`)
        assert.equal(error.code, 'InvalidProtobuf')
        return true
      })
      continue
    }
    assert.deepEqual(decodeExportRequest(call()), decodeExportRequest(Buffer.from(expect.ok, 'base64')), `#${index}`)
  }
})

test('golden Struct bytes also decode to the value they encode', () => {
  const cases = (golden.get('text_functions.jsonl') || []).filter(
    (c) => c.fn === 'object_to_protobuf_struct_bytes' && typeof c.expect.ok === 'string',
  )
  assert.ok(cases.length > 0)
  for (const { args, expect } of cases.slice(0, 50)) {
    const json = jsonArg(args, 'json')
    assert.deepEqual(decodeStruct(ours.objectToProtobufStructBytes(json)), decodeStruct(Buffer.from(expect.ok, 'base64')))
  }
})
