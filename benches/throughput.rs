//! Throughput benchmark (issue 3, item 7): in one run, on generated JSONL and CSV exports,
//!
//! * (a) parse-only: serde_json / csv + serde into a hand-written typed struct, no rules;
//! * (b) hand-written Rust evaluating ten of the pack's rules on that struct;
//! * (c) beian with the same ten rules as a pack (`benches/ten_rules/`): the library
//!   (`pack::load_program` + `scan::run` with a counting sink) and the release binary
//!   (`beian scan`, findings to /dev/null);
//! * (d) beian with the whole embedded pack, library and binary;
//!
//! each at 1 and 2 threads, reporting records/s, the ratios c/b and c/a, the -j 2 / -j 1
//! scaling and peak memory. "Threads" are worker threads (`-j`, `Options.threads`): the
//! baseline is built like beian's scan, a reader thread filling chunks of 4096 records while
//! the rayon pool converts (and checks) the previous chunk, results taken in input order; so
//! at -j 1 both still read on a second thread. Before measuring, the hand-written rules are
//! checked against the engine on the first 20,000 records of each file (same findings, same
//! messages and deadlines, same order), and every cell's findings per rule are compared. Every measurement runs in its own process (this binary re-executed,
//! or `beian` itself) so that peak RSS is the measurement's own: library and baseline runs read
//! `VmHWM` from `/proc/self/status` at the end; binary runs are wrapped in `/usr/bin/time -v`
//! ("Maximum resident set size").
//!
//! Environment: `BEIAN_BENCH_RECORDS` (default 1,000,000), `BEIAN_BENCH_REPS` (runs per cell,
//! best kept; default 1), `BEIAN_BENCH_BIG=1` (instead: scan a generated 1 GiB JSONL export
//! and report its peak RSS; size from `BEIAN_BENCH_BIG_BYTES`). Data and results go to
//! `target/bench-data/` (files are reused when they were generated with the same N);
//! `BEIAN_BENCH_PREPARE_ONLY=1` only generates them.
//!
//! Run: `cargo bench --bench throughput`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "common/gen.rs"]
mod generator;
#[path = "common/hand.rs"]
mod hand;

/// The allocator of the `beian` binary (src/main.rs), so baselines and engine are measured alike.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc::sync_channel;
use std::time::Instant;

use beian::input::EncodingChoice;
use beian::pack::{load_program, PackSource};
use beian::program::Program;
use beian::scan::{self, ErrorEntry, Options, Row, Sink};
use rayon::prelude::*;
use serde_json::{json, Value as J};

/// Records per parallel chunk of the hand-written baseline (about 2.3 MB of JSONL, the order of
/// beian's 4 MiB read blocks).
const CHUNK: usize = 4096;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn data_dir() -> PathBuf {
    root().join("target").join("bench-data")
}

fn ten_rules_dir() -> PathBuf {
    root().join("benches").join("ten_rules")
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

// ------------------------------------------------------------------------------------ modes

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Parse,
    Hand,
    LibTen,
    CliTen,
    LibFull,
    CliFull,
}

const MODES: [Mode; 6] = [
    Mode::Parse,
    Mode::Hand,
    Mode::LibTen,
    Mode::CliTen,
    Mode::LibFull,
    Mode::CliFull,
];

impl Mode {
    fn key(self) -> &'static str {
        match self {
            Mode::Parse => "a_parse",
            Mode::Hand => "b_hand10",
            Mode::LibTen => "c_beian10_lib",
            Mode::CliTen => "c_beian10_cli",
            Mode::LibFull => "d_beian_full_lib",
            Mode::CliFull => "d_beian_full_cli",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Mode::Parse => "(a)  parse-only: serde -> typed struct",
            Mode::Hand => "(b)  hand-written Rust, 10 rules",
            Mode::LibTen => "(c)  beian lib (scan::run), 10-rule pack",
            Mode::CliTen => "(c') beian binary, 10-rule pack",
            Mode::LibFull => "(d)  beian lib (scan::run), embedded pack",
            Mode::CliFull => "(d') beian binary, embedded pack",
        }
    }

    fn from_key(k: &str) -> Option<Mode> {
        MODES.into_iter().find(|m| m.key() == k)
    }

    fn is_cli(self) -> bool {
        matches!(self, Mode::CliTen | Mode::CliFull)
    }
}

/// One measurement.
#[derive(Clone, Debug, Default)]
struct Measure {
    records: u64,
    secs: f64,
    findings: u64,
    peak_kb: Option<u64>,
    by_rule: BTreeMap<String, u64>,
    note: String,
}

impl Measure {
    fn rate(&self) -> f64 {
        self.records as f64 / self.secs.max(1e-9)
    }

    fn to_json(&self) -> J {
        json!({
            "records": self.records,
            "secs": (self.secs * 1000.0).round() / 1000.0,
            "records_per_s": self.rate().round(),
            "findings": self.findings,
            "peak_rss_mb": self.peak_kb.map(|k| ((k as f64) / 1024.0 * 10.0).round() / 10.0),
            "by_rule": self.by_rule,
            "note": self.note,
        })
    }

