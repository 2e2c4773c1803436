//! `beian explain`: evaluates one rule on one record and shows why it fired or not.
//!
//! The checker traces every lowered sub-expression of the rule ([`crate::check::trace_rule`]):
//! its clause, its span in the clause's text, its IR and its type. Each clause's nodes are
//! nested into a tree by span containment and evaluated on the record, once per `for_each`
//! element, after the `let` values are computed in order, exactly as a scan would. A
//! sub-expression inside a macro body (`L.exists(x, p)`) depends on the macro variable and has
//! no single value: it is marked "per element".

use std::collections::HashSet;
use std::fmt::Write as _;
use std::io::Read;

use chrono::NaiveDate;

use crate::check::{trace_rule, TraceNode};
use crate::cli::explain::Args;
use crate::diag::Diagnostic;
use crate::eval::{eval, Env, Finding};
use crate::input::convert::{record_from_value, FieldError};
use crate::load::{self, PackFile};
use crate::program::{Ir, Program, Rule};
use crate::source::Sources;
use crate::types::Type;
use crate::value::Value;

/// Longest value shown in text output, in characters; JSON output is never shortened.
const TEXT_VALUE_LIMIT: usize = 160;

/// How one sub-expression's value is shown.
#[derive(Debug, Clone, PartialEq)]
pub enum Shown {
    /// Its value.
    Value(Value),
    /// A whole table (`tables.NAME`): too large to be useful; its name and size.
    Table { name: String, entries: usize },
    /// Depends on a macro variable: one value per element of the macro's list.
    PerElement,
}

/// One sub-expression with its value, and the sub-expressions inside it.
#[derive(Debug, Clone)]
pub struct TreeNode {
    pub text: String,
    pub span: (usize, usize),
    pub ty: Type,
    pub shown: Shown,
    /// A literal (`"x"`, `3`, `true`): hidden in text output.
    pub literal: bool,
    pub children: Vec<TreeNode>,
}

/// One clause (a `let`, `applies_if`, `when`, the message holes, `deadline`) on one element.
#[derive(Debug, Clone)]
pub struct Clause {
    /// `let NAME`, `applies_if`, `when`, `message`, `deadline`, `for_each`.
    pub name: String,
    /// The clause's text as written.
    pub text: String,
    /// The clause's value (none for a message, which has one tree per hole).
    pub value: Option<Value>,
    pub ty: Option<Type>,
    pub trees: Vec<TreeNode>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Finding,
    Pass,
    Undetermined,
    NotApplicable,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Finding => "finding",
            Verdict::Pass => "pass",
            Verdict::Undetermined => "undetermined",
            Verdict::NotApplicable => "not_applicable",
        }
    }

    /// For people, with the Chinese term analysts use.
    fn label(self) -> &'static str {
        match self {
            Verdict::Finding => "finding (发现问题)",
            Verdict::Pass => "pass (通过)",
            Verdict::Undetermined => "undetermined (无法判定)",
            Verdict::NotApplicable => "not applicable (不适用)",
        }
    }
}

/// One evaluation: the whole record, or one `for_each` element.
#[derive(Debug, Clone)]
pub struct Evaluation {
    pub element: Option<usize>,
    /// The `for_each` variable's name and this element's value.
    pub variable: Option<(String, Value, Type)>,
    pub lets: Vec<Clause>,
    pub applies_if: Option<Clause>,
    pub when: Clause,
    /// Why `when` was not reached, when it was not.
    pub when_not_reached: bool,
    pub verdict: Verdict,
    pub finding: Option<Finding>,
    pub message: Option<Clause>,
    pub deadline: Option<Clause>,
}

/// The whole explanation of one rule on one record.
#[derive(Debug, Clone)]
pub struct Explanation {
    pub rule: String,
    pub title: String,
    pub severity: String,
    pub category: String,
    pub defined_at: String,
    pub as_of: NaiveDate,
    pub enabled: bool,
    pub effective_from: Option<NaiveDate>,
    pub effective_until: Option<NaiveDate>,
    pub in_window: bool,
    pub record_source: String,
    pub record_key: String,
    pub field_errors: Vec<FieldError>,
    pub for_each: Option<Clause>,
    /// The number of elements of the `for_each` list (none when it is null).
    pub elements: Option<usize>,
    pub evaluations: Vec<Evaluation>,
}

