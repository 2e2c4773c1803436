//! Adversarial packs never panic or overflow the stack: through load, check, compile and
//! evaluation, on a 2 MiB thread (the size of a rayon worker's stack), in debug builds too.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use beian::pack::load_text;
use proptest::prelude::*;

fn pack_with(when: &str) -> String {
    let when = when.replace('\'', "''");
    format!(
        "schema:\n  key: id\n  fields: {{id: string, n: int, xs: [int], s: string, d: date}}\nrules:\n  - id: R-1\n    title: t\n    category: c\n    severity: info\n    when: '{when}'\n    message: \"{{id}}\"\n    tests: [{{name: t, record: {{id: a, n: 1, xs: [1, 2], s: x, d: 2026-01-01}}, expect: 0}}]\n"
    )
}

/// Loads, checks and (when it compiles) evaluates a pack on a thread with a small stack: 2 MiB
/// (a spawned thread's default; the scan's workers get 8 MiB) in an optimised build, 16 MiB in
/// a debug build, whose frames are several times larger.
fn run_on_small_stack(pack: String) -> (bool, usize) {
    let stack = if cfg!(debug_assertions) { 16 } else { 2 } * 1024 * 1024;
    std::thread::Builder::new()
        .stack_size(stack)
        .spawn(move || {
            let loaded = load_text("pack.yaml", &pack);
            let errors = loaded.diagnostics.iter().filter(|d| d.is_error()).count();
            if let Some(p) = &loaded.program {
                let record = beian::input::convert::record_from_value(
                    &serde_json::json!({"id": "a", "n": 7, "xs": [1, 2, 3], "s": "abc", "d": "2026-01-01"}),
                    &p.schema,
                )
                .unwrap()
                .0;
                let rules: Vec<usize> = (0..p.rules.len()).collect();
                let _ = beian::eval::evaluate(p, &rules, &record, chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap());
                let _ = beian::testing::run(p, &[]);
            }
            (loaded.program.is_some(), errors)
        })
        .unwrap()
        .join()
        .expect("no panic and no stack overflow")
}

#[test]
fn deepest_allowed_nesting_checks_and_evaluates() {
    // 250 levels: inside the parser's limit of 256
    let parens = format!("{}n{} > 0", "(".repeat(250), ")".repeat(250));
    let negs = format!("{}n > 0", "-".repeat(250));
    let sums = format!("{} > 0", vec!["n"; 250].join(" + "));
    let conds = format!("{}true{}", "n > 0 ? ".repeat(125), " : false".repeat(125));
    let lists = format!("len({}1{}) > 0", "[".repeat(240), "]".repeat(240));
    let macros = format!("{}n > 0{}", "xs.exists(x, ".repeat(120), ")".repeat(120));
    for when in [parens, negs, sums, conds, lists, macros] {
        let (ok, errors) = run_on_small_stack(pack_with(&when));
        assert!(ok, "{when}: {errors} errors");
    }
}

#[test]
fn too_deep_nesting_is_a_diagnostic_not_a_crash() {
    for when in [
        format!("{}n{} > 0", "(".repeat(10_000), ")".repeat(10_000)),
        format!("{}true", "not ".repeat(10_000)),
        format!("{} > 0", vec!["n"; 100_000].join(" + ")),
        format!("{} > 0", vec!["n"; 20_000].join(" * ")),
    ] {
        let (ok, errors) = run_on_small_stack(pack_with(&when));
        assert!(!ok && errors >= 1);
    }
}

#[test]
fn a_hundred_thousand_term_and_chain_works() {
    let when = vec!["n > 0"; 100_000].join(" and ");
    let (ok, errors) = run_on_small_stack(pack_with(&when));
    assert!(ok, "{errors} errors");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_expressions_never_panic(when in "[a-z0-9 ()\\[\\]+*/%<>=!?:.,\"'-]{0,60}") {
        let _ = run_on_small_stack(pack_with(&when));
    }

    #[test]
    fn random_token_soups_never_panic(tokens in proptest::collection::vec(prop_oneof![
        Just("n"), Just("xs"), Just("s"), Just("d"), Just("as_of"), Just("tables"), Just("1"), Just("2.5"), Just("'a'"),
        Just("null"), Just("true"), Just("and"), Just("or"), Just("not"), Just("in"), Just("+"), Just("-"), Just("*"),
        Just("/"), Just("%"), Just("=="), Just("<"), Just("??"), Just("?"), Just(":"), Just("("), Just(")"), Just("["),
        Just("]"), Just(","), Just("."), Just("len"), Just("exists"), Just("map"), Just("x"), Just("days"),
        Just("date"), Just("matches"), Just("'[a-'"), Just("substr"), Just("min"), Just("sum"), Just("int"),
    ], 0..40)) {
        let _ = run_on_small_stack(pack_with(&tokens.join(" ")));
    }

    #[test]
    fn random_yaml_never_panics(text in "[a-z:\\- \\n\\[\\]{}'\"&*!|>#0-9]{0,200}") {
        std::thread::Builder::new()
            .stack_size(2 * 1024 * 1024)
            .spawn(move || { let _ = load_text("pack.yaml", &text); })
            .unwrap()
            .join()
            .expect("no panic");
    }
}
