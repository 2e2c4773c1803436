//! `let` values shared between rules (`compile::share_lets`): which lets share a slot, and
//! that sharing never changes what a rule computes, even where two rules define a let alike
//! but read different definitions of the lets under it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::HashMap;

use beian::exec::{evaluate, Cells};
use beian::input::convert::record_from_value;
use beian::pack::{load_program, PackSource};
use beian::program::{Ir, Program};
use chrono::NaiveDate;

const PACK: &str = r#"
schema:
  key: id
  fields:
    id: string
    name: string
    items:
      - x: int
rules:
  - id: R-1
    title: first
    category: c
    severity: warning
    for_each: d in items
    let:
      up: upper(name)
      b: d.x + 1
      c: b * 2
    when: "true"
    message: "R-1 {up} {b} {c}"
  - id: R-2
    title: the same lets
    category: c
    severity: warning
    for_each: d in items
    let:
      up: upper(name)
      b: d.x + 1
      c: b * 2
    when: "true"
    message: "R-2 {up} {b} {c}"
  - id: R-3
    title: same text of c, another b under it
    category: c
    severity: warning
    for_each: d in items
    let:
      b: d.x + 2
      c: b * 2
    when: "true"
    message: "R-3 {b} {c}"
  - id: R-4
    title: same text of b, another element name
    category: c
    severity: warning
    for_each: e in items
    let:
      b: e.x + 1
      up: upper(name)
    when: "true"
    message: "R-4 {b} {up}"
  - id: R-5
    title: no for_each, a let only it has
    category: c
    severity: warning
    let:
      n: len(name)
    when: "true"
    message: "R-5 {n}"
  - id: R-6
    title: the lets of R-3
    category: c
    severity: warning
    for_each: d in items
    let:
      b: d.x + 2
      c: b * 2
    when: "true"
    message: "R-6 {b} {c}"
"#;

fn program() -> (tempfile::TempDir, Program) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pack.yaml");
    std::fs::write(&path, PACK).unwrap();
    let program = load_program(PackSource::Path(&path))
        .unwrap_or_else(|e| panic!("pack does not load: {e:?}"));
    (dir, program)
}

/// rule id -> let name -> (shared slot, per element), for the lets that are shared.
fn shared_slots(program: &Program) -> HashMap<String, HashMap<String, (usize, bool)>> {
    let mut out = HashMap::new();
    for rule in &program.rules {
        let mut lets = HashMap::new();
        for ((_, ir), (name, _)) in rule.lets.iter().zip(&rule.text.lets) {
            if let Ir::Shared(slot, per_element, _) = ir {
                lets.insert(name.clone(), (*slot, *per_element));
            }
        }
        out.insert(rule.id.clone(), lets);
    }
    out
}

#[test]
fn alike_lets_share_a_slot_and_others_do_not() {
    let (_dir, program) = program();
    let s = shared_slots(&program);
    let get = |rule: &str, name: &str| s[rule].get(name).copied();
    // `up` reads only the record: one slot for R-1, R-2 and R-4, computed once per record
    let up = get("R-1", "up").expect("up is shared");
    assert!(!up.1, "up does not depend on the element");
    assert_eq!(get("R-2", "up"), Some(up));
    assert_eq!(get("R-4", "up"), Some(up));
    // `b` reads the element of `d in items`: shared per element by R-1 and R-2 only (R-4
    // names its element `e`, R-3 defines b otherwise)
    let b = get("R-1", "b").expect("b is shared");
    assert!(b.1, "b depends on the element");
    assert_eq!(get("R-2", "b"), Some(b));
    let b3 = get("R-3", "b").expect("R-3's b is shared with R-6");
    assert_eq!(get("R-6", "b"), Some(b3));
    assert_ne!(b3.0, b.0);
    assert_ne!(get("R-4", "b").map(|x| x.0), Some(b.0));
    // `c` is `b * 2` in all four, but over two definitions of b: two slots
    let c1 = get("R-1", "c").expect("c is shared");
    let c3 = get("R-3", "c").expect("c is shared");
    assert_eq!(get("R-2", "c"), Some(c1));
    assert_eq!(get("R-6", "c"), Some(c3));
    assert_ne!(
        c1.0, c3.0,
        "c must not be shared across different definitions of b"
    );
    // a let only one rule has, outside a for_each, gains nothing from a slot
    assert_eq!(get("R-5", "n"), None);
}

#[test]
fn sharing_does_not_change_any_value() {
    let (_dir, program) = program();
    let record = serde_json::json!({"id": "a", "name": "wang", "items": [{"x": 1}, {"x": 10}, {}]});
    let (slots, errors) = record_from_value(&record, &program.schema).unwrap();
    assert!(errors.is_empty());
    let rules: Vec<usize> = (0..program.rules.len()).collect();
    let as_of = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
    // one set of cells for both records, as a scan worker keeps it
    let mut cells = Cells::default();
    let out = evaluate(&program, &rules, &slots, as_of, &mut cells);
    let messages: Vec<&str> = out.findings.iter().map(|f| f.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            "R-1 WANG 2 4",
            "R-1 WANG 11 22",
            "R-1 WANG null null",
            "R-2 WANG 2 4",
            "R-2 WANG 11 22",
            "R-2 WANG null null",
            "R-3 3 6",
            "R-3 12 24",
            "R-3 null null",
            "R-4 2 WANG",
            "R-4 11 WANG",
            "R-4 null WANG",
            "R-5 4",
            "R-6 3 6",
            "R-6 12 24",
            "R-6 null null",
        ]
    );
    // a second record through the same program: nothing kept from the first
    let other = serde_json::json!({"id": "b", "name": "li", "items": [{"x": 5}]});
    let (slots, _) = record_from_value(&other, &program.schema).unwrap();
    let out = evaluate(&program, &rules, &slots, as_of, &mut cells);
    let messages: Vec<&str> = out.findings.iter().map(|f| f.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            "R-1 LI 6 12",
            "R-2 LI 6 12",
            "R-3 7 14",
            "R-4 6 LI",
            "R-5 2",
            "R-6 7 14"
        ]
    );
}
