'use strict'

// The ring exporter class: pushes, flush, shutdown, health, the sinks, and that nothing on the
// push path throws for full/too large/after shutdown.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const http = require('node:http')
const zlib = require('node:zlib')
const { execFile, spawn } = require('node:child_process')

const { RingExporter } = require('..')
const { sdkSchemaAndHash } = require('./node-sdk-oracle.js')
const { loadSpanPayloads, tempDir, waitFor, ExportSpansRequest } = require('./helpers.js')
const { ExportSpansResponse } = require('@use-tusk/drift-schemas/backend/span_export_service')

const payloads = loadSpanPayloads()

/** A span as the SDK hook builds it, from a fixture payload. */
function ringSpan(index, payload = payloads[index % payloads.length]) {
  return {
    traceId: `trace-${String(index).padStart(4, '0')}`,
    spanId: `span-${index}`,
    parentSpanId: '',
    name: `op-${index}`,
    packageName: payload.kind,
    instrumentationName: 'TestInstrumentation',
    submoduleName: 'query',
    packageType: 1,
    kind: 2,
    environment: 'test',
    statusCode: 1,
    statusMessage: '',
    isPreAppStart: false,
    isRootSpan: index % 2 === 0,
    timestampSeconds: 1_700_000_000 + index,
    timestampNanos: 1000 * index,
    durationSeconds: 0,
    durationNanos: 5_000_000,
    inputValueJson: payload.valueJson,
    outputValueJson: '{"rows":[1,2,3]}',
    inputSchemaMergesJson: payload.mergesJson,
    metadataJson: '{"attempt":1}',
  }
}

function newRingDir(t) {
  const dir = tempDir('drift-ring-')
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  return dir
}

function callbackExporter(t, options = {}) {
  const requests = []
  const exporter = new RingExporter({
    ringDir: newRingDir(t),
    sink: 'callback',
    callback: (bytes) => requests.push(Buffer.from(bytes)),
    scheduleDelayMillis: 50,
    observableServiceId: 'svc-test',
    sdkVersion: '9.9.9',
    sdkInstanceId: 'instance-1',
    environment: 'test',
    ...options,
  })
  t.after(() => exporter.shutdown(2000))
  return { exporter, requests }
}

const exportedSpans = (requests) => requests.flatMap((bytes) => ExportSpansRequest.fromBinary(bytes).spans)

test('pushed spans reach the callback sink as ExportSpansRequest bytes with the Node SDK hashes', async (t) => {
  const { exporter, requests } = callbackExporter(t)
  const count = 40
  for (let i = 0; i < count; i += 1) assert.equal(exporter.pushSpan(ringSpan(i)), true)
  assert.equal(await exporter.forceFlush(60_000), true)
  const spans = exportedSpans(requests)
  assert.equal(spans.length, count)
  const request = ExportSpansRequest.fromBinary(requests[0])
  assert.equal(request.observableServiceId, 'svc-test')
  assert.equal(request.sdkVersion, '9.9.9')
  assert.equal(request.sdkInstanceId, 'instance-1')
  const byTrace = new Map(spans.map((span) => [span.traceId, span]))
  for (let i = 0; i < count; i += 1) {
    const input = ringSpan(i)
    const span = byTrace.get(input.traceId)
    assert.ok(span, input.traceId)
    // A Node exporter hashes as the Node SDK's stock path does (exporter/src/flavour/node.rs).
    const expected = sdkSchemaAndHash(input.inputValueJson, input.inputSchemaMergesJson)
    assert.equal(span.inputValueHash, expected.decodedValueHash)
    assert.equal(span.inputSchemaHash, expected.decodedSchemaHash)
    assert.equal(span.name, input.name)
    assert.equal(span.packageName, input.packageName)
    assert.equal(span.isRootSpan, input.isRootSpan)
    assert.equal(Number(span.timestamp.seconds), input.timestampSeconds)
  }
  const health = exporter.getHealthSnapshot()
  assert.equal(health.pushed, count)
  assert.equal(health.exported, count)
  assert.equal(health.droppedTotal, 0)
  assert.equal(health.inFlight, 0)
  assert.equal(health.running, true)
})

