//! `beian check`: text, JSON and SARIF output, exit codes, lints (SPEC §6, §7).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;
use common::{beian, stderr, stdout};

use std::path::Path;
use std::process::Output;

use serde_json::Value;

fn check(files: &[(&str, &str)], args: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let p = dir.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    let mut all = vec!["check"];
    all.extend_from_slice(args);
    beian(dir.path(), &all)
}

const GOOD: &str = r#"
schema:
  key: 备案号
  fields: {备案号: string, 主办单位名称: string, n: int}
rules:
  - id: NAME-1
    title: 主办单位名称为空
    category: subject
    severity: error
    when: 主办单位名称 == null or trim(主办单位名称) == ""
    message: "备案 {备案号} 的主办单位名称为空"
    tests:
      - {name: 空, record: {备案号: a, 主办单位名称: " "}, expect: 1}
      - {name: 有, record: {备案号: b, 主办单位名称: 某公司}, expect: 0}
"#;

/// Several errors in one pack, one of them inside an expression after Chinese text.
const ERRORS: &str = r#"
schema:
  fields: {主办单位名称: string, n: int}
rules:
  - id: BAD-1
    title: 类型错误
    category: c
    severity: error
    when: 主办单位名称 > 1
    message: "名称 {主办单位名称}"
    tests: [{name: t, record: {}, expect: 0}]
  - id: BAD-2
    title: 未知字段
    category: c
    severity: error
    when: m > 1
    message: "n {n}"
  - id: BAD-3
    title: 未知的级别
    category: c
    severity: fatal
    when: n > 1
    message: "n {n}"
  - id: bad-4
    title: 错误的编号
    category: c
    severity: info
    when: n > 1
    message: "n {n}"
"#;

/// Only warnings: a constant `when`, no tests, a message without a value, a regex that can
/// never match, a confusable identifier.
const WARNINGS: &str = r#"
schema:
  fields: {name: string, nаme2: string}
rules:
  - id: W-1
    title: warnings only
    category: c
    severity: warning
    when: matches(name, "$^x") or nаme2 == "x"
    message: "固定的消息"
"#;

