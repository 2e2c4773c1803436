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
            println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
        }
        "sarif" => {
            println!(
                "{}",
                serde_json::to_string_pretty(&sarif(&loaded)).unwrap_or_default()
            );
        }
        _ => {
            super::print_diagnostics(&loaded.diagnostics, &loaded.sources);
            match &loaded.program {
                Some(p) if errors == 0 => eprintln!(
                    "ok: {} rules checked; {}",
                    p.rules.len(),
                    crate::diag::summary_line(&loaded.diagnostics)
                ),
                _ => eprintln!(
                    "error: the pack has {}",
                    crate::diag::summary_line(&loaded.diagnostics)
                ),
            }
        }
    }
    if errors > 0 {
        2
    } else {
        0
    }
}

/// The diagnostics as SARIF results, with their file, line and column.
pub fn sarif(loaded: &crate::pack::Loaded) -> serde_json::Value {
    let mut codes: Vec<crate::diag::Code> = loaded.diagnostics.iter().map(|d| d.code).collect();
    codes.sort();
    codes.dedup();
    let rules: Vec<serde_json::Value> = codes
        .iter()
        .map(|c| serde_json::json!({"id": c.as_str(), "name": format!("{c:?}"), "shortDescription": {"text": format!("{c:?}")}}))
        .collect();
    let results: Vec<serde_json::Value> = loaded
        .diagnostics
        .iter()
        .map(|d| {
            let mut r = serde_json::json!({
                "ruleId": d.code.as_str(),
                "ruleIndex": codes.iter().position(|c| *c == d.code),
                "level": if d.is_error() { "error" } else { "warning" },
                "message": {"text": match &d.help { Some(h) => format!("{} (help: {h})", d.message), None => d.message.clone() }},
            });
            if let Some(loc) = d.loc {
                let (line, col) = loaded.sources.line_col(loc.file, loc.start);
                let (end_line, end_col) = loaded.sources.line_col(loc.file, loc.end);
                r["locations"] = serde_json::json!([{"physicalLocation": {
                    "artifactLocation": {"uri": loaded.sources.name(loc.file)},
                    "region": {"startLine": line, "startColumn": col, "endLine": end_line, "endColumn": end_col.max(col)}
                }}]);
            }
            r
        })
        .collect();
    crate::report::sarif_document(rules, results, None)
}