test('pushSpanFields (positional) exports exactly what pushSpan (object) exports', async (t) => {
  const { exporter, requests } = callbackExporter(t)
  const viaObject = { ...ringSpan(11), traceId: 'trace-object', transformMetadataJson: '{"actions":[]}', stackTrace: 'at x' }
  const viaFields = { ...viaObject, traceId: 'trace-fields' }
  assert.equal(exporter.pushSpan(viaObject), true)
  const s = viaFields
  assert.equal(exporter.pushSpanFields(s.traceId, s.spanId, s.parentSpanId, s.name, s.packageName, s.instrumentationName,
    s.submoduleName, s.packageType, s.kind, s.environment, s.statusCode, s.statusMessage, s.isPreAppStart, s.isRootSpan,
    s.timestampSeconds, s.timestampNanos, s.durationSeconds, s.durationNanos, s.inputValueJson, s.outputValueJson,
    s.inputSchemaMergesJson, s.outputSchemaMergesJson, s.metadataJson, s.transformMetadataJson, s.stackTrace), true)
  // Trailing optional arguments may be left out.
  assert.equal(exporter.pushSpanFields('trace-short', 's', '', 'n', 'p', 'i', '', 0, 1, undefined, 1, '', false, false,
    1, 2, 0, 3, '{"a":1}'), true)
  assert.throws(() => exporter.pushSpanFields(), (error) => error instanceof Error && /traceId/.test(error.message))
  assert.throws(() => exporter.pushSpanFields('t', 's', '', 'n', 'p', 'i', '', 0, 'server', undefined, 1, '', false,
    false, 1, 2, 0, 3, '{}'), /`kind` must be a number/)
  assert.equal(await exporter.forceFlush(60_000), true)
  const spans = exportedSpans(requests)
  assert.equal(spans.length, 3)
  const byTrace = new Map(spans.map((span) => [span.traceId, span]))
  const fromObject = { ...byTrace.get('trace-object'), traceId: '' }
  const fromFields = { ...byTrace.get('trace-fields'), traceId: '' }
  assert.deepEqual(fromFields, fromObject)
  assert.equal(byTrace.get('trace-short').name, 'n')
})

test('the health snapshot has the documented camelCase fields', (t) => {
  const { exporter } = callbackExporter(t)
  const health = exporter.getHealthSnapshot()
  for (const key of ['queueSizeBytes', 'queueCapacityBytes', 'fillRatio', 'pushed', 'exported', 'droppedTotal',
    'inFlight', 'batches', 'bytesSent', 'exportFailures', 'exportTimeouts', 'retries', 'lastExportLatencyMs',
    'circuitState', 'running']) {
    assert.ok(key in health, key)
  }
  assert.deepEqual(Object.keys(health.dropped).sort(), ['alreadyShutdown', 'exportFailed', 'forkDiscarded', 'queueFull',
    'serializationError', 'tooLarge'])
  assert.ok(health.queueCapacityBytes > 0)
  assert.equal(health.circuitState, 'closed')
})

test('pushSpan returns false and counts, never throws: too large, after shutdown', async (t) => {
  const { exporter } = callbackExporter(t, { maxSpanBytes: 4096, ringCapacityBytes: 1 << 16 })
  const big = { ...ringSpan(1), inputValueJson: JSON.stringify({ blob: 'x'.repeat(10_000) }) }
  assert.equal(exporter.pushSpan(big), false)
  assert.equal(exporter.getHealthSnapshot().dropped.tooLarge, 1)
  assert.equal(exporter.pushSpan(ringSpan(2, payloads[0])), true)
  assert.equal(await exporter.shutdown(5000), true)
  assert.equal(exporter.pushSpan(ringSpan(3, payloads[0])), false)
  const health = exporter.getHealthSnapshot()
  assert.equal(health.dropped.alreadyShutdown, 1)
  assert.equal(health.running, false)
  // Idempotent, and flush after shutdown resolves rather than rejecting.
  assert.equal(typeof (await exporter.shutdown(100)), 'boolean')
  assert.equal(typeof (await exporter.forceFlush(100)), 'boolean')
})

test('pushSpan returns false when the ring is full (nothing drains a sidecar ring)', (t) => {
  const dir = newRingDir(t)
  const exporter = new RingExporter({ ringDir: dir, sink: 'sidecar', ringCapacityBytes: 1 << 16, maxSpanBytes: 1 << 14 })
  t.after(() => exporter.shutdown(1000))
  const span = ringSpan(4, payloads.find((p) => p.size_class === '2k'))
  let accepted = 0
  let refused = 0
  for (let i = 0; i < 200; i += 1) {
    if (exporter.pushSpan(span)) accepted += 1
    else refused += 1
  }
  assert.ok(accepted > 0, 'some spans fit')
  assert.ok(refused > 0, 'the ring filled up')
  assert.equal(exporter.getHealthSnapshot().dropped.queueFull, refused)
})

