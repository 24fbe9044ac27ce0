// SPDX-License-Identifier: GPL-2.0-or-later
//! The library's layers only point down: agents and the fence API use the
//! OCF framework, which uses the command runner, which uses the deadline.
//! A `use` of a higher layer from a lower one fails here, with the line.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::{Path, PathBuf};

fn rust_files(p: &Path, out: &mut Vec<PathBuf>) {
    if p.is_dir() {
        let mut entries: Vec<_> = fs::read_dir(p)
            .expect("readable source dir")
            .map(|e| e.expect("dir entry").path())
            .collect();
        entries.sort();
        for e in entries {
            rust_files(&e, out);
        }
    } else if p.extension().is_some_and(|e| e == "rs") {
        out.push(p.to_path_buf());
    }
}

/// Every line of the layer's files that names one of `forbidden` as a crate path.
fn upward_references(layer: &str, forbidden: &[&str]) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&root.join(layer), &mut files);
    assert!(!files.is_empty(), "no source files under src/{layer}");
    let mut hits = Vec::new();
    for f in files {
        let text = fs::read_to_string(&f).expect("readable source file");
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for m in forbidden {
                if code.contains(&format!("crate::{m}")) || code.contains(&format!("storha::{m}")) {
                    hits.push(format!("{}:{}: {}", f.display(), n + 1, line.trim()));
                }
            }
        }
    }
    hits
}

#[test]
fn the_deadline_depends_on_nothing_of_storha() {
    let hits = upward_references(
        "deadline.rs",
        &["ocf", "cmd", "agents", "fence", "net", "admin"],
    );
    assert!(
        hits.is_empty(),
        "deadline.rs points up:\n{}",
        hits.join("\n")
    );
}

#[test]
fn the_command_runner_knows_nothing_of_ocf() {
    let hits = upward_references("cmd", &["ocf", "agents", "fence", "admin", "registry"]);
    assert!(hits.is_empty(), "src/cmd points up:\n{}", hits.join("\n"));
}

#[test]
fn the_ocf_framework_knows_no_agent() {
    let hits = upward_references("ocf", &["agents", "fence", "admin", "registry"]);
    assert!(hits.is_empty(), "src/ocf points up:\n{}", hits.join("\n"));
}

#[test]
fn the_check_sees_an_upward_import() {
    // The scan itself must find what it looks for: deadline.rs is the
    // bottom layer, and the framework does name it.
    let hits = upward_references("ocf", &["deadline"]);
    assert!(
        !hits.is_empty(),
        "the scan found no crate::deadline in src/ocf"
    );
}
