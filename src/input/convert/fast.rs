//! JSON records read straight into the schema's slots, for the shape exports have: a fast
//! reader of the JSON text that hands each value to the same conversions the serde path uses
//! ([`ValueSeed`]'s `visit_str`, `visit_bool`, `number`), without serde's layers in between.
//!
//! It reads JSON as serde_json reads it, and leaves to serde_json (returning `None`, having
//! recorded nothing) what it does not read itself: nesting deeper than [`MAX_DEPTH`], a list or
//! an object where the schema wants another type (the error quotes it as serde_json writes it),
//! the literal key serde_json uses for numbers, a lone surrogate (`\ud800`) in a declared field
//! or a key, and anything that is not valid JSON, so that the reason of a rejected record is
//! serde_json's. One difference is deliberate: a number keeps
//! its text as written (`1E5`), which serde_json rewrites (`1e+5`), so a `string` field given a
//! number is its text (SPEC §3). A property test compares the two paths on generated records.

use std::borrow::Cow;

use serde::de::{value::Error as DeError, Visitor};

use super::{slot_of, Ctx, Seg, ValueSeed, NUMBER_TOKEN};
use crate::types::{ObjectType, Type};
use crate::value::Value;

/// Deeper nesting is left to serde_json (whose own limit is 128).
const MAX_DEPTH: u32 = 64;

/// Not read here: serde_json reads the record instead.
struct Bail;

type R<T> = Result<T, Bail>;

/// Reads one JSON record (an object) into the schema's slots, or `None` when serde_json must
/// (see the module's text). On `None` nothing is left in `ctx`.
pub fn record_from_json_text<'s>(
    text: &str,
    schema: &'s ObjectType,
    ctx: &mut Ctx<'s>,
) -> Option<Vec<Value>> {
    let mut r = Reader {
        s: text,
        b: text.as_bytes(),
        i: 0,
        depth: 0,
    };
    let mut slots = crate::value::nulls(schema.fields.len());
    let read = (|| {
        r.ws();
        r.eat(b'{')?;
        r.object(schema, ctx, Some(&mut slots))?;
        r.ws();
        if r.i == r.b.len() {
            Ok(())
        } else {
            Err(Bail)
        }
    })();
    match read {
        Ok(()) => Some(slots),
        Err(Bail) => {
            ctx.clear();
            None
        }
    }
}

struct Reader<'t> {
    s: &'t str,
    b: &'t [u8],
    i: usize,
    depth: u32,
}

