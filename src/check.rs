//! Stages 2–4, parse, check and compile: parses every expression of a loaded pack, resolves
//! names (SPEC §2.1 order: macro variables, `for_each` variable, `let` names, `as_of`, `tables`,
//! record fields), checks types (§2.2) and lowers to the [`Ir`] of a [`Program`], folding
//! constants and building regexes, CIDR and domain sets on the way. All diagnostics are
//! collected; a pack with any error yields no program.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use regex::RegexBuilder;

use crate::ast::{BinaryOp, Expr, ExprKind, Ident, ParseError, Span, TemplatePart, UnaryOp};
use crate::compile::fold;
use crate::diag::{Code, Diagnostic};
use crate::funcs::dates::{parse_iso_date, Calendar};
use crate::funcs::domain::normalize_domain_str;
use crate::funcs::net::CidrSet;
use crate::load::{closest, did_you_mean, PackDef, RuleDef, TableDef};
use crate::parser;
use crate::program::{Arith, Builtin, Cmp, Ir, MacroKind, MsgPart, Program, Rule, RuleText, Usage};
use crate::source::{Loc, Sources};
use crate::types::{ObjectType, Type};
use crate::value::Value;
use crate::yaml::{Node, NodeKind, Scalar};

/// Every function name, for hints.
pub const FUNCTIONS: &[&str] = &[
    "len",
    "lower",
    "upper",
    "trim",
    "contains",
    "starts_with",
    "ends_with",
    "matches",
    "capture",
    "replace",
    "split",
    "substr",
    "string",
    "first",
    "last",
    "min",
    "max",
    "sum",
    "distinct",
    "join",
    "int",
    "float",
    "abs",
    "date",
    "days",
    "weeks",
    "add_months",
    "add_years",
    "days_between",
    "year",
    "month",
    "day",
    "weekday",
    "add_workdays",
    "is_workday",
    "date_of",
    "is_null",
    "coalesce",
    "domain",
    "ascii",
    "unicode",
    "tld",
    "suffix",
    "registrable",
    "labels",
    "is_idn",
    "ip",
    "in_cidr",
    "is_private",
    "is_ipv6",
    "valid_cn_id",
    "valid_uscc",
    "valid_cn_mobile",
    "icp_province",
    "icp_site",
    "exists",
    "all",
    "none",
    "count",
    "filter",
    "map",
];

/// Regexes are compiled with these limits, so a pack cannot make a huge automaton.
const REGEX_SIZE_LIMIT: usize = 1 << 20;
const REGEX_DFA_LIMIT: usize = 1 << 22;

/// Checks and compiles a loaded pack. Returns the program (when there is no error) and every
/// diagnostic, warnings included.
pub fn check(pack: PackDef, sources: Sources) -> (Option<Program>, Vec<Diagnostic>) {
    let schema = Arc::new(pack.schema.clone());
    let mut c = Checker::new(&sources, schema.clone());
    c.load_tables(&pack);
    let key = pack.key.as_ref().and_then(|(path, loc)| c.key(path, *loc));
    let mut rules = Vec::new();
    for r in &pack.rules {
        if let Some(mut rule) = c.rule(r) {
            crate::compile::optimize_rule(&mut rule);
            rules.push(rule);
        }
    }
    for name in &c.table_order {
        if name != "calendar" && !c.used_tables.contains(name) {
            if let Some((_, _, loc)) = c.tables.get(name) {
                c.diags.push(
                    Diagnostic::error(
                        Code::UnusedTable,
                        format!("table `{name}` is not used by any rule"),
                    )
                    .at(*loc)
                    .label("defined here")
                    .help("remove it, or read it as `tables.NAME` in a rule"),
                );
            }
        }
    }
    let Checker {
        diags,
        calendar,
        usage,
        ..
    } = c;
    let mut diags = diags;
    diags.sort_by_key(|d| (d.loc.map(|l| (l.file, l.start)), d.code));
    if diags.iter().any(Diagnostic::is_error) {
        return (None, diags);
    }
    let mut rules = rules;
    let shared = crate::compile::share_lets(&mut rules);
    let exec = Arc::new(crate::exec::compile(&rules, shared));
    let program = Program {
        meta: pack.meta,
        schema,
        key,
        rules,
        calendar,
        sources,
        usage: Arc::new(usage),
        shared,
        exec,
    };
    (Some(program), diags)
}

struct Var {
    name: String,
    slot: usize,
    ty: Type,
    used: usize,
}

#[derive(Default)]
struct Scope {
    vars: Vec<Var>,
    slots: usize,
}

impl Scope {
    fn push(&mut self, name: &str, ty: Type) -> usize {
        let slot = self.slots;
        self.slots += 1;
        self.vars.push(Var {
            name: name.to_string(),
            slot,
            ty,
            used: 0,
        });
        slot
    }
}

type Typed = (Ir, Type);

struct Checker<'a> {
    /// The record fields the rules read (see `program::Usage`).
    usage: Usage,
    /// Set just before lowering an expression whose value is only read by field (the base of
    /// `.field`, a `for_each` or macro list): such a value is not used whole.
    for_fields: bool,
    /// When set, every lowered sub-expression is recorded (for `explain`).
    trace: Option<Vec<TraceNode>>,
    /// The clause being checked, for the trace.
    clause: String,
    sources: &'a Sources,
    diags: Vec<Diagnostic>,
    schema: Arc<ObjectType>,
    tables: HashMap<String, (Value, Type, Loc)>,
    /// Each list table's entries, to point at a bad one (a CIDR block, a domain).
    table_entries: HashMap<String, Vec<Loc>>,
    table_order: Vec<String>,
    used_tables: HashSet<String>,
    calendar: Arc<Calendar>,
    /// The YAML scalar holding the expression being checked, to locate spans.
    node: Option<Node>,
}

fn is_const(ir: &Ir) -> bool {
    matches!(ir, Ir::Const(_))
}

