'use strict'

// In-process mode survives its process: a plain `node app.js` using the addon's in-process
// RingExporter (file sink) is SIGTERMed (default action: no handler, no exit event) or
// SIGKILLed with spans pushed and surely not exported (a ten-minute schedule delay); its next
// start delivers every one of them exactly once. Every wait is for an event (a line, an exit).

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { spawn, execFile } = require('node:child_process')

const { tempDir, waitFor } = require('./helpers.js')

const ADDON = path.resolve(__dirname, '..')
const COUNT = 300
const SERVICE = 'svc-crash-node'

const span = (i) => ({
  traceId: '0000000000000000000000000000c0de',
  spanId: `crash-${i}`,
  parentSpanId: '',
  name: `op-${i}`,
  packageName: 'http',
  instrumentationName: 'TestInstrumentation',
  submoduleName: 'GET',
  packageType: 1,
  kind: 2,
  environment: 'test',
  statusCode: 1,
  statusMessage: '',
  isPreAppStart: false,
  isRootSpan: true,
  timestampSeconds: 1_700_000_000 + i,
  timestampNanos: 0,
  durationSeconds: 0,
  durationNanos: 1_000_000,
  inputValueJson: JSON.stringify({ method: 'GET', url: `/users/${i}` }),
  outputValueJson: '{"statusCode":200}',
})

function holdApp(ringDir, traces) {
  return `
    const { RingExporter } = require(${JSON.stringify(ADDON)})
    const e = new RingExporter({ ringDir: ${JSON.stringify(ringDir)}, sink: 'file',
      tracesDir: ${JSON.stringify(traces)}, observableServiceId: ${JSON.stringify(SERVICE)},
      scheduleDelayMillis: 600000, maxExportBatchSize: 100000, maxExportBatchBytes: 64 * 1024 * 1024 })
    const span = ${span.toString()}
    for (let i = 0; i < ${COUNT}; i += 1) if (!e.pushSpan(span(i))) throw new Error('refused ' + i)
    console.log('ready ' + JSON.stringify(e.getHealthSnapshot()))
    setInterval(() => {}, 1000) // runs until killed
  `
}

function recoverApp(ringDir, traces) {
  return `
    const { RingExporter } = require(${JSON.stringify(ADDON)})
    const e = new RingExporter({ ringDir: ${JSON.stringify(ringDir)}, sink: 'file',
      tracesDir: ${JSON.stringify(traces)}, observableServiceId: ${JSON.stringify(SERVICE)},
      scheduleDelayMillis: 20 })
    ;(async () => {
      const deadline = Date.now() + 90000 // only turns a hang into a failure
      while (Date.now() < deadline) {
        if ((await e.forceFlush(60000)) && e.getHealthSnapshot().exported >= ${COUNT}) break
      }
      const health = e.getHealthSnapshot()
      const shutdown = await e.shutdown(60000)
      console.log(JSON.stringify({ health, shutdown }))
    })()
  `
}

const rings = (dir) => (fs.existsSync(dir) ? fs.readdirSync(dir).filter((n) => n.endsWith('.ring') && !n.startsWith('.')) : [])

function delivered(traces) {
  const seen = new Map()
  if (!fs.existsSync(traces)) return seen
  for (const name of fs.readdirSync(traces)) {
    const text = fs.readFileSync(path.join(traces, name), 'utf8')
    assert.ok(text === '' || text.endsWith('\n'), `torn tail in ${name}`)
    for (const line of text.split('\n').filter(Boolean)) {
      const id = JSON.parse(line).spanId
      seen.set(id, (seen.get(id) ?? 0) + 1)
    }
  }
  return seen
}

for (const signal of ['SIGTERM', 'SIGKILL']) {
  test(`an app ${signal}ed with spans in flight: its next start delivers every one exactly once`, async (t) => {
    const dir = tempDir('drift-crash-')
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
    const ringDir = path.join(dir, 'rings')
    const killedTraces = path.join(dir, 'killed')
    const appFile = path.join(dir, 'app.js')
    fs.writeFileSync(appFile, holdApp(ringDir, killedTraces))
    const app = spawn(process.execPath, [appFile], { stdio: ['ignore', 'pipe', 'pipe'] })
    t.after(() => app.kill('SIGKILL'))
    let stdout = ''
    let stderr = ''
    app.stdout.on('data', (chunk) => (stdout += chunk))
    app.stderr.on('data', (chunk) => (stderr += chunk))
    const exited = new Promise((resolve) => app.on('exit', (code, sig) => resolve({ code, sig })))
    await waitFor(() => stdout.includes('\n'), 60_000, `the app's ready line (${stderr})`)
    const health = JSON.parse(stdout.slice(stdout.indexOf('ready ') + 6))
    assert.deepEqual([health.pushed, health.exported, health.inFlight], [COUNT, 0, COUNT])
    app.kill(signal)
    assert.deepEqual(await exited, { code: null, sig: signal }, 'died of the signal, no handler')
    assert.equal(rings(ringDir).length, 1, "the dead app's ring stays")
    assert.equal(delivered(killedTraces).size, 0, 'nothing was exported before the kill')

    const traces = path.join(dir, 'next')
    const nextFile = path.join(dir, 'next.js')
    fs.writeFileSync(nextFile, recoverApp(ringDir, traces))
    const result = await new Promise((resolve) =>
      execFile(process.execPath, [nextFile], { timeout: 180_000 }, (error, out, err) => resolve({ error, out, err })),
    )
    assert.equal(result.error, null, result.err)
    const report = JSON.parse(result.out.trim().split('\n').pop())
    assert.deepEqual([report.health.pushed, report.health.recovered, report.health.exported], [0, COUNT, COUNT])
    assert.equal(report.health.droppedTotal, 0)
    assert.equal(report.shutdown, true)
    const seen = delivered(traces)
    assert.deepEqual([...seen.keys()].sort(), Array.from({ length: COUNT }, (_, i) => `crash-${i}`).sort())
    assert.ok([...seen.values()].every((n) => n === 1), 'each span exactly once')
    assert.deepEqual(rings(ringDir), [], 'the dead ring and the clean run\'s own ring are removed')
  })
}
