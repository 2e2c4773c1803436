//! The expression parser (SPEC §2.1, §7 "Expressions"): text in, [`crate::ast`] out.
//!
//! This is the only module that uses `nom`. It works in two layers:
//!
//! * a lexer, built from `nom` combinators, that cuts the text into tokens on demand:
//!   identifiers (UAX #31), reserved words, numbers, strings with escapes, raw strings and
//!   operators, each with its byte span;
//! * an operator-precedence machine over those tokens that keeps pending operators and open
//!   brackets on explicit stacks (a shunting-yard parser with prefix, postfix, n-ary `and`/`or`,
//!   the conditional and brackets). It does not recurse, so its use of the native stack does not
//!   depend on the input, which matters in debug builds where frames are large.
//!
//! Errors are [`ParseError`]s that point at the offending token (or at an empty span at the end
//! of the input), with lower-case messages that say what was expected.
//!
//! # Depth
//!
//! The *height* of a literal or name is 1, and every node, and every pair of parentheses, adds 1
//! to the highest of its parts; an expression may be at most [`MAX_DEPTH`] high, beyond which
//! the error is "expression nests too deeply" (see [`is_too_deep`]). Every entry on the
//! operator stack (a prefix operator, a binary operator waiting for its right operand, an
//! `and`/`or` chain, a `?`, an open bracket or call) becomes one level above the operand being
//! parsed, so pushing one when the stack already holds `MAX_DEPTH - 1` entries is an error, and
//! every subtree pushed on the operand stack must fit under the entries above it. Long `(((`,
//! `---`, `not not`, `?:` or `[[[` runs thus fail at the 96th level without scanning further,
//! and left-deep chains (`a.b.c...`, `a + b + c ...`) fail when the tree they build gets too high.
//! `and`/`or` chains are one flat node, so they can be as long as you like. Since the finished
//! tree is bounded, dropping it (and walking it recursively later) cannot exhaust the stack.

use nom::branch::alt;
use nom::bytes::complete::{tag, take_while, take_while_m_n};
use nom::character::complete::{char as nom_char, digit1, multispace0, one_of, satisfy};
use nom::combinator::{opt, recognize, value};
use nom::sequence::delimited;
use nom::{IResult, Parser as _};

use crate::ast::{
    BinaryOp, Expr, ExprKind, ForEach, Ident, ParseError, Span, Template, TemplatePart, UnaryOp,
    MAX_DEPTH, RESERVED,
};

// ---------------------------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------------------------

/// Parses a whole expression; surrounding whitespace is allowed, anything else after the
/// expression is an error. Spans are byte offsets into `src`.
pub fn parse_expr(src: &str) -> Result<Expr, ParseError> {
    Parser::new(src, 0, src.len())?.expression()
}

/// Parses a message template: literal text with `{expr}` holes; `{{` and `}}` are literal
/// braces. A hole ends at the first `}` outside a string literal. Spans of the holes' expressions
/// are byte offsets into the whole template.
pub fn parse_template(src: &str) -> Result<Template, ParseError> {
    let mut parts = Vec::new();
    let mut lit = String::new();
    let mut pos = 0;
    while let Some(rest) = src.get(pos..) {
        let Some(i) = rest.find(['{', '}']) else {
            lit.push_str(rest);
            break;
        };
        lit.push_str(rest.get(..i).unwrap_or_default());
        let at = pos + i;
        let after = src.get(at + 1..).unwrap_or_default();
        if rest.get(i..).is_some_and(|r| r.starts_with('}')) {
            if after.starts_with('}') {
                lit.push('}');
                pos = at + 2;
                continue;
            }
            return Err(perr(
                at..at + 1,
                "unmatched `}` in message; write `}}` for a literal brace",
                None,
            ));
        }
        if after.starts_with('{') {
            lit.push('{');
            pos = at + 2;
            continue;
        }
        let end = hole_end(src, at)?;
        let expr = Parser::new(src, at + 1, end)?.expression()?;
        if !lit.is_empty() {
            parts.push(TemplatePart::Lit(std::mem::take(&mut lit)));
        }
        parts.push(TemplatePart::Expr(expr));
        pos = end + 1;
    }
    if !lit.is_empty() {
        parts.push(TemplatePart::Lit(lit));
    }
    Ok(Template { parts })
}

/// Parses a rule's `for_each`: a variable name, `in`, and an expression (`d in domain_facts`).
pub fn parse_for_each(src: &str) -> Result<ForEach, ParseError> {
    const HELP: &str = "write `for_each: NAME in LIST`, for example `d in domain_facts`";
    let mut p = Parser::new(src, 0, src.len())?;
    let var = match &p.tok.tok {
        Tok::Ident(name) => Ident {
            name: name.clone(),
            span: p.tok.span.clone(),
        },
        Tok::Kw(w) => {
            return Err(p.err_here(
                format!("`{w}` is a reserved word and cannot be a variable name"),
                Some(HELP.to_string()),
            ))
        }
        _ => {
            return Err(p.err_here(
                "expected a variable name at the start of `for_each`",
                Some(HELP.to_string()),
            ))
        }
    };
    p.bump()?;
    if !p.is_kw("in") {
        return Err(p.err_here(
            "expected `in` after the variable name",
            Some(HELP.to_string()),
        ));
    }
    p.bump()?;
    let list = p.expression()?;
    Ok(ForEach { var, list })
}

/// True when `err` is the "expression nests too deeply" error (diagnostic E111) rather than an
/// ordinary syntax error.
pub fn is_too_deep(err: &ParseError) -> bool {
    err.message.starts_with(TOO_DEEP)
}

const TOO_DEEP: &str = "expression nests too deeply";

fn perr(span: Span, message: impl Into<String>, help: Option<String>) -> ParseError {
    ParseError {
        span,
        message: message.into(),
        help,
    }
}

fn too_deep(span: Span) -> ParseError {
    perr(
        span,
        format!("{TOO_DEEP} (more than {MAX_DEPTH} levels)"),
        Some("split it into smaller parts with `let`".to_string()),
    )
}

/// At most `max_chars` characters of `text` (first line only), with `…` when cut.
fn snippet(text: &str, max_chars: usize) -> String {
    let line = text.lines().next().unwrap_or_default();
    let mut out: String = line.chars().take(max_chars).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    out
}

/// Finds the `}` that closes the hole opened by the `{` at byte `open`: the first `}` outside a
/// string literal. Lexing errors inside the hole are reported as they are.
fn hole_end(src: &str, open: usize) -> Result<usize, ParseError> {
    let mut lex = Lexer {
        src,
        pos: open + 1,
        end: src.len(),
    };
    let mut empty = true;
    loop {
        lex.skip_ws();
        let rest = lex.rest();
        if rest.starts_with('}') {
            if empty {
                return Err(perr(
                    open..lex.pos + 1,
                    "empty `{}` in message",
                    Some(
                        "put an expression between the braces, or write `{{` and `}}` for literal braces"
                            .to_string(),
                    ),
                ));
            }
            return Ok(lex.pos);
        }
        if rest.is_empty() {
            return Err(perr(
                open..open + 1,
                "unclosed `{` in message; write `{{` for a literal brace",
                Some("end the expression with `}`".to_string()),
            ));
        }
        lex.next_token()?;
        empty = false;
    }
}

// ---------------------------------------------------------------------------------------------
// Lexer
// ---------------------------------------------------------------------------------------------

type NomResult<'a, O> = IResult<&'a str, O, nom::error::Error<&'a str>>;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    /// A name that is not reserved.
    Ident(String),
    /// A reserved word (one of [`RESERVED`]).
    Kw(&'static str),
    /// An integer literal; `None` when it does not even fit in a `u64`. The range check is the
    /// parser's, because `-9223372036854775808` is fine.
    Int(Option<u64>),
    Float(f64),
    Str(String),
    /// Punctuation and operators, as written.
    Sym(&'static str),
    Eof,
}

#[derive(Debug, Clone, PartialEq)]
struct Token {
    tok: Tok,
    span: Span,
}

/// Operators and punctuation, longest first so that `alt` takes `==` before `=`-less prefixes.
const SYMBOLS: [&str; 23] = [
    "==", "!=", "<=", ">=", "&&", "||", "??", "(", ")", "[", "]", ",", ".", "?", ":", "<", ">",
    "+", "-", "*", "/", "%", "!",
];

const ESCAPE_HELP: &str =
    "the escapes are `\\\\`, `\\\"`, `\\'`, `\\n`, `\\t` and `\\u{XXXX}`; raw strings `r\"...\"` have none";

fn is_ident_start(c: char) -> bool {
    c == '_' || unicode_ident::is_xid_start(c)
}

fn is_ident_continue(c: char) -> bool {
    c == '_' || unicode_ident::is_xid_continue(c)
}

fn ident_text(input: &str) -> NomResult<'_, &str> {
    recognize((satisfy(is_ident_start), take_while(is_ident_continue))).parse(input)
}

fn number_text(input: &str) -> NomResult<'_, &str> {
    recognize((
        digit1,
        opt((nom_char('.'), digit1)),
        opt((one_of("eE"), opt(one_of("+-")), digit1)),
    ))
    .parse(input)
}

fn symbol(input: &str) -> NomResult<'_, &'static str> {
    alt(SYMBOLS.map(|s| value(s, tag(s)))).parse(input)
}

/// The body of a `\u{...}` escape, after the `\u`: 1 to 6 hex digits in braces.
fn unicode_escape_body(input: &str) -> NomResult<'_, &str> {
    delimited(
        nom_char('{'),
        take_while_m_n(1, 6, |c: char| c.is_ascii_hexdigit()),
        nom_char('}'),
    )
    .parse(input)
}

/// The ASCII character that a full-width (IME) character was probably meant to be.
fn fullwidth_lookalike(c: char) -> Option<&'static str> {
    Some(match c {
        '（' => "(",
        '）' => ")",
        '［' | '【' => "[",
        '］' | '】' => "]",
        '，' | '、' => ",",
        '．' | '。' => ".",
        '：' => ":",
        '？' => "?",
        '！' => "!",
        '＝' => "==",
        '＜' | '《' => "<",
        '＞' | '》' => ">",
        '＋' => "+",
        '－' => "-",
        '＊' => "*",
        '／' => "/",
        '％' => "%",
        '“' | '”' | '＂' => "\"",
        '‘' | '’' | '＇' => "'",
        '≤' => "<=",
        '≥' => ">=",
        '≠' => "!=",
        '\u{3000}' => " ",
        _ => return None,
    })
}

/// Cuts text into tokens, one at a time, between `pos` and `end` (byte offsets into `src`).
#[derive(Debug, Clone)]
struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    end: usize,
}

