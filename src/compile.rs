//! Stage 4, compile: the checker lowers each expression bottom-up and calls [`fold`] on every
//! node it builds, so constant sub-expressions are evaluated once at load time (a table lookup
//! with a constant key, `date("2020-07-31")`, `days(45)`, `tables.provinces.鄂.name`...).
//! Regexes, CIDR sets and domain sets are built by the checker when it meets them; the
//! resulting [`crate::program::Program`] is immutable and shared by every worker.

use chrono::NaiveDate;

use crate::eval::{eval, Env};
use crate::funcs::dates::Calendar;
use crate::program::{AnyContains, Builtin, Cmp, Ir, MacroKind, MsgPart, Rule};
use crate::value::Value;

/// Whether every direct child of a node is a constant (and the node reads no record, local or
/// `as_of`), so the node can be evaluated now. A macro folds only when its list is constant and
/// its body does not read the variable (then the body is a constant too).
fn foldable(ir: &Ir) -> bool {
    match ir {
        Ir::Const(_) | Ir::Record | Ir::Local(_) | Ir::AsOf | Ir::RecordPath(_) => false,
        _ => ir.children().iter().all(|c| matches!(c, Ir::Const(_))),
    }
}

/// Folds a node whose children are constants into a constant.
pub fn fold(ir: Ir, calendar: &Calendar) -> Ir {
    if !foldable(&ir) {
        return ir;
    }
    let program_free_env = Env {
        record: &[],
        locals: Vec::new(),
        as_of: NaiveDate::default(),
        calendar,
        pending: Vec::new(),
        captures: Vec::new(),
        shared: Vec::new(),
        element: 0,
    };
    let mut env = program_free_env;
    let v: Value = eval(&ir, &mut env);
    Ir::Const(v)
}

/// Whether a node reads local slot `slot` (not bound by a macro inside it).
pub fn reads_local(ir: &Ir, slot: usize) -> bool {
    let mut free = std::collections::HashSet::new();
    ir.free_locals(&mut free);
    free.contains(&slot)
}

/// Rewrites a checked expression into a faster equivalent: the same value on every record
/// (and every binding of its locals). Applied to the rules a scan runs and to expression
/// cases; `explain` traces the expression as written.
///
/// * `LIST.exists(w, contains(H, w) or contains(G, w) ...)` and `none(...)` over a constant
///   list of strings, where `H`, `G` do not read `w`: one Aho-Corasick search of each text
///   instead of a substring search per word and text ([`Ir::AnyContains`]).
/// * a chain of fields from the record as one list of slots ([`Ir::RecordPath`]);
/// * `x == "text"` / `x != "text"` as [`Ir::EqStr`], `x == null` / `x != null` as
///   [`Ir::EqNull`], `x == true` and the like as [`Ir::EqBool`], and `not` of any of them as
///   the opposite test.
pub fn optimize(mut ir: Ir) -> Ir {
    // a field chain is taken whole, before its inner fields are
    if let Some(slots) = record_path(&ir) {
        return Ir::RecordPath(slots.into_boxed_slice());
    }
    for child in ir.children_mut() {
        let c = std::mem::replace(child, Ir::Record);
        *child = optimize(c);
    }
    direct_tests(any_contains(ir))
}

/// The slots of `Field(Field(Record, a), b)...`, outermost last.
fn record_path(ir: &Ir) -> Option<Vec<usize>> {
    let mut slots = Vec::new();
    let mut at = ir;
    loop {
        match at {
            Ir::Field(base, slot) => {
                slots.push(*slot);
                at = base;
            }
            Ir::Record if !slots.is_empty() => {
                slots.reverse();
                return Some(slots);
            }
            _ => return None,
        }
    }
}

