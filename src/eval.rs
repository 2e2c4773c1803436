//! Stage 5, evaluate, the reference: walks an expression's [`Ir`] on one record (SPEC §2.3 null
//! rules, Kleene logic; overflow, division by zero and non-finite results give null).
//! Evaluation is total: no input can make it fail or panic. Scans, `beian test` and the
//! findings `explain` reports run the compiled closures of [`crate::exec`] instead, which must
//! give the same values (every expression case runs through both); this walker serves constant
//! folding, `explain`'s trace of each sub-expression, and the expression cases. The built-ins
//! (`call`), arithmetic (`arith`), equality and order ([`equal`], [`compare`]) are shared.

use rustc_hash::FxHashSet;
use std::borrow::Cow;
use std::cmp::Ordering;
use std::sync::Arc;

use chrono::{Datelike, NaiveDate};

use crate::funcs::dates::Calendar;
use crate::funcs::{china, dates, domain, net, text};
use crate::load::Severity;
use crate::program::{AnyContains, Arith, Builtin, Cmp, Ir, MacroKind, Program};
use crate::value::Value;

/// What a rule found on one record (one `for_each` element).
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// Index of the rule in the program.
    pub rule: usize,
    pub element: Option<usize>,
    pub message: String,
    pub deadline: Option<NaiveDate>,
}

impl Finding {
    pub fn days_left(&self, as_of: NaiveDate) -> Option<i64> {
        self.deadline.map(|d| (d - as_of).num_days())
    }
}

/// The result of evaluating the selected rules on one record.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub findings: Vec<Finding>,
    /// (rule index, undetermined evaluations) for rules with any.
    pub undetermined: Vec<(usize, u32)>,
}

/// The evaluation context of one record.
pub struct Env<'a, 'r> {
    pub record: &'r [Value],
    pub locals: Vec<Value>,
    pub as_of: NaiveDate,
    pub calendar: &'a Calendar,
    /// `let` values not computed yet: a let is evaluated when first read (lets are pure, so
    /// this is unobservable), so a rule whose `applies_if` is false costs only that test.
    pub pending: Vec<Option<&'a Ir>>,
    /// Capture-group buffers of the regexes `capture` used, by regex address (so a capture
    /// allocates only its result).
    pub captures: Vec<(usize, regex::CaptureLocations)>,
    /// Values of shared lets (see [`Ir::Shared`]) computed for this record: by shared slot,
    /// then by element (index 0 for a record-level one).
    pub shared: Vec<Vec<Option<Value>>>,
    /// The index of the `for_each` element being evaluated (0 without one).
    pub element: usize,
}

impl<'a, 'r> Env<'a, 'r> {
    /// A shared let's value: kept from another rule, or computed now and kept. (Not inlined:
    /// it would grow the frame of the recursive `eval`.)
    #[inline(never)]
    fn shared(&mut self, slot: usize, per_element: bool, ir: &Ir) -> Value {
        let at = if per_element { self.element } else { 0 };
        if let Some(Some(v)) = self.shared.get(slot).and_then(|s| s.get(at)) {
            return v.clone();
        }
        let v = eval(ir, self);
        if self.shared.len() <= slot {
            self.shared.resize_with(slot + 1, Vec::new);
        }
        if let Some(s) = self.shared.get_mut(slot) {
            if s.len() <= at {
                s.resize(at + 1, None);
            }
            if let Some(x) = s.get_mut(at) {
                *x = Some(v.clone());
            }
        }
        v
    }

    /// The capture buffer for `re`.
    fn capture_locations(&mut self, re: &regex::Regex) -> Option<&mut regex::CaptureLocations> {
        let key = std::ptr::from_ref(re) as usize;
        let at = match self.captures.iter().position(|(k, _)| *k == key) {
            Some(i) => i,
            None => {
                self.captures.push((key, re.capture_locations()));
                self.captures.len() - 1
            }
        };
        self.captures.get_mut(at).map(|(_, l)| l)
    }

    pub fn new(program: &'a Program, record: &'r [Value], as_of: NaiveDate) -> Env<'a, 'r> {
        Env {
            record,
            locals: Vec::new(),
            as_of,
            calendar: &program.calendar,
            pending: Vec::new(),
            captures: Vec::new(),
            shared: Vec::new(),
            element: 0,
        }
    }
}

/// Evaluates the rules whose indices are in `rules` (in that order) on a record, through
/// the compiled program ([`crate::exec::evaluate`]); a scan keeps its cells per worker instead.
pub fn evaluate(program: &Program, rules: &[usize], record: &[Value], as_of: NaiveDate) -> Outcome {
    crate::exec::evaluate(
        program,
        rules,
        record,
        as_of,
        &mut crate::exec::Cells::default(),
    )
}

fn b(v: bool) -> Value {
    Value::Bool(v)
}

fn int_or_null(v: Option<i64>) -> Value {
    v.map_or(Value::Null, Value::Int)
}