impl<'t> Reader<'t> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    /// JSON's whitespace: space, tab, line feed, carriage return.
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> R<()> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(Bail)
        }
    }

    fn literal(&mut self, word: &[u8; 4]) -> R<()> {
        match self.b.get(self.i..self.i + 4) {
            Some(&[a, b, c, d]) if [a, b, c, d] == *word => {
                self.i += 4;
                Ok(())
            }
            _ => Err(Bail),
        }
    }

    /// A string at `"`: lent from the text when it has no escape, else unescaped as serde_json
    /// does (a control character, a bad escape or a lone surrogate bails).
    fn string(&mut self) -> R<Cow<'t, str>> {
        self.eat(b'"')?;
        let start = self.i;
        let len = plain_len(self.b.get(start..).ok_or(Bail)?)?;
        if self.b.get(start + len) == Some(&b'"') {
            self.i = start + len + 1;
            // quotes are ASCII: the slice is on character boundaries
            return self
                .s
                .get(start..start + len)
                .map(Cow::Borrowed)
                .ok_or(Bail);
        }
        self.unescape(start, start + len).map(Cow::Owned)
    }

    /// The rest of a string whose text from `start` has an escape at `at`.
    #[inline(never)]
    fn unescape(&mut self, start: usize, mut at: usize) -> R<String> {
        let mut out = String::from(self.s.get(start..at).ok_or(Bail)?);
        loop {
            match self.b.get(at).copied().ok_or(Bail)? {
                b'"' => {
                    self.i = at + 1;
                    return Ok(out);
                }
                b'\\' => {
                    let c = match self.b.get(at + 1).copied().ok_or(Bail)? {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let (c, used) = self.unicode_escape(at + 2)?;
                            at += used;
                            c
                        }
                        _ => return Err(Bail),
                    };
                    out.push(c);
                    at += 2;
                }
                _ => {
                    let run = plain_len(self.b.get(at..).ok_or(Bail)?)?;
                    out.push_str(self.s.get(at..at + run).ok_or(Bail)?);
                    at += run;
                }
            }
        }
    }

    /// The character of `\uXXXX` (its hex digits at `at`), or of a surrogate pair
    /// `\uD8XX\uDCXX`, and the bytes used after the `u`'s four digits.
    fn unicode_escape(&self, at: usize) -> R<(char, usize)> {
        let hex = |from: usize| -> R<u32> {
            let digits = self.s.get(from..from + 4).ok_or(Bail)?;
            if !digits.bytes().all(|c| c.is_ascii_hexdigit()) {
                return Err(Bail);
            }
            u32::from_str_radix(digits, 16).map_err(|_| Bail)
        };
        let n = hex(at)?;
        match n {
            0xD800..=0xDBFF => {
                if self.b.get(at + 4..at + 6) != Some(b"\\u") {
                    return Err(Bail);
                }
                let low = hex(at + 6)?;
                if !(0xDC00..=0xDFFF).contains(&low) {
                    return Err(Bail);
                }
                let c = 0x10000 + ((n - 0xD800) << 10) + (low - 0xDC00);
                Ok((char::from_u32(c).ok_or(Bail)?, 10))
            }
            0xDC00..=0xDFFF => Err(Bail),
            _ => Ok((char::from_u32(n).ok_or(Bail)?, 4)),
        }
    }

    /// A member's key, as its slot in `schema` (`None`: undeclared). The text after the quote
    /// is first compared in place with the names of the fields after the previous one (an
    /// export writes its keys in schema order, leaving some out), a few words at a time, so
    /// most keys are found without being scanned.
    fn key(&mut self, schema: &ObjectType, hint: usize, words: &KeyWords) -> R<Option<usize>> {
        if self.peek() == Some(b'"') {
            if let Some((slot, len)) = words.find(self.b.get(self.i + 1..), hint) {
                self.i += len + 2;
                return Ok(Some(slot));
            }
        }
        let key = self.string()?;
        if key == NUMBER_TOKEN {
            return Err(Bail);
        }
        Ok(slot_of(schema, hint, &key))
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while let Some(b'0'..=b'9') = self.peek() {
            self.i += 1;
        }
        self.i - start
    }

    /// A number, by JSON's grammar: its text.
    fn number(&mut self) -> R<&'t str> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek() {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(Bail),
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if self.digits() == 0 {
                return Err(Bail);
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            if self.digits() == 0 {
                return Err(Bail);
            }
        }
        self.s.get(start..self.i).ok_or(Bail)
    }

    fn enter(&mut self) -> R<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Bail);
        }
        Ok(())
    }

    /// An object's members after its `{`, into `slots` (none: check only), as
    /// [`super::read_object`] reads them.
    fn object<'s>(
        &mut self,
        schema: &'s ObjectType,
        ctx: &mut Ctx<'s>,
        mut slots: Option<&mut [Value]>,
    ) -> R<()> {
        self.enter()?;
        let keep = slots.is_some();
        let mask = ctx.usage.map(|u| u.mask(schema));
        let words = ctx.key_words_of(schema);
        let mut hint = 0;
        self.ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
            self.depth -= 1;
            return Ok(());
        }
        loop {
            self.ws();
            let slot = match ctx.key_words.get(words) {
                Some((_, w)) => self.key(schema, hint, w)?,
                None => return Err(Bail),
            };
            self.ws();
            self.eat(b':')?;
            self.ws();
            match slot {
                None => self.skip()?,
                Some(i) => {
                    hint = i + 1;
                    let Some((name, ty)) = schema.fields.get(i) else {
                        return Err(Bail);
                    };
                    let keep = keep && mask.is_none_or(|m| m.get(i).copied().unwrap_or(false));
                    ctx.path.push(Seg::Field(name.as_str(), i));
                    let v = self.value(ty, ctx, keep, false);
                    ctx.path.pop();
                    let v = v?;
                    if let Some(s) = slots.as_deref_mut().and_then(|s| s.get_mut(i)) {
                        // a slot is null until its key is read (again only for a repeated key)
                        let old = std::mem::replace(s, v);
                        if old.is_null() {
                            std::mem::forget(old);
                        }
                    }
                }
            }
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    self.depth -= 1;
                    return Ok(());
                }
                _ => return Err(Bail),
            }
        }
    }

    /// A declared field's value (or a list element), converted as [`ValueSeed`] converts it.
    fn value<'s>(
        &mut self,
        ty: &'s Type,
        ctx: &mut Ctx<'s>,
        keep: bool,
        element: bool,
    ) -> R<Value> {
        if self.peek() == Some(b'"') {
            let s = self.string()?;
            // a `string` field keeps its text as it is (what `visit_str` gives it)
            if let Type::Str = ty {
                return Ok(if keep { Value::str(&s) } else { Value::Null });
            }
            return ValueSeed {
                ty,
                ctx,
                keep,
                element,
            }
            .visit_str::<DeError>(&s)
            .map_err(|_| Bail);
        }
        self.other(ty, ctx, keep, element)
    }

    /// [`Reader::value`] for anything but a string.
    #[inline(never)]
    fn other<'s>(
        &mut self,
        ty: &'s Type,
        ctx: &mut Ctx<'s>,
        keep: bool,
        element: bool,
    ) -> R<Value> {
        let seed = ValueSeed {
            ty,
            ctx: &mut *ctx,
            keep,
            element,
        };
        match self.peek() {
            Some(b't') => {
                self.literal(b"true")?;
                seed.visit_bool::<DeError>(true).map_err(|_| Bail)
            }
            Some(b'f') => {
                self.i += 1;
                self.literal(b"alse")?;
                seed.visit_bool::<DeError>(false).map_err(|_| Bail)
            }
            Some(b'n') => {
                self.literal(b"null")?;
                Ok(Value::Null)
            }
            Some(b'-' | b'0'..=b'9') => {
                // its text as written, exponent and all
                let text = self.number()?;
                Ok(seed.number(text))
            }
            Some(b'[') => {
                let Type::List(elem) = ty else {
                    return Err(Bail);
                };
                self.i += 1;
                self.list(elem, ctx, keep)
            }
            Some(b'{') => {
                let Type::Object(o) = ty else {
                    return Err(Bail);
                };
                self.i += 1;
                if !keep {
                    self.object(o, ctx, None)?;
                    return Ok(Value::Null);
                }
                let mut slots = crate::value::object_slots(o.fields.len());
                // not shared yet, so `get_mut` gives the slots
                self.object(o, ctx, std::sync::Arc::get_mut(&mut slots))?;
                Ok(Value::Object(slots))
            }
            _ => Err(Bail),
        }
    }

    /// A list's elements after its `[`, as `visit_seq` reads them.
    fn list<'s>(&mut self, elem: &'s Type, ctx: &mut Ctx<'s>, keep: bool) -> R<Value> {
        self.enter()?;
        let mut out = if keep { ctx.list_buf() } else { Vec::new() };
        self.ws();
        if self.peek() == Some(b']') {
            self.i += 1;
        } else {
            let mut i = 0;
            loop {
                self.ws();
                ctx.path.push(Seg::Index(i));
                let v = self.value(elem, ctx, keep, true);
                ctx.path.pop();
                let v = v?;
                if keep {
                    out.push(v);
                }
                i += 1;
                self.ws();
                match self.peek() {
                    Some(b',') => self.i += 1,
                    Some(b']') => {
                        self.i += 1;
                        break;
                    }
                    _ => return Err(Bail),
                }
            }
        }
        self.depth -= 1;
        if !keep {
            return Ok(Value::Null);
        }
        Ok(ctx.list(out))
    }

    /// A string checked and dropped, as serde_json skips one: its escapes are checked for
    /// their form only (a lone surrogate passes).
    fn skip_string(&mut self) -> R<()> {
        self.eat(b'"')?;
        loop {
            self.i += plain_len(self.b.get(self.i..).ok_or(Bail)?)?;
            match (self.peek(), self.b.get(self.i + 1)) {
                (Some(b'"'), _) => {
                    self.i += 1;
                    return Ok(());
                }
                (Some(b'\\'), Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't')) => {
                    self.i += 2;
                }
                (Some(b'\\'), Some(b'u')) => {
                    let digits = self.b.get(self.i + 2..self.i + 6).ok_or(Bail)?;
                    if !digits.iter().all(u8::is_ascii_hexdigit) {
                        return Err(Bail);
                    }
                    self.i += 6;
                }
                _ => return Err(Bail),
            }
        }
    }

    /// Any JSON value, checked and dropped (an undeclared field).
    fn skip(&mut self) -> R<()> {
        match self.peek() {
            Some(b'"') => self.skip_string(),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => {
                self.i += 1;
                self.literal(b"alse")
            }
            Some(b'n') => self.literal(b"null"),
            Some(b'-' | b'0'..=b'9') => self.number().map(|_| ()),
            Some(b'[') => self.skip_items(b']', Reader::skip),
            Some(b'{') => self.skip_items(b'}', |r| {
                r.skip_string()?;
                r.ws();
                r.eat(b':')?;
                r.ws();
                r.skip()
            }),
            _ => Err(Bail),
        }
    }

    /// The items of a list or an object after its opening bracket, each read by `item`,
    /// separated by commas, up to `close`.
    fn skip_items(&mut self, close: u8, item: fn(&mut Self) -> R<()>) -> R<()> {
        self.i += 1;
        self.enter()?;
        self.ws();
        if self.peek() == Some(close) {
            self.i += 1;
        } else {
            loop {
                self.ws();
                item(self)?;
                self.ws();
                match self.peek() {
                    Some(b',') => self.i += 1,
                    Some(c) if c == close => {
                        self.i += 1;
                        break;
                    }
                    _ => return Err(Bail),
                }
            }
        }
        self.depth -= 1;
        Ok(())
    }
}

