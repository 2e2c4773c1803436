//! The `beian` binary: all the work is in the library; see `beian --help`.

/// mimalloc: a scan makes many small, short-lived allocations (strings and objects of each
/// record, findings); glibc's malloc spent ~12% of a ten-rule scan in malloc and free.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(beian::cli::main());
}