fn float(f: f64) -> Value {
    if f.is_finite() {
        Value::Float(f)
    } else {
        Value::Null
    }
}

/// Int to float, through lists too (`[int]` where `[float]` is wanted); other values as they are.
pub(crate) fn to_float(v: Value) -> Value {
    match v {
        Value::Int(i) => Value::Float(i as f64),
        Value::List(items)
            if items
                .iter()
                .any(|v| matches!(v, Value::Int(_) | Value::List(_))) =>
        {
            Value::List(items.iter().cloned().map(to_float).collect())
        }
        v => v,
    }
}

/// A computed date; outside the years 0000-9999 (which `YYYY-MM-DD` cannot write) it is an
/// overflow, and null like other overflows.
fn date_or_null(d: Option<NaiveDate>) -> Value {
    d.filter(|d| (0..=9999).contains(&d.year()))
        .map_or(Value::Null, Value::Date)
}

fn num(v: &Value) -> Option<f64> {
    match v {
        Value::Int(i) => Some(*i as f64),
        Value::Float(f) => Some(*f),
        _ => None,
    }
}

/// Equality with null as a value, int and float compared as numbers, lists and objects deeply.
pub fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Int(x), Value::Float(y)) | (Value::Float(y), Value::Int(x)) => (*x as f64) == *y,
        (Value::List(x), Value::List(y)) => all_equal(x, y),
        (Value::Object(x), Value::Object(y)) => all_equal(x, y),
        (Value::Domain(x), Value::Domain(y)) => x.ascii() == y.ascii(),
        _ => a == b,
    }
}

fn all_equal(x: &[Value], y: &[Value]) -> bool {
    x.len() == y.len() && x.iter().zip(y).all(|(p, q)| equal(p, q))
}

/// Order of two values of one ordered type (numbers across int and float).
pub fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => Some(x.cmp(y)),
        (Value::Str(x), Value::Str(y)) => Some(x.as_ref().cmp(y.as_ref())),
        (Value::Date(x), Value::Date(y)) => Some(x.cmp(y)),
        (Value::DateTime(x), Value::DateTime(y)) => Some(x.cmp(y)),
        (Value::Duration(x), Value::Duration(y)) => Some(x.cmp(y)),
        _ => num(a)?.partial_cmp(&num(b)?),
    }
}

pub(crate) fn contains(list: &[Value], x: &Value) -> bool {
    list.iter().any(|v| equal(v, x))
}

#[inline(never)]
pub(crate) fn arith(op: Arith, a: Value, b: Value) -> Value {
    use Value as V;
    match (op, a, b) {
        (_, V::Null, _) | (_, _, V::Null) => V::Null,
        (Arith::Add, V::Int(x), V::Int(y)) => int_or_null(x.checked_add(y)),
        (Arith::Sub, V::Int(x), V::Int(y)) => int_or_null(x.checked_sub(y)),
        (Arith::Mul, V::Int(x), V::Int(y)) => int_or_null(x.checked_mul(y)),
        (Arith::Div, V::Int(x), V::Int(y)) => int_or_null(x.checked_div(y)),
        (Arith::Rem, V::Int(x), V::Int(y)) => int_or_null(x.checked_rem(y)),
        (Arith::Add, V::Str(x), V::Str(y)) => {
            let mut s = String::with_capacity(x.len() + y.len());
            s.push_str(&x);
            s.push_str(&y);
            V::Str(Arc::from(s))
        }
        (Arith::Add, V::List(x), V::List(y)) => {
            let mut l = Vec::with_capacity(x.len() + y.len());
            l.extend(x.iter().cloned());
            l.extend(y.iter().cloned());
            V::List(Arc::from(l))
        }
        (Arith::Add, V::Date(d), V::Duration(n)) | (Arith::Add, V::Duration(n), V::Date(d)) => {
            date_or_null(chrono::Duration::try_days(n).and_then(|n| d.checked_add_signed(n)))
        }
        (Arith::Sub, V::Date(d), V::Duration(n)) => {
            date_or_null(chrono::Duration::try_days(n).and_then(|n| d.checked_sub_signed(n)))
        }
        (Arith::Sub, V::Date(x), V::Date(y)) => V::Duration((x - y).num_days()),
        (Arith::Add, V::Duration(x), V::Duration(y)) => {
            x.checked_add(y).map_or(V::Null, V::Duration)
        }
        (Arith::Sub, V::Duration(x), V::Duration(y)) => {
            x.checked_sub(y).map_or(V::Null, V::Duration)
        }
        (op, x, y) => match (num(&x), num(&y)) {
            (Some(x), Some(y)) => float(match op {
                Arith::Add => x + y,
                Arith::Sub => x - y,
                Arith::Mul => x * y,
                Arith::Div => x / y,
                Arith::Rem => x % y,
            }),
            _ => V::Null,
        },
    }
}

pub(crate) static NULL: Value = Value::Null;