/// An object type's field names as the fast reader compares them with a key in place: per
/// field, `name"` as three little-endian words and their masks (names up to 23 bytes without a
/// quote, a backslash or a control character; other fields are always scanned and searched).
pub(super) struct KeyWords {
    fields: Vec<Option<KeyWord>>,
}

/// A name's length, and `name"` as words with their masks.
type KeyWord = (usize, [u64; 3], [u64; 3]);

/// How many fields from the expected one [`KeyWords::find`] tries.
const KEY_TRIES: usize = 4;

impl KeyWords {
    pub(super) fn new(schema: &ObjectType) -> KeyWords {
        let fields = schema
            .fields
            .iter()
            .map(|(name, _)| {
                let n = name.as_bytes();
                if n.len() > 23 || n.iter().any(|&c| c < 0x20 || c == b'"' || c == b'\\') {
                    return None;
                }
                let mut bytes = [0u8; 24];
                let mut mask = [0u8; 24];
                for (i, &c) in n.iter().chain(b"\"").enumerate() {
                    if let (Some(b), Some(m)) = (bytes.get_mut(i), mask.get_mut(i)) {
                        *b = c;
                        *m = 0xff;
                    }
                }
                Some((n.len(), words(&bytes)?, words(&mask)?))
            })
            .collect();
        KeyWords { fields }
    }

