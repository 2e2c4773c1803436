//! Stage 6, scan: streams inputs in chunks, converts and evaluates each chunk's records in
//! parallel with rayon, and hands findings and error entries to a [`Sink`] in input order
//! (argument order, then line, then rule order, then element), so the output is byte-identical
//! for any thread count. Memory is bounded by the chunk size, whatever the input's size.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::Arc;
use std::time::Instant;

use chrono::NaiveDate;
use rayon::prelude::*;

use crate::eval::Finding;
use crate::input::convert::{record_from_json, record_from_json_text, slot_value, Ctx, FieldError};
use crate::input::{self, Chunk, EncodingChoice, Format, Raw, Recycler};
use crate::load::Severity;
use crate::program::Program;
use crate::value::Value;
use crate::waivers::Waivers;

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
            // hundredths, as the text summary shows it (the documents on standard output
            // give null: see `cli::scan`)
            "elapsed_s": (self.elapsed_s * 100.0).round() / 100.0,
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

/// The outcome of one record, small: a chunk's outcomes are collected, and most records
/// have nothing to report.
enum Processed {
    /// Evaluated, with no finding, no undetermined rule and no field error.
    Clean,
    Rejected(Box<Rejection>),
    /// A syntax error in an element of a JSON array: the rest of the file is one rejected
    /// record (SPEC §7).
    RejectRest(Box<Rejection>),
    Evaluated(Box<Evaluated>),
}

struct Rejection {
    line: usize,
    value: String,
    reason: String,
}

/// An evaluated record with something to report.
struct Evaluated {
    line: usize,
    /// The record's key; only rendered when there is a finding or a field error.
    key: Option<String>,
    findings: Vec<Finding>,
    undetermined: Vec<(usize, u32)>,
    field_errors: Vec<FieldError>,
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

/// Why a record is not one: its line, its text (at most 200 characters) and the reason.
pub type RejectedRecord = (usize, String, String);

/// A record converted into the schema's slots.
enum Converted {
    Record(Vec<Value>),
    Rejected(RejectedRecord),
    RejectRest(RejectedRecord),
}

/// A worker's reusable state: the field-error collector, a row's cells, the cells of lets.
#[derive(Default)]
pub struct Worker<'s> {
    ctx: Ctx<'s>,
    cells: Vec<input::Cell>,
    lets: crate::exec::Cells,
}

/// Converts one record of a chunk into slots, recording field errors in `w.ctx`.
fn convert_in<'s>(
    program: &'s Program,
    chunk: &'s Chunk,
    raw: &Raw,
    w: &mut Worker<'s>,
) -> Converted {
    match raw {
        Raw::Rejected {
            line,
            value,
            reason,
        } => Converted::Rejected((*line, value.clone(), reason.clone())),
        Raw::Json { line, bytes } => {
            let line = *line;
            let bytes = chunk.bytes(bytes);
            let Some(text) = chunk.encoding.decode(bytes) else {
                return Converted::Rejected((
                    line,
                    chunk.encoding.lossy(bytes),
                    chunk.encoding.invalid_reason().to_string(),
                ));
            };
            // store only the fields the rules read (the others are still checked)
            w.ctx.set_usage(Some(&program.usage));
            if let Some(r) = record_from_json_text(&text, &program.schema, &mut w.ctx) {
                return Converted::Record(r);
            }
            let mut de = serde_json::Deserializer::from_str(&text);
            let rec = record_from_json(&mut de, &program.schema, &mut w.ctx)
                .and_then(|r| de.end().map(|()| r));
            match rec {
                Ok(r) => Converted::Record(r),
                Err(e) => {
                    w.ctx.clear();
                    json_error(chunk.format, line, &text, &e)
                }
            }
        }
        Raw::Row { line, raw, cells } => {
            let line = *line;
            let bytes = chunk.bytes(raw);
            let Some(plan) = &chunk.plan else {
                return Converted::Rejected((
                    line,
                    chunk.encoding.lossy(bytes),
                    "a row without a header".into(),
                ));
            };
            let Some(text) = chunk.encoding.decode(bytes) else {
                return Converted::Rejected((
                    line,
                    chunk.encoding.lossy(bytes),
                    format!("row {}", chunk.encoding.invalid_reason()),
                ));
            };
            // delimiters and quotes are ASCII, never inside a GB18030 character: the decoded
            // text splits like the bytes
            let delim = if chunk.format == Format::Tsv {
                b'\t'
            } else {
                b','
            };
            match (&text, chunk.cell_ends.get(cells.clone())) {
                // UTF-8 text is the bytes the reader split
                (std::borrow::Cow::Borrowed(_), Some(ends)) => {
                    input::unpack_cells(ends, &mut w.cells)
                }
                _ => input::csv::split_row_into(text.as_bytes(), delim, &mut w.cells),
            }
            w.ctx.set_usage(Some(&program.usage));
            Converted::Record(plan.record(&text, &w.cells, 0, &program.schema, &mut w.ctx))
        }
    }
}

