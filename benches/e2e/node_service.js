'use strict'
// The Node service the end-to-end benchmark loads: node:http in 2 cluster workers, recorded by the
// published @use-tusk/drift-node-sdk in RECORD mode (unless E2E_SDK=off).
//
// `POST /order/<n>?body=2k|20k|b64` reads the JSON request body, makes one outbound HTTP call to the
// benchmark's upstream server (same body size and kind) and answers with the upstream's JSON: every
// request ends a SERVER and a CLIENT span. E2E_RING: "inprocess" or "sidecar" routes the SDK's spans
// through drift-core's ring (the documented one line, `useRingExporter`), else the SDK's stock path.
// E2E_SDK_PATH and E2E_ADDON_DIR: where the SDK and our package are (benches/e2e/run.sh).

const cluster = require('node:cluster')
const path = require('node:path')

const PORT = Number(process.env.E2E_PORT)

if (cluster.isPrimary) {
  for (let i = 0; i < 2; i += 1) cluster.fork()
  // SIGTERM: stop the workers the way a process manager would, then leave.
  process.on('SIGTERM', () => {
    for (const worker of Object.values(cluster.workers)) worker.process.kill('SIGTERM')
  })
  let alive = 2
  cluster.on('exit', () => {
    alive -= 1
    if (alive === 0) process.exit(0)
  })
} else {
  let sdk = null
  let ring = null
  if (process.env.E2E_SDK !== 'off') {
    const { TuskDrift } = require(process.env.E2E_SDK_PATH)
    TuskDrift.initialize({ apiKey: 'e2e-bench-key', env: 'e2e-bench', logLevel: 'error' })
    sdk = TuskDrift
    if (process.env.E2E_RING) {
      const options = process.env.E2E_RING === 'sidecar' ? { sink: 'sidecar' } : {}
      ring = require(path.join(process.env.E2E_ADDON_DIR, 'sdk.js')).useRingExporter(TuskDrift, options)
    }
    TuskDrift.markAppAsReady()
  }
  // Required after initialize(), as the SDK asks, so that it instruments it.
  const http = require('node:http')
  const upstream = new URL(process.env.E2E_UPSTREAM_URL)
  const agent = new http.Agent({ keepAlive: true })

  function callUpstream(number, kind, body) {
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          host: upstream.hostname,
          port: upstream.port,
          path: `/quote/${number}?body=${kind}`,
          method: 'POST',
          agent,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          const chunks = []
          res.on('data', (chunk) => chunks.push(chunk))
          res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks) }))
        },
      )
      req.on('error', reject)
      req.end(body)
    })
  }

  const server = http.createServer((req, res) => {
    const chunks = []
    req.on('data', (chunk) => chunks.push(chunk))
    req.on('end', async () => {
      try {
        const url = new URL(req.url, 'http://localhost')
        const number = Number(url.pathname.split('/').pop())
        const kind = url.searchParams.get('body') || '2k'
        const payload = JSON.parse(Buffer.concat(chunks).toString('utf8'))
        const answer = await callUpstream(number, kind, JSON.stringify(payload))
        res.writeHead(answer.status, { 'content-type': 'application/json', 'content-length': answer.body.length })
        res.end(answer.body)
      } catch (error) {
        res.writeHead(502)
        res.end(String(error))
      }
    })
  })
  server.keepAliveTimeout = 30_000
  server.listen(PORT, '127.0.0.1')

  /** The tracer provider the SDK registered (its own copy of the OpenTelemetry API). */
  function sdkTracerProvider() {
    for (const key of Object.getOwnPropertySymbols(globalThis)) {
      if (!/opentelemetry\.js\.api\.\d+$/.test(key.description || '')) continue
      const proxy = globalThis[key] && globalThis[key].trace
      if (proxy && typeof proxy.getDelegate === 'function') return proxy.getDelegate()
    }
    return null
  }

  /** The ring exporter's final counters, for the benchmark to tell counted drops from lost spans. */
  function writeHealth(snapshot, settled) {
    const dir = process.env.E2E_HEALTH_DIR
    if (!dir) return
    const fs = require('node:fs')
    const file = path.join(dir, `health-${process.pid}.json`)
    fs.writeFileSync(`${file}.tmp`, JSON.stringify({ ...snapshot, pid: process.pid, shutdownSettled: settled }))
    fs.renameSync(`${file}.tmp`, file)
  }

  // SIGTERM (from the primary): stop taking requests, hand the SDK's buffered spans on, deliver, exit.
  process.on('SIGTERM', async () => {
    server.close()
    agent.destroy()
    try {
      const provider = sdk && sdkTracerProvider()
      if (provider) await provider.forceFlush()
      if (ring) {
        const state = await ring.ready
        if (state) {
          const settled = await state.exporter.shutdown(30000)
          writeHealth(state.exporter.getHealthSnapshot(), settled)
        }
      }
    } catch (error) {
      console.error(error)
    } finally {
      process.exit(0)
    }
  })
}
