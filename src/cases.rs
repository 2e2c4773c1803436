//! The expression language specified by data: case files of (expression, record, expected
//! value or expected error with its position). One runner serves `cargo test` and
//! `beian test --cases` alike.
//!
//! ```yaml
//! about: what these cases check
//! schema: {fields: {n: int, d: date}}     # optional, as in a pack
//! tables: {t: [a, b]}                     # optional, as in a pack
//! cases:
//!   - expr: "n + 1"
//!     record: {n: 41}                     # optional
//!     as_of: 2026-01-01                   # optional (default 2026-01-01)
//!     value: 42                           # the expected value (dates, durations, domains as text)
//!     type: int                           # optional: the expected static type
//!   - expr: "n > 'x'"
//!     error: {code: E105, column: 1}      # an expected pack error and where (in the expression)
//! ```

use std::path::Path;

use crate::check::check_expression;
use crate::diag::Diagnostic;
use crate::eval::{eval, Env};
use crate::funcs::dates::parse_iso_date;
use crate::input::convert::record_from_value;
use crate::load::{default_test_date, load_node};
use crate::source::{Loc, Sources};
use crate::yaml::{self, Node, NodeKind, Style};

#[derive(Debug, Clone)]
pub struct CaseResult {
    pub file: String,
    pub line: usize,
    pub name: String,
    pub passed: bool,
    pub problem: String,
}

const CASE_KEYS: &[&str] = &[
    "name",
    "expr",
    "record",
    "as_of",
    "value",
    "type",
    "error",
    "field_errors",
];

fn get<'n>(node: &'n Node, key: &str) -> Option<&'n Node> {
    node.as_map()?
        .iter()
        .find(|(k, _)| k.text() == Some(key))
        .map(|(_, v)| v)
}

fn json_eq(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value as J;
    match (a, b) {
        (J::Number(x), J::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(p), Some(q)) => p == q || (p - q).abs() <= 1e-12 * p.abs().max(q.abs()),
            _ => x == y,
        },
        (J::Array(x), J::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_eq(p, q))
        }
        (J::Object(x), J::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

/// Runs every case of one file. A file that cannot be read or is malformed is an `Err`.
pub fn run_file(path: &Path) -> Result<Vec<CaseResult>, (Vec<Diagnostic>, Sources)> {
    let shown = path.display().to_string();
    let mut sources = Sources::new();
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => return Err((vec![crate::load::io_error(&shown, &e)], sources)),
    };
    let file = sources.add(shown.clone(), text);
    let root = match yaml::parse(&sources, file) {
        Ok(Some(n)) => n,
        Ok(None) => return Ok(Vec::new()),
        Err(d) => return Err((vec![d], sources)),
    };
    // the pack part: schema and tables
    let mut pack_pairs = Vec::new();
    let mut cases = None;
    for (k, v) in root.as_map().unwrap_or_default() {
        match k.text() {
            Some("schema" | "tables") => pack_pairs.push((k.clone(), v.clone())),
            Some("cases") => cases = v.as_seq(),
            _ => {}
        }
    }
    let pack_node = Node {
        kind: NodeKind::Map(pack_pairs),
        loc: root.loc,
    };
    let (pack, diags) = load_node(&pack_node, &mut sources);
    if diags.iter().any(Diagnostic::is_error) {
        return Err((diags, sources));
    }
    let mut results = Vec::new();
    for case in cases.unwrap_or_default() {
        let (line, _) = sources.line_col(case.loc.file, case.loc.start);
        let expr_text = get(case, "expr")
            .and_then(Node::text)
            .unwrap_or("")
            .to_string();
        let name = get(case, "name")
            .and_then(Node::text)
            .map_or_else(|| expr_text.clone(), str::to_string);
        let mut result = CaseResult {
            file: shown.clone(),
            line,
            name,
            passed: false,
            problem: String::new(),
        };
        if let Some(bad) = case
            .as_map()
            .unwrap_or_default()
            .iter()
            .find_map(|(k, _)| k.text().filter(|t| !CASE_KEYS.contains(t)))
        {
            result.problem = format!("unknown key `{bad}` in the case");
            results.push(result);
            continue;
        }
        result.problem = run_case(&pack, &sources, case, &expr_text)
            .err()
            .unwrap_or_default();
        result.passed = result.problem.is_empty();
        results.push(result);
    }
    Ok(results)
}

