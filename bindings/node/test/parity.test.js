'use strict'

// Parity with the published `@use-tusk/drift-core-node` (installed from npm under the alias
// `published-core`): hashes and JSON byte for byte, protobuf compared by decoding.

const test = require('node:test')
const assert = require('node:assert/strict')

const ours = require('..')
const published = require('published-core')
const { loadSpanPayloads, decodeStruct, decodeSpan, decodeExportRequest } = require('./helpers.js')

const payloads = loadSpanPayloads()

const EDGE_JSON = [
  '{}',
  '[]',
  'null',
  'true',
  '0',
  '-0',
  '""',
  '{"b":2,"a":1}',
  '{"a":1,"a":2}',
  '{"z":{"y":{"x":[3,2,1]}},"é":"é","a\\u0000b":"\\u001f"}',
  '[1.0, 0.1, -0.0, 1e16, 1e-7, 1.5e300, 100000000000000000000000, 18446744073709551615, 18446744073709551616]',
  '[-9223372036854775808, -9223372036854775809, 9223372036854775807, 12345678901234567890]',
  '[5e-324, 1.7976931348623157e308, 2.2250738585072014e-308, 0.30000000000000004, 123456789.125]',
  '["\\b\\f\\n\\r\\t\\"\\\\/", "\\u2028\\u2029", "😀", "\\ud83d\\ude00"]',
  '{"unicode keys":{"ü":1,"u":2,"Z":3,"a":4,"":5}}',
  '  {"spaces" :  [ 1 , 2 ] }  ',
  `${'['.repeat(127)}${']'.repeat(127)}`,
  `{"deep":${'{"a":'.repeat(120)}1${'}'.repeat(120)}}`,
  '{"nested":{"arr":[{"a":null},{"b":[true,false]}]}}',
]

const INVALID_JSON = ['', '{', '{bad}', '[1,]', '{"a":1,}', 'NaN', '[Infinity]', '1E400', "{'a':1}", '[1]x',
  `${'['.repeat(128)}${']'.repeat(128)}`, '"\\x"', '"unterminated']

const corpus = [...payloads.map((p) => p.valueJson), ...EDGE_JSON]

test('normalizeJson, deterministicHash and normalizeAndHash match the published addon byte for byte', () => {
  for (const json of corpus) {
    const expected = published.normalizeJson(json)
    assert.equal(ours.normalizeJson(json), expected, json.slice(0, 80))
    assert.equal(ours.deterministicHash(json), published.deterministicHash(json), json.slice(0, 80))
    assert.deepEqual({ ...ours.normalizeAndHash(json) }, { ...published.normalizeAndHash(json) })
  }
})

test('protobuf Struct bytes decode to the same Struct, field counts agree', () => {
  for (const json of corpus) {
    const ourBytes = ours.objectToProtobufStructBytes(json)
    const theirBytes = published.objectToProtobufStructBytes(json)
    assert.ok(Buffer.isBuffer(ourBytes))
    assert.deepEqual(decodeStruct(ourBytes), decodeStruct(theirBytes), json.slice(0, 80))
    assert.equal(ours.objectToProtobufStructFieldCount(json), published.objectToProtobufStructFieldCount(json))
  }
})

test('processExportPayload matches on the fixture corpus, with and without schema merges', () => {
  const mergeVariants = [
    undefined,
    null,
    '{}',
    '{"body":{"encoding":1,"decoded_type":1},"headers":{"match_importance":0.25}}',
    '{"body":{"encoding":1},"missing":{"encoding":1,"decoded_type":1,"match_importance":1}}',
  ]
  for (const payload of payloads) {
    for (const merges of [payload.mergesJson, ...mergeVariants]) {
      const mine = ours.processExportPayload(payload.valueJson, merges)
      const theirs = published.processExportPayload(payload.valueJson, merges)
      const label = `${payload.id} merges=${merges}`
      assert.equal(mine.normalizedJson, theirs.normalizedJson, label)
      assert.equal(mine.decodedJson, theirs.decodedJson, label)
      assert.equal(mine.decodedValueHash, theirs.decodedValueHash, label)
      assert.equal(mine.decodedSchemaJson, theirs.decodedSchemaJson, label)
      assert.equal(mine.decodedSchemaHash, theirs.decodedSchemaHash, label)
      assert.deepEqual(decodeStruct(mine.protobufStructBytes), decodeStruct(theirs.protobufStructBytes), label)
    }
  }
})

