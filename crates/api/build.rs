//! Fingerprints every text of this repository that could be taken for a secret
//! (docs/operations.md, "Safe set-ups"): a secret that anyone who reads the repository knows is
//! refused while a listener is off loopback. Reads the files that can hold a secret (code,
//! configuration, scripts and tests; never prose, whose examples hold placeholders only, as
//! `tests/api/security.rs` checks, nor `.env`, build output or dependencies), splits them where
//! a secret cannot continue (whitespace, quotes, brackets, `,;|\`), keeps each piece and what
//! follows any `=` or `:` in it, and writes the fingerprints of those of at least 16 characters
//! to `$OUT_DIR/published_secrets.rs`, with the values of `.env.example` (refused everywhere)
//! apart. Only those files are rerun triggers, so an edit to the documentation rebuilds nothing.

#[path = "src/config/fingerprint.rs"]
mod fingerprint;

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Shorter texts are refused as secrets anyway.
const MIN_LEN: usize = 16;
/// Larger files are data, not configuration.
const MAX_FILE: u64 = 4 << 20;
/// Never read: the operator's own secrets, build output, dependencies, local data, and the
/// documentation (prose, images and the OpenAPI documents generated from the code).
const SKIPPED: &[&str] = &[
    ".git",
    ".env",
    "target",
    "data",
    "node_modules",
    "out",
    "docs",
];
/// Prose and images: they hold no secret a deployment could be made from.
const SKIPPED_EXTENSIONS: &[&str] = &["md", "png"];

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let root = manifest.join("../..");
    let mut files = Vec::new();
    collect(&root, &mut files);
    let mut published = BTreeSet::new();
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
        if let Ok(text) = std::fs::read_to_string(file) {
            pieces(&text, |piece| {
                published.insert(fingerprint::fingerprint(piece));
            });
        }
    }
    let mut env_example = BTreeSet::new();
    if let Ok(text) = std::fs::read_to_string(root.join(".env.example")) {
        for line in text.lines().filter(|l| !l.trim_start().starts_with('#')) {
            if let Some((_, value)) = line.split_once('=') {
                pieces(value, |piece| {
                    env_example.insert(fingerprint::fingerprint(piece));
                });
            }
        }
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "/// Fingerprints of the repository's texts of {MIN_LEN} or more characters."
    );
    let published: Vec<u64> = published.into_iter().collect();
    let env_example: Vec<u64> = env_example.into_iter().collect();
    let _ = writeln!(out, "pub const PUBLISHED: &[u64] = &{published:?};");
    let _ = writeln!(
        out,
        "/// Fingerprints of the values shipped in `.env.example`."
    );
    let _ = writeln!(out, "pub const ENV_EXAMPLE: &[u64] = &{env_example:?};");
    let target =
        PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default()).join("published_secrets.rs");
    if let Err(e) = std::fs::write(&target, out) {
        panic!("writing {}: {e}", target.display());
    }
}

/// Every file under `dir`, but for the skipped names and large files.
fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if SKIPPED.iter().any(|s| name == *s) {
            continue;
        }
        let path = entry.path();
        let extension = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or_default();
        if SKIPPED_EXTENSIONS.contains(&extension) {
            continue;
        }
        match entry.file_type() {
            Ok(t) if t.is_dir() => collect(&path, files),
            Ok(t) if t.is_file() && entry.metadata().is_ok_and(|m| m.len() <= MAX_FILE) => {
                files.push(path);
            }
            _ => {}
        }
    }
}

/// The pieces of `text` that could be a secret as written: split where a secret cannot go on,
/// each piece whole and after each `=` or `:` in it, without trailing `.`.
fn pieces(text: &str, mut each: impl FnMut(&str)) {
    let mut keep = |piece: &str| {
        let piece = piece.trim_end_matches('.');
        if piece.chars().count() >= MIN_LEN {
            each(piece);
        }
    };
    for token in text.split(|c: char| c.is_whitespace() || "\"'`()[]{}<>,;|\\".contains(c)) {
        keep(token);
        for (i, c) in token.char_indices() {
            if c == '=' || c == ':' {
                keep(&token[i + 1..]);
            }
        }
    }
}
