//! Run-time values and how they render in messages (SPEC §2.6 and §7 "Rendering").

use rustc_hash::FxHashMap;
use std::net::IpAddr;
use std::sync::Arc;

use chrono::{DateTime, FixedOffset, NaiveDate};

use crate::funcs::dates::render_datetime;
use crate::funcs::domain::DomainName;
use crate::funcs::text::render_float;
use crate::types::Type;

#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value {
    #[default]
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Arc<str>),
    Date(NaiveDate),
    DateTime(DateTime<FixedOffset>),
    /// A whole number of days.
    Duration(i64),
    Domain(Arc<DomainName>),
    Ip(IpAddr),
    /// One allocation: a list read from input is collected into a reused buffer first.
    List(Arc<[Value]>),
    /// Fields by slot; the static type knows their names. One allocation: the slots are
    /// created in the `Arc` (see [`object_slots`]) and filled in place.
    Object(Arc<[Value]>),
    /// A mapping table's data.
    Map(Arc<FxHashMap<String, Value>>),
}

/// `n` nulls: an object's slots before its fields are read. (`vec![Value::Null; n]` clones
/// through `Value::clone`, which cost about 1.4k instructions a record in a scan.)
pub fn nulls(n: usize) -> Vec<Value> {
    let mut v = Vec::with_capacity(n);
    v.resize_with(n, || Value::Null);
    v
}

/// An object's `n` slots, all null, in one allocation; fill them through `Arc::get_mut`
/// while the object is not shared yet.
pub fn object_slots(n: usize) -> Arc<[Value]> {
    (0..n).map(|_| Value::Null).collect()
}

impl Value {
    pub fn str(s: &str) -> Value {
        Value::Str(Arc::from(s))
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_date(&self) -> Option<NaiveDate> {
        match self {
            Value::Date(d) => Some(*d),
            _ => None,
        }
    }

    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    /// Renders for a message (SPEC §2.6): strings as they are, numbers in shortest form, dates
    /// `YYYY-MM-DD`, durations `45d`, domains in Unicode, lists joined by `, `, null as `null`,
    /// objects as compact JSON. `ty` names an object's fields.
    pub fn render(&self, ty: &Type) -> String {
        let mut out = String::new();
        self.render_into(ty, &mut out);
        out
    }

    pub fn render_into(&self, ty: &Type, out: &mut String) {
        use std::fmt::Write;
        match self {
            Value::Null => out.push_str("null"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Value::Float(f) => out.push_str(&render_float(*f)),
            Value::Str(s) => out.push_str(s),
            Value::Date(d) => {
                let _ = write!(out, "{}", d.format("%Y-%m-%d"));
            }
            Value::DateTime(dt) => out.push_str(&render_datetime(dt)),
            Value::Duration(d) => {
                let _ = write!(out, "{d}d");
            }
            Value::Domain(d) => out.push_str(d.unicode()),
            Value::Ip(ip) => {
                let _ = write!(out, "{ip}");
            }
            Value::List(items) => {
                let elem = match ty {
                    Type::List(t) => t.as_ref(),
                    _ => &Type::Null,
                };
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    v.render_into(elem, out);
                }
            }
            Value::Object(_) | Value::Map(_) => out.push_str(&self.to_json(ty).to_string()),
        }
    }

    /// As JSON (objects by field name; dates and domains as their text).
    pub fn to_json(&self, ty: &Type) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            // written like a message writes it (`1`, not `1.0`: SPEC §7), when JSON can
            Value::Float(f) => serde_json::from_str::<serde_json::Number>(&render_float(*f))
                .ok()
                .or_else(|| serde_json::Number::from_f64(*f))
                .map_or(J::Null, J::Number),
            Value::List(items) => {
                let elem = match ty {
                    Type::List(t) => t.as_ref(),
                    _ => &Type::Null,
                };
                J::Array(items.iter().map(|v| v.to_json(elem)).collect())
            }
            Value::Object(slots) => {
                let mut m = serde_json::Map::new();
                if let Type::Object(o) = ty {
                    for ((name, t), v) in o.fields.iter().zip(slots.iter()) {
                        m.insert(name.clone(), v.to_json(t));
                    }
                }
                J::Object(m)
            }
            Value::Map(map) => {
                let elem = match ty {
                    Type::Map(t) => t.as_ref(),
                    _ => &Type::Null,
                };
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                J::Object(
                    keys.into_iter()
                        .map(|k| (k.clone(), map.get(k).map_or(J::Null, |v| v.to_json(elem))))
                        .collect(),
                )
            }
            other => J::String(other.render(ty)),
        }
    }
}
