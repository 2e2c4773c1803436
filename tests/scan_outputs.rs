//! `beian scan` outputs (SPEC §4, §6, §7 "Output", "Command line"), run against the built
//! binary: the five formats, the summary, whole-or-nothing output files, and exit codes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const PACK: &str = r#"
schema:
  key: id
  fields:
    id: string
    n: int
    name: string
    tags: [string]
rules:
  - id: R-1
    title: 数值过大
    category: size
    severity: error
    when: n > 10
    message: "{name} n={n}"
    deadline: as_of + days(n - 20)
    remedy: 降低数值
  - id: R-2
    title: formula-looking message
    category: text
    severity: info
    when: n > 0
    message: "={id}"
  - id: W-1
    title: tag
    category: tags
    severity: warning
    for_each: t in tags
    when: t == "x"
    message: "tag {t}"
  - id: C-1
    title: critical
    category: size
    severity: critical
    when: n > 100
    message: "{id} is huge"
"#;

const INPUT: &str = concat!(
    r#"{"id":"-a","n":50,"name":"中文名字很长很长","tags":["x","y","x"]}"#,
    "\n",
    r#"{"id":"b","n":15,"name":"ab,\"c\"\nd"}"#,
    "\n",
    r#"{"id":"@c","n":1,"name":"+1"}"#,
    "\n",
    r#"{"id":"\td","n":0,"name":"z"}"#,
    "\n",
);

fn setup(dir: &Path) {
    std::fs::write(dir.join("pack.yaml"), PACK).unwrap();
    std::fs::write(dir.join("in.jsonl"), INPUT).unwrap();
}

