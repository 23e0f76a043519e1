//! The router's behaviour as configured: LiteLLM's `router_settings` / `litellm_settings` keys,
//! typed, with LiteLLM's defaults where it has them.

use std::collections::BTreeMap;
use std::time::Duration;

/// How a deployment is picked among the healthy ones of a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Strategy {
    /// Random, weighted by `weight`, else `rpm`, else `tpm`, else uniform.
    #[default]
    SimpleShuffle,
    /// The fewest requests in flight.
    LeastBusy,
    /// The lowest recent latency (time to first token for streams), with a buffer so that
    /// near-equal deployments share the load.
    LatencyBased,
    /// The fewest tokens used this minute (against `tpm`).
    UsageBased,
}

impl Strategy {
    /// LiteLLM's name for the strategy.
    pub fn parse(name: &str) -> Option<Strategy> {
        match name {
            "simple-shuffle" => Some(Strategy::SimpleShuffle),
            "least-busy" => Some(Strategy::LeastBusy),
            "latency-based-routing" => Some(Strategy::LatencyBased),
            "usage-based-routing-v2" | "usage-based-routing" => Some(Strategy::UsageBased),
            _ => None,
        }
    }
}

/// What went wrong on an attempt, in the classes LiteLLM's `retry_policy` and
/// `allowed_fails_policy` name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ErrorClass {
    /// 400 (other than the two below): the request itself is wrong.
    BadRequest,
    /// 400 `context_length_exceeded`.
    ContextWindow,
    /// 400 `content_policy_violation`.
    ContentPolicy,
    /// 401 / 403.
    Authentication,
    /// 404: the provider does not know the model.
    NotFound,
    /// 408 / 504 / a deployment timeout.
    Timeout,
    /// 429, or a group with no capacity left.
    RateLimit,
    /// 5xx and transport failures.
    Server,
}

impl ErrorClass {
    /// The class of an answered status and error code.
    pub fn of(status: u16, code: Option<&str>) -> ErrorClass {
        match (status, code) {
            (400, Some("context_length_exceeded")) => ErrorClass::ContextWindow,
            (400, Some("content_policy_violation")) => ErrorClass::ContentPolicy,
            (401 | 403, _) => ErrorClass::Authentication,
            (404, _) => ErrorClass::NotFound,
            (408 | 504, _) | (_, Some("timeout")) => ErrorClass::Timeout,
            (429, _) => ErrorClass::RateLimit,
            (400..=499, _) => ErrorClass::BadRequest,
            _ => ErrorClass::Server,
        }
    }

    /// LiteLLM's key for the class in `retry_policy` (`...Retries`) and `allowed_fails_policy`
    /// (`...AllowedFails`).
    pub fn litellm_name(self) -> &'static str {
        match self {
            ErrorClass::BadRequest => "BadRequestError",
            ErrorClass::ContextWindow => "ContextWindowExceededError",
            ErrorClass::ContentPolicy => "ContentPolicyViolationError",
            ErrorClass::Authentication => "AuthenticationError",
            ErrorClass::NotFound => "NotFoundError",
            ErrorClass::Timeout => "TimeoutError",
            ErrorClass::RateLimit => "RateLimitError",
            ErrorClass::Server => "InternalServerError",
        }
    }

    /// Every class.
    pub const ALL: [ErrorClass; 8] = [
        ErrorClass::BadRequest,
        ErrorClass::ContextWindow,
        ErrorClass::ContentPolicy,
        ErrorClass::Authentication,
        ErrorClass::NotFound,
        ErrorClass::Timeout,
        ErrorClass::RateLimit,
        ErrorClass::Server,
    ];

    /// Whether the same request could succeed on another try of the same group, by default.
    fn retried_by_default(self) -> bool {
        matches!(
            self,
            ErrorClass::Timeout | ErrorClass::RateLimit | ErrorClass::Server
        )
    }

    /// Whether one failure of this class cools a deployment down at once (LiteLLM does so for
    /// 429, 401 and 404, and for timeouts).
    pub fn cools_down_at_once(self) -> bool {
        matches!(
            self,
            ErrorClass::RateLimit
                | ErrorClass::Authentication
                | ErrorClass::NotFound
                | ErrorClass::Timeout
        )
    }
}

/// The router's configuration.
#[derive(Debug, Clone)]
pub struct RouterSettings {
    /// `routing_strategy`.
    pub strategy: Strategy,
    /// `routing_strategy_args.lowest_latency_buffer`: deployments within `(1 + buffer) x` the
    /// lowest latency share the load.
    pub latency_buffer: f64,
    /// `routing_strategy_args.ttl`: latency older than this is forgotten, so a deployment that
    /// was slow is measured again.
    pub latency_ttl: Duration,
    /// `num_retries`: extra attempts in a group after a retryable failure (each deployment of
    /// a group is tried once in any case).
    pub num_retries: u32,
    /// `retry_policy`: retries per error class, replacing `num_retries` for that class.
    pub retry_policy: BTreeMap<ErrorClass, u32>,
    /// `retry_after`: the shortest wait before retrying a deployment already tried.
    pub retry_after: Duration,
    /// The longest wait for a retry (an upstream asking for more is not retried).
    pub max_backoff: Duration,
    /// `allowed_fails`: failures in a minute before a deployment cools down.
    pub allowed_fails: u32,
    /// `allowed_fails_policy`: the same per error class.
    pub allowed_fails_policy: BTreeMap<ErrorClass, u32>,
    /// `cooldown_time`.
    pub cooldown_time: Duration,
    /// `disable_cooldowns`.
    pub disable_cooldowns: bool,
    /// `fallbacks`: group → groups to try after it failed.
    pub fallbacks: BTreeMap<String, Vec<String>>,
    /// `context_window_fallbacks`.
    pub context_window_fallbacks: BTreeMap<String, Vec<String>>,
    /// `content_policy_fallbacks`.
    pub content_policy_fallbacks: BTreeMap<String, Vec<String>>,
    /// `default_fallbacks`: for groups without their own `fallbacks` entry.
    pub default_fallbacks: Vec<String>,
    /// `max_fallbacks`: fallback groups tried per request.
    pub max_fallbacks: usize,
    /// `timeout` / `request_timeout`: for deployments without their own.
    pub timeout: Option<Duration>,
    /// `stream_timeout`: for streaming calls of deployments without their own.
    pub stream_timeout: Option<Duration>,
    /// `model_group_alias`: names that route to another group.
    pub model_group_alias: BTreeMap<String, String>,
}

