'use strict'

// Event-loop time per span: the published @use-tusk/drift-node-sdk's stock export path (its
// TdSpanExporter converting spans in JavaScript and posting protobuf to the backend) against the
// ring hookup (`useRingExporter`), both exporting to a mock backend that runs in a child process
// (so its work is not counted). Spans are 2 KB / 20 KB fixture payloads shaped as the SDK's ended
// spans. Measured with performance.eventLoopUtilization from the export call until the export
// completed (stock: the adapters' promise; ring: the call returns, delivery happens off-thread).
//
//   node benches/node/event-loop.bench.js [--quick]

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { fork } = require('node:child_process')
const { performance } = require('node:perf_hooks')
const { BINDING_DIR, loadPayloadsBySize, median, formatNs, printTable } = require('./common.js')

const quick = process.argv.includes('--quick')

if (process.argv[2] === '--mock-backend') {
  // Child: a mock Tusk backend answering ExportSpans with success.
  const http = require('node:http')
  const { ExportSpansResponse } = require(require.resolve('@use-tusk/drift-schemas/backend/span_export_service', { paths: [BINDING_DIR] }))
  const ok = Buffer.from(ExportSpansResponse.toBinary({ success: true, message: '' }))
  let spansBytes = 0
  const server = http.createServer((req, res) => {
    req.on('data', (chunk) => {
      spansBytes += chunk.length
    })
    req.on('end', () => {
      res.setHeader('content-type', 'application/protobuf')
      res.end(ok)
    })
  })
  server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }))
  process.on('message', (message) => {
    if (message === 'stop') {
      process.send({ spansBytes })
      server.close(() => process.exit(0))
    }
  })
  return
}

function camelMerges(merges) {
  if (!merges) return undefined
  const out = {}
  for (const [key, merge] of Object.entries(merges)) {
    out[key] = {}
    if (merge.encoding !== undefined) out[key].encoding = merge.encoding
    if (merge.decoded_type !== undefined) out[key].decodedType = merge.decoded_type
    if (merge.match_importance !== undefined) out[key].matchImportance = merge.match_importance
  }
  return JSON.stringify(out)
}

let spanCounter = 0
/** An object with the fields of an OpenTelemetry ReadableSpan that the SDK's exporter reads. */
function sdkSpan(payload) {
  spanCounter += 1
  const traceId = spanCounter.toString(16).padStart(32, '0')
  const spanId = spanCounter.toString(16).padStart(16, '0')
  return {
    name: 'POST /api/v1/orders',
    kind: 2,
    instrumentationLibrary: { name: 'tusk-drift-sdk' },
    spanContext: () => ({ traceId, spanId, traceFlags: 1 }),
    parentSpanId: undefined,
    status: { code: 1 },
    startTime: [1_700_000_000, 5000],
    duration: [0, 1_500_000],
    attributes: {
      'td.name': `${payload.kind} call`,
      'td.packageName': payload.kind,
      'td.instrumentationName': 'BenchInstrumentation',
      'td.submodule': 'query',
      'td.packageType': 1,
      'td.isPreAppStart': false,
      'td.inputValue': payload.valueJson,
      'td.inputSchemaMerges': camelMerges(payload.schema_merges),
      'td.outputValue': '{"statusCode":200,"headers":{"content-type":"application/json"},"body":"eyJvayI6dHJ1ZX0="}',
      'td.outputSchemaMerges': '{"body":{"encoding":1,"decodedType":1},"headers":{"matchImportance":0}}',
    },
  }
}

/** Event-loop active time of one export of `spans`, in ns per span. */
function measureExport(sdkExporter, spans) {
  return new Promise((resolve, reject) => {
    const before = performance.eventLoopUtilization()
    sdkExporter.export(spans, (result) => {
      // Let the export's trailing callbacks (response parsing) run before reading the meter.
      setImmediate(() => {
        const used = performance.eventLoopUtilization(before)
        if (result.code !== 0) reject(result.error || new Error('export failed'))
        else resolve((used.active * 1e6) / spans.length)
      })
    })
  })
}

async function main() {
  const backend = fork(__filename, ['--mock-backend'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const { port } = await new Promise((resolve) => backend.once('message', resolve))
  const project = fs.mkdtempSync(path.join(os.tmpdir(), 'drift-bench-app-'))
  fs.writeFileSync(path.join(project, 'package.json'), '{"name":"bench-app","version":"1.0.0"}\n')
  fs.mkdirSync(path.join(project, '.tusk'))
  fs.writeFileSync(
    path.join(project, '.tusk', 'config.yaml'),
    `service:\n  name: bench\n  id: svc-bench\ntusk_api:\n  url: http://127.0.0.1:${port}\nrecording:\n  export_spans: true\n`,
  )
  process.chdir(project)
  process.env.TUSK_DRIFT_MODE = 'RECORD'
  const sdkPath = require.resolve('@use-tusk/drift-node-sdk', { paths: [BINDING_DIR] })
  const { TuskDrift } = require(sdkPath)
  TuskDrift.initialize({ apiKey: 'bench-key', env: 'bench', logLevel: 'silent' })
  const core = TuskDrift.tuskDrift
  const sdkExporter = core.spanExporter
  const { useRingExporter } = require(path.join(BINDING_DIR, 'sdk.js'))

  const bySize = loadPayloadsBySize()
  const rows = []
  const batchSize = 100
  const rounds = quick ? 3 : 9
  let ringState
  for (const size of ['2k', '20k']) {
    const payloads = bySize.get(size)
    const makeBatch = () => Array.from({ length: batchSize }, (_, i) => sdkSpan(payloads[i % payloads.length]))
    const stock = []
    const ring = []
    for (let round = 0; round < rounds + 1; round += 1) {
      // Stock path.
      if (ringState) ringState.restore()
      const stockNs = await measureExport(sdkExporter, makeBatch())
      // Ring hookup (the SDK exporter patched in place, one exporter reused across rounds).
      ringState = useRingExporter(TuskDrift, { exporter: ringState && ringState.exporter, flushOnExit: false, scheduleDelayMillis: 50 })
      const ringNs = await measureExport(sdkExporter, makeBatch())
      await ringState.exporter.forceFlush(30_000)
      if (round > 0) {
        stock.push(stockNs)
        ring.push(ringNs)
      }
    }
    const health = ringState.exporter.getHealthSnapshot()
    rows.push({
      size,
      'stock SDK path': formatNs(median(stock)),
      'ring hookup': formatNs(median(ring)),
      ratio: `${(median(stock) / median(ring)).toFixed(1)}x`,
      'ring exported/dropped': `${health.exported}/${health.droppedTotal}`,
    })
  }
  await ringState.exporter.shutdown(30_000)
  backend.send('stop')
  await new Promise((resolve) => backend.once('exit', resolve))
  fs.rmSync(project, { recursive: true, force: true })
  console.log(`node ${process.version}; event-loop active time per span, batches of ${batchSize}`)
  printTable(rows, ['size', 'stock SDK path', 'ring hookup', 'ratio', 'ring exported/dropped'])
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
