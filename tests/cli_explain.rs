//! `beian explain`, run as the built binary (SPEC §6).
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

const PACK: &str = r#"
schema:
  key: website.filing_no
  fields:
    website:
      filing_no: string
      name: string
    order:
      id: string
      type: string
      status: string
    domain_facts:
      - name: domain
        realname_verified: bool
        action: string
    changed: [string]
tables:
  closed: [已完成, 已删除]
  scopes:
    首次备案: all
    新增网站: new
rules:
  - id: DV-002
    title: 域名未完成实名认证
    category: domain_verification
    severity: error
    effective: {from: 2018-01-01}
    for_each: d in domain_facts
    let:
      scope: tables.scopes[order.type]
      in_scope: scope == 'all' or (scope == 'new' and d.action == '新增')
    applies_if: in_scope and (order.status ?? '') not in tables.closed
    when: not d.realname_verified
    message: "{order.type}订单 {order.id} 中的域名 {d.name} 尚未完成实名认证"
    deadline: as_of + days(15)
    tests:
      - name: t
        record: {order: {type: 首次备案}, domain_facts: [{name: a.cn, realname_verified: false}]}
        expect: 1
  - id: CF-008
    title: 个人备案通过“变更网站”修改网站负责人
    category: change_filing
    severity: warning
    when: changed.exists(f, starts_with(f, 'website.leader'))
    message: "修改了 {join(changed, '、')}"
    tests:
      - {name: t, record: {changed: [website.leader_name]}, expect: 1}
      - {name: f, record: {changed: [x]}, expect: 0}
  - id: OLD-1
    title: 已废止的规则
    category: c
    severity: info
    enabled: false
    effective: {until: 2019-12-31}
    when: website.name == null
    message: "网站 {website.filing_no} 没有名称"
    tests:
      - {name: t, as_of: 2019-01-01, record: {}, expect: 1}
"#;

const RECORD: &str = r#"{
  "website": {"filing_no": "鄂ICP备2019000001号-1", "name": "汉江商贸"},
  "order": {"id": "BA3", "type": "首次备案", "status": "待提交"},
  "domain_facts": [
    {"name": "hanjiang-shop.cn", "realname_verified": true},
    {"name": "汉江商贸.公司", "realname_verified": false}
  ]
}"#;

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pack.yaml"), PACK).unwrap();
    std::fs::write(dir.path().join("record.json"), RECORD).unwrap();
    dir
}

fn explain(dir: &Path, extra: &[&str], stdin: Option<&str>) -> Output {
    let mut args = vec!["explain", "-r", "pack.yaml", "--as-of", "2026-01-15"];
    args.extend_from_slice(extra);
    beian(dir, &args, stdin)
}

#[test]
fn explains_a_for_each_rule_element_by_element() {
    let dir = setup();
    let o = explain(dir.path(), &["DV-002", "--record", "record.json"], None);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    insta::assert_snapshot!("explain_for_each", out);
    assert!(out.contains("element 0: d = "), "{out}");
    assert!(
        out.contains("element 1: d = {\"name\":\"汉江商贸.公司\""),
        "{out}"
    );
    assert!(out.contains("  let scope = \"all\"\n"), "{out}");
    assert!(out.contains("  => pass (通过)\n"), "{out}");
    assert!(
        out.contains("  => finding (发现问题): 首次备案订单 BA3 中的域名 汉江商贸.公司 尚未完成实名认证 (deadline 2026-01-30, 15 days left)\n"),
        "{out}"
    );
    assert!(
        out.ends_with("verdict: 1 finding, 1 pass over 2 elements\n"),
        "{out}"
    );
}

