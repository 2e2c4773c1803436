//! `beian rules` and `beian schema`, run as the built binary.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;
use common::{beian, stderr, stdout};

use std::path::{Path, PathBuf};
use std::process::Output;

fn no_panic(o: &Output) {
    assert!(!stderr(o).contains("panicked at"), "{}", stderr(o));
}

const PACK: &str = r#"
pack: {name: demo, version: "1.0"}
schema:
  key: id
  fields: {id: string, d: date, name: string}
rules:
  - id: EXP-1
    title: 域名即将到期
    category: domain_verification
    severity: warning
    effective: {from: 2020-01-01}
    when: d - as_of < days(45)
    message: "域名 {name} 将于 {d} 到期"
    deadline: d
    remedy: 尽快续费
    source: ICP备案管理 2.1
    tests:
      - name: 即将到期
        as_of: 2026-01-01
        record: {id: a, d: 2026-01-20, name: 例子.中国}
        expect: 1
      - name: far away
        record: {id: b, d: 2027-01-01}
        expect: []
  - id: OFF-1
    title: disabled rule
    category: other
    severity: info
    enabled: false
    when: name == "x"
    message: "name {name}"
"#;

fn pack_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pack.yaml"), PACK).unwrap();
    dir
}

// ---- rules ----

#[test]
fn rules_lists_every_rule_as_a_table() {
    let dir = pack_dir();
    let o = beian(dir.path(), &["rules", "-r", "pack.yaml"]);
    no_panic(&o);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    insta::assert_snapshot!("rules_table", stdout(&o));
}

#[test]
fn rules_shows_one_rule_in_full() {
    let dir = pack_dir();
    let o = beian(dir.path(), &["rules", "-r", "pack.yaml", "EXP-1"]);
    no_panic(&o);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    insta::assert_snapshot!("rules_one", stdout(&o));
}

#[test]
fn rules_unknown_id_exits_2_with_a_hint() {
    let dir = pack_dir();
    let o = beian(dir.path(), &["rules", "-r", "pack.yaml", "EXP-2"]);
    no_panic(&o);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no rule `EXP-2`"), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("did you mean `EXP-1`?"),
        "{}",
        stderr(&o)
    );
    assert!(stdout(&o).is_empty());
}

#[test]
fn rules_of_an_empty_pack() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("empty.yaml"), "rules: []\n").unwrap();
    let o = beian(dir.path(), &["rules", "-r", "empty.yaml"]);
    no_panic(&o);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("0 rules"), "{}", stdout(&o));
}

#[test]
fn rules_of_a_pack_with_errors_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.yaml"),
        "rules:\n  - id: bad id\n    title: t\n    category: c\n    severity: error\n    when: true\n    message: m\n",
    )
    .unwrap();
    let o = beian(dir.path(), &["rules", "-r", "bad.yaml"]);
    no_panic(&o);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("error[E007]"), "{}", stderr(&o));
    assert!(stderr(&o).contains("bad.yaml:2:"), "{}", stderr(&o));
}

#[test]
fn rules_of_the_embedded_pack() {
    let dir = tempfile::tempdir().unwrap();
    let o = beian(dir.path(), &["rules"]);
    no_panic(&o);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with("id"), "{out}");
    assert!(out.trim_end().ends_with("rules"), "{out}");
}

// ---- schema ----

fn schema_json() -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let o = beian(dir.path(), &["schema"]);
    no_panic(&o);
    assert_eq!(o.status.code(), Some(0));
    serde_json::from_str(&stdout(&o)).expect("beian schema prints JSON")
}

fn validator() -> jsonschema::Validator {
    jsonschema::validator_for(&schema_json()).expect("a valid JSON Schema")
}

fn yaml_value(text: &str) -> serde_json::Value {
    serde_saphyr::from_str::<serde_json::Value>(text).expect("YAML")
}

fn errors(v: &jsonschema::Validator, doc: &serde_json::Value) -> Vec<String> {
    v.iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

#[test]
fn schema_is_a_valid_draft7_schema_with_descriptions_everywhere() {
    let s = schema_json();
    assert!(jsonschema::meta::is_valid(&s), "not a valid JSON Schema");
    assert_eq!(s["$schema"], "http://json-schema.org/draft-07/schema#");
    let missing = beian::pack_schema::undocumented(&s);
    assert!(
        missing.is_empty(),
        "keys without a description: {missing:?}"
    );
    // every rule key, test key and expected-finding key is described
    let rule = &s["definitions"]["rule"]["properties"];
    for k in [
        "id",
        "title",
        "category",
        "severity",
        "enabled",
        "effective",
        "for_each",
        "let",
        "applies_if",
        "when",
        "message",
        "deadline",
        "remedy",
        "source",
        "tests",
    ] {
        assert!(rule.get(k).is_some(), "rule key {k}");
    }
    assert_eq!(
        s["definitions"]["severity"]["enum"],
        serde_json::json!(["info", "warning", "error", "critical"])
    );
    assert_eq!(
        s["definitions"]["rule"]["properties"]["id"]["pattern"],
        "^[A-Z][A-Z0-9]*(-[A-Z0-9]+)*$"
    );
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            yaml_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "yaml" || x == "yml") {
            out.push(p);
        }
    }
}

