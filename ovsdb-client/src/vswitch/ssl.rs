//! The `SSL` table: the key, certificate and CA ovsdb-server (started with
//! `--private-key=db:Open_vSwitch,SSL,private_key` etc., as Debian's `ovs-ctl` does) and
//! ovs-vswitchd use for every `ssl:`/`pssl:` connection; `Open_vSwitch.ssl` points at the
//! one row in use (what `ovs-vsctl set-ssl` writes).

use std::collections::BTreeMap;

use super::{Column, ColumnDef, Row, TypedRow, Uuid, Value};
use crate::ops::Operation;

table! {
    /// The `SSL` row (file paths on the host).
    Ssl = "SSL" {
        private_key: String = "private_key" as PRIVATE_KEY,
        certificate: String = "certificate" as CERTIFICATE,
        ca_cert: String = "ca_cert" as CA_CERT,
        bootstrap_ca_cert: bool = "bootstrap_ca_cert" as BOOTSTRAP_CA_CERT,
        external_ids: BTreeMap<String, String> = "external_ids" as EXTERNAL_IDS,
    }
}

/// Operations of `ovs-vsctl set-ssl KEY CERT CA`: a new `SSL` row referenced by
/// `Open_vSwitch.ssl` (the old row, no longer referenced, is garbage-collected).
pub fn set_ssl_ops(private_key: &str, certificate: &str, ca_cert: &str) -> Vec<Operation> {
    vec![
        Ssl::insert()
            .set(Ssl::PRIVATE_KEY, private_key)
            .set(Ssl::CERTIFICATE, certificate)
            .set(Ssl::CA_CERT, ca_cert)
            .set(Ssl::BOOTSTRAP_CA_CERT, false)
            .uuid_name("new_ssl")
            .into(),
        // `Open_vSwitch.ssl` is an optional reference, written here directly until the
        // typed `OpenVSwitch` model has optional-reference columns.
        Operation::update(
            <super::OpenVSwitch as TypedRow>::TABLE,
            vec![],
            Row::from([("ssl".to_string(), Value::named_uuid("new_ssl"))]),
        ),
    ]
}
