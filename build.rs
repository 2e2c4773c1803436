//! Embeds the repository's `rules/` directory pack into the binary as the default pack.
use std::fmt::Write;
use std::path::Path;

fn collect(root: &Path, rel: &str, out: &mut Vec<String>) {
    let dir = if rel.is_empty() {
        root.to_path_buf()
    } else {
        root.join(rel)
    };
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let r = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            collect(root, &r, out);
        } else if name.ends_with(".yaml") || name.ends_with(".yml") {
            out.push(r);
        }
    }
}

fn main() {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
    let root = Path::new(&manifest).join("rules");
    println!("cargo:rerun-if-changed=rules");
    let mut files = Vec::new();
    collect(&root, "", &mut files);
    files.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    let mut code = String::from("/// The embedded pack: (path relative to `rules/`, text).\npub static EMBEDDED_PACK: &[(&str, &str)] = &[\n");
    for f in &files {
        let full = root.join(f);
        let _ = writeln!(
            code,
            "    ({f:?}, include_str!({:?})),",
            full.display().to_string()
        );
    }
    code.push_str("];\n");
    let out = std::env::var("OUT_DIR").unwrap_or_default();
    let _ = std::fs::write(Path::new(&out).join("embedded_pack.rs"), code);
}
