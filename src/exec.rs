//! Stage 5, the scan's evaluator: each rule of a checked, optimized [`Program`] compiled once
//! into a tree of closures ([`Exec`]), so evaluating a node is one indirect call that does
//! that node's work, instead of a walk of [`Ir`] that matches every node kind, checks whether
//! an operand can be read in place, then reads it.
//!
//! The semantics are [`crate::eval`]'s, which stays the reference (explain, constant folding
//! and the expression cases use it; the cases run every expression through both and compare):
//! Kleene logic, null rules, built-ins through the same `eval::call`. What changes is
//! how values flow:
//!
//! * a node's value is a `Cow<Value>`: a record field, a constant, a `let` or a bound variable
//!   is lent, not cloned; only computed values are owned;
//! * conditions are closures giving `Option<bool>` (null as `None`), never a [`Value`];
//! * a `let` is computed on first read into a [`OnceCell`] (lets are pure, so when is not
//!   observable), shared lets ([`Ir::Shared`]) likewise, once per record or per element;
//! * `for_each` and macro variables are bound in a chain on the stack ([`Vars`]), not written
//!   into slots.
//!
//! The compiled program is immutable and `Send + Sync`; each worker keeps its own [`Cells`].

use std::borrow::Cow;
use std::cell::{OnceCell, RefCell};
use std::cmp::Ordering;
use std::sync::Arc;

use chrono::NaiveDate;

use crate::eval::{
    arith, bool_or_null, call, compare, contains, equal, to_float, Finding, Outcome, NULL,
};
use crate::funcs::dates::Calendar;
use crate::funcs::{china, domain, net};
use crate::program::{Builtin, Cmp, Ir, MacroKind, MsgPart, Program, Rule};
use crate::types::Type;
use crate::value::Value;

/// Everything a closure reads: the record, the constants, `as_of`, the calendar, and the
/// cells of lets computed so far.
pub struct Frame<'x> {
    record: &'x [Value],
    consts: &'x [Value],
    as_of: NaiveDate,
    calendar: &'x Calendar,
    cells: &'x Cells,
    /// The `for_each` element being evaluated (0 without one): selects per-element shared
    /// lets.
    element: usize,
}

/// The variables bound where a closure runs: the `for_each` element and the variables of the
/// macros around it, innermost first.
#[derive(Clone, Copy, Default)]
pub struct Vars<'x>(Option<&'x Bind<'x>>);

pub struct Bind<'x> {
    slot: usize,
    value: &'x Value,
    up: Vars<'x>,
}

impl<'x> Vars<'x> {
    fn get(self, slot: usize) -> &'x Value {
        let mut at = self.0;
        while let Some(b) = at {
            if b.slot == slot {
                return b.value;
            }
            at = b.up.0;
        }
        &NULL
    }
}

type ValFn = dyn for<'x> Fn(&'x Frame<'x>, Vars<'x>) -> Cow<'x, Value> + Send + Sync;
type BoolFn = dyn for<'x> Fn(&'x Frame<'x>, Vars<'x>) -> Option<bool> + Send + Sync;
/// A compiled expression: its value, lent when it is read from somewhere.
type Val = Box<ValFn>;
/// A compiled condition: `Some(b)`, or `None` for null.
type Bool = Box<BoolFn>;

fn val<F>(f: F) -> Val
where
    F: for<'x> Fn(&'x Frame<'x>, Vars<'x>) -> Cow<'x, Value> + Send + Sync + 'static,
{
    Box::new(f)
}

fn test<F>(f: F) -> Bool
where
    F: for<'x> Fn(&'x Frame<'x>, Vars<'x>) -> Option<bool> + Send + Sync + 'static,
{
    Box::new(f)
}

fn owned<'x>(v: Value) -> Cow<'x, Value> {
    Cow::Owned(v)
}

fn null<'x>() -> Cow<'x, Value> {
    Cow::Borrowed(&NULL)
}

/// Slot `slot` of an object value, lent when the object is.
fn field_of(obj: Cow<'_, Value>, slot: usize) -> Cow<'_, Value> {
    match obj {
        Cow::Borrowed(Value::Object(o)) => Cow::Borrowed(o.get(slot).unwrap_or(&NULL)),
        Cow::Owned(Value::Object(o)) => Cow::Owned(o.get(slot).cloned().unwrap_or_default()),
        _ => null(),
    }
}

/// A value's truth as a condition (`None` for null or, which type checking rules out, any
/// other kind).
fn truth(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        _ => None,
    }
}

/// The per-worker state of an evaluation: the values of lets and shared lets computed for the
/// record (or element) being evaluated. Reused from record to record.
#[derive(Default)]
pub struct Cells {
    /// By local slot of the rule being evaluated.
    lets: Vec<OnceCell<Value>>,
    /// Record-level shared lets, by shared slot.
    shared: Vec<OnceCell<Value>>,
    /// Per-element shared lets, by shared slot, then element.
    shared_elements: Vec<Vec<OnceCell<Value>>>,
    /// Capture-group buffers of the regexes `capture` used, by regex address.
    captures: RefCell<Vec<(usize, regex::CaptureLocations)>>,
}

