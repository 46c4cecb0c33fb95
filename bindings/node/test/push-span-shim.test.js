'use strict'

// `RingExporter.prototype.pushSpan` is a JavaScript shim (installed when the addon loads) that
// reads the span's properties and calls `pushSpanFields`; these tests pin it against the native
// object reader it replaced: the same spans written, the same errors, the native method still
// taking anything that is not an object.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')

const { RingExporter } = require('..')
const { loadSpanPayloads, tempDir } = require('./helpers.js')

const payloads = loadSpanPayloads()

const NAMES = [
  'traceId', 'spanId', 'parentSpanId', 'name', 'packageName', 'instrumentationName', 'submoduleName',
  'packageType', 'kind', 'environment', 'statusCode', 'statusMessage', 'isPreAppStart', 'isRootSpan',
  'timestampSeconds', 'timestampNanos', 'durationSeconds', 'durationNanos', 'inputValueJson',
  'outputValueJson', 'inputSchemaMergesJson', 'outputSchemaMergesJson', 'metadataJson',
  'transformMetadataJson', 'stackTrace',
]

function fullSpan(i, payload) {
  return {
    traceId: `trace-${i}`,
    spanId: `span-${i}`,
    parentSpanId: i % 2 ? 'parent' : undefined,
    name: 'GET /x',
    packageName: payload.kind,
    instrumentationName: 'Instr',
    submoduleName: i % 3 ? 'sub' : null,
    packageType: i % 4 ? 1 : undefined,
    kind: 2,
    environment: i % 2 ? 'production' : null,
    statusCode: 1,
    statusMessage: i % 2 ? 'ok' : undefined,
    isPreAppStart: i % 2 === 0,
    isRootSpan: i % 3 === 0 ? undefined : true,
    timestampSeconds: 1_700_000_000 + i,
    timestampNanos: i,
    durationSeconds: 0,
    durationNanos: 1_500_000,
    inputValueJson: payload.valueJson,
    outputValueJson: i % 2 ? '{"status":200,"body":"eyJvayI6dHJ1ZX0="}' : undefined,
    inputSchemaMergesJson: payload.mergesJson,
    outputSchemaMergesJson: i % 2 ? '{"body":{"encoding":1,"decoded_type":1}}' : null,
    metadataJson: '{"k":"é😀"}',
    transformMetadataJson: undefined,
    stackTrace: i % 5 ? undefined : 'at f (x.js:1:1)',
  }
}

/** The span as a class instance whose fields are prototype getters (not own properties). */
function asGetters(span) {
  class Span {}
  for (const name of NAMES) Object.defineProperty(Span.prototype, name, { get: () => span[name] })
  return new Span()
}

async function writtenLines(push) {
  const traces = tempDir('drift-shim-')
  const exporter = new RingExporter({ ringDir: tempDir('drift-shim-ring-'), sink: 'file', tracesDir: traces, scheduleDelayMillis: 60_000 })
  try {
    push(exporter)
    assert.equal(await exporter.forceFlush(60_000), true)
  } finally {
    await exporter.shutdown(5000)
  }
  const lines = fs
    .readdirSync(traces)
    .filter((name) => name.endsWith('.jsonl'))
    .flatMap((name) => fs.readFileSync(path.join(traces, name), 'utf8').split('\n').filter(Boolean))
  fs.rmSync(traces, { recursive: true, force: true })
  return lines
}

test('pushSpan is the JavaScript shim and its field list is the schema table', () => {
  const source = RingExporter.prototype.pushSpan.toString()
  assert.doesNotMatch(source, /\[native code\]/)
  const call = source.match(/pushSpanFields\.call\(this, ([^)]*)\)/)
  assert.ok(call)
  assert.deepEqual(call[1].split(',').map((arg) => arg.trim().replace(/^span\./, '')), NAMES)
  const descriptor = Object.getOwnPropertyDescriptor(RingExporter.prototype, 'pushSpan')
  assert.equal(descriptor.enumerable, false)
})

test('pushSpan writes exactly what pushSpanFields writes (own properties, getters, nullish fields)', async () => {
  const spans = payloads.slice(0, 24).map((payload, i) => fullSpan(i, payload))
  const viaObject = await writtenLines((exporter) => {
    for (const [i, span] of spans.entries()) assert.equal(exporter.pushSpan(i % 3 === 1 ? asGetters(span) : span), true)
  })
  const viaFields = await writtenLines((exporter) => {
    for (const span of spans) assert.equal(exporter.pushSpanFields(...NAMES.map((name) => span[name])), true)
  })
  assert.equal(viaObject.length, spans.length)
  assert.deepEqual(viaObject.sort(), viaFields.sort())
})

test('pushSpan errors: not an object (native message), wrong field types, missing required fields', () => {
  const exporter = new RingExporter({ sink: 'file', tracesDir: tempDir('drift-shim-'), scheduleDelayMillis: 60_000 })
  try {
    for (const bad of [undefined, null, 1, 'span', true, () => {}]) {
      assert.throws(() => exporter.pushSpan(bad), /pushSpan expects a span object/)
    }
    assert.throws(() => exporter.pushSpan(), /pushSpan expects a span object/)
    const span = fullSpan(0, payloads[0])
    assert.throws(() => exporter.pushSpan({ ...span, traceId: undefined }), /`traceId`/)
    assert.throws(() => exporter.pushSpan({ ...span, kind: '2' }), /`kind`/)
    assert.throws(() => exporter.pushSpan({ ...span, inputValueJson: 1 }), /`inputValueJson`/)
    assert.throws(() => exporter.pushSpan({}), /`traceId`/)
  } finally {
    exporter.shutdownSync(5000)
  }
})

test('index.d.ts marks the trailing nullable pushSpanFields parameters optional, and they may be left out', async () => {
  const dts = fs.readFileSync(path.join(__dirname, '..', 'index.d.ts'), 'utf8')
  const params = dts.match(/pushSpanFields\(([^)]*)\)/)[1].split(', ')
  const optional = params.filter((param) => /^\w+\?:/.test(param)).map((param) => param.split('?')[0])
  assert.deepEqual(optional, NAMES.slice(NAMES.indexOf('inputValueJson') + 1))
  const span = fullSpan(1, payloads[0])
  const required = NAMES.slice(0, NAMES.indexOf('inputValueJson') + 1)
  const short = await writtenLines((exporter) => {
    assert.equal(exporter.pushSpanFields(...required.map((name) => span[name])), true)
  })
  const explicit = await writtenLines((exporter) => {
    assert.equal(exporter.pushSpanFields(...NAMES.map((name) => (required.includes(name) ? span[name] : undefined))), true)
  })
  assert.deepEqual(short, explicit)
})
