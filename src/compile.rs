//! Stage 4, compile: the checker lowers each expression bottom-up and calls [`fold`] on every
//! node it builds, so constant sub-expressions are evaluated once at load time (a table lookup
//! with a constant key, `date("2020-07-31")`, `days(45)`, `tables.provinces.鄂.name`...).
//! Regexes, CIDR sets and domain sets are built by the checker when it meets them; the
//! resulting [`crate::program::Program`] is immutable and shared by every worker.

use chrono::NaiveDate;

use crate::eval::{eval, Env};
use crate::funcs::dates::Calendar;
use crate::program::Ir;
use crate::value::Value;

/// Whether every direct child of a node is a constant (and the node reads no record, local or
/// `as_of`), so the node can be evaluated now.
fn foldable(ir: &Ir) -> bool {
    let c = |x: &Ir| matches!(x, Ir::Const(_));
    match ir {
        Ir::Const(_) | Ir::Record | Ir::Local(_) | Ir::AsOf => false,
        // a macro binds its variable in the body: fold only when the list is constant and the
        // body does not read the variable (then it is a constant too)
        Ir::Macro(_, l, _, body) => c(l) && c(body),
        Ir::Field(x, _) | Ir::ToFloat(x) | Ir::Not(x) | Ir::Neg(x) | Ir::Render(x, _) => c(x),
        Ir::InStrSet(x, _) | Ir::InDomainSet(x, _) | Ir::InCidr(x, _) | Ir::Matches(x, _) => c(x),
        Ir::Index(a, b)
        | Ir::MapGet(a, b)
        | Ir::Arith(_, a, b)
        | Ir::Cmp(_, a, b)
        | Ir::In(a, b)
        | Ir::InCidrDyn(a, b)
        | Ir::InDomainDyn(a, b)
        | Ir::Coalesce(a, b)
        | Ir::Capture(a, _, b)
        | Ir::Join(a, b, _) => c(a) && c(b),
        Ir::Cond(a, b, d) => c(a) && c(b) && c(d),
        Ir::List(items) | Ir::And(items) | Ir::Or(items) | Ir::Call(_, items) => {
            items.iter().all(c)
        }
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
    };
    let mut env = program_free_env;
    let v: Value = eval(&ir, &mut env);
    Ir::Const(v)
}
