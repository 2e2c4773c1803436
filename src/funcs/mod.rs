//! The built-in function library as plain Rust functions over plain values (SPEC §2.5, §3, §7).
//! The evaluator adapts these to the language's values and null rules.

pub mod china;
pub mod dates;
pub mod domain;
pub mod net;
pub mod text;
