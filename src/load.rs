//! Stage 1, load: reads a pack (one YAML file, a directory, or the embedded default) into
//! [`PackDef`]: plain definitions whose expressions are still YAML scalars with positions.
//!
//! Every structural problem (unknown or duplicate keys, missing keys, wrong shapes, bad ids,
//! duplicate definitions) becomes a [`Diagnostic`]; loading goes on to find the rest. Only a
//! file that cannot be read or is not YAML stops that file.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use chrono::NaiveDate;

use crate::diag::{Code, Diagnostic};
use crate::funcs::dates::parse_iso_date;
use crate::source::{Loc, Sources};
use crate::types::{scalar_type, ObjectType, Type, SCALAR_TYPES};
use crate::yaml::{self, Node, NodeKind, Scalar};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Info,
    Warning,
    Error,
    Critical,
}

impl Severity {
    pub const NAMES: &'static [&'static str] = &["info", "warning", "error", "critical"];

    pub fn parse(s: &str) -> Option<Severity> {
        Some(match s {
            "info" => Severity::Info,
            "warning" => Severity::Warning,
            "error" => Severity::Error,
            "critical" => Severity::Critical,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
            Severity::Critical => "critical",
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct PackMeta {
    pub name: String,
    pub version: String,
    pub description: Option<String>,
}

/// A schema field as declared, with where it was declared.
#[derive(Debug, Clone)]
pub struct FieldDecl {
    pub ty: Type,
    pub loc: Loc,
}

#[derive(Debug, Clone)]
pub struct TableDef {
    pub name: String,
    pub loc: Loc,
    pub data: Node,
}

#[derive(Debug, Clone)]
pub struct LetDef {
    pub name: String,
    pub loc: Loc,
    pub expr: Node,
}

/// A test's expectation: a count or partial findings (SPEC §1.3).
#[derive(Debug, Clone)]
pub enum Expect {
    Count(usize),
    Findings(Vec<serde_json::Map<String, serde_json::Value>>),
}

#[derive(Debug, Clone)]
pub struct TestDef {
    pub name: String,
    pub loc: Loc,
    pub as_of: NaiveDate,
    pub record: Node,
    pub expect: Expect,
}

#[derive(Debug, Clone)]
pub struct RuleDef {
    pub id: String,
    pub loc: Loc,
    pub title: String,
    pub category: String,
    pub severity: Severity,
    pub enabled: bool,
    pub effective_from: Option<NaiveDate>,
    pub effective_until: Option<NaiveDate>,
    pub for_each: Option<Node>,
    pub lets: Vec<LetDef>,
    pub applies_if: Option<Node>,
    pub when: Node,
    pub message: Node,
    pub deadline: Option<Node>,
    pub remedy: Option<String>,
    pub source: Option<String>,
    pub tests: Vec<TestDef>,
}

/// A loaded pack, before expressions are parsed and checked.
#[derive(Debug, Clone, Default)]
pub struct PackDef {
    pub meta: Option<PackMeta>,
    pub key: Option<(String, Loc)>,
    /// The merged schema; `field_locs` holds each dotted path's declaration.
    pub schema: ObjectType,
    pub field_locs: HashMap<String, Loc>,
    pub tables: Vec<TableDef>,
    pub rules: Vec<RuleDef>,
}

/// A pack file to read: the name shown to users, its path relative to the pack root, its text.
pub struct PackFile {
    pub display: String,
    pub rel: String,
    pub text: String,
}

/// The default test date when a test gives no `as_of` (SPEC §1.3).
pub fn default_test_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default()
}

/// Reads the pack files under `path` (a file or a directory), in byte order of relative paths.
pub fn read_path(path: &Path) -> Result<Vec<PackFile>, Diagnostic> {
    let shown = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|e| io_error(&shown, &e))?;
    if meta.is_file() {
        let text = read_text(path, &shown)?;
        let rel = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        return Ok(vec![PackFile {
            display: shown,
            rel,
            text,
        }]);
    }
    let mut rels = Vec::new();
    collect_yaml(path, "", &mut rels).map_err(|e| io_error(&shown, &e))?;
    rels.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    let mut files = Vec::new();
    for rel in rels {
        let full = path.join(&rel);
        let display = full.display().to_string();
        let text = read_text(&full, &display)?;
        files.push(PackFile { display, rel, text });
    }
    Ok(files)
}

fn collect_yaml(root: &Path, prefix: &str, out: &mut Vec<String>) -> std::io::Result<()> {
    let dir = if prefix.is_empty() {
        root.to_path_buf()
    } else {
        root.join(prefix)
    };
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let rel = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}/{name}")
        };
        let ft = entry.file_type()?;
        if ft.is_dir() {
            collect_yaml(root, &rel, out)?;
        } else if name.ends_with(".yaml") || name.ends_with(".yml") {
            out.push(rel);
        }
    }
    Ok(())
}

