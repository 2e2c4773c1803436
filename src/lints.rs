//! Lints that need no types: W007 (identifiers that mix scripts or hold confusable characters)
//! and W008 (a regular expression that can never match). They re-parse a loaded pack's
//! expressions and only ever produce warnings: a pack that loads cleanly still loads.
//!
//! W001–W006 come from the checker, which knows types and uses.

use std::collections::HashSet;

use unicode_script::{Script, UnicodeScript};

use crate::ast::{Expr, ExprKind, TemplatePart};
use crate::diag::{Code, Diagnostic};
use crate::load::PackDef;
use crate::parser;
use crate::source::{Loc, Sources};
use crate::yaml::Node;

/// W007 and W008 for every rule, schema field, table and variable of a pack.
pub fn lint(pack: &PackDef, sources: &Sources) -> Vec<Diagnostic> {
    let mut l = Linter {
        sources,
        diags: Vec::new(),
        reported: HashSet::new(),
    };
    let mut fields: Vec<(&String, &Loc)> = pack.field_locs.iter().collect();
    fields.sort_by_key(|(path, loc)| (loc.file, loc.start, path.as_str()));
    for (path, loc) in fields {
        let name = path.rsplit('.').next().unwrap_or(path);
        l.ident(name, || *loc, "schema field");
    }
    for t in &pack.tables {
        l.ident(&t.name, || t.loc, "table");
    }
    for r in &pack.rules {
        if let Some(node) = &r.for_each {
            if let Ok(fe) = parser::parse_for_each(node.text().unwrap_or("")) {
                let span = fe.var.span.clone();
                l.ident(
                    &fe.var.name,
                    || node.locate(sources, span.start, span.end),
                    "variable",
                );
                l.expr(&fe.list, node);
            }
        }
        for let_def in &r.lets {
            l.ident(&let_def.name, || let_def.loc, "`let` name");
            l.expr_node(&let_def.expr);
        }
        if let Some(node) = &r.applies_if {
            l.expr_node(node);
        }
        l.expr_node(&r.when);
        if let Some(node) = &r.deadline {
            l.expr_node(node);
        }
        if let Ok(t) = parser::parse_template(r.message.text().unwrap_or("")) {
            for p in &t.parts {
                if let TemplatePart::Expr(e) = p {
                    l.expr(e, &r.message);
                }
            }
        }
    }
    l.diags
}

struct Linter<'s> {
    sources: &'s Sources,
    diags: Vec<Diagnostic>,
    /// Identifiers already reported: one warning per distinct name.
    reported: HashSet<String>,
}

impl Linter<'_> {
    fn expr_node(&mut self, node: &Node) {
        if let Ok(e) = parser::parse_expr(node.text().unwrap_or("")) {
            self.expr(&e, node);
        }
    }

    fn expr(&mut self, e: &Expr, node: &Node) {
        let loc = |span: &std::ops::Range<usize>| node.locate(self.sources, span.start, span.end);
        match &e.kind {
            // locating is a scan of the scalar: only done for what is reported
            ExprKind::Ident(name) => {
                if suspicious_identifier(name).is_some() {
                    self.ident(name, || loc(&e.span), "name");
                }
            }
            ExprKind::Field(base, field) => {
                self.expr(base, node);
                if suspicious_identifier(&field.name).is_some() {
                    self.ident(&field.name, || loc(&field.span), "field name");
                }
            }
            ExprKind::Index(a, b) => {
                self.expr(a, node);
                self.expr(b, node);
            }
            ExprKind::List(items) | ExprKind::And(items) | ExprKind::Or(items) => {
                items.iter().for_each(|i| self.expr(i, node));
            }
            ExprKind::Call { func, args, .. } => {
                if matches!(func.name.as_str(), "matches" | "capture") {
                    if let Some(Expr {
                        kind: ExprKind::Str(pattern),
                        span,
                    }) = args.get(1)
                    {
                        if let Some(why) = never_matches(pattern) {
                            let at = loc(span);
                            self.diags.push(
                                Diagnostic::error(
                                    Code::RegexNeverMatches,
                                    format!("regex `{pattern}` can never match: {why}"),
                                )
                                .at(at)
                                .label("matches nothing")
                                .help(format!(
                                    "`{}` with this pattern is always false (or null); fix the pattern",
                                    func.name
                                )),
                            );
                        }
                    }
                }
                args.iter().for_each(|a| self.expr(a, node));
            }
            ExprKind::Unary(_, x) => self.expr(x, node),
            ExprKind::Binary(_, a, b) => {
                self.expr(a, node);
                self.expr(b, node);
            }
            ExprKind::Cond(c, a, b) => {
                self.expr(c, node);
                self.expr(a, node);
                self.expr(b, node);
            }
            ExprKind::Null
            | ExprKind::Bool(_)
            | ExprKind::Int(_)
            | ExprKind::Float(_)
            | ExprKind::Str(_) => {}
        }
    }

    /// `loc` is computed only for a name that is reported: locating a span re-reads the
    /// scalar, which must not happen for each of a hundred thousand names.
    fn ident(&mut self, name: &str, loc: impl FnOnce() -> Loc, what: &str) {
        if self.reported.contains(name) {
            return;
        }
        let Some(why) = suspicious_identifier(name) else {
            return;
        };
        self.reported.insert(name.to_string());
        let loc = loc();
        self.diags.push(
            Diagnostic::error(Code::ConfusableIdent, format!("{what} `{name}` {why}"))
                .at(loc)
                .label("suspicious identifier")
                .help(
                    "it looks like another name but is not the same text; retype it with plain \
                 ASCII letters and digits (or Chinese characters)",
                ),
        );
    }
}

