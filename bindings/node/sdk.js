'use strict'

// SDK hookup: routes the finished spans of `@use-tusk/drift-node-sdk` (RECORD mode) through the
// native ring exporter instead of the SDK's per-span conversion on the event loop.
//
// One line, before or after `TuskDrift.initialize(...)`:
//
//   require('@use-tusk/drift-core-node/sdk').useRingExporter(TuskDrift)
//
// or, with no code change in a CommonJS app, `TUSK_RING_EXPORTER=1 node -r
// @use-tusk/drift-core-node/register app.js` (see register.js).
//
// The seam: the SDK builds one OpenTelemetry BatchSpanProcessor around its `TdSpanExporter`
// (`initializeTracing`). Stock, ended spans wait in that processor's buffer for up to 2 s, then
// `TdSpanExporter.export(spans, resultCallback)` parses every span's JSON attributes, builds
// schemas and hashes and encodes protobuf, all on the event loop. The hook replaces that
// processor instance's `onEnd`: each span is taken the moment it ends, filtered as the SDK's
// exporter filters (library name, blocked traces, server errors, 1 MiB size cap, unacceptable
// content types) and its attribute strings, untouched, are copied into the ring
// (`RingExporter.pushSpanFields`). Nothing waits in a JavaScript buffer, so `process.exit()`,
// Ctrl-C and crashes lose nothing that ended: the ring is drained on `exit` (the native
// exporter's exit drain) or, once the ring is a named ring, by the next start or a sidecar.
// Parsing, hashing, schemas, protobuf and delivery happen on the exporter's own thread, with the
// SDK's rules (exporter/src/flavour/node.rs). The exporter's `export` is replaced too, for spans
// that were already in the processor's buffer when the hook was installed.
//
// The hook is written against the SDK versions in SUPPORTED_SDK_VERSIONS (it reaches into the
// SDK's private objects): on any other version it refuses to install, warns once, and the SDK's
// stock path keeps running.

const { RingExporter } = require('./index.js')

// Constants of the SDK's span model (`TdSpanAttributes`, `TD_INSTRUMENTATION_LIBRARY_NAME`).
const TD_LIBRARY_NAME = 'tusk-drift-sdk'
const ATTR = Object.freeze({
  NAME: 'td.name',
  PACKAGE_TYPE: 'td.packageType',
  PACKAGE_NAME: 'td.packageName',
  INSTRUMENTATION_NAME: 'td.instrumentationName',
  SUBMODULE_NAME: 'td.submodule',
  IS_PRE_APP_START: 'td.isPreAppStart',
  INPUT_VALUE: 'td.inputValue',
  OUTPUT_VALUE: 'td.outputValue',
  INPUT_SCHEMA_MERGES: 'td.inputSchemaMerges',
  OUTPUT_SCHEMA_MERGES: 'td.outputSchemaMerges',
  METADATA: 'td.metadata',
  TRANSFORM_METADATA: 'td.transformMetadata',
})
// OpenTelemetry SpanKind (INTERNAL 0, SERVER 1, CLIENT 2, PRODUCER 3, CONSUMER 4) to
// tusk.drift.core.v1.SpanKind (UNSPECIFIED 0, INTERNAL 1, SERVER 2, CLIENT 3, PRODUCER 4,
// CONSUMER 5), as the SDK's `ApiSpanAdapter.mapSpanKind` does.
const OTEL_KIND_TO_PROTO = [1, 2, 3, 4, 5]
const OTEL_SPAN_KIND_SERVER = 1
const OTEL_STATUS_OK = 1
const OTEL_STATUS_ERROR = 2
const PROTO_STATUS_OK = 1
const PROTO_STATUS_ERROR = 2
// The SDK's export filter: input + output text + 50 kB of overhead must stay under 1 MiB.
const SDK_MAX_SPAN_BYTES = 1024 * 1024
const SDK_SPAN_OVERHEAD_BYTES = 5e4
// The SDK's ACCEPTABLE_CONTENT_TYPES: DecodedType.JSON (1) and DecodedType.PLAIN_TEXT (11).
const ACCEPTABLE_DECODED_TYPES = new Set([1, 11])
// The SDK's TraceBlockingManager keeps a blocked trace for 10 minutes.
const BLOCKED_TRACE_TTL_MS = 10 * 60 * 1000
const EXPORT_RESULT_SUCCESS = 0
// OpenTelemetry TraceFlags.SAMPLED.
const TRACE_FLAG_SAMPLED = 1
const HOOK_MARK = Symbol.for('@use-tusk/drift-core-node/ring-hook')
// The SDK versions whose private objects this hook was written and tested against
// (test/stock-identity.test.js diffs its output with each one's stock path).
const SUPPORTED_SDK_VERSIONS = new Set(['0.1.27'])
const DEFAULT_SHUTDOWN_TIMEOUT_MS = 5000