impl<'a> Checker<'a> {
    fn new(sources: &'a Sources, schema: Arc<ObjectType>) -> Checker<'a> {
        Checker {
            usage: Usage::default(),
            for_fields: false,
            trace: None,
            clause: String::new(),
            sources,
            diags: Vec::new(),
            schema,
            tables: HashMap::new(),
            table_entries: HashMap::new(),
            table_order: Vec::new(),
            used_tables: HashSet::new(),
            calendar: Arc::new(Calendar::empty()),
            node: None,
        }
    }

    fn load_tables(&mut self, pack: &PackDef) {
        for t in &pack.tables {
            self.table(t);
        }
        self.build_calendar(&pack.tables);
    }

    fn loc(&self, span: &Span) -> Loc {
        match &self.node {
            Some(n) => n.locate(self.sources, span.start, span.end),
            None => Loc::default(),
        }
    }

    fn err(&mut self, code: Code, span: &Span, message: String, label: &str, help: Option<String>) {
        let loc = self.loc(span);
        self.diags.push(
            Diagnostic::error(code, message)
                .at(loc)
                .label(label)
                .maybe_help(help),
        );
    }

    fn type_err(&mut self, span: &Span, message: String, help: Option<String>) {
        self.err(Code::Type, span, message, "type error here", help);
    }

    fn parse_error(&mut self, e: ParseError) {
        let code = if e.message.contains("nests too deeply") {
            Code::TooDeep
        } else {
            Code::Syntax
        };
        let loc = self.loc(&e.span);
        self.diags.push(
            Diagnostic::error(code, e.message)
                .at(loc)
                .label("here")
                .maybe_help(e.help),
        );
    }

    // ---- tables ----

    fn table(&mut self, t: &TableDef) {
        self.node = None;
        let ty = match self.infer(&t.data, true) {
            Ok(ty) => ty,
            Err((loc, msg)) => {
                self.diags.push(
                    Diagnostic::error(Code::Type, format!("table `{}`: {msg}", t.name))
                        .at(loc)
                        .label("this value does not fit the others")
                        .help("the values of a list, and of a mapping table, must share one type"),
                );
                return;
            }
        };
        let value = build_value(&t.data, &ty);
        if let NodeKind::Seq(items) = &t.data.kind {
            self.table_entries
                .insert(t.name.clone(), items.iter().map(|i| i.loc).collect());
        }
        self.table_order.push(t.name.clone());
        self.tables.insert(t.name.clone(), (value, ty, t.loc));
    }

    /// The type of a table's data; the top-level mapping of a table is a `Map`, nested ones are
    /// objects.
    fn infer(&self, node: &Node, top: bool) -> Result<Type, (Loc, String)> {
        Ok(match &node.kind {
            NodeKind::Scalar { .. } => match node.scalar() {
                Some(Scalar::Null) | None => Type::Null,
                Some(Scalar::Bool(_)) => Type::Bool,
                Some(Scalar::Int(_)) => Type::Int,
                Some(Scalar::Float(_)) => Type::Float,
                Some(Scalar::Str(_)) => Type::Str,
            },
            NodeKind::Seq(items) => {
                let mut t = Type::Null;
                for i in items {
                    let it = self.infer(i, false)?;
                    t = t
                        .unify(&it)
                        .ok_or_else(|| (i.loc, format!("a list mixes `{t}` and `{it}`")))?;
                }
                Type::list(t)
            }
            NodeKind::Map(pairs) => {
                if top {
                    let mut t = Type::Null;
                    for (_, v) in pairs {
                        let vt = self.infer(v, false)?;
                        t = t
                            .unify(&vt)
                            .ok_or_else(|| (v.loc, format!("its values mix `{t}` and `{vt}`")))?;
                    }
                    Type::Map(Box::new(t))
                } else {
                    let mut fields = Vec::new();
                    for (k, v) in pairs {
                        fields.push((k.text().unwrap_or("").to_string(), self.infer(v, false)?));
                    }
                    Type::Object(Arc::new(ObjectType { fields }))
                }
            }
        })
    }

    fn build_calendar(&mut self, tables: &[TableDef]) {
        let Some(t) = tables.iter().find(|t| t.name == "calendar") else {
            return;
        };
        let mut lists: [Vec<chrono::NaiveDate>; 2] = Default::default();
        const KEYS: [&str; 2] = ["holidays", "workdays"];
        if t.data.as_map().is_none() && !t.data.is_null() {
            // a misshapen calendar would silently count every weekday as a working day
            self.diags.push(
                Diagnostic::error(
                    Code::BadValue,
                    format!("`calendar` must be a mapping, not {}", t.data.describe()),
                )
                .at(t.data.loc)
                .label("expected `holidays:` and `workdays:` here")
                .help("write `calendar: {holidays: [YYYY-MM-DD, ...], workdays: [...]}`"),
            );
        }
        if let Some(pairs) = t.data.as_map() {
            for (k, v) in pairs {
                let name = k.text().unwrap_or("");
                let Some(idx) = KEYS.iter().position(|x| *x == name) else {
                    let help = match closest(name, KEYS) {
                        Some(c) => format!("did you mean `{c}`? allowed keys: holidays, workdays"),
                        None => "allowed keys: holidays, workdays".to_string(),
                    };
                    self.diags.push(
                        Diagnostic::error(
                            Code::UnknownKey,
                            format!("unknown key `{name}` in `calendar`"),
                        )
                        .at(k.loc)
                        .label("not a key of the calendar")
                        .help(help),
                    );
                    continue;
                };
                if v.as_seq().is_none() && !v.is_null() {
                    self.diags.push(
                        Diagnostic::error(
                            Code::BadValue,
                            format!(
                                "`calendar.{name}` must be a list of dates, not {}",
                                v.describe()
                            ),
                        )
                        .at(v.loc)
                        .label("expected a list")
                        .help(format!("write `{name}: [2026-10-01, 2026-10-02]`")),
                    );
                    continue;
                }
                for entry in v.as_seq().unwrap_or_default() {
                    let text = entry.text().unwrap_or("");
                    match parse_iso_date(text) {
                        Some(d) => {
                            if let Some(l) = lists.get_mut(idx) {
                                l.push(d);
                            }
                        }
                        None => self.diags.push(
                            Diagnostic::error(
                                Code::BadConstant,
                                format!("calendar entry `{text}` is not a date"),
                            )
                            .at(entry.loc)
                            .label("expected `YYYY-MM-DD`")
                            .help("`calendar.holidays` and `calendar.workdays` are lists of dates"),
                        ),
                    }
                }
            }
        }
        let [h, w] = lists;
        self.calendar = Arc::new(Calendar::new(h, w));
    }

    fn key(&mut self, path: &str, loc: Loc) -> Option<(Vec<usize>, Type)> {
        let mut obj = self.schema.clone();
        let mut slots = Vec::new();
        let parts: Vec<&str> = path.split('.').collect();
        for (i, part) in parts.iter().enumerate() {
            let found = obj.slot(part).map(|(s, t)| (s, t.clone()));
            match found {
                Some((slot, ty)) => {
                    self.usage.mark(&obj, slot);
                    slots.push(slot);
                    let last = i + 1 == parts.len();
                    match (ty, last) {
                        (Type::Object(o), false) => obj = o,
                        (ty @ (Type::List(_) | Type::Object(_)), true) => {
                            self.diags.push(
                                Diagnostic::error(
                                    Code::BadKey,
                                    format!(
                                        "`schema.key` `{path}` is not a scalar field but `{ty}`"
                                    ),
                                )
                                .at(loc)
                                .label("the key must be a scalar field"),
                            );
                            return None;
                        }
                        (ty, true) => return Some((slots, ty)),
                        (_, false) => break,
                    }
                }
                None => {
                    let help = did_you_mean(part, obj.names());
                    self.diags.push(
                        Diagnostic::error(
                            Code::BadKey,
                            format!("`schema.key` names `{path}`, which is not a declared field"),
                        )
                        .at(loc)
                        .label("no such field")
                        .maybe_help(help),
                    );
                    return None;
                }
            }
        }
        self.diags.push(
            Diagnostic::error(
                Code::BadKey,
                format!("`schema.key` `{path}` is not a scalar field"),
            )
            .at(loc),
        );
        None
    }

    // ---- rules ----

    fn parse_expr_node(&mut self, node: &Node) -> Option<Expr> {
        self.node = Some(node.clone());
        let text = node.text().unwrap_or("");
        // SPEC §2.1: a YAML number stands for that literal, in every form of the core schema
        // (`0x10`, `0o17`, `+5`, `.5`, `5.`), not only those the expression grammar reads
        let whole = 0..text.len();
        match node.scalar() {
            Some(Scalar::Int(i)) => {
                return Some(Expr {
                    kind: ExprKind::Int(i),
                    span: whole,
                })
            }
            Some(Scalar::Float(f)) if f.is_finite() => {
                return Some(Expr {
                    kind: ExprKind::Float(f),
                    span: whole,
                })
            }
            Some(Scalar::Float(_)) => {
                self.parse_error(ParseError {
                    message: format!("`{text}` is not a finite number"),
                    span: whole,
                    help: Some("the expression language has no infinity or NaN".into()),
                });
                return None;
            }
            _ => {}
        }
        match parser::parse_expr(text) {
            Ok(e) => Some(e),
            Err(e) => {
                self.parse_error(e);
                None
            }
        }
    }

    fn typed_expr(&mut self, node: &Node, scope: &mut Scope) -> Option<Typed> {
        let e = self.parse_expr_node(node)?;
        self.expr(&e, scope)
    }

    fn rule(&mut self, r: &RuleDef) -> Option<Rule> {
        let errors_before = self.diags.iter().filter(|d| d.is_error()).count();
        let mut scope = Scope::default();
        let mut text = RuleText::default();
        let mut for_each = None;
        let mut fe_var: Option<String> = None;
        if let Some(node) = &r.for_each {
            self.clause = "for_each".into();
            self.node = Some(node.clone());
            text.for_each = node.text().map(str::to_string);
            match parser::parse_for_each(node.text().unwrap_or("")) {
                Err(e) => self.parse_error(e),
                Ok(fe) => {
                    self.for_fields = true;
                    if let Some((ir, ty)) = self.expr(&fe.list, &mut scope) {
                        match ty {
                            Type::List(elem) => {
                                self.shadow_lint(&fe.var.name, &fe.var.span);
                                let slot = scope.push(&fe.var.name, *elem);
                                fe_var = Some(fe.var.name.clone());
                                for_each = Some((slot, ir));
                            }
                            Type::Null => {
                                let slot = scope.push(&fe.var.name, Type::Null);
                                fe_var = Some(fe.var.name.clone());
                                for_each = Some((slot, ir));
                            }
                            other => self.type_err(
                                &fe.list.span,
                                format!("`for_each` needs a list, but this is `{other}`"),
                                Some("write `x in LIST`, where LIST is a list field such as `domain_facts`".into()),
                            ),
                        }
                    }
                }
            }
        }
        let mut lets = Vec::new();
        let mut let_names: HashSet<String> = HashSet::new();
        let mut let_slots = Vec::new();
        for l in &r.lets {
            text.lets
                .push((l.name.clone(), l.expr.text().unwrap_or("").to_string()));
            if fe_var.as_deref() == Some(l.name.as_str()) {
                self.diags.push(
                    Diagnostic::error(
                        Code::Shadow,
                        format!("`let` name `{}` is the `for_each` variable", l.name),
                    )
                    .at(l.loc)
                    .label("same name as the element variable")
                    .help("choose another name for the `let` value"),
                );
                continue;
            }
            if !let_names.insert(l.name.clone()) {
                self.diags.push(
                    Diagnostic::error(
                        Code::Shadow,
                        format!("`let` name `{}` is defined twice", l.name),
                    )
                    .at(l.loc),
                );
                continue;
            }
            if !is_identifier(&l.name) {
                self.diags.push(
                    Diagnostic::error(Code::Syntax, format!("`let` name `{}` is not an identifier", l.name))
                        .at(l.loc)
                        .label("not a name")
                        .help("a name is a letter or `_`, then letters, digits or `_`; reserved words are not allowed"),
                );
                continue;
            }
            self.clause = format!("let {}", l.name);
            if let Some((ir, ty)) = self.typed_expr(&l.expr, &mut scope) {
                if self.schema.slot(&l.name).is_some() {
                    self.diags.push(
                        Diagnostic::error(
                            Code::ShadowsField,
                            format!(
                                "`let` name `{}` hides the record field of that name",
                                l.name
                            ),
                        )
                        .at(l.loc)
                        .label("shadows a field")
                        .help("rename it, or the field cannot be read in this rule"),
                    );
                }
                let slot = scope.push(&l.name, ty);
                let_slots.push((slot, l.loc, l.name.clone()));
                lets.push((slot, ir));
            }
        }
        let applies_if = r.applies_if.as_ref().and_then(|n| {
            text.applies_if = n.text().map(str::to_string);
            self.clause = "applies_if".into();
            self.bool_expr(n, &mut scope, "`applies_if`")
        });
        text.when = r.when.text().unwrap_or("").to_string();
        self.clause = "when".into();
        let when = self.bool_expr(&r.when, &mut scope, "`when`");
        if let Some(Ir::Const(v)) = &when {
            let what = match v {
                Value::Bool(true) => "always fires",
                Value::Bool(false) => "never fires",
                _ => "is always undetermined",
            };
            if !matches!(v, Value::Bool(true)) || r.for_each.is_none() {
                self.diags.push(
                    Diagnostic::error(
                        Code::ConstantWhen,
                        format!("`when` is constant: rule `{}` {what}", r.id),
                    )
                    .at(r.when.loc)
                    .label("does not depend on the record")
                    .help("a `when` should test a field of the record"),
                );
            }
        }
        text.message = r.message.text().unwrap_or("").to_string();
        self.clause = "message".into();
        let message = self.message(&r.message, &mut scope);
        let deadline = r.deadline.as_ref().and_then(|n| {
            text.deadline = n.text().map(str::to_string);
            self.clause = "deadline".into();
            let (ir, ty) = self.typed_expr(n, &mut scope)?;
            if !ty.fits(&Type::Date) {
                let span = 0..n.text().unwrap_or("").len();
                self.type_err(
                    &span,
                    format!("`deadline` must be a date, but this is `{ty}`"),
                    Some(
                        "e.g. `order.created + days(45)` or `add_workdays(audit.notice_date, 3)`"
                            .into(),
                    ),
                );
                return None;
            }
            Some(ir)
        });
        for (slot, loc, name) in let_slots {
            if scope.vars.iter().any(|v| v.slot == slot && v.used == 0) {
                self.diags.push(
                    Diagnostic::error(
                        Code::UnusedLet,
                        format!("`let` value `{name}` is never used"),
                    )
                    .at(loc)
                    .label("defined here")
                    .help("remove it, or use it in `when`, the message or the deadline"),
                );
            }
        }
        if r.tests.is_empty() {
            self.diags.push(
                Diagnostic::error(Code::NoTests, format!("rule `{}` has no tests", r.id))
                    .at(Loc::new(r.loc.file, r.loc.start, r.loc.start))
                    .label("this rule")
                    .help("add `tests:` with a record that fires the rule and one that does not"),
            );
        }
        let errors_after = self.diags.iter().filter(|d| d.is_error()).count();
        if errors_after > errors_before {
            return None;
        }
        Some(Rule {
            id: r.id.clone(),
            title: r.title.clone(),
            category: r.category.clone(),
            severity: r.severity,
            enabled: r.enabled,
            effective_from: r.effective_from,
            effective_until: r.effective_until,
            for_each,
            lets,
            applies_if,
            when: when?,
            message: message?,
            deadline,
            remedy: r.remedy.clone(),
            source: r.source.clone(),
            tests: r.tests.clone(),
            locals: scope.slots,
            loc: r.loc,
            text,
        })
    }

    fn shadow_lint(&mut self, name: &str, span: &Span) {
        if self.schema.slot(name).is_some() {
            self.err(
                Code::ShadowsField,
                span,
                format!("variable `{name}` hides the record field of that name"),
                "shadows a field",
                Some("choose another variable name".into()),
            );
        }
    }

    fn bool_expr(&mut self, node: &Node, scope: &mut Scope, what: &str) -> Option<Ir> {
        let e = self.parse_expr_node(node)?;
        let (ir, ty) = self.expr(&e, scope)?;
        if !ty.fits(&Type::Bool) {
            self.type_err(
                &e.span,
                format!("{what} must be a bool, but this is `{ty}`"),
                Some("compare the value, e.g. `x == \"...\"` or `x > 0`".into()),
            );
            return None;
        }
        Some(ir)
    }

    fn message(&mut self, node: &Node, scope: &mut Scope) -> Option<Vec<MsgPart>> {
        self.node = Some(node.clone());
        let text = node.text().unwrap_or("");
        let t = match parser::parse_template(text) {
            Ok(t) => t,
            Err(e) => {
                self.parse_error(e);
                return None;
            }
        };
        let mut parts = Vec::new();
        let mut ok = true;
        let mut holes = 0;
        for p in &t.parts {
            match p {
                TemplatePart::Lit(s) => parts.push(MsgPart::Lit(s.clone())),
                TemplatePart::Expr(e) => {
                    holes += 1;
                    match self.expr(e, scope) {
                        Some((ir, ty)) => parts.push(MsgPart::Hole(ir, ty)),
                        None => ok = false,
                    }
                }
            }
        }
        if holes == 0 {
            self.diags.push(
                Diagnostic::error(
                    Code::MessageWithoutValue,
                    "the message shows no value of the record".into(),
                )
                .at(node.loc)
                .label("no `{...}` in this message")
                .help("name the values at fault, e.g. `域名 {d.name} 未实名`"),
            );
        }
        ok.then_some(parts)
    }

    // ---- expressions ----

    fn expr(&mut self, e: &Expr, scope: &mut Scope) -> Option<Typed> {
        let fields_only = std::mem::take(&mut self.for_fields);
        let r = self.expr_inner(e, scope)?;
        let r = (fold(r.0, &self.calendar), r.1);
        if !fields_only {
            // an object used whole (rendered, compared, passed on) needs every field
            self.usage.mark_whole(&r.1);
        }
        if let Some(trace) = &mut self.trace {
            let text = self
                .node
                .as_ref()
                .and_then(|n| n.text())
                .and_then(|t| t.get(e.span.clone()))
                .unwrap_or("")
                .to_string();
            trace.push(TraceNode {
                clause: self.clause.clone(),
                span: e.span.clone(),
                text,
                ir: r.0.clone(),
                ty: r.1.clone(),
            });
        }
        Some(r)
    }

    fn expr_inner(&mut self, e: &Expr, scope: &mut Scope) -> Option<Typed> {
        match &e.kind {
            ExprKind::Null => Some((Ir::Const(Value::Null), Type::Null)),
            ExprKind::Bool(v) => Some((Ir::Const(Value::Bool(*v)), Type::Bool)),
            ExprKind::Int(v) => Some((Ir::Const(Value::Int(*v)), Type::Int)),
            ExprKind::Float(v) => Some((Ir::Const(Value::Float(*v)), Type::Float)),
            ExprKind::Str(s) => Some((Ir::Const(Value::str(s)), Type::Str)),
            ExprKind::Ident(name) => self.ident(name, &e.span, scope),
            ExprKind::List(items) => {
                let mut irs = Vec::new();
                let mut tys = Vec::new();
                for i in items {
                    let (ir, ty) = self.expr(i, scope)?;
                    irs.push(ir);
                    tys.push((ty, i.span.clone()));
                }
                let mut t = Type::Null;
                for (ty, span) in &tys {
                    match t.unify(ty) {
                        Some(u) => t = u,
                        None => {
                            self.type_err(
                                span,
                                format!("list elements must share one type: `{t}` and `{ty}`"),
                                None,
                            );
                            return None;
                        }
                    }
                }
                let irs = irs
                    .into_iter()
                    .zip(tys.iter())
                    .map(|(ir, (ty, _))| widen(ir, ty, &t))
                    .collect();
                Some((Ir::List(irs), Type::list(t)))
            }
            ExprKind::Field(base, field) => self.field(base, field, scope),
            ExprKind::Index(base, index) => {
                let (bi, bt) = self.expr(base, scope)?;
                let (ii, it) = self.expr(index, scope)?;
                match (&bt, &it) {
                    (Type::List(elem), Type::Int | Type::Null) => {
                        Some((Ir::Index(Box::new(bi), Box::new(ii)), (**elem).clone()))
                    }
                    (Type::Map(v), Type::Str | Type::Null) => {
                        if let (Ir::Const(Value::Map(m)), Ir::Const(Value::Str(k))) = (&bi, &ii) {
                            if !m.contains_key(k.as_ref()) {
                                self.missing_key(&index.span, k, m.keys().map(String::as_str));
                                return None;
                            }
                        }
                        Some((Ir::MapGet(Box::new(bi), Box::new(ii)), (**v).clone()))
                    }
                    (Type::Null, _) => Some((Ir::Const(Value::Null), Type::Null)),
                    (Type::List(_), _) => {
                        self.type_err(
                            &index.span,
                            format!("a list index must be an int, not `{it}`"),
                            None,
                        );
                        None
                    }
                    (Type::Map(_), _) => {
                        self.type_err(
                            &index.span,
                            format!("a table key must be a string, not `{it}`"),
                            None,
                        );
                        None
                    }
                    _ => {
                        self.type_err(
                            &base.span,
                            format!("`[...]` needs a list or a mapping table, but this is `{bt}`"),
                            None,
                        );
                        None
                    }
                }
            }
            ExprKind::Call { func, args, method } => self.call(func, args, *method, &e.span, scope),
            ExprKind::Unary(op, x) => {
                let (xi, xt) = self.expr(x, scope)?;
                match op {
                    UnaryOp::Not => {
                        if !xt.fits(&Type::Bool) {
                            self.type_err(
                                &e.span,
                                format!("`not` needs a bool, but this is `{xt}`"),
                                None,
                            );
                            return None;
                        }
                        Some((Ir::Not(Box::new(xi)), Type::Bool))
                    }
                    UnaryOp::Neg => {
                        if !matches!(xt, Type::Int | Type::Float | Type::Duration | Type::Null) {
                            self.type_err(
                                &e.span,
                                format!("`-` needs a number or a duration, but this is `{xt}`"),
                                None,
                            );
                            return None;
                        }
                        Some((Ir::Neg(Box::new(xi)), xt))
                    }
                }
            }
            ExprKind::And(items) | ExprKind::Or(items) => {
                let is_and = matches!(e.kind, ExprKind::And(_));
                let mut irs = Vec::with_capacity(items.len());
                let mut ok = true;
                for i in items {
                    match self.expr(i, scope) {
                        Some((ir, ty)) => {
                            if !ty.fits(&Type::Bool) {
                                let op = if is_and { "and" } else { "or" };
                                self.type_err(
                                    &i.span,
                                    format!("`{op}` needs bools, but this is `{ty}`"),
                                    None,
                                );
                                ok = false;
                            }
                            irs.push(ir);
                        }
                        None => ok = false,
                    }
                }
                if !ok {
                    return None;
                }
                Some((if is_and { Ir::And(irs) } else { Ir::Or(irs) }, Type::Bool))
            }
            ExprKind::Cond(c, a, b) => {
                let (ci, ct) = self.expr(c, scope)?;
                let (ai, at) = self.expr(a, scope)?;
                let (bi, bt) = self.expr(b, scope)?;
                if !ct.fits(&Type::Bool) {
                    self.type_err(
                        &c.span,
                        format!("the condition of `?:` must be a bool, but this is `{ct}`"),
                        None,
                    );
                    return None;
                }
                let Some(t) = at.unify(&bt) else {
                    self.type_err(
                        &e.span,
                        format!("both branches of `?:` must have one type: `{at}` and `{bt}`"),
                        None,
                    );
                    return None;
                };
                Some((
                    Ir::Cond(
                        Box::new(ci),
                        Box::new(widen(ai, &at, &t)),
                        Box::new(widen(bi, &bt, &t)),
                    ),
                    t,
                ))
            }
            ExprKind::Binary(op, a, b) => self.binary(*op, a, b, &e.span, scope),
        }
    }

    fn missing_key<'k>(&mut self, span: &Span, key: &str, keys: impl Iterator<Item = &'k str>) {
        let keys: Vec<&str> = keys.collect();
        let help = did_you_mean(key, keys.iter().copied());
        self.err(
            Code::MissingTableKey,
            span,
            format!("the table has no key `{key}`"),
            "not in the table",
            help,
        );
    }

