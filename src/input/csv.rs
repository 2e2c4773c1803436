//! CSV and TSV (SPEC §3, §7): a header row of dotted paths, `;` lists, an empty cell null,
//! quoted fields (also across lines, a record's line being its first), blank lines skipped.
//!
//! The reader splits a block into rows and cells with a small resumable state machine (RFC 4180
//! quoting, `""` inside quotes; CRLF or LF): cells stay byte ranges of the block and are decoded
//! and converted later, in parallel. A row whose field count differs from the header's, an
//! unclosed quote (the record runs to the end of the input) or a record longer than the cap is a
//! rejected record; reading goes on.

use std::borrow::Cow;
use std::io;
use std::sync::Arc;

use super::convert::{convert_cell, Ctx};
use super::{
    Blocks, Cell, Chunk, Encoding, Format, Raw, RecordReader, BLOCK_BYTES, CHUNK_RECORDS,
    MAX_ERROR_VALUE_CHARS, MAX_RECORD_BYTES,
};
use crate::types::{ObjectType, Type};
use crate::value::Value;

/// One column the schema declares: its header, slot path and type.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub name: String,
    pub path: Vec<usize>,
    pub ty: Type,
}

/// The columns that fill one object of the record, and its nested objects.
#[derive(Debug, Clone, Default)]
struct Node {
    len: usize,
    /// (column, slot)
    cols: Vec<(usize, usize)>,
    /// (slot, object)
    children: Vec<(usize, Node)>,
}

impl Node {
    fn insert(&mut self, schema: &ObjectType, path: &[usize], col: usize) {
        self.len = schema.fields.len();
        match path {
            [] => {}
            [slot] => self.cols.push((col, *slot)),
            [slot, rest @ ..] => {
                let Some((_, Type::Object(sub))) = schema.fields.get(*slot) else {
                    return;
                };
                let i = match self.children.iter().position(|(s, _)| s == slot) {
                    Some(i) => i,
                    None => {
                        self.children.push((*slot, Node::default()));
                        self.children.len() - 1
                    }
                };
                if let Some((_, child)) = self.children.get_mut(i) {
                    child.insert(sub, rest, col);
                }
            }
        }
    }
}

/// How the header's columns map onto the schema: per column, the slot path and type of a
/// declared scalar or list-of-scalar field, or `None` (an ignored column).
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub columns: Vec<Option<Column>>,
    root: Node,
    /// Per column, whether the pack reads it (computed once, on the first scanned row).
    keep: std::sync::OnceLock<Vec<bool>>,
}

impl Plan {
    /// Builds the plan from header names.
    pub fn new(headers: &[String], schema: &ObjectType) -> Plan {
        let columns: Vec<Option<Column>> = headers.iter().map(|h| column(h, schema)).collect();
        let mut root = Node {
            len: schema.fields.len(),
            ..Node::default()
        };
        for (i, c) in columns.iter().enumerate() {
            if let Some(c) = c {
                root.insert(schema, &c.path, i);
            }
        }
        Plan {
            columns,
            root,
            keep: std::sync::OnceLock::new(),
        }
    }

    /// Converts a row's cells into a record: a cell's text is `text[start - base..end - base]`.
    /// An empty cell is null; a nested object is null when all its cells are empty.
    pub fn record<'s>(
        &'s self,
        text: &str,
        cells: &[Cell],
        base: usize,
        schema: &ObjectType,
        ctx: &mut Ctx<'s>,
    ) -> Vec<Value> {
        let row = Row { text, cells, base };
        // with a usage (a scan), columns the rules never read are checked but not stored
        let keep = ctx.usage().map(|u| {
            self.keep
                .get_or_init(|| {
                    self.columns
                        .iter()
                        .map(|c| c.as_ref().is_some_and(|c| reads_path(u, schema, &c.path)))
                        .collect()
                })
                .as_slice()
        });
        build::<Vec<Value>>(&self.root, &self.columns, &row, keep, ctx)
            .unwrap_or_else(|| crate::value::nulls(schema.fields.len()))
    }
}