#[test]
fn explains_as_json() {
    let dir = setup();
    let o = explain(
        dir.path(),
        &["DV-002", "--record", "record.json", "--format", "json"],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["rule"], "DV-002");
    assert_eq!(v["title"], "域名未完成实名认证");
    assert_eq!(v["in_effect"], true);
    assert_eq!(v["record"]["key"], "鄂ICP备2019000001号-1");
    assert_eq!(v["for_each"]["elements"], 2);
    let evs = v["evaluations"].as_array().unwrap();
    assert_eq!(evs.len(), 2);
    assert_eq!(evs[0]["verdict"], "pass");
    assert_eq!(evs[1]["verdict"], "finding");
    assert_eq!(evs[1]["variable"]["name"], "d");
    assert_eq!(evs[1]["variable"]["value"]["name"], "汉江商贸.公司");
    assert_eq!(evs[1]["lets"][0]["name"], "scope");
    assert_eq!(evs[1]["lets"][0]["value"], "all");
    assert_eq!(evs[1]["lets"][1]["name"], "in_scope");
    assert_eq!(evs[1]["lets"][1]["value"], true);
    assert_eq!(evs[1]["applies_if"]["value"], true);
    assert_eq!(evs[1]["when"]["value"], true);
    assert_eq!(
        evs[1]["finding"]["message"],
        "首次备案订单 BA3 中的域名 汉江商贸.公司 尚未完成实名认证"
    );
    assert_eq!(evs[1]["finding"]["deadline"], "2026-01-30");
    assert_eq!(evs[1]["finding"]["days_left"], 15);
    // the tree of `when`: `not d.realname_verified` over `d.realname_verified`
    let root = &evs[1]["when"]["tree"][0];
    assert_eq!(root["text"], "not d.realname_verified");
    assert_eq!(root["value"], true);
    assert_eq!(root["type"], "bool");
    assert_eq!(root["children"][0]["text"], "d.realname_verified");
    assert_eq!(root["children"][0]["value"], false);
    // a whole table is named, not dumped
    let applies = &evs[1]["applies_if"]["tree"][0];
    let table = &applies["children"][1]["children"][1];
    assert_eq!(table["text"], "tables.closed");
    assert_eq!(table["table"]["entries"], 2);
    // the message holes
    let holes = evs[1]["message"]["tree"].as_array().unwrap();
    let texts: Vec<&str> = holes.iter().map(|h| h["text"].as_str().unwrap()).collect();
    assert_eq!(texts, ["order.type", "order.id", "d.name"]);
    assert_eq!(v["verdict"]["findings"], 1);
    assert_eq!(v["verdict"]["pass"], 1);
    assert_eq!(v["verdict"]["scan_runs_rule"], true);
}

#[test]
fn macro_bodies_are_marked_per_element() {
    let dir = setup();
    let rec = r#"{"changed": ["website.leader_name", "subject.name"]}"#;
    let o = explain(dir.path(), &["CF-008"], Some(rec));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    insta::assert_snapshot!("explain_macro", out);
    assert!(
        out.contains("starts_with(f, 'website.leader')  =  (per element)  : bool"),
        "{out}"
    );
    assert!(out.contains("record - (key 1)"), "{out}");
    let o = explain(
        dir.path(),
        &["CF-008", "--format", "json", "--record", "-"],
        Some(rec),
    );
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let body = &v["evaluations"][0]["when"]["tree"][0]["children"][1];
    assert_eq!(body["per_element"], true);
    assert_eq!(body["value"], serde_json::Value::Null);
}

#[test]
fn a_rule_not_in_effect_or_disabled_is_still_explained_with_a_warning() {
    let dir = setup();
    let o = explain(dir.path(), &["OLD-1", "--record", "record.json"], None);
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    assert!(out.contains("effective until 2019-12-31"), "{out}");
    assert!(out.contains("disabled"), "{out}");
    assert!(
        out.ends_with(
            "verdict: pass (通过); but the rule is disabled (`enabled: false`): a scan skips it\n"
        ),
        "{out}"
    );
    let o = beian(
        dir.path(),
        &[
            "explain",
            "-r",
            "pack.yaml",
            "DV-002",
            "--record",
            "record.json",
            "--as-of",
            "2017-06-01",
        ],
        None,
    );
    let out = stdout(&o);
    assert!(out.contains("NOT in effect"), "{out}");
    assert!(
        out.contains("but the rule is not in effect at 2017-06-01 (effective from 2018-01-01): a scan skips it"),
        "{out}"
    );
}

