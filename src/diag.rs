//! Diagnostics and the registry of their codes.
//!
//! Every error or warning a user sees about a pack (or a waivers file) is a [`Diagnostic`]:
//! a stable [`Code`], a lower-case message with user input in backticks, a location, a label
//! under the span and an optional help line. Analysis collects all of them; only I/O stops early.
//!
//! The registry below is the one place codes are defined; each variant's doc comment is its
//! documentation, and `beian check --explain`-style tooling or the README can list them from
//! [`Code::ALL`]. Codes never change meaning once released.

use std::io::Write;

use codespan_reporting::diagnostic::{Diagnostic as CsDiagnostic, Label, Severity as CsSeverity};
use codespan_reporting::term;

use crate::source::{Loc, Sources};

/// Stable diagnostic codes. `E` codes are errors (the pack is refused); `W` codes are lints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Code {
    /// E001: a file could not be read (missing, unreadable, not UTF-8).
    Io,
    /// E002: the YAML itself is malformed (the parser's message and position are shown).
    YamlSyntax,
    /// E003: a key that is not allowed at this place (top level, rule, test, `effective`,
    /// `pack`, `schema`, the `calendar` table, waiver). The help names the closest allowed key.
    UnknownKey,
    /// E004: a key written twice in one mapping; YAML 1.2 forbids it and the second would
    /// silently win.
    DuplicateKey,
    /// E005: a required key is missing (`id`, `title`, `category`, `severity`, `when`,
    /// `message` in a rule; `rule`, `record`, `until`, `reason` in a waiver; ...).
    MissingKey,
    /// E006: a value of the wrong YAML shape (a list where a mapping is needed, ...), or an
    /// invalid enumerated value (a severity that is not `info|warning|error|critical`).
    BadValue,
    /// E007: a rule id that does not match `^[A-Z][A-Z0-9]*(-[A-Z0-9]+)*$`.
    BadRuleId,
    /// E008: something defined twice: a rule id, a table, `pack`, or a schema field with two
    /// different types.
    Duplicate,
    /// E009: a schema type that does not exist (the scalar types are `bool int float string
    /// date datetime domain ip`).
    UnknownType,
    /// E010: `schema.key` names no declared scalar field.
    BadKey,
    /// E101: an expression or message template does not parse.
    Syntax,
    /// E102: a name that is none of: macro variable, `for_each` variable, `let` name, `as_of`,
    /// `tables`, a record field.
    UnknownName,
    /// E103: a field that the schema (or a table's data) does not have.
    UnknownField,
    /// E104: a function or method that does not exist.
    UnknownFunction,
    /// E105: a type error: operands or arguments of types the operator or function does not
    /// take, or a `when`/`applies_if` that is not `bool`, a `deadline` that is not a `date`.
    Type,
    /// E106: a function called with the wrong number of arguments.
    Arity,
    /// E107: a regular expression that does not compile (or passes the size limit), or a regex
    /// argument that is not a constant string.
    Regex,
    /// E108: a constant that does not parse: `date("...")`, a CIDR block or address in a
    /// constant list or table, a calendar entry, an `effective` date, a test `as_of`.
    BadConstant,
    /// E109: `tables.NAME.k` or `tables.NAME["k"]` with a constant key the table lacks.
    MissingTableKey,
    /// E110: a `let` named like the rule's `for_each` variable, or defined twice.
    Shadow,
    /// E111: an expression nests deeper than the parser allows.
    TooDeep,
    /// E201: a waiver names a rule the pack does not define.
    UnknownRule,
    /// W001: `when` is constant: the rule always or never fires.
    ConstantWhen,
    /// W002: a table no rule reads.
    UnusedTable,
    /// W003: a `let` that nothing reads.
    UnusedLet,
    /// W004: a `let`, `for_each` or macro variable named like a record field, which it hides.
    ShadowsField,
    /// W005: a message with no `{...}` hole: a finding will not say which value is at fault.
    MessageWithoutValue,
    /// W006: a rule without `tests`.
    NoTests,
    /// W007: an identifier that mixes scripts or holds characters easily confused with others.
    ConfusableIdent,
    /// W008: a regular expression that can never match.
    RegexNeverMatches,
}

