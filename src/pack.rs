//! The thin entry into the pipeline: load → parse → check → compile, for a pack on disk or the
//! embedded default. Returns a [`Program`] or every diagnostic (with the sources to show them).

use std::path::Path;

use crate::check::check;
use crate::diag::Diagnostic;
use crate::load::{self, PackFile};
use crate::program::Program;
use crate::source::Sources;

include!(concat!(env!("OUT_DIR"), "/embedded_pack.rs"));

/// A pack that failed to load: its diagnostics and the sources they point into.
#[derive(Debug)]
pub struct PackErrors {
    pub diagnostics: Vec<Diagnostic>,
    pub sources: Sources,
}

/// The result of loading: the program (if no error) and all diagnostics (warnings included).
pub struct Loaded {
    pub program: Option<Program>,
    pub diagnostics: Vec<Diagnostic>,
    pub sources: Sources,
}

/// Where a pack comes from.
#[derive(Debug, Clone)]
pub enum PackSource<'a> {
    Path(&'a Path),
    Embedded,
}

/// The embedded default pack's files, shown as `rules/...`.
pub fn embedded_files() -> Vec<PackFile> {
    EMBEDDED_PACK
        .iter()
        .map(|(rel, text)| PackFile {
            display: format!("rules/{rel}"),
            rel: (*rel).to_string(),
            text: (*text).to_string(),
        })
        .collect()
}

/// Loads, checks and compiles a pack, keeping every diagnostic.
pub fn load_all(source: PackSource<'_>) -> Loaded {
    let files = match source {
        PackSource::Path(p) => match load::read_path(p) {
            Ok(f) => f,
            Err(d) => {
                return Loaded {
                    program: None,
                    diagnostics: vec![d],
                    sources: Sources::new(),
                }
            }
        },
        PackSource::Embedded => embedded_files(),
    };
    load_files(files)
}

/// Loads a pack from files already in memory (tests, the embedded pack).
pub fn load_files(files: Vec<PackFile>) -> Loaded {
    let mut sources = Sources::new();
    let (def, mut diags) = load::load(files, &mut sources);
    diags.extend(crate::lints::lint(&def, &sources));
    let had_errors = diags.iter().any(Diagnostic::is_error);
    let (program, check_diags) = check(def, sources.clone());
    diags.extend(check_diags);
    diags.sort_by_key(|d| (d.loc.map(|l| (l.file, l.start)), d.code));
    let program = if had_errors { None } else { program };
    Loaded {
        program,
        diagnostics: diags,
        sources,
    }
}

/// Loads a pack for running (scan, test...): the program, or the errors.
pub fn load_program(source: PackSource<'_>) -> Result<Program, PackErrors> {
    let loaded = load_all(source);
    match loaded.program {
        Some(p) => Ok(p),
        None => Err(PackErrors {
            diagnostics: loaded
                .diagnostics
                .into_iter()
                .filter(Diagnostic::is_error)
                .collect(),
            sources: loaded.sources,
        }),
    }
}

/// Loads a single-file pack from text (tests and examples).
pub fn load_text(name: &str, text: &str) -> Loaded {
    load_files(vec![PackFile {
        display: name.to_string(),
        rel: name.to_string(),
        text: text.to_string(),
    }])
}
