//! Waivers (SPEC §5) through `beian scan --waivers FILE`, run as the built binary.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;
use common::{beian, stderr};

use std::process::Output;

use serde_json::{json, Value};

const PACK: &str = r#"
schema:
  key: website.filing_no
  fields:
    website: {filing_no: string}
    audit: {rectified: bool}
    domain_facts:
      - {name: domain, realname_verified: bool}
rules:
  - id: SA-003
    title: 专项核查整改未完成
    category: special_audit
    severity: error
    when: audit.rectified == false
    message: "网站 {website.filing_no} 未完成整改"
  - id: DV-002
    title: 域名未完成实名认证
    category: domain_verification
    severity: error
    for_each: d in domain_facts
    when: not d.realname_verified
    message: "域名 {d.name} 未实名"
"#;

const INPUT: &str = r#"{"website": {"filing_no": "粤ICP备12345678号-1"}, "audit": {"rectified": false}, "domain_facts": [{"name": "a.cn", "realname_verified": false}, {"name": "例子.中国", "realname_verified": false}]}
{"website": {"filing_no": "京ICP备00000001号-2"}, "audit": {"rectified": false}}
"#;

struct Scan {
    out: Output,
    findings: Vec<Value>,
    summary: Value,
}

fn scan(waivers: &str, as_of: &str) -> Scan {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pack.yaml"), PACK).unwrap();
    std::fs::write(dir.path().join("in.jsonl"), INPUT).unwrap();
    std::fs::write(dir.path().join("waivers.yaml"), waivers).unwrap();
    let out = beian(
        dir.path(),
        &[
            "scan",
            "-r",
            "pack.yaml",
            "--as-of",
            as_of,
            "--format",
            "jsonl",
            "--summary",
            "summary.json",
            "--waivers",
            "waivers.yaml",
            "in.jsonl",
        ],
    );
    let findings = String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let summary = std::fs::read_to_string(dir.path().join("summary.json"))
        .map(|s| serde_json::from_str(&s).unwrap())
        .unwrap_or(Value::Null);
    Scan {
        out,
        findings,
        summary,
    }
}

fn keys(findings: &[Value]) -> Vec<(String, String, Value)> {
    findings
        .iter()
        .map(|f| {
            (
                f["record"].as_str().unwrap().to_string(),
                f["rule"].as_str().unwrap().to_string(),
                f["element"].clone(),
            )
        })
        .collect()
}

#[test]
fn without_matching_waivers_every_finding_is_reported() {
    let s = scan("waivers: []\n", "2026-03-01");
    assert_eq!(s.out.status.code(), Some(1), "{}", stderr(&s.out));
    assert_eq!(s.findings.len(), 4);
    assert_eq!(s.summary["waived"], 0);
    assert_eq!(s.summary["expired_waivers"], json!([]));
    assert_eq!(s.summary["unused_waivers"], json!([]));
}

/// An analyst starting a waivers file writes `waivers:` before any exception is granted: that
/// is an empty list, as an empty file is, not a shape error.
#[test]
fn an_empty_waivers_key_or_file_waives_nothing() {
    for text in ["waivers:\n", "waivers: ~\n", "", "# no exceptions yet\n"] {
        let s = scan(text, "2026-03-01");
        assert_eq!(s.out.status.code(), Some(1), "{text:?}: {}", stderr(&s.out));
        assert_eq!(s.findings.len(), 4, "{text:?}");
        assert_eq!(s.summary["waived"], 0, "{text:?}");
    }
}

#[test]
fn an_active_waiver_leaves_the_finding_out_and_counts_it() {
    let w = r#"
waivers:
  - rule: SA-003
    record: "粤ICP备12345678号-1"
    until: 2026-03-31
    reason: 整改延期已获批准
    ticket: BA-2026-0042
"#;
    let s = scan(w, "2026-03-01");
    assert_eq!(s.out.status.code(), Some(1));
    assert_eq!(
        keys(&s.findings),
        vec![
            ("粤ICP备12345678号-1".into(), "DV-002".into(), json!(0)),
            ("粤ICP备12345678号-1".into(), "DV-002".into(), json!(1)),
            ("京ICP备00000001号-2".into(), "SA-003".into(), Value::Null),
        ]
    );
    assert_eq!(s.summary["findings"], 3);
    assert_eq!(s.summary["waived"], 1);
    assert_eq!(s.summary["by_rule"]["SA-003"]["waived"], 1);
    assert_eq!(s.summary["by_rule"]["SA-003"]["findings"], 1);
    assert_eq!(s.summary["by_rule"]["DV-002"]["waived"], 0);
    assert_eq!(s.summary["expired_waivers"], json!([]));
    assert_eq!(s.summary["unused_waivers"], json!([]));
}

