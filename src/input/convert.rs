//! Conversion of input values to the schema's types (SPEC §3, §7 "Input").
//!
//! JSON is deserialized straight into the schema's slots with a [`serde::de::DeserializeSeed`]:
//! no generic JSON tree is built, undeclared fields are skipped unread, and strings are
//! borrowed from the input where JSON allows. A value that does not convert becomes null and a
//! [`FieldError`] naming its path (`domain_facts[1].expiry`, `ips[1]`).

use std::fmt;
use std::sync::Arc;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::funcs::{dates, domain, net, text};
use crate::program::Usage;
use crate::types::{ObjectType, Type};
use crate::value::Value;

mod fast;
pub use fast::record_from_json_text;

/// A value that did not convert: where, what, why.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    pub field: String,
    pub value: String,
    pub reason: String,
}

#[derive(Debug, Clone, Copy)]
enum Seg<'s> {
    /// A field: its name and slot (schema order).
    Field(&'s str, usize),
    /// A CSV column: its dotted name and slot path.
    Column(&'s str, &'s [usize]),
    /// A list element.
    Index(usize),
}

/// Collects field errors and tracks the path of the value being read. The path is a stack of
/// borrowed names and indices: entering a field costs no allocation; the path's text is only
/// built for an error.
#[derive(Default)]
pub struct Ctx<'s> {
    path: Vec<Seg<'s>>,
    errors: Vec<FieldError>,
    /// Per error, its path as slot and index numbers: sorting by it gives schema order.
    order: Vec<Vec<usize>>,
    /// The fields to keep (scan); `None` keeps every declared field (tests, explain).
    usage: Option<&'s Usage>,
    /// The last domains converted, by input text: an export repeats a site's domains (in
    /// `website.domains` and `domain_facts[].name`), and an IDN costs thousands of
    /// instructions to convert. The key buffers are reused, so a miss allocates nothing more.
    domains: [(String, Option<Arc<domain::DomainName>>); DOMAIN_CACHE],
    domains_next: usize,
    /// Buffers a list's elements are collected in (one per nesting level in use), so that a
    /// list costs one allocation, its `Arc<[Value]>`.
    list_bufs: Vec<Vec<Value>>,
    /// Per object type (by address), its field names as the fast reader compares them with
    /// keys in place (see [`fast`]).
    key_words: Vec<(usize, fast::KeyWords)>,
}

/// How many converted domains [`Ctx`] remembers.
const DOMAIN_CACHE: usize = 4;