/// Whether [`path`] gives a value for `ir` (decided from its shape, without lookups).
#[inline]
fn borrowable(ir: &Ir, env: &Env<'_, '_>) -> bool {
    // the common shapes without a call: constants, record fields, locals
    match ir {
        Ir::Const(_) => true,
        Ir::Local(i) => !env.pending.get(*i).is_some_and(Option::is_some),
        Ir::Field(base, _) if matches!(base.as_ref(), Ir::Record) => true,
        Ir::RecordPath(_) => true,
        Ir::Field(..) | Ir::MapGet(..) | Ir::Index(..) | Ir::Coalesce(..) => {
            borrowable_deep(ir, env)
        }
        _ => false,
    }
}

fn borrowable_deep(ir: &Ir, env: &Env<'_, '_>) -> bool {
    match ir {
        Ir::Field(base, _) => borrowable(base, env),
        Ir::MapGet(base, key) | Ir::Index(base, key) | Ir::Coalesce(base, key) => {
            borrowable(base, env) && borrowable(key, env)
        }
        other => borrowable(other, env),
    }
}

/// The value of a one-operand test: read in place when `ir` is a path, computed otherwise.
fn operand<'e>(ir: &'e Ir, env: &'e mut Env<'_, '_>) -> Cow<'e, Value> {
    if borrowable(ir, env) {
        Cow::Borrowed(path(ir, env).unwrap_or(&NULL))
    } else {
        Cow::Owned(eval(ir, env))
    }
}

/// A field chain, local or constant read in place (no clone); `None` for anything that must be
/// computed (including a `let` not evaluated yet).
fn path<'e>(ir: &'e Ir, env: &'e Env<'_, '_>) -> Option<&'e Value> {
    match ir {
        Ir::Const(v) => Some(v),
        Ir::Local(i) => {
            if env.pending.get(*i).is_some_and(Option::is_some) {
                return None;
            }
            Some(env.locals.get(*i).unwrap_or(&NULL))
        }
        Ir::Field(base, slot) => {
            let obj: &[Value] = match base.as_ref() {
                Ir::Record => env.record,
                other => match path(other, env)? {
                    Value::Object(o) => o,
                    _ => return Some(&NULL),
                },
            };
            Some(obj.get(*slot).unwrap_or(&NULL))
        }
        Ir::RecordPath(slots) => {
            let (first, rest) = slots.split_first()?;
            let mut v = env.record.get(*first).unwrap_or(&NULL);
            for slot in rest {
                v = match v {
                    Value::Object(o) => o.get(*slot).unwrap_or(&NULL),
                    _ => return Some(&NULL),
                };
            }
            Some(v)
        }
        // `order.status ?? ''`
        Ir::Coalesce(x, y) => match path(x, env)? {
            Value::Null => path(y, env),
            v => Some(v),
        },
        // a table row by a key that is itself a path (`tables.provinces[subject.province]`)
        Ir::MapGet(base, key) => {
            let Value::Map(m) = path(base, env)? else {
                return path(key, env).map(|_| &NULL);
            };
            match path(key, env)? {
                Value::Str(k) => Some(m.get(k.as_ref()).unwrap_or(&NULL)),
                _ => Some(&NULL),
            }
        }
        Ir::Index(base, index) => {
            let Value::List(l) = path(base, env)? else {
                return path(index, env).map(|_| &NULL);
            };
            match path(index, env)? {
                Value::Int(i) => Some(
                    usize::try_from(*i)
                        .ok()
                        .and_then(|i| l.get(i))
                        .unwrap_or(&NULL),
                ),
                _ => Some(&NULL),
            }
        }
        _ => None,
    }
}