test('processExportPayload decodes base64 bodies the same way, including invalid base64 and UTF-8', () => {
  const b64 = (text) => Buffer.from(text).toString('base64')
  const cases = [
    [{ body: b64('{"x":[1,2,{"y":"z"}]}') }, { body: { encoding: 1, decoded_type: 1 } }],
    [{ body: b64('plain text, not json') }, { body: { encoding: 1, decoded_type: 1 } }],
    [{ body: b64('{"x":1}') }, { body: { encoding: 1 } }],
    [{ body: 'not base64!!' }, { body: { encoding: 1, decoded_type: 1 } }],
    [{ body: Buffer.from([0xff, 0xfe, 0x41]).toString('base64') }, { body: { encoding: 1 } }],
    [{ body: 42 }, { body: { encoding: 1, decoded_type: 1 } }],
    [{ body: '' }, { body: { encoding: 1, decoded_type: 1, match_importance: 0.5 } }],
    [[1, 2, 3], { body: { encoding: 1 } }],
    [{ body: b64('[1,2]') }, { body: { decoded_type: 1 } }],
  ]
  for (const [value, merges] of cases) {
    const valueJson = JSON.stringify(value)
    const mergesJson = JSON.stringify(merges)
    const mine = ours.processExportPayload(valueJson, mergesJson)
    const theirs = published.processExportPayload(valueJson, mergesJson)
    for (const key of ['normalizedJson', 'decodedJson', 'decodedValueHash', 'decodedSchemaJson', 'decodedSchemaHash']) {
      assert.equal(mine[key], theirs[key], `${key} of ${valueJson} with ${mergesJson}`)
    }
  }
})

test('invalid JSON is an Error with the published message, byte for byte, and a stable code', () => {
  for (const json of INVALID_JSON) {
    let publishedMessage
    assert.throws(() => published.normalizeJson(json), (error) => {
      publishedMessage = error.message
      return true
    })
    for (const fn of ['normalizeJson', 'deterministicHash', 'normalizeAndHash', 'objectToProtobufStructBytes',
      'objectToProtobufStructFieldCount', 'processExportPayload']) {
      assert.throws(() => ours[fn](json), (error) => {
        assert.ok(error instanceof Error)
        assert.equal(error.message, publishedMessage, `${fn}(${json.slice(0, 20)})`)
        assert.equal(error.code, 'InvalidJson')
        return true
      })
    }
  }
  assert.throws(() => ours.processExportPayload('{}', '{bad'), { message: 'invalid json: key must be a string at line 1 column 2', code: 'InvalidJson' })
})

test('buildSpanProtoBytes names the bad JSON argument as published; bad Struct bytes are errors', () => {
  const base = spanInputFor(ours, payloads[0], 0)
  for (const field of ['inputSchemaJson', 'outputSchemaJson', 'metadataJson', 'inputValueJson', 'outputValueJson']) {
    const input = { ...base, inputValueProtoStructBytes: undefined, [field]: '{"a":}' }
    let expected
    assert.throws(() => published.buildSpanProtoBytes(input), (error) => {
      expected = error.message
      return true
    })
    assert.throws(() => ours.buildSpanProtoBytes(input), { message: expected, code: 'InvalidJson' })
  }
  const badStruct = { ...base, inputValueProtoStructBytes: Buffer.from([0xff]) }
  assert.throws(() => published.buildSpanProtoBytes(badStruct), /^Error: serialization error: failed to decode Protobuf message/)
  assert.throws(() => ours.buildSpanProtoBytes(badStruct), (error) => {
    assert.match(error.message, /^serialization error: failed to decode Protobuf message/)
    assert.equal(error.code, 'InvalidProtobuf')
    return true
  })
  assert.throws(() => ours.buildExportSpansRequestBytes('a', 'b', 'c', 'd', [Buffer.from([1, 2, 3])]), (error) => {
    assert.match(error.message, /^serialization error: failed to decode span proto bytes: /)
    assert.equal(error.code, 'InvalidProtobuf')
    return true
  })
})

