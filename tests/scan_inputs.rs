//! `beian scan` inputs (SPEC §3, §7 "Input"), run against the built binary: the formats, the
//! encodings, damaged inputs, field errors and rejected records, and the count
//! `records_read = records_evaluated + records_rejected` on every one of them.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::{json, Value};

const PACK: &str = r#"
schema:
  key: id
  fields:
    id: string
    n: int
    ok: bool
    day: date
    ips: [ip]
    sub: {name: string, d: date}
    domain_facts:
      - name: domain
        expiry: date
rules:
  - {id: R-1, title: big, category: c, severity: error, when: n > 10, message: "{id} n={n}"}
"#;

struct Scan {
    code: i32,
    stdout: String,
    stderr: String,
    findings: Vec<Value>,
    summary: Value,
    errors: Vec<Value>,
}

impl Scan {
    fn count(&self, key: &str) -> u64 {
        self.summary[key]
            .as_u64()
            .unwrap_or_else(|| panic!("no {key} in the summary"))
    }

    /// (read, evaluated, rejected, field errors), after checking that nothing is lost.
    fn counts(&self) -> (u64, u64, u64, u64) {
        let (read, evaluated, rejected) = (
            self.count("records_read"),
            self.count("records_evaluated"),
            self.count("records_rejected"),
        );
        assert_eq!(
            read,
            evaluated + rejected,
            "records_read != evaluated + rejected: {}",
            self.summary
        );
        assert!(!self.stderr.contains("panicked"), "{}", self.stderr);
        (read, evaluated, rejected, self.count("field_errors"))
    }

    fn lines(&self) -> Vec<u64> {
        self.findings
            .iter()
            .map(|f| f["line"].as_u64().unwrap())
            .collect()
    }

    fn rejected(&self) -> Vec<&Value> {
        self.errors
            .iter()
            .filter(|e| e["field"].is_null())
            .collect()
    }
}

