//! Waivers (SPEC §5): approved exceptions that leave a finding out of the output.

use chrono::NaiveDate;

use crate::diag::{Code, Diagnostic};
use crate::funcs::dates::parse_iso_date;
use crate::load::did_you_mean;
use crate::program::Program;
use crate::source::{Loc, Sources};
use crate::yaml::{self, Node, Scalar};

#[derive(Debug, Clone)]
pub struct Waiver {
    pub rule: String,
    pub record: String,
    pub element: Option<usize>,
    pub until: NaiveDate,
    pub reason: String,
    pub ticket: Option<String>,
    pub loc: Loc,
    /// The waiver as written, for `expired_waivers` and `unused_waivers`.
    pub raw: serde_json::Value,
}

#[derive(Debug, Clone, Default)]
pub struct Waivers {
    pub entries: Vec<Waiver>,
}

impl Waivers {
    /// Every waiver in force that matches a finding (SPEC §5: each of them counts as used).
    pub fn matching<'a>(
        &'a self,
        rule: &'a str,
        record: &'a str,
        element: Option<usize>,
        as_of: NaiveDate,
    ) -> impl Iterator<Item = usize> + 'a {
        self.entries.iter().enumerate().filter_map(move |(i, w)| {
            (w.until >= as_of
                && w.rule == rule
                && w.record == record
                && (w.element.is_none() || w.element == element))
                .then_some(i)
        })
    }
}

const KEYS: &[&str] = &["rule", "record", "element", "until", "reason", "ticket"];
const REQUIRED: &[&str] = &["rule", "record", "until", "reason"];

/// Reads a waivers file; every problem is a diagnostic.
pub fn load(
    path: &str,
    program: &Program,
    sources: &mut Sources,
) -> Result<Waivers, Vec<Diagnostic>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => return Err(vec![crate::load::io_error(path, &e)]),
    };
    let file = sources.add(path, text);
    let root = match yaml::parse(sources, file) {
        Ok(Some(n)) => n,
        Ok(None) => return Ok(Waivers::default()),
        Err(d) => return Err(vec![d]),
    };
    let mut diags = Vec::new();
    let mut out = Waivers::default();
    let list = root.as_map().and_then(|m| {
        m.iter()
            .find(|(k, _)| k.text() == Some("waivers"))
            .map(|(_, v)| v)
    });
    if let Some(pairs) = root.as_map() {
        for (k, _) in pairs {
            if k.text() != Some("waivers") {
                diags.push(
                    Diagnostic::error(
                        Code::UnknownKey,
                        format!("unknown key `{}` in a waivers file", k.text().unwrap_or("")),
                    )
                    .at(k.loc)
                    .help("a waivers file has one key, `waivers`, a list"),
                );
            }
        }
    }
    // `waivers:` with nothing after it (no exceptions yet) is an empty list, as an empty file is
    if list.is_some_and(Node::is_null) && diags.is_empty() {
        return Ok(out);
    }
    let Some(items) = list.and_then(Node::as_seq) else {
        diags.push(
            Diagnostic::error(
                Code::BadValue,
                "a waivers file must be a mapping with a list `waivers`".into(),
            )
            .at(root.loc)
            .help("write `waivers:` followed by a list of waivers"),
        );
        return Err(diags);
    };
    let ids: Vec<&str> = program.rules.iter().map(|r| r.id.as_str()).collect();
    for item in items {
        let Some(pairs) = item.as_map() else {
            diags.push(
                Diagnostic::error(
                    Code::BadValue,
                    format!("a waiver must be a mapping, not {}", item.describe()),
                )
                .at(item.loc),
            );
            continue;
        };
        let mut ok = true;
        let mut seen: Vec<&str> = Vec::new();
        for (k, v) in pairs {
            let name = k.text().unwrap_or("");
            if seen.contains(&name) {
                ok = false;
                diags.push(
                    Diagnostic::error(Code::DuplicateKey, format!("duplicate key `{name}`"))
                        .at(k.loc)
                        .label("written again here")
                        .help("each key appears once in a waiver; keep one"),
                );
                continue;
            }
            seen.push(name);
            if KEYS.contains(&name) && (v.as_map().is_some() || v.as_seq().is_some() || v.is_null())
            {
                ok = false;
                diags.push(
                    Diagnostic::error(
                        Code::BadValue,
                        format!(
                            "a waiver's `{name}` must be a single value, not {}",
                            v.describe()
                        ),
                    )
                    .at(v.loc)
                    .label("expected text, a date or a number"),
                );
                continue;
            }
            if !KEYS.contains(&name) {
                ok = false;
                diags.push(
                    Diagnostic::error(
                        Code::UnknownKey,
                        format!("unknown key `{name}` in a waiver"),
                    )
                    .at(k.loc)
                    .label("not a waiver key")
                    .maybe_help(
                        did_you_mean(name, KEYS.iter().copied())
                            .or_else(|| Some(format!("keys: {}", KEYS.join(", ")))),
                    ),
                );
            }
        }
        let get = |key: &str| {
            pairs
                .iter()
                .find(|(k, _)| k.text() == Some(key))
                .map(|(_, v)| v)
        };
        // a value already reported as not a single value is not checked again
        let single = |key: &str| {
            get(key).filter(|v| v.as_map().is_none() && v.as_seq().is_none() && !v.is_null())
        };
        for r in REQUIRED {
            if get(r).is_none() {
                ok = false;
                diags.push(
                    Diagnostic::error(
                        Code::MissingKey,
                        format!("a waiver lacks the required key `{r}`"),
                    )
                    .at(Loc::new(item.loc.file, item.loc.start, item.loc.start))
                    .help(format!("required: {}", REQUIRED.join(", "))),
                );
            }
        }
        let text_of = |n: Option<&Node>| n.and_then(Node::text).map(str::to_string);
        let rule = text_of(get("rule")).unwrap_or_default();
        if let Some(n) = single("rule") {
            if !ids.contains(&rule.as_str()) {
                ok = false;
                diags.push(
                    Diagnostic::error(
                        Code::UnknownRule,
                        format!("the waiver names rule `{rule}`, which the pack does not define"),
                    )
                    .at(n.loc)
                    .label("no such rule")
                    .maybe_help(did_you_mean(&rule, ids.iter().copied())),
                );
            }
        }
        let until = match single("until") {
            Some(n) => match parse_iso_date(n.text().unwrap_or("")) {
                Some(d) => Some(d),
                None => {
                    ok = false;
                    diags.push(
                        Diagnostic::error(
                            Code::BadConstant,
                            format!("`until` `{}` is not a date", n.text().unwrap_or("")),
                        )
                        .at(n.loc)
                        .help("write `until: YYYY-MM-DD`"),
                    );
                    None
                }
            },
            None => None,
        };
        let element = match single("element") {
            None => None,
            Some(n) => match n.scalar() {
                Some(Scalar::Int(i)) if i >= 0 => usize::try_from(i).ok(),
                _ => {
                    ok = false;
                    diags.push(
                        Diagnostic::error(
                            Code::BadValue,
                            "`element` must be a whole number ≥ 0".into(),
                        )
                        .at(n.loc),
                    );
                    None
                }
            },
        };
        if let (true, Some(until)) = (ok, until) {
            out.entries.push(Waiver {
                rule,
                record: text_of(get("record")).unwrap_or_default(),
                element,
                until,
                reason: text_of(get("reason")).unwrap_or_default(),
                ticket: text_of(get("ticket")),
                loc: item.loc,
                raw: yaml::to_json(item),
            });
        }
    }
    if diags.is_empty() {
        Ok(out)
    } else {
        Err(diags)
    }
}
