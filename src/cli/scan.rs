//! `beian scan`: scans exports with a pack and reports findings (SPEC §6).

use std::io::{BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};

use crate::input::{EncodingChoice, Format};
use crate::load::Severity;
use crate::report::{self, FindingRef, FindingWriter, OutputFormat};
use crate::scan::{self, ErrorEntry, Options, Row, Sink};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Input files (`-` for standard input).
    #[arg(value_name = "INPUT")]
    pub inputs: Vec<String>,
    /// Rule pack: a YAML file or a directory (default: the embedded pack).
    #[arg(short = 'r', long = "rules", value_name = "PATH")]
    pub rules: Option<PathBuf>,
    /// Reference date for deadlines and effective windows (default: today in UTC+8).
    #[arg(long = "as-of", value_name = "DATE", value_parser = super::parse_date_arg)]
    pub as_of: Option<chrono::NaiveDate>,
    /// Output format: jsonl, json, csv, sarif, table (default: table on a terminal, else jsonl).
    #[arg(short = 'f', long = "format", value_name = "FORMAT", value_parser = ["jsonl", "json", "csv", "sarif", "table"])]
    pub format: Option<String>,
    /// Write findings to FILE (whole or not at all).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Write rejected records and field errors to FILE as JSON Lines.
    #[arg(long = "errors", value_name = "FILE")]
    pub errors: Option<PathBuf>,
    /// Write the summary to FILE as JSON.
    #[arg(long = "summary", value_name = "FILE")]
    pub summary: Option<PathBuf>,
    /// Waivers file (approved exceptions).
    #[arg(long = "waivers", value_name = "FILE")]
    pub waivers: Option<PathBuf>,
    /// Number of worker threads (default: all cores).
    #[arg(short = 'j', long = "threads", value_name = "N")]
    pub threads: Option<usize>,
    /// Exit 1 when a finding is at or above this severity.
    #[arg(long = "fail-on", value_name = "LEVEL", default_value = "error", value_parser = ["info", "warning", "error", "critical", "never"])]
    pub fail_on: String,
    /// Keep only these rules: ids, id prefixes ending in `-`, or categories (comma-separated).
    #[arg(long = "select", value_name = "LIST")]
    pub select: Vec<String>,
    /// Drop these rules: ids, id prefixes ending in `-`, or categories (comma-separated).
    #[arg(long = "ignore", value_name = "LIST")]
    pub ignore: Vec<String>,
    /// Input format when the extension does not say: jsonl, json, csv, tsv.
    #[arg(long = "input-format", value_name = "FORMAT", value_parser = ["jsonl", "ndjson", "json", "csv", "tsv"])]
    pub input_format: Option<String>,
    /// Input encoding: auto (UTF-8, else GB18030), utf-8, gb18030.
    #[arg(long = "encoding", value_name = "ENC", default_value = "auto", value_parser = ["auto", "utf-8", "utf8", "gb18030", "gbk"])]
    pub encoding: String,
    /// Exit 2 when any record is rejected or any field does not convert.
    #[arg(long = "strict")]
    pub strict: bool,
    /// No summary or progress on standard error.
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
}

struct ScanSink<'w> {
    program: &'w crate::program::Program,
    as_of: chrono::NaiveDate,
    writer: Box<dyn FindingWriter + 'w>,
    errors: Option<Box<dyn Write + 'w>>,
    shown_errors: usize,
    progress: Option<indicatif::ProgressBar>,
}