    fn from_json(v: &J) -> Measure {
        Measure {
            records: v["records"].as_u64().unwrap_or(0),
            secs: v["secs"].as_f64().unwrap_or(0.0),
            findings: v["findings"].as_u64().unwrap_or(0),
            peak_kb: v["peak_kb"].as_u64(),
            by_rule: v["by_rule"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0)))
                        .collect()
                })
                .unwrap_or_default(),
            note: v["note"].as_str().unwrap_or_default().to_string(),
        }
    }
}

/// Peak resident set size of this process (kB), from /proc/self/status.
fn vm_hwm_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

// ------------------------------------------------------------------ child: baseline (a), (b)

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
}

/// What one record gives the baseline.
struct Out {
    ok: bool,
    findings: Vec<hand::Finding>,
}

fn eval_filing(f: Result<hand::Filing, ()>, rules: Option<&hand::Tables>) -> Out {
    let as_of = generator::as_of();
    match f {
        Err(()) => Out {
            ok: false,
            findings: Vec::new(),
        },
        Ok(filing) => {
            let mut findings = Vec::new();
            match rules {
                Some(t) => hand::check(&filing, t, as_of, &mut findings),
                None => {
                    std::hint::black_box(&filing);
                }
            }
            Out { ok: true, findings }
        }
    }
}

/// Collects the outcomes in input order (as the engine's sink would see them).
#[derive(Default)]
struct Tally {
    records: u64,
    rejected: u64,
    findings: u64,
    by_rule: [u64; 10],
    message_bytes: u64,
}

impl Tally {
    fn add(&mut self, o: Out) {
        self.records += 1;
        if !o.ok {
            self.rejected += 1;
        }
        for f in &o.findings {
            self.findings += 1;
            self.by_rule[f.rule] += 1;
            self.message_bytes += f.message.len() as u64;
        }
    }
}

/// Runs the baseline pipeline, shaped like beian's scan: a reader thread fills chunks of
/// records (buffers are recycled), the pool converts (and checks) a chunk's records in parallel,
/// and this thread takes the outcomes in input order.
fn pipeline<C: Send + Sync>(
    threads: usize,
    buffers: Vec<C>,
    mut fill: impl FnMut(&mut C) -> bool + Send,
    work: impl Fn(&C) -> Vec<Out> + Sync,
) -> Tally {
    let pool = pool(threads);
    let (full_tx, full_rx) = sync_channel::<C>(buffers.len());
    let (empty_tx, empty_rx) = sync_channel::<C>(buffers.len());
    for b in buffers {
        empty_tx.send(b).unwrap();
    }
    let mut tally = Tally::default();
    std::thread::scope(|s| {
        s.spawn(move || {
            for mut chunk in empty_rx.iter() {
                let more = fill(&mut chunk);
                if full_tx.send(chunk).is_err() || !more {
                    break;
                }
            }
        });
        for chunk in full_rx.iter() {
            let outs = pool.install(|| work(&chunk));
            for o in outs {
                tally.add(o);
            }
            // recycle the buffer (the reader may be gone: chunks still queued are processed)
            let _ = empty_tx.send(chunk);
        }
    });
    tally
}

/// JSON Lines: chunks of lines (strings reused), parsed with serde_json on the pool.
fn baseline_jsonl(path: &Path, threads: usize, rules: Option<&hand::Tables>) -> Tally {
    let mut reader = BufReader::with_capacity(256 * 1024, File::open(path).unwrap());
    let buffers = (0..3)
        .map(|_| (vec![String::new(); CHUNK], 0usize))
        .collect();
    pipeline(
        threads,
        buffers,
        move |(lines, n): &mut (Vec<String>, usize)| {
            *n = 0;
            while *n < CHUNK {
                let line = &mut lines[*n];
                line.clear();
                if reader.read_line(line).unwrap() == 0 {
                    return false;
                }
                while line.ends_with('\n') || line.ends_with('\r') {
                    line.pop();
                }
                if !line.trim().is_empty() {
                    *n += 1;
                }
            }
            true
        },
        |(lines, n)| {
            lines[..*n]
                .par_iter()
                .map(|l| {
                    eval_filing(
                        serde_json::from_str::<hand::Filing>(l).map_err(|_| ()),
                        rules,
                    )
                })
                .collect()
        },
    )
}