impl Explanation {
    fn count(&self, v: Verdict) -> usize {
        self.evaluations.iter().filter(|e| e.verdict == v).count()
    }

    /// Whether a scan at `as_of` would run the rule.
    pub fn runs(&self) -> bool {
        self.enabled && self.in_window
    }

    /// One line: what a scan at `as_of` reports for this record.
    pub fn summary(&self) -> String {
        let findings = self.count(Verdict::Finding);
        let mut parts = Vec::new();
        for (v, n) in [
            (Verdict::Finding, findings),
            (Verdict::Pass, self.count(Verdict::Pass)),
            (Verdict::Undetermined, self.count(Verdict::Undetermined)),
            (Verdict::NotApplicable, self.count(Verdict::NotApplicable)),
        ] {
            if n > 0 {
                let word = match (v, n) {
                    (Verdict::Finding, 1) => "1 finding".to_string(),
                    (Verdict::Finding, n) => format!("{n} findings"),
                    (Verdict::NotApplicable, n) => format!("{n} not applicable"),
                    (v, n) => format!("{n} {}", v.as_str()),
                };
                parts.push(word);
            }
        }
        let mut s = if self.evaluations.is_empty() {
            match self.elements {
                None => "no evaluation: the `for_each` list is null; no finding".to_string(),
                Some(_) => "no evaluation: the `for_each` list is empty; no finding".to_string(),
            }
        } else if self.for_each.is_none() {
            // one evaluation
            self.evaluations
                .first()
                .map(|e| e.verdict.label().to_string())
                .unwrap_or_default()
        } else {
            let n = self.evaluations.len();
            format!(
                "{} over {n} element{}",
                parts.join(", "),
                if n == 1 { "" } else { "s" }
            )
        };
        if !self.enabled {
            s.push_str("; but the rule is disabled (`enabled: false`): a scan skips it");
        } else if !self.in_window {
            let _ = write!(
                s,
                "; but the rule is not in effect at {} ({}): a scan skips it",
                self.as_of,
                window_text(self.effective_from, self.effective_until)
            );
        }
        s
    }
}

fn window_text(from: Option<NaiveDate>, until: Option<NaiveDate>) -> String {
    match (from, until) {
        (Some(f), Some(u)) => format!("effective from {f} until {u}"),
        (Some(f), None) => format!("effective from {f}"),
        (None, Some(u)) => format!("effective until {u}"),
        (None, None) => "always effective".to_string(),
    }
}

// ---- building ----

/// Whether an expression text is a literal (a string, a number, `true`, `false`, `null`).
fn is_literal(text: &str) -> bool {
    let t = text.trim();
    if t.starts_with('"') || t.starts_with('\'') || t.starts_with("r\"") || t.starts_with("r'") {
        return true;
    }
    if matches!(t, "true" | "false" | "null") {
        return true;
    }
    let digits = t.strip_prefix('-').unwrap_or(t);
    digits.chars().next().is_some_and(|c| c.is_ascii_digit())
        && digits
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | '_' | 'e' | 'E' | '+' | '-'))
}

/// `tables.NAME` exactly, when the node reads a whole table.
fn whole_table(text: &str, ir: &Ir) -> Option<(String, usize)> {
    let name = text.trim().strip_prefix("tables.")?;
    if name.is_empty() || !name.chars().all(|c| c == '_' || c.is_alphanumeric()) {
        return None;
    }
    let entries = match ir {
        Ir::Const(Value::Map(m)) => m.len(),
        Ir::Const(Value::List(l)) => l.len(),
        _ => return None,
    };
    Some((name.to_string(), entries))
}

struct Ctx<'p, 'r> {
    rule: &'p Rule,
    nodes: &'p [TraceNode],
    /// The rule's own slots (`for_each` variable and `let` values); any other is a macro's.
    rule_slots: HashSet<usize>,
    env: Env<'r, 'r>,
}

