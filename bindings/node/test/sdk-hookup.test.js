'use strict'

// End to end: the published @use-tusk/drift-node-sdk in RECORD mode records a small HTTP service
// (test/fixtures/sdk-app.js, a child process); with the one documented line its spans go through
// the ring exporter. Compared against the SDK's stock export path, to a file sink and to a local
// mock of the Tusk backend.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const http = require('node:http')
const zlib = require('node:zlib')
const { execFile } = require('node:child_process')

const { tempDir, decodeExportRequest, ExportSpansRequest } = require('./helpers.js')
const { sdkSchemaAndHash } = require('./node-sdk-oracle.js')
const { ExportSpansResponse } = require('@use-tusk/drift-schemas/backend/span_export_service')

const ADDON_DIR = path.resolve(__dirname, '..')
const SDK_PATH = require.resolve('@use-tusk/drift-node-sdk')
const APP = path.join(__dirname, 'fixtures', 'sdk-app.js')
const EXPORT_PATH = '/api/drift/tusk.drift.backend.v1.SpanExportService/ExportSpans'

function makeProject(configYaml) {
  const dir = tempDir('drift-sdk-app-')
  fs.writeFileSync(path.join(dir, 'package.json'), '{"name":"hookup-app","version":"1.0.0"}\n')
  fs.mkdirSync(path.join(dir, '.tusk'))
  fs.writeFileSync(path.join(dir, '.tusk', 'config.yaml'), configYaml)
  return dir
}

function runApp(cwd, { useRing, env = {}, nodeArgs = [] }) {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [...nodeArgs, APP],
      {
        cwd,
        timeout: 60_000,
        env: {
          ...process.env,
          TUSK_DRIFT_MODE: 'RECORD',
          DRIFT_TEST_SDK_PATH: SDK_PATH,
          DRIFT_TEST_ADDON_DIR: ADDON_DIR,
          DRIFT_TEST_USE_RING: useRing ? '1' : '0',
          ...env,
        },
      },
      (error, stdout, stderr) => {
        if (error) return reject(new Error(`sdk-app failed: ${error.message}\n${stderr}`))
        const line = stdout.trim().split('\n').pop()
        resolve({ result: JSON.parse(line), stderr })
      },
    )
  })
}

function readTraceSpans(dir) {
  const tracesDir = path.join(dir, '.tusk', 'traces')
  if (!fs.existsSync(tracesDir)) return []
  return fs
    .readdirSync(tracesDir)
    .filter((name) => name.endsWith('.jsonl'))
    .flatMap((name) =>
      fs
        .readFileSync(path.join(tracesDir, name), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line)),
    )
}

function startMockBackend() {
  const requests = []
  const server = http.createServer((req, res) => {
    const chunks = []
    req.on('data', (chunk) => chunks.push(chunk))
    req.on('end', () => {
      let body = Buffer.concat(chunks)
      if (req.headers['content-encoding'] === 'gzip') body = zlib.gunzipSync(body)
      requests.push({ method: req.method, url: req.url, headers: req.headers, body })
      res.setHeader('content-type', 'application/protobuf')
      res.end(Buffer.from(ExportSpansResponse.toBinary({ success: true, message: '' })))
    })
  })
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve({ server, requests, url: `http://127.0.0.1:${server.address().port}` }))
  })
}

test('file sink: the ring path writes the spans the stock path writes, with the SDK hashes', async (t) => {
  const config = 'service:\n  name: hookup-test\n'
  const stockDir = makeProject(config)
  const ringDir = makeProject(config)
  t.after(() => {
    fs.rmSync(stockDir, { recursive: true, force: true })
    fs.rmSync(ringDir, { recursive: true, force: true })
  })
  const [stock, ring] = await Promise.all([runApp(stockDir, { useRing: false }), runApp(ringDir, { useRing: true })])
  assert.equal(stock.result.stats, null)
  const stockSpans = readTraceSpans(stockDir)
  const ringSpans = readTraceSpans(ringDir)
  assert.ok(stockSpans.length >= 5, `stock path wrote ${stockSpans.length} spans`)
  assert.equal(ringSpans.length, stockSpans.length)
  assert.equal(ring.result.stats.pushed, ringSpans.length)
  assert.equal(ring.result.health.exported, ringSpans.length)
  assert.equal(ring.result.health.droppedTotal, 0)

  const byName = (spans) => new Map(spans.map((span) => [span.name, span]))
  const stockByName = byName(stockSpans)
  for (const span of ringSpans) {
    const twin = stockByName.get(span.name)
    assert.ok(twin, `stock path has a span named ${span.name}`)
    for (const field of ['packageName', 'instrumentationName', 'submoduleName', 'packageType', 'environment',
      'isRootSpan', 'isPreAppStart', 'parentSpanId']) {
      assert.deepEqual(span[field], twin[field], `${span.name}.${field}`)
    }
    assert.equal(span.traceId.length, 32)
    // Values other than the per-run port numbers are the same.
    assert.equal(span.inputValue.method, twin.inputValue.method)
    assert.equal(span.inputValue.body, twin.inputValue.body)
    assert.equal(span.outputValue.body, twin.outputValue.body)
    // The hashes are the SDK's own (its JsonSchemaHelper): recompute them from the exported values.
    const inputMerges = { body: { encoding: 1, decodedType: 1 }, headers: { matchImportance: 0 } }
    const expected = sdkSchemaAndHash(JSON.stringify(span.inputValue), JSON.stringify(inputMerges))
    assert.equal(span.inputValueHash, expected.decodedValueHash, `${span.name} inputValueHash`)
    assert.equal(span.inputSchemaHash, expected.decodedSchemaHash, `${span.name} inputSchemaHash`)
  }
})

