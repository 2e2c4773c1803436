//! The command line (SPEC §6). Each subcommand is one file with its arguments and a `run`.

pub mod check;
pub mod diff;
pub mod explain;
pub mod rules;
pub mod scan;
pub mod schema;
pub mod test;

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use clap::{Parser, Subcommand};

use crate::diag::{render_text, Diagnostic};
use crate::pack::{load_program, PackSource};
use crate::program::Program;
use crate::source::Sources;

#[derive(Parser, Debug)]
#[command(
    name = "beian",
    about = "Checks ICP filing (ICP备案) exports against a rule pack and reports findings with deadlines.",
    version = version_text(),
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

fn version_text() -> &'static str {
    static TEXT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TEXT.get_or_init(|| {
        format!(
            "{} (public suffix list {})",
            env!("CARGO_PKG_VERSION"),
            crate::funcs::domain::psl_version()
        )
    })
}

#[derive(Subcommand, Debug)]
// parsed once per process: the size of the largest variant does not matter
#[allow(clippy::large_enum_variant)]
pub enum Command {
    /// Scan exports (JSON Lines, JSON, CSV, TSV) and report findings.
    Scan(scan::Args),
    /// Load, type-check and lint a pack; report every problem.
    Check(check::Args),
    /// Run the rules' own tests.
    Test(test::Args),
    /// Evaluate one rule on one record and show the value of every sub-expression.
    Explain(explain::Args),
    /// Compare the findings of two packs on the same data.
    Diff(diff::Args),
    /// List the rules of a pack, or show one in full.
    Rules(rules::Args),
    /// Print a JSON Schema of pack files, for editors.
    Schema(schema::Args),
}

/// Runs the command line; returns the exit status.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    match cli.command {
        Command::Scan(a) => scan::run(a),
        Command::Check(a) => check::run(a),
        Command::Test(a) => test::run(a),
        Command::Explain(a) => explain::run(a),
        Command::Diff(a) => diff::run(a),
        Command::Rules(a) => rules::run(a),
        Command::Schema(a) => schema::run(a),
    }
}

/// Writes to standard output. A closed pipe (`beian rules | head`) or a full disk is not worth
/// a panic: the text is dropped.
pub fn out(text: &str) {
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

/// Writes a line to standard error, ignoring failures (see [`out`]).
pub fn err(text: &str) {
    let mut e = std::io::stderr().lock();
    let _ = e.write_all(text.as_bytes());
    let _ = e.write_all(b"\n");
}

/// Prints diagnostics rustc-style on standard error.
pub fn print_diagnostics(diags: &[Diagnostic], sources: &Sources) {
    let mut err = std::io::stderr().lock();
    let _ = render_text(diags, sources, &mut err);
}

/// Loads the pack of `-r` (or the embedded one); on errors prints them and returns `Err(2)`.
pub fn load_pack(rules: Option<&Path>) -> Result<Program, i32> {
    let source = match rules {
        Some(p) => PackSource::Path(p),
        None => PackSource::Embedded,
    };
    load_program(source).map_err(|e| {
        print_diagnostics(&e.diagnostics, &e.sources);
        crate::cli::err(&format!(
            "error: the pack has {}; nothing was run",
            crate::diag::summary_line(&e.diagnostics)
        ));
        2
    })
}

/// Today in China Standard Time (UTC+8).
pub fn today_cst() -> NaiveDate {
    (chrono::Utc::now() + chrono::Duration::hours(8)).date_naive()
}

/// Parses `--as-of`.
pub fn parse_date_arg(s: &str) -> Result<NaiveDate, String> {
    crate::funcs::dates::parse_iso_date(s)
        .ok_or_else(|| format!("`{s}` is not a date; write YYYY-MM-DD"))
}

/// Splits `--select`/`--ignore` values: repeated options and comma-separated lists.
pub fn split_list(items: &[String]) -> Vec<String> {
    items
        .iter()
        .flat_map(|s| s.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

pub fn stdout_is_terminal() -> bool {
    std::io::stdout().is_terminal()
}

/// A file written whole or not at all: a temporary file beside the target (with the permissions
/// a new file gets, not a temporary file's 0600), renamed onto it at the end. A command that
/// fails or is killed never leaves a partial target; the temporary file is removed on failure
/// (a killed process leaves it as `.beian-*.tmp`). A target that exists and is not a regular file (`/dev/null`, a FIFO, a terminal) is written
/// in place instead: renaming over it would replace the device with a plain file. A symbolic
/// link is followed, so the file it points to is replaced, not the link.
pub struct AtomicFile {
    target: PathBuf,
    out: Out,
}

enum Out {
    Temp(tempfile::NamedTempFile),
    InPlace(std::fs::File),
}

impl AtomicFile {
    pub fn create(target: &Path) -> std::io::Result<AtomicFile> {
        if std::fs::metadata(target).is_ok_and(|m| !m.is_file()) {
            let f = std::fs::OpenOptions::new().write(true).open(target)?;
            return Ok(AtomicFile {
                target: target.to_path_buf(),
                out: Out::InPlace(f),
            });
        }
        let target = std::fs::canonicalize(target).unwrap_or_else(|_| target.to_path_buf());
        let dir = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let mut b = tempfile::Builder::new();
        b.prefix(".beian-").suffix(".tmp");
        // like a file created directly: 0o666 less the umask
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            b.permissions(std::fs::Permissions::from_mode(0o666));
        }
        let tmp = b.tempfile_in(dir)?;
        Ok(AtomicFile {
            target,
            out: Out::Temp(tmp),
        })
    }

    pub fn writer(&mut self) -> &mut std::fs::File {
        match &mut self.out {
            Out::Temp(t) => t.as_file_mut(),
            Out::InPlace(f) => f,
        }
    }

    /// Flushes and renames into place.
    pub fn commit(mut self) -> std::io::Result<()> {
        self.writer().flush()?;
        if let Out::Temp(t) = self.out {
            t.persist(&self.target).map_err(|e| e.error)?;
        }
        Ok(())
    }
}

/// Writes `content` to `path` atomically.
pub fn write_atomic(path: &Path, content: &[u8]) -> std::io::Result<()> {
    let mut f = AtomicFile::create(path)?;
    f.writer().write_all(content)?;
    f.commit()
}
