'use strict'

// Issue 14: the ring path records what the SDK's stock path records, field for field. A real
// node:http service under the published @use-tusk/drift-node-sdk (test/fixtures/stock-app.js)
// gets the same deterministic requests twice, on the stock path and on the ring (inbound over a
// Unix socket, so no client port differs); the trace files (text and names) and the ExportSpansRequests a mock backend on
// 127.0.0.1 receives (decoded with @use-tusk/drift-schemas) are diffed. Only what differs by
// nature may differ: trace and span ids, timestamps, durations, the SDK instance id.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const http = require('node:http')
const zlib = require('node:zlib')
const { execFile } = require('node:child_process')

const { tempDir, decodeExportRequest } = require('./helpers.js')
const { ExportSpansResponse } = require('@use-tusk/drift-schemas/backend/span_export_service')

const ADDON_DIR = path.resolve(__dirname, '..')
const SDK_PATH = require.resolve('@use-tusk/drift-node-sdk')
const APP = path.join(__dirname, 'fixtures', 'stock-app.js')
const REQUESTS = 3

function makeProject(configYaml) {
  const dir = tempDir('drift-identity-')
  fs.writeFileSync(path.join(dir, 'package.json'), '{"name":"identity-app","version":"1.0.0"}\n')
  fs.mkdirSync(path.join(dir, '.tusk'))
  fs.writeFileSync(path.join(dir, '.tusk', 'config.yaml'), configYaml)
  return dir
}

function listen(server) {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)))
}

/** The app's outbound calls go here: a JSON answer whose numbers are written `1.50`, `0.0`. */
async function startDownstream() {
  const server = http.createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      res.sendDate = false
      res.setHeader('content-type', 'application/json')
      res.end('{"currency":"EUR","rate":1.50,"fees":[0.0,2.0],"b":{"y":1e-7,"x":123456789012345680000}}')
    })
  })
  return { server, port: await listen(server) }
}

/** A mock Tusk backend: keeps every ExportSpans request body, answers success. */
async function startBackend() {
  const requests = []
  const server = http.createServer((req, res) => {
    const chunks = []
    req.on('data', (chunk) => chunks.push(chunk))
    req.on('end', () => {
      let body = Buffer.concat(chunks)
      if (req.headers['content-encoding'] === 'gzip') body = zlib.gunzipSync(body)
      requests.push({ url: req.url, headers: req.headers, body })
      res.setHeader('content-type', 'application/protobuf')
      res.end(Buffer.from(ExportSpansResponse.toBinary({ success: true, message: '' })))
    })
  })
  return { server, requests, url: `http://127.0.0.1:${await listen(server)}` }
}

function runApp(cwd, { useRing, downstreamPort }) {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [APP],
      {
        cwd,
        timeout: 60_000,
        env: {
          ...process.env,
          TUSK_DRIFT_MODE: 'RECORD',
          DRIFT_TEST_SDK_PATH: SDK_PATH,
          DRIFT_TEST_ADDON_DIR: ADDON_DIR,
          DRIFT_TEST_USE_RING: useRing ? '1' : '0',
          DRIFT_TEST_DOWNSTREAM_PORT: String(downstreamPort),
          DRIFT_TEST_APP_SOCKET: path.join(cwd, 'app.sock'),
        },
      },
      (error, stdout, stderr) => {
        if (error) return reject(new Error(`stock-app failed: ${error.message}\n${stderr}`))
        resolve(JSON.parse(stdout.trim().split('\n').pop()))
      },
    )
  })
}

// Fields whose values differ by nature between two runs.
const BY_NATURE = ['traceId', 'spanId', 'parentSpanId', 'timestamp', 'duration']

/** A trace file line with its by-nature values masked, keeping every other byte. */
function maskLine(line) {
  return line
    .replace(/"(traceId|spanId|parentSpanId)":"[0-9a-f]*"/g, '"$1":"<id>"')
    .replace(/"(timestamp|duration)":\{"seconds":\d+,"nanos":\d+\}/g, '"$1":"<time>"')
}

/** Spans of a run in a stable order: by their root span's name (the request), then root first,
 * then by name and kind. */
function orderSpans(spans) {
  const rootName = new Map()
  for (const span of spans) if (!span.parentSpanId) rootName.set(span.traceId, span.name)
  const keyOf = (span) => `${rootName.get(span.traceId)}|${span.parentSpanId ? 1 : 0}|${span.name}|${span.kind}`
  return [...spans].sort((a, b) => (keyOf(a) < keyOf(b) ? -1 : keyOf(a) > keyOf(b) ? 1 : 0))
}

