//! The northbound join calls, `join_token_create` (admin) and `host_join` (no client
//! certificate needed: the token is the credential), over the core's join logic
//! ([`crate::service::join`]); [`super::rpc`] holds only the trait lines calling these.
//!
//! Contract: both run on the blocking pool (a durable write each); errors carry the core's
//! stable codes and say why a token was refused.

use super::rpc::Northbound;
use crate::api::{JoinRequest, JoinTokenCreated, JoinTokenSpec, Joined};
use jsonrpsee::types::ErrorObjectOwned;

impl Northbound {
    /// `join_token_create`: a one-time token for a registered host.
    pub async fn create_join_token(
        &self,
        spec: JoinTokenSpec,
    ) -> Result<JoinTokenCreated, ErrorObjectOwned> {
        self.blocking(move |c| {
            let (t, expires_at) = c.create_join_token(&spec.host, spec.ttl_secs, &spec.url)?;
            Ok(JoinTokenCreated {
                host: t.host.clone(),
                token: t.encode(),
                expires_at,
            })
        })
        .await
    }

    /// `host_join`: spend a token, sign the CSR for the token's host.
    pub async fn join_host(&self, req: JoinRequest) -> Result<Joined, ErrorObjectOwned> {
        self.blocking(move |c| c.join_host(&req.token, &req.csr))
            .await
    }
}
