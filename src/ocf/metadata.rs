// SPDX-License-Identifier: GPL-2.0-or-later
//! Meta-data XML, written so that it validates against both ocf-tester's
//! ra-api-1.dtd and the OCF 1.1 RELAX NG schema: DOCTYPE present, one
//! top-level longdesc and shortdesc, content types string/integer/boolean
//! only, DTD-enumerated action names only, `<version>1.0</version>` so that
//! Pacemaker applies the legacy reload rule (unique="1" forces a restart).

use super::params::{Kind, ParamSpec};
use std::fmt::Write;

#[derive(Debug, Clone, Copy)]
pub struct ActionSpec {
    pub name: &'static str,
    pub timeout_s: u32,
    pub interval_s: Option<u32>,
    pub depth: Option<u32>,
    pub role: Option<&'static str>,
}

impl ActionSpec {
    pub const fn new(name: &'static str, timeout_s: u32) -> Self {
        ActionSpec {
            name,
            timeout_s,
            interval_s: None,
            depth: None,
            role: None,
        }
    }
    pub const fn interval(mut self, s: u32) -> Self {
        self.interval_s = Some(s);
        self
    }
    pub const fn depth(mut self, d: u32) -> Self {
        self.depth = Some(d);
        self
    }
    pub const fn role(mut self, r: &'static str) -> Self {
        self.role = Some(r);
        self
    }
}

#[derive(Debug)]
pub struct AgentMeta {
    pub name: &'static str,
    pub shortdesc: &'static str,
    pub longdesc: &'static str,
    pub params: &'static [ParamSpec],
    pub actions: &'static [ActionSpec],
}

impl AgentMeta {
    pub fn supports(&self, action: &str) -> bool {
        self.actions.iter().any(|a| a.name == action)
    }
}

/// Action names ra-api-1.dtd enumerates; anything else fails ocf-tester.
pub const DTD_ACTIONS: &[&str] = &[
    "start",
    "stop",
    "recover",
    "monitor",
    "restart",
    "migrate_to",
    "migrate_from",
    "promote",
    "demote",
    "notify",
    "status",
    "reload",
    "meta-data",
    "usage",
    "methods",
    "validate-all",
];

pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            _ => out.push(c),
        }
    }
    out
}

fn bit(b: bool) -> u8 {
    u8::from(b)
}

pub fn render(meta: &AgentMeta) -> String {
    let mut x = String::new();
    // `write!` into a String cannot fail; the results are ignored on purpose.
    let _ = writeln!(x, "<?xml version=\"1.0\"?>");
    let _ = writeln!(x, "<!DOCTYPE resource-agent SYSTEM \"ra-api-1.dtd\">");
    let _ = writeln!(
        x,
        "<resource-agent name=\"{}\" version=\"{}\">",
        escape(meta.name),
        env!("CARGO_PKG_VERSION")
    );
    let _ = writeln!(x, "<version>1.0</version>");
    let _ = writeln!(
        x,
        "<longdesc lang=\"en\">\n{}\n</longdesc>",
        escape(meta.longdesc.trim())
    );
    let _ = writeln!(
        x,
        "<shortdesc lang=\"en\">{}</shortdesc>",
        escape(meta.shortdesc)
    );
    let _ = writeln!(x, "<parameters>");
    for p in meta.params {
        let _ = writeln!(
            x,
            "<parameter name=\"{}\" unique=\"{}\" required=\"{}\">",
            escape(p.name),
            bit(p.unique),
            bit(p.required)
        );
        let mut long = p.longdesc.trim().to_string();
        if let Kind::Integer { min, max } = p.kind {
            let _ = write!(long, " Range: {min} to {max}.");
        }
        let _ = writeln!(x, "<longdesc lang=\"en\">\n{}\n</longdesc>", escape(&long));
        let _ = writeln!(
            x,
            "<shortdesc lang=\"en\">{}</shortdesc>",
            escape(p.shortdesc)
        );
        let ty = match p.kind {
            Kind::String => "string",
            Kind::Integer { .. } => "integer",
            Kind::Boolean => "boolean",
        };
        match p.default {
            Some(d) => {
                let _ = writeln!(x, "<content type=\"{ty}\" default=\"{}\"/>", escape(d));
            }
            None => {
                let _ = writeln!(x, "<content type=\"{ty}\"/>");
            }
        }
        let _ = writeln!(x, "</parameter>");
    }
    let _ = writeln!(x, "</parameters>");
    let _ = writeln!(x, "<actions>");
    for a in meta.actions {
        let _ = write!(
            x,
            "<action name=\"{}\" timeout=\"{}s\"",
            escape(a.name),
            a.timeout_s
        );
        if let Some(i) = a.interval_s {
            let _ = write!(x, " interval=\"{i}s\"");
        }
        if let Some(d) = a.depth {
            let _ = write!(x, " depth=\"{d}\"");
        }
        if let Some(r) = a.role {
            let _ = write!(x, " role=\"{}\"", escape(r));
        }
        let _ = writeln!(x, "/>");
    }
    let _ = writeln!(x, "</actions>");
    let _ = writeln!(x, "</resource-agent>");
    x
}

/// Invariants every agent's meta-data must satisfy; called by each agent's tests.
#[cfg(test)]
pub fn check_meta(meta: &AgentMeta) {
    super::params::check_table(meta.params);
    assert!(
        !meta.params.is_empty(),
        "OCF 1.1 needs at least one parameter"
    );
    for required in ["start", "stop", "monitor", "meta-data", "validate-all"] {
        assert!(meta.supports(required), "{} lacks {required}", meta.name);
    }
    for a in meta.actions {
        assert!(
            DTD_ACTIONS.contains(&a.name),
            "{}: {} is not in ra-api-1.dtd",
            meta.name,
            a.name
        );
        assert!(
            a.timeout_s >= 5,
            "{}: {} timeout too short",
            meta.name,
            a.name
        );
        assert!(
            super::Action::parse(a.name).is_some(),
            "{} is not an Action",
            a.name
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape("a<b & \"c\" 'd'>"),
            "a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;"
        );
    }

    #[test]
    fn renders_doctype_version_params_and_actions() {
        static P: &[ParamSpec] = &[ParamSpec::new("n", Kind::Integer { min: 1, max: 9 }, "N")
            .default("3")
            .long("How many.")];
        static A: &[ActionSpec] = &[ActionSpec::new("monitor", 20).interval(10).depth(0)];
        let m = AgentMeta {
            name: "x",
            shortdesc: "X",
            longdesc: "Long <x>",
            params: P,
            actions: A,
        };
        let xml = render(&m);
        assert!(xml.contains("<!DOCTYPE resource-agent SYSTEM \"ra-api-1.dtd\">"));
        assert!(xml.contains("<version>1.0</version>"));
        assert!(xml.contains("Long &lt;x&gt;"));
        assert!(xml.contains("How many. Range: 1 to 9."));
        assert!(xml.contains("<content type=\"integer\" default=\"3\"/>"));
        assert!(
            xml.contains("<action name=\"monitor\" timeout=\"20s\" interval=\"10s\" depth=\"0\"/>")
        );
    }
}