/**
 * Trace ids the hook has blocked, mirroring the SDK's `TraceBlockingManager` for the blocks
 * decided at export time (the SDK does not expose its own manager).
 */
class BlockedTraces {
  constructor() {
    this.blockedAt = new Map()
    this.lastSweep = Date.now()
  }

  has(traceId) {
    if (this.blockedAt.size === 0) return false
    this.sweep()
    return this.blockedAt.has(traceId)
  }

  block(traceId) {
    if (!this.blockedAt.has(traceId)) this.blockedAt.set(traceId, Date.now())
  }

  sweep() {
    const now = Date.now()
    // Sweeping at most once a minute keeps `has` O(1) on the hot path.
    if (now - this.lastSweep < 60 * 1000) return
    this.lastSweep = now
    for (const [traceId, at] of this.blockedAt) {
      if (now - at > BLOCKED_TRACE_TTL_MS) this.blockedAt.delete(traceId)
    }
  }
}

// Converted merges by their SDK text: an instrumentation writes the same few merges over and
// over, so nearly every span is a cache hit. Bounded: cleared when it grows past the limit.
const MERGES_CACHE_LIMIT = 512
const mergesCache = new Map()

/**
 * The SDK's camelCase schema merges (`decodedType`, `matchImportance`) with the published core's
 * snake_case names, for callers of `processExportPayload`. The hook itself passes the SDK's text
 * untouched: the exporter's Node flavour reads it as the SDK does.
 */
function mergesToCoreJson(mergesJson) {
  if (typeof mergesJson !== 'string' || mergesJson.length === 0) return undefined
  if (mergesJson.indexOf('decodedType') === -1 && mergesJson.indexOf('matchImportance') === -1) {
    return mergesJson
  }
  let converted = mergesCache.get(mergesJson)
  if (converted === undefined) {
    if (mergesCache.size >= MERGES_CACHE_LIMIT) mergesCache.clear()
    converted = convertMerges(mergesJson)
    mergesCache.set(mergesJson, converted)
  }
  return converted
}

function convertMerges(mergesJson) {
  let merges
  try {
    merges = JSON.parse(mergesJson)
  } catch {
    // Unparseable merges reach the exporter as they are and are counted there.
    return mergesJson
  }
  if (merges === null || typeof merges !== 'object') return mergesJson
  const out = {}
  for (const key of Object.keys(merges)) {
    const merge = merges[key]
    if (merge === null || typeof merge !== 'object') {
      out[key] = merge
      continue
    }
    const converted = {}
    for (const field of Object.keys(merge)) {
      if (field === 'decodedType') converted.decoded_type = merge[field]
      else if (field === 'matchImportance') converted.match_importance = merge[field]
      else converted[field] = merge[field]
    }
    out[key] = converted
  }
  return JSON.stringify(out)
}

function outputDecodedType(outputMergesJson) {
  if (typeof outputMergesJson !== 'string' || outputMergesJson.indexOf('decodedType') === -1) {
    return undefined
  }
  try {
    const merges = JSON.parse(outputMergesJson)
    const decodedType = merges && merges.body && merges.body.decodedType
    return typeof decodedType === 'number' ? decodedType : undefined
  } catch {
    return undefined
  }
}

