//! `beian test`: runs every rule's `tests` (SPEC §1.3, §6, §7).

use std::path::PathBuf;

use crate::testing::{self, TestReport, TestResult};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Rule pack: a YAML file or a directory (default: the embedded pack).
    #[arg(short = 'r', long = "rules", value_name = "PATH")]
    pub rules: Option<PathBuf>,
    /// Write JUnit XML (one test case per rule test) to FILE.
    #[arg(long = "junit", value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Run only these rules: ids, id prefixes ending in `-`, or categories.
    #[arg(long = "select", value_name = "LIST")]
    pub select: Vec<String>,
    /// Run expression case files (a file or a directory of them) instead of the rules' tests.
    #[arg(long = "cases", value_name = "PATH")]
    pub cases: Vec<PathBuf>,
}

pub fn run(args: Args) -> i32 {
    if !args.cases.is_empty() {
        return run_cases(&args.cases);
    }
    let program = match super::load_pack(args.rules.as_deref()) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let report = testing::run(&program, &super::split_list(&args.select));
    for s in &report.unmatched_select {
        crate::cli::err(&format!("warning: `--select {s}` matches no rule"));
    }
    crate::cli::out(&render(&report));
    if let Some(path) = &args.junit {
        if let Err(e) = super::write_atomic(path, junit(&report).as_bytes()) {
            crate::cli::err(&format!("error: cannot write `{}`: {e}", path.display()));
            return 2;
        }
    }
    if report.failed() > 0 {
        1
    } else {
        0
    }
}

fn compact(v: &serde_json::Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// The keys of `actual` that `want` names (all of them when `want` is absent), in `want`'s
/// order, so that expected and actual line up.
fn restricted(
    actual: &serde_json::Map<String, serde_json::Value>,
    want: Option<&serde_json::Map<String, serde_json::Value>>,
) -> serde_json::Value {
    match want {
        Some(w) if !w.is_empty() => serde_json::Value::Object(
            w.keys()
                .map(|k| {
                    (
                        k.clone(),
                        actual.get(k).cloned().unwrap_or(serde_json::Value::Null),
                    )
                })
                .collect(),
        ),
        _ => serde_json::Value::Object(actual.clone()),
    }
}

/// One failure: `FAIL <rule>: <test name>`, where, the record's key, the problem, then expected
/// and actual findings paired by position.
pub fn render_failure(r: &TestResult) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(s, "FAIL {}: {}", r.rule, r.name);
    let _ = writeln!(s, "  test:     {}", r.location);
    let _ = writeln!(s, "  rule:     {} at {}", r.rule, r.rule_location);
    let _ = writeln!(s, "  record:   {}", r.record_key);
    let _ = writeln!(s, "  problem:  {}", r.problem);
    if !r.ran {
        let _ = writeln!(s, "  (the rule was not run on this record)");
        return s;
    }
    match &r.expected {
        serde_json::Value::Array(want) => {
            let n = want.len().max(r.actual.len());
            if n == 0 {
                let _ = writeln!(s, "  expected: no finding");
                let _ = writeln!(s, "  actual:   no finding");
            }
            for i in 0..n {
                let w = want.get(i).and_then(serde_json::Value::as_object);
                let _ = writeln!(s, "  finding {i}:");
                let _ = writeln!(
                    s,
                    "    expected: {}",
                    w.map_or("(none)".to_string(), |w| compact(
                        &serde_json::Value::Object(w.clone())
                    ))
                );
                let _ = writeln!(
                    s,
                    "    actual:   {}",
                    r.actual
                        .get(i)
                        .map_or("(none)".to_string(), |a| compact(&restricted(a, w)))
                );
            }
        }
        expected => {
            let n = expected.as_u64().unwrap_or(0);
            let _ = writeln!(
                s,
                "  expected: {}",
                if n == 0 {
                    "no finding".to_string()
                } else {
                    plural(usize::try_from(n).unwrap_or(usize::MAX), "finding")
                }
            );
            if r.actual.is_empty() {
                let _ = writeln!(s, "  actual:   no finding");
            } else {
                let _ = writeln!(s, "  actual:   {}", plural(r.actual.len(), "finding"));
                for (i, a) in r.actual.iter().enumerate() {
                    let _ = writeln!(
                        s,
                        "    {i}: {}",
                        compact(&serde_json::Value::Object(a.clone()))
                    );
                }
            }
        }
    }
    s
}

/// The text report: one block per failure beginning `FAIL <rule>: <test name>`, the rules
/// without tests, the rules whose tests never make `when` both true and false, then
/// `N tests, P passed, F failed`.
pub fn render(report: &TestReport) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    for r in report.results.iter().filter(|r| !r.passed) {
        s.push_str(&render_failure(r));
        s.push('\n');
    }
    if !report.without_tests.is_empty() {
        let _ = writeln!(
            s,
            "rules without tests: {}",
            report.without_tests.join(", ")
        );
    }
    if !report.one_sided.is_empty() {
        let list: Vec<String> = report
            .one_sided
            .iter()
            .map(|(id, side)| format!("{id} ({})", side.as_str()))
            .collect();
        let _ = writeln!(
            s,
            "rules whose tests never make `when` both true and false: {}",
            list.join(", ")
        );
    }
    let _ = writeln!(
        s,
        "{} tests, {} passed, {} failed",
        report.results.len(),
        report.passed(),
        report.failed()
    );
    s
}

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\r' | '\t') => {}
            '\u{FFFE}' | '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// JUnit XML: one `<testcase>` per rule test, grouped by rule.
pub fn junit(report: &TestReport) -> String {
    use std::fmt::Write;
    let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let total = report.results.len();
    let failed = report.failed();
    let _ = writeln!(
        s,
        "<testsuites name=\"beian\" tests=\"{total}\" failures=\"{failed}\">"
    );
    let mut rules: Vec<&str> = report.results.iter().map(|r| r.rule.as_str()).collect();
    rules.dedup();
    for rule in rules {
        let cases: Vec<_> = report.results.iter().filter(|r| r.rule == rule).collect();
        let f = cases.iter().filter(|r| !r.passed).count();
        let _ = writeln!(
            s,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{f}\">",
            xml_escape(rule),
            cases.len()
        );
        for c in cases {
            let _ = write!(
                s,
                "    <testcase classname=\"{}\" name=\"{}\" file=\"{}\" line=\"{}\"",
                xml_escape(rule),
                xml_escape(&c.name),
                xml_escape(&c.file),
                c.line
            );
            if c.passed {
                s.push_str("/>\n");
            } else {
                let _ = writeln!(
                    s,
                    ">\n      <failure message=\"{}\" type=\"assertion\">{}</failure>\n    </testcase>",
                    xml_escape(&c.problem),
                    xml_escape(&render_failure(c))
                );
            }
        }
        s.push_str("  </testsuite>\n");
    }
    s.push_str("</testsuites>\n");
    s
}

fn run_cases(paths: &[PathBuf]) -> i32 {
    match crate::cases::run_paths(paths) {
        Err((diags, sources)) => {
            super::print_diagnostics(&diags, &sources);
            2
        }
        Ok(results) => {
            let failed: Vec<_> = results.iter().filter(|r| !r.passed).collect();
            for r in &failed {
                crate::cli::out(&format!(
                    "FAIL {}:{}: {}\n  {}\n\n",
                    r.file, r.line, r.name, r.problem
                ));
            }
            crate::cli::out(&format!(
                "{} tests, {} passed, {} failed\n",
                results.len(),
                results.len() - failed.len(),
                failed.len()
            ));
            i32::from(!failed.is_empty())
        }
    }
}
