//! A JSON array of objects (`.json`): each element's line is the line of its first character.

use std::io::{self, BufRead, Read};

use super::{Encoding, Raw, RecordReader};

/// Splits a JSON array into its elements without parsing them (a small state machine over
/// strings and brackets), so each element can be converted in parallel like a JSON line.
pub struct JsonArrayReader {
    text: Option<String>,
    pos: usize,
    line: usize,
    started: bool,
    done: bool,
    encoding: Encoding,
    reader: Option<Box<dyn BufRead + Send>>,
}

impl JsonArrayReader {
    pub fn new(reader: Box<dyn BufRead + Send>, encoding: Encoding) -> JsonArrayReader {
        JsonArrayReader {
            text: None,
            pos: 0,
            line: 1,
            started: false,
            done: false,
            encoding,
            reader: Some(reader),
        }
    }
}

impl RecordReader for JsonArrayReader {
    fn next_chunk(&mut self, out: &mut Vec<Raw>, max: usize) -> io::Result<bool> {
        if self.text.is_none() {
            let mut bytes = Vec::new();
            if let Some(mut r) = self.reader.take() {
                r.read_to_end(&mut bytes)?;
            }
            match self.encoding.decode(&bytes) {
                Some(t) => self.text = Some(t),
                None => {
                    out.push(Raw::Rejected {
                        line: 1,
                        value: self.encoding.lossy(&bytes),
                        reason: "the file does not decode in its encoding".into(),
                    });
                    self.done = true;
                    return Ok(false);
                }
            }
        }
        let Some(text) = self.text.take() else {
            return Ok(false);
        };
        let more = self.split(&text, out, max);
        self.text = Some(text);
        Ok(more)
    }
}

impl JsonArrayReader {
    fn advance_ws(&mut self, bytes: &[u8]) {
        while let Some(&c) = bytes.get(self.pos) {
            match c {
                b'\n' => self.line += 1,
                b' ' | b'\t' | b'\r' => {}
                _ => break,
            }
            self.pos += 1;
        }
    }

    fn reject_rest(&mut self, text: &str, out: &mut Vec<Raw>, reason: &str) {
        let rest = text.get(self.pos..).unwrap_or("");
        out.push(Raw::Rejected {
            line: self.line,
            value: super::truncate_chars(rest, super::MAX_ERROR_VALUE_CHARS),
            reason: reason.to_string(),
        });
        self.done = true;
    }

    fn split(&mut self, text: &str, out: &mut Vec<Raw>, max: usize) -> bool {
        if self.done {
            return false;
        }
        let bytes = text.as_bytes();
        if !self.started {
            self.advance_ws(bytes);
            if bytes.get(self.pos) != Some(&b'[') {
                if self.pos >= bytes.len() {
                    self.done = true;
                    return false;
                }
                self.reject_rest(text, out, "a .json input must be an array of objects");
                return false;
            }
            self.pos += 1;
            self.started = true;
        }
        let start_len = out.len();
        loop {
            if out.len() - start_len >= max {
                return true;
            }
            self.advance_ws(bytes);
            match bytes.get(self.pos) {
                None => {
                    self.reject_rest(text, out, "unexpected end of file inside the array");
                    return false;
                }
                Some(b']') => {
                    self.pos += 1;
                    self.advance_ws(bytes);
                    if self.pos < bytes.len() {
                        self.reject_rest(text, out, "text after the end of the array");
                    }
                    self.done = true;
                    return false;
                }
                Some(b',') if out.len() > start_len || self.pos > 1 => {
                    self.pos += 1;
                    continue;
                }
                Some(_) => {}
            }
            let line = self.line;
            let begin = self.pos;
            // scan one value
            let mut depth = 0i64;
            let mut in_str = false;
            let mut escaped = false;
            let mut end = None;
            let mut i = self.pos;
            let mut lines = 0;
            while let Some(&c) = bytes.get(i) {
                if c == b'\n' {
                    lines += 1;
                }
                if in_str {
                    if escaped {
                        escaped = false;
                    } else if c == b'\\' {
                        escaped = true;
                    } else if c == b'"' {
                        in_str = false;
                    }
                } else {
                    match c {
                        b'"' => in_str = true,
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            if depth == 0 {
                                end = Some(i);
                                break;
                            }
                            depth -= 1;
                        }
                        b',' if depth == 0 => {
                            end = Some(i);
                            break;
                        }
                        _ => {}
                    }
                }
                i += 1;
            }
            let Some(end) = end else {
                self.reject_rest(text, out, "unexpected end of file inside the array");
                return false;
            };
            let elem = text.get(begin..end).unwrap_or("").trim_end().to_string();
            self.pos = end;
            self.line += lines;
            // validate the element's syntax here: a syntax error rejects the rest of the file
            match serde_json::from_str::<serde::de::IgnoredAny>(&elem) {
                Ok(_) => {
                    if elem.starts_with('{') {
                        out.push(Raw::Json { line, text: elem });
                    } else {
                        out.push(Raw::Rejected {
                            line,
                            value: super::truncate_chars(&elem, super::MAX_ERROR_VALUE_CHARS),
                            reason: "an array element that is not an object".into(),
                        });
                    }
                }
                Err(e) => {
                    self.pos = begin;
                    self.line = line + e.line().saturating_sub(1);
                    let reason = format!("invalid json: {e}");
                    self.reject_rest(text, out, &reason);
                    return false;
                }
            }
        }
    }
}
