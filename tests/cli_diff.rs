//! `beian diff`, run as the built binary (SPEC §6, §7).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;
use common::{beian_with_stdin as beian, stderr, stdout};

use std::path::Path;
use std::process::Output;

use serde_json::Value;

const SCHEMA: &str = r#"
schema:
  key: website.filing_no
  fields:
    website: {filing_no: string, name: string}
    n: int
    domains: [string]
"#;

/// The base pack: R-A (kept), R-B (its message changes), R-C (removed in the head),
/// R-D (per element; its threshold changes).
const BASE_RULES: &str = r#"
rules:
  - id: R-A
    title: 不变的规则
    category: c
    severity: error
    when: n > 10
    message: "网站 {website.name} 的 n 为 {n}"
  - id: R-B
    title: 消息会改
    category: c
    severity: warning
    when: n > 5
    message: "n 大于 5：{n}"
  - id: R-C
    title: 将被删除
    category: c
    severity: info
    when: n > 0
    message: "n 为正：{n}"
  - id: R-D
    title: 逐个域名
    category: d
    severity: error
    for_each: x in domains
    when: len(x) > 4
    message: "域名 {x} 太长"
"#;

/// The head pack: rules reordered (R-D first), R-B with another message and severity, R-C
/// gone, R-D with a lower threshold, R-E new.
const HEAD_RULES: &str = r#"
rules:
  - id: R-D
    title: 逐个域名
    category: d
    severity: error
    for_each: x in domains
    when: len(x) > 3
    message: "域名 {x} 太长"
  - id: R-A
    title: 不变的规则
    category: c
    severity: error
    when: n > 10
    message: "网站 {website.name} 的 n 为 {n}"
  - id: R-B
    title: 消息会改
    category: c
    severity: error
    when: n > 5
    message: "n 超过 5：{n}"
  - id: R-E
    title: 新规则
    category: c
    severity: info
    when: n == 7
    message: "n 恰好是 {n}"
"#;

const INPUT: &str = r#"{"website": {"filing_no": "粤ICP备1号-1", "name": "汉江商贸"}, "n": 12, "domains": ["abcd.cn", "a.cn", "abcde.cn"]}
{"website": {"filing_no": "京ICP备2号-1", "name": "北京"}, "n": 7, "domains": ["abc"]}
{"website": {"filing_no": "沪ICP备3号-1"}, "n": 0, "domains": ["abcd"]}
"#;

fn setup(base: &str, head: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("base.yaml"), base).unwrap();
    std::fs::write(dir.path().join("head.yaml"), head).unwrap();
    std::fs::write(dir.path().join("in.jsonl"), INPUT).unwrap();
    std::fs::write(dir.path().join("more.jsonl"), "{\"n\": 6}\n").unwrap();
    dir
}

fn diff(dir: &Path, extra: &[&str], stdin: Option<&str>) -> Output {
    let mut args = vec![
        "diff",
        "--base",
        "base.yaml",
        "--head",
        "head.yaml",
        "--as-of",
        "2026-03-01",
    ];
    args.extend_from_slice(extra);
    beian(dir, &args, stdin)
}