function stringOrEmpty(value) {
  return typeof value === 'string' ? value : ''
}

function optionalString(value) {
  return typeof value === 'string' && value.length > 0 ? value : undefined
}

/**
 * Decides, as the SDK's `TdSpanExporter.export` does, whether an ended span is exported.
 * Returns false for spans the SDK would drop, blocking their trace where the SDK would.
 */
function shouldExport(span, blocked) {
  const library = span.instrumentationLibrary || span.instrumentationScope
  if (!library || library.name !== TD_LIBRARY_NAME) return false
  const traceId = span.spanContext().traceId
  if (blocked.has(traceId)) return false
  const attributes = span.attributes
  if (span.kind === OTEL_SPAN_KIND_SERVER) {
    if (span.status && span.status.code === OTEL_STATUS_ERROR) {
      blocked.block(traceId)
      return false
    }
    // The SDK's HTTP and Next.js instrumentations block a server trace whose response content
    // type is not JSON or plain text; the decoded type they derived is in the output merges.
    const decodedType = outputDecodedType(attributes[ATTR.OUTPUT_SCHEMA_MERGES])
    if (decodedType !== undefined && !ACCEPTABLE_DECODED_TYPES.has(decodedType)) {
      blocked.block(traceId)
      return false
    }
  }
  const inputText = stringOrEmpty(attributes[ATTR.INPUT_VALUE])
  const outputText = stringOrEmpty(attributes[ATTR.OUTPUT_VALUE])
  // At most 3 UTF-8 bytes per UTF-16 unit: below that bound no byte count is needed.
  const bound = 3 * (inputText.length + outputText.length) + SDK_SPAN_OVERHEAD_BYTES
  if (
    bound > SDK_MAX_SPAN_BYTES &&
    Buffer.byteLength(inputText, 'utf8') + Buffer.byteLength(outputText, 'utf8') + SDK_SPAN_OVERHEAD_BYTES >
      SDK_MAX_SPAN_BYTES
  ) {
    blocked.block(traceId)
    return false
  }
  return true
}

/** The span's package name, as the SDK's `SpanTransformer.extractPackageName`. */
function packageNameOf(attributes) {
  return optionalString(attributes[ATTR.PACKAGE_NAME]) || 'unknown'
}

/** The span's instrumentation name, as the SDK's `SpanTransformer.extractInstrumentationName`. */
function instrumentationNameOf(span, attributes, packageName) {
  const library = span.instrumentationLibrary || span.instrumentationScope
  return (
    optionalString(attributes[ATTR.INSTRUMENTATION_NAME]) ||
    (library && library.name ? `tusk-instrumentation-${library.name}` : `tusk-instrumentation-${packageName}`)
  )
}

/**
 * The span's fields as `RingExporter.pushSpan` takes them: the SDK's attribute strings as they
 * are (merges included, camelCase), the same mapping of kind, status and package type as the
 * SDK's `SpanTransformer` and `ApiSpanAdapter`.
 */