impl Cells {
    fn reset_lets(&mut self, slots: &[usize]) {
        for &s in slots {
            if let Some(c) = self.lets.get_mut(s) {
                c.take();
            }
        }
    }
}

/// One compiled rule.
struct ExecRule {
    /// The slot of the element's variable, and the list.
    for_each: Option<(usize, ForEach)>,
    /// The local slots of its lets (reset per element).
    let_slots: Vec<usize>,
    /// Its per-element shared lets (sized to the element count before the elements run).
    element_shared: Vec<usize>,
    applies_if: Option<Bool>,
    when: Bool,
    message: Vec<Part>,
    deadline: Option<Val>,
    locals: usize,
}

/// A `for_each` list: a field of the record (read in place, its elements lent), or computed.
enum ForEach {
    Path(Box<[usize]>),
    Expr(Val),
}

enum Part {
    Lit(String),
    Hole(Val, Type),
}

/// The compiled program: a compiled rule per rule of the [`Program`], in the same order, and
/// the constants their closures lend.
pub struct Exec {
    rules: Vec<ExecRule>,
    consts: Vec<Value>,
    shared: usize,
}

impl std::fmt::Debug for Exec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exec")
            .field("rules", &self.rules.len())
            .field("consts", &self.consts.len())
            .finish()
    }
}

/// Compiles every rule of a program (run once, when the pack is loaded).
pub fn compile(rules: &[Rule], shared: usize) -> Exec {
    let mut c = Compiler::default();
    let rules = rules.iter().map(|r| c.rule(r)).collect();
    Exec {
        rules,
        consts: c.consts,
        shared,
    }
}

/// A compiled standalone expression (an expression case): its closure and constants.
pub struct Expr {
    val: Val,
    consts: Vec<Value>,
}

/// Compiles an expression that reads no `let` (its locals are macro variables).
pub fn compile_expr(ir: &Ir) -> Expr {
    let mut c = Compiler::default();
    let val = c.val(ir);
    Expr {
        val,
        consts: c.consts,
    }
}

/// Evaluates a compiled expression on a record.
pub fn eval_expr(e: &Expr, record: &[Value], as_of: NaiveDate, calendar: &Calendar) -> Value {
    let cells = Cells::default();
    let frame = Frame {
        record,
        consts: &e.consts,
        as_of,
        calendar,
        cells: &cells,
        element: 0,
    };
    (e.val)(&frame, Vars::default()).into_owned()
}

#[derive(Default)]
struct Compiler {
    consts: Vec<Value>,
    /// The lets of the rule being compiled, by local slot: their compiled closures, shared by
    /// every place that reads them.
    lets: Vec<(usize, Arc<ValFn>)>,
    /// The lets of the rule compiled where they are read instead, by local slot.
    inline: Vec<(usize, Ir)>,
}

impl Compiler {
    fn constant(&mut self, v: &Value) -> usize {
        self.consts.push(v.clone());
        self.consts.len() - 1
    }

    fn rule(&mut self, rule: &Rule) -> ExecRule {
        self.lets.clear();
        self.inline.clear();
        // a let read in one place, outside any macro, is compiled into that place: it is
        // computed at most once anyway, and needs no cell (nor a copy of its value in one)
        let mut reads = std::collections::HashMap::new();
        for ir in rule_exprs(rule) {
            count_reads(ir, false, &mut reads);
        }
        // lets may read earlier lets: compile in order, each seeing those before it (the
        // checker orders them so that a let reads only lets defined before it)
        for (slot, ir) in &rule.lets {
            if reads.get(slot).copied().unwrap_or(0) <= 1 {
                self.inline.push((*slot, ir.clone()));
                continue;
            }
            let f: Arc<ValFn> = Arc::from(self.val(ir));
            self.lets.push((*slot, f));
        }
        let mut element_shared = Vec::new();
        let mut note_shared = |ir: &Ir| collect_element_shared(ir, &mut element_shared);
        for (_, ir) in &rule.lets {
            note_shared(ir);
        }
        if let Some(a) = &rule.applies_if {
            note_shared(a);
        }
        note_shared(&rule.when);
        for p in &rule.message {
            if let MsgPart::Hole(ir, _) = p {
                note_shared(ir);
            }
        }
        if let Some(d) = &rule.deadline {
            note_shared(d);
        }
        element_shared.sort_unstable();
        element_shared.dedup();
        let out = ExecRule {
            // the element is bound as a variable (see `Vars`), not kept in a slot
            for_each: rule.for_each.as_ref().map(|(slot, list)| {
                let list = match list {
                    Ir::RecordPath(slots) => ForEach::Path(slots.clone()),
                    other => ForEach::Expr(self.val(other)),
                };
                (*slot, list)
            }),
            let_slots: self.lets.iter().map(|(s, _)| *s).collect(),
            element_shared,
            applies_if: rule.applies_if.as_ref().map(|a| self.test(a)),
            when: self.test(&rule.when),
            message: rule
                .message
                .iter()
                .map(|p| match p {
                    MsgPart::Lit(s) => Part::Lit(s.clone()),
                    MsgPart::Hole(ir, ty) => Part::Hole(self.val(ir), ty.clone()),
                })
                .collect(),
            deadline: rule.deadline.as_ref().map(|d| self.val(d)),
            locals: rule.locals,
        };
        self.lets.clear();
        self.inline.clear();
        out
    }

