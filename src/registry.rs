// SPDX-License-Identifier: GPL-2.0-or-later
//! Every name the binary answers to. Adding an agent is one line here.

use crate::agents;
use crate::ocf::{self, AgentMeta, OcfEnv, Outcome, RunOpts};

/// Which API an agent speaks: OCF (resource agents, action as argument,
/// parameters in the environment) or the fence agent API (options on stdin).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Ocf,
    Fence,
}

pub struct Entry {
    pub name: &'static str,
    pub kind: Kind,
    pub meta: fn() -> &'static AgentMeta,
    pub run: fn(&str, &OcfEnv, RunOpts) -> Outcome,
}

pub const AGENTS: &[Entry] = &[
    Entry {
        name: "floating-ip",
        kind: Kind::Ocf,
        meta: <agents::floating_ip::FloatingIp as ocf::Agent>::meta,
        run: ocf::run::<agents::floating_ip::FloatingIp>,
    },
    Entry {
        name: "drbd-tuned",
        kind: Kind::Ocf,
        meta: <agents::drbd_tuned::DrbdTuned as ocf::Agent>::meta,
        run: ocf::run::<agents::drbd_tuned::DrbdTuned>,
    },
    Entry {
        name: "writeboost-cache",
        kind: Kind::Ocf,
        meta: <agents::writeboost_cache::WriteboostCache as ocf::Agent>::meta,
        run: ocf::run::<agents::writeboost_cache::WriteboostCache>,
    },
    Entry {
        name: "nfs-export",
        kind: Kind::Ocf,
        meta: <agents::nfs_export::NfsExport as ocf::Agent>::meta,
        run: ocf::run::<agents::nfs_export::NfsExport>,
    },
    Entry {
        name: agents::ipstrip::NAME,
        kind: Kind::Fence,
        meta: agents::ipstrip::meta,
        run: agents::ipstrip::run,
    },
    Entry {
        name: agents::ipstrip::ALIAS,
        kind: Kind::Fence,
        meta: agents::ipstrip::meta_alias,
        run: agents::ipstrip::run,
    },
];

impl Entry {
    /// The meta-data XML in the agent's own format: OCF for resource agents,
    /// fence-agents' format for fence agents (what `storha meta-data` and
    /// `make metadata` should print).
    pub fn metadata_xml(&self) -> String {
        match self.kind {
            Kind::Ocf => ocf::metadata::render((self.meta)()),
            Kind::Fence => agents::ipstrip::fence_metadata(),
        }
    }
}

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
            if e.kind == Kind::Ocf {
                crate::ocf::metadata::check_meta((e.meta)());
            }
        }
        assert_eq!(find("fence_ipstrip").map(|e| e.kind), Some(Kind::Fence));
        assert_eq!(find("ipstrip-stonith").map(|e| e.kind), Some(Kind::Fence));
        let fence = find("fence_ipstrip")
            .map(Entry::metadata_xml)
            .unwrap_or_default();
        assert!(fence.contains("<vendor-url>"), "fence meta-data format");
        let ocf = find("floating-ip")
            .map(Entry::metadata_xml)
            .unwrap_or_default();
        assert!(ocf.contains("<resource-agent name=\"floating-ip\""));
        assert!(find("floating-ip").is_some());
        assert!(find("floating").is_none());
        assert!(find("storha").is_none());
    }
}