#[test]
fn until_is_inclusive() {
    let w = "waivers:\n  - {rule: SA-003, record: 京ICP备00000001号-2, until: 2026-03-01, reason: ok}\n";
    let s = scan(w, "2026-03-01");
    assert_eq!(s.summary["waived"], 1);
    let s = scan(w, "2026-03-02");
    assert_eq!(s.summary["waived"], 0);
    assert_eq!(s.summary["expired_waivers"].as_array().unwrap().len(), 1);
}

#[test]
fn an_expired_waiver_suppresses_nothing_and_is_listed_as_written() {
    let w = r#"
waivers:
  - rule: SA-003
    record: "粤ICP备12345678号-1"
    until: 2026-02-28
    reason: 整改延期已获批准
    ticket: BA-2026-0042
"#;
    let s = scan(w, "2026-03-01");
    assert_eq!(s.findings.len(), 4);
    assert_eq!(s.summary["waived"], 0);
    assert_eq!(
        s.summary["expired_waivers"],
        json!([{
            "rule": "SA-003",
            "record": "粤ICP备12345678号-1",
            "until": "2026-02-28",
            "reason": "整改延期已获批准",
            "ticket": "BA-2026-0042"
        }])
    );
    // an expired waiver is not also an unused one
    assert_eq!(s.summary["unused_waivers"], json!([]));
}

#[test]
fn every_waiver_that_matches_a_finding_is_used() {
    // two waivers for one finding: the finding is waived once, and neither is unused
    let w = r#"
waivers:
  - {rule: SA-003, record: "京ICP备00000001号-2", until: 2026-06-30, reason: 第一份}
  - {rule: SA-003, record: "京ICP备00000001号-2", until: 2026-12-31, reason: 第二份}
"#;
    let s = scan(w, "2026-03-01");
    assert_eq!(s.summary["waived"], 1);
    assert_eq!(s.summary["unused_waivers"], json!([]));
}

#[test]
fn an_unused_waiver_is_listed() {
    let w = r#"
waivers:
  - {rule: SA-003, record: "粤ICP备99999999号-1", until: 2026-12-31, reason: 没有这条记录}
  - {rule: DV-002, record: "京ICP备00000001号-2", until: 2026-12-31, reason: 这条记录没有这个发现}
  - {rule: SA-003, record: "京ICP备00000001号-2", until: 2026-12-31, reason: 用上了}
"#;
    let s = scan(w, "2026-03-01");
    assert_eq!(s.summary["waived"], 1);
    let unused = s.summary["unused_waivers"].as_array().unwrap();
    assert_eq!(unused.len(), 2);
    assert_eq!(unused[0]["record"], "粤ICP备99999999号-1");
    assert_eq!(unused[1]["rule"], "DV-002");
    assert_eq!(s.summary["expired_waivers"], json!([]));
}

#[test]
fn an_element_waiver_covers_that_element_only() {
    let w = r#"
waivers:
  - rule: DV-002
    record: "粤ICP备12345678号-1"
    element: 1
    until: 2026-03-31
    reason: 例子.中国 正在过户
"#;
    let s = scan(w, "2026-03-01");
    assert_eq!(
        keys(&s.findings),
        vec![
            ("粤ICP备12345678号-1".into(), "SA-003".into(), Value::Null),
            ("粤ICP备12345678号-1".into(), "DV-002".into(), json!(0)),
            ("京ICP备00000001号-2".into(), "SA-003".into(), Value::Null),
        ]
    );
    assert_eq!(s.summary["by_rule"]["DV-002"]["waived"], 1);
    assert_eq!(s.summary["by_rule"]["DV-002"]["findings"], 1);
    // without `element`, every element of the record is waived, by one waiver
    let w =
        "waivers:\n  - {rule: DV-002, record: 粤ICP备12345678号-1, until: 2026-03-31, reason: r}\n";
    let s = scan(w, "2026-03-01");
    assert_eq!(s.summary["waived"], 2);
    assert_eq!(s.summary["by_rule"]["DV-002"]["waived"], 2);
    assert_eq!(s.summary["unused_waivers"], json!([]));
}

#[test]
fn waived_findings_do_not_fail_the_scan() {
    let w = r#"
waivers:
  - {rule: SA-003, record: 粤ICP备12345678号-1, until: 2026-03-31, reason: r}
  - {rule: SA-003, record: 京ICP备00000001号-2, until: 2026-03-31, reason: r}
  - {rule: DV-002, record: 粤ICP备12345678号-1, until: 2026-03-31, reason: r}
"#;
    let s = scan(w, "2026-03-01");
    assert_eq!(s.findings.len(), 0);
    assert_eq!(s.summary["waived"], 4);
    assert_eq!(s.out.status.code(), Some(0), "{}", stderr(&s.out));
}

