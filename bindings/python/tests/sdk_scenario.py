"""Records spans through the published Tusk Drift SDK (RECORD mode), then shuts it down.

Run as a subprocess, from a project directory whose .tusk/config.yaml points the SDK at a
local mock backend. argv: path of span_payloads.jsonl, mode ("stock" leaves the SDK as it is,
"install" calls drift_core.sdk.install(), "env" relies on TUSK_RING_EXPORTER=1), span count.
Prints one JSON line: what the hook reported (or null) and the health of the ring exporter.
"""

from __future__ import annotations

import json
import sys


def main() -> None:
    fixtures_path, mode, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    from opentelemetry.trace import SpanKind, Status, StatusCode

    from drift.core.drift_sdk import TuskDrift
    from drift.core.tracing.span_utils import AddSpanAttributesOptions, CreateSpanOptions, SpanUtils
    from drift.core.tracing.td_attributes import TdSpanAttributes

    payloads = [json.loads(line) for line in open(fixtures_path, encoding="utf-8") if line.strip()]
    sdk = TuskDrift.initialize(env="e2e")
    sdk.mark_app_as_ready()
    exporter = None
    if mode in ("install", "uninstall"):
        import drift_core.sdk

        exporter = drift_core.sdk.install(schedule_delay_millis=50)
        assert drift_core.sdk.install() is exporter  # idempotent

    kinds = [SpanKind.SERVER, SpanKind.CLIENT, SpanKind.INTERNAL]
    for index in range(count):
        payload = payloads[index % len(payloads)]
        output = payloads[(index * 7 + 3) % len(payloads)]
        kind = kinds[index % len(kinds)]
        info = SpanUtils.create_span(
            CreateSpanOptions(
                name=f"span-{index}",
                kind=kind,
                attributes={
                    TdSpanAttributes.NAME: f"span-{index}",
                    TdSpanAttributes.PACKAGE_NAME: payload["kind"],
                    TdSpanAttributes.INSTRUMENTATION_NAME: "E2EInstrumentation",
                    TdSpanAttributes.SUBMODULE_NAME: payload["side"],
                    TdSpanAttributes.PACKAGE_TYPE: ["HTTP", "PG", "REDIS", "UNKNOWN"][index % 4],
                    TdSpanAttributes.IS_ROOT_SPAN: kind == SpanKind.SERVER,
                },
                is_pre_app_start=index % 11 == 0,
            )
        )
        assert info is not None, "the SDK did not create a span"
        SpanUtils.add_span_attributes(
            info.span,
            AddSpanAttributesOptions(
                input_value=payload["value"],
                output_value=output["value"],
                input_schema_merges=payload["schema_merges"],
                output_schema_merges=output["schema_merges"],
                metadata={"index": index, "size_class": payload["size_class"]},
            ),
        )
        info.span.set_status(Status(StatusCode.OK if index % 5 else StatusCode.UNSET))
        if mode == "uninstall" and index == count // 2:
            # Half the spans through the ring, then back to the stock path.
            import drift_core.sdk

            ring_health = exporter.health_snapshot()
            drift_core.sdk.uninstall(30)
            exporter = None
        info.span.end()

    if mode in ("install", "env"):
        import drift_core.sdk as hook

        exporter = exporter or hook.installed_exporter()
    health = None
    if exporter is not None:
        exporter.force_flush(60)
        health = exporter.health_snapshot()
    sdk.shutdown()
    if mode == "uninstall":
        health = ring_health
    print(json.dumps({"hooked": mode != "stock", "health": health}))


if __name__ == "__main__":
    main()
