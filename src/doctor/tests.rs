// SPDX-License-Identifier: GPL-2.0-or-later
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

fn out(stdout: &str) -> Answer {
    Ok(Output {
        status: 0,
        stdout: stdout.into(),
        stderr: String::new(),
    })
}

fn exit(status: i32, stdout: &str, stderr: &str) -> Answer {
    Ok(Output {
        status,
        stdout: stdout.into(),
        stderr: stderr.into(),
    })
}

/// A lab node as captured: everything in place but time sync and strips.
fn ready() -> Inputs {
    Inputs {
        uname: "node1".into(),
        kernel: "6.1.0-57-amd64".into(),
        modules: vec![
            ("drbd".into(), true, None),
            (
                "dm_writeboost".into(),
                false,
                Some(out(
                    "/lib/modules/6.1.0-57-amd64/updates/dm-writeboost.ko\n",
                )),
            ),
            (
                "nfsd".into(),
                false,
                Some(out("/lib/modules/.../nfsd.ko\n")),
            ),
            ("dm_mod".into(), true, None),
        ],
        drbdadm_version: out(include_str!("fixtures/drbdadm-version.txt")),
        corosync_version: out(include_str!("fixtures/corosync-v.txt")),
        pacemaker_version: out(include_str!("fixtures/pacemakerd-version.txt")),
        nfs_tools: NFS_TOOLS.iter().map(|t| (t.to_string(), true)).collect(),
        drbd_nop: out(""),
        drbd_dump: Some(out(include_str!("fixtures/drbdadm-dump.txt"))),
        corosync_conf: Ok(include_str!("fixtures/corosync.conf").into()),
        crm_node: out("node1\n"),
        units: vec![
            ("drbd.service".into(), exit(1, "disabled\n", "")),
            ("nfs-server.service".into(), exit(1, "disabled\n", "")),
        ],
        cfgtool: out(include_str!("fixtures/corosync-cfgtool-s.txt")),
        timedatectl: out("NTP=yes\nNTPSynchronized=yes\n"),
        cib: Ok("<resources/>".into()),
        caches: vec![],
        strips: vec![("p_fence".into(), out(""))],
    }
}

fn find<'a>(r: &'a Report, check: &str) -> &'a Check {
    r.checks
        .iter()
        .find(|c| c.check == check)
        .unwrap_or_else(|| panic!("no check {check}: {:#?}", r.checks))
}

#[test]
fn a_ready_node_passes_every_check() {
    let r = judge(&ready());
    assert_eq!(r.failed, 0, "{}", text(&r));
    assert_eq!(r.warned, 0, "{}", text(&r));
    assert!(text(&r).contains("ready: every check passed"));
    assert_eq!(
        find(&r, "tool drbdadm").detail,
        "drbd-utils 9.22.0, kernel module 8.4.11"
    );
    assert!(find(&r, "module dm_writeboost")
        .detail
        .contains("not loaded"));
    assert_eq!(find(&r, "name drbd r9").status, Level::Ok);
}

#[test]
fn an_enabled_unit_fails_with_the_command_that_fixes_it() {
    let mut i = ready();
    i.units[0].1 = out("enabled\n");
    let r = judge(&i);
    let c = find(&r, "service drbd.service");
    assert_eq!(c.status, Level::Fail);
    assert!(c.detail.contains("enabled at boot"), "{}", c.detail);
    assert_eq!(c.fix.as_deref(), Some("systemctl disable drbd.service"));
    assert_eq!(r.failed, 1);
    assert!(text(&r).contains("NOT ready: 1 check(s) failed"));
    // A unit that is not installed at all is fine.
    i.units[1].1 = exit(
        1,
        "",
        "Failed to get unit file state for nfs-server.service: No such file or directory\n",
    );
    assert_eq!(
        find(&judge(&i), "service nfs-server.service").detail,
        "not installed"
    );
}

#[test]
fn a_drbd_section_for_another_host_is_named() {
    let mut i = ready();
    i.drbd_dump = Some(out(include_str!("fixtures/drbdadm-dump-ignored.txt")));
    let r = judge(&i);
    let c = find(&r, "name drbd r9");
    assert_eq!(c.status, Level::Fail);
    assert!(c.detail.contains("no `on node1` section"), "{}", c.detail);
    assert!(c.detail.contains("nodeY, nodeX"), "{}", c.detail);
    assert!(
        c.fix.as_deref().unwrap().contains("/etc/drbd.d/r9.res"),
        "{:?}",
        c.fix
    );
    // The peer's section under a name corosync does not know.
    let mut i = ready();
    i.drbd_dump = Some(out(
        &include_str!("fixtures/drbdadm-dump.txt").replace("on node2", "on nodeX")
    ));
    let c = judge(&i)
        .checks
        .into_iter()
        .find(|c| c.check == "name drbd r9");
    assert!(c
        .unwrap()
        .detail
        .contains("nodeX that corosync does not know"));
}

#[test]
fn a_config_that_does_not_parse_fails() {
    let mut i = ready();
    i.drbd_nop = exit(10, "", include_str!("fixtures/drbdadm-sh-nop-error.txt"));
    i.drbd_dump = None;
    let r = judge(&i);
    let c = find(&r, "drbd config");
    assert_eq!(c.status, Level::Fail);
    assert!(
        c.detail.contains("drbd.d/r9.res:1: Parse error"),
        "{}",
        c.detail
    );
}

