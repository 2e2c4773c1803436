//! `beian diff`: the findings that differ between two packs on the same data (SPEC §6, §7).
//! A finding is identified by source, line, rule and element; neither waivers nor selection
//! apply.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;

use crate::input::EncodingChoice;
use crate::program::Program;
use crate::report::FindingOut;
use crate::scan::{self, ErrorEntry, Options, Row, Sink};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The pack before the change.
    #[arg(long = "base", value_name = "PATH")]
    pub base: PathBuf,
    /// The pack after the change.
    #[arg(long = "head", value_name = "PATH")]
    pub head: PathBuf,
    /// Reference date (default: today in UTC+8).
    #[arg(long = "as-of", value_name = "DATE", value_parser = super::parse_date_arg)]
    pub as_of: Option<chrono::NaiveDate>,
    /// Output: jsonl (default when not a terminal), json, csv or table.
    #[arg(short = 'f', long = "format", value_name = "FORMAT", value_parser = ["jsonl", "json", "csv", "table"])]
    pub format: Option<String>,
    /// Input files.
    #[arg(value_name = "INPUT", required = true)]
    pub inputs: Vec<String>,
}

struct Collect<'p> {
    program: &'p Program,
    as_of: chrono::NaiveDate,
    out: Vec<FindingOut>,
}

impl Sink for Collect<'_> {
    fn finding(&mut self, row: &Row<'_>) -> std::io::Result<()> {
        self.out
            .push(FindingOut::new(self.program, row, self.as_of));
        Ok(())
    }

    fn error(&mut self, _entry: &ErrorEntry) -> std::io::Result<()> {
        Ok(())
    }
}

fn findings(
    program: &Program,
    inputs: &[String],
    as_of: chrono::NaiveDate,
) -> Result<Vec<FindingOut>, String> {
    let opts = Options {
        as_of,
        select: Vec::new(),
        ignore: Vec::new(),
        input_format: None,
        encoding: EncodingChoice::Auto,
        threads: 0,
    };
    let mut sink = Collect {
        program,
        as_of,
        out: Vec::new(),
    };
    scan::run(program, inputs, &opts, None, &mut sink).map_err(|e| {
        format!(
            "cannot read `{}`: {}",
            e.path,
            e.error.to_string().to_lowercase()
        )
    })?;
    Ok(sink.out)
}

/// One difference: the finding (head's values for `changed`) and its kind.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub finding: FindingOut,
    pub change: &'static str,
}

type Key = (String, usize, String, Option<usize>);

fn key(f: &FindingOut) -> Key {
    (f.source.clone(), f.line, f.rule.clone(), f.element)
}

/// Compares two finding lists, ordered by input, line, the head's rule order (then rules only
/// in the base, in base order) and element.
pub fn compare(
    base: &Program,
    head: &Program,
    inputs: &[String],
    a: Vec<FindingOut>,
    b: Vec<FindingOut>,
) -> Vec<Change> {
    let mut rule_rank: HashMap<&str, usize> = HashMap::new();
    for (i, r) in head.rules.iter().enumerate() {
        rule_rank.insert(&r.id, i);
    }
    let offset = head.rules.len();
    for (i, r) in base.rules.iter().enumerate() {
        rule_rank.entry(&r.id).or_insert(offset + i);
    }
    let input_rank = |s: &str| inputs.iter().position(|i| i == s).unwrap_or(usize::MAX);
    let base_map: HashMap<Key, FindingOut> = a.into_iter().map(|f| (key(&f), f)).collect();
    let mut head_keys = std::collections::HashSet::new();
    let mut out = Vec::new();
    for f in b {
        let k = key(&f);
        head_keys.insert(k.clone());
        match base_map.get(&k) {
            None => out.push(Change {
                finding: f,
                change: "added",
            }),
            Some(old) => {
                if old.severity != f.severity
                    || old.message != f.message
                    || old.deadline != f.deadline
                {
                    out.push(Change {
                        finding: f,
                        change: "changed",
                    });
                }
            }
        }
    }
    for (k, f) in base_map {
        if !head_keys.contains(&k) {
            out.push(Change {
                finding: f,
                change: "removed",
            });
        }
    }
    out.sort_by_key(|c| {
        (
            input_rank(&c.finding.source),
            c.finding.line,
            rule_rank
                .get(c.finding.rule.as_str())
                .copied()
                .unwrap_or(usize::MAX),
            c.finding.element,
        )
    });
    out
}

