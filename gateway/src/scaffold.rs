//! `wasmgate new`: a new adapter project in Rust, Python or JavaScript, made from the same files
//! the repository builds and tests (the WIT, the guest SDK of the language, the example
//! OpenAI-compatible adapter), plus a build script, an end-to-end test and a README.

use std::fmt;
use std::path::{Path, PathBuf};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/scaffold_files.rs"));
}

/// The language of a new adapter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Language {
    /// Rust, built with cargo for wasm32-wasip2.
    Rust,
    /// Python, built with componentize-py.
    Python,
    /// JavaScript, built with componentize-js.
    Js,
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Language::Rust => "Rust",
            Language::Python => "Python",
            Language::Js => "JavaScript",
        })
    }
}

/// Why a project could not be created.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    /// The name is not usable as an adapter, crate and package name.
    #[error(
        "invalid adapter name {0:?}: use lowercase letters, digits and '-', starting with a letter"
    )]
    InvalidName(String),
    /// The target folder exists and is not empty.
    #[error("{0} already exists and is not empty")]
    Exists(PathBuf),
    /// Writing a file failed.
    #[error("writing {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// A file of the repository, as embedded at build time.
fn source(path: &str) -> &'static str {
    embedded::FILES
        .iter()
        .find(|(p, _)| *p == path)
        .map(|(_, contents)| *contents)
        .unwrap_or_else(|| panic!("{path} is not embedded (see gateway/build.rs)"))
}

/// The embedded files under `prefix/`, with paths relative to it.
fn tree(prefix: &str) -> impl Iterator<Item = (&'static str, &'static str)> + '_ {
    embedded::FILES.iter().filter_map(move |(path, contents)| {
        path.strip_prefix(prefix)
            .and_then(|rest| rest.strip_prefix('/'))
            .map(|rest| (rest, *contents))
    })
}

/// `text` with the one occurrence of `from` replaced; a template that no longer contains what it
/// is customised by is a bug in this module, caught by its tests.
fn customise(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "template no longer contains {from:?}");
    text.replace(from, to)
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-')
        && name.len() <= 64
}

/// The files of a new project: (relative path, contents, executable).
fn project_files(name: &str, language: Language) -> Vec<(String, String, bool)> {
    let mut files: Vec<(String, String, bool)> = tree("wit")
        .map(|(p, c)| (format!("wit/{p}"), c.to_string(), false))
        .collect();
    let template =
        |file: &str| source(&format!("gateway/scaffold/{file}")).replace("{{name}}", name);
    let listing = match language {
        Language::Rust => {
            let workspace = source("guests/Cargo.toml");
            let workspace = &workspace[workspace.find("[workspace]").expect("workspace table")..];
            let members_start = workspace.find("members = [").expect("members");
            let members_end = members_start + workspace[members_start..].find(']').unwrap() + 1;
            let workspace = format!(
                "{}members = [\".\", \"sdk\", \"openai-wire\"]{}",
                &workspace[..members_start],
                &workspace[members_end..]
            );
            let package = customise(
                source("guests/openai/Cargo.toml"),
                "name = \"wasmgate-openai\"",
                &format!("name = \"{name}\""),
            );
            files.push((
                "Cargo.toml".into(),
                format!("{package}\n{workspace}"),
                false,
            ));
            files.push((
                "Cargo.lock".into(),
                source("guests/Cargo.lock").into(),
                false,
            ));
            files.push((
                "sdk/Cargo.toml".into(),
                source("guests/sdk/Cargo.toml").into(),
                false,
            ));
            for (path, contents) in tree("guests/sdk/src") {
                let contents = contents.replace("path: \"../../wit\"", "path: \"../wit\"");
                files.push((format!("sdk/src/{path}"), contents, false));
            }
            files.push((
                "openai-wire/Cargo.toml".into(),
                source("guests/openai-wire/Cargo.toml").into(),
                false,
            ));
            for (path, contents) in tree("guests/openai-wire/src") {
                files.push((format!("openai-wire/src/{path}"), contents.into(), false));
            }
            let adapter = customise(
                source("guests/openai/src/lib.rs"),
                "name: \"openai\".into()",
                &format!("name: \"{name}\".into()"),
            );
            files.push(("src/lib.rs".into(), adapter, false));
            let build = template("build-rust.sh").replace("{{crate}}", &name.replace('-', "_"));
            files.push(("build.sh".into(), build, true));
            "- `src/lib.rs`: the adapter.\n\
             - `sdk/`: the wasmgate guest SDK for Rust: bindings, HTTP over `wasi:http`, SSE, \
             NDJSON, AWS event-stream, URL building, error mapping, OpenAI's wire format.\n\
             - `openai-wire/`: the OpenAI wire-format conventions the SDK shares with the gateway.\n\
             - `build.sh`: `cargo build --release --target wasm32-wasip2` (run `rustup target add \
             wasm32-wasip2` once)."
        }
        Language::Python => {
            let adapter = customise(
                source("guests/python-example/app.py"),
                "name=\"python-example\"",
                &format!("name=\"{name}\""),
            );
            files.push(("app.py".into(), adapter, false));
            files.push((
                "requirements.txt".into(),
                source("guests/python-example/requirements.txt").into(),
                false,
            ));
            for (path, contents) in tree("guests/python-sdk/wasmgate_guest") {
                files.push((format!("wasmgate_guest/{path}"), contents.into(), false));
            }
            files.push(("build.sh".into(), template("build-python.sh"), true));
            "- `app.py`: the adapter.\n\
             - `wasmgate_guest/`: the wasmgate guest SDK for Python: blocking HTTP over \
             `wasi:http`, SSE, NDJSON, AWS event-stream, URL building, error mapping, OpenAI's \
             wire format.\n\
             - `requirements.txt`: componentize-py, pinned.\n\
             - `build.sh`: installs componentize-py into `.venv` once, then builds."
        }
        Language::Js => {
            let adapter = customise(
                source("guests/js-example/adapter.js"),
                "name: \"js-example\"",
                &format!("name: \"{name}\""),
            );
            files.push(("adapter.js".into(), adapter, false));
            for file in ["package.json", "package-lock.json"] {
                let contents = customise(
                    source(&format!("guests/js-example/{file}")),
                    "\"wasmgate-js-example\"",
                    &format!("\"{name}\""),
                );
                files.push((file.into(), contents, false));
            }
            for (path, contents) in tree("guests/js-sdk") {
                files.push((format!("wasmgate-guest/{path}"), contents.into(), false));
            }
            files.push(("build.sh".into(), template("build-js.sh"), true));
            "- `adapter.js`: the adapter.\n\
             - `wasmgate-guest/`: the wasmgate guest SDK for JavaScript: errors, SSE, OpenAI's \
             wire format, helpers over `fetch`.\n\
             - `package.json`, `package-lock.json`: componentize-js, pinned.\n\
             - `build.sh`: installs componentize-js into `node_modules` once, then builds."
        }
    };
    let readme = template("README.md")
        .replace("{{language}}", &language.to_string())
        .replace("{{files}}", listing);
    files.push(("README.md".into(), readme, false));
    files.push(("test_adapter.py".into(), template("test_adapter.py"), true));
    files.push((".gitignore".into(), template("gitignore"), false));
    files
}

