//! `beian test`, run as the built binary (SPEC §1.3, §6, §7).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;
use common::{beian, stderr, stdout};

use std::process::Output;

fn run(pack: &str, args: &[&str]) -> (Output, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pack.yaml"), pack).unwrap();
    let mut all = vec!["test", "-r", "pack.yaml"];
    all.extend_from_slice(args);
    let o = beian(dir.path(), &all);
    assert!(!stderr(&o).contains("panicked at"), "{}", stderr(&o));
    (o, dir)
}

const PASSING: &str = r#"
schema:
  key: id
  fields: {id: string, d: date, name: string, tags: [string]}
rules:
  - id: EXP-1
    title: 域名即将到期
    category: domain_verification
    severity: warning
    when: d - as_of < days(45)
    message: "域名 {name} 将于 {d} 到期"
    deadline: d
    tests:
      - name: 即将到期
        as_of: 2026-01-01
        record: {id: a, d: 2026-01-20, name: 例子.中国}
        expect: [{message: "域名 例子.中国 将于 2026-01-20 到期", deadline: 2026-01-20, days_left: 19, overdue: false, element: null}]
      - name: 还早
        record: {id: b, d: 2027-01-01}
        expect: []
  - id: TAG-1
    title: 标签为空
    category: other
    severity: info
    for_each: t in tags
    when: t == ""
    message: "第 {t} 个"
    tests:
      - name: second tag empty
        record: {id: c, tags: [x, "", y]}
        expect: [{element: 1}]
"#;