impl Ctx<'_, '_> {
    fn per_element(&self, ir: &Ir) -> bool {
        let mut free = HashSet::new();
        ir.free_locals(&mut free);
        free.iter().any(|s| !self.rule_slots.contains(s))
    }

    /// The trees of one clause, evaluated in the current environment.
    fn trees(&mut self, clause: &str) -> Vec<TreeNode> {
        let idx: Vec<usize> = self
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.clause == clause)
            .map(|(i, _)| i)
            .collect();
        // outer nodes first: by start, then the longer span, then the later recorded (the
        // checker records a node after its children)
        let mut order = idx;
        order.sort_by(|&a, &b| {
            let (na, nb) = (self.nodes.get(a), self.nodes.get(b));
            let key =
                |n: Option<&TraceNode>| n.map(|n| (n.span.start, std::cmp::Reverse(n.span.end)));
            key(na).cmp(&key(nb)).then(b.cmp(&a))
        });
        let mut roots: Vec<TreeNode> = Vec::new();
        // stack of (end of span, path of child indices from the roots)
        let mut stack: Vec<(usize, usize)> = Vec::new();
        let mut built: Vec<(Option<usize>, TreeNode)> = Vec::new();
        for i in order {
            let Some(n) = self.nodes.get(i) else {
                continue;
            };
            while let Some(&(end, _)) = stack.last() {
                if n.span.end <= end {
                    break;
                }
                stack.pop();
            }
            let parent = stack.last().map(|&(_, b)| b);
            // a node with its parent's very span adds nothing
            if let Some(p) = parent.and_then(|p| built.get(p)) {
                if p.1.span == (n.span.start, n.span.end) {
                    continue;
                }
            }
            let shown = if let Some((name, entries)) = whole_table(&n.text, &n.ir) {
                Shown::Table { name, entries }
            } else if self.per_element(&n.ir) {
                Shown::PerElement
            } else {
                Shown::Value(eval(&n.ir, &mut self.env))
            };
            built.push((
                parent,
                TreeNode {
                    text: n.text.clone(),
                    span: (n.span.start, n.span.end),
                    ty: n.ty.clone(),
                    shown,
                    literal: is_literal(&n.text),
                    children: Vec::new(),
                },
            ));
            stack.push((n.span.end, built.len() - 1));
        }
        // attach children to parents, last first so that indices stay valid
        let mut slots: Vec<Option<TreeNode>> = Vec::with_capacity(built.len());
        let mut parents = Vec::with_capacity(built.len());
        for (p, node) in built {
            parents.push(p);
            slots.push(Some(node));
        }
        for i in (0..slots.len()).rev() {
            let node = slots.get_mut(i).and_then(Option::take);
            let Some(node) = node else { continue };
            match parents.get(i).copied().flatten() {
                Some(p) => {
                    if let Some(Some(parent)) = slots.get_mut(p) {
                        parent.children.insert(0, node);
                    }
                }
                None => roots.insert(0, node),
            }
        }
        roots
    }

    fn clause(&mut self, name: &str, text: &str, ir: Option<&Ir>) -> Clause {
        let trees = self.trees(name);
        let (value, ty) = match ir {
            Some(ir) => {
                let v = eval(ir, &mut self.env);
                // the clause's root is recorded last (after its sub-expressions)
                let ty = self
                    .nodes
                    .iter()
                    .rev()
                    .find(|n| n.clause == name)
                    .map(|n| n.ty.clone());
                (Some(v), ty)
            }
            None => (None, None),
        };
        Clause {
            name: name.to_string(),
            text: text.to_string(),
            value,
            ty,
            trees,
        }
    }
}

