//! drift-exporter: see docs/design.md.