/// CSV: chunks of rows (csv-core splits them; records reused), deserialized with serde on the
/// pool.
fn baseline_csv(path: &Path, threads: usize, rules: Option<&hand::Tables>) -> Tally {
    let mut reader =
        csv::ReaderBuilder::new()
            .has_headers(true)
            .from_reader(BufReader::with_capacity(
                256 * 1024,
                File::open(path).unwrap(),
            ));
    let headers = reader.byte_headers().unwrap().clone();
    let buffers = (0..3)
        .map(|_| {
            (
                (0..CHUNK)
                    .map(|_| csv::ByteRecord::new())
                    .collect::<Vec<_>>(),
                0usize,
            )
        })
        .collect();
    pipeline(
        threads,
        buffers,
        move |(rows, n): &mut (Vec<csv::ByteRecord>, usize)| {
            *n = 0;
            while *n < CHUNK {
                match reader.read_byte_record(&mut rows[*n]) {
                    Ok(true) => *n += 1,
                    Ok(false) => return false,
                    Err(_) => {}
                }
            }
            true
        },
        |(rows, n)| {
            rows[..*n]
                .par_iter()
                .map(|r| {
                    let f = r
                        .deserialize::<hand::FlatRow>(Some(&headers))
                        .map(hand::FlatRow::into_filing)
                        .map_err(|_| ());
                    eval_filing(f, rules)
                })
                .collect()
        },
    )
}

// --------------------------------------------------------------------- child: beian library

#[derive(Default)]
struct CountSink {
    findings: u64,
    errors: u64,
    bytes: u64,
}

impl Sink for CountSink {
    fn finding(&mut self, row: &Row<'_>) -> std::io::Result<()> {
        self.findings += 1;
        self.bytes += row.finding.message.len() as u64;
        Ok(())
    }

    fn error(&mut self, _entry: &ErrorEntry) -> std::io::Result<()> {
        self.errors += 1;
        Ok(())
    }
}

fn load(full: bool) -> Program {
    let dir = ten_rules_dir();
    let source = if full {
        PackSource::Embedded
    } else {
        PackSource::Path(&dir)
    };
    match load_program(source) {
        Ok(p) => p,
        Err(e) => panic!("pack does not load: {:?}", e.diagnostics),
    }
}

fn scan_options(threads: usize) -> Options {
    Options {
        as_of: generator::as_of(),
        select: Vec::new(),
        ignore: Vec::new(),
        input_format: None,
        encoding: EncodingChoice::Auto,
        threads,
    }
}

fn child_lib(full: bool, threads: usize, path: &Path) -> Measure {
    let t0 = Instant::now();
    let program = load(full);
    let load_s = t0.elapsed().as_secs_f64();
    let mut sink = CountSink::default();
    let t1 = Instant::now();
    let summary = scan::run(
        &program,
        &[path.display().to_string()],
        &scan_options(threads),
        None,
        &mut sink,
    )
    .unwrap_or_else(|e| panic!("scan failed: {}: {}", e.path, e.error));
    let secs = t1.elapsed().as_secs_f64();
    let by_rule = summary
        .by_rule
        .iter()
        .map(|(ri, c)| (program.rules[*ri].id.clone(), c.findings))
        .collect();
    Measure {
        records: summary.records_read,
        secs,
        findings: sink.findings,
        peak_kb: vm_hwm_kb(),
        by_rule,
        note: format!(
            "pack load {:.0} ms (not timed); {} rules; {} rejected, {} field errors",
            load_s * 1000.0,
            summary.by_rule.len(),
            summary.records_rejected,
            summary.field_errors
        ),
    }
}

fn child_main(spec: &str) {
    let mut parts = spec.splitn(4, ':');
    let mode = Mode::from_key(parts.next().unwrap()).unwrap();
    let format = parts.next().unwrap().to_string();
    let threads: usize = parts.next().unwrap().parse().unwrap();
    let path = PathBuf::from(parts.next().unwrap());
    let m = match mode {
        Mode::Parse | Mode::Hand => {
            let tables =
                (mode == Mode::Hand).then(|| hand::Tables::load(&ten_rules_dir().join("tables")));
            let t0 = Instant::now();
            let tally = if format == "csv" {
                baseline_csv(&path, threads, tables.as_ref())
            } else {
                baseline_jsonl(&path, threads, tables.as_ref())
            };
            let secs = t0.elapsed().as_secs_f64();
            Measure {
                records: tally.records,
                secs,
                findings: tally.findings,
                peak_kb: vm_hwm_kb(),
                by_rule: if tables.is_some() {
                    hand::RULE_IDS
                        .iter()
                        .zip(tally.by_rule)
                        .map(|(id, n)| ((*id).to_string(), n))
                        .collect()
                } else {
                    BTreeMap::new()
                },
                note: format!(
                    "{} rejected; {} message bytes",
                    tally.rejected, tally.message_bytes
                ),
            }
        }
        Mode::LibTen => child_lib(false, threads, &path),
        Mode::LibFull => child_lib(true, threads, &path),
        Mode::CliTen | Mode::CliFull => unreachable!(),
    };
    let mut v = m.to_json();
    v["peak_kb"] = m.peak_kb.into();
    v["secs"] = m.secs.into();
    println!("RESULT {v}");
}

// --------------------------------------------------------------------------- parent: runs