/// `x == "s"`, `"s" != x`... as [`Ir::EqStr`]; `x == null`, `x != null` as [`Ir::EqNull`];
/// `x == true`... as [`Ir::EqBool`]; `not` of any of them (always a bool, never null) as the
/// opposite test.
fn direct_tests(ir: Ir) -> Ir {
    match ir {
        Ir::Not(x) => match *x {
            Ir::EqStr(ne, x, s) => Ir::EqStr(!ne, x, s),
            Ir::EqNull(ne, x) => Ir::EqNull(!ne, x),
            Ir::EqBool(ne, x, v) => Ir::EqBool(!ne, x, v),
            other => Ir::Not(Box::new(other)),
        },
        Ir::Cmp(op @ (Cmp::Eq | Cmp::Ne), x, y) => match (*x, *y) {
            (other, Ir::Const(Value::Str(s))) | (Ir::Const(Value::Str(s)), other) => {
                Ir::EqStr(op == Cmp::Ne, Box::new(other), Box::from(s.as_ref()))
            }
            (other, Ir::Const(Value::Null)) | (Ir::Const(Value::Null), other) => {
                Ir::EqNull(op == Cmp::Ne, Box::new(other))
            }
            (other, Ir::Const(Value::Bool(v))) | (Ir::Const(Value::Bool(v)), other) => {
                Ir::EqBool(op == Cmp::Ne, Box::new(other), v)
            }
            (x, y) => Ir::Cmp(op, Box::new(x), Box::new(y)),
        },
        other => other,
    }
}

/// Shares `let` values between rules: a `let` whose definition is the same text in several
/// rules, and reads only the record, the tables, `as_of`, other such lets and (for rules
/// iterating the same `for_each`) the element, is computed once per record (or element) and
/// kept for the others (see [`Ir::Shared`]). The DV rules, for one, each define the same
/// `scope` and `in_scope` per domain. Lets are pure, so this cannot be observed. Returns how
/// many shared slots there are.
pub fn share_lets(rules: &mut [Rule]) -> usize {
    // the keys of every rule's lets, and how many rules define each
    let keys: Vec<Vec<Option<(String, bool)>>> = rules.iter().map(let_keys).collect();
    let mut uses: std::collections::HashMap<&str, usize> = Default::default();
    for key in keys.iter().flatten().flatten() {
        *uses.entry(key.0.as_str()).or_default() += 1;
    }
    let mut ids: std::collections::HashMap<String, usize> = Default::default();
    for (rule, keys) in rules.iter_mut().zip(&keys) {
        let iterates = rule.for_each.is_some();
        for ((_, ir), key) in rule.lets.iter_mut().zip(keys) {
            let Some((key, per_element)) = key else {
                continue;
            };
            // worth it when another rule has it, or when it would be recomputed per element
            let in_other_rules = uses.get(key.as_str()).is_some_and(|n| *n > 1);
            let once_per_record = iterates && !per_element;
            if !(in_other_rules || once_per_record) {
                continue;
            }
            let next = ids.len();
            let id = *ids.entry(key.clone()).or_insert(next);
            let inner = std::mem::replace(ir, Ir::Record);
            *ir = Ir::Shared(id, *per_element, Box::new(inner));
        }
    }
    ids.len()
}

/// The sharing keys of a rule's lets (see [`LetKeys`]), in the order of `rule.lets`.
fn let_keys(rule: &Rule) -> Vec<Option<(String, bool)>> {
    if rule.lets.len() != rule.text.lets.len() {
        return vec![None; rule.lets.len()];
    }
    // the element of a `for_each` over a record-level list, named by its text
    let element = rule.for_each.as_ref().and_then(|(slot, list)| {
        let mut free = std::collections::HashSet::new();
        list.free_locals(&mut free);
        free.is_empty()
            .then(|| (*slot, rule.text.for_each.clone().unwrap_or_default()))
    });
    let mut keys = LetKeys {
        lets: &rule.lets,
        names: &rule.text.lets,
        element: element.as_ref(),
        memo: vec![Memo::Todo; rule.lets.len()],
    };
    (0..rule.lets.len()).map(|j| keys.key(j)).collect()
}

#[derive(Clone)]
enum Memo {
    Todo,
    Busy,
    Done(Option<(String, bool)>),
}

/// Works out the sharing key of each `let` of one rule.
struct LetKeys<'r> {
    lets: &'r [(usize, Ir)],
    /// (name, text), in the order of `lets`.
    names: &'r [(String, String)],
    element: Option<&'r (usize, String)>,
    memo: Vec<Memo>,
}

