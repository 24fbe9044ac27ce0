// SPDX-License-Identifier: GPL-2.0-or-later
//! Manual pages, written from the same tables as the meta-data, named and
//! sectioned as resource-agents and fence-agents name theirs:
//! `ocf_storha_<agent>(7)` for each OCF agent, `fence_ipstrip(8)`, and
//! `storha(8)` for the admin command. `storha man NAME` prints one;
//! `make man` writes them all.

use crate::agents;
use crate::fence::metadata::FenceMeta;
use crate::ocf::metadata::AgentMeta;
use crate::ocf::params::Kind;
use crate::registry::{self, AGENTS};
use std::fmt::Write;

/// Text made safe for roff: backslashes escaped, a line never starting
/// with a control character, hyphens in words as hyphens.
fn roff(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, line) in text.lines().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let line = line.trim_end();
        if line.starts_with('.') || line.starts_with('\'') {
            out.push_str("\\&");
        }
        for c in line.chars() {
            match c {
                '\\' => out.push_str("\\e"),
                '-' => out.push_str("\\-"),
                c if c.is_control() => out.push(' '),
                c => out.push(c),
            }
        }
    }
    out
}

/// A paragraph of prose: blank lines in the source become paragraph breaks.
fn prose(out: &mut String, text: &str) {
    for para in text.split("\n\n") {
        let para = para.trim();
        if para.is_empty() {
            continue;
        }
        out.push_str(".PP\n");
        out.push_str(&roff(para));
        out.push('\n');
    }
}

fn header(out: &mut String, name: &str, section: u8, manual: &str) {
    let _ = writeln!(
        out,
        ".TH \"{}\" \"{section}\" \"\" \"storha {}\" \"{manual}\"",
        roff(&name.to_uppercase()),
        env!("CARGO_PKG_VERSION")
    );
    out.push_str(".nh\n.ad l\n");
}

fn kind_name(k: &Kind) -> &'static str {
    match k {
        Kind::Boolean => "boolean",
        Kind::Integer { .. } => "integer",
        Kind::String => "string",
    }
}

/// The page of one OCF resource agent.
pub fn ocf_page(meta: &AgentMeta) -> String {
    let page = format!("ocf_storha_{}", meta.name);
    let mut out = String::new();
    header(&mut out, &page, 7, "OCF resource agents");
    let _ = writeln!(
        out,
        ".SH NAME\n{} \\- {}",
        roff(&page),
        roff(meta.shortdesc)
    );
    let _ = writeln!(
        out,
        ".SH SYNOPSIS\n.B OCF_RESKEY_\\fIparameter\\fB=\\fIvalue\\fR ... \\fB{0}\\fR \\fIaction\\fR\n.br\n.B storha {0}\\fR \\fIaction\\fR [\\fB\\-p\\fR \\fIparameter\\fB=\\fIvalue\\fR] ...",
        roff(meta.name)
    );
    out.push_str(".SH DESCRIPTION\n");
    prose(&mut out, meta.longdesc);
    out.push_str(".SH PARAMETERS\n");
    for p in meta.params {
        let mut tags = vec![kind_name(&p.kind).to_string()];
        if p.required {
            tags.push("required".into());
        }
        if p.unique {
            tags.push("unique".into());
        }
        if let Some(d) = p.default {
            tags.push(format!("default \"{d}\""));
        }
        let _ = writeln!(
            out,
            ".TP\n.B {}\n{} ({})",
            roff(p.name),
            roff(p.shortdesc),
            roff(&tags.join(", "))
        );
        if !p.longdesc.is_empty() && p.longdesc != p.shortdesc {
            out.push_str(".br\n");
            out.push_str(&roff(p.longdesc));
            out.push('\n');
        }
    }
    out.push_str(".SH ACTIONS\n");
    for a in meta.actions {
        let mut what = format!("timeout {} s", a.timeout_s);
        if let Some(i) = a.interval_s {
            let _ = write!(what, ", interval {i} s");
        }
        if let Some(r) = a.role {
            let _ = write!(what, ", role {r}");
        }
        if let Some(d) = a.depth {
            let _ = write!(what, ", depth {d}");
        }
        let _ = writeln!(out, ".TP\n.B {}\n{}", roff(a.name), roff(&what));
    }
    let _ = writeln!(
        out,
        ".SH EXAMPLE\n.nf\ncrm configure primitive p_{0} ocf:storha:{1} params ...\npcs resource create p_{0} ocf:storha:{1} ...\n.fi\n.SH SEE ALSO\n.BR storha (8),\n.BR crm (8),\n.BR pcs (8),\n.BR ocf\\-tester (8)",
        roff(&meta.name.replace('-', "_")),
        roff(meta.name)
    );
    out
}