/// A header's column: a declared scalar or list-of-scalars path, or `None`.
fn column(header: &str, schema: &ObjectType) -> Option<Column> {
    let mut obj = schema;
    let mut path = Vec::new();
    let mut parts = header.split('.').peekable();
    while let Some(part) = parts.next() {
        let (slot, ty) = obj.slot(part)?;
        path.push(slot);
        let last = parts.peek().is_none();
        match (ty, last) {
            (Type::Object(o), false) => obj = o,
            (Type::List(e), true) if !matches!(e.as_ref(), Type::Object(_) | Type::List(_)) => {}
            (Type::Object(_) | Type::List(_) | Type::Map(_), _) | (_, false) => return None,
            (_, true) => {}
        }
        if last {
            return Some(Column {
                name: header.to_string(),
                path,
                ty: ty.clone(),
            });
        }
    }
    None
}

struct Row<'a> {
    text: &'a str,
    cells: &'a [Cell],
    base: usize,
}

/// Whether a column's slot path is read by the pack, object by object.
fn reads_path(usage: &crate::program::Usage, schema: &ObjectType, path: &[usize]) -> bool {
    let mut obj = schema;
    for (i, &slot) in path.iter().enumerate() {
        if !usage.reads(obj, slot) {
            return false;
        }
        if i + 1 < path.len() {
            match obj.fields.get(slot) {
                Some((_, Type::Object(o))) => obj = o,
                _ => return false,
            }
        }
    }
    true
}

/// An object's slots as [`build`] fills them: the record's own `Vec`, or a nested object's
/// single-allocation `Arc` (filled before it is shared).
trait Slots {
    fn nulls(n: usize) -> Self;
    fn slot(&mut self, i: usize) -> Option<&mut Value>;
}

impl Slots for Vec<Value> {
    fn nulls(n: usize) -> Self {
        crate::value::nulls(n)
    }
    fn slot(&mut self, i: usize) -> Option<&mut Value> {
        self.get_mut(i)
    }
}

impl Slots for Arc<[Value]> {
    fn nulls(n: usize) -> Self {
        crate::value::object_slots(n)
    }
    fn slot(&mut self, i: usize) -> Option<&mut Value> {
        Arc::get_mut(self).and_then(|s| s.get_mut(i))
    }
}

fn build<'s, S: Slots>(
    node: &Node,
    columns: &'s [Option<Column>],
    row: &Row<'_>,
    keep: Option<&[bool]>,
    ctx: &mut Ctx<'s>,
) -> Option<S> {
    let mut slots: Option<S> = None;
    for &(col, slot) in &node.cols {
        let (Some(Some(c)), Some(cell)) = (columns.get(col), row.cells.get(col)) else {
            continue;
        };
        let cell = Cell {
            start: cell.start.saturating_sub(row.base),
            end: cell.end.saturating_sub(row.base),
            quoted: cell.quoted,
        };
        let read = keep.is_none_or(|k| k.get(col).copied().unwrap_or(false));
        let text_only =
            matches!(&c.ty, Type::Str) || matches!(&c.ty, Type::List(e) if **e == Type::Str);
        if !read && text_only {
            continue; // text always converts: nothing to check, nothing to store
        }
        let s = cell_text(row.text, &cell);
        if s.is_empty() {
            continue;
        }
        ctx.push_column(&c.name, &c.path);
        let v = convert_cell(&s, &c.ty, ctx);
        ctx.pop();
        if !read {
            continue; // converted for its errors only
        }
        let slots = slots.get_or_insert_with(|| S::nulls(node.len));
        if let Some(x) = slots.slot(slot) {
            *x = v;
        }
    }
    for (slot, child) in &node.children {
        if let Some(obj) = build::<Arc<[Value]>>(child, columns, row, keep, ctx) {
            let slots = slots.get_or_insert_with(|| S::nulls(node.len));
            if let Some(x) = slots.slot(*slot) {
                *x = Value::Object(obj);
            }
        }
    }
    slots
}