/// A record that is not valid JSON, or not an object.
fn json_error(format: Format, line: usize, text: &str, e: &serde_json::Error) -> Converted {
    let value = |from_line: usize| {
        let start = input::json_array::line_start(text.as_bytes(), from_line);
        input::truncate_chars(
            text.get(start..).unwrap_or(""),
            input::MAX_ERROR_VALUE_CHARS,
        )
    };
    if format == Format::Json {
        // an element of an array: a syntax error rejects the rest of the file
        let syntax = if e.is_data() {
            serde_json::from_str::<serde::de::IgnoredAny>(text).err()
        } else {
            None
        };
        let syntax = match (e.is_data(), &syntax) {
            (false, _) => Some(e),
            (true, Some(s)) => Some(s),
            (true, None) => None,
        };
        return match syntax {
            Some(s) => {
                let n = s.line().saturating_sub(1);
                // serde_json's position is within the element: the file's line is `line + n`,
                // and its column is the file's too unless the error is on the element's first
                // line (which may start after `[` or `,`)
                let at = if n > 0 {
                    format!(
                        " at line {} column {}",
                        line + n,
                        char_column(text, n, s.column())
                    )
                } else {
                    format!(" at line {line}")
                };
                Converted::RejectRest((
                    line + n,
                    value(n),
                    format!("invalid json: {}{at}", json_message(s)),
                ))
            }
            None => Converted::Rejected((
                line,
                value(0),
                "an array element that is not an object".into(),
            )),
        };
    }
    let reason = if e.is_data() && !text.trim_start().starts_with('{') {
        "not a JSON object".to_string()
    } else if e.line() > 0 {
        // a JSON Lines record is one line: its column is the file's
        format!(
            "invalid json: {} at line {line} column {}",
            json_message(e),
            char_column(text, 0, e.column())
        )
    } else {
        format!("invalid json: {e}")
    };
    Converted::Rejected((line, value(0), reason))
}

/// serde_json's column (1-based, in bytes) on line `n` (0-based) of `text`, in characters, as
/// every other position this program reports.
fn char_column(text: &str, n: usize, byte_column: usize) -> usize {
    let start = input::json_array::line_start(text.as_bytes(), n);
    let line = text.get(start..).unwrap_or("");
    let upto = byte_column.saturating_sub(1).min(line.len());
    line.char_indices().take_while(|(i, _)| *i < upto).count() + 1
}

/// serde_json's message without the position it appends (` at line L column C`), which
/// counts from the start of the record's text, not of the file.
fn json_message(e: &serde_json::Error) -> String {
    let full = e.to_string();
    let position = format!(" at line {} column {}", e.line(), e.column());
    match full.strip_suffix(&position) {
        Some(message) => message.to_string(),
        None => full,
    }
}

/// Converts a record of a chunk into slots (or says why it is rejected), with a worker's
/// reusable state `w` (as a scan's worker keeps it from record to record); for tools and
/// benchmarks. The error is (line, text, reason).
pub fn convert<'s>(
    program: &'s Program,
    chunk: &'s Chunk,
    raw: &Raw,
    w: &mut Worker<'s>,
) -> Result<(usize, Vec<Value>, Vec<FieldError>), RejectedRecord> {
    match convert_in(program, chunk, raw, w) {
        Converted::Record(r) => Ok((raw.line(), r, w.ctx.take_errors())),
        Converted::Rejected(r) | Converted::RejectRest(r) => Err(r),
    }
}