#[test]
fn a_good_pack_exits_0() {
    let o = check(&[("pack.yaml", GOOD)], &["-r", "pack.yaml"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stderr(&o), "ok: 1 rule checked; 0 errors and 0 warnings\n");
    assert!(stdout(&o).is_empty());
}

#[test]
fn an_empty_pack_exits_0() {
    let o = check(&[("empty.yaml", "rules: []\n")], &["-r", "empty.yaml"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stderr(&o), "ok: 0 rules checked; 0 errors and 0 warnings\n");
}

#[test]
fn every_error_is_reported_with_file_line_and_column() {
    let o = check(&[("pack.yaml", ERRORS)], &["-r", "pack.yaml"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    insta::assert_snapshot!("check_errors_text", err);
    assert!(err.contains("error[E105]"), "{err}");
    // the column counts characters, not bytes: `>` after six Chinese characters
    assert!(err.contains("--> pack.yaml:9:11"), "{err}");
    assert!(
        err.contains("error[E006]: unknown severity `fatal`"),
        "{err}"
    );
    assert!(err.contains("error[E102]"), "{err}");
    assert!(err.contains("error[E007]"), "{err}");
    // BAD-2 has no tests (W006)
    assert!(
        err.contains("warning[W006]: rule `BAD-2` has no tests"),
        "{err}"
    );
    assert!(
        err.ends_with("error: the pack has 4 errors and 3 warnings\n"),
        "{err}"
    );
}

/// A YAML syntax error points at the fault, not where the parser's scalar began.
#[test]
fn a_yaml_syntax_error_points_at_the_fault() {
    let cases = [
        // a tab on the next line, inside a plain scalar's block
        ("rules:\n  - id: X-1\n\ttitle: t\n", "--> pack.yaml:3:1"),
        // a tab in block indentation
        ("rules:\n\t- x\n", "--> pack.yaml:2:1"),
        // a quoted scalar continued on a line that is not indented enough
        ("rules:\n  - id: \"X-1\n    title: t\n", "--> pack.yaml:3:5"),
        // ... only on its third line (a blank line and a deeper one before it are fine)
        ("a:\n  k: \"one\n\n    two\n three\"\n", "--> pack.yaml:5:2"),
        // a tab inside a plain scalar is allowed: the fault is the tab that indents
        ("rules:\n  - id: X\tY\n\ttitle: t\n", "--> pack.yaml:3:1"),
    ];
    for (text, at) in cases {
        let o = check(&[("pack.yaml", text)], &["-r", "pack.yaml"]);
        assert_eq!(o.status.code(), Some(2));
        let err = stderr(&o);
        assert!(err.contains("error[E002]: invalid yaml"), "{err}");
        assert!(err.contains(at), "{text:?}: {err}");
    }
}

#[test]
fn warnings_alone_exit_0() {
    let o = check(&[("pack.yaml", WARNINGS)], &["-r", "pack.yaml"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let err = stderr(&o);
    for code in ["W005", "W006", "W007", "W008"] {
        assert!(err.contains(&format!("warning[{code}]")), "{code}: {err}");
    }
    assert!(!err.contains("error["), "{err}");
    assert!(
        err.ends_with("ok: 1 rule checked; 0 errors and 4 warnings\n"),
        "{err}"
    );
}

#[test]
fn json_output_lists_every_diagnostic() {
    let o = check(
        &[("pack.yaml", ERRORS)],
        &["-r", "pack.yaml", "--format", "json"],
    );
    assert_eq!(o.status.code(), Some(2));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["errors"], 4);
    assert_eq!(v["warnings"], 3);
    assert_eq!(v["rules"], Value::Null);
    let first = &v["diagnostics"][0];
    for k in [
        "code",
        "severity",
        "message",
        "file",
        "line",
        "column",
        "end_line",
        "end_column",
        "label",
        "help",
    ] {
        assert!(first.get(k).is_some(), "{k}");
    }
    let e105 = v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == "E105")
        .unwrap();
    assert_eq!(e105["file"], "pack.yaml");
    assert_eq!(
        (e105["line"].as_u64(), e105["column"].as_u64()),
        (Some(9), Some(11))
    );
    let o = check(
        &[("pack.yaml", GOOD)],
        &["-r", "pack.yaml", "--format", "json"],
    );
    assert_eq!(o.status.code(), Some(0));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["rules"], 1);
    assert_eq!(v["diagnostics"], serde_json::json!([]));
}

#[test]
fn a_directory_pack_is_checked_file_by_file() {
    let o = check(
        &[
            ("pack/a.yaml", "schema: {fields: {n: int}}\n"),
            (
                "pack/b.yaml",
                "rules:\n  - id: D-1\n    title: t\n    category: c\n    severity: info\n    when: n > \"1\"\n    message: \"{n}\"\n",
            ),
            ("pack/tables/unused.yaml", "[1, 2]\n"),
        ],
        &["-r", "pack"],
    );
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("pack/b.yaml:6:11"), "{err}");
    assert!(err.contains("warning[W002]"), "{err}");
    assert!(err.contains("pack/tables/unused.yaml"), "{err}");
}

#[test]
fn a_missing_pack_exits_2() {
    let o = check(&[], &["-r", "nope.yaml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("error[E001]: cannot read `nope.yaml`"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn the_embedded_pack_has_no_errors() {
    let o = check(&[], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("ok: "), "{}", stderr(&o));
}

// ---- SARIF ----

fn sarif_validator() -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sarif-schema-2.1.0.json"),
        )
        .unwrap(),
    )
    .unwrap();
    jsonschema::validator_for(&schema).expect("the SARIF schema compiles")
}

fn sarif(files: &[(&str, &str)], pack: &str) -> (Option<i32>, Value) {
    let o = check(files, &["-r", pack, "--format", "sarif"]);
    let v: Value = serde_json::from_str(&stdout(&o)).expect("SARIF is JSON");
    let errors: Vec<String> = sarif_validator()
        .iter_errors(&v)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}\n{v:#}");
    (o.status.code(), v)
}

#[test]
fn sarif_with_errors_is_valid_and_locates_each_result() {
    let (code, v) = sarif(&[("pack.yaml", ERRORS)], "pack.yaml");
    assert_eq!(code, Some(2));
    assert_eq!(v["version"], "2.1.0");
    let run = &v["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "beian");
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), 7);
    for r in results {
        let idx = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[idx]["id"], r["ruleId"]);
        let level = r["level"].as_str().unwrap();
        let code = r["ruleId"].as_str().unwrap();
        assert_eq!(level == "error", code.starts_with('E'), "{r}");
        let loc = &r["locations"][0]["physicalLocation"];
        assert_eq!(loc["artifactLocation"]["uri"], "pack.yaml");
        assert!(loc["region"]["startLine"].as_u64().unwrap() >= 1);
    }
    let e105 = results.iter().find(|r| r["ruleId"] == "E105").unwrap();
    let region = &e105["locations"][0]["physicalLocation"]["region"];
    assert_eq!(region["startLine"], 9);
    assert_eq!(region["startColumn"], 11);
    assert_eq!(region["snippet"]["text"], "主办单位名称 > 1");
}

