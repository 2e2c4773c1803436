//! Stage 6, scan: streams inputs in chunks, converts and evaluates each chunk's records in
//! parallel with rayon, and hands findings and error entries to a [`Sink`] in input order
//! (argument order, then line, then rule order, then element), so the output is byte-identical
//! for any thread count. Memory is bounded by the chunk size, whatever the input's size.

use std::sync::Arc;
use std::time::Instant;

use chrono::NaiveDate;
use rayon::prelude::*;

use crate::eval::{evaluate, Finding};
use crate::input::convert::{record_from_json, slot_value, Ctx, FieldError};
use crate::input::csv::Plan;
use crate::input::{self, EncodingChoice, Format, Raw};
use crate::load::Severity;
use crate::program::Program;
use crate::value::Value;
use crate::waivers::Waivers;

/// Records per chunk: large enough to keep every core busy, small enough to bound memory.
pub const CHUNK_RECORDS: usize = 4096;

#[derive(Debug, Clone)]
pub struct Options {
    pub as_of: NaiveDate,
    pub select: Vec<String>,
    pub ignore: Vec<String>,
    pub input_format: Option<Format>,
    pub encoding: EncodingChoice,
    /// Worker threads (0: one per core).
    pub threads: usize,
}

/// A finding with where it came from, ready to write.
#[derive(Debug, Clone)]
pub struct Row<'a> {
    pub source: &'a str,
    pub line: usize,
    pub record: &'a str,
    pub finding: &'a Finding,
}

/// A rejected record or a field error.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorEntry {
    pub source: String,
    pub line: usize,
    pub record: Option<String>,
    pub field: Option<String>,
    pub value: String,
    pub reason: String,
}

impl ErrorEntry {
    pub fn to_json(&self) -> serde_json::Value {
        let mut m = serde_json::Map::new();
        m.insert("source".into(), self.source.clone().into());
        m.insert("line".into(), self.line.into());
        m.insert("record".into(), self.record.clone().into());
        m.insert("field".into(), self.field.clone().into());
        m.insert("value".into(), self.value.clone().into());
        m.insert("reason".into(), self.reason.clone().into());
        serde_json::Value::Object(m)
    }
}

/// Receives the scan's output in order.
pub trait Sink {
    fn finding(&mut self, row: &Row<'_>) -> std::io::Result<()>;
    fn error(&mut self, entry: &ErrorEntry) -> std::io::Result<()>;
    /// Called after each chunk (progress).
    fn progress(&mut self, _records: u64) {}
}

/// Per-rule counts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuleCounts {
    pub findings: u64,
    pub undetermined: u64,
    pub waived: u64,
}

#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub records_read: u64,
    pub records_evaluated: u64,
    pub records_rejected: u64,
    pub field_errors: u64,
    pub findings: u64,
    /// info, warning, error, critical
    pub by_severity: [u64; 4],
    /// (rule index, counts) for every selected, active rule, in pack order.
    pub by_rule: Vec<(usize, RuleCounts)>,
    pub waived: u64,
    pub expired_waivers: Vec<serde_json::Value>,
    pub unused_waivers: Vec<serde_json::Value>,
    pub as_of: Option<NaiveDate>,
    pub elapsed_s: f64,
    /// The highest severity among reported findings.
    pub max_severity: Option<Severity>,
}

impl Summary {
    pub fn to_json(&self, program: &Program) -> serde_json::Value {
        use serde_json::json;
        let mut by_rule = serde_json::Map::new();
        for (ri, c) in &self.by_rule {
            if let Some(r) = program.rules.get(*ri) {
                by_rule.insert(
                    r.id.clone(),
                    json!({"findings": c.findings, "undetermined": c.undetermined, "waived": c.waived}),
                );
            }
        }
        let [info, warning, error, critical] = self.by_severity;
        json!({
            "records_read": self.records_read,
            "records_evaluated": self.records_evaluated,
            "records_rejected": self.records_rejected,
            "field_errors": self.field_errors,
            "findings": self.findings,
            "by_severity": {"info": info, "warning": warning, "error": error, "critical": critical},
            "by_rule": by_rule,
            "waived": self.waived,
            "expired_waivers": self.expired_waivers,
            "unused_waivers": self.unused_waivers,
            "as_of": self.as_of.map(|d| d.format("%Y-%m-%d").to_string()),
            "elapsed_s": (self.elapsed_s * 1000.0).round() / 1000.0,
        })
    }
}

