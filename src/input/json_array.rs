//! A JSON array of objects (`.json`), streamed: each element's line is the line of its first
//! character (SPEC §7).
//!
//! The reader splits the array into its elements without parsing them (a small resumable state
//! machine over strings and brackets), so each element is decoded and converted in parallel like
//! a JSON line, and memory stays bounded by the block size. What the splitter sees to be wrong
//! in the array's structure (no `[`, a missing `,`, text after the `]`, a file cut inside the
//! array) rejects the rest of the file as one record at that line; a syntax error inside an
//! element is found when the element is parsed, and the scan then does the same.

use std::io;

use super::{
    Blocks, Chunk, Encoding, Format, Raw, RecordReader, BLOCK_BYTES, CHUNK_RECORDS,
    MAX_ERROR_VALUE_CHARS, MAX_RECORD_BYTES,
};

/// Where the splitter is in the array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum At {
    /// Before the `[`.
    Start,
    /// After `[` (first) or `,`.
    Value { first: bool },
    /// After an element.
    CommaOrEnd,
    /// After the `]`.
    End,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Container,
    Str,
    Scalar,
}

/// A resumable scanner of one JSON value's extent.
#[derive(Debug, Clone)]
struct ValueScan {
    kind: Kind,
    depth: u64,
    in_str: bool,
    escaped: bool,
    /// Bytes fed so far.
    pos: usize,
}

impl ValueScan {
    fn new(first: u8) -> ValueScan {
        let kind = match first {
            b'{' | b'[' => Kind::Container,
            b'"' => Kind::Str,
            _ => Kind::Scalar,
        };
        // the first byte is read here: `{`/`[` opens, `"` starts the string, else the scalar
        ValueScan {
            kind,
            depth: u64::from(kind == Kind::Container),
            in_str: kind == Kind::Str,
            escaped: false,
            pos: 1,
        }
    }

