// SPDX-License-Identifier: GPL-2.0-or-later
//! floating-ip: a service address that moves with the service.
//!
//! Everything goes through netlink and raw packet sockets: no `ip`, no
//! `send_arp`, no shell. The monitor opens one netlink socket and asks for
//! the addresses (and the link, when its state matters): no child process.

mod params;
mod select;

use crate::generic;
use crate::net::netlink::{
    AddAddr, Addr, Family, Link, Netlink, OperState, IFA_F_DADFAILED, IFA_F_DEPRECATED,
    IFA_F_NODAD, IFA_F_NOPREFIXROUTE, IFA_F_PERMANENT, IFA_F_TENTATIVE,
};
use crate::net::{self, ArpKind, NetError};
use crate::ocf::{
    background, env, Action, Agent, AgentMeta, Ctx, Health, OcfError, OcfStatus, Params,
};
use params::{broadcast_for, check_label_len, Config};
use serde_json::json;
use std::net::IpAddr;
use std::time::{Duration, Instant};

pub struct FloatingIp;

/// Process name of the background announcer, checked before it is killed.
const ANNOUNCER: &str = "storha-garp";

fn net_err(e: NetError) -> OcfError {
    match e.errno() {
        Some(libc::EPERM | libc::EACCES) => OcfError::Perm(format!(
            "{e} (managing addresses needs root or CAP_NET_ADMIN)"
        )),
        // The interface vanished while we worked on it: node-local, and
        // perhaps passing (a NIC being renamed or recreated).
        Some(libc::ENODEV) => OcfError::Generic(e.to_string()),
        _ => match e {
            NetError::NetnsNotFound { .. } | NetError::Invalid { .. } => {
                OcfError::Args(e.to_string())
            }
            other => OcfError::Generic(other.to_string()),
        },
    }
}

fn family(ip: &IpAddr) -> Family {
    Family::of(ip)
}

/// What `nic` names on this node.
enum Nic {
    /// `nic` is not set.
    Unset,
    Here(Link),
    /// `nic` names no interface of this node.
    Missing(String),
}

fn lookup_nic(nl: &Netlink, cfg: &Config) -> Result<Nic, OcfError> {
    match &cfg.nic {
        None => Ok(Nic::Unset),
        Some(name) => Ok(match nl.link_by_name(name).map_err(net_err)? {
            Some(l) => Nic::Here(l),
            None => Nic::Missing(name.clone()),
        }),
    }
}

/// A `nic` missing on this node is OCF_ERR_GENERIC: node-local (IPaddr2's
/// OCF_ERR_CONFIGURED would stop the resource on every node) and possibly
/// passing (a VLAN, bond or renamed NIC that is not there yet).
fn missing_nic(name: &str) -> OcfError {
    generic!("interface {name} does not exist on this node")
}

/// The configured interface, which must exist.
fn configured_link(nl: &Netlink, cfg: &Config) -> Result<Option<Link>, OcfError> {
    match lookup_nic(nl, cfg)? {
        Nic::Unset => Ok(None),
        Nic::Here(l) => Ok(Some(l)),
        Nic::Missing(name) => Err(missing_nic(&name)),
    }
}

/// An interface's name for messages (the error paths only).
fn ifname(nl: &Netlink, index: u32) -> String {
    match nl.link_by_index(index) {
        Ok(Some(l)) => l.name,
        _ => format!("ifindex {index}"),
    }
}

fn find_addr<'a>(addrs: &'a [Addr], ip: &IpAddr) -> Option<&'a Addr> {
    addrs.iter().find(|a| a.own_address() == *ip)
}

fn link_is_down(l: &Link) -> Option<String> {
    if !l.up {
        Some(format!("interface {} is administratively down", l.name))
    } else if !l.lower_up || matches!(l.oper_state, OperState::Down | OperState::LowerLayerDown) {
        Some(format!("interface {} has no carrier (link down)", l.name))
    } else {
        None
    }
}

/// Where the address goes: interface and prefix.
struct Target {
    link: Link,
    prefix: u8,
}