impl<'s> Ctx<'s> {
    pub fn new() -> Ctx<'s> {
        Ctx::default()
    }

    /// Keeps only the fields `usage` says the pack reads; the others are still converted, so
    /// their errors are reported, but not stored.
    pub fn set_usage(&mut self, usage: Option<&'s Usage>) {
        self.usage = usage;
    }

    pub fn usage(&self) -> Option<&'s Usage> {
        self.usage
    }

    /// Converts a domain, through the cache of recent ones.
    fn domain(&mut self, s: &str) -> Result<Value, String> {
        if let Some((_, Some(d))) = self.domains.iter().find(|(k, _)| k == s) {
            return Ok(Value::Domain(d.clone()));
        }
        let d = Arc::new(domain::parse_domain(s)?);
        if let Some(entry) = self.domains.get_mut(self.domains_next % DOMAIN_CACHE) {
            entry.0.clear();
            entry.0.push_str(s);
            entry.1 = Some(d.clone());
        }
        self.domains_next = self.domains_next.wrapping_add(1);
        Ok(Value::Domain(d))
    }

    /// [`convert_text`], with domains through the cache.
    fn convert_text(&mut self, s: &str, ty: &Type) -> Result<Value, String> {
        match ty {
            Type::Domain => self.domain(s),
            _ => convert_text(s, ty),
        }
    }

    /// The index in `self.key_words` of `schema`'s names as words, built on first use.
    fn key_words_of(&mut self, schema: &ObjectType) -> usize {
        let key = std::ptr::from_ref(schema) as usize;
        if let Some(i) = self.key_words.iter().position(|(k, _)| *k == key) {
            return i;
        }
        self.key_words.push((key, fast::KeyWords::new(schema)));
        self.key_words.len() - 1
    }

    /// An empty buffer to collect a list's elements in; hand it back with [`Ctx::list`].
    fn list_buf(&mut self) -> Vec<Value> {
        self.list_bufs.pop().unwrap_or_default()
    }

    /// The list of the elements in `buf`, in one allocation; `buf` is kept for the next list.
    fn list(&mut self, mut buf: Vec<Value>) -> Value {
        let items: Arc<[Value]> = buf.drain(..).collect();
        self.list_bufs.push(buf);
        Value::List(items)
    }

    fn path_string(&self) -> String {
        use std::fmt::Write as _;
        let mut s = String::new();
        for seg in &self.path {
            match seg {
                Seg::Field(f, _) | Seg::Column(f, _) => {
                    if !s.is_empty() {
                        s.push('.');
                    }
                    s.push_str(f);
                }
                Seg::Index(i) => {
                    let _ = write!(s, "[{i}]");
                }
            }
        }
        s
    }

    fn path_order(&self) -> Vec<usize> {
        let mut out = Vec::new();
        for seg in &self.path {
            match seg {
                Seg::Field(_, slot) => out.push(*slot),
                Seg::Column(_, path) => out.extend_from_slice(path),
                Seg::Index(i) => out.push(*i),
            }
        }
        out
    }

    /// Enters a CSV column (a whole dotted path).
    pub fn push_column(&mut self, name: &'s str, path: &'s [usize]) {
        self.path.push(Seg::Column(name, path));
    }

    /// Leaves what the last push entered.
    pub fn pop(&mut self) {
        self.path.pop();
    }

    fn error(&mut self, value: String, reason: String) {
        let field = self.path_string();
        self.order.push(self.path_order());
        self.errors.push(FieldError {
            field,
            value,
            reason,
        });
    }

    /// Forgets the path and any errors (a record that turned out to be rejected).
    pub fn clear(&mut self) {
        self.path.clear();
        self.errors.clear();
        self.order.clear();
    }

    /// Whether no error was recorded.
    pub fn is_clean(&self) -> bool {
        self.errors.is_empty()
    }

    /// The errors recorded since the last call, in schema order (SPEC §7: by field path, the
    /// schema's field order and then element index; errors at one path stay in input order).
    pub fn take_errors(&mut self) -> Vec<FieldError> {
        self.path.clear();
        if self.errors.is_empty() {
            return Vec::new();
        }
        let order = std::mem::take(&mut self.order);
        let errors = std::mem::take(&mut self.errors);
        if errors.len() == 1 {
            return errors;
        }
        let mut pairs: Vec<(Vec<usize>, FieldError)> = order.into_iter().zip(errors).collect();
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        pairs.into_iter().map(|(_, e)| e).collect()
    }
}

/// Converts text (a CSV cell or a JSON string) to a scalar type.
pub fn convert_text(s: &str, ty: &Type) -> Result<Value, String> {
    let v = match ty {
        Type::Str => return Ok(Value::str(s)),
        Type::Bool => text::parse_bool(s).map(Value::Bool),
        Type::Int => text::parse_int(s).map(Value::Int),
        Type::Float => text::parse_float(s)
            .filter(|f| f.is_finite())
            .map(Value::Float),
        Type::Date => dates::parse_date(s).map(Value::Date),
        Type::DateTime => dates::parse_datetime(s).map(Value::DateTime),
        Type::Domain => {
            return domain::parse_domain(s)
                .map(|d| Value::Domain(Arc::new(d)))
                .map_err(|e| e.to_string())
        }
        Type::Ip => net::parse_ip(s).map(Value::Ip),
        _ => None,
    };
    v.ok_or_else(|| match ty {
        Type::Bool => format!("`{s}` is not a bool (true/false, 1/0, yes/no, 是/否)"),
        Type::Int => format!("`{s}` is not an integer"),
        Type::Float => format!("`{s}` is not a number"),
        Type::Date => {
            format!("`{s}` is not a date (YYYY-MM-DD, YYYY/M/D, YYYY.M.D or YYYY年M月D日)")
        }
        Type::DateTime => format!("`{s}` is not a datetime (YYYY-MM-DD HH:MM[:SS] or RFC 3339)"),
        Type::Ip => format!("`{s}` is not an ip address"),
        other => format!("`{s}` is not a `{other}`"),
    })
}