test('invalid JSON in a span is counted at export time, not thrown at push', async (t) => {
  const { exporter, requests } = callbackExporter(t)
  assert.equal(exporter.pushSpan({ ...ringSpan(5), inputValueJson: '{not json' }), true)
  assert.equal(exporter.pushSpan(ringSpan(6)), true)
  await exporter.forceFlush(60_000)
  assert.equal(exportedSpans(requests).length, 1)
  assert.equal(exporter.getHealthSnapshot().dropped.serializationError, 1)
})

test('wrong argument types are JS Errors, never crashes', (t) => {
  const { exporter } = callbackExporter(t)
  for (const bad of [undefined, null, 42, 'span', [], { traceId: 1 }, { ...ringSpan(7), inputValueJson: 5 },
    { ...ringSpan(7), kind: 'server' }, { ...ringSpan(7), timestampSeconds: 'now' }]) {
    assert.throws(() => exporter.pushSpan(bad), Error)
  }
  assert.throws(() => new RingExporter({ sink: 'carrier-pigeon' }), (error) => {
    assert.ok(error instanceof Error)
    assert.match(error.message, /sink/)
    assert.equal(error.code, 'InvalidConfig')
    return true
  })
  assert.throws(() => new RingExporter({ sink: 'callback' }), /callback/)
  assert.throws(() => new RingExporter({ maxExportBatchSize: 0, ringDir: tempDir('drift-ring-') }), /max_export_batch_size/)
  assert.throws(() => new RingExporter({ ringCapacityBytes: -1 }), Error)
})

test('file sink writes one JSON line per span under the traces directory', async (t) => {
  const traces = tempDir('drift-traces-')
  t.after(() => fs.rmSync(traces, { recursive: true, force: true }))
  const exporter = new RingExporter({ ringDir: newRingDir(t), sink: 'file', tracesDir: traces, scheduleDelayMillis: 50 })
  t.after(() => exporter.shutdown(2000))
  for (let i = 0; i < 6; i += 1) assert.ok(exporter.pushSpan(ringSpan(i, payloads[i])))
  assert.equal(await exporter.forceFlush(60_000), true)
  const lines = fs
    .readdirSync(traces)
    .filter((name) => name.endsWith('.jsonl'))
    .flatMap((name) => fs.readFileSync(path.join(traces, name), 'utf8').split('\n').filter(Boolean))
    .map((line) => JSON.parse(line))
  assert.equal(lines.length, 6)
  for (const line of lines) {
    assert.ok(line.traceId.startsWith('trace-'))
    assert.equal(typeof line.inputValueHash, 'string')
    assert.ok(line.inputSchema)
  }
})

