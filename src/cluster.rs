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

/// A storha resource as crm_mon shows it, with the nodes it is active on.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Placed {
    pub id: String,
    pub agent: String,
    pub role: String,
    pub active: bool,
    pub failed: bool,
    pub nodes: Vec<String>,
}

/// Every storha resource `crm_mon --output-as=xml` shows, one entry per
/// instance (a clone's instances each have their own).
pub fn parse_crm_mon_all(xml: &str) -> Result<Vec<Placed>, String> {
    let mut reader = Reader::from_str(xml);
    let mut found = Vec::new();
    let mut current: Option<Placed> = None;
    let mut saw_resources = false;
    loop {
        let ev = reader
            .read_event()
            .map_err(|e| format!("crm_mon output is not XML: {e}"))?;
        match ev {
            Event::Start(e) | Event::Empty(e) if e.name().as_ref() == b"resources" => {
                saw_resources = true;
            }
            Event::Start(ref e) | Event::Empty(ref e) if e.name().as_ref() == b"resource" => {
                let agent = attr(e, b"resource_agent").unwrap_or_default();
                let placed = is_storha_agent(&agent).then(|| Placed {
                    id: attr(e, b"id").unwrap_or_default(),
                    agent,
                    role: attr(e, b"role").unwrap_or_default(),
                    active: attr(e, b"active").as_deref() == Some("true"),
                    failed: attr(e, b"failed").as_deref() == Some("true"),
                    nodes: Vec::new(),
                });
                if matches!(ev, Event::Empty(_)) {
                    found.extend(placed);
                } else {
                    current = placed;
                }
            }
            Event::Empty(ref e) if e.name().as_ref() == b"node" => {
                if let Some(p) = current.as_mut() {
                    p.nodes.extend(attr(e, b"name"));
                }
            }
            Event::End(e) if e.name().as_ref() == b"resource" => {
                found.extend(current.take());
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

/// The storha resources `crm_mon --output-as=xml` shows active on `node`.
pub fn parse_crm_mon(xml: &str, node: &str) -> Result<Vec<Active>, String> {
    Ok(parse_crm_mon_all(xml)?
        .into_iter()
        .filter(|p| p.active && p.nodes.iter().any(|n| n == node))
        .map(|p| Active {
            id: p.id,
            agent: p.agent,
            role: p.role,
        })
        .collect())
}

/// A primitive's id and its instance parameters, in the CIB's order.
pub type Primitive = (String, Vec<(String, String)>);

/// The instance parameters of every primitive of one storha agent in the
/// CIB's resources section (`cibadmin --query --scope resources`):
/// (resource id, [(name, value)]).
pub fn cib_primitives(xml: &str, agent: &str) -> Result<Vec<Primitive>, String> {
    cib_primitives_of(xml, "ocf", Some("storha"), agent)
}

/// The fence devices of one fence agent (`class="stonith"`) in the CIB.
pub fn cib_fence_devices(xml: &str, agent: &str) -> Result<Vec<Primitive>, String> {
    cib_primitives_of(xml, "stonith", None, agent)
}

fn cib_primitives_of(
    xml: &str,
    class: &str,
    provider: Option<&str>,
    agent: &str,
) -> Result<Vec<Primitive>, String> {
    let mut reader = Reader::from_str(xml);
    let mut found = Vec::new();
    let mut current: Option<Primitive> = None;
    let mut in_instance = false;
    loop {
        let ev = reader
            .read_event()
            .map_err(|e| format!("the CIB is not XML: {e}"))?;
        match ev {
            Event::Start(ref e) if e.name().as_ref() == b"primitive" => {
                let ours = attr(e, b"class").as_deref() == Some(class)
                    && attr(e, b"provider").as_deref() == provider
                    && attr(e, b"type").as_deref() == Some(agent);
                current = ours.then(|| (attr(e, b"id").unwrap_or_default(), Vec::new()));
            }
            Event::Start(ref e) if e.name().as_ref() == b"instance_attributes" => {
                in_instance = true;
            }
            Event::End(ref e) if e.name().as_ref() == b"instance_attributes" => {
                in_instance = false;
            }
            Event::Empty(ref e) if e.name().as_ref() == b"nvpair" && in_instance => {
                if let (Some((_, params)), Some(n), Some(v)) =
                    (current.as_mut(), attr(e, b"name"), attr(e, b"value"))
                {
                    params.push((n, v));
                }
            }
            Event::End(ref e) if e.name().as_ref() == b"primitive" => {
                found.extend(current.take());
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(found)
}

/// The XML of `crm_mon`, or None when Pacemaker is not running here.
pub fn crm_mon_xml(runner: &dyn Runner) -> Result<Option<String>, String> {
    let cmd = Cmd::new("crm_mon")
        .args(["--one-shot", "--inactive", "--output-as=xml"])
        .timeout(Duration::from_secs(30));
    let out = match runner.output(&cmd) {
        Ok(o) => o,
        Err(CmdError::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    if out.status == CRM_EX_NOT_CONNECTED {
        return Ok(None);
    }
    if out.status != 0 {
        return Err(CmdError::Failed {
            cmd: cmd.display(),
            status: out.status,
            stderr: out.stderr,
        }
        .to_string());
    }
    Ok(Some(out.stdout))
}

/// This node's name as the cluster knows it: `crm_node -n`, or the kernel's
/// node name when the cluster cannot say.
pub fn node_name(runner: &dyn Runner) -> String {
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
    let Some(xml) = crm_mon_xml(runner)? else {
        return Ok(Here::NoCluster);
    };
    let node = node_name(runner);
    let resources = parse_crm_mon(&xml, &node)?;
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
    fn floating_ip_parameters_from_the_cib() {
        let cib = r#"<resources>
  <primitive id="vip" class="ocf" provider="storha" type="floating-ip">
    <instance_attributes id="vip-ia">
      <nvpair id="vip-ip" name="ip" value="192.0.2.10"/>
      <nvpair id="vip-nic" name="nic" value="eth0"/>
    </instance_attributes>
    <meta_attributes id="vip-ma"><nvpair id="x" name="target-role" value="Started"/></meta_attributes>
    <operations><op id="vip-mon" name="monitor" interval="10s"/></operations>
  </primitive>
  <group id="g"><primitive id="other" class="ocf" provider="heartbeat" type="IPaddr2">
    <instance_attributes id="o-ia"><nvpair id="o-ip" name="ip" value="192.0.2.11"/></instance_attributes>
  </primitive></group>
</resources>"#;
        let p = cib_primitives(cib, "floating-ip").expect("parses");
        assert_eq!(
            p,
            vec![(
                "vip".to_string(),
                vec![
                    ("ip".to_string(), "192.0.2.10".to_string()),
                    ("nic".to_string(), "eth0".to_string())
                ]
            )]
        );
        let all = parse_crm_mon_all(MON).expect("parses");
        let stopped = all.iter().find(|p| p.id == "stopped").expect("listed");
        assert!(!stopped.active && stopped.nodes.is_empty());
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