    /// The definition of a let compiled where it is read (see [`Compiler::rule`]).
    fn inlined(&self, slot: usize) -> Option<Ir> {
        self.inline
            .iter()
            .find(|(s, _)| *s == slot)
            .map(|(_, ir)| ir.clone())
    }

    /// Whether local `slot` is a variable (of `for_each` or a macro), not a let.
    fn is_var(&self, slot: usize) -> bool {
        self.let_of(slot).is_none() && self.inline.iter().all(|(s, _)| *s != slot)
    }

    fn let_of(&self, slot: usize) -> Option<Arc<ValFn>> {
        self.lets
            .iter()
            .find(|(s, _)| *s == slot)
            .map(|(_, f)| f.clone())
    }

    /// Compiles `ir` for its value.
    fn val(&mut self, ir: &Ir) -> Val {
        match ir {
            Ir::Const(v) => {
                let i = self.constant(v);
                val(move |f, _| Cow::Borrowed(f.consts.get(i).unwrap_or(&NULL)))
            }
            Ir::Record => val(|f, _| owned(Value::Object(Arc::from(f.record)))),
            Ir::Local(slot) => {
                let slot = *slot;
                if let Some(def) = self.inlined(slot) {
                    return self.val(&def);
                }
                match self.let_of(slot) {
                    Some(def) => val(move |f, vars| {
                        let Some(cell) = f.cells.lets.get(slot) else {
                            return owned(def(f, vars).into_owned());
                        };
                        Cow::Borrowed(cell.get_or_init(|| def(f, vars).into_owned()))
                    }),
                    None => val(move |_, vars| Cow::Borrowed(vars.get(slot))),
                }
            }
            Ir::AsOf => val(|f, _| owned(Value::Date(f.as_of))),
            Ir::Shared(slot, per_element, inner) => {
                let (slot, per_element) = (*slot, *per_element);
                let inner = self.val(inner);
                val(move |f, vars| {
                    let cell = if per_element {
                        f.cells
                            .shared_elements
                            .get(slot)
                            .and_then(|s| s.get(f.element))
                    } else {
                        f.cells.shared.get(slot)
                    };
                    match cell {
                        Some(c) => Cow::Borrowed(c.get_or_init(|| inner(f, vars).into_owned())),
                        None => owned(inner(f, vars).into_owned()),
                    }
                })
            }
            Ir::RecordPath(slots) => record_path(slots),
            Ir::Field(base, slot) => {
                let slot = *slot;
                match base.as_ref() {
                    Ir::Record => {
                        val(move |f, _| Cow::Borrowed(f.record.get(slot).unwrap_or(&NULL)))
                    }
                    Ir::Local(v) if self.is_var(*v) => {
                        let v = *v;
                        val(move |_, vars| match vars.get(v) {
                            Value::Object(o) => Cow::Borrowed(o.get(slot).unwrap_or(&NULL)),
                            _ => null(),
                        })
                    }
                    _ => {
                        let base = self.val(base);
                        val(move |f, vars| field_of(base(f, vars), slot))
                    }
                }
            }
            Ir::Index(base, index) => {
                let (base, index) = (self.val(base), self.val(index));
                val(move |f, vars| {
                    let l = base(f, vars);
                    let i = index(f, vars);
                    let Value::Int(i) = *i else {
                        return null();
                    };
                    let Ok(i) = usize::try_from(i) else {
                        return null();
                    };
                    match l {
                        Cow::Borrowed(Value::List(items)) => {
                            Cow::Borrowed(items.get(i).unwrap_or(&NULL))
                        }
                        Cow::Owned(Value::List(items)) => {
                            owned(items.get(i).cloned().unwrap_or_default())
                        }
                        _ => null(),
                    }
                })
            }
            Ir::MapGet(base, key) => {
                let key = self.val(key);
                match base.as_ref() {
                    // a table row: lent from the constant table
                    Ir::Const(m @ Value::Map(_)) => {
                        let i = self.constant(m);
                        val(move |f, vars| {
                            let k = key(f, vars);
                            match (f.consts.get(i), &*k) {
                                (Some(Value::Map(m)), Value::Str(k)) => {
                                    Cow::Borrowed(m.get(k.as_ref()).unwrap_or(&NULL))
                                }
                                _ => null(),
                            }
                        })
                    }
                    _ => {
                        let base = self.val(base);
                        val(move |f, vars| {
                            let m = base(f, vars);
                            let k = key(f, vars);
                            let Value::Str(k) = &*k else {
                                return null();
                            };
                            match m {
                                Cow::Borrowed(Value::Map(m)) => {
                                    Cow::Borrowed(m.get(k.as_ref()).unwrap_or(&NULL))
                                }
                                Cow::Owned(Value::Map(m)) => {
                                    owned(m.get(k.as_ref()).cloned().unwrap_or_default())
                                }
                                _ => null(),
                            }
                        })
                    }
                }
            }
            Ir::List(items) => {
                let items: Vec<Val> = items.iter().map(|i| self.val(i)).collect();
                val(move |f, vars| {
                    owned(Value::List(
                        items.iter().map(|i| i(f, vars).into_owned()).collect(),
                    ))
                })
            }
            Ir::ToFloat(x) => {
                let x = self.val(x);
                val(move |f, vars| match x(f, vars) {
                    Cow::Borrowed(Value::Int(i)) => owned(Value::Float(*i as f64)),
                    Cow::Borrowed(v @ (Value::Float(_) | Value::Null)) => Cow::Borrowed(v),
                    v => owned(to_float(v.into_owned())),
                })
            }
            Ir::Neg(x) => {
                let x = self.val(x);
                val(move |f, vars| {
                    owned(match *x(f, vars) {
                        Value::Int(i) => i.checked_neg().map_or(Value::Null, Value::Int),
                        Value::Float(v) if (-v).is_finite() => Value::Float(-v),
                        Value::Duration(d) => d.checked_neg().map_or(Value::Null, Value::Duration),
                        _ => Value::Null,
                    })
                })
            }
            Ir::Arith(op, x, y) => {
                let (op, x, y) = (*op, self.val(x), self.val(y));
                val(move |f, vars| {
                    let a = x(f, vars).into_owned();
                    let b = y(f, vars).into_owned();
                    owned(arith(op, a, b))
                })
            }
            Ir::Coalesce(x, y) => {
                let (x, y) = (self.val(x), self.val(y));
                val(move |f, vars| match x(f, vars) {
                    v if v.is_null() => y(f, vars),
                    v => v,
                })
            }
            Ir::Cond(c, x, y) => {
                let (c, x, y) = (self.test(c), self.val(x), self.val(y));
                val(move |f, vars| match c(f, vars) {
                    Some(true) => x(f, vars),
                    Some(false) => y(f, vars),
                    None => null(),
                })
            }
            Ir::Capture(x, re, n) => {
                let (x, re, n) = (self.val(x), re.clone(), self.val(n));
                val(move |f, vars| {
                    let s = x(f, vars);
                    let n = n(f, vars);
                    let (Value::Str(s), Value::Int(n)) = (&*s, &*n) else {
                        return null();
                    };
                    let Ok(n) = usize::try_from(*n) else {
                        return null();
                    };
                    owned(capture(f.cells, &re, s, n))
                })
            }
            Ir::Join(l, sep, elem) => {
                let (l, sep, elem) = (self.val(l), self.val(sep), elem.clone());
                val(move |f, vars| {
                    let items = l(f, vars);
                    let sep = sep(f, vars);
                    let (Value::List(items), Value::Str(sep)) = (&*items, &*sep) else {
                        return null();
                    };
                    let mut out = String::new();
                    for (i, v) in items.iter().enumerate() {
                        if i > 0 {
                            out.push_str(sep);
                        }
                        v.render_into(&elem, &mut out);
                    }
                    owned(Value::Str(Arc::from(out)))
                })
            }
            Ir::Render(x, ty) => {
                let (x, ty) = (self.val(x), ty.clone());
                val(move |f, vars| match &*x(f, vars) {
                    Value::Null => null(),
                    v => owned(Value::Str(Arc::from(v.render(&ty)))),
                })
            }
            Ir::Macro(kind @ (MacroKind::Count | MacroKind::Filter | MacroKind::Map), l, s, b) => {
                self.collect_macro(*kind, l, *s, b)
            }
            Ir::Call(fun, args) => self.call(*fun, args),
            // conditions: computed as one, given as a bool value
            Ir::Not(_)
            | Ir::Cmp(..)
            | Ir::In(..)
            | Ir::InStrSet(..)
            | Ir::InDomainSet(..)
            | Ir::InCidr(..)
            | Ir::InCidrDyn(..)
            | Ir::InDomainDyn(..)
            | Ir::And(_)
            | Ir::Or(_)
            | Ir::Matches(..)
            | Ir::Macro(..)
            | Ir::AnyContains(_)
            | Ir::EqStr(..)
            | Ir::EqNull(..)
            | Ir::EqBool(..) => {
                let t = self.test(ir);
                val(move |f, vars| owned(bool_or_null(t(f, vars))))
            }
        }
    }