    /// The field whose `name"` the text starts with, tried from `hint` on, and its name's
    /// length; `None` when none of the few tried matches (or fewer than 24 bytes are left).
    #[inline]
    fn find(&self, text: Option<&[u8]>, hint: usize) -> Option<(usize, usize)> {
        let text = words(text?.get(..24)?)?;
        let tries = self.fields.get(hint..)?.iter().take(KEY_TRIES);
        for (i, f) in tries.enumerate() {
            if let Some((len, key, mask)) = f {
                if text[0] & mask[0] == key[0]
                    && text[1] & mask[1] == key[1]
                    && text[2] & mask[2] == key[2]
                {
                    return Some((hint + i, *len));
                }
            }
        }
        None
    }
}

/// 24 bytes as three little-endian words.
fn words(b: &[u8]) -> Option<[u64; 3]> {
    let word = |i: usize| {
        b.get(i..i + 8)
            .and_then(|w| <[u8; 8]>::try_from(w).ok())
            .map(u64::from_le_bytes)
    };
    Some([word(0)?, word(8)?, word(16)?])
}

/// The length of a string's text up to its closing quote or first backslash, eight bytes at a
/// time; a control character (or no end) bails.
fn plain_len(rest: &[u8]) -> R<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut at = 0;
    let mut words = rest.chunks_exact(8);
    for w in &mut words {
        let Ok(w) = <[u8; 8]>::try_from(w) else {
            return Err(Bail);
        };
        let x = u64::from_le_bytes(w);
        // bytes below 0x20, `"` and `\`: the lowest flag is the first such byte
        let low = x.wrapping_sub(ONES * 0x20) & !x;
        let q = x ^ (ONES * u64::from(b'"'));
        let quote = q.wrapping_sub(ONES) & !q;
        let e = x ^ (ONES * u64::from(b'\\'));
        let escape = e.wrapping_sub(ONES) & !e;
        let hits = (low | quote | escape) & HIGH;
        if hits != 0 {
            let i = at + (hits.trailing_zeros() / 8) as usize;
            return match rest.get(i) {
                Some(b'"' | b'\\') => Ok(i),
                _ => Err(Bail),
            };
        }
        at += 8;
    }
    for (i, &c) in words.remainder().iter().enumerate() {
        if c == b'"' || c == b'\\' {
            return Ok(at + i);
        }
        if c < 0x20 {
            return Err(Bail);
        }
    }
    Err(Bail)
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::panic)] // test generator: indices in range by construction; a test stops at its first failure
mod tests {
    use super::*;
    use crate::program::Usage;
    use proptest::prelude::*;
    use std::sync::Arc;

