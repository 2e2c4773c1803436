//! A YAML reader that keeps positions: `saphyr-parser` events composed into a small tree of
//! [`Node`]s, each with its [`Loc`].
//!
//! Why not a serde YAML crate for packs: diagnostics must point at the exact column inside an
//! expression string, whatever the scalar's style (plain, quoted, block). That needs each
//! scalar's source range and style, which the event stream gives and serde hides. [`Node::locate`]
//! maps a byte offset in a scalar's *value* back to the file by re-reading the scalar's source
//! text (undoing quotes, escapes, folding and indentation).
//!
//! Scalars follow the YAML 1.2 core schema (SPEC §7): only `true`/`false` (and their capitalised
//! forms) are booleans, and unquoted dates stay strings.

use std::borrow::Cow;
use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

use crate::diag::{Code, Diagnostic};
use crate::source::{FileId, Loc, Sources};

/// Aliases may not expand a document past this many nodes (a guard against "billion laughs").
const MAX_NODES: usize = 2_000_000;

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub kind: NodeKind,
    pub loc: Loc,
}

#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    Scalar { value: String, style: Style },
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

/// How a scalar was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    Literal,
    Folded,
}

/// A scalar read by the YAML 1.2 core schema.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(&'a str),
}

impl Node {
    /// What kind of YAML value this is, for messages ("a mapping", "a list", "a string").
    pub fn describe(&self) -> &'static str {
        match &self.kind {
            NodeKind::Map(_) => "a mapping",
            NodeKind::Seq(_) => "a list",
            NodeKind::Scalar { .. } => match self.scalar() {
                Some(Scalar::Null) => "null",
                Some(Scalar::Bool(_)) => "a boolean",
                Some(Scalar::Int(_)) => "an integer",
                Some(Scalar::Float(_)) => "a number",
                _ => "a string",
            },
        }
    }

    /// The scalar's value per the core schema; `None` for lists and mappings.
    pub fn scalar(&self) -> Option<Scalar<'_>> {
        match &self.kind {
            NodeKind::Scalar { value, style } => Some(if *style == Style::Plain {
                core_schema(value)
            } else {
                Scalar::Str(value)
            }),
            _ => None,
        }
    }

    /// The raw text of a scalar (whatever its core-schema type), for expressions and names.
    pub fn text(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Scalar { value, .. } => Some(value),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.kind {
            NodeKind::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.kind {
            NodeKind::Seq(s) => Some(s),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.scalar(), Some(Scalar::Null))
    }

    /// Maps a byte range of this scalar's value to a location in the file. Falls back to the
    /// scalar's start when the source cannot be matched (it always can for well-formed YAML).
    pub fn locate(&self, sources: &Sources, start: usize, end: usize) -> Loc {
        let NodeKind::Scalar { value, style } = &self.kind else {
            return self.loc;
        };
        let raw = sources.slice(self.loc);
        let map = map_scalar(raw, value, *style);
        let at = |off: usize| -> Option<usize> {
            if off >= value.len() {
                // one past the end: just after the last mapped character
                map.last().map(|&(v, r)| {
                    let vlen = value
                        .get(v..)
                        .and_then(|s| s.chars().next())
                        .map_or(1, char::len_utf8);
                    let rlen = raw
                        .get(r..)
                        .and_then(|s| s.chars().next())
                        .map_or(1, char::len_utf8);
                    r + rlen + (off - v - vlen.min(off - v))
                })
            } else {
                map.iter().find(|&&(v, _)| v == off).map(|&(_, r)| r)
            }
        };
        match (at(start), at(end.max(start))) {
            (Some(s), Some(e)) => {
                Loc::new(self.loc.file, self.loc.start + s, self.loc.start + e.max(s))
            }
            (Some(s), None) => Loc::new(self.loc.file, self.loc.start + s, self.loc.start + s),
            _ => Loc::new(self.loc.file, self.loc.start, self.loc.start),
        }
    }
}