#[test]
fn names_that_disagree_fail() {
    let mut i = ready();
    i.crm_node = out("storage1\n");
    i.corosync_conf =
        Ok(include_str!("fixtures/corosync.conf").replace("name: node1", "name: storage1"));
    let r = judge(&i);
    assert_eq!(find(&r, "name pacemaker").status, Level::Fail);
    let c = find(&r, "name corosync");
    assert_eq!(c.status, Level::Fail);
    assert!(c.detail.contains("node1 is not in"), "{}", c.detail);
    assert!(c.detail.contains("storage1, node2"), "{}", c.detail);
}

#[test]
fn missing_modules_and_tools_fail() {
    let mut i = ready();
    i.modules[1] = (
        "dm_writeboost".into(),
        false,
        Some(exit(
            1,
            "",
            "modinfo: ERROR: Module dm_writeboost not found.\n",
        )),
    );
    i.nfs_tools[0].1 = false;
    i.pacemaker_version = Err(CmdError::NotFound {
        cmd: "pacemakerd --version".into(),
    });
    let r = judge(&i);
    let m = find(&r, "module dm_writeboost");
    assert_eq!(m.status, Level::Fail);
    assert!(m.fix.as_deref().unwrap().contains("dm-writeboost-dkms"));
    assert_eq!(find(&r, "tool nfs").status, Level::Fail);
    assert_eq!(find(&r, "tool pacemaker").status, Level::Fail);
    assert_eq!(r.failed, 3);
}

#[test]
fn a_lost_link_and_a_stopped_corosync_fail() {
    let mut i = ready();
    i.cfgtool = out(&include_str!("fixtures/corosync-cfgtool-s.txt")
        .replace("2:\tconnected", "2:\tdisconnected"));
    let c = judge(&i)
        .checks
        .into_iter()
        .find(|c| c.check == "corosync link 0");
    let c = c.unwrap();
    assert_eq!(c.status, Level::Fail);
    assert!(c.detail.contains("node 2 disconnected"), "{}", c.detail);
    i.cfgtool = exit(
        1,
        "",
        "Could not initialize corosync configuration API error 2\n",
    );
    let c = judge(&i)
        .checks
        .into_iter()
        .find(|c| c.check == "corosync rings");
    assert!(c.unwrap().detail.contains("corosync is not running"));
}

#[test]
fn an_unsynchronized_clock_warns() {
    let mut i = ready();
    i.timedatectl = out(include_str!("fixtures/timedatectl-show.txt"));
    let r = judge(&i);
    let c = find(&r, "time sync");
    assert_eq!(c.status, Level::Warn);
    assert!(c.detail.contains("(no NTP service)"), "{}", c.detail);
    assert_eq!(r.failed, 0);
}

#[test]
fn cache_devices_are_judged_by_their_first_block() {
    let cache = |head: Head, format: &str| Cache {
        resource: "p_wbc".into(),
        cache_dev: "/dev/vdc".into(),
        format: format.into(),
        head,
    };
    let level = |k: Cache| {
        let mut i = ready();
        i.caches = vec![k];
        let r = judge(&i);
        find(&r, "cache p_wbc").clone()
    };
    assert_eq!(level(cache(Head::Writeboost, "never")).status, Level::Ok);
    assert_eq!(level(cache(Head::Drained, "never")).status, Level::Ok);
    let c = level(cache(Head::Zeroes, "never"));
    assert_eq!(c.status, Level::Fail);
    assert!(c.fix.unwrap().contains("set format if-unformatted"));
    assert_eq!(
        level(cache(Head::Zeroes, "if-unformatted")).status,
        Level::Warn
    );
    assert_eq!(level(cache(Head::Other, "force")).status, Level::Fail);
    assert_eq!(
        level(cache(Head::Unreadable("no such device".into()), "never")).status,
        Level::Fail
    );
}

#[test]
fn strips_that_do_not_answer_fail() {
    let mut i = ready();
    i.strips = vec![(
        "p_fence".into(),
        exit(
            1,
            "",
            "fence_ipstrip: 192.168.77.1:8080: connection refused\n",
        ),
    )];
    let r = judge(&i);
    let c = find(&r, "strip p_fence");
    assert_eq!(c.status, Level::Fail);
    assert!(c.detail.contains("connection refused"), "{}", c.detail);
    i.strips.clear();
    assert_eq!(find(&judge(&i), "power strips").status, Level::Warn);
    i.cib = Err("cibadmin: not found".into());
    let r = judge(&i);
    assert_eq!(find(&r, "cache superblock").status, Level::Warn);
    assert!(r.checks.iter().all(|c| c.check != "power strips"));
}

#[test]
fn json_has_the_levels_in_lowercase() {
    let mut i = ready();
    i.units[0].1 = out("enabled\n");
    let j = serde_json::to_value(judge(&i)).unwrap();
    assert_eq!(j["failed"], 1);
    let c = j["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "service drbd.service")
        .unwrap();
    assert_eq!(c["status"], "fail");
    assert_eq!(c["fix"], "systemctl disable drbd.service");
    let okc = j["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["status"] == "ok")
        .unwrap();
    assert!(okc.get("fix").is_none());
}
