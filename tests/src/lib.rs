//! Lab harness (placeholder, being written).