fn run_child(mode: Mode, format: &str, threads: usize, path: &Path) -> Measure {
    let exe = std::env::current_exe().unwrap();
    let out = Command::new(exe)
        .env(
            "BEIAN_BENCH_CHILD",
            format!("{}:{format}:{threads}:{}", mode.key(), path.display()),
        )
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .unwrap_or_else(|| panic!("child {mode:?} {format} -j{threads} failed: {text}"));
    let v: J = serde_json::from_str(line).unwrap();
    let mut m = Measure::from_json(&v);
    m.note = format!("{}; peak RSS = VmHWM of the measuring process", m.note);
    m
}

fn time_bin() -> Option<&'static str> {
    Path::new("/usr/bin/time")
        .exists()
        .then_some("/usr/bin/time")
}

fn run_cli(bin: &Path, full: bool, format: &str, threads: usize, path: &Path) -> Measure {
    let summary = data_dir().join(format!(
        "cli-summary-{format}-{threads}-{}.json",
        if full { "full" } else { "ten" }
    ));
    let mut cmd = match time_bin() {
        Some(t) => {
            let mut c = Command::new(t);
            c.arg("-v").arg(bin);
            c
        }
        None => Command::new(bin),
    };
    cmd.arg("scan");
    if !full {
        cmd.arg("-r").arg(ten_rules_dir());
    }
    cmd.args([
        "--as-of",
        "2026-11-27",
        "-j",
        &threads.to_string(),
        "-f",
        "jsonl",
        "--fail-on",
        "never",
        "-q",
    ])
    .arg("--summary")
    .arg(&summary)
    .arg(path)
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(Stdio::piped());
    let t0 = Instant::now();
    let out = cmd.output().unwrap();
    let secs = t0.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        panic!("beian scan failed ({}): {stderr}", out.status);
    }
    let peak_kb = stderr
        .lines()
        .find_map(|l| l.trim().strip_prefix("Maximum resident set size (kbytes):"))
        .and_then(|v| v.trim().parse().ok());
    let s: J = serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    let by_rule = s["by_rule"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v["findings"].as_u64().unwrap_or(0)))
                .collect()
        })
        .unwrap_or_default();
    Measure {
        records: s["records_read"].as_u64().unwrap_or(0),
        secs,
        findings: s["findings"].as_u64().unwrap_or(0),
        peak_kb,
        by_rule,
        note: format!(
            "wall time of the whole process (start, pack load, scan, jsonl findings to /dev/null); peak RSS {}",
            if time_bin().is_some() { "from /usr/bin/time -v" } else { "not measured (no /usr/bin/time)" }
        ),
    }
}

fn measure(
    mode: Mode,
    bin: Option<&Path>,
    format: &str,
    threads: usize,
    path: &Path,
    reps: u64,
) -> Option<Measure> {
    let mut best: Option<Measure> = None;
    for _ in 0..reps.max(1) {
        let m = if mode.is_cli() {
            run_cli(bin?, mode == Mode::CliFull, format, threads, path)
        } else {
            run_child(mode, format, threads, path)
        };
        if best.as_ref().is_none_or(|b| m.secs < b.secs) {
            best = Some(m);
        }
    }
    best
}

/// Builds the release binary (so the CLI rows measure the current source).
fn ensure_binary() -> Option<PathBuf> {
    let bin = root().join("target").join("release").join("beian");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    eprintln!("building the release binary (cargo build --release --bin beian)...");
    let status = Command::new(cargo)
        .args(["build", "--release", "--bin", "beian", "--quiet"])
        .current_dir(root())
        .status();
    match status {
        Ok(s) if s.success() => {}
        other => eprintln!(
            "warning: cargo build --release failed ({other:?}); using the binary as it is"
        ),
    }
    bin.exists().then_some(bin)
}

// ----------------------------------------------------------------------------- data files

struct Data {
    jsonl: PathBuf,
    csv: PathBuf,
    stats: generator::Stats,
}

fn ensure_data(n: u64) -> Data {
    let dir = data_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let jsonl = dir.join(format!("filings-{n}.jsonl"));
    let csv = dir.join(format!("filings-{n}.csv"));
    let meta = dir.join(format!("filings-{n}.meta.json"));
    let want = json!({"version": generator::VERSION, "seed": generator::SEED, "records": n});
    if let Ok(text) = std::fs::read_to_string(&meta) {
        if let Ok(v) = serde_json::from_str::<J>(&text) {
            let (jb, cb) = (v["jsonl_bytes"].as_u64(), v["csv_bytes"].as_u64());
            let same = v["version"] == want["version"]
                && v["seed"] == want["seed"]
                && v["records"] == want["records"];
            let sizes = std::fs::metadata(&jsonl).map(|m| m.len()).ok() == jb
                && std::fs::metadata(&csv).map(|m| m.len()).ok() == cb;
            if same && sizes {
                eprintln!("reusing {} and {}", jsonl.display(), csv.display());
                return Data {
                    stats: generator::Stats {
                        records: n,
                        jsonl_bytes: jb.unwrap_or(0),
                        csv_bytes: cb.unwrap_or(0),
                    },
                    jsonl,
                    csv,
                };
            }
        }
    }
    eprintln!("generating {n} records...");
    let t0 = Instant::now();
    let stats = generator::write_files(n, &jsonl, Some(&csv)).unwrap();
    eprintln!("generated in {:.1} s", t0.elapsed().as_secs_f64());
    let mut m = want;
    m["jsonl_bytes"] = stats.jsonl_bytes.into();
    m["csv_bytes"] = stats.csv_bytes.into();
    std::fs::write(&meta, m.to_string()).unwrap();
    Data { jsonl, csv, stats }
}