// ---- W007 ----

/// Why an identifier is suspicious, or `None`. Han mixed with Latin, digits and `_` is fine
/// (`ICP备案号`, `字段_1`); what is flagged:
/// - invisible characters (zero-width space, joiners, word joiner, BOM, soft hyphen, bidi
///   controls);
/// - full-width ASCII forms (`ｏｒｄｅｒ`, `１`) and mathematical alphanumeric symbols;
/// - Cyrillic or Greek letters together with letters of any other script (`оrder` with a
///   Cyrillic `о`), the classic homoglyph trick.
pub fn suspicious_identifier(name: &str) -> Option<String> {
    for c in name.chars() {
        if is_invisible(c) {
            return Some(format!(
                "holds the invisible character U+{:04X}",
                u32::from(c)
            ));
        }
    }
    for c in name.chars() {
        let u = u32::from(c);
        if (0xFF01..=0xFF5E).contains(&u) {
            let ascii = char::from_u32(u - 0xFF01 + 0x21).unwrap_or('?');
            return Some(format!(
                "holds the full-width character `{c}` (U+{u:04X}), which looks like `{ascii}`"
            ));
        }
        if (0x1D400..=0x1D7FF).contains(&u) {
            return Some(format!(
                "holds the mathematical symbol `{c}` (U+{u:04X}), which looks like a letter or digit"
            ));
        }
    }
    let mut scripts: Vec<Script> = Vec::new();
    for c in name.chars() {
        let s = c.script();
        if matches!(s, Script::Common | Script::Inherited | Script::Unknown) {
            continue;
        }
        if !scripts.contains(&s) {
            scripts.push(s);
        }
    }
    let lookalike = scripts.iter().find(|s| {
        matches!(
            s,
            Script::Cyrillic | Script::Greek | Script::Armenian | Script::Cherokee
        )
    });
    if let (Some(odd), true) = (lookalike, scripts.len() > 1) {
        let chars: Vec<String> = name
            .chars()
            .filter(|c| c.script() == *odd)
            .map(|c| format!("`{c}` (U+{:04X})", u32::from(c)))
            .collect();
        let names: Vec<String> = scripts.iter().map(|s| s.full_name().to_string()).collect();
        return Some(format!(
            "mixes scripts ({}): {} {} {}",
            names.join(", "),
            chars.join(", "),
            if chars.len() == 1 { "is" } else { "are" },
            odd.full_name()
        ));
    }
    None
}

fn is_invisible(c: char) -> bool {
    matches!(
        u32::from(c),
        0x00AD
            | 0x034F
            | 0x061C
            | 0x115F
            | 0x1160
            | 0x17B4
            | 0x17B5
            | 0x180E
            | 0x200B..=0x200F
            | 0x202A..=0x202E
            | 0x2060..=0x2064
            | 0x2066..=0x206F
            | 0x3164
            | 0xFE00..=0xFE0F
            | 0xFEFF
            | 0xFFA0
    )
}

// ---- W008 ----