impl Sink for ScanSink<'_> {
    fn finding(&mut self, row: &Row<'_>) -> std::io::Result<()> {
        let out = FindingRef::new(self.program, row, self.as_of);
        self.writer.finding(&out)
    }

    fn error(&mut self, entry: &ErrorEntry) -> std::io::Result<()> {
        match &mut self.errors {
            Some(w) => {
                serde_json::to_writer(&mut *w, &entry.to_json())?;
                w.write_all(b"\n")
            }
            None => {
                self.shown_errors += 1;
                if self.shown_errors <= 20 {
                    let what = match &entry.field {
                        Some(f) => format!("field `{f}`: {}", entry.reason),
                        None => format!("rejected: {}", entry.reason),
                    };
                    let msg = format!("warning: {}:{}: {what}", entry.source, entry.line);
                    match &self.progress {
                        Some(p) => p.println(msg),
                        None => crate::cli::err(&msg),
                    }
                }
                Ok(())
            }
        }
    }

    fn progress(&mut self, records: u64) {
        if let Some(p) = &self.progress {
            p.set_position(records);
        }
    }
}

/// An output file (`-o`, `--errors`, `--summary`): written whole or not at all.
struct OutFile {
    shown: String,
    file: super::AtomicFile,
}

impl OutFile {
    fn create(target: &Path) -> Result<OutFile, String> {
        let shown = target.display().to_string();
        super::AtomicFile::create(target)
            .map(|file| OutFile { shown, file })
            .map_err(|e| format!("cannot write `{}`: {e}", target.display()))
    }

    fn writer(&mut self) -> &mut std::fs::File {
        self.file.writer()
    }

    fn commit(self) -> Result<(), String> {
        let shown = self.shown;
        self.file
            .commit()
            .map_err(|e| format!("cannot write `{shown}`: {e}"))
    }
}

pub fn run(args: Args) -> i32 {
    match run_inner(args) {
        Ok(code) => code,
        Err(msg) => {
            crate::cli::err(&format!("error: {msg}"));
            2
        }
    }
}