fn read_text(path: &Path, shown: &str) -> Result<String, Diagnostic> {
    let bytes = std::fs::read(path).map_err(|e| io_error(shown, &e))?;
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    String::from_utf8(bytes.to_vec()).map_err(|_| {
        Diagnostic::error(Code::Io, format!("`{shown}` is not valid utf-8"))
            .help("save the pack file as utf-8")
    })
}

pub fn io_error(shown: &str, e: &std::io::Error) -> Diagnostic {
    let why = match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => e.to_string().to_lowercase(),
    };
    Diagnostic::error(Code::Io, format!("cannot read `{shown}`: {why}"))
}

/// Loads pack files into a [`PackDef`], adding them to `sources`. Returns every diagnostic.
pub fn load(files: Vec<PackFile>, sources: &mut Sources) -> (PackDef, Vec<Diagnostic>) {
    let mut l = Loader {
        sources,
        diags: Vec::new(),
        pack: PackDef::default(),
        meta_loc: None,
        table_locs: HashMap::new(),
        rule_ids: HashMap::new(),
    };
    for f in files {
        let table = f
            .rel
            .strip_prefix("tables/")
            .and_then(|n| n.strip_suffix(".yaml").or_else(|| n.strip_suffix(".yml")))
            .filter(|n| !n.contains('/'))
            .map(str::to_string);
        let id = l.sources.add(f.display, f.text);
        let node = match yaml::parse(l.sources, id) {
            Ok(n) => n,
            Err(d) => {
                l.diags.push(d);
                continue;
            }
        };
        let Some(node) = node else {
            if let Some(name) = table {
                let at = Loc::new(id, 0, 0);
                let null = Node {
                    kind: NodeKind::Scalar {
                        value: String::new(),
                        style: yaml::Style::Plain,
                    },
                    loc: at,
                };
                l.add_table(name, at, null);
            }
            continue;
        };
        l.duplicate_keys(&node);
        match table {
            Some(name) => l.add_table(name, node.loc, node),
            None => l.top(&node),
        }
    }
    let Loader { pack, diags, .. } = l;
    (pack, diags)
}

/// Loads the `schema` and `tables` of a mapping node (expression case files).
pub fn load_node(node: &Node, sources: &mut Sources) -> (PackDef, Vec<Diagnostic>) {
    let mut l = Loader {
        sources,
        diags: Vec::new(),
        pack: PackDef::default(),
        meta_loc: None,
        table_locs: HashMap::new(),
        rule_ids: HashMap::new(),
    };
    l.duplicate_keys(node);
    l.top(node);
    let Loader { pack, diags, .. } = l;
    (pack, diags)
}

struct Loader<'s> {
    sources: &'s mut Sources,
    diags: Vec<Diagnostic>,
    pack: PackDef,
    meta_loc: Option<Loc>,
    table_locs: HashMap<String, Loc>,
    rule_ids: HashMap<String, Loc>,
}

/// The closest of `candidates` to `name`, for "did you mean" hints.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let mut best: Option<(f64, &str)> = None;
    for c in candidates {
        let score = strsim::jaro_winkler(name, c);
        if score > 0.7 && best.is_none_or(|(s, _)| score > s) {
            best = Some((score, c));
        }
    }
    best.map(|(_, c)| c)
}

pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    closest(name, candidates).map(|c| format!("did you mean `{c}`?"))
}

