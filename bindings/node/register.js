'use strict'

// `node -r @use-tusk/drift-core-node/register app.js` with `TUSK_RING_EXPORTER` set: routes
// the finished spans of the app's `@use-tusk/drift-node-sdk` (CommonJS build) through the native
// ring exporter, with no code change. ESM apps call `useRingExporter(TuskDrift)` from
// `@use-tusk/drift-core-node/sdk` on the `TuskDrift` they import (the ESM and CommonJS builds of
// the SDK are separate module instances).
//
// TUSK_RING_EXPORTER: `1`/`true`/`yes`/`on` (sink from the SDK's configuration), or `api`,
// `file`, `sidecar` (that sink); `0`/`false`/`no`/`off` or unset: off. Exporter settings come
// from the `TUSK_*` variables the native exporter reads (see docs/design.md, "Exporter").
//
// Fail open: this file runs before the application, so nothing here may stop it. An invalid
// value, a missing or unloadable native binary, an SDK version the hook does not know or an
// exporter that cannot start each give one warning, and the SDK's stock export path runs.

const TRUTHY = /^(1|true|yes|on)$/i
const FALSY = /^(0|false|no|off)?$/i
const SINKS = new Set(['api', 'file', 'sidecar'])

function warn(message, code) {
  process.emitWarning(`${message}; the SDK's stock export path stays in use`, { code })
}

/**
 * Why the addon did not load, in words that fit: the napi loader's own message blames npm
 * ("npm has a bug related to optional dependencies") whatever the cause, and keeps the real
 * load errors in `cause`.
 */
function addonFailure(error) {
  const message = String((error && error.message) || error)
  if (!message.startsWith('Cannot find native binding')) return message.split('\n')[0]
  // The loader chains its load errors through `cause`; the one about this platform's binary says
  // the most.
  const platform = `${process.platform}-${process.arch}`
  const causes = []
  for (let cause = error.cause; cause && causes.length < 32; cause = cause.cause) {
    causes.push(String(cause.message || cause).split('\n')[0])
  }
  const detail = causes.find((text) => text.includes(platform)) || causes[0]
  return `no native binary for ${platform}${detail ? `: ${detail}` : ''}`
}

function register() {
  const raw = (process.env.TUSK_RING_EXPORTER || '').trim()
  if (FALSY.test(raw)) return
  const sink = raw.toLowerCase()
  if (!TRUTHY.test(raw) && !SINKS.has(sink)) {
    warn(
      `TUSK_RING_EXPORTER=${JSON.stringify(raw)} is not one of 1, true, yes, on, api, file, sidecar (or 0, false, no, off)`,
      'TUSK_RING_EXPORTER_INVALID',
    )
    return
  }
  try {
    // The native addon first: without it the hook cannot work (a platform without a prebuilt
    // binary, a failed optional install, a binary that does not load).
    require('./index.js')
  } catch (error) {
    warn(`TUSK_RING_EXPORTER is set but the native addon of @use-tusk/drift-core-node could not be loaded (${addonFailure(error)})`, 'TUSK_RING_EXPORTER_NO_ADDON')
    return
  }
  let sdk
  try {
    // Resolve the SDK the application itself would load, not one next to this package.
    const sdkPath = require.resolve('@use-tusk/drift-node-sdk', { paths: [process.cwd(), __dirname] })
    sdk = require(sdkPath)
  } catch (error) {
    warn(`TUSK_RING_EXPORTER is set but @use-tusk/drift-node-sdk could not be loaded (${error.message})`, 'TUSK_RING_EXPORTER_NO_SDK')
    return
  }
  if (!sdk || !sdk.TuskDrift) {
    warn('TUSK_RING_EXPORTER is set but @use-tusk/drift-node-sdk exports no TuskDrift', 'TUSK_RING_EXPORTER_NO_SDK')
    return
  }
  // useRingExporter checks the SDK version and warns itself when it does not install.
  require('./sdk.js').useRingExporter(sdk.TuskDrift, TRUTHY.test(raw) ? {} : { sink })
}

try {
  register()
} catch (error) {
  warn(`@use-tusk/drift-core-node/register failed (${error && error.message})`, 'TUSK_RING_EXPORTER_FAILED')
}
