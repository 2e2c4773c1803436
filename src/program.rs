//! The compiled program: immutable, `Send + Sync`, built once per pack and shared by every
//! worker thread. Field paths are resolved to slots, constants folded, regexes, CIDR sets and
//! domain sets built at load time (stages check → compile).

use rustc_hash::FxHashSet;
use std::sync::Arc;

use chrono::NaiveDate;
use regex::Regex;

use crate::funcs::dates::Calendar;
use crate::funcs::net::CidrSet;
use crate::load::{PackMeta, Severity, TestDef};
use crate::source::{Loc, Sources};
use crate::types::{ObjectType, Type};
use crate::value::Value;

/// A typed, resolved expression. Every variant is total: evaluation never fails or panics;
/// what could fail gives null.
#[derive(Debug, Clone)]
pub enum Ir {
    Const(Value),
    /// The record being evaluated (its top-level slots).
    Record,
    /// A local slot: `for_each` variable, `let` value or macro variable.
    Local(usize),
    AsOf,
    /// Slot of an object.
    Field(Box<Ir>, usize),
    /// `list[int]`
    Index(Box<Ir>, Box<Ir>),
    /// `map[string]`
    MapGet(Box<Ir>, Box<Ir>),
    List(Vec<Ir>),
    /// Int to float, where a float is expected.
    ToFloat(Box<Ir>),
    Not(Box<Ir>),
    Neg(Box<Ir>),
    Arith(Arith, Box<Ir>, Box<Ir>),
    Cmp(Cmp, Box<Ir>, Box<Ir>),
    /// Membership in a list (or substring, or mapping key), decided by the values' kinds.
    In(Box<Ir>, Box<Ir>),
    /// Membership in a constant set of strings.
    InStrSet(Box<Ir>, Arc<FxHashSet<Arc<str>>>),
    /// A domain in a constant set of normalised (ASCII) domains.
    InDomainSet(Box<Ir>, Arc<FxHashSet<String>>),
    /// An ip in a constant CIDR set.
    InCidr(Box<Ir>, Arc<CidrSet>),
    /// An ip in a computed list of CIDR strings (invalid entries match nothing).
    InCidrDyn(Box<Ir>, Box<Ir>),
    /// A domain in a computed list of domain strings.
    InDomainDyn(Box<Ir>, Box<Ir>),
    And(Vec<Ir>),
    Or(Vec<Ir>),
    Coalesce(Box<Ir>, Box<Ir>),
    Cond(Box<Ir>, Box<Ir>, Box<Ir>),
    Call(Builtin, Vec<Ir>),
    Matches(Box<Ir>, Arc<Regex>),
    Capture(Box<Ir>, Arc<Regex>, Box<Ir>),
    /// `join(list, sep)`, rendering elements with their static type.
    Join(Box<Ir>, Box<Ir>, Type),
    /// `string(x)` and message holes: render with the static type.
    Render(Box<Ir>, Type),
    Macro(MacroKind, Box<Ir>, usize, Box<Ir>),
    /// `exists`/`none` over constant words, each tested with `contains` on texts that do
    /// not depend on the word (built by [`crate::compile::optimize`]).
    AnyContains(Box<AnyContains>),
    /// A chain of fields from the record (`order.new_subject.name`) as its slots, read in one
    /// loop (built by [`crate::compile::optimize`] from nested [`Ir::Field`]s).
    RecordPath(Box<[usize]>),
    /// `x == "text"` (or `!=` when the flag is set): equality with a constant string, which is
    /// true only for that string (null and other kinds are unequal).
    EqStr(bool, Box<Ir>, Box<str>),
    /// `x == null` (or `x != null` when the flag is set): true only for null.
    EqNull(bool, Box<Ir>),
    /// `x == true` / `x == false` (or `!=` when the first flag is set): true only for that bool.
    EqBool(bool, Box<Ir>, bool),
    /// A `let` that several rules define alike (built by [`crate::compile::share_lets`]): its
    /// value is computed once per record, or once per element when the flag is set (it reads
    /// the `for_each` element), and kept in shared slot `.0` for the other rules.
    Shared(usize, bool, Box<Ir>),
}