/// Why a regex (already known to compile) can never match, or `None` when it may match or the
/// pattern uses something this analysis does not follow. Sound, not complete: it finds
/// - a character class that is empty (`[^\s\S]`, `[^\d\D]`, `[^\w\W]`);
/// - `$` (without the `m` flag) or `\z` followed by something that needs a character (`$^x`,
///   `$a`);
/// - something that needs a character followed by `^` (without `m`) or `\A` (`x^`);
/// - `\b` between two ASCII word characters (`a\bb`);
///
/// in every alternative that must be taken.
pub fn never_matches(pattern: &str) -> Option<String> {
    let multiline = has_flag(pattern, 'm');
    if has_flag(pattern, 'x') {
        return None;
    }
    let chars: Vec<char> = pattern.chars().collect();
    let mut p = Re {
        chars: &chars,
        pos: 0,
        multiline,
    };
    let alt = p.alternation()?;
    if p.pos != chars.len() {
        return None;
    }
    alt_never(&alt)
}

/// Whether a flag group (`(?m)`, `(?im:...)`) sets `flag` anywhere.
fn has_flag(pattern: &str, flag: char) -> bool {
    let mut rest = pattern;
    while let Some(i) = rest.find("(?") {
        let after = rest.get(i + 2..).unwrap_or("");
        let flags: String = after
            .chars()
            .take_while(|c| *c != ')' && *c != ':')
            .collect();
        if !flags.starts_with('P') && !flags.starts_with('<') {
            let on = flags.split('-').next().unwrap_or("");
            if on.contains(flag) {
                return true;
            }
        }
        rest = after;
    }
    false
}

#[derive(Debug, Clone)]
enum Atom {
    /// Consumes exactly one character from a non-empty set.
    Char(Option<char>),
    /// A character class that is known to be empty.
    EmptyClass,
    /// Start of text (`\A`, `^` without `m`).
    Start,
    /// End of text (`\z`, `$` without `m`).
    End,
    /// `\b`
    WordBoundary,
    /// Another zero-width assertion (`\B`, `\<`, multiline `^`/`$`, ...).
    Assert,
    Group(Vec<Vec<Item>>),
}

#[derive(Debug, Clone)]
struct Item {
    atom: Atom,
    min: u32,
    /// Exactly once (`{1}` or no quantifier).
    once: bool,
}

struct Re<'c> {
    chars: &'c [char],
    pos: usize,
    multiline: bool,
}