function spanToRingSpan(span, environment) {
  const attributes = span.attributes
  const context = span.spanContext()
  const otelKind = span.kind
  const packageName = packageNameOf(attributes)
  const packageType = attributes[ATTR.PACKAGE_TYPE]
  return {
    traceId: context.traceId,
    spanId: context.spanId,
    parentSpanId: span.parentSpanId || (span.parentSpanContext && span.parentSpanContext.spanId) || '',
    name: stringOrEmpty(attributes[ATTR.NAME]),
    packageName,
    instrumentationName: instrumentationNameOf(span, attributes, packageName),
    submoduleName: stringOrEmpty(attributes[ATTR.SUBMODULE_NAME]),
    packageType: typeof packageType === 'number' ? packageType : 0,
    kind: OTEL_KIND_TO_PROTO[otelKind] ?? 0,
    environment,
    statusCode: span.status && span.status.code === OTEL_STATUS_OK ? PROTO_STATUS_OK : PROTO_STATUS_ERROR,
    statusMessage: (span.status && span.status.message) || '',
    isPreAppStart: attributes[ATTR.IS_PRE_APP_START] === true,
    isRootSpan: otelKind === OTEL_SPAN_KIND_SERVER,
    timestampSeconds: span.startTime[0],
    timestampNanos: span.startTime[1],
    durationSeconds: span.duration[0],
    durationNanos: span.duration[1],
    inputValueJson: stringOrEmpty(attributes[ATTR.INPUT_VALUE]) || '{}',
    outputValueJson: optionalString(attributes[ATTR.OUTPUT_VALUE]),
    inputSchemaMergesJson: optionalString(attributes[ATTR.INPUT_SCHEMA_MERGES]),
    outputSchemaMergesJson: optionalString(attributes[ATTR.OUTPUT_SCHEMA_MERGES]),
    metadataJson: optionalString(attributes[ATTR.METADATA]),
    transformMetadataJson: optionalString(attributes[ATTR.TRANSFORM_METADATA]),
  }
}

/**
 * Pushes one SDK span. With a native exporter, the fields go positionally through
 * `pushSpanFields` (no intermediate object, no property lookups on the native side); any other
 * exporter object (tests, custom sinks) gets `pushSpan(spanToRingSpan(...))`.
 */
function pushSdkSpan(exporter, span, environment) {
  if (typeof exporter.pushSpanFields !== 'function') return exporter.pushSpan(spanToRingSpan(span, environment))
  const attributes = span.attributes
  const context = span.spanContext()
  const otelKind = span.kind
  const status = span.status
  const packageName = packageNameOf(attributes)
  const packageType = attributes[ATTR.PACKAGE_TYPE]
  return exporter.pushSpanFields(
    context.traceId,
    context.spanId,
    span.parentSpanId || (span.parentSpanContext && span.parentSpanContext.spanId) || '',
    stringOrEmpty(attributes[ATTR.NAME]),
    packageName,
    instrumentationNameOf(span, attributes, packageName),
    stringOrEmpty(attributes[ATTR.SUBMODULE_NAME]),
    typeof packageType === 'number' ? packageType : 0,
    OTEL_KIND_TO_PROTO[otelKind] ?? 0,
    environment,
    status && status.code === OTEL_STATUS_OK ? PROTO_STATUS_OK : PROTO_STATUS_ERROR,
    (status && status.message) || '',
    attributes[ATTR.IS_PRE_APP_START] === true,
    otelKind === OTEL_SPAN_KIND_SERVER,
    span.startTime[0],
    span.startTime[1],
    span.duration[0],
    span.duration[1],
    stringOrEmpty(attributes[ATTR.INPUT_VALUE]) || '{}',
    optionalString(attributes[ATTR.OUTPUT_VALUE]),
    optionalString(attributes[ATTR.INPUT_SCHEMA_MERGES]),
    optionalString(attributes[ATTR.OUTPUT_SCHEMA_MERGES]),
    optionalString(attributes[ATTR.METADATA]),
    optionalString(attributes[ATTR.TRANSFORM_METADATA]),
  )
}

/**
 * The OpenTelemetry span processor the SDK built around `sdkExporter`: the SDK registers its
 * tracer provider with its own copy of the OpenTelemetry API, whose globals live under
 * `Symbol.for('td-opentelemetry.js.api.<major>')` (the stock API's key without the `td-`).
 */
function findSdkSpanProcessor(sdkExporter) {
  for (const key of Object.getOwnPropertySymbols(globalThis)) {
    if (!/^(td-)?opentelemetry\.js\.api\.\d+$/.test(key.description || '')) continue
    const api = globalThis[key]
    const proxy = api && api.trace
    const provider = proxy && typeof proxy.getDelegate === 'function' ? proxy.getDelegate() : proxy
    if (!provider) continue
    const processors =
      provider._registeredSpanProcessors ||
      (provider.activeSpanProcessor && provider.activeSpanProcessor._spanProcessors) ||
      []
    for (const processor of processors) {
      if (processor && processor._exporter === sdkExporter && typeof processor.onEnd === 'function') return processor
    }
  }
  return undefined
}