fn process<'s>(
    program: &'s Program,
    rules: &[usize],
    as_of: NaiveDate,
    chunk: &'s Chunk,
    raw: &Raw,
    w: &mut Worker<'s>,
) -> Processed {
    match convert_in(program, chunk, raw, w) {
        Converted::Rejected((line, value, reason)) => Processed::Rejected(Box::new(Rejection {
            line,
            value,
            reason,
        })),
        Converted::RejectRest((line, value, reason)) => {
            Processed::RejectRest(Box::new(Rejection {
                line,
                value,
                reason,
            }))
        }
        Converted::Record(record) => {
            let line = raw.line();
            let field_errors = w.ctx.take_errors();
            let out = crate::exec::evaluate(program, rules, &record, as_of, &mut w.lets);
            if out.findings.is_empty() && out.undetermined.is_empty() && field_errors.is_empty() {
                return Processed::Clean;
            }
            let key = (!out.findings.is_empty() || !field_errors.is_empty())
                .then(|| record_key(program, &record, line));
            Processed::Evaluated(Box::new(Evaluated {
                line,
                key,
                findings: out.findings,
                undetermined: out.undetermined,
                field_errors,
            }))
        }
    }
}

/// Converts and evaluates a chunk's records in parallel; the results are in input order.
fn process_chunk(
    program: &Program,
    rules: &[usize],
    as_of: NaiveDate,
    chunk: &Chunk,
) -> Vec<Processed> {
    chunk
        .records
        .par_iter()
        .with_min_len(8)
        .map_init(Worker::default, |w, raw| {
            process(program, rules, as_of, chunk, raw, w)
        })
        .collect()
}

/// An input that could not be opened or read, or output that could not be written: stops the
/// scan (exit 2).
#[derive(Debug)]
pub struct InputError {
    pub path: String,
    pub error: std::io::Error,
    /// Writing the output failed (not reading `path`).
    pub output: bool,
}

/// What the reader hands on: a chunk of input `n`, or the error that stopped it.
type ReadItem = Result<(usize, Chunk), InputError>;
/// What the workers hand on: the results of a chunk of input `n`.
type DoneItem = Result<(usize, Vec<Processed>), InputError>;

/// Chunks in flight between the stages (each holds one block of input).
const PIPELINE_DEPTH: usize = 2;

/// Reads every input in order, a chunk at a time, until the end or until the consumer hangs up.
fn read_inputs(
    program: &Program,
    inputs: &[String],
    opts: &Options,
    abandoned: &[AtomicBool],
    recycler: &Arc<Recycler>,
    tx: &SyncSender<ReadItem>,
) {
    for (n, path) in inputs.iter().enumerate() {
        let format = opts
            .input_format
            .or_else(|| Format::from_path(path))
            .unwrap_or(Format::Jsonl);
        let opened = input::open_with(
            path,
            format,
            opts.encoding,
            &program.schema,
            Some(recycler.clone()),
        );
        let mut reader = match opened {
            Ok(r) => r,
            Err(error) => {
                let _ = tx.send(Err(InputError {
                    path: path.clone(),
                    error,
                    output: false,
                }));
                return;
            }
        };
        loop {
            if abandoned.get(n).is_some_and(|a| a.load(Ordering::Relaxed)) {
                break;
            }
            match reader.next_chunk() {
                Ok(Some(chunk)) => {
                    if chunk.records.is_empty() {
                        continue;
                    }
                    if tx.send(Ok((n, chunk))).is_err() {
                        return;
                    }
                }
                Ok(None) => break,
                Err(error) => {
                    let _ = tx.send(Err(InputError {
                        path: path.clone(),
                        error,
                        output: false,
                    }));
                    return;
                }
            }
        }
    }
}

