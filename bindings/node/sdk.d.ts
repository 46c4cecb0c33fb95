import type { RingExporter, RingExporterOptions, RingSpan } from './index'

/** Counts kept by the hook (delivery outcomes are in `exporter.getHealthSnapshot()`). */
export interface RingHookStats {
  /** Spans accepted by the ring. */
  pushed: number
  /** Spans the ring refused (full, too large, after shutdown). */
  rejected: number
  /** Spans the SDK's own export filters would have dropped. */
  filtered: number
  /** Spans whose fields could not be read (malformed span objects). */
  conversionErrors: number
  /** True when spans are taken as they end, at the SDK's span processor (the SDK's own batch
   * processor was found); false when they are taken at the SDK exporter's `export`. */
  atSpanEnd: boolean
}

export interface RingHookHandle {
  /** False when the hook refused to install (an SDK version it does not support, or an
   * exporter that could not start): one warning said why and the SDK's stock path runs. */
  installed: boolean
  /** The exporter in use (undefined until the SDK has built its exporter). */
  exporter: RingExporter | undefined
  stats: RingHookStats | undefined
  /** Resolves once the hook is installed (at once when the SDK was already initialized), with
   * `undefined` when it was not. */
  ready: Promise<{ exporter: RingExporter; stats: RingHookStats; restore(): void } | undefined>
  /** Puts the SDK's own export path back. */
  restore(): void
}

export interface UseRingExporterOptions extends RingExporterOptions {
  /** The OpenTelemetry span processor to take spans from (default: the one the SDK built
   * around its exporter). */
  spanProcessor?: { onEnd(span: unknown): void }
  /** The SDK version to check instead of the installed package's `version`. */
  sdkPackageVersion?: string
  /** Use this exporter instead of creating one. */
  exporter?: RingExporter
  /** Budget of the SDK exporter's forceFlush (default 5000 ms). */
  flushTimeoutMs?: number
  /** Budget of the SDK exporter's shutdown (default 5000 ms). */
  shutdownTimeoutMs?: number
  /** Flush the ring when the event loop empties (`beforeExit`); default true. On `exit`
   * (including `process.exit()`) the ring is always drained synchronously within
   * `exitFlushTimeoutMs` (default 2000 ms; see `RingExporter.shutdownSync`). */
  flushOnExit?: boolean
}

/**
 * Routes the finished spans of `@use-tusk/drift-node-sdk` (RECORD mode) through a native
 * `RingExporter`. Call with the SDK's `TuskDrift`, before or after `TuskDrift.initialize()`.
 */
export declare function useRingExporter(tuskDrift: unknown, options?: UseRingExporterOptions): RingHookHandle

/** The `@use-tusk/drift-node-sdk` versions the hook installs on. */
export declare const SUPPORTED_SDK_VERSIONS: ReadonlySet<string>

/** The `pushSpan` argument for one of the SDK's ended OpenTelemetry spans. */
export declare function spanToRingSpan(span: unknown, environment?: string): RingSpan

/** The SDK's camelCase schema merges JSON as the core's snake_case JSON. */
export declare function mergesToCoreJson(mergesJson: string | undefined): string | undefined