impl Loader<'_> {
    fn err(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    fn duplicate_keys(&mut self, node: &Node) {
        match &node.kind {
            NodeKind::Map(pairs) => {
                let mut seen: HashMap<String, Loc> = HashMap::new();
                for (k, v) in pairs {
                    let key = k
                        .text()
                        .map(str::to_string)
                        .unwrap_or_else(|| format!("{:?}", k.kind));
                    if let Some(first) = seen.get(&key) {
                        let (line, _) = self.sources.line_col(first.file, first.start);
                        self.err(
                            Diagnostic::error(Code::DuplicateKey, format!("duplicate key `{key}`"))
                                .at(k.loc)
                                .label("written again here")
                                .help(format!("the first `{key}` is on line {line}; keep one")),
                        );
                    } else {
                        seen.insert(key, k.loc);
                    }
                    self.duplicate_keys(v);
                }
            }
            NodeKind::Seq(items) => items.iter().for_each(|i| self.duplicate_keys(i)),
            NodeKind::Scalar { .. } => {}
        }
    }

    /// The keys of a mapping, checking them against `allowed` and `required`.
    /// Returns `None` (after a diagnostic) when `node` is not a mapping.
    fn keys<'n>(
        &mut self,
        node: &'n Node,
        what: &str,
        allowed: &[&str],
        required: &[&str],
    ) -> Option<HashMap<&'n str, &'n Node>> {
        let Some(pairs) = node.as_map() else {
            self.err(
                Diagnostic::error(
                    Code::BadValue,
                    format!("{what} must be a mapping, not {}", node.describe()),
                )
                .at(node.loc)
                .label("expected a mapping here"),
            );
            return None;
        };
        let mut out = HashMap::new();
        for (k, v) in pairs {
            let name = k.text().unwrap_or("");
            if !allowed.contains(&name) {
                self.err(
                    Diagnostic::error(Code::UnknownKey, format!("unknown key `{name}` in {what}"))
                        .at(k.loc)
                        .label("not a key of this mapping")
                        .help(match closest(name, allowed.iter().copied()) {
                            Some(c) => {
                                format!("did you mean `{c}`? allowed keys: {}", allowed.join(", "))
                            }
                            None => format!("allowed keys: {}", allowed.join(", ")),
                        }),
                );
                continue;
            }
            out.entry(name).or_insert(v);
        }
        for r in required {
            if !out.contains_key(r) {
                self.err(
                    Diagnostic::error(
                        Code::MissingKey,
                        format!("{what} lacks the required key `{r}`"),
                    )
                    .at(Loc::new(node.loc.file, node.loc.start, node.loc.start))
                    .label(format!("`{r}` is missing here"))
                    .help(format!("required keys: {}", required.join(", "))),
                );
            }
        }
        Some(out)
    }

    fn string(&mut self, node: &Node, what: &str) -> Option<String> {
        match node.scalar() {
            Some(Scalar::Str(s)) => Some(s.to_string()),
            Some(Scalar::Int(_)) | Some(Scalar::Float(_)) => node.text().map(str::to_string),
            _ => {
                self.err(
                    Diagnostic::error(
                        Code::BadValue,
                        format!("{what} must be text, not {}", node.describe()),
                    )
                    .at(node.loc)
                    .label("expected text here"),
                );
                None
            }
        }
    }

    fn date(&mut self, node: &Node, what: &str) -> Option<NaiveDate> {
        let text = node.text().unwrap_or("");
        match parse_iso_date(text).filter(|_| node.as_map().is_none() && node.as_seq().is_none()) {
            Some(d) => Some(d),
            None => {
                self.err(
                    Diagnostic::error(Code::BadConstant, format!("{what} `{text}` is not a date"))
                        .at(node.loc)
                        .label("expected a date")
                        .help("write dates as `YYYY-MM-DD`"),
                );
                None
            }
        }
    }

    fn expression(&mut self, node: &Node, what: &str) -> Option<Node> {
        if node.text().is_some() && !node.is_null() {
            return Some(node.clone());
        }
        self.err(
            Diagnostic::error(
                Code::BadValue,
                format!("{what} must be an expression, not {}", node.describe()),
            )
            .at(node.loc)
            .label("expected an expression (a string)"),
        );
        None
    }

    fn top(&mut self, node: &Node) {
        let Some(keys) = self.keys(
            node,
            "a pack file",
            &["pack", "schema", "tables", "rules"],
            &[],
        ) else {
            return;
        };
        if let Some(p) = keys.get("pack") {
            self.pack_meta(p);
        }
        if let Some(s) = keys.get("schema") {
            self.schema(s);
        }
        if let Some(t) = keys.get("tables") {
            if let Some(pairs) = t.as_map() {
                for (k, v) in pairs {
                    let name = k.text().unwrap_or("").to_string();
                    self.add_table(name, k.loc, v.clone());
                }
            } else if !t.is_null() {
                self.err(
                    Diagnostic::error(
                        Code::BadValue,
                        format!(
                            "`tables` must be a mapping of names to data, not {}",
                            t.describe()
                        ),
                    )
                    .at(t.loc),
                );
            }
        }
        if let Some(r) = keys.get("rules") {
            match r.as_seq() {
                Some(items) => items.iter().for_each(|item| self.rule(item)),
                None if r.is_null() => {}
                None => self.err(
                    Diagnostic::error(
                        Code::BadValue,
                        format!("`rules` must be a list, not {}", r.describe()),
                    )
                    .at(r.loc)
                    .label("expected a list of rules"),
                ),
            }
        }
    }

    fn pack_meta(&mut self, node: &Node) {
        if let Some(first) = self.meta_loc {
            let (line, _) = self.sources.line_col(first.file, first.start);
            let file = self.sources.name(first.file).to_string();
            self.err(
                Diagnostic::error(Code::Duplicate, "`pack` is defined twice".into())
                    .at(node.loc)
                    .label("second definition")
                    .help(format!("at most one file of a pack has `pack`; the first is in {file} on line {line}")),
            );
            return;
        }
        self.meta_loc = Some(node.loc);
        let Some(keys) = self.keys(
            node,
            "`pack`",
            &["name", "version", "description"],
            &["name", "version"],
        ) else {
            return;
        };
        let mut meta = PackMeta::default();
        if let Some(n) = keys.get("name") {
            meta.name = self.string(n, "`pack.name`").unwrap_or_default();
        }
        if let Some(n) = keys.get("version") {
            meta.version = self.string(n, "`pack.version`").unwrap_or_default();
        }
        if let Some(n) = keys.get("description") {
            meta.description = self.string(n, "`pack.description`");
        }
        self.pack.meta = Some(meta);
    }

    fn schema(&mut self, node: &Node) {
        let Some(keys) = self.keys(node, "`schema`", &["key", "fields"], &[]) else {
            return;
        };
        if let Some(k) = keys.get("key") {
            if let Some(path) = self.string(k, "`schema.key`") {
                if let Some((old, _)) = &self.pack.key {
                    if *old != path {
                        self.err(
                            Diagnostic::error(
                                Code::Duplicate,
                                format!("`schema.key` is `{old}` in another file"),
                            )
                            .at(k.loc)
                            .label("a second, different key"),
                        );
                    }
                } else {
                    self.pack.key = Some((path, k.loc));
                }
            }
        }
        if let Some(f) = keys.get("fields") {
            if f.as_map().is_none() {
                self.err(
                    Diagnostic::error(
                        Code::BadValue,
                        format!("`schema.fields` must be a mapping, not {}", f.describe()),
                    )
                    .at(f.loc),
                );
                return;
            }
            let decl = self.object_type(f, "");
            let mut schema = std::mem::take(&mut self.pack.schema);
            self.merge(&mut schema, decl, "");
            self.pack.schema = schema;
        }
    }

    fn merge(&mut self, into: &mut ObjectType, from: ObjectType, prefix: &str) {
        for (name, ty) in from.fields {
            let path = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}.{name}")
            };
            match into.fields.iter_mut().find(|(n, _)| *n == name) {
                None => into.fields.push((name, ty)),
                Some((_, existing)) => match (existing, ty) {
                    (Type::Object(a), Type::Object(b)) => {
                        let mut merged = (**a).clone();
                        self.merge(&mut merged, (*b).clone(), &path);
                        *a = std::sync::Arc::new(merged);
                    }
                    (Type::List(a), Type::List(b))
                        if matches!(
                            (a.as_ref(), b.as_ref()),
                            (Type::Object(_), Type::Object(_))
                        ) =>
                    {
                        if let (Type::Object(oa), Type::Object(ob)) = (a.as_mut(), *b) {
                            let mut merged = (**oa).clone();
                            self.merge(&mut merged, (*ob).clone(), &path);
                            *oa = std::sync::Arc::new(merged);
                        }
                    }
                    (existing, ty) if *existing == ty => {}
                    (existing, ty) => {
                        let loc = self.pack.field_locs.get(&path).copied().unwrap_or_default();
                        self.err(
                            Diagnostic::error(
                                Code::Duplicate,
                                format!("field `{path}` is declared as `{existing}` and as `{ty}`"),
                            )
                            .at(loc)
                            .label("the second declaration")
                            .help("a field declared in several files must have one type"),
                        );
                    }
                },
            }
        }
    }

    fn object_type(&mut self, node: &Node, prefix: &str) -> ObjectType {
        let mut obj = ObjectType::default();
        let Some(pairs) = node.as_map() else {
            return obj;
        };
        for (k, v) in pairs {
            let Some(name) = k.text().map(str::to_string) else {
                continue;
            };
            let path = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}.{name}")
            };
            if let Some(ty) = self.field_type(v, &path) {
                if obj.fields.iter().all(|(n, _)| *n != name) {
                    self.pack.field_locs.insert(path, k.loc);
                    obj.fields.push((name, ty));
                }
            }
        }
        obj
    }

    fn field_type(&mut self, node: &Node, path: &str) -> Option<Type> {
        match &node.kind {
            NodeKind::Scalar { value, .. } => match scalar_type(value) {
                Some(t) => Some(t),
                None => {
                    self.err(
                        Diagnostic::error(
                            Code::UnknownType,
                            format!("unknown type `{value}` for field `{path}`"),
                        )
                        .at(node.loc)
                        .label("not a type")
                        .help(
                            match closest(value, SCALAR_TYPES.iter().copied()) {
                                Some(c) => format!(
                                    "did you mean `{c}`? types: {}",
                                    SCALAR_TYPES.join(", ")
                                ),
                                None => format!(
                                    "types: {}, `[type]` for a list, a mapping for an object",
                                    SCALAR_TYPES.join(", ")
                                ),
                            },
                        ),
                    );
                    None
                }
            },
            NodeKind::Seq(items) => match items.as_slice() {
                [one] => self.field_type(one, path).map(Type::list),
                _ => {
                    self.err(
                        Diagnostic::error(
                            Code::BadValue,
                            format!(
                                "the list type of field `{path}` must have exactly one element"
                            ),
                        )
                        .at(node.loc)
                        .label("write `[type]` or a one-element list of a mapping"),
                    );
                    None
                }
            },
            NodeKind::Map(_) => Some(Type::Object(std::sync::Arc::new(
                self.object_type(node, path),
            ))),
        }
    }

    fn add_table(&mut self, name: String, loc: Loc, data: Node) {
        if let Some(first) = self.table_locs.get(&name).copied() {
            let (line, _) = self.sources.line_col(first.file, first.start);
            let file = self.sources.name(first.file).to_string();
            self.err(
                Diagnostic::error(Code::Duplicate, format!("table `{name}` is defined twice"))
                    .at(loc)
                    .label("second definition")
                    .help(format!("the first is in {file} on line {line}")),
            );
            return;
        }
        self.table_locs.insert(name.clone(), loc);
        self.pack.tables.push(TableDef { name, loc, data });
    }

    fn rule(&mut self, node: &Node) {
        const KEYS: &[&str] = &[
            "id",
            "title",
            "category",
            "severity",
            "enabled",
            "effective",
            "for_each",
            "let",
            "applies_if",
            "when",
            "message",
            "deadline",
            "remedy",
            "source",
            "tests",
        ];
        const REQUIRED: &[&str] = &["id", "title", "category", "severity", "when", "message"];
        let Some(keys) = self.keys(node, "a rule", KEYS, REQUIRED) else {
            return;
        };
        let id = match keys
            .get("id")
            .and_then(|n| self.string(n, "a rule's `id`").map(|s| (s, n.loc)))
        {
            Some((id, loc)) => {
                if !valid_rule_id(&id) {
                    self.err(
                        Diagnostic::error(Code::BadRuleId, format!("rule id `{id}` is not valid"))
                            .at(loc)
                            .label("ids are upper-case words joined by `-`")
                            .help("an id matches `^[A-Z][A-Z0-9]*(-[A-Z0-9]+)*$`, e.g. `DV-002`"),
                    );
                } else if let Some(first) = self.rule_ids.get(&id).copied() {
                    let (line, _) = self.sources.line_col(first.file, first.start);
                    let file = self.sources.name(first.file).to_string();
                    self.err(
                        Diagnostic::error(Code::Duplicate, format!("rule id `{id}` is used twice"))
                            .at(loc)
                            .label("second rule with this id")
                            .help(format!("the first is in {file} on line {line}; ids are unique across the pack")),
                    );
                } else {
                    self.rule_ids.insert(id.clone(), loc);
                }
                id
            }
            None => String::new(),
        };
        let text = |l: &mut Loader, key: &str| {
            keys.get(key).and_then(|n| l.string(n, &format!("`{key}`")))
        };
        let title = text(self, "title");
        let category = text(self, "category");
        let remedy = text(self, "remedy");
        let source = text(self, "source");
        let severity = keys.get("severity").and_then(|n| {
            let s = n.text().unwrap_or("");
            let sev = Severity::parse(s);
            if sev.is_none() {
                self.err(
                    Diagnostic::error(Code::BadValue, format!("unknown severity `{s}`"))
                        .at(n.loc)
                        .label("not a severity")
                        .help(format!(
                            "a severity is one of: {}",
                            Severity::NAMES.join(", ")
                        )),
                );
            }
            sev
        });
        let enabled = match keys.get("enabled") {
            None => true,
            Some(n) => match n.scalar() {
                Some(Scalar::Bool(b)) => b,
                _ => {
                    self.err(
                        Diagnostic::error(
                            Code::BadValue,
                            format!("`enabled` must be `true` or `false`, not {}", n.describe()),
                        )
                        .at(n.loc),
                    );
                    true
                }
            },
        };
        let (mut from, mut until) = (None, None);
        if let Some(e) = keys.get("effective") {
            if let Some(ek) = self.keys(e, "`effective`", &["from", "until"], &[]) {
                from = ek
                    .get("from")
                    .and_then(|n| self.date(n, "`effective.from`"));
                until = ek
                    .get("until")
                    .and_then(|n| self.date(n, "`effective.until`"));
            }
        }
        let for_each = keys
            .get("for_each")
            .and_then(|n| self.expression(n, "`for_each`"));
        let mut lets = Vec::new();
        if let Some(l) = keys.get("let") {
            match l.as_map() {
                Some(pairs) => {
                    for (k, v) in pairs {
                        if let Some(expr) = self.expression(v, "a `let` value") {
                            lets.push(LetDef {
                                name: k.text().unwrap_or("").to_string(),
                                loc: k.loc,
                                expr,
                            });
                        }
                    }
                }
                None => self.err(
                    Diagnostic::error(
                        Code::BadValue,
                        format!(
                            "`let` must be a mapping of names to expressions, not {}",
                            l.describe()
                        ),
                    )
                    .at(l.loc),
                ),
            }
        }
        let applies_if = keys
            .get("applies_if")
            .and_then(|n| self.expression(n, "`applies_if`"));
        let when = keys.get("when").and_then(|n| self.expression(n, "`when`"));
        let message = keys.get("message").and_then(|n| {
            if n.text().is_some() {
                Some((*n).clone())
            } else {
                self.expression(n, "`message`")
            }
        });
        let deadline = keys
            .get("deadline")
            .and_then(|n| self.expression(n, "`deadline`"));
        let mut tests = Vec::new();
        if let Some(t) = keys.get("tests") {
            match t.as_seq() {
                Some(items) => {
                    for item in items {
                        if let Some(test) = self.test(item) {
                            tests.push(test);
                        }
                    }
                }
                None => self.err(
                    Diagnostic::error(
                        Code::BadValue,
                        format!("`tests` must be a list, not {}", t.describe()),
                    )
                    .at(t.loc),
                ),
            }
        }
        // A rule with a structural error is still checked, so that `check` reports its
        // expression errors too; the diagnostic already refuses the pack.
        let (Some(when), Some(message)) = (when, message) else {
            return;
        };
        let (title, category, severity) = (
            title.unwrap_or_default(),
            category.unwrap_or_default(),
            severity.unwrap_or(Severity::Error),
        );
        self.pack.rules.push(RuleDef {
            id,
            loc: node.loc,
            title,
            category,
            severity,
            enabled,
            effective_from: from,
            effective_until: until,
            for_each,
            lets,
            applies_if,
            when,
            message,
            deadline,
            remedy,
            source,
            tests,
        });
    }

    fn test(&mut self, node: &Node) -> Option<TestDef> {
        let keys = self.keys(
            node,
            "a test",
            &["name", "as_of", "record", "expect"],
            &["name", "record", "expect"],
        )?;
        let name = keys
            .get("name")
            .and_then(|n| self.string(n, "a test's `name`"));
        let as_of = match keys.get("as_of") {
            Some(n) => self.date(n, "`as_of`"),
            None => Some(default_test_date()),
        };
        let record = keys.get("record").map(|n| (*n).clone());
        if let Some(r) = &record {
            if r.as_map().is_none() {
                self.err(
                    Diagnostic::error(
                        Code::BadValue,
                        format!("a test's `record` must be a mapping, not {}", r.describe()),
                    )
                    .at(r.loc),
                );
                return None;
            }
        }
        let expect = keys.get("expect").and_then(|n| self.expect(n));
        Some(TestDef {
            name: name?,
            loc: node.loc,
            as_of: as_of?,
            record: record?,
            expect: expect?,
        })
    }

    fn expect(&mut self, node: &Node) -> Option<Expect> {
        if let Some(Scalar::Int(n)) = node.scalar() {
            if let Ok(n) = usize::try_from(n) {
                return Some(Expect::Count(n));
            }
        }
        if let Some(items) = node.as_seq() {
            let mut out = Vec::new();
            for item in items {
                let keys = self.keys(
                    item,
                    "an expected finding",
                    &["element", "message", "deadline", "days_left", "overdue"],
                    &[],
                )?;
                let mut m = serde_json::Map::new();
                for (k, v) in keys {
                    m.insert(k.to_string(), yaml::to_json(v));
                }
                // keep a stable order for display
                let mut sorted = serde_json::Map::new();
                for k in ["element", "message", "deadline", "days_left", "overdue"] {
                    if let Some(v) = m.remove(k) {
                        sorted.insert(k.to_string(), v);
                    }
                }
                out.push(sorted);
            }
            return Some(Expect::Findings(out));
        }
        self.err(
            Diagnostic::error(
                Code::BadValue,
                format!(
                    "`expect` must be a count or a list of findings, not {}",
                    node.describe()
                ),
            )
            .at(node.loc)
            .label("expected a number or a list"),
        );
        None
    }
}