/** The ring exporter's sink, derived from the SDK's own configuration unless given. */
function sinkOptionsFromSdk(core, sdkExporter) {
  const adapters = typeof sdkExporter.getAdapters === 'function' ? sdkExporter.getAdapters() : []
  const api = adapters.find((adapter) => adapter && adapter.name === 'api')
  if (api) {
    const config = typeof core.getConfig === 'function' ? core.getConfig() : core.config || {}
    const initParams = (typeof core.getInitParams === 'function' ? core.getInitParams() : core.initParams) || {}
    return {
      sink: 'api',
      apiUrl: (config.tusk_api && config.tusk_api.url) || 'https://api.usetusk.ai',
      apiKey: initParams.apiKey,
      observableServiceId: api.observableServiceId,
      sdkVersion: api.sdkVersion,
      sdkInstanceId: api.sdkInstanceId,
      environment: api.environment || '',
    }
  }
  const files = adapters.find((adapter) => adapter && adapter.name === 'filesystem')
  return { sink: 'file', tracesDir: files ? files.baseDirectory : undefined }
}

function resolveCore(tuskDrift) {
  if (tuskDrift && tuskDrift.tuskDrift && typeof tuskDrift.tuskDrift === 'object') return tuskDrift.tuskDrift
  return tuskDrift
}

/**
 * Replaces the SDK exporter's `export` (and its flush/shutdown) with the ring path. Returns the
 * hook state: `{ exporter, stats }`.
 */
