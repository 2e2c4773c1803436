//! Reading input records (SPEC §3): formats, encodings, streaming in blocks.
//!
//! A reader reads its input a block of a few MiB at a time and splits each block into records
//! without parsing them: a [`Chunk`] owns the block's bytes and lists its records as byte ranges
//! ([`Raw`]), each with the line where it starts. The scan then decodes, converts and evaluates a
//! chunk's records in parallel, straight from the block's bytes. A record cut by the end of a
//! block is carried over to the next one; a record longer than [`MAX_RECORD_BYTES`] is skipped
//! without being held and becomes a rejected record, so memory stays bounded whatever the input.
//!
//! Readers never stop on a bad record: it becomes [`Raw::Rejected`] and reading goes on. Only an
//! I/O error stops a file.

pub mod convert;
pub mod csv;
pub mod json_array;
pub mod jsonl;

use std::borrow::Cow;
use std::io::{self, Read};
use std::ops::Range;
use std::sync::Arc;

use crate::types::ObjectType;

/// Records larger than this are rejected (and skipped without being held in memory).
pub const MAX_RECORD_BYTES: usize = 1 << 20;

/// How much of a rejected record's text is kept in its error entry.
pub const MAX_ERROR_VALUE_CHARS: usize = 200;

/// How many bytes a reader reads for one chunk (records cut at the end are carried over).
pub const BLOCK_BYTES: usize = 4 << 20;

/// At most this many records in a chunk (a block of tiny records is cut), to bound the memory
/// of the records and their results in flight.
pub const CHUNK_RECORDS: usize = 32 * 1024;

/// How many bytes of the encoding sniff (SPEC §3: the first 64 KiB).
pub const SNIFF_BYTES: usize = 64 * 1024;

/// The least a block read adds (see [`Blocks::fill`]).
pub const MIN_READ: usize = 64 * 1024;

/// The input formats of SPEC §3.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Jsonl,
    Json,
    Csv,
    Tsv,
}

impl Format {
    pub fn parse(s: &str) -> Option<Format> {
        Some(match s.to_ascii_lowercase().as_str() {
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
        let ext = std::path::Path::new(path).extension()?.to_str()?;
        Format::parse(ext)
    }
}

/// `--encoding`.
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
    /// Decodes one record's bytes, borrowing them when they are already UTF-8 (ASCII, in
    /// GB18030); `None` when they are not valid in this encoding.
    pub fn decode(self, bytes: &[u8]) -> Option<Cow<'_, str>> {
        match self {
            // simdutf8: the validation of every record was ~5% of a scan with std's
            Encoding::Utf8 => simdutf8::basic::from_utf8(bytes).ok().map(Cow::Borrowed),
            Encoding::Gb18030 => {
                encoding_rs::GB18030.decode_without_bom_handling_and_without_replacement(bytes)
            }
        }
    }

    /// Decodes for display in an error entry, replacing what does not decode, and keeps at most
    /// [`MAX_ERROR_VALUE_CHARS`] characters.
    pub fn lossy(self, bytes: &[u8]) -> String {
        // 4 bytes a character at most: enough for 200 characters, without decoding a whole MiB
        let bytes = bytes.get(..MAX_ERROR_VALUE_CHARS * 4).unwrap_or(bytes);
        let text: Cow<'_, str> = match self {
            Encoding::Utf8 => String::from_utf8_lossy(bytes),
            Encoding::Gb18030 => encoding_rs::GB18030.decode_without_bom_handling(bytes).0,
        };
        truncate_chars(&text, MAX_ERROR_VALUE_CHARS)
    }

    /// The reason given for a record that does not decode.
    pub fn invalid_reason(self) -> &'static str {
        match self {
            Encoding::Utf8 => "not valid UTF-8",
            Encoding::Gb18030 => "not valid GB18030",
        }
    }
}

/// The first `n` characters of `s`.
pub fn truncate_chars(s: &str, n: usize) -> String {
    match s.char_indices().nth(n) {
        Some((i, _)) => s.get(..i).unwrap_or(s).to_string(),
        None => s.to_string(),
    }
}

/// One CSV cell: a byte range of a row's text; a quoted cell still has its quotes (and doubled
/// quotes inside), removed when the cell is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cell {
    pub start: usize,
    pub end: usize,
    pub quoted: bool,
}