/// `WORDS.exists(w, contains(H1, w) or contains(H2, w) ...)` as one multi-word search of
/// each text. Kleene logic as the macro: true when a non-null text contains a word; else null
/// when a text is null and there is a word; else false (`none`: negated).
#[derive(Debug, Clone)]
pub struct AnyContains {
    pub haystacks: Vec<Ir>,
    pub matcher: aho_corasick::AhoCorasick,
    pub no_words: bool,
    pub negate: bool,
}

/// The one match behind [`Ir::children`] and [`Ir::children_mut`], so that a new variant is
/// listed once: `$r` is `as_ref` or `as_mut`, `$it` is `iter` or `iter_mut`.
macro_rules! children_of {
    ($node:expr, $r:ident, $it:ident) => {
        match $node {
            Ir::Const(_) | Ir::Record | Ir::Local(_) | Ir::AsOf | Ir::RecordPath(_) => Vec::new(),
            Ir::Field(x, _)
            | Ir::EqStr(_, x, _)
            | Ir::EqNull(_, x)
            | Ir::EqBool(_, x, _)
            | Ir::ToFloat(x)
            | Ir::Not(x)
            | Ir::Neg(x)
            | Ir::Render(x, _)
            | Ir::InStrSet(x, _)
            | Ir::InDomainSet(x, _)
            | Ir::InCidr(x, _)
            | Ir::Shared(_, _, x)
            | Ir::Matches(x, _) => vec![x.$r()],
            Ir::Index(a, b)
            | Ir::MapGet(a, b)
            | Ir::Arith(_, a, b)
            | Ir::Cmp(_, a, b)
            | Ir::In(a, b)
            | Ir::InCidrDyn(a, b)
            | Ir::InDomainDyn(a, b)
            | Ir::Coalesce(a, b)
            | Ir::Capture(a, _, b)
            | Ir::Join(a, b, _)
            | Ir::Macro(_, a, _, b) => vec![a.$r(), b.$r()],
            Ir::Cond(a, b, c) => vec![a.$r(), b.$r(), c.$r()],
            Ir::List(items) | Ir::And(items) | Ir::Or(items) | Ir::Call(_, items) => {
                items.$it().collect()
            }
            Ir::AnyContains(any) => any.haystacks.$it().collect(),
        }
    };
}

impl Ir {
    /// The direct children of a node (a macro's list and body included).
    pub fn children(&self) -> Vec<&Ir> {
        children_of!(self, as_ref, iter)
    }

    /// [`Ir::children`], to rewrite them.
    pub fn children_mut(&mut self) -> Vec<&mut Ir> {
        children_of!(self, as_mut, iter_mut)
    }

