//! drift-core-rs: see docs/design.md.