/// Evaluates an expression.
pub fn eval(ir: &Ir, env: &mut Env<'_, '_>) -> Value {
    match ir {
        Ir::Const(v) => v.clone(),
        Ir::Record => Value::Object(Arc::from(env.record)),
        Ir::Local(i) => {
            if let Some(Some(pending)) = env.pending.get_mut(*i).map(Option::take) {
                let v = eval(pending, env);
                if let Some(slot) = env.locals.get_mut(*i) {
                    *slot = v.clone();
                }
                return v;
            }
            env.locals.get(*i).cloned().unwrap_or_default()
        }
        Ir::AsOf => Value::Date(env.as_of),
        Ir::Shared(slot, per_element, inner) => env.shared(*slot, *per_element, inner),
        Ir::Field(base, slot) => {
            if let Some(v) = path(ir, env) {
                return v.clone();
            }
            if let Ir::Record = base.as_ref() {
                return env.record.get(*slot).cloned().unwrap_or_default();
            }
            match eval(base, env) {
                Value::Object(o) => o.get(*slot).cloned().unwrap_or_default(),
                _ => Value::Null,
            }
        }
        Ir::Index(base, index) => {
            if let Some(v) = path(ir, env) {
                return v.clone();
            }
            let (l, i) = (eval(base, env), eval(index, env));
            match (l, i) {
                (Value::List(l), Value::Int(i)) => usize::try_from(i)
                    .ok()
                    .and_then(|i| l.get(i).cloned())
                    .unwrap_or_default(),
                _ => Value::Null,
            }
        }
        Ir::MapGet(base, key) => {
            if let Some(v) = path(ir, env) {
                return v.clone();
            }
            let (m, k) = (eval(base, env), eval(key, env));
            match (m, k) {
                (Value::Map(m), Value::Str(k)) => m.get(k.as_ref()).cloned().unwrap_or_default(),
                _ => Value::Null,
            }
        }
        Ir::List(items) => Value::List(items.iter().map(|i| eval(i, env)).collect()),
        Ir::ToFloat(x) => to_float(eval(x, env)),
        Ir::Not(x) => bool_or_null(eval_bool(x, env).map(|v| !v)),
        Ir::Neg(x) => match eval(x, env) {
            Value::Int(i) => int_or_null(i.checked_neg()),
            Value::Float(f) => float(-f),
            Value::Duration(d) => d.checked_neg().map_or(Value::Null, Value::Duration),
            _ => Value::Null,
        },
        Ir::Arith(op, x, y) => {
            let x = eval(x, env);
            let y = eval(y, env);
            arith(*op, x, y)
        }
        Ir::Cmp(op, x, y) => {
            // operands that are fields or locals are compared in place, without a clone
            let xo = (!borrowable(x, env)).then(|| eval(x, env));
            let yo = (!borrowable(y, env)).then(|| eval(y, env));
            let x = xo.as_ref().or_else(|| path(x, env)).unwrap_or(&NULL);
            let y = yo.as_ref().or_else(|| path(y, env)).unwrap_or(&NULL);
            match op {
                Cmp::Eq => b(equal(x, y)),
                Cmp::Ne => b(!equal(x, y)),
                _ => match compare(x, y) {
                    None => Value::Null,
                    Some(o) => b(match op {
                        Cmp::Lt => o == Ordering::Less,
                        Cmp::Le => o != Ordering::Greater,
                        Cmp::Gt => o == Ordering::Greater,
                        _ => o != Ordering::Less,
                    }),
                },
            }
        }
        Ir::In(x, l) => {
            let (x, l) = (eval(x, env), eval(l, env));
            match (&x, &l) {
                (Value::Null, _) | (_, Value::Null) => Value::Null,
                (Value::Str(s), Value::Str(t)) => b(t.contains(s.as_ref())),
                (Value::Str(k), Value::Map(m)) => b(m.contains_key(k.as_ref())),
                (_, Value::List(items)) => b(contains(items, &x)),
                _ => Value::Null,
            }
        }
        Ir::InDomainSet(x, set) => match eval(x, env) {
            Value::Domain(d) => b(set.contains(d.ascii())),
            _ => Value::Null,
        },
        Ir::InCidr(x, set) => match eval(x, env) {
            Value::Ip(ip) => b(set.contains(&ip)),
            _ => Value::Null,
        },
        Ir::InCidrDyn(x, l) => {
            let (x, l) = (eval(x, env), eval(l, env));
            match (x, l) {
                (Value::Ip(ip), Value::List(items)) => {
                    let set = net::CidrSet::parse_lenient(items.iter().filter_map(Value::as_str));
                    b(set.contains(&ip))
                }
                _ => Value::Null,
            }
        }
        Ir::InDomainDyn(x, l) => {
            let (x, l) = (eval(x, env), eval(l, env));
            match (x, l) {
                (Value::Domain(d), Value::List(items)) => b(items
                    .iter()
                    .filter_map(Value::as_str)
                    .any(|s| domain::normalize_domain_str(s).as_deref() == Some(d.ascii()))),
                _ => Value::Null,
            }
        }
        // the tests `eval_bool` decides without building a value
        Ir::And(_)
        | Ir::Or(_)
        | Ir::EqBool(..)
        | Ir::EqNull(..)
        | Ir::EqStr(..)
        | Ir::InStrSet(..) => bool_or_null(eval_bool(ir, env)),
        Ir::Coalesce(x, y) => match eval(x, env) {
            Value::Null => eval(y, env),
            v => v,
        },
        Ir::Cond(c, x, y) => match eval_bool(c, env) {
            Some(true) => eval(x, env),
            Some(false) => eval(y, env),
            None => Value::Null,
        },
        Ir::Matches(x, re) => match eval(x, env) {
            Value::Str(s) => b(re.is_match(&s)),
            _ => Value::Null,
        },
        Ir::Capture(x, re, n) => match (eval(x, env), eval(n, env)) {
            (Value::Str(s), Value::Int(n)) => {
                let (Ok(n), Some(locs)) = (usize::try_from(n), env.capture_locations(re)) else {
                    return Value::Null;
                };
                match re.captures_read(locs, &s).and_then(|_| locs.get(n)) {
                    // the whole text: shared, not copied
                    Some((0, end)) if end == s.len() => Value::Str(s),
                    Some((start, end)) => s.get(start..end).map_or(Value::Null, Value::str),
                    None => Value::Null,
                }
            }
            _ => Value::Null,
        },
        Ir::Join(l, sep, elem) => match (eval(l, env), eval(sep, env)) {
            (Value::List(items), Value::Str(sep)) => {
                let mut out = String::new();
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(&sep);
                    }
                    v.render_into(elem, &mut out);
                }
                Value::Str(Arc::from(out))
            }
            _ => Value::Null,
        },
        Ir::Render(x, ty) => match eval(x, env) {
            Value::Null => Value::Null,
            v => Value::Str(Arc::from(v.render(ty))),
        },
        Ir::Macro(kind, list, slot, body) => eval_macro(*kind, list, *slot, body, env),
        Ir::AnyContains(any) => any_contains(any, env),
        Ir::RecordPath(_) => path(ir, env).cloned().unwrap_or_default(),
        Ir::Call(f, args) => eval_call(*f, args, env),
    }
}