// ------------------------------------------------------------------------------ validation

type Key = (
    usize,
    String,
    Option<usize>,
    String,
    Option<chrono::NaiveDate>,
);

/// Collects the engine's findings as (line, rule id, element, message, deadline).
struct CollectSink<'p> {
    program: &'p Program,
    out: Vec<Key>,
}

impl Sink for CollectSink<'_> {
    fn finding(&mut self, row: &Row<'_>) -> std::io::Result<()> {
        let f = row.finding;
        self.out.push((
            row.line,
            self.program.rules[f.rule].id.clone(),
            f.element,
            f.message.clone(),
            f.deadline,
        ));
        Ok(())
    }

    fn error(&mut self, _entry: &ErrorEntry) -> std::io::Result<()> {
        Ok(())
    }
}

/// Compares the hand-written checker with the engine (10-rule pack) on the first `limit`
/// records of each file: the same findings (line, rule, element, message, deadline).
fn validate(data: &Data, limit: usize) -> J {
    let program = load(false);
    let tables = hand::Tables::load(&ten_rules_dir().join("tables"));
    let as_of = generator::as_of();
    let mut report = serde_json::Map::new();
    for (format, src, skip) in [("jsonl", &data.jsonl, 0usize), ("csv", &data.csv, 1usize)] {
        // the first lines of the file (no cell holds a line break)
        let text: Vec<String> = BufReader::new(File::open(src).unwrap())
            .lines()
            .take(limit + skip)
            .map(Result::unwrap)
            .collect();
        let path = data_dir().join(format!("validate.{format}"));
        std::fs::write(&path, text.join("\n") + "\n").unwrap();
        let mut sink = CollectSink {
            program: &program,
            out: Vec::new(),
        };
        scan::run(
            &program,
            &[path.display().to_string()],
            &scan_options(2),
            None,
            &mut sink,
        )
        .unwrap();
        let mut hand_out: Vec<Key> = Vec::new();
        let mut push = |line: usize, f: &hand::Filing| {
            let mut v = Vec::new();
            hand::check(f, &tables, as_of, &mut v);
            hand_out.extend(v.into_iter().map(|x| {
                (
                    line,
                    hand::RULE_IDS[x.rule].to_string(),
                    x.element,
                    x.message,
                    x.deadline,
                )
            }));
        };
        if format == "csv" {
            let mut rdr = csv::Reader::from_path(&path).unwrap();
            let headers = rdr.headers().unwrap().clone();
            for (i, r) in rdr.records().enumerate() {
                let f = r
                    .unwrap()
                    .deserialize::<hand::FlatRow>(Some(&headers))
                    .unwrap()
                    .into_filing();
                push(i + 2, &f);
            }
        } else {
            for (i, l) in text.iter().enumerate() {
                push(i + 1, &serde_json::from_str(l).unwrap());
            }
        }
        let engine = sink.out;
        let differing: Vec<String> = engine
            .iter()
            .filter(|k| !hand_out.contains(k))
            .map(|k| format!("engine only: {k:?}"))
            .chain(
                hand_out
                    .iter()
                    .filter(|k| !engine.contains(k))
                    .map(|k| format!("hand-written only: {k:?}")),
            )
            .collect();
        eprintln!(
            "validation {format}: {limit} records, engine {} findings, hand-written {} findings, {} differ",
            engine.len(),
            hand_out.len(),
            differing.len()
        );
        for d in differing.iter().take(5) {
            eprintln!("  {d}");
        }
        report.insert(
            format.into(),
            json!({"records": limit, "engine_findings": engine.len(), "hand_findings": hand_out.len(),
                   "differing": differing.len(), "identical_in_order": engine == hand_out,
                   "examples": differing.iter().take(5).collect::<Vec<_>>()}),
        );
    }
    J::Object(report)
}

// ------------------------------------------------------------------------------- reporting

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

/// The commit the engine was built from, with `+dirty` when src/ or rules/ have local changes.
/// (`BEIAN_BENCH_ENGINE` overrides it, e.g. for a build from an exported tree.)
fn source_version() -> String {
    if let Ok(v) = std::env::var("BEIAN_BENCH_ENGINE") {
        return v;
    }
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(root())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let head = git(&["rev-parse", "--short", "HEAD"]).unwrap_or_else(|| "unknown".into());
    let dirty = git(&["status", "--porcelain", "--", "src", "rules", "Cargo.toml"])
        .is_some_and(|s| !s.is_empty());
    if dirty {
        format!("{head}+dirty")
    } else {
        head
    }
}