/// One record as read, before decoding and conversion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Raw {
    /// A JSON value's bytes (a JSON Lines line, or an element of a JSON array).
    Json { line: usize, bytes: Range<usize> },
    /// A CSV row's bytes (without its line end), with as many fields as the header; `cells`
    /// is its range of [`Chunk::cell_ends`] (the reader split the row as it found its end).
    Row {
        line: usize,
        raw: Range<usize>,
        cells: Range<usize>,
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

/// A block of one input and the records in it.
#[derive(Debug, Clone)]
pub struct Chunk {
    pub format: Format,
    pub encoding: Encoding,
    /// For CSV: how columns map to the schema.
    pub plan: Option<Arc<csv::Plan>>,
    /// The block's bytes; records are ranges of it.
    pub data: Vec<u8>,
    pub records: Vec<Raw>,
    /// CSV: each cell's end, as an offset from its row's start, with [`QUOTED_CELL`] set for
    /// a quoted cell; a cell starts one byte (the delimiter) after the previous one ends.
    pub cell_ends: Vec<u32>,
}

/// The bit of a [`Chunk::cell_ends`] entry that marks a quoted cell (a row is at most
/// [`MAX_RECORD_BYTES`], so an offset never reaches it).
pub const QUOTED_CELL: u32 = 1 << 31;

/// The cells of a row from its packed ends (see [`Chunk::cell_ends`]), into `out` (cleared
/// first), as offsets from the row's start.
pub fn unpack_cells(ends: &[u32], out: &mut Vec<Cell>) {
    out.clear();
    let mut start = 0;
    for &e in ends {
        let end = (e & !QUOTED_CELL) as usize;
        out.push(Cell {
            start,
            end,
            quoted: e & QUOTED_CELL != 0,
        });
        start = end + 1;
    }
}

impl Chunk {
    pub fn new(format: Format, encoding: Encoding, plan: Option<Arc<csv::Plan>>) -> Chunk {
        Chunk {
            format,
            encoding,
            plan,
            data: Vec::new(),
            records: Vec::new(),
            cell_ends: Vec::new(),
        }
    }

    /// The bytes of a range of the block.
    pub fn bytes(&self, r: &Range<usize>) -> &[u8] {
        self.data.get(r.clone()).unwrap_or_default()
    }
}

/// A source of records, read a chunk at a time.
pub trait RecordReader: Send {
    /// The next chunk (possibly without records), or `None` at the end of the input.
    fn next_chunk(&mut self) -> io::Result<Option<Chunk>>;
}

/// A byte stream read a block at a time; the sniffed head is replayed first.
pub struct Blocks {
    head: Vec<u8>,
    inner: Box<dyn Read + Send>,
    eof: bool,
    /// Buffers of chunks already processed, handed back to be filled again (fresh 4 MiB
    /// buffers cost page faults).
    recycled: Option<Arc<Recycler>>,
}

/// Block buffers (and CSV cell buffers) handed back by the scan once a chunk is processed.
#[derive(Debug, Default)]
pub struct Recycler {
    free: Shelf<u8>,
    /// A chunk's [`Chunk::cell_ends`]: a CSV block's cells are megabytes, and fresh ones cost
    /// page faults and raised a CSV scan's peak memory by a third.
    cells: Shelf<u32>,
}

/// Emptied buffers kept for reuse, at most [`Shelf::KEEP`].
#[derive(Debug)]
struct Shelf<T>(std::sync::Mutex<Vec<Vec<T>>>);

impl<T> Default for Shelf<T> {
    fn default() -> Self {
        Shelf(std::sync::Mutex::new(Vec::new()))
    }
}

impl<T> Shelf<T> {
    const KEEP: usize = 8;

    /// Keeps `buf`, emptied, unless it holds less than `min` or the shelf is full.
    fn put(&self, mut buf: Vec<T>, min: usize) {
        if buf.capacity() < min {
            return;
        }
        buf.clear();
        if let Ok(mut free) = self.0.lock() {
            if free.len() < Self::KEEP {
                free.push(buf);
            }
        }
    }

    fn take(&self) -> Option<Vec<T>> {
        self.0.lock().ok().and_then(|mut f| f.pop())
    }
}

impl Recycler {
    pub fn give(&self, buf: Vec<u8>) {
        self.free.put(buf, BLOCK_BYTES);
    }

    fn take(&self) -> Option<Vec<u8>> {
        self.free.take()
    }

    /// Hands back a chunk's [`Chunk::cell_ends`].
    pub fn give_cells(&self, cells: Vec<u32>) {
        self.cells.put(cells, 1);
    }

    fn take_cells(&self) -> Option<Vec<u32>> {
        self.cells.take()
    }
}

impl Blocks {
    /// Hands back processed buffers to this stream.
    pub fn recycle_with(&mut self, r: Arc<Recycler>) {
        self.recycled = Some(r);
    }

    /// A buffer for the next block that starts with `carry` (bytes carried over).
    pub fn buffer(&mut self, carry: Vec<u8>) -> Vec<u8> {
        // room for a block and a carried-over record, so that a recycled buffer is not grown
        let room = BLOCK_BYTES + MAX_RECORD_BYTES.max(carry.len()) + 4096;
        let mut buf = match self.recycled.as_ref().and_then(|r| r.take()) {
            Some(b) => b,
            None => Vec::with_capacity(room),
        };
        buf.reserve(room);
        buf.extend_from_slice(&carry);
        buf
    }

    /// An empty buffer for a chunk's CSV cells: one handed back if there is one.
    pub fn cells_buffer(&mut self) -> Vec<u32> {
        self.recycled
            .as_ref()
            .and_then(|r| r.take_cells())
            .unwrap_or_default()
    }

    /// Reads until `buf` (which may start with bytes carried over) holds `total` bytes, and at
    /// least [`MIN_READ`] more: a large carry-over (a chunk that stopped at
    /// [`CHUNK_RECORDS`] short records) is worked off before the buffer grows, so it stays
    /// about one block whatever the input. Returns false when nothing more was read.
    pub fn fill(&mut self, buf: &mut Vec<u8>, total: usize) -> io::Result<bool> {
        let before = buf.len();
        if !self.head.is_empty() {
            buf.append(&mut self.head);
            self.head = Vec::new();
        }
        if !self.eof {
            let want = total
                .saturating_sub(buf.len())
                .max(MIN_READ.saturating_sub(buf.len() - before));
            if want > 0 {
                let got = (&mut self.inner).take(want as u64).read_to_end(buf)?;
                if got < want {
                    self.eof = true;
                }
            }
        }
        Ok(buf.len() > before)
    }

    /// Whether every byte has been handed out.
    pub fn at_end(&self) -> bool {
        self.eof && self.head.is_empty()
    }
}

/// Reads the first 64 KiB to choose the encoding (SPEC §3) and strips a byte order mark.
pub fn sniff(
    mut r: Box<dyn Read + Send>,
    choice: EncodingChoice,
) -> io::Result<(Encoding, Blocks)> {
    let mut head = Vec::with_capacity(SNIFF_BYTES);
    (&mut r).take(SNIFF_BYTES as u64).read_to_end(&mut head)?;
    let eof = head.len() < SNIFF_BYTES;
    let utf8_bom = head.starts_with(b"\xEF\xBB\xBF");
    let enc = match choice {
        EncodingChoice::Utf8 => Encoding::Utf8,
        EncodingChoice::Gb18030 => Encoding::Gb18030,
        EncodingChoice::Auto if utf8_bom => Encoding::Utf8,
        EncodingChoice::Auto => {
            if looks_utf8(&head) {
                Encoding::Utf8
            } else {
                Encoding::Gb18030
            }
        }
    };
    let bom_len = match enc {
        Encoding::Utf8 if utf8_bom => 3,
        Encoding::Gb18030 if head.starts_with(b"\x84\x31\x95\x33") => 4,
        // a UTF-8 BOM read as GB18030 (--encoding gb18030): still a BOM, not text
        Encoding::Gb18030 if utf8_bom => 3,
        _ => 0,
    };
    head.drain(..bom_len);
    Ok((
        enc,
        Blocks {
            head,
            inner: r,
            eof,
            recycled: None,
        },
    ))
}

/// Whether the head of an input is UTF-8 (SPEC §3: else GB18030). Valid UTF-8 is; so is text
/// cut inside a character at its end (the 64 KiB mark, or a truncated file). A few invalid
/// bytes among much valid multi-byte UTF-8 (at most one per 64 bytes of it) are taken as
/// damage inside a UTF-8 file, not as GB18030 text: GBK/GB18030 Chinese text is nowhere near
/// valid UTF-8, while reading UTF-8 Chinese as GB18030 would garble every record instead of
/// rejecting the damaged one.
pub fn looks_utf8(head: &[u8]) -> bool {
    let mut rest = head;
    let mut invalid = 0usize;
    let mut multibyte = 0usize;
    loop {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                multibyte += s.bytes().filter(|b| !b.is_ascii()).count();
                break;
            }
            Err(e) => {
                let good = rest.get(..e.valid_up_to()).unwrap_or_default();
                multibyte += good.iter().filter(|b| !b.is_ascii()).count();
                match e.error_len() {
                    None => break,
                    Some(n) => {
                        invalid += 1;
                        rest = rest.get(e.valid_up_to() + n..).unwrap_or_default();
                    }
                }
            }
        }
    }
    invalid == 0 || invalid * 64 <= multibyte
}