    fn schema() -> ObjectType {
        let obj = |fields: Vec<(&str, Type)>| ObjectType {
            fields: fields
                .into_iter()
                .map(|(n, t)| (n.to_string(), t))
                .collect(),
        };
        let inner = obj(vec![("d", Type::Date)]);
        let o = obj(vec![
            ("s", Type::Str),
            ("i", Type::Int),
            ("n", Type::Object(Arc::new(inner))),
        ]);
        let elem = obj(vec![
            ("s", Type::Str),
            ("b", Type::Bool),
            ("dom", Type::Domain),
        ]);
        obj(vec![
            ("s", Type::Str),
            ("i", Type::Int),
            ("f", Type::Float),
            ("b", Type::Bool),
            ("d", Type::Date),
            ("t", Type::DateTime),
            ("dom", Type::Domain),
            ("ip", Type::Ip),
            ("ls", Type::list(Type::Str)),
            ("li", Type::list(Type::Int)),
            ("ld", Type::list(Type::Domain)),
            ("o", Type::Object(Arc::new(o))),
            ("lo", Type::list(Type::Object(Arc::new(elem)))),
        ])
    }

    /// A small deterministic generator of JSON-like text, valid and not; it notes whether it
    /// wrote a number with an exponent (whose text serde_json rewrites, and the fast reader
    /// keeps as written).
    struct Gen(u64, bool);

    impl Gen {
        fn new(seed: u64) -> Gen {
            Gen(seed, false)
        }

        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
            items[(self.next() % items.len() as u64) as usize]
        }