/// The page of a fence agent.
pub fn fence_page(meta: &FenceMeta) -> String {
    let mut out = String::new();
    header(&mut out, meta.name, 8, "Fence agents");
    let _ = writeln!(
        out,
        ".SH NAME\n{} \\- {}",
        roff(meta.name),
        roff(meta.shortdesc)
    );
    let _ = writeln!(
        out,
        ".SH SYNOPSIS\n.B {0}\n[\\fIOPTIONS\\fR]\n.br\n.B echo \\fIname\\fB=\\fIvalue\\fB ... |\\fR \\fB{0}\\fR",
        roff(meta.name)
    );
    out.push_str(".SH DESCRIPTION\n");
    prose(&mut out, meta.longdesc);
    prose(
        &mut out,
        "Options are read from the command line or, as pacemaker-fenced passes them, as name=value lines on standard input.",
    );
    out.push_str(".SH OPTIONS\n");
    for o in meta.options.iter().flat_map(|g| g.iter()) {
        let mut flags = Vec::new();
        if let Some(c) = o.short {
            flags.push(format!("\\fB\\-{c}\\fR"));
        }
        flags.push(format!("\\fB\\-\\-{}\\fR", roff(o.long)));
        let mut tags = Vec::new();
        if o.required {
            tags.push("required".to_string());
        }
        if let Some(d) = o.default {
            tags.push(format!("default \"{d}\""));
        }
        if let Some(old) = o.old {
            tags.push(format!("replaces {old}"));
        }
        let _ = writeln!(
            out,
            ".TP\n{}\n{}{}\n.br\nOn standard input: \\fB{}\\fR",
            flags.join(", "),
            roff(o.shortdesc),
            if tags.is_empty() {
                String::new()
            } else {
                format!(" ({})", roff(&tags.join(", ")))
            },
            roff(o.name)
        );
    }
    out.push_str(".SH ACTIONS\n");
    for a in meta.actions {
        let _ = writeln!(out, ".TP\n.B {}", roff(a));
    }
    out.push_str(
        ".SH SEE ALSO\n.BR storha (8),\n.BR stonith_admin (8),\n.BR pacemaker\\-fenced (7)\n",
    );
    out
}

/// The page of the admin command, from its own help text.
pub fn storha_page(help: &str) -> String {
    let mut out = String::new();
    header(&mut out, "storha", 8, "System Administration");
    out.push_str(".SH NAME\nstorha \\- Pacemaker resource agents for a highly available NFS storage cluster\n");
    out.push_str(".SH SYNOPSIS\n.nf\n");
    let mut lines = help.lines().skip_while(|l| !l.starts_with("usage:"));
    lines.next();
    for l in lines.by_ref() {
        if l.trim().is_empty() {
            break;
        }
        out.push_str(&roff(l.trim()));
        out.push('\n');
    }
    out.push_str(".fi\n.SH OPTIONS\n.nf\n");
    for l in lines {
        out.push_str(&roff(l));
        out.push('\n');
    }
    out.push_str(".fi\n.SH AGENTS\n");
    for e in AGENTS {
        let page = page_name(e);
        let _ = writeln!(
            out,
            ".TP\n.B {}\n{}{}",
            roff(e.name),
            roff((e.meta)().shortdesc),
            match page {
                Some((p, s)) if p != e.name || s != 8 =>
                    format!(" \\(em see \\fB{}\\fR({s})", roff(&p)),
                Some(_) => String::new(),
                None => String::new(),
            }
        );
    }
    out.push_str(".SH EXIT STATUS\nThe OCF exit code of the action (0 success, 1 generic error, 2 invalid argument, 3 unimplemented, 5 not installed, 6 not configured, 7 not running, 8 running promoted, 9 failed promoted).\n");
    out
}

/// The page's (name, section) for an agent; None for an alias, which has
/// no page of its own.
pub fn page_name(e: &registry::Entry) -> Option<(String, u8)> {
    match e.kind {
        registry::Kind::Ocf => Some((format!("ocf_storha_{}", e.name), 7)),
        registry::Kind::Fence if e.name == agents::ipstrip::NAME => Some((e.name.to_string(), 8)),
        registry::Kind::Fence => None,
    }
}

/// The page an agent's name or a page name asks for, if any.
pub fn page(name: &str, help: &str) -> Option<String> {
    if name == "storha" {
        return Some(storha_page(help));
    }
    let e = AGENTS
        .iter()
        .find(|e| e.name == name || page_name(e).is_some_and(|(p, _)| p == name))?;
    match e.kind {
        registry::Kind::Ocf => Some(ocf_page((e.meta)())),
        registry::Kind::Fence => Some(fence_page(&agents::ipstrip::META)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roff_escapes_control_lines_and_backslashes() {
        assert_eq!(roff(".start"), "\\&.start");
        assert_eq!(roff("a\\b"), "a\\eb");
        assert_eq!(roff("cidr-netmask"), "cidr\\-netmask");
        assert_eq!(roff("x\n'y"), "x\n\\&'y");
    }

    #[test]
    fn every_agent_has_a_page_with_every_parameter() {
        for e in AGENTS {
            let text = page(e.name, "usage:\n  storha list\n").expect("a page");
            match e.kind {
                registry::Kind::Ocf => {
                    for p in (e.meta)().params {
                        assert!(
                            text.contains(&format!(".B {}\n", roff(p.name))),
                            "{}: parameter {} missing",
                            e.name,
                            p.name
                        );
                    }
                }
                registry::Kind::Fence => {
                    for o in agents::ipstrip::META.options.iter().flat_map(|g| g.iter()) {
                        assert!(
                            text.contains(&format!("\\fB{}\\fR\n", roff(o.name))),
                            "{}: option {} missing",
                            e.name,
                            o.name
                        );
                    }
                }
            }
        }
    }
}
