//! Python binding (placeholder until issue 5 lands).
