// SPDX-License-Identifier: GPL-2.0-or-later
//! writeboost-cache on this host, through the installed-style link, with
//! loop devices standing in for the disks. The host has no device-mapper,
//! so this covers what the agent does before it would create a device:
//! block device checks, "in use" detection, the superblock read past the
//! page cache, refusals, and that none of it writes a byte to either disk.
//! Needs root and losetup; skipped (with a message) otherwise.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_storha");

struct Loop {
    dev: String,
    img: PathBuf,
}

impl Loop {
    fn new(tag: &str, mib: u64) -> Option<Loop> {
        let img = std::env::temp_dir().join(format!("storha-wb-{}-{tag}.img", std::process::id()));
        std::fs::File::create(&img).ok()?.set_len(mib << 20).ok()?;
        let out = Command::new("losetup")
            .args(["-f", "--show"])
            .arg(&img)
            .output()
            .ok()?;
        if !out.status.success() {
            let _ = std::fs::remove_file(&img);
            return None;
        }
        let dev = String::from_utf8_lossy(&out.stdout).trim().to_string();
        Some(Loop { dev, img })
    }

    fn contents(&self) -> Vec<u8> {
        std::fs::read(&self.img).expect("image readable")
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.dev).output();
        let _ = Command::new("losetup").args(["-d", &self.dev]).output();
        let _ = std::fs::remove_file(&self.img);
    }
}

/// Prints a loud skip line, or fails under CI (`CI` set), where nothing may pass by skipping.
fn skip(what: &str) {
    assert!(
        std::env::var_os("CI").is_none(),
        "{what}, and CI is set: refusing to skip"
    );
    eprintln!("SKIPPED: {what}");
}

fn usable() -> bool {
    let root = nix::unistd::Uid::effective().is_root();
    if !root || Command::new("losetup").arg("--version").output().is_err() {
        skip("needs root and losetup");
        return false;
    }
    true
}

fn link() -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("storha-wbl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("writeboost-cache");
    let _ = std::fs::remove_file(&path);
    std::os::unix::fs::symlink(BIN, &path).expect("symlink");
    (dir, path)
}

fn agent(path: &Path, action: &str, params: &[(&str, &str)]) -> Output {
    let mut c = Command::new(path);
    c.arg(action)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("OCF_ROOT", "/usr/lib/ocf")
        .env("HA_RSCTMP", std::env::temp_dir())
        .env("OCF_RESKEY_CRM_meta_timeout", "20000")
        .stdin(std::process::Stdio::null());
    for (k, v) in params {
        c.env(format!("OCF_RESKEY_{k}"), v);
    }
    c.output().expect("runs")
}

fn reason(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr)
        .lines()
        .filter_map(|l| l.strip_prefix("ocf-exit-reason:"))
        .next_back()
        .unwrap_or("")
        .to_string()
}