function patchSdkExporter(core, sdkExporter, options) {
  if (sdkExporter[HOOK_MARK]) return sdkExporter[HOOK_MARK]
  const environment = optionalString(sdkExporter.environment)
  // What the SDK's configuration says applies to the sink it describes; a sink chosen explicitly
  // (e.g. `sidecar` while the SDK writes files) takes its settings from the options and TUSK_*
  // variables only, since the exporter refuses options that do not apply to its sink.
  const derived = sinkOptionsFromSdk(core, sdkExporter)
  const ringOptions = options.sink && options.sink !== derived.sink ? { ...options } : { ...derived, ...options }
  const exporter = options.exporter || new RingExporter(ringOptions)
  const blocked = new BlockedTraces()
  const stats = { pushed: 0, rejected: 0, filtered: 0, conversionErrors: 0, atSpanEnd: false }
  const original = {
    export: sdkExporter.export,
    forceFlush: sdkExporter.forceFlush,
    shutdown: sdkExporter.shutdown,
  }

  const take = (span) => {
    try {
      if (!shouldExport(span, blocked)) {
        stats.filtered += 1
        return
      }
      if (pushSdkSpan(exporter, span, environment)) stats.pushed += 1
      else stats.rejected += 1
    } catch {
      // A malformed span must not cost the others their export; the count says it happened.
      stats.conversionErrors += 1
    }
  }

  sdkExporter.export = function ringExport(spans, resultCallback) {
    if (this.mode !== undefined && this.mode !== 'RECORD') {
      resultCallback({ code: EXPORT_RESULT_SUCCESS })
      return
    }
    for (const span of spans) take(span)
    // The spans are in the ring: from the SDK's point of view they are exported. Delivery
    // outcomes are in `exporter.getHealthSnapshot()`.
    resultCallback({ code: EXPORT_RESULT_SUCCESS })
  }

  // Take spans when they end, at the SDK's span processor, instead of after its batch delay.
  const processor = options.spanProcessor || findSdkSpanProcessor(sdkExporter)
  if (processor) {
    original.processor = processor
    original.onEnd = Object.prototype.hasOwnProperty.call(processor, 'onEnd') ? processor.onEnd : undefined
    const stockOnEnd = processor.onEnd
    processor.onEnd = function ringOnEnd(span) {
      if (sdkExporter.mode !== undefined && sdkExporter.mode !== 'RECORD') return stockOnEnd.call(this, span)
      // What the stock BatchSpanProcessor.onEnd checks before buffering a span.
      if (this._shutdownOnce && this._shutdownOnce.isCalled) return undefined
      const context = span.spanContext()
      if ((context.traceFlags & TRACE_FLAG_SAMPLED) === 0) return undefined
      take(span)
      return undefined
    }
  }
  stats.atSpanEnd = Boolean(processor)

  sdkExporter.forceFlush = async function ringForceFlush() {
    await exporter.forceFlush(options.flushTimeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS)
  }
  sdkExporter.shutdown = async function ringShutdown() {
    await exporter.shutdown(options.shutdownTimeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS)
    if (typeof original.shutdown === 'function') await original.shutdown.call(sdkExporter)
  }

  // Spans still waiting in the SDK's BatchSpanProcessor or in the ring are flushed when the
  // event loop empties; `once` so the flush's own promise cannot loop forever.
  if (options.flushOnExit !== false) {
    process.once('beforeExit', () => {
      exporter.forceFlush(options.flushTimeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS).catch(() => {})
    })
  }
  // `process.exit()` skips `beforeExit` (and Promises never settle after it): on `exit`, what
  // reached the ring is exported synchronously, on the exiting thread, within
  // `exitFlushTimeoutMs`. Every native exporter registers this drain for itself when it is
  // created; the hookup states it here too (with its option, if given) so the guarantee does
  // not rest on an exporter built elsewhere. Whichever runs second returns at once (shutdown
  // is idempotent).
  process.once('exit', () => {
    if (typeof exporter.shutdownSync === 'function') exporter.shutdownSync(options.exitFlushTimeoutMs)
  })

  const state = {
    exporter,
    stats,
    // What the startup line reports (not the key).
    exporterOptions: {
      sink: ringOptions.sink,
      tracesDir: ringOptions.tracesDir,
      apiUrl: ringOptions.apiUrl,
      ringDir: ringOptions.ringDir,
    },
    restore() {
      sdkExporter.export = original.export
      sdkExporter.forceFlush = original.forceFlush
      sdkExporter.shutdown = original.shutdown
      if (original.processor) {
        if (original.onEnd === undefined) delete original.processor.onEnd
        else original.processor.onEnd = original.onEnd
      }
      delete sdkExporter[HOOK_MARK]
    },
  }
  Object.defineProperty(sdkExporter, HOOK_MARK, { value: state, configurable: true })
  return state
}

/**
 * The version of the `@use-tusk/drift-node-sdk` the application loads: `options.sdkVersion`, else
 * the `package.json` of the SDK resolved from the working directory (then from here).
 */
function installedSdkVersion(options) {
  if (typeof options.sdkPackageVersion === 'string') return options.sdkPackageVersion
  try {
    const file = require.resolve('@use-tusk/drift-node-sdk/package.json', { paths: [process.cwd(), __dirname] })
    return JSON.parse(require('node:fs').readFileSync(file, 'utf8')).version
  } catch {
    return undefined
  }
}

/** One warning, through Node's own channel (`--no-warnings` silences it). */
function warn(message, code) {
  process.emitWarning(`${message}; the SDK's stock export path stays in use`, { code })
}

/** The startup line: which hook is active, with which sink and ring. */
function announce(state, sdkVersion) {
  const options = state.exporterOptions
  const where =
    options.sink === 'file' && options.tracesDir
      ? ` (${options.tracesDir})`
      : options.sink === 'api'
        ? ` (${options.apiUrl})`
        : ''
  const ring = options.ringDir ? `ring in ${options.ringDir}` : 'in-process ring'
  const seam = state.stats.atSpanEnd ? "spans taken at the SDK's span processor" : "spans taken at the SDK's exporter"
  process.stderr.write(
    `[drift-core] ring exporter active for @use-tusk/drift-node-sdk ${sdkVersion}: sink ${options.sink || 'default'}${where}, ${ring}, ${seam}\n`,
  )
}