fn beian(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_beian"))
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// `beian scan -r pack.yaml --as-of 2026-01-01 ARGS...` in a fresh folder with the inputs.
fn scan(args: &[&str]) -> (tempfile::TempDir, Output) {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    let mut all = vec!["scan", "-r", "pack.yaml", "--as-of", "2026-01-01"];
    all.extend_from_slice(args);
    let out = beian(dir.path(), &all);
    (dir, out)
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn jsonl(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

// ---------------------------------------------------------------- formats

#[test]
fn jsonl_findings_have_the_keys_in_order() {
    let (_d, out) = scan(&["-f", "jsonl", "-q", "in.jsonl"]);
    let text = stdout(&out);
    let findings = jsonl(&text);
    // R-1 on -a, R-2 on -a, W-1 [0] and [2] on -a, then b: R-1, R-2, then @c: R-2
    let got: Vec<(u64, &str, Value)> = findings
        .iter()
        .map(|f| {
            (
                f["line"].as_u64().unwrap(),
                f["rule"].as_str().unwrap(),
                f["element"].clone(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (1, "R-1", Value::Null),
            (1, "R-2", Value::Null),
            (1, "W-1", 0.into()),
            (1, "W-1", 2.into()),
            (2, "R-1", Value::Null),
            (2, "R-2", Value::Null),
            (3, "R-2", Value::Null),
        ]
    );
    let keys = [
        "source",
        "line",
        "record",
        "rule",
        "category",
        "severity",
        "element",
        "message",
        "deadline",
        "days_left",
        "overdue",
    ];
    for line in text.lines() {
        let obj: serde_json::Map<String, Value> = serde_json::from_str(line).unwrap();
        assert_eq!(obj.keys().map(String::as_str).collect::<Vec<_>>(), keys);
        // the key order in the text itself
        let mut at = 0;
        for k in keys {
            let i = line[at..].find(&format!("\"{k}\":")).unwrap();
            at += i;
        }
    }
    let f = &findings[0];
    assert_eq!(f["source"], "in.jsonl");
    assert_eq!(f["record"], "-a");
    assert_eq!(f["severity"], "error");
    assert_eq!(f["category"], "size");
    assert_eq!(f["message"], "中文名字很长很长 n=50");
    assert_eq!(f["deadline"], "2026-01-31");
    assert_eq!(f["days_left"], 30);
    assert_eq!(f["overdue"], false);
    assert_eq!(findings[4]["days_left"], -5);
    assert_eq!(findings[4]["overdue"], true);
    assert!(findings[1]["deadline"].is_null() && findings[1]["overdue"].is_null());
}

#[test]
fn json_document_has_findings_and_summary() {
    let (_d, out) = scan(&["-f", "json", "-q", "in.jsonl"]);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let (_d2, out2) = scan(&["-f", "jsonl", "-q", "in.jsonl"]);
    assert_eq!(doc["findings"], Value::Array(jsonl(&stdout(&out2))));
    let obj = doc.as_object().unwrap();
    assert_eq!(
        obj.keys().map(String::as_str).collect::<Vec<_>>(),
        ["findings", "summary"]
    );
    let s = &doc["summary"];
    assert_eq!(s["records_read"], 4);
    assert_eq!(s["findings"], 7);
    assert_eq!(
        s["by_severity"],
        serde_json::json!({"info": 3, "warning": 2, "error": 2, "critical": 0})
    );
    // the time is left out of a document on stdout, so its bytes depend only on the inputs
    assert!(s.as_object().unwrap().contains_key("elapsed_s"));
    assert_eq!(s["elapsed_s"], Value::Null);
    // no findings: still a whole document
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    std::fs::write(dir.path().join("none.jsonl"), "{\"id\":\"z\",\"n\":0}\n").unwrap();
    let out = beian(
        dir.path(),
        &["scan", "-r", "pack.yaml", "-f", "json", "-q", "none.jsonl"],
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["findings"], serde_json::json!([]));
    assert_eq!(doc["summary"]["records_read"], 1);
}

#[test]
fn csv_output_guards_formulas() {
    let (_d, out) = scan(&["-f", "csv", "-q", "in.jsonl"]);
    let text = stdout(&out);
    assert!(
        !text.contains('\r') || text.contains("\r\""),
        "rows end in \\n"
    );
    assert!(text.ends_with('\n'));
    let mut lines = text.split('\n');
    assert_eq!(
        lines.next().unwrap(),
        "source,line,record,rule,category,severity,element,message,deadline,days_left,overdue"
    );
    let mut rd = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(text.as_bytes());
    let rows: Vec<Vec<String>> = rd
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect();
    assert_eq!(rows.len(), 7);
    // a record key beginning with `-` is guarded; numbers are bare
    assert_eq!(
        rows[0],
        [
            "in.jsonl",
            "1",
            "'-a",
            "R-1",
            "size",
            "error",
            "",
            "中文名字很长很长 n=50",
            "2026-01-31",
            "30",
            "false"
        ]
    );
    // a message beginning with `=`: guarded; nulls are empty cells
    assert_eq!(rows[1][7], "'=-a");
    assert_eq!(rows[1][8], "");
    assert_eq!(rows[1][9], "");
    assert_eq!(rows[1][10], "");
    assert_eq!(rows[2][6], "0");
    // a negative number stays a number
    assert_eq!(rows[4][9], "-5");
    assert_eq!(rows[4][10], "true");
    // quotes, commas and newlines survive
    assert_eq!(rows[4][7], "ab,\"c\"\nd n=15");
    // `@`
    assert_eq!(rows[6][2], "'@c");
    assert_eq!(rows[6][7], "'=@c");
    // the header alone when there is nothing to report
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    std::fs::write(dir.path().join("none.jsonl"), "").unwrap();
    let out = beian(
        dir.path(),
        &["scan", "-r", "pack.yaml", "-f", "csv", "-q", "none.jsonl"],
    );
    assert_eq!(
        stdout(&out),
        "source,line,record,rule,category,severity,element,message,deadline,days_left,overdue\n"
    );
}

#[test]
fn csv_guard_covers_tab_cr_plus() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    std::fs::write(
        dir.path().join("g.jsonl"),
        "{\"id\":\"\\tx\",\"n\":50,\"name\":\"\\ry\"}\n{\"id\":\"+1\",\"n\":50,\"name\":\"-2\"}\n",
    )
    .unwrap();
    let out = beian(
        dir.path(),
        &[
            "scan",
            "-r",
            "pack.yaml",
            "-f",
            "csv",
            "-q",
            "--select",
            "R-1",
            "g.jsonl",
        ],
    );
    let text = stdout(&out);
    let mut rd = csv::Reader::from_reader(text.as_bytes());
    let rows: Vec<csv::StringRecord> = rd.records().map(Result::unwrap).collect();
    assert_eq!(&rows[0][2], "'\tx");
    assert_eq!(&rows[0][7], "'\ry n=50");
    assert_eq!(&rows[1][2], "'+1");
    assert_eq!(&rows[1][7], "'-2 n=50");
}

fn sarif_validator() -> jsonschema::Validator {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sarif-schema-2.1.0.json");
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    jsonschema::validator_for(&schema).unwrap()
}

fn assert_valid_sarif(v: &jsonschema::Validator, doc: &Value) {
    let errors: Vec<String> = v
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "invalid SARIF: {errors:#?}");
}

#[test]
fn sarif_is_valid_against_the_official_schema() {
    let v = sarif_validator();
    let (_d, out) = scan(&["-f", "sarif", "-q", "in.jsonl"]);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_valid_sarif(&v, &doc);
    assert_eq!(doc["version"], "2.1.0");
    let run = &doc["runs"][0];
    let rules: Vec<&str> = run["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(rules, ["R-1", "R-2", "W-1", "C-1"]);
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), 7);
    let levels: Vec<&str> = results
        .iter()
        .map(|r| r["level"].as_str().unwrap())
        .collect();
    assert_eq!(
        levels,
        ["error", "note", "warning", "warning", "error", "note", "note"]
    );
    for r in results {
        let i = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[i], r["ruleId"].as_str().unwrap());
        assert_eq!(
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "in.jsonl"
        );
    }
    assert_eq!(
        results[4]["locations"][0]["physicalLocation"]["region"]["startLine"],
        2
    );
    assert_eq!(results[0]["message"]["text"], "中文名字很长很长 n=50");

    // a scan with no findings
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    std::fs::write(dir.path().join("none.jsonl"), "{\"id\":\"z\",\"n\":0}\n").unwrap();
    let out = beian(
        dir.path(),
        &["scan", "-r", "pack.yaml", "-f", "sarif", "-q", "none.jsonl"],
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_valid_sarif(&v, &doc);
    assert_eq!(doc["runs"][0]["results"], serde_json::json!([]));
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn sarif_critical_is_an_error_and_odd_paths_are_uris() {
    let v = sarif_validator();
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    std::fs::write(
        dir.path().join("备案 数据#1.jsonl"),
        "{\"id\":\"big\",\"n\":500}\n",
    )
    .unwrap();
    let out = beian(
        dir.path(),
        &[
            "scan",
            "-r",
            "pack.yaml",
            "-f",
            "sarif",
            "-q",
            "--select",
            "C-1",
            "备案 数据#1.jsonl",
        ],
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_valid_sarif(&v, &doc);
    let r = &doc["runs"][0]["results"][0];
    assert_eq!(r["level"], "error");
    assert_eq!(r["ruleId"], "C-1");
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn table_is_aligned_by_display_width() {
    use unicode_width::UnicodeWidthStr;
    let (_d, out) = scan(&["-f", "table", "-q", "in.jsonl"]);
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() >= 9, "{text}");
    // every row's rule column starts at the same display column as the header's
    let col = |line: &str, needle: &str| {
        let i = line.find(needle).unwrap();
        UnicodeWidthStr::width(&line[..i])
    };
    let header_col = col(lines[0], "规则");
    // the rows, then a blank line and the summary (SPEC §4: "a readable table and summary",
    // even with `-q`, which only silences standard error)
    let blank = lines.iter().position(|l| l.is_empty()).unwrap();
    assert!(
        lines[blank + 1].starts_with("beian: 4 records read"),
        "{text}"
    );
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
    for line in &lines[2..blank] {
        let rule = ["R-1", "R-2", "W-1"]
            .iter()
            .find(|r| line.contains(*r))
            .unwrap();
        assert_eq!(col(line, rule), header_col, "{text}");
    }
    // the message column too (its header, and the rows' messages)
    let msg_col = col(lines[0], "消息");
    assert_eq!(col(lines[2], "中文名字"), msg_col, "{text}");
    assert!(text.contains("逾期5天"), "{text}");
    // no findings
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    std::fs::write(dir.path().join("none.jsonl"), "").unwrap();
    let out = beian(
        dir.path(),
        &["scan", "-r", "pack.yaml", "-f", "table", "-q", "none.jsonl"],
    );
    assert!(stdout(&out).contains("no findings"));
}

#[test]
fn default_format_off_a_terminal_is_jsonl() {
    let (_d, out) = scan(&["-q", "in.jsonl"]);
    assert_eq!(jsonl(&stdout(&out)).len(), 7);
}

// ---------------------------------------------------------------- summary

#[test]
fn summary_on_stderr_unless_quiet_and_as_json_with_summary() {
    let (dir, out) = scan(&["--summary", "s.json", "in.jsonl"]);
    let err = stderr(&out);
    assert!(err.contains("4 records read"), "{err}");
    assert!(err.contains("7 findings"), "{err}");
    let s: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("s.json")).unwrap()).unwrap();
    let keys: Vec<&str> = s.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "records_read",
            "records_evaluated",
            "records_rejected",
            "field_errors",
            "findings",
            "by_severity",
            "by_rule",
            "waived",
            "expired_waivers",
            "unused_waivers",
            "as_of",
            "elapsed_s"
        ]
    );
    assert_eq!(s["as_of"], "2026-01-01");
    assert_eq!(
        s["by_rule"]["W-1"],
        serde_json::json!({"findings": 2, "undetermined": 0, "waived": 0})
    );
    assert_eq!(
        s["by_rule"].as_object().unwrap().len(),
        4,
        "every selected rule"
    );
    // in hundredths of a second, as the text summary shows it
    let hundredths = s["elapsed_s"].as_f64().unwrap() * 100.0;
    assert!(
        (hundredths - hundredths.round()).abs() < 1e-6,
        "{}",
        s["elapsed_s"]
    );
    let (_d, out) = scan(&["-q", "in.jsonl"]);
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
    // selection narrows by_rule
    let (dir, _) = scan(&["-q", "--select", "size", "--summary", "s.json", "in.jsonl"]);
    let s: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("s.json")).unwrap()).unwrap();
    let ids: Vec<&str> = s["by_rule"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(ids, ["R-1", "C-1"]);
}

