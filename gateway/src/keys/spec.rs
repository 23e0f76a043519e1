//! What a client may ask of a key (`/key/generate` and `/key/update` bodies, LiteLLM's field
//! names), checked before anything is stored: unknown fields, wrong types, oversized metadata
//! and malformed durations are refused with a message naming the field.

use serde::Deserialize;
use serde_json::{Map, Value};

/// The largest `metadata` object accepted, as JSON text.
pub const MAX_METADATA_BYTES: usize = 16 * 1024;
/// The longest `key_alias`.
pub const MAX_ALIAS_CHARS: usize = 128;
/// The most entries in `models`.
pub const MAX_MODELS: usize = 256;

/// The settable fields of a key; `None` leaves a field as it is (update) or unset (generate).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KeySpec {
    /// A human name, unique across keys.
    pub key_alias: Option<String>,
    /// The model names the key may use; empty: every model.
    pub models: Option<Vec<String>>,
    /// Spend limit in USD per budget period (or for the key's life without one).
    pub max_budget: Option<f64>,
    /// The budget period, as LiteLLM writes it (`30s`, `15m`, `1h`, `7d`, `1mo`), in seconds.
    pub budget_duration: Option<(String, i64)>,
    /// Requests per minute.
    pub rpm_limit: Option<i64>,
    /// Tokens per minute.
    pub tpm_limit: Option<i64>,
    /// Requests in flight at once.
    pub max_parallel_requests: Option<i64>,
    /// Free-form JSON object kept with the key.
    pub metadata: Option<Map<String, Value>>,
    /// Expiry, Unix seconds.
    pub expires: Option<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpec {
    key_alias: Option<String>,
    models: Option<Vec<String>>,
    max_budget: Option<f64>,
    budget_duration: Option<String>,
    rpm_limit: Option<i64>,
    tpm_limit: Option<i64>,
    max_parallel_requests: Option<i64>,
    metadata: Option<Map<String, Value>>,
    /// Expiry as a duration from now (LiteLLM's `duration`).
    duration: Option<String>,
    /// Expiry as Unix seconds or an RFC 3339 time.
    expires: Option<Value>,
    /// The key to update or delete (its value or its hash), for `/key/update`.
    key: Option<String>,
}

/// A request body that cannot become a key, with the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SpecError {
    /// The field, when one is at fault.
    pub param: Option<String>,
    /// What is wrong.
    pub message: String,
}

fn bad(param: &str, message: impl Into<String>) -> SpecError {
    SpecError {
        param: Some(param.to_string()),
        message: message.into(),
    }
}

/// Seconds in a LiteLLM duration: a positive number and a unit, `s`, `m`, `h`, `d` or `mo`
/// (30 days).
pub fn parse_duration(text: &str) -> Option<i64> {
    let text = text.trim();
    let digits = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(digits);
    let n: i64 = number.parse().ok().filter(|n| *n > 0)?;
    let unit_seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "mo" => 30 * 86_400,
        _ => return None,
    };
    n.checked_mul(unit_seconds)
}

fn non_negative(param: &str, v: Option<i64>) -> Result<Option<i64>, SpecError> {
    match v {
        Some(n) if n < 0 => Err(bad(param, format!("`{param}` must not be negative"))),
        other => Ok(other),
    }
}

/// The key a `/key/update` or `/key/delete` body names, and the spec it carries.
pub struct ParsedSpec {
    /// The spec.
    pub spec: KeySpec,
    /// The `key` field, when present.
    pub key: Option<String>,
}