impl Code {
    pub const ALL: &'static [Code] = &[
        Code::Io,
        Code::YamlSyntax,
        Code::UnknownKey,
        Code::DuplicateKey,
        Code::MissingKey,
        Code::BadValue,
        Code::BadRuleId,
        Code::Duplicate,
        Code::UnknownType,
        Code::BadKey,
        Code::Syntax,
        Code::UnknownName,
        Code::UnknownField,
        Code::UnknownFunction,
        Code::Type,
        Code::Arity,
        Code::Regex,
        Code::BadConstant,
        Code::MissingTableKey,
        Code::Shadow,
        Code::TooDeep,
        Code::UnknownRule,
        Code::ConstantWhen,
        Code::UnusedTable,
        Code::UnusedLet,
        Code::ShadowsField,
        Code::MessageWithoutValue,
        Code::NoTests,
        Code::ConfusableIdent,
        Code::RegexNeverMatches,
    ];

    /// The code as printed: `E101`, `W003`.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Io => "E001",
            Code::YamlSyntax => "E002",
            Code::UnknownKey => "E003",
            Code::DuplicateKey => "E004",
            Code::MissingKey => "E005",
            Code::BadValue => "E006",
            Code::BadRuleId => "E007",
            Code::Duplicate => "E008",
            Code::UnknownType => "E009",
            Code::BadKey => "E010",
            Code::Syntax => "E101",
            Code::UnknownName => "E102",
            Code::UnknownField => "E103",
            Code::UnknownFunction => "E104",
            Code::Type => "E105",
            Code::Arity => "E106",
            Code::Regex => "E107",
            Code::BadConstant => "E108",
            Code::MissingTableKey => "E109",
            Code::Shadow => "E110",
            Code::TooDeep => "E111",
            Code::UnknownRule => "E201",
            Code::ConstantWhen => "W001",
            Code::UnusedTable => "W002",
            Code::UnusedLet => "W003",
            Code::ShadowsField => "W004",
            Code::MessageWithoutValue => "W005",
            Code::NoTests => "W006",
            Code::ConfusableIdent => "W007",
            Code::RegexNeverMatches => "W008",
        }
    }

    /// One line on what the code means (the doc comment above, shortened), for SARIF rules
    /// and listings.
    pub fn description(self) -> &'static str {
        match self {
            Code::Io => "a file could not be read",
            Code::YamlSyntax => "the YAML is malformed",
            Code::UnknownKey => "a key that is not allowed at this place",
            Code::DuplicateKey => "a key written twice in one mapping",
            Code::MissingKey => "a required key is missing",
            Code::BadValue => "a value of the wrong shape, or an invalid enumerated value",
            Code::BadRuleId => "a rule id that does not match ^[A-Z][A-Z0-9]*(-[A-Z0-9]+)*$",
            Code::Duplicate => "something defined twice",
            Code::UnknownType => "a schema type that does not exist",
            Code::BadKey => "schema.key names no declared scalar field",
            Code::Syntax => "an expression or message template does not parse",
            Code::UnknownName => "an unknown name",
            Code::UnknownField => "a field that the schema or table does not have",
            Code::UnknownFunction => "a function or method that does not exist",
            Code::Type => "a type error",
            Code::Arity => "a function called with the wrong number of arguments",
            Code::Regex => "a regular expression that does not compile or is not constant",
            Code::BadConstant => {
                "a constant that does not parse (date, CIDR block, calendar entry)"
            }
            Code::MissingTableKey => "a constant table key that the table lacks",
            Code::Shadow => "a let named like the for_each variable, or defined twice",
            Code::TooDeep => "an expression nests too deeply",
            Code::UnknownRule => "a waiver names a rule the pack does not define",
            Code::ConstantWhen => "when is constant: the rule always or never fires",
            Code::UnusedTable => "a table no rule reads",
            Code::UnusedLet => "a let that nothing reads",
            Code::ShadowsField => "a variable named like a record field, which it hides",
            Code::MessageWithoutValue => "a message with no {...} hole",
            Code::NoTests => "a rule without tests",
            Code::ConfusableIdent => {
                "an identifier that mixes scripts or holds confusable characters"
            }
            Code::RegexNeverMatches => "a regular expression that can never match",
        }
    }

    pub fn is_warning(self) -> bool {
        self.as_str().starts_with('W')
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Warning,
    Error,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Warning => "warning",
            Level::Error => "error",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    pub code: Code,
    pub level: Level,
    pub message: String,
    pub loc: Option<Loc>,
    pub label: Option<String>,
    pub help: Option<String>,
}