#[test]
fn sarif_with_warnings_only_is_valid() {
    let (code, v) = sarif(&[("规则/包.yaml", WARNINGS)], "规则/包.yaml");
    assert_eq!(code, Some(0));
    let results = v["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 4);
    assert!(results.iter().all(|r| r["level"] == "warning"));
    // a Chinese path is percent-encoded into a URI reference
    let uri = results[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        .as_str()
        .unwrap();
    assert_eq!(uri, "%E8%A7%84%E5%88%99/%E5%8C%85.yaml");
}

#[test]
fn sarif_without_diagnostics_is_valid() {
    let (code, v) = sarif(&[("pack.yaml", GOOD)], "pack.yaml");
    assert_eq!(code, Some(0));
    assert_eq!(v["runs"][0]["results"], serde_json::json!([]));
    assert_eq!(
        v["runs"][0]["tool"]["driver"]["rules"],
        serde_json::json!([])
    );
    let (code, _) = sarif(&[("empty.yaml", "rules: []\n")], "empty.yaml");
    assert_eq!(code, Some(0));
}

#[test]
fn sarif_of_an_unreadable_pack_is_valid() {
    let (code, v) = sarif(&[], "nope.yaml");
    assert_eq!(code, Some(2));
    let r = &v["runs"][0]["results"][0];
    assert_eq!(r["ruleId"], "E001");
    assert!(r.get("locations").is_none());
}

#[test]
fn the_sarif_schema_rejects_a_broken_document() {
    // the validator really validates: a result without a message is refused
    let (_, mut v) = sarif(&[("pack.yaml", ERRORS)], "pack.yaml");
    v["runs"][0]["results"][0]
        .as_object_mut()
        .unwrap()
        .remove("message");
    assert!(!sarif_validator().is_valid(&v));
}

// ---- lints never make a good pack fail ----

#[test]
fn lints_do_not_turn_a_good_pack_into_exit_2() {
    // an identifier with an invisible character cannot be written in an expression (it is
    // not an identifier character); a schema field can hold one
    for (pattern, ident, used) in [
        (r"[^\s\S]", "ｎ", true),
        (r"a\bb", "n\u{200b}x", false),
        (r"x^", "αn", true),
    ] {
        let use_it = if used {
            format!(" or {ident} > 1")
        } else {
            String::new()
        };
        let pack = format!(
            "schema: {{fields: {{\"{ident}\": int, s: string}}}}\nrules:\n  - id: L-1\n    title: t\n    category: c\n    severity: info\n    when: matches(s, r\"{pattern}\"){use_it}\n    message: \"{{s}}\"\n    tests: [{{name: a, record: {{s: x}}, expect: 0}}]\n"
        );
        let o = check(&[("pack.yaml", &pack)], &["-r", "pack.yaml"]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(0), "{pattern} {ident}: {err}");
        assert!(err.contains("warning[W008]"), "{pattern}: {err}");
        assert!(err.contains("warning[W007]"), "{ident}: {err}");
    }
}

#[test]
fn every_bad_entry_of_an_address_or_domain_table_is_reported_where_it_is_written() {
    let rules = r#"
schema: {fields: {a: ip, d: domain}}
rules:
  - {id: A-1, title: t, category: c, severity: info, when: "a in tables.mainland", message: "{a}"}
  - {id: A-2, title: t, category: c, severity: info, when: "a in tables.mainland", message: "{a}"}
  - {id: A-3, title: t, category: c, severity: info, when: "d in tables.doms", message: "{d}"}
  - {id: A-4, title: t, category: c, severity: info, when: "a in ['10.0.0.0/8', 'x/1']", message: "{a}"}
"#;
    let o = check(
        &[
            ("p/rules.yaml", rules),
            (
                "p/tables/mainland.yaml",
                "- 10.0.0.0/8\n- \"nope\"\n- 1.2.3.4/40\n",
            ),
            ("p/tables/doms.yaml", "- a.cn\n- a..b\n"),
        ],
        &["-r", "p", "--format", "json"],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let mut got: Vec<String> = v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["code"] == "E108")
        .map(|d| {
            format!(
                "{}:{}:{} {}",
                d["file"].as_str().unwrap(),
                d["line"],
                d["column"],
                d["message"].as_str().unwrap()
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            "p/rules.yaml:7:81 `x/1` is not a cidr block or address",
            "p/tables/doms.yaml:2:3 `a..b` is not a valid domain name",
            "p/tables/mainland.yaml:2:3 `nope` is not a cidr block or address",
            "p/tables/mainland.yaml:3:3 `1.2.3.4/40` is not a cidr block or address",
        ]
    );
}

/// A misshapen `calendar` table is an error at the key or value, not silently a calendar
/// without holidays (every weekday would count as a working day).
#[test]
fn a_misshapen_calendar_is_an_error_where_it_is_wrong() {
    let pack = |calendar: &str| {
        format!(
            "schema:\n  fields: {{d: date}}\ntables:\n  calendar: {calendar}\nrules:\n  - id: W-1\n    title: t\n    category: c\n    severity: info\n    when: add_workdays(d, 1) > d\n    message: \"{{d}}\"\n"
        )
    };
    let diagnostics = |calendar: &str| -> Vec<(String, u64, u64)> {
        let o = check(
            &[("pack.yaml", &pack(calendar))],
            &["-r", "pack.yaml", "--format", "json"],
        );
        let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
        v["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["severity"] == "error")
            .map(|d| {
                (
                    d["code"].as_str().unwrap().to_string(),
                    d["line"].as_u64().unwrap(),
                    d["column"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    // well formed, or with an empty list, is fine
    assert!(diagnostics("{holidays: [2026-10-01], workdays: [2026-10-11]}").is_empty());
    assert!(diagnostics("{holidays: [], workdays:}").is_empty());
    // a typo in a key, at the key
    assert_eq!(
        diagnostics("{holidayz: [2026-10-01]}"),
        [("E003".to_string(), 4, 14)]
    );
    // not a list, at the value; not a mapping, at the table
    assert_eq!(
        diagnostics("{holidays: 2026-10-01}"),
        [("E006".to_string(), 4, 24)]
    );
    assert_eq!(diagnostics("[2026-10-01]"), [("E006".to_string(), 4, 13)]);
    // an entry that is not a date (SPEC §2.5), as before
    assert_eq!(
        diagnostics("{holidays: [2026-13-01]}"),
        [("E108".to_string(), 4, 25)]
    );
    // and the help of the typo names the key meant
    let o = check(
        &[("pack.yaml", &pack("{holidayz: [2026-10-01]}"))],
        &["-r", "pack.yaml"],
    );
    assert!(
        stderr(&o).contains("did you mean `holidays`?"),
        "{}",
        stderr(&o)
    );
}

/// SPEC §2.1: "a YAML boolean or number stands for that literal". A whole expression slot
/// written as a YAML number in any form of the core schema (hex, octal, a sign, a bare `.5`)
/// is that number; a non-finite one has no literal and is an error at the value.
#[test]
fn a_yaml_number_in_an_expression_slot_is_that_literal() {
    let pack = r#"
schema:
  fields: {id: string}
rules:
  - id: NUM-1
    title: numbers
    category: c
    severity: info
    let: {a: 0x10, b: 0o17, c: +5, d: .5, e: 5., f: 1e3, g: -7}
    when: "a == 16 and b == 15 and c == 5 and d == 0.5 and e == 5.0 and f == 1000.0 and g == -7"
    message: "{a} {b} {c} {d} {e} {f} {g}"
"#;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.yaml"), pack).unwrap();
    std::fs::write(dir.path().join("in.jsonl"), "{\"id\": \"x\"}\n").unwrap();
    let out = beian(
        dir.path(),
        &[
            "scan",
            "-r",
            "p.yaml",
            "--as-of",
            "2026-01-01",
            "-f",
            "jsonl",
            "-q",
            "in.jsonl",
        ],
    );
    let finding: Value = serde_json::from_str(stdout(&out).trim()).unwrap_or(Value::Null);
    assert_eq!(
        finding["message"],
        "16 15 5 0.5 5 1000 -7",
        "{}",
        stderr(&out)
    );
    let out = check(
        &[("p.yaml", &pack.replace("g: -7", "g: .inf"))],
        &["-r", "p.yaml"],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("`.inf` is not a finite number"), "{err}");
    assert!(err.contains("p.yaml:9:"), "points at the value: {err}");
}
