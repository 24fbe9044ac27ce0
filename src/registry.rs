// SPDX-License-Identifier: GPL-2.0-or-later
//! Every name the binary answers to. Adding an agent is one line here.

use crate::agents;
use crate::ocf::{self, AgentMeta, OcfEnv, Outcome, RunOpts};

pub struct Entry {
    pub name: &'static str,
    pub meta: fn() -> &'static AgentMeta,
    pub run: fn(&str, &OcfEnv, RunOpts) -> Outcome,
}

pub const AGENTS: &[Entry] = &[Entry {
    name: "floating-ip",
    meta: <agents::floating_ip::FloatingIp as ocf::Agent>::meta,
    run: ocf::run::<agents::floating_ip::FloatingIp>,
}];

/// Exact match on the file name: agent names contain `-` and no extension,
/// so neither a suffix match nor a file stem would be right.
pub fn find(name: &str) -> Option<&'static Entry> {
    AGENTS.iter().find(|e| e.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_match_meta_data() {
        for (i, e) in AGENTS.iter().enumerate() {
            assert_eq!((e.meta)().name, e.name);
            assert!(AGENTS[i + 1..].iter().all(|o| o.name != e.name));
            crate::ocf::metadata::check_meta((e.meta)());
        }
        assert!(find("floating-ip").is_some());
        assert!(find("floating").is_none());
        assert!(find("storha").is_none());
    }
}
