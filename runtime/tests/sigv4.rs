//! The host's SigV4 signer against AWS's published SigV4 test vectors (the aws-c-auth signing
//! suite, as shipped with the aws-sigv4 crate): the same request, credentials and time give
//! the published `Authorization` header, byte for byte.

use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};
use wasmgate_runtime::{AwsCredentials, Secret};

/// `request.txt` as an HTTP request over https and its body.
fn parse_request(text: &str) -> (http::Request<()>, Vec<u8>) {
    let (head, body) = text.split_once("\n\n").unwrap_or((text, ""));
    let mut lines = head.lines();
    let start = lines.next().expect("a request line");
    let mut parts = start.split(' ');
    let method = parts.next().unwrap();
    let path = parts.next().unwrap();
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in lines {
        let (name, value) = line.split_once(':').expect("a header line");
        headers.push((name.to_string(), value.to_string()));
    }
    let host = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("host"))
        .map(|(_, v)| v.clone())
        .expect("a host header");
    let mut builder = http::Request::builder()
        .method(method)
        .uri(format!("https://{host}{path}"));
    for (name, value) in &headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    (builder.body(()).unwrap(), body.as_bytes().to_vec())
}

/// A header of `header-signed-request.txt`.
fn signed_header(text: &str, name: &str) -> Option<String> {
    text.lines()
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.to_string())
}

#[test]
fn signatures_match_the_published_sigv4_test_vectors() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sigv4");
    let mut checked = 0;
    for entry in std::fs::read_dir(&root).unwrap() {
        let dir = entry.unwrap().path();
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
        let context: serde_json::Value = serde_json::from_str(&read("context.json")).unwrap();
        let creds = &context["credentials"];
        let aws = AwsCredentials {
            access_key_id: Secret::new(creds["access_key_id"].as_str().unwrap()),
            secret_access_key: Secret::new(creds["secret_access_key"].as_str().unwrap()),
            session_token: creds["token"].as_str().map(Secret::new),
            region: context["region"].as_str().unwrap().to_string(),
        };
        let time = context["timestamp"].as_str().unwrap();
        assert_eq!(
            time, "2015-08-30T12:36:00Z",
            "{name}: the vectors share one time"
        );
        let time = UNIX_EPOCH + Duration::from_secs(1_440_938_160);
        let (mut request, body) = parse_request(&read("request.txt"));
        aws.sign(
            &mut request,
            &body,
            context["service"].as_str().unwrap(),
            None,
            time,
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        let expected = read("header-signed-request.txt");
        for header in ["authorization", "x-amz-date", "x-amz-security-token"] {
            let got = request
                .headers()
                .get(header)
                .map(|v| v.to_str().unwrap().to_string());
            assert_eq!(got, signed_header(&expected, header), "{name}: {header}");
        }
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} vectors were found");
}