pub fn valid_rule_id(id: &str) -> bool {
    let mut parts = id.split('-');
    let Some(first) = parts.next() else {
        return false;
    };
    let mut chars = first.chars();
    if !chars.next().is_some_and(|c| c.is_ascii_uppercase()) {
        return false;
    }
    let ok = |c: char| c.is_ascii_uppercase() || c.is_ascii_digit();
    chars.all(ok) && parts.all(|p| !p.is_empty() && p.chars().all(ok))
}

/// Every dotted path of scalar (or list-of-scalar) fields of a schema.
pub fn field_paths(obj: &ObjectType) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(obj: &ObjectType, prefix: &str, out: &mut Vec<String>) {
        for (n, t) in &obj.fields {
            let p = if prefix.is_empty() {
                n.clone()
            } else {
                format!("{prefix}.{n}")
            };
            match t {
                Type::Object(o) => walk(o, &p, out),
                _ => out.push(p),
            }
        }
    }
    walk(obj, "", &mut out);
    out
}

/// The set of names already used, for hints.
pub fn names_of(obj: &ObjectType) -> HashSet<&str> {
    obj.names().collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn rule_ids() {
        for ok in ["DV-002", "A", "A1-B2-C3", "HB-2020-01"] {
            assert!(valid_rule_id(ok), "{ok}");
        }
        for bad in ["dv-1", "DV--1", "DV-", "-DV", "1A", "DV_1", "", "DV-a"] {
            assert!(!valid_rule_id(bad), "{bad}");
        }
    }
}
