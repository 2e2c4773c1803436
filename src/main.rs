//! The `beian` binary: all the work is in the library; see `beian --help`.
fn main() {
    std::process::exit(beian::cli::main());
}