test('api sink posts to a local backend with the SDK headers', async (t) => {
  const received = []
  const server = http.createServer((req, res) => {
    const chunks = []
    req.on('data', (chunk) => chunks.push(chunk))
    req.on('end', () => {
      let body = Buffer.concat(chunks)
      if (req.headers['content-encoding'] === 'gzip') body = zlib.gunzipSync(body)
      received.push({ url: req.url, headers: req.headers, body })
      res.setHeader('content-type', 'application/protobuf')
      res.end(Buffer.from(ExportSpansResponse.toBinary({ success: true, message: '' })))
    })
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => server.close())
  const exporter = new RingExporter({
    ringDir: newRingDir(t),
    sink: 'api',
    apiUrl: `http://127.0.0.1:${server.address().port}`,
    apiKey: 'secret-key',
    observableServiceId: 'svc-api',
    scheduleDelayMillis: 50,
  })
  t.after(() => exporter.shutdown(2000))
  for (let i = 0; i < 10; i += 1) assert.ok(exporter.pushSpan(ringSpan(i)))
  assert.equal(await exporter.forceFlush(60_000), true)
  assert.ok(received.length >= 1)
  const spans = received.flatMap((request) => ExportSpansRequest.fromBinary(request.body).spans)
  assert.equal(spans.length, 10)
  const first = received[0]
  assert.equal(first.url, '/api/drift/tusk.drift.backend.v1.SpanExportService/ExportSpans')
  assert.equal(first.headers['x-api-key'], 'secret-key')
  assert.equal(first.headers['x-td-skip-instrumentation'], 'true')
  assert.equal(ExportSpansRequest.fromBinary(first.body).observableServiceId, 'svc-api')
  assert.equal(exporter.getHealthSnapshot().exported, 10)
})

test('forceFlush and shutdown wait off the event loop: timers keep firing during a slow export', async (t) => {
  // A backend that answers only when the test releases it: the flush must stay pending until
  // then, while the event loop (timers, this very server) keeps running.
  let requestsArrived = 0
  let released = false
  const held = []
  const server = http.createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      requestsArrived += 1
      const answer = () => {
        res.setHeader('content-type', 'application/protobuf')
        res.end(Buffer.from(ExportSpansResponse.toBinary({ success: true, message: '' })))
      }
      if (released) answer()
      else held.push(answer)
    })
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => server.close())
  const exporter = new RingExporter({
    ringDir: newRingDir(t),
    sink: 'api',
    apiUrl: `http://127.0.0.1:${server.address().port}`,
    apiKey: 'k',
    scheduleDelayMillis: 60_000,
  })
  t.after(() => exporter.shutdown(2000))
  for (let i = 0; i < 50; i += 1) exporter.pushSpan(ringSpan(i))
  let settled = false
  const flushed = exporter.forceFlush(120_000)
  assert.ok(flushed instanceof Promise)
  flushed.then(() => {
    settled = true
  })
  // Timers fire and the server receives the export while the flush is pending.
  let ticks = 0
  await waitFor(() => {
    ticks += 1
    return requestsArrived > 0
  }, 60_000, 'the export request')
  for (let i = 0; i < 5; i += 1) await new Promise((resolve) => setTimeout(resolve, 1))
  assert.equal(settled, false, 'the flush waits for the backend')
  assert.ok(ticks >= 1)
  released = true
  held.splice(0).forEach((answer) => answer())
  assert.equal(await flushed, true)
  const shut = exporter.shutdown(60_000)
  assert.ok(shut instanceof Promise)
  assert.equal(await shut, true)
  assert.equal(exporter.getHealthSnapshot().exported, 50)
})

function runNode(source, timeoutMs) {
  return new Promise((resolve) => {
    execFile(process.execPath, ['-e', source], { timeout: timeoutMs, cwd: path.resolve(__dirname, '..') }, (error, stdout, stderr) => {
      resolve({ error, stdout, stderr })
    })
  })
}

