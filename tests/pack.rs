//! The embedded ICP pack: it checks clean, its own tests pass, every rule fires on the
//! fixtures, and the full scans of the fixtures match the reviewed snapshots in
//! `fixtures/expected/` (regenerate with `BEIAN_UPDATE_SNAPSHOTS=1 cargo test --test pack`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

fn beian(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_beian"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap()
}

#[test]
fn embedded_pack_checks_without_errors_or_warnings() {
    let out = beian(&["check"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("0 errors and 0 warnings"), "{err}");
}

#[test]
fn embedded_pack_tests_pass() {
    let out = beian(&["test"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains(" 0 failed"), "{text}");
    assert!(!text.contains("rules without tests"), "{text}");
    assert!(
        !text.contains("never make `when` both true and false"),
        "{text}"
    );
}

#[test]
fn embedded_pack_has_the_twelve_categories_and_forty_rules() {
    let program = beian::pack::load_program(beian::pack::PackSource::Embedded).unwrap();
    let categories: BTreeSet<&str> = program.rules.iter().map(|r| r.category.as_str()).collect();
    for c in [
        "order_cleanup",
        "domain_verification",
        "special_audit",
        "access_accuracy",
        "hubei_annual_review",
        "province_rules",
        "change_filing",
        "cancel_access",
        "deregistration",
        "ram_permissions",
        "account_transfer",
        "wanwang_claim",
    ] {
        assert!(categories.contains(c), "no rule in category {c}");
    }
    assert!(program.rules.len() >= 40);
    for r in &program.rules {
        assert!(
            r.remedy.is_some() && r.source.is_some(),
            "{} lacks remedy or source",
            r.id
        );
        assert!(r.tests.len() >= 2, "{} has fewer than two tests", r.id);
    }
}

fn scan(as_of: &str, input: &str) -> (String, serde_json::Value) {
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("summary.json");
    let out = beian(&[
        "scan",
        "--as-of",
        as_of,
        "-f",
        "jsonl",
        "-q",
        "--fail-on",
        "never",
        "--summary",
        summary.to_str().unwrap(),
        input,
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(summary).unwrap()).unwrap();
    (String::from_utf8(out.stdout).unwrap(), s)
}

#[test]
fn fixture_scans_match_the_snapshots_and_every_rule_fires() {
    let mut fired = BTreeSet::new();
    for as_of in ["2026-11-27", "2020-07-20", "2020-09-01"] {
        let (out, summary) = scan(as_of, "fixtures/filings.jsonl");
        assert_eq!(summary["records_rejected"], 0);
        assert_eq!(summary["field_errors"], 0);
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(format!("fixtures/expected/scan-{as_of}.jsonl"));
        if std::env::var_os("BEIAN_UPDATE_SNAPSHOTS").is_some() {
            std::fs::write(&path, &out).unwrap();
        }
        let expected = std::fs::read_to_string(&path).unwrap();
        assert!(
            expected == out,
            "the findings of the fixtures at {as_of} changed; review and update {}",
            path.display()
        );
        for (id, c) in summary["by_rule"].as_object().unwrap() {
            if c["findings"].as_u64().unwrap() > 0 {
                fired.insert(id.clone());
            }
        }
        // most records are clean
        let records: BTreeSet<&str> = out
            .lines()
            .map(|l| l.split("\"line\":").nth(1).unwrap_or(""))
            .collect();
        assert!(records.len() * 2 < summary["records_read"].as_u64().unwrap() as usize);
    }
    let program = beian::pack::load_program(beian::pack::PackSource::Embedded).unwrap();
    let never: Vec<&str> = program
        .rules
        .iter()
        .map(|r| r.id.as_str())
        .filter(|id| !fired.contains(*id))
        .collect();
    assert!(
        never.is_empty(),
        "rules that never fire on the fixtures: {never:?}"
    );
}

#[test]
fn gb18030_csv_fixture_is_read_without_errors() {
    let (out, summary) = scan("2026-11-27", "fixtures/filings.csv");
    assert_eq!(summary["records_rejected"], 0);
    assert_eq!(summary["field_errors"], 0);
    assert!(summary["records_read"].as_u64().unwrap() >= 200);
    assert!(out.lines().count() > 10);
    // Chinese text survives the GB18030 → UTF-8 round trip
    assert!(out.contains("ICP备"));
}
