//! The credentials a deployment's host holds beyond a static `api_key`: LiteLLM's own keys
//! (`azure_ad_token`, `tenant_id`/`client_id`/`client_secret`, `vertex_credentials`,
//! `aws_access_key_id`/`aws_secret_access_key`/`aws_session_token`) and wasmgate's
//! `credential:` block, plus which other parameters are secrets.

use super::{scalar_text, ConfigError, Loader};
use serde_yaml_ng::Value;
use std::collections::BTreeMap;
use wasmgate_runtime::{AwsCredentials, Grant, Secret, GOOGLE_CLOUD_SCOPE};

/// A credential the host holds for a deployment and the adapter never sees.
#[derive(Debug, Clone)]
pub enum HostCredential {
    /// A static bearer token (`azure_ad_token`, or `credential: {type: access_token}`).
    AccessToken(Secret),
    /// OAuth2 access tokens the host obtains, caches and refreshes.
    OAuth(Grant),
    /// AWS keys the host signs requests with (SigV4).
    Aws(AwsCredentials),
}

/// The `litellm_params` keys this module reads; they never reach the adapter.
pub(super) const CREDENTIAL_PARAMS: &[&str] = &[
    "azure_ad_token",
    "tenant_id",
    "client_id",
    "client_secret",
    "azure_scope",
    "azure_authority_host",
    "vertex_credentials",
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
];

/// LiteLLM credential keys wasmgate does not support (yet).
const UNSUPPORTED_PARAMS: &[&str] = &[
    "aws_role_name",
    "aws_session_name",
    "aws_profile_name",
    "aws_web_identity_token",
    "aws_sts_endpoint",
    "azure_username",
    "azure_password",
];

/// The Entra ID scope for Azure OpenAI / AI Foundry.
const AZURE_SCOPE: &str = "https://cognitiveservices.azure.com/.default";
/// The Entra ID authority.
const AZURE_AUTHORITY: &str = "https://login.microsoftonline.com";

/// Whether a parameter's name says it holds a secret: one of its `_`/`-` separated words is
/// `key`, `secret`, `token`, `password`, `credential(s)` or `apikey`.
pub(super) fn secret_like_name(name: &str) -> bool {
    name.to_ascii_lowercase().split(['_', '-', '.']).any(|w| {
        matches!(
            w,
            "key"
                | "apikey"
                | "secret"
                | "token"
                | "password"
                | "passwd"
                | "credential"
                | "credentials"
        )
    })
}

/// Reads values out of one YAML mapping, resolving `os.environ/VAR`, and notes which keys held
/// secrets.
struct Reader<'l, 'm> {
    loader: &'l Loader,
    map: &'m BTreeMap<String, Value>,
    line: Option<usize>,
    prefix: &'static str,
    secrets: &'m mut Vec<String>,
}

impl Reader<'_, '_> {
    fn plain(&self, key: &str) -> Result<Option<String>, ConfigError> {
        let Some(v) = self.map.get(key) else {
            return Ok(None);
        };
        let what = format!("{}{key}", self.prefix);
        let text = scalar_text(v).ok_or_else(|| {
            self.loader
                .error(self.line, format!("{what} must be a string"))
        })?;
        self.loader.resolve(&text, self.line, &what).map(Some)
    }

    fn secret(&mut self, key: &str) -> Result<Option<Secret>, ConfigError> {
        let value = self.plain(key)?;
        if value.is_some() {
            self.secrets.push(format!("{}{key}", self.prefix));
        }
        Ok(value.filter(|v| !v.is_empty()).map(Secret::new))
    }

    fn required(&self, key: &str, kind: &str) -> Result<String, ConfigError> {
        self.plain(key)?.filter(|v| !v.is_empty()).ok_or_else(|| {
            self.loader.error(
                self.line,
                format!("{kind} credentials need `{}{key}`", self.prefix),
            )
        })
    }