/// Evaluates `rule` (index `ri` of `program`) on a record, clause by clause.
#[allow(clippy::too_many_arguments)]
pub fn explain(
    program: &Program,
    ri: usize,
    nodes: &[TraceNode],
    record: &[Value],
    field_errors: Vec<FieldError>,
    record_source: &str,
    as_of: NaiveDate,
) -> Option<Explanation> {
    let rule = program.rules.get(ri)?;
    let mut rule_slots: HashSet<usize> = rule.lets.iter().map(|(s, _)| *s).collect();
    if let Some((s, _)) = &rule.for_each {
        rule_slots.insert(*s);
    }
    // the authoritative findings, exactly as a scan computes them
    let findings = crate::eval::evaluate(program, &[ri], record, as_of).findings;
    let mut env = Env::new(program, record, as_of);
    env.locals.resize(rule.locals, Value::Null);
    let mut cx = Ctx {
        rule,
        nodes,
        rule_slots,
        env,
    };
    let (line, _) = program.sources.line_col(rule.loc.file, rule.loc.start);
    let mut ex = Explanation {
        rule: rule.id.clone(),
        title: rule.title.clone(),
        severity: rule.severity.as_str().to_string(),
        category: rule.category.clone(),
        defined_at: format!("{}:{line}", program.sources.name(rule.loc.file)),
        as_of,
        enabled: rule.enabled,
        effective_from: rule.effective_from,
        effective_until: rule.effective_until,
        in_window: rule.in_window(as_of),
        record_source: record_source.to_string(),
        record_key: crate::scan::record_key(program, record, 1),
        field_errors,
        for_each: None,
        elements: None,
        evaluations: Vec::new(),
    };
    match &rule.for_each {
        None => {
            let e = cx.element(None, None, &findings);
            ex.evaluations.push(e);
        }
        Some((slot, list_ir)) => {
            let fe_text = rule.text.for_each.clone().unwrap_or_default();
            let clause = cx.clause("for_each", &fe_text, Some(list_ir));
            let items: Vec<Value> = match &clause.value {
                Some(Value::List(items)) => items.to_vec(),
                _ => Vec::new(),
            };
            ex.elements = match &clause.value {
                Some(Value::List(items)) => Some(items.len()),
                _ => None,
            };
            let var = fe_text
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string();
            let elem_ty = match clause.ty.clone() {
                Some(Type::List(t)) => *t,
                _ => Type::Null,
            };
            ex.for_each = Some(clause);
            for (i, item) in items.into_iter().enumerate() {
                let e = cx.element(
                    Some((i, *slot)),
                    Some((var.clone(), item, elem_ty.clone())),
                    &findings,
                );
                ex.evaluations.push(e);
            }
        }
    }
    Some(ex)
}

impl Ctx<'_, '_> {
    fn element(
        &mut self,
        at: Option<(usize, usize)>,
        variable: Option<(String, Value, Type)>,
        findings: &[Finding],
    ) -> Evaluation {
        let rule = self.rule;
        for v in self.env.locals.iter_mut() {
            *v = Value::Null;
        }
        // shared lets (`Ir::Shared`) keep a value per element: say which one this is
        self.env.element = at.map_or(0, |(i, _)| i);
        if let (Some((_, slot)), Some((_, value, _))) = (at, &variable) {
            if let Some(s) = self.env.locals.get_mut(slot) {
                *s = value.clone();
            }
        }
        for (slot, ir) in &rule.lets {
            let v = eval(ir, &mut self.env);
            if let Some(s) = self.env.locals.get_mut(*slot) {
                *s = v;
            }
        }
        let mut lets = Vec::new();
        for ((name, text), (_, ir)) in rule.text.lets.iter().zip(rule.lets.iter()) {
            lets.push(self.clause(&format!("let {name}"), text, Some(ir)));
        }
        let applies_if = rule.applies_if.as_ref().map(|ir| {
            let text = rule.text.applies_if.clone().unwrap_or_default();
            self.clause("applies_if", &text, Some(ir))
        });
        let when = self.clause("when", &rule.text.when, Some(&rule.when));
        let gate = applies_if
            .as_ref()
            .map(|a| a.value.clone().unwrap_or_default());
        let (verdict, when_not_reached) = match gate {
            Some(Value::Bool(false)) => (Verdict::NotApplicable, true),
            Some(Value::Bool(true)) | None => match &when.value {
                Some(Value::Bool(true)) => (Verdict::Finding, false),
                Some(Value::Bool(false)) => (Verdict::Pass, false),
                _ => (Verdict::Undetermined, false),
            },
            Some(_) => (Verdict::Undetermined, true),
        };
        let element = at.map(|(i, _)| i);
        let finding = findings.iter().find(|f| f.element == element).cloned();
        let (message, deadline) = if verdict == Verdict::Finding {
            let m = self.clause("message", &rule.text.message, None);
            let d = rule.deadline.as_ref().map(|ir| {
                let text = rule.text.deadline.clone().unwrap_or_default();
                self.clause("deadline", &text, Some(ir))
            });
            (Some(m), d)
        } else {
            (None, None)
        };
        Evaluation {
            element,
            variable,
            lets,
            applies_if,
            when,
            when_not_reached,
            verdict,
            finding,
            message,
            deadline,
        }
    }
}