fn resolve(nl: &Netlink, cfg: &Config) -> Result<Target, OcfError> {
    let link = configured_link(nl, cfg)?;
    let routes = if link.is_some() && cfg.prefix.is_some() {
        Vec::new()
    } else {
        nl.routes(family(&cfg.ip)).map_err(net_err)?
    };
    let links = if cfg.nic.is_none() {
        nl.links().map_err(net_err)?
    } else {
        Vec::new()
    };
    let name_of = |i: u32| {
        links
            .iter()
            .find(|l| l.index == i)
            .map_or_else(|| format!("ifindex {i}"), |l| l.name.clone())
    };
    let choice = select::choose(
        &cfg.ip,
        link.as_ref().map(|l| (l.index, l.name.as_str())),
        cfg.prefix,
        &routes,
        &name_of,
    )?;
    let link = match link {
        Some(l) => l,
        None => links
            .into_iter()
            .find(|l| l.index == choice.ifindex)
            .ok_or_else(|| generic!("interface {} vanished", choice.ifindex))?,
    };
    if let Some(l) = &cfg.iflabel {
        check_label_len(&link.name, l)?;
    }
    Ok(Target {
        link,
        prefix: choice.prefix,
    })
}

/// Gives an IPv6 address its address label (`lvs_ipv6_addrlabel`), so that
/// source address selection does not pick it for the node's own
/// connections. Returns whether this call created the entry.
fn add_addrlabel(nl: &Netlink, cfg: &Config) -> Result<bool, OcfError> {
    let (IpAddr::V6(v6), Some(label)) = (cfg.ip, cfg.addrlabel) else {
        return Ok(false);
    };
    match nl.add_addrlabel(&v6, label) {
        Ok(()) => {
            log::info!(
                "address label {label} for {v6}: not a source address for this node's own traffic"
            );
            Ok(true)
        }
        Err(e) if e.errno() == Some(libc::EEXIST) => {
            log::info!("{v6} already has an address label entry; kept");
            Ok(false)
        }
        Err(e) => Err(net_err(e)),
    }
}

/// Removes the address label entry `add_addrlabel` made, if there is one.
fn drop_addrlabel(nl: &Netlink, cfg: &Config) -> Result<(), OcfError> {
    let (IpAddr::V6(v6), Some(label)) = (cfg.ip, cfg.addrlabel) else {
        return Ok(());
    };
    match nl.del_addrlabel(&v6, label) {
        Ok(()) => {
            log::info!("removed the address label entry of {v6}");
            Ok(())
        }
        Err(e) if matches!(e.errno(), Some(libc::ESRCH | libc::ENOENT)) => Ok(()),
        Err(e) => Err(net_err(e)),
    }
}

fn pidfile(ctx: &Ctx) -> std::path::PathBuf {
    ctx.state.path("announce.pid")
}

