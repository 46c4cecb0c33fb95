'use strict'

// `node -r @use-tusk/drift-core-node/register app.js` with `TUSK_RING_EXPORTER=1`: routes
// the finished spans of the app's `@use-tusk/drift-node-sdk` (CommonJS build) through the native
// ring exporter, with no code change. ESM apps call `useRingExporter(TuskDrift)` from
// `@use-tusk/drift-core-node/sdk` on the `TuskDrift` they import (the ESM and CommonJS builds of
// the SDK are separate module instances).
//
// Exporter settings come from the `TUSK_*` variables the native exporter reads (see
// docs/design.md, "Exporter"); the sink and the service identity follow the SDK's configuration
// (see sdk.js).

const enabled = /^(1|true|yes|on)$/i.test(process.env.TUSK_RING_EXPORTER || '')

if (enabled) {
  let sdk
  try {
    // Resolve the SDK the application itself would load, not one next to this package.
    const sdkPath = require.resolve('@use-tusk/drift-node-sdk', { paths: [process.cwd(), __dirname] })
    sdk = require(sdkPath)
  } catch (error) {
    process.emitWarning(
      `TUSK_RING_EXPORTER is set but @use-tusk/drift-node-sdk could not be loaded: ${error.message}`,
      { code: 'TUSK_RING_EXPORTER_NO_SDK' },
    )
  }
  if (sdk && sdk.TuskDrift) {
    require('./sdk.js').useRingExporter(sdk.TuskDrift)
  }
}
