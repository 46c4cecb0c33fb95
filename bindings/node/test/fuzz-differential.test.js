'use strict'

// The differential fuzzer's short fixed-seed pass (CI): our addon against the published
// `@use-tusk/drift-core-node` on generated inputs, every published function. Long random passes:
// scripts/fuzz-differential.sh.

const test = require('node:test')
const assert = require('node:assert/strict')

const { run } = require('./fuzz-differential.js')

// Fixed seeds and a fixed number of comparisons: the same inputs on every run.
const SEEDS = [13, 20261202]
const COMPARISONS = 6000

for (const seed of SEEDS) {
  test(`differential fuzz, fixed seed ${seed}: no disagreement with the published addon`, () => {
    const result = run(seed, COMPARISONS)
    assert.ok(result.comparisons >= COMPARISONS)
    assert.equal(Object.keys(result.perFunction).length, 8, JSON.stringify(result.perFunction))
    assert.deepEqual(result.disagreements.slice(0, 5), [])
  })
}

// Disagreements the fuzzer found, pinned against the published addon (the text-form ones are also
// goldens: FUZZ_FOUND in tests/golden/regenerate.py).
test('regressions found by the differential fuzzer', () => {
  const { decodeSpan } = require('./helpers.js')
  const ours = require('..')
  const published = require('published-core')
  for (const args of [
    ['{}', '{"a":[]}'],
    ['{"body":"WzEsMV0="}', '{"body":[1,1]}'],
    ['{"body":"94e25"}', '{"body":{"decoded_type":1}}'],
    ['{"body":"-98682831394406063e-5"}', '{"body":{"decoded_type":1}}'],
    ['{"body":"[83441658336277746e-19,0.30000000000000004,1156346444425357626159,0.30000000000000004]"}', '{"body":{"decoded_type":1}}'],
  ]) {
    assert.deepEqual({ ...ours.processExportPayload(...args) }, { ...published.processExportPayload(...args) }, args[1])
  }
  // The span builder reads its JSON arguments once (one serde_json::from_str), numbers included.
  const span = {
    traceId: 't', spanId: 's', parentSpanId: '', name: 'n', packageName: 'p', instrumentationName: 'i',
    submoduleName: '', packageType: 1, kind: 1, inputSchemaJson: '{"type":6,"match_importance":94e25}',
    outputSchemaJson: '{"type":4}', inputSchemaHash: '', outputSchemaHash: '', inputValueHash: '',
    outputValueHash: '', statusCode: 0, statusMessage: '', isPreAppStart: false, isRootSpan: true,
    timestampSeconds: 0, timestampNanos: 0, durationSeconds: 0, durationNanos: 0,
    metadataJson: '{"aa":[[-673005901594229847311299648556767173345]],"A":23913658318977544104226886271777216}',
    inputValueJson: '{"x":-98682831394406063e-5}', outputValueJson: '[[{}, 3514340242638146770947970]]',
  }
  assert.deepEqual(decodeSpan(ours.buildSpanProtoBytes(span)), decodeSpan(published.buildSpanProtoBytes(span)))
})
