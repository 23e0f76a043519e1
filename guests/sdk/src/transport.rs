//! What a failed `wasi:http` exchange means, in words a client can act on: which host, what
//! went wrong, and the error kind the gateway turns into a status code.

use crate::bindings::wasi::http::types::ErrorCode;
use crate::bindings::wasmgate::provider::types::{ErrorKind, ProviderError};

/// The provider error for a `wasi:http` failure talking to `host` (the URL's authority).
pub fn from_error_code(code: &ErrorCode, host: &str) -> ProviderError {
    let (kind, message) = describe(code, host);
    ProviderError::new(kind, message)
}

/// The error kind and message for a `wasi:http` failure talking to `host`.
pub fn describe(code: &ErrorCode, host: &str) -> (ErrorKind, String) {
    use ErrorCode as C;
    use ErrorKind as K;
    let timeout = |what: &str| {
        (
            K::Timeout,
            format!("{host} did not answer in time ({what})"),
        )
    };
    let unreachable = |what: String| (K::Unavailable, format!("could not reach {host}: {what}"));
    let size = |what: &str, limit: Option<u64>| {
        let limit = limit.map(|n| format!(" of {n} bytes")).unwrap_or_default();
        (
            K::UpstreamError,
            format!("{host} sent {what} larger than the limit{limit}"),
        )
    };
    let protocol = |what: &str| (K::UpstreamError, format!("{host}: {what}"));
    match code {
        C::HttpRequestDenied => (
            K::Internal,
            format!(
                "the host refused the request to {host}: it is not on the adapter's allow-list, \
                 or it carried the sealed credential where the credential may not go"
            ),
        ),
        C::DestinationIpProhibited => (
            K::Internal,
            format!(
                "the host refused to connect to {host}: it resolves to a private or local address"
            ),
        ),
        C::DnsTimeout => timeout("the DNS lookup timed out"),
        C::ConnectionTimeout => timeout("connecting timed out"),
        C::ConnectionReadTimeout => timeout("it stopped sending"),
        C::ConnectionWriteTimeout => timeout("it stopped reading the request"),
        C::HttpResponseTimeout => timeout("no response head"),
        C::DnsError(payload) => {
            let rcode = payload
                .rcode
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default();
            unreachable(format!("the DNS lookup failed{rcode}"))
        }
        C::DestinationNotFound => unreachable("no such host".into()),
        C::DestinationUnavailable => unreachable("the host is unavailable".into()),
        C::DestinationIpUnroutable => unreachable("no route to its address".into()),
        C::ConnectionRefused => unreachable("the connection was refused".into()),
        C::ConnectionTerminated => unreachable("the connection was closed early".into()),
        C::ConnectionLimitReached => unreachable("too many connections".into()),
        C::TlsProtocolError => unreachable("the TLS handshake failed".into()),
        C::TlsCertificateError => unreachable("its TLS certificate is not trusted".into()),
        C::TlsAlertReceived(alert) => unreachable(match &alert.alert_message {
            Some(m) => format!("it sent the TLS alert \"{m}\""),
            None => "it sent a TLS alert".into(),
        }),
        C::HttpResponseBodySize(limit) => size("a response body", *limit),
        C::HttpResponseHeaderSectionSize(limit) => size("response headers", limit.map(u64::from)),
        C::HttpResponseHeaderSize(_) => size("a response header", None),
        C::HttpResponseTrailerSectionSize(_) | C::HttpResponseTrailerSize(_) => {
            size("response trailers", None)
        }
        C::HttpResponseIncomplete => protocol("the response ended early"),
        C::HttpResponseTransferCoding(_) => protocol("unsupported transfer encoding"),
        C::HttpResponseContentCoding(_) => protocol("unsupported content encoding"),
        C::HttpProtocolError | C::HttpUpgradeFailed => protocol("HTTP protocol error"),
        C::LoopDetected => protocol("redirect loop"),
        C::HttpRequestLengthRequired
        | C::HttpRequestBodySize(_)
        | C::HttpRequestMethodInvalid
        | C::HttpRequestUriInvalid
        | C::HttpRequestUriTooLong
        | C::HttpRequestHeaderSectionSize(_)
        | C::HttpRequestHeaderSize(_)
        | C::HttpRequestTrailerSectionSize(_)
        | C::HttpRequestTrailerSize(_) => (
            K::Internal,
            format!("the adapter built a request to {host} that HTTP cannot carry"),
        ),
        C::ConfigurationError => (
            K::Internal,
            format!("the host is not configured to reach {host}"),
        ),
        C::InternalError(detail) => (
            K::UpstreamError,
            match detail {
                Some(d) => format!("talking to {host} failed: {d}"),
                None => format!("talking to {host} failed"),
            },
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::wasi::http::types::{
        DnsErrorPayload, FieldSizePayload, TlsAlertReceivedPayload,
    };

    /// Every variant, so a new message that slips into debug formatting is caught.
    fn every_code() -> Vec<ErrorCode> {
        let field = || FieldSizePayload {
            field_name: Some("x".into()),
            field_size: Some(9),
        };
        vec![
            ErrorCode::DnsTimeout,
            ErrorCode::DnsError(DnsErrorPayload {
                rcode: Some("NXDOMAIN".into()),
                info_code: Some(3),
            }),
            ErrorCode::DnsError(DnsErrorPayload {
                rcode: None,
                info_code: None,
            }),
            ErrorCode::DestinationNotFound,
            ErrorCode::DestinationUnavailable,
            ErrorCode::DestinationIpProhibited,
            ErrorCode::DestinationIpUnroutable,
            ErrorCode::ConnectionRefused,
            ErrorCode::ConnectionTerminated,
            ErrorCode::ConnectionTimeout,
            ErrorCode::ConnectionReadTimeout,
            ErrorCode::ConnectionWriteTimeout,
            ErrorCode::ConnectionLimitReached,
            ErrorCode::TlsProtocolError,
            ErrorCode::TlsCertificateError,
            ErrorCode::TlsAlertReceived(TlsAlertReceivedPayload {
                alert_id: Some(40),
                alert_message: Some("handshake failure".into()),
            }),
            ErrorCode::HttpRequestDenied,
            ErrorCode::HttpRequestLengthRequired,
            ErrorCode::HttpRequestBodySize(Some(5)),
            ErrorCode::HttpRequestMethodInvalid,
            ErrorCode::HttpRequestUriInvalid,
            ErrorCode::HttpRequestUriTooLong,
            ErrorCode::HttpRequestHeaderSectionSize(Some(5)),
            ErrorCode::HttpRequestHeaderSize(Some(field())),
            ErrorCode::HttpRequestTrailerSectionSize(None),
            ErrorCode::HttpRequestTrailerSize(field()),
            ErrorCode::HttpResponseIncomplete,
            ErrorCode::HttpResponseHeaderSectionSize(Some(7)),
            ErrorCode::HttpResponseHeaderSize(field()),
            ErrorCode::HttpResponseBodySize(Some(1024)),
            ErrorCode::HttpResponseBodySize(None),
            ErrorCode::HttpResponseTrailerSectionSize(None),
            ErrorCode::HttpResponseTrailerSize(field()),
            ErrorCode::HttpResponseTransferCoding(Some("gzip".into())),
            ErrorCode::HttpResponseContentCoding(None),
            ErrorCode::HttpResponseTimeout,
            ErrorCode::HttpUpgradeFailed,
            ErrorCode::HttpProtocolError,
            ErrorCode::LoopDetected,
            ErrorCode::ConfigurationError,
            ErrorCode::InternalError(Some("boom".into())),
            ErrorCode::InternalError(None),
        ]
    }

    #[test]
    fn every_code_is_described_in_words_naming_the_host() {
        for code in every_code() {
            let (_, message) = describe(&code, "api.example.com:443");
            assert!(message.contains("api.example.com:443"), "{message}");
            for debug in ["::", "Some(", "None", "{", "Payload"] {
                assert!(!message.contains(debug), "{debug} in {message}");
            }
        }
    }

    #[test]
    fn kinds_follow_what_a_retry_could_fix() {
        let kind = |c: ErrorCode| describe(&c, "h").0;
        assert_eq!(kind(ErrorCode::ConnectionRefused), ErrorKind::Unavailable);
        assert_eq!(kind(ErrorCode::ConnectionReadTimeout), ErrorKind::Timeout);
        assert_eq!(kind(ErrorCode::HttpRequestDenied), ErrorKind::Internal);
        assert_eq!(
            describe(&ErrorCode::ConnectionRefused, "127.0.0.1:9").1,
            "could not reach 127.0.0.1:9: the connection was refused"
        );
        assert_eq!(
            describe(&ErrorCode::HttpResponseBodySize(Some(1024)), "h").1,
            "h sent a response body larger than the limit of 1024 bytes"
        );
    }
}