/// Writes the pack and the inputs into `dir` and runs `beian scan` there.
fn scan_in(dir: &Path, files: &[(&str, &[u8])], args: &[&str], stdin: Option<&[u8]>) -> Scan {
    std::fs::write(dir.join("pack.yaml"), PACK).unwrap();
    for (name, bytes) in files {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_beian"));
    cmd.current_dir(dir)
        .args([
            "scan",
            "-r",
            "pack.yaml",
            "--as-of",
            "2026-01-01",
            "-f",
            "jsonl",
        ])
        .args(["--summary", "summary.json", "--errors", "errors.jsonl"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    {
        let mut input = child.stdin.take().unwrap();
        if let Some(bytes) = stdin {
            input.write_all(bytes).unwrap();
        }
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap_or_default();
    let findings = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let summary = serde_json::from_str(&read("summary.json")).unwrap_or(Value::Null);
    let errors = read("errors.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    Scan {
        code: out.status.code().unwrap_or(-1),
        stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        findings,
        summary,
        errors,
    }
}

fn scan(files: &[(&str, &[u8])], args: &[&str]) -> Scan {
    let dir = tempfile::tempdir().unwrap();
    scan_in(dir.path(), files, args, None)
}

/// Scans one file given by name.
fn scan1(name: &str, bytes: &[u8]) -> Scan {
    scan(&[(name, bytes)], &[name])
}

// ---------------------------------------------------------------- damaged inputs

#[test]
fn truncated_json_line() {
    let s = scan1("t.jsonl", b"{\"id\":\"a\",\"n\":50}\n{\"id\":\"b\",\"n\":5");
    assert_eq!(s.counts(), (2, 1, 1, 0));
    assert_eq!(s.lines(), [1]);
    let r = s.rejected();
    assert_eq!(r.len(), 1);
    assert_eq!(r[0]["line"], 2);
    assert_eq!(r[0]["value"], "{\"id\":\"b\",\"n\":5");
    assert!(r[0]["record"].is_null() && r[0]["field"].is_null());
    assert_eq!(s.code, 1);
}

#[test]
fn invalid_utf8_inside_a_utf8_file() {
    // after 64 KiB of valid UTF-8: the encoding is UTF-8, one record is rejected
    let mut data = Vec::new();
    let mut n = 0;
    while data.len() < 70_000 {
        n += 1;
        data.extend_from_slice(format!("{{\"id\":\"网站{n}\",\"n\":{n}}}\n").as_bytes());
    }
    data.extend_from_slice(b"{\"id\":\"bad\xff\",\"n\":50}\n{\"id\":\"last\",\"n\":60}\n");
    let s = scan1("u.jsonl", &data);
    assert_eq!(s.counts(), (n + 2, n + 1, 1, 0));
    let r = s.rejected();
    assert_eq!(r.len(), 1);
    assert_eq!(r[0]["line"].as_u64(), Some(n + 1));
    assert!(r[0]["reason"].as_str().unwrap().contains("UTF-8"));
    let last = s.findings.last().unwrap();
    assert_eq!(last["record"], "last");
    assert_eq!(last["message"], "last n=60");
}

#[test]
fn invalid_utf8_in_a_small_utf8_file_rejects_only_that_record() {
    // a stray byte among much UTF-8 Chinese text is damage, not a sign of GB18030
    let mut data = Vec::new();
    for i in 1..=30 {
        data.extend_from_slice(
            format!("{{\"id\":\"网站{i}\",\"n\":{i},\"sub\":{{\"name\":\"主办单位名称{i}\"}}}}\n")
                .as_bytes(),
        );
    }
    data.extend_from_slice(b"{\"id\":\"\xe7\xbd\",\"n\":99}\n");
    let s = scan1("u.jsonl", &data);
    assert_eq!(s.counts(), (31, 30, 1, 0));
    assert_eq!(s.rejected()[0]["line"], 31);
    assert_eq!(s.findings[0]["record"], "网站11");
}

fn gbk(text: &str) -> Vec<u8> {
    let (bytes, _, bad) = encoding_rs::GB18030.encode(text);
    assert!(!bad);
    bytes.into_owned()
}

#[test]
fn gbk_csv_with_a_stray_byte() {
    let mut text = String::from("id,n,sub.name\n");
    for i in 1..=20 {
        text.push_str(&format!("网站{i},{i},湖北某某网络科技有限公司{i}\n"));
    }
    let mut data = gbk(&text);
    // a lone lead byte before the line end of row 5 (line 6)
    let pos = data
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .nth(5)
        .unwrap()
        .0;
    data.insert(pos, 0x81);
    let s = scan1("g.csv", &data);
    assert_eq!(s.counts(), (20, 19, 1, 0));
    let r = s.rejected();
    assert_eq!(r.len(), 1);
    assert_eq!(r[0]["line"], 6);
    assert!(r[0]["value"].as_str().unwrap().starts_with("网站5,5,"));
    // the rest decode as GB18030
    assert_eq!(s.findings[0]["record"], "网站11");
    assert_eq!(s.findings.len(), 10);
}

#[test]
fn gbk_jsonl_with_a_stray_byte() {
    let mut data = Vec::new();
    for i in 1..=12 {
        let mut line = gbk(&format!(
            "{{\"id\":\"网站{i}\",\"n\":{i},\"sub\":{{\"name\":\"主办单位{i}\"}}}}"
        ));
        if i == 4 {
            line.insert(2, 0xFF);
        }
        data.extend_from_slice(&line);
        data.push(b'\n');
    }
    let s = scan1("g.jsonl", &data);
    assert_eq!(s.counts(), (12, 11, 1, 0));
    assert_eq!(s.rejected()[0]["line"], 4);
    assert_eq!(s.lines(), [11, 12]);
    assert_eq!(s.findings[0]["message"], "网站11 n=11");
}

#[test]
fn unclosed_csv_quote() {
    // at the end of the file
    let s = scan1("q.csv", b"id,n\na,50\nb,60\n\"c,70\n");
    assert_eq!(s.counts(), (3, 2, 1, 0));
    let r = s.rejected();
    assert_eq!(r[0]["line"], 4);
    assert!(r[0]["reason"].as_str().unwrap().contains("unclosed quote"));
    // in the middle: the record runs to the end of the file, as one rejected record
    let s = scan1("q.csv", b"id,n\na,50\n\"b,60\nc,70\nd,80\n");
    assert_eq!(s.counts(), (2, 1, 1, 0));
    assert_eq!(s.rejected()[0]["line"], 3);
    assert_eq!(s.lines(), [2]);
}

#[test]
fn truncated_csv_without_final_newline() {
    let s = scan1("t.csv", b"id,n\na,50\nb,6");
    assert_eq!(s.counts(), (2, 2, 0, 0));
    let s = scan1("t.csv", b"id,n,ok\na,50,yes\nb,6");
    assert_eq!(s.counts(), (2, 1, 1, 0));
    assert_eq!(s.rejected()[0]["line"], 3);
}

#[test]
fn a_5_mb_line() {
    let big = "x".repeat(5_000_000);
    let jsonl = format!(
        "{{\"id\":\"a\",\"n\":50}}\n{{\"id\":\"{big}\",\"n\":50}}\n{{\"id\":\"c\",\"n\":50}}\n"
    );
    let s = scan1("b.jsonl", jsonl.as_bytes());
    assert_eq!(s.counts(), (3, 2, 1, 0));
    assert_eq!(s.lines(), [1, 3]);
    let r = s.rejected();
    assert_eq!(r[0]["line"], 2);
    assert_eq!(r[0]["value"].as_str().unwrap().chars().count(), 200);

    // a quoted CSV cell of 5 MB over many lines: the lines after it keep their numbers
    let csv = format!("id,n\na,50\n\"{}\",50\nc,50\n", "xy\n".repeat(1_700_000));
    let s = scan1("b.csv", csv.as_bytes());
    assert_eq!(s.counts(), (3, 2, 1, 0));
    assert_eq!(s.lines(), [2, 1_700_004]);
    assert_eq!(s.rejected()[0]["line"], 3);

    // an element of a JSON array
    let json = format!(
        "[{{\"id\":\"a\",\"n\":50}},\n{{\"id\":\"{big}\",\"n\":50}},\n{{\"id\":\"c\",\"n\":50}}]"
    );
    let s = scan1("b.json", json.as_bytes());
    assert_eq!(s.counts(), (3, 2, 1, 0));
    assert_eq!(s.lines(), [1, 3]);

    // a 5 MB line at the very end, without a newline
    let s = scan1(
        "e.jsonl",
        format!("{{\"id\":\"a\",\"n\":50}}\n\"{big}").as_bytes(),
    );
    assert_eq!(s.counts(), (2, 1, 1, 0));
}

#[test]
fn header_only_csv_and_empty_files() {
    for (name, bytes) in [
        ("h.csv", &b"id,n\n"[..]),
        ("h.tsv", b"id\tn"),
        ("e.csv", b""),
        ("e.jsonl", b""),
        ("e.json", b""),
        ("w.jsonl", b"\n  \n\t\r\n"),
        ("a.json", b" [ ] \n"),
        ("bom.csv", b"\xEF\xBB\xBFid,n\n"),
    ] {
        let s = scan1(name, bytes);
        assert_eq!(s.counts(), (0, 0, 0, 0), "{name}");
        assert_eq!(s.code, 0, "{name}: {}", s.stderr);
        assert!(s.stdout.is_empty());
    }
}

#[test]
fn binary_garbage_does_not_panic() {
    let mut data = Vec::new();
    let mut x: u32 = 12345;
    for _ in 0..200_000 {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        data.push((x >> 16) as u8);
    }
    for name in ["g.jsonl", "g.csv", "g.tsv", "g.json"] {
        let s = scan1(name, &data);
        s.counts();
        assert!(s.code == 0 || s.code == 1, "{name}: {}", s.stderr);
    }
}

// ---------------------------------------------------------------- JSON Lines

#[test]
fn jsonl_blank_lines_rejected_lines_and_values() {
    let data = b"{\"id\":\"a\",\"n\":50}\r\n   \t \r\n\nnot json\n[1, 2]\n\"text\"\n{\"id\":\"b\",\"n\":60} x\n{\"id\":\"c\",\"n\":70}";
    let s = scan1("a.jsonl", data);
    assert_eq!(s.counts(), (6, 2, 4, 0));
    assert_eq!(s.lines(), [1, 8]);
    let r: Vec<(u64, &str)> = s
        .rejected()
        .iter()
        .map(|e| (e["line"].as_u64().unwrap(), e["value"].as_str().unwrap()))
        .collect();
    assert_eq!(
        r,
        [
            (4, "not json"),
            (5, "[1, 2]"),
            (6, "\"text\""),
            (7, "{\"id\":\"b\",\"n\":60} x")
        ]
    );
    for e in s.rejected() {
        assert!(e["record"].is_null() && e["field"].is_null());
        assert_eq!(e["source"], "a.jsonl");
        assert!(!e["reason"].as_str().unwrap().is_empty());
    }
}

#[test]
fn rejected_value_is_at_most_200_characters() {
    let line = format!("not json {}", "长".repeat(500));
    let s = scan1("a.jsonl", line.as_bytes());
    assert_eq!(s.counts(), (1, 0, 1, 0));
    let v = s.rejected()[0]["value"].as_str().unwrap().to_string();
    assert_eq!(v.chars().count(), 200);
    assert!(line.starts_with(&v));
}

#[test]
fn utf8_bom_is_stripped() {
    let s = scan1("b.jsonl", b"\xEF\xBB\xBF{\"id\":\"a\",\"n\":50}\n");
    assert_eq!(s.counts(), (1, 1, 0, 0));
    assert_eq!(s.findings[0]["record"], "a");
    let s = scan1("b.csv", b"\xEF\xBB\xBFid,n\na,50\n");
    assert_eq!(s.counts(), (1, 1, 0, 0));
    assert_eq!(s.findings[0]["record"], "a");
}

#[test]
fn standard_input_is_json_lines_unless_told() {
    let dir = tempfile::tempdir().unwrap();
    let s = scan_in(dir.path(), &[], &["-"], Some(b"{\"id\":\"a\",\"n\":50}\n"));
    assert_eq!(s.counts(), (1, 1, 0, 0));
    assert_eq!(s.findings[0]["source"], "-");
    let s = scan_in(
        dir.path(),
        &[],
        &["--input-format", "csv", "-"],
        Some(b"id,n\na,50\nb,60\n"),
    );
    assert_eq!(s.counts(), (2, 2, 0, 0));
    assert_eq!(s.lines(), [2, 3]);
}

#[test]
fn input_format_overrides_the_extension() {
    let s = scan(
        &[("data.txt", b"id\tn\na\t50\n")],
        &["--input-format", "tsv", "data.txt"],
    );
    assert_eq!(s.counts(), (1, 1, 0, 0));
}

#[test]
fn unknown_extension_is_a_usage_error() {
    let s = scan(&[("data.txt", b"{}")], &["data.txt"]);
    assert_eq!(s.code, 2);
    assert!(s.stderr.contains("data.txt"), "{}", s.stderr);
    assert!(s.stdout.is_empty());
}

#[test]
fn missing_input_is_an_io_error() {
    let s = scan(&[], &["nothere.jsonl"]);
    assert_eq!(s.code, 2);
    assert!(s.stderr.contains("nothere.jsonl"), "{}", s.stderr);
}

#[test]
fn explicit_encodings() {
    let data = gbk("{\"id\":\"网站\",\"n\":50}\n");
    let s = scan(&[("g.jsonl", &data)], &["--encoding", "gb18030", "g.jsonl"]);
    assert_eq!(s.counts(), (1, 1, 0, 0));
    assert_eq!(s.findings[0]["record"], "网站");
    let s = scan(&[("g.jsonl", &data)], &["--encoding", "utf-8", "g.jsonl"]);
    assert_eq!(s.counts(), (1, 0, 1, 0));
}

// ---------------------------------------------------------------- field errors

#[test]
fn field_errors_name_the_element_in_schema_order() {
    // keys in another order than the schema's; errors come in schema order
    let line = br#"{"domain_facts":[{"name":"a.cn","expiry":"bad"},{"expiry":"bad2","name":"a..b"}],"sub":{"d":"q","name":1},"ips":["1.1.1.1","zz"],"ok":"maybe","n":"x","id":"a"}"#;
    let s = scan1("f.jsonl", line);
    assert_eq!(s.counts(), (1, 1, 0, 7));
    let fields: Vec<&str> = s
        .errors
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "n",
            "ok",
            "ips[1]",
            "sub.d",
            "domain_facts[0].expiry",
            "domain_facts[1].name",
            "domain_facts[1].expiry"
        ]
    );
    let first = &s.errors[0];
    assert_eq!(first["record"], "a");
    assert_eq!(first["line"], 1);
    assert_eq!(first["value"], "x");
    assert_eq!(first["source"], "f.jsonl");
}

#[test]
fn field_error_order_and_values() {
    let line = r#"{"sub":{"d":"q"},"ips":["1.1.1.1","zz","::1",""],"n":"x","id":"a","ok":"是"}"#;
    let s = scan1("f.jsonl", line.as_bytes());
    let got: Vec<(String, String)> = s
        .errors
        .iter()
        .map(|e| {
            (
                e["field"].as_str().unwrap().to_string(),
                e["value"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("n".to_string(), "x".to_string()),
            ("ips[1]".to_string(), "zz".to_string()),
            ("ips[3]".to_string(), String::new()),
            ("sub.d".to_string(), "q".to_string()),
        ]
    );
    assert_eq!(s.counts(), (1, 1, 0, 4));
}

#[test]
fn csv_field_errors_in_schema_order() {
    // columns in another order than the schema's
    let s = scan1(
        "f.csv",
        "sub.d,ips,n,id,ok\n2026年13月1日,1.1.1.1; zz ;,x,a,也许\n".as_bytes(),
    );
    let fields: Vec<&str> = s
        .errors
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["n", "ok", "ips[1]", "sub.d"]);
    assert_eq!(s.errors[2]["value"], "zz");
    assert_eq!(s.counts(), (1, 1, 0, 4));
}

// ---------------------------------------------------------------- CSV

#[test]
fn csv_rows_quotes_lists_and_line_numbers() {
    let data = "id,n,sub.name,ips,day,ok,unknown.col\n\
                a,50,\"x, y\",1.1.1.1; 2.2.2.2 ;,2026/1/5,是,z\n\
                \n\
                \"b\",\"6\n0\",\"he said \"\"hi\"\"\",,2026年1月20日,否,\n\
                c,70,x\n\
                d,80,,,,,\r\n\
                \"e\",90,,,,,";
    let s = scan1("c.csv", data.as_bytes());
    assert_eq!(s.counts(), (5, 4, 1, 1));
    // line of the first line of a record; a blank line is skipped but counted as a line
    assert_eq!(s.lines(), [2, 7, 8]);
    let r = s.rejected();
    assert_eq!(r[0]["line"], 6);
    assert_eq!(r[0]["value"], "c,70,x");
    // "6\n0" is not an int: a field error on line 4
    let fe: Vec<&Value> = s.errors.iter().filter(|e| !e["field"].is_null()).collect();
    assert_eq!(fe[0]["line"], 4);
    assert_eq!(fe[0]["record"], "b");
    assert_eq!(fe[0]["field"], "n");
    assert_eq!(fe[0]["value"], "6\n0");
}

#[test]
fn csv_cells_convert_by_type() {
    let pack_rule = "id,n,sub.name,sub.d,ips,day,ok\na,50,\"he said \"\"hi\"\"\",2026.2.3,1.1.1.1; ;2.2.2.2,2026年1月20日,YES\n";
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("p2.yaml"),
        r#"
schema:
  key: id
  fields:
    id: string
    n: int
    ok: bool
    day: date
    ips: [ip]
    sub: {name: string, d: date}
rules:
  - id: R-1
    title: show
    category: c
    severity: info
    when: "true"
    message: "{sub.name}|{sub.d}|{ips}|{len(ips)}|{day}|{ok}|{n}"
"#,
    )
    .unwrap();
    std::fs::write(dir.path().join("c.csv"), pack_rule).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_beian"))
        .current_dir(dir.path())
        .args([
            "scan",
            "-r",
            "p2.yaml",
            "--as-of",
            "2026-01-01",
            "-f",
            "jsonl",
            "-q",
            "c.csv",
        ])
        .output()
        .unwrap();
    let f: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        f["message"],
        "he said \"hi\"|2026-02-03|1.1.1.1, null, 2.2.2.2|3|2026-01-20|true|50"
    );
}

#[test]
fn csv_field_count_mismatch_is_rejected() {
    let s = scan1("m.csv", b"id,n\na,50,extra\nb\nc,60\n");
    assert_eq!(s.counts(), (3, 1, 2, 0));
    let lines: Vec<u64> = s
        .rejected()
        .iter()
        .map(|e| e["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [2, 3]);
    assert_eq!(s.rejected()[0]["value"], "a,50,extra");
}

#[test]
fn tsv() {
    let s = scan1("t.tsv", b"id\tn\tsub.name\na\t50\tx y\n\t\t\nb\t60\t\n");
    // a row of empty cells is a record of nulls in TSV (tabs are its separators)
    assert_eq!(s.counts(), (3, 3, 0, 0));
    assert_eq!(s.lines(), [2, 4]);
}

#[test]
fn empty_cells_are_null_and_empty_objects_are_null() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("p.yaml"),
        r#"
schema:
  key: id
  fields: {id: string, sub: {name: string, d: date}}
rules:
  - {id: R-1, title: t, category: c, severity: info, when: "sub == null", message: "{id}"}
"#,
    )
    .unwrap();
    std::fs::write(dir.path().join("c.csv"), "id,sub.name,sub.d\na,,\nb,x,\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_beian"))
        .current_dir(dir.path())
        .args([
            "scan",
            "-r",
            "p.yaml",
            "--as-of",
            "2026-01-01",
            "-f",
            "jsonl",
            "-q",
            "c.csv",
        ])
        .output()
        .unwrap();
    let out = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.lines().count(), 1);
    assert!(out.contains("\"record\":\"a\""));
}

