//! JSON Lines: one object a line; blank lines (only spaces, tabs or CR) are skipped.
//!
//! The reader only finds line ends (`memchr`) in a block: decoding and parsing happen later, in
//! parallel, on the block's bytes.

use std::io;

use super::{
    Blocks, Chunk, Encoding, Format, Raw, RecordReader, BLOCK_BYTES, CHUNK_RECORDS,
    MAX_RECORD_BYTES,
};

pub struct JsonlReader {
    src: Blocks,
    encoding: Encoding,
    /// Lines started so far.
    line: usize,
    /// The start of a line cut by the end of the previous block.
    carry: Vec<u8>,
    /// A line longer than the cap being skipped: its line number and first bytes.
    skipping: Option<(usize, Vec<u8>)>,
    done: bool,
}

impl JsonlReader {
    pub fn new(src: Blocks, encoding: Encoding) -> JsonlReader {
        JsonlReader {
            src,
            encoding,
            line: 0,
            carry: Vec::new(),
            skipping: None,
            done: false,
        }
    }

    fn too_long(&self, line: usize, head: &[u8]) -> Raw {
        Raw::Rejected {
            line,
            value: self.encoding.lossy(head),
            reason: format!("record longer than {} MiB", MAX_RECORD_BYTES >> 20),
        }
    }

    /// Classifies one line (`start..end` of `data`, without its `\n`).
    fn push_line(&self, out: &mut Vec<Raw>, data: &[u8], start: usize, mut end: usize) {
        let line = self.line;
        if end > start && data.get(end - 1) == Some(&b'\r') {
            end -= 1;
        }
        let bytes = data.get(start..end).unwrap_or_default();
        if end - start > MAX_RECORD_BYTES {
            out.push(self.too_long(line, bytes));
            return;
        }
        if bytes.first() != Some(&b'{') && bytes.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r')) {
            return;
        }
        out.push(Raw::Json {
            line,
            bytes: start..end,
        });
    }
}

impl RecordReader for JsonlReader {
    fn next_chunk(&mut self) -> io::Result<Option<Chunk>> {
        if self.done {
            return Ok(None);
        }
        let mut chunk = Chunk::new(Format::Jsonl, self.encoding, None);
        let mut data = self.src.buffer(std::mem::take(&mut self.carry));
        self.src.fill(&mut data, BLOCK_BYTES)?;
        let at_end = self.src.at_end();
        let mut pos = 0;
        if let Some((line, head)) = self.skipping.take() {
            match memchr::memchr(b'\n', &data) {
                Some(i) => {
                    chunk.records.push(self.too_long(line, &head));
                    pos = i + 1;
                }
                None if at_end => {
                    chunk.records.push(self.too_long(line, &head));
                    self.done = true;
                    return Ok(Some(chunk));
                }
                None => {
                    // the whole block is inside the long line
                    self.skipping = Some((line, head));
                    return Ok(Some(chunk));
                }
            }
        }
        let mut full = false;
        while let Some(i) = data.get(pos..).and_then(|rest| memchr::memchr(b'\n', rest)) {
            let end = pos + i;
            self.line += 1;
            self.push_line(&mut chunk.records, &data, pos, end);
            pos = end + 1;
            if chunk.records.len() >= CHUNK_RECORDS {
                full = true;
                break;
            }
        }
        let rest = data.len().saturating_sub(pos);
        if full {
            self.carry = data.get(pos..).unwrap_or_default().to_vec();
            data.truncate(pos);
        } else if at_end {
            if rest > 0 {
                self.line += 1;
                self.push_line(&mut chunk.records, &data, pos, data.len());
            }
            self.done = true;
        } else if rest > MAX_RECORD_BYTES {
            self.line += 1;
            let head = data
                .get(pos..pos + 4 * super::MAX_ERROR_VALUE_CHARS)
                .unwrap_or_default()
                .to_vec();
            self.skipping = Some((self.line, head));
            data.truncate(pos);
        } else {
            self.carry = data.get(pos..).unwrap_or_default().to_vec();
            data.truncate(pos);
        }
        chunk.data = data;
        Ok(Some(chunk))
    }
}