/// Whether a `--select`/`--ignore` item names a rule: its id, its category, or a prefix of its
/// id ending in `-`.
pub fn matches_item(item: &str, id: &str, category: &str) -> bool {
    item == id || item == category || (item.ends_with('-') && id.starts_with(item))
}

/// The rules to run at `as_of`: enabled, effective, selected and not ignored, in pack order.
pub fn selected_rules(
    program: &Program,
    as_of: NaiveDate,
    select: &[String],
    ignore: &[String],
) -> Vec<usize> {
    program
        .rules
        .iter()
        .enumerate()
        .filter(|(_, r)| r.active(as_of))
        .filter(|(_, r)| {
            select.is_empty() || select.iter().any(|s| matches_item(s, &r.id, &r.category))
        })
        .filter(|(_, r)| !ignore.iter().any(|s| matches_item(s, &r.id, &r.category)))
        .map(|(i, _)| i)
        .collect()
}

/// The outcome of one record.
enum Processed {
    Rejected {
        line: usize,
        value: String,
        reason: String,
    },
    Evaluated {
        line: usize,
        key: String,
        findings: Vec<Finding>,
        undetermined: Vec<(usize, u32)>,
        field_errors: Vec<FieldError>,
    },
}

/// A record's key as text: the key field rendered like a message value, or the line number.
pub fn record_key(program: &Program, record: &[Value], line: usize) -> String {
    match &program.key {
        Some((path, ty)) => match slot_value(record, path) {
            Some(v) if !v.is_null() => v.render(ty),
            _ => line.to_string(),
        },
        None => line.to_string(),
    }
}

/// Converts a raw record into slots (or the reason it is rejected).
pub fn convert(
    program: &Program,
    raw: &Raw,
    plan: Option<&Plan>,
) -> Result<(usize, Vec<Value>, Vec<FieldError>), (usize, String, String)> {
    let mut ctx = Ctx::default();
    match raw {
        Raw::Rejected {
            line,
            value,
            reason,
        } => Err((*line, value.clone(), reason.clone())),
        Raw::Json { line, text } => {
            let mut de = serde_json::Deserializer::from_str(text);
            let rec = record_from_json(&mut de, &program.schema, &mut ctx)
                .and_then(|r| de.end().map(|_| r));
            match rec {
                Ok(r) => Ok((*line, r, ctx.errors)),
                Err(e) => {
                    let reason = if e.is_data() && !text.trim_start().starts_with('{') {
                        "not a json object".to_string()
                    } else {
                        format!("invalid json: {e}")
                    };
                    Err((
                        *line,
                        input::truncate_chars(text, input::MAX_ERROR_VALUE_CHARS),
                        reason,
                    ))
                }
            }
        }
        Raw::Row { line, cells, raw } => {
            let Some(plan) = plan else {
                return Err((*line, raw.clone(), "a row without a header".into()));
            };
            let r = plan.record(cells, &program.schema, &mut ctx);
            Ok((*line, r, ctx.errors))
        }
    }
}

fn process(
    program: &Program,
    rules: &[usize],
    as_of: NaiveDate,
    raw: &Raw,
    plan: Option<&Plan>,
) -> Processed {
    match convert(program, raw, plan) {
        Err((line, value, reason)) => Processed::Rejected {
            line,
            value,
            reason,
        },
        Ok((line, record, field_errors)) => {
            let key = record_key(program, &record, line);
            let out = evaluate(program, rules, &record, as_of);
            Processed::Evaluated {
                line,
                key,
                findings: out.findings,
                undetermined: out.undetermined,
                field_errors,
            }
        }
    }
}

/// An input that could not be opened or read: stops the scan (exit 2).
#[derive(Debug)]
pub struct InputError {
    pub path: String,
    pub error: std::io::Error,
}