function readTraceFiles(dir) {
  const tracesDir = path.join(dir, '.tusk', 'traces')
  return fs
    .readdirSync(tracesDir)
    .filter((name) => name.endsWith('.jsonl'))
    .map((name) => ({ name, lines: fs.readFileSync(path.join(tracesDir, name), 'utf8').split('\n') }))
}

test('file sink: trace files on the ring equal the stock path byte for byte (ids and times masked)', async (t) => {
  const downstream = await startDownstream()
  const config = 'service:\n  name: identity-test\n'
  const stockDir = makeProject(config)
  const ringDir = makeProject(config)
  t.after(() => {
    downstream.server.close()
    fs.rmSync(stockDir, { recursive: true, force: true })
    fs.rmSync(ringDir, { recursive: true, force: true })
  })
  await runApp(stockDir, { useRing: false, downstreamPort: downstream.port })
  const ring = await runApp(ringDir, { useRing: true, downstreamPort: downstream.port })

  const stockFiles = readTraceFiles(stockDir)
  const ringFiles = readTraceFiles(ringDir)
  // One file per trace, named `<Date.toISOString() with - for : and .>_trace_<traceId>.jsonl`.
  const fileName = /^\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d-\d{3}Z_trace_([0-9a-f]{32})\.jsonl$/
  assert.equal(stockFiles.length, REQUESTS)
  assert.equal(ringFiles.length, stockFiles.length)
  for (const { name, lines } of [...stockFiles, ...ringFiles]) {
    const match = fileName.exec(name)
    assert.ok(match, `file name ${name}`)
    assert.equal(lines.pop(), '', `${name} ends with a newline`)
    for (const line of lines) assert.equal(JSON.parse(line).traceId, match[1])
  }
  const spansOf = (files) =>
    files.flatMap(({ lines }) => lines.map((line) => ({ line, span: JSON.parse(line) })))
  const stockSpans = spansOf(stockFiles)
  const ringSpans = spansOf(ringFiles)
  // Each request: a SERVER span and the CLIENT span of its outbound call.
  assert.equal(stockSpans.length, 2 * REQUESTS)
  assert.equal(ringSpans.length, stockSpans.length)
  assert.equal(ring.stats.pushed, ringSpans.length)
  assert.equal(ring.health.droppedTotal, 0)

  const order = (entries) => {
    const bySpan = new Map(entries.map((entry) => [entry.span, entry]))
    return orderSpans(entries.map((entry) => entry.span)).map((span) => bySpan.get(span))
  }
  const stockOrdered = order(stockSpans)
  const ringOrdered = order(ringSpans)
  let compared = 0
  for (let i = 0; i < stockOrdered.length; i += 1) {
    const want = stockOrdered[i]
    const got = ringOrdered[i]
    assert.equal(maskLine(got.line), maskLine(want.line), `span ${i} (${want.span.name})`)
    // The masked fields are there, with the same shape.
    for (const field of BY_NATURE) assert.equal(typeof got.span[field], typeof want.span[field], field)
    assert.equal(Boolean(got.span.parentSpanId), Boolean(want.span.parentSpanId))
    compared += 1
  }
  assert.equal(compared, 2 * REQUESTS)
})