/// The YAML 1.2 core schema for a plain scalar.
fn core_schema(s: &str) -> Scalar<'_> {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Scalar::Null,
        // SPEC §7: "only `true`/`false` are booleans" (the core schema's `True`, `FALSE`...
        // stay strings, like YAML 1.1's `yes`/`no`)
        "true" => return Scalar::Bool(true),
        "false" => return Scalar::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Scalar::Float(f64::INFINITY)
        }
        "-.inf" | "-.Inf" | "-.INF" => return Scalar::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Scalar::Float(f64::NAN),
        _ => {}
    }
    let digits = |t: &str, radix: u32| !t.is_empty() && t.chars().all(|c| c.is_digit(radix));
    let unsigned = s.strip_prefix(['-', '+']).unwrap_or(s);
    if digits(unsigned, 10) {
        return match s.parse::<i64>() {
            Ok(i) => Scalar::Int(i),
            Err(_) => Scalar::Str(s),
        };
    }
    if let Some(h) = s.strip_prefix("0x").filter(|h| digits(h, 16)) {
        if let Ok(i) = i64::from_str_radix(h, 16) {
            return Scalar::Int(i);
        }
    }
    if let Some(o) = s.strip_prefix("0o").filter(|o| digits(o, 8)) {
        if let Ok(i) = i64::from_str_radix(o, 8) {
            return Scalar::Int(i);
        }
    }
    // [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?
    let (mant, exp) = match unsigned.find(['e', 'E']) {
        Some(i) => (unsigned.get(..i).unwrap_or(""), unsigned.get(i + 1..)),
        None => (unsigned, None),
    };
    let mant_ok = match mant.split_once('.') {
        Some((a, b)) => {
            (digits(a, 10) || a.is_empty()) && (digits(b, 10) || (b.is_empty() && !a.is_empty()))
        }
        None => digits(mant, 10),
    };
    let exp_ok = exp.is_none_or(|e| digits(e.strip_prefix(['-', '+']).unwrap_or(e), 10));
    if mant_ok && exp_ok {
        if let Ok(f) = s.parse::<f64>() {
            return Scalar::Float(f);
        }
    }
    Scalar::Str(s)
}

/// Pairs (value byte offset, raw byte offset) for each character of `value`, found by walking
/// the scalar's source text `raw`. Characters produced by folding (a line break read as a space)
/// map to the break; escapes map to their backslash.
fn map_scalar(raw: &str, value: &str, style: Style) -> Vec<(usize, usize)> {
    let mut out = Vec::with_capacity(value.len());
    let raw_chars: Vec<(usize, char)> = raw.char_indices().collect();
    let mut ri = match style {
        Style::SingleQuoted | Style::DoubleQuoted => 1, // skip the opening quote
        _ => 0,
    };
    for (vo, vc) in value.char_indices() {
        if style == Style::DoubleQuoted {
            // an escape produces exactly one value character
            if let Some(&(ro, '\\')) = raw_chars.get(ri) {
                let next = raw_chars.get(ri + 1).map(|&(_, c)| c);
                let width = match next {
                    Some('x') => 4,
                    Some('u') => 6,
                    Some('U') => 10,
                    Some('\n') | Some('\r') => {
                        // escaped line break: produces nothing; skip it and the indentation
                        ri += 2;
                        while matches!(raw_chars.get(ri), Some(&(_, ' ' | '\t'))) {
                            ri += 1;
                        }
                        0
                    }
                    Some(_) => 2,
                    None => 1,
                };
                if width > 0 {
                    out.push((vo, ro));
                    ri += width;
                    continue;
                }
            }
        }
        // find the character ahead; a folded line break stands for a space or a newline
        let mut j = ri;
        let found = loop {
            match raw_chars.get(j) {
                None => break None,
                Some(&(ro, rc)) => {
                    if rc == vc || (vc == ' ' && rc == '\n') {
                        break Some((j, ro));
                    }
                    if style == Style::DoubleQuoted && rc == '\\' {
                        break None; // never skip over an escape
                    }
                    j += 1;
                }
            }
        };
        match found {
            Some((j, ro)) => {
                out.push((vo, ro));
                ri = j + 1;
                if style == Style::SingleQuoted && vc == '\'' {
                    ri += 1; // `''` is one quote
                }
            }
            None => break,
        }
    }
    out
}

/// Reads one YAML file into a node tree. A YAML syntax error is a diagnostic at its position.
/// An empty file gives `None`.
pub fn parse(sources: &Sources, file: FileId) -> Result<Option<Node>, Diagnostic> {
    let text = sources.text(file);
    let offsets = CharOffsets::new(text);
    let mut composer = Composer {
        file,
        text,
        offsets: &offsets,
        anchors: HashMap::new(),
        nodes: 0,
    };
    let mut parser = Parser::new_from_str(text);
    let mut root = None;
    let mut documents = 0;
    while let Some(ev) = parser.next_event() {
        let (ev, span) = ev.map_err(|e| syntax_error(text, &offsets, file, &e))?;
        match ev {
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    let at = composer.loc(span);
                    return Err(Diagnostic::error(
                        Code::YamlSyntax,
                        "a pack file holds one yaml document".into(),
                    )
                    .at(at)
                    .label("a second document starts here")
                    .help("split the documents into separate files"));
                }
            }
            Event::StreamEnd => break,
            Event::StreamStart | Event::DocumentEnd | Event::Nothing => {}
            ev => root = Some(composer.node(ev, span, &mut parser)?),
        }
    }
    Ok(root)
}

