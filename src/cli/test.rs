//! `beian test`: runs every rule's `tests` (SPEC §1.3, §6, §7).

use std::path::PathBuf;

use crate::testing::{self, TestReport};

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
    print!("{}", render(&report));
    if let Some(path) = &args.junit {
        if let Err(e) = super::write_atomic(path, junit(&report).as_bytes()) {
            eprintln!("error: cannot write `{}`: {e}", path.display());
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

/// The text report: one block per failure, `FAIL <rule>: <test name>`, then the totals.
pub fn render(report: &TestReport) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    for r in report.results.iter().filter(|r| !r.passed) {
        let _ = writeln!(s, "FAIL {}: {}", r.rule, r.name);
        let _ = writeln!(s, "  at:       {}", r.location);
        let _ = writeln!(s, "  record:   {}", r.record_key);
        let _ = writeln!(s, "  problem:  {}", r.problem);
        let _ = writeln!(s, "  expected: {}", compact(&r.expected));
        if r.actual.is_empty() {
            let _ = writeln!(s, "  actual:   []");
        } else {
            let _ = writeln!(s, "  actual:");
            for a in &r.actual {
                let _ = writeln!(
                    s,
                    "    - {}",
                    compact(&serde_json::Value::Object(a.clone()))
                );
            }
        }
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
        let _ = writeln!(
            s,
            "rules whose tests never make `when` both true and false: {}",
            report.one_sided.join(", ")
        );
    }
    let total = report.results.len();
    let failed = report.failed();
    let _ = writeln!(
        s,
        "{total} tests, {} passed, {failed} failed",
        total - failed
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
                "    <testcase classname=\"{}\" name=\"{}\" file=\"{}\"",
                xml_escape(rule),
                xml_escape(&c.name),
                xml_escape(&c.location)
            );
            if c.passed {
                s.push_str("/>\n");
            } else {
                let actual: Vec<serde_json::Value> = c
                    .actual
                    .iter()
                    .cloned()
                    .map(serde_json::Value::Object)
                    .collect();
                let _ = writeln!(
                    s,
                    ">\n      <failure message=\"{}\">expected: {}\nactual: {}</failure>\n    </testcase>",
                    xml_escape(&c.problem),
                    xml_escape(&compact(&c.expected)),
                    xml_escape(&compact(&serde_json::Value::Array(actual)))
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
                println!("FAIL {}:{}: {}\n  {}\n", r.file, r.line, r.name, r.problem);
            }
            println!(
                "{} tests, {} passed, {} failed",
                results.len(),
                results.len() - failed.len(),
                failed.len()
            );
            i32::from(!failed.is_empty())
        }
    }
}