impl<'a> Lexer<'a> {
    fn rest(&self) -> &'a str {
        self.src.get(self.pos..self.end).unwrap_or_default()
    }

    fn skip_ws(&mut self) {
        let rest = self.rest();
        let r: NomResult<'_, &str> = multispace0(rest);
        if let Ok((after, _)) = r {
            self.pos += rest.len() - after.len();
        }
    }

    fn next_token(&mut self) -> Result<Token, ParseError> {
        self.skip_ws();
        let start = self.pos;
        let rest = self.rest();
        let mut chars = rest.chars();
        let Some(c) = chars.next() else {
            return Ok(Token {
                tok: Tok::Eof,
                span: start..start,
            });
        };
        if c == '"' || c == '\'' {
            return self.string(start, 1, c, false);
        }
        if c == 'r' {
            if let Some(q @ ('"' | '\'')) = chars.next() {
                return self.string(start, 2, q, true);
            }
        }
        if c.is_ascii_digit() {
            return self.number(start, rest);
        }
        if let Ok((_, text)) = ident_text(rest) {
            self.pos = start + text.len();
            let tok = match RESERVED.iter().copied().find(|w| *w == text) {
                Some(w) => Tok::Kw(w),
                None => Tok::Ident(text.to_string()),
            };
            return Ok(Token {
                tok,
                span: start..self.pos,
            });
        }
        if let Ok((_, sym)) = symbol(rest) {
            self.pos = start + sym.len();
            return Ok(Token {
                tok: Tok::Sym(sym),
                span: start..self.pos,
            });
        }
        Err(bad_char(start, c))
    }

    fn number(&mut self, start: usize, rest: &str) -> Result<Token, ParseError> {
        let text = number_text(rest).map(|(_, t)| t).unwrap_or_default();
        let end = start + text.len();
        let glued: usize = rest
            .get(text.len()..)
            .unwrap_or_default()
            .chars()
            .take_while(|c| is_ident_continue(*c))
            .map(char::len_utf8)
            .sum();
        if glued > 0 {
            let bad = self.src.get(start..end + glued).unwrap_or_default();
            let help = bad
                .contains('_')
                .then(|| "write numbers without `_` separators".to_string());
            return Err(perr(
                start..end + glued,
                format!("invalid number `{}`", snippet(bad, 40)),
                help,
            ));
        }
        self.pos = end;
        let tok = if text.contains(['.', 'e', 'E']) {
            match text.parse::<f64>() {
                Ok(v) if v.is_finite() => Tok::Float(v),
                _ => {
                    return Err(perr(
                        start..end,
                        format!("float literal `{}` is out of range", snippet(text, 40)),
                        None,
                    ))
                }
            }
        } else {
            Tok::Int(text.parse::<u64>().ok())
        };
        Ok(Token {
            tok,
            span: start..end,
        })
    }

    /// A string literal starting at `start`; its body starts `prefix` bytes later (after `"`,
    /// `'`, `r"` or `r'`).
    fn string(
        &mut self,
        start: usize,
        prefix: usize,
        quote: char,
        raw: bool,
    ) -> Result<Token, ParseError> {
        let mut p = start + prefix;
        let mut out = String::new();
        while let Some(ch) = self.src.get(p..self.end).and_then(|r| r.chars().next()) {
            if ch == quote {
                self.pos = p + 1;
                return Ok(Token {
                    tok: Tok::Str(out),
                    span: start..self.pos,
                });
            }
            if ch == '\\' && !raw {
                match self.escape(p)? {
                    Some((c, len)) => {
                        out.push(c);
                        p += len;
                        continue;
                    }
                    None => break,
                }
            }
            out.push(ch);
            p += ch.len_utf8();
        }
        Err(perr(
            start..self.end,
            "unterminated string literal",
            Some(format!("close the string with `{quote}`")),
        ))
    }

    /// The escape whose backslash is at byte `at`: the character and the escape's length in
    /// bytes, or `None` when the input ends after the backslash.
    fn escape(&self, at: usize) -> Result<Option<(char, usize)>, ParseError> {
        let Some(c) = self
            .src
            .get(at + 1..self.end)
            .and_then(|r| r.chars().next())
        else {
            return Ok(None);
        };
        let simple = match c {
            '\\' => Some('\\'),
            '"' => Some('"'),
            '\'' => Some('\''),
            'n' => Some('\n'),
            't' => Some('\t'),
            _ => None,
        };
        if let Some(s) = simple {
            return Ok(Some((s, 2)));
        }
        if c != 'u' {
            return Err(perr(
                at..at + 1 + c.len_utf8(),
                format!("unknown escape `\\{}` in string literal", c.escape_debug()),
                Some(ESCAPE_HELP.to_string()),
            ));
        }
        let body = self.src.get(at + 2..self.end).unwrap_or_default();
        match unicode_escape_body(body) {
            Ok((after, hex)) => {
                let len = 2 + body.len() - after.len();
                let ch = u32::from_str_radix(hex, 16).ok().and_then(char::from_u32);
                match ch {
                    Some(ch) => Ok(Some((ch, len))),
                    None => Err(perr(
                        at..at + len,
                        format!(
                            "invalid unicode escape `\\u{{{hex}}}`: not a unicode scalar value"
                        ),
                        Some(
                            "surrogates (D800 to DFFF) and values above 10FFFF are not characters"
                                .to_string(),
                        ),
                    )),
                }
            }
            Err(_) => {
                // Cover what was written of the escape: `\u`, `{`, the hex digits and `}`.
                let mut len = 2;
                if let Some(inner) = body.strip_prefix('{') {
                    let digits = inner.chars().take_while(char::is_ascii_hexdigit).count();
                    len += 1 + digits;
                    if inner.get(digits..).is_some_and(|r| r.starts_with('}')) {
                        len += 1;
                    }
                }
                Err(perr(
                    at..at + len,
                    "malformed unicode escape; write `\\u{XXXX}` with 1 to 6 hex digits",
                    None,
                ))
            }
        }
    }
}