pub(crate) fn bool_or_null(v: Option<bool>) -> Value {
    v.map_or(Value::Null, Value::Bool)
}

/// A condition's value without building a [`Value`]: `Some(b)`, or `None` for null (or, which
/// type checking rules out, any other kind). `and`, `or` and `not` are Kleene's (SPEC §2.3);
/// the common tests are decided here, without a call of [`eval`] each.
pub fn eval_bool(ir: &Ir, env: &mut Env<'_, '_>) -> Option<bool> {
    match ir {
        Ir::And(items) => {
            let mut unknown = false;
            for i in items {
                match eval_bool(i, env) {
                    Some(false) => return Some(false),
                    Some(true) => {}
                    None => unknown = true,
                }
            }
            (!unknown).then_some(true)
        }
        Ir::Or(items) => {
            let mut unknown = false;
            for i in items {
                match eval_bool(i, env) {
                    Some(true) => return Some(true),
                    Some(false) => {}
                    None => unknown = true,
                }
            }
            (!unknown).then_some(false)
        }
        Ir::Not(x) => eval_bool(x, env).map(|v| !v),
        Ir::EqBool(ne, x, v) => Some((*operand(x, env) == Value::Bool(*v)) != *ne),
        Ir::EqNull(ne, x) => Some(operand(x, env).is_null() != *ne),
        Ir::EqStr(ne, x, s) => {
            let same =
                matches!(operand(x, env).as_ref(), Value::Str(v) if v.as_ref() == s.as_ref());
            Some(same != *ne)
        }
        Ir::InStrSet(x, set) => match operand(x, env).as_ref() {
            Value::Str(s) => Some(set.contains(s)),
            _ => None,
        },
        other => match eval(other, env) {
            Value::Bool(v) => Some(v),
            _ => None,
        },
    }
}

/// A built-in call (out of line, to keep `eval`'s frame small).
#[inline(never)]
fn eval_call(f: Builtin, args: &[Ir], env: &mut Env<'_, '_>) -> Value {
    if f == Builtin::IsNull {
        return b(args.first().is_none_or(|a| eval(a, env).is_null()));
    }
    if f == Builtin::Coalesce {
        for a in args {
            let v = eval(a, env);
            if !v.is_null() {
                return v;
            }
        }
        return Value::Null;
    }
    let calendar = env.calendar;
    // arguments that are fields or locals are read in place; the rest are computed first, in
    // order, and a computed null ends the call before the next one is computed. One and two
    // arguments, the common calls, skip the absent ones' checks.
    match args {
        [x] => {
            let xo = computed_arg(Some(x), env);
            let a = arg_value(&xo, Some(x), env);
            if a.is_null() {
                return Value::Null;
            }
            call(f, a, &NULL, &NULL, calendar)
        }
        [x, y] => {
            let xo = computed_arg(Some(x), env);
            if xo.as_ref().is_some_and(Value::is_null) {
                return Value::Null;
            }
            let yo = computed_arg(Some(y), env);
            let (a, b2) = (arg_value(&xo, Some(x), env), arg_value(&yo, Some(y), env));
            if a.is_null() || b2.is_null() {
                return Value::Null;
            }
            call(f, a, b2, &NULL, calendar)
        }
        _ => {
            let xo = computed_arg(args.first(), env);
            if xo.as_ref().is_some_and(Value::is_null) {
                return Value::Null;
            }
            let yo = computed_arg(args.get(1), env);
            if yo.as_ref().is_some_and(Value::is_null) {
                return Value::Null;
            }
            let zo = computed_arg(args.get(2), env);
            let a = arg_value(&xo, args.first(), env);
            let b2 = arg_value(&yo, args.get(1), env);
            let c = arg_value(&zo, args.get(2), env);
            if args.iter().zip([a, b2, c]).any(|(_, v)| v.is_null()) {
                return Value::Null;
            }
            call(f, a, b2, c, calendar)
        }
    }
}