/// Opens one input for reading.
pub fn open(
    path: &str,
    format: Format,
    choice: EncodingChoice,
    schema: &ObjectType,
) -> io::Result<Box<dyn RecordReader>> {
    open_with(path, format, choice, schema, None)
}

/// Opens one input for reading; its block buffers come from `recycler` when it has some.
pub fn open_with(
    path: &str,
    format: Format,
    choice: EncodingChoice,
    schema: &ObjectType,
    recycler: Option<Arc<Recycler>>,
) -> io::Result<Box<dyn RecordReader>> {
    let raw: Box<dyn Read + Send> = if path == "-" {
        Box::new(io::stdin())
    } else {
        let f = std::fs::File::open(path)?;
        if f.metadata()?.is_dir() {
            return Err(io::Error::other("is a directory"));
        }
        Box::new(f)
    };
    let (enc, mut blocks) = sniff(raw, choice)?;
    if let Some(r) = recycler {
        blocks.recycle_with(r);
    }
    Ok(match format {
        Format::Jsonl => Box::new(jsonl::JsonlReader::new(blocks, enc)),
        Format::Json => Box::new(json_array::JsonArrayReader::new(blocks, enc)),
        Format::Csv => Box::new(csv::CsvReader::new(blocks, enc, Format::Csv, schema)),
        Format::Tsv => Box::new(csv::CsvReader::new(blocks, enc, Format::Tsv, schema)),
    })
}

