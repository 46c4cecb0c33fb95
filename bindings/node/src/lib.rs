//! Node binding (placeholder until issue 6 lands).
