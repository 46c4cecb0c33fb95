'use strict'

// Each published function, ours against the published @use-tusk/drift-core-node, side by side
// and interleaved, on the fixture payloads of each size class. Prints the median over rounds of
// the process CPU time per call (both addons run on the calling thread; CPU time leaves out the
// waits of a shared machine) and the speed-up (published / ours).
//
//   node benches/node/core.bench.js [--quick] [--only=name,name] [--sizes=2k,20k]

const { loadAddons, loadPayloadsBySize, interleaved, formatNs, printTable } = require('./common.js')

const quick = process.argv.includes('--quick')
const listArg = (flag) => {
  const arg = process.argv.find((a) => a.startsWith(`${flag}=`))
  return arg ? arg.slice(flag.length + 1).split(',') : null
}
const only = listArg('--only')
const sizesArg = listArg('--sizes')
const { ours, published } = loadAddons()
const bySize = loadPayloadsBySize()

function spanInput(api, payload) {
  const input = api.processExportPayload(payload.valueJson, payload.mergesJson)
  const output = api.processExportPayload('{"status":200,"body":"eyJvayI6dHJ1ZX0="}', '{"body":{"encoding":1,"decoded_type":1}}')
  return {
    traceId: '0af7651916cd43dd8448eb211c80319c',
    spanId: 'b7ad6b7169203331',
    parentSpanId: '',
    name: 'POST /api/v1/orders',
    packageName: 'http',
    instrumentationName: 'HttpInstrumentation',
    submoduleName: 'POST',
    packageType: 1,
    environment: 'production',
    kind: 2,
    inputSchemaJson: input.decodedSchemaJson,
    outputSchemaJson: output.decodedSchemaJson,
    inputSchemaHash: input.decodedSchemaHash,
    outputSchemaHash: output.decodedSchemaHash,
    inputValueHash: input.decodedValueHash,
    outputValueHash: output.decodedValueHash,
    statusCode: 1,
    statusMessage: '',
    isPreAppStart: false,
    isRootSpan: true,
    timestampSeconds: 1_700_000_000,
    timestampNanos: 5,
    durationSeconds: 0,
    durationNanos: 1_500_000,
    metadataJson: '{"region":"eu-west-1"}',
    inputValueJson: payload.valueJson,
    outputValueJson: '{"status":200,"body":"eyJvayI6dHJ1ZX0="}',
  }
}

const FUNCTIONS = [
  ['normalizeJson', (api, p) => () => api.normalizeJson(p.valueJson)],
  ['deterministicHash', (api, p) => () => api.deterministicHash(p.valueJson)],
  ['normalizeAndHash', (api, p) => () => api.normalizeAndHash(p.valueJson)],
  ['objectToProtobufStructBytes', (api, p) => () => api.objectToProtobufStructBytes(p.valueJson)],
  ['objectToProtobufStructFieldCount', (api, p) => () => api.objectToProtobufStructFieldCount(p.valueJson)],
  ['processExportPayload', (api, p) => () => api.processExportPayload(p.valueJson, p.mergesJson)],
  ['buildSpanProtoBytes', (api, p) => {
    const input = spanInput(api, p)
    return () => api.buildSpanProtoBytes(input)
  }],
  ['buildExportSpansRequestBytes', (api, p) => {
    const span = api.buildSpanProtoBytes(spanInput(api, p))
    const spans = Array.from({ length: 32 }, () => span)
    return () => api.buildExportSpansRequestBytes('svc', 'production', '0.1.27', 'sdk-1', spans)
  }],
]

const SIZES = sizesArg ?? ['200b', '2k', '20k', '200k']

async function main() {
  const rows = []
  for (const [name, make] of FUNCTIONS) {
    if (only && !only.includes(name)) continue
    for (const size of SIZES) {
      const payloads = bySize.get(size)
      const targetBytes = { '200b': 200, '2k': 2000, '20k': 20000, '200k': 200000 }[size]
      // Roughly constant wall time per batch across sizes.
      const iterations = Math.max(quick ? 5 : 20, Math.round((quick ? 1e6 : 4e6) / targetBytes / payloads.length))
      const oursFns = payloads.map((p) => make(ours, p))
      const theirFns = payloads.map((p) => make(published, p))
      const result = await interleaved(
        (i) => oursFns[i % oursFns.length](),
        (i) => theirFns[i % theirFns.length](),
        { rounds: quick ? 5 : 9, iterations: iterations * payloads.length },
      )
      rows.push({
        function: name,
        size,
        ours: formatNs(result.a),
        published: formatNs(result.b),
        speedup: `${(result.b / result.a).toFixed(1)}x`,
      })
    }
  }
  console.log(`node ${process.version}, ${require('node:os').cpus()[0].model}`)
  printTable(rows, ['function', 'size', 'ours', 'published', 'speedup'])
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
