//! RFC 7047 OVSDB client (placeholder, being written).
