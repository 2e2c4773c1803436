//! Determinism (SPEC §4): findings in input order, then rule order, then element, and every
//! byte of output the same for any thread count. A generated 100k-record input is scanned with
//! `-j 1`, `-j 2` and `-j 8` and the outputs compared byte for byte.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::Path;
use std::process::Command;

use serde_json::Value;

const PACK: &str = r#"
schema:
  key: id
  fields:
    id: string
    n: int
    name: string
    tags: [string]
    ips: [ip]
    sub: {province: string, day: date}
rules:
  - id: Z-1
    title: 数值过大
    category: size
    severity: error
    when: n % 7 == 0
    message: "{name}: n={n}"
    deadline: sub.day + days(30)
  - id: A-1
    title: tag
    category: tags
    severity: warning
    for_each: t in tags
    when: t == "x"
    message: "tag {t} of {id}"
  - id: M-1
    title: private address
    category: net
    severity: info
    for_each: a in ips
    when: is_private(a)
    message: "{a} is private"
"#;

/// A small deterministic generator (an LCG), so that the test needs no crate.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const PROVINCES: [&str; 6] = ["粤", "京", "沪", "浙", "川", "鄂"];
const TAGS: [&str; 4] = ["x", "y", "z", "w"];

/// `n` JSON Lines records with some damage: a bad line every 997, a field error every 101.
fn jsonl(n: u64, seed: u64) -> String {
    let mut g = Lcg(seed);
    let mut out = String::with_capacity(n as usize * 160);
    for i in 0..n {
        if i % 997 == 500 {
            out.push_str("{\"id\": \"broken\", \n");
            continue;
        }
        if i % 1999 == 3 {
            out.push('\n');
        }
        let tags: Vec<String> = (0..g.below(4))
            .map(|_| format!("\"{}\"", TAGS[g.below(4) as usize]))
            .collect();
        let ip = if g.below(3) == 0 {
            format!("10.{}.{}.{}", g.below(256), g.below(256), g.below(256))
        } else {
            format!("47.{}.{}.{}", g.below(256), g.below(256), g.below(256))
        };
        let day = if i % 101 == 7 {
            "2026-02-30".to_string()
        } else {
            format!("2025-{:02}-{:02}", 1 + g.below(12), 1 + g.below(28))
        };
        out.push_str(&format!(
            "{{\"id\":\"{p}ICP备{i:08}号-1\",\"n\":{n},\"name\":\"网站{i}\",\"tags\":[{tags}],\"ips\":[\"{ip}\",\"8.8.{a}.{b}\"],\"sub\":{{\"province\":\"{p}\",\"day\":\"{day}\"}}}}\n",
            p = PROVINCES[g.below(6) as usize],
            n = g.below(1000),
            tags = tags.join(","),
            a = g.below(256),
            b = g.below(256),
        ));
    }
    out
}

/// The same kind of records as CSV.
fn csv(n: u64, seed: u64) -> String {
    let mut g = Lcg(seed);
    let mut out = String::from("id,n,name,tags,ips,sub.province,sub.day\n");
    for i in 0..n {
        if i % 577 == 9 {
            out.push_str("too,few\n");
            continue;
        }
        let tags: Vec<&str> = (0..g.below(4)).map(|_| TAGS[g.below(4) as usize]).collect();
        out.push_str(&format!(
            "R{i},{n},\"网站, {i}\",{tags},10.0.{a}.{b};8.8.8.8,{p},2025/{m}/{d}\n",
            n = g.below(1000),
            tags = tags.join(";"),
            a = g.below(256),
            b = g.below(256),
            p = PROVINCES[g.below(6) as usize],
            m = 1 + g.below(12),
            d = 1 + g.below(28),
        ));
    }
    out
}

/// Runs a scan with `-j threads`; returns stdout, the errors file and the summary without its
/// time.
fn run(dir: &Path, threads: &str, format: &str, inputs: &[&str]) -> (Vec<u8>, String, Value) {
    let errors = format!("errors-{threads}-{format}.jsonl");
    let summary = format!("summary-{threads}-{format}.json");
    let out = Command::new(env!("CARGO_BIN_EXE_beian"))
        .current_dir(dir)
        .args(["scan", "-r", "pack.yaml", "--as-of", "2026-01-01", "-q"])
        .args(["-j", threads, "-f", format])
        .args(["--errors", &errors, "--summary", &summary])
        .args(inputs)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut s: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join(&summary)).unwrap()).unwrap();
    s.as_object_mut().unwrap().remove("elapsed_s");
    (
        out.stdout,
        std::fs::read_to_string(dir.join(&errors)).unwrap(),
        s,
    )
}

#[test]
fn jsonl_100k_records_same_bytes_for_1_2_and_8_threads() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pack.yaml"), PACK).unwrap();
    let n = 100_000;
    std::fs::write(dir.path().join("big.jsonl"), jsonl(n, 42)).unwrap();
    let (one, errors, summary) = run(dir.path(), "1", "jsonl", &["big.jsonl"]);
    assert_eq!(summary["records_read"], n);
    assert_eq!(
        summary["records_rejected"].as_u64().unwrap(),
        (0..n).filter(|i| i % 997 == 500).count() as u64
    );
    assert!(summary["field_errors"].as_u64().unwrap() > 900);
    assert!(one.len() > 5_000_000);
    // input order, then rule order (Z-1, A-1, M-1 as in the pack), then element
    let findings: Vec<Value> = one
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    let rank = |r: &str| ["Z-1", "A-1", "M-1"].iter().position(|x| *x == r).unwrap();
    for w in findings.windows(2) {
        let key = |f: &Value| {
            (
                f["line"].as_u64().unwrap(),
                rank(f["rule"].as_str().unwrap()),
                f["element"].as_u64().unwrap_or(0),
            )
        };
        assert!(key(&w[0]) < key(&w[1]), "{} then {}", w[0], w[1]);
    }
    for threads in ["2", "8"] {
        let (out, errs, s) = run(dir.path(), threads, "jsonl", &["big.jsonl"]);
        assert!(out == one, "stdout differs between -j 1 and -j {threads}");
        assert_eq!(errs, errors, "errors differ between -j 1 and -j {threads}");
        assert_eq!(s, summary);
    }
}

#[test]
fn mixed_inputs_same_bytes_for_1_2_and_8_threads_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pack.yaml"), PACK).unwrap();
    std::fs::write(dir.path().join("a.csv"), csv(8_000, 7)).unwrap();
    std::fs::write(dir.path().join("b.jsonl"), jsonl(4_000, 9)).unwrap();
    // a JSON array of records, over several lines each
    let array: Vec<String> = jsonl(4_000, 11)
        .lines()
        .filter(|l| l.starts_with('{') && l.ends_with('}'))
        .map(|l| l.replace(",\"name\"", ",\n    \"name\""))
        .collect();
    std::fs::write(
        dir.path().join("c.json"),
        format!("[\n  {}\n]\n", array.join(",\n  ")),
    )
    .unwrap();
    let inputs = ["a.csv", "b.jsonl", "c.json"];
    for format in ["jsonl", "csv", "sarif", "json", "table"] {
        let (one, errors, summary) = run(dir.path(), "1", format, &inputs);
        assert!(one.len() > 50_000);
        for threads in ["2", "8"] {
            // every byte, the summary inside `json`, `sarif` and `table` included
            let (out, errs, s) = run(dir.path(), threads, format, &inputs);
            assert!(out == one, "{format}: -j {threads} differs");
            assert_eq!(errs, errors);
            assert_eq!(s, summary);
        }
    }
}