fn run_inner(args: Args) -> Result<i32, String> {
    let input_format = args.input_format.as_deref().and_then(Format::parse);
    if args.inputs.is_empty() {
        return Err("no input; give one or more files, or `-` for standard input".into());
    }
    if input_format.is_none() {
        for i in &args.inputs {
            if Format::from_path(i).is_none() {
                return Err(format!(
                    "cannot tell the format of `{i}` from its extension; use .jsonl, .ndjson, .json, .csv, .tsv or --input-format"
                ));
            }
        }
    }
    let program = match super::load_pack(args.rules.as_deref()) {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    let as_of = args.as_of.unwrap_or_else(super::today_cst);
    let waivers = match &args.waivers {
        None => None,
        Some(path) => {
            let mut sources = crate::source::Sources::new();
            match crate::waivers::load(&path.display().to_string(), &program, &mut sources) {
                Ok(w) => Some(w),
                Err(diags) => {
                    super::print_diagnostics(&diags, &sources);
                    crate::cli::err(&format!(
                        "error: the waivers file has {}; nothing was scanned",
                        crate::diag::summary_line(&diags)
                    ));
                    return Ok(2);
                }
            }
        }
    };
    let format = match args.format.as_deref().and_then(OutputFormat::parse) {
        Some(f) => f,
        None if args.output.is_none() && super::stdout_is_terminal() => OutputFormat::Table,
        None => OutputFormat::Jsonl,
    };
    let opts = Options {
        as_of,
        select: super::split_list(&args.select),
        ignore: super::split_list(&args.ignore),
        input_format,
        encoding: EncodingChoice::parse(&args.encoding).unwrap_or(EncodingChoice::Auto),
        threads: args.threads.unwrap_or(0),
    };

    // a `--select`/`--ignore` entry that names nothing is most likely a typo
    for item in opts.select.iter().chain(&opts.ignore) {
        if !program
            .rules
            .iter()
            .any(|r| crate::scan::matches_item(item, &r.id, &r.category))
        {
            let hint = crate::load::did_you_mean(
                item,
                program
                    .rules
                    .iter()
                    .flat_map(|r| [r.id.as_str(), r.category.as_str()]),
            )
            .map(|h| format!("; {h}"))
            .unwrap_or_default();
            super::err(&format!(
                "warning: `{item}` matches no rule id, id prefix or category of the pack{hint}"
            ));
        }
    }
    let mut out_file = match &args.output {
        Some(p) => Some(OutFile::create(p)?),
        None => None,
    };
    let mut err_file = match &args.errors {
        Some(p) => Some(OutFile::create(p)?),
        None => None,
    };
    let stdout = std::io::stdout();
    let out: Box<dyn Write> = match &mut out_file {
        Some(f) => Box::new(BufWriter::with_capacity(1 << 16, f.writer())),
        None => Box::new(BufWriter::with_capacity(1 << 16, stdout.lock())),
    };
    let errors: Option<Box<dyn Write>> = err_file
        .as_mut()
        .map(|f| Box::new(BufWriter::new(f.writer())) as Box<dyn Write>);
    let progress = (!args.quiet && std::io::stderr().is_terminal()).then(|| {
        let p = indicatif::ProgressBar::new_spinner();
        p.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} {human_pos} records, {per_sec} [{elapsed}]",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        p.enable_steady_tick(std::time::Duration::from_millis(200));
        p
    });
    let mut sink = ScanSink {
        program: &program,
        as_of,
        // SPEC §4: `table` is "a readable table and summary", wherever it goes
        writer: report::writer_with(format, out, &program, true),
        errors,
        shown_errors: 0,
        progress,
    };
    let result = scan::run(&program, &args.inputs, &opts, waivers.as_ref(), &mut sink);
    if let Some(p) = &sink.progress {
        p.finish_and_clear();
    }
    // on an error, nothing is committed: the temporary files are removed when dropped
    let summary = match result {
        Ok(s) => s,
        Err(e) if e.output => {
            return Err(format!(
                "cannot write the findings: {}",
                e.error.to_string().to_lowercase()
            ));
        }
        Err(e) => {
            return Err(format!(
                "cannot read `{}`: {}",
                e.path,
                e.error.to_string().to_lowercase()
            ));
        }
    };
    let summary_json = summary.to_json(&program);
    // the documents on standard output (`-f json`, `sarif`, `table`) must be the same bytes for
    // any thread count (SPEC §4), so their summary's `elapsed_s` is null: the time is in
    // `--summary` and in the text on standard error
    let mut document_summary = summary_json.clone();
    if let Some(e) = document_summary.get_mut("elapsed_s") {
        *e = serde_json::Value::Null;
    }
    sink.writer
        .finish(&document_summary)
        .map_err(|e| format!("cannot write the findings: {e}"))?;
    if let Some(w) = &mut sink.errors {
        w.flush()
            .map_err(|e| format!("cannot write the errors: {e}"))?;
    }
    let hidden = sink.shown_errors.saturating_sub(20);
    drop(sink);
    let summary_file = match &args.summary {
        Some(p) => {
            let mut f = OutFile::create(p)?;
            let text = serde_json::to_string_pretty(&summary_json).unwrap_or_default();
            f.writer()
                .write_all(format!("{text}\n").as_bytes())
                .map_err(|e| format!("cannot write `{}`: {e}", p.display()))?;
            Some(f)
        }
        None => None,
    };
    for f in [out_file, err_file, summary_file].into_iter().flatten() {
        f.commit()?;
    }
    if !args.quiet {
        if hidden > 0 {
            crate::cli::err(&format!(
                "warning: {hidden} more input errors not shown; use --errors FILE to keep them all"
            ));
        }
        crate::cli::err(&report::summary_text(&summary_json, &program));
    }
    if args.strict && (summary.records_rejected > 0 || summary.field_errors > 0) {
        return Ok(2);
    }
    let fail_on = Severity::parse(&args.fail_on);
    let failed = match (fail_on, summary.max_severity) {
        (Some(level), Some(max)) => max >= level,
        _ => false,
    };
    Ok(i32::from(failed))
}