test('a live exporter (threads, unref-ed callback) never keeps the process alive', async () => {
  const dir = tempDir('drift-ring-')
  try {
    const source = `
      const { RingExporter } = require('.')
      const e = new RingExporter({ ringDir: ${JSON.stringify(dir)}, sink: 'callback', callback: () => {}, scheduleDelayMillis: 60000 })
      e.pushSpan(${JSON.stringify(ringSpan(1))})
      const f = new RingExporter({ ringDir: ${JSON.stringify(dir)}, sink: 'file', tracesDir: ${JSON.stringify(path.join(dir, 'traces'))} })
      f.pushSpan(${JSON.stringify(ringSpan(2))})
      console.log('done')
    `
    // Exiting by itself is the event: a process kept alive is killed at the deadline (an error).
    const { error, stdout, stderr } = await runNode(source, 60_000)
    assert.equal(error, null, stderr)
    assert.equal(stdout.trim(), 'done')
    // The exit hook drained the file exporter's span on the way out.
    const written = fs.existsSync(path.join(dir, 'traces')) ? fs.readdirSync(path.join(dir, 'traces')) : []
    assert.equal(written.length, 1)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

test('an exporter garbage-collected without shutdown is drained off the event loop', async (t) => {
  // The child's exporter exports to this backend, which holds the request until the child says
  // that gc() has returned: a drop that drained on the event loop would block gc() behind the
  // held request and never say it (the child's export timeout is longer than the test's
  // deadline), so the order of the two events decides the test, not a clock.
  const dir = tempDir('drift-ring-')
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  let gcReturned = false
  const bodies = []
  const held = []
  const server = http.createServer((req, res) => {
    const chunks = []
    req.on('data', (chunk) => chunks.push(chunk))
    req.on('end', () => {
      bodies.push(Buffer.concat(chunks))
      held.push(() => {
        res.setHeader('content-type', 'application/protobuf')
        res.end(Buffer.from(ExportSpansResponse.toBinary({ success: true, message: '' })))
      })
    })
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => server.close())
  const source = `
    const { RingExporter } = require('.')
    ;(function scope() {
      // No final drain at exit (exitFlushTimeoutMs 0): only the drop can export the span.
      const e = new RingExporter({ ringDir: ${JSON.stringify(dir)}, sink: 'api', apiKey: 'k',
        apiUrl: 'http://127.0.0.1:${server.address().port}', exportTimeoutMillis: 600000,
        scheduleDelayMillis: 600000, exitFlushTimeoutMs: 0 })
      e.pushSpan(${JSON.stringify(ringSpan(3))})
    })()
    global.gc()
    console.log('gc-returned')
    setInterval(() => {}, 1000) // stay until the test ends us
  `
  const child = spawn(process.execPath, ['--expose-gc', '-e', source], { cwd: path.resolve(__dirname, '..') })
  t.after(() => child.kill('SIGKILL'))
  let stderr = ''
  child.stderr.on('data', (chunk) => {
    stderr += chunk
  })
  child.stdout.on('data', (chunk) => {
    if (String(chunk).includes('gc-returned')) gcReturned = true
  })
  await waitFor(() => gcReturned && bodies.length === 1, 60_000, `gc() to return while the drop's export is held (${stderr})`)
  held.splice(0).forEach((answer) => answer())
  const spans = ExportSpansRequest.fromBinary(bodies[0]).spans
  assert.equal(spans.length, 1, 'the span was exported by the drop')
})

test('process.exit() right after pushing: every span reaches the file sink', async () => {
  // `process.exit()` skips `beforeExit` and the environment cleanup hooks; the exporter's own
  // `exit` drain is all that stands between these spans and silent loss. A long schedule delay
  // keeps them all in the ring (and the open batch) until that moment.
  const dir = tempDir('drift-ring-')
  try {
    const traces = path.join(dir, 'traces')
    const count = 300
    const source = `
      const { RingExporter } = require('.')
      const spans = ${JSON.stringify(Array.from({ length: 8 }, (_, i) => ringSpan(i)))}
      const e = new RingExporter({ ringDir: ${JSON.stringify(dir)}, sink: 'file', tracesDir: ${JSON.stringify(traces)},
        scheduleDelayMillis: 60000, exitFlushTimeoutMs: 60000 })
      let accepted = 0
      for (let i = 0; i < ${count}; i += 1) {
        if (e.pushSpan({ ...spans[i % spans.length], spanId: 'exit-' + i })) accepted += 1
      }
      process.on('exit', () => console.log(JSON.stringify({ accepted, health: e.getHealthSnapshot() })))
      process.exit(0)
    `
    const { error, stdout, stderr } = await runNode(source, 120_000)
    assert.equal(error, null, stderr)
    const { accepted, health } = JSON.parse(stdout.trim())
    assert.equal(accepted, count)
    const ids = fs
      .readdirSync(traces)
      .filter((name) => name.endsWith('.jsonl'))
      .flatMap((name) => fs.readFileSync(path.join(traces, name), 'utf8').split('\n').filter(Boolean))
      .map((line) => JSON.parse(line).spanId)
    assert.equal(ids.length, count)
    assert.equal(new Set(ids).size, count)
    assert.equal(health.exported, count)
    assert.equal(health.droppedTotal, 0)
    assert.equal(health.running, false)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

test('shutdownSync drains on the calling thread within its budget and is idempotent', async (t) => {
  const traces = tempDir('drift-traces-')
  t.after(() => fs.rmSync(traces, { recursive: true, force: true }))
  const exporter = new RingExporter({ ringDir: newRingDir(t), sink: 'file', tracesDir: traces, scheduleDelayMillis: 60_000 })
  for (let i = 0; i < 20; i += 1) assert.ok(exporter.pushSpan(ringSpan(i)))
  assert.equal(exporter.shutdownSync(60_000), true)
  // Synchronous: the files are complete when it returns, without awaiting anything.
  const lines = fs
    .readdirSync(traces)
    .flatMap((name) => fs.readFileSync(path.join(traces, name), 'utf8').split('\n').filter(Boolean))
  assert.equal(lines.length, 20)
  const health = exporter.getHealthSnapshot()
  assert.equal(health.exported, 20)
  assert.equal(health.running, false)
  assert.equal(exporter.pushSpan(ringSpan(99)), false)
  assert.equal(exporter.getHealthSnapshot().dropped.alreadyShutdown, 1)
  assert.equal(exporter.shutdownSync(0), true)
  assert.equal(await exporter.shutdown(1000), true)
})
