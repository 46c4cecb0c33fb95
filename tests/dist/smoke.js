'use strict'
// Smoke test of the packed npm artifacts (scripts/build-dist.sh runs it inside a fresh project where
// our tarballs and `@use-tusk/drift-node-sdk` from the registry were installed, with `overrides`
// pointing the SDK's `@use-tusk/drift-core-node` dependency at ours).
// Checks: the addon comes from the per-platform package, the SDK resolves our package, the core
// functions give the published results recorded in the goldens, the ring exporter starts and stops.
// argv: expected version, path of tests/fixtures/golden/text_functions.jsonl.
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { createRequire } = require('node:module')

const [expectedVersion, goldenPath] = process.argv.slice(2)
const project = process.cwd()
// Resolve as the smoke project's own code would (this script lives in the checkout).
const projectRequire = createRequire(path.join(project, 'package.json'))
const inProject = (p) => path.resolve(p).startsWith(path.join(project, 'node_modules') + path.sep)

function checkPackages() {
  const main = projectRequire.resolve('@use-tusk/drift-core-node')
  assert.ok(inProject(main), `drift-core-node resolved to ${main}`)
  assert.equal(projectRequire('@use-tusk/drift-core-node/package.json').version, expectedVersion)
  const platform = projectRequire.resolve('@use-tusk/drift-core-node-linux-x64-gnu')
  assert.ok(inProject(platform), `platform package resolved to ${platform}`)
  assert.equal(projectRequire('@use-tusk/drift-core-node-linux-x64-gnu/package.json').version, expectedVersion)
  // The SDK's own `require('@use-tusk/drift-core-node')` must land on ours (npm `overrides`).
  const sdkDir = path.dirname(projectRequire.resolve('@use-tusk/drift-node-sdk/package.json'))
  const fromSdk = require.resolve('@use-tusk/drift-core-node/package.json', { paths: [sdkDir] })
  assert.equal(JSON.parse(fs.readFileSync(fromSdk, 'utf8')).version, expectedVersion, fromSdk)
}

function checkGoldens(core) {
  const names = { normalize_json: 'normalizeJson', deterministic_hash: 'deterministicHash', normalize_and_hash: 'normalizeAndHash' }
  let checked = 0
  for (const line of fs.readFileSync(goldenPath, 'utf8').split('\n')) {
    if (!line.trim()) continue
    const c = JSON.parse(line)
    const fn = names[c.fn]
    if (!fn || !('json' in c.args)) continue // the others name fixture files outside the artifacts
    if ('ok' in c.expect) {
      const got = core[fn](c.args.json)
      const want = c.fn === 'normalize_and_hash' ? { normalizedJson: c.expect.ok[0], deterministicHash: c.expect.ok[1] } : c.expect.ok
      assert.deepEqual(fn === 'normalizeAndHash' ? { ...got } : got, want, `${c.fn}(${JSON.stringify(c.args.json)})`)
    } else {
      assert.throws(() => core[fn](c.args.json), Error, `${c.fn}(${JSON.stringify(c.args.json)}) must throw`)
    }
    checked++
  }
  assert.ok(checked > 400, `only ${checked} golden cases`)
  return checked
}

async function checkRingExporter(core) {
  const requests = []
  const exporter = new core.RingExporter({ callback: (bytes) => requests.push(bytes) })
  assert.equal(exporter.getHealthSnapshot().pushed, 0)
  assert.equal(await exporter.forceFlush(), true)
  assert.equal(await exporter.shutdown(), true)
  assert.equal(exporter.getHealthSnapshot().running, false)
}

async function main() {
  checkPackages()
  const core = projectRequire('@use-tusk/drift-core-node')
  const checked = checkGoldens(core)
  await checkRingExporter(core)
  console.log(`node smoke: @use-tusk/drift-core-node ${expectedVersion} ok, ${checked} golden cases, SDK resolves ours`)
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