impl Re<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += 1;
        Some(c)
    }

    fn alternation(&mut self) -> Option<Vec<Vec<Item>>> {
        let mut alts = vec![self.concat()?];
        while self.peek() == Some('|') {
            self.pos += 1;
            alts.push(self.concat()?);
        }
        Some(alts)
    }

    fn concat(&mut self) -> Option<Vec<Item>> {
        let mut items = Vec::new();
        while let Some(c) = self.peek() {
            if c == '|' || c == ')' {
                break;
            }
            let Some(atom) = self.atom()? else {
                continue; // a flag group such as `(?i)`
            };
            let (min, once) = self.quantifier()?;
            items.push(Item { atom, min, once });
        }
        Some(items)
    }

    /// `None`: not understood; `Some(None)`: nothing (a flag group).
    fn atom(&mut self) -> Option<Option<Atom>> {
        let c = self.next()?;
        Some(Some(match c {
            '.' => Atom::Char(None),
            '^' if self.multiline => Atom::Assert,
            '$' if self.multiline => Atom::Assert,
            '^' => Atom::Start,
            '$' => Atom::End,
            '[' => self.class()?,
            '(' => {
                if self.peek() == Some('?') {
                    self.pos += 1;
                    match self.peek()? {
                        'P' | '<' => {
                            // a named group: skip to `>`
                            while self.next()? != '>' {}
                        }
                        ':' => self.pos += 1,
                        _ => {
                            // flags: `(?i)` or `(?i:...)`
                            loop {
                                match self.next()? {
                                    ')' => return Some(None),
                                    ':' => break,
                                    c if c.is_ascii_alphabetic() || c == '-' => {}
                                    _ => return None,
                                }
                            }
                        }
                    }
                }
                let alts = self.alternation()?;
                if self.next()? != ')' {
                    return None;
                }
                Atom::Group(alts)
            }
            '\\' => self.escape()?,
            '*' | '+' | '?' | '{' | ')' | ']' => return None,
            c => Atom::Char(Some(c)),
        }))
    }

    fn escape(&mut self) -> Option<Atom> {
        let c = self.next()?;
        Some(match c {
            'd' | 'D' | 's' | 'S' | 'w' | 'W' => Atom::Char(None),
            'p' | 'P' => {
                if self.peek() == Some('{') {
                    while self.next()? != '}' {}
                } else {
                    self.next()?;
                }
                Atom::Char(None)
            }
            'A' => Atom::Start,
            'z' => Atom::End,
            'b' => {
                if self.peek() == Some('{') {
                    while self.next()? != '}' {}
                    Atom::Assert
                } else {
                    Atom::WordBoundary
                }
            }
            'B' | '<' | '>' => Atom::Assert,
            'n' => Atom::Char(Some('\n')),
            't' => Atom::Char(Some('\t')),
            'r' => Atom::Char(Some('\r')),
            'f' | 'v' | 'a' | 'e' => Atom::Char(None),
            'x' | 'u' | 'U' => {
                if self.peek() == Some('{') {
                    while self.next()? != '}' {}
                } else {
                    let n = match c {
                        'x' => 2,
                        'u' => 4,
                        _ => 8,
                    };
                    for _ in 0..n {
                        self.next()?;
                    }
                }
                Atom::Char(None)
            }
            c if c.is_ascii_punctuation() || c == ' ' => Atom::Char(Some(c)),
            _ => return None,
        })
    }

    /// A bracketed class; known empty only when negated and holding a class with its
    /// complement (`[^\s\S]`).
    fn class(&mut self) -> Option<Atom> {
        let negated = self.peek() == Some('^');
        if negated {
            self.pos += 1;
        }
        let mut perl: Vec<char> = Vec::new();
        let mut simple = true;
        let mut first = true;
        loop {
            let c = self.next()?;
            match c {
                ']' if !first => break,
                '[' => {
                    simple = false;
                    self.skip_nested_class()?;
                }
                '\\' => {
                    let e = self.next()?;
                    if matches!(e, 'd' | 'D' | 's' | 'S' | 'w' | 'W') {
                        perl.push(e);
                    } else if matches!(e, 'p' | 'P' | 'x' | 'u' | 'U') {
                        // skip the argument, the class is not a plain one
                        simple = false;
                        if self.peek() == Some('{') {
                            while self.next()? != '}' {}
                        } else if matches!(e, 'p' | 'P') {
                            self.next()?;
                        }
                    }
                }
                '&' | '-' | '~' if self.peek() == Some(c) => {
                    simple = false;
                    self.pos += 1;
                }
                _ => {}
            }
            first = false;
        }
        let complementary = [('d', 'D'), ('s', 'S'), ('w', 'W')]
            .iter()
            .any(|(a, b)| perl.contains(a) && perl.contains(b));
        if negated && simple && complementary {
            Some(Atom::EmptyClass)
        } else {
            Some(Atom::Char(None))
        }
    }

    fn skip_nested_class(&mut self) -> Option<()> {
        let mut depth = 1usize;
        let mut first = true;
        if self.peek() == Some('^') {
            self.pos += 1;
        }
        while depth > 0 {
            match self.next()? {
                '\\' => {
                    self.next()?;
                }
                '[' => depth += 1,
                ']' if !first => depth -= 1,
                _ => {}
            }
            first = false;
        }
        Some(())
    }

    fn quantifier(&mut self) -> Option<(u32, bool)> {
        let q = match self.peek() {
            Some('*') => {
                self.pos += 1;
                (0, false)
            }
            Some('+') => {
                self.pos += 1;
                (1, false)
            }
            Some('?') => {
                self.pos += 1;
                (0, false)
            }
            Some('{') => {
                self.pos += 1;
                let mut text = String::new();
                loop {
                    let c = self.next()?;
                    if c == '}' {
                        break;
                    }
                    text.push(c);
                }
                let mut parts = text.splitn(2, ',');
                let min: u32 = parts.next()?.trim().parse().ok()?;
                let once = match parts.next() {
                    None => min == 1,
                    Some(max) => max.trim().parse::<u32>().ok() == Some(1) && min == 1,
                };
                (min, once)
            }
            _ => return Some((1, true)),
        };
        // lazy or possessive suffix
        if self.peek() == Some('?') {
            self.pos += 1;
        }
        if matches!(self.peek(), Some('*' | '+' | '?' | '{')) {
            return None;
        }
        Some(q)
    }
}

/// The fewest characters an item consumes when it matches.
fn min_len(atom: &Atom) -> u32 {
    match atom {
        Atom::Char(_) | Atom::EmptyClass => 1,
        Atom::Group(alts) => alts
            .iter()
            .map(|c| {
                c.iter()
                    .map(|i| min_len(&i.atom).saturating_mul(i.min))
                    .fold(0u32, u32::saturating_add)
            })
            .min()
            .unwrap_or(0),
        _ => 0,
    }
}