impl KeySpec {
    /// Parses a `/key/generate` or `/key/update` body; `now` is the current Unix time.
    pub fn parse(body: &Value, now: i64) -> Result<ParsedSpec, SpecError> {
        let raw: RawSpec = serde_json::from_value(body.clone()).map_err(|e| SpecError {
            param: None,
            message: format!("invalid key request: {e}"),
        })?;
        if let Some(alias) = &raw.key_alias {
            if alias.trim().is_empty() || alias.chars().count() > MAX_ALIAS_CHARS {
                return Err(bad(
                    "key_alias",
                    format!("`key_alias` must have 1 to {MAX_ALIAS_CHARS} characters"),
                ));
            }
            if alias.chars().any(char::is_control) {
                return Err(bad(
                    "key_alias",
                    "`key_alias` may not hold control characters",
                ));
            }
        }
        if let Some(models) = &raw.models {
            if models.len() > MAX_MODELS
                || models.iter().any(|m| m.trim().is_empty() || m.len() > 256)
            {
                return Err(bad(
                    "models",
                    format!("`models` must list at most {MAX_MODELS} non-empty model names"),
                ));
            }
        }
        if let Some(b) = raw.max_budget {
            if !b.is_finite() || b < 0.0 {
                return Err(bad(
                    "max_budget",
                    "`max_budget` must be a non-negative number of USD",
                ));
            }
        }
        let budget_duration = match raw.budget_duration {
            None => None,
            Some(text) => match parse_duration(&text) {
                Some(secs) => Some((text.trim().to_string(), secs)),
                None => {
                    return Err(bad(
                        "budget_duration",
                        "`budget_duration` must be like 30s, 15m, 1h, 7d or 1mo",
                    ))
                }
            },
        };
        if let Some(metadata) = &raw.metadata {
            let size = serde_json::to_string(metadata).map_or(usize::MAX, |t| t.len());
            if size > MAX_METADATA_BYTES {
                return Err(bad(
                    "metadata",
                    format!("`metadata` is {size} bytes; the limit is {MAX_METADATA_BYTES}"),
                ));
            }
        }
        let expires = match (raw.duration, raw.expires) {
            (Some(_), Some(_)) => {
                return Err(bad("duration", "give `duration` or `expires`, not both"))
            }
            (Some(d), None) => Some(
                parse_duration(&d)
                    .and_then(|secs| now.checked_add(secs))
                    .ok_or_else(|| {
                        bad(
                            "duration",
                            "`duration` must be like 30s, 15m, 1h, 7d or 1mo",
                        )
                    })?,
            ),
            (None, Some(Value::Number(n))) => Some(
                n.as_i64()
                    .filter(|t| *t > 0)
                    .ok_or_else(|| bad("expires", "`expires` must be a Unix time in seconds"))?,
            ),
            (None, Some(Value::String(s))) => Some(parse_rfc3339(&s).ok_or_else(|| {
                bad(
                    "expires",
                    "`expires` must be an RFC 3339 time or Unix seconds",
                )
            })?),
            (None, Some(Value::Null) | None) => None,
            (None, Some(_)) => {
                return Err(bad(
                    "expires",
                    "`expires` must be an RFC 3339 time or Unix seconds",
                ))
            }
        };
        Ok(ParsedSpec {
            spec: KeySpec {
                key_alias: raw.key_alias,
                models: raw.models,
                max_budget: raw.max_budget,
                budget_duration,
                rpm_limit: non_negative("rpm_limit", raw.rpm_limit)?,
                tpm_limit: non_negative("tpm_limit", raw.tpm_limit)?,
                max_parallel_requests: non_negative(
                    "max_parallel_requests",
                    raw.max_parallel_requests,
                )?,
                metadata: raw.metadata,
                expires,
            },
            key: raw.key,
        })
    }
}

/// `secs` (Unix seconds) as an RFC 3339 UTC time, `2027-01-31T12:00:00Z`.
pub fn format_rfc3339(secs: i64) -> String {
    let (date, time) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, mo, d) = crate::front::der::civil_from_days(date);
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}Z",
        time / 3600,
        time % 3600 / 60,
        time % 60
    )
}