    fn ident(&mut self, name: &str, span: &Span, scope: &mut Scope) -> Option<Typed> {
        if let Some(v) = scope.vars.iter_mut().rev().find(|v| v.name == name) {
            v.used += 1;
            return Some((Ir::Local(v.slot), v.ty.clone()));
        }
        if name == "as_of" {
            return Some((Ir::AsOf, Type::Date));
        }
        if name == "tables" {
            self.err(
                Code::UnknownName,
                span,
                "`tables` needs a table name".into(),
                "write `tables.NAME`",
                Some(format!("tables: {}", self.table_order.join(", "))),
            );
            return None;
        }
        if let Some((slot, ty)) = self.schema.slot(name) {
            let ty = ty.clone();
            self.usage.mark(&self.schema.clone(), slot);
            return Some((Ir::Field(Box::new(Ir::Record), slot), ty));
        }
        let mut candidates: Vec<&str> = scope.vars.iter().map(|v| v.name.as_str()).collect();
        candidates.extend(self.schema.names());
        candidates.push("as_of");
        candidates.push("tables");
        let help = did_you_mean(name, candidates.iter().copied());
        self.err(
            Code::UnknownName,
            span,
            format!("unknown name `{name}`"),
            "not a field, variable or `let` name",
            help.or_else(|| {
                let names: Vec<&str> = self.schema.names().collect();
                Some(if names.is_empty() {
                    "the schema declares no fields (`schema: {fields: {...}}`)".to_string()
                } else {
                    format!("fields: {}", names.join(", "))
                })
            }),
        );
        None
    }