#[test]
fn all_passing_exits_0_and_prints_totals() {
    let (o, _d) = run(PASSING, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert_eq!(stdout(&o), "3 tests, 3 passed, 0 failed\n");
}

const FAILING: &str = r#"
schema:
  key: id
  fields: {id: string, d: date, name: string}
rules:
  - id: EXP-1
    title: 域名即将到期
    category: domain_verification
    severity: warning
    when: d - as_of < days(45)
    message: "域名 {name} 将于 {d} 到期"
    deadline: d
    tests:
      - name: 消息写错了
        as_of: 2026-01-01
        record: {id: 粤ICP备12345678号-1, d: 2026-01-20, name: 例子.中国}
        expect: [{message: "域名 例子.中国 将于 2026-01-21 到期", deadline: 2026-01-20}]
      - name: deliberately wrong count
        as_of: 2026-01-01
        record: {id: b, d: 2026-12-31}
        expect: 1
      - name: fires twice? no, once
        as_of: 2026-01-01
        record: {id: c, d: 2026-01-02, name: x.cn}
        expect: []
      - name: a date that is not a date
        record: {id: d, d: "2026-13-01"}
        expect: 0
      - name: passes
        as_of: 2026-01-01
        record: {id: e, d: 2026-01-10}
        expect: 1
"#;

#[test]
fn failures_are_blocks_with_expected_and_actual() {
    let (o, _d) = run(FAILING, &[]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(out.contains("FAIL EXP-1: 消息写错了\n"), "{out}");
    assert!(
        out.contains("FAIL EXP-1: deliberately wrong count\n"),
        "{out}"
    );
    assert!(
        out.contains("FAIL EXP-1: a date that is not a date\n"),
        "{out}"
    );
    assert!(out.ends_with("5 tests, 1 passed, 4 failed\n"), "{out}");
    insta::assert_snapshot!("test_failures", out);
}

#[test]
fn a_field_error_in_a_test_record_fails_the_test() {
    let (o, _d) = run(FAILING, &[]);
    let out = stdout(&o);
    let block = out
        .split("\n\n")
        .find(|b| b.starts_with("FAIL EXP-1: a date that is not a date"))
        .unwrap();
    assert!(block.contains("field error"), "{block}");
    assert!(block.contains("`d`"), "{block}");
    assert!(block.contains("record:   d"), "{block}");
}

#[test]
fn the_failure_names_the_rule_file_and_line_and_the_record_key() {
    let (o, _d) = run(FAILING, &[]);
    let out = stdout(&o);
    assert!(out.contains("  rule:     EXP-1 at pack.yaml:6\n"), "{out}");
    assert!(out.contains("  test:     pack.yaml:14:9\n"), "{out}");
    assert!(out.contains("  record:   粤ICP备12345678号-1\n"), "{out}");
}

const WINDOWS: &str = r#"
schema:
  fields: {n: int}
rules:
  - id: OFF-1
    title: disabled, tests still run
    category: c
    severity: info
    enabled: false
    when: n > 1
    message: "n {n}"
    tests:
      - {name: fires, record: {n: 2}, expect: 1}
      - {name: quiet, record: {n: 0}, expect: 0}
  - id: WIN-1
    title: in effect in 2025 only
    category: c
    severity: info
    effective: {from: 2025-01-01, until: 2025-12-31}
    when: n > 1
    message: "n {n}"
    tests:
      - {name: inside, as_of: 2025-06-01, record: {n: 2}, expect: 1}
      - {name: "after, so no finding", as_of: 2026-01-01, record: {n: 2}, expect: 0}
      - {name: "before, but expects one", as_of: 2024-12-31, record: {n: 2}, expect: 1}
      - {name: quiet, as_of: 2025-06-01, record: {n: 0}, expect: 0}
"#;

#[test]
fn tests_run_for_disabled_rules_within_the_effective_window() {
    let (o, _d) = run(WINDOWS, &[]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(!out.contains("FAIL OFF-1"), "{out}");
    assert!(
        out.contains("FAIL WIN-1: before, but expects one\n"),
        "{out}"
    );
    assert!(
        out.contains("not in effect at the test's as_of 2024-12-31"),
        "{out}"
    );
    assert!(out.ends_with("6 tests, 5 passed, 1 failed\n"), "{out}");
}

const COVERAGE: &str = r#"
schema:
  fields: {n: int, kind: string}
rules:
  - id: NT-1
    title: no tests
    category: c
    severity: info
    when: n > 1
    message: "n {n}"
  - id: TRUE-1
    title: tests only fire
    category: c
    severity: info
    when: n > 1
    message: "n {n}"
    tests:
      - {name: a, record: {n: 2}, expect: 1}
  - id: FALSE-1
    title: tests never fire
    category: c
    severity: info
    when: n > 1
    message: "n {n}"
    tests:
      - {name: a, record: {n: 0}, expect: 0}
  - id: NA-1
    title: never applies in tests, so `when` is never decided
    category: c
    severity: info
    applies_if: kind == "x"
    when: n > 1
    message: "n {n}"
    tests:
      - {name: a, record: {n: 0, kind: y}, expect: 0}
      - {name: b, record: {n: 2, kind: y}, expect: 0}
  - id: BOTH-1
    title: both sides across elements of one test
    category: c
    severity: info
    for_each: x in [1, 5]
    when: n > x
    message: "n {n}"
    tests:
      - {name: a, record: {n: 2}, expect: [{element: 0}]}
"#;

#[test]
fn rules_without_tests_and_one_sided_tests_are_reported() {
    let (o, _d) = run(COVERAGE, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    insta::assert_snapshot!("test_coverage", stdout(&o));
    let out = stdout(&o);
    assert!(out.contains("rules without tests: NT-1\n"), "{out}");
    assert!(
        out.contains("rules whose tests never make `when` both true and false: TRUE-1 (never false), FALSE-1 (never true), NA-1 (never true or false)\n"),
        "{out}"
    );
}

#[test]
fn select_by_id_prefix_and_category() {
    let (o, _d) = run(COVERAGE, &["--select", "TRUE-1"]);
    assert_eq!(
        stdout(&o).lines().last(),
        Some("1 tests, 1 passed, 0 failed")
    );
    assert!(!stdout(&o).contains("NT-1"), "{}", stdout(&o));
    let (o, _d) = run(PASSING, &["--select", "EXP-"]);
    assert_eq!(stdout(&o), "2 tests, 2 passed, 0 failed\n");
    let (o, _d) = run(PASSING, &["--select", "other"]);
    assert_eq!(stdout(&o), "1 tests, 1 passed, 0 failed\n");
    let (o, _d) = run(PASSING, &["--select", "other,EXP-1"]);
    assert_eq!(stdout(&o), "3 tests, 3 passed, 0 failed\n");
    let (o, _d) = run(FAILING, &["--select", "NOPE-"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(stdout(&o), "0 tests, 0 passed, 0 failed\n");
    assert!(stderr(&o).contains("`--select NOPE-` matches no rule"));
}

#[test]
fn an_empty_pack_has_no_tests() {
    let (o, _d) = run("rules: []\n", &[]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(stdout(&o), "0 tests, 0 passed, 0 failed\n");
}

#[test]
fn a_pack_with_errors_exits_2() {
    let pack = "schema: {fields: {n: int}}\nrules:\n  - id: E-1\n    title: t\n    category: c\n    severity: error\n    when: m > 1\n    message: \"{n}\"\n";
    let (o, _d) = run(pack, &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stdout(&o).is_empty(), "{}", stdout(&o));
    assert!(stderr(&o).contains("error[E102]"), "{}", stderr(&o));
    assert!(stderr(&o).contains("pack.yaml:7:11"), "{}", stderr(&o));
}

// ---- JUnit ----

/// A small well-formedness check: balanced, properly nested tags, quoted attributes, known
/// entities, one root element, an XML declaration.
/// An element: its name and attributes.
type Element = (String, Vec<(String, String)>);

fn well_formed(xml: &str) -> Result<Vec<Element>, String> {
    let mut elements = Vec::new();
    let body = xml
        .strip_prefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>")
        .ok_or("no XML declaration")?;
    let mut stack: Vec<String> = Vec::new();
    let mut roots = 0;
    let mut rest = body;
    let check_text = |t: &str| -> Result<(), String> {
        let mut s = t;
        while let Some(i) = s.find('&') {
            let after = &s[i + 1..];
            let end = after.find(';').ok_or("unterminated entity")?;
            let name = &after[..end];
            if !["amp", "lt", "gt", "quot", "apos"].contains(&name) {
                return Err(format!("unknown entity &{name};"));
            }
            s = &after[end + 1..];
        }
        if t.contains('<') || t.contains('>') {
            return Err(format!("raw markup in text: {t:?}"));
        }
        Ok(())
    };
    while let Some(i) = rest.find('<') {
        let text = &rest[..i];
        if stack.is_empty() && !text.trim().is_empty() {
            return Err(format!("text outside the root: {text:?}"));
        }
        check_text(text)?;
        let end = rest[i..].find('>').ok_or("unterminated tag")? + i;
        let tag = &rest[i + 1..end];
        rest = &rest[end + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            let open = stack.pop().ok_or("close without open")?;
            if open != name.trim() {
                return Err(format!("</{name}> closes <{open}>"));
            }
            continue;
        }
        let self_closing = tag.ends_with('/');
        let tag = tag.trim_end_matches('/');
        let name: String = tag.chars().take_while(|c| !c.is_whitespace()).collect();
        if name.is_empty() {
            return Err("empty tag name".into());
        }
        // attributes: name="value"
        let mut attrs = Vec::new();
        let mut a = tag[name.len()..].trim();
        while !a.is_empty() {
            let eq = a
                .find('=')
                .ok_or(format!("attribute without value in <{name}>"))?;
            let key = a[..eq].trim().to_string();
            let after = &a[eq + 1..];
            let after = after.strip_prefix('"').ok_or("unquoted attribute")?;
            let close = after.find('"').ok_or("unterminated attribute")?;
            let value = &after[..close];
            check_text(value)?;
            attrs.push((key, value.to_string()));
            a = after[close + 1..].trim();
        }
        if stack.is_empty() {
            roots += 1;
        }
        elements.push((name.clone(), attrs));
        if !self_closing {
            stack.push(name);
        }
    }
    if !rest.trim().is_empty() {
        return Err("text after the root".into());
    }
    if !stack.is_empty() {
        return Err(format!("unclosed: {stack:?}"));
    }
    if roots != 1 {
        return Err(format!("{roots} root elements"));
    }
    Ok(elements)
}

#[test]
fn the_well_formedness_check_rejects_broken_xml() {
    let decl = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>";
    for bad in [
        "<a><b></a></b>",
        "<a x=1/>",
        "<a>&nbsp;</a>",
        "<a></a><b/>",
        "<a>1 < 2</a>",
        "<a>",
    ] {
        assert!(well_formed(&format!("{decl}{bad}")).is_err(), "{bad}");
    }
    assert!(well_formed(&format!("{decl}<a x=\"&lt;\"><b/>t &amp; u</a>")).is_ok());
}

const JUNIT_PACK: &str = r#"
schema:
  fields: {n: int, name: string}
rules:
  - id: J-1
    title: markup in names
    category: c
    severity: info
    when: n > 1
    message: "名称 <{name}> & \"{n}\""
    tests:
      - {name: "passes <ok> & 'fine'", record: {n: 2, name: a}, expect: 1}
      - {name: 失败的测试, record: {n: 2, name: "<b>&"}, expect: [{message: "x"}]}
  - id: J-2
    title: second
    category: c
    severity: info
    when: n > 5
    message: "n {n}"
    tests:
      - {name: quiet, record: {n: 2}, expect: 0}
      - {name: loud, record: {n: 9}, expect: 1}
  - id: J-3
    title: no tests
    category: c
    severity: info
    when: n > 5
    message: "n {n}"
"#;

#[test]
fn junit_has_one_test_case_per_rule_test_and_is_well_formed() {
    let (o, dir) = run(JUNIT_PACK, &["--junit", "out/junit.xml"]);
    // the directory does not exist: the file cannot be written
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("cannot write `out/junit.xml`"),
        "{}",
        stderr(&o)
    );
    std::fs::create_dir(dir.path().join("out")).unwrap();
    let o = beian(
        dir.path(),
        &["test", "-r", "pack.yaml", "--junit", "out/junit.xml"],
    );
    assert_eq!(o.status.code(), Some(1));
    let xml = std::fs::read_to_string(dir.path().join("out/junit.xml")).unwrap();
    let elements = well_formed(&xml).unwrap_or_else(|e| panic!("{e}\n{xml}"));
    let cases: Vec<&Vec<(String, String)>> = elements
        .iter()
        .filter(|(n, _)| n == "testcase")
        .map(|(_, a)| a)
        .collect();
    assert_eq!(cases.len(), 4);
    let attr = |a: &Vec<(String, String)>, k: &str| {
        a.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap()
    };
    assert_eq!(attr(cases[0], "classname"), "J-1");
    assert_eq!(
        attr(cases[0], "name"),
        "passes &lt;ok&gt; &amp; &apos;fine&apos;"
    );
    assert_eq!(attr(cases[1], "name"), "失败的测试");
    assert_eq!(attr(cases[1], "file"), "pack.yaml");
    assert_eq!(attr(cases[1], "line"), "13");
    let failures = elements.iter().filter(|(n, _)| n == "failure").count();
    assert_eq!(failures, 1);
    let suites: Vec<_> = elements.iter().filter(|(n, _)| n == "testsuite").collect();
    assert_eq!(suites.len(), 2, "rules without tests have no suite");
    let root = &elements[0];
    assert_eq!(root.0, "testsuites");
    assert_eq!(attr(&root.1, "tests"), "4");
    assert_eq!(attr(&root.1, "failures"), "1");
    insta::assert_snapshot!("test_junit", xml);
}

#[test]
fn junit_of_an_empty_pack_is_well_formed() {
    let (o, dir) = run("rules: []\n", &["--junit", "j.xml"]);
    assert_eq!(o.status.code(), Some(0));
    let xml = std::fs::read_to_string(dir.path().join("j.xml")).unwrap();
    well_formed(&xml).unwrap();
    assert!(xml.contains("tests=\"0\""), "{xml}");
}

#[test]
fn the_embedded_pack_runs_its_tests() {
    // the pack is written elsewhere; whether its tests pass is its own business
    let dir = tempfile::tempdir().unwrap();
    let o = beian(dir.path(), &["test", "--junit", "j.xml"]);
    assert!(!stderr(&o).contains("panicked at"));
    let out = stdout(&o);
    let last = out.lines().last().unwrap_or("");
    assert!(
        last.contains(" tests, ") && last.contains(" passed, "),
        "{out}"
    );
    assert!(matches!(o.status.code(), Some(0 | 1)));
    well_formed(&std::fs::read_to_string(dir.path().join("j.xml")).unwrap()).unwrap();
}

/// A `let` two rules share per element is evaluated for each element when the test runner
/// works out whether `when` was both true and false (it once kept the last element's value).
#[test]
fn shared_element_lets_do_not_fake_one_sided_tests() {
    let rule = |id: &str, when: &str, xs: &str| {
        format!(
            "  - id: {id}\n    title: t\n    category: c\n    severity: error\n    for_each: d in xs\n    let: {{v: d}}\n    when: {when}\n    message: \"{{v}}\"\n    tests: [{{name: t, record: {{xs: {xs}}}, expect: [{{element: 0}}]}}]\n"
        )
    };
    let pack = format!(
        "schema: {{fields: {{xs: [int]}}}}\nrules:\n{}{}",
        rule("R-1", "v > 1", "[5, 0]"),
        rule("R-2", "v < 0", "[-1, 3]")
    );
    let (o, _d) = run(&pack, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let out = stdout(&o);
    assert!(!out.contains("never"), "{out}");
    assert!(out.ends_with("2 tests, 2 passed, 0 failed\n"), "{out}");
}