#[test]
fn not_applicable_undetermined_and_empty_lists() {
    let dir = setup();
    let rec = r#"{"order": {"type": "首次备案"}, "domain_facts": [{"name": "a.cn"}]}"#;
    let o = explain(dir.path(), &["DV-002"], Some(rec));
    let out = stdout(&o);
    assert!(out.contains("  => undetermined (无法判定)"), "{out}");
    let rec = r#"{"order": {"type": "首次备案", "status": "已完成"}, "domain_facts": [{"name": "a.cn"}]}"#;
    let o = explain(dir.path(), &["DV-002"], Some(rec));
    let out = stdout(&o);
    assert!(
        out.contains("  when (not reached: `applies_if` is false)"),
        "{out}"
    );
    assert!(out.contains("  => not applicable (不适用)"), "{out}");
    let o = explain(dir.path(), &["DV-002"], Some(r#"{"domain_facts": []}"#));
    let out = stdout(&o);
    assert!(
        out.contains("for_each d in domain_facts: 0 elements"),
        "{out}"
    );
    assert!(
        out.contains("verdict: no evaluation: the `for_each` list is empty; no finding"),
        "{out}"
    );
    let o = explain(dir.path(), &["DV-002"], Some("{}"));
    let out = stdout(&o);
    assert!(
        out.contains("verdict: no evaluation: the `for_each` list is null; no finding"),
        "{out}"
    );
}

#[test]
fn field_errors_are_shown_and_the_record_is_still_evaluated() {
    let dir = setup();
    let rec = r#"{"order": {"type": "首次备案"}, "domain_facts": [{"name": "exa mple.com", "realname_verified": "maybe"}]}"#;
    let o = explain(dir.path(), &["DV-002"], Some(rec));
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    assert!(out.contains("field error: `domain_facts[0].name`"), "{out}");
    assert!(
        out.contains("field error: `domain_facts[0].realname_verified`"),
        "{out}"
    );
    assert!(out.contains("element 0:"), "{out}");
}

#[test]
fn a_record_that_is_not_valid_json_exits_2() {
    let dir = setup();
    std::fs::write(dir.path().join("bad.json"), "{\"website\": ").unwrap();
    let o = explain(dir.path(), &["DV-002", "--record", "bad.json"], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(stdout(&o).is_empty());
    assert!(
        stderr(&o).contains("error: the record in `bad.json` is not valid JSON"),
        "{}",
        stderr(&o)
    );
    let o = explain(dir.path(), &["DV-002"], Some("not json"));
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("the record in standard input is not valid JSON"),
        "{}",
        stderr(&o)
    );
    let o = explain(dir.path(), &["DV-002", "--record", "-"], Some("[1, 2]"));
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("must be a JSON object, not an array"),
        "{}",
        stderr(&o)
    );
    let o = explain(dir.path(), &["DV-002", "--record", "missing.json"], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("cannot read `missing.json`"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn an_unknown_rule_exits_2_with_a_hint() {
    let dir = setup();
    let o = explain(dir.path(), &["DV-02", "--record", "record.json"], None);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o),
        "error: no rule `DV-02` in the pack; did you mean `DV-002`?\n"
    );
}

#[test]
fn an_empty_pack_has_no_rule_to_explain() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pack.yaml"), "rules: []\n").unwrap();
    let o = explain(dir.path(), &["DV-002"], Some("{}"));
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no rule `DV-002`"), "{}", stderr(&o));
}

#[test]
fn a_pack_with_errors_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("pack.yaml"),
        "schema: {fields: {n: int}}\nrules:\n  - id: E-1\n    title: t\n    category: c\n    severity: error\n    when: n > \"1\"\n    message: \"{n}\"\n",
    )
    .unwrap();
    let o = explain(dir.path(), &["E-1"], Some("{}"));
    assert_eq!(o.status.code(), Some(2));
    assert!(stdout(&o).is_empty());
    assert!(stderr(&o).contains("error[E105]"), "{}", stderr(&o));
    assert!(stderr(&o).contains("pack.yaml:7:11"), "{}", stderr(&o));
}

#[test]
fn explains_a_rule_of_the_embedded_pack() {
    let dir = tempfile::tempdir().unwrap();
    let list = beian(dir.path(), &["rules"], None);
    let first = stdout(&list)
        .lines()
        .nth(1)
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .to_string();
    let o = beian(
        dir.path(),
        &[
            "explain",
            &first,
            "--as-of",
            "2026-01-15",
            "--format",
            "json",
        ],
        Some("{}"),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["rule"], first.as_str());
}

/// A `let` two rules share per element is shown with each element's own value.
#[test]
fn shared_element_lets_show_each_elements_value() {
    let dir = tempfile::tempdir().unwrap();
    let rule = |id: &str| {
        format!(
            "  - id: {id}\n    title: t\n    category: c\n    severity: info\n    for_each: d in items\n    let:\n      v: d.x * 10\n    when: v > 15\n    message: \"{id} {{v}}\"\n"
        )
    };
    let pack = format!(
        "schema:\n  fields:\n    items:\n      - x: int\nrules:\n{}{}",
        rule("R-1"),
        rule("R-2")
    );
    std::fs::write(dir.path().join("pack.yaml"), pack).unwrap();
    std::fs::write(
        dir.path().join("r.json"),
        r#"{"items": [{"x": 1}, {"x": 2}]}"#,
    )
    .unwrap();
    let o = explain(dir.path(), &["R-2", "--record", "r.json"], None);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("  let v = 10\n"), "{out}");
    assert!(out.contains("  let v = 20\n"), "{out}");
    assert!(out.contains("R-2 20"), "{out}");
}
