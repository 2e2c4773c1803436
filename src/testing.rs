//! Running the rules' own `tests` (SPEC §1.3, `beian test`).

use chrono::NaiveDate;

use crate::eval::{eval_rule, Env, Finding};
use crate::input::convert::record_from_value;
use crate::load::Expect;
use crate::program::{Program, Rule};
use crate::scan::matches_item;
use crate::source::Sources;
use crate::yaml;

/// A finding as a test sees it: the keys an `expect` list may give.
pub fn test_view(f: &Finding, as_of: NaiveDate) -> serde_json::Map<String, serde_json::Value> {
    let mut m = serde_json::Map::new();
    let days_left = f.days_left(as_of);
    m.insert("element".into(), f.element.into());
    m.insert("message".into(), f.message.clone().into());
    m.insert(
        "deadline".into(),
        f.deadline.map(|d| d.format("%Y-%m-%d").to_string()).into(),
    );
    m.insert("days_left".into(), days_left.into());
    m.insert("overdue".into(), days_left.map(|d| d < 0).into());
    m
}

#[derive(Debug, Clone)]
pub struct TestResult {
    pub rule: String,
    pub name: String,
    pub record_key: String,
    pub passed: bool,
    /// Why it failed (empty when it passed).
    pub problem: String,
    pub expected: serde_json::Value,
    pub actual: Vec<serde_json::Map<String, serde_json::Value>>,
    /// `file:line` of the test.
    pub location: String,
}

#[derive(Debug, Clone, Default)]
pub struct TestReport {
    pub results: Vec<TestResult>,
    pub without_tests: Vec<String>,
    /// Rules whose tests never make `when` both true and false.
    pub one_sided: Vec<String>,
}

impl TestReport {
    pub fn failed(&self) -> usize {
        self.results.iter().filter(|r| !r.passed).count()
    }
}

fn json_eq(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => (x - y).abs() < 1e-9,
        _ => a == b,
    }
}

/// Runs one test of a rule; returns the findings and the number of undetermined evaluations,
/// or a problem with the test itself.
pub fn run_one(
    program: &Program,
    rule: &Rule,
    index: usize,
    record: &serde_json::Value,
    as_of: NaiveDate,
) -> Result<(Vec<Finding>, u32), String> {
    let (slots, errors) = record_from_value(record, &program.schema)?;
    if let Some(e) = errors.first() {
        return Err(format!(
            "field error in the test record: `{}`: {}",
            e.field, e.reason
        ));
    }
    let mut findings = Vec::new();
    if !rule.in_window(as_of) {
        return Ok((findings, 0));
    }
    let mut env = Env::new(program, &slots, as_of);
    let und = eval_rule(rule, index, &mut env, &mut findings);
    Ok((findings, und))
}

/// Runs every test of the selected rules.
pub fn run(program: &Program, select: &[String]) -> TestReport {
    let mut report = TestReport::default();
    for (ri, rule) in program.rules.iter().enumerate() {
        if !select.is_empty()
            && !select
                .iter()
                .any(|s| matches_item(s, &rule.id, &rule.category))
        {
            continue;
        }
        if rule.tests.is_empty() {
            report.without_tests.push(rule.id.clone());
            continue;
        }
        let (mut saw_true, mut saw_false) = (false, false);
        for t in &rule.tests {
            let record = yaml::to_json(&t.record);
            let key = key_of(program, &record);
            let location = location(&program.sources, t.loc);
            let (expected, outcome) = match &t.expect {
                Expect::Count(n) => (serde_json::Value::from(*n), None::<()>),
                Expect::Findings(list) => (
                    serde_json::Value::Array(
                        list.iter()
                            .cloned()
                            .map(serde_json::Value::Object)
                            .collect(),
                    ),
                    None,
                ),
            };
            let _ = outcome;
            let mut result = TestResult {
                rule: rule.id.clone(),
                name: t.name.clone(),
                record_key: key,
                passed: false,
                problem: String::new(),
                expected,
                actual: Vec::new(),
                location,
            };
            match run_one(program, rule, ri, &record, t.as_of) {
                Err(problem) => result.problem = problem,
                Ok((findings, und)) => {
                    if !findings.is_empty() {
                        saw_true = true;
                    } else if und == 0 {
                        saw_false = true;
                    }
                    result.actual = findings.iter().map(|f| test_view(f, t.as_of)).collect();
                    match &t.expect {
                        Expect::Count(n) => {
                            if findings.len() == *n {
                                result.passed = true;
                            } else {
                                result.problem =
                                    format!("expected {n} findings, got {}", findings.len());
                            }
                        }
                        Expect::Findings(list) => {
                            if list.len() != findings.len() {
                                result.problem = format!(
                                    "expected {} findings, got {}",
                                    list.len(),
                                    findings.len()
                                );
                            } else {
                                let mut problem = None;
                                'outer: for (i, (want, got)) in
                                    list.iter().zip(result.actual.iter()).enumerate()
                                {
                                    for (k, v) in want {
                                        let g =
                                            got.get(k).cloned().unwrap_or(serde_json::Value::Null);
                                        if !json_eq(v, &g) {
                                            problem = Some(format!(
                                                "finding {i}: `{k}` expected {v}, got {g}"
                                            ));
                                            break 'outer;
                                        }
                                    }
                                }
                                match problem {
                                    Some(p) => result.problem = p,
                                    None => result.passed = true,
                                }
                            }
                        }
                    }
                }
            }
            report.results.push(result);
        }
        if !(saw_true && saw_false) {
            report.one_sided.push(rule.id.clone());
        }
    }
    report
}

fn key_of(program: &Program, record: &serde_json::Value) -> String {
    match record_from_value(record, &program.schema) {
        Ok((slots, _)) => crate::scan::record_key(program, &slots, 1),
        Err(_) => "?".into(),
    }
}

fn location(sources: &Sources, loc: crate::source::Loc) -> String {
    let (line, col) = sources.line_col(loc.file, loc.start);
    format!("{}:{line}:{col}", sources.name(loc.file))
}