    fn field(&mut self, base: &Expr, field: &Ident, scope: &mut Scope) -> Option<Typed> {
        // `tables.NAME`, unless a variable is called `tables`
        if let ExprKind::Ident(b) = &base.kind {
            if b == "tables" && !scope.vars.iter().any(|v| v.name == "tables") {
                return match self.tables.get(&field.name) {
                    Some((v, t, _)) => {
                        self.used_tables.insert(field.name.clone());
                        Some((Ir::Const(v.clone()), t.clone()))
                    }
                    None => {
                        let help =
                            did_you_mean(&field.name, self.table_order.iter().map(String::as_str))
                                .or_else(|| {
                                    Some(format!("tables: {}", self.table_order.join(", ")))
                                });
                        self.err(
                            Code::UnknownName,
                            &field.span,
                            format!("unknown table `{}`", field.name),
                            "no such table",
                            help,
                        );
                        None
                    }
                };
            }
        }
        self.for_fields = true;
        let (bi, bt) = self.expr(base, scope)?;
        match &bt {
            Type::Object(o) => match o.slot(&field.name) {
                Some((slot, ty)) => {
                    self.usage.mark(o, slot);
                    Some((Ir::Field(Box::new(bi), slot), ty.clone()))
                }
                None => {
                    let help = did_you_mean(&field.name, o.names()).or_else(|| {
                        Some(format!(
                            "fields here: {}",
                            o.names().collect::<Vec<_>>().join(", ")
                        ))
                    });
                    self.err(
                        Code::UnknownField,
                        &field.span,
                        format!("unknown field `{}`", field.name),
                        "no such field",
                        help,
                    );
                    None
                }
            },
            Type::Map(v) => {
                if let Ir::Const(Value::Map(m)) = &bi {
                    if !m.contains_key(&field.name) {
                        self.missing_key(&field.span, &field.name, m.keys().map(String::as_str));
                        return None;
                    }
                }
                Some((
                    Ir::MapGet(Box::new(bi), Box::new(Ir::Const(Value::str(&field.name)))),
                    (**v).clone(),
                ))
            }
            Type::Null => Some((Ir::Const(Value::Null), Type::Null)),
            Type::List(elem) if matches!(elem.as_ref(), Type::Object(_)) => {
                self.type_err(
                    &field.span,
                    format!(
                        "`.{}` reads a field of one object, but this is a list of objects",
                        field.name
                    ),
                    Some(format!(
                        "use `for_each`, or `LIST.map(x, x.{})`",
                        field.name
                    )),
                );
                None
            }
            other => {
                self.type_err(
                    &field.span,
                    format!("`{other}` has no fields; `.{}` cannot be read", field.name),
                    None,
                );
                None
            }
        }
    }

    fn binary(
        &mut self,
        op: BinaryOp,
        a: &Expr,
        b: &Expr,
        span: &Span,
        scope: &mut Scope,
    ) -> Option<Typed> {
        let (ai, at) = self.expr(a, scope)?;
        let (bi, bt) = self.expr(b, scope)?;
        let sym = op.symbol();
        let mismatch = |c: &mut Self, help: Option<String>| {
            c.type_err(span, format!("`{sym}` cannot take `{at}` and `{bt}`"), help);
            None
        };
        match op {
            BinaryOp::Eq | BinaryOp::Ne => {
                if at.unify(&bt).is_none() {
                    return mismatch(
                        self,
                        Some("`==` and `!=` compare two values of one type".into()),
                    );
                }
                let c = if op == BinaryOp::Eq { Cmp::Eq } else { Cmp::Ne };
                Some((Ir::Cmp(c, Box::new(ai), Box::new(bi)), Type::Bool))
            }
            BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge => {
                let ok = at.is_ordered() && bt.is_ordered() && at.unify(&bt).is_some();
                if !ok {
                    return mismatch(self, Some("`<`, `<=`, `>`, `>=` compare numbers, strings, dates or durations of one type".into()));
                }
                let c = match op {
                    BinaryOp::Lt => Cmp::Lt,
                    BinaryOp::Le => Cmp::Le,
                    BinaryOp::Gt => Cmp::Gt,
                    _ => Cmp::Ge,
                };
                Some((Ir::Cmp(c, Box::new(ai), Box::new(bi)), Type::Bool))
            }
            BinaryOp::In | BinaryOp::NotIn => {
                let ir = self.membership(ai, &at, bi, &bt, a, b, span)?;
                Some((
                    if op == BinaryOp::NotIn {
                        Ir::Not(Box::new(ir))
                    } else {
                        ir
                    },
                    Type::Bool,
                ))
            }
            BinaryOp::Coalesce => {
                let Some(t) = at.unify(&bt) else {
                    return mismatch(self, Some("both sides of `??` must have one type".into()));
                };
                Some((
                    Ir::Coalesce(Box::new(widen(ai, &at, &t)), Box::new(widen(bi, &bt, &t))),
                    t,
                ))
            }
            BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Rem => {
                let arith = match op {
                    BinaryOp::Add => Arith::Add,
                    BinaryOp::Sub => Arith::Sub,
                    BinaryOp::Mul => Arith::Mul,
                    BinaryOp::Div => Arith::Div,
                    _ => Arith::Rem,
                };
                let t = match (&at, &bt) {
                    (Type::Int, Type::Int) => Some(Type::Int),
                    (Type::Int | Type::Float, Type::Int | Type::Float) => Some(Type::Float),
                    (Type::Str, Type::Str) if arith == Arith::Add => Some(Type::Str),
                    (Type::List(_), Type::List(_)) if arith == Arith::Add => at.unify(&bt),
                    (Type::Date, Type::Duration) if matches!(arith, Arith::Add | Arith::Sub) => {
                        Some(Type::Date)
                    }
                    (Type::Duration, Type::Date) if arith == Arith::Add => Some(Type::Date),
                    (Type::Date, Type::Date) if arith == Arith::Sub => Some(Type::Duration),
                    (Type::Duration, Type::Duration)
                        if matches!(arith, Arith::Add | Arith::Sub) =>
                    {
                        Some(Type::Duration)
                    }
                    (Type::Null, t) | (t, Type::Null) => Some(match (arith, t) {
                        (Arith::Sub, Type::Date) => Type::Null,
                        (_, t) => t.clone(),
                    }),
                    _ => None,
                };
                let Some(t) = t else {
                    let help = match (&at, &bt) {
                        (Type::Date, Type::Int) | (Type::Int, Type::Date) => {
                            Some("add a duration: `d + days(30)`".into())
                        }
                        (Type::Str, _) | (_, Type::Str) => {
                            Some("convert first: `string(x)`, `int(s)`".into())
                        }
                        _ => None,
                    };
                    return mismatch(self, help);
                };
                let (ai, bi) = match (&at, &bt, &t) {
                    (Type::List(_), Type::List(_), Type::List(_)) => {
                        (widen(ai, &at, &t), widen(bi, &bt, &t))
                    }
                    _ => (ai, bi),
                };
                Some((Ir::Arith(arith, Box::new(ai), Box::new(bi)), t))
            }
        }
    }

