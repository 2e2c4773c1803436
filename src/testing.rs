//! Running the rules' own `tests` (SPEC §1.3, `beian test`).
//!
//! A test runs its rule on its record at its `as_of` (default 2026-01-01), whether or not the
//! rule is enabled, within the rule's `effective` window (outside it the rule gives no
//! finding). A field error in the record fails the test. Besides pass/fail, the run records
//! which rules have no test, and which rules' tests never make `when` both true and false (a
//! test suite that only ever fires, or never fires, proves little).

use chrono::NaiveDate;

use crate::eval::{eval, Env, Finding};
use crate::input::convert::record_from_value;
use crate::load::Expect;
use crate::program::{Program, Rule};
use crate::scan::matches_item;
use crate::source::Sources;
use crate::value::Value;
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
    /// Whether the rule ran (false when the test's record could not be read).
    pub ran: bool,
    /// Why it failed (empty when it passed).
    pub problem: String,
    /// The expectation: a count, or a list of partial findings.
    pub expected: serde_json::Value,
    pub actual: Vec<serde_json::Map<String, serde_json::Value>>,
    /// `file:line:col` of the test.
    pub location: String,
    /// `file:line` of the rule.
    pub rule_location: String,
    /// The test's file and line, for JUnit.
    pub file: String,
    pub line: usize,
}

/// Which side of `when` a rule's tests reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OneSided {
    /// `when` was true in some test, never false.
    NeverFalse,
    /// `when` was false in some test, never true.
    NeverTrue,
    /// `when` was never evaluated to true or false (every test not applicable, undetermined,
    /// outside the effective window, or failing on its record).
    Neither,
}