    /// Compiles `ir` as a condition.
    fn test(&mut self, ir: &Ir) -> Bool {
        if let Ir::Local(slot) = ir {
            if let Some(def) = self.inlined(*slot) {
                return self.test(&def);
            }
        }
        match ir {
            // `and` and `or` are written out apart: one closure deciding on a captured value
            // ran 0.3% more instructions a record
            Ir::And(items) => {
                let items: Vec<Bool> = items.iter().map(|i| self.test(i)).collect();
                test(move |f, vars| {
                    let mut unknown = false;
                    for i in &items {
                        match i(f, vars) {
                            Some(false) => return Some(false),
                            Some(true) => {}
                            None => unknown = true,
                        }
                    }
                    (!unknown).then_some(true)
                })
            }
            Ir::Or(items) => {
                let items: Vec<Bool> = items.iter().map(|i| self.test(i)).collect();
                test(move |f, vars| {
                    let mut unknown = false;
                    for i in &items {
                        match i(f, vars) {
                            Some(true) => return Some(true),
                            Some(false) => {}
                            None => unknown = true,
                        }
                    }
                    (!unknown).then_some(false)
                })
            }
            Ir::Not(x) => {
                let x = self.test(x);
                test(move |f, vars| x(f, vars).map(|v| !v))
            }
            Ir::EqBool(ne, x, want) => {
                let (ne, want, x) = (*ne, *want, self.val(x));
                test(move |f, vars| Some(matches!(*x(f, vars), Value::Bool(v) if v == want) != ne))
            }
            Ir::EqNull(ne, x) => {
                let (ne, x) = (*ne, self.val(x));
                test(move |f, vars| Some(x(f, vars).is_null() != ne))
            }
            Ir::EqStr(ne, x, s) => {
                let (ne, s, x) = (*ne, s.clone(), self.val(x));
                test(move |f, vars| {
                    let same = matches!(&*x(f, vars), Value::Str(v) if v.as_ref() == s.as_ref());
                    Some(same != ne)
                })
            }
            Ir::InStrSet(x, set) => {
                let set = set.clone();
                // `tld(d) in SET` without building the text
                if let Ir::Call(Builtin::Tld, args) = x.as_ref() {
                    if let [d] = args.as_slice() {
                        let d = self.val(d);
                        return test(move |f, vars| match &*d(f, vars) {
                            Value::Domain(d) => Some(set.contains(d.tld())),
                            _ => None,
                        });
                    }
                }
                let x = self.val(x);
                test(move |f, vars| match &*x(f, vars) {
                    Value::Str(s) => Some(set.contains(s)),
                    _ => None,
                })
            }
            Ir::InDomainSet(x, set) => {
                let (x, set) = (self.val(x), set.clone());
                test(move |f, vars| match &*x(f, vars) {
                    Value::Domain(d) => Some(set.contains(d.ascii())),
                    _ => None,
                })
            }
            Ir::InCidr(x, set) => {
                let (x, set) = (self.val(x), set.clone());
                test(move |f, vars| match &*x(f, vars) {
                    Value::Ip(ip) => Some(set.contains(ip)),
                    _ => None,
                })
            }
            Ir::InCidrDyn(x, l) => {
                let (x, l) = (self.val(x), self.val(l));
                test(move |f, vars| {
                    let x = x(f, vars);
                    let l = l(f, vars);
                    match (&*x, &*l) {
                        (Value::Ip(ip), Value::List(items)) => Some(
                            net::CidrSet::parse_lenient(items.iter().filter_map(Value::as_str))
                                .contains(ip),
                        ),
                        _ => None,
                    }
                })
            }
            Ir::InDomainDyn(x, l) => {
                let (x, l) = (self.val(x), self.val(l));
                test(move |f, vars| {
                    let x = x(f, vars);
                    let l = l(f, vars);
                    match (&*x, &*l) {
                        (Value::Domain(d), Value::List(items)) => {
                            Some(items.iter().filter_map(Value::as_str).any(|s| {
                                domain::normalize_domain_str(s).as_deref() == Some(d.ascii())
                            }))
                        }
                        _ => None,
                    }
                })
            }
            Ir::In(x, l) => {
                let (x, l) = (self.val(x), self.val(l));
                test(move |f, vars| {
                    let x = x(f, vars);
                    let l = l(f, vars);
                    match (&*x, &*l) {
                        (Value::Null, _) | (_, Value::Null) => None,
                        (Value::Str(s), Value::Str(t)) => Some(t.contains(s.as_ref())),
                        (Value::Str(k), Value::Map(m)) => Some(m.contains_key(k.as_ref())),
                        (x, Value::List(items)) => Some(contains(items, x)),
                        _ => None,
                    }
                })
            }
            Ir::Cmp(op, x, y) => {
                let (op, x, y) = (*op, self.val(x), self.val(y));
                match op {
                    Cmp::Eq => test(move |f, vars| Some(equal(&x(f, vars), &y(f, vars)))),
                    Cmp::Ne => test(move |f, vars| Some(!equal(&x(f, vars), &y(f, vars)))),
                    _ => test(move |f, vars| {
                        let o = compare(&x(f, vars), &y(f, vars))?;
                        Some(match op {
                            Cmp::Lt => o == Ordering::Less,
                            Cmp::Le => o != Ordering::Greater,
                            Cmp::Gt => o == Ordering::Greater,
                            _ => o != Ordering::Less,
                        })
                    }),
                }
            }
            Ir::Matches(x, re) => {
                let (x, re) = (self.val(x), re.clone());
                test(move |f, vars| match &*x(f, vars) {
                    Value::Str(s) => Some(re.is_match(s)),
                    _ => None,
                })
            }
            Ir::AnyContains(any) => {
                let haystacks: Vec<Val> = any.haystacks.iter().map(|h| self.val(h)).collect();
                let (matcher, no_words, negate) = (any.matcher.clone(), any.no_words, any.negate);
                test(move |f, vars| {
                    let mut unknown = false;
                    if !no_words {
                        for h in &haystacks {
                            match &*h(f, vars) {
                                Value::Str(text) => {
                                    if matcher.is_match(text.as_ref()) {
                                        return Some(!negate);
                                    }
                                }
                                _ => unknown = true,
                            }
                        }
                    }
                    (!unknown).then_some(negate)
                })
            }
            Ir::Macro(kind @ (MacroKind::Exists | MacroKind::None | MacroKind::All), l, s, b) => {
                let (kind, slot) = (*kind, *s);
                let (list, body) = (self.val(l), self.test(b));
                // the value that decides: true for exists/none, false for all
                let want = kind != MacroKind::All;
                test(move |f, vars| {
                    let list = list(f, vars);
                    let Value::List(items) = &*list else {
                        return None;
                    };
                    let mut unknown = false;
                    let mut decided = false;
                    for item in items.iter() {
                        let bind = Bind {
                            slot,
                            value: item,
                            up: vars,
                        };
                        match body(f, Vars(Some(&bind))) {
                            Some(v) if v == want => {
                                decided = true;
                                break;
                            }
                            Some(_) => {}
                            None => unknown = true,
                        }
                    }
                    let r = if decided {
                        Some(want)
                    } else if unknown {
                        None
                    } else {
                        Some(!want)
                    };
                    if kind == MacroKind::None {
                        r.map(|v| !v)
                    } else {
                        r
                    }
                })
            }
            // values used as conditions: a bool is true or false, anything else null
            other => {
                let v = self.val(other);
                test(move |f, vars| truth(&v(f, vars)))
            }
        }
    }

