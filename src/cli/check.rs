//! `beian check`: loads, type-checks and lints a pack; reports every problem (SPEC §6).

use std::path::PathBuf;

use crate::pack::{load_all, PackSource};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Rule pack: a YAML file or a directory (default: the embedded pack).
    #[arg(short = 'r', long = "rules", value_name = "PATH")]
    pub rules: Option<PathBuf>,
    /// Output: text diagnostics on stderr, or json / sarif on stdout.
    #[arg(long = "format", short = 'f', default_value = "text", value_parser = ["text", "json", "sarif"])]
    pub format: String,
}

pub fn run(args: Args) -> i32 {
    let loaded = load_all(match &args.rules {
        Some(p) => PackSource::Path(p),
        None => PackSource::Embedded,
    });
    let errors = loaded.diagnostics.iter().filter(|d| d.is_error()).count();
    match args.format.as_str() {
        "json" => {
            let list: Vec<serde_json::Value> = loaded
                .diagnostics
                .iter()
                .map(|d| d.to_json(&loaded.sources))
                .collect();
            let doc = serde_json::json!({
                "diagnostics": list,
                "errors": errors,
                "warnings": loaded.diagnostics.len() - errors,
                "rules": loaded.program.as_ref().map(|p| p.rules.len()),
            });
            crate::cli::out(&format!(
                "{}\n",
                serde_json::to_string_pretty(&doc).unwrap_or_default()
            ));
        }
        "sarif" => {
            crate::cli::out(&format!(
                "{}\n",
                serde_json::to_string_pretty(&sarif(&loaded)).unwrap_or_default()
            ));
        }
        _ => {
            super::print_diagnostics(&loaded.diagnostics, &loaded.sources);
            match &loaded.program {
                Some(p) if errors == 0 => crate::cli::err(&format!(
                    "ok: {} checked; {}",
                    match p.rules.len() {
                        1 => "1 rule".to_string(),
                        n => format!("{n} rules"),
                    },
                    crate::diag::summary_line(&loaded.diagnostics)
                )),
                _ => crate::cli::err(&format!(
                    "error: the pack has {}",
                    crate::diag::summary_line(&loaded.diagnostics)
                )),
            }
        }
    }
    if errors > 0 {
        2
    } else {
        0
    }
}

/// A file path as a SARIF `uri-reference`: `/` separators, anything but unreserved characters
/// percent-encoded (Chinese file names included).
pub fn path_uri(path: &str) -> String {
    let mut out = String::new();
    for b in path.replace('\\', "/").bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The diagnostics as SARIF 2.1.0 results, with their file, line and column (1-based, in
/// Unicode scalar values); the codes that occur are the `tool.driver.rules`.
pub fn sarif(loaded: &crate::pack::Loaded) -> serde_json::Value {
    let mut codes: Vec<crate::diag::Code> = loaded.diagnostics.iter().map(|d| d.code).collect();
    codes.sort();
    codes.dedup();
    let rules: Vec<serde_json::Value> = codes
        .iter()
        .map(|c| {
            let level = if c.is_warning() { "warning" } else { "error" };
            serde_json::json!({
                "id": c.as_str(),
                "name": format!("{c:?}"),
                "shortDescription": {"text": c.description()},
                "defaultConfiguration": {"level": level},
            })
        })
        .collect();
    let results: Vec<serde_json::Value> = loaded
        .diagnostics
        .iter()
        .map(|d| {
            let text = match &d.help {
                Some(h) => format!("{} (help: {h})", d.message),
                None => d.message.clone(),
            };
            let mut r = serde_json::Map::new();
            r.insert("ruleId".into(), d.code.as_str().into());
            r.insert(
                "ruleIndex".into(),
                codes.iter().position(|c| *c == d.code).into(),
            );
            r.insert(
                "level".into(),
                if d.is_error() { "error" } else { "warning" }.into(),
            );
            r.insert("message".into(), serde_json::json!({ "text": text }));
            if let Some(loc) = d.loc {
                let (line, col) = loaded.sources.line_col(loc.file, loc.start);
                let (end_line, end_col) = loaded.sources.line_col(loc.file, loc.end);
                let (end_line, end_col) = if (end_line, end_col) < (line, col) {
                    (line, col)
                } else {
                    (end_line, end_col)
                };
                let mut region = serde_json::Map::new();
                region.insert("startLine".into(), line.into());
                region.insert("startColumn".into(), col.into());
                region.insert("endLine".into(), end_line.into());
                region.insert("endColumn".into(), end_col.into());
                let snippet = loaded.sources.slice(loc);
                if !snippet.is_empty() {
                    region.insert("snippet".into(), serde_json::json!({ "text": snippet }));
                }
                r.insert(
                    "locations".into(),
                    serde_json::json!([{"physicalLocation": {
                        "artifactLocation": {"uri": path_uri(loaded.sources.name(loc.file))},
                        "region": region,
                    }}]),
                );
            }
            serde_json::Value::Object(r)
        })
        .collect();
    crate::report::sarif_document(rules, results, None)
}