/// Converts a CSV cell (or a JSON string) for a field of any type: lists split on `;` (their
/// elements trimmed, an empty element null without error), an empty cell null.
pub fn convert_cell(cell: &str, ty: &Type, ctx: &mut Ctx<'_>) -> Value {
    match ty {
        Type::List(elem) => {
            let mut out = ctx.list_buf();
            for (i, part) in cell.split(';').enumerate() {
                let part = part.trim();
                if part.is_empty() {
                    out.push(Value::Null);
                    continue;
                }
                match ctx.convert_text(part, elem) {
                    Ok(v) => out.push(v),
                    Err(reason) => {
                        ctx.path.push(Seg::Index(i));
                        ctx.error(part.to_string(), reason);
                        ctx.path.pop();
                        out.push(Value::Null);
                    }
                }
            }
            ctx.list(out)
        }
        Type::Object(_) | Type::Map(_) | Type::Null => {
            ctx.error(cell.to_string(), "an object cannot come from text".into());
            Value::Null
        }
        _ => match ctx.convert_text(cell, ty) {
            Ok(v) => v,
            Err(reason) => {
                ctx.error(cell.to_string(), reason);
                Value::Null
            }
        },
    }
}

/// Why a line or document is not a record.
#[derive(Debug, Clone)]
pub struct Rejected(pub String);

/// Deserializes one JSON record (an object) into the schema's slots.
pub fn record_from_json<'de, 's, D: Deserializer<'de>>(
    de: D,
    schema: &'s ObjectType,
    ctx: &mut Ctx<'s>,
) -> Result<Vec<Value>, D::Error> {
    de.deserialize_any(RootVisitor { schema, ctx })
}

struct RootVisitor<'a, 's> {
    schema: &'s ObjectType,
    ctx: &'a mut Ctx<'s>,
}

impl<'de, 's> Visitor<'de> for RootVisitor<'_, 's> {
    type Value = Vec<Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        let mut slots = crate::value::nulls(self.schema.fields.len());
        match read_object(map, self.schema, self.ctx, Some(&mut slots))? {
            None => Ok(slots),
            Some(_number) => Err(de::Error::invalid_type(
                de::Unexpected::Other("number"),
                &"a JSON object",
            )),
        }
    }
}

/// The key under which serde_json (feature `arbitrary_precision`) hands over a number as its
/// text: a JSON number reaches `deserialize_any` visitors as a one-entry map. This is how a
/// number for a `string` field keeps its text as written (`12.50`, `1E5`; SPEC §3, §7).
const NUMBER_TOKEN: &str = "$serde_json::private::Number";

/// Reads an object's fields into `slots` (null, one per schema field); with `None` (an
/// unread object) nothing is stored, but every field is still checked. Returns the text of a
/// JSON number when the "object" turns out to be one (see [`NUMBER_TOKEN`]).
fn read_object<'de, 's, A: MapAccess<'de>>(
    mut map: A,
    schema: &'s ObjectType,
    ctx: &mut Ctx<'s>,
    mut slots: Option<&mut [Value]>,
) -> Result<Option<String>, A::Error> {
    let keep = slots.is_some();
    // which fields to store: looked up once per object
    let mask = ctx.usage.map(|u| u.mask(schema));
    let mut hint = 0;
    while let Some(slot) = map.next_key_seed(KeySeed { schema, hint })? {
        match slot {
            Some(NUMBER_SLOT) => return Ok(Some(map.next_value::<String>()?)),
            None => {
                map.next_value::<IgnoredAny>()?;
            }
            Some(i) => {
                hint = i + 1;
                let Some((name, ty)) = schema.fields.get(i) else {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                };
                let keep = keep && mask.is_none_or(|m| m.get(i).copied().unwrap_or(false));
                ctx.path.push(Seg::Field(name.as_str(), i));
                let v = map.next_value_seed(ValueSeed {
                    ty,
                    ctx: &mut *ctx,
                    keep,
                    element: false,
                });
                ctx.path.pop();
                let v = v?;
                if let Some(s) = slots.as_deref_mut().and_then(|s| s.get_mut(i)) {
                    *s = v;
                }
            }
        }
    }
    Ok(None)
}

/// The slot [`KeySeed`] gives for [`NUMBER_TOKEN`].
const NUMBER_SLOT: usize = usize::MAX;

/// Resolves a key to its slot (None: undeclared, skipped). The search starts at `hint`, the
/// slot after the previous key's: records of an export list their keys in one order, so the
/// next key is usually found at once.
struct KeySeed<'a> {
    schema: &'a ObjectType,
    hint: usize,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Option<usize>;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Self::Value, D::Error> {
        de.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        if v == NUMBER_TOKEN {
            return Ok(Some(NUMBER_SLOT));
        }
        Ok(slot_of(self.schema, self.hint, v))
    }
}

/// The slot of field `key` in `schema`, searched from `hint` on, then before it.
fn slot_of(schema: &ObjectType, hint: usize, key: &str) -> Option<usize> {
    let fields = &schema.fields;
    let hint = hint.min(fields.len());
    let (before, after) = fields.split_at(hint);
    if let Some(i) = after.iter().position(|(n, _)| n == key) {
        return Some(hint + i);
    }
    before.iter().position(|(n, _)| n == key)
}

