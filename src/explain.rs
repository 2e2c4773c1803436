//! `beian explain`: evaluates one rule on one record and shows why it fired or not.

use crate::cli::explain::Args;

pub fn cli_run(args: Args) -> i32 {
    let _ = args;
    0
}
