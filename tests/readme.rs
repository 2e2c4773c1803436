//! The README's example rule is a real rule: it checks and its tests pass.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::Path;
use std::process::Command;

#[test]
fn readme_example_rule_checks_and_its_tests_pass() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let block = readme
        .split("```yaml\n")
        .nth(1)
        .unwrap()
        .split("```")
        .next()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("tables")).unwrap();
    std::fs::copy(root.join("rules/pack.yaml"), dir.path().join("pack.yaml")).unwrap();
    std::fs::copy(
        root.join("rules/tables/order_types.yaml"),
        dir.path().join("tables/order_types.yaml"),
    )
    .unwrap();
    std::fs::write(dir.path().join("rules.yaml"), block).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_beian"))
        .args(["test", "-r"])
        .arg(dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("2 tests, 2 passed, 0 failed"), "{text}");
}