test('api sink: the ring path posts ExportSpansRequest to the backend like the stock path', async (t) => {
  const backend = await startMockBackend()
  t.after(() => backend.server.close())
  const config = [
    'service:',
    '  name: hookup-test',
    '  id: svc-hookup',
    'tusk_api:',
    `  url: ${backend.url}`,
    'recording:',
    '  export_spans: true',
    '',
  ].join('\n')
  const stockDir = makeProject(config)
  const ringDir = makeProject(config)
  t.after(() => {
    fs.rmSync(stockDir, { recursive: true, force: true })
    fs.rmSync(ringDir, { recursive: true, force: true })
  })
  await runApp(stockDir, { useRing: false, env: { DRIFT_TEST_API_KEY: 'stock-key' } })
  const stockRequests = backend.requests.splice(0)
  const ring = await runApp(ringDir, { useRing: true, env: { DRIFT_TEST_API_KEY: 'ring-key' } })
  const ringRequests = backend.requests.splice(0)

  assert.ok(stockRequests.length >= 1)
  assert.ok(ringRequests.length >= 1)
  for (const request of ringRequests) {
    assert.equal(request.method, 'POST')
    assert.equal(request.url, EXPORT_PATH)
    assert.equal(request.headers['x-api-key'], 'ring-key')
    assert.equal(request.headers['x-td-skip-instrumentation'], 'true')
    assert.match(request.headers['content-type'], /application\/protobuf/)
  }
  const decodeAll = (requests) => requests.map((request) => ExportSpansRequest.fromBinary(request.body))
  const stockDecoded = decodeAll(stockRequests)
  const ringDecoded = decodeAll(ringRequests)
  const stockSpans = stockDecoded.flatMap((request) => request.spans)
  const ringSpans = ringDecoded.flatMap((request) => request.spans)
  assert.equal(ringSpans.length, stockSpans.length)
  assert.equal(ring.result.health.exported, ringSpans.length)
  assert.equal(ringDecoded[0].observableServiceId, 'svc-hookup')
  assert.equal(ringDecoded[0].observableServiceId, stockDecoded[0].observableServiceId)
  assert.equal(ringDecoded[0].environment, stockDecoded[0].environment)
  assert.equal(ringDecoded[0].sdkVersion, stockDecoded[0].sdkVersion)
  assert.match(ringDecoded[0].sdkInstanceId, /^sdk-/)

  const stockByName = new Map(stockSpans.map((span) => [span.name, span]))
  for (const span of ringSpans) {
    const twin = stockByName.get(span.name)
    assert.ok(twin, span.name)
    for (const field of ['packageName', 'instrumentationName', 'submoduleName', 'packageType', 'kind', 'environment',
      'isRootSpan', 'isPreAppStart']) {
      assert.deepEqual(span[field], twin[field], `${span.name}.${field}`)
    }
    assert.deepEqual(span.status, twin.status)
    assert.deepEqual(Object.keys(span.inputValue.fields).sort(), Object.keys(twin.inputValue.fields).sort())
    assert.equal(span.inputValue.fields.body.kind.stringValue, twin.inputValue.fields.body.kind.stringValue)
    assert.ok(span.inputSchema && span.outputSchema)
    assert.equal(span.inputSchemaHash.length, 64)
  }
  // Also exercised here: the decode helper on a whole request.
  assert.equal(decodeExportRequest(ringRequests[0].body).observableServiceId, 'svc-hookup')
})

const ACTIVE_LINE = /^\[drift-core\] ring exporter active for @use-tusk\/drift-node-sdk 0\.1\.27: sink file \(.*\.tusk\/traces\), in-process ring, spans taken at the SDK's span processor$/m

