// SPDX-License-Identifier: GPL-2.0-or-later
//! `agents/`: the agent tree of a checkout. `agents/storha/<name>` for every
//! OCF agent (the provider directory, as under `/usr/lib/ocf/resource.d/`)
//! and `agents/<name>` for the fence agents, each a link to the binary that
//! `cargo build --release` (and `cargo test --release`) leaves in
//! `target/release/storha`. This test fails when the tree and the registry
//! disagree, or a link leads anywhere else.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use storha::registry::{Kind, AGENTS};

fn top() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn link_of(name: &str, kind: Kind) -> PathBuf {
    match kind {
        Kind::Ocf => top().join("agents/storha").join(name),
        Kind::Fence => top().join("agents").join(name),
    }
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .expect("agents/ is readable")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn every_agent_has_its_link_and_nothing_else_is_there() {
    let mut ocf: Vec<String> = AGENTS
        .iter()
        .filter(|e| e.kind == Kind::Ocf)
        .map(|e| e.name.to_string())
        .collect();
    ocf.sort();
    assert_eq!(names_in(&top().join("agents/storha")), ocf);
    let mut top_level: Vec<String> = AGENTS
        .iter()
        .filter(|e| e.kind == Kind::Fence)
        .map(|e| e.name.to_string())
        .chain(["storha".to_string()])
        .collect();
    top_level.sort();
    assert_eq!(names_in(&top().join("agents")), top_level);
}

#[test]
fn links_lead_to_the_built_binary_and_answer_as_their_agent() {
    let bin = fs::canonicalize(env!("CARGO_BIN_EXE_storha")).expect("built binary");
    for e in AGENTS {
        let link = link_of(e.name, e.kind);
        let meta =
            fs::symlink_metadata(&link).unwrap_or_else(|err| panic!("{}: {err}", link.display()));
        assert!(
            meta.file_type().is_symlink(),
            "{} is not a link",
            link.display()
        );
        let target = fs::read_link(&link).expect("link target");
        assert!(
            target.is_relative(),
            "{} must be a relative link",
            link.display()
        );
        assert_eq!(
            fs::canonicalize(&link).expect("link resolves"),
            bin,
            "{} leads elsewhere",
            link.display()
        );
        let out = Command::new(&link)
            .arg(if e.kind == Kind::Ocf {
                "meta-data"
            } else {
                "--action=metadata"
            })
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(0), "{}", link.display());
        assert_eq!(String::from_utf8_lossy(&out.stdout), e.metadata_xml());
    }
}