/// A cell's text: a quoted cell loses its quotes and `""` becomes `"` (text after the closing
/// quote is kept, as the `csv` crate does).
pub fn cell_text<'t>(text: &'t str, cell: &Cell) -> Cow<'t, str> {
    let s = text.get(cell.start..cell.end).unwrap_or("");
    if !cell.quoted {
        return Cow::Borrowed(s);
    }
    let inner = s.strip_prefix('"').unwrap_or(s);
    if let Some(body) = inner.strip_suffix('"') {
        if !body.contains('"') {
            return Cow::Borrowed(body);
        }
    }
    let mut out = String::with_capacity(inner.len());
    let mut rest = inner;
    loop {
        match rest.find('"') {
            None => {
                out.push_str(rest);
                break;
            }
            Some(i) => {
                out.push_str(rest.get(..i).unwrap_or(""));
                let after = rest.get(i + 1..).unwrap_or("");
                if let Some(more) = after.strip_prefix('"') {
                    out.push('"');
                    rest = more;
                } else {
                    // the closing quote: the rest is literal
                    out.push_str(after);
                    break;
                }
            }
        }
    }
    Cow::Owned(out)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum St {
    FieldStart,
    Unquoted,
    Quoted,
    /// A `"` inside a quoted field: the closing quote, or the first of `""`.
    QuoteInQuoted,
    /// Text after a closing quote (kept literally).
    AfterQuote,
}

/// A resumable splitter of one record into cells.
#[derive(Debug, Clone)]
pub struct RowScan {
    delim: u8,
    st: St,
    /// Where the next byte to read is.
    pos: usize,
    field_start: usize,
    quoted: bool,
    /// Whether cells are recorded (not while a row too long to keep is skipped).
    keep: bool,
    /// How many cells are recorded at most (the reader: the header's width; a row with more
    /// is rejected whole).
    limit: usize,
    /// Cells ended so far.
    pub count: usize,
    /// Newlines read so far (inside quotes, and the record's end).
    pub newlines: usize,
    pub cells: Vec<Cell>,
}

impl RowScan {
    pub fn new(delim: u8) -> RowScan {
        RowScan {
            delim,
            st: St::FieldStart,
            pos: 0,
            field_start: 0,
            quoted: false,
            keep: true,
            limit: usize::MAX,
            count: 0,
            newlines: 0,
            cells: Vec::new(),
        }
    }

    fn end_field(&mut self, bytes: &[u8], mut end: usize, record_end: bool) {
        if record_end && end > self.field_start && bytes.get(end - 1) == Some(&b'\r') {
            end -= 1;
        }
        self.count += 1;
        // a cell past the header's width or past MAX_RECORD_BYTES belongs to a row that is
        // rejected whole: not recorded, so a row of a million delimiters grows no buffer
        if self.keep && self.cells.len() < self.limit && end <= MAX_RECORD_BYTES {
            self.cells.push(Cell {
                start: self.field_start,
                end,
                quoted: self.quoted,
            });
        }
        self.quoted = false;
        self.field_start = end + 1;
        self.st = St::FieldStart;
    }

    /// Reads on from `self.pos` in `bytes` (the record so far, from its first byte); returns
    /// the offset just past the record's `\n` when the record is complete.
    pub fn feed(&mut self, bytes: &[u8]) -> Option<usize> {
        // most rows have no quote: one SIMD search finds the row's end, and a plain loop its
        // delimiters, instead of a search per field (this was 30 instructions a byte)
        if self.pos == 0 && self.count == 0 && self.st == St::FieldStart {
            if let Some(k) = memchr::memchr2(b'"', b'\n', bytes) {
                if bytes.get(k) == Some(&b'\n') {
                    self.unquoted_fields(bytes, k);
                    self.end_field(bytes, k, true);
                    self.newlines += 1;
                    self.pos = k + 1;
                    return Some(k + 1);
                }
            }
        }
        self.feed_fields(bytes)
    }

    /// Ends a field at each delimiter of `bytes[..end]`, which holds no quote and no newline:
    /// what [`RowScan::feed_fields`] does there, without a search per field. Eight bytes at a
    /// time: a word's delimiters are found as a bit mask, so the loop branches per delimiter,
    /// not per byte.
    fn unquoted_fields(&mut self, bytes: &[u8], end: usize) {
        const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
        let delim = self.delim;
        let row = bytes.get(..end).unwrap_or_default();
        let pattern = u64::from_ne_bytes([delim; 8]);
        let mut words = row.chunks_exact(8);
        let mut at = 0;
        for w in &mut words {
            let Ok(w) = <[u8; 8]>::try_from(w) else {
                break;
            };
            let y = u64::from_le_bytes(w) ^ pattern;
            // a byte's high bit is set when the byte is not the delimiter (exact per byte:
            // adding 0x7f to a 7-bit value carries into no other byte)
            let mut hits = !(((y & LOW7) + LOW7) | y) & !LOW7;
            while hits != 0 {
                self.end_field(bytes, at + (hits.trailing_zeros() / 8) as usize, false);
                hits &= hits - 1;
            }
            at += 8;
        }
        for (j, &b) in words.remainder().iter().enumerate() {
            if b == delim {
                self.end_field(bytes, at + j, false);
            }
        }
    }

