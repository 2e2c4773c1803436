//! One small pack (or waivers file) per diagnostic code of the registry
//! (`beian::diag::Code::ALL`), and a snapshot of how `beian check` shows it, so that any change
//! in how a diagnostic looks shows up in review.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;
use common::beian;

use std::process::Output;

use beian::diag::Code;

/// A rule around `when`, with a message hole and tests, so that it raises nothing else.
fn rule(id: &str, extra: &str, when: &str) -> String {
    format!(
        "  - id: {id}\n    title: 测试规则\n    category: c\n    severity: error\n{extra}    when: {when}\n    message: \"值 {{n}}\"\n    tests: [{{name: t, record: {{n: 1}}, expect: 0}}]\n"
    )
}

const SCHEMA: &str = "schema:\n  fields: {n: int, s: string, d: date, items: [{name: string}]}\n";

fn pack(rules: &str) -> String {
    format!("{SCHEMA}rules:\n{rules}")
}

/// How to produce a code: the files to write and the command to run.
struct Case {
    files: Vec<(&'static str, String)>,
    args: Vec<&'static str>,
}

fn check(text: String) -> Case {
    Case {
        files: vec![("pack.yaml", text)],
        args: vec!["check", "-r", "pack.yaml"],
    }
}

fn case(code: Code) -> Case {
    match code {
        Code::Io => Case {
            files: vec![],
            args: vec!["check", "-r", "missing.yaml"],
        },
        Code::YamlSyntax => check("rules:\n  - id: A-1\n    title: [unclosed\n".into()),
        Code::UnknownKey => check(pack(&rule("A-1", "    severty: error\n", "n > 1"))),
        Code::DuplicateKey => check(pack(&rule("A-1", "    title: 又一个标题\n", "n > 1"))),
        Code::MissingKey => check(format!(
            "{SCHEMA}rules:\n  - id: A-1\n    title: 缺少 when\n    category: c\n    severity: error\n    message: \"{{n}}\"\n"
        )),
        Code::BadValue => check(
            pack(&rule("A-1", "", "n > 1")).replace("severity: error", "severity: 严重"),
        ),
        Code::BadRuleId => check(pack(&rule("dv_002", "", "n > 1"))),
        Code::Duplicate => check(pack(&format!(
            "{}{}",
            rule("A-1", "", "n > 1"),
            rule("A-1", "", "n > 2")
        ))),
        Code::UnknownType => check(
            "schema:\n  fields: {n: integer}\nrules: []\n".into(),
        ),
        Code::BadKey => check(
            "schema:\n  key: website.filing_number\n  fields: {website: {filing_no: string}}\nrules: []\n".into(),
        ),
        Code::Syntax => check(pack(&rule("A-1", "", "n > 1 and"))),
        Code::UnknownName => check(pack(&rule("A-1", "", "主办单位 == \"x\" or n > 1"))),
        Code::UnknownField => check(pack(&rule("A-1", "", "items.exists(i, i.nmae == \"x\")"))),
        Code::UnknownFunction => check(pack(&rule("A-1", "", "lenght(s) > 3"))),
        Code::Type => check(pack(&rule("A-1", "", "d > 3"))),
        Code::Arity => check(pack(&rule("A-1", "", "substr(s, 1) == \"x\""))),
        Code::Regex => check(pack(&rule("A-1", "", "matches(s, \"[a-\")"))),
        Code::BadConstant => check(pack(&rule("A-1", "", "d > date(\"2026-02-30\")"))),
        Code::MissingTableKey => check(format!(
            "{SCHEMA}tables:\n  limits: {{个人: 1, 企业: 5}}\nrules:\n{}",
            rule("A-1", "", "n > tables.limits.事业单位")
        )),
        Code::Shadow => check(pack(&rule(
            "A-1",
            "    for_each: it in items\n    let:\n      it: it.name\n",
            "it.name == \"x\"",
        ))),
        Code::TooDeep => check(pack(&rule(
            "A-1",
            "",
            &format!("{}n{} > 1", "(".repeat(300), ")".repeat(300)),
        ))),
        Code::UnknownRule => Case {
            files: vec![
                ("pack.yaml", pack(&rule("SA-003", "", "n > 1"))),
                (
                    "waivers.yaml",
                    "waivers:\n  - rule: SA-03\n    record: \"粤ICP备12345678号-1\"\n    until: 2026-03-31\n    reason: 整改延期已获批准\n".into(),
                ),
                ("in.jsonl", "{\"n\": 2}\n".into()),
            ],
            args: vec![
                "scan",
                "-r",
                "pack.yaml",
                "--waivers",
                "waivers.yaml",
                "--as-of",
                "2026-03-01",
                "in.jsonl",
            ],
        },
        Code::ConstantWhen => check(pack(&rule("A-1", "", "1 > 2"))),
        Code::UnusedTable => check(format!(
            "{SCHEMA}tables:\n  provinces: [粤, 京]\nrules:\n{}",
            rule("A-1", "", "n > 1")
        )),
        Code::UnusedLet => check(pack(&rule("A-1", "    let:\n      长度: len(s)\n", "n > 1"))),
        Code::ShadowsField => check(pack(&rule(
            "A-1",
            "",
            "items.exists(s, s.name == \"x\")",
        ))),
        Code::MessageWithoutValue => check(
            pack(&rule("A-1", "", "n > 1")).replace("\"值 {n}\"", "主办单位名称为空"),
        ),
        Code::NoTests => check(format!(
            "{SCHEMA}rules:\n  - id: A-1\n    title: 没有测试\n    category: c\n    severity: error\n    when: n > 1\n    message: \"值 {{n}}\"\n"
        )),
        Code::ConfusableIdent => check(
            "schema:\n  fields: {\"nаme\": string}\nrules:\n  - id: A-1\n    title: t\n    category: c\n    severity: error\n    when: nаme == \"x\"\n    message: \"值 {nаme}\"\n    tests: [{name: t, record: {}, expect: 0}]\n".into(),
        ),
        Code::RegexNeverMatches => check(pack(&rule(
            "A-1",
            "",
            "matches(s, r\"^\\d+$号\")",
        ))),
    }
}

fn run(code: Code) -> (Output, String) {
    let c = case(code);
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in &c.files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let o = beian(dir.path(), &c.args);
    let err = String::from_utf8(o.stderr.clone()).unwrap();
    (o, err)
}

#[test]
fn every_code_has_a_case_and_a_snapshot() {
    for &code in Code::ALL {
        let (o, err) = run(code);
        let tag = format!(
            "{}[{}]",
            if code.is_warning() {
                "warning"
            } else {
                "error"
            },
            code.as_str()
        );
        assert!(
            err.contains(&tag),
            "{}: no `{tag}` in:\n{err}",
            code.as_str()
        );
        // warnings never fail a pack; errors always do
        let want = if code.is_warning() { 0 } else { 2 };
        assert_eq!(o.status.code(), Some(want), "{}:\n{err}", code.as_str());
        insta::assert_snapshot!(format!("diag_{}", code.as_str()), err);
    }
}

#[test]
fn each_case_raises_its_code_alone() {
    // each case produces its own code and no other, so the snapshot shows exactly it
    for &code in Code::ALL {
        let (_, err) = run(code);
        let codes: Vec<&str> = err
            .lines()
            .filter_map(|l| {
                let start = l.find('[')?;
                let end = l.find("]:")?;
                (l.starts_with("error[") || l.starts_with("warning[")).then(|| &l[start + 1..end])
            })
            .collect();
        assert!(
            codes.iter().all(|c| *c == code.as_str()),
            "{}: {codes:?}\n{err}",
            code.as_str()
        );
    }
}

#[test]
fn json_output_of_one_case() {
    let c = case(Code::UnknownName);
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in &c.files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let o = beian(
        dir.path(),
        &["check", "-r", "pack.yaml", "--format", "json"],
    );
    assert_eq!(o.status.code(), Some(2));
    let out = String::from_utf8(o.stdout).unwrap();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    insta::assert_snapshot!("diag_json_E102", serde_json::to_string_pretty(&v).unwrap());
}
