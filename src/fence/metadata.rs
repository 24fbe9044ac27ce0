// SPDX-License-Identifier: GPL-2.0-or-later
//! Fence-agent meta-data, the format of fence-agents' `metadata.rng`, which
//! differs from OCF's: `shortdesc` is an attribute, every parameter carries
//! `<getopt mixed=...>`, there is a `<vendor-url>`, actions have no timeouts.
//!
//! Renamed options appear twice, as fencing.py prints them: the old name
//! with `deprecated="1"` and the new one with `obsoletes="old"`, so that
//! configurations written for either keep validating in crmsh and pcs.

use super::options::{FenceOpt, OptKind};
use crate::ocf::metadata::escape;
use std::fmt::Write;

/// Everything the meta-data says about one fence agent.
#[derive(Debug)]
pub struct FenceMeta {
    pub name: &'static str,
    pub shortdesc: &'static str,
    pub longdesc: &'static str,
    pub vendor_url: &'static str,
    /// Other names the same agent answers to.
    pub symlinks: &'static [(&'static str, &'static str)],
    pub options: &'static [&'static [FenceOpt]],
    pub actions: &'static [&'static str],
}

fn content(o: &FenceOpt) -> String {
    let mut s = String::from("\t\t<content type=\"");
    s.push_str(match o.kind {
        OptKind::Flag => "boolean",
        OptKind::String => "string",
        OptKind::Integer => "integer",
        OptKind::Second => "second",
        OptKind::Select(_) => "select",
    });
    s.push('"');
    if let Some(d) = o.default {
        let _ = write!(s, " default=\"{}\"", escape(d));
    }
    match o.kind {
        OptKind::Select(list) => {
            s.push_str(">\n");
            for v in list {
                let _ = writeln!(s, "\t\t\t<option value=\"{}\" />", escape(v));
            }
            s.push_str("\t\t</content>\n");
        }
        _ => s.push_str(" />\n"),
    }
    s
}

fn parameter(out: &mut String, o: &FenceOpt, name: &str, extra: &str) {
    let _ = writeln!(
        out,
        "\t<parameter name=\"{}\" unique=\"0\" required=\"{}\"{extra}>",
        escape(name),
        u8::from(o.required)
    );
    let _ = writeln!(out, "\t\t<getopt mixed=\"{}\" />", escape(&o.getopt()));
    out.push_str(&content(o));
    let _ = writeln!(
        out,
        "\t\t<shortdesc lang=\"en\">{}</shortdesc>",
        escape(o.shortdesc)
    );
    out.push_str("\t</parameter>\n");
}

/// The meta-data XML, parameters sorted by name as fencing.py sorts them.
pub fn render(meta: &FenceMeta) -> String {
    let mut out = String::from("<?xml version=\"1.0\" ?>\n");
    let _ = writeln!(
        out,
        "<resource-agent name=\"{}\" shortdesc=\"{}\" >",
        escape(meta.name),
        escape(meta.shortdesc)
    );
    for (name, desc) in meta.symlinks {
        let _ = writeln!(
            out,
            "<symlink name=\"{}\" shortdesc=\"{}\"/>",
            escape(name),
            escape(desc)
        );
    }
    let _ = writeln!(out, "<longdesc>{}</longdesc>", escape(meta.longdesc));
    let _ = writeln!(out, "<vendor-url>{}</vendor-url>", escape(meta.vendor_url));
    out.push_str("<parameters>\n");
    let mut entries: Vec<(&str, &FenceOpt, String)> = Vec::new();
    for o in meta.options.iter().flat_map(|t| t.iter()) {
        match o.old {
            Some(old) => {
                entries.push((o.name, o, format!(" obsoletes=\"{}\"", escape(old))));
                entries.push((old, o, " deprecated=\"1\"".to_string()));
            }
            None => entries.push((o.name, o, String::new())),
        }
    }
    entries.sort_by(|a, b| a.0.cmp(b.0));
    for (name, o, extra) in entries {
        parameter(&mut out, o, name, &extra);
    }
    out.push_str("</parameters>\n<actions>\n");
    for a in meta.actions {
        // `on` is not automatic: a power strip does not unfence a node
        // that joins; fencing.py marks it so for power agents.
        if *a == "on" {
            out.push_str("\t<action name=\"on\" automatic=\"0\"/>\n");
        } else {
            let _ = writeln!(out, "\t<action name=\"{}\" />", escape(a));
        }
    }
    out.push_str("</actions>\n</resource-agent>\n");
    out
}

/// Table invariants, for the tests of every fence agent.
#[cfg(test)]
pub fn check(meta: &FenceMeta) {
    let all: Vec<&FenceOpt> = meta.options.iter().flat_map(|t| t.iter()).collect();
    let mut names: Vec<&str> = all.iter().map(|o| o.name).collect();
    names.extend(all.iter().filter_map(|o| o.old));
    let n = names.len();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), n, "option names and old names are unique");
    let mut longs: Vec<&str> = all.iter().map(|o| o.long).collect();
    longs.sort_unstable();
    longs.dedup();
    assert_eq!(longs.len(), all.len(), "long options are unique");
    let mut shorts: Vec<char> = all.iter().filter_map(|o| o.short).collect();
    let n = shorts.len();
    shorts.sort_unstable();
    shorts.dedup();
    assert_eq!(shorts.len(), n, "short options are unique");
    for o in &all {
        // fencing.py marks action required and gives it a default; nothing else.
        assert!(
            o.name == "action" || !(o.required && o.default.is_some()),
            "{}",
            o.name
        );
        assert!(!o.shortdesc.is_empty(), "{}", o.name);
        if let (OptKind::Select(list), Some(d)) = (o.kind, o.default) {
            assert!(list.contains(&d), "{}: default not in list", o.name);
        }
    }
    for a in ["on", "off", "status", "monitor", "metadata", "validate-all"] {
        assert!(meta.actions.contains(&a), "{} lacks {a}", meta.name);
    }
}