test('api sink: ExportSpansRequests on the ring equal the stock path field for field', async (t) => {
  const downstream = await startDownstream()
  const backend = await startBackend()
  const config = [
    'service:',
    '  name: identity-test',
    '  id: svc-identity',
    'tusk_api:',
    `  url: ${backend.url}`,
    'recording:',
    '  export_spans: true',
    '',
  ].join('\n')
  const stockDir = makeProject(config)
  const ringDir = makeProject(config)
  t.after(() => {
    downstream.server.close()
    backend.server.close()
    fs.rmSync(stockDir, { recursive: true, force: true })
    fs.rmSync(ringDir, { recursive: true, force: true })
  })
  await runApp(stockDir, { useRing: false, downstreamPort: downstream.port })
  const stockRequests = backend.requests.splice(0)
  await runApp(ringDir, { useRing: true, downstreamPort: downstream.port })
  const ringRequests = backend.requests.splice(0)
  assert.ok(stockRequests.length >= 1 && ringRequests.length >= 1)

  const decodeAll = (requests) => requests.map((request) => decodeExportRequest(request.body))
  const stockDecoded = decodeAll(stockRequests)
  const ringDecoded = decodeAll(ringRequests)
  for (const request of [...stockDecoded, ...ringDecoded]) {
    assert.equal(request.observableServiceId, 'svc-identity')
    assert.equal(request.environment, stockDecoded[0].environment)
    assert.equal(request.sdkVersion, stockDecoded[0].sdkVersion)
    assert.match(request.sdkInstanceId, /^sdk-\d+-[0-9a-z]+$/)
  }
  for (const request of ringRequests) {
    assert.equal(request.headers['x-api-key'], 'identity-key')
    assert.equal(request.headers['x-td-skip-instrumentation'], 'true')
  }
  const stockSpans = orderSpans(stockDecoded.flatMap((request) => request.spans))
  const ringSpans = orderSpans(ringDecoded.flatMap((request) => request.spans))
  assert.equal(stockSpans.length, 2 * REQUESTS)
  assert.equal(ringSpans.length, stockSpans.length)
  const strip = (span) => {
    const copy = { ...span }
    for (const field of BY_NATURE) delete copy[field]
    return copy
  }
  for (let i = 0; i < stockSpans.length; i += 1) {
    assert.deepEqual(strip(ringSpans[i]), strip(stockSpans[i]), `span ${i} (${stockSpans[i].name})`)
    assert.equal(Boolean(ringSpans[i].parentSpanId), Boolean(stockSpans[i].parentSpanId))
    assert.ok(ringSpans[i].timestamp && ringSpans[i].duration)
  }
})

// Every fixture payload (tests/fixtures/span_payloads.jsonl), with the SDK's camelCase merges:
// the schemas and hashes the ring writes equal what the SDK's own JsonSchemaHelper computes.
test('fixture payloads: the ring writes the schemas and hashes of the SDK JsonSchemaHelper', async (t) => {
  const { RingExporter } = require('..')
  const { loadSpanPayloads } = require('./helpers.js')
  const { sdkSchemaAndHash } = require('./node-sdk-oracle.js')
  const camel = (mergesJson) =>
    mergesJson && mergesJson.replace(/"decoded_type"/g, '"decodedType"').replace(/"match_importance"/g, '"matchImportance"')
  const dir = tempDir('drift-identity-fixtures-')
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  // Room for every span at once (a few fixtures are 200 kB, and each is pushed as both sides).
  const exporter = new RingExporter({
    ringDir: path.join(dir, 'ring'),
    ringCapacityBytes: 64 << 20,
    sink: 'file',
    tracesDir: path.join(dir, 'traces'),
  })
  const payloads = loadSpanPayloads()
  const expected = new Map()
  payloads.forEach((payload, i) => {
    const traceId = `fixture${String(i).padStart(25, '0')}`
    const merges = camel(payload.mergesJson)
    expected.set(traceId, { input: sdkSchemaAndHash(payload.valueJson, merges), output: sdkSchemaAndHash(payload.valueJson, merges) })
    assert.equal(
      exporter.pushSpan({
        traceId, spanId: `s${i}`, parentSpanId: '', name: `fixture-${i}`, packageName: 'p', instrumentationName: 'i',
        submoduleName: '', packageType: 1, kind: 3, statusCode: 1, statusMessage: '', isPreAppStart: false,
        isRootSpan: false, timestampSeconds: 1, timestampNanos: 0, durationSeconds: 0, durationNanos: 1,
        inputValueJson: payload.valueJson, outputValueJson: payload.valueJson,
        inputSchemaMergesJson: merges, outputSchemaMergesJson: merges,
      }),
      true,
    )
  })
  assert.equal(await exporter.forceFlush(60_000), true)
  await exporter.shutdown(10_000)
  const lines = fs
    .readdirSync(path.join(dir, 'traces'))
    .flatMap((name) => fs.readFileSync(path.join(dir, 'traces', name), 'utf8').split('\n').filter(Boolean))
    .map((line) => JSON.parse(line))
  assert.equal(lines.length, payloads.length)
  for (const line of lines) {
    const want = expected.get(line.traceId)
    for (const side of ['input', 'output']) {
      assert.equal(line[`${side}ValueHash`], want[side].decodedValueHash, `${line.name} ${side}ValueHash`)
      assert.equal(line[`${side}SchemaHash`], want[side].decodedSchemaHash, `${line.name} ${side}SchemaHash`)
      assert.deepEqual(line[`${side}Schema`], want[side].schema, `${line.name} ${side}Schema`)
    }
  }
})