/// A YAML syntax error, at the fault. saphyr's marker is where it was reading, often the start
/// of the scalar: a tab is pointed at where it indents a line (from the marker's line on), and
/// a quoted scalar's bad indentation at the first line after it indented no deeper than its key.
fn syntax_error(
    text: &str,
    offsets: &CharOffsets,
    file: FileId,
    e: &saphyr_parser::ScanError,
) -> Diagnostic {
    let marker = offsets.byte(e.marker().index()).min(text.len());
    let line_start = text
        .get(..marker)
        .and_then(|t| t.rfind('\n'))
        .map_or(0, |i| i + 1);
    // the lines from the marker's on, with their starts
    let lines = || {
        let mut at = line_start;
        text.get(line_start..)
            .unwrap_or_default()
            .split('\n')
            .map(move |l| {
                let start = at;
                at += l.len() + 1;
                (start, l)
            })
    };
    let indent = |l: &str| l.len() - l.trim_start_matches(' ').len();
    let info = e.info();
    let at = if info.contains("tab") {
        lines()
            .find(|(_, l)| l.get(indent(l)..).is_some_and(|r| r.starts_with('\t')))
            .map(|(start, l)| start + indent(l))
    } else if info.contains("indentation in quoted scalar") {
        // the key's column: past the indentation and any `- ` of sequence entries
        let (_, first) = lines().next().unwrap_or((line_start, ""));
        let mut key = first.trim_start_matches(' ');
        while let Some(rest) = key.strip_prefix("- ") {
            key = rest.trim_start_matches(' ');
        }
        let column = first.len() - key.len();
        lines()
            .skip(1)
            .filter(|(_, l)| !l.trim().is_empty())
            .find(|(_, l)| indent(l) <= column)
            .map(|(start, l)| start + indent(l))
    } else {
        None
    }
    .unwrap_or(marker);
    Diagnostic::error(Code::YamlSyntax, format!("invalid yaml: {info}"))
        .at(Loc::new(file, at, at))
        .label("the yaml parser stopped here")
}

/// Character index → byte offset (saphyr's markers count characters).
struct CharOffsets {
    ascii: bool,
    table: Vec<usize>,
    len: usize,
}

impl CharOffsets {
    fn new(text: &str) -> CharOffsets {
        let ascii = text.is_ascii();
        let table = if ascii {
            Vec::new()
        } else {
            text.char_indices().map(|(b, _)| b).collect()
        };
        CharOffsets {
            ascii,
            table,
            len: text.len(),
        }
    }

    fn byte(&self, index: usize) -> usize {
        if self.ascii {
            index.min(self.len)
        } else {
            self.table.get(index).copied().unwrap_or(self.len)
        }
    }
}

struct Composer<'a> {
    file: FileId,
    text: &'a str,
    offsets: &'a CharOffsets,
    anchors: HashMap<usize, Node>,
    nodes: usize,
}

