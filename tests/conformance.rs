//! Runs the public conformance cases of the contract (`tests/conformance/*.yaml`, copied from
//! the contract's `conformance/` folder) against the built binary, as `run.py` does.
//! The cases are read with `serde-saphyr`, independently of beian's own YAML loader.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance")
}

fn write_input(dir: &Path, spec: &Value) -> String {
    let name = spec["name"].as_str().unwrap().to_string();
    let text = spec["text"].as_str().unwrap_or("");
    let mut raw: Vec<u8> = match spec.get("encoding").and_then(Value::as_str) {
        Some(enc) if enc.eq_ignore_ascii_case("gb18030") || enc.eq_ignore_ascii_case("gbk") => {
            encoding_rs::GB18030.encode(text).0.into_owned()
        }
        _ => text.as_bytes().to_vec(),
    };
    if spec.get("bom").and_then(Value::as_bool) == Some(true) {
        raw.splice(0..0, [0xEF, 0xBB, 0xBF]);
    }
    std::fs::write(dir.join(&name), raw).unwrap();
    name
}

/// Every key of `expected` equals `actual`'s (objects compared key by key).
fn subset(expected: &Value, actual: &Value, at: &str) -> Result<(), String> {
    match expected {
        Value::Object(m) => {
            let a = actual
                .as_object()
                .ok_or(format!("{at}: expected an object, got {actual}"))?;
            for (k, v) in m {
                let got = a.get(k).ok_or(format!("{at}.{k}: missing"))?;
                subset(v, got, &format!("{at}.{k}"))?;
            }
            Ok(())
        }
        Value::Number(x) if x.is_f64() || actual.as_f64().is_some_and(|_| actual.is_f64()) => {
            match (x.as_f64(), actual.as_f64()) {
                (Some(p), Some(q)) if (p - q).abs() < 1e-9 => Ok(()),
                _ => Err(format!("{at}: expected {expected}, got {actual}")),
            }
        }
        _ if expected == actual => Ok(()),
        _ => Err(format!("{at}: expected {expected}, got {actual}")),
    }
}