/// A call's argument computed now, or `None` when it is read in place (or there is none).
fn computed_arg(a: Option<&Ir>, env: &mut Env<'_, '_>) -> Option<Value> {
    a.filter(|a| !borrowable(a, env)).map(|a| eval(a, env))
}

/// A call's argument: its computed value, else read in place (null when there is none).
fn arg_value<'e>(
    computed: &'e Option<Value>,
    a: Option<&'e Ir>,
    env: &'e Env<'_, '_>,
) -> &'e Value {
    computed
        .as_ref()
        .or_else(|| a.and_then(|a| path(a, env)))
        .unwrap_or(&NULL)
}

/// See [`AnyContains`]: a word in a non-null text decides; else a null text gives null.
#[inline(never)]
fn any_contains(any: &AnyContains, env: &mut Env<'_, '_>) -> Value {
    let mut unknown = false;
    if !any.no_words {
        for h in &any.haystacks {
            match operand(h, env).as_ref() {
                Value::Str(text) => {
                    if any.matcher.is_match(text.as_ref()) {
                        return b(!any.negate);
                    }
                }
                _ => unknown = true,
            }
        }
    }
    if unknown {
        Value::Null
    } else {
        b(any.negate)
    }
}

#[inline(never)]
fn eval_macro(kind: MacroKind, list: &Ir, slot: usize, body: &Ir, env: &mut Env<'_, '_>) -> Value {
    let Value::List(items) = eval(list, env) else {
        return Value::Null;
    };
    let saved = env.locals.get(slot).cloned().unwrap_or_default();
    let set = |env: &mut Env<'_, '_>, v: &Value| {
        if let Some(s) = env.locals.get_mut(slot) {
            *s = v.clone();
        }
    };
    let result = match kind {
        MacroKind::Exists | MacroKind::None | MacroKind::All => {
            let want = !matches!(kind, MacroKind::All); // the value that decides
            let mut unknown = false;
            let mut decided = false;
            for item in items.iter() {
                set(env, item);
                match eval_bool(body, env) {
                    Some(v) if v == want => {
                        decided = true;
                        break;
                    }
                    Some(_) => {}
                    None => unknown = true,
                }
            }
            let r = if decided {
                Value::Bool(want)
            } else if unknown {
                Value::Null
            } else {
                Value::Bool(!want)
            };
            if kind == MacroKind::None {
                match r {
                    Value::Bool(v) => Value::Bool(!v),
                    v => v,
                }
            } else {
                r
            }
        }
        MacroKind::Count => {
            let mut n = 0i64;
            for item in items.iter() {
                set(env, item);
                if eval_bool(body, env) == Some(true) {
                    n += 1;
                }
            }
            Value::Int(n)
        }
        MacroKind::Filter => {
            let mut out = Vec::new();
            for item in items.iter() {
                set(env, item);
                if eval_bool(body, env) == Some(true) {
                    out.push(item.clone());
                }
            }
            Value::List(Arc::from(out))
        }
        MacroKind::Map => {
            let mut out = Vec::with_capacity(items.len());
            for item in items.iter() {
                set(env, item);
                out.push(eval(body, env));
            }
            Value::List(Arc::from(out))
        }
    };
    if let Some(s) = env.locals.get_mut(slot) {
        *s = saved;
    }
    result
}

fn s(v: &str) -> Value {
    Value::str(v)
}

fn list(v: Vec<Value>) -> Value {
    Value::List(Arc::from(v))
}

fn extreme(items: &[Value], want: Ordering) -> Value {
    let mut best: Option<&Value> = None;
    for v in items {
        if v.is_null() {
            return Value::Null;
        }
        best = match best {
            None => Some(v),
            Some(cur) => match compare(v, cur) {
                Some(o) if o == want => Some(v),
                Some(_) => Some(cur),
                None => return Value::Null,
            },
        };
    }
    // an int and a float widen to float
    match best {
        Some(Value::Int(i)) if items.iter().any(|v| matches!(v, Value::Float(_))) => {
            Value::Float(*i as f64)
        }
        Some(v) => v.clone(),
        None => Value::Null,
    }
}

