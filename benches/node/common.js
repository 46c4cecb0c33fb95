'use strict'

// Helpers of the Node benchmarks: fixture loading, the addons, interleaved timing, table output.

const fs = require('node:fs')
const path = require('node:path')
const v8 = require('node:v8')
const vm = require('node:vm')

// Between timed batches, outside the timing: a full collection, then a turn of the event loop
// so that N-API finalizers (which Node defers to the loop) free the external Buffers the
// published addon returns. Without both, a long run grows to many GB (one was OOM-killed at
// 23 GB) and the collector's pauses land in random batches.
v8.setFlagsFromString('--expose-gc')
const collectGarbage = vm.runInNewContext('gc')

const REPO_ROOT = path.resolve(__dirname, '..', '..')
const BINDING_DIR = path.join(REPO_ROOT, 'bindings', 'node')

/** Our addon and the published one (installed as `published-core` in bindings/node). */
function loadAddons() {
  const ours = require(BINDING_DIR)
  const published = require(require.resolve('published-core', { paths: [BINDING_DIR] }))
  return { ours, published }
}

/** The fixture payloads with their JSON text, grouped by size class. */
function loadPayloadsBySize() {
  const text = fs.readFileSync(path.join(REPO_ROOT, 'tests', 'fixtures', 'span_payloads.jsonl'), 'utf8')
  const bySize = new Map()
  for (const line of text.split('\n')) {
    if (!line.trim()) continue
    const entry = JSON.parse(line)
    const item = {
      ...entry,
      valueJson: JSON.stringify(entry.value),
      mergesJson: entry.schema_merges == null ? undefined : JSON.stringify(entry.schema_merges),
    }
    if (!bySize.has(entry.size_class)) bySize.set(entry.size_class, [])
    bySize.get(entry.size_class).push(item)
  }
  return bySize
}

/** Calls `fn(i)` `iterations` times; wall nanoseconds per call. */
function timeBatch(fn, iterations) {
  const start = process.hrtime.bigint()
  for (let i = 0; i < iterations; i += 1) fn(i)
  return Number(process.hrtime.bigint() - start) / iterations
}

/**
 * Calls `fn(i)` `iterations` times; CPU nanoseconds (user + system) of the process per call.
 * For single-threaded work on a shared machine this excludes the time the thread waited for a
 * core, which wall time does not; batches must last milliseconds (microsecond resolution).
 */
function cpuBatch(fn, iterations) {
  const start = process.cpuUsage()
  for (let i = 0; i < iterations; i += 1) fn(i)
  const used = process.cpuUsage(start)
  return ((used.user + used.system) * 1000) / iterations
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/**
 * Times `a` and `b` in alternating rounds (the order flips each round so neither always runs
 * warm) and returns the median ns/call of each.
 */
async function settle() {
  collectGarbage()
  await new Promise((resolve) => setImmediate(resolve))
  await new Promise((resolve) => setImmediate(resolve))
}

async function interleaved(a, b, { rounds, iterations, measure = cpuBatch }) {
  // Warm-up: JIT, caches, first-call allocations.
  timeBatch(a, Math.max(1, iterations >> 2))
  timeBatch(b, Math.max(1, iterations >> 2))
  const ta = []
  const tb = []
  const run = async (fn, into) => {
    await settle()
    into.push(measure(fn, iterations))
  }
  for (let round = 0; round < rounds; round += 1) {
    if (round % 2 === 0) {
      await run(a, ta)
      await run(b, tb)
    } else {
      await run(b, tb)
      await run(a, ta)
    }
  }
  return { a: median(ta), b: median(tb) }
}

function formatNs(ns) {
  if (ns >= 1e6) return `${(ns / 1e6).toFixed(2)} ms`
  if (ns >= 1e3) return `${(ns / 1e3).toFixed(2)} µs`
  return `${ns.toFixed(0)} ns`
}

function printTable(rows, columns) {
  const widths = columns.map((column) => Math.max(column.length, ...rows.map((row) => String(row[column]).length)))
  const line = (cells) => `| ${cells.map((cell, i) => String(cell).padEnd(widths[i])).join(' | ')} |`
  console.log(line(columns))
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`)
  for (const row of rows) console.log(line(columns.map((column) => row[column])))
}

module.exports = { collectGarbage, settle, REPO_ROOT, BINDING_DIR, loadAddons, loadPayloadsBySize, timeBatch, cpuBatch, interleaved, median, formatNs, printTable }