    /// `count`, `filter` and `map`.
    fn collect_macro(&mut self, kind: MacroKind, list: &Ir, slot: usize, body: &Ir) -> Val {
        let list = self.val(list);
        match kind {
            MacroKind::Map => {
                let body = self.val(body);
                val(move |f, vars| {
                    let l = list(f, vars);
                    let Value::List(items) = &*l else {
                        return null();
                    };
                    let mut out = Vec::with_capacity(items.len());
                    for item in items.iter() {
                        let bind = Bind {
                            slot,
                            value: item,
                            up: vars,
                        };
                        out.push(body(f, Vars(Some(&bind))).into_owned());
                    }
                    owned(Value::List(Arc::from(out)))
                })
            }
            _ => {
                let count = kind == MacroKind::Count;
                let body = self.test(body);
                val(move |f, vars| {
                    let l = list(f, vars);
                    let Value::List(items) = &*l else {
                        return null();
                    };
                    let mut n = 0i64;
                    let mut out = Vec::new();
                    for item in items.iter() {
                        let bind = Bind {
                            slot,
                            value: item,
                            up: vars,
                        };
                        if body(f, Vars(Some(&bind))) == Some(true) {
                            if count {
                                n += 1;
                            } else {
                                out.push(item.clone());
                            }
                        }
                    }
                    owned(if count {
                        Value::Int(n)
                    } else {
                        Value::List(Arc::from(out))
                    })
                })
            }
        }
    }