#[test]
fn first_20_input_errors_on_stderr_without_errors_file() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    let bad: String = (0..30).map(|i| format!("bad {i}\n")).collect();
    std::fs::write(dir.path().join("bad.jsonl"), bad).unwrap();
    let out = beian(dir.path(), &["scan", "-r", "pack.yaml", "bad.jsonl"]);
    let err = stderr(&out);
    assert_eq!(err.matches("bad.jsonl:").count(), 20, "{err}");
    assert!(err.contains("10 more"), "{err}");
}

// ---------------------------------------------------------------- files and exit codes

fn no_temp_files(dir: &Path) {
    let stray: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp") || n.starts_with(".beian"))
        .collect();
    assert!(stray.is_empty(), "stray files: {stray:?}");
}

#[test]
fn output_files_are_written_whole_and_leave_no_temp_files() {
    let (dir, out) = scan(&[
        "-f",
        "json",
        "-o",
        "out.json",
        "--errors",
        "err.jsonl",
        "--summary",
        "sum.json",
        "in.jsonl",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("out.json")).unwrap())
            .unwrap();
    assert_eq!(doc["findings"].as_array().unwrap().len(), 7);
    assert!(dir.path().join("err.jsonl").exists());
    assert!(dir.path().join("sum.json").exists());
    no_temp_files(dir.path());
}