impl OneSided {
    pub fn as_str(self) -> &'static str {
        match self {
            OneSided::NeverFalse => "never false",
            OneSided::NeverTrue => "never true",
            OneSided::Neither => "never true or false",
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct TestReport {
    pub results: Vec<TestResult>,
    pub without_tests: Vec<String>,
    /// Rules whose tests never make `when` both true and false, and which side is missing.
    pub one_sided: Vec<(String, OneSided)>,
    /// `--select` items that match no rule.
    pub unmatched_select: Vec<String>,
}

impl TestReport {
    pub fn failed(&self) -> usize {
        self.results.iter().filter(|r| !r.passed).count()
    }

    pub fn passed(&self) -> usize {
        self.results.len() - self.failed()
    }
}

fn json_eq(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => (x - y).abs() < 1e-9,
        _ => a == b,
    }
}

/// What one test run gives: the findings, the undetermined evaluations, and the values `when`
/// took (where the rule applied).
#[derive(Debug, Clone, Default)]
pub struct RunOutcome {
    pub findings: Vec<Finding>,
    pub undetermined: u32,
    pub when_true: bool,
    pub when_false: bool,
}

/// Runs one test of a rule, or returns a problem with the test itself (a record that is not
/// an object, a field error).
pub fn run_one(
    program: &Program,
    rule: &Rule,
    index: usize,
    record: &serde_json::Value,
    as_of: NaiveDate,
) -> Result<RunOutcome, String> {
    let (slots, errors) = record_from_value(record, &program.schema)?;
    if !errors.is_empty() {
        let list: Vec<String> = errors
            .iter()
            .map(|e| {
                format!(
                    "`{}`: {} ({})",
                    e.field,
                    serde_json::Value::String(e.value.clone()),
                    e.reason
                )
            })
            .collect();
        return Err(format!(
            "field error in the test record: {}",
            list.join("; ")
        ));
    }
    let mut out = RunOutcome::default();
    if !rule.in_window(as_of) {
        return Ok(out);
    }
    let outcome = crate::eval::evaluate(program, &[index], &slots, as_of);
    out.findings = outcome.findings;
    out.undetermined = outcome.undetermined.iter().map(|(_, n)| n).sum();
    let mut env = Env::new(program, &slots, as_of);
    let (t, f) = when_sides(rule, &mut env);
    out.when_true = t;
    out.when_false = f;
    Ok(out)
}

/// Whether `when` is true for some evaluation, and false for some, where the rule applies.
fn when_sides(rule: &Rule, env: &mut Env<'_, '_>) -> (bool, bool) {
    env.locals.clear();
    env.locals.resize(rule.locals, Value::Null);
    let elements: Vec<Option<Value>> = match &rule.for_each {
        None => vec![None],
        Some((_, list)) => match eval(list, env) {
            Value::List(items) => items.iter().cloned().map(Some).collect(),
            _ => Vec::new(),
        },
    };
    let (mut t, mut f) = (false, false);
    for (i, item) in elements.into_iter().enumerate() {
        env.locals.iter_mut().for_each(|v| *v = Value::Null);
        // shared lets (`Ir::Shared`) keep a value per element: say which one this is
        env.element = i;
        if let (Some((slot, _)), Some(item)) = (&rule.for_each, item) {
            if let Some(s) = env.locals.get_mut(*slot) {
                *s = item;
            }
        }
        for (slot, ir) in &rule.lets {
            let v = eval(ir, env);
            if let Some(s) = env.locals.get_mut(*slot) {
                *s = v;
            }
        }
        if let Some(a) = &rule.applies_if {
            if eval(a, env) != Value::Bool(true) {
                continue;
            }
        }
        match eval(&rule.when, env) {
            Value::Bool(true) => t = true,
            Value::Bool(false) => f = true,
            _ => {}
        }
    }
    (t, f)
}

fn plural(n: usize, word: &str) -> String {
    if n == 0 {
        format!("no {word}")
    } else if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// Runs every test of the selected rules (all rules when `select` is empty).
pub fn run(program: &Program, select: &[String]) -> TestReport {
    let mut report = TestReport::default();
    for s in select {
        if !program
            .rules
            .iter()
            .any(|r| matches_item(s, &r.id, &r.category))
        {
            report.unmatched_select.push(s.clone());
        }
    }
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
        let (rule_line, _) = program.sources.line_col(rule.loc.file, rule.loc.start);
        let rule_location = format!("{}:{rule_line}", program.sources.name(rule.loc.file));
        let (mut saw_true, mut saw_false) = (false, false);
        for t in &rule.tests {
            let record = yaml::to_json(&t.record);
            let (line, col) = program.sources.line_col(t.loc.file, t.loc.start);
            let file = program.sources.name(t.loc.file).to_string();
            let expected = match &t.expect {
                Expect::Count(n) => serde_json::Value::from(*n),
                Expect::Findings(list) => serde_json::Value::Array(
                    list.iter()
                        .cloned()
                        .map(serde_json::Value::Object)
                        .collect(),
                ),
            };
            let mut result = TestResult {
                rule: rule.id.clone(),
                name: t.name.clone(),
                record_key: key_of(program, &record, line),
                passed: false,
                ran: false,
                problem: String::new(),
                expected,
                actual: Vec::new(),
                location: format!("{file}:{line}:{col}"),
                rule_location: rule_location.clone(),
                file,
                line,
            };
            match run_one(program, rule, ri, &record, t.as_of) {
                Err(problem) => result.problem = problem,
                Ok(outcome) => {
                    result.ran = true;
                    saw_true |= outcome.when_true;
                    saw_false |= outcome.when_false;
                    let findings = &outcome.findings;
                    result.actual = findings.iter().map(|f| test_view(f, t.as_of)).collect();
                    result.problem = match &t.expect {
                        Expect::Count(n) if findings.len() == *n => String::new(),
                        Expect::Count(n) => {
                            format!("expected {}, got {}", plural(*n, "finding"), findings.len())
                        }
                        Expect::Findings(list) if list.len() != findings.len() => format!(
                            "expected {}, got {}",
                            plural(list.len(), "finding"),
                            findings.len()
                        ),
                        Expect::Findings(list) => compare(list, &result.actual),
                    };
                    result.passed = result.problem.is_empty();
                    if !result.passed && !rule.in_window(t.as_of) {
                        result.problem.push_str(&format!(
                            " (the rule is not in effect at the test's as_of {})",
                            t.as_of
                        ));
                    }
                }
            }
            report.results.push(result);
        }
        let side = match (saw_true, saw_false) {
            (true, true) => None,
            (true, false) => Some(OneSided::NeverFalse),
            (false, true) => Some(OneSided::NeverTrue),
            (false, false) => Some(OneSided::Neither),
        };
        if let Some(side) = side {
            report.one_sided.push((rule.id.clone(), side));
        }
    }
    report
}

/// The first difference between expected partial findings and actual findings, or "".
fn compare(
    want: &[serde_json::Map<String, serde_json::Value>],
    got: &[serde_json::Map<String, serde_json::Value>],
) -> String {
    for (i, (w, g)) in want.iter().zip(got.iter()).enumerate() {
        for (k, v) in w {
            let actual = g.get(k).cloned().unwrap_or(serde_json::Value::Null);
            if !json_eq(v, &actual) {
                return format!("finding {i}: `{k}` expected {v}, got {actual}");
            }
        }
    }
    String::new()
}

/// The record's key, or (without a key field) the test's line, as in a scan.
fn key_of(program: &Program, record: &serde_json::Value, line: usize) -> String {
    match record_from_value(record, &program.schema) {
        Ok((slots, _)) => crate::scan::record_key(program, &slots, line),
        Err(_) => "?".into(),
    }
}

/// `file:line:col` of a location.
pub fn location(sources: &Sources, loc: crate::source::Loc) -> String {
    let (line, col) = sources.line_col(loc.file, loc.start);
    format!("{}:{line}:{col}", sources.name(loc.file))
}