const KEY_ORDER: [&str; 11] = [
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

fn run_case(path: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(path).unwrap();
    let options = serde_saphyr::options! { strict_booleans: true };
    let case: Value = serde_saphyr::from_str_with_options(&text, options)
        .map_err(|e| format!("cannot read case: {e}"))?;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let rules = if let Some(pack) = case.get("pack").and_then(Value::as_str) {
        std::fs::write(dir.join("pack.yaml"), pack).unwrap();
        "pack.yaml"
    } else {
        if let Some(files) = case.get("pack_files").and_then(Value::as_object) {
            for (rel, text) in files {
                let full = dir.join("pack").join(rel);
                std::fs::create_dir_all(full.parent().unwrap()).unwrap();
                std::fs::write(full, text.as_str().unwrap()).unwrap();
            }
        }
        "pack"
    };
    if let Some(files) = case.get("files").and_then(Value::as_object) {
        for (rel, text) in files {
            std::fs::write(dir.join(rel), text.as_str().unwrap()).unwrap();
        }
    }
    let mut inputs = Vec::new();
    if let Some(list) = case.get("inputs").and_then(Value::as_array) {
        for spec in list {
            inputs.push(write_input(dir, spec));
        }
    } else if let Some(spec) = case.get("input") {
        inputs.push(write_input(dir, spec));
    }
    let command = case
        .get("command")
        .and_then(Value::as_str)
        .unwrap_or("scan");
    let mut argv: Vec<String> = Vec::new();
    if ["scan", "check", "test", "explain", "rules"].contains(&command) {
        argv.extend(["-r".into(), rules.into()]);
    }
    if ["scan", "explain", "diff"].contains(&command) {
        if let Some(as_of) = case.get("as_of") {
            argv.extend([
                "--as-of".into(),
                as_of.as_str().map_or(as_of.to_string(), str::to_string),
            ]);
        }
    }
    if command == "scan" {
        let format = case
            .get("format")
            .and_then(Value::as_str)
            .unwrap_or("jsonl");
        argv.extend(
            [
                "--format",
                format,
                "--summary",
                "summary.json",
                "--errors",
                "errors.jsonl",
            ]
            .iter()
            .map(|s| s.to_string()),
        );
    }
    if let Some(args) = case.get("args").and_then(Value::as_array) {
        argv.extend(
            args.iter()
                .map(|a| a.as_str().map_or(a.to_string(), str::to_string)),
        );
    }
    argv.extend(inputs.iter().cloned());
    let threads =
        command == "scan" && case.get("threads_invariant").and_then(Value::as_bool) == Some(true);
    let go = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_beian"))
            .arg(command)
            .args(extra)
            .args(&argv)
            .current_dir(dir)
            .output()
            .unwrap()
    };
    let first = go(if threads { &["-j", "1"] } else { &[] });
    let out = String::from_utf8_lossy(&first.stdout).into_owned();
    let err = String::from_utf8_lossy(&first.stderr).into_owned();
    if err.contains("panicked at") || err.contains("RUST_BACKTRACE") {
        return Err(format!("the program panicked: {err}"));
    }
    if let Some(code) = case.get("expect_exit").and_then(Value::as_i64) {
        if i64::from(first.status.code().unwrap_or(-1)) != code {
            return Err(format!(
                "exit {:?}, expected {code}; stderr: {err}",
                first.status.code()
            ));
        }
    }
    if threads && go(&["-j", "2"]).stdout != first.stdout {
        return Err("output differs between -j 1 and -j 2".into());
    }
    for t in case
        .get("expect_stderr_contains")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let t = t.as_str().unwrap();
        if !err.contains(t) {
            return Err(format!("stderr lacks {t:?}; stderr: {err}"));
        }
    }
    for t in case
        .get("expect_stdout_contains")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let t = t.as_str().unwrap();
        if !out.contains(t) {
            return Err(format!("stdout lacks {t:?}; stdout: {out}"));
        }
    }
    if let Some(expect) = case.get("expect").and_then(Value::as_array) {
        let got: Vec<Value> = out
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).map_err(|e| format!("stdout is not JSON Lines: {e}")))
            .collect::<Result<_, _>>()?;
        if got.len() != expect.len() {
            return Err(format!(
                "{} findings, expected {}: {out}",
                got.len(),
                expect.len()
            ));
        }
        for (i, (e, a)) in expect.iter().zip(&got).enumerate() {
            subset(e, a, &format!("finding[{i}]"))?;
        }
        if case.get("check_key_order").and_then(Value::as_bool) == Some(true) {
            if let Some(first) = got.first().and_then(Value::as_object) {
                let keys: Vec<&str> = first
                    .keys()
                    .map(String::as_str)
                    .take(KEY_ORDER.len())
                    .collect();
                if keys != KEY_ORDER {
                    return Err(format!("finding keys in order {keys:?}"));
                }
            }
        }
    }
    if let Some(expect) = case.get("expect_summary") {
        let summary: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join("summary.json"))
                .map_err(|e| format!("no summary.json: {e}"))?,
        )
        .map_err(|e| format!("summary.json: {e}"))?;
        subset(expect, &summary, "summary")?;
        if let Some(lengths) = case
            .get("expect_summary_lengths")
            .and_then(Value::as_object)
        {
            for (k, n) in lengths {
                let len = summary.get(k).and_then(Value::as_array).map(Vec::len);
                if len != n.as_u64().map(|n| n as usize) {
                    return Err(format!(
                        "summary.{k}: expected a list of {n}, got {:?}",
                        summary.get(k)
                    ));
                }
            }
        }
    }
    if let Some(expect) = case.get("expect_errors").and_then(Value::as_array) {
        let text = std::fs::read_to_string(dir.join("errors.jsonl"))
            .map_err(|e| format!("no errors.jsonl: {e}"))?;
        let errs: Vec<Value> = text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        if errs.len() != expect.len() {
            return Err(format!(
                "{} error entries, expected {}: {text}",
                errs.len(),
                expect.len()
            ));
        }
        for (i, (e, a)) in expect.iter().zip(&errs).enumerate() {
            subset(e, a, &format!("error[{i}]"))?;
        }
    }
    Ok(())
}

#[test]
fn public_conformance_cases() {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(cases_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 20, "the public cases are missing");
    let mut failures = Vec::new();
    for p in &paths {
        if let Err(why) = run_case(p) {
            failures.push(format!(
                "FAIL {}: {why}",
                p.file_name().unwrap().to_string_lossy()
            ));
        }
    }
    println!(
        "{} passed, {} failed",
        paths.len() - failures.len(),
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
