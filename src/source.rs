//! The files a pack was loaded from, and locations inside them.
//!
//! Every position that reaches a user is a [`Loc`]: a byte range in one file of [`Sources`].
//! Line and column are computed only when a diagnostic is shown (columns count Unicode scalar
//! values, 1-based, as SPEC §7 asks).

use codespan_reporting::files::{Files, SimpleFiles};

/// Index of a file in [`Sources`].
pub type FileId = usize;

/// A byte range in one source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Loc {
    pub file: FileId,
    pub start: usize,
    pub end: usize,
}

impl Loc {
    pub fn new(file: FileId, start: usize, end: usize) -> Loc {
        Loc {
            file,
            start,
            end: end.max(start),
        }
    }
}

/// The text of every file read for a pack (or a waivers file), kept for diagnostics.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    files: SimpleFiles<String, String>,
    count: usize,
}

impl Sources {
    pub fn new() -> Sources {
        Sources::default()
    }

    /// Adds a file and returns its id. `name` is the path as the user should see it.
    pub fn add(&mut self, name: impl Into<String>, text: impl Into<String>) -> FileId {
        self.count += 1;
        self.files.add(name.into(), text.into())
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub fn name(&self, file: FileId) -> &str {
        self.files
            .get(file)
            .map(|f| f.name().as_str())
            .unwrap_or("")
    }

    pub fn text(&self, file: FileId) -> &str {
        self.files
            .get(file)
            .map(|f| f.source().as_str())
            .unwrap_or("")
    }

    /// The text under a location (empty when out of range).
    pub fn slice(&self, loc: Loc) -> &str {
        self.text(loc.file).get(loc.start..loc.end).unwrap_or("")
    }

    /// 1-based line and column (in Unicode scalar values) of a byte offset.
    pub fn line_col(&self, file: FileId, byte: usize) -> (usize, usize) {
        match self.files.location(file, byte) {
            Ok(l) => (l.line_number, l.column_number),
            Err(_) => (1, 1),
        }
    }

    pub(crate) fn files(&self) -> &SimpleFiles<String, String> {
        &self.files
    }
}
