'use strict'

// Bad input of every kind gives a JavaScript Error (never a crash, never a hang): wrong types,
// invalid JSON strings, non-Buffer spans, random bytes, deep nesting.

const test = require('node:test')
const assert = require('node:assert/strict')
const crypto = require('node:crypto')

const ours = require('..')
const { seededRandom } = require('./helpers')

// Seeded: the same "random" inputs on every run.
const random = seededRandom(20261202)

const TEXT_FUNCTIONS = ['normalizeJson', 'deterministicHash', 'normalizeAndHash', 'objectToProtobufStructBytes',
  'objectToProtobufStructFieldCount', 'processExportPayload']

const WRONG_TYPES = [undefined, null, 42, true, {}, [], Buffer.from('{}'), Symbol('x'), () => '{}', 10n]

test('text functions reject non-string arguments with an Error', () => {
  for (const fn of TEXT_FUNCTIONS) {
    for (const bad of WRONG_TYPES) {
      assert.throws(() => ours[fn](bad), (error) => error instanceof Error && typeof error.code === 'string', `${fn}(${String(typeof bad)})`)
    }
  }
  assert.throws(() => ours.processExportPayload('{}', 42), Error)
  assert.throws(() => ours.processExportPayload('{}', {}), Error)
})

test('reused argument buffers: a short text after a long non-ASCII one reads only itself', () => {
  const long = '"' + 'é'.repeat(100) + '"'
  assert.equal(ours.normalizeJson(long), long)
  assert.equal(ours.normalizeJson('"ab"'), '"ab"')
  const hash = (text) => crypto.createHash('sha256').update(text, 'utf8').digest('hex')
  assert.equal(ours.deterministicHash(long), hash(long))
  assert.equal(ours.deterministicHash('"ab"'), hash('"ab"'))
  // Lone surrogates become U+FFFD, one per surrogate, as with the published addon.
  assert.equal(ours.normalizeJson('"a\uD800b"'), '"a\uFFFDb"')
})

test('buildExportSpansRequestBytes rejects non-Buffer spans and undecodable spans', () => {
  for (const spans of [undefined, null, 'spans', [1, 2], ['not a buffer'], [{}], [null], new Map()]) {
    assert.throws(() => ours.buildExportSpansRequestBytes('a', 'b', 'c', 'd', spans), Error)
  }
  assert.throws(() => ours.buildExportSpansRequestBytes(1, 'b', 'c', 'd', []), Error)
  // Random bytes: either a valid (if odd) span or an InvalidProtobuf error, never a crash.
  let rejected = 0
  for (let i = 0; i < 2000; i += 1) {
    const bytes = random.bytes(1 + (i % 64))
    try {
      const request = ours.buildExportSpansRequestBytes('svc', 'env', '1', 'i', [bytes])
      assert.ok(request.length >= bytes.length)
    } catch (error) {
      assert.equal(error.code, 'InvalidProtobuf')
      rejected += 1
    }
  }
  assert.ok(rejected > 0)
})

test('buildSpanProtoBytes rejects missing fields, wrong types and random Struct bytes', () => {
  const valid = {
    traceId: 't', spanId: 's', parentSpanId: '', name: 'n', packageName: 'p', instrumentationName: 'i',
    submoduleName: '', packageType: 0, kind: 0, inputSchemaJson: '{}', outputSchemaJson: '{}', inputSchemaHash: '',
    outputSchemaHash: '', inputValueHash: '', outputValueHash: '', statusCode: 0, statusMessage: '', isPreAppStart: false,
    isRootSpan: false, timestampSeconds: 0, timestampNanos: 0, durationSeconds: 0, durationNanos: 0,
  }
  assert.ok(ours.buildSpanProtoBytes(valid).length > 0)
  for (const bad of [undefined, null, 'span', 42, {}, { ...valid, traceId: 5 }, { ...valid, kind: 'x' },
    { ...valid, inputValueProtoStructBytes: 'not bytes' }, { ...valid, isRootSpan: 'yes' }]) {
    assert.throws(() => ours.buildSpanProtoBytes(bad), Error)
  }
  let rejected = 0
  for (let i = 0; i < 1000; i += 1) {
    try {
      ours.buildSpanProtoBytes({ ...valid, inputValueProtoStructBytes: random.bytes(1 + (i % 40)) })
    } catch (error) {
      assert.equal(error.code, 'InvalidProtobuf')
      rejected += 1
    }
  }
  assert.ok(rejected > 0)
})

