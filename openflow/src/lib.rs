//! OpenFlow 1.3 codec and switch connection (placeholder, being written).