fn run_case(
    pack: &crate::load::PackDef,
    sources: &Sources,
    case: &Node,
    expr_text: &str,
) -> Result<(), String> {
    // the expression gets a source file of its own, so positions are relative to it
    let mut srcs = sources.clone();
    let file = srcs.add("<expr>", expr_text);
    let node = Node {
        kind: NodeKind::Scalar {
            value: expr_text.to_string(),
            style: Style::Plain,
        },
        loc: Loc::new(file, 0, expr_text.len()),
    };
    let compiled = check_expression(pack, &srcs, &node);
    let want_error = get(case, "error");
    let compiled = match (compiled, want_error) {
        (Err(diags), Some(want)) => {
            let code = get(want, "code").and_then(Node::text);
            let column = get(want, "column")
                .and_then(Node::text)
                .and_then(|c| c.parse::<usize>().ok());
            let line = get(want, "line")
                .and_then(Node::text)
                .and_then(|c| c.parse::<usize>().ok());
            let message = get(want, "message").and_then(Node::text);
            let found = diags.iter().any(|d| {
                let (l, c) = d
                    .loc
                    .map_or((0, 0), |loc| srcs.line_col(loc.file, loc.start));
                code.is_none_or(|x| d.code.as_str() == x)
                    && column.is_none_or(|x| c == x)
                    && line.is_none_or(|x| l == x)
                    && message.is_none_or(|m| d.message.contains(m))
            });
            if found {
                return Ok(());
            }
            let got: Vec<String> = diags
                .iter()
                .map(|d| {
                    let (l, c) = d
                        .loc
                        .map_or((0, 0), |loc| srcs.line_col(loc.file, loc.start));
                    format!("{}@{l}:{c} {}", d.code.as_str(), d.message)
                })
                .collect();
            return Err(format!(
                "expected error {:?} at column {:?}, got: {}",
                code,
                column,
                got.join("; ")
            ));
        }
        (Err(diags), None) => {
            let got: Vec<String> = diags
                .iter()
                .map(|d| format!("{} {}", d.code.as_str(), d.message))
                .collect();
            return Err(format!("unexpected pack error: {}", got.join("; ")));
        }
        (Ok(_), Some(_)) => return Err("expected a pack error, but the expression checked".into()),
        (Ok(c), None) => c,
    };
    if let Some(t) = get(case, "type").and_then(Node::text) {
        let got = compiled.ty.to_string();
        if got != t {
            return Err(format!("expected type `{t}`, got `{got}`"));
        }
    }
    let as_of = match get(case, "as_of") {
        Some(n) => parse_iso_date(n.text().unwrap_or("")).ok_or("`as_of` is not a date")?,
        None => default_test_date(),
    };
    let record_json = get(case, "record").map_or(serde_json::json!({}), yaml::to_json);
    let (slots, errors) = record_from_value(&record_json, &compiled.program.schema)?;
    let want_field_errors = get(case, "field_errors")
        .and_then(Node::text)
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(0);
    if errors.len() != want_field_errors {
        let got: Vec<String> = errors
            .iter()
            .map(|e| format!("{}: {}", e.field, e.reason))
            .collect();
        return Err(format!(
            "expected {want_field_errors} field errors, got {}: {}",
            errors.len(),
            got.join("; ")
        ));
    }
    let mut env = Env {
        record: &slots,
        locals: vec![crate::value::Value::Null; compiled.locals],
        as_of,
        calendar: &compiled.program.calendar,
        pending: Vec::new(),
        captures: Vec::new(),
        shared: Vec::new(),
        element: 0,
    };
    let value = eval(&compiled.ir, &mut env);
    let got = value.to_json(&compiled.ty);
    // the scan's compiled evaluator must agree with the reference, value for value
    let compiled_value = crate::exec::eval_expr(
        &crate::exec::compile_expr(&compiled.ir),
        &slots,
        as_of,
        &compiled.program.calendar,
    )
    .to_json(&compiled.ty);
    if compiled_value != got {
        return Err(format!(
            "the compiled evaluator gives {compiled_value}, the reference evaluator {got}"
        ));
    }
    match get(case, "value") {
        None => Err(format!(
            "the case gives neither `value` nor `error` (the value is {got})"
        )),
        Some(want) => {
            let want = yaml::to_json(want);
            if json_eq(&want, &got) {
                Ok(())
            } else {
                Err(format!("expected {want}, got {got}"))
            }
        }
    }
}

/// Runs case files: each path a file or a directory of `*.yaml` files (sorted).
pub fn run_paths(
    paths: &[std::path::PathBuf],
) -> Result<Vec<CaseResult>, (Vec<Diagnostic>, Sources)> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut entries: Vec<_> = std::fs::read_dir(p)
                .map_err(|e| {
                    (
                        vec![crate::load::io_error(&p.display().to_string(), &e)],
                        Sources::new(),
                    )
                })?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
                .collect();
            entries.sort();
            files.extend(entries);
        } else {
            files.push(p.clone());
        }
    }
    let mut out = Vec::new();
    for f in files {
        out.extend(run_file(&f)?);
    }
    Ok(out)
}