// ---- rendering ----

/// A short name of a type: objects are `object`, mapping tables `mapping`.
pub fn short_type(t: &Type) -> String {
    match t {
        Type::Object(_) => "object".into(),
        Type::Map(_) => "mapping".into(),
        Type::List(e) => format!("[{}]", short_type(e)),
        other => other.to_string(),
    }
}

/// A value for people: strings quoted (Chinese as it is), dates, durations, domains and ips
/// as in messages, lists and objects as compact JSON.
pub fn show_value(v: &Value, ty: &Type) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Str(s) => serde_json::Value::String(s.to_string()).to_string(),
        Value::List(_) | Value::Object(_) | Value::Map(_) => {
            let mut j = v.to_json(ty);
            drop_nulls(&mut j);
            j.to_string()
        }
        other => other.render(ty),
    }
}

/// Leaves out the null fields of objects: a record's objects are mostly null fields.
fn drop_nulls(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(m) => {
            m.retain(|_, x| !x.is_null());
            m.values_mut().for_each(drop_nulls);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

fn shorten(s: &str) -> String {
    if s.chars().count() <= TEXT_VALUE_LIMIT {
        return s.to_string();
    }
    let mut out: String = s.chars().take(TEXT_VALUE_LIMIT).collect();
    out.push('…');
    out
}

fn shown_text(shown: &Shown, ty: &Type) -> String {
    match shown {
        Shown::Value(v) => shorten(&show_value(v, ty)),
        Shown::Table { name, entries } => format!("<table {name}, {entries} entries>"),
        Shown::PerElement => "(per element)".into(),
    }
}

/// Whether a node is worth a line: not a literal, and not the object whose field its parent
/// reads (`d` under `d.name`), unless something inside it is shown.
fn visible(n: &TreeNode, parent: Option<&str>) -> bool {
    if n.literal {
        return false;
    }
    let base_of_parent = parent.is_some_and(|p| {
        p.trim()
            .strip_prefix(n.text.trim())
            .is_some_and(|rest| rest.starts_with('.'))
    });
    let object = matches!(n.ty, Type::Object(_));
    !(object && base_of_parent && n.children.iter().all(|c| !visible(c, Some(&n.text))))
}

fn render_tree(nodes: &[TreeNode], prefix: &str, out: &mut String) {
    render_children(nodes, None, prefix, out);
}

fn render_children(nodes: &[TreeNode], parent: Option<&str>, prefix: &str, out: &mut String) {
    let visible: Vec<&TreeNode> = nodes.iter().filter(|n| visible(n, parent)).collect();
    let count = visible.len();
    for (i, n) in visible.into_iter().enumerate() {
        let last = i + 1 == count;
        let (branch, more) = if last {
            ("└─ ", "   ")
        } else {
            ("├─ ", "│  ")
        };
        let _ = writeln!(
            out,
            "{prefix}{branch}{}  =  {}  : {}",
            one_line(&n.text),
            shown_text(&n.shown, &n.ty),
            short_type(&n.ty)
        );
        render_children(&n.children, Some(&n.text), &format!("{prefix}{more}"), out);
    }
}

/// An expression text on one line (folded block scalars keep their newlines).
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn render_clause(c: &Clause, indent: &str, out: &mut String) {
    match (&c.value, c.name.as_str()) {
        (_, "message") => {
            let _ = writeln!(out, "{indent}message: {}", one_line(&c.text));
        }
        (Some(v), name) => {
            let ty = c.ty.clone().unwrap_or(Type::Null);
            let _ = writeln!(out, "{indent}{name} = {}", shorten(&show_value(v, &ty)));
        }
        (None, name) => {
            let _ = writeln!(out, "{indent}{name}");
        }
    }
    render_tree(&c.trees, &format!("{indent}  "), out);
}

/// The explanation as text.
pub fn render_text(ex: &Explanation) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "rule {}  {}", ex.rule, ex.title);
    let _ = writeln!(
        s,
        "  severity {}, category {}, defined in {}",
        ex.severity, ex.category, ex.defined_at
    );
    let state = if !ex.enabled {
        "disabled (`enabled: false`): a scan skips it".to_string()
    } else if ex.in_window {
        "in effect".to_string()
    } else {
        "NOT in effect: a scan skips it".to_string()
    };
    let _ = writeln!(
        s,
        "  as_of {}; {}: {state}",
        ex.as_of,
        window_text(ex.effective_from, ex.effective_until)
    );
    let _ = writeln!(s, "record {} (key {})", ex.record_source, ex.record_key);
    for e in &ex.field_errors {
        let _ = writeln!(
            s,
            "  field error: `{}`: value {}: {} (read as null)",
            e.field,
            serde_json::Value::String(e.value.clone()),
            e.reason
        );
    }
    if let Some(fe) = &ex.for_each {
        s.push('\n');
        let n = match ex.elements {
            Some(1) => "1 element".to_string(),
            Some(n) => format!("{n} elements"),
            None => "null: no element".to_string(),
        };
        let _ = writeln!(s, "for_each {}: {n}", one_line(&fe.text));
        render_tree(&fe.trees, "  ", &mut s);
    }
    for ev in &ex.evaluations {
        s.push('\n');
        match (&ev.element, &ev.variable) {
            (Some(i), Some((name, v, ty))) => {
                let _ = writeln!(s, "element {i}: {name} = {}", shorten(&show_value(v, ty)));
            }
            _ => {
                let _ = writeln!(s, "evaluation");
            }
        }
        for l in &ev.lets {
            render_clause(l, "  ", &mut s);
        }
        if let Some(a) = &ev.applies_if {
            render_clause(a, "  ", &mut s);
        }
        if ev.when_not_reached {
            let _ = writeln!(
                s,
                "  when (not reached: `applies_if` is {})",
                ev.applies_if
                    .as_ref()
                    .and_then(|a| a.value.as_ref())
                    .map_or("null".to_string(), |v| v.render(&Type::Bool))
            );
            render_tree(&ev.when.trees, "    ", &mut s);
        } else {
            render_clause(&ev.when, "  ", &mut s);
        }
        if let Some(m) = &ev.message {
            render_clause(m, "  ", &mut s);
        }
        if let Some(d) = &ev.deadline {
            render_clause(d, "  ", &mut s);
        }
        let _ = write!(s, "  => {}", ev.verdict.label());
        if let Some(f) = &ev.finding {
            let _ = write!(s, ": {}", f.message);
            if let Some(d) = f.deadline {
                let left = (d - ex.as_of).num_days();
                let when = if left < 0 {
                    format!("overdue by {} days", -left)
                } else {
                    format!("{left} days left")
                };
                let _ = write!(s, " (deadline {d}, {when})");
            }
        }
        s.push('\n');
    }
    s.push('\n');
    let _ = writeln!(s, "verdict: {}", ex.summary());
    s
}

