//! A loopback server that speaks Vertex AI's publisher-model API as its reference describes it,
//! and checks what an adapter sends: an OAuth bearer token, `POST
//! /v1/projects/{project}/locations/{location}/publishers/{publisher}/models/{model}:{method}`
//! with the expected project and location; Gemini's `generateContent` /
//! `streamGenerateContent?alt=sse` (answered by [`crate::gemini`]'s rules and answers), Claude's
//! `rawPredict` / `streamRawPredict` (the Messages body without `model`, with
//! `anthropic_version: vertex-2023-10-16`; answered by [`crate::anthropic`]'s), and text
//! embeddings through `predict`.

use crate::fixture::{json_response, Body, Fixture, Received};
use http::Response;
use serde_json::{json, Value};

/// What the server accepts: bearer tokens `valid_token` admits, for `project` in `location`.
struct Expected {
    valid_token: Box<dyn Fn(&str) -> bool + Send + Sync>,
    project: String,
    location: String,
}

/// Starts a server that accepts the bearer tokens `valid_token` admits (e.g. those a test token
/// endpoint issued) for `project` in `location`.
pub async fn start(
    valid_token: impl Fn(&str) -> bool + Send + Sync + 'static,
    project: &str,
    location: &str,
) -> Fixture {
    let expected = std::sync::Arc::new(Expected {
        valid_token: Box::new(valid_token),
        project: project.to_string(),
        location: location.to_string(),
    });
    Fixture::start(move |r| {
        let answer = handle(&r, &expected);
        async move { answer }
    })
    .await
}

fn error(code: u16, status: &str, message: &str) -> Response<Body> {
    json_response(
        code,
        &json!({"error": {"code": code, "message": message, "status": status}}),
    )
}

fn handle(r: &Received, expected: &Expected) -> Response<Body> {
    let token = r
        .header("authorization")
        .and_then(|a| a.strip_prefix("Bearer "));
    if !token.is_some_and(|t| (expected.valid_token)(t)) {
        return error(
            401,
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials. Expected OAuth 2 access token.",
        );
    }
    let path = r.path.split('?').next().unwrap_or_default();
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let ["v1", "projects", p, "locations", l, "publishers", publisher, "models", model_method] =
        parts.as_slice()
    else {
        return error(404, "NOT_FOUND", &format!("no route {path}"));
    };
    if *p != expected.project || *l != expected.location {
        return error(
            403,
            "PERMISSION_DENIED",
            &format!("no access to projects/{p}/locations/{l}"),
        );
    }
    let Some((model, method)) = model_method.split_once(':') else {
        return error(404, "NOT_FOUND", "no method");
    };
    let sse = r.query().split('&').any(|q| q == "alt=sse");
    match (*publisher, method) {
        ("google", "generateContent") => crate::gemini::generate(model, &r.body, false),
        ("google", "streamGenerateContent") if sse => crate::gemini::generate(model, &r.body, true),
        ("google", "predict") => predict(&r.body),
        ("anthropic", "rawPredict" | "streamRawPredict") => claude(model, method, &r.body),
        _ => error(
            404,
            "NOT_FOUND",
            &format!("{publisher} has no method {method}"),
        ),
    }
}

fn claude(model: &str, method: &str, body: &Value) -> Response<Body> {
    if body.get("model").is_some() {
        return error(
            400,
            "INVALID_ARGUMENT",
            "model: Extra inputs are not permitted",
        );
    }
    if body["anthropic_version"] != "vertex-2023-10-16" {
        return error(400, "INVALID_ARGUMENT", "anthropic_version: Field required");
    }
    if (method == "streamRawPredict") != (body["stream"] == true) {
        return error(
            400,
            "INVALID_ARGUMENT",
            "streamRawPredict takes stream: true",
        );
    }
    let mut with_model = body.clone();
    with_model["model"] = json!(model);
    if let Err(m) = crate::anthropic::check(&with_model, true) {
        return error(400, "INVALID_ARGUMENT", &m);
    }
    crate::anthropic::answer(&with_model)
}

fn predict(body: &Value) -> Response<Body> {
    let Some(instances) = body["instances"].as_array() else {
        return error(400, "INVALID_ARGUMENT", "instances is required");
    };
    let predictions: Vec<Value> = instances
        .iter()
        .enumerate()
        .map(|(i, inst)| {
            let words = inst["content"]
                .as_str()
                .map_or(0, |t| t.split_whitespace().count());
            json!({"embeddings": {"values": [0.125, -0.5, i as f64],
                                  "statistics": {"token_count": words, "truncated": false}}})
        })
        .collect();
    json_response(200, &json!({"predictions": predictions}))
}
