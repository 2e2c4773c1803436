//! Helpers shared by the integration tests that run the `beian` binary: each run asserts
//! that the program did not panic, whatever its exit code.
#![allow(dead_code)] // each test file uses some of them

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// Runs `beian ARGS` in `dir`.
pub fn beian(dir: &Path, args: &[&str]) -> Output {
    beian_with_stdin(dir, args, None)
}

/// Runs `beian ARGS` in `dir` with `stdin` as its standard input (empty when `None`).
pub fn beian_with_stdin(dir: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_beian"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run beian");
    {
        let mut input = child.stdin.take().expect("stdin is piped");
        if let Some(text) = stdin {
            // the program may exit before it reads (a pack error)
            let _ = input.write_all(text.as_bytes());
        }
    }
    let o = child.wait_with_output().expect("wait for beian");
    assert!(
        !String::from_utf8_lossy(&o.stderr).contains("panicked at"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("stdout is UTF-8")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).expect("stderr is UTF-8")
}
