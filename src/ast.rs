//! The syntax tree of the expression language (SPEC §2.1).
//!
//! `parser.rs` (the only module that uses `nom`) builds it; everything after parsing sees these
//! types only. Every node carries a [`Span`]: a byte range into the expression text it was parsed
//! from. The loader maps those offsets back to file, line and column in the YAML source.

use std::ops::Range;

/// Byte offsets into the expression (or message template) text.
pub type Span = Range<usize>;

/// An expression node with its span.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

/// A name with its span (identifiers, field names, function names).
#[derive(Debug, Clone, PartialEq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    /// `not a` and `!a`
    Not,
    /// `-a`
    Neg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    NotIn,
    /// `??`
    Coalesce,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

impl BinaryOp {
    /// The operator as written in the language, for messages.
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Eq => "==",
            BinaryOp::Ne => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::Le => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Ge => ">=",
            BinaryOp::In => "in",
            BinaryOp::NotIn => "not in",
            BinaryOp::Coalesce => "??",
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Rem => "%",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    /// A bare name: macro variable, `for_each` variable, `let` name, `as_of`, `tables` or a field.
    Ident(String),
    /// `[e, ...]` (a trailing comma is allowed)
    List(Vec<Expr>),
    /// `a.field`
    Field(Box<Expr>, Ident),
    /// `a[i]`
    Index(Box<Expr>, Box<Expr>),
    /// `f(args)`, or `a.f(args)` with `method: true` and the receiver as `args[0]`.
    /// Macros (`L.exists(x, p)`) are calls too: the checker requires `args[1]` to be a bare name.
    Call {
        func: Ident,
        args: Vec<Expr>,
        method: bool,
    },
    Unary(UnaryOp, Box<Expr>),
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    /// `a and b and c ...` as one flat node (at least two operands), so long chains never nest.
    And(Vec<Expr>),
    /// `a or b or c ...` as one flat node (at least two operands).
    Or(Vec<Expr>),
    /// `c ? a : b`
    Cond(Box<Expr>, Box<Expr>, Box<Expr>),
}

/// A message template: literal text and `{expr}` holes (SPEC §1.3, §2.6).
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    pub parts: Vec<TemplatePart>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TemplatePart {
    /// Literal text, with `{{` and `}}` already turned into `{` and `}`.
    Lit(String),
    /// An interpolated expression; its spans are offsets into the whole template text.
    Expr(Expr),
}

/// `x in LIST` of a rule's `for_each`.
#[derive(Debug, Clone, PartialEq)]
pub struct ForEach {
    pub var: Ident,
    pub list: Expr,
}

/// A syntax error: where, what was expected, and an optional hint.
#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    pub span: Span,
    /// Lower-case, user input in backticks, e.g. "expected an expression after `and`".
    pub message: String,
    pub help: Option<String>,
}

/// How deep expressions may nest (parentheses, unary operators, postfix chains, operator chains).
/// Past this the parser reports an error instead of risking the stack.
pub const MAX_DEPTH: usize = 256;

/// Words that cannot be identifiers.
pub const RESERVED: &[&str] = &["and", "or", "not", "in", "null", "true", "false"];