    fn required_secret(&mut self, key: &str, kind: &str) -> Result<Secret, ConfigError> {
        self.secret(key)?.ok_or_else(|| {
            self.loader.error(
                self.line,
                format!("{kind} credentials need `{}{key}`", self.prefix),
            )
        })
    }

    /// `scopes` as a list or a space-separated string.
    fn scopes(&self, key: &str, default: &[&str]) -> Result<Vec<String>, ConfigError> {
        match self.map.get(key) {
            None => Ok(default.iter().map(|s| s.to_string()).collect()),
            Some(Value::Sequence(items)) => items
                .iter()
                .map(|i| {
                    scalar_text(i).ok_or_else(|| {
                        self.loader
                            .error(self.line, format!("{}{key} must hold strings", self.prefix))
                    })
                })
                .collect(),
            Some(_) => Ok(self
                .plain(key)?
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_string)
                .collect()),
        }
    }

    /// Google credentials given inline as JSON or as the path of a key file.
    fn google_grant(&mut self, key: &str, scopes: Vec<String>) -> Result<Grant, ConfigError> {
        let value = self.secret(key)?.ok_or_else(|| {
            self.loader
                .error(self.line, format!("`{}{key}` is empty", self.prefix))
        })?;
        let json = if value.expose().trim_start().starts_with('{') {
            value.expose().to_string()
        } else {
            std::fs::read_to_string(value.expose()).map_err(|e| {
                self.loader.error(
                    self.line,
                    format!(
                        "cannot read the Google credentials file named by `{}{key}`: {e}",
                        self.prefix
                    ),
                )
            })?
        };
        Grant::from_google_json(&json, scopes).map_err(|e| {
            self.loader
                .error(self.line, format!("`{}{key}`: {e}", self.prefix))
        })
    }
}

/// The host credential of a deployment and the keys it treated as secrets, from the LiteLLM
/// keys in `params` or the `credential:` block (which wins).
pub(super) fn host_credential(
    loader: &mut Loader,
    params: &BTreeMap<String, Value>,
    block: Option<&Value>,
    line: Option<usize>,
    secrets: &mut Vec<String>,
) -> Result<Option<HostCredential>, ConfigError> {
    for key in UNSUPPORTED_PARAMS
        .iter()
        .filter(|k| params.contains_key(**k))
    {
        let key_line = loader.key_line(&format!("litellm_params.{key}"));
        loader.warn(key_line, format!("`litellm_params.{key}` is not supported by wasmgate; give the keys themselves (aws_access_key_id/aws_secret_access_key, or a `credential:` block)"));
    }
    let from_params = {
        let mut r = Reader {
            loader,
            map: params,
            line,
            prefix: "litellm_params.",
            secrets,
        };
        litellm_keys(&mut r)?
    };
    let Some(block) = block else {
        return Ok(from_params);
    };
    let Value::Mapping(mapping) = block else {
        return Err(loader.error(line, "litellm_params.credential must be a mapping"));
    };
    let map: BTreeMap<String, Value> = mapping
        .iter()
        .filter_map(|(k, v)| k.as_str().map(|k| (k.to_string(), v.clone())))
        .collect();
    if from_params.is_some() {
        let key_line = loader.key_line("litellm_params.credential");
        loader.warn(
            key_line,
            "both `credential:` and LiteLLM credential keys are given; `credential:` is used",
        );
    }
    let mut r = Reader {
        loader,
        map: &map,
        line,
        prefix: "credential.",
        secrets,
    };
    credential_block(&mut r).map(Some)
}