impl Composer<'_> {
    fn loc(&self, span: Span) -> Loc {
        Loc::new(
            self.file,
            self.offsets.byte(span.start.index()),
            self.offsets.byte(span.end.index()),
        )
    }

    fn count(&mut self, n: usize, loc: Loc) -> Result<(), Diagnostic> {
        self.nodes += n;
        if self.nodes > MAX_NODES {
            return Err(Diagnostic::error(
                Code::YamlSyntax,
                "yaml aliases expand to too many nodes".into(),
            )
            .at(loc)
            .label("expanding this alias passes the limit")
            .help(format!("a pack file may hold at most {MAX_NODES} values")));
        }
        Ok(())
    }

    fn next(
        &mut self,
        parser: &mut Parser<'_, saphyr_parser::StrInput<'_>>,
    ) -> Result<(Event<'static>, Span), Diagnostic> {
        match parser.next_event() {
            Some(Ok((ev, span))) => Ok((into_owned(ev), span)),
            Some(Err(e)) => Err(syntax_error(self.text, self.offsets, self.file, &e)),
            None => Err(Diagnostic::error(
                Code::YamlSyntax,
                "invalid yaml: unexpected end of file".into(),
            )
            .at(Loc::new(self.file, self.offsets.len, self.offsets.len))),
        }
    }

    fn node(
        &mut self,
        ev: Event<'_>,
        span: Span,
        parser: &mut Parser<'_, saphyr_parser::StrInput<'_>>,
    ) -> Result<Node, Diagnostic> {
        let loc = self.loc(span);
        self.count(1, loc)?;
        let (node, anchor) = match ev {
            Event::Scalar(value, style, anchor, _tag) => {
                let style = match style {
                    ScalarStyle::Plain => Style::Plain,
                    ScalarStyle::SingleQuoted => Style::SingleQuoted,
                    ScalarStyle::DoubleQuoted => Style::DoubleQuoted,
                    ScalarStyle::Literal => Style::Literal,
                    ScalarStyle::Folded => Style::Folded,
                };
                (
                    Node {
                        kind: NodeKind::Scalar {
                            value: value.into_owned(),
                            style,
                        },
                        loc,
                    },
                    anchor,
                )
            }
            Event::Alias(id) => {
                let node = self.anchors.get(&id).cloned().ok_or_else(|| {
                    Diagnostic::error(Code::YamlSyntax, "invalid yaml: unknown alias".into())
                        .at(loc)
                })?;
                let n = count_nodes(&node);
                self.count(n, loc)?;
                return Ok(node);
            }
            Event::SequenceStart(anchor, _tag) => {
                let mut items = Vec::new();
                let mut end = loc.end;
                loop {
                    let (ev, span) = self.next(parser)?;
                    if let Event::SequenceEnd = ev {
                        end = end.max(self.offsets.byte(span.end.index()));
                        break;
                    }
                    let item = self.node(ev, span, parser)?;
                    end = end.max(item.loc.end);
                    items.push(item);
                }
                (
                    Node {
                        kind: NodeKind::Seq(items),
                        loc: Loc::new(self.file, loc.start, end),
                    },
                    anchor,
                )
            }
            Event::MappingStart(anchor, _tag) => {
                let mut pairs = Vec::new();
                let mut end = loc.end;
                loop {
                    let (ev, span) = self.next(parser)?;
                    if let Event::MappingEnd = ev {
                        end = end.max(self.offsets.byte(span.end.index()));
                        break;
                    }
                    let key = self.node(ev, span, parser)?;
                    let (ev, span) = self.next(parser)?;
                    let value = self.node(ev, span, parser)?;
                    end = end.max(value.loc.end);
                    pairs.push((key, value));
                }
                (
                    Node {
                        kind: NodeKind::Map(pairs),
                        loc: Loc::new(self.file, loc.start, end),
                    },
                    anchor,
                )
            }
            _ => {
                return Err(Diagnostic::error(
                    Code::YamlSyntax,
                    "invalid yaml: unexpected event".into(),
                )
                .at(loc));
            }
        };
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        Ok(node)
    }
}