        fn ws(&mut self) -> &'static str {
            if self.next() % 4 != 0 {
                return "";
            }
            self.pick(&[" ", "\t", "\n", "\r", "  ", "\u{a0}", "\u{c}"])
        }

        fn string(&mut self) -> String {
            let body = self.pick(&[
                "",
                " ",
                "abc",
                "例子.中国",
                "example.COM",
                "bad..name",
                "xn--fsqu00a.xn--fiqs8s",
                "2026-11-27",
                "2026/1/2",
                "2026年1月2日",
                "2026-02-30",
                "2026-11-27 10:00",
                "2026-11-27T10:00:00+08:00",
                "是",
                "否",
                "true",
                "1",
                "yes",
                "12",
                "-3",
                "1.5",
                "x\\\"y",
                "\\ud83d\\ude00",
                "\\uDBFF\\uDFFF",
                "\\udc00",
                "\\ud800\\u0041",
                "n\\u0061me",
                "\\x",
                "\\u12",
                "\\uZZZZ",
                "\\u0000",
                "a\\/b\\\\c\\b\\f\\n\\r",
                "tab\\tin",
                "\\u00e9",
                "\\ud800",
                "ctl\u{1}x",
                "1.2.3.4",
                "::1",
                "999.1.1.1",
                "a;b; ;c",
                "湖北省武汉市",
                "$serde_json::private::Number",
            ]);
            format!("\"{body}\"")
        }

        fn number(&mut self) -> String {
            let n = self
                .pick(&[
                    "0",
                    "-0",
                    "7",
                    "-5",
                    "12.50",
                    "-0.000",
                    "1e5",
                    "1E+5",
                    "2.5e-3",
                    "123456789012345678901234567890",
                    "-9223372036854775809",
                    "9223372036854775807",
                    "18446744073709551616",
                    "01",
                    "1.",
                    "-",
                    ".5",
                    "1e",
                    "3.0",
                ])
                .to_string();
            self.1 |= n.contains(['e', 'E']);
            n
        }

        fn key(&mut self) -> String {
            let k = self.pick(&[
                "s",
                "i",
                "f",
                "b",
                "d",
                "t",
                "dom",
                "ip",
                "ls",
                "li",
                "ld",
                "o",
                "lo",
                "n",
                "unknown",
                "S",
                "$serde_json::private::Number",
            ]);
            format!("\"{k}\"")
        }

        fn value(&mut self, depth: u32) -> String {
            let choice = self.next() % if depth > 3 { 6 } else { 9 };
            match choice {
                0 | 1 => self.string(),
                2 => self.number(),
                3 => self
                    .pick(&["true", "false", "null", "nul", "True"])
                    .to_string(),
                4 | 5 => self.string(),
                6 => {
                    let n = self.next() % 4;
                    let items: Vec<String> = (0..n).map(|_| self.value(depth + 1)).collect();
                    let sep = format!("{},{}", self.ws(), self.ws());
                    format!("[{}{}{}]", self.ws(), items.join(&sep), self.ws())
                }
                _ => self.object(depth + 1),
            }
        }

        fn object(&mut self, depth: u32) -> String {
            let n = self.next() % 6;
            let members: Vec<String> = (0..n)
                .map(|_| {
                    let k = self.key();
                    let (a, b) = (self.ws(), self.ws());
                    let v = self.value(depth);
                    format!("{k}{a}:{b}{v}")
                })
                .collect();
            let sep = format!("{},{}", self.ws(), self.ws());
            let mut text = format!("{{{}{}{}}}", self.ws(), members.join(&sep), self.ws());
            if depth == 0 {
                match self.next() % 16 {
                    0 => {
                        let mut cut = text.len() / 2;
                        while !text.is_char_boundary(cut) {
                            cut -= 1;
                        }
                        text.truncate(cut);
                    }
                    1 => text.push_str(" x"),
                    2 => text = text.replacen(',', "", 1),
                    3 => text = format!("[{text}]"),
                    _ => {}
                }
            }
            text
        }
    }

    /// (slots, errors) from the fast reader, or None when it leaves the record to serde.
    fn fast(
        text: &str,
        schema: &ObjectType,
        usage: Option<&Usage>,
    ) -> Option<(Vec<Value>, Vec<super::super::FieldError>)> {
        let mut ctx = Ctx::new();
        ctx.set_usage(usage);
        let slots = record_from_json_text(text, schema, &mut ctx)?;
        Some((slots, ctx.take_errors()))
    }

    fn serde(
        text: &str,
        schema: &ObjectType,
        usage: Option<&Usage>,
    ) -> Option<(Vec<Value>, Vec<super::super::FieldError>)> {
        let mut ctx = Ctx::new();
        ctx.set_usage(usage);
        let mut de = serde_json::Deserializer::from_str(text);
        let slots = super::super::record_from_json(&mut de, schema, &mut ctx)
            .and_then(|r| de.end().map(|()| r))
            .ok()?;
        Some((slots, ctx.take_errors()))
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 4000, failure_persistence: None, ..ProptestConfig::default() })]

        /// Whatever the fast reader reads, serde_json's path reads the same way: the same
        /// slots and the same field errors, with every field kept or only some.
        #[test]
        fn fast_reader_agrees_with_serde(seed in 1u64.., partial in any::<bool>()) {
            let schema = schema();
            let mut usage = Usage::default();
            usage.mark(&schema, 0);
            usage.mark(&schema, 4);
            usage.mark(&schema, 10);
            usage.mark(&schema, 12);
            let usage = partial.then_some(&usage);
            let mut g = Gen::new(seed);
            let text = g.object(0);
            // serde_json rewrites an exponent's text: see `numbers_keep_their_text`
            if g.1 {
                return Ok(());
            }
            if let Some(got) = fast(&text, &schema, usage) {
                let want = serde(&text, &schema, usage);
                prop_assert_eq!(Some(got), want, "{}", text);
            }
        }
    }

    /// The generator reaches the fast path often, and the serde path too.
    #[test]
    fn both_paths_are_exercised() {
        let schema = schema();
        let (mut read, mut left) = (0, 0);
        for seed in 1..2000 {
            let text = Gen::new(seed).object(0);
            match fast(&text, &schema, None) {
                Some(_) => read += 1,
                None => left += 1,
            }
        }
        assert!(read > 300 && left > 300, "fast {read}, serde {left}");
    }

    /// A number keeps its text as written, exponent and all (serde_json would give `1e+5`);
    /// as an int or a float it is the same number serde_json reads.
    #[test]
    fn numbers_keep_their_text() {
        let schema = schema();
        for (text, want_s) in [
            ("1E5", "1E5"),
            ("2.5e-3", "2.5e-3"),
            ("1e+5", "1e+5"),
            ("-0", "-0"),
        ] {
            let json = format!(r#"{{"s": {text}, "i": {text}, "f": {text}}}"#);
            let Some((got, _)) = fast(&json, &schema, None) else {
                panic!("{json} not read");
            };
            assert_eq!(got.first(), Some(&Value::str(want_s)), "{json}");
            let Some((serde_slots, _)) = serde(&json, &schema, None) else {
                panic!("{json} not read by serde_json");
            };
            assert_eq!(got.get(1..3), serde_slots.get(1..3), "{json}");
        }
    }

    /// Escapes are read as serde_json reads them, a surrogate pair included.
    #[test]
    fn escapes_are_unescaped() {
        let schema = schema();
        let json = r#"{"s": "a\"b\\c\/d\n\u00e9\ud83d\ude00", "\u0069": 1}"#;
        let Some((got, errors)) = fast(json, &schema, None) else {
            panic!("not read");
        };
        assert_eq!(got.first(), Some(&Value::str("a\"b\\c/d\né😀")));
        assert_eq!(got.get(1), Some(&Value::Int(1)));
        assert_eq!(Some((got, errors)), serde(json, &schema, None));
        // in an undeclared field a lone surrogate is skipped, as serde_json skips it
        let json = r#"{"s": "x", "note": "\ud800", "more": {"\udc00": 1}}"#;
        assert!(fast(json, &schema, None).is_some());
        assert_eq!(fast(json, &schema, None), serde(json, &schema, None));
        // in a declared one it is left to serde_json, which refuses it
        assert!(fast(r#"{"s": "\ud800"}"#, &schema, None).is_none());
        assert!(serde(r#"{"s": "\ud800"}"#, &schema, None).is_none());
        assert!(fast(r#"{"s": "\udc00"}"#, &schema, None).is_none());
        assert!(serde(r#"{"s": "\udc00"}"#, &schema, None).is_none());
    }

    /// A field name with a quote is never matched in place: `{"a"b": 1}` is not JSON.
    #[test]
    fn a_name_with_a_quote_is_not_matched_in_place() {
        let schema = ObjectType {
            fields: vec![("a\"b".to_string(), Type::Int)],
        };
        assert!(fast(r#"{"a"b": 1}"#, &schema, None).is_none());
        assert!(serde(r#"{"a"b": 1}"#, &schema, None).is_none());
        // written as JSON, it is that field (through serde_json, as it has an escape)
        let (slots, _) = serde(r#"{"a\"b": 1}"#, &schema, None).unwrap_or_default();
        assert_eq!(slots, vec![Value::Int(1)]);
    }

    #[test]
    fn string_scan_finds_the_quote_and_refuses_control_characters() {
        assert_eq!(plain_len(b"ab\\cdefghij\"").ok(), Some(2));
        assert_eq!(plain_len(b"abcdefghij\\\"").ok(), Some(10));
        assert_eq!(plain_len(b"\"").ok(), Some(0));
        assert_eq!(plain_len(b"abcdefgh\"").ok(), Some(8));
        assert_eq!(plain_len("湖北省武汉市\"x".as_bytes()).ok(), Some(18));
        assert_eq!(plain_len(b"abcdefghijklmnop").ok(), None);
        assert_eq!(plain_len(b"abc\x1fdefgh\"").ok(), None);
        assert_eq!(plain_len(b"abcdefghij\x7f\"").ok(), Some(11));
        for n in 0..40 {
            let mut s = vec![b'a'; n];
            s.push(b'"');
            assert_eq!(plain_len(&s).ok(), Some(n));
        }
    }
}