function spanInputFor(api, payload, index) {
  const processed = api.processExportPayload(payload.valueJson, payload.mergesJson)
  const output = api.processExportPayload('{"status":200,"ok":true}')
  return {
    traceId: `trace-${index}`,
    spanId: `span-${index}`,
    parentSpanId: index % 2 ? `parent-${index}` : '',
    name: `GET /api/${payload.kind}`,
    packageName: payload.kind,
    instrumentationName: `${payload.kind}-instrumentation`,
    submoduleName: index % 3 ? 'GET' : '',
    packageType: index % 12,
    environment: index % 4 ? 'production' : undefined,
    kind: index % 6,
    inputSchemaJson: processed.decodedSchemaJson,
    outputSchemaJson: output.decodedSchemaJson,
    inputSchemaHash: processed.decodedSchemaHash,
    outputSchemaHash: output.decodedSchemaHash,
    inputValueHash: processed.decodedValueHash,
    outputValueHash: output.decodedValueHash,
    statusCode: index % 3,
    statusMessage: index % 3 === 2 ? 'boom' : '',
    isPreAppStart: index % 5 === 0,
    isRootSpan: index % 2 === 0,
    timestampSeconds: 1_700_000_000 + index,
    timestampNanos: 123_456 * index,
    durationSeconds: index % 3,
    durationNanos: 999_999 * index,
    metadataJson: index % 2 ? '{"region":"eu","attempt":2,"tags":["a","b"]}' : undefined,
    // Alternate between JSON values and prebuilt Struct bytes (which win when both are given).
    inputValueJson: index % 3 === 1 ? undefined : payload.valueJson,
    outputValueJson: '{"status":200,"ok":true}',
    inputValueProtoStructBytes: index % 3 === 1 ? processed.protobufStructBytes : undefined,
    outputValueProtoStructBytes: index % 4 === 3 ? output.protobufStructBytes : undefined,
  }
}

test('buildSpanProtoBytes decodes to the same Span for every fixture', () => {
  payloads.forEach((payload, index) => {
    const mine = ours.buildSpanProtoBytes(spanInputFor(ours, payload, index))
    const theirs = published.buildSpanProtoBytes(spanInputFor(published, payload, index))
    assert.deepEqual(decodeSpan(mine), decodeSpan(theirs), payload.id)
  })
})

test('buildSpanProtoBytes is deterministic (sorted schema properties), unlike the published one', () => {
  const input = spanInputFor(ours, payloads[5], 5)
  const first = ours.buildSpanProtoBytes(input)
  for (let i = 0; i < 20; i += 1) assert.deepEqual(ours.buildSpanProtoBytes(input), first)
})

test('buildExportSpansRequestBytes decodes to the same request, spans included', () => {
  const spans = payloads.slice(0, 12).map((payload, index) => ours.buildSpanProtoBytes(spanInputFor(ours, payload, index)))
  const mine = ours.buildExportSpansRequestBytes('svc-1', 'production', '0.1.27', 'sdk-123', spans)
  const theirs = published.buildExportSpansRequestBytes('svc-1', 'production', '0.1.27', 'sdk-123', spans)
  assert.deepEqual(decodeExportRequest(mine), decodeExportRequest(theirs))
  const empty = ours.buildExportSpansRequestBytes('', '', '', '', [])
  assert.deepEqual(decodeExportRequest(empty), decodeExportRequest(published.buildExportSpansRequestBytes('', '', '', '', [])))
})

test('out-of-range enums name the field, as published', () => {
  const base = spanInputFor(ours, payloads[0], 0)
  for (const [field, value, message] of [
    ['packageType', 42, 'invalid package_type enum: 42'],
    ['kind', 9, 'invalid kind enum: 9'],
    ['statusCode', -1, 'invalid status_code enum: -1'],
  ]) {
    const input = { ...base, [field]: value }
    assert.throws(() => published.buildSpanProtoBytes(input), { message })
    assert.throws(() => ours.buildSpanProtoBytes(input), (error) => {
      assert.equal(error.message, message)
      assert.equal(error.code, 'InvalidEnum')
      return true
    })
  }
})
