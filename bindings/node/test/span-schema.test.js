'use strict'

// One span schema: the span field table (exporter/src/record/fields.rs), the generated
// `index.d.ts` (`RingSpan`, `pushSpanFields`) and what the addon reads agree; the health snapshot
// the addon builds from the exporter's named entries has exactly the fields `index.d.ts` declares.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')

const { RingExporter } = require('..')
const { tempDir } = require('./helpers.js')

const root = path.join(__dirname, '..', '..', '..')
const dts = fs.readFileSync(path.join(__dirname, '..', 'index.d.ts'), 'utf8')

/** The JavaScript names of the schema table's rows, in table order. */
function tableJsNames() {
  const source = fs.readFileSync(path.join(root, 'exporter', 'src', 'record', 'fields.rs'), 'utf8')
  const body = source.slice(source.indexOf('macro_rules! with_span_fields'))
  const table = body.slice(0, body.indexOf('\n}\n'))
  const names = []
  for (const row of table.matchAll(/=>\s*\[([^\]]*)\]/g)) {
    for (const entry of row[1].matchAll(/\w+\s*=\s*"(\w+)"/g)) names.push(entry[1])
  }
  return names
}

/** The field names of an `export interface` in index.d.ts, in order. */
function interfaceFields(name) {
  const start = dts.indexOf(`export interface ${name} {`)
  assert.notEqual(start, -1, `index.d.ts declares ${name}`)
  const body = dts.slice(start, dts.indexOf('\n}\n', start))
  return [...body.matchAll(/^\s{2}(\w+)\??:/gm)].map((match) => match[1])
}

test('index.d.ts RingSpan lists exactly the schema table JS names, in order', () => {
  const names = tableJsNames()
  assert.equal(names.length, 25)
  assert.deepEqual(interfaceFields('RingSpan'), names)
})

test('pushSpanFields takes the schema table JS names as its parameters, in order', () => {
  const signature = dts.match(/pushSpanFields\(([^)]*)\)/)
  assert.ok(signature, 'index.d.ts declares pushSpanFields')
  const params = signature[1].split(',').map((param) => param.trim().split(/\??:/)[0])
  assert.deepEqual(params, tableJsNames())
})

test('pushSpan reads every schema field by its JS name (a wrong type names the field)', () => {
  const exporter = new RingExporter({ sink: 'file', tracesDir: tempDir('schema-'), scheduleDelayMillis: 60_000 })
  try {
    const span = {
      traceId: 't',
      spanId: 's',
      name: 'n',
      packageName: 'p',
      instrumentationName: 'i',
      kind: 2,
      statusCode: 1,
      timestampSeconds: 1,
      timestampNanos: 2,
      durationSeconds: 3,
      durationNanos: 4,
      inputValueJson: '{}',
    }
    assert.equal(exporter.pushSpan(span), true)
    for (const name of tableJsNames()) {
      assert.throws(() => exporter.pushSpan({ ...span, [name]: Symbol('wrong') }), new RegExp(`\`${name}\``))
    }
  } finally {
    exporter.shutdownSync(5000)
  }
})

test('getHealthSnapshot has exactly the fields index.d.ts declares', () => {
  const exporter = new RingExporter({ sink: 'file', tracesDir: tempDir('schema-') })
  try {
    const health = exporter.getHealthSnapshot()
    assert.deepEqual(Object.keys(health), interfaceFields('RingExporterHealth'))
    assert.deepEqual(Object.keys(health.dropped), interfaceFields('DroppedSpans'))
    assert.equal(health.circuitState, 'closed')
    assert.equal(health.running, true)
    assert.equal(typeof health.fillRatio, 'number')
  } finally {
    exporter.shutdownSync(5000)
  }
})
