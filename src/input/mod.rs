//! Reading input records (SPEC §3): formats, encodings, streaming in chunks.
//!
//! A reader turns a byte stream into [`Raw`] records, chunk by chunk, keeping the line where
//! each record starts; the scan converts and evaluates a chunk's records in parallel. Readers
//! never stop on a bad record: it becomes [`Raw::Rejected`] and reading goes on. Only an I/O
//! error stops a file.

pub mod convert;
pub mod csv;
pub mod json_array;
pub mod jsonl;

use std::io::{self, BufRead, BufReader, Cursor, Read};

use crate::types::ObjectType;

/// Records larger than this are rejected (and skipped without being held in memory).
pub const MAX_RECORD_BYTES: usize = 1 << 20;

/// How much of a rejected record's text is kept in its error entry.
pub const MAX_ERROR_VALUE_CHARS: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Jsonl,
    Json,
    Csv,
    Tsv,
}

impl Format {
    pub fn parse(s: &str) -> Option<Format> {
        Some(match s {
            "jsonl" | "ndjson" => Format::Jsonl,
            "json" => Format::Json,
            "csv" => Format::Csv,
            "tsv" => Format::Tsv,
            _ => return None,
        })
    }

    /// The format named by a path's extension; `-` is JSON Lines.
    pub fn from_path(path: &str) -> Option<Format> {
        if path == "-" {
            return Some(Format::Jsonl);
        }
        let ext = std::path::Path::new(path)
            .extension()?
            .to_str()?
            .to_ascii_lowercase();
        Format::parse(&ext)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncodingChoice {
    Auto,
    Utf8,
    Gb18030,
}

impl EncodingChoice {
    pub fn parse(s: &str) -> Option<EncodingChoice> {
        Some(match s.to_ascii_lowercase().as_str() {
            "auto" => EncodingChoice::Auto,
            "utf-8" | "utf8" => EncodingChoice::Utf8,
            "gb18030" | "gbk" | "gb2312" => EncodingChoice::Gb18030,
            _ => return None,
        })
    }
}

/// The encoding a stream was found to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Utf8,
    Gb18030,
}

impl Encoding {
    /// Decodes one record's bytes; `None` when they are not valid in this encoding.
    pub fn decode(self, bytes: &[u8]) -> Option<String> {
        match self {
            Encoding::Utf8 => std::str::from_utf8(bytes).ok().map(str::to_string),
            Encoding::Gb18030 => encoding_rs::GB18030
                .decode_without_bom_handling_and_without_replacement(bytes)
                .map(|c| c.into_owned()),
        }
    }

    /// Decodes for display in an error entry, replacing what does not decode.
    pub fn lossy(self, bytes: &[u8]) -> String {
        let text = match self {
            Encoding::Utf8 => String::from_utf8_lossy(bytes).into_owned(),
            Encoding::Gb18030 => encoding_rs::GB18030
                .decode_without_bom_handling(bytes)
                .0
                .into_owned(),
        };
        truncate_chars(&text, MAX_ERROR_VALUE_CHARS)
    }
}

pub fn truncate_chars(s: &str, n: usize) -> String {
    match s.char_indices().nth(n) {
        Some((i, _)) => s.get(..i).unwrap_or(s).to_string(),
        None => s.to_string(),
    }
}

/// One record as read, before conversion.
#[derive(Debug, Clone)]
pub enum Raw {
    /// A JSON object's text (JSON Lines, or an element of a JSON array).
    Json { line: usize, text: String },
    /// A CSV row's cells (decoded), and the raw row for error entries.
    Row {
        line: usize,
        cells: Vec<String>,
        raw: String,
    },
    /// Not a record: why, and the text (at most 200 characters).
    Rejected {
        line: usize,
        value: String,
        reason: String,
    },
}

impl Raw {
    pub fn line(&self) -> usize {
        match self {
            Raw::Json { line, .. } | Raw::Row { line, .. } | Raw::Rejected { line, .. } => *line,
        }
    }
}

/// A source of records, read a chunk at a time.
pub trait RecordReader: Send {
    /// Appends up to about `max` records to `out`; returns false at the end of the input.
    fn next_chunk(&mut self, out: &mut Vec<Raw>, max: usize) -> io::Result<bool>;

    /// For CSV: how columns map to the schema (None for JSON formats).
    fn plan(&self) -> Option<&csv::Plan> {
        None
    }
}

/// Reads the first 64 KiB to choose the encoding (SPEC §3), strips a UTF-8 BOM, and returns
/// the encoding with a reader that yields the whole stream.
pub fn sniff(
    mut r: Box<dyn Read + Send>,
    choice: EncodingChoice,
) -> io::Result<(Encoding, Box<dyn BufRead + Send>)> {
    let mut head = Vec::with_capacity(64 * 1024);
    (&mut r).take(64 * 1024).read_to_end(&mut head)?;
    let bom = head.starts_with(b"\xEF\xBB\xBF");
    let body = if bom {
        head.get(3..).unwrap_or_default().to_vec()
    } else {
        head
    };
    let enc = match choice {
        EncodingChoice::Utf8 => Encoding::Utf8,
        EncodingChoice::Gb18030 => Encoding::Gb18030,
        EncodingChoice::Auto => {
            if bom {
                Encoding::Utf8
            } else {
                match std::str::from_utf8(&body) {
                    Ok(_) => Encoding::Utf8,
                    // cut inside a character at the 64 KiB mark: still UTF-8
                    Err(e) if e.error_len().is_none() => Encoding::Utf8,
                    Err(_) => Encoding::Gb18030,
                }
            }
        }
    };
    let reader = BufReader::with_capacity(256 * 1024, Cursor::new(body).chain(r));
    Ok((enc, Box::new(reader)))
}

/// Reads one line (without its `\n`) into `buf`, keeping at most `cap` bytes; returns the number
/// of bytes consumed (0 at the end) and whether the line was longer than `cap`.
pub fn read_line_capped(
    r: &mut dyn BufRead,
    buf: &mut Vec<u8>,
    cap: usize,
) -> io::Result<(usize, bool)> {
    let mut consumed = 0;
    let mut over = false;
    loop {
        let available = match r.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok((consumed, over));
        }
        let (chunk, done) = match memchr::memchr(b'\n', available) {
            Some(i) => (available.get(..i).unwrap_or_default(), Some(i + 1)),
            None => (available, None),
        };
        let room = cap.saturating_sub(buf.len());
        if chunk.len() > room {
            over = true;
            buf.extend_from_slice(chunk.get(..room).unwrap_or_default());
        } else {
            buf.extend_from_slice(chunk);
        }
        let used = done.unwrap_or(available.len());
        r.consume(used);
        consumed += used;
        if done.is_some() {
            return Ok((consumed, over));
        }
    }
}

/// Opens one input for reading.
pub fn open(
    path: &str,
    format: Format,
    choice: EncodingChoice,
    schema: &ObjectType,
) -> io::Result<Box<dyn RecordReader>> {
    let raw: Box<dyn Read + Send> = if path == "-" {
        Box::new(io::stdin())
    } else {
        Box::new(std::fs::File::open(path)?)
    };
    let (enc, reader) = sniff(raw, choice)?;
    Ok(match format {
        Format::Jsonl => Box::new(jsonl::JsonlReader::new(reader, enc)),
        Format::Json => Box::new(json_array::JsonArrayReader::new(reader, enc)),
        Format::Csv => Box::new(csv::CsvReader::new(reader, enc, b',', schema)?),
        Format::Tsv => Box::new(csv::CsvReader::new(reader, enc, b'\t', schema)?),
    })
}
