"""A local stand-in for the Tusk backend's SpanExportService (HTTP on 127.0.0.1)."""

from __future__ import annotations

import gzip
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from proto_decode import decode_export_request

EXPORT_PATH = "/api/drift/tusk.drift.backend.v1.SpanExportService/ExportSpans"
# ExportSpansResponse{success: true}
SUCCESS = b"\x08\x01"


class MockBackend:
    """Collects ExportSpansRequest bodies; `url` is the base URL to configure."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.bodies: list[bytes] = []
        self.headers: list[dict[str, str]] = []
        self._lock = threading.Lock()
        backend = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                with backend._lock:
                    backend.headers.append({k.lower(): v for k, v in self.headers.items()})
                    backend.bodies.append(body)
                    backend.requests.append({"path": self.path, "request": decode_export_request(body)})
                self.send_response(200)
                self.send_header("Content-Type", "application/protobuf")
                self.send_header("Content-Length", str(len(SUCCESS)))
                self.end_headers()
                self.wfile.write(SUCCESS)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def spans(self) -> list[dict[str, Any]]:
        with self._lock:
            return [span for item in self.requests for span in item["request"].get("spans", [])]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
