//! CSV and TSV (SPEC §3): header row of dotted paths, `;` lists, empty cell null.

use std::io::{self, BufRead};

use super::convert::{convert_cell, set_path, Ctx};
use super::{Encoding, Raw, RecordReader};
use crate::types::{ObjectType, Type};
use crate::value::Value;

/// How the header's columns map onto the schema: per column, the slot path and type of a
/// declared scalar or list-of-scalar field, or `None` (ignored column).
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub columns: Vec<Option<(String, Vec<usize>, Type)>>,
}

impl Plan {
    /// Builds the plan from header names.
    pub fn new(headers: &[String], schema: &ObjectType) -> Plan {
        let columns = headers
            .iter()
            .map(|h| {
                let mut obj = schema;
                let mut path = Vec::new();
                let parts: Vec<&str> = h.split('.').collect();
                for (i, part) in parts.iter().enumerate() {
                    let (slot, ty) = obj.slot(part)?;
                    path.push(slot);
                    let last = i + 1 == parts.len();
                    match (ty, last) {
                        (Type::Object(o), false) => obj = o,
                        (Type::List(e), true)
                            if !matches!(e.as_ref(), Type::Object(_) | Type::List(_)) =>
                        {
                            return Some((h.clone(), path, ty.clone()))
                        }
                        (Type::Object(_) | Type::List(_) | Type::Map(_), _) => return None,
                        (ty, true) => return Some((h.clone(), path, ty.clone())),
                        (_, false) => return None,
                    }
                }
                None
            })
            .collect();
        Plan { columns }
    }

    /// Converts a row's cells into a record; an empty cell is null.
    pub fn record(&self, cells: &[String], schema: &ObjectType, ctx: &mut Ctx) -> Vec<Value> {
        let mut record = vec![Value::Null; schema.fields.len()];
        for (cell, col) in cells.iter().zip(self.columns.iter()) {
            let Some((name, path, ty)) = col else {
                continue;
            };
            if cell.is_empty() {
                continue;
            }
            ctx.push_field(name);
            let v = convert_cell(cell, ty, ctx);
            ctx.pop_field();
            set_path(&mut record, schema, path, v);
        }
        record
    }
}

/// Reads CSV/TSV rows. (Streaming reader: see `next_chunk`.)
pub struct CsvReader {
    reader: ::csv::Reader<Box<dyn BufRead + Send>>,
    encoding: Encoding,
    plan: Plan,
    width: usize,
    record: ::csv::ByteRecord,
    delimiter: u8,
}

impl CsvReader {
    pub fn new(
        reader: Box<dyn BufRead + Send>,
        encoding: Encoding,
        delimiter: u8,
        schema: &ObjectType,
    ) -> io::Result<CsvReader> {
        let mut reader = ::csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(delimiter)
            .from_reader(reader);
        let mut header = ::csv::ByteRecord::new();
        let mut headers = Vec::new();
        if reader
            .read_byte_record(&mut header)
            .map_err(io::Error::other)?
        {
            headers = header.iter().map(|h| encoding.lossy(h)).collect();
        }
        let plan = Plan::new(&headers, schema);
        Ok(CsvReader {
            reader,
            encoding,
            width: headers.len(),
            plan,
            record: ::csv::ByteRecord::new(),
            delimiter,
        })
    }
}

impl RecordReader for CsvReader {
    fn next_chunk(&mut self, out: &mut Vec<Raw>, max: usize) -> io::Result<bool> {
        let start = out.len();
        while out.len() - start < max {
            let more = match self.reader.read_byte_record(&mut self.record) {
                Ok(m) => m,
                Err(e) => match e.kind() {
                    ::csv::ErrorKind::Io(_) => return Err(io::Error::other(e)),
                    _ => {
                        let line = e.position().map_or(0, |p| p.line() as usize);
                        out.push(Raw::Rejected {
                            line,
                            value: String::new(),
                            reason: e.to_string().to_lowercase(),
                        });
                        continue;
                    }
                },
            };
            if !more {
                return Ok(false);
            }
            let line = self.record.position().map_or(0, |p| p.line() as usize);
            // a blank line
            if self.record.len() == 1 && self.record.get(0).is_some_and(<[u8]>::is_empty) {
                continue;
            }
            let sep = [self.delimiter];
            let raw_bytes = self.record.iter().collect::<Vec<_>>().join(&sep[..]);
            if self.record.len() != self.width {
                out.push(Raw::Rejected {
                    line,
                    value: self.encoding.lossy(&raw_bytes),
                    reason: format!(
                        "{} fields where the header has {}",
                        self.record.len(),
                        self.width
                    ),
                });
                continue;
            }
            let mut cells = Vec::with_capacity(self.record.len());
            let mut bad = false;
            for c in self.record.iter() {
                match self.encoding.decode(c) {
                    Some(s) => cells.push(s),
                    None => {
                        bad = true;
                        break;
                    }
                }
            }
            if bad {
                out.push(Raw::Rejected {
                    line,
                    value: self.encoding.lossy(&raw_bytes),
                    reason: "row does not decode in the input's encoding".into(),
                });
                continue;
            }
            out.push(Raw::Row {
                line,
                cells,
                raw: self.encoding.lossy(&raw_bytes),
            });
        }
        Ok(true)
    }

    fn plan(&self) -> Option<&Plan> {
        Some(&self.plan)
    }
}