#[test]
fn every_file_of_the_rules_directory_is_valid() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    if !root.is_dir() {
        return;
    }
    let v = validator();
    let mut files = Vec::new();
    yaml_files(&root, &mut files);
    let mut checked = 0;
    for f in files {
        let rel = f.strip_prefix(&root).unwrap();
        if rel.starts_with("tables") {
            continue; // table files hold any YAML value
        }
        let doc = yaml_value(&std::fs::read_to_string(&f).unwrap());
        let errs = errors(&v, &doc);
        assert!(errs.is_empty(), "{}: {errs:#?}", f.display());
        checked += 1;
    }
    assert!(checked > 0);
}

#[test]
fn every_conformance_pack_is_valid() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance");
    let v = validator();
    let mut checked = 0;
    let mut files: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    for f in files {
        let case = yaml_value(&std::fs::read_to_string(&f).unwrap());
        let mut packs: Vec<(String, String)> = Vec::new();
        if let Some(text) = case.get("pack").and_then(|p| p.as_str()) {
            packs.push(("pack.yaml".into(), text.to_string()));
        }
        if let Some(files) = case.get("pack_files").and_then(|p| p.as_object()) {
            for (name, text) in files {
                if !name.starts_with("tables/") {
                    packs.push((name.clone(), text.as_str().unwrap_or("").to_string()));
                }
            }
        }
        for (name, text) in packs {
            let doc = yaml_value(&text);
            let errs = errors(&v, &doc);
            assert!(errs.is_empty(), "{} {name}: {errs:#?}", f.display());
            checked += 1;
        }
    }
    assert!(checked > 10, "only {checked} packs found");
}

#[test]
fn the_test_packs_here_are_valid() {
    let v = validator();
    for text in [
        PACK,
        "rules: []\n",
        "rules:\n",
        "pack: {name: x, version: 2}\n",
    ] {
        let errs = errors(&v, &yaml_value(text));
        assert!(errs.is_empty(), "{text}: {errs:#?}");
    }
}

fn rejected(v: &jsonschema::Validator, text: &str) -> Vec<String> {
    let errs = errors(v, &yaml_value(text));
    assert!(!errs.is_empty(), "accepted a broken pack:\n{text}");
    errs
}

const RULE: &str = "    title: t\n    category: c\n    when: x\n    message: m\n";

#[test]
fn broken_packs_are_rejected() {
    let v = validator();
    // unknown rule key
    let e = rejected(
        &v,
        &format!("rules:\n  - id: A-1\n    severity: error\n    whem: x\n{RULE}"),
    );
    assert!(e.iter().any(|e| e.contains("whem")), "{e:?}");
    // bad severity
    let e = rejected(
        &v,
        &format!("rules:\n  - id: A-1\n    severity: fatal\n{RULE}"),
    );
    assert!(e.iter().any(|e| e.contains("fatal")), "{e:?}");
    // bad ids
    for id in ["a-1", "A--1", "A_1", "1A", "DV-"] {
        rejected(
            &v,
            &format!("rules:\n  - id: \"{id}\"\n    severity: error\n{RULE}"),
        );
    }
    // missing required key
    rejected(
        &v,
        "rules:\n  - id: A-1\n    severity: error\n    title: t\n",
    );
    // unknown top-level key
    rejected(&v, "rulez: []\n");
    // unknown key in a test, in an expectation, in `effective`, in `pack`, in `schema`
    rejected(
        &v,
        &format!("rules:\n  - id: A-1\n    severity: error\n{RULE}    tests:\n      - {{name: n, record: {{}}, expect: 1, asof: 2026-01-01}}\n"),
    );
    rejected(
        &v,
        &format!("rules:\n  - id: A-1\n    severity: error\n{RULE}    tests:\n      - {{name: n, record: {{}}, expect: [{{mesage: x}}]}}\n"),
    );
    rejected(
        &v,
        &format!(
            "rules:\n  - id: A-1\n    severity: error\n    effective: {{form: 2020-01-01}}\n{RULE}"
        ),
    );
    rejected(&v, "pack: {name: x, version: 1, author: me}\n");
    rejected(&v, "schema: {key: id, field: {id: string}}\n");
    // a bad field type, a bad date, a negative count, a record that is not a mapping
    rejected(&v, "schema: {fields: {id: strin}}\n");
    rejected(
        &v,
        &format!(
            "rules:\n  - id: A-1\n    severity: error\n    effective: {{from: 2020-1-1}}\n{RULE}"
        ),
    );
    rejected(
        &v,
        &format!("rules:\n  - id: A-1\n    severity: error\n{RULE}    tests:\n      - {{name: n, record: {{}}, expect: -1}}\n"),
    );
    rejected(
        &v,
        &format!("rules:\n  - id: A-1\n    severity: error\n{RULE}    tests:\n      - {{name: n, record: [1], expect: 0}}\n"),
    );
}
