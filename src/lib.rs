//! beian: a rules engine for ICP filing (ICP备案) compliance.
//!
//! Pipeline, one module per stage, each with a thin entry function:
//! [`load`] (YAML with positions → definitions) → [`parser`] (expressions, the only `nom` user)
//! → [`check`] (names, types, lowering) → [`compile`] (folding, faster forms, shared lets; then
//! [`exec`] compiles the rules into closures: an immutable [`program::Program`]) → [`exec`]
//! (one record; [`eval`] is the reference walker) → [`scan`] (inputs in parallel, findings in
//! order) → [`report`].
//! [`pack::load_all`] runs the first four.
//!
//! Panics are designed out: library code denies `unwrap`, `expect`, `panic!` and indexing (see
//! `[lints]` in Cargo.toml); evaluation is total.

// Output goes through `cli::out`/`cli::err`, which cannot panic on a closed pipe.
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod ast;
pub mod cases;
pub mod check;
pub mod cli;
pub mod compile;
pub mod diag;
pub mod eval;
pub mod exec;
pub mod explain;
pub mod funcs;
pub mod input;
pub mod lints;
pub mod load;
pub mod pack;
pub mod pack_schema;
pub mod parser;
pub mod program;
pub mod report;
pub mod scan;
pub mod source;
pub mod testing;
pub mod types;
pub mod value;
pub mod waivers;
pub mod yaml;