/// Unix seconds of an RFC 3339 UTC time such as `2027-01-31T12:00:00Z` (offsets `+hh:mm` too).
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let text = text.trim();
    let (date, time) = text.split_once(['T', 't', ' '])?;
    let mut d = date.split('-');
    let (y, mo, da): (i64, i64, i64) = (
        d.next()?.parse().ok()?,
        d.next()?.parse().ok()?,
        d.next()?.parse().ok()?,
    );
    if d.next().is_some() || !(1..=12).contains(&mo) || !(1..=31).contains(&da) {
        return None;
    }
    let (clock, offset) = if let Some(c) = time.strip_suffix(['Z', 'z']) {
        (c, 0)
    } else {
        let at = time.rfind(['+', '-'])?;
        let (c, off) = time.split_at(at);
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let (oh, om) = off[1..].split_once(':')?;
        (
            c,
            sign * (oh.parse::<i64>().ok()? * 3600 + om.parse::<i64>().ok()? * 60),
        )
    };
    let clock = clock.split('.').next()?;
    let mut c = clock.split(':');
    let (h, mi, s): (i64, i64, i64) = (
        c.next()?.parse().ok()?,
        c.next()?.parse().ok()?,
        c.next()?.parse().ok()?,
    );
    if c.next().is_some() || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let days = crate::front::der::days_from_civil(y, mo, da);
    Some(days * 86_400 + h * 3600 + mi * 60 + s - offset)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Some(30));
        assert_eq!(parse_duration("15m"), Some(900));
        assert_eq!(parse_duration("1h"), Some(3600));
        assert_eq!(parse_duration("7d"), Some(604_800));
        assert_eq!(parse_duration("1mo"), Some(2_592_000));
        for bad in [
            "",
            "d",
            "0d",
            "-1d",
            "1y",
            "1 d",
            "1.5h",
            "99999999999999999999d",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn rfc3339_round_trips() {
        for t in [0, 951_782_400, 1_796_083_200, 4_102_444_799] {
            assert_eq!(parse_rfc3339(&format_rfc3339(t)), Some(t));
        }
        assert_eq!(format_rfc3339(1_796_083_200), "2026-12-01T00:00:00Z");
    }

    #[test]
    fn rfc3339_times() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("2026-11-30T12:00:00Z"), Some(1_796_040_000));
        assert_eq!(
            parse_rfc3339("2026-11-30T13:00:00+01:00"),
            Some(1_796_040_000)
        );
        assert_eq!(
            parse_rfc3339("2026-11-30T12:00:00.250Z"),
            Some(1_796_040_000)
        );
        for bad in [
            "2026-13-01T00:00:00Z",
            "2026-11-30",
            "yesterday",
            "2026-11-30T25:00:00Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_full_spec() {
        let body = json!({"key_alias": "team-a", "models": ["gpt-4o"], "max_budget": 10.5,
                          "budget_duration": "30d", "rpm_limit": 10, "tpm_limit": 1000,
                          "max_parallel_requests": 2, "metadata": {"team": "a"}, "duration": "1h"});
        let parsed = KeySpec::parse(&body, 1000).unwrap();
        let s = parsed.spec;
        assert_eq!(s.budget_duration, Some(("30d".into(), 2_592_000)));
        assert_eq!(s.expires, Some(4600));
        assert_eq!(s.rpm_limit, Some(10));
        assert!(parsed.key.is_none());
    }

    #[test]
    fn bad_input_names_the_field() {
        let now = 0;
        for (body, param) in [
            (json!({"max_budget": -1}), Some("max_budget")),
            (
                json!({"budget_duration": "forever"}),
                Some("budget_duration"),
            ),
            (json!({"rpm_limit": -5}), Some("rpm_limit")),
            (json!({"key_alias": ""}), Some("key_alias")),
            (json!({"duration": "1h", "expires": 5}), Some("duration")),
            (json!({"expires": "soon"}), Some("expires")),
            (
                json!({"metadata": {"blob": "x".repeat(MAX_METADATA_BYTES)}}),
                Some("metadata"),
            ),
            (json!({"unknown_field": 1}), None),
            (json!({"models": "gpt-4o"}), None),
        ] {
            let err = KeySpec::parse(&body, now)
                .err()
                .unwrap_or_else(|| panic!("{body} was accepted"));
            assert_eq!(err.param.as_deref(), param, "{body}: {err}");
        }
    }
}