fn into_owned(ev: Event<'_>) -> Event<'static> {
    match ev {
        Event::Scalar(v, s, a, t) => Event::Scalar(
            Cow::Owned(v.into_owned()),
            s,
            a,
            t.map(|t| Cow::Owned(t.into_owned())),
        ),
        Event::SequenceStart(a, t) => {
            Event::SequenceStart(a, t.map(|t| Cow::Owned(t.into_owned())))
        }
        Event::MappingStart(a, t) => Event::MappingStart(a, t.map(|t| Cow::Owned(t.into_owned()))),
        Event::Nothing => Event::Nothing,
        Event::StreamStart => Event::StreamStart,
        Event::StreamEnd => Event::StreamEnd,
        Event::DocumentStart(b) => Event::DocumentStart(b),
        Event::DocumentEnd => Event::DocumentEnd,
        Event::Alias(a) => Event::Alias(a),
        Event::SequenceEnd => Event::SequenceEnd,
        Event::MappingEnd => Event::MappingEnd,
    }
}

fn count_nodes(n: &Node) -> usize {
    match &n.kind {
        NodeKind::Scalar { .. } => 1,
        NodeKind::Seq(s) => 1 + s.iter().map(count_nodes).sum::<usize>(),
        NodeKind::Map(m) => {
            1 + m
                .iter()
                .map(|(k, v)| count_nodes(k) + count_nodes(v))
                .sum::<usize>()
        }
    }
}

/// A YAML node as JSON (for test records and waivers): core-schema scalars, mappings as objects
/// with their keys as text. Non-finite floats become strings.
pub fn to_json(node: &Node) -> serde_json::Value {
    use serde_json::Value as J;
    match &node.kind {
        NodeKind::Seq(items) => J::Array(items.iter().map(to_json).collect()),
        NodeKind::Map(pairs) => J::Object(
            pairs
                .iter()
                .map(|(k, v)| (k.text().unwrap_or_default().to_string(), to_json(v)))
                .collect(),
        ),
        NodeKind::Scalar { value, .. } => match node.scalar() {
            Some(Scalar::Null) => J::Null,
            Some(Scalar::Bool(b)) => J::Bool(b),
            Some(Scalar::Int(i)) => J::from(i),
            // a float keeps its text where JSON can write it (`12.50` for a string field)
            Some(Scalar::Float(f)) => serde_json::from_str::<serde_json::Number>(value)
                .ok()
                .or_else(|| serde_json::Number::from_f64(f))
                .map_or_else(|| J::String(value.clone()), J::Number),
            _ => J::String(value.clone()),
        },
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
mod tests {
    use super::*;

    fn load(text: &str) -> (Sources, Node) {
        let mut s = Sources::new();
        let f = s.add("t.yaml", text);
        let n = parse(&s, f).unwrap().unwrap();
        (s, n)
    }

    fn value_of<'a>(n: &'a Node, key: &str) -> &'a Node {
        &n.as_map()
            .unwrap()
            .iter()
            .find(|(k, _)| k.text() == Some(key))
            .unwrap()
            .1
    }

    /// The (line, col) where the value's substring `needle` starts.
    fn pos(text: &str, key: &str, needle: &str) -> (usize, usize) {
        let (s, n) = load(text);
        let v = value_of(&n, key);
        let off = v.text().unwrap().find(needle).unwrap();
        let loc = v.locate(&s, off, off + needle.len());
        assert_eq!(s.slice(loc).chars().next(), needle.chars().next(), "{key}");
        s.line_col(loc.file, loc.start)
    }

    #[test]
    fn core_schema_scalars() {
        assert_eq!(core_schema("true"), Scalar::Bool(true));
        assert_eq!(core_schema("yes"), Scalar::Str("yes"));
        assert_eq!(core_schema("True"), Scalar::Str("True"));
        assert_eq!(core_schema("FALSE"), Scalar::Str("FALSE"));
        assert_eq!(core_schema("2026-01-01"), Scalar::Str("2026-01-01"));
        assert_eq!(core_schema("12"), Scalar::Int(12));
        assert_eq!(core_schema("-3"), Scalar::Int(-3));
        assert_eq!(core_schema("1.5"), Scalar::Float(1.5));
        assert_eq!(core_schema("1e3"), Scalar::Float(1000.0));
        assert_eq!(core_schema("0x1F"), Scalar::Int(31));
        assert_eq!(core_schema("~"), Scalar::Null);
        assert_eq!(
            core_schema("99999999999999999999"),
            Scalar::Str("99999999999999999999")
        );
        assert_eq!(core_schema("1.2.3"), Scalar::Str("1.2.3"));
    }

    #[test]
    fn positions_inside_every_scalar_style() {
        let text = "plain: a and bad\nsq: 'x == ''y'' and bad'\ndq: \"x == \\\"y\\\" and bad\"\nlit: |\n  first\n  and bad\nfold: >\n  first\n  and bad\nmulti: a and\n  bad\ncjk: 主办单位名称 == bad\n";
        assert_eq!(pos(text, "plain", "bad"), (1, 14));
        assert_eq!(pos(text, "sq", "bad"), (2, 21));
        assert_eq!(pos(text, "dq", "bad"), (3, 21));
        assert_eq!(pos(text, "lit", "bad"), (6, 7));
        assert_eq!(pos(text, "fold", "bad"), (9, 7));
        assert_eq!(pos(text, "multi", "bad"), (11, 3));
        assert_eq!(pos(text, "cjk", "bad"), (12, 16));
    }

    #[test]
    fn syntax_errors_have_positions() {
        let mut s = Sources::new();
        let f = s.add("t.yaml", "a: 1\n b: [\n");
        let e = parse(&s, f).unwrap_err();
        assert_eq!(e.code, Code::YamlSyntax);
        let loc = e.loc.unwrap();
        assert_eq!(s.line_col(loc.file, loc.start).0, 2);
    }

    #[test]
    fn aliases_expand() {
        let (_, n) = load("a: &x [1, 2]\nb: *x\n");
        assert_eq!(value_of(&n, "b").as_seq().unwrap().len(), 2);
    }

    #[test]
    fn alias_bombs_are_refused() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..9 {
            let prev = i - 1;
            text.push_str(&format!("a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"));
        }
        let mut s = Sources::new();
        let f = s.add("t.yaml", text);
        assert!(parse(&s, f).is_err());
    }
}
