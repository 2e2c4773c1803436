//! JSON Lines: one object a line; blank lines (only spaces, tabs or CR) are skipped.

use std::io::{self, BufRead};

use super::{read_line_capped, Encoding, Raw, RecordReader, MAX_RECORD_BYTES};

pub struct JsonlReader {
    reader: Box<dyn BufRead + Send>,
    encoding: Encoding,
    line: usize,
    buf: Vec<u8>,
}

impl JsonlReader {
    pub fn new(reader: Box<dyn BufRead + Send>, encoding: Encoding) -> JsonlReader {
        JsonlReader {
            reader,
            encoding,
            line: 0,
            buf: Vec::new(),
        }
    }
}

impl RecordReader for JsonlReader {
    fn next_chunk(&mut self, out: &mut Vec<Raw>, max: usize) -> io::Result<bool> {
        let start = out.len();
        while out.len() - start < max {
            self.buf.clear();
            let (n, over) =
                read_line_capped(self.reader.as_mut(), &mut self.buf, MAX_RECORD_BYTES)?;
            if n == 0 {
                return Ok(false);
            }
            self.line += 1;
            let line = self.line;
            if self.buf.last() == Some(&b'\r') {
                self.buf.pop();
            }
            if self.buf.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r')) && !over {
                continue;
            }
            if over {
                out.push(Raw::Rejected {
                    line,
                    value: self.encoding.lossy(&self.buf),
                    reason: format!("record longer than {} MiB", MAX_RECORD_BYTES >> 20),
                });
                continue;
            }
            match self.encoding.decode(&self.buf) {
                Some(text) => out.push(Raw::Json { line, text }),
                None => out.push(Raw::Rejected {
                    line,
                    value: self.encoding.lossy(&self.buf),
                    reason: match self.encoding {
                        Encoding::Utf8 => "not valid utf-8".into(),
                        Encoding::Gb18030 => "not valid gb18030".into(),
                    },
                }),
            }
        }
        Ok(true)
    }
}