    /// Where each element of the constant list `b` is written: its entries in a list table
    /// (`tables.NAME`) or in a list literal; `None` when that is not known.
    fn entry_locs(&self, b: &Expr, len: usize) -> Option<Vec<Loc>> {
        let locs = match &b.kind {
            ExprKind::Field(base, name) if matches!(&base.kind, ExprKind::Ident(t) if t == "tables") => {
                self.table_entries.get(&name.name)?.clone()
            }
            ExprKind::List(items) => items.iter().map(|e| self.loc(&e.span)).collect(),
            _ => return None,
        };
        (locs.len() == len).then_some(locs)
    }

    /// Reports every element of the constant list `b` that `ok` rejects, at the element when
    /// its place is known (else at `b`); false when there was any.
    fn check_entries(
        &mut self,
        b: &Expr,
        items: &[Value],
        ok: impl Fn(&str) -> bool,
        what: &str,
        help: &str,
    ) -> bool {
        let locs = self.entry_locs(b, items.len());
        let whole = self.loc(&b.span);
        let mut clean = true;
        for (i, item) in items.iter().enumerate() {
            let Value::Str(s) = item else { continue };
            if ok(s) {
                continue;
            }
            clean = false;
            let at = locs
                .as_ref()
                .and_then(|l| l.get(i).copied())
                .unwrap_or(whole);
            // a table used by several rules is reported once
            if self
                .diags
                .iter()
                .any(|d| d.loc == Some(at) && d.code == Code::BadConstant)
            {
                continue;
            }
            self.diags.push(
                Diagnostic::error(Code::BadConstant, format!("`{s}` is not {what}"))
                    .at(at)
                    .label("this entry")
                    .help(help),
            );
        }
        clean
    }

    #[allow(clippy::too_many_arguments)]
    /// `a in b`. A list of CIDR blocks or domains written in the pack (a list literal or a
    /// table) is checked entry by entry, a bad entry an error; a computed one, even when it
    /// folds to a constant (`split(tables.t, ";")`), lets a bad entry match nothing (SPEC §7).
    fn membership(
        &mut self,
        ai: Ir,
        at: &Type,
        bi: Ir,
        bt: &Type,
        a: &Expr,
        b: &Expr,
        span: &Span,
    ) -> Option<Ir> {
        let _ = a;
        match (at, bt) {
            (Type::Str | Type::Null, Type::Str) => Some(Ir::In(Box::new(ai), Box::new(bi))),
            (Type::Str | Type::Null, Type::Map(_)) => Some(Ir::In(Box::new(ai), Box::new(bi))),
            (Type::Ip, Type::List(e)) if matches!(e.as_ref(), Type::Str | Type::Null) => {
                if let (Ir::Const(Value::List(items)), false) = (&bi, written_list(b)) {
                    // computed (folded to a constant all the same): bad entries match nothing
                    let set = CidrSet::parse_lenient(items.iter().filter_map(Value::as_str));
                    return Some(Ir::InCidr(Box::new(ai), Arc::new(set)));
                }
                if let Ir::Const(Value::List(items)) = &bi {
                    if !self.check_entries(
                        b,
                        items,
                        |s| CidrSet::parse(std::iter::once(s)).is_ok(),
                        "a cidr block or address",
                        "write blocks as `47.92.0.0/14` or single addresses",
                    ) {
                        return None;
                    }
                    match CidrSet::parse(items.iter().filter_map(Value::as_str)) {
                        Ok(set) => Some(Ir::InCidr(Box::new(ai), Arc::new(set))),
                        Err(why) => {
                            self.err(
                                Code::BadConstant,
                                &b.span,
                                format!("not a cidr block or address: {why}"),
                                "in this list",
                                Some("write blocks as `47.92.0.0/14` or single addresses".into()),
                            );
                            None
                        }
                    }
                } else {
                    Some(Ir::InCidrDyn(Box::new(ai), Box::new(bi)))
                }
            }
            (Type::Domain, Type::List(e)) if matches!(e.as_ref(), Type::Str | Type::Null) => {
                if let (Ir::Const(Value::List(items)), false) = (&bi, written_list(b)) {
                    let set = items
                        .iter()
                        .filter_map(Value::as_str)
                        .filter_map(normalize_domain_str)
                        .collect();
                    return Some(Ir::InDomainSet(Box::new(ai), Arc::new(set)));
                }
                if let Ir::Const(Value::List(items)) = &bi {
                    if !self.check_entries(
                        b,
                        items,
                        |s| normalize_domain_str(s).is_some(),
                        "a valid domain name",
                        "write domains as `example.cn` or `例子.中国`",
                    ) {
                        return None;
                    }
                    let mut set = rustc_hash::FxHashSet::default();
                    for s in items.iter().filter_map(Value::as_str) {
                        match normalize_domain_str(s) {
                            Some(d) => {
                                set.insert(d);
                            }
                            None => {
                                self.err(
                                    Code::BadConstant,
                                    &b.span,
                                    format!("`{s}` is not a valid domain name"),
                                    "in this list",
                                    None,
                                );
                                return None;
                            }
                        }
                    }
                    Some(Ir::InDomainSet(Box::new(ai), Arc::new(set)))
                } else {
                    Some(Ir::InDomainDyn(Box::new(ai), Box::new(bi)))
                }
            }
            (x, Type::List(e)) if x.unify(e).is_some() => {
                if let (Type::Str, Ir::Const(Value::List(items))) = (x, &bi) {
                    if items.iter().all(|v| matches!(v, Value::Str(_))) {
                        return Some(Ir::InStrSet(
                            Box::new(ai),
                            Arc::new(crate::eval::str_set(items)),
                        ));
                    }
                }
                Some(Ir::In(Box::new(ai), Box::new(bi)))
            }
            (_, Type::Null) => Some(Ir::Const(Value::Null)),
            _ => {
                let help = match bt {
                    Type::List(e) => Some(format!(
                        "the list holds `{e}`, so the left side must be `{e}` too"
                    )),
                    Type::Map(_) => Some("`k in tables.M` tests a string key".into()),
                    _ => Some("the right of `in` is a list, a mapping table or a string".into()),
                };
                self.type_err(span, format!("`in` cannot test `{at}` in `{bt}`"), help);
                None
            }
        }
    }

    fn call(
        &mut self,
        func: &Ident,
        args: &[Expr],
        method: bool,
        span: &Span,
        scope: &mut Scope,
    ) -> Option<Typed> {
        let name = func.name.as_str();
        if let Some(kind) = macro_kind(name) {
            return self.macro_call(kind, func, args, span, scope);
        }
        if !FUNCTIONS.contains(&name) {
            let help = did_you_mean(name, FUNCTIONS.iter().copied());
            let what = if method { "method" } else { "function" };
            self.err(
                Code::UnknownFunction,
                &func.span,
                format!("unknown {what} `{name}`"),
                "no such function",
                help,
            );
            return None;
        }
        let mut typed = Vec::with_capacity(args.len());
        let mut ok = true;
        for a in args {
            match self.expr(a, scope) {
                Some(t) => typed.push((t.0, t.1, a.span.clone())),
                None => ok = false,
            }
        }
        if !ok {
            return None;
        }
        self.builtin(name, func, typed, span)
    }

    fn arity(&mut self, func: &Ident, got: usize, want: &[usize], sig: &str) -> bool {
        if want.contains(&got) {
            return true;
        }
        self.err(
            Code::Arity,
            &func.span,
            format!("`{}` takes {} but got {got}", func.name, plural_args(want)),
            "wrong number of arguments",
            Some(format!("usage: {sig}")),
        );
        false
    }

