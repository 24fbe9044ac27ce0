// SPDX-License-Identifier: GPL-2.0-or-later
//! What Pacemaker runs of storha on this node, from `crm_mon`'s XML: the
//! package's removal asks it (`storha active`) before the binary goes away,
//! since the next monitor of a resource whose agent is gone fails and the
//! node is fenced for it.

use crate::cmd::{Cmd, CmdError, Runner};
use crate::registry::{self, AGENTS};
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use std::time::Duration;

/// crm_mon's exit code when it cannot reach the cluster (CRM_EX_NOT_CONNECTED).
const CRM_EX_NOT_CONNECTED: i32 = 102;

/// One storha resource (or fence device) active on a node.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Active {
    pub id: String,
    /// As crm_mon writes it: `ocf:storha:floating-ip`, `stonith:fence_ipstrip`.
    pub agent: String,
    pub role: String,
}

/// What this node runs of storha.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Here {
    /// Pacemaker is not running (or not installed) on this node: nothing of
    /// storha can be active under it.
    NoCluster,
    Active {
        node: String,
        resources: Vec<Active>,
    },
}

/// Is `agent` (crm_mon's `resource_agent`) one of storha's?
pub fn is_storha_agent(agent: &str) -> bool {
    if let Some(rest) = agent.strip_prefix("ocf:storha:") {
        // Also an agent of a newer or older storha than this binary knows.
        return !rest.is_empty();
    }
    agent.strip_prefix("stonith:").is_some_and(|name| {
        AGENTS
            .iter()
            .any(|e| e.kind == registry::Kind::Fence && e.name == name)
    })
}

fn attr(e: &BytesStart, name: &[u8]) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.as_ref() == name)
        .and_then(|a| a.unescape_value().ok().map(|v| v.into_owned()))
}