    /// [`RowScan::feed`] field by field: the state machine for any row (quoted fields,
    /// doubled quotes, newlines inside quotes).
    fn feed_fields(&mut self, bytes: &[u8]) -> Option<usize> {
        let delim = self.delim;
        let mut i = self.pos;
        while let Some(&c) = bytes.get(i) {
            match self.st {
                St::FieldStart => {
                    if c == b'"' {
                        self.quoted = true;
                        self.st = St::Quoted;
                        i += 1;
                    } else {
                        self.st = St::Unquoted;
                    }
                }
                St::Unquoted | St::AfterQuote => {
                    let rest = bytes.get(i..).unwrap_or_default();
                    match memchr::memchr2(delim, b'\n', rest) {
                        None => i = bytes.len(),
                        Some(k) => {
                            let at = i + k;
                            let nl = bytes.get(at) == Some(&b'\n');
                            self.end_field(bytes, at, nl);
                            i = at + 1;
                            if nl {
                                self.newlines += 1;
                                self.pos = i;
                                return Some(i);
                            }
                        }
                    }
                }
                St::Quoted => {
                    let rest = bytes.get(i..).unwrap_or_default();
                    match memchr::memchr(b'"', rest) {
                        None => {
                            self.newlines += count_newlines(rest);
                            i = bytes.len();
                        }
                        Some(k) => {
                            self.newlines += count_newlines(rest.get(..k).unwrap_or_default());
                            i += k + 1;
                            self.st = St::QuoteInQuoted;
                        }
                    }
                }
                St::QuoteInQuoted => {
                    if c == b'"' {
                        self.st = St::Quoted;
                        i += 1;
                    } else if c == delim || c == b'\n' {
                        self.end_field(bytes, i, c == b'\n');
                        i += 1;
                        if c == b'\n' {
                            self.newlines += 1;
                            self.pos = i;
                            return Some(i);
                        }
                    } else {
                        self.st = St::AfterQuote;
                    }
                }
            }
        }
        self.pos = i;
        None
    }

    /// Whether the input ended inside a quoted field.
    pub fn in_quotes(&self) -> bool {
        self.st == St::Quoted
    }

    /// Ends the record at the end of the input (no final newline).
    pub fn finish(&mut self, bytes: &[u8]) {
        self.end_field(bytes, bytes.len(), true);
    }
}

/// Splits one record's text (no trailing newline needed) into `cells` (cleared first).
pub fn split_row_into(text: &[u8], delim: u8, cells: &mut Vec<Cell>) {
    cells.clear();
    let mut scan = RowScan::new(delim);
    scan.cells = std::mem::take(cells);
    if memchr::memchr(b'"', text).is_none() && memchr::memchr(b'\n', text).is_none() {
        // no quote (the common row): fields end at the delimiters
        scan.unquoted_fields(text, text.len());
        scan.finish(text);
    } else if scan.feed(text).is_none() {
        scan.finish(text);
    }
    *cells = scan.cells;
}

/// Splits one record's text (no trailing newline needed) into cells.
pub fn split_row(text: &[u8], delim: u8) -> Vec<Cell> {
    let mut cells = Vec::new();
    split_row_into(text, delim, &mut cells);
    cells
}

/// A record too long to hold, being skipped.
struct Skipping {
    line: usize,
    head: Vec<u8>,
}

/// Reads CSV/TSV rows.
pub struct CsvReader {
    src: Blocks,
    encoding: Encoding,
    format: Format,
    delim: u8,
    schema_plan: Option<Arc<Plan>>,
    schema: Arc<ObjectType>,
    width: usize,
    /// The line where the next record starts.
    line: usize,
    /// A record cut by the end of the previous block, and how far it was split.
    carry: Vec<u8>,
    scan: RowScan,
    skipping: Option<Skipping>,
    done: bool,
}