fn tree_json(nodes: &[TreeNode]) -> serde_json::Value {
    serde_json::Value::Array(
        nodes
            .iter()
            .map(|n| {
                let mut m = serde_json::Map::new();
                m.insert("text".into(), n.text.clone().into());
                m.insert("span".into(), serde_json::json!([n.span.0, n.span.1]));
                m.insert("type".into(), short_type(&n.ty).into());
                match &n.shown {
                    Shown::Value(v) => {
                        m.insert("value".into(), v.to_json(&n.ty));
                    }
                    Shown::Table { name, entries } => {
                        m.insert("value".into(), serde_json::Value::Null);
                        m.insert(
                            "table".into(),
                            serde_json::json!({"name": name, "entries": entries}),
                        );
                    }
                    Shown::PerElement => {
                        m.insert("value".into(), serde_json::Value::Null);
                        m.insert("per_element".into(), true.into());
                    }
                }
                m.insert("children".into(), tree_json(&n.children));
                serde_json::Value::Object(m)
            })
            .collect(),
    )
}

fn clause_json(c: &Clause) -> serde_json::Value {
    let ty = c.ty.clone().unwrap_or(Type::Null);
    let mut m = serde_json::Map::new();
    m.insert("text".into(), c.text.clone().into());
    if let Some(v) = &c.value {
        m.insert("value".into(), v.to_json(&ty));
        m.insert("type".into(), short_type(&ty).into());
    }
    m.insert("tree".into(), tree_json(&c.trees));
    serde_json::Value::Object(m)
}

