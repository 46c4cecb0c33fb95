'use strict'

// The configuration front door as the Node binding sees it (the exporter's one option table,
// per-field precedence of options over TUSK_* variables, errors at creation) and the documented
// log channel (stderr lines gated by TUSK_LOG_LEVEL).

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const http = require('node:http')
const { spawnSync } = require('node:child_process')

const { RingExporter, exporterOptions } = require('..')
const { tempDir } = require('./helpers.js')
const { ExportSpansResponse } = require('@use-tusk/drift-schemas/backend/span_export_service')

const ADDON_DIR = path.join(__dirname, '..')

function span(index) {
  return {
    traceId: `trace-${index}`,
    spanId: `span-${index}`,
    parentSpanId: '',
    name: 'op',
    packageName: 'http',
    instrumentationName: 'TestInstrumentation',
    submoduleName: 'GET',
    packageType: 1,
    kind: 2,
    statusCode: 1,
    statusMessage: '',
    isPreAppStart: false,
    isRootSpan: true,
    timestampSeconds: 1_700_000_000,
    timestampNanos: 0,
    durationSeconds: 0,
    durationNanos: 1_000_000,
    inputValueJson: '{"a":1}',
  }
}

/** Sets TUSK_* variables for one test, restoring them afterwards. */
function withEnv(t, vars) {
  const names = [...exporterOptions().map((option) => option.env), ...Object.keys(vars)]
  const saved = Object.fromEntries(names.map((name) => [name, process.env[name]]))
  for (const name of names) delete process.env[name]
  Object.assign(process.env, vars)
  t.after(() => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name]
      else process.env[name] = value
    }
  })
}

function ringDir(t) {
  const dir = tempDir('drift-ring-')
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  return dir
}

test('the options are the exporter table, as index.d.ts declares them', () => {
  const table = exporterOptions()
  assert.ok(table.length >= 18)
  for (const option of table) {
    assert.match(option.name, /^[a-z][a-zA-Z]*$/)
    assert.match(option.env, /^TUSK_[A-Z_]+$/)
    assert.ok(option.help.length > 15, option.name)
  }
  const dts = fs.readFileSync(path.join(ADDON_DIR, 'index.d.ts'), 'utf8')
  const block = dts.slice(dts.indexOf('export interface RingExporterOptions'))
  const body = block.slice(0, block.indexOf('\n}'))
  const declared = [...body.matchAll(/^ {2}(\w+)\?:/gm)].map((match) => match[1])
  // Plus the binding's own: the callback sink, the exit drain budget, the in-process anonymous ring.
  const expected = [...table.map((option) => option.name), 'callback', 'exitFlushTimeoutMs', 'ringAnonymous']
  assert.deepEqual([...declared].sort(), [...expected].sort())
  // Each option's JSDoc is the table's help (wrapped; `sink` adds Node's callback).
  const docs = new Map(
    [...body.matchAll(/\/\*\*([\s\S]*?)\*\/\n {2}(\w+)\?:/g)].map((match) => [
      match[2],
      match[1].replace(/^\s*\*\s?/gm, ' ').replace(/\s+/g, ' ').trim(),
    ]),
  )
  for (const option of table) {
    assert.ok(docs.has(option.name), `${option.name} has a JSDoc`)
    assert.ok(docs.get(option.name).startsWith(option.help), `${option.name}: ${docs.get(option.name)}`)
  }
})

test('TUSK_API_URL and TUSK_API_KEY reach sink api; options beat the environment per field', async (t) => {
  const keys = []
  const server = http.createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      keys.push(req.headers['x-api-key'])
      res.setHeader('content-type', 'application/protobuf')
      res.end(Buffer.from(ExportSpansResponse.toBinary({ success: true, message: '' })))
    })
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => server.close())
  withEnv(t, {
    TUSK_API_URL: `http://127.0.0.1:${server.address().port}`,
    TUSK_API_KEY: 'key-from-env',
    TUSK_EXPORT_SINK: 'file',
    TUSK_OBSERVABLE_SERVICE_ID: 'svc-env',
  })
  // The sink from the options, the URL and key from the environment.
  const exporter = new RingExporter({ sink: 'api', ringDir: ringDir(t), scheduleDelayMillis: 20 })
  t.after(() => exporter.shutdown(2000))
  assert.ok(exporter.pushSpan(span(1)))
  assert.equal(await exporter.forceFlush(60_000), true)
  assert.ok(keys.length >= 1)
  assert.deepEqual([...new Set(keys)], ['key-from-env'])
})

test('invalid values are errors at creation naming the option', (t) => {
  withEnv(t, {})
  const dir = ringDir(t)
  const cases = [
    [{ sink: 'fiel' }, /sink/],
    [{ maxExportBatchSize: 0 }, /max_export_batch_size/],
    [{ maxExportBatchSize: 1.5 }, /max_export_batch_size/],
    [{ sink: 'api', apiUrl: 'ftp://x' }, /api_url/],
    [{ sink: 'file', apiKey: 'k' }, /api_key/],
    [{ sink: 'api', tracesDir: '/tmp/x' }, /traces_dir/],
  ]
  for (const [options, pattern] of cases) {
    assert.throws(() => new RingExporter({ ringDir: dir, ...options }), (error) => {
      assert.equal(error.code, 'InvalidConfig', JSON.stringify(options))
      assert.match(error.message, pattern)
      return true
    })
  }
  process.env.TUSK_MAX_EXPORT_BATCH_SIZE = 'lots'
  assert.throws(() => new RingExporter({ ringDir: dir }), /TUSK_MAX_EXPORT_BATCH_SIZE/)
  delete process.env.TUSK_MAX_EXPORT_BATCH_SIZE
  // One vocabulary; the former spelling is accepted.
  for (const sink of ['file', 'files']) {
    const exporter = new RingExporter({ ringDir: dir, sink, tracesDir: path.join(dir, sink) })
    exporter.shutdownSync()
  }
})

/** Runs a child node process that creates and shuts down one file-sink exporter. */
function childStderr(level) {
  const dir = tempDir('drift-log-')
  const script = `
    const { RingExporter } = require(${JSON.stringify(ADDON_DIR)})
    const exporter = new RingExporter({ sink: 'file', ringDir: ${JSON.stringify(path.join(dir, 'r'))},
      tracesDir: ${JSON.stringify(path.join(dir, 't'))} })
    exporter.shutdownSync()
  `
  const env = { ...process.env }
  delete env.TUSK_LOG_LEVEL
  if (level !== undefined) env.TUSK_LOG_LEVEL = level
  const result = spawnSync(process.execPath, ['-e', script], { env, encoding: 'utf8', timeout: 60_000 })
  fs.rmSync(dir, { recursive: true, force: true })
  assert.equal(result.status, 0, result.stderr)
  return { stderr: result.stderr, dir }
}

test('log records are stderr lines gated by TUSK_LOG_LEVEL', () => {
  const quiet = childStderr(undefined)
  assert.equal(quiet.stderr, '', 'nothing below warn by default')
  const info = childStderr('info')
  const lines = info.stderr.split('\n').filter(Boolean)
  const started = lines.filter((line) => line.includes('ring exporter started'))
  assert.equal(started.length, 1, info.stderr)
  assert.match(started[0], /^\[drift-exporter\] INFO drift_exporter[\w:]*: ring exporter started in pid \d+: spans go to trace files in /)
})
