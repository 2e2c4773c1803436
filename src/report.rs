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
    fn finding(&mut self, f: &FindingOut) -> io::Result<()>;
    fn finish(&mut self, summary: &serde_json::Value) -> io::Result<()>;
}

pub fn writer<'w>(
    format: OutputFormat,
    out: Box<dyn Write + 'w>,
    program: &'w Program,
) -> Box<dyn FindingWriter + 'w> {
    match format {
        OutputFormat::Jsonl => Box::new(Jsonl { out }),
        OutputFormat::Json => Box::new(Json { out, first: true }),
        OutputFormat::Csv => Box::new(Csv::new(out)),
        OutputFormat::Sarif => Box::new(Sarif {
            out,
            program,
            results: Vec::new(),
        }),
        OutputFormat::Table => Box::new(Table {
            out,
            rows: Vec::new(),
            flushed: false,
        }),
    }
}

struct Jsonl<'w> {
    out: Box<dyn Write + 'w>,
}

impl FindingWriter for Jsonl<'_> {
    fn finding(&mut self, f: &FindingOut) -> io::Result<()> {
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
    fn finding(&mut self, f: &FindingOut) -> io::Result<()> {
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

/// Guards a text cell against spreadsheet formula injection (SPEC §4).
pub fn csv_guard(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
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

impl FindingWriter for Csv<'_> {
    fn finding(&mut self, f: &FindingOut) -> io::Result<()> {
        self.write_header()?;
        let opt = |v: Option<String>| v.unwrap_or_default();
        self.out.write_record([
            csv_guard(&f.source),
            f.line.to_string(),
            csv_guard(&f.record),
            csv_guard(&f.rule),
            csv_guard(&f.category),
            csv_guard(&f.severity),
            opt(f.element.map(|e| e.to_string())),
            csv_guard(&f.message),
            opt(f.deadline.clone()),
            opt(f.days_left.map(|d| d.to_string())),
            opt(f.overdue.map(|o| o.to_string())),
        ])?;
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

struct Sarif<'w> {
    out: Box<dyn Write + 'w>,
    program: &'w Program,
    results: Vec<serde_json::Value>,
}

impl FindingWriter for Sarif<'_> {
    fn finding(&mut self, f: &FindingOut) -> io::Result<()> {
        let index = self.program.rules.iter().position(|r| r.id == f.rule);
        self.results.push(serde_json::json!({
            "ruleId": f.rule,
            "ruleIndex": index,
            "level": sarif_level(&f.severity),
            "message": {"text": f.message},
            "locations": [{"physicalLocation": {
                "artifactLocation": {"uri": f.source},
                "region": {"startLine": f.line.max(1)}
            }}],
            "properties": {
                "record": f.record,
                "category": f.category,
                "severity": f.severity,
                "element": f.element,
                "deadline": f.deadline,
                "days_left": f.days_left,
                "overdue": f.overdue,
            }
        }));
        Ok(())
    }

    fn finish(&mut self, summary: &serde_json::Value) -> io::Result<()> {
        let rules: Vec<serde_json::Value> = self
            .program
            .rules
            .iter()
            .map(|r| {
                let mut rule = serde_json::json!({
                    "id": r.id,
                    "name": r.title,
                    "shortDescription": {"text": r.title},
                    "defaultConfiguration": {"level": sarif_level(r.severity.as_str())},
                    "properties": {"category": r.category, "severity": r.severity.as_str()},
                });
                if let Some(remedy) = &r.remedy {
                    rule["help"] = serde_json::json!({"text": remedy});
                }
                if let Some(src) = &r.source {
                    rule["fullDescription"] = serde_json::json!({"text": src});
                }
                rule
            })
            .collect();
        let doc = sarif_document(
            rules,
            std::mem::take(&mut self.results),
            Some(summary.clone()),
        );
        serde_json::to_writer_pretty(&mut self.out, &doc)?;
        self.out.write_all(b"\n")?;
        self.out.flush()
    }
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
    if let Some(s) = summary {
        run["properties"] = serde_json::json!({"summary": s});
    }
    serde_json::json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [run],
    })
}

/// Rows are buffered (up to a limit) to size the columns, then printed aligned by display
/// width, so Chinese text lines up.
struct Table<'w> {
    out: Box<dyn Write + 'w>,
    rows: Vec<[String; 6]>,
    flushed: bool,
}

const TABLE_BUFFER: usize = 2000;
const TABLE_HEADER: [&str; 6] = ["位置", "记录", "规则", "级别", "截止", "消息"];

fn pad(s: &str, width: usize) -> String {
    let w = UnicodeWidthStr::width(s);
    let mut out = s.to_string();
    out.extend(std::iter::repeat_n(' ', width.saturating_sub(w)));
    out
}

impl Table<'_> {
    fn flush_rows(&mut self) -> io::Result<()> {
        let mut widths = [0usize; 6];
        for row in std::iter::once(TABLE_HEADER.map(String::from)).chain(self.rows.iter().cloned())
        {
            for (w, cell) in widths.iter_mut().zip(row.iter()) {
                *w = (*w).max(UnicodeWidthStr::width(cell.as_str()).min(48));
            }
        }
        if !self.flushed {
            let header: Vec<String> = TABLE_HEADER
                .iter()
                .zip(widths.iter())
                .map(|(h, w)| pad(h, *w))
                .collect();
            writeln!(self.out, "{}", header.join("  ").trim_end())?;
        }
        for row in self.rows.drain(..) {
            let cells: Vec<String> = row
                .iter()
                .zip(widths.iter())
                .map(|(c, w)| pad(c, *w))
                .collect();
            writeln!(self.out, "{}", cells.join("  ").trim_end())?;
        }
        self.flushed = true;
        Ok(())
    }
}

impl FindingWriter for Table<'_> {
    fn finding(&mut self, f: &FindingOut) -> io::Result<()> {
        let deadline = match (&f.deadline, f.days_left) {
            (Some(d), Some(n)) if n < 0 => format!("{d} (逾期{}天)", -n),
            (Some(d), Some(n)) => format!("{d} ({n}天)"),
            _ => String::new(),
        };
        let element = f.element.map(|e| format!("[{e}]")).unwrap_or_default();
        self.rows.push([
            format!("{}:{}", f.source, f.line),
            f.record.clone(),
            format!("{}{element}", f.rule),
            f.severity.clone(),
            deadline,
            f.message.clone(),
        ]);
        if self.rows.len() >= TABLE_BUFFER {
            self.flush_rows()?;
        }
        Ok(())
    }

    fn finish(&mut self, _summary: &serde_json::Value) -> io::Result<()> {
        if !self.rows.is_empty() || !self.flushed {
            if self.rows.is_empty() {
                writeln!(self.out, "没有发现问题 (no findings)")?;
                self.flushed = true;
            } else {
                self.flush_rows()?;
            }
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
        "  as_of {}, {:.2}s",
        summary
            .get("as_of")
            .and_then(serde_json::Value::as_str)
            .unwrap_or(""),
        summary
            .get("elapsed_s")
            .and_then(serde_json::Value::as_f64)
            .unwrap_or(0.0)
    );
    s
}