/// Calls a built-in on non-null arguments (null handling is done by the caller).
#[inline(never)]
pub(crate) fn call(f: Builtin, a: &Value, b2: &Value, c: &Value, calendar: &Calendar) -> Value {
    use Builtin as F;
    use Value as V;
    match (f, a, b2, c) {
        (F::LenStr, V::Str(x), ..) => V::Int(text::char_len(x)),
        (F::LenList, V::List(x), ..) => int_or_null(i64::try_from(x.len()).ok()),
        // text that has no letter to change keeps its allocation
        (F::Lower, V::Str(x), ..) if x.is_ascii() && !x.bytes().any(|c| c.is_ascii_uppercase()) => {
            V::Str(x.clone())
        }
        (F::Upper, V::Str(x), ..) if x.is_ascii() && !x.bytes().any(|c| c.is_ascii_lowercase()) => {
            V::Str(x.clone())
        }
        (F::Lower, V::Str(x), ..) => s(&x.to_lowercase()),
        (F::Upper, V::Str(x), ..) => s(&x.to_uppercase()),
        // unchanged text keeps its allocation
        (F::Trim, V::Str(x), ..) => {
            if x.trim().len() == x.len() {
                V::Str(x.clone())
            } else {
                s(x.trim())
            }
        }
        (F::ContainsStr, V::Str(x), V::Str(y), _) => b(x.contains(y.as_ref())),
        (F::ContainsList, V::List(x), y, _) => b(contains(x, y)),
        (F::StartsWith, V::Str(x), V::Str(y), _) => b(x.starts_with(y.as_ref())),
        (F::EndsWith, V::Str(x), V::Str(y), _) => b(x.ends_with(y.as_ref())),
        (F::Replace, V::Str(x), V::Str(from), V::Str(to)) => {
            if from.is_empty() || !x.contains(from.as_ref()) {
                V::Str(x.clone())
            } else {
                s(&x.replace(from.as_ref(), to))
            }
        }
        (F::Split, V::Str(x), V::Str(sep), _) => {
            if sep.is_empty() {
                list(x.chars().map(|c| s(c.encode_utf8(&mut [0; 4]))).collect())
            } else {
                list(x.split(sep.as_ref()).map(s).collect())
            }
        }
        (F::Substr, V::Str(x), &V::Int(start), &V::Int(n)) => {
            text::substr(x, start, n).map_or(V::Null, |r| s(&r))
        }
        (F::First, V::List(x), ..) => x.first().cloned().unwrap_or_default(),
        (F::Last, V::List(x), ..) => x.last().cloned().unwrap_or_default(),
        (F::MinList, V::List(x), ..) => extreme(x, Ordering::Less),
        (F::MaxList, V::List(x), ..) => extreme(x, Ordering::Greater),
        (F::Sum, V::List(x), ..) => {
            let mut acc = V::Int(0);
            for v in x.iter() {
                if v.is_null() {
                    return V::Null;
                }
                acc = arith(Arith::Add, acc, v.clone());
                if acc.is_null() {
                    return V::Null;
                }
            }
            acc
        }
        (F::Distinct, V::List(x), ..) => {
            let mut out: Vec<Value> = Vec::new();
            for v in x.iter() {
                if !out.iter().any(|o| equal(o, v)) {
                    out.push(v.clone());
                }
            }
            list(out)
        }
        (F::Int, V::Str(x), ..) => int_or_null(text::parse_int(x)),
        (F::Int, &V::Float(x), ..) => int_or_null(text::float_to_int(x)),
        (F::Int, &V::Bool(x), ..) => V::Int(i64::from(x)),
        (F::Int, &V::Int(x), ..) => V::Int(x),
        (F::Float, V::Str(x), ..) => text::parse_float(x).map_or(V::Null, float),
        (F::Float, &V::Int(x), ..) => V::Float(x as f64),
        (F::Float, &V::Float(x), ..) => V::Float(x),
        (F::Float, &V::Bool(x), ..) => V::Float(if x { 1.0 } else { 0.0 }),
        (F::Abs, &V::Int(x), ..) => int_or_null(x.checked_abs()),
        (F::Abs, &V::Float(x), ..) => V::Float(x.abs()),
        (F::Abs, &V::Duration(x), ..) => x.checked_abs().map_or(V::Null, V::Duration),
        (F::Min2, x, y, _) => extreme(&[x.clone(), y.clone()], Ordering::Less),
        (F::Max2, x, y, _) => extreme(&[x.clone(), y.clone()], Ordering::Greater),
        (F::Date, V::Str(x), ..) => date_or_null(dates::parse_iso_date(x)),
        (F::Date, &V::Date(x), ..) => V::Date(x),
        (F::Date, &V::DateTime(x), ..) => V::Date(dates::date_of(&x)),
        (F::Days, &V::Int(n), ..) => V::Duration(n),
        (F::Weeks, &V::Int(n), ..) => n.checked_mul(7).map_or(V::Null, V::Duration),
        (F::AddMonths, &V::Date(d), &V::Int(n), _) => date_or_null(dates::add_months(d, n)),
        (F::AddYears, &V::Date(d), &V::Int(n), _) => date_or_null(dates::add_years(d, n)),
        (F::DaysBetween, &V::Date(x), &V::Date(y), _) => V::Int((y - x).num_days()),
        (F::Year, &V::Date(d), ..) => V::Int(i64::from(d.year())),
        (F::Month, &V::Date(d), ..) => V::Int(i64::from(d.month())),
        (F::Day, &V::Date(d), ..) => V::Int(i64::from(d.day())),
        (F::Weekday, &V::Date(d), ..) => V::Int(dates::weekday(d)),
        (F::AddWorkdays, &V::Date(d), &V::Int(n), _) => date_or_null(calendar.add_workdays(d, n)),
        (F::IsWorkday, &V::Date(d), ..) => b(calendar.is_workday(d)),
        (F::DateOf, &V::DateTime(dt), ..) => V::Date(dates::date_of(&dt)),
        (F::DateOf, &V::Date(d), ..) => V::Date(d),
        (F::Domain, V::Str(x), ..) => {
            domain::parse_domain(x).map_or(V::Null, |d| V::Domain(Arc::new(d)))
        }
        (F::Domain, V::Domain(d), ..) => V::Domain(d.clone()),
        (F::Ascii, V::Domain(d), ..) => s(d.ascii()),
        (F::Unicode, V::Domain(d), ..) => s(d.unicode()),
        (F::Tld, V::Domain(d), ..) => s(d.tld()),
        (F::Suffix, V::Domain(d), ..) => s(&domain::suffix(d)),
        (F::Registrable, V::Domain(d), ..) => {
            domain::registrable(d).map_or(V::Null, |r| V::Domain(Arc::new(r)))
        }
        (F::Labels, V::Domain(d), ..) => list(d.labels().into_iter().map(s).collect()),
        (F::IsIdn, V::Domain(d), ..) => b(d.is_idn()),
        (F::Ip, V::Str(x), ..) => net::parse_ip(x).map_or(V::Null, V::Ip),
        (F::Ip, &V::Ip(x), ..) => V::Ip(x),
        (F::InCidr, &V::Ip(ip), V::Str(c), _) => net::in_cidr(&ip, c).map_or(V::Null, b),
        // as with `ip in list` (SPEC §7): an entry that is not a block, null included,
        // matches nothing
        (F::InCidr, &V::Ip(ip), V::List(cs), _) => {
            b(net::CidrSet::parse_lenient(cs.iter().filter_map(Value::as_str)).contains(&ip))
        }
        (F::IsPrivate, &V::Ip(ip), ..) => b(net::is_private(&ip)),
        (F::IsIpv6, &V::Ip(ip), ..) => b(ip.is_ipv6()),
        (F::ValidCnId, V::Str(x), ..) => b(china::valid_cn_id(x)),
        (F::ValidUscc, V::Str(x), ..) => b(china::valid_uscc(x)),
        (F::ValidCnMobile, V::Str(x), ..) => b(china::valid_cn_mobile(x)),
        (F::IcpProvince, V::Str(x), ..) => china::icp_province(x).map_or(V::Null, province_value),
        (F::IcpSite, V::Str(x), ..) => int_or_null(china::icp_site(x)),
        _ => V::Null,
    }
}