impl Diagnostic {
    /// A diagnostic of `code`; its level follows the code (`E…` error, `W…` warning).
    pub fn error(code: Code, message: String) -> Diagnostic {
        Diagnostic {
            code,
            level: if code.is_warning() {
                Level::Warning
            } else {
                Level::Error
            },
            message,
            loc: None,
            label: None,
            help: None,
        }
    }

    pub fn at(mut self, loc: Loc) -> Diagnostic {
        self.loc = Some(loc);
        self
    }

    pub fn label(mut self, label: impl Into<String>) -> Diagnostic {
        self.label = Some(label.into());
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    pub fn maybe_help(mut self, help: Option<String>) -> Diagnostic {
        if help.is_some() {
            self.help = help;
        }
        self
    }

    pub fn is_error(&self) -> bool {
        self.level == Level::Error
    }

    /// `file:line:col` of the diagnostic, when it has a location.
    pub fn position(&self, sources: &Sources) -> Option<(String, usize, usize)> {
        let loc = self.loc?;
        let (line, col) = sources.line_col(loc.file, loc.start);
        Some((sources.name(loc.file).to_string(), line, col))
    }

    /// As a JSON object: code, severity, message, file, line, column, end_line, end_column,
    /// label, help.
    pub fn to_json(&self, sources: &Sources) -> serde_json::Value {
        let mut m = serde_json::Map::new();
        m.insert("code".into(), self.code.as_str().into());
        m.insert("severity".into(), self.level.as_str().into());
        m.insert("message".into(), self.message.clone().into());
        match self.loc {
            Some(loc) => {
                let (line, col) = sources.line_col(loc.file, loc.start);
                let (end_line, end_col) = sources.line_col(loc.file, loc.end);
                m.insert("file".into(), sources.name(loc.file).into());
                m.insert("line".into(), line.into());
                m.insert("column".into(), col.into());
                m.insert("end_line".into(), end_line.into());
                m.insert("end_column".into(), end_col.into());
            }
            None => {
                for k in ["file", "line", "column", "end_line", "end_column"] {
                    m.insert(k.into(), serde_json::Value::Null);
                }
            }
        }
        m.insert("label".into(), self.label.clone().into());
        m.insert("help".into(), self.help.clone().into());
        serde_json::Value::Object(m)
    }
}

/// Renders diagnostics rustc-style (`error[E101]: ...`, `--> file:line:col`, the source line,
/// carets, `= help: ...`).
pub fn render_text(
    diags: &[Diagnostic],
    sources: &Sources,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let config = term::Config {
        chars: term::Chars::ascii(),
        ..term::Config::default()
    };
    for d in diags {
        let sev = match d.level {
            Level::Error => CsSeverity::Error,
            Level::Warning => CsSeverity::Warning,
        };
        let mut cs = CsDiagnostic::new(sev)
            .with_code(d.code.as_str())
            .with_message(&d.message);
        if let Some(loc) = d.loc {
            let mut label = Label::primary(loc.file, loc.start..loc.end);
            if let Some(l) = &d.label {
                label = label.with_message(l);
            }
            cs = cs.with_labels(vec![label]);
        }
        if let Some(h) = &d.help {
            cs = cs.with_notes(vec![format!("help: {h}")]);
        }
        match term::emit_into_string(&config, sources.files(), &cs) {
            Ok(text) => out.write_all(text.as_bytes())?,
            // a location outside its file: print without the snippet rather than fail
            Err(_) => writeln!(
                out,
                "{}[{}]: {}",
                d.level.as_str(),
                d.code.as_str(),
                d.message
            )?,
        }
    }
    Ok(())
}

/// One-line summary: `error: 3 errors and 1 warning in the pack`.
pub fn summary_line(diags: &[Diagnostic]) -> String {
    let errors = diags.iter().filter(|d| d.is_error()).count();
    let warnings = diags.len() - errors;
    let plural = |n: usize, w: &str| {
        if n == 1 {
            format!("{n} {w}")
        } else {
            format!("{n} {w}s")
        }
    };
    format!(
        "{} and {}",
        plural(errors, "error"),
        plural(warnings, "warning")
    )
}