impl CsvReader {
    pub fn new(src: Blocks, encoding: Encoding, format: Format, schema: &ObjectType) -> CsvReader {
        let delim = if format == Format::Tsv { b'\t' } else { b',' };
        CsvReader {
            src,
            encoding,
            format,
            delim,
            schema_plan: None,
            schema: Arc::new(schema.clone()),
            width: 0,
            line: 1,
            carry: Vec::new(),
            scan: RowScan::new(delim),
            skipping: None,
            done: false,
        }
    }

    /// A row of one unquoted cell of only spaces, CR (and tabs, in CSV) is a blank line.
    fn is_blank(&self, rec: &[u8]) -> bool {
        self.scan.count == 1
            && rec
                .iter()
                .all(|&b| b == b' ' || b == b'\r' || (b == b'\t' && self.delim != b'\t'))
    }

    fn reject(&self, line: usize, head: &[u8], reason: String) -> Raw {
        Raw::Rejected {
            line,
            value: self.encoding.lossy(head),
            reason,
        }
    }

    /// Handles one complete record: `data[start..start + len]`, counted by `self.scan`.
    fn record(&mut self, chunk: &mut Chunk, data: &[u8], start: usize, len: usize, line: usize) {
        let rec = data.get(start..start + len).unwrap_or_default();
        let rec = rec.strip_suffix(b"\n").unwrap_or(rec);
        let rec = rec.strip_suffix(b"\r").unwrap_or(rec);
        if self.is_blank(rec) {
            return;
        }
        if self.schema_plan.is_none() {
            let text: Cow<'_, str> = match self.encoding {
                Encoding::Utf8 => String::from_utf8_lossy(rec),
                Encoding::Gb18030 => encoding_rs::GB18030.decode_without_bom_handling(rec).0,
            };
            let headers: Vec<String> = split_row(text.as_bytes(), self.delim)
                .iter()
                .map(|c| cell_text(&text, c).into_owned())
                .collect();
            self.width = headers.len();
            self.schema_plan = Some(Arc::new(Plan::new(&headers, &self.schema)));
            chunk.plan = self.schema_plan.clone();
            return;
        }
        if rec.len() > MAX_RECORD_BYTES {
            chunk.records.push(self.reject(
                line,
                rec,
                format!("record longer than {} MiB", MAX_RECORD_BYTES >> 20),
            ));
            return;
        }
        let n = self.scan.count;
        if n != self.width {
            chunk.records.push(self.reject(
                line,
                rec,
                format!(
                    "{n} {} where the header has {}",
                    if n == 1 { "field" } else { "fields" },
                    self.width
                ),
            ));
            return;
        }
        let pack = |c: &Cell| {
            // `end` is within the record, at most MAX_RECORD_BYTES (checked above)
            u32::try_from(c.end).unwrap_or(0) | if c.quoted { super::QUOTED_CELL } else { 0 }
        };
        let from = chunk.cell_ends.len();
        if rec.ends_with(b"\r") {
            // a row that ended in two CRs (or more): its text lost one with the line end, and
            // splitting it drops one more from the last cell, as the scan did not
            chunk
                .cell_ends
                .extend(split_row(rec, self.delim).iter().map(pack));
        } else {
            chunk.cell_ends.extend(self.scan.cells.iter().map(pack));
        }
        chunk.records.push(Raw::Row {
            line,
            raw: start..start + rec.len(),
            cells: from..chunk.cell_ends.len(),
        });
    }

    /// A fresh scan for the next record; the cell buffer is kept, unless a row of very many
    /// cells made it large.
    fn reset_scan(&mut self) {
        let mut cells = std::mem::take(&mut self.scan.cells);
        cells.clear();
        if cells.capacity() > 4096 {
            cells = Vec::new();
        }
        self.scan = RowScan::new(self.delim);
        self.scan.cells = cells;
        if self.width > 0 {
            self.scan.limit = self.width;
        }
    }

    fn unclosed(&self, line: usize, head: &[u8]) -> Raw {
        self.reject(
            line,
            head,
            "unclosed quote: the record runs to the end of the input".into(),
        )
    }
}

fn count_newlines(bytes: &[u8]) -> usize {
    memchr::memchr_iter(b'\n', bytes).count()
}