    /// Reads on from `self.pos` in `bytes` (the value so far, from its first byte, or only the
    /// new bytes when skipping); returns the offset just past the value when it is complete.
    fn feed(&mut self, bytes: &[u8]) -> Option<usize> {
        let mut i = self.pos;
        while let Some(&c) = bytes.get(i) {
            if self.escaped {
                self.escaped = false;
                i += 1;
                continue;
            }
            if self.in_str {
                let rest = bytes.get(i..).unwrap_or_default();
                match memchr::memchr2(b'"', b'\\', rest) {
                    None => {
                        i = bytes.len();
                        continue;
                    }
                    Some(k) => {
                        i += k;
                        if bytes.get(i) == Some(&b'\\') {
                            self.escaped = true;
                            i += 1;
                            continue;
                        }
                        self.in_str = false;
                        i += 1;
                        if self.kind == Kind::Str {
                            self.pos = i;
                            return Some(i);
                        }
                        continue;
                    }
                }
            }
            match self.kind {
                Kind::Scalar => {
                    if matches!(c, b',' | b']' | b'}' | b' ' | b'\t' | b'\r' | b'\n') {
                        self.pos = i;
                        return Some(i);
                    }
                }
                Kind::Str => {}
                Kind::Container => match c {
                    b'"' => self.in_str = true,
                    b'{' | b'[' => self.depth += 1,
                    b'}' | b']' => {
                        self.depth = self.depth.saturating_sub(1);
                        if self.depth == 0 {
                            self.pos = i + 1;
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                },
            }
            i += 1;
        }
        self.pos = i;
        None
    }
}

/// An element cut by the end of a block.
#[derive(Debug, Clone)]
struct Partial {
    line: usize,
    scan: ValueScan,
    /// Skipping (longer than the cap): the first bytes, for the error entry.
    skip_head: Option<Vec<u8>>,
}

/// Splits a JSON array into its elements, a block at a time.
pub struct JsonArrayReader {
    src: Blocks,
    encoding: Encoding,
    at: At,
    /// The line of the next byte to read.
    line: usize,
    /// The start of an element cut by the end of the previous block.
    carry: Vec<u8>,
    partial: Option<Partial>,
    done: bool,
}

fn count_newlines(bytes: &[u8]) -> usize {
    memchr::memchr_iter(b'\n', bytes).count()
}

impl JsonArrayReader {
    pub fn new(src: Blocks, encoding: Encoding) -> JsonArrayReader {
        JsonArrayReader {
            src,
            encoding,
            at: At::Start,
            line: 1,
            carry: Vec::new(),
            partial: None,
            done: false,
        }
    }

    /// Rejects the rest of the file as one record at `line`.
    fn reject_rest(&mut self, out: &mut Vec<Raw>, line: usize, rest: &[u8], reason: String) {
        out.push(Raw::Rejected {
            line,
            value: self.encoding.lossy(rest),
            reason,
        });
        self.done = true;
    }

    fn too_long(&self, line: usize, head: &[u8]) -> Raw {
        Raw::Rejected {
            line,
            value: self.encoding.lossy(head),
            reason: format!("record longer than {} MiB", MAX_RECORD_BYTES >> 20),
        }
    }

    /// The file ends inside an element (`bytes`, starting at `line`): the rest of the file is
    /// rejected at the line of the error `serde_json` finds in it (or at its end).
    fn truncated(&mut self, out: &mut Vec<Raw>, line: usize, bytes: &[u8]) {
        let (err_line, reason) = match serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
            Err(e) => (
                line + e.line().saturating_sub(1),
                format!("invalid json: {e}"),
            ),
            Ok(_) => (
                line + count_newlines(bytes),
                "unexpected end of the file inside the array".to_string(),
            ),
        };
        let from = line_start(bytes, err_line - line);
        self.reject_rest(out, err_line, bytes.get(from..).unwrap_or_default(), reason);
    }

    /// Handles a complete element `data[start..end]` that began at `line`.
    fn element(&mut self, chunk: &mut Chunk, start: usize, end: usize, line: usize) {
        let bytes = chunk.data.get(start..end).unwrap_or_default();
        self.line = line + count_newlines(bytes);
        let raw = if bytes.len() > MAX_RECORD_BYTES {
            self.too_long(line, bytes)
        } else {
            Raw::Json {
                line,
                bytes: start..end,
            }
        };
        chunk.records.push(raw);
        self.at = At::CommaOrEnd;
    }
}

/// The offset of the start of the `n`-th line (0-based) of `bytes`.
pub fn line_start(bytes: &[u8], n: usize) -> usize {
    if n == 0 {
        return 0;
    }
    memchr::memchr_iter(b'\n', bytes)
        .nth(n - 1)
        .map_or(bytes.len(), |i| i + 1)
}

impl RecordReader for JsonArrayReader {
    fn next_chunk(&mut self) -> io::Result<Option<Chunk>> {
        if self.done {
            return Ok(None);
        }
        let mut chunk = Chunk::new(Format::Json, self.encoding, None);
        let mut data = self.src.buffer(std::mem::take(&mut self.carry));
        self.src.fill(&mut data, BLOCK_BYTES)?;
        let at_end = self.src.at_end();
        let mut pos = 0;
        chunk.data = data;

        if let Some(mut p) = self.partial.take() {
            match (p.scan.feed(&chunk.data), p.skip_head.take()) {
                (Some(end), None) => {
                    self.element(&mut chunk, 0, end, p.line);
                    pos = end;
                }
                (Some(end), Some(head)) => {
                    self.line += count_newlines(chunk.data.get(..end).unwrap_or_default());
                    chunk.records.push(self.too_long(p.line, &head));
                    self.at = At::CommaOrEnd;
                    pos = end;
                }
                (None, skip_head) if at_end => {
                    match skip_head {
                        None => {
                            let bytes = std::mem::take(&mut chunk.data);
                            self.truncated(&mut chunk.records, p.line, &bytes);
                        }
                        Some(_) => {
                            let line = self.line + count_newlines(&chunk.data);
                            let reason = "unexpected end of the file inside the array".to_string();
                            let rest = chunk.data.get(line_start(&chunk.data, line - self.line)..);
                            self.reject_rest(
                                &mut chunk.records,
                                line,
                                rest.unwrap_or_default(),
                                reason,
                            );
                        }
                    }
                    chunk.data.clear();
                    return Ok(Some(chunk));
                }
                (None, None) => {
                    if chunk.data.len() > MAX_RECORD_BYTES {
                        let head = chunk
                            .data
                            .get(..4 * MAX_ERROR_VALUE_CHARS)
                            .unwrap_or_default()
                            .to_vec();
                        self.line = p.line + count_newlines(&chunk.data);
                        p.scan.pos = 0;
                        p.skip_head = Some(head);
                        self.partial = Some(p);
                        chunk.data.clear();
                    } else {
                        self.partial = Some(p);
                        self.carry = std::mem::take(&mut chunk.data);
                    }
                    return Ok(Some(chunk));
                }
                (None, Some(head)) => {
                    self.line += count_newlines(&chunk.data);
                    p.scan.pos = 0;
                    p.skip_head = Some(head);
                    self.partial = Some(p);
                    chunk.data.clear();
                    return Ok(Some(chunk));
                }
            }
        }

        loop {
            if chunk.records.len() >= CHUNK_RECORDS {
                self.carry = chunk.data.get(pos..).unwrap_or_default().to_vec();
                chunk.data.truncate(pos);
                break;
            }
            // white space
            while let Some(&c) = chunk.data.get(pos) {
                match c {
                    b'\n' => self.line += 1,
                    b' ' | b'\t' | b'\r' => {}
                    _ => break,
                }
                pos += 1;
            }
            let Some(&c) = chunk.data.get(pos) else {
                if at_end {
                    match self.at {
                        At::Start | At::End => self.done = true,
                        At::Value { .. } | At::CommaOrEnd => {
                            let line = self.line;
                            self.reject_rest(
                                &mut chunk.records,
                                line,
                                b"",
                                "unexpected end of the file inside the array".into(),
                            );
                        }
                    }
                }
                break;
            };
            let rest_reason = match (self.at, c) {
                (At::Start, b'[') => {
                    self.at = At::Value { first: true };
                    pos += 1;
                    continue;
                }
                (At::Start, _) => Some("a .json input must be an array of objects"),
                (At::Value { first: true }, b']') | (At::CommaOrEnd, b']') => {
                    self.at = At::End;
                    pos += 1;
                    continue;
                }
                (At::Value { first: false }, b']') => Some("invalid json: a trailing comma"),
                (At::Value { .. }, b',') => Some("invalid json: a missing value"),
                (At::CommaOrEnd, b',') => {
                    self.at = At::Value { first: false };
                    pos += 1;
                    continue;
                }
                (At::CommaOrEnd, _) => Some("invalid json: expected `,` or `]` after an element"),
                (At::End, _) => Some("text after the end of the array"),
                (At::Value { .. }, _) => None,
            };
            if let Some(reason) = rest_reason {
                let line = self.line;
                let rest = chunk.data.get(pos..).unwrap_or_default();
                let rest = rest
                    .get(..4 * MAX_ERROR_VALUE_CHARS)
                    .unwrap_or(rest)
                    .to_vec();
                self.reject_rest(&mut chunk.records, line, &rest, reason.into());
                break;
            }
            // an element
            let line = self.line;
            let mut scan = ValueScan::new(c);
            let bytes = chunk.data.get(pos..).unwrap_or_default();
            match scan.feed(bytes) {
                Some(len) => {
                    self.element(&mut chunk, pos, pos + len, line);
                    pos += len;
                }
                None if at_end => {
                    let bytes = chunk.data.get(pos..).unwrap_or_default().to_vec();
                    self.truncated(&mut chunk.records, line, &bytes);
                    break;
                }
                None if bytes.len() > MAX_RECORD_BYTES => {
                    let head = bytes
                        .get(..4 * MAX_ERROR_VALUE_CHARS)
                        .unwrap_or_default()
                        .to_vec();
                    self.line = line + count_newlines(bytes);
                    scan.pos = 0;
                    self.partial = Some(Partial {
                        line,
                        scan,
                        skip_head: Some(head),
                    });
                    chunk.data.truncate(pos);
                    break;
                }
                None => {
                    self.partial = Some(Partial {
                        line,
                        scan,
                        skip_head: None,
                    });
                    self.carry = bytes.to_vec();
                    chunk.data.truncate(pos);
                    break;
                }
            }
        }
        if self.done {
            chunk.data.truncate(pos);
        }
        Ok(Some(chunk))
    }
}