#[test]
fn checks_refusals_and_no_write_on_loop_devices() {
    if !usable() {
        return;
    }
    let (Some(hdd), Some(nvme)) = (Loop::new("hdd", 8), Loop::new("nvme", 4)) else {
        skip("no loop device available");
        return;
    };
    let (dir, path) = link();
    let base = [
        ("name", "wbtest"),
        ("backing_dev", hdd.dev.as_str()),
        ("cache_dev", nvme.dev.as_str()),
    ];
    let with = |extra: &[(&'static str, &'static str)]| -> Vec<(&str, String)> {
        let mut v: Vec<(&str, String)> = base.iter().map(|(k, v)| (*k, v.to_string())).collect();
        for (k, val) in extra {
            v.retain(|(kk, _)| kk != k);
            v.push((k, val.to_string()));
        }
        v
    };
    let run = |action: &str, p: &[(&str, String)]| {
        let pairs: Vec<(&str, &str)> = p.iter().map(|(k, v)| (*k, v.as_str())).collect();
        agent(&path, action, &pairs)
    };

    // Two distinct, unused block devices: valid.
    let o = run("validate-all", &with(&[]));
    assert_eq!(o.status.code(), Some(0), "{}", reason(&o));
    // Probe and stop where device-mapper does not even exist.
    assert_eq!(run("monitor", &with(&[])).status.code(), Some(7));
    assert_eq!(run("stop", &with(&[])).status.code(), Some(0));

    // An empty cache device and the default policy: refused, nothing written.
    let o = run("start", &with(&[]));
    assert_eq!(o.status.code(), Some(2));
    assert!(reason(&o).contains("format=never"), "{}", reason(&o));

    // The same device under two names, and a path with '.' components.
    let alias = format!("/dev/storha-test-alias-{}", std::process::id());
    if std::os::unix::fs::symlink(&hdd.dev, &alias).is_ok() {
        let o = run(
            "validate-all",
            &with(&[])
                .into_iter()
                .map(|(k, v)| {
                    if k == "cache_dev" {
                        (k, alias.clone())
                    } else {
                        (k, v)
                    }
                })
                .collect::<Vec<_>>(),
        );
        let _ = std::fs::remove_file(&alias);
        assert_eq!(o.status.code(), Some(2));
        assert!(reason(&o).contains("are the same device"), "{}", reason(&o));
    }
    let dotted = hdd.dev.replace("/dev/", "/dev/./");
    let o = run(
        "validate-all",
        &with(&[])
            .into_iter()
            .map(|(k, v)| {
                if k == "cache_dev" {
                    (k, dotted.clone())
                } else {
                    (k, v)
                }
            })
            .collect::<Vec<_>>(),
    );
    assert_eq!(o.status.code(), Some(6), "{}", reason(&o));

    // Not a block device, and missing.
    let o = run("validate-all", &with(&[("backing_dev", "/dev/null")]));
    assert_eq!(o.status.code(), Some(2));
    assert!(
        reason(&o).contains("is not a block device"),
        "{}",
        reason(&o)
    );
    let o = run("start", &with(&[("cache_dev", "/dev/storha-no-such-disk")]));
    assert_eq!(o.status.code(), Some(2));
    assert!(reason(&o).contains("does not exist on this node"));

    // A mounted backing device is in use.
    let mkfs = Command::new("mkfs.ext4")
        .args(["-q", "-F", &hdd.dev])
        .output();
    let mnt = dir.join("mnt");
    std::fs::create_dir_all(&mnt).expect("mnt");
    if mkfs.is_ok_and(|o| o.status.success())
        && Command::new("mount")
            .arg(&hdd.dev)
            .arg(&mnt)
            .status()
            .is_ok_and(|s| s.success())
    {
        let o = run("validate-all", &with(&[]));
        assert_eq!(o.status.code(), Some(2));
        assert!(
            reason(&o).contains(&format!("is in use by mount {}", mnt.display())),
            "{}",
            reason(&o)
        );
        let _ = Command::new("umount").arg(&mnt).status();
    } else {
        skip("mount part: cannot mkfs/mount a loop device here");
    }

    // A cache with the magic, written through the loop device: start must
    // see it past the page cache (read earlier as zeros above) and then
    // stop at the missing kernel module, having written nothing.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&nvme.dev)
        .and_then(|mut f| {
            use std::io::Write;
            f.write_all(&[0x74, 0x73, 0x42, 0x57])?;
            f.sync_all()
        })
        .expect("write magic");
    let before = (hdd.contents(), nvme.contents());
    let o = run("start", &with(&[("write_around_mode", "true")]));
    assert_eq!(o.status.code(), Some(2), "{}", reason(&o));
    assert!(
        reason(&o).contains("write_around_mode=true would reformat"),
        "{}",
        reason(&o)
    );
    let o = run(
        "start",
        &with(&[("format", "force"), ("write_around_mode", "true")]),
    );
    assert_eq!(o.status.code(), Some(5), "{}", reason(&o));
    assert!(
        reason(&o).contains("dm-writeboost is not available"),
        "{}",
        reason(&o)
    );
    assert_eq!((hdd.contents(), nvme.contents()), before, "no byte written");
    let _ = std::fs::remove_dir_all(&dir);
}
