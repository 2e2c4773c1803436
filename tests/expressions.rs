//! The expression language's cases (`tests/cases/*.yaml`), run by the same runner as
//! `beian test --cases`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

#[test]
fn expression_cases() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let results = match beian::cases::run_paths(&[dir]) {
        Ok(r) => r,
        Err((diags, _)) => panic!("a case file does not load: {diags:?}"),
    };
    let failed: Vec<String> = results
        .iter()
        .filter(|r| !r.passed)
        .map(|r| format!("FAIL {}:{}: {}\n  {}", r.file, r.line, r.name, r.problem))
        .collect();
    println!("{} cases, {} failed", results.len(), failed.len());
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}