    /// A built-in call: a null argument gives null (but for `is_null` and `coalesce`).
    fn call(&mut self, fun: Builtin, args: &[Ir]) -> Val {
        let mut args: Vec<Val> = args.iter().map(|a| self.val(a)).collect();
        match fun {
            Builtin::IsNull => {
                let first = (!args.is_empty()).then(|| args.swap_remove(0));
                return val(move |f, vars| {
                    owned(Value::Bool(
                        first.as_ref().is_none_or(|a| a(f, vars).is_null()),
                    ))
                });
            }
            Builtin::Coalesce => {
                return val(move |f, vars| {
                    for a in &args {
                        let v = a(f, vars);
                        if !v.is_null() {
                            return v;
                        }
                    }
                    null()
                });
            }
            _ => {}
        }
        // text functions that often leave their text as it is: that text is given back as it
        // came (lent, when it was), not shared anew; and the checks of text, without a call of
        // the general `call`
        if let [_] = args.as_slice() {
            let pred: Option<fn(&str) -> bool> = match fun {
                Builtin::ValidUscc => Some(china::valid_uscc),
                Builtin::ValidCnId => Some(china::valid_cn_id),
                Builtin::ValidCnMobile => Some(china::valid_cn_mobile),
                _ => None,
            };
            if let Some((pred, x)) = pred.and_then(|p| Some((p, args.pop()?))) {
                return val(move |f, vars| match &*x(f, vars) {
                    Value::Str(s) => owned(Value::Bool(pred(s))),
                    _ => null(),
                });
            }
            let edit: Option<fn(&str) -> Option<String>> = match fun {
                Builtin::Trim => {
                    Some(|s| (s.trim().len() != s.len()).then(|| s.trim().to_string()))
                }
                Builtin::Upper => Some(|s| {
                    (!s.is_ascii() || s.bytes().any(|c| c.is_ascii_lowercase()))
                        .then(|| s.to_uppercase())
                }),
                Builtin::Lower => Some(|s| {
                    (!s.is_ascii() || s.bytes().any(|c| c.is_ascii_uppercase()))
                        .then(|| s.to_lowercase())
                }),
                _ => None,
            };
            if let Some((edit, x)) = edit.and_then(|e| Some((e, args.pop()?))) {
                return val(move |f, vars| {
                    let a = x(f, vars);
                    let edited = match &*a {
                        Value::Str(s) => edit(s),
                        _ => return null(),
                    };
                    match edited {
                        None => a,
                        Some(t) => owned(Value::Str(Arc::from(t))),
                    }
                });
            }
        }
        if let (Builtin::Replace, [_, _, _]) = (fun, args.as_slice()) {
            let mut it = args.into_iter();
            let (Some(x), Some(from), Some(to)) = (it.next(), it.next(), it.next()) else {
                return val(|_, _| null());
            };
            return val(move |f, vars| {
                let a = x(f, vars);
                if a.is_null() {
                    return null();
                }
                let from = from(f, vars);
                if from.is_null() {
                    return null();
                }
                let to = to(f, vars);
                let edited = match (&*a, &*from, &*to) {
                    (Value::Str(s), Value::Str(from), Value::Str(to)) => (!from.is_empty()
                        && s.contains(from.as_ref()))
                    .then(|| s.replace(from.as_ref(), to)),
                    _ => return null(),
                };
                match edited {
                    None => a,
                    Some(t) => owned(Value::Str(Arc::from(t))),
                }
            });
        }
        let mut it = args.into_iter();
        match (it.next(), it.next(), it.next()) {
            (Some(x), None, _) => val(move |f, vars| {
                let a = x(f, vars);
                if a.is_null() {
                    return null();
                }
                owned(call(fun, &a, &NULL, &NULL, f.calendar))
            }),
            (Some(x), Some(y), None) => val(move |f, vars| {
                let a = x(f, vars);
                if a.is_null() {
                    return null();
                }
                let b = y(f, vars);
                if b.is_null() {
                    return null();
                }
                owned(call(fun, &a, &b, &NULL, f.calendar))
            }),
            (Some(x), Some(y), Some(z)) => val(move |f, vars| {
                let a = x(f, vars);
                if a.is_null() {
                    return null();
                }
                let b = y(f, vars);
                if b.is_null() {
                    return null();
                }
                let c = z(f, vars);
                if c.is_null() {
                    return null();
                }
                owned(call(fun, &a, &b, &c, f.calendar))
            }),
            // no built-in takes no argument
            (None, ..) => val(move |f, _| owned(call(fun, &NULL, &NULL, &NULL, f.calendar))),
        }
    }
}

