//! AWS credentials the host holds and signs with (SigV4 over the final method, URL, headers and
//! body hash), so an adapter can call Bedrock without ever seeing the secret key.

use super::Secret;
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use std::time::SystemTime;

/// An AWS access key, with its session token when it is temporary.
#[derive(Clone, Debug)]
pub struct AwsCredentials {
    /// The access key id (`AKIA…`/`ASIA…`).
    pub access_key_id: Secret,
    /// The secret access key.
    pub secret_access_key: Secret,
    /// The session token of temporary credentials.
    pub session_token: Option<Secret>,
    /// The region signed for when the adapter names none.
    pub region: String,
}

/// Why a request could not be signed.
#[derive(Debug, thiserror::Error)]
#[error("AWS SigV4 signing failed: {0}")]
pub struct SignError(String);

impl AwsCredentials {
    /// Every secret, for scrubbing.
    pub(crate) fn secrets(&self) -> impl Iterator<Item = &Secret> + Clone {
        [&self.access_key_id, &self.secret_access_key]
            .into_iter()
            .chain(self.session_token.as_ref())
    }

    /// Signs `request` (whose body is `body`) for `service` in `region` (else the credentials'
    /// own) at `time`, adding `authorization`, `x-amz-date` and, for temporary credentials,
    /// `x-amz-security-token`. The `host` header is signed as the URL's authority.
    pub fn sign<B>(
        &self,
        request: &mut http::Request<B>,
        body: &[u8],
        service: &str,
        region: Option<&str>,
        time: SystemTime,
    ) -> Result<(), SignError> {
        let identity = Credentials::new(
            self.access_key_id.expose(),
            self.secret_access_key.expose(),
            self.session_token.as_ref().map(|t| t.expose().to_string()),
            None,
            "wasmgate",
        )
        .into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(region.unwrap_or(&self.region))
            .name(service)
            .time(time)
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| SignError(e.to_string()))?
            .into();
        let headers: Vec<(&str, &str)> = request
            .headers()
            .iter()
            .filter_map(|(n, v)| v.to_str().ok().map(|v| (n.as_str(), v)))
            .collect();
        let uri = request.uri().to_string();
        let signable = SignableRequest::new(
            request.method().as_str(),
            uri,
            headers.into_iter(),
            SignableBody::Bytes(body),
        )
        .map_err(|e| SignError(e.to_string()))?;
        let (instructions, _signature) = sign(signable, &params)
            .map_err(|e| SignError(e.to_string()))?
            .into_parts();
        instructions.apply_to_request_http1x(request);
        Ok(())
    }
}