fn rejected(waivers: &str) -> String {
    let s = scan(waivers, "2026-03-01");
    assert_eq!(s.out.status.code(), Some(2), "{}", stderr(&s.out));
    assert!(s.findings.is_empty(), "nothing is scanned");
    stderr(&s.out)
}

#[test]
fn a_waiver_for_an_unknown_rule_is_an_error_with_a_hint() {
    let err = rejected(
        "waivers:\n  - rule: SA-03\n    record: x\n    until: 2026-03-31\n    reason: r\n",
    );
    assert!(err.contains("error[E201]"), "{err}");
    assert!(err.contains("`SA-03`"), "{err}");
    assert!(err.contains("waivers.yaml:2:11"), "{err}");
    assert!(err.contains("did you mean `SA-003`?"), "{err}");
}

#[test]
fn a_waiver_missing_a_required_key_is_an_error() {
    let err = rejected("waivers:\n  - rule: SA-003\n    record: x\n    until: 2026-03-31\n");
    assert!(err.contains("error[E005]"), "{err}");
    assert!(err.contains("`reason`"), "{err}");
    assert!(err.contains("waivers.yaml:2:5"), "{err}");
    let err = rejected("waivers:\n  - {rule: SA-003, reason: r, until: 2026-03-31}\n");
    assert!(err.contains("`record`"), "{err}");
}

#[test]
fn a_waiver_with_an_unknown_key_is_an_error_with_a_hint() {
    let err = rejected(
        "waivers:\n  - rule: SA-003\n    record: x\n    until: 2026-03-31\n    reason: r\n    tikcet: BA-1\n",
    );
    assert!(err.contains("error[E003]"), "{err}");
    assert!(err.contains("`tikcet`"), "{err}");
    assert!(err.contains("waivers.yaml:6:5"), "{err}");
    assert!(err.contains("did you mean `ticket`?"), "{err}");
}

#[test]
fn a_waiver_with_a_bad_date_is_an_error() {
    let err = rejected(
        "waivers:\n  - rule: SA-003\n    record: x\n    until: 2026-02-30\n    reason: r\n",
    );
    assert!(err.contains("error[E108]"), "{err}");
    assert!(err.contains("`2026-02-30`"), "{err}");
    assert!(err.contains("waivers.yaml:4:12"), "{err}");
}

#[test]
fn every_bad_waiver_is_reported_not_only_the_first() {
    let err = rejected(
        "waivers:\n  - {rule: NOPE-1, record: x, until: 2026-03-31, reason: r}\n  - {rule: SA-003, record: x, until: someday, reason: r}\n",
    );
    assert!(err.contains("error[E201]"), "{err}");
    assert!(err.contains("error[E108]"), "{err}");
}

#[test]
fn a_waivers_file_of_the_wrong_shape_is_an_error() {
    let err = rejected("- {rule: SA-003, record: x, until: 2026-03-31, reason: r}\n");
    assert!(err.contains("`waivers`"), "{err}");
    let err = rejected("waiver: []\n");
    assert!(
        err.contains("error[E003]") || err.contains("error[E006]"),
        "{err}"
    );
    let err = rejected("waivers: [1]\n");
    assert!(err.contains("error[E006]"), "{err}");
    let err = rejected(
        "waivers:\n  - {rule: SA-003, record: x, until: 2026-03-31, reason: r, element: -1}\n",
    );
    assert!(err.contains("`element`"), "{err}");
    let err = rejected("waivers: [\n");
    assert!(err.contains("error[E002]"), "{err}");
    let err = rejected(
        "waivers:\n  - {rule: SA-003, record: x, until: 2026-03-31, until: 2027-01-01, reason: r}\n",
    );
    assert!(err.contains("error[E004]"), "{err}");
    assert!(err.contains("duplicate key `until`"), "{err}");
    let err = rejected("waivers:\n  - {rule: SA-003, record: [x], until: 2026-03-31, reason: r}\n");
    assert!(err.contains("error[E006]"), "{err}");
    assert!(err.contains("`record` must be a single value"), "{err}");
    let err = rejected("waivers:\n  - {rule: SA-003, record: x, until: ~, reason: r}\n");
    assert!(
        err.contains("`until` must be a single value, not null"),
        "{err}"
    );
    assert!(!err.contains("E108"), "reported once: {err}");
}

#[test]
fn a_missing_waivers_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pack.yaml"), PACK).unwrap();
    std::fs::write(dir.path().join("in.jsonl"), INPUT).unwrap();
    let o = beian(
        dir.path(),
        &[
            "scan",
            "-r",
            "pack.yaml",
            "--waivers",
            "nope.yaml",
            "in.jsonl",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("cannot read `nope.yaml`"),
        "{}",
        stderr(&o)
    );
}