fn alt_never(alts: &[Vec<Item>]) -> Option<String> {
    let mut why = None;
    for c in alts {
        match concat_never(c) {
            Some(w) => why = Some(w),
            None => return None,
        }
    }
    why
}

fn concat_never(items: &[Item]) -> Option<String> {
    let mut at_end = false;
    let mut consumed = false;
    // the ASCII word character matched just before, exactly once
    let mut prev_word: Option<char> = None;
    // `\b` right after that word character
    let mut boundary_after: Option<char> = None;
    for it in items {
        if it.min == 0 {
            // may be skipped
            prev_word = None;
            boundary_after = None;
            continue;
        }
        match &it.atom {
            Atom::EmptyClass => {
                return Some("it requires a character from an empty class".into());
            }
            Atom::Group(alts) => {
                if let Some(w) = alt_never(alts) {
                    return Some(w);
                }
            }
            Atom::Start if consumed => {
                return Some("the start of the text (`^` or `\\A`) comes after a character".into());
            }
            Atom::End => at_end = true,
            _ => {}
        }
        let needs = min_len(&it.atom) > 0;
        if at_end && needs {
            return Some("something must follow the end of the text (`$` or `\\z`)".into());
        }
        match (&it.atom, it.once) {
            (Atom::WordBoundary, true) => {
                boundary_after = prev_word;
                prev_word = None;
                continue;
            }
            (Atom::Char(Some(c)), true) if is_ascii_word(*c) => {
                if let Some(before) = boundary_after {
                    return Some(format!(
                        "`\\b` stands between two word characters (`{before}` and `{c}`)"
                    ));
                }
                prev_word = Some(*c);
            }
            _ => prev_word = None,
        }
        boundary_after = None;
        if needs {
            consumed = true;
        }
    }
    None
}

fn is_ascii_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn regexes_that_never_match() {
        for p in [
            r"[^\s\S]",
            r"a[^\d\D]",
            r"$^x",
            r"$a",
            r"abc\z.",
            r"x^",
            r"a\bb",
            r"foo\bbar",
            r"(?:$x|y^)",
            r"(a$b)",
            r"^1[3-9]\d{9}$x",
            r"[^\w\W]+",
        ] {
            assert!(never_matches(p).is_some(), "{p}");
            assert!(regex::Regex::new(p).is_ok(), "{p} compiles");
        }
    }

    #[test]
    fn regexes_that_may_match() {
        for p in [
            r"^1[3-9]\d{9}$",
            r"$^",
            r"^$",
            r"(?m)$\n^x",
            r"a$|b",
            r"$x?",
            r"x?^",
            r"a\b b",
            r"a\b-",
            r"a*\bb",
            r"[\s\S]",
            r"[^\s]",
            r"(?x) $ a",
            r"ICP备\d+号(-\d+)?$",
            r"\$x",
            r"[$]x",
            r"a{0}^",
            r"(?P<n>a)b",
            r"[[:alpha:]]x",
            r"\p{Han}+",
        ] {
            assert!(never_matches(p).is_none(), "{p}");
        }
    }

    #[test]
    fn sound_on_samples() {
        // whatever is flagged must really fail on a sample of texts
        let texts = [
            "", "a", "ab", "a b", "x", "\n", "abc", "1", "$", "^x", "a\nb",
        ];
        for p in [r"$^x", r"x^", r"a\bb", r"[^\s\S]", r"(?:$x|y^)"] {
            let re = regex::Regex::new(p).unwrap();
            for t in texts {
                assert!(!re.is_match(t), "{p} on {t:?}");
            }
        }
    }

    #[test]
    fn identifiers() {
        assert!(suspicious_identifier("order").is_none());
        assert!(suspicious_identifier("主办单位名称").is_none());
        assert!(suspicious_identifier("ICP备案号").is_none());
        assert!(suspicious_identifier("字段_1").is_none());
        assert!(suspicious_identifier("город").is_none());
        assert!(suspicious_identifier("\u{043e}rder").is_some()); // Cyrillic о
        assert!(suspicious_identifier("d\u{03bf}main").is_some()); // Greek ο
        assert!(suspicious_identifier("ｏｒｄｅｒ").is_some());
        assert!(suspicious_identifier("field１").is_some());
        assert!(suspicious_identifier("na\u{200b}me").is_some());
        assert!(suspicious_identifier("数据\u{0430}").is_some());
    }
}