/// The explanation as a JSON document.
pub fn render_json(ex: &Explanation) -> serde_json::Value {
    use serde_json::json;
    let date = |d: Option<NaiveDate>| d.map(|d| d.format("%Y-%m-%d").to_string());
    let evaluations: Vec<serde_json::Value> = ex
        .evaluations
        .iter()
        .map(|ev| {
            let lets: Vec<serde_json::Value> = ev
                .lets
                .iter()
                .map(|l| {
                    let mut v = clause_json(l);
                    if let Some(m) = v.as_object_mut() {
                        m.insert(
                            "name".into(),
                            l.name.trim_start_matches("let ").to_string().into(),
                        );
                    }
                    v
                })
                .collect();
            let finding = ev.finding.as_ref().map(|f| {
                let left = f.days_left(ex.as_of);
                json!({
                    "message": f.message,
                    "deadline": date(f.deadline),
                    "days_left": left,
                    "overdue": left.map(|d| d < 0),
                })
            });
            let mut when = clause_json(&ev.when);
            if let Some(m) = when.as_object_mut() {
                m.insert("reached".into(), (!ev.when_not_reached).into());
            }
            json!({
                "element": ev.element,
                "variable": ev.variable.as_ref().map(|(n, v, t)| json!({"name": n, "value": v.to_json(t), "type": short_type(t)})),
                "lets": lets,
                "applies_if": ev.applies_if.as_ref().map(clause_json),
                "when": when,
                "message": ev.message.as_ref().map(clause_json),
                "deadline": ev.deadline.as_ref().map(clause_json),
                "verdict": ev.verdict.as_str(),
                "finding": finding,
            })
        })
        .collect();
    let findings = ex.count(Verdict::Finding);
    json!({
        "rule": ex.rule,
        "title": ex.title,
        "severity": ex.severity,
        "category": ex.category,
        "defined_at": ex.defined_at,
        "as_of": ex.as_of.format("%Y-%m-%d").to_string(),
        "enabled": ex.enabled,
        "effective": {"from": date(ex.effective_from), "until": date(ex.effective_until)},
        "in_effect": ex.in_window,
        "record": {"source": ex.record_source, "key": ex.record_key},
        "field_errors": ex.field_errors.iter().map(|e| json!({"field": e.field, "value": e.value, "reason": e.reason})).collect::<Vec<_>>(),
        "for_each": ex.for_each.as_ref().map(|c| {
            let mut v = clause_json(c);
            if let Some(m) = v.as_object_mut() {
                m.insert("elements".into(), ex.elements.into());
            }
            v
        }),
        "evaluations": evaluations,
        "verdict": {
            "findings": findings,
            "pass": ex.count(Verdict::Pass),
            "undetermined": ex.count(Verdict::Undetermined),
            "not_applicable": ex.count(Verdict::NotApplicable),
            "scan_runs_rule": ex.runs(),
            "summary": ex.summary(),
        },
    })
}

// ---- command line ----

