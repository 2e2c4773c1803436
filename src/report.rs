//! Stage 7, report: writes findings in the formats of SPEC §4 (`jsonl`, `json`, `csv`, `sarif`,
//! `table`) and the text summary.

use std::io::{self, Write};

use serde::Serialize;
use unicode_width::UnicodeWidthStr;

use crate::program::Program;
use crate::scan::Row;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Jsonl,
    Json,
    Csv,
    Sarif,
    Table,
}

impl OutputFormat {
    pub fn parse(s: &str) -> Option<OutputFormat> {
        Some(match s {
            "jsonl" => OutputFormat::Jsonl,
            "json" => OutputFormat::Json,
            "csv" => OutputFormat::Csv,
            "sarif" => OutputFormat::Sarif,
            "table" => OutputFormat::Table,
            _ => return None,
        })
    }
}

/// A finding as written: the keys of SPEC §4, in order.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FindingOut {
    pub source: String,
    pub line: usize,
    pub record: String,
    pub rule: String,
    pub category: String,
    pub severity: String,
    pub element: Option<usize>,
    pub message: String,
    pub deadline: Option<String>,
    pub days_left: Option<i64>,
    pub overdue: Option<bool>,
}

impl FindingOut {
    pub fn new(program: &Program, row: &Row<'_>, as_of: chrono::NaiveDate) -> FindingOut {
        let rule = program.rules.get(row.finding.rule);
        let days_left = row.finding.days_left(as_of);
        FindingOut {
            source: row.source.to_string(),
            line: row.line,
            record: row.record.to_string(),
            rule: rule.map(|r| r.id.clone()).unwrap_or_default(),
            category: rule.map(|r| r.category.clone()).unwrap_or_default(),
            severity: rule
                .map(|r| r.severity.as_str().to_string())
                .unwrap_or_default(),
            element: row.finding.element,
            message: row.finding.message.clone(),
            deadline: row
                .finding
                .deadline
                .map(|d| d.format("%Y-%m-%d").to_string()),
            days_left,
            overdue: days_left.map(|d| d < 0),
        }
    }
}

/// A finding as written, borrowing from the scan (no allocation per finding): the keys of
/// SPEC §4, in order.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FindingRef<'a> {
    pub source: &'a str,
    pub line: usize,
    pub record: &'a str,
    pub rule: &'a str,
    pub category: &'a str,
    pub severity: &'a str,
    pub element: Option<usize>,
    pub message: &'a str,
    pub deadline: Option<Day>,
    pub days_left: Option<i64>,
    pub overdue: Option<bool>,
}

/// A date written `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Day(pub chrono::NaiveDate);

impl std::fmt::Display for Day {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use chrono::Datelike;
        let d = self.0;
        if (0..=9999).contains(&d.year()) {
            write!(f, "{:04}-{:02}-{:02}", d.year(), d.month(), d.day())
        } else {
            write!(f, "{}", d.format("%Y-%m-%d"))
        }
    }
}

impl Serialize for Day {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'a> FindingRef<'a> {
    pub fn new(program: &'a Program, row: &Row<'a>, as_of: chrono::NaiveDate) -> FindingRef<'a> {
        let rule = program.rules.get(row.finding.rule);
        let days_left = row.finding.days_left(as_of);
        FindingRef {
            source: row.source,
            line: row.line,
            record: row.record,
            rule: rule.map_or("", |r| r.id.as_str()),
            category: rule.map_or("", |r| r.category.as_str()),
            severity: rule.map_or("", |r| r.severity.as_str()),
            element: row.finding.element,
            message: &row.finding.message,
            deadline: row.finding.deadline.map(Day),
            days_left,
            overdue: days_left.map(|d| d < 0),
        }
    }
}