/// Reads a whole input into records in one chunk list (for tests and small inputs).
pub fn read_all(reader: &mut dyn RecordReader) -> io::Result<Vec<Chunk>> {
    let mut out = Vec::new();
    while let Some(c) = reader.next_chunk()? {
        out.push(c);
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::expect_used)] // a test stops at its first failure
mod tests {
    use super::*;
    use crate::types::{ObjectType, Type};

    /// `n` tiny records, produced as they are read (nothing like the whole input in memory).
    struct Tiny {
        next: usize,
        n: usize,
        format: Format,
        pending: Vec<u8>,
    }

    impl Read for Tiny {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            while self.pending.len() < out.len() && self.next <= self.n {
                let i = self.next;
                self.next += 1;
                let piece = match (self.format, i) {
                    (Format::Csv, 0) => "n\n".to_string(),
                    (Format::Json, 0) => "[".to_string(),
                    (Format::Json, i) if i == self.n => "{\"n\":0}]".to_string(),
                    (Format::Csv, i) => format!("{i}\n"),
                    (Format::Json, i) => format!("{{\"n\":{i}}},\n"),
                    (_, 0) => String::new(),
                    (_, i) => format!("{{\"n\":{i}}}\n"),
                };
                self.pending.extend_from_slice(piece.as_bytes());
            }
            let k = self.pending.len().min(out.len());
            if let (Some(dst), Some(src)) = (out.get_mut(..k), self.pending.get(..k)) {
                dst.copy_from_slice(src);
            }
            self.pending.drain(..k);
            Ok(k)
        }
    }

    /// A chunk stops at `CHUNK_RECORDS` records; with short records most of a block is left
    /// over. The buffer must not grow by a block per chunk (it did: 2 M CSV rows of 20 bytes
    /// peaked at 284 MB), so every chunk's buffer stays about two blocks.
    #[test]
    fn chunks_of_short_records_stay_about_two_blocks() {
        let schema = ObjectType {
            fields: vec![("n".to_string(), Type::Int)],
        };
        for format in [Format::Jsonl, Format::Csv, Format::Json] {
            let n = 1_500_000;
            let src = Tiny {
                next: 0,
                n,
                format,
                pending: Vec::new(),
            };
            let (enc, blocks) = sniff(Box::new(src), EncodingChoice::Auto).expect("sniff");
            let mut reader: Box<dyn RecordReader> = match format {
                Format::Jsonl => Box::new(jsonl::JsonlReader::new(blocks, enc)),
                Format::Json => Box::new(json_array::JsonArrayReader::new(blocks, enc)),
                _ => Box::new(csv::CsvReader::new(blocks, enc, format, &schema)),
            };
            let (mut records, mut biggest) = (0, 0);
            while let Some(chunk) = reader.next_chunk().expect("read") {
                records += chunk.records.len();
                // the buffer holds the chunk and what is carried to the next one
                biggest = biggest.max(chunk.data.capacity());
            }
            assert_eq!(records, n, "{format:?}");
            assert!(
                biggest <= 2 * BLOCK_BYTES + MAX_RECORD_BYTES + MIN_READ,
                "{format:?}: a buffer of {biggest} bytes"
            );
        }
    }
}