struct ValueSeed<'a, 's> {
    ty: &'s Type,
    ctx: &'a mut Ctx<'s>,
    /// False for a field the pack never reads: check it, report its errors, store nothing.
    keep: bool,
    /// An element of a JSON list (not a field's own value).
    element: bool,
}

impl<'de, 's> DeserializeSeed<'de> for ValueSeed<'_, 's> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Self::Value, D::Error> {
        de.deserialize_any(self)
    }
}

impl ValueSeed<'_, '_> {
    fn bad(self, value: String, what: &str) -> Value {
        let reason = format!("expected {} but found {what}", describe(self.ty));
        self.ctx.error(value, reason);
        Value::Null
    }

    /// A JSON number from its text as written: a `string` field keeps the text (`12.50`).
    fn number(self, text: &str) -> Value {
        if let Ok(i) = text.parse::<i64>() {
            return self.int(i, text);
        }
        // beyond i64, or with a fraction or an exponent (`float` keeps the text for a string)
        let v = text.parse::<f64>().unwrap_or(f64::INFINITY);
        self.float(v, text)
    }

    fn int(self, v: i64, text: &str) -> Value {
        match self.ty {
            Type::Int => Value::Int(v),
            Type::Float => Value::Float(v as f64),
            Type::Str if !self.keep => Value::Null,
            Type::Str => Value::str(text),
            Type::Bool if v == 0 || v == 1 => Value::Bool(v == 1),
            _ => self.bad(text.to_string(), "a number"),
        }
    }

    fn float(self, v: f64, text: &str) -> Value {
        match self.ty {
            Type::Str if !self.keep => Value::Null,
            Type::Str => Value::str(text),
            _ if !v.is_finite() => self.bad(text.to_string(), "a number out of range"),
            Type::Float => Value::Float(v),
            Type::Int if v.fract() == 0.0 => {
                if (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&v) {
                    Value::Int(v as i64)
                } else {
                    self.bad(text.to_string(), "a number out of range")
                }
            }
            _ => self.bad(text.to_string(), "a number"),
        }
    }
}

fn describe(ty: &Type) -> String {
    match ty {
        Type::List(_) => "a list".into(),
        Type::Object(_) => "an object".into(),
        t => format!("a `{t}`"),
    }
}