pub fn run(args: Args) -> i32 {
    let Ok(base) = super::load_pack(Some(&args.base)) else {
        return 2;
    };
    let Ok(head) = super::load_pack(Some(&args.head)) else {
        return 2;
    };
    for i in &args.inputs {
        if crate::input::Format::from_path(i).is_none() {
            crate::cli::err(&format!(
                "error: cannot tell the format of `{i}` from its extension"
            ));
            return 2;
        }
    }
    let as_of = args.as_of.unwrap_or_else(super::today_cst);
    // standard input can be read once: keep a copy for the second scan
    let mut inputs = args.inputs.clone();
    let stdin_copy = if inputs.iter().any(|i| i == "-") {
        match copy_stdin() {
            Ok(tmp) => {
                let path = tmp.path().display().to_string();
                for i in inputs.iter_mut().filter(|i| *i == "-") {
                    i.clone_from(&path);
                }
                Some((tmp, path))
            }
            Err(e) => {
                crate::cli::err(&format!("error: cannot read standard input: {e}"));
                return 2;
            }
        }
    } else {
        None
    };
    let restore = |mut list: Vec<FindingOut>| {
        if let Some((_, path)) = &stdin_copy {
            for f in list.iter_mut().filter(|f| f.source == *path) {
                f.source = "-".into();
            }
        }
        list
    };
    let (a, b) = match (
        findings(&base, &inputs, as_of),
        findings(&head, &inputs, as_of),
    ) {
        (Ok(a), Ok(b)) => (restore(a), restore(b)),
        (Err(e), _) | (_, Err(e)) => {
            crate::cli::err(&format!("error: {e}"));
            return 2;
        }
    };
    let changes = compare(&base, &head, &args.inputs, a, b);
    let format = match args.format.as_deref() {
        Some(f) => f,
        None if super::stdout_is_terminal() => "table",
        None => "jsonl",
    };
    let (mut added, mut removed, mut changed) = (0, 0, 0);
    for c in &changes {
        match c.change {
            "added" => added += 1,
            "removed" => removed += 1,
            _ => changed += 1,
        }
    }
    let text = match format {
        "table" => render_table(&changes),
        "csv" => render_csv(&changes),
        "json" => {
            // like `scan -f json`: the findings, then counts
            let doc = serde_json::json!({
                "findings": changes.iter().map(change_json).collect::<Vec<_>>(),
                "summary": {"added": added, "removed": removed, "changed": changed},
            });
            format!("{}\n", serde_json::to_string(&doc).unwrap_or_default())
        }
        _ => changes
            .iter()
            .map(|c| format!("{}\n", change_json(c)))
            .collect(),
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
    crate::cli::err(&format!(
        "beian diff: {added} added, {removed} removed, {changed} changed"
    ));
    i32::from(!changes.is_empty())
}

/// Standard input copied to a temporary JSON Lines file.
fn copy_stdin() -> std::io::Result<tempfile::NamedTempFile> {
    let mut tmp = tempfile::Builder::new()
        .prefix(".beian-stdin-")
        .suffix(".jsonl")
        .tempfile()?;
    std::io::copy(&mut std::io::stdin().lock(), tmp.as_file_mut())?;
    tmp.as_file_mut().flush()?;
    Ok(tmp)
}

/// A changed finding as JSON: the finding's keys, then `change`.
fn change_json(c: &Change) -> serde_json::Value {
    let mut v = serde_json::to_value(&c.finding).unwrap_or_default();
    if let Some(m) = v.as_object_mut() {
        m.insert("change".into(), c.change.into());
    }
    v
}

/// CSV like `scan -f csv` (same columns, same formula guard), with a last `change` column.
fn render_csv(changes: &[Change]) -> String {
    use crate::report::{csv_cells, FindingRef, FINDING_KEYS};
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    let mut header: Vec<&str> = FINDING_KEYS.to_vec();
    header.push("change");
    let _ = w.write_record(&header);
    for c in changes {
        let f = FindingRef::from(&c.finding);
        let cells = csv_cells(&f);
        let _ = w.write_record(
            cells
                .iter()
                .map(|c| c.as_bytes())
                .chain(std::iter::once(c.change.as_bytes())),
        );
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// Counts per rule, then each change.
pub fn render_table(changes: &[Change]) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let mut per_rule: Vec<(String, [u64; 3])> = Vec::new();
    for c in changes {
        let idx = match c.change {
            "added" => 0,
            "removed" => 1,
            _ => 2,
        };
        match per_rule.iter_mut().find(|(r, _)| *r == c.finding.rule) {
            Some((_, n)) => {
                if let Some(x) = n.get_mut(idx) {
                    *x += 1;
                }
            }
            None => {
                let mut n = [0u64; 3];
                if let Some(x) = n.get_mut(idx) {
                    *x = 1;
                }
                per_rule.push((c.finding.rule.clone(), n));
            }
        }
    }
    let width = per_rule
        .iter()
        .map(|(r, _)| r.chars().count())
        .chain(std::iter::once(5))
        .max()
        .unwrap_or(5);
    let _ = writeln!(
        s,
        "{:<width$}  {:>7}  {:>7}  {:>7}",
        "rule", "added", "removed", "changed"
    );
    let mut total = [0u64; 3];
    for (r, [a, rm, ch]) in &per_rule {
        let _ = writeln!(s, "{r:<width$}  {a:>7}  {rm:>7}  {ch:>7}");
        for (t, n) in total.iter_mut().zip([a, rm, ch]) {
            *t += n;
        }
    }
    let [a, rm, ch] = total;
    let _ = writeln!(s, "{:<width$}  {a:>7}  {rm:>7}  {ch:>7}", "total");
    s.push('\n');
    for c in changes {
        let f = &c.finding;
        let sign = match c.change {
            "added" => '+',
            "removed" => '-',
            _ => '~',
        };
        let el = f.element.map(|e| format!("[{e}]")).unwrap_or_default();
        let _ = writeln!(
            s,
            "{sign} {}:{} {} {}{el} {}: {}",
            f.source, f.line, f.record, f.rule, f.severity, f.message
        );
    }
    s
}
