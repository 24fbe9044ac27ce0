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

/// `-p, --param NAME=VALUE` in roff, from a clap argument.
fn flags(a: &clap::Arg) -> String {
    let mut f = Vec::new();
    if let Some(c) = a.get_short() {
        f.push(format!("\\fB\\-{c}\\fR"));
    }
    if let Some(l) = a.get_long() {
        f.push(format!("\\fB\\-\\-{}\\fR", roff(l)));
    }
    let mut s = f.join(", ");
    if a.get_action().takes_values() {
        for v in a.get_value_names().unwrap_or_default() {
            let _ = write!(s, " \\fI{}\\fR", roff(v));
        }
    }
    s
}

fn help_of(a: &clap::Arg) -> String {
    a.get_help().map(|h| h.to_string()).unwrap_or_default()
}

/// The page of the admin command, from the same clap definition that
/// parses its command line (`storha --help`).
pub fn storha_page() -> String {
    let mut cmd = crate::admin::command();
    cmd.build();
    let is_agent = |c: &clap::Command| registry::find(c.get_name()).is_some();
    let mut out = String::new();
    header(&mut out, "storha", 8, "System Administration");
    let _ = writeln!(
        out,
        ".SH NAME\nstorha \\- {}",
        roff(&cmd.get_about().map(|a| a.to_string()).unwrap_or_default())
    );
    out.push_str(".SH SYNOPSIS\n");
    for sub in cmd.get_subcommands().filter(|c| !is_agent(c)) {
        let _ = write!(out, ".B storha {}", roff(sub.get_name()));
        for a in sub.get_positionals() {
            let _ = write!(out, "\\fR \\fI{}\\fR", roff(a.get_id().as_str()));
        }
        out.push_str("\n.br\n");
    }
    out.push_str(".B storha\n\\fIAGENT\\fR \\fIACTION\\fR [\\fIOPTIONS\\fR]\n.br\n");
    out.push_str(".B storha \\-\\-help\\fR | \\fB\\-\\-version\\fR\n");
    out.push_str(".SH DESCRIPTION\n");
    prose(
        &mut out,
        &cmd.get_long_about()
            .map(|a| a.to_string())
            .unwrap_or_default(),
    );
    out.push_str(".SH COMMANDS\n");
    for sub in cmd.get_subcommands().filter(|c| !is_agent(c)) {
        let _ = write!(out, ".TP\n.B {}", roff(sub.get_name()));
        for a in sub.get_positionals() {
            let _ = write!(out, " \\fI{}\\fR", roff(a.get_id().as_str()));
        }
        let _ = writeln!(
            out,
            "\n{}",
            roff(
                &sub.get_long_about()
                    .or(sub.get_about())
                    .map(|a| a.to_string())
                    .unwrap_or_default()
            )
        );
        for a in sub
            .get_arguments()
            .filter(|a| !a.is_positional() && a.get_id() != "help")
        {
            let _ = writeln!(out, ".br\n{}: {}", flags(a), roff(&help_of(a)));
        }
        for a in sub.get_positionals() {
            let values: Vec<String> = a
                .get_possible_values()
                .iter()
                .map(|v| v.get_name().to_string())
                .collect();
            if !values.is_empty() && sub.get_name() == "completions" {
                let _ = writeln!(
                    out,
                    "({}: {})",
                    roff(a.get_id().as_str()),
                    roff(&values.join(", "))
                );
            }
        }
    }
    out.push_str(".SH OPTIONS\n");
    for a in cmd.get_arguments().filter(|a| !a.is_positional()) {
        let _ = writeln!(out, ".TP\n{}\n{}", flags(a), roff(&help_of(a)));
    }
    out.push_str(".SS storha AGENT ACTION\n");
    if let Some(agent) = cmd.get_subcommands().find(|c| is_agent(c)) {
        for a in agent.get_arguments().filter(|a| !a.is_positional()) {
            let _ = writeln!(out, ".TP\n{}\n{}", flags(a), roff(&help_of(a)));
        }
    }
    out.push_str(".SH AGENTS\n");
    for sub in cmd.get_subcommands().filter(|c| is_agent(c)) {
        let Some(e) = registry::find(sub.get_name()) else {
            continue;
        };
        let _ = write!(
            out,
            ".TP\n.B {}\n{}",
            roff(e.name),
            roff((e.meta)().shortdesc)
        );
        if let Some((p, s)) = page_name(e) {
            if p != e.name || s != 8 {
                let _ = write!(out, " \\(em see \\fB{}\\fR({s})", roff(&p));
            }
        }
        let actions = e.actions();
        if !actions.is_empty() {
            let _ = write!(out, "\n.br\nActions: {}", roff(&actions.join(", ")));
        }
        out.push('\n');
    }
    out.push_str(".SH EXIT STATUS\nThe OCF exit code of the action (0 success, 1 generic error, 2 invalid argument, 3 unimplemented, 5 not installed, 6 not configured, 7 not running, 8 running promoted, 9 failed promoted); 2 for a command line that does not parse.\n");
    out.push_str(".SH FILES\n.TP\n.I /usr/lib/ocf/resource.d/storha/\nThe OCF agents, links to the storha binary.\n.TP\n.I /usr/share/doc/storha/crm\\-examples/\nExample crm configurations.\n");
    out.push_str(".SH SEE ALSO\n");
    let mut see: Vec<String> = AGENTS
        .iter()
        .filter_map(page_name)
        .map(|(p, s)| format!(".BR {} ({s}),", roff(&p)))
        .collect();
    see.push(".BR crm (8),\n.BR pcs (8),\n.BR crm_mon (8)".to_string());
    out.push_str(&see.join("\n"));
    out.push('\n');
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
pub fn page(name: &str) -> Option<String> {
    if name == "storha" {
        return Some(storha_page());
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
            let text = page(e.name).expect("a page");
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

    #[test]
    fn storha_page_follows_the_command_line_definition() {
        let text = page("storha").expect("a page");
        let mut cmd = crate::admin::command();
        cmd.build();
        for sub in cmd.get_subcommands() {
            assert!(
                text.contains(&format!(".B {}", roff(sub.get_name()))),
                "subcommand {} missing",
                sub.get_name()
            );
            for a in sub.get_arguments() {
                if let Some(l) = a.get_long() {
                    assert!(
                        text.contains(&format!("\\-\\-{}", roff(l))),
                        "{} --{l} missing",
                        sub.get_name()
                    );
                }
            }
        }
    }
}