fn lines(o: &Output) -> Vec<Value> {
    stdout(o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn brief(v: &[Value]) -> Vec<String> {
    v.iter()
        .map(|f| {
            format!(
                "{}:{} {} {} {}",
                f["source"].as_str().unwrap(),
                f["line"],
                f["rule"].as_str().unwrap(),
                f["element"],
                f["change"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn added_removed_and_changed_in_finding_order() {
    let dir = setup(
        &format!("{SCHEMA}{BASE_RULES}"),
        &format!("{SCHEMA}{HEAD_RULES}"),
    );
    let o = diff(dir.path(), &["in.jsonl", "more.jsonl"], None);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let v = lines(&o);
    assert_eq!(
        brief(&v),
        vec![
            // input order, then line, then the head's rule order (R-D, R-A, R-B, R-E), then
            // rules only in the base (R-C), then element
            "in.jsonl:1 R-D 1 added",
            "in.jsonl:1 R-B null changed",
            "in.jsonl:1 R-C null removed",
            "in.jsonl:2 R-B null changed",
            "in.jsonl:2 R-E null added",
            "in.jsonl:2 R-C null removed",
            "in.jsonl:3 R-D 0 added",
            "more.jsonl:1 R-B null changed",
            "more.jsonl:1 R-C null removed",
        ]
    );
    // `changed` shows the head's values; `change` is the last key
    let changed = &v[1];
    assert_eq!(changed["severity"], "error");
    assert_eq!(changed["message"], "n 超过 5：12");
    let keys: Vec<&String> = changed.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "source",
            "line",
            "record",
            "rule",
            "category",
            "severity",
            "element",
            "message",
            "deadline",
            "days_left",
            "overdue",
            "change"
        ]
    );
    assert_eq!(v[0]["record"], "粤ICP备1号-1");
    assert_eq!(v[0]["message"], "域名 a.cn 太长");
    // removed findings show the base's values
    assert_eq!(v[2]["message"], "n 为正：12");
    assert_eq!(stderr(&o), "beian diff: 3 added, 3 removed, 3 changed\n");
}

#[test]
fn no_difference_exits_0() {
    let dir = setup(
        &format!("{SCHEMA}{BASE_RULES}"),
        &format!("{SCHEMA}{BASE_RULES}"),
    );
    let o = diff(dir.path(), &["in.jsonl"], None);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).is_empty());
    assert_eq!(stderr(&o), "beian diff: 0 added, 0 removed, 0 changed\n");
    let o = diff(dir.path(), &["--format", "table", "in.jsonl"], None);
    assert_eq!(o.status.code(), Some(0));
    let total: Vec<String> = stdout(&o)
        .lines()
        .find(|l| l.starts_with("total"))
        .unwrap()
        .split_whitespace()
        .map(str::to_string)
        .collect();
    assert_eq!(total, ["total", "0", "0", "0"]);
}

#[test]
fn table_format_counts_per_rule() {
    let dir = setup(
        &format!("{SCHEMA}{BASE_RULES}"),
        &format!("{SCHEMA}{HEAD_RULES}"),
    );
    let o = diff(dir.path(), &["-f", "table", "in.jsonl", "more.jsonl"], None);
    assert_eq!(o.status.code(), Some(1));
    insta::assert_snapshot!("diff_table", stdout(&o));
}

#[test]
fn against_an_empty_base_everything_is_added() {
    let dir = setup("rules: []\n", &format!("{SCHEMA}{HEAD_RULES}"));
    let o = diff(dir.path(), &["in.jsonl"], None);
    assert_eq!(o.status.code(), Some(1));
    let v = lines(&o);
    assert!(!v.is_empty());
    assert!(v.iter().all(|f| f["change"] == "added"));
    // and the other way round
    let dir = setup(&format!("{SCHEMA}{HEAD_RULES}"), "rules: []\n");
    let o = diff(dir.path(), &["in.jsonl"], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(lines(&o).iter().all(|f| f["change"] == "removed"));
}

#[test]
fn disabling_a_rule_removes_its_findings() {
    let head = format!("{SCHEMA}{BASE_RULES}").replace(
        "    title: 将被删除\n",
        "    title: 将被删除\n    enabled: false\n",
    );
    let dir = setup(&format!("{SCHEMA}{BASE_RULES}"), &head);
    let o = diff(dir.path(), &["in.jsonl"], None);
    let v = lines(&o);
    assert_eq!(v.len(), 2);
    assert!(v
        .iter()
        .all(|f| f["rule"] == "R-C" && f["change"] == "removed"));
}

#[test]
fn standard_input_is_read_once_for_both_packs() {
    let dir = setup(
        &format!("{SCHEMA}{BASE_RULES}"),
        &format!("{SCHEMA}{HEAD_RULES}"),
    );
    let o = diff(dir.path(), &["-"], Some(INPUT));
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let v = lines(&o);
    assert_eq!(v.len(), 7, "{}", stdout(&o));
    assert!(v.iter().all(|f| f["source"] == "-"));
    assert_eq!(stderr(&o), "beian diff: 3 added, 2 removed, 2 changed\n");
}

#[test]
fn pack_and_input_errors_exit_2() {
    let dir = setup(
        &format!("{SCHEMA}{BASE_RULES}"),
        &format!("{SCHEMA}{HEAD_RULES}").replace("when: n == 7", "when: n == \"7\""),
    );
    let o = diff(dir.path(), &["in.jsonl"], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(stdout(&o).is_empty());
    assert!(stderr(&o).contains("error[E105]"), "{}", stderr(&o));
    assert!(stderr(&o).contains("head.yaml:"), "{}", stderr(&o));
    let dir = setup(
        &format!("{SCHEMA}{BASE_RULES}"),
        &format!("{SCHEMA}{HEAD_RULES}"),
    );
    let o = diff(dir.path(), &["missing.jsonl"], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("missing.jsonl"), "{}", stderr(&o));
    let o = diff(dir.path(), &["in.xlsx"], None);
    assert_eq!(o.status.code(), Some(2));
    let o = beian(
        dir.path(),
        &["diff", "--base", "base.yaml", "in.jsonl"],
        None,
    );
    assert_eq!(o.status.code(), Some(2), "--head is required");
}

#[test]
fn records_that_do_not_read_are_not_differences() {
    let dir = setup(
        &format!("{SCHEMA}{BASE_RULES}"),
        &format!("{SCHEMA}{BASE_RULES}"),
    );
    std::fs::write(dir.path().join("bad.jsonl"), "not json\n{\"n\": \"x\"}\n").unwrap();
    let o = diff(dir.path(), &["bad.jsonl"], None);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn json_and_csv_formats_hold_the_same_changes() {
    let dir = setup(
        &format!("{SCHEMA}{BASE_RULES}"),
        &format!("{SCHEMA}{HEAD_RULES}"),
    );
    let jsonl = lines(&diff(dir.path(), &["in.jsonl", "more.jsonl"], None));
    let o = diff(dir.path(), &["-f", "json", "in.jsonl", "more.jsonl"], None);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let doc: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(doc["findings"].as_array().unwrap(), &jsonl);
    assert_eq!(
        doc["summary"],
        serde_json::json!({"added": 3, "removed": 3, "changed": 3})
    );
    let o = diff(dir.path(), &["-f", "csv", "in.jsonl", "more.jsonl"], None);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let text = stdout(&o);
    let rows: Vec<&str> = text.lines().collect();
    assert_eq!(
        rows[0],
        "source,line,record,rule,category,severity,element,message,deadline,days_left,overdue,change"
    );
    assert_eq!(rows.len(), 1 + jsonl.len());
    for (row, v) in rows[1..].iter().zip(&jsonl) {
        assert!(row.ends_with(v["change"].as_str().unwrap()), "{row}");
        assert!(row.contains(v["rule"].as_str().unwrap()), "{row}");
    }
}
