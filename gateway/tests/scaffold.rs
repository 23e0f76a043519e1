//! `wasmgate new` as a new user would use it: create a project in each language, build it with
//! its own build script (which installs its own tools), and run its own end-to-end test, which
//! serves it through the real `wasmgate` binary in front of a loopback upstream.

use std::path::Path;
use std::process::Command;
use wasmgate_test_support::workspace_root;

fn run(cmd: &mut Command, what: &str) {
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    assert!(status.success(), "{what} failed: {status}");
}

fn new_project_builds_and_passes_its_own_test(lang: &str) {
    let dir = workspace_root().join("target").join("scaffold-test");
    let name = format!("acme-{lang}");
    let project = dir.join(&name);
    let _ = std::fs::remove_dir_all(&project);
    std::fs::create_dir_all(&dir).unwrap();
    let wasmgate = Path::new(env!("CARGO_BIN_EXE_wasmgate"));
    run(
        Command::new(wasmgate)
            .args(["new", &name, "--lang", lang, "--dir"])
            .arg(&dir),
        "wasmgate new",
    );
    let mut build = Command::new("bash");
    build.arg("build.sh").current_dir(&project);
    wasmgate_guest_build::without_outer_build_env(&mut build);
    if lang == "rust" {
        // Shared between runs so that the SDK's dependencies compile once.
        build.env("CARGO_TARGET_DIR", dir.join("rust-target"));
    }
    run(&mut build, &format!("{name}/build.sh"));
    assert!(project.join("build").join(format!("{name}.wasm")).is_file());
    run(
        Command::new("python3")
            .arg("test_adapter.py")
            .current_dir(&project)
            .env("WASMGATE", wasmgate),
        &format!("{name}/test_adapter.py"),
    );
}

#[test]
fn a_new_rust_adapter_builds_and_serves() {
    new_project_builds_and_passes_its_own_test("rust");
}

#[test]
fn a_new_python_adapter_builds_and_serves() {
    new_project_builds_and_passes_its_own_test("python");
}

#[test]
fn a_new_javascript_adapter_builds_and_serves() {
    new_project_builds_and_passes_its_own_test("js");
}

#[test]
fn an_existing_folder_is_not_overwritten() {
    let dir = workspace_root().join("target").join("scaffold-test");
    let project = dir.join("taken");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(project.join("keep.txt"), "mine").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_wasmgate"))
        .args(["new", "taken", "--lang", "python", "--dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
    assert_eq!(
        std::fs::read_to_string(project.join("keep.txt")).unwrap(),
        "mine"
    );
}