fn litellm_keys(r: &mut Reader<'_, '_>) -> Result<Option<HostCredential>, ConfigError> {
    if let Some(token) = r.secret("azure_ad_token")? {
        return Ok(Some(HostCredential::AccessToken(token)));
    }
    if r.map.contains_key("aws_access_key_id") || r.map.contains_key("aws_secret_access_key") {
        return Ok(Some(HostCredential::Aws(AwsCredentials {
            access_key_id: r.required_secret("aws_access_key_id", "AWS")?,
            secret_access_key: r.required_secret("aws_secret_access_key", "AWS")?,
            session_token: r.secret("aws_session_token")?,
            region: r
                .plain("aws_region_name")?
                .unwrap_or_else(|| "us-east-1".to_string()),
        })));
    }
    if r.map.contains_key("vertex_credentials") {
        let scopes = vec![GOOGLE_CLOUD_SCOPE.to_string()];
        return Ok(Some(HostCredential::OAuth(
            r.google_grant("vertex_credentials", scopes)?,
        )));
    }
    if r.map.contains_key("client_secret") {
        let tenant = r.required("tenant_id", "Entra ID")?;
        let authority = r
            .plain("azure_authority_host")?
            .unwrap_or_else(|| AZURE_AUTHORITY.to_string());
        return Ok(Some(HostCredential::OAuth(Grant::ClientCredentials {
            token_url: format!(
                "{}/{tenant}/oauth2/v2.0/token",
                authority.trim_end_matches('/')
            ),
            client_id: r.required("client_id", "Entra ID")?,
            client_secret: r.required_secret("client_secret", "Entra ID")?,
            scopes: r.scopes("azure_scope", &[AZURE_SCOPE])?,
        })));
    }
    Ok(None)
}

fn credential_block(r: &mut Reader<'_, '_>) -> Result<HostCredential, ConfigError> {
    let kind = r.required("type", "`credential:`")?;
    let credential = match kind.as_str() {
        "access_token" => HostCredential::AccessToken(r.required_secret("token", "access_token")?),
        "oauth2_refresh_token" => HostCredential::OAuth(Grant::RefreshToken {
            token_url: r.required("token_url", "oauth2_refresh_token")?,
            client_id: r.required("client_id", "oauth2_refresh_token")?,
            client_secret: r.secret("client_secret")?,
            refresh_token: r.required_secret("refresh_token", "oauth2_refresh_token")?,
            scopes: r.scopes("scopes", &[])?,
        }),
        "oauth2_client_credentials" => HostCredential::OAuth(Grant::ClientCredentials {
            token_url: r.required("token_url", "oauth2_client_credentials")?,
            client_id: r.required("client_id", "oauth2_client_credentials")?,
            client_secret: r.required_secret("client_secret", "oauth2_client_credentials")?,
            scopes: r.scopes("scopes", &[])?,
        }),
        "google_service_account" | "google" => {
            let scopes = r.scopes("scopes", &[GOOGLE_CLOUD_SCOPE])?;
            let mut grant = r.google_grant("key", scopes)?;
            if let Some(url) = r.plain("token_url")? {
                match &mut grant {
                    Grant::RefreshToken { token_url, .. }
                    | Grant::ClientCredentials { token_url, .. }
                    | Grant::GoogleServiceAccount { token_url, .. } => *token_url = url,
                }
            }
            HostCredential::OAuth(grant)
        }
        "aws_sigv4" => HostCredential::Aws(AwsCredentials {
            access_key_id: r.required_secret("access_key_id", "aws_sigv4")?,
            secret_access_key: r.required_secret("secret_access_key", "aws_sigv4")?,
            session_token: r.secret("session_token")?,
            region: r.required("region", "aws_sigv4")?,
        }),
        other => {
            return Err(r.loader.error(
                r.line,
                format!("credential.type `{other}` is not one of access_token, oauth2_refresh_token, oauth2_client_credentials, google_service_account, aws_sigv4"),
            ))
        }
    };
    if let Some(url) = r.plain("token_url")? {
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(r.loader.error(
                r.line,
                format!("credential.token_url `{url}` is not an http(s) URL"),
            ));
        }
    }
    Ok(credential)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names() {
        for name in [
            "api_key",
            "client_secret",
            "aws_session_token",
            "x-api-key",
            "db_password",
            "vertex_credentials",
        ] {
            assert!(secret_like_name(name), "{name}");
        }
        for name in [
            "max_tokens",
            "organization",
            "vertex_project",
            "keyword",
            "region",
        ] {
            assert!(!secret_like_name(name), "{name}");
        }
    }
}