    /// The local slots the node reads that are not bound inside it (by a macro).
    pub fn free_locals(&self, out: &mut std::collections::HashSet<usize>) {
        match self {
            Ir::Local(s) => {
                out.insert(*s);
            }
            Ir::Macro(_, list, slot, body) => {
                list.free_locals(out);
                let mut inner = std::collections::HashSet::new();
                body.free_locals(&mut inner);
                inner.remove(slot);
                out.extend(inner);
            }
            _ => self.children().into_iter().for_each(|c| c.free_locals(out)),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arith {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MacroKind {
    Exists,
    All,
    None,
    Count,
    Filter,
    Map,
}

/// Built-in functions (SPEC §2.5), after overload resolution by argument types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Builtin {
    LenStr,
    LenList,
    Lower,
    Upper,
    Trim,
    ContainsStr,
    ContainsList,
    StartsWith,
    EndsWith,
    Replace,
    Split,
    Substr,
    First,
    Last,
    MinList,
    MaxList,
    Sum,
    Distinct,
    Int,
    Float,
    Abs,
    Min2,
    Max2,
    Date,
    Days,
    Weeks,
    AddMonths,
    AddYears,
    DaysBetween,
    Year,
    Month,
    Day,
    Weekday,
    AddWorkdays,
    IsWorkday,
    DateOf,
    IsNull,
    Coalesce,
    Domain,
    Ascii,
    Unicode,
    Tld,
    Suffix,
    Registrable,
    Labels,
    IsIdn,
    Ip,
    InCidr,
    IsPrivate,
    IsIpv6,
    ValidCnId,
    ValidUscc,
    ValidCnMobile,
    IcpProvince,
    IcpSite,
}

/// One part of a compiled message.
#[derive(Debug, Clone)]
pub enum MsgPart {
    Lit(String),
    Hole(Ir, Type),
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub id: String,
    pub title: String,
    pub category: String,
    pub severity: Severity,
    pub enabled: bool,
    pub effective_from: Option<NaiveDate>,
    pub effective_until: Option<NaiveDate>,
    /// Local slot of the element and the list to iterate.
    pub for_each: Option<(usize, Ir)>,
    pub lets: Vec<(usize, Ir)>,
    pub applies_if: Option<Ir>,
    pub when: Ir,
    pub message: Vec<MsgPart>,
    pub deadline: Option<Ir>,
    pub remedy: Option<String>,
    pub source: Option<String>,
    pub tests: Vec<TestDef>,
    /// How many local slots an evaluation needs.
    pub locals: usize,
    /// Where the rule is defined.
    pub loc: Loc,
    /// The expression source texts, for `explain` and `rules`.
    pub text: RuleText,
}

/// Source texts of a rule's expressions, as written.
#[derive(Debug, Clone, Default)]
pub struct RuleText {
    pub for_each: Option<String>,
    pub lets: Vec<(String, String)>,
    pub applies_if: Option<String>,
    pub when: String,
    pub message: String,
    pub deadline: Option<String>,
}

impl Rule {
    /// Enabled and within its `effective` window at `as_of` (inclusive).
    pub fn active(&self, as_of: NaiveDate) -> bool {
        self.enabled && self.in_window(as_of)
    }

    pub fn in_window(&self, as_of: NaiveDate) -> bool {
        self.effective_from.is_none_or(|f| as_of >= f)
            && self.effective_until.is_none_or(|u| as_of <= u)
    }
}

/// Which fields of which object types the pack reads, by the address of the schema's
/// `ObjectType` (the checker's types share the schema's `Arc`s). The scan stores only these:
/// other declared fields are still converted to report field errors, but never kept, so a
/// pack that reads 20 of 97 fields does not pay for the other 77.
#[derive(Debug, Clone, Default)]
pub struct Usage {
    masks: rustc_hash::FxHashMap<usize, Box<[bool]>>,
}

impl Usage {
    fn key(o: &ObjectType) -> usize {
        std::ptr::from_ref(o) as usize
    }

    /// Marks one slot of an object type as read.
    pub fn mark(&mut self, o: &ObjectType, slot: usize) {
        let mask = self
            .masks
            .entry(Usage::key(o))
            .or_insert_with(|| vec![false; o.fields.len()].into_boxed_slice());
        if let Some(m) = mask.get_mut(slot) {
            *m = true;
        }
    }

    /// Marks every field of every object inside `ty` as read (the value is rendered, compared
    /// or passed on whole).
    pub fn mark_whole(&mut self, ty: &Type) {
        match ty {
            Type::Object(o) => {
                let all = vec![true; o.fields.len()].into_boxed_slice();
                let before = self.masks.insert(Usage::key(o), all);
                if before.is_some_and(|m| m.iter().all(|b| *b)) {
                    return; // already whole: its fields were marked too
                }
                for (_, t) in &o.fields {
                    self.mark_whole(t);
                }
            }
            Type::List(t) | Type::Map(t) => self.mark_whole(t),
            _ => {}
        }
    }

    /// Whether slot `slot` of `o` is read.
    pub fn reads(&self, o: &ObjectType, slot: usize) -> bool {
        self.mask(o).get(slot).copied().unwrap_or(false)
    }

    /// The read slots of `o` (empty: none is read).
    pub fn mask(&self, o: &ObjectType) -> &[bool] {
        self.masks.get(&Usage::key(o)).map_or(&[], |m| m)
    }
}

/// The compiled pack.
#[derive(Debug, Clone)]
pub struct Program {
    pub meta: Option<PackMeta>,
    pub schema: Arc<ObjectType>,
    /// Slot path of the key field and its type.
    pub key: Option<(Vec<usize>, Type)>,
    pub rules: Vec<Rule>,
    pub calendar: Arc<Calendar>,
    pub sources: Sources,
    /// The fields the rules read (see [`Usage`]).
    pub usage: Arc<Usage>,
    /// How many shared `let` slots the rules use (see [`Ir::Shared`]).
    pub shared: usize,
    /// The rules compiled for evaluation (see [`crate::exec`]).
    pub exec: Arc<crate::exec::Exec>,
}

#[allow(dead_code)]
fn assert_send_sync() {
    fn is<T: Send + Sync>() {}
    is::<Program>();
}