impl<'a> From<&'a FindingOut> for FindingRef<'a> {
    fn from(f: &'a FindingOut) -> FindingRef<'a> {
        FindingRef {
            source: &f.source,
            line: f.line,
            record: &f.record,
            rule: &f.rule,
            category: &f.category,
            severity: &f.severity,
            element: f.element,
            message: &f.message,
            deadline: f
                .deadline
                .as_deref()
                .and_then(crate::funcs::dates::parse_iso_date)
                .map(Day),
            days_left: f.days_left,
            overdue: f.overdue,
        }
    }
}

pub const FINDING_KEYS: &[&str] = &[
    "source",
    "line",
    "record",
    "rule",
    "category",
    "severity",
    "element",
    "message",
    "deadline",
    "days_left",
    "overdue",
];

/// Writes findings one at a time, then closes the document.
pub trait FindingWriter {
    fn finding(&mut self, f: &FindingRef<'_>) -> io::Result<()>;
    fn finish(&mut self, summary: &serde_json::Value) -> io::Result<()>;
}

/// A writer of findings in `format` to `out`. `table_summary` appends the summary text to a
/// table (for a file; on a terminal the summary already goes to standard error).
pub fn writer<'w>(
    format: OutputFormat,
    out: Box<dyn Write + 'w>,
    program: &'w Program,
) -> Box<dyn FindingWriter + 'w> {
    writer_with(format, out, program, false)
}

pub fn writer_with<'w>(
    format: OutputFormat,
    out: Box<dyn Write + 'w>,
    program: &'w Program,
    table_summary: bool,
) -> Box<dyn FindingWriter + 'w> {
    match format {
        OutputFormat::Jsonl => Box::new(Jsonl { out }),
        OutputFormat::Json => Box::new(Json { out, first: true }),
        OutputFormat::Csv => Box::new(Csv::new(out)),
        OutputFormat::Sarif => Box::new(Sarif {
            out,
            program,
            started: false,
            first: true,
        }),
        OutputFormat::Table => Box::new(Table {
            out,
            program,
            rows: Vec::new(),
            widths: None,
            count: 0,
            summary: table_summary,
        }),
    }
}

struct Jsonl<'w> {
    out: Box<dyn Write + 'w>,
}

impl FindingWriter for Jsonl<'_> {
    fn finding(&mut self, f: &FindingRef<'_>) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, f)?;
        self.out.write_all(b"\n")
    }

    fn finish(&mut self, _summary: &serde_json::Value) -> io::Result<()> {
        self.out.flush()
    }
}

struct Json<'w> {
    out: Box<dyn Write + 'w>,
    first: bool,
}

impl FindingWriter for Json<'_> {
    fn finding(&mut self, f: &FindingRef<'_>) -> io::Result<()> {
        self.out.write_all(if self.first {
            b"{\"findings\": [\n  "
        } else {
            b",\n  "
        })?;
        self.first = false;
        serde_json::to_writer(&mut self.out, f)?;
        Ok(())
    }

    fn finish(&mut self, summary: &serde_json::Value) -> io::Result<()> {
        if self.first {
            self.out.write_all(b"{\"findings\": [")?;
        } else {
            self.out.write_all(b"\n")?;
        }
        self.out.write_all(b"], \"summary\": ")?;
        serde_json::to_writer(&mut self.out, summary)?;
        self.out.write_all(b"}\n")?;
        self.out.flush()
    }
}

/// Guards a text cell against spreadsheet formula injection (SPEC §4): a leading `'` when it
/// begins with `=`, `+`, `-`, `@`, tab or CR.
pub fn csv_guard(s: &str) -> std::borrow::Cow<'_, str> {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        std::borrow::Cow::Owned(format!("'{s}"))
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

struct Csv<'w> {
    out: csv::Writer<Box<dyn Write + 'w>>,
    header: bool,
}