impl RecordReader for CsvReader {
    fn next_chunk(&mut self) -> io::Result<Option<Chunk>> {
        if self.done {
            return Ok(None);
        }
        let mut chunk = Chunk::new(self.format, self.encoding, self.schema_plan.clone());
        chunk.cell_ends = self.src.cells_buffer();
        let mut data = self.src.buffer(std::mem::take(&mut self.carry));
        self.src.fill(&mut data, BLOCK_BYTES)?;
        let at_end = self.src.at_end();
        let mut pos = 0;
        if let Some(skip) = self.skipping.take() {
            match self.scan.feed(&data) {
                Some(end) => {
                    self.line += self.scan.newlines;
                    chunk.records.push(self.reject(
                        skip.line,
                        &skip.head,
                        format!("record longer than {} MiB", MAX_RECORD_BYTES >> 20),
                    ));
                    self.reset_scan();
                    pos = end;
                }
                None => {
                    if at_end {
                        self.line += self.scan.newlines;
                        let reason = if self.scan.in_quotes() {
                            "unclosed quote: the record runs to the end of the input".into()
                        } else {
                            format!("record longer than {} MiB", MAX_RECORD_BYTES >> 20)
                        };
                        chunk
                            .records
                            .push(self.reject(skip.line, &skip.head, reason));
                        self.done = true;
                    } else {
                        self.scan.pos = 0;
                        self.skipping = Some(skip);
                    }
                    return Ok(Some(chunk));
                }
            }
        }
        loop {
            let rec = data.get(pos..).unwrap_or_default();
            if rec.is_empty() {
                if at_end {
                    self.done = true;
                }
                break;
            }
            if chunk.records.len() >= CHUNK_RECORDS {
                self.carry = rec.to_vec();
                data.truncate(pos);
                break;
            }
            match self.scan.feed(rec) {
                Some(len) => {
                    let line = self.line;
                    self.line += self.scan.newlines;
                    self.record(&mut chunk, &data, pos, len, line);
                    self.reset_scan();
                    pos += len;
                }
                None if at_end => {
                    let line = self.line;
                    if self.scan.in_quotes() {
                        chunk.records.push(self.unclosed(line, rec));
                    } else {
                        self.scan.finish(rec);
                        let len = rec.len();
                        self.record(&mut chunk, &data, pos, len, line);
                    }
                    self.line += self.scan.newlines;
                    self.reset_scan();
                    self.done = true;
                    break;
                }
                None if rec.len() > MAX_RECORD_BYTES => {
                    let head = rec
                        .get(..4 * MAX_ERROR_VALUE_CHARS)
                        .unwrap_or_default()
                        .to_vec();
                    self.skipping = Some(Skipping {
                        line: self.line,
                        head,
                    });
                    // the rest of the row is only scanned for its end: no cells
                    self.scan.keep = false;
                    self.scan.cells = Vec::new();
                    self.scan.pos = 0;
                    data.truncate(pos);
                    break;
                }
                None => {
                    // carried over: offsets stay relative to the record's start
                    self.carry = rec.to_vec();
                    data.truncate(pos);
                    break;
                }
            }
        }
        if self.schema_plan.is_some() && chunk.plan.is_none() {
            chunk.plan = self.schema_plan.clone();
        }
        chunk.data = data;
        Ok(Some(chunk))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The cells the reader records while it looks for each row's end are the cells a fresh
    /// split of the row gives: rows with quotes, doubled quotes, CRLF, newlines inside quotes,
    /// and rows cut by a block's end or a full chunk and carried over.
    #[test]
    fn reader_cells_match_a_fresh_split() -> std::io::Result<()> {
        use crate::input::{sniff, unpack_cells, EncodingChoice, BLOCK_BYTES};
        let schema = ObjectType {
            fields: ["a", "b", "c"]
                .iter()
                .map(|n| (n.to_string(), Type::Str))
                .collect(),
        };
        let pieces = [
            "x",
            "",
            "\"q,1\"",
            "\"two\nlines\"",
            "\"say \"\"hi\"\"\"",
            "é",
            "  ",
            "\"\"",
            "x\"y",
        ];
        let mut text = String::from("a,b,c\n");
        let mut i = 0usize;
        while text.len() < BLOCK_BYTES + (1 << 20) {
            for k in 0..3 {
                if k > 0 {
                    text.push(',');
                }
                text.push_str(
                    pieces
                        .get((i * 7 + k * 3 + i / 5) % pieces.len())
                        .unwrap_or(&""),
                );
            }
            text.push_str(match i % 9 {
                0 => "\r\r\n",
                1 | 5 => "\r\n",
                _ => "\n",
            });
            i += 1;
        }
        // the last row without a line end, after two CRs
        text.push_str("x,é,\"q\"\r\r");
        i += 1;
        let src = Box::new(std::io::Cursor::new(text.into_bytes()));
        let (enc, blocks) = sniff(src, EncodingChoice::Auto)?;
        let mut reader = CsvReader::new(blocks, enc, Format::Csv, &schema);
        let (mut rows, mut chunks) = (0, 0);
        let mut got = Vec::new();
        while let Some(chunk) = reader.next_chunk()? {
            chunks += 1;
            for r in &chunk.records {
                let Raw::Row { raw, cells, .. } = r else {
                    continue;
                };
                unpack_cells(
                    chunk.cell_ends.get(cells.clone()).unwrap_or_default(),
                    &mut got,
                );
                assert_eq!(got, split_row(chunk.bytes(raw), b','), "row {rows}");
                rows += 1;
            }
        }
        assert_eq!(rows, i);
        assert!(chunks > 2, "{chunks} chunks: no row was carried over");
        Ok(())
    }

    /// Rows too long to keep (one within a block, one across blocks) are rejected without
    /// their cells being kept: a row of millions of delimiters once grew the reader's cell
    /// buffer by 24 bytes a delimiter, for good.
    #[test]
    fn rows_of_very_many_cells_keep_no_cells() -> std::io::Result<()> {
        use crate::input::{sniff, EncodingChoice, BLOCK_BYTES};
        let schema = ObjectType {
            fields: vec![("a".to_string(), Type::Str), ("b".to_string(), Type::Str)],
        };
        let mut text = b"a,b\n".to_vec();
        text.extend(std::iter::repeat_n(b',', 3 << 20));
        text.extend_from_slice(b"\nx,y\n");
        text.extend(std::iter::repeat_n(b',', BLOCK_BYTES + (2 << 20)));
        text.extend_from_slice(b"\nz,w\n");
        let (enc, blocks) = sniff(Box::new(std::io::Cursor::new(text)), EncodingChoice::Auto)?;
        let mut reader = CsvReader::new(blocks, enc, Format::Csv, &schema);
        let (mut rows, mut rejected, mut most) = (0, 0, 0);
        while let Some(chunk) = reader.next_chunk()? {
            most = most.max(reader.scan.cells.capacity());
            for r in &chunk.records {
                match r {
                    Raw::Row { .. } => rows += 1,
                    Raw::Rejected { .. } => rejected += 1,
                    Raw::Json { .. } => {}
                }
            }
        }
        assert_eq!((rows, rejected), (2, 2));
        assert!(most <= 4096, "the cell buffer kept {most} cells");
        Ok(())
    }

    /// What a scan ends with: its return value, cells and counters.
    fn outcome(s: &RowScan, r: Option<usize>) -> (Option<usize>, Vec<Cell>, usize, usize, usize) {
        (r, s.cells.clone(), s.count, s.newlines, s.pos)
    }

    proptest! {
        /// The quote-free fast paths of `feed` and `split_row_into` give exactly what the
        /// field-by-field state machine gives, on rows with and without quotes, CRs, blank
        /// fields and newlines, for both delimiters.
        #[test]
        fn fast_paths_match_the_state_machine(
            bytes in proptest::collection::vec(
                prop_oneof![Just(b'a'), Just(b','), Just(b'\t'), Just(b'"'), Just(b'\n'), Just(b'\r'), Just(0xe4u8)],
                0..40,
            ),
            tab in any::<bool>(),
        ) {
            let delim = if tab { b'\t' } else { b',' };
            let mut fast = RowScan::new(delim);
            let r = fast.feed(&bytes);
            let mut slow = RowScan::new(delim);
            let q = slow.feed_fields(&bytes);
            prop_assert_eq!(outcome(&fast, r), outcome(&slow, q));
            prop_assert_eq!(fast.st, slow.st);
            let mut cells = Vec::new();
            split_row_into(&bytes, delim, &mut cells);
            let mut slow = RowScan::new(delim);
            if slow.feed_fields(&bytes).is_none() {
                slow.finish(&bytes);
            }
            prop_assert_eq!(cells, slow.cells);
        }
    }
}