/// Scans `inputs` with `program`. Findings and error entries go to `sink` in input order.
///
/// Three stages run at once: a reader thread splits the inputs into chunks of records, a
/// worker stage converts and evaluates each chunk's records in parallel on the rayon pool
/// (`opts.threads` threads), and this thread hands the results to `sink` in input order. At most
/// a few chunks are in flight, so memory is bounded whatever the inputs' size, and the output
/// does not depend on the thread count.
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
        .thread_name(|i| format!("beian-worker-{i}"))
        // evaluation recurses once per nesting level (at most `ast::MAX_DEPTH`)
        .stack_size(8 << 20)
        .build()
        .map_err(|e| InputError {
            path: "threads".into(),
            error: std::io::Error::other(e),
            output: false,
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
    let abandoned: Vec<AtomicBool> = inputs.iter().map(|_| AtomicBool::new(false)).collect();
    let sources: Vec<Arc<str>> = inputs.iter().map(|p| Arc::from(p.as_str())).collect();

    let outcome = std::thread::scope(|scope| -> Result<(), InputError> {
        let (raw_tx, raw_rx) = sync_channel::<ReadItem>(PIPELINE_DEPTH);
        let (done_tx, done_rx) = sync_channel::<DoneItem>(PIPELINE_DEPTH);
        let abandoned = &abandoned;
        let recycler = Arc::new(Recycler::default());
        let recycler2 = recycler.clone();
        let rules = &rules;
        let pool = &pool;
        std::thread::Builder::new()
            .name("beian-reader".into())
            .spawn_scoped(scope, move || {
                read_inputs(program, inputs, opts, abandoned, &recycler, &raw_tx);
            })
            .map_err(|error| InputError {
                path: "threads".into(),
                error,
                output: false,
            })?;
        std::thread::Builder::new()
            .name("beian-dispatch".into())
            .spawn_scoped(scope, move || {
                for item in raw_rx {
                    let done = item.map(|(n, chunk)| {
                        let results =
                            pool.install(|| process_chunk(program, rules, opts.as_of, &chunk));
                        recycler2.give(chunk.data);
                        recycler2.give_cells(chunk.cell_ends);
                        (n, results)
                    });
                    if done_tx.send(done).is_err() {
                        return;
                    }
                }
            })
            .map_err(|error| InputError {
                path: "threads".into(),
                error,
                output: false,
            })?;
        let mut rest_rejected: Option<usize> = None;
        for item in done_rx {
            let (n, results) = item?;
            if rest_rejected == Some(n) {
                continue;
            }
            let source = sources.get(n).map_or("", |s| s.as_ref());
            for p in results {
                summary.records_read += 1;
                let rest = matches!(p, Processed::RejectRest(_));
                emit(
                    program,
                    source,
                    p,
                    &mut summary,
                    &pos,
                    waivers,
                    &mut waiver_used,
                    opts.as_of,
                    sink,
                )
                .map_err(|error| InputError {
                    path: String::new(),
                    error,
                    output: true,
                })?;
                if rest {
                    rest_rejected = Some(n);
                    if let Some(a) = abandoned.get(n) {
                        a.store(true, Ordering::Relaxed);
                    }
                    break;
                }
            }
            sink.progress(summary.records_read);
        }
        Ok(())
    });
    outcome?;
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
        Processed::Clean => {
            summary.records_evaluated += 1;
            Ok(())
        }
        Processed::Rejected(r) | Processed::RejectRest(r) => {
            let Rejection {
                line,
                value,
                reason,
            } = *r;
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
        Processed::Evaluated(e) => {
            let Evaluated {
                line,
                key,
                findings,
                undetermined,
                field_errors,
            } = *e;
            summary.records_evaluated += 1;
            let key = key.unwrap_or_default();
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
                    // every waiver that matches is used, not only the first
                    let mut waived = false;
                    for i in w.matching(&rule.id, &key, f.element, as_of) {
                        if let Some(u) = waiver_used.get_mut(i) {
                            *u = true;
                        }
                        waived = true;
                    }
                    if waived {
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