impl<'w> Csv<'w> {
    fn new(out: Box<dyn Write + 'w>) -> Csv<'w> {
        Csv {
            out: csv::WriterBuilder::new()
                .terminator(csv::Terminator::Any(b'\n'))
                .from_writer(out),
            header: false,
        }
    }

    fn write_header(&mut self) -> io::Result<()> {
        if !self.header {
            self.header = true;
            self.out.write_record(FINDING_KEYS)?;
        }
        Ok(())
    }
}

/// A number cell, or empty for null.
fn num_cell<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

/// A finding's CSV cells in [`FINDING_KEYS`] order: text guarded, null empty.
pub fn csv_cells<'f>(f: &FindingRef<'f>) -> [std::borrow::Cow<'f, str>; 11] {
    use std::borrow::Cow;
    [
        csv_guard(f.source),
        Cow::Owned(f.line.to_string()),
        csv_guard(f.record),
        csv_guard(f.rule),
        csv_guard(f.category),
        csv_guard(f.severity),
        Cow::Owned(num_cell(f.element)),
        csv_guard(f.message),
        Cow::Owned(num_cell(f.deadline)),
        Cow::Owned(num_cell(f.days_left)),
        Cow::Owned(num_cell(f.overdue)),
    ]
}

impl FindingWriter for Csv<'_> {
    fn finding(&mut self, f: &FindingRef<'_>) -> io::Result<()> {
        self.write_header()?;
        self.out
            .write_record(csv_cells(f).iter().map(|c| c.as_bytes()))?;
        Ok(())
    }

    fn finish(&mut self, _summary: &serde_json::Value) -> io::Result<()> {
        self.write_header()?;
        self.out.flush()
    }
}

fn sarif_level(severity: &str) -> &'static str {
    match severity {
        "info" => "note",
        "warning" => "warning",
        _ => "error",
    }
}

/// SARIF 2.1.0, streamed: the run's tool (with every rule of the pack) first, then one result a
/// finding as it comes, then the summary in the run's properties.
struct Sarif<'w> {
    out: Box<dyn Write + 'w>,
    program: &'w Program,
    started: bool,
    first: bool,
}

/// The pack's rules as SARIF `reportingDescriptor`s.
pub fn sarif_rules(program: &Program) -> Vec<serde_json::Value> {
    program
        .rules
        .iter()
        .map(|r| {
            let mut rule = serde_json::json!({
                "id": r.id,
                "name": r.title,
                "shortDescription": {"text": r.title},
                "defaultConfiguration": {
                    "level": sarif_level(r.severity.as_str()),
                    "enabled": r.enabled,
                },
                "properties": {"category": r.category, "severity": r.severity.as_str()},
            });
            if let Some(obj) = rule.as_object_mut() {
                if let Some(remedy) = &r.remedy {
                    obj.insert("help".into(), serde_json::json!({"text": remedy}));
                }
                if let Some(src) = &r.source {
                    obj.insert("fullDescription".into(), serde_json::json!({"text": src}));
                }
            }
            rule
        })
        .collect()
}

impl Sarif<'_> {
    fn start(&mut self) -> io::Result<()> {
        if self.started {
            return Ok(());
        }
        self.started = true;
        let doc = sarif_document(sarif_rules(self.program), Vec::new(), None);
        let text = serde_json::to_string(&doc)?;
        // the document up to the (empty) results array, left open: `...,"results":[`
        let head = text
            .strip_suffix("]}]}")
            .ok_or_else(|| io::Error::other("unexpected SARIF document shape"))?;
        self.out.write_all(head.as_bytes())
    }
}