    fn builtin(
        &mut self,
        name: &str,
        func: &Ident,
        args: Vec<(Ir, Type, Span)>,
        span: &Span,
    ) -> Option<Typed> {
        use Builtin as F;
        use Type as T;
        let n = args.len();
        let tys: Vec<T> = args.iter().map(|a| a.1.clone()).collect();
        let t = |i: usize| tys.get(i).cloned().unwrap_or(T::Null);
        // argument i must fit `want`
        let want = |c: &mut Self, i: usize, want: &T| -> bool {
            let got = t(i);
            if got.fits(want) {
                return true;
            }
            let at = args
                .get(i)
                .map(|a| a.2.clone())
                .unwrap_or_else(|| span.clone());
            c.type_err(
                &at,
                format!(
                    "argument {} of `{name}` must be `{want}`, but this is `{got}`",
                    i + 1
                ),
                None,
            );
            false
        };
        let sig = signature(name);
        // a one-argument function's type error points at the argument
        let span = &if n == 1 {
            args.first().map_or_else(|| span.clone(), |a| a.2.clone())
        } else {
            span.clone()
        };
        let simple = |c: &mut Self, params: &[T], f: F, ret: T| -> Option<(F, T)> {
            if !c.arity(func, n, &[params.len()], sig) {
                return None;
            }
            let mut ok = true;
            for (i, p) in params.iter().enumerate() {
                ok &= want(c, i, p);
            }
            ok.then_some((f, ret))
        };
        let (f, ret) = match name {
            "len" => {
                if !self.arity(func, n, &[1], sig) {
                    return None;
                }
                match t(0) {
                    T::Str | T::Null => (F::LenStr, T::Int),
                    T::List(_) => (F::LenList, T::Int),
                    other => {
                        self.type_err(
                            span,
                            format!("`len` takes a string or a list, not `{other}`"),
                            None,
                        );
                        return None;
                    }
                }
            }
            "lower" => simple(self, &[T::Str], F::Lower, T::Str)?,
            "upper" => simple(self, &[T::Str], F::Upper, T::Str)?,
            "trim" => simple(self, &[T::Str], F::Trim, T::Str)?,
            "starts_with" => simple(self, &[T::Str, T::Str], F::StartsWith, T::Bool)?,
            "ends_with" => simple(self, &[T::Str, T::Str], F::EndsWith, T::Bool)?,
            "replace" => simple(self, &[T::Str, T::Str, T::Str], F::Replace, T::Str)?,
            "split" => simple(self, &[T::Str, T::Str], F::Split, T::list(T::Str))?,
            "substr" => simple(self, &[T::Str, T::Int, T::Int], F::Substr, T::Str)?,
            "contains" => {
                if !self.arity(func, n, &[2], sig) {
                    return None;
                }
                match (t(0), t(1)) {
                    (T::Str | T::Null, T::Str | T::Null) => (F::ContainsStr, T::Bool),
                    (T::List(e), x) if x.unify(&e).is_some() => (F::ContainsList, T::Bool),
                    (a, b) => {
                        self.type_err(span, format!("`contains` takes (string, string) or (list, element), not `{a}` and `{b}`"), None);
                        return None;
                    }
                }
            }
            "matches" | "capture" => return self.regex_call(name, func, args, span),
            "string" => {
                if !self.arity(func, n, &[1], sig) {
                    return None;
                }
                let mut it = args.into_iter();
                let (ir, ty, _) = it.next()?;
                return Some((fold(Ir::Render(Box::new(ir), ty), &self.calendar), T::Str));
            }
            "first" | "last" | "distinct" => {
                if !self.arity(func, n, &[1], sig) {
                    return None;
                }
                let elem = match t(0) {
                    T::List(e) => *e,
                    T::Null => T::Null,
                    other => {
                        self.type_err(span, format!("`{name}` takes a list, not `{other}`"), None);
                        return None;
                    }
                };
                match name {
                    "first" => (F::First, elem),
                    "last" => (F::Last, elem),
                    _ => (F::Distinct, T::list(elem)),
                }
            }
            "min" | "max" => {
                if !self.arity(func, n, &[1, 2], sig) {
                    return None;
                }
                if n == 1 {
                    let elem = match t(0) {
                        T::List(e) if e.is_ordered() => *e,
                        T::Null => T::Null,
                        other => {
                            self.type_err(span, format!("`{name}` of one argument takes a list of numbers, strings, dates or durations, not `{other}`"), None);
                            return None;
                        }
                    };
                    (
                        if name == "min" {
                            F::MinList
                        } else {
                            F::MaxList
                        },
                        elem,
                    )
                } else {
                    let (a, b) = (t(0), t(1));
                    match a.unify(&b) {
                        Some(u) if u.is_ordered() => {
                            (if name == "min" { F::Min2 } else { F::Max2 }, u)
                        }
                        _ => {
                            self.type_err(span, format!("`{name}` takes two values of one ordered type, not `{a}` and `{b}`"), None);
                            return None;
                        }
                    }
                }
            }
            "sum" => {
                if !self.arity(func, n, &[1], sig) {
                    return None;
                }
                match t(0) {
                    T::List(e) if matches!(*e, T::Int | T::Float | T::Null) => {
                        (F::Sum, if *e == T::Null { T::Int } else { *e })
                    }
                    other => {
                        self.type_err(
                            span,
                            format!("`sum` takes a list of numbers, not `{other}`"),
                            None,
                        );
                        return None;
                    }
                }
            }
            "join" => {
                if !self.arity(func, n, &[2], sig) {
                    return None;
                }
                if !matches!(t(0), T::List(_) | T::Null) {
                    self.type_err(
                        span,
                        format!("argument 1 of `join` must be a list, not `{}`", t(0)),
                        None,
                    );
                    return None;
                }
                if !want(self, 1, &T::Str) {
                    return None;
                }
                let elem = match t(0) {
                    T::List(e) => *e,
                    _ => T::Null,
                };
                let mut it = args.into_iter();
                let (list, _, _) = it.next()?;
                let (sep, _, _) = it.next()?;
                return Some((
                    fold(
                        Ir::Join(Box::new(list), Box::new(sep), elem),
                        &self.calendar,
                    ),
                    T::Str,
                ));
            }
            "int" | "float" => {
                if !self.arity(func, n, &[1], sig) {
                    return None;
                }
                if !matches!(t(0), T::Str | T::Int | T::Float | T::Bool | T::Null) {
                    self.type_err(
                        span,
                        format!("`{name}` converts a string, number or bool, not `{}`", t(0)),
                        None,
                    );
                    return None;
                }
                if name == "int" {
                    (F::Int, T::Int)
                } else {
                    (F::Float, T::Float)
                }
            }
            "abs" => {
                if !self.arity(func, n, &[1], sig) {
                    return None;
                }
                match t(0) {
                    x @ (T::Int | T::Float | T::Duration | T::Null) => (F::Abs, x),
                    other => {
                        self.type_err(
                            span,
                            format!("`abs` takes a number or a duration, not `{other}`"),
                            None,
                        );
                        return None;
                    }
                }
            }
            "date" => {
                if !self.arity(func, n, &[1], sig) {
                    return None;
                }
                if !matches!(t(0), T::Str | T::Date | T::DateTime | T::Null) {
                    self.type_err(
                        span,
                        format!("`date` takes a `YYYY-MM-DD` string, not `{}`", t(0)),
                        None,
                    );
                    return None;
                }
                if let Some((Ir::Const(Value::Str(s)), _, sp)) = args.first() {
                    if parse_iso_date(s).is_none() {
                        self.err(
                            Code::BadConstant,
                            sp,
                            format!("`{s}` is not a date"),
                            "expected `YYYY-MM-DD`",
                            Some("e.g. `date(\"2026-01-31\")`".into()),
                        );
                        return None;
                    }
                }
                (F::Date, T::Date)
            }
            "days" => simple(self, &[T::Int], F::Days, T::Duration)?,
            "weeks" => simple(self, &[T::Int], F::Weeks, T::Duration)?,
            "add_months" => simple(self, &[T::Date, T::Int], F::AddMonths, T::Date)?,
            "add_years" => simple(self, &[T::Date, T::Int], F::AddYears, T::Date)?,
            "days_between" => simple(self, &[T::Date, T::Date], F::DaysBetween, T::Int)?,
            "year" => simple(self, &[T::Date], F::Year, T::Int)?,
            "month" => simple(self, &[T::Date], F::Month, T::Int)?,
            "day" => simple(self, &[T::Date], F::Day, T::Int)?,
            "weekday" => simple(self, &[T::Date], F::Weekday, T::Int)?,
            "add_workdays" => simple(self, &[T::Date, T::Int], F::AddWorkdays, T::Date)?,
            "is_workday" => simple(self, &[T::Date], F::IsWorkday, T::Bool)?,
            "date_of" => {
                if !self.arity(func, n, &[1], sig) {
                    return None;
                }
                if !matches!(t(0), T::DateTime | T::Date | T::Null) {
                    self.type_err(
                        span,
                        format!("`date_of` takes a datetime, not `{}`", t(0)),
                        None,
                    );
                    return None;
                }
                (F::DateOf, T::Date)
            }
            "is_null" => {
                if !self.arity(func, n, &[1], sig) {
                    return None;
                }
                (F::IsNull, T::Bool)
            }
            "coalesce" => {
                if n == 0 {
                    self.arity(func, n, &[1], sig);
                    return None;
                }
                let mut u = T::Null;
                for (i, ty) in tys.iter().enumerate() {
                    match u.unify(ty) {
                        Some(x) => u = x,
                        None => {
                            let at = args
                                .get(i)
                                .map(|a| a.2.clone())
                                .unwrap_or_else(|| span.clone());
                            self.type_err(&at, format!("the arguments of `coalesce` must share one type: `{u}` and `{ty}`"), None);
                            return None;
                        }
                    }
                }
                let irs = args
                    .into_iter()
                    .map(|(ir, ty, _)| widen(ir, &ty, &u))
                    .collect();
                return Some((fold(Ir::Call(F::Coalesce, irs), &self.calendar), u));
            }
            "domain" => {
                if !self.arity(func, n, &[1], sig) {
                    return None;
                }
                if !matches!(t(0), T::Str | T::Domain | T::Null) {
                    self.type_err(
                        span,
                        format!("`domain` takes a string, not `{}`", t(0)),
                        None,
                    );
                    return None;
                }
                (F::Domain, T::Domain)
            }
            "ascii" => simple(self, &[T::Domain], F::Ascii, T::Str)?,
            "unicode" => simple(self, &[T::Domain], F::Unicode, T::Str)?,
            "tld" => simple(self, &[T::Domain], F::Tld, T::Str)?,
            "suffix" => simple(self, &[T::Domain], F::Suffix, T::Str)?,
            "registrable" => simple(self, &[T::Domain], F::Registrable, T::Domain)?,
            "labels" => simple(self, &[T::Domain], F::Labels, T::list(T::Str))?,
            "is_idn" => simple(self, &[T::Domain], F::IsIdn, T::Bool)?,
            "ip" => {
                if !self.arity(func, n, &[1], sig) {
                    return None;
                }
                if !matches!(t(0), T::Str | T::Ip | T::Null) {
                    self.type_err(span, format!("`ip` takes a string, not `{}`", t(0)), None);
                    return None;
                }
                (F::Ip, T::Ip)
            }
            "in_cidr" => {
                if !self.arity(func, n, &[2], sig) || !want(self, 0, &T::Ip) {
                    return None;
                }
                match t(1) {
                    T::Str | T::Null => {}
                    T::List(e) if matches!(*e, T::Str | T::Null) => {}
                    other => {
                        self.type_err(span, format!("argument 2 of `in_cidr` must be a cidr string or a list of them, not `{other}`"), None);
                        return None;
                    }
                }
                // a constant block or list compiles to a set once
                let mut it = args.into_iter();
                let (ip, _, _) = it.next()?;
                let (c, _, csp) = it.next()?;
                let entries: Option<Vec<String>> = match &c {
                    Ir::Const(Value::Str(s)) => Some(vec![s.to_string()]),
                    Ir::Const(Value::List(items))
                        if items.iter().all(|v| matches!(v, Value::Str(_))) =>
                    {
                        Some(
                            items
                                .iter()
                                .filter_map(Value::as_str)
                                .map(str::to_string)
                                .collect(),
                        )
                    }
                    _ => None,
                };
                if let Some(entries) = entries {
                    return match CidrSet::parse(entries.iter().map(String::as_str)) {
                        Ok(set) => Some((
                            fold(Ir::InCidr(Box::new(ip), Arc::new(set)), &self.calendar),
                            T::Bool,
                        )),
                        Err(why) => {
                            self.err(
                                Code::BadConstant,
                                &csp,
                                format!("not a cidr block or address: {why}"),
                                "here",
                                Some("write blocks as `47.92.0.0/14`".into()),
                            );
                            None
                        }
                    };
                }
                return Some((
                    fold(Ir::Call(F::InCidr, vec![ip, c]), &self.calendar),
                    T::Bool,
                ));
            }
            "is_private" => simple(self, &[T::Ip], F::IsPrivate, T::Bool)?,
            "is_ipv6" => simple(self, &[T::Ip], F::IsIpv6, T::Bool)?,
            "valid_cn_id" => simple(self, &[T::Str], F::ValidCnId, T::Bool)?,
            "valid_uscc" => simple(self, &[T::Str], F::ValidUscc, T::Bool)?,
            "valid_cn_mobile" => simple(self, &[T::Str], F::ValidCnMobile, T::Bool)?,
            "icp_province" => simple(self, &[T::Str], F::IcpProvince, T::Str)?,
            "icp_site" => simple(self, &[T::Str], F::IcpSite, T::Int)?,
            _ => {
                self.err(
                    Code::UnknownFunction,
                    &func.span,
                    format!("unknown function `{name}`"),
                    "no such function",
                    None,
                );
                return None;
            }
        };
        let irs = args.into_iter().map(|a| a.0).collect();
        Some((fold(Ir::Call(f, irs), &self.calendar), ret))
    }