/// The storha resources `crm_mon --output-as=xml` shows active on `node`.
pub fn parse_crm_mon(xml: &str, node: &str) -> Result<Vec<Active>, String> {
    let mut reader = Reader::from_str(xml);
    let mut found = Vec::new();
    // The resource whose <node> children are being read, if a storha one.
    let mut current: Option<(Active, bool)> = None;
    let mut saw_resources = false;
    loop {
        let ev = reader
            .read_event()
            .map_err(|e| format!("crm_mon output is not XML: {e}"))?;
        match ev {
            Event::Start(e) | Event::Empty(e) if e.name().as_ref() == b"resources" => {
                saw_resources = true;
            }
            Event::Start(ref e) if e.name().as_ref() == b"resource" => {
                let agent = attr(e, b"resource_agent").unwrap_or_default();
                let active = attr(e, b"active").as_deref() == Some("true");
                current = (active && is_storha_agent(&agent)).then(|| {
                    (
                        Active {
                            id: attr(e, b"id").unwrap_or_default(),
                            agent,
                            role: attr(e, b"role").unwrap_or_default(),
                        },
                        false,
                    )
                });
            }
            Event::Empty(ref e) if e.name().as_ref() == b"node" => {
                if let Some((_, here)) = current.as_mut() {
                    if attr(e, b"name").as_deref() == Some(node) {
                        *here = true;
                    }
                }
            }
            Event::End(e) if e.name().as_ref() == b"resource" => {
                if let Some((r, true)) = current.take() {
                    found.push(r);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !saw_resources {
        return Err("crm_mon output has no <resources> section".into());
    }
    Ok(found)
}

/// This node's name as the cluster knows it: `crm_node -n`, or the kernel's
/// node name when the cluster cannot say.
fn node_name(runner: &dyn Runner) -> String {
    match runner.run(
        &Cmd::new("crm_node")
            .arg("-n")
            .timeout(Duration::from_secs(10)),
    ) {
        Ok(o) if !o.stdout.trim().is_empty() => o.stdout.trim().to_string(),
        _ => nix::sys::utsname::uname()
            .map(|u| u.nodename().to_string_lossy().into_owned())
            .unwrap_or_default(),
    }
}

/// What this node runs of storha, as Pacemaker sees it now.
pub fn active_here(runner: &dyn Runner) -> Result<Here, String> {
    let cmd = Cmd::new("crm_mon")
        .args(["--one-shot", "--inactive", "--output-as=xml"])
        .timeout(Duration::from_secs(30));
    let out = match runner.output(&cmd) {
        Ok(o) => o,
        Err(CmdError::NotFound { .. }) => return Ok(Here::NoCluster),
        Err(e) => return Err(e.to_string()),
    };
    if out.status == CRM_EX_NOT_CONNECTED {
        return Ok(Here::NoCluster);
    }
    if out.status != 0 {
        return Err(CmdError::Failed {
            cmd: cmd.display(),
            status: out.status,
            stderr: out.stderr,
        }
        .to_string());
    }
    let node = node_name(runner);
    let resources = parse_crm_mon(&out.stdout, &node)?;
    Ok(Here::Active { node, resources })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::FakeRunner;

    const MON: &str = r#"<pacemaker-result api-version="2.25" request="crm_mon --one-shot --inactive --output-as=xml">
  <nodes>
    <node name="node1" id="1" online="true"/>
    <node name="node2" id="2" online="true"/>
  </nodes>
  <resources>
    <resource id="vip" resource_agent="ocf:storha:floating-ip" role="Started" active="true" orphaned="false" blocked="false" managed="true" failed="false" failure_ignored="false" nodes_running_on="1">
      <node name="node1" id="1" cached="true"/>
    </resource>
    <resource id="other" resource_agent="ocf:heartbeat:IPaddr2" role="Started" active="true" nodes_running_on="1">
      <node name="node1" id="1" cached="true"/>
    </resource>
    <resource id="stopped" resource_agent="ocf:storha:floating-ip" role="Stopped" active="false" nodes_running_on="0"/>
    <clone id="wb-clone" multi_state="false" unique="false">
      <resource id="wb" resource_agent="ocf:storha:writeboost-cache" role="Started" active="true" nodes_running_on="1">
        <node name="node2" id="2" cached="true"/>
      </resource>
      <resource id="wb" resource_agent="ocf:storha:writeboost-cache" role="Started" active="true" nodes_running_on="1">
        <node name="node1" id="1" cached="true"/>
      </resource>
    </clone>
    <resource id="fence-n2" resource_agent="stonith:fence_ipstrip" role="Started" active="true" nodes_running_on="1">
      <node name="node1" id="1" cached="true"/>
    </resource>
  </resources>
</pacemaker-result>
"#;

    #[test]
    fn finds_storha_resources_active_on_the_node() {
        let ids = |node| -> Vec<String> {
            parse_crm_mon(MON, node)
                .expect("parses")
                .into_iter()
                .map(|a| a.id)
                .collect()
        };
        assert_eq!(ids("node1"), vec!["vip", "wb", "fence-n2"]);
        assert_eq!(ids("node2"), vec!["wb"]);
        assert!(ids("node3").is_empty());
    }

    #[test]
    fn garbage_is_an_error_not_a_yes() {
        assert!(parse_crm_mon(
            "<pacemaker-result><status code=\"0\"/></pacemaker-result>",
            "n"
        )
        .is_err());
        assert!(parse_crm_mon("<a><b></a>", "n").is_err());
    }

    #[test]
    fn agents_of_storha() {
        assert!(is_storha_agent("ocf:storha:floating-ip"));
        assert!(is_storha_agent("stonith:fence_ipstrip"));
        assert!(!is_storha_agent("stonith:fence_apc_snmp"));
        assert!(!is_storha_agent("ocf:heartbeat:IPaddr2"));
    }

    #[test]
    fn no_cluster_when_pacemaker_is_down_or_absent() {
        let mon = "crm_mon --one-shot --inactive --output-as=xml";
        let r = FakeRunner::new().fails(mon, 102, "Connection refused");
        assert_eq!(active_here(&r), Ok(Here::NoCluster));
        let r = FakeRunner::new().answer(
            mon,
            Err(CmdError::NotFound {
                cmd: "crm_mon".into(),
            }),
        );
        assert_eq!(active_here(&r), Ok(Here::NoCluster));
        let r = FakeRunner::new().fails(mon, 1, "something else");
        assert!(active_here(&r).is_err());
        let r = FakeRunner::new().ok(mon, MON).ok("crm_node -n", "node2\n");
        match active_here(&r) {
            Ok(Here::Active { node, resources }) => {
                assert_eq!(node, "node2");
                assert_eq!(resources.len(), 1);
            }
            other => panic!("{other:?}"),
        }
    }
}