test('buildSpanProtoBytes input errors name the field; null optionals, getters and arena reuse', () => {
  const { decodeSpan } = require('./helpers.js')
  const valid = {
    traceId: 't', spanId: 's', parentSpanId: '', name: 'n', packageName: 'p', instrumentationName: 'i',
    submoduleName: '', packageType: 0, kind: 0, inputSchemaJson: '{}', outputSchemaJson: '{}', inputSchemaHash: '',
    outputSchemaHash: '', inputValueHash: '', outputValueHash: '', statusCode: 0, statusMessage: '', isPreAppStart: false,
    isRootSpan: false, timestampSeconds: 0, timestampNanos: 0, durationSeconds: 0, durationNanos: 0,
  }
  for (const [bad, message] of [
    [undefined, 'buildSpanProtoBytes expects an input object'],
    [{ ...valid, traceId: 5 }, 'buildSpanProtoBytes input field `traceId` must be a string'],
    [{ ...valid, spanId: undefined }, 'buildSpanProtoBytes input field `spanId` must be a string'],
    [{ ...valid, kind: 'x' }, 'buildSpanProtoBytes input field `kind` must be a number'],
    [{ ...valid, timestampSeconds: null }, 'buildSpanProtoBytes input field `timestampSeconds` must be a number'],
    [{ ...valid, isRootSpan: 'yes' }, 'buildSpanProtoBytes input field `isRootSpan` must be a boolean'],
    [{ ...valid, environment: 7 }, 'buildSpanProtoBytes input field `environment` must be a string'],
    [{ ...valid, outputValueProtoStructBytes: 'x' }, 'buildSpanProtoBytes input field `outputValueProtoStructBytes` must be a Buffer'],
  ]) {
    assert.throws(() => ours.buildSpanProtoBytes(bad), { message, code: 'InvalidArg' })
  }
  // A throwing getter's own exception reaches the caller.
  assert.throws(() => ours.buildSpanProtoBytes({ ...valid, get name() { throw new RangeError('boom') } }), RangeError)
  // Optional fields accept null as well as undefined.
  const nulls = { ...valid, environment: null, metadataJson: null, inputValueJson: null, outputValueJson: null,
    inputValueProtoStructBytes: null, outputValueProtoStructBytes: null }
  assert.deepEqual(decodeSpan(ours.buildSpanProtoBytes(nulls)), decodeSpan(ours.buildSpanProtoBytes(valid)))
  // A getter that calls buildSpanProtoBytes again (re-entering while the arena is in use).
  const inner = ours.buildSpanProtoBytes({ ...valid, name: 'inner' })
  const reentrant = { ...valid, get name() { return `outer-${ours.buildSpanProtoBytes({ ...valid, name: 'inner' }).length}` } }
  assert.equal(decodeSpan(ours.buildSpanProtoBytes(reentrant)).name, `outer-${inner.length}`)
  // The reused arena: a large input, then a small one, each decodes to exactly its own fields.
  const big = { ...valid, name: 'big', inputValueJson: JSON.stringify({ blob: 'é'.repeat(100_000) }), metadataJson: '{"m":1}' }
  const small = { ...valid, name: 'small', environment: 'prod', inputValueJson: '{"a":1}' }
  const bigSpan = decodeSpan(ours.buildSpanProtoBytes(big))
  const smallSpan = decodeSpan(ours.buildSpanProtoBytes(small))
  assert.equal(bigSpan.name, 'big')
  assert.equal(bigSpan.inputValue.fields.blob.kind.stringValue.length, 100_000)
  assert.equal(smallSpan.name, 'small')
  assert.equal(smallSpan.environment, 'prod')
  assert.deepEqual(Object.keys(smallSpan.inputValue.fields), ['a'])
  assert.deepEqual(Object.keys(smallSpan.metadata.fields), [])
  assert.deepEqual(Object.keys(bigSpan.metadata.fields), ['m'])
})

test('random and hostile JSON texts give results or InvalidJson errors', () => {
  const alphabet = '{}[]",:0123456789.eE+-truefalsnl\\u \n\t'
  let errors = 0
  for (let i = 0; i < 3000; i += 1) {
    let text = ''
    const len = 1 + (i % 30)
    for (let j = 0; j < len; j += 1) text += alphabet[random.int(alphabet.length)]
    try {
      const normalized = ours.normalizeJson(text)
      assert.equal(ours.normalizeJson(normalized), normalized)
    } catch (error) {
      assert.equal(error.code, 'InvalidJson')
      errors += 1
    }
  }
  assert.ok(errors > 0)
  // Deep nesting: an error at 128 levels, not a stack overflow, even far deeper.
  for (const depth of [128, 1000, 100_000]) {
    assert.throws(() => ours.normalizeJson('['.repeat(depth) + ']'.repeat(depth)), { code: 'InvalidJson' })
    assert.throws(() => ours.processExportPayload(`{"a":${'{"b":'.repeat(depth)}1${'}'.repeat(depth)}}`), { code: 'InvalidJson' })
  }
  // Lone surrogates in a JS string become U+FFFD in UTF-8, as in the published addon.
  assert.equal(ours.normalizeJson('"\ud800"'), require('published-core').normalizeJson('"\ud800"'))
})

test('large results are memory V8 knows about: a loop of 4 MB requests stays bounded', async () => {
  const { execFile } = require('node:child_process')
  const path = require('node:path')
  // In a child process so its peak RSS is this loop's alone. 300 requests of ~4 MB: 1.2 GB if
  // the collector did not know about the external memory (it would not run in this loop).
  const source = `
    const core = require(${JSON.stringify(path.resolve(__dirname, '..'))})
    const span = core.buildSpanProtoBytes({ traceId: 't', spanId: 's', parentSpanId: '', name: 'n', packageName: 'p',
      instrumentationName: 'i', submoduleName: '', packageType: 0, kind: 0, inputSchemaJson: '{}', outputSchemaJson: '{}',
      inputSchemaHash: '', outputSchemaHash: '', inputValueHash: '', outputValueHash: '', statusCode: 0, statusMessage: '',
      isPreAppStart: false, isRootSpan: false, timestampSeconds: 0, timestampNanos: 0, durationSeconds: 0, durationNanos: 0,
      inputValueJson: JSON.stringify({ blob: 'x'.repeat(128 * 1024) }) })
    const spans = Array.from({ length: 32 }, () => span)
    let peak = 0
    for (let i = 0; i < 300; i += 1) {
      const request = core.buildExportSpansRequestBytes('svc', 'env', '1', 'i', spans)
      if (request.length < 4_000_000) throw new Error('unexpected size ' + request.length)
      peak = Math.max(peak, process.memoryUsage().rss)
    }
    console.log(peak)
  `
  const peak = await new Promise((resolve, reject) => {
    execFile(process.execPath, ['-e', source], { timeout: 120_000 }, (error, stdout, stderr) =>
      error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(Number(stdout.trim())))
  })
  assert.ok(peak < 700 * 1024 * 1024, `peak RSS ${(peak / 1048576).toFixed(0)} MB`)
})
