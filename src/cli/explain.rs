//! `beian explain RULE`: evaluates one rule on one record.

use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The rule id.
    #[arg(value_name = "RULE")]
    pub rule: String,
    /// Rule pack: a YAML file or a directory (default: the embedded pack).
    #[arg(short = 'r', long = "rules", value_name = "PATH")]
    pub rules: Option<PathBuf>,
    /// Reference date (default: today in UTC+8).
    #[arg(long = "as-of", value_name = "DATE", value_parser = super::parse_date_arg)]
    pub as_of: Option<chrono::NaiveDate>,
    /// The record: a JSON file, or `-` for standard input (default).
    #[arg(long = "record", value_name = "FILE")]
    pub record: Option<String>,
    /// Output: text or json.
    #[arg(short = 'f', long = "format", default_value = "text", value_parser = ["text", "json"])]
    pub format: String,
}

pub fn run(args: Args) -> i32 {
    crate::explain::cli_run(args)
}
