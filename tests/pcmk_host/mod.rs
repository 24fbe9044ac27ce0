// SPDX-License-Identifier: GPL-2.0-or-later
//! What the tests under a real Pacemaker share: the single-node cluster of
//! scripts/pcmk-host.sh, taken under its lock, started and taken down only by
//! the test that started it, and the binary under test installed as a copy
//! under a link that is restored afterwards.

#![allow(dead_code, clippy::expect_used, clippy::unwrap_used)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::thread;
use std::time::{Duration, Instant};

/// Held (flock) by whoever uses pcmk-host.sh's cluster for a while (the demo,
/// the tests), so that they queue behind each other.
pub const CLUSTER_LOCK: &str = "/run/storha-pcmk.lock";

/// How long a test waits for another user of the cluster.
const WAIT: Duration = Duration::from_secs(1800);

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// scripts/pcmk-host.sh, as a program name for `run`.
pub fn script() -> String {
    repo().join("scripts/pcmk-host.sh").display().to_string()
}

pub fn run(prog: &str, args: &[&str]) -> Output {
    Command::new(prog)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {prog}: {e}"))
}

pub fn describe(prog: &str, args: &[&str], out: &Output) -> String {
    format!(
        "`{prog} {}` exited with {}\n--- stdout\n{}--- stderr\n{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A message that must be seen even when the test passes (the harness hides
/// eprintln! output of passing tests).
pub fn loud(msg: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{msg}");
}

/// Exclusive flock on the cluster lock, waiting up to 30 minutes for the demo
/// or another test to finish with the cluster. `who` names the test in messages.
pub fn lock_cluster(who: &str) -> fs::File {
    use std::os::fd::AsRawFd;
    let f = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(CLUSTER_LOCK)
        .unwrap_or_else(|e| panic!("open {CLUSTER_LOCK}: {e}"));
    let t0 = Instant::now();
    let mut said = false;
    // SAFETY: flock on a file descriptor owned by `f`, which outlives the call;
    // no memory is passed.
    while unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        if !said {
            loud(&format!(
                "{who}: the cluster is locked by another user, waiting (up to 30 min)"
            ));
            said = true;
        }
        assert!(
            t0.elapsed() < WAIT,
            "{CLUSTER_LOCK} stayed locked for 30 minutes"
        );
        thread::sleep(Duration::from_secs(2));
    }
    f
}

/// Waits while another running process owns the cluster (a user that does not
/// take the lock, e.g. a person's shell); a leftover whose owner has exited is
/// fair game for `up`.
pub fn wait_until_not_in_use(who: &str) {
    let t0 = Instant::now();
    let mut said = false;
    loop {
        let out = run(&script(), &["in-use"]);
        if !out.status.success() {
            return;
        }
        if !said {
            loud(&format!(
                "{who}: waiting (up to 30 min), the cluster is {}",
                String::from_utf8_lossy(&out.stdout).trim()
            ));
            said = true;
        }
        assert!(
            t0.elapsed() < WAIT,
            "pcmk-host.sh's cluster stayed in use for 30 minutes: {}",
            String::from_utf8_lossy(&out.stdout).trim()
        );
        thread::sleep(Duration::from_secs(2));
    }
}

/// Takes the cluster down unless another process started one meanwhile:
/// pcmk-host.sh records who started it, and `in-use` names that other owner.
pub fn down_if_ours(who: &str) {
    let in_use = run(&script(), &["in-use"]);
    if in_use.status.success() {
        loud(&format!(
            "{who}: not taking down a cluster this test did not start: {}",
            String::from_utf8_lossy(&in_use.stdout).trim()
        ));
        return;
    }
    let out = run(&script(), &["down"]);
    if !out.status.success() {
        loud(&describe("pcmk-host.sh", &["down"], &out));
    }
}

/// Like `make install`, with a copy of the binary under test in a directory of
/// its own (readable by every user: Pacemaker's controller reads meta-data as
/// hacluster, and a build directory may sit below a private home), and `link`
/// pointing at it. Returns what `link` pointed to before, for `restore_link`.
pub fn install_copy(bin: &Path, install_dir: &str, link: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    fs::create_dir_all(install_dir).expect("create the test's install directory");
    fs::set_permissions(install_dir, fs::Permissions::from_mode(0o755))
        .expect("chmod the test's install directory");
    let copy = Path::new(install_dir).join("storha");
    fs::copy(bin, &copy).expect("copy the storha binary");
    fs::set_permissions(&copy, fs::Permissions::from_mode(0o755)).expect("chmod storha");
    let previous = fs::read_link(link).ok();
    if Path::new(link).symlink_metadata().is_ok() {
        fs::remove_file(link).expect("remove the old link");
    }
    std::os::unix::fs::symlink(&copy, link).expect("link the agent to the storha copy");
    previous
}

/// Undoes `install_copy`: the link goes back to what it was (or away), and
/// the copy with its directory is removed.
pub fn restore_link(link: &str, previous: Option<&PathBuf>, install_dir: &str) {
    let _ = fs::remove_file(link);
    if let Some(prev) = previous {
        let _ = std::os::unix::fs::symlink(prev, link);
    }
    let _ = fs::remove_dir_all(install_dir);
}
