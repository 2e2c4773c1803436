//! `beian rules [ID]`: the rules of a pack as a table, or one rule in full.

use std::path::PathBuf;

use unicode_width::UnicodeWidthStr;

use crate::program::{Program, Rule};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Show this rule in full.
    #[arg(value_name = "ID")]
    pub id: Option<String>,
    /// Rule pack: a YAML file or a directory (default: the embedded pack).
    #[arg(short = 'r', long = "rules", value_name = "PATH")]
    pub rules: Option<PathBuf>,
}

pub fn run(args: Args) -> i32 {
    let program = match super::load_pack(args.rules.as_deref()) {
        Ok(p) => p,
        Err(code) => return code,
    };
    match &args.id {
        None => crate::cli::out(&table(&program)),
        Some(id) => match program.rules.iter().find(|r| &r.id == id) {
            Some(r) => crate::cli::out(&full(&program, r)),
            None => {
                let hint =
                    crate::load::did_you_mean(id, program.rules.iter().map(|r| r.id.as_str()));
                crate::cli::err(&format!(
                    "error: no rule `{id}` in the pack{}",
                    hint.map(|h| format!("; {h}")).unwrap_or_default()
                ));
                return 2;
            }
        },
    }
    0
}

fn pad(s: &str, w: usize) -> String {
    let mut out = s.to_string();
    out.extend(std::iter::repeat_n(
        ' ',
        w.saturating_sub(UnicodeWidthStr::width(s)),
    ));
    out
}

/// id, severity, category, title: one line a rule.
pub fn table(program: &Program) -> String {
    let rows: Vec<[String; 4]> = program
        .rules
        .iter()
        .map(|r| {
            let id = if r.enabled {
                r.id.clone()
            } else {
                format!("{} (disabled)", r.id)
            };
            [
                id,
                r.severity.as_str().to_string(),
                r.category.clone(),
                r.title.clone(),
            ]
        })
        .collect();
    let header = ["id", "severity", "category", "title"];
    let mut widths = header.map(UnicodeWidthStr::width);
    for row in &rows {
        for (w, c) in widths.iter_mut().zip(row.iter()) {
            *w = (*w).max(UnicodeWidthStr::width(c.as_str()));
        }
    }
    let mut s = String::new();
    let line = |cells: [&str; 4]| -> String {
        let parts: Vec<String> = cells
            .iter()
            .zip(widths.iter())
            .map(|(c, w)| pad(c, *w))
            .collect();
        format!("{}\n", parts.join("  ").trim_end())
    };
    s.push_str(&line(header));
    for row in &rows {
        s.push_str(&line([&row[0], &row[1], &row[2], &row[3]]));
    }
    s.push_str(&match rows.len() {
        1 => "1 rule\n".to_string(),
        n => format!("{n} rules\n"),
    });
    s
}

/// A multi-line text with its continuation lines under the first.
fn indented(text: &str) -> String {
    text.trim()
        .lines()
        .collect::<Vec<_>>()
        .join("\n              ")
}

/// Every field of one rule, its source and its tests.
pub fn full(program: &Program, r: &Rule) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let (line, _) = program.sources.line_col(r.loc.file, r.loc.start);
    let _ = writeln!(s, "{}  {}", r.id, r.title);
    let _ = writeln!(
        s,
        "  defined in: {}:{line}",
        program.sources.name(r.loc.file)
    );
    let _ = writeln!(s, "  category:   {}", r.category);
    let _ = writeln!(s, "  severity:   {}", r.severity.as_str());
    let _ = writeln!(s, "  enabled:    {}", r.enabled);
    if r.effective_from.is_some() || r.effective_until.is_some() {
        let d = |x: Option<chrono::NaiveDate>| x.map_or("-".to_string(), |d| d.to_string());
        let _ = writeln!(
            s,
            "  effective:  {} .. {}",
            d(r.effective_from),
            d(r.effective_until)
        );
    }
    if let Some(f) = &r.text.for_each {
        let _ = writeln!(s, "  for_each:   {}", indented(f));
    }
    for (n, e) in &r.text.lets {
        let _ = writeln!(s, "  let {n} = {}", indented(e));
    }
    if let Some(a) = &r.text.applies_if {
        let _ = writeln!(s, "  applies_if: {}", indented(a));
    }
    let _ = writeln!(s, "  when:       {}", indented(&r.text.when));
    let _ = writeln!(s, "  message:    {}", indented(&r.text.message));
    if let Some(d) = &r.text.deadline {
        let _ = writeln!(s, "  deadline:   {}", indented(d));
    }
    if let Some(x) = &r.remedy {
        let _ = writeln!(s, "  remedy:     {}", indented(x));
    }
    if let Some(x) = &r.source {
        let _ = writeln!(s, "  source:     {x}");
    }
    let _ = writeln!(s, "  tests:      {}", r.tests.len());
    for t in &r.tests {
        let (line, _) = program.sources.line_col(t.loc.file, t.loc.start);
        let _ = writeln!(s, "    - {} (line {line}, as_of {})", t.name, t.as_of);
        let record = crate::yaml::to_json(&t.record);
        let _ = writeln!(
            s,
            "      record: {}",
            serde_json::to_string(&record).unwrap_or_default()
        );
        let expect = match &t.expect {
            crate::load::Expect::Count(0) => "no finding".to_string(),
            crate::load::Expect::Count(1) => "1 finding".to_string(),
            crate::load::Expect::Count(n) => format!("{n} findings"),
            crate::load::Expect::Findings(l) if l.is_empty() => "no finding".to_string(),
            crate::load::Expect::Findings(l) => {
                let items: Vec<String> = l
                    .iter()
                    .map(|m| {
                        serde_json::to_string(&serde_json::Value::Object(m.clone()))
                            .unwrap_or_default()
                    })
                    .collect();
                items.join(", ")
            }
        };
        let _ = writeln!(s, "      expect: {expect}");
    }
    s
}
