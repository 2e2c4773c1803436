//! `beian schema`: a JSON Schema of pack files, for editors.

#[derive(clap::Args, Debug)]
pub struct Args {}

pub fn run(_args: Args) -> i32 {
    crate::cli::out(&format!(
        "{}\n",
        serde_json::to_string_pretty(&crate::pack_schema::schema()).unwrap_or_default()
    ));
    0
}
