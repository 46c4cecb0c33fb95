'use strict'

// Cost of RingExporter.pushSpan (a span object) and pushSpanFields (positional arguments, what
// the SDK hook uses) on the calling thread, per size class: the median of batch averages, and
// p50/p99 of single calls. The exporter runs with a callback sink that discards
// requests, so its drain thread competes for the CPU as in production.
//
//   node benches/node/push-span.bench.js [--quick]

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { loadAddons, loadPayloadsBySize, median, formatNs, printTable } = require('./common.js')

const quick = process.argv.includes('--quick')
const { ours } = loadAddons()
const bySize = loadPayloadsBySize()

function ringSpan(payload, index) {
  return {
    traceId: '0af7651916cd43dd8448eb211c80319c',
    spanId: `b7ad6b71692033${String(index % 100).padStart(2, '0')}`,
    parentSpanId: '',
    name: 'POST /api/v1/orders',
    packageName: payload.kind,
    instrumentationName: 'HttpInstrumentation',
    submoduleName: 'POST',
    packageType: 1,
    kind: 2,
    environment: 'production',
    statusCode: 1,
    statusMessage: '',
    isPreAppStart: false,
    isRootSpan: true,
    timestampSeconds: 1_700_000_000,
    timestampNanos: index,
    durationSeconds: 0,
    durationNanos: 1_500_000,
    inputValueJson: payload.valueJson,
    outputValueJson: '{"statusCode":200,"body":"eyJvayI6dHJ1ZX0="}',
    inputSchemaMergesJson: payload.mergesJson,
    outputSchemaMergesJson: '{"body":{"encoding":1,"decoded_type":1}}',
    metadataJson: '{"region":"eu-west-1"}',
  }
}

async function main() {
  const ringDir = fs.mkdtempSync(path.join(os.tmpdir(), 'drift-bench-ring-'))
  const exporter = new ours.RingExporter({
    ringDir,
    sink: 'callback',
    callback: () => {},
    ringCapacityBytes: 64 << 20,
    scheduleDelayMillis: 200,
  })
  const rows = []
  const variants = [
    ['pushSpan', (span) => exporter.pushSpan(span)],
    // As the SDK hook calls it: fields read from a JS object and passed positionally.
    ['pushSpanFields', (s) => exporter.pushSpanFields(s.traceId, s.spanId, s.parentSpanId, s.name, s.packageName,
      s.instrumentationName, s.submoduleName, s.packageType, s.kind, s.environment, s.statusCode, s.statusMessage,
      s.isPreAppStart, s.isRootSpan, s.timestampSeconds, s.timestampNanos, s.durationSeconds, s.durationNanos,
      s.inputValueJson, s.outputValueJson, s.inputSchemaMergesJson, s.outputSchemaMergesJson, s.metadataJson)],
  ]
  for (const [method, push] of variants)
  for (const size of ['200b', '2k', '20k']) {
    const spans = bySize.get(size).map((payload, index) => ringSpan(payload, index))
    const batch = size === '20k' ? 200 : 1000
    const rounds = quick ? 5 : 15
    const batchAverages = []
    const singles = []
    let refused = 0
    for (let round = 0; round < rounds + 1; round += 1) {
      const start = process.hrtime.bigint()
      for (let i = 0; i < batch; i += 1) if (!push(spans[i % spans.length])) refused += 1
      const perCall = Number(process.hrtime.bigint() - start) / batch
      if (round > 0) batchAverages.push(perCall) // round 0 warms up
      for (let i = 0; i < 200; i += 1) {
        const t0 = process.hrtime.bigint()
        push(spans[i % spans.length])
        singles.push(Number(process.hrtime.bigint() - t0))
      }
      // Let the drain thread catch up so the ring never fills.
      await exporter.forceFlush(30_000)
    }
    singles.sort((a, b) => a - b)
    rows.push({
      method,
      size,
      'median (batch avg)': formatNs(median(batchAverages)),
      'p50 single': formatNs(singles[Math.floor(singles.length * 0.5)]),
      'p99 single': formatNs(singles[Math.floor(singles.length * 0.99)]),
      refused,
    })
  }
  await exporter.shutdown(30_000)
  fs.rmSync(ringDir, { recursive: true, force: true })
  console.log(`node ${process.version}, ${os.cpus()[0].model}; single-call figures include ~50 ns of hrtime overhead`)
  printTable(rows, ['method', 'size', 'median (batch avg)', 'p50 single', 'p99 single', 'refused'])
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