impl FindingWriter for Sarif<'_> {
    fn finding(&mut self, f: &FindingRef<'_>) -> io::Result<()> {
        self.start()?;
        let index = self
            .program
            .rules
            .iter()
            .position(|r| r.id == f.rule)
            .map_or(-1, |i| i as i64);
        let result = serde_json::json!({
            "ruleId": f.rule,
            "ruleIndex": index,
            "level": sarif_level(f.severity),
            "message": {"text": f.message},
            "locations": [{"physicalLocation": {
                "artifactLocation": {"uri": sarif_uri(f.source)},
                "region": {"startLine": f.line.max(1)}
            }}],
            "partialFingerprints": {"beian/v1": format!(
                "{}:{}:{}", f.rule, f.record, f.element.map_or(String::new(), |e| e.to_string())
            )},
            "properties": {
                "source": f.source,
                "line": f.line,
                "record": f.record,
                "category": f.category,
                "severity": f.severity,
                "element": f.element,
                "deadline": f.deadline,
                "days_left": f.days_left,
                "overdue": f.overdue,
            }
        });
        if !self.first {
            self.out.write_all(b",")?;
        }
        self.first = false;
        self.out.write_all(b"\n")?;
        serde_json::to_writer(&mut self.out, &result).map_err(io::Error::from)
    }

    fn finish(&mut self, summary: &serde_json::Value) -> io::Result<()> {
        self.start()?;
        self.out.write_all(b"\n],\"properties\":{\"summary\":")?;
        serde_json::to_writer(&mut self.out, summary)?;
        self.out.write_all(b"}}]}\n")?;
        self.out.flush()
    }
}

/// A path as a SARIF artifact URI (a relative reference): `\` becomes `/`, and characters
/// that a URI cannot hold are percent-encoded.
pub fn sarif_uri(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.replace('\\', "/").bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/!$&'()*+,;=:@".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A SARIF 2.1.0 document with one run of beian.
pub fn sarif_document(
    rules: Vec<serde_json::Value>,
    results: Vec<serde_json::Value>,
    summary: Option<serde_json::Value>,
) -> serde_json::Value {
    let mut run = serde_json::json!({
        "tool": {"driver": {
            "name": "beian",
            "version": env!("CARGO_PKG_VERSION"),
            "informationUri": "https://beian.miit.gov.cn/",
            "rules": rules,
        }},
        "results": results,
    });
    if let (Some(s), Some(obj)) = (summary, run.as_object_mut()) {
        obj.insert("properties".into(), serde_json::json!({"summary": s}));
    }
    serde_json::json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [run],
    })
}

/// Rows are buffered (the first [`TABLE_BUFFER`]) to size the columns, then printed aligned by
/// display width, so Chinese text lines up; later rows use those widths.
struct Table<'w> {
    out: Box<dyn Write + 'w>,
    program: &'w Program,
    rows: Vec<[String; 6]>,
    widths: Option<[usize; 6]>,
    count: u64,
    summary: bool,
}

const TABLE_BUFFER: usize = 2000;
const TABLE_HEADER: [&str; 6] = ["位置", "记录", "规则", "级别", "截止", "消息"];
/// Columns wider than this (in terminal cells) are cut with `…` (not the message).
const TABLE_MAX_WIDTH: usize = 40;

/// `s` cut to at most `width` terminal cells (with `…` when cut), then padded to `width`.
fn fit(s: &str, width: usize) -> String {
    let w = UnicodeWidthStr::width(s);
    let mut out = String::with_capacity(s.len() + width);
    if w <= width {
        out.push_str(s);
        out.extend(std::iter::repeat_n(' ', width - w));
        return out;
    }
    let mut used = 0;
    for c in s.chars() {
        let cw = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        if used + cw + 1 > width {
            break;
        }
        out.push(c);
        used += cw;
    }
    out.push('…');
    used += 1;
    out.extend(std::iter::repeat_n(' ', width.saturating_sub(used)));
    out
}

/// Control characters (a newline in a message) would break the table's lines.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