test('no code change: TUSK_RING_EXPORTER=1 with -r register routes spans through the ring', async (t) => {
  const dir = makeProject('service:\n  name: hookup-test\n')
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  const { stderr } = await runApp(dir, {
    useRing: false,
    nodeArgs: ['-r', path.join(ADDON_DIR, 'register.js')],
    env: { TUSK_RING_EXPORTER: '1', DRIFT_TEST_REQUESTS: '3' },
  })
  // The ring path writes what the stock path writes; the startup line says which one ran.
  assert.match(stderr, ACTIVE_LINE)
  assert.equal(stderr.match(/\[drift-core\]/g).length, 1)
  assert.doesNotMatch(stderr, /Warning/)
  const spans = readTraceSpans(dir)
  assert.equal(spans.length, 3)
  for (const span of spans) {
    assert.equal(span.inputSchema.properties.body.decodedType, 1)
    assert.equal(span.kind, 1) // OpenTelemetry's SERVER, as the SDK's file adapter writes it
  }
})

/** Runs sdk-app.js with `-r <register>`; the app must finish and record on the stock path. */
async function runStockFallback(t, { register = path.join(ADDON_DIR, 'register.js'), env, sdkPath }) {
  const dir = makeProject('service:\n  name: hookup-test\n')
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  const { stderr } = await runApp(dir, {
    useRing: false,
    nodeArgs: ['-r', register],
    env: { DRIFT_TEST_REQUESTS: '2', ...(sdkPath ? { DRIFT_TEST_SDK_PATH: sdkPath } : {}), ...env },
  })
  assert.doesNotMatch(stderr, /\[drift-core\] ring exporter active/)
  assert.equal(readTraceSpans(dir).length, 2, 'the stock path recorded every request')
  const warnings = stderr.match(/^\(node:\d+\) \[(TUSK_[A-Z_]+)\] Warning: .*$/gm) || []
  assert.equal(warnings.length, 1, stderr)
  assert.match(warnings[0], /the SDK's stock export path stays in use$/)
  return warnings[0]
}

test('fail open: an invalid TUSK_RING_EXPORTER value warns once and the stock path runs', async (t) => {
  const warning = await runStockFallback(t, { env: { TUSK_RING_EXPORTER: 'fiel' } })
  assert.match(warning, /\[TUSK_RING_EXPORTER_INVALID\] Warning: TUSK_RING_EXPORTER="fiel" is not one of/)
})

test('fail open: a missing native binary warns once (no "npm has a bug") and the stock path runs', async (t) => {
  // The package's JavaScript without its `.node` binary, as on a platform without a prebuild.
  const pkg = tempDir('drift-core-nobinary-')
  t.after(() => fs.rmSync(pkg, { recursive: true, force: true }))
  for (const file of ['package.json', 'index.js', 'sdk.js', 'register.js']) {
    fs.copyFileSync(path.join(ADDON_DIR, file), path.join(pkg, file))
  }
  const warning = await runStockFallback(t, { register: path.join(pkg, 'register.js'), env: { TUSK_RING_EXPORTER: '1' } })
  assert.match(warning, /\[TUSK_RING_EXPORTER_NO_ADDON\] Warning: TUSK_RING_EXPORTER is set but the native addon/)
  assert.doesNotMatch(warning, /npm has a bug/)
})

test('fail open: an SDK version the hook does not know is left alone, with one warning', async (t) => {
  // The real SDK under another version number: its package.json says 0.1.99, its code is 0.1.27's.
  const project = tempDir('drift-sdk-other-version-')
  t.after(() => fs.rmSync(project, { recursive: true, force: true }))
  const sdkDir = path.join(project, 'node_modules', '@use-tusk', 'drift-node-sdk')
  fs.mkdirSync(sdkDir, { recursive: true })
  const realSdkDir = path.dirname(require.resolve('@use-tusk/drift-node-sdk/package.json'))
  const manifest = JSON.parse(fs.readFileSync(path.join(realSdkDir, 'package.json'), 'utf8'))
  fs.writeFileSync(path.join(sdkDir, 'package.json'), JSON.stringify({ ...manifest, version: '0.1.99' }))
  fs.symlinkSync(path.join(realSdkDir, 'dist'), path.join(sdkDir, 'dist'))
  const warning = await runStockFallback(t, {
    env: { TUSK_RING_EXPORTER: '1', NODE_PATH: path.join(project, 'node_modules') },
    sdkPath: require.resolve(sdkDir),
  })
  assert.match(warning, /\[TUSK_RING_EXPORTER_UNSUPPORTED_SDK\] Warning: .*supports @use-tusk\/drift-node-sdk 0\.1\.27, not 0\.1\.99/)
})

test('the hook keeps the SDK filters: spans of other libraries and oversized spans are not pushed', () => {
  const { useRingExporter } = require('../sdk.js')
  const pushed = []
  const fakeExporter = {
    pushSpan(span) {
      pushed.push(span)
      return true
    },
    forceFlush: async () => true,
    shutdown: async () => true,
    getHealthSnapshot: () => ({}),
  }
  const sdkExporter = { mode: 'RECORD', environment: 'env-x', export: () => assert.fail('stock export called'), getAdapters: () => [] }
  const handle = useRingExporter({ spanExporter: sdkExporter }, { exporter: fakeExporter, flushOnExit: false })
  const span = (overrides) => ({
    instrumentationLibrary: { name: 'tusk-drift-sdk' },
    spanContext: () => ({ traceId: overrides.traceId || 't1', spanId: 's1' }),
    parentSpanId: undefined,
    kind: 2,
    status: { code: 1 },
    startTime: [1, 2],
    duration: [0, 5],
    attributes: { 'td.name': 'q', 'td.inputValue': '{"a":1}', 'td.packageType': 4, ...overrides.attributes },
    ...overrides,
  })
  const results = []
  sdkExporter.export(
    [
      span({}),
      span({ instrumentationLibrary: { name: 'other' } }),
      span({ traceId: 'big', attributes: { 'td.inputValue': JSON.stringify({ x: 'y'.repeat(1_100_000) }) } }),
      span({ traceId: 'big' }),
      span({ traceId: 'srv', kind: 1, status: { code: 2 } }),
      span({ traceId: 'srv' }),
      span({ traceId: 'html', kind: 1, attributes: { 'td.outputSchemaMerges': '{"body":{"encoding":1,"decodedType":2}}' } }),
      span({ traceId: 'ok2', attributes: { 'td.inputSchemaMerges': '{"body":{"encoding":1,"decodedType":1},"headers":{"matchImportance":0}}' } }),
    ],
    (result) => results.push(result),
  )
  assert.deepEqual(results, [{ code: 0 }])
  assert.deepEqual(pushed.map((s) => s.traceId), ['t1', 'ok2'])
  assert.equal(handle.stats.filtered, 6)
  assert.equal(pushed[0].kind, 3) // OTel CLIENT -> proto CLIENT
  assert.equal(pushed[0].statusCode, 1)
  assert.equal(pushed[0].packageType, 4)
  assert.equal(pushed[0].environment, 'env-x')
  assert.equal(pushed[0].inputValueJson, '{"a":1}')
  // The SDK's merges text, untouched: the exporter's Node flavour reads the SDK's camelCase keys.
  assert.equal(pushed[1].inputSchemaMergesJson, '{"body":{"encoding":1,"decodedType":1},"headers":{"matchImportance":0}}')
  handle.restore()
})

// Issue 10: the hook takes each span when it ends (at the SDK's span processor), so an app that
// exits right after its last response, before the SDK's 2 s batch delay and the ring's own
// schedule delay, loses nothing: what is in the ring is drained on `exit`.
for (const end of ['exit', 'throw']) {
  test(`spans that ended are delivered when the app ends at once (${end === 'exit' ? 'process.exit()' : 'uncaught exception'})`, async (t) => {
    const dir = makeProject('service:\n  name: hookup-test\n')
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
    const requests = 4
    const run = await new Promise((resolve) => {
      execFile(
        process.execPath,
        [APP],
        {
          cwd: dir,
          timeout: 60_000,
          env: {
            ...process.env,
            TUSK_DRIFT_MODE: 'RECORD',
            DRIFT_TEST_SDK_PATH: SDK_PATH,
            DRIFT_TEST_ADDON_DIR: ADDON_DIR,
            DRIFT_TEST_USE_RING: '1',
            DRIFT_TEST_REQUESTS: String(requests),
            DRIFT_TEST_END: end,
            DRIFT_TEST_RING_DELAY_MS: '2000',
          },
        },
        (error, stdout, stderr) => resolve({ error, stdout, stderr }),
      )
    })
    if (end === 'exit') assert.equal(run.error, null, run.stderr)
    else assert.match(run.stderr, /crash after the last response/)
    const reported = JSON.parse(run.stdout.trim().split('\n').pop())
    // Taken at the span processor: every span had been pushed before the app ended.
    assert.equal(reported.stats.atSpanEnd, true)
    // One SERVER span per request (the test's own requests are outside any trace).
    assert.equal(reported.stats.pushed, requests)
    const spans = readTraceSpans(dir)
    assert.equal(spans.length, requests, `spans on disk after ${end}: ${spans.length}\n${run.stderr}`)
    assert.equal(new Set(spans.map((span) => span.spanId)).size, spans.length)
  })
}