/// The error for a character that starts no token.
fn bad_char(start: usize, c: char) -> ParseError {
    let span = start..start + c.len_utf8();
    match c {
        '=' => perr(span, "unexpected `=`; use `==` to compare", None),
        '&' => perr(span, "unexpected `&`; use `&&` or `and`", None),
        '|' => perr(span, "unexpected `|`; use `||` or `or`", None),
        _ => {
            // invisible format characters (zero-width space and joiners, bidi controls, BOM,
            // soft hyphen) are named by code point too
            let invisible = matches!(u32::from(c), 0xAD | 0x200B..=0x200F | 0x2028..=0x202E | 0x2060..=0x2064 | 0xFEFF);
            let message = if c.is_whitespace() || c.is_control() || invisible {
                format!("unexpected character U+{:04X}", u32::from(c))
            } else {
                format!("unexpected `{c}`")
            };
            let help = fullwidth_lookalike(c).map(|ascii| {
                if ascii == " " {
                    "this is a full-width space; use an ordinary space".to_string()
                } else {
                    format!("write `{ascii}` instead of `{c}`")
                }
            });
            perr(span, message, help)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Parser
// ---------------------------------------------------------------------------------------------
//
// An operator-precedence machine with explicit stacks, so that the native stack stays flat
// whatever the input: it alternates between wanting an operand (literal, name, call, prefix
// operator, opening bracket) and wanting an operator (binary, postfix, closing bracket, end).
// Pending operators and open brackets wait on `ops`; finished subtrees on `operands`.

/// An expression and its height (see the module documentation).
struct Node {
    expr: Expr,
    h: usize,
}

impl Node {
    fn new(kind: ExprKind, span: Span, h: usize) -> Node {
        Node {
            expr: Expr { kind, span },
            h,
        }
    }
}

type PResult<T> = Result<T, ParseError>;

/// Precedence levels, loosest first (brackets, which are barriers, have 0).
const PREC_COND: u8 = 1;
const PREC_OR: u8 = 2;
const PREC_AND: u8 = 3;
const PREC_NOT: u8 = 4;
const PREC_REL: u8 = 5;
const PREC_COALESCE: u8 = 6;
const PREC_ADD: u8 = 7;
const PREC_MUL: u8 = 8;
const PREC_UNARY: u8 = 9;

const COND_HELP: &str = "a conditional is written `condition ? then : else`";

/// Something waiting on the operator stack. Every entry becomes one level above the operand
/// being parsed, which is how the stack's length bounds the depth.
#[derive(Debug)]
enum Op {
    /// `!a`, `-a` (precedence [`PREC_UNARY`]) or `not a` ([`PREC_NOT`]).
    Prefix { op: UnaryOp, prec: u8, span: Span },
    /// A binary operator, relations included; its left operand is on the operand stack.
    Binary { op: BinaryOp, prec: u8, span: Span },
    /// An `and` (`or` false) or `or` chain of `count` operands; `span` is its first operator.
    Chain { or: bool, count: usize, span: Span },
    /// `c ?`, waiting for `:`.
    CondQ { span: Span },
    /// `c ? a :`, waiting for the else branch; `span` is the `?`.
    CondColon { span: Span },
    /// `(`
    Paren { open: Span },
    /// `[` of a list literal, with the number of elements finished so far.
    List { open: Span, count: usize },
    /// `f(` or `.f(`, with the number of arguments finished so far (the receiver of a method
    /// call counts as the first).
    Call {
        func: Ident,
        open: Span,
        count: usize,
        method: bool,
    },
    /// `[` of an index; the base is on the operand stack.
    Index { open: Span },
}

impl Op {
    fn prec(&self) -> u8 {
        match self {
            Op::Prefix { prec, .. } | Op::Binary { prec, .. } => *prec,
            Op::Chain { or: true, .. } => PREC_OR,
            Op::Chain { or: false, .. } => PREC_AND,
            Op::CondQ { .. } | Op::CondColon { .. } => PREC_COND,
            Op::Paren { .. } | Op::List { .. } | Op::Call { .. } | Op::Index { .. } => 0,
        }
    }

    /// Brackets, and a `?` still waiting for its `:`: what closing tokens reduce down to.
    fn is_stop(&self) -> bool {
        matches!(
            self,
            Op::CondQ { .. }
                | Op::Paren { .. }
                | Op::List { .. }
                | Op::Call { .. }
                | Op::Index { .. }
        )
    }
}

/// Whether `not` may start an operand here: only where a whole `not`-level expression fits
/// (not as the operand of a comparison, arithmetic or `!`/`-`).
fn not_allowed_after(top: Option<&Op>) -> bool {
    match top {
        None => true,
        Some(Op::Prefix { prec, .. }) => *prec == PREC_NOT,
        Some(Op::Binary { .. }) => false,
        Some(_) => true,
    }
}

#[derive(Default)]
struct Stacks {
    operands: Vec<Node>,
    ops: Vec<Op>,
}

struct Parser<'a> {
    lex: Lexer<'a>,
    /// The current (not yet consumed) token.
    tok: Token,
    /// The span of the last consumed token, for "after `x`" messages.
    prev: Option<Span>,
}

impl<'a> Parser<'a> {
    fn new(src: &'a str, start: usize, end: usize) -> PResult<Parser<'a>> {
        let mut lex = Lexer {
            src,
            pos: start,
            end,
        };
        let tok = lex.next_token()?;
        Ok(Parser {
            lex,
            tok,
            prev: None,
        })
    }

    /// Consumes the current token and returns it.
    fn bump(&mut self) -> PResult<Token> {
        let next = self.lex.next_token()?;
        let tok = std::mem::replace(&mut self.tok, next);
        self.prev = Some(tok.span.clone());
        Ok(tok)
    }

    fn is_sym(&self, s: &str) -> bool {
        matches!(&self.tok.tok, Tok::Sym(x) if *x == s)
    }

    fn is_kw(&self, k: &str) -> bool {
        matches!(&self.tok.tok, Tok::Kw(x) if *x == k)
    }

    fn text(&self, span: &Span) -> &'a str {
        self.lex.src.get(span.clone()).unwrap_or_default()
    }

    fn err_here(&self, message: impl Into<String>, help: Option<String>) -> ParseError {
        perr(self.tok.span.clone(), message, help)
    }

    /// A broken invariant of the machine; never expected, but reported rather than panicking.
    fn internal(&self) -> ParseError {
        self.err_here("internal error in the expression parser", None)
    }

    // -- errors ----------------------------------------------------------------------------

    /// The error for a missing operand at the current token.
    fn expected_expression(&self) -> ParseError {
        let Some(prev) = &self.prev else {
            return match &self.tok.tok {
                Tok::Sym(s @ (")" | "]")) => self.err_here(format!("unexpected `{s}`"), None),
                Tok::Kw(w) => self.err_here(
                    "expected an expression",
                    Some(format!(
                        "`{w}` is a reserved word and cannot be used as a name"
                    )),
                ),
                _ => self.err_here("expected an expression", None),
            };
        };
        let prev_text = self.text(prev);
        let help = match &self.tok.tok {
            Tok::Kw("not") => Some(
                "`not` binds more loosely than comparisons and arithmetic; put it in parentheses: `(not ...)`"
                    .to_string(),
            ),
            Tok::Sym(":") if prev_text == "?" => {
                Some("to fall back to a default value when null, write `a ?? b`".to_string())
            }
            _ => None,
        };
        self.err_here(format!("expected an expression after `{prev_text}`"), help)
    }

    fn unclosed(&self, closing: &str, opening: &str, open: &Span) -> ParseError {
        let from = self.lex.src.get(open.start..).unwrap_or_default();
        self.err_here(
            format!("expected `{closing}` to close `{opening}`"),
            Some(format!(
                "the unclosed `{opening}` is the one at `{}`",
                snippet(from, 24)
            )),
        )
    }

    /// The current token cannot continue the innermost open construct `op`.
    fn group_error(&self, op: &Op) -> ParseError {
        let at_end = self.tok.tok == Tok::Eof;
        match op {
            Op::CondQ { .. } => self.err_here(
                "expected `:` after the `?` branch",
                Some(COND_HELP.to_string()),
            ),
            Op::Paren { open } => self.unclosed(")", "(", open),
            Op::Call { open, .. } if at_end => self.unclosed(")", "(", open),
            Op::Call { .. } => self.err_here("expected `,` or `)` after an argument", None),
            Op::List { open, .. } if at_end => self.unclosed("]", "[", open),
            Op::List { .. } => self.err_here("expected `,` or `]` after a list element", None),
            Op::Index { open } => self.unclosed("]", "[", open),
            _ => self.internal(),
        }
    }

    /// The current token follows a complete expression that nothing is waiting for.
    fn unexpected_after_end(&self) -> ParseError {
        let span = self.tok.span.clone();
        match &self.tok.tok {
            Tok::Sym(s @ (")" | "]")) => {
                let open = if *s == ")" { "(" } else { "[" };
                perr(
                    span,
                    format!("unexpected `{s}`"),
                    Some(format!("there is no `{open}` for it to close")),
                )
            }
            tok => {
                let help = if starts_primary(tok) {
                    Some(
                        "an operator (such as `and`, `==` or `+`) may be missing before it"
                            .to_string(),
                    )
                } else if *tok == Tok::Sym("!") {
                    Some(
                        "to test that a value is not in a list, write `not in`; to compare, `!=`"
                            .to_string(),
                    )
                } else {
                    None
                };
                perr(
                    span.clone(),
                    format!(
                        "unexpected `{}` after the end of the expression",
                        snippet(self.text(&span), 32)
                    ),
                    help,
                )
            }
        }
    }

    fn int_out_of_range(&self, span: Span) -> ParseError {
        let text = snippet(self.text(&span), 40);
        perr(
            span,
            format!("integer literal `{text}` is out of range"),
            Some(format!("integers range from {} to {}", i64::MIN, i64::MAX)),
        )
    }

    // -- the stacks ------------------------------------------------------------------------

    /// Pushes an operator or bracket; the operand that follows will be one level deeper.
    fn push_op(&self, st: &mut Stacks, op: Op, at: Span) -> PResult<()> {
        if st.ops.len() + 2 > MAX_DEPTH {
            return Err(too_deep(at));
        }
        st.ops.push(op);
        Ok(())
    }

    /// Pushes a finished subtree; with every pending operator above it, it must fit the depth.
    fn push_node(&self, st: &mut Stacks, node: Node, at: Span) -> PResult<()> {
        if st.ops.len() + node.h > MAX_DEPTH {
            return Err(too_deep(at));
        }
        st.operands.push(node);
        Ok(())
    }

    fn pop_operand(&self, st: &mut Stacks) -> PResult<Node> {
        st.operands.pop().ok_or_else(|| self.internal())
    }

    /// The last `n` operands, in order, and their greatest height.
    fn pop_operands(&self, st: &mut Stacks, n: usize) -> PResult<(Vec<Expr>, usize)> {
        let at = st
            .operands
            .len()
            .checked_sub(n)
            .ok_or_else(|| self.internal())?;
        let nodes = st.operands.split_off(at);
        let h = nodes.iter().map(|n| n.h).max().unwrap_or(0);
        Ok((nodes.into_iter().map(|n| n.expr).collect(), h))
    }

    /// Builds the node of the operator on top of the stack.
    fn reduce_top(&self, st: &mut Stacks) -> PResult<()> {
        let Some(op) = st.ops.pop() else {
            return Ok(());
        };
        let (node, at) = match op {
            Op::Prefix { op, span, .. } => {
                let e = self.pop_operand(st)?;
                let s = span.start..e.expr.span.end;
                let h = e.h + 1;
                (Node::new(ExprKind::Unary(op, Box::new(e.expr)), s, h), span)
            }
            Op::Binary { op, span, .. } => {
                let r = self.pop_operand(st)?;
                let l = self.pop_operand(st)?;
                let s = l.expr.span.start..r.expr.span.end;
                let h = 1 + l.h.max(r.h);
                let kind = ExprKind::Binary(op, Box::new(l.expr), Box::new(r.expr));
                (Node::new(kind, s, h), span)
            }
            Op::Chain { or, count, span } => {
                let (items, h) = self.pop_operands(st, count)?;
                let start = items.first().map_or(span.start, |e| e.span.start);
                let end = items.last().map_or(span.end, |e| e.span.end);
                let kind = if or {
                    ExprKind::Or(items)
                } else {
                    ExprKind::And(items)
                };
                (Node::new(kind, start..end, h + 1), span)
            }
            Op::CondColon { span } => {
                let b = self.pop_operand(st)?;
                let a = self.pop_operand(st)?;
                let c = self.pop_operand(st)?;
                let s = c.expr.span.start..b.expr.span.end;
                let h = 1 + c.h.max(a.h).max(b.h);
                let kind = ExprKind::Cond(Box::new(c.expr), Box::new(a.expr), Box::new(b.expr));
                (Node::new(kind, s, h), span)
            }
            other => {
                st.ops.push(other);
                return Err(self.internal());
            }
        };
        self.push_node(st, node, at)
    }

    /// Reduces while the top operator satisfies `pred`.
    fn reduce_while(&self, st: &mut Stacks, pred: impl Fn(&Op) -> bool) -> PResult<()> {
        while st.ops.last().is_some_and(&pred) {
            self.reduce_top(st)?;
        }
        Ok(())
    }

    /// Reduces everything above the innermost bracket or unanswered `?`.
    fn reduce_to_stop(&self, st: &mut Stacks) -> PResult<()> {
        self.reduce_while(st, |op| !op.is_stop())
    }

    // -- the machine -----------------------------------------------------------------------

    /// Parses tokens up to the end of the input as one expression.
    fn expression(&mut self) -> PResult<Expr> {
        let mut st = Stacks::default();
        loop {
            self.operand(&mut st)?;
            if self.operator(&mut st)? {
                break;
            }
        }
        if st.operands.len() != 1 {
            return Err(self.internal());
        }
        Ok(self.pop_operand(&mut st)?.expr)
    }

    /// Wants an operand: takes prefix operators and opening brackets until an operand is
    /// pushed (a literal, a name, or an empty call or list closed right away).
    fn operand(&mut self, st: &mut Stacks) -> PResult<()> {
        loop {
            let span = self.tok.span.clone();
            match &self.tok.tok {
                Tok::Sym("(") => {
                    self.bump()?;
                    let op = Op::Paren { open: span.clone() };
                    self.push_op(st, op, span)?;
                }
                Tok::Sym("[") => {
                    self.bump()?;
                    let op = Op::List {
                        open: span.clone(),
                        count: 0,
                    };
                    self.push_op(st, op, span)?;
                }
                Tok::Sym("!") => {
                    self.bump()?;
                    let op = Op::Prefix {
                        op: UnaryOp::Not,
                        prec: PREC_UNARY,
                        span: span.clone(),
                    };
                    self.push_op(st, op, span)?;
                }
                Tok::Sym("-") => {
                    self.bump()?;
                    if matches!(self.tok.tok, Tok::Int(_) | Tok::Float(_)) {
                        return self.negative_literal(st, span);
                    }
                    let op = Op::Prefix {
                        op: UnaryOp::Neg,
                        prec: PREC_UNARY,
                        span: span.clone(),
                    };
                    self.push_op(st, op, span)?;
                }
                Tok::Kw("not") => {
                    if !not_allowed_after(st.ops.last()) {
                        return Err(self.expected_expression());
                    }
                    self.bump()?;
                    let op = Op::Prefix {
                        op: UnaryOp::Not,
                        prec: PREC_NOT,
                        span: span.clone(),
                    };
                    self.push_op(st, op, span)?;
                }
                // `f()`, `f(a,)`: the call closes where an argument could start.
                Tok::Sym(")") if matches!(st.ops.last(), Some(Op::Call { .. })) => {
                    let close = self.bump()?.span;
                    return self.close_call(st, close);
                }
                // `[]`, `[a,]`
                Tok::Sym("]") if matches!(st.ops.last(), Some(Op::List { .. })) => {
                    let close = self.bump()?.span;
                    return self.close_list(st, close);
                }
                tok if starts_primary(tok) => {
                    let t = self.bump()?;
                    let kind = match t.tok {
                        Tok::Kw("null") => ExprKind::Null,
                        Tok::Kw("true") => ExprKind::Bool(true),
                        Tok::Kw("false") => ExprKind::Bool(false),
                        Tok::Str(s) => ExprKind::Str(s),
                        Tok::Int(_) | Tok::Float(_) => {
                            let node = self.literal_node(t)?;
                            return self.push_node(st, node, span);
                        }
                        Tok::Ident(name) => {
                            if self.is_sym("(") {
                                let open = self.bump()?.span;
                                let func = Ident { name, span: t.span };
                                let op = Op::Call {
                                    func,
                                    open: open.clone(),
                                    count: 0,
                                    method: false,
                                };
                                self.push_op(st, op, open)?;
                                continue;
                            }
                            ExprKind::Ident(name)
                        }
                        _ => return Err(self.internal()),
                    };
                    return self.push_node(st, Node::new(kind, t.span, 1), span);
                }
                _ => return Err(self.expected_expression()),
            }
        }
    }

    /// `-` followed by a number literal: a negative literal (so that `-9223372036854775808` is
    /// an `i64`), unless a postfix operator follows the literal: `-5.abs()` is `-(5.abs())`.
    fn negative_literal(&mut self, st: &mut Stacks, minus: Span) -> PResult<()> {
        let lit = self.bump()?;
        if self.is_sym(".") || self.is_sym("[") || self.is_sym("(") {
            let op = Op::Prefix {
                op: UnaryOp::Neg,
                prec: PREC_UNARY,
                span: minus.clone(),
            };
            self.push_op(st, op, minus)?;
            let at = lit.span.clone();
            let node = self.literal_node(lit)?;
            return self.push_node(st, node, at);
        }
        let span = minus.start..lit.span.end;
        let kind = match lit.tok {
            Tok::Int(v) => match v.and_then(|v| 0i64.checked_sub_unsigned(v)) {
                Some(n) => ExprKind::Int(n),
                None => return Err(self.int_out_of_range(span)),
            },
            Tok::Float(f) => ExprKind::Float(-f),
            _ => return Err(self.internal()),
        };
        self.push_node(st, Node::new(kind, span.clone(), 1), span)
    }

    /// A number literal token as a node.
    fn literal_node(&self, lit: Token) -> PResult<Node> {
        let kind = match lit.tok {
            Tok::Int(v) => match v.and_then(|v| i64::try_from(v).ok()) {
                Some(n) => ExprKind::Int(n),
                None => return Err(self.int_out_of_range(lit.span)),
            },
            Tok::Float(f) => ExprKind::Float(f),
            _ => return Err(self.internal()),
        };
        Ok(Node::new(kind, lit.span, 1))
    }

    /// Wants an operator: applies postfix operators and closing brackets to the operand on top,
    /// until a binary operator or separator asks for the next operand (false) or the input ends
    /// (true).
    fn operator(&mut self, st: &mut Stacks) -> PResult<bool> {
        loop {
            let span = self.tok.span.clone();
            if let Some((op, prec)) = self.binop() {
                self.bump()?;
                self.reduce_while(st, |o| o.prec() >= prec)?;
                self.push_op(
                    st,
                    Op::Binary {
                        op,
                        prec,
                        span: span.clone(),
                    },
                    span,
                )?;
                return Ok(false);
            }
            match &self.tok.tok {
                Tok::Sym("==" | "!=" | "<" | "<=" | ">" | ">=") | Tok::Kw("in" | "not") => {
                    let (op, op_span) = self.relation_op()?;
                    self.reduce_while(st, |o| o.prec() > PREC_REL)?;
                    if st.ops.last().is_some_and(|o| o.prec() == PREC_REL) {
                        return Err(perr(
                            op_span,
                            "comparisons cannot be chained; use `and`",
                            Some("for example `a < b and b < c`".to_string()),
                        ));
                    }
                    let op = Op::Binary {
                        op,
                        prec: PREC_REL,
                        span: op_span.clone(),
                    };
                    self.push_op(st, op, op_span)?;
                    return Ok(false);
                }
                Tok::Kw("and") | Tok::Sym("&&") => {
                    self.bump()?;
                    self.chain_op(st, false, span)?;
                    return Ok(false);
                }
                Tok::Kw("or") | Tok::Sym("||") => {
                    self.bump()?;
                    self.chain_op(st, true, span)?;
                    return Ok(false);
                }
                Tok::Sym("?") => {
                    self.bump()?;
                    self.reduce_while(st, |o| o.prec() > PREC_COND)?;
                    self.push_op(st, Op::CondQ { span: span.clone() }, span)?;
                    return Ok(false);
                }
                Tok::Sym(":") => {
                    self.reduce_to_stop(st)?;
                    return match st.ops.pop() {
                        Some(Op::CondQ { span: q }) => {
                            // the same level: `c ? a` now waits for its else branch
                            st.ops.push(Op::CondColon { span: q });
                            self.bump()?;
                            Ok(false)
                        }
                        Some(top) => Err(self.group_error(&top)),
                        None => Err(self.unexpected_after_end()),
                    };
                }
                Tok::Sym(",") => {
                    self.reduce_to_stop(st)?;
                    return match st.ops.last_mut() {
                        Some(Op::List { count, .. } | Op::Call { count, .. }) => {
                            *count += 1;
                            self.bump()?;
                            Ok(false)
                        }
                        Some(top) => Err(self.group_error(top)),
                        None => Err(self.unexpected_after_end()),
                    };
                }
                Tok::Sym(".") => {
                    self.bump()?;
                    let name = self.field_name()?;
                    if self.is_sym("(") {
                        let open = self.bump()?.span;
                        let op = Op::Call {
                            func: name,
                            open: open.clone(),
                            count: 1,
                            method: true,
                        };
                        self.push_op(st, op, open)?;
                        return Ok(false);
                    }
                    let base = self.pop_operand(st)?;
                    let s = base.expr.span.start..name.span.end;
                    let at = span.start..name.span.end;
                    let h = base.h + 1;
                    let node = Node::new(ExprKind::Field(Box::new(base.expr), name), s, h);
                    self.push_node(st, node, at)?;
                }
                Tok::Sym("[") => {
                    self.bump()?;
                    self.push_op(st, Op::Index { open: span.clone() }, span)?;
                    return Ok(false);
                }
                Tok::Sym("(") => {
                    return Err(self.err_here(
                        "unexpected `(`: only a function or a method can be called",
                        Some("a call is written `name(args)` or `value.name(args)`".to_string()),
                    ));
                }
                Tok::Sym(")") => {
                    self.reduce_to_stop(st)?;
                    match st.ops.last_mut() {
                        Some(Op::Paren { .. }) => {
                            let close = self.bump()?.span;
                            self.close_paren(st, close)?;
                        }
                        Some(Op::Call { count, .. }) => {
                            *count += 1;
                            let close = self.bump()?.span;
                            self.close_call(st, close)?;
                        }
                        Some(top) => return Err(self.group_error(top)),
                        None => return Err(self.unexpected_after_end()),
                    }
                }
                Tok::Sym("]") => {
                    self.reduce_to_stop(st)?;
                    match st.ops.last_mut() {
                        Some(Op::List { count, .. }) => {
                            *count += 1;
                            let close = self.bump()?.span;
                            self.close_list(st, close)?;
                        }
                        Some(Op::Index { .. }) => {
                            let close = self.bump()?.span;
                            self.close_index(st, close)?;
                        }
                        Some(top) => return Err(self.group_error(top)),
                        None => return Err(self.unexpected_after_end()),
                    }
                }
                Tok::Eof => {
                    self.reduce_to_stop(st)?;
                    return match st.ops.last() {
                        None => Ok(true),
                        Some(top) => Err(self.group_error(top)),
                    };
                }
                _ => {
                    self.reduce_to_stop(st)?;
                    return Err(match st.ops.last() {
                        Some(top) => self.group_error(top),
                        None => self.unexpected_after_end(),
                    });
                }
            }
        }
    }

    fn binop(&self) -> Option<(BinaryOp, u8)> {
        Some(match &self.tok.tok {
            Tok::Sym("??") => (BinaryOp::Coalesce, PREC_COALESCE),
            Tok::Sym("+") => (BinaryOp::Add, PREC_ADD),
            Tok::Sym("-") => (BinaryOp::Sub, PREC_ADD),
            Tok::Sym("*") => (BinaryOp::Mul, PREC_MUL),
            Tok::Sym("/") => (BinaryOp::Div, PREC_MUL),
            Tok::Sym("%") => (BinaryOp::Rem, PREC_MUL),
            _ => return None,
        })
    }

    /// Consumes a relation operator (the current token starts one), `not in` included.
    fn relation_op(&mut self) -> PResult<(BinaryOp, Span)> {
        let op = match &self.tok.tok {
            Tok::Sym("==") => BinaryOp::Eq,
            Tok::Sym("!=") => BinaryOp::Ne,
            Tok::Sym("<") => BinaryOp::Lt,
            Tok::Sym("<=") => BinaryOp::Le,
            Tok::Sym(">") => BinaryOp::Gt,
            Tok::Sym(">=") => BinaryOp::Ge,
            Tok::Kw("in") => BinaryOp::In,
            Tok::Kw("not") => {
                let not = self.bump()?.span;
                if !self.is_kw("in") {
                    return Err(self.err_here(
                        "expected `in` after `not`",
                        Some(
                            "inside an expression `not` is only the operator `not in`; to negate a comparison, write `not` before all of it"
                                .to_string(),
                        ),
                    ));
                }
                let in_ = self.bump()?.span;
                return Ok((BinaryOp::NotIn, not.start..in_.end));
            }
            _ => return Err(self.internal()),
        };
        let span = self.bump()?.span;
        Ok((op, span))
    }

    /// An `and` (`or` false) or `or` operator: extends the chain on top, or starts one.
    fn chain_op(&self, st: &mut Stacks, or: bool, span: Span) -> PResult<()> {
        let prec = if or { PREC_OR } else { PREC_AND };
        self.reduce_while(st, |o| o.prec() > prec)?;
        if let Some(Op::Chain { or: o, count, .. }) = st.ops.last_mut() {
            if *o == or {
                *count += 1;
                return Ok(());
            }
        }
        let op = Op::Chain {
            or,
            count: 2,
            span: span.clone(),
        };
        self.push_op(st, op, span)
    }

    /// The name after `.`: any identifier, reserved words included.
    fn field_name(&mut self) -> PResult<Ident> {
        match &self.tok.tok {
            Tok::Ident(_) | Tok::Kw(_) => {
                let t = self.bump()?;
                let name = match t.tok {
                    Tok::Ident(n) => n,
                    Tok::Kw(w) => w.to_string(),
                    _ => String::new(),
                };
                Ok(Ident { name, span: t.span })
            }
            Tok::Int(_) | Tok::Float(_) => Err(self.err_here(
                "expected a field name after `.`",
                Some("to take an element of a list, write `list[i]`".to_string()),
            )),
            _ => Err(self.err_here("expected a field name after `.`", None)),
        }
    }

    /// `)` of `( e )`: the expression's span grows to cover the parentheses.
    fn close_paren(&self, st: &mut Stacks, close: Span) -> PResult<()> {
        let Some(Op::Paren { open }) = st.ops.pop() else {
            return Err(self.internal());
        };
        let inner = self.pop_operand(st)?;
        let node = Node::new(inner.expr.kind, open.start..close.end, inner.h + 1);
        self.push_node(st, node, open)
    }

    /// `)` of a call whose `count` arguments are on the operand stack.
    fn close_call(&self, st: &mut Stacks, close: Span) -> PResult<()> {
        let Some(Op::Call {
            func,
            count,
            method,
            ..
        }) = st.ops.pop()
        else {
            return Err(self.internal());
        };
        let (args, h) = self.pop_operands(st, count)?;
        let start = match args.first() {
            Some(receiver) if method => receiver.span.start,
            _ => func.span.start,
        };
        let at = func.span.clone();
        let kind = ExprKind::Call { func, args, method };
        self.push_node(st, Node::new(kind, start..close.end, h + 1), at)
    }

    /// `]` of a list literal whose `count` elements are on the operand stack.
    fn close_list(&self, st: &mut Stacks, close: Span) -> PResult<()> {
        let Some(Op::List { open, count }) = st.ops.pop() else {
            return Err(self.internal());
        };
        let (items, h) = self.pop_operands(st, count)?;
        let node = Node::new(ExprKind::List(items), open.start..close.end, h + 1);
        self.push_node(st, node, open)
    }

    /// `]` of `a[i]`.
    fn close_index(&self, st: &mut Stacks, close: Span) -> PResult<()> {
        let Some(Op::Index { open }) = st.ops.pop() else {
            return Err(self.internal());
        };
        let idx = self.pop_operand(st)?;
        let base = self.pop_operand(st)?;
        let s = base.expr.span.start..close.end;
        let h = 1 + base.h.max(idx.h);
        let node = Node::new(
            ExprKind::Index(Box::new(base.expr), Box::new(idx.expr)),
            s,
            h,
        );
        self.push_node(st, node, open)
    }
}

/// Whether a token can begin an operand without a prefix operator.
fn starts_primary(tok: &Tok) -> bool {
    matches!(
        tok,
        Tok::Kw("null" | "true" | "false")
            | Tok::Int(_)
            | Tok::Float(_)
            | Tok::Str(_)
            | Tok::Ident(_)
            | Tok::Sym("(" | "[")
    )
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // -- helpers ---------------------------------------------------------------------------

    /// A compact rendering of the tree, for readable precedence tests.
    fn sx(e: &Expr) -> String {
        let list = |items: &[Expr]| items.iter().map(sx).collect::<Vec<_>>().join(" ");
        match &e.kind {
            ExprKind::Null => "null".into(),
            ExprKind::Bool(b) => b.to_string(),
            ExprKind::Int(i) => i.to_string(),
            ExprKind::Float(f) => format!("{f:?}"),
            ExprKind::Str(s) => format!("{s:?}"),
            ExprKind::Ident(n) => n.clone(),
            ExprKind::List(items) => format!("[{}]", list(items)),
            ExprKind::Field(b, f) => format!("(. {} {})", sx(b), f.name),
            ExprKind::Index(b, i) => format!("([] {} {})", sx(b), sx(i)),
            ExprKind::Call { func, args, method } => {
                let dot = if *method { "." } else { "" };
                if args.is_empty() {
                    format!("({dot}{})", func.name)
                } else {
                    format!("({dot}{} {})", func.name, list(args))
                }
            }
            ExprKind::Unary(UnaryOp::Not, a) => format!("(! {})", sx(a)),
            ExprKind::Unary(UnaryOp::Neg, a) => format!("(neg {})", sx(a)),
            ExprKind::Binary(op, a, b) => format!("({} {} {})", op.symbol(), sx(a), sx(b)),
            ExprKind::And(items) => format!("(and {})", list(items)),
            ExprKind::Or(items) => format!("(or {})", list(items)),
            ExprKind::Cond(c, a, b) => format!("(? {} {} {})", sx(c), sx(a), sx(b)),
        }
    }

    fn p(src: &str) -> Expr {
        match parse_expr(src) {
            Ok(e) => e,
            Err(e) => panic!("`{src}` failed to parse: {e:?}"),
        }
    }

    fn s(src: &str) -> String {
        sx(&p(src))
    }

    fn err(src: &str) -> ParseError {
        match parse_expr(src) {
            Ok(e) => panic!("`{src}` parsed as {}", sx(&e)),
            Err(e) => e,
        }
    }

    /// Asserts the error's message and span.
    fn check_err(src: &str, message: &str, span: Span) {
        let e = err(src);
        assert_eq!(e.message, message, "message for `{src}`");
        assert_eq!(e.span, span, "span for `{src}` ({e:?})");
    }

    /// Every child span lies inside its parent's, and every span inside the source.
    fn check_spans(e: &Expr, len: usize) {
        assert!(e.span.start <= e.span.end && e.span.end <= len, "{e:?}");
        let inside = |c: &Expr| {
            assert!(
                e.span.start <= c.span.start && c.span.end <= e.span.end,
                "child {:?} outside {:?}",
                c.span,
                e.span
            );
            check_spans(c, len);
        };
        match &e.kind {
            ExprKind::List(v) | ExprKind::And(v) | ExprKind::Or(v) => v.iter().for_each(inside),
            ExprKind::Call { args, func, .. } => {
                assert!(e.span.start <= func.span.start && func.span.end <= e.span.end);
                args.iter().for_each(inside);
            }
            ExprKind::Field(b, f) => {
                inside(b);
                assert!(b.span.end <= f.span.start && f.span.end <= e.span.end);
            }
            ExprKind::Index(a, b) | ExprKind::Binary(_, a, b) => {
                inside(a);
                inside(b);
            }
            ExprKind::Unary(_, a) => inside(a),
            ExprKind::Cond(a, b, c) => {
                inside(a);
                inside(b);
                inside(c);
            }
            _ => {}
        }
    }

    fn text<'a>(src: &'a str, span: &Span) -> &'a str {
        &src[span.clone()]
    }

    // -- literals --------------------------------------------------------------------------

    #[test]
    fn keyword_literals() {
        assert_eq!(p("null").kind, ExprKind::Null);
        assert_eq!(p("true").kind, ExprKind::Bool(true));
        assert_eq!(p("false").kind, ExprKind::Bool(false));
        assert_eq!(p("  true\n").span, 2..6);
    }

    #[test]
    fn integers() {
        assert_eq!(p("0").kind, ExprKind::Int(0));
        assert_eq!(p("42").kind, ExprKind::Int(42));
        assert_eq!(p("007").kind, ExprKind::Int(7));
        assert_eq!(p("9223372036854775807").kind, ExprKind::Int(i64::MAX));
        let min = p("-9223372036854775808");
        assert_eq!(min.kind, ExprKind::Int(i64::MIN));
        assert_eq!(min.span, 0..20);
        assert_eq!(p("-5").kind, ExprKind::Int(-5));
        assert_eq!(p("- 5").kind, ExprKind::Int(-5));
        assert_eq!(p("- 5").span, 0..3);
        assert_eq!(s("-(5)"), "(neg 5)");
        assert_eq!(s("--5"), "(neg -5)");
        assert_eq!(s("1 - -5"), "(- 1 -5)");
        assert_eq!(s("[-1, -2]"), "[-1 -2]");
    }

    #[test]
    fn integer_out_of_range() {
        check_err(
            "9223372036854775808",
            "integer literal `9223372036854775808` is out of range",
            0..19,
        );
        check_err(
            "1 + 99999999999999999999999",
            "integer literal `99999999999999999999999` is out of range",
            4..27,
        );
        check_err(
            "-9223372036854775809",
            "integer literal `-9223372036854775809` is out of range",
            0..20,
        );
        // A postfix operator applies to the literal before the minus, as in Rust.
        check_err(
            "-9223372036854775808.abs()",
            "integer literal `9223372036854775808` is out of range",
            1..20,
        );
        assert!(err("1 + 99999999999999999999999").help.is_some());
    }

    #[test]
    fn floats() {
        assert_eq!(p("1.5").kind, ExprKind::Float(1.5));
        assert_eq!(p("1e3").kind, ExprKind::Float(1000.0));
        assert_eq!(p("1E3").kind, ExprKind::Float(1000.0));
        assert_eq!(p("2.5e-3").kind, ExprKind::Float(0.0025));
        assert_eq!(p("2.5e+3").kind, ExprKind::Float(2500.0));
        assert_eq!(p("-0.5").kind, ExprKind::Float(-0.5));
        assert_eq!(p("0.1").span, 0..3);
        check_err("1e999", "float literal `1e999` is out of range", 0..5);
    }

    #[test]
    fn bad_numbers() {
        check_err("12abc", "invalid number `12abc`", 0..5);
        check_err("x + 1e", "invalid number `1e`", 4..6);
        check_err("1_000", "invalid number `1_000`", 0..5);
        assert!(err("1_000").help.is_some());
        check_err("1.5x", "invalid number `1.5x`", 0..4);
    }

    #[test]
    fn number_then_dot() {
        // `1.` is not a float: it is `1` followed by a field access
        assert_eq!(s("1.abs()"), "(.abs 1)");
        assert_eq!(s("1.5.abs()"), "(.abs 1.5)");
        assert_eq!(s("-5.abs()"), "(neg (.abs 5))");
        assert_eq!(s("-5[0]"), "(neg ([] 5 0))");
        check_err("1.", "expected a field name after `.`", 2..2);
        check_err("a.0", "expected a field name after `.`", 2..3);
        assert!(err("a.0").help.unwrap().contains("[i]"));
    }

    #[test]
    fn strings() {
        assert_eq!(p(r#""abc""#).kind, ExprKind::Str("abc".into()));
        assert_eq!(p("'abc'").kind, ExprKind::Str("abc".into()));
        assert_eq!(p(r#""""#).kind, ExprKind::Str(String::new()));
        assert_eq!(p(r#""个人""#).kind, ExprKind::Str("个人".into()));
        assert_eq!(p(r#""个人""#).span, 0..8);
        assert_eq!(p(r#""it's""#).kind, ExprKind::Str("it's".into()));
        assert_eq!(p(r#"'say "hi"'"#).kind, ExprKind::Str("say \"hi\"".into()));
        assert_eq!(p("\"a\nb\"").kind, ExprKind::Str("a\nb".into()));
    }

    #[test]
    fn string_escapes() {
        assert_eq!(
            p(r#""a\\b\"c\'d\ne\tf""#).kind,
            ExprKind::Str("a\\b\"c'd\ne\tf".into())
        );
        assert_eq!(p(r"'\''").kind, ExprKind::Str("'".into()));
        assert_eq!(p(r#""\u{41}""#).kind, ExprKind::Str("A".into()));
        assert_eq!(
            p(r#""\u{4e2d}\u{6587}""#).kind,
            ExprKind::Str("中文".into())
        );
        assert_eq!(
            p(r#""\u{10FFFF}""#).kind,
            ExprKind::Str("\u{10FFFF}".into())
        );
        assert_eq!(p(r#""\u{1F600}!""#).kind, ExprKind::Str("😀!".into()));
    }

    #[test]
    fn string_escape_errors() {
        check_err(r#""ab\qc""#, "unknown escape `\\q` in string literal", 3..5);
        assert!(err(r#""ab\qc""#).help.unwrap().contains("\\u{XXXX}"));
        check_err(r#""\中""#, "unknown escape `\\中` in string literal", 1..5);
        check_err(r#""\r""#, "unknown escape `\\r` in string literal", 1..3);
        let malformed = "malformed unicode escape; write `\\u{XXXX}` with 1 to 6 hex digits";
        check_err(r#""\u41""#, malformed, 1..3);
        check_err(r#""x\u{}""#, malformed, 2..6);
        check_err(r#""\u{1234567}""#, malformed, 1..12);
        check_err(r#""\u{12g}""#, malformed, 1..6);
        check_err(r#""\u{12""#, malformed, 1..6);
        check_err(
            r#""\u{D800}""#,
            "invalid unicode escape `\\u{D800}`: not a unicode scalar value",
            1..9,
        );
        check_err(
            r#""\u{110000}""#,
            "invalid unicode escape `\\u{110000}`: not a unicode scalar value",
            1..11,
        );
    }

    #[test]
    fn unterminated_strings() {
        check_err(r#"a == "abc"#, "unterminated string literal", 5..9);
        check_err("'abc", "unterminated string literal", 0..4);
        check_err(r#""abc\"#, "unterminated string literal", 0..5);
        check_err(r#""abc\""#, "unterminated string literal", 0..6);
        check_err(r#"r"abc"#, "unterminated string literal", 0..5);
        assert_eq!(
            err("'abc").help.as_deref(),
            Some("close the string with `'`")
        );
    }

    #[test]
    fn raw_strings() {
        assert_eq!(p(r#"r"a\d+\n""#).kind, ExprKind::Str(r"a\d+\n".into()));
        assert_eq!(p(r"r'\w'").kind, ExprKind::Str(r"\w".into()));
        assert_eq!(p(r#"r'say "x"'"#).kind, ExprKind::Str("say \"x\"".into()));
        assert_eq!(p(r#"r"""#).kind, ExprKind::Str(String::new()));
        assert_eq!(p(r#"r"x""#).span, 0..4);
        assert_eq!(s(r#"matches(s, r"^\d{3}$")"#), r#"(matches s "^\\d{3}$")"#);
        // `r` alone, or before something else, is a name
        assert_eq!(s("r"), "r");
        assert_eq!(s("r + rr"), "(+ r rr)");
        check_err(
            r#"rr"x""#,
            "unexpected `\"x\"` after the end of the expression",
            2..5,
        );
    }

    // -- identifiers -----------------------------------------------------------------------

    #[test]
    fn identifiers() {
        assert_eq!(p("subject").kind, ExprKind::Ident("subject".into()));
        assert_eq!(p("_x1").kind, ExprKind::Ident("_x1".into()));
        assert_eq!(p("_").kind, ExprKind::Ident("_".into()));
        assert_eq!(p("as_of").kind, ExprKind::Ident("as_of".into()));
        let e = p("主办单位名称");
        assert_eq!(e.kind, ExprKind::Ident("主办单位名称".into()));
        assert_eq!(e.span, 0..18);
        assert_eq!(
            s("主办单位.名称 == '个人'"),
            r#"(== (. 主办单位 名称) "个人")"#
        );
        assert_eq!(s("café1"), "café1");
        assert_eq!(s("nullable and android"), "(and nullable android)");
        assert_eq!(s("notes or inner"), "(or notes inner)");
        assert_eq!(s("true_ == false_"), "(== true_ false_)");
    }

    #[test]
    fn identifier_characters() {
        // a digit cannot start a name; `１` (full-width digit) is not XID_Start
        check_err("１a", "unexpected `１`", 0..3);
        check_err("a $ b", "unexpected `$`", 2..3);
        check_err("a # comment", "unexpected `#`", 2..3);
        check_err("a\u{0}", "unexpected character U+0000", 1..2);
    }

    #[test]
    fn reserved_words_are_not_names() {
        check_err("in", "expected an expression", 0..2);
        assert!(err("in").help.unwrap().contains("reserved"));
        check_err("and", "expected an expression", 0..3);
        check_err("a + or", "expected an expression after `+`", 4..6);
        check_err("f(in)", "expected an expression after `(`", 2..4);
    }

    #[test]
    fn reserved_words_as_field_names() {
        assert_eq!(s("a.in"), "(. a in)");
        assert_eq!(s("a.not.and"), "(. (. a not) and)");
        assert_eq!(s("a.null"), "(. a null)");
        assert_eq!(s("x.or(y)"), "(.or x y)");
    }

    #[test]
    fn whitespace() {
        assert_eq!(s("\n  a\n  and\tb\r\n"), "(and a b)");
        assert_eq!(
            s("list\n  .filter(x, x > 1)\n  .count()"),
            "(.count (.filter list x (> x 1)))"
        );
        assert_eq!(s("a . b"), "(. a b)");
        check_err("a\u{3000}b", "unexpected character U+3000", 1..4);
        check_err("a\u{200B}", "unexpected character U+200B", 1..4);
        assert!(err("a\u{3000}b").help.unwrap().contains("full-width space"));
    }

    #[test]
    fn lookalike_hints() {
        let e = err("a ≤ b");
        assert_eq!(e.message, "unexpected `≤`");
        assert_eq!(e.span, 2..5);
        assert_eq!(e.help.as_deref(), Some("write `<=` instead of `≤`"));
        let e = err("a !in b");
        assert_eq!(e.message, "unexpected `!` after the end of the expression");
        assert!(e.help.unwrap().contains("`not in`"));
    }

    #[test]
    fn fullwidth_punctuation_hints() {
        let e = err("len（a）");
        assert_eq!(e.message, "unexpected `（`");
        assert_eq!(e.span, 3..6);
        assert_eq!(e.help.as_deref(), Some("write `(` instead of `（`"));
        assert_eq!(
            err("f(a，b)").help.as_deref(),
            Some("write `,` instead of `，`")
        );
        assert_eq!(
            err("a == “x”").help.as_deref(),
            Some("write `\"` instead of `“`")
        );
    }

    // -- precedence and associativity ------------------------------------------------------

    #[test]
    fn conditional() {
        assert_eq!(s("c ? a : b"), "(? c a b)");
        // right-associative
        assert_eq!(s("a ? b : c ? d : e"), "(? a b (? c d e))");
        assert_eq!(s("a ? b ? c : d : e"), "(? a (? b c d) e)");
        // looser than everything else
        assert_eq!(
            s("a or b ? c and d : e ?? f"),
            "(? (or a b) (and c d) (?? e f))"
        );
        assert_eq!(s("not a ? b : c"), "(? (! a) b c)");
        assert_eq!(s("a == 1 ? 'x' : 'y'"), r#"(? (== a 1) "x" "y")"#);
        assert_eq!(s("(a ? b : c) + 1"), "(+ (? a b c) 1)");
        assert_eq!(s("f(a ? b : c, d)"), "(f (? a b c) d)");
        assert_eq!(s("[a ? b : c]"), "[(? a b c)]");
        assert_eq!(s("x[a ? 0 : 1]"), "([] x (? a 0 1))");
        assert_eq!(s("a ? not b : not c"), "(? a (! b) (! c))");
    }

    #[test]
    fn or_and_chains_are_flat() {
        assert_eq!(s("a or b"), "(or a b)");
        assert_eq!(s("a or b or c || d"), "(or a b c d)");
        assert_eq!(s("a and b && c and d"), "(and a b c d)");
        assert_eq!(s("a or b and c or d"), "(or a (and b c) d)");
        assert_eq!(s("a and b or c and d"), "(or (and a b) (and c d))");
        assert_eq!(s("a and (b and c)"), "(and a (and b c))");
        assert_eq!(s("(a or b) and c"), "(and (or a b) c)");
        let e = p("a and b and c");
        match &e.kind {
            ExprKind::And(items) => assert_eq!(items.len(), 3),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn not_level() {
        assert_eq!(s("not a"), "(! a)");
        assert_eq!(s("not a == b"), "(! (== a b))");
        assert_eq!(s("not a in b"), "(! (in a b))");
        assert_eq!(s("not a and b"), "(and (! a) b)");
        assert_eq!(s("a and not b"), "(and a (! b))");
        assert_eq!(s("not not a"), "(! (! a))");
        assert_eq!(s("not a + 1 < 2"), "(! (< (+ a 1) 2))");
        assert_eq!(s("not !a"), "(! (! a))");
        assert_eq!(s("not d.realname_verified"), "(! (. d realname_verified))");
        assert_eq!(s("a or not b or c"), "(or a (! b) c)");
    }

    #[test]
    fn not_inside_comparison_needs_parentheses() {
        let e = err("a == not b");
        assert_eq!(e.message, "expected an expression after `==`");
        assert_eq!(e.span, 5..8);
        assert!(e.help.unwrap().contains("(not ...)"));
        assert_eq!(err("!not a").message, "expected an expression after `!`");
        assert_eq!(err("1 + not a").message, "expected an expression after `+`");
        assert_eq!(s("a == (not b)"), "(== a (! b))");
    }

    #[test]
    fn relations() {
        assert_eq!(s("a == b"), "(== a b)");
        assert_eq!(s("a != b"), "(!= a b)");
        assert_eq!(s("a < b"), "(< a b)");
        assert_eq!(s("a <= b"), "(<= a b)");
        assert_eq!(s("a > b"), "(> a b)");
        assert_eq!(s("a >= b"), "(>= a b)");
        assert_eq!(s("a in b"), "(in a b)");
        assert_eq!(s("a not in b"), "(not in a b)");
        assert_eq!(s("a not   in b"), "(not in a b)");
        assert_eq!(s("a ?? b == c ?? d"), "(== (?? a b) (?? c d))");
        assert_eq!(s("a + 1 >= b * 2"), "(>= (+ a 1) (* b 2))");
        assert_eq!(s("a == b and c != d"), "(and (== a b) (!= c d))");
        assert_eq!(s("(a == b) == c"), "(== (== a b) c)");
        assert_eq!(s("a == (b == c)"), "(== a (== b c))");
        let e = p("x not in [1, 2]");
        match &e.kind {
            ExprKind::Binary(BinaryOp::NotIn, a, _) => assert_eq!(a.span, 0..1),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn comparisons_do_not_chain() {
        let msg = "comparisons cannot be chained; use `and`";
        check_err("a < b < c", msg, 6..7);
        check_err("a == b == c", msg, 7..9);
        check_err("a < b in c", msg, 6..8);
        check_err("a in b not in c", msg, 7..13);
        check_err("not a == b != c", msg, 11..13);
        check_err("a == -b == c", msg, 8..10);
        assert!(err("a < b < c").help.is_some());
    }

    #[test]
    fn not_in_needs_in() {
        check_err("a not b", "expected `in` after `not`", 6..7);
        check_err("a not", "expected `in` after `not`", 5..5);
    }

    #[test]
    fn coalesce() {
        assert_eq!(s("a ?? b"), "(?? a b)");
        assert_eq!(s("a ?? b ?? c"), "(?? (?? a b) c)");
        assert_eq!(s("a ?? b + c"), "(?? a (+ b c))");
        assert_eq!(s("a + b ?? c"), "(?? (+ a b) c)");
        assert_eq!(s("a??b"), "(?? a b)");
        assert_eq!(s("d.expiry ?? as_of"), "(?? (. d expiry) as_of)");
    }

    #[test]
    fn arithmetic() {
        assert_eq!(s("a + b * c"), "(+ a (* b c))");
        assert_eq!(s("a * b + c"), "(+ (* a b) c)");
        assert_eq!(s("a - b - c"), "(- (- a b) c)");
        assert_eq!(s("a / b / c"), "(/ (/ a b) c)");
        assert_eq!(s("a % b * c"), "(* (% a b) c)");
        assert_eq!(s("a + b - c + d"), "(+ (- (+ a b) c) d)");
        assert_eq!(s("a * (b + c)"), "(* a (+ b c))");
        assert_eq!(s("a-1"), "(- a 1)");
        assert_eq!(s("a - -1"), "(- a -1)");
        assert_eq!(s("a--b"), "(- a (neg b))");
        assert_eq!(s("as_of + days(15)"), "(+ as_of (days 15))");
        assert_eq!(
            s("1 + 2 * 3 - 4 / 5 % 6"),
            "(- (+ 1 (* 2 3)) (% (/ 4 5) 6))"
        );
    }

    #[test]
    fn unary() {
        assert_eq!(s("!a"), "(! a)");
        assert_eq!(s("-a"), "(neg a)");
        assert_eq!(s("!!a"), "(! (! a))");
        assert_eq!(s("- -a"), "(neg (neg a))");
        assert_eq!(s("-a * b"), "(* (neg a) b)");
        assert_eq!(s("!a == b"), "(== (! a) b)");
        assert_eq!(s("-a.b"), "(neg (. a b))");
        assert_eq!(s("-a[0]"), "(neg ([] a 0))");
        assert_eq!(s("!a.f()"), "(! (.f a))");
        assert_eq!(s("-f(x)"), "(neg (f x))");
        assert_eq!(s("-1.5"), "-1.5");
    }

    #[test]
    fn postfix() {
        assert_eq!(s("a.b"), "(. a b)");
        assert_eq!(s("a.b.c"), "(. (. a b) c)");
        assert_eq!(s("a[0]"), "([] a 0)");
        assert_eq!(s("a[0][1]"), "([] ([] a 0) 1)");
        assert_eq!(s("a.b[0].c"), "(. ([] (. a b) 0) c)");
        assert_eq!(
            s("tables.provinces[code].name"),
            "(. ([] (. tables provinces) code) name)"
        );
        assert_eq!(s("tables.x[\"k\"]"), r#"([] (. tables x) "k")"#);
        assert_eq!(s("a.f()"), "(.f a)");
        assert_eq!(s("a.f(b, c)"), "(.f a b c)");
        assert_eq!(s("a.b.f(x).g()"), "(.g (.f (. a b) x))");
        assert_eq!(s("L.exists(x, x > 1)"), "(.exists L x (> x 1))");
        assert_eq!(s("(a + b).abs()"), "(.abs (+ a b))");
        assert_eq!(s("[1, 2].len()"), "(.len [1 2])");
        assert_eq!(s("'abc'.upper()"), r#"(.upper "abc")"#);
        assert_eq!(s("f(x)[0]"), "([] (f x) 0)");
        assert_eq!(s("f(x).y"), "(. (f x) y)");
        assert_eq!(s("a[b[c]]"), "([] a ([] b c))");
    }

    #[test]
    fn method_call_shape() {
        let e = p("s.contains('x')");
        match e.kind {
            ExprKind::Call { func, args, method } => {
                assert!(method);
                assert_eq!(func.name, "contains");
                assert_eq!(func.span, 2..10);
                assert_eq!(args.len(), 2);
                assert_eq!(args[0].kind, ExprKind::Ident("s".into()));
                assert_eq!(args[1].kind, ExprKind::Str("x".into()));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn calls() {
        assert_eq!(s("f()"), "(f)");
        assert_eq!(s("f(a)"), "(f a)");
        assert_eq!(s("f(a, b)"), "(f a b)");
        assert_eq!(s("f(a, b,)"), "(f a b)");
        assert_eq!(s("f(a,)"), "(f a)");
        assert_eq!(s("a.f(b,)"), "(.f a b)");
        assert_eq!(s("f(g(h(x)))"), "(f (g (h x)))");
        assert_eq!(s("f (x)"), "(f x)");
        assert_eq!(s("coalesce(a, b, c)"), "(coalesce a b c)");
        assert_eq!(s("f(\n  a,\n  b,\n)"), "(f a b)");
        let e = p("len(x)");
        match e.kind {
            ExprKind::Call { func, method, .. } => {
                assert!(!method);
                assert_eq!(func.span, 0..3);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn lists() {
        assert_eq!(s("[]"), "[]");
        assert_eq!(s("[1]"), "[1]");
        assert_eq!(s("[1, 2, 3]"), "[1 2 3]");
        assert_eq!(s("[1, 2, 3,]"), "[1 2 3]");
        assert_eq!(s("[[1], [], [2, 3]]"), "[[1] [] [2 3]]");
        assert_eq!(s("['a', \"b\"]"), r#"["a" "b"]"#);
        assert_eq!(s("x in ['京', '沪']"), r#"(in x ["京" "沪"])"#);
        assert_eq!(s("[a or b, c]"), "[(or a b) c]");
        assert_eq!(p("[ ]").span, 0..3);
    }

    #[test]
    fn parentheses() {
        assert_eq!(s("(a)"), "a");
        assert_eq!(s("((a))"), "a");
        assert_eq!(s("(a + b) * c"), "(* (+ a b) c)");
        assert_eq!(s("(a or b) and (c or d)"), "(and (or a b) (or c d))");
    }

    // -- spans -----------------------------------------------------------------------------

    #[test]
    fn spans_cover_whole_nodes() {
        let src = "a + b * c";
        let e = p(src);
        assert_eq!(e.span, 0..9);
        match &e.kind {
            ExprKind::Binary(_, l, r) => {
                assert_eq!(l.span, 0..1);
                assert_eq!(r.span, 4..9);
                assert_eq!(text(src, &r.span), "b * c");
            }
            other => panic!("{other:?}"),
        }

        let src = "  x.y.f(1, g(2))  ";
        let e = p(src);
        assert_eq!(text(src, &e.span), "x.y.f(1, g(2))");
        match &e.kind {
            ExprKind::Call { args, func, .. } => {
                assert_eq!(text(src, &func.span), "f");
                assert_eq!(text(src, &args[0].span), "x.y");
                assert_eq!(text(src, &args[1].span), "1");
                assert_eq!(text(src, &args[2].span), "g(2)");
            }
            other => panic!("{other:?}"),
        }

        let src = "not a[0] == b";
        let e = p(src);
        assert_eq!(e.span, 0..13);
        match &e.kind {
            ExprKind::Unary(UnaryOp::Not, inner) => {
                assert_eq!(text(src, &inner.span), "a[0] == b");
            }
            other => panic!("{other:?}"),
        }

        let src = "c ? 'x' : y.z";
        let e = p(src);
        assert_eq!(e.span, 0..13);
        match &e.kind {
            ExprKind::Cond(c, a, b) => {
                assert_eq!(text(src, &c.span), "c");
                assert_eq!(text(src, &a.span), "'x'");
                assert_eq!(text(src, &b.span), "y.z");
                match &b.kind {
                    ExprKind::Field(base, f) => {
                        assert_eq!(text(src, &base.span), "y");
                        assert_eq!(text(src, &f.span), "z");
                    }
                    other => panic!("{other:?}"),
                }
            }
            other => panic!("{other:?}"),
        }

        let src = "a and b or c";
        let e = p(src);
        match &e.kind {
            ExprKind::Or(items) => {
                assert_eq!(text(src, &items[0].span), "a and b");
                assert_eq!(text(src, &items[1].span), "c");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn parenthesized_spans_include_parentheses() {
        let src = "(a) + (b * c)";
        let e = p(src);
        assert_eq!(e.span, 0..13);
        match &e.kind {
            ExprKind::Binary(_, l, r) => {
                assert_eq!(text(src, &l.span), "(a)");
                assert_eq!(text(src, &r.span), "(b * c)");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(p(" ( ( a ) ) ").span, 1..10);
        let src = "-x[1]";
        let e = p(src);
        assert_eq!(e.span, 0..5);
    }

    #[test]
    fn unicode_spans_are_bytes() {
        let src = "名称 == '个人'";
        let e = p(src);
        match &e.kind {
            ExprKind::Binary(BinaryOp::Eq, l, r) => {
                assert_eq!(l.span, 0..6);
                assert_eq!(r.span, 10..18);
            }
            other => panic!("{other:?}"),
        }
        check_err("名称 == ", "expected an expression after `==`", 10..10);
    }

    // -- errors ----------------------------------------------------------------------------

    #[test]
    fn missing_operands() {
        check_err("", "expected an expression", 0..0);
        check_err("   ", "expected an expression", 3..3);
        check_err("a and", "expected an expression after `and`", 5..5);
        check_err("a and ", "expected an expression after `and`", 6..6);
        check_err("a && || b", "expected an expression after `&&`", 5..7);
        check_err("a +", "expected an expression after `+`", 3..3);
        check_err("a + * b", "expected an expression after `+`", 4..5);
        check_err("not", "expected an expression after `not`", 3..3);
        check_err("-", "expected an expression after `-`", 1..1);
        check_err("()", "expected an expression after `(`", 1..2);
        check_err("f(,)", "expected an expression after `(`", 2..3);
        check_err("f(a,,b)", "expected an expression after `,`", 4..5);
        check_err("[,]", "expected an expression after `[`", 1..2);
        check_err("a[]", "expected an expression after `[`", 2..3);
        check_err("a ?", "expected an expression after `?`", 3..3);
        check_err("a ? b :", "expected an expression after `:`", 7..7);
        check_err("a not in", "expected an expression after `in`", 8..8);
        check_err("* a", "expected an expression", 0..1);
        let elvis = err("a ?: b");
        assert_eq!(elvis.message, "expected an expression after `?`");
        assert!(elvis.help.unwrap().contains("??"));
    }

    #[test]
    fn unexpected_tokens() {
        check_err("a)", "unexpected `)`", 1..2);
        check_err(")", "unexpected `)`", 0..1);
        check_err("a]", "unexpected `]`", 1..2);
        check_err("(a))", "unexpected `)`", 3..4);
        assert_eq!(
            err("a)").help.as_deref(),
            Some("there is no `(` for it to close")
        );
        check_err(
            "a b",
            "unexpected `b` after the end of the expression",
            2..3,
        );
        assert!(err("a b").help.unwrap().contains("operator"));
        check_err(
            "a, b",
            "unexpected `,` after the end of the expression",
            1..2,
        );
        check_err(
            "a : b",
            "unexpected `:` after the end of the expression",
            2..3,
        );
        check_err(
            "a ? b : c : d",
            "unexpected `:` after the end of the expression",
            10..11,
        );
        check_err(
            "1 2",
            "unexpected `2` after the end of the expression",
            2..3,
        );
        check_err(
            "a 'a very long string literal that goes on and on'",
            "unexpected `'a very long string literal that…` after the end of the expression",
            2..50,
        );
        check_err(
            "1 (b)",
            "unexpected `(`: only a function or a method can be called",
            2..3,
        );
        check_err(
            "f(x)(y)",
            "unexpected `(`: only a function or a method can be called",
            4..5,
        );
        check_err(
            "a[0](1)",
            "unexpected `(`: only a function or a method can be called",
            4..5,
        );
        check_err(
            "(f)(x)",
            "unexpected `(`: only a function or a method can be called",
            3..4,
        );
        check_err(
            "-5(x)",
            "unexpected `(`: only a function or a method can be called",
            2..3,
        );
        check_err("a.", "expected a field name after `.`", 2..2);
        check_err("a.(b)", "expected a field name after `.`", 2..3);
        check_err("a.'b'", "expected a field name after `.`", 2..5);
    }

    #[test]
    fn single_character_operators() {
        check_err("a = b", "unexpected `=`; use `==` to compare", 2..3);
        check_err("a & b", "unexpected `&`; use `&&` or `and`", 2..3);
        check_err("a | b", "unexpected `|`; use `||` or `or`", 2..3);
        check_err("a == b = c", "unexpected `=`; use `==` to compare", 7..8);
        check_err("a =", "unexpected `=`; use `==` to compare", 2..3);
    }

    #[test]
    fn unclosed_brackets() {
        let e = err("(a + b");
        assert_eq!(e.message, "expected `)` to close `(`");
        assert_eq!(e.span, 6..6);
        assert_eq!(
            e.help.as_deref(),
            Some("the unclosed `(` is the one at `(a + b`")
        );
        check_err("(a b)", "expected `)` to close `(`", 3..4);
        check_err("(a, b)", "expected `)` to close `(`", 2..3);
        check_err("(a]", "expected `)` to close `(`", 2..3);
        check_err("x and (a or (b", "expected `)` to close `(`", 14..14);
        assert!(err("x and (a or (b").help.unwrap().contains("`(b`"));
        check_err("f(a", "expected `)` to close `(`", 3..3);
        check_err("f(a,", "expected an expression after `,`", 4..4);
        check_err("f(a b)", "expected `,` or `)` after an argument", 4..5);
        check_err("f(a]", "expected `,` or `)` after an argument", 3..4);
        check_err("[1, 2", "expected `]` to close `[`", 5..5);
        check_err("[1 2]", "expected `,` or `]` after a list element", 3..4);
        check_err("[1)", "expected `,` or `]` after a list element", 2..3);
        check_err("a[0", "expected `]` to close `[`", 3..3);
        check_err("a[0 1]", "expected `]` to close `[`", 4..5);
        check_err("a[0, 1]", "expected `]` to close `[`", 3..4);
        check_err("a[0)", "expected `]` to close `[`", 3..4);
        check_err("(", "expected an expression after `(`", 1..1);
        let long = err("(aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa + b");
        assert_eq!(
            long.help.as_deref(),
            Some("the unclosed `(` is the one at `(aaaaaaaaaaaaaaaaaaaaaaa…`")
        );
    }

    #[test]
    fn conditional_errors() {
        check_err("a ? b", "expected `:` after the `?` branch", 5..5);
        check_err("a ? b c", "expected `:` after the `?` branch", 6..7);
        check_err("(a ? b)", "expected `:` after the `?` branch", 6..7);
        check_err("f(a ? b, c)", "expected `:` after the `?` branch", 7..8);
        check_err("a ? b ? c : d", "expected `:` after the `?` branch", 13..13);
        check_err("[a ? b]", "expected `:` after the `?` branch", 6..7);
        assert!(err("a ? b").help.unwrap().contains("? then : else"));
    }

    #[test]
    fn errors_never_point_outside_the_input() {
        for src in ["(", "a +", "'x", "f(", "a ?", "[1,", "\"\\u{", "a.b.", "名"] {
            if let Err(e) = parse_expr(src) {
                assert!(
                    e.span.start <= e.span.end && e.span.end <= src.len(),
                    "{src}"
                );
                assert!(src.is_char_boundary(e.span.start) && src.is_char_boundary(e.span.end));
                assert!(!e.message.is_empty());
            }
        }
    }

    #[test]
    fn messages_are_lower_case() {
        for src in [
            "(",
            "a +",
            "'x",
            "a = b",
            "a < b < c",
            "a ? b",
            "9999999999999999999999",
            ")",
            "a b",
            "\"\\q\"",
            "[1 2]",
            "f(a b)",
            "a.",
            "a not b",
        ] {
            let e = err(src);
            let first = e.message.chars().next().unwrap();
            assert!(!first.is_uppercase(), "{}", e.message);
        }
    }

    // -- depth -----------------------------------------------------------------------------

    const DEEP: &str = "expression nests too deeply (more than 256 levels)";

    /// Runs `f` on a thread with a 256 KiB stack (small enough to catch runaway recursion in
    /// debug builds).
    fn small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(f)
            .unwrap()
            .join()
            .unwrap()
    }

    fn deep_err(src: String) -> ParseError {
        small_stack(move || parse_expr(&src)).unwrap_err()
    }

    #[test]
    fn deep_parentheses() {
        let n = 10_000;
        let e = deep_err(format!("{}a{}", "(".repeat(n), ")".repeat(n)));
        assert_eq!(e.message, DEEP);
        assert_eq!(e.span, (MAX_DEPTH - 1)..MAX_DEPTH);
        assert!(is_too_deep(&e));
        assert!(e.help.is_some());
        // unclosed, too
        assert_eq!(deep_err("(".repeat(n)).message, DEEP);
    }

    #[test]
    fn deep_lists_calls_indexes() {
        let n = 10_000;
        assert_eq!(
            deep_err(format!("{}1{}", "[".repeat(n), "]".repeat(n))).message,
            DEEP
        );
        assert_eq!(
            deep_err(format!("{}1{}", "f(".repeat(n), ")".repeat(n))).message,
            DEEP
        );
        assert_eq!(
            deep_err(format!("{}1{}", "a[".repeat(n), "]".repeat(n))).message,
            DEEP
        );
        assert_eq!(
            deep_err(format!("{}1{}", "a.f(".repeat(n), ")".repeat(n))).message,
            DEEP
        );
        assert_eq!(deep_err(format!("{}1", "[1, ".repeat(n))).message, DEEP);
    }

    #[test]
    fn deep_prefix_operators() {
        let n = 10_000;
        assert_eq!(deep_err(format!("{}a", "-".repeat(n))).message, DEEP);
        assert_eq!(deep_err(format!("{}a", "!".repeat(n))).message, DEEP);
        assert_eq!(deep_err(format!("{}a", "not ".repeat(n))).message, DEEP);
        assert_eq!(deep_err(format!("{}1", "- ".repeat(n))).message, DEEP);
        assert_eq!(deep_err(format!("{}a", "-!".repeat(n))).message, DEEP);
    }

    #[test]
    fn deep_conditionals() {
        let n = 10_000;
        assert_eq!(deep_err(format!("{}a", "a ? a : ".repeat(n))).message, DEEP);
        assert_eq!(
            deep_err(format!("{}a{}", "a ? ".repeat(n), " : a".repeat(n))).message,
            DEEP
        );
    }

    #[test]
    fn long_postfix_chains() {
        let n = 100_000;
        let e = deep_err(format!("a{}", ".b".repeat(n)));
        assert_eq!(e.message, DEEP);
        // the MAX_DEPTH-th field access makes the tree one too high
        assert_eq!(e.span, (1 + (MAX_DEPTH - 1) * 2)..(1 + MAX_DEPTH * 2));
        assert_eq!(deep_err(format!("a{}", "[0]".repeat(n))).message, DEEP);
        assert_eq!(deep_err(format!("a{}", ".f()".repeat(n))).message, DEEP);
    }

    #[test]
    fn long_left_associative_chains() {
        let n = 100_000;
        let e = deep_err(format!("a{}", " + a".repeat(n)));
        assert_eq!(e.message, DEEP);
        // the MAX_DEPTH-th `+` builds a node one too high
        assert_eq!(
            e.span,
            (1 + (MAX_DEPTH - 1) * 4 + 1)..(1 + (MAX_DEPTH - 1) * 4 + 2)
        );
        assert_eq!(deep_err(format!("a{}", " ?? a".repeat(n))).message, DEEP);
        assert_eq!(deep_err(format!("a{}", " * a".repeat(n))).message, DEEP);
        assert_eq!(deep_err(format!("a{}", " - 1 + a".repeat(n))).message, DEEP);
    }

    #[test]
    fn long_and_or_chains_are_fine() {
        let n = 100_000;
        let src = format!("a{}", " and a".repeat(n));
        let len = small_stack(move || match parse_expr(&src).unwrap().kind {
            ExprKind::And(items) => items.len(),
            _ => 0,
        });
        assert_eq!(len, n + 1);
        let src = format!("a{}", " || a == 1".repeat(n));
        let len = small_stack(move || match parse_expr(&src).unwrap().kind {
            ExprKind::Or(items) => items.len(),
            _ => 0,
        });
        assert_eq!(len, n + 1);
        let src = format!("[{}]", "1, ".repeat(n));
        assert!(small_stack(move || parse_expr(&src).is_ok()));
        let src = format!("f({})", "x, ".repeat(n));
        assert!(small_stack(move || parse_expr(&src).is_ok()));
    }

    #[test]
    fn depth_limit_is_exact() {
        // MAX_DEPTH - 1 parentheses around a name: MAX_DEPTH levels, accepted; one more is too many.
        let ok = format!(
            "{}a{}",
            "(".repeat(MAX_DEPTH - 1),
            ")".repeat(MAX_DEPTH - 1)
        );
        assert!(small_stack(move || parse_expr(&ok).is_ok()));
        let bad = format!("{}a{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
        assert_eq!(deep_err(bad).message, DEEP);

        // MAX_DEPTH - 1 field accesses: a tree MAX_DEPTH high, accepted, and dropped on a small stack.
        let ok = format!("a{}", ".b".repeat(MAX_DEPTH - 1));
        assert!(small_stack(move || parse_expr(&ok).is_ok()));
        assert_eq!(
            deep_err(format!("a{}", ".b".repeat(MAX_DEPTH))).message,
            DEEP
        );

        // MAX_DEPTH terms: MAX_DEPTH - 1 `+` nodes.
        let ok = format!("a{}", " + a".repeat(MAX_DEPTH - 1));
        assert!(small_stack(move || parse_expr(&ok).is_ok()));
        assert_eq!(
            deep_err(format!("a{}", " + a".repeat(MAX_DEPTH))).message,
            DEEP
        );

        // MAX_DEPTH - 1 prefix operators
        let ok = format!("{}a", "-".repeat(MAX_DEPTH - 1));
        assert!(small_stack(move || parse_expr(&ok).is_ok()));
        assert_eq!(
            deep_err(format!("{}a", "-".repeat(MAX_DEPTH))).message,
            DEEP
        );

        // mixed nesting counts every level
        let ok = format!(
            "{}a{}",
            "-[".repeat(MAX_DEPTH / 2 - 1),
            "]".repeat(MAX_DEPTH / 2 - 1)
        );
        assert!(small_stack(move || parse_expr(&ok).is_ok()));
        let bad = format!(
            "{}a{}",
            "-[".repeat(MAX_DEPTH / 2),
            "]".repeat(MAX_DEPTH / 2)
        );
        assert_eq!(deep_err(bad).message, DEEP);

        // right-leaning chains through precedence: `a + (b + (c ...))` via parentheses
        let ok = format!(
            "{}a{}",
            "a + (".repeat(MAX_DEPTH / 2 - 1),
            ")".repeat(MAX_DEPTH / 2 - 1)
        );
        assert!(small_stack(move || parse_expr(&ok).is_ok()));
        let bad = format!(
            "{}a{}",
            "a + (".repeat(MAX_DEPTH / 2),
            ")".repeat(MAX_DEPTH / 2)
        );
        assert_eq!(deep_err(bad).message, DEEP);
    }

    #[test]
    fn deep_templates_and_for_each() {
        let n = 10_000;
        let src = format!("x {{{}a{}}}", "(".repeat(n), ")".repeat(n));
        let e = small_stack(move || parse_template(&src)).unwrap_err();
        assert_eq!(e.message, DEEP);
        let src = format!("d in {}a{}", "(".repeat(n), ")".repeat(n));
        let e = small_stack(move || parse_for_each(&src)).unwrap_err();
        assert_eq!(e.message, DEEP);
    }

    #[test]
    fn other_errors_are_not_too_deep() {
        assert!(!is_too_deep(&err("a +")));
    }

    // -- templates -------------------------------------------------------------------------

    fn t(src: &str) -> Vec<String> {
        match parse_template(src) {
            Ok(t) => t
                .parts
                .iter()
                .map(|p| match p {
                    TemplatePart::Lit(s) => format!("lit:{s}"),
                    TemplatePart::Expr(e) => format!("expr:{}", sx(e)),
                })
                .collect(),
            Err(e) => panic!("template `{src}` failed: {e:?}"),
        }
    }

    fn terr(src: &str) -> ParseError {
        parse_template(src).unwrap_err()
    }

    #[test]
    fn templates() {
        assert_eq!(t(""), Vec::<String>::new());
        assert_eq!(t("plain text"), ["lit:plain text"]);
        assert_eq!(
            t("域名 {d.name} 未完成实名认证"),
            ["lit:域名 ", "expr:(. d name)", "lit: 未完成实名认证"]
        );
        assert_eq!(t("{a}"), ["expr:a"]);
        assert_eq!(t("{a}{b}"), ["expr:a", "expr:b"]);
        assert_eq!(t("{ a + 1 }!"), ["expr:(+ a 1)", "lit:!"]);
        assert_eq!(t("{x ?? 'none'}"), [r#"expr:(?? x "none")"#]);
        assert_eq!(t("{\n  a\n}"), ["expr:a"]);
    }

    #[test]
    fn template_braces() {
        assert_eq!(t("{{literal}}"), ["lit:{literal}"]);
        assert_eq!(t("a {{ b }} c"), ["lit:a { b } c"]);
        assert_eq!(t("{{{a}}}"), ["lit:{", "expr:a", "lit:}"]);
        assert_eq!(t("x{{"), ["lit:x{"]);
        assert_eq!(t("}}"), ["lit:}"]);
        assert_eq!(t("{{}}"), ["lit:{}"]);
    }

    #[test]
    fn template_strings_with_braces() {
        assert_eq!(t(r#"{"}"}"#), [r#"expr:"}""#]);
        assert_eq!(t(r#"{"{"}"#), [r#"expr:"{""#]);
        assert_eq!(t("{'a}b' + x}!"), [r#"expr:(+ "a}b" x)"#, "lit:!"]);
        assert_eq!(t(r#"{r"\}"}"#), [r#"expr:"\\}""#]);
        assert_eq!(t(r#"{"\"}"}"#), [r#"expr:"\"}""#]);
        assert_eq!(t(r#"{join(L, "}, {")}"#), [r#"expr:(join L "}, {")"#]);
    }

    #[test]
    fn template_spans_are_into_the_whole_template() {
        let src = "名称 {d.name} 与 {x + 1}";
        let parts = parse_template(src).unwrap().parts;
        let TemplatePart::Expr(e) = &parts[1] else {
            panic!("{parts:?}")
        };
        assert_eq!(&src[e.span.clone()], "d.name");
        let TemplatePart::Expr(e) = &parts[3] else {
            panic!("{parts:?}")
        };
        assert_eq!(&src[e.span.clone()], "x + 1");
        let ExprKind::Binary(_, l, _) = &e.kind else {
            panic!()
        };
        assert_eq!(&src[l.span.clone()], "x");
    }

    #[test]
    fn template_errors() {
        let e = terr("a } b");
        assert_eq!(
            e.message,
            "unmatched `}` in message; write `}}` for a literal brace"
        );
        assert_eq!(e.span, 2..3);
        let e = terr("{a}}");
        assert_eq!(e.span, 3..4);
        assert_eq!(
            e.message,
            "unmatched `}` in message; write `}}` for a literal brace"
        );

        let e = terr("abc {d.name");
        assert_eq!(
            e.message,
            "unclosed `{` in message; write `{{` for a literal brace"
        );
        assert_eq!(e.span, 4..5);
        let e = terr("abc {");
        assert_eq!(e.span, 4..5);

        let e = terr("x {} y");
        assert_eq!(e.message, "empty `{}` in message");
        assert_eq!(e.span, 2..4);
        assert_eq!(terr("{  }").span, 0..4);

        // errors inside holes point into the template
        let e = terr("域名 {d.name +} 未");
        assert_eq!(e.message, "expected an expression after `+`");
        assert_eq!(e.span, 16..16);
        let e = terr("x {a b}");
        assert_eq!(e.message, "unexpected `b` after the end of the expression");
        assert_eq!(e.span, 5..6);
        let e = terr("x {(a}");
        assert_eq!(e.message, "expected `)` to close `(`");
        assert_eq!(e.span, 5..5);
        let e = terr(r#"x {"abc}"#);
        assert_eq!(e.message, "unterminated string literal");
        assert_eq!(e.span, 3..8);
        let e = terr("x {a = 1}");
        assert_eq!(e.message, "unexpected `=`; use `==` to compare");
        assert_eq!(e.span, 5..6);
        let e = terr("{a {b}}");
        assert_eq!(e.message, "unexpected `{`");
        assert_eq!(e.span, 3..4);
    }

    // -- for_each --------------------------------------------------------------------------

    #[test]
    fn for_each() {
        let f = parse_for_each("d in domain_facts").unwrap();
        assert_eq!(f.var.name, "d");
        assert_eq!(f.var.span, 0..1);
        assert_eq!(f.list.kind, ExprKind::Ident("domain_facts".into()));
        assert_eq!(f.list.span, 5..17);

        let f = parse_for_each("  域名 in website.domains.filter(x, x != null) ").unwrap();
        assert_eq!(f.var.name, "域名");
        assert_eq!(f.var.span, 2..8);
        assert_eq!(sx(&f.list), "(.filter (. website domains) x (!= x null))");

        let f = parse_for_each("ip in a ?? []").unwrap();
        assert_eq!(sx(&f.list), "(?? a [])");
    }

    #[test]
    fn for_each_errors() {
        let e = parse_for_each("").unwrap_err();
        assert_eq!(
            e.message,
            "expected a variable name at the start of `for_each`"
        );
        assert_eq!(e.span, 0..0);
        assert!(e.help.unwrap().contains("d in domain_facts"));
        let e = parse_for_each("1 in x").unwrap_err();
        assert_eq!(
            e.message,
            "expected a variable name at the start of `for_each`"
        );
        assert_eq!(e.span, 0..1);
        let e = parse_for_each("in in x").unwrap_err();
        assert_eq!(
            e.message,
            "`in` is a reserved word and cannot be a variable name"
        );
        assert_eq!(e.span, 0..2);
        let e = parse_for_each("d domain_facts").unwrap_err();
        assert_eq!(e.message, "expected `in` after the variable name");
        assert_eq!(e.span, 2..14);
        let e = parse_for_each("d.x in y").unwrap_err();
        assert_eq!(e.message, "expected `in` after the variable name");
        assert_eq!(e.span, 1..2);
        let e = parse_for_each("d in").unwrap_err();
        assert_eq!(e.message, "expected an expression after `in`");
        assert_eq!(e.span, 4..4);
        let e = parse_for_each("d in a b").unwrap_err();
        assert_eq!(e.message, "unexpected `b` after the end of the expression");
        assert_eq!(e.span, 7..8);
        let e = parse_for_each("d in a)").unwrap_err();
        assert_eq!(e.message, "unexpected `)`");
    }

    // -- properties ------------------------------------------------------------------------

    /// Spans set to 0..0, to compare trees from different texts.
    fn strip(e: &Expr) -> Expr {
        let b = |e: &Expr| Box::new(strip(e));
        let id = |i: &Ident| Ident {
            name: i.name.clone(),
            span: 0..0,
        };
        let kind = match &e.kind {
            ExprKind::List(v) => ExprKind::List(v.iter().map(strip).collect()),
            ExprKind::And(v) => ExprKind::And(v.iter().map(strip).collect()),
            ExprKind::Or(v) => ExprKind::Or(v.iter().map(strip).collect()),
            ExprKind::Field(a, f) => ExprKind::Field(b(a), id(f)),
            ExprKind::Index(a, i) => ExprKind::Index(b(a), b(i)),
            ExprKind::Call { func, args, method } => ExprKind::Call {
                func: id(func),
                args: args.iter().map(strip).collect(),
                method: *method,
            },
            ExprKind::Unary(op, a) => ExprKind::Unary(*op, b(a)),
            ExprKind::Binary(op, l, r) => ExprKind::Binary(*op, b(l), b(r)),
            ExprKind::Cond(c, x, y) => ExprKind::Cond(b(c), b(x), b(y)),
            other => other.clone(),
        };
        Expr { kind, span: 0..0 }
    }

    fn quote(s: &str) -> String {
        let mut out = String::from("\"");
        for c in s.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }

    /// Prints an expression with every compound part in parentheses.
    fn print(e: &Expr) -> String {
        let child = |c: &Expr| match &c.kind {
            ExprKind::Ident(_) | ExprKind::Str(_) | ExprKind::Null | ExprKind::Bool(_) => print(c),
            _ => format!("({})", print(c)),
        };
        let join = |v: &[Expr]| v.iter().map(child).collect::<Vec<_>>().join(", ");
        match &e.kind {
            ExprKind::Null => "null".into(),
            ExprKind::Bool(b) => b.to_string(),
            ExprKind::Int(i) => i.to_string(),
            ExprKind::Float(f) => format!("{f:?}"),
            ExprKind::Str(s) => quote(s),
            ExprKind::Ident(n) => n.clone(),
            ExprKind::List(v) => format!("[{}]", join(v)),
            ExprKind::Field(a, f) => format!("{}.{}", child(a), f.name),
            ExprKind::Index(a, i) => format!("{}[{}]", child(a), print(i)),
            ExprKind::Call {
                func,
                args,
                method: true,
            } => match args.split_first() {
                Some((recv, rest)) => format!("{}.{}({})", child(recv), func.name, join(rest)),
                None => format!("{}()", func.name),
            },
            ExprKind::Call { func, args, .. } => format!("{}({})", func.name, join(args)),
            ExprKind::Unary(UnaryOp::Not, a) => format!("!{}", child(a)),
            ExprKind::Unary(UnaryOp::Neg, a) => format!("-({})", print(a)),
            ExprKind::Binary(op, l, r) => format!("{} {} {}", child(l), op.symbol(), child(r)),
            ExprKind::And(v) => v.iter().map(child).collect::<Vec<_>>().join(" and "),
            ExprKind::Or(v) => v.iter().map(child).collect::<Vec<_>>().join(" || "),
            ExprKind::Cond(c, a, b) => format!("{} ? {} : {}", child(c), child(a), child(b)),
        }
    }

    fn e(kind: ExprKind) -> Expr {
        Expr { kind, span: 0..0 }
    }

    fn ident_name() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("a".to_string()),
            Just("d".to_string()),
            Just("_x1".to_string()),
            Just("主办单位名称".to_string()),
            Just("r".to_string()),
            Just("notes".to_string()),
            "[a-z_][a-z0-9_]{0,6}".prop_filter("reserved", |s| !RESERVED.contains(&s.as_str())),
        ]
    }

    fn field_name() -> impl Strategy<Value = String> {
        prop_oneof![
            ident_name(),
            Just("in".to_string()),
            Just("not".to_string())
        ]
    }

    fn leaf() -> impl Strategy<Value = Expr> {
        prop_oneof![
            Just(e(ExprKind::Null)),
            any::<bool>().prop_map(|b| e(ExprKind::Bool(b))),
            any::<i64>().prop_map(|i| e(ExprKind::Int(i))),
            (0.0f64..1e300).prop_map(|f| e(ExprKind::Float(f))),
            any::<String>().prop_map(|s| e(ExprKind::Str(s))),
            ident_name().prop_map(|n| e(ExprKind::Ident(n))),
        ]
    }

    fn binop() -> impl Strategy<Value = BinaryOp> {
        prop_oneof![
            Just(BinaryOp::Eq),
            Just(BinaryOp::Ne),
            Just(BinaryOp::Lt),
            Just(BinaryOp::Le),
            Just(BinaryOp::Gt),
            Just(BinaryOp::Ge),
            Just(BinaryOp::In),
            Just(BinaryOp::NotIn),
            Just(BinaryOp::Coalesce),
            Just(BinaryOp::Add),
            Just(BinaryOp::Sub),
            Just(BinaryOp::Mul),
            Just(BinaryOp::Div),
            Just(BinaryOp::Rem),
        ]
    }

    fn id(name: String) -> Ident {
        Ident { name, span: 0..0 }
    }

    fn expr() -> impl Strategy<Value = Expr> {
        leaf().prop_recursive(6, 64, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(|v| e(ExprKind::List(v))),
                (inner.clone(), field_name())
                    .prop_map(|(a, f)| e(ExprKind::Field(Box::new(a), id(f)))),
                (inner.clone(), inner.clone())
                    .prop_map(|(a, i)| e(ExprKind::Index(Box::new(a), Box::new(i)))),
                (ident_name(), prop::collection::vec(inner.clone(), 0..4)).prop_map(|(f, args)| e(
                    ExprKind::Call {
                        func: id(f),
                        args,
                        method: false
                    }
                )),
                (field_name(), prop::collection::vec(inner.clone(), 1..4)).prop_map(|(f, args)| e(
                    ExprKind::Call {
                        func: id(f),
                        args,
                        method: true
                    }
                )),
                inner
                    .clone()
                    .prop_map(|a| e(ExprKind::Unary(UnaryOp::Not, Box::new(a)))),
                inner
                    .clone()
                    .prop_map(|a| e(ExprKind::Unary(UnaryOp::Neg, Box::new(a)))),
                (binop(), inner.clone(), inner.clone()).prop_map(|(op, l, r)| e(ExprKind::Binary(
                    op,
                    Box::new(l),
                    Box::new(r)
                ))),
                prop::collection::vec(inner.clone(), 2..5).prop_map(|v| e(ExprKind::And(v))),
                prop::collection::vec(inner.clone(), 2..5).prop_map(|v| e(ExprKind::Or(v))),
                (inner.clone(), inner.clone(), inner).prop_map(|(c, a, b)| e(ExprKind::Cond(
                    Box::new(c),
                    Box::new(a),
                    Box::new(b)
                ))),
            ]
        })
    }

    const SOUP: &[&str] = &[
        "(",
        ")",
        "[",
        "]",
        ",",
        ".",
        "?",
        "??",
        ":",
        "==",
        "!=",
        "<",
        "<=",
        ">",
        ">=",
        "+",
        "-",
        "*",
        "/",
        "%",
        "!",
        "&&",
        "||",
        "and",
        "or",
        "not",
        "in",
        "null",
        "true",
        "false",
        "a",
        "d",
        "主办单位",
        "f",
        "1",
        "0",
        "1.5",
        "2e3",
        "9223372036854775808",
        "\"s\"",
        "'t'",
        "r\"x\"",
        "\"",
        "'",
        "\\",
        "\"\\u{41}\"",
        "\"\\q\"",
        "=",
        "&",
        "|",
        "{",
        "}",
        "{{",
        "}}",
        " ",
        "\n",
        "\t",
        "（",
        "\u{3000}",
        "#",
        "1e999",
        "_",
        "r",
    ];

    /// Checks that a failed parse reports a sane error.
    fn sane(src: &str, r: Result<(), ParseError>) -> Result<(), TestCaseError> {
        if let Err(e) = r {
            prop_assert!(e.span.start <= e.span.end && e.span.end <= src.len());
            prop_assert!(src.is_char_boundary(e.span.start) && src.is_char_boundary(e.span.end));
            prop_assert!(!e.message.is_empty());
            prop_assert!(
                e.message != "internal error in the expression parser",
                "{src:?}"
            );
        }
        Ok(())
    }

    fn all_ways(src: &str) -> Result<(), TestCaseError> {
        let r = parse_expr(src);
        if let Ok(e) = &r {
            check_spans(e, src.len());
        }
        sane(src, r.map(|_| ()))?;
        sane(src, parse_template(src).map(|_| ()))?;
        sane(src, parse_for_each(src).map(|_| ()))?;
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn random_strings_never_panic(src in any::<String>()) {
            all_ways(&src)?;
        }

        #[test]
        fn random_ascii_never_panics(src in "[ -~\\n]{0,40}") {
            all_ways(&src)?;
        }

        #[test]
        fn token_soup_never_panics(
            toks in prop::collection::vec(prop::sample::select(SOUP), 0..40),
            sep in prop::sample::select(&["", " "][..]),
        ) {
            let src = toks.join(sep);
            all_ways(&src)?;
            all_ways(&format!("d in {src}"))?;
            all_ways(&format!("x {{{src}}} y"))?;
        }

        #[test]
        fn printed_expressions_parse_back(tree in expr()) {
            let src = print(&tree);
            let parsed = parse_expr(&src);
            prop_assert!(parsed.is_ok(), "`{}` failed: {:?}", src, parsed);
            let parsed = parsed.unwrap();
            check_spans(&parsed, src.len());
            prop_assert_eq!(strip(&parsed), strip(&tree), "source: {}", src);
            // the same expression in a template hole and as a for_each list
            let tsrc = format!("值 {{{src}}} 。");
            let parts = parse_template(&tsrc).unwrap().parts;
            prop_assert_eq!(parts.len(), 3);
            match &parts[1] {
                TemplatePart::Expr(x) => prop_assert_eq!(strip(x), strip(&tree)),
                other => prop_assert!(false, "{:?}", other),
            }
            let f = parse_for_each(&format!("x in {src}")).unwrap();
            prop_assert_eq!(strip(&f.list), strip(&tree));
        }
    }
}