/// A field chain from the record, read in place.
fn record_path(slots: &[usize]) -> Val {
    match *slots {
        [a] => val(move |f, _| Cow::Borrowed(f.record.get(a).unwrap_or(&NULL))),
        [a, b] => val(move |f, _| match f.record.get(a) {
            Some(Value::Object(o)) => Cow::Borrowed(o.get(b).unwrap_or(&NULL)),
            _ => null(),
        }),
        _ => {
            let slots: Box<[usize]> = slots.into();
            val(move |f, _| Cow::Borrowed(path_in(f.record, &slots).unwrap_or(&NULL)))
        }
    }
}

/// Every expression of a rule but its `for_each` list.
fn rule_exprs(rule: &Rule) -> impl Iterator<Item = &Ir> {
    let holes = rule.message.iter().filter_map(|p| match p {
        MsgPart::Hole(ir, _) => Some(ir),
        MsgPart::Lit(_) => None,
    });
    rule.lets
        .iter()
        .map(|(_, ir)| ir)
        .chain(rule.applies_if.iter())
        .chain(std::iter::once(&rule.when))
        .chain(holes)
        .chain(rule.deadline.iter())
}

/// Counts the reads of each local slot in `ir`; a read inside a macro's body counts as many.
fn count_reads(ir: &Ir, in_body: bool, reads: &mut std::collections::HashMap<usize, usize>) {
    match ir {
        Ir::Local(s) => *reads.entry(*s).or_default() += if in_body { 2 } else { 1 },
        Ir::Macro(_, list, _, body) => {
            count_reads(list, in_body, reads);
            count_reads(body, true, reads);
        }
        _ => ir
            .children()
            .into_iter()
            .for_each(|c| count_reads(c, in_body, reads)),
    }
}

/// The value at a chain of fields from the record.
fn path_in<'r>(record: &'r [Value], slots: &[usize]) -> Option<&'r Value> {
    let (first, rest) = slots.split_first()?;
    let mut v = record.get(*first)?;
    for slot in rest {
        match v {
            Value::Object(o) => v = o.get(*slot)?,
            _ => return None,
        }
    }
    Some(v)
}

/// The per-element shared slots `ir` reads.
fn collect_element_shared(ir: &Ir, out: &mut Vec<usize>) {
    if let Ir::Shared(slot, true, _) = ir {
        out.push(*slot);
    }
    for c in ir.children() {
        collect_element_shared(c, out);
    }
}

/// `capture(s, re, n)`: group `n` of the first match, the whole text shared when it is the
/// whole match.
fn capture(cells: &Cells, re: &regex::Regex, s: &Arc<str>, n: usize) -> Value {
    let key = std::ptr::from_ref(re) as usize;
    let Ok(mut bufs) = cells.captures.try_borrow_mut() else {
        return Value::Null;
    };
    let at = match bufs.iter().position(|(k, _)| *k == key) {
        Some(i) => i,
        None => {
            bufs.push((key, re.capture_locations()));
            bufs.len() - 1
        }
    };
    let Some((_, locs)) = bufs.get_mut(at) else {
        return Value::Null;
    };
    match re.captures_read(locs, s).and_then(|_| locs.get(n)) {
        Some((0, end)) if end == s.len() => Value::Str(s.clone()),
        Some((start, end)) => s.get(start..end).map_or(Value::Null, Value::str),
        None => Value::Null,
    }
}