    fn regex_call(
        &mut self,
        name: &str,
        func: &Ident,
        args: Vec<(Ir, Type, Span)>,
        span: &Span,
    ) -> Option<Typed> {
        let want_n = if name == "matches" { 2 } else { 3 };
        if !self.arity(func, args.len(), &[want_n], signature(name)) {
            return None;
        }
        let mut it = args.into_iter();
        let (s, st, ssp) = it.next()?;
        let (re, _, resp) = it.next()?;
        if !st.fits(&Type::Str) {
            self.type_err(
                &ssp,
                format!("argument 1 of `{name}` must be a string, not `{st}`"),
                None,
            );
            return None;
        }
        let Ir::Const(Value::Str(pattern)) = &re else {
            self.err(
                Code::Regex,
                &resp,
                format!("the pattern of `{name}` must be a constant string"),
                "not a constant",
                Some("write the regex as a literal, e.g. r\"^1[3-9]\\d{9}$\"".into()),
            );
            return None;
        };
        let compiled = match RegexBuilder::new(pattern)
            .size_limit(REGEX_SIZE_LIMIT)
            .dfa_size_limit(REGEX_DFA_LIMIT)
            .build()
        {
            Ok(r) => Arc::new(r),
            Err(e) => {
                let why = e.to_string();
                let short = why
                    .lines()
                    .last()
                    .unwrap_or("")
                    .trim()
                    .trim_start_matches("error: ")
                    .to_string();
                self.err(
                    Code::Regex,
                    &resp,
                    format!("invalid regex: {short}"),
                    "this pattern",
                    Some("the syntax is that of Rust's `regex` crate".into()),
                );
                return None;
            }
        };
        if name == "matches" {
            return Some((
                fold(Ir::Matches(Box::new(s), compiled), &self.calendar),
                Type::Bool,
            ));
        }
        let (n, nt, nsp) = it.next()?;
        if !nt.fits(&Type::Int) {
            self.type_err(
                &nsp,
                format!("argument 3 of `capture` must be an int, not `{nt}`"),
                None,
            );
            return None;
        }
        let _ = span;
        Some((
            fold(
                Ir::Capture(Box::new(s), compiled, Box::new(n)),
                &self.calendar,
            ),
            Type::Str,
        ))
    }

    fn macro_call(
        &mut self,
        kind: MacroKind,
        func: &Ident,
        args: &[Expr],
        span: &Span,
        scope: &mut Scope,
    ) -> Option<Typed> {
        let name = func.name.as_str();
        let sig = signature(name);
        if args.len() != 3 {
            self.err(
                Code::Arity,
                &func.span,
                format!("`{name}` takes a variable name and an expression, e.g. `LIST.{name}(x, x > 0)`"),
                "wrong number of arguments",
                Some(format!("usage: {sig}")),
            );
            return None;
        }
        let (Some(list), Some(var), Some(body)) = (args.first(), args.get(1), args.get(2)) else {
            return None;
        };
        let ExprKind::Ident(var_name) = &var.kind else {
            self.err(
                Code::Syntax,
                &var.span,
                format!("the second argument of `{name}` must be a variable name"),
                "expected a name",
                Some(format!("usage: {sig}")),
            );
            return None;
        };
        self.for_fields = true;
        let (li, lt) = self.expr(list, scope)?;
        let elem = match lt {
            Type::List(e) => *e,
            Type::Null => Type::Null,
            other => {
                self.type_err(
                    &list.span,
                    format!("`{name}` works on a list, but this is `{other}`"),
                    None,
                );
                return None;
            }
        };
        self.shadow_lint(var_name, &var.span);
        let slot = scope.push(var_name, elem.clone());
        let result = self.expr(body, scope);
        // the variable goes out of scope but keeps its slot
        if let Some(pos) = scope.vars.iter().rposition(|v| v.slot == slot) {
            scope.vars.remove(pos);
        }
        let (bi, bt) = result?;
        let ret = match kind {
            MacroKind::Map => Type::list(bt.clone()),
            MacroKind::Count => Type::Int,
            MacroKind::Filter => Type::list(elem),
            _ => Type::Bool,
        };
        if kind != MacroKind::Map && !bt.fits(&Type::Bool) {
            self.type_err(
                &body.span,
                format!("the condition of `{name}` must be a bool, but this is `{bt}`"),
                None,
            );
            return None;
        }
        let _ = span;
        Some((Ir::Macro(kind, Box::new(li), slot, Box::new(bi)), ret))
    }
}