/// Reads a file once (untimed) so that every measurement starts with it in the page cache.
fn warm_page_cache(path: &Path) {
    let t0 = Instant::now();
    let mut f = File::open(path).unwrap();
    let n = std::io::copy(&mut f, &mut std::io::sink()).unwrap();
    eprintln!(
        "read {} once to warm the page cache ({:.0} MB, {:.1} s)",
        path.display(),
        n as f64 / 1e6,
        t0.elapsed().as_secs_f64()
    );
}

/// The 1-minute load average (other processes compete for the cores).
fn loadavg() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0.0)
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn fmt_rate(r: f64) -> String {
    let r = r.round() as u64;
    let s = r.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn mb(kb: Option<u64>) -> String {
    kb.map_or_else(|| "n/a".into(), |k| format!("{:.0}", k as f64 / 1024.0))
}

const COLUMNS: [(&str, usize); 4] = [("jsonl", 1), ("jsonl", 2), ("csv", 1), ("csv", 2)];

fn main() {
    if let Ok(spec) = std::env::var("BEIAN_BENCH_CHILD") {
        child_main(&spec);
        return;
    }
    // `cargo bench` passes `--bench`; a filter argument selects nothing here.
    if std::env::var("BEIAN_BENCH_BIG").is_ok_and(|v| v == "1") {
        big();
        return;
    }
    let n = env_u64("BEIAN_BENCH_RECORDS", 1_000_000);
    let reps = env_u64("BEIAN_BENCH_REPS", 1);
    let data = ensure_data(n);
    eprintln!(
        "{} records: JSONL {:.1} MB ({:.0} B/record), CSV {:.1} MB ({:.0} B/record)",
        n,
        data.stats.jsonl_bytes as f64 / 1e6,
        data.stats.avg_jsonl(),
        data.stats.csv_bytes as f64 / 1e6,
        data.stats.avg_csv()
    );
    if std::env::var("BEIAN_BENCH_PREPARE_ONLY").is_ok_and(|v| v == "1") {
        return;
    }
    warm_page_cache(&data.jsonl);
    warm_page_cache(&data.csv);
    let validation = validate(&data, 20_000);
    let bin = ensure_binary();
    let mut results: BTreeMap<(Mode, &'static str, usize), Measure> = BTreeMap::new();
    let mut loads = Vec::new();
    if loadavg() > 0.5 {
        eprintln!(
            "warning: load average {:.2}: other processes compete for the {} cores",
            loadavg(),
            cores()
        );
    }
    for (format, threads) in COLUMNS {
        let path = if format == "csv" {
            &data.csv
        } else {
            &data.jsonl
        };
        for mode in MODES {
            loads.push(loadavg());
            let Some(m) = measure(mode, bin.as_deref(), format, threads, path, reps) else {
                eprintln!("{format} -j{threads} {}: skipped (no binary)", mode.label());
                continue;
            };
            eprintln!(
                "{format:5} -j{threads} {:44} {:>10} rec/s  {:7.2} s  peak {:>5} MB  findings {}",
                mode.label(),
                fmt_rate(m.rate()),
                m.secs,
                mb(m.peak_kb),
                m.findings
            );
            results.insert((mode, format, threads), m);
        }
        // the engine and the baseline must agree on the ten rules
        let (b, c) = (
            results.get(&(Mode::Hand, format, threads)),
            results.get(&(Mode::LibTen, format, threads)),
        );
        if let (Some(b), Some(c)) = (b, c) {
            if b.by_rule != c.by_rule {
                eprintln!(
                    "WARNING: findings per rule differ: hand-written {:?} / beian {:?}",
                    b.by_rule, c.by_rule
                );
            }
        }
    }
    loads.push(loadavg());
    report(&data, n, &results, &validation, reps, &loads);
}

impl PartialOrd for Mode {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Mode {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        let i = |m: &Mode| MODES.iter().position(|x| x == m).unwrap_or(0);
        i(self).cmp(&i(other))
    }
}

fn report(
    data: &Data,
    n: u64,
    results: &BTreeMap<(Mode, &'static str, usize), Measure>,
    validation: &J,
    reps: u64,
    loads: &[f64],
) {
    let load_start = loads.first().copied().unwrap_or(0.0);
    let get = |m: Mode, f: &'static str, t: usize| results.get(&(m, f, t));
    let mut out = String::new();
    use std::fmt::Write as _;
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "beian throughput: {} records (JSONL {:.0} B/record, {:.0} MB; CSV {:.0} B/record, {:.0} MB), as_of 2026-11-27",
        fmt_rate(n as f64),
        data.stats.avg_jsonl(),
        data.stats.jsonl_bytes as f64 / 1e6,
        data.stats.avg_csv(),
        data.stats.csv_bytes as f64 / 1e6
    );
    let _ = writeln!(
        out,
        "machine: {} cores ({}); engine {}; best of {reps} run(s) per cell; load average {load_start:.2} at the start",
        cores(),
        cpu_model(),
        source_version()
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:46} {:>11} {:>11} {:>11} {:>11}",
        "records/s", "JSONL -j1", "JSONL -j2", "CSV -j1", "CSV -j2"
    );
    for mode in MODES {
        let _ = write!(out, "{:46}", mode.label());
        for (f, t) in COLUMNS {
            let _ = write!(
                out,
                " {:>11}",
                get(mode, f, t).map_or("-".into(), |m| fmt_rate(m.rate()))
            );
        }
        let _ = writeln!(out);
    }
    let ratio = |x: Mode, y: Mode, f: &'static str, t: usize| -> Option<f64> {
        Some(get(x, f, t)?.rate() / get(y, f, t)?.rate())
    };
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:46} {:>11} {:>11} {:>11} {:>11}",
        "ratios (target c/b >= 0.67)", "JSONL -j1", "JSONL -j2", "CSV -j1", "CSV -j2"
    );
    let pairs = [
        (
            "c/b   beian lib 10 rules / hand-written",
            Mode::LibTen,
            Mode::Hand,
        ),
        (
            "c/a   beian lib 10 rules / parse-only",
            Mode::LibTen,
            Mode::Parse,
        ),
        (
            "c'/b  beian binary 10 rules / hand-written",
            Mode::CliTen,
            Mode::Hand,
        ),
        (
            "c'/a  beian binary 10 rules / parse-only",
            Mode::CliTen,
            Mode::Parse,
        ),
        (
            "d/b   beian lib full pack / hand-written",
            Mode::LibFull,
            Mode::Hand,
        ),
        (
            "d/a   beian lib full pack / parse-only",
            Mode::LibFull,
            Mode::Parse,
        ),
        ("b/a   hand-written / parse-only", Mode::Hand, Mode::Parse),
    ];
    let mut ratios = serde_json::Map::new();
    for (label, x, y) in pairs {
        let _ = write!(out, "{label:46}");
        let mut row = serde_json::Map::new();
        for (f, t) in COLUMNS {
            let r = ratio(x, y, f, t);
            let _ = write!(out, " {:>11}", r.map_or("-".into(), |r| format!("{r:.3}")));
            row.insert(
                format!("{f}_j{t}"),
                r.map(|r| (r * 1000.0).round() / 1000.0).into(),
            );
        }
        let _ = writeln!(out);
        ratios.insert(
            label.split_whitespace().next().unwrap_or(label).to_string(),
            J::Object(row),
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:46} {:>11} {:>11}",
        "scaling -j2 / -j1 (target >= 1.6)", "JSONL", "CSV"
    );
    let mut scaling = serde_json::Map::new();
    for mode in MODES {
        let _ = write!(out, "{:46}", mode.label());
        let mut row = serde_json::Map::new();
        for f in ["jsonl", "csv"] {
            let r = (|| Some(get(mode, f, 2)?.rate() / get(mode, f, 1)?.rate()))();
            let _ = write!(out, " {:>11}", r.map_or("-".into(), |r| format!("{r:.2}x")));
            row.insert(f.into(), r.map(|r| (r * 100.0).round() / 100.0).into());
        }
        let _ = writeln!(out);
        scaling.insert(mode.key().into(), J::Object(row));
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:46} {:>11} {:>11} {:>11} {:>11}",
        "peak RSS (MB)", "JSONL -j1", "JSONL -j2", "CSV -j1", "CSV -j2"
    );
    for mode in MODES {
        let _ = write!(out, "{:46}", mode.label());
        for (f, t) in COLUMNS {
            let _ = write!(
                out,
                " {:>11}",
                get(mode, f, t).map_or("-".into(), |m| mb(m.peak_kb))
            );
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(out, "  (lib and baseline rows: VmHWM of a dedicated child process; binary rows: /usr/bin/time -v max RSS)");
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:46} {:>11} {:>11} {:>11} {:>11}",
        "findings", "JSONL -j1", "JSONL -j2", "CSV -j1", "CSV -j2"
    );
    for mode in MODES.into_iter().filter(|m| *m != Mode::Parse) {
        let _ = write!(out, "{:46}", mode.label());
        for (f, t) in COLUMNS {
            let _ = write!(
                out,
                " {:>11}",
                get(mode, f, t).map_or("-".into(), |m| fmt_rate(m.findings as f64))
            );
        }
        let _ = writeln!(out);
    }
    println!("{out}");

    let mut cells = Vec::new();
    for ((mode, f, t), m) in results {
        let mut v = m.to_json();
        v["mode"] = mode.key().into();
        v["label"] = mode.label().into();
        v["format"] = (*f).into();
        v["threads"] = (*t).into();
        cells.push(v);
    }
    let doc = json!({
        "bench": "throughput",
        "engine_source": source_version(),
        "machine": {"cores": cores(), "cpu": cpu_model(), "loadavg_1min_before_each_run": loads, "loadavg_note": "includes this bench's own previous runs"},
        "records": n,
        "as_of": "2026-11-27",
        "reps": reps,
        "jsonl": {"path": data.jsonl.display().to_string(), "bytes": data.stats.jsonl_bytes, "avg_record_bytes": (data.stats.avg_jsonl() * 10.0).round() / 10.0},
        "csv": {"path": data.csv.display().to_string(), "bytes": data.stats.csv_bytes, "avg_record_bytes": (data.stats.avg_csv() * 10.0).round() / 10.0},
        "ten_rules": hand::RULE_IDS,
        "validation": validation,
        "results": cells,
        "ratios": ratios,
        "scaling_j2_over_j1": scaling,
        "peak_memory_method": {
            "baseline_and_lib": "VmHWM from /proc/self/status at the end of a dedicated child process (this bench re-executed)",
            "binary": "Maximum resident set size from /usr/bin/time -v",
        },
        "table": out,
    });
    let path = data_dir().join("results.json");
    std::fs::write(&path, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    eprintln!("wrote {}", path.display());
}

