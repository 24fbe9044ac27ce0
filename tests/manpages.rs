// SPDX-License-Identifier: GPL-2.0-or-later
//! `storha man NAME` for every page `make man` writes: groff renders each
//! without a warning, and each names every parameter the meta-data has.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::process::{Command, Stdio};
use storha::manpage::page_name;
use storha::registry::AGENTS;

const BIN: &str = env!("CARGO_BIN_EXE_storha");

fn man(name: &str) -> String {
    let o = Command::new(BIN)
        .args(["man", name])
        .output()
        .expect("runs");
    assert_eq!(o.status.code(), Some(0), "storha man {name}");
    String::from_utf8(o.stdout).expect("utf-8")
}

fn groff_warnings(page: &str) -> String {
    let mut c = Command::new("groff")
        .args(["-man", "-Tutf8", "-ww", "-z"])
        .env("LC_ALL", "C.UTF-8")
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("groff (Debian groff-base) is installed");
    c.stdin.take().unwrap().write_all(page.as_bytes()).unwrap();
    let o = c.wait_with_output().unwrap();
    assert!(o.status.success());
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn every_page_renders_cleanly_and_lists_every_parameter() {
    let mut pages = vec![("storha".to_string(), man("storha"))];
    for e in AGENTS {
        let Some((page, section)) = page_name(e) else {
            continue;
        };
        let text = man(&page);
        assert_eq!(
            text,
            man(e.name),
            "the page answers to the agent's name too"
        );
        assert!(
            text.starts_with(&format!(
                ".TH \"{}\" \"{section}\"",
                page.to_uppercase().replace('-', "\\-")
            )),
            "{page}: {}",
            text.lines().next().unwrap_or("")
        );
        let xml = e.metadata_xml();
        for chunk in xml.split("<parameter name=\"").skip(1) {
            let name = chunk.split('"').next().unwrap();
            assert!(
                text.contains(&name.replace('-', "\\-")),
                "{page}: parameter {name} of the meta-data is not in the page"
            );
        }
        pages.push((page, text));
    }
    for (page, text) in pages {
        let w = groff_warnings(&text);
        assert!(w.is_empty(), "{page}: groff warns:\n{w}");
    }
}

#[test]
fn unknown_page_is_a_usage_error() {
    let o = Command::new(BIN).args(["man", "no-such"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
}