impl LetKeys<'_> {
    /// The key of let `j` (its text, with the definitions of the lets it reads and the
    /// `for_each` it depends on) and whether it depends on the element; `None` when it reads
    /// something else local to the rule.
    fn key(&mut self, j: usize) -> Option<(String, bool)> {
        match self.memo.get(j) {
            Some(Memo::Done(k)) => return k.clone(),
            Some(Memo::Busy) | None => return None,
            Some(Memo::Todo) => {}
        }
        if let Some(m) = self.memo.get_mut(j) {
            *m = Memo::Busy;
        }
        let result = self.compute(j);
        if let Some(m) = self.memo.get_mut(j) {
            *m = Memo::Done(result.clone());
        }
        result
    }

    fn compute(&mut self, j: usize) -> Option<(String, bool)> {
        let (_, ir) = self.lets.get(j)?;
        let (_, text) = self.names.get(j)?;
        let mut free = std::collections::HashSet::new();
        ir.free_locals(&mut free);
        let mut free: Vec<usize> = free.into_iter().collect();
        free.sort_unstable();
        let mut per_element = false;
        let mut refs = Vec::new();
        for slot in free {
            if self.element.is_some_and(|(s, _)| *s == slot) {
                per_element = true;
                continue;
            }
            let k = self.lets.iter().position(|(s, _)| *s == slot)?;
            let (key, elem) = self.key(k)?;
            let (name, _) = self.names.get(k)?;
            per_element |= elem;
            refs.push(format!("{name} = {key}"));
        }
        if per_element {
            if let Some((_, fe)) = self.element {
                refs.push(format!("for_each {fe}"));
            }
        }
        refs.sort();
        Some((format!("{text}\u{0}{}", refs.join("\u{0}")), per_element))
    }
}

/// [`optimize`]s every expression of a rule.
pub fn optimize_rule(rule: &mut Rule) {
    let take = |ir: &mut Ir| {
        let i = std::mem::replace(ir, Ir::Record);
        *ir = optimize(i);
    };
    if let Some((_, list)) = &mut rule.for_each {
        take(list);
    }
    for (_, ir) in &mut rule.lets {
        take(ir);
    }
    if let Some(a) = &mut rule.applies_if {
        take(a);
    }
    take(&mut rule.when);
    for part in &mut rule.message {
        if let MsgPart::Hole(ir, _) = part {
            take(ir);
        }
    }
    if let Some(d) = &mut rule.deadline {
        take(d);
    }
}