/// Creates the project `parent/name` and returns its folder.
pub fn create(name: &str, language: Language, parent: &Path) -> Result<PathBuf, ScaffoldError> {
    if !valid_name(name) {
        return Err(ScaffoldError::InvalidName(name.to_string()));
    }
    let root = parent.join(name);
    if root
        .read_dir()
        .is_ok_and(|mut entries| entries.next().is_some())
    {
        return Err(ScaffoldError::Exists(root));
    }
    for (relative, contents, executable) in project_files(name, language) {
        let path = root.join(&relative);
        let write = |path: &Path| -> std::io::Result<()> {
            std::fs::create_dir_all(path.parent().expect("a file in the project"))?;
            std::fs::write(path, &contents)?;
            #[cfg(unix)]
            if executable {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))?;
            }
            Ok(())
        };
        write(&path).map_err(|source| ScaffoldError::Write { path, source })?;
    }
    Ok(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_must_suit_every_language() {
        assert!(valid_name("acme-llm2"));
        for bad in ["", "Acme", "2fast", "a_b", "a-", "a b", "../x"] {
            assert!(!valid_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn every_language_gets_the_contract_the_sdk_and_a_named_adapter() {
        for (language, adapter, sdk_file) in [
            (Language::Rust, "src/lib.rs", "sdk/src/lib.rs"),
            (Language::Python, "app.py", "wasmgate_guest/http.py"),
            (Language::Js, "adapter.js", "wasmgate-guest/http.js"),
        ] {
            let files = project_files("acme", language);
            let get = |p: &str| {
                files
                    .iter()
                    .find(|(path, ..)| path == p)
                    .unwrap_or_else(|| panic!("{language}: no {p}"))
                    .1
                    .clone()
            };
            assert!(get("wit/types.wit").contains("record chat-request"));
            assert!(get("wit/deps/http/package.wit").contains("package wasi:http"));
            assert!(get(adapter).contains("\"acme\""), "{language}");
            get(sdk_file);
            assert!(get("README.md").contains("build/acme.wasm"));
            assert!(!files.iter().any(|(p, ..)| p.contains("tests/")));
        }
        let rust = project_files("acme-x", Language::Rust);
        let manifest = &rust.iter().find(|(p, ..)| p == "Cargo.toml").unwrap().1;
        assert!(
            manifest.contains("name = \"acme-x\"")
                && manifest.contains("members = [\".\", \"sdk\", \"openai-wire\"]")
        );
        let sdk = &rust.iter().find(|(p, ..)| p == "sdk/src/lib.rs").unwrap().1;
        assert!(sdk.contains("path: \"../wit\""));
    }
}