/**
 * Routes the SDK's finished spans through a native `RingExporter`.
 *
 * @param tuskDrift the `TuskDrift` object exported by `@use-tusk/drift-node-sdk`.
 * @param options `RingExporter` options; by default the sink follows the SDK's configuration
 *   (`api` with the SDK's key, service id and URL when `recording.export_spans` is on, else
 *   `file` into the SDK's traces directory). Also `exporter` (an existing `RingExporter`),
 *   `flushTimeoutMs`, `shutdownTimeoutMs`, `flushOnExit` (default true), `sdkPackageVersion`
 *   (the SDK version to check instead of the installed package's).
 * @returns a handle: `{ installed, exporter, stats, ready, restore() }`. On an SDK version the
 *   hook was not written for, or when the exporter cannot start, nothing is patched, one
 *   warning says why, `installed` is false and `ready` resolves with `undefined`: the SDK's
 *   stock path keeps running. Before `initialize()`, `ready` resolves once the SDK has built its
 *   exporter.
 */
function useRingExporter(tuskDrift, options = {}) {
  const core = resolveCore(tuskDrift)
  if (!core || typeof core !== 'object') {
    throw new TypeError('useRingExporter expects the TuskDrift object of @use-tusk/drift-node-sdk')
  }
  const notInstalled = { installed: false, exporter: undefined, stats: undefined, ready: Promise.resolve(undefined), restore() {} }
  const sdkVersion = installedSdkVersion(options)
  if (!SUPPORTED_SDK_VERSIONS.has(sdkVersion)) {
    warn(
      `@use-tusk/drift-core-node: the ring exporter hook supports @use-tusk/drift-node-sdk ${[...SUPPORTED_SDK_VERSIONS].join(', ')}, ` +
        `not ${sdkVersion === undefined ? 'an SDK whose version cannot be read' : sdkVersion}; it is not installed`,
      'TUSK_RING_EXPORTER_UNSUPPORTED_SDK',
    )
    return notInstalled
  }
  const install = (target) => {
    try {
      const state = patchSdkExporter(target, target.spanExporter, options)
      if (!state.announced) {
        state.announced = true
        announce(state, sdkVersion)
      }
      return state
    } catch (error) {
      warn(`@use-tusk/drift-core-node: the ring exporter could not start (${error && error.message})`, 'TUSK_RING_EXPORTER_FAILED')
      return undefined
    }
  }
  if (core.spanExporter && typeof core.spanExporter.export === 'function') {
    const state = install(core)
    return state ? { installed: true, ...state, ready: Promise.resolve(state) } : notInstalled
  }
  if (typeof core.initializeTracing !== 'function') {
    warn('@use-tusk/drift-core-node: this @use-tusk/drift-node-sdk has no initializeTracing seam', 'TUSK_RING_EXPORTER_UNSUPPORTED_SDK')
    return notInstalled
  }
  // Not initialized yet: wrap the instance's `initializeTracing` so the exporter is patched the
  // moment the SDK creates it, before any span can end.
  let resolveReady
  const ready = new Promise((resolve) => {
    resolveReady = resolve
  })
  const handle = { installed: true, exporter: undefined, stats: undefined, ready, restore: () => {} }
  const originalInitializeTracing = core.initializeTracing
  core.initializeTracing = function initializeTracingWithRing(...args) {
    const result = originalInitializeTracing.apply(this, args)
    core.initializeTracing = originalInitializeTracing
    const state = this.spanExporter && typeof this.spanExporter.export === 'function' ? install(this) : undefined
    if (state) Object.assign(handle, state)
    else handle.installed = false
    resolveReady(state)
    return result
  }
  handle.restore = () => {
    core.initializeTracing = originalInitializeTracing
  }
  return handle
}

module.exports = {
  useRingExporter,
  SUPPORTED_SDK_VERSIONS,
  // Exposed for tests and for SDKs that build their own span objects.
  spanToRingSpan,
  mergesToCoreJson,
}