/// Int to float where the unified type is float (list elements, `??`, `?:`).
fn widen(ir: Ir, from: &Type, to: &Type) -> Ir {
    fn needs(from: &Type, to: &Type) -> bool {
        match (from, to) {
            (Type::Int, Type::Float) => true,
            (Type::List(a), Type::List(b)) => needs(a, b),
            _ => false,
        }
    }
    if needs(from, to) {
        return fold(Ir::ToFloat(Box::new(ir)), &Calendar::empty());
    }
    ir
}

fn macro_kind(name: &str) -> Option<MacroKind> {
    Some(match name {
        "exists" => MacroKind::Exists,
        "all" => MacroKind::All,
        "none" => MacroKind::None,
        "count" => MacroKind::Count,
        "filter" => MacroKind::Filter,
        "map" => MacroKind::Map,
        _ => return None,
    })
}

fn plural_args(want: &[usize]) -> String {
    let words: Vec<String> = want
        .iter()
        .map(|n| {
            if *n == 1 {
                "1 argument".to_string()
            } else {
                format!("{n} arguments")
            }
        })
        .collect();
    words.join(" or ")
}

/// A function's usage line, for arity hints.
pub fn signature(name: &str) -> &'static str {
    match name {
        "len" => "len(string or list) -> int",
        "lower" => "lower(string) -> string",
        "upper" => "upper(string) -> string",
        "trim" => "trim(string) -> string",
        "contains" => "contains(string, string) or contains(list, element) -> bool",
        "starts_with" => "starts_with(string, prefix) -> bool",
        "ends_with" => "ends_with(string, suffix) -> bool",
        "matches" => "matches(string, r\"regex\") -> bool",
        "capture" => "capture(string, r\"regex\", group) -> string",
        "replace" => "replace(string, from, to) -> string",
        "split" => "split(string, separator) -> [string]",
        "substr" => "substr(string, start, count) -> string",
        "string" => "string(value) -> string",
        "first" => "first(list)",
        "last" => "last(list)",
        "min" => "min(list) or min(a, b)",
        "max" => "max(list) or max(a, b)",
        "sum" => "sum(list of numbers)",
        "distinct" => "distinct(list) -> list",
        "join" => "join(list, separator) -> string",
        "int" => "int(string, float or bool) -> int",
        "float" => "float(string, int or bool) -> float",
        "abs" => "abs(number or duration)",
        "date" => "date(\"YYYY-MM-DD\") -> date",
        "days" => "days(int) -> duration",
        "weeks" => "weeks(int) -> duration",
        "add_months" => "add_months(date, int) -> date",
        "add_years" => "add_years(date, int) -> date",
        "days_between" => "days_between(date, date) -> int",
        "year" | "month" | "day" | "weekday" => "year(date) -> int",
        "add_workdays" => "add_workdays(date, int) -> date",
        "is_workday" => "is_workday(date) -> bool",
        "date_of" => "date_of(datetime) -> date",
        "is_null" => "is_null(value) -> bool",
        "coalesce" => "coalesce(a, b, ...)",
        "domain" => "domain(string) -> domain",
        "ascii" | "unicode" | "tld" | "suffix" => "tld(domain) -> string",
        "registrable" => "registrable(domain) -> domain",
        "labels" => "labels(domain) -> [string]",
        "is_idn" => "is_idn(domain) -> bool",
        "ip" => "ip(string) -> ip",
        "in_cidr" => "in_cidr(ip, \"10.0.0.0/8\" or list) -> bool",
        "is_private" | "is_ipv6" => "is_private(ip) -> bool",
        "valid_cn_id" | "valid_uscc" | "valid_cn_mobile" => "valid_cn_id(string) -> bool",
        "icp_province" => "icp_province(string) -> string",
        "icp_site" => "icp_site(string) -> int",
        "exists" => "LIST.exists(x, condition) -> bool",
        "all" => "LIST.all(x, condition) -> bool",
        "none" => "LIST.none(x, condition) -> bool",
        "count" => "LIST.count(x, condition) -> int",
        "filter" => "LIST.filter(x, condition) -> list",
        "map" => "LIST.map(x, expression) -> list",
        _ => "",
    }
}

/// A table's data as a value of its inferred type: objects laid out by the unified fields,
/// ints widened where the unified type is float.
fn build_value(node: &Node, ty: &Type) -> Value {
    match (&node.kind, ty) {
        (NodeKind::Seq(items), Type::List(e)) => {
            Value::List(items.iter().map(|i| build_value(i, e)).collect())
        }
        (NodeKind::Map(pairs), Type::Map(v)) => Value::Map(Arc::new(
            pairs
                .iter()
                .map(|(k, val)| (k.text().unwrap_or("").to_string(), build_value(val, v)))
                .collect(),
        )),
        (NodeKind::Map(pairs), Type::Object(o)) => Value::Object(Arc::from(
            o.fields
                .iter()
                .map(|(name, ft)| {
                    pairs
                        .iter()
                        .find(|(k, _)| k.text() == Some(name.as_str()))
                        .map_or(Value::Null, |(_, v)| build_value(v, ft))
                })
                .collect::<Vec<_>>(),
        )),
        (NodeKind::Scalar { .. }, _) => match node.scalar() {
            Some(Scalar::Bool(b)) => Value::Bool(b),
            Some(Scalar::Int(i)) if *ty == Type::Float => Value::Float(i as f64),
            Some(Scalar::Int(i)) => Value::Int(i),
            Some(Scalar::Float(f)) => Value::Float(f),
            Some(Scalar::Str(s)) => Value::str(s),
            _ => Value::Null,
        },
        _ => Value::Null,
    }
}

/// UAX #31 identifier that is not reserved.
pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    (first == '_' || unicode_ident::is_xid_start(first))
        && chars.all(|c| c == '_' || unicode_ident::is_xid_continue(c))
        && !crate::ast::RESERVED.contains(&s)
}

#[allow(dead_code)]
fn unused(_: Option<&str>) -> Option<&str> {
    closest("", std::iter::empty())
}

#[allow(dead_code)]
fn is_const_ir(ir: &Ir) -> bool {
    is_const(ir)
}

/// One checked sub-expression, recorded for `explain`.
#[derive(Debug, Clone)]
pub struct TraceNode {
    /// `for_each`, `let NAME`, `applies_if`, `when`, `message`, `deadline`.
    pub clause: String,
    /// Byte range in the clause's text.
    pub span: Span,
    pub text: String,
    pub ir: Ir,
    pub ty: Type,
}

/// A rule compiled with every sub-expression recorded.
pub struct RuleTrace {
    pub program: Program,
    pub rule_index: usize,
    pub nodes: Vec<TraceNode>,
}

/// Compiles a pack (which must be free of errors) and traces one rule's sub-expressions.
pub fn trace_rule(pack: PackDef, sources: Sources, id: &str) -> Option<RuleTrace> {
    let def = pack.rules.iter().find(|r| r.id == id)?.clone();
    let (program, _) = check(pack.clone(), sources.clone());
    let program = program?;
    let rule_index = program.rules.iter().position(|r| r.id == id)?;
    let mut c = Checker::new(&sources, program.schema.clone());
    c.load_tables(&pack);
    c.trace = Some(Vec::new());
    c.rule(&def)?;
    let nodes = c.trace.take().unwrap_or_default();
    Some(RuleTrace {
        program,
        rule_index,
        nodes,
    })
}

/// One expression compiled against a pack's schema and tables (expression cases).
pub struct CompiledExpr {
    pub program: Program,
    pub ir: Ir,
    pub ty: Type,
    pub locals: usize,
}

/// Checks and compiles one expression (held in `node`) against `pack`'s schema and tables.
pub fn check_expression(
    pack: &PackDef,
    sources: &Sources,
    node: &Node,
) -> Result<CompiledExpr, Vec<Diagnostic>> {
    let schema = Arc::new(pack.schema.clone());
    let mut c = Checker::new(sources, schema.clone());
    c.load_tables(pack);
    let mut scope = Scope::default();
    let result = c.typed_expr(node, &mut scope);
    let errors: Vec<Diagnostic> = c.diags.iter().filter(|d| d.is_error()).cloned().collect();
    match result {
        Some((ir, ty)) if errors.is_empty() => Ok(CompiledExpr {
            ir: crate::compile::optimize(ir),
            program: Program {
                meta: None,
                schema,
                key: None,
                rules: Vec::new(),
                calendar: c.calendar.clone(),
                sources: sources.clone(),
                usage: Arc::new(std::mem::take(&mut c.usage)),
                shared: 0,
                exec: Arc::new(crate::exec::compile(&[], 0)),
            },
            ty,
            locals: scope.slots,
        }),
        _ => Err(errors),
    }
}

/// Whether a list is written out in the pack: a list literal, or a table or a part of one
/// (`tables.mainland_ips`), as opposed to computed by a function or an operator.
fn written_list(e: &Expr) -> bool {
    fn from_tables(e: &Expr) -> bool {
        match &e.kind {
            ExprKind::Ident(n) => n == "tables",
            ExprKind::Field(base, _) | ExprKind::Index(base, _) => from_tables(base),
            _ => false,
        }
    }
    match &e.kind {
        ExprKind::List(_) => true,
        ExprKind::Field(base, _) | ExprKind::Index(base, _) => from_tables(base),
        _ => false,
    }
}
