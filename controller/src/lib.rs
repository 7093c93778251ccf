//! The ovs-controller library (placeholder, being written).