// ------------------------------------------------------------------------------- 1 GB mode

fn big() {
    let bytes = env_u64("BEIAN_BENCH_BIG_BYTES", 1 << 30);
    let dir = data_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("big-{bytes}.jsonl"));
    let meta = dir.join(format!("big-{bytes}.meta.json"));
    let cached = std::fs::read_to_string(&meta)
        .ok()
        .and_then(|t| serde_json::from_str::<J>(&t).ok())
        .filter(|v| {
            v["version"] == generator::VERSION
                && std::fs::metadata(&path).map(|m| m.len()).ok() == v["jsonl_bytes"].as_u64()
        });
    let stats = match cached {
        Some(v) => generator::Stats {
            records: v["records"].as_u64().unwrap_or(0),
            jsonl_bytes: v["jsonl_bytes"].as_u64().unwrap_or(0),
            csv_bytes: 0,
        },
        None => {
            eprintln!("generating a {bytes}-byte JSONL export...");
            let s = generator::write_jsonl_bytes(bytes, &path).unwrap();
            let m = json!({"version": generator::VERSION, "records": s.records, "jsonl_bytes": s.jsonl_bytes});
            std::fs::write(&meta, m.to_string()).unwrap();
            s
        }
    };
    eprintln!(
        "{}: {} records, {:.2} GB ({:.0} B/record)",
        path.display(),
        stats.records,
        stats.jsonl_bytes as f64 / 1e9,
        stats.avg_jsonl()
    );
    if std::env::var("BEIAN_BENCH_PREPARE_ONLY").is_ok_and(|v| v == "1") {
        return;
    }
    let bin = ensure_binary();
    warm_page_cache(&path);
    let mut rows = Vec::new();
    let mut out = String::new();
    use std::fmt::Write as _;
    let _ = writeln!(
        out,
        "\nbeian 1 GB scan: {} records, {:.3} GB JSONL, {} cores, engine {}",
        fmt_rate(stats.records as f64),
        stats.jsonl_bytes as f64 / 1e9,
        cores(),
        source_version()
    );
    let _ = writeln!(
        out,
        "{:46} {:>8} {:>11} {:>9} {:>10}",
        "run", "secs", "records/s", "peak MB", "findings"
    );
    for (mode, threads) in [
        (Mode::CliFull, 2),
        (Mode::LibFull, 2),
        (Mode::CliTen, 2),
        (Mode::LibFull, 1),
    ] {
        let Some(m) = measure(mode, bin.as_deref(), "jsonl", threads, &path, 1) else {
            continue;
        };
        let label = format!("{} -j{threads}", mode.label());
        let _ = writeln!(
            out,
            "{label:46} {:>8.1} {:>11} {:>9} {:>10}",
            m.secs,
            fmt_rate(m.rate()),
            mb(m.peak_kb),
            fmt_rate(m.findings as f64)
        );
        eprintln!("{label}: {:.1} s, peak {} MB", m.secs, mb(m.peak_kb));
        let mut v = m.to_json();
        v["mode"] = mode.key().into();
        v["threads"] = threads.into();
        rows.push(v);
    }
    println!("{out}");
    let doc = json!({
        "bench": "throughput-big",
        "engine_source": source_version(),
        "machine": {"cores": cores(), "cpu": cpu_model()},
        "input": {"path": path.display().to_string(), "records": stats.records, "bytes": stats.jsonl_bytes, "avg_record_bytes": stats.avg_jsonl()},
        "results": rows,
        "peak_memory_method": "binary: /usr/bin/time -v max RSS; lib: VmHWM of a dedicated child process",
        "table": out,
    });
    let p = data_dir().join("results-big.json");
    std::fs::write(&p, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    eprintln!("wrote {}", p.display());
}