impl Default for RouterSettings {
    fn default() -> Self {
        RouterSettings {
            strategy: Strategy::SimpleShuffle,
            latency_buffer: 0.0,
            latency_ttl: Duration::from_secs(60),
            num_retries: 0,
            retry_policy: BTreeMap::new(),
            retry_after: Duration::ZERO,
            max_backoff: Duration::from_secs(30),
            allowed_fails: 3,
            allowed_fails_policy: BTreeMap::new(),
            cooldown_time: Duration::from_secs(5),
            disable_cooldowns: false,
            fallbacks: BTreeMap::new(),
            context_window_fallbacks: BTreeMap::new(),
            content_policy_fallbacks: BTreeMap::new(),
            default_fallbacks: Vec::new(),
            max_fallbacks: 5,
            timeout: None,
            stream_timeout: None,
            model_group_alias: BTreeMap::new(),
        }
    }
}

impl RouterSettings {
    /// Extra attempts in a group after a failure of `class`.
    pub fn retries_for(&self, class: ErrorClass) -> u32 {
        match self.retry_policy.get(&class) {
            Some(n) => *n,
            None if class.retried_by_default() => self.num_retries,
            None => 0,
        }
    }

    /// Whether a failure of `class` may move on to another deployment of the same group.
    pub fn tries_others_after(&self, class: ErrorClass) -> bool {
        class.retried_by_default() || self.retry_policy.get(&class).is_some_and(|n| *n > 0)
    }

    /// Failures of `class` in a minute a deployment may have before it cools down.
    pub fn allowed_fails_for(&self, class: ErrorClass) -> u32 {
        self.allowed_fails_policy
            .get(&class)
            .copied()
            .unwrap_or(self.allowed_fails)
    }

    /// The groups to try after `group` failed with `class`, in order.
    pub fn fallbacks_for(&self, group: &str, class: ErrorClass) -> Vec<String> {
        let specific = match class {
            ErrorClass::ContextWindow => Some(&self.context_window_fallbacks),
            ErrorClass::ContentPolicy => Some(&self.content_policy_fallbacks),
            _ => None,
        };
        if let Some(map) = specific {
            // As LiteLLM: these two classes use only their own lists.
            return map.get(group).cloned().unwrap_or_default();
        }
        if class == ErrorClass::BadRequest {
            return Vec::new();
        }
        match self.fallbacks.get(group) {
            Some(list) => list.clone(),
            None => self.default_fallbacks.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_follow_status_and_code() {
        assert_eq!(
            ErrorClass::of(400, Some("context_length_exceeded")),
            ErrorClass::ContextWindow
        );
        assert_eq!(ErrorClass::of(400, None), ErrorClass::BadRequest);
        assert_eq!(ErrorClass::of(403, None), ErrorClass::Authentication);
        assert_eq!(ErrorClass::of(504, Some("timeout")), ErrorClass::Timeout);
        assert_eq!(ErrorClass::of(429, None), ErrorClass::RateLimit);
        assert_eq!(ErrorClass::of(502, None), ErrorClass::Server);
        assert_eq!(ErrorClass::of(503, None), ErrorClass::Server);
    }

    #[test]
    fn fallbacks_follow_litellm() {
        let mut s = RouterSettings::default();
        s.fallbacks.insert("a".into(), vec!["b".into()]);
        s.default_fallbacks = vec!["d".into()];
        s.context_window_fallbacks
            .insert("a".into(), vec!["big".into()]);
        assert_eq!(s.fallbacks_for("a", ErrorClass::Server), ["b"]);
        assert_eq!(s.fallbacks_for("x", ErrorClass::RateLimit), ["d"]);
        assert_eq!(s.fallbacks_for("a", ErrorClass::ContextWindow), ["big"]);
        assert!(s.fallbacks_for("a", ErrorClass::ContentPolicy).is_empty());
        assert!(s.fallbacks_for("a", ErrorClass::BadRequest).is_empty());
        s.retry_policy.insert(ErrorClass::Authentication, 2);
        assert_eq!(s.retries_for(ErrorClass::Authentication), 2);
        assert_eq!(s.retries_for(ErrorClass::BadRequest), 0);
        s.num_retries = 3;
        assert_eq!(s.retries_for(ErrorClass::Server), 3);
    }
}
