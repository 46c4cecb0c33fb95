//! drift-ring: see docs/design.md.