/// Scans `inputs` with `program`. Findings and error entries go to `sink` in input order.
pub fn run(
    program: &Program,
    inputs: &[String],
    opts: &Options,
    waivers: Option<&Waivers>,
    sink: &mut dyn Sink,
) -> Result<Summary, InputError> {
    let started = Instant::now();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads)
        .build()
        .map_err(|e| InputError {
            path: "threads".into(),
            error: std::io::Error::other(e),
        })?;
    let rules = selected_rules(program, opts.as_of, &opts.select, &opts.ignore);
    let mut summary = Summary {
        as_of: Some(opts.as_of),
        by_rule: rules.iter().map(|&r| (r, RuleCounts::default())).collect(),
        ..Summary::default()
    };
    // rule index -> position in by_rule
    let mut pos = vec![usize::MAX; program.rules.len()];
    for (i, &r) in rules.iter().enumerate() {
        if let Some(p) = pos.get_mut(r) {
            *p = i;
        }
    }
    let mut waiver_used = vec![false; waivers.map_or(0, |w| w.entries.len())];
    let mut chunk: Vec<Raw> = Vec::with_capacity(CHUNK_RECORDS);
    for path in inputs {
        let format = opts
            .input_format
            .or_else(|| Format::from_path(path))
            .unwrap_or(Format::Jsonl);
        let source: Arc<str> = Arc::from(path.as_str());
        let mut reader =
            input::open(path, format, opts.encoding, &program.schema).map_err(|error| {
                InputError {
                    path: path.clone(),
                    error,
                }
            })?;
        loop {
            chunk.clear();
            let more = reader
                .next_chunk(&mut chunk, CHUNK_RECORDS)
                .map_err(|error| InputError {
                    path: path.clone(),
                    error,
                })?;
            let plan = reader.plan();
            let results: Vec<Processed> = pool.install(|| {
                chunk
                    .par_iter()
                    .map(|raw| process(program, &rules, opts.as_of, raw, plan))
                    .collect()
            });
            for p in results {
                summary.records_read += 1;
                emit(
                    program,
                    &source,
                    p,
                    &mut summary,
                    &pos,
                    waivers,
                    &mut waiver_used,
                    opts.as_of,
                    sink,
                )
                .map_err(|error| InputError {
                    path: "output".into(),
                    error,
                })?;
            }
            sink.progress(summary.records_read);
            if !more {
                break;
            }
        }
    }
    if let Some(w) = waivers {
        for (i, entry) in w.entries.iter().enumerate() {
            if entry.until < opts.as_of {
                summary.expired_waivers.push(entry.raw.clone());
            } else if !waiver_used.get(i).copied().unwrap_or(false) {
                summary.unused_waivers.push(entry.raw.clone());
            }
        }
    }
    summary.elapsed_s = started.elapsed().as_secs_f64();
    Ok(summary)
}

#[allow(clippy::too_many_arguments)]
fn emit(
    program: &Program,
    source: &str,
    p: Processed,
    summary: &mut Summary,
    pos: &[usize],
    waivers: Option<&Waivers>,
    waiver_used: &mut [bool],
    as_of: NaiveDate,
    sink: &mut dyn Sink,
) -> std::io::Result<()> {
    match p {
        Processed::Rejected {
            line,
            value,
            reason,
        } => {
            summary.records_rejected += 1;
            sink.error(&ErrorEntry {
                source: source.to_string(),
                line,
                record: None,
                field: None,
                value,
                reason,
            })
        }
        Processed::Evaluated {
            line,
            key,
            findings,
            undetermined,
            field_errors,
        } => {
            summary.records_evaluated += 1;
            for fe in field_errors {
                summary.field_errors += 1;
                sink.error(&ErrorEntry {
                    source: source.to_string(),
                    line,
                    record: Some(key.clone()),
                    field: Some(fe.field),
                    value: fe.value,
                    reason: fe.reason,
                })?;
            }
            for (ri, n) in undetermined {
                if let Some((_, c)) = pos.get(ri).and_then(|&p| summary.by_rule.get_mut(p)) {
                    c.undetermined += u64::from(n);
                }
            }
            for f in &findings {
                let Some(rule) = program.rules.get(f.rule) else {
                    continue;
                };
                let counts = pos
                    .get(f.rule)
                    .and_then(|&p| summary.by_rule.get_mut(p))
                    .map(|(_, c)| c);
                if let Some(w) = waivers {
                    if let Some(i) = w.find(&rule.id, &key, f.element, as_of) {
                        if let Some(u) = waiver_used.get_mut(i) {
                            *u = true;
                        }
                        summary.waived += 1;
                        if let Some(c) = counts {
                            c.waived += 1;
                        }
                        continue;
                    }
                }
                if let Some(c) = counts {
                    c.findings += 1;
                }
                summary.findings += 1;
                if let Some(s) = summary.by_severity.get_mut(rule.severity as usize) {
                    *s += 1;
                }
                summary.max_severity = summary.max_severity.max(Some(rule.severity));
                sink.finding(&Row {
                    source,
                    line,
                    record: &key,
                    finding: f,
                })?;
            }
            Ok(())
        }
    }
}
