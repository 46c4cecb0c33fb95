'use strict'

// worker_threads and cluster: per-environment exporters, pushes from the main thread and two
// Workers at once, Workers torn down with live exporters, one ring per cluster worker process.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { Worker } = require('node:worker_threads')
const { execFile } = require('node:child_process')

const { RingExporter } = require('..')
const { tempDir, ExportSpansRequest } = require('./helpers.js')

const PUSHER = path.join(__dirname, 'fixtures', 'ring-pusher.js')

function runWorker(workerData) {
  return new Promise((resolve, reject) => {
    const worker = new Worker(PUSHER, { workerData })
    let result
    worker.on('message', (message) => {
      result = message
    })
    worker.on('error', reject)
    worker.on('exit', (code) => (code === 0 ? resolve(result) : reject(new Error(`worker exited with ${code}`))))
  })
}

test('the main thread and two Workers push at once, each into its own exporter', async (t) => {
  const ringDir = tempDir('drift-ring-')
  t.after(() => fs.rmSync(ringDir, { recursive: true, force: true }))
  const perThread = 300
  const received = []
  const main = new RingExporter({ ringDir, sink: 'callback', callback: (bytes) => received.push(Buffer.from(bytes)), scheduleDelayMillis: 20 })
  t.after(() => main.shutdown(2000))
  const { pushAll } = require('./fixtures/ring-pusher.js')
  const workers = [runWorker({ ringDir, label: 'w1', count: perThread }), runWorker({ ringDir, label: 'w2', count: perThread })]
  const mainPushed = await pushAll(main, 'main', perThread)
  assert.equal(await main.forceFlush(60_000), true)
  const results = await Promise.all(workers)
  assert.equal(mainPushed, perThread)
  const mainSpans = received.flatMap((bytes) => ExportSpansRequest.fromBinary(bytes).spans)
  assert.equal(new Set(mainSpans.map((span) => span.spanId)).size, perThread)
  for (const [index, result] of results.entries()) {
    assert.equal(result.pushed, perThread, `worker ${index + 1} pushed`)
    assert.equal(result.exported, perThread, `worker ${index + 1} exported`)
    assert.equal(result.uniqueSpanIds, perThread)
    assert.ok(result.spanIds.every((id) => id.startsWith(`w${index + 1}-`)))
  }
})

test('terminating a Worker with a live exporter runs its cleanup hook without crashing', async (t) => {
  const ringDir = tempDir('drift-ring-')
  t.after(() => fs.rmSync(ringDir, { recursive: true, force: true }))
  for (let round = 0; round < 3; round += 1) {
    const worker = new Worker(PUSHER, { workerData: { ringDir, label: `t${round}`, count: 50, stayAlive: true } })
    await new Promise((resolve, reject) => {
      worker.once('message', resolve)
      worker.once('error', reject)
    })
    const code = await worker.terminate()
    assert.equal(code, 1)
  }
  // The process is still healthy: a fresh exporter works.
  const exporter = new RingExporter({ ringDir, sink: 'callback', callback: () => {}, scheduleDelayMillis: 20 })
  const { pushAll } = require('./fixtures/ring-pusher.js')
  assert.equal(await pushAll(exporter, 'after', 10), 10)
  assert.equal(await exporter.shutdown(5000), true)
  assert.equal(exporter.getHealthSnapshot().exported, 10)
})

test('cluster workers each get their own ring and export their spans', async (t) => {
  const ringDir = tempDir('drift-ring-')
  const traces = tempDir('drift-traces-')
  t.after(() => {
    fs.rmSync(ringDir, { recursive: true, force: true })
    fs.rmSync(traces, { recursive: true, force: true })
  })
  const script = path.join(__dirname, 'fixtures', 'cluster-app.js')
  const output = await new Promise((resolve, reject) => {
    execFile(process.execPath, [script], { timeout: 60_000, env: { ...process.env, DRIFT_TEST_RING_DIR: ringDir, DRIFT_TEST_TRACES_DIR: traces } },
      (error, stdout, stderr) => (error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout)))
  })
  const reports = output.trim().split('\n').map((line) => JSON.parse(line))
  assert.equal(reports.length, 2)
  assert.notEqual(reports[0].pid, reports[1].pid)
  for (const report of reports) {
    assert.equal(report.pushed, 25)
    assert.equal(report.exported, 25)
  }
  const lines = fs.readdirSync(traces).flatMap((name) => fs.readFileSync(path.join(traces, name), 'utf8').split('\n').filter(Boolean))
  assert.equal(lines.length, 50)
})