/// Evaluates the rules whose indices are in `rules` (in that order) on a record, with a
/// worker's reused cells.
pub fn evaluate(
    program: &Program,
    rules: &[usize],
    record: &[Value],
    as_of: NaiveDate,
    cells: &mut Cells,
) -> Outcome {
    let exec = &program.exec;
    let mut out = Outcome::default();
    if cells.shared.len() < exec.shared {
        cells.shared.resize_with(exec.shared, OnceCell::new);
    }
    for &ri in rules {
        let Some(rule) = exec.rules.get(ri) else {
            continue;
        };
        let undetermined = eval_rule(
            exec,
            rule,
            ri,
            record,
            as_of,
            &program.calendar,
            cells,
            &mut out.findings,
        );
        if undetermined > 0 {
            out.undetermined.push((ri, undetermined));
        }
    }
    // the shared values belong to this record
    for c in &mut cells.shared {
        c.take();
    }
    for s in &mut cells.shared_elements {
        s.iter_mut().for_each(|c| {
            c.take();
        });
    }
    out
}

/// Evaluates one compiled rule; pushes its findings and returns the number of undetermined
/// evaluations.
#[allow(clippy::too_many_arguments)]
fn eval_rule(
    exec: &Exec,
    rule: &ExecRule,
    index: usize,
    record: &[Value],
    as_of: NaiveDate,
    calendar: &Calendar,
    cells: &mut Cells,
    findings: &mut Vec<Finding>,
) -> u32 {
    if cells.lets.len() < rule.locals {
        cells.lets.resize_with(rule.locals, OnceCell::new);
    }
    cells.reset_lets(&rule.let_slots);
    let mut undetermined = 0;
    let Some((slot, list)) = &rule.for_each else {
        let f = frame(record, &exec.consts, as_of, calendar, cells, 0);
        if let Some(found) = eval_element(rule, index, None, &f, Vars::default(), &mut undetermined)
        {
            findings.push(found);
        }
        return undetermined;
    };
    // the list is held apart from the cells, which are reset between elements: a field of the
    // record is lent by the record, a computed list is kept here
    let computed;
    let items: &[Value] = match list {
        ForEach::Path(slots) => match path_in(record, slots) {
            Some(Value::List(items)) => items,
            _ => return 0,
        },
        ForEach::Expr(list) => {
            let f = frame(record, &exec.consts, as_of, calendar, cells, 0);
            match list(&f, Vars::default()).into_owned() {
                Value::List(items) => {
                    computed = items;
                    &computed
                }
                _ => return 0,
            }
        }
    };
    for &s in &rule.element_shared {
        if let Some(v) = cells.shared_elements.get_mut(s) {
            if v.len() < items.len() {
                v.resize_with(items.len(), OnceCell::new);
            }
        } else {
            if cells.shared_elements.len() <= s {
                cells.shared_elements.resize_with(s + 1, Vec::new);
            }
            if let Some(v) = cells.shared_elements.get_mut(s) {
                v.resize_with(items.len(), OnceCell::new);
            }
        }
    }
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            cells.reset_lets(&rule.let_slots);
        }
        let f = frame(record, &exec.consts, as_of, calendar, cells, i);
        let bind = Bind {
            slot: *slot,
            value: item,
            up: Vars::default(),
        };
        let vars = Vars(Some(&bind));
        if let Some(found) = eval_element(rule, index, Some(i), &f, vars, &mut undetermined) {
            findings.push(found);
        }
    }
    undetermined
}

fn frame<'x>(
    record: &'x [Value],
    consts: &'x [Value],
    as_of: NaiveDate,
    calendar: &'x Calendar,
    cells: &'x Cells,
    element: usize,
) -> Frame<'x> {
    Frame {
        record,
        consts,
        as_of,
        calendar,
        cells,
        element,
    }
}

fn eval_element(
    rule: &ExecRule,
    index: usize,
    element: Option<usize>,
    f: &Frame<'_>,
    vars: Vars<'_>,
    undetermined: &mut u32,
) -> Option<Finding> {
    if let Some(a) = &rule.applies_if {
        match a(f, vars) {
            Some(true) => {}
            Some(false) => return None,
            None => {
                *undetermined += 1;
                return None;
            }
        }
    }
    match (rule.when)(f, vars) {
        Some(true) => {}
        Some(false) => return None,
        None => {
            *undetermined += 1;
            return None;
        }
    }
    let mut message = String::new();
    for p in &rule.message {
        match p {
            Part::Lit(s) => message.push_str(s),
            Part::Hole(v, ty) => v(f, vars).render_into(ty, &mut message),
        }
    }
    let deadline = rule.deadline.as_ref().and_then(|d| d(f, vars).as_date());
    Some(Finding {
        rule: index,
        element,
        message,
        deadline,
    })
}

#[allow(dead_code)]
fn assert_send_sync() {
    fn is<T: Send + Sync>() {}
    is::<Exec>();
}