impl<'de, 's> Visitor<'de> for ValueSeed<'_, 's> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", describe(self.ty))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(match self.ty {
            Type::Bool => Value::Bool(v),
            _ => self.bad(v.to_string(), "a boolean"),
        })
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(self.int(v, &v.to_string()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(self.number(&v.to_string()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        let text = serde_json::Number::from_f64(v).map_or_else(|| v.to_string(), |n| n.to_string());
        Ok(self.float(v, &text))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        // a field's JSON string converts as a CSV cell does (SPEC §7), and an empty cell is
        // null: `""` for a date, a number or a list is "not given", not an error. A `string`
        // field keeps `""`, which JSON, unlike CSV, can tell from null. An element of a JSON
        // list is not a cell: `""` there is checked like any text (only a CSV cell's empty
        // elements are null without an error).
        if v.is_empty() && !self.element && !matches!(self.ty, Type::Str) {
            return Ok(Value::Null);
        }
        if !self.keep {
            // text always converts to a string; other types are checked for their errors
            if !matches!(self.ty, Type::Str)
                && !matches!(self.ty, Type::List(e) if **e == Type::Str)
            {
                let _ = convert_cell_json(v, self.ty, self.ctx);
            }
            return Ok(Value::Null);
        }
        Ok(convert_cell_json(v, self.ty, self.ctx))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let Type::List(elem) = self.ty else {
            let v = serde_json::Value::deserialize_seq_rest(seq)?;
            return Ok(self.bad(v, "a list"));
        };
        let keep = self.keep;
        let mut out = if keep {
            self.ctx.list_buf()
        } else {
            Vec::new()
        };
        let mut i = 0;
        loop {
            self.ctx.path.push(Seg::Index(i));
            let next = seq.next_element_seed(ValueSeed {
                ty: elem,
                ctx: &mut *self.ctx,
                keep,
                element: true,
            });
            self.ctx.path.pop();
            match next? {
                Some(v) => {
                    if keep {
                        out.push(v);
                    }
                }
                None => break,
            }
            i += 1;
        }
        if !keep {
            return Ok(Value::Null);
        }
        Ok(self.ctx.list(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Value, A::Error> {
        match self.ty {
            Type::Object(o) => {
                if !self.keep {
                    return Ok(match read_object(map, o, self.ctx, None)? {
                        Some(text) => self.bad(text, "a number"),
                        None => Value::Null,
                    });
                }
                let mut slots = crate::value::object_slots(o.fields.len());
                // not shared yet, so `get_mut` gives the slots
                let number = read_object(map, o, self.ctx, Arc::get_mut(&mut slots))?;
                Ok(match number {
                    Some(text) => self.bad(text, "a number"),
                    None => Value::Object(slots),
                })
            }
            _ => {
                // a number (see `NUMBER_TOKEN`) or an object
                use serde::Deserialize;
                let v = serde_json::Value::deserialize(de::value::MapAccessDeserializer::new(map))?;
                if let serde_json::Value::Number(n) = &v {
                    return Ok(self.number(&n.to_string()));
                }
                Ok(self.bad(v.to_string(), "an object"))
            }
        }
    }
}

/// A JSON string for a field: scalars convert as text; a list field splits like a CSV cell.
fn convert_cell_json(v: &str, ty: &Type, ctx: &mut Ctx<'_>) -> Value {
    convert_cell(v, ty, ctx)
}

/// Reads the rest of a sequence or map as compact JSON text (for error values).
trait Rest {
    fn deserialize_seq_rest<'de, A: SeqAccess<'de>>(seq: A) -> Result<String, A::Error>;
}

impl Rest for serde_json::Value {
    fn deserialize_seq_rest<'de, A: SeqAccess<'de>>(seq: A) -> Result<String, A::Error> {
        use serde::Deserialize;
        let v = serde_json::Value::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
        Ok(v.to_string())
    }
}

/// Reads a record from a JSON value (test records, `explain --record`).
pub fn record_from_value(
    v: &serde_json::Value,
    schema: &ObjectType,
) -> Result<(Vec<Value>, Vec<FieldError>), String> {
    if !v.is_object() {
        return Err("a record must be a JSON object".into());
    }
    let mut ctx = Ctx::default();
    let slots = record_from_json(v, schema, &mut ctx).map_err(|e| e.to_string())?;
    Ok((slots, ctx.take_errors()))
}

/// The value at a slot path of a record.
pub fn slot_value<'v>(record: &'v [Value], path: &[usize]) -> Option<&'v Value> {
    let (&first, rest) = path.split_first()?;
    let v = record.get(first)?;
    if rest.is_empty() {
        return Some(v);
    }
    match v {
        Value::Object(o) => slot_value(o, rest),
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::panic)] // a test stops at its first failure
mod tests {
    use super::*;

    fn domain_text(v: &Value) -> Option<(String, String)> {
        match v {
            Value::Domain(d) => Some((d.ascii().to_string(), d.unicode().to_string())),
            _ => None,
        }
    }

    /// The cache of recent domains gives what a fresh conversion gives, for repeats, case
    /// variants, IDNs, invalid names and more names than it holds.
    #[test]
    fn domain_cache_matches_fresh_conversion() {
        let inputs = [
            "例子.中国",
            "Example.COM",
            "example.com",
            "例子.中国",
            "xn--fsqu00a.xn--fiqs8s",
            "bad..name",
            "bad..name",
            "a.cn",
            "b.cn",
            "c.cn",
            "d.cn",
            "example.com",
            "Example.COM",
            "例子.中国",
        ];
        let mut ctx = Ctx::new();
        for s in inputs {
            let cached = ctx.convert_text(s, &Type::Domain);
            let fresh = convert_text(s, &Type::Domain);
            match (&cached, &fresh) {
                (Ok(c), Ok(f)) => assert_eq!(domain_text(c), domain_text(f), "{s}"),
                (Err(c), Err(f)) => assert_eq!(c, f, "{s}"),
                _ => panic!("{s}: cached {cached:?}, fresh {fresh:?}"),
            }
        }
        let mut list_ctx = Ctx::new();
        let v = convert_cell(
            "例子.中国; 例子.中国;x.cn",
            &Type::List(Box::new(Type::Domain)),
            &mut list_ctx,
        );
        let Value::List(items) = v else {
            panic!("not a list: {v:?}")
        };
        let texts: Vec<_> = items.iter().filter_map(domain_text).collect();
        assert_eq!(texts.len(), 3);
        assert_eq!(texts.first(), texts.get(1));
        assert!(list_ctx.is_clean());
    }
}