/// A province abbreviation as a value, shared (built once) instead of allocated per call.
fn province_value(abbr: &'static str) -> Value {
    static VALUES: std::sync::LazyLock<rustc_hash::FxHashMap<&'static str, Value>> =
        std::sync::LazyLock::new(|| {
            china::ICP_ABBREVIATIONS
                .iter()
                .map(|a| (*a, Value::str(a)))
                .collect()
        });
    VALUES.get(abbr).cloned().unwrap_or_else(|| s(abbr))
}

/// A set of strings for `x in CONSTANT_LIST`.
pub fn str_set(items: &[Value]) -> FxHashSet<Arc<str>> {
    items
        .iter()
        .filter_map(|v| match v {
            Value::Str(s) => Some(s.clone()),
            _ => None,
        })
        .collect()
}

/// Severity as a number for `--fail-on` comparisons.
pub fn severity_rank(s: Severity) -> u8 {
    s as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(ir: &Ir) -> Value {
        let calendar = Calendar::empty();
        let mut env = Env {
            record: &[],
            locals: Vec::new(),
            as_of: NaiveDate::default(),
            calendar: &calendar,
            pending: Vec::new(),
            captures: Vec::new(),
            shared: Vec::new(),
            element: 0,
        };
        eval(ir, &mut env)
    }

    #[test]
    fn to_float_widens_lists_element_wise() {
        let ints = Value::List(Arc::from(vec![
            Value::Int(1),
            Value::Null,
            Value::List(Arc::from(vec![Value::Int(2)])),
        ]));
        let got = run(&Ir::ToFloat(Box::new(Ir::Const(ints))));
        let want = Value::List(Arc::from(vec![
            Value::Float(1.0),
            Value::Null,
            Value::List(Arc::from(vec![Value::Float(2.0)])),
        ]));
        assert_eq!(got, want);
        assert_eq!(
            run(&Ir::ToFloat(Box::new(Ir::Const(Value::Int(3))))),
            Value::Float(3.0)
        );
        assert_eq!(
            run(&Ir::ToFloat(Box::new(Ir::Const(Value::Null)))),
            Value::Null
        );
    }
}