fn print_diags(diags: &[Diagnostic], sources: &Sources) {
    crate::cli::print_diagnostics(diags, sources);
    crate::cli::err(&format!(
        "error: the pack has {}; nothing was run",
        crate::diag::summary_line(diags)
    ));
}

fn pack_files(args: &Args) -> Result<Vec<PackFile>, Diagnostic> {
    match &args.rules {
        Some(p) => load::read_path(p),
        None => Ok(crate::pack::embedded_files()),
    }
}

/// Reads the record: its source name as shown and the JSON value.
fn read_record(arg: Option<&str>) -> Result<(String, serde_json::Value), String> {
    let (name, text) = match arg {
        None | Some("-") => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| format!("cannot read the record from standard input: {e}"))?;
            ("-".to_string(), text)
        }
        Some(path) => {
            let bytes = std::fs::read(path).map_err(|e| crate::load::io_error(path, &e).message)?;
            let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
            let text = String::from_utf8(bytes.to_vec())
                .map_err(|_| format!("the record file `{path}` is not valid utf-8"))?;
            (path.to_string(), text)
        }
    };
    let shown = if name == "-" {
        "standard input".to_string()
    } else {
        format!("`{name}`")
    };
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| format!("the record in {shown} is not valid JSON: {e}"))?;
    if !value.is_object() {
        return Err(format!(
            "the record in {shown} must be a JSON object, not {}",
            match value {
                serde_json::Value::Array(_) => "an array",
                serde_json::Value::String(_) => "a string",
                serde_json::Value::Number(_) => "a number",
                serde_json::Value::Bool(_) => "a boolean",
                _ => "null",
            }
        ));
    }
    Ok((name, value))
}

pub fn cli_run(args: Args) -> i32 {
    let files = match pack_files(&args) {
        Ok(f) => f,
        Err(d) => {
            print_diags(&[d], &Sources::new());
            return 2;
        }
    };
    let mut sources = Sources::new();
    let (def, diags) = load::load(files, &mut sources);
    let mut errors: Vec<Diagnostic> = diags.into_iter().filter(Diagnostic::is_error).collect();
    if errors.is_empty() {
        let (_, check_diags) = crate::check::check(def.clone(), sources.clone());
        errors.extend(check_diags.into_iter().filter(Diagnostic::is_error));
    }
    if !errors.is_empty() {
        print_diags(&errors, &sources);
        return 2;
    }
    if !def.rules.iter().any(|r| r.id == args.rule) {
        let hint = crate::load::did_you_mean(&args.rule, def.rules.iter().map(|r| r.id.as_str()));
        crate::cli::err(&format!(
            "error: no rule `{}` in the pack{}",
            args.rule,
            hint.map(|h| format!("; {h}")).unwrap_or_default()
        ));
        return 2;
    }
    let (source, json) = match read_record(args.record.as_deref()) {
        Ok(r) => r,
        Err(e) => {
            crate::cli::err(&format!("error: {e}"));
            return 2;
        }
    };
    let Some(trace) = trace_rule(def, sources, &args.rule) else {
        crate::cli::err(&format!("error: rule `{}` could not be traced", args.rule));
        return 2;
    };
    let program = &trace.program;
    let (slots, field_errors) = match record_from_value(&json, &program.schema) {
        Ok(r) => r,
        Err(e) => {
            crate::cli::err(&format!(
                "error: the record in `{source}` cannot be read: {e}"
            ));
            return 2;
        }
    };
    let as_of = args.as_of.unwrap_or_else(crate::cli::today_cst);
    let Some(ex) = explain(
        program,
        trace.rule_index,
        &trace.nodes,
        &slots,
        field_errors,
        &source,
        as_of,
    ) else {
        crate::cli::err(&format!(
            "error: rule `{}` could not be evaluated",
            args.rule
        ));
        return 2;
    };
    if args.format == "json" {
        crate::cli::out(&format!(
            "{}\n",
            serde_json::to_string_pretty(&render_json(&ex)).unwrap_or_default()
        ));
    } else {
        crate::cli::out(&render_text(&ex));
    }
    0
}