#[test]
fn output_into_a_missing_folder_is_an_io_error() {
    let (dir, out) = scan(&["-o", "no/such/dir/out.jsonl", "in.jsonl"]);
    assert_eq!(out.status.code(), Some(2));
    no_temp_files(dir.path());
}

#[test]
fn exit_codes() {
    let code = |args: &[&str]| scan(args).1.status.code().unwrap();
    // error findings, fail-on error (default)
    assert_eq!(code(&["-q", "in.jsonl"]), 1);
    assert_eq!(code(&["-q", "--fail-on", "never", "in.jsonl"]), 0);
    assert_eq!(code(&["-q", "--fail-on", "critical", "in.jsonl"]), 0);
    assert_eq!(code(&["-q", "--fail-on", "warning", "in.jsonl"]), 1);
    // only info findings
    assert_eq!(code(&["-q", "--select", "R-2", "in.jsonl"]), 0);
    assert_eq!(
        code(&["-q", "--select", "R-2", "--fail-on", "info", "in.jsonl"]),
        1
    );
    // usage errors
    assert_eq!(code(&["-q", "--no-such-flag", "in.jsonl"]), 2);
    assert_eq!(code(&["-q", "-f", "xml", "in.jsonl"]), 2);
    assert_eq!(code(&["-q", "in.xml"]), 2);
    assert_eq!(code(&["-q"]), 2);
    assert_eq!(code(&["-q", "--fail-on", "sometimes", "in.jsonl"]), 2);
    // a pack error
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    std::fs::write(dir.path().join("bad.yaml"), "rules: [{id: x}]\n").unwrap();
    let out = beian(dir.path(), &["scan", "-r", "bad.yaml", "in.jsonl"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn strict_exits_2_and_still_writes_everything() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    std::fs::write(
        dir.path().join("d.jsonl"),
        "{\"id\":\"a\",\"n\":50}\nnot json\n{\"id\":\"b\",\"n\":\"x\"}\n",
    )
    .unwrap();
    let out = beian(
        dir.path(),
        &[
            "scan",
            "-r",
            "pack.yaml",
            "--strict",
            "-o",
            "out.jsonl",
            "--errors",
            "err.jsonl",
            "--summary",
            "sum.json",
            "d.jsonl",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let findings = std::fs::read_to_string(dir.path().join("out.jsonl")).unwrap();
    assert_eq!(jsonl(&findings).len(), 2);
    let errors = std::fs::read_to_string(dir.path().join("err.jsonl")).unwrap();
    assert_eq!(jsonl(&errors).len(), 2);
    let s: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("sum.json")).unwrap())
            .unwrap();
    assert_eq!(s["records_rejected"], 1);
    assert_eq!(s["field_errors"], 1);

    // a field error alone is enough
    std::fs::write(dir.path().join("f.jsonl"), "{\"id\":\"b\",\"n\":\"x\"}\n").unwrap();
    let out = beian(
        dir.path(),
        &["scan", "-r", "pack.yaml", "-q", "--strict", "f.jsonl"],
    );
    assert_eq!(out.status.code(), Some(2));
    // clean input: the usual codes
    let out = beian(
        dir.path(),
        &["scan", "-r", "pack.yaml", "-q", "--strict", "in.jsonl"],
    );
    assert_eq!(out.status.code(), Some(1));
    let out = beian(
        dir.path(),
        &[
            "scan",
            "-r",
            "pack.yaml",
            "-q",
            "--strict",
            "--fail-on",
            "never",
            "in.jsonl",
        ],
    );
    assert_eq!(out.status.code(), Some(0));
}

/// A large input for the kill test: about 10 MB of JSON Lines.
fn large_input(dir: &Path) {
    let mut text = String::with_capacity(12 << 20);
    let mut x: u64 = 7;
    for i in 0..RECORDS {
        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        let n = 11 + (x >> 33) % 40;
        text.push_str(&format!(
            "{{\"id\":\"rec-{i}\",\"n\":{n},\"name\":\"名字{i}\",\"tags\":[\"y\"]}}\n"
        ));
    }
    std::fs::write(dir.join("large.jsonl"), text).unwrap();
}

const RECORDS: u64 = 150_000;

fn scan_large(dir: &Path, out: &Path, extra: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_beian"));
    cmd.current_dir(dir)
        .args(["scan", "-r", "pack.yaml", "--as-of", "2026-01-01", "-q"])
        .args(["--select", "R-1", "-f", "jsonl", "-o"])
        .arg(out)
        .args(extra)
        .arg("large.jsonl")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

/// Every finding of the large input, complete: one a record, the last one's last.
fn assert_complete(text: &str) {
    assert!(text.ends_with('\n'));
    let lines = jsonl(text);
    assert_eq!(lines.len() as u64, RECORDS);
    assert_eq!(
        lines.last().unwrap()["record"],
        format!("rec-{}", RECORDS - 1)
    );
}

#[test]
fn output_file_is_absent_or_complete_when_killed() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    large_input(dir.path());
    // a whole run: its output is complete, and nothing is left beside it
    std::fs::create_dir(dir.path().join("done")).unwrap();
    let started = Instant::now();
    let status = scan_large(
        dir.path(),
        Path::new("done/whole.jsonl"),
        &["--errors", "done/e.jsonl", "--summary", "done/s.json"],
    )
    .status()
    .unwrap();
    let whole = started.elapsed();
    assert_eq!(status.code(), Some(1));
    assert_complete(&std::fs::read_to_string(dir.path().join("done/whole.jsonl")).unwrap());
    let mut names: Vec<String> = std::fs::read_dir(dir.path().join("done"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["e.jsonl", "s.json", "whole.jsonl"]);

    // killed at 15%, 50% and 85% of that time
    let mut killed_midway = 0;
    for (round, part) in [0.15f64, 0.5, 0.85].into_iter().enumerate() {
        let target = dir.path().join(format!("out{round}.jsonl"));
        // an earlier, complete output stays complete until replaced whole
        let old = round == 1;
        if old {
            std::fs::write(&target, "{\"old\":true}\n").unwrap();
        }
        let mut child = scan_large(dir.path(), &target, &[]).spawn().unwrap();
        let delay = whole.mul_f64(part);
        let started = Instant::now();
        while started.elapsed() < delay && child.try_wait().unwrap().is_none() {
            std::thread::sleep(Duration::from_millis(5));
        }
        let finished = child.try_wait().unwrap().is_some();
        if !finished {
            child.kill().unwrap();
            killed_midway += 1;
        }
        child.wait().unwrap();
        match std::fs::read_to_string(&target) {
            Err(e) => {
                assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
                assert!(!finished && !old);
            }
            Ok(text) if text == "{\"old\":true}\n" => assert!(!finished),
            Ok(text) => assert_complete(&text),
        }
    }
    assert!(killed_midway > 0, "the scan was never killed midway");
}

/// `-o` through a symbolic link replaces the file it points to and keeps the link; `-o` to a
/// file that is not a regular file (here a FIFO, like `/dev/null` or a terminal) is written
/// in place, not renamed over (which replaced `/dev/null` with a plain file).
#[test]
fn output_follows_links_and_writes_special_files_in_place() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    std::fs::write(dir.path().join("real.jsonl"), "").unwrap();
    std::os::unix::fs::symlink("real.jsonl", dir.path().join("link.jsonl")).unwrap();
    let out = beian(
        dir.path(),
        &[
            "scan",
            "-r",
            "pack.yaml",
            "-q",
            "-o",
            "link.jsonl",
            "in.jsonl",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let link = std::fs::symlink_metadata(dir.path().join("link.jsonl")).unwrap();
    assert!(link.file_type().is_symlink());
    let written = std::fs::read_to_string(dir.path().join("real.jsonl")).unwrap();
    assert_eq!(jsonl(&written).len(), 7);

    use std::os::unix::fs::FileTypeExt;
    let fifo = dir.path().join("fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
    };
    let out = beian(
        dir.path(),
        &["scan", "-r", "pack.yaml", "-q", "-o", "fifo", "in.jsonl"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    // checked before joining: had the FIFO been replaced, the reader would wait forever
    let still = std::fs::symlink_metadata(&fifo)
        .unwrap()
        .file_type()
        .is_fifo();
    assert!(still, "the FIFO was replaced by a plain file");
    assert_eq!(jsonl(&reader.join().unwrap()).len(), 7);
}