// ---------------------------------------------------------------- JSON arrays

#[test]
fn json_array_lines_and_non_objects() {
    let data = b"[\n  {\"id\":\"a\",\"n\":50},\n  7,\n  {\"id\":\"b\",\n   \"n\":60}, {\"id\":\"c\",\"n\":\"zz\"},\n  [1, {\"x\": 2}]\n]\n";
    let s = scan1("a.json", data);
    assert_eq!(s.counts(), (5, 3, 2, 1));
    assert_eq!(s.lines(), [2, 4]);
    let r: Vec<u64> = s
        .rejected()
        .iter()
        .map(|e| e["line"].as_u64().unwrap())
        .collect();
    assert_eq!(r, [3, 6]);
    assert_eq!(s.errors[1]["field"], "n");
    assert_eq!(s.errors[1]["line"], 5);
}

#[test]
fn json_array_syntax_error_rejects_the_rest() {
    let data = b"[\n {\"id\":\"a\",\"n\":50},\n {\"id\":\"b\",\n  \"n\":60 x}, {\"id\":\"c\",\"n\":70},\n {\"id\":\"d\",\"n\":80}\n]\n";
    let s = scan1("s.json", data);
    assert_eq!(s.counts(), (2, 1, 1, 0));
    assert_eq!(s.lines(), [2]);
    let r = s.rejected();
    assert_eq!(r[0]["line"], 4);
    assert!(r[0]["reason"].as_str().unwrap().contains("json"));

    for (bad, line, evaluated) in [
        (&b"[{\"id\":\"a\",\"n\":50},,{\"id\":\"b\"}]"[..], 1, 1),
        (b"[{\"id\":\"a\",\"n\":50},\n{\"id\":\"b\"},\n]", 3, 2),
        (b"[{\"id\":\"a\",\"n\":50}\n{\"id\":\"b\"}]", 2, 1),
        (b"[{\"id\":\"a\",\"n\":50}]\nx", 2, 1),
        (
            b"[{\"id\":\"a\",\"n\":50},\n{\"id\": [1}, {\"id\":\"c\"}]",
            2,
            1,
        ),
        (b"[{\"id\":\"a\",\"n\":50},\n{\"id\":\"b\"", 2, 1),
        (b"[{\"id\":\"a\",\"n\":50},\n", 2, 1),
    ] {
        let s = scan1("s.json", bad);
        assert_eq!(
            s.counts(),
            (evaluated + 1, evaluated, 1, 0),
            "{}",
            String::from_utf8_lossy(bad)
        );
        assert_eq!(
            s.rejected()[0]["line"],
            line,
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
    // not an array at all
    let s = scan1("o.json", b"{\"id\":\"a\",\"n\":50}");
    assert_eq!(s.counts(), (1, 0, 1, 0));
}

#[test]
fn json_array_over_many_blocks() {
    // larger than a read block, with elements cut at block ends
    let mut data = String::from("[\n");
    let n = 90_000;
    for i in 0..n {
        if i > 0 {
            data.push_str(",\n");
        }
        data.push_str(&format!(
            "  {{\"id\": \"r{i}\", \"n\": {}, \"sub\": {{\"name\": \"名字 \\\"{i}\\\" ]}}{{\"}}}}",
            i % 20
        ));
    }
    data.push_str("\n]\n");
    assert!(data.len() > 5 << 20);
    let s = scan1("m.json", data.as_bytes());
    assert_eq!(s.counts(), (n, n, 0, 0));
    let lines = s.lines();
    assert_eq!(lines.len() as u64, n / 20 * 9);
    assert_eq!(lines[0], 2 + 11);
    assert_eq!(s.findings[0]["record"], "r11");
}

// ---------------------------------------------------------------- many inputs

#[test]
fn several_inputs_count_together_and_keep_their_names() {
    let s = scan(
        &[
            ("b.jsonl", b"{\"id\":\"b1\",\"n\":50}\nbad\n"),
            ("a.csv", b"id,n\na1,60\n"),
            ("c.json", b"[{\"id\":\"c1\",\"n\":70}]"),
        ],
        &["b.jsonl", "a.csv", "c.json"],
    );
    assert_eq!(s.counts(), (4, 3, 1, 0));
    let sources: Vec<&str> = s
        .findings
        .iter()
        .map(|f| f["source"].as_str().unwrap())
        .collect();
    assert_eq!(sources, ["b.jsonl", "a.csv", "c.json"]);
}

#[test]
fn many_tiny_records_span_chunks() {
    // more records than a chunk holds, in one block: cut and carried over without loss
    let n: u64 = 100_000;
    let mut jsonl = String::new();
    let mut csv = String::from("n\n");
    let mut json = String::from("[");
    for i in 0..n {
        let v = if i % 1000 == 999 { 11 } else { 1 };
        jsonl.push_str(&format!("{{\"n\":{v}}}\n"));
        csv.push_str(&format!("{v}\n"));
        json.push_str(if i == 0 { "\n" } else { ",\n" });
        json.push_str(&format!("{{\"n\":{v}}}"));
    }
    json.push_str("\n]");
    for (name, text, first) in [
        ("t.jsonl", &jsonl, 1000),
        ("t.csv", &csv, 1001),
        ("t.json", &json, 1001),
    ] {
        let s = scan1(name, text.as_bytes());
        assert_eq!(s.counts(), (n, n, 0, 0), "{name}");
        let lines = s.lines();
        assert_eq!(lines.len() as u64, n / 1000, "{name}");
        assert_eq!(lines[0], first, "{name}");
        assert_eq!(*lines.last().unwrap(), first + n - 1000, "{name}");
    }
}

#[test]
fn a_2_mb_record_inside_one_block_is_rejected_too() {
    let big = "y".repeat(2_000_000);
    let s = scan1(
        "b.csv",
        format!("id,n\n{big},50\nc,50\n{big},50").as_bytes(),
    );
    assert_eq!(s.counts(), (3, 1, 2, 0));
    assert_eq!(s.lines(), [3]);
    let s = scan1(
        "b.json",
        format!("[{{\"id\":\"{big}\",\"n\":50}}, {{\"id\":\"c\",\"n\":50}}]").as_bytes(),
    );
    assert_eq!(s.counts(), (2, 1, 1, 0));
    let s = scan1(
        "b.jsonl",
        format!("{{\"id\":\"{big}\",\"n\":50}}\n{{\"id\":\"c\",\"n\":50}}").as_bytes(),
    );
    assert_eq!(s.counts(), (2, 1, 1, 0));
}

#[test]
fn a_json_number_for_a_string_field_keeps_its_text() {
    let dir = tempfile::tempdir().unwrap();
    let pack = r#"
schema:
  key: id
  fields: {id: string, code: string, f: float, sub: {name: string}}
rules:
  - {id: R-1, title: t, category: c, severity: error, when: "true", message: "code=[{code}]"}
"#;
    std::fs::write(dir.path().join("p.yaml"), pack).unwrap();
    let lines = concat!(
        r#"{"id":"a","code":12.50}"#,
        "\n",
        r#"{"id":"b","code":100000000000000000000,"f":1e400}"#,
        "\n",
        r#"{"id":"c","sub":5}"#,
        "\n",
        "42\n",
        // an exponent as written, not as serde_json would rewrite it (`1e+5`)
        r#"{"id":"d","code":1E5}"#,
        "\n",
        r#"{"id":"e","code":-2.5E-3}"#,
        "\n",
    );
    std::fs::write(dir.path().join("f.jsonl"), lines).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_beian"))
        .current_dir(dir.path())
        .args([
            "scan", "-r", "p.yaml", "-f", "jsonl", "--errors", "e.jsonl", "f.jsonl",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let messages: Vec<String> = stdout
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["message"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        messages,
        [
            "code=[12.50]",
            "code=[100000000000000000000]",
            "code=[null]",
            "code=[1E5]",
            "code=[-2.5E-3]"
        ]
    );
    let errors: Vec<Value> = std::fs::read_to_string(dir.path().join("e.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let brief: Vec<(Value, Value, Value)> = errors
        .iter()
        .map(|e| (e["line"].clone(), e["field"].clone(), e["reason"].clone()))
        .collect();
    assert_eq!(
        brief,
        [
            (
                json!(2),
                json!("f"),
                json!("expected a `float` but found a number out of range")
            ),
            (
                json!(3),
                json!("sub"),
                json!("expected an object but found a number")
            ),
            (json!(4), Value::Null, json!("not a JSON object")),
        ]
    );
}

#[test]
fn a_select_entry_that_names_no_rule_is_a_warning_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let s = scan_in(
        dir.path(),
        &[("f.jsonl", br#"{"id":"a","n":11}"#)],
        &["--select", "R-2,c", "--ignore", "cc", "f.jsonl"],
        None,
    );
    assert_eq!(s.code, 1, "{}", s.stderr);
    assert!(
        s.stderr
            .contains("warning: `R-2` matches no rule id, id prefix or category of the pack; did you mean `R-1`?"),
        "{}",
        s.stderr
    );
    assert!(
        s.stderr.contains("warning: `cc` matches no rule"),
        "{}",
        s.stderr
    );
    // `c` is the category: selected, no warning
    assert!(!s.stderr.contains("`c` matches"), "{}", s.stderr);
    assert_eq!(s.findings.len(), 1);
}

#[test]
fn empty_json_strings_are_null_except_for_string_fields() {
    // SPEC §7: a JSON string converts as a CSV cell does, and an empty cell is null; a
    // `string` field keeps "" (JSON can tell it from null)
    let data = br#"{"id":"a","n":"","ok":"","day":"","ips":"","sub":{"name":"","d":""},"domain_facts":[{"name":"","expiry":""}]}
{"id":"","n":20,"day":""}
{"id":"c","n":30,"ok":" "}
"#;
    let s = scan1("a.jsonl", data);
    // only the blank-but-not-empty bool is an error: values are not trimmed
    assert_eq!(s.counts(), (3, 3, 0, 1));
    let errors: Vec<(&str, &str)> = s
        .errors
        .iter()
        .map(|e| (e["record"].as_str().unwrap(), e["field"].as_str().unwrap()))
        .collect();
    assert_eq!(errors, [("c", "ok")]);
    let found: Vec<(&str, &str)> = s
        .findings
        .iter()
        .map(|f| {
            (
                f["record"].as_str().unwrap(),
                f["message"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(found, [("", " n=20"), ("c", "c n=30")]);
}

#[test]
fn json_syntax_errors_give_the_file_position() {
    // JSON Lines: the record's line, and serde_json's column on it
    let s = scan1(
        "a.jsonl",
        b"{\"id\":\"a\",\"n\":50}\n\n{\"id\":\"b\",\"n\":60} x\n",
    );
    let r = s.rejected();
    assert_eq!(r.len(), 1);
    assert_eq!(r[0]["line"], 3);
    let reason = r[0]["reason"].as_str().unwrap();
    assert!(reason.contains(" at line 3 column 19"), "{reason}");
    // a JSON array: an error two lines into an element is at the file's line and column
    let s = scan1(
        "a.json",
        b"[\n{\"id\":\"a\",\"n\":50},\n{\"id\":\"b\",\n \"n\": 1 2}\n]\n",
    );
    let r = s.rejected();
    assert_eq!(r.len(), 1);
    assert_eq!(r[0]["line"], 4);
    let reason = r[0]["reason"].as_str().unwrap();
    assert!(reason.contains(" at line 4 column "), "{reason}");
    assert!(!reason.contains("line 2 column"), "{reason}");
    // columns count characters, not bytes
    let s = scan1("a.jsonl", "{\"id\":\"中文\", bad}\n".as_bytes());
    let reason = s.rejected()[0]["reason"].as_str().unwrap().to_string();
    assert!(reason.ends_with(" at line 1 column 13"), "{reason}");
}

#[test]
fn a_row_with_another_field_count_is_rejected_with_the_counts() {
    let s = scan1("a.csv", b"id,n,ok\nx\na,50,1\nb,1,2,3\n");
    assert_eq!(s.counts(), (3, 1, 2, 0));
    let reasons: Vec<&str> = s
        .rejected()
        .iter()
        .map(|e| e["reason"].as_str().unwrap())
        .collect();
    assert_eq!(
        reasons,
        [
            "1 field where the header has 3",
            "4 fields where the header has 3"
        ]
    );
}
