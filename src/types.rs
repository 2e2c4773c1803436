//! Static types of the expression language (SPEC §2.2).

use std::fmt;
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq)]
pub enum Type {
    /// The type of `null` and of an empty list's elements: it unifies with every type.
    Null,
    Bool,
    Int,
    Float,
    Str,
    Date,
    DateTime,
    Duration,
    Domain,
    Ip,
    List(Box<Type>),
    Object(Arc<ObjectType>),
    /// A mapping table: string keys, values of one unified type.
    Map(Box<Type>),
}

/// The fields of an object, in declaration order; a field's index is its slot.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ObjectType {
    pub fields: Vec<(String, Type)>,
}

impl ObjectType {
    pub fn slot(&self, name: &str) -> Option<(usize, &Type)> {
        self.fields
            .iter()
            .enumerate()
            .find(|(_, (n, _))| n == name)
            .map(|(i, (_, t))| (i, t))
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.fields.iter().map(|(n, _)| n.as_str())
    }
}

impl Type {
    pub fn list(t: Type) -> Type {
        Type::List(Box::new(t))
    }

    pub fn is_numeric(&self) -> bool {
        matches!(self, Type::Int | Type::Float)
    }

    /// Types that `<`, `<=`, `>`, `>=`, `min` and `max` accept.
    pub fn is_ordered(&self) -> bool {
        matches!(
            self,
            Type::Int
                | Type::Float
                | Type::Str
                | Type::Date
                | Type::DateTime
                | Type::Duration
                | Type::Null
        )
    }

    /// The one type of two values that must agree (`==`, `??`, `?:` branches, list elements):
    /// null unifies with anything, int widens to float, lists unify element-wise, objects merge
    /// their fields. `None` when they do not agree.
    pub fn unify(&self, other: &Type) -> Option<Type> {
        match (self, other) {
            (Type::Null, t) | (t, Type::Null) => Some(t.clone()),
            (Type::Int, Type::Float) | (Type::Float, Type::Int) => Some(Type::Float),
            (Type::List(a), Type::List(b)) => a.unify(b).map(Type::list),
            (Type::Map(a), Type::Map(b)) => a.unify(b).map(|t| Type::Map(Box::new(t))),
            (Type::Object(a), Type::Object(b)) => {
                if a == b {
                    return Some(self.clone());
                }
                let mut fields = a.fields.clone();
                for (name, t) in &b.fields {
                    match fields.iter_mut().find(|(n, _)| n == name) {
                        Some((_, existing)) => *existing = existing.unify(t)?,
                        None => fields.push((name.clone(), t.clone())),
                    }
                }
                Some(Type::Object(Arc::new(ObjectType { fields })))
            }
            (a, b) if a == b => Some(a.clone()),
            _ => None,
        }
    }

    /// Whether a value of this type may stand where `want` is expected (null and int→float).
    pub fn fits(&self, want: &Type) -> bool {
        match (self, want) {
            (Type::Null, _) => true,
            (Type::Int, Type::Float) => true,
            (Type::List(a), Type::List(b)) => a.fits(b),
            (a, b) => a == b,
        }
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Null => write!(f, "null"),
            Type::Bool => write!(f, "bool"),
            Type::Int => write!(f, "int"),
            Type::Float => write!(f, "float"),
            Type::Str => write!(f, "string"),
            Type::Date => write!(f, "date"),
            Type::DateTime => write!(f, "datetime"),
            Type::Duration => write!(f, "duration"),
            Type::Domain => write!(f, "domain"),
            Type::Ip => write!(f, "ip"),
            Type::List(t) => write!(f, "[{t}]"),
            Type::Object(o) => {
                write!(f, "{{")?;
                for (i, (n, t)) in o.fields.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{n}: {t}")?;
                }
                write!(f, "}}")
            }
            Type::Map(t) => write!(f, "mapping of {t}"),
        }
    }
}

/// Parses a schema scalar type name.
pub fn scalar_type(name: &str) -> Option<Type> {
    Some(match name {
        "bool" => Type::Bool,
        "int" => Type::Int,
        "float" => Type::Float,
        "string" => Type::Str,
        "date" => Type::Date,
        "datetime" => Type::DateTime,
        "domain" => Type::Domain,
        "ip" => Type::Ip,
        _ => return None,
    })
}

pub const SCALAR_TYPES: &[&str] = &[
    "bool", "int", "float", "string", "date", "datetime", "domain", "ip",
];