/// Waits for IPv6 duplicate address detection to finish. On failure the
/// address is removed, so that a failed start leaves nothing behind.
fn wait_dad(ctx: &Ctx, nl: &Netlink, cfg: &Config, t: &Target) -> Result<(), OcfError> {
    let limit = cfg.dad_timeout.min(ctx.deadline.remaining());
    let started = Instant::now();
    loop {
        let addrs = nl.addrs(Some(Family::V6)).map_err(net_err)?;
        let Some(a) = find_addr(&addrs, &cfg.ip) else {
            return Err(generic!(
                "{} vanished from {} during duplicate address detection",
                cfg.ip,
                t.link.name
            ));
        };
        if a.has_flag(IFA_F_DADFAILED) {
            let _ = nl.del_addr(a.ifindex, cfg.ip, a.prefix_len);
            return Err(generic!(
                "duplicate address detection failed: {} is already in use on the network of {}; address removed",
                cfg.ip,
                t.link.name
            ));
        }
        if !a.has_flag(IFA_F_TENTATIVE) {
            log::info!(
                "duplicate address detection for {} passed in {} ms",
                cfg.ip,
                started.elapsed().as_millis()
            );
            return Ok(());
        }
        if started.elapsed() >= limit {
            let _ = nl.del_addr(a.ifindex, cfg.ip, a.prefix_len);
            let why = nl
                .link_by_index(t.link.index)
                .ok()
                .flatten()
                .and_then(|l| link_is_down(&l))
                .map(|d| format!(" ({d})"))
                .unwrap_or_default();
            return Err(generic!(
                "duplicate address detection for {} did not finish within {:.0}s{why}; address removed",
                cfg.ip,
                limit.as_secs_f64()
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// IPv4 duplicate address detection before the address is added (what
/// IPaddr2 does with `arping -D -c 2 -w 3`): two RFC 5227 probes and a short
/// wait, bounded by what is left of the start timeout.
fn duplicate_check(ctx: &Ctx, link: &Link, ip: std::net::Ipv4Addr) -> Result<(), OcfError> {
    let Some(mac) = link.mac else {
        log::info!(
            "{} has no Ethernet address; duplicate check skipped",
            link.name
        );
        return Ok(());
    };
    let wait = Duration::from_secs(1).min(ctx.deadline.remaining() / 2);
    match net::arp_probe(link.index, mac, ip, 2, Duration::from_millis(300), wait) {
        Ok(None) => {
            log::info!("no other host answers for {ip} on {}", link.name);
            Ok(())
        }
        Ok(Some(other)) => Err(generic!(
            "IPv4 address collision: {ip} is already used by {} on the network of {}",
            other
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(":"),
            link.name
        )),
        Err(e) => Err(generic!("duplicate address check for {ip}: {e}")),
    }
}

fn announce(cfg: &Config, link: &Link, count: u32) -> Result<(), OcfError> {
    let Some(mac) = link.mac else {
        log::info!(
            "{} has no Ethernet address; no announcements sent",
            link.name
        );
        return Ok(());
    };
    net::send_announcements(
        link.index,
        mac,
        cfg.ip,
        count,
        cfg.arp_interval,
        ArpKind::Request,
    )
    .map(|sent| log::debug!("sent {sent} announcements for {} on {}", cfg.ip, link.name))
    .map_err(|e| generic!("announcing {}: {e}", cfg.ip))
}

fn start_announcements(ctx: &Ctx, cfg: &Config, link: &Link) -> Result<(), OcfError> {
    if cfg.arp_count == 0 {
        return Ok(());
    }
    background::stop(&pidfile(ctx), ANNOUNCER, Duration::from_millis(500))?;
    if !cfg.arp_bg {
        return announce(cfg, link, cfg.arp_count);
    }
    ctx.state.ensure()?;
    let (ifindex, mac, ip, count, interval) = (
        link.index,
        link.mac,
        cfg.ip,
        cfg.arp_count,
        cfg.arp_interval,
    );
    let Some(mac) = mac else {
        log::info!(
            "{} has no Ethernet address; no announcements sent",
            link.name
        );
        return Ok(());
    };
    let pid = background::spawn(&pidfile(ctx), ANNOUNCER, move || {
        if let Err(e) = net::send_announcements(ifindex, mac, ip, count, interval, ArpKind::Request)
        {
            log::warn!("announcing {ip}: {e}");
        }
    })?;
    log::info!(
        "announcing {} on {} in the background (pid {pid}, {count} packets)",
        cfg.ip,
        link.name
    );
    Ok(())
}

/// The address is there, but not as this resource puts it: someone added it
/// by hand without the label. Not "running": stop removes it, and the start
/// after that adds it as configured.
fn unlabelled(cfg: &Config, a: &Addr, want: &str) -> OcfError {
    generic!(
        "{} is already configured, labelled {}, not {want}: it was not added by this resource (stop removes it, a start then adds it as configured)",
        cfg.ip,
        a.label.as_deref().unwrap_or("(none)")
    )
}

/// A monitor that finds the address absent. A probe, or a resource that
/// needs no route (nic and cidr_netmask both set), is simply not running. A
/// recurring monitor also says, as IPaddr2's does, when no interface of
/// this node could carry the address: that failure (OCF_ERR_GENERIC, with
/// its reason) tells why a restart here would fail too.
fn absent(ctx: &Ctx, nl: &Netlink, cfg: &Config) -> Result<Health, OcfError> {
    if ctx.is_probe() || (cfg.nic.is_some() && cfg.prefix.is_some()) {
        return Ok(Health::NotRunning);
    }
    match resolve(nl, cfg) {
        Err(e) if e.status() == OcfStatus::ErrGeneric => {
            Err(generic!("{} is not configured, and {e}", cfg.ip))
        }
        _ => Ok(Health::NotRunning),
    }
}

/// Adds the address on the chosen interface, brings it up, waits for DAD,
/// announces it, and checks that a monitor would now agree.
fn add_and_check(ctx: &Ctx, nl: &Netlink, cfg: &Config, t: &Target) -> Result<(), OcfError> {
    if cfg.run_arping {
        if let IpAddr::V4(v4) = cfg.ip {
            nl.set_link_up(t.link.index).map_err(net_err)?;
            duplicate_check(ctx, &t.link, v4)?;
        }
    }
    let mut req = AddAddr::new(t.link.index, cfg.ip, t.prefix);
    req.broadcast = broadcast_for(cfg.broadcast, &cfg.ip, t.prefix);
    req.label = cfg.label_for(&t.link.name);
    req.nodad = cfg.nodad && cfg.ip.is_ipv6();
    req.noprefixroute = cfg.noprefixroute;
    req.preferred_lft = cfg.preferred_lft;
    log::info!("adding {}/{} to {}", cfg.ip, t.prefix, t.link.name);
    match nl.add_addr(&req) {
        Ok(()) => {}
        // Someone added it between our look and our add: check it below.
        Err(e) if e.errno() == Some(libc::EEXIST) => log::warn!("{e}"),
        Err(e) => return Err(net_err(e)),
    }
    nl.set_link_up(t.link.index).map_err(net_err)?;
    if !t.link.up {
        // Frames sent in the moment after a link comes up are dropped
        // while the kernel reports success: wait until it is operational.
        log::info!("brought {} up", t.link.name);
        let wait = Duration::from_secs(3).min(ctx.deadline.remaining() / 2);
        if nl
            .wait_oper_up(t.link.index, wait)
            .map_err(net_err)?
            .is_none()
        {
            log::warn!(
                "{} is not operational after {:.1}s",
                t.link.name,
                wait.as_secs_f64()
            );
        }
    }
    if cfg.ip.is_ipv6() && !req.nodad {
        wait_dad(ctx, nl, cfg, t)?;
    }
    let link = nl
        .link_by_index(t.link.index)
        .map_err(net_err)?
        .unwrap_or_else(|| t.link.clone());
    start_announcements(ctx, cfg, &link)?;
    // Do not return before a monitor would agree (Pacemaker's rule).
    let addrs = nl.addrs(Some(family(&cfg.ip))).map_err(net_err)?;
    match find_addr(&addrs, &cfg.ip) {
        Some(a) if a.ifindex == link.index && a.prefix_len == t.prefix => Ok(()),
        _ => Err(generic!(
            "{}/{} is not on {} after adding it",
            cfg.ip,
            t.prefix,
            link.name
        )),
    }
}

/// Removes the address, if it is on the configured interface.
fn stop_address(nl: &Netlink, cfg: &Config) -> Result<(), OcfError> {
    let link = match lookup_nic(nl, cfg)? {
        Nic::Unset => None,
        Nic::Here(l) => Some(l),
        Nic::Missing(name) => {
            log::info!(
                "{}: the address cannot be there; stopped",
                missing_nic(&name)
            );
            return Ok(());
        }
    };
    let addrs = nl.addrs(Some(family(&cfg.ip))).map_err(net_err)?;
    let Some(a) = find_addr(&addrs, &cfg.ip) else {
        log::info!("{} is not configured; stopped", cfg.ip);
        return Ok(());
    };
    if let Some(l) = &link {
        if a.ifindex != l.index {
            log::warn!(
                "{} is on {}, not on {}: not ours to remove",
                cfg.ip,
                ifname(nl, a.ifindex),
                l.name
            );
            return Ok(());
        }
    }
    log::info!(
        "removing {}/{} from {}",
        cfg.ip,
        a.prefix_len,
        ifname(nl, a.ifindex)
    );
    match nl.del_addr(a.ifindex, cfg.ip, a.prefix_len) {
        Ok(()) => {}
        Err(e) if matches!(e.errno(), Some(libc::EADDRNOTAVAIL | libc::ENODEV)) => {}
        Err(e) => return Err(net_err(e)),
    }
    let addrs = nl.addrs(Some(family(&cfg.ip))).map_err(net_err)?;
    match find_addr(&addrs, &cfg.ip) {
        None => Ok(()),
        Some(_) => Err(generic!("{} is still configured after removing it", cfg.ip)),
    }
}

impl Agent for FloatingIp {
    type Config = Config;

    fn meta() -> &'static AgentMeta {
        &params::META
    }

    fn config(p: &Params) -> Result<Config, OcfError> {
        Config::from_params(p)
    }

    /// Enters the namespace first, so every action and every socket after it
    /// works there; a missing namespace is this host's problem (2), which
    /// stop and probes soften.
    fn validate(ctx: &Ctx, cfg: &Config) -> Result<(), OcfError> {
        if let Some(ns) = &cfg.netns {
            match net::enter_netns(ns).map_err(net_err) {
                Ok(()) => {}
                // A namespace this node lacks (not made yet, perhaps) is soft
                // for start and validate-all, like a missing nic; stop and a
                // probe soften it further (nothing of ours can be in it).
                Err(OcfError::Args(m)) if ctx.action != Action::Stop && !ctx.is_probe() => {
                    return Err(OcfError::Generic(m))
                }
                Err(e) => return Err(e),
            }
        }
        // validate-all also checks that this host can place the address, as
        // IPaddr2's does; OCF 1.1's check level 0 (consistency only, no look
        // at the host) applies when the caller asks for it explicitly.
        if ctx.action == Action::ValidateAll && ctx.env.get(env::OCF_CHECK_LEVEL) != Some("0") {
            let nl = Netlink::open().map_err(net_err)?;
            let t = resolve(&nl, cfg)?;
            log::info!("{}/{} would go on {}", cfg.ip, t.prefix, t.link.name);
        }
        Ok(())
    }

    fn start(ctx: &Ctx, cfg: &Config) -> Result<(), OcfError> {
        let nl = Netlink::open().map_err(net_err)?;
        let t = resolve(&nl, cfg)?;
        let addrs = nl.addrs(Some(family(&cfg.ip))).map_err(net_err)?;
        if let Some(a) = find_addr(&addrs, &cfg.ip) {
            if a.ifindex != t.link.index {
                return Err(generic!(
                    "{} is already configured on {}, not on {}",
                    cfg.ip,
                    ifname(&nl, a.ifindex),
                    t.link.name
                ));
            }
            if a.prefix_len != t.prefix {
                return Err(generic!(
                    "{}/{} is already on {}, but cidr_netmask says /{}; remove it or fix cidr_netmask",
                    cfg.ip,
                    a.prefix_len,
                    t.link.name,
                    t.prefix
                ));
            }
            if let Some(want) = cfg.label_for(&t.link.name) {
                if a.label.as_deref() != Some(want.as_str()) {
                    return Err(unlabelled(cfg, a, &want));
                }
            }
            if a.has_flag(IFA_F_DADFAILED) {
                return Err(generic!(
                    "{} is on {} but failed duplicate address detection",
                    cfg.ip,
                    t.link.name
                ));
            }
            log::info!("{}/{} is already on {}", cfg.ip, t.prefix, t.link.name);
            add_addrlabel(&nl, cfg)?;
            nl.set_link_up(t.link.index).map_err(net_err)?;
            return Ok(());
        }
        // Before the address exists, so that it is never a source address.
        let labelled = add_addrlabel(&nl, cfg)?;
        let added = add_and_check(ctx, &nl, cfg, &t);
        if added.is_err() && labelled {
            let _ = drop_addrlabel(&nl, cfg);
        }
        added
    }

    fn stop(ctx: &Ctx, cfg: &Config) -> Result<(), OcfError> {
        background::stop(&pidfile(ctx), ANNOUNCER, Duration::from_millis(500))?;
        let nl = Netlink::open().map_err(net_err)?;
        stop_address(&nl, cfg)?;
        drop_addrlabel(&nl, cfg)
    }

    fn monitor(ctx: &Ctx, cfg: &Config) -> Result<Health, OcfError> {
        let nl = Netlink::open().map_err(net_err)?;
        let link = match lookup_nic(&nl, cfg)? {
            Nic::Unset => None,
            Nic::Here(l) => Some(l),
            // The address cannot be on an interface this node lacks: a probe
            // says "not running", so the resource stays allowed elsewhere.
            // A recurring monitor answers as IPaddr2's does: "not running"
            // when cidr_netmask is set (the address needs no route), else
            // the failure to place it.
            Nic::Missing(name) if ctx.is_probe() || cfg.prefix.is_some() => {
                log::info!("{}; {} is not running here", missing_nic(&name), cfg.ip);
                return Ok(Health::NotRunning);
            }
            Nic::Missing(name) => return Err(missing_nic(&name)),
        };
        let addrs = nl.addrs(Some(family(&cfg.ip))).map_err(net_err)?;
        let Some(a) = find_addr(&addrs, &cfg.ip) else {
            return absent(ctx, &nl, cfg);
        };
        // Without its own prefix route (noprefixroute) the address reaches
        // its subnet only through the base address's route: when that is
        // gone, clients on the subnet get no answer. IPaddr2's recurring
        // monitor fails then too (its route lookup finds nothing).
        if cfg.noprefixroute && !ctx.is_probe() && !(cfg.nic.is_some() && cfg.prefix.is_some()) {
            if let Err(e) = resolve(&nl, cfg) {
                if e.status() == OcfStatus::ErrGeneric {
                    return Err(generic!("{} is configured, but {e}", cfg.ip));
                }
            }
        }
        if let Some(l) = &link {
            if a.ifindex != l.index {
                return Err(generic!(
                    "{} is on {}, not on {}",
                    cfg.ip,
                    ifname(&nl, a.ifindex),
                    l.name
                ));
            }
        }
        if let Some(p) = cfg.prefix {
            if a.prefix_len != p {
                return Err(generic!(
                    "{} has prefix /{}, configured /{p}",
                    cfg.ip,
                    a.prefix_len
                ));
            }
        }
        if cfg.iflabel.is_some() {
            let on = link
                .as_ref()
                .map_or_else(|| ifname(&nl, a.ifindex), |l| l.name.clone());
            if let Some(want) = cfg.label_for(&on) {
                if a.label.as_deref() != Some(want.as_str()) {
                    return Err(unlabelled(cfg, a, &want));
                }
            }
        }
        if a.has_flag(IFA_F_DADFAILED) {
            return Err(generic!(
                "{} failed duplicate address detection: another host uses it",
                cfg.ip
            ));
        }
        let needs_link = cfg.check_link_status || cfg.arp_count_refresh > 0;
        if needs_link {
            let l = match link {
                Some(l) => l,
                None => nl
                    .link_by_index(a.ifindex)
                    .map_err(net_err)?
                    .ok_or_else(|| generic!("the interface of {} vanished", cfg.ip))?,
            };
            if cfg.check_link_status {
                if let Some(down) = link_is_down(&l) {
                    return Err(generic!("{down}; {} is unreachable there", cfg.ip));
                }
            }
            if cfg.arp_count_refresh > 0 {
                announce(cfg, &l, cfg.arp_count_refresh)?;
            }
        }
        Ok(Health::Running)
    }

    fn observe(ctx: &Ctx, cfg: &Config) -> Result<serde_json::Value, OcfError> {
        let nl = Netlink::open().map_err(net_err)?;
        let addrs = nl.addrs(Some(family(&cfg.ip))).map_err(net_err)?;
        let found = find_addr(&addrs, &cfg.ip);
        let link = match found {
            Some(a) => nl.link_by_index(a.ifindex).map_err(net_err)?,
            None => configured_link(&nl, cfg).ok().flatten(),
        };
        let flags = |a: &Addr| {
            let mut v = Vec::new();
            for (bit, name) in [
                (IFA_F_TENTATIVE, "tentative"),
                (IFA_F_DADFAILED, "dadfailed"),
                (IFA_F_NODAD, "nodad"),
                (IFA_F_NOPREFIXROUTE, "noprefixroute"),
                (IFA_F_DEPRECATED, "deprecated"),
                (IFA_F_PERMANENT, "permanent"),
            ] {
                if a.has_flag(bit) {
                    v.push(name);
                }
            }
            v
        };
        let lifetime = |s: u32| {
            if s == u32::MAX {
                json!("forever")
            } else {
                json!(s)
            }
        };
        Ok(json!({
            "ip": cfg.ip.to_string(),
            "family": if cfg.ip.is_ipv4() { "ipv4" } else { "ipv6" },
            "network_namespace": cfg.netns,
            "present": found.is_some(),
            "prefix_len": found.map(|a| a.prefix_len),
            "label": found.and_then(|a| a.label.clone()),
            "broadcast": found.and_then(|a| a.broadcast).map(|b| b.to_string()),
            "flags": found.map(flags),
            "preferred_lft": found.map(|a| lifetime(a.preferred_lft)),
            "valid_lft": found.map(|a| lifetime(a.valid_lft)),
            "interface": link.as_ref().map(|l| json!({
                "name": l.name,
                "index": l.index,
                "up": l.up,
                "carrier": l.lower_up,
                "oper_state": format!("{:?}", l.oper_state),
                "mac": l.mac.map(|m| m.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")),
            })),
            "announcer_pid": background::running(&pidfile(ctx), ANNOUNCER),
        }))
    }
}
