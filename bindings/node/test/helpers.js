'use strict'

// Shared helpers of the node --test suites: fixture loading and protobuf decoding.

const fs = require('node:fs')
const path = require('node:path')
const { Struct } = require('@use-tusk/drift-schemas/google/protobuf/struct')
const { Span } = require('@use-tusk/drift-schemas/core/span')
const { ExportSpansRequest } = require('@use-tusk/drift-schemas/backend/span_export_service')

const REPO_ROOT = path.resolve(__dirname, '..', '..', '..')
const FIXTURES_DIR = path.join(REPO_ROOT, 'tests', 'fixtures')

/** The 64 span payloads, each with its JSON text as the SDKs hand it over. */
function loadSpanPayloads() {
  const text = fs.readFileSync(path.join(FIXTURES_DIR, 'span_payloads.jsonl'), 'utf8')
  return text
    .split('\n')
    .filter((line) => line.trim().length > 0)
    .map((line) => {
      const entry = JSON.parse(line)
      return {
        ...entry,
        valueJson: JSON.stringify(entry.value),
        mergesJson: entry.schema_merges == null ? undefined : JSON.stringify(entry.schema_merges),
      }
    })
}

/** Lines of every `tests/fixtures/golden/*.jsonl` file, tagged with the file name. */
function loadGoldenFiles() {
  const dir = path.join(FIXTURES_DIR, 'golden')
  if (!fs.existsSync(dir)) return []
  return fs
    .readdirSync(dir)
    .filter((name) => name.endsWith('.jsonl'))
    .sort()
    .map((name) => ({
      name,
      cases: fs
        .readFileSync(path.join(dir, name), 'utf8')
        .split('\n')
        .filter((line) => line.trim().length > 0)
        .map((line) => JSON.parse(line)),
    }))
}

const decodeStruct = (bytes) => Struct.toJson(Struct.fromBinary(bytes))
// Messages (not their JSON form, which rejects some valid values such as negative nanos);
// protobuf-ts maps are plain objects, so deep equality ignores map order. Unknown fields are
// not kept: the published builders decode and re-encode (dropping them), ours copy valid
// bytes as they are; both mean the same message.
const SEMANTIC = { readUnknownField: false }
const decodeSpan = (bytes) => Span.fromBinary(bytes, SEMANTIC)
const decodeExportRequest = (bytes) => ExportSpansRequest.fromBinary(bytes, SEMANTIC)

/** An unused temporary directory, removed by the caller's `after` hook. */
function tempDir(prefix) {
  return fs.mkdtempSync(path.join(require('node:os').tmpdir(), prefix))
}

/** Polls `predicate` until it is true or `timeoutMs` passes. */
async function waitFor(predicate, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await predicate()) return
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
}

/**
 * A seeded pseudo-random source (mulberry32), so that a test's "random" inputs are the same on
 * every run: CI is green or red for a reason, never by chance. DRIFT_TEST_SEED=<n> explores others.
 */
function seededRandom(seed) {
  let state = (Number(process.env.DRIFT_TEST_SEED ?? seed) >>> 0) || 1
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  return {
    /** An integer in [0, n). */
    int: (n) => Math.floor(next() * n),
    /** A Buffer of `n` bytes. */
    bytes: (n) => Buffer.from(Array.from({ length: n }, () => Math.floor(next() * 256))),
  }
}

module.exports = {
  REPO_ROOT,
  seededRandom,
  FIXTURES_DIR,
  loadSpanPayloads,
  loadGoldenFiles,
  decodeStruct,
  decodeSpan,
  decodeExportRequest,
  tempDir,
  waitFor,
  Span,
  Struct,
  ExportSpansRequest,
}