impl Table<'_> {
    fn flush_rows(&mut self) -> io::Result<()> {
        let widths = match self.widths {
            Some(w) => w,
            None => {
                let mut widths = [0usize; 6];
                let header = TABLE_HEADER.map(String::from);
                for row in std::iter::once(&header).chain(self.rows.iter()) {
                    for (w, cell) in widths.iter_mut().zip(row.iter()) {
                        *w = (*w)
                            .max(UnicodeWidthStr::width(cell.as_str()))
                            .min(TABLE_MAX_WIDTH);
                    }
                }
                self.widths = Some(widths);
                self.write_row(&header, &widths)?;
                let rule: Vec<String> = widths.iter().map(|w| "-".repeat((*w).max(2))).collect();
                writeln!(self.out, "{}", rule.join("  "))?;
                widths
            }
        };
        let rows = std::mem::take(&mut self.rows);
        for row in &rows {
            self.write_row(row, &widths)?;
        }
        Ok(())
    }

    fn write_row(&mut self, row: &[String; 6], widths: &[usize; 6]) -> io::Result<()> {
        let mut line = String::new();
        for (i, (cell, w)) in row.iter().zip(widths.iter()).enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(&fit(cell, *w));
                line.push_str("  ");
            }
        }
        writeln!(self.out, "{}", line.trim_end())
    }
}

impl FindingWriter for Table<'_> {
    fn finding(&mut self, f: &FindingRef<'_>) -> io::Result<()> {
        self.count += 1;
        let deadline = match (f.deadline, f.days_left) {
            (Some(d), Some(n)) if n < 0 => format!("{d} (逾期{}天)", -n),
            (Some(d), Some(n)) => format!("{d} (剩{n}天)"),
            _ => String::new(),
        };
        let element = f.element.map(|e| format!("[{e}]")).unwrap_or_default();
        self.rows.push([
            one_line(&format!("{}:{}", f.source, f.line)),
            one_line(f.record),
            format!("{}{element}", f.rule),
            f.severity.to_string(),
            deadline,
            one_line(f.message),
        ]);
        if self.rows.len() >= TABLE_BUFFER {
            self.flush_rows()?;
        }
        Ok(())
    }

    fn finish(&mut self, summary: &serde_json::Value) -> io::Result<()> {
        if self.count == 0 {
            writeln!(self.out, "没有发现问题 (no findings)")?;
        } else {
            self.flush_rows()?;
        }
        if self.summary {
            writeln!(self.out)?;
            writeln!(self.out, "{}", summary_text(summary, self.program))?;
        }
        self.out.flush()
    }
}

/// The summary as text for standard error.
pub fn summary_text(summary: &serde_json::Value, program: &Program) -> String {
    use std::fmt::Write as _;
    let g = |k: &str| {
        summary
            .get(k)
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0)
    };
    let mut s = String::new();
    let _ = writeln!(
        s,
        "beian: {} records read, {} evaluated, {} rejected, {} field errors; {} findings",
        g("records_read"),
        g("records_evaluated"),
        g("records_rejected"),
        g("field_errors"),
        g("findings")
    );
    if let Some(by) = summary.get("by_severity") {
        let n = |k: &str| by.get(k).and_then(serde_json::Value::as_u64).unwrap_or(0);
        let _ = writeln!(
            s,
            "  critical {}, error {}, warning {}, info {}; waived {}",
            n("critical"),
            n("error"),
            n("warning"),
            n("info"),
            g("waived")
        );
    }
    if let Some(by_rule) = summary
        .get("by_rule")
        .and_then(serde_json::Value::as_object)
    {
        for (id, c) in by_rule {
            let n = |k: &str| c.get(k).and_then(serde_json::Value::as_u64).unwrap_or(0);
            if n("findings") + n("undetermined") + n("waived") == 0 {
                continue;
            }
            let title = program
                .rules
                .iter()
                .find(|r| &r.id == id)
                .map(|r| r.title.as_str())
                .unwrap_or("");
            let _ = writeln!(
                s,
                "  {id:<12} {:>6} findings {:>6} undetermined {:>4} waived  {title}",
                n("findings"),
                n("undetermined"),
                n("waived")
            );
        }
    }
    let _ = write!(
        s,
        "  as_of {}",
        summary
            .get("as_of")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("")
    );
    // a document on standard output has no time (see `cli::scan`)
    if let Some(secs) = summary.get("elapsed_s").and_then(serde_json::Value::as_f64) {
        let _ = write!(s, ", {secs:.2}s");
    }
    s
}