fn any_contains(ir: Ir) -> Ir {
    let Ir::Macro(kind @ (MacroKind::Exists | MacroKind::None), list, slot, body) = &ir else {
        return ir;
    };
    let Ir::Const(Value::List(words)) = list.as_ref() else {
        return ir;
    };
    let Some(words) = words
        .iter()
        .map(|w| w.as_str())
        .collect::<Option<Vec<&str>>>()
    else {
        return ir; // a null word makes `contains` null: keep the general form
    };
    let disjuncts: Vec<&Ir> = match body.as_ref() {
        Ir::Or(items) => items.iter().collect(),
        other => vec![other],
    };
    let mut haystacks = Vec::new();
    for d in disjuncts {
        match d {
            Ir::Call(Builtin::ContainsStr, args) => match args.as_slice() {
                [h, Ir::Local(s)] if s == slot && !reads_local(h, *slot) => {
                    haystacks.push(h.clone());
                }
                _ => return ir,
            },
            _ => return ir,
        }
    }
    let Ok(matcher) = aho_corasick::AhoCorasick::new(&words) else {
        return ir;
    };
    Ir::AnyContains(Box::new(AnyContains {
        haystacks,
        matcher,
        no_words: words.is_empty(),
        negate: *kind == MacroKind::None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::sync::Arc;

    fn eval_on(ir: &Ir, record: &[Value]) -> Value {
        let calendar = Calendar::empty();
        let mut env = Env {
            record,
            locals: vec![Value::Null; 2],
            as_of: NaiveDate::default(),
            calendar: &calendar,
            pending: vec![None; 2],
            captures: Vec::new(),
            shared: Vec::new(),
            element: 0,
        };
        eval(ir, &mut env)
    }

    fn text(v: &Option<String>) -> Value {
        v.as_deref().map_or(Value::Null, Value::str)
    }

    /// `WORDS.KIND(w, contains(record[0], w) or contains(record[1], w))`
    fn word_search(kind: MacroKind, words: &[String], two: bool) -> Ir {
        let contains = |slot| {
            Ir::Call(
                Builtin::ContainsStr,
                vec![Ir::Field(Box::new(Ir::Record), slot), Ir::Local(0)],
            )
        };
        let body = if two {
            Ir::Or(vec![contains(0), contains(1)])
        } else {
            contains(0)
        };
        let list = Value::List(words.iter().map(|w| Value::str(w)).collect());
        Ir::Macro(kind, Box::new(Ir::Const(list)), 0, Box::new(body))
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

        /// The multi-word search gives the macro's value, nulls and empty words included.
        #[test]
        fn word_search_is_the_macro(
            words in proptest::collection::vec("(|公司|有限|ab|b|集团|a)", 0..5),
            h0 in proptest::option::of("(|某某公司|ab有限|xyz|a|集团官网)"),
            h1 in proptest::option::of("(|某某公司|ab有限|xyz|a|集团官网)"),
            none in any::<bool>(),
            two in any::<bool>(),
        ) {
            let kind = if none { MacroKind::None } else { MacroKind::Exists };
            let general = word_search(kind, &words, two);
            let fast = optimize(general.clone());
            prop_assert!(matches!(fast, Ir::AnyContains(_)));
            let record = [text(&h0), text(&h1)];
            prop_assert_eq!(eval_on(&fast, &record), eval_on(&general, &record));
        }
    }

    fn leaf() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            Just(Value::Int(1)),
            any::<bool>().prop_map(Value::Bool),
            "(|a|b|某)".prop_map(|s| Value::str(&s)),
        ]
    }

    /// A record slot: a leaf, or an object of two leaves.
    fn slot() -> impl Strategy<Value = Value> {
        prop_oneof![
            leaf(),
            (leaf(), leaf()).prop_map(|(a, b)| Value::Object(Arc::from(vec![a, b]))),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

        /// Field chains read in one loop, and equality with a constant string, give what the
        /// general nodes give.
        #[test]
        fn paths_and_string_equality_are_the_general_nodes(
            record in proptest::collection::vec(slot(), 2),
            outer in 0usize..3,
            inner in 0usize..3,
            deep in any::<bool>(),
            text in "(|a|b|某)",
            ne in any::<bool>(),
            flip in any::<bool>(),
            null in any::<bool>(),
            negate in any::<bool>(),
        ) {
            let field = Ir::Field(Box::new(Ir::Record), outer);
            let x = if deep { Ir::Field(Box::new(field), inner) } else { field };
            let c = Ir::Const(match (null, text.as_str()) {
                (true, "a") => Value::Bool(true),
                (true, "b") => Value::Bool(false),
                (true, _) => Value::Null,
                (false, _) => Value::str(&text),
            });
            let op = if ne { Cmp::Ne } else { Cmp::Eq };
            let cmp = if flip {
                Ir::Cmp(op, Box::new(c), Box::new(x.clone()))
            } else {
                Ir::Cmp(op, Box::new(x.clone()), Box::new(c))
            };
            let general = if negate { Ir::Not(Box::new(cmp)) } else { cmp };
            let fast = optimize(general.clone());
            prop_assert!(matches!(fast, Ir::EqStr(..) | Ir::EqNull(..) | Ir::EqBool(..)));
            prop_assert_eq!(eval_on(&fast, &record), eval_on(&general, &record));
            let read = optimize(x.clone());
            prop_assert!(matches!(read, Ir::RecordPath(_)));
            prop_assert_eq!(eval_on(&read, &record), eval_on(&x, &record));
        }
    }

    #[test]
    fn word_search_keeps_the_general_form_when_it_does_not_apply() {
        // the text reads the word
        let reads_w = Ir::Macro(
            MacroKind::Exists,
            Box::new(Ir::Const(Value::List(Arc::from(vec![Value::str("a")])))),
            0,
            Box::new(Ir::Call(
                Builtin::ContainsStr,
                vec![Ir::Local(0), Ir::Local(0)],
            )),
        );
        assert!(matches!(optimize(reads_w), Ir::Macro(..)));
        // a null word
        let null_word = Ir::Macro(
            MacroKind::Exists,
            Box::new(Ir::Const(Value::List(Arc::from(vec![Value::Null])))),
            0,
            Box::new(Ir::Call(
                Builtin::ContainsStr,
                vec![Ir::Field(Box::new(Ir::Record), 0), Ir::Local(0)],
            )),
        );
        assert!(matches!(optimize(null_word), Ir::Macro(..)));
        // `all` is not rewritten
        let all = word_search(MacroKind::All, &["a".to_string()], true);
        assert!(matches!(optimize(all), Ir::Macro(..)));
    }
}
