// SPDX-License-Identifier: GPL-2.0-or-later
//! Every OCF agent's meta-data: equal to its golden copy in ocf-metadata/
//! (regenerate with `make metadata` or UPDATE_GOLDEN=1), valid against
//! ocf-tester's DTD exactly as ocf-tester checks it and against the OCF 1.1
//! RELAX NG schema, and printable by an unprivileged user with no parameters.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_storha");
const DTD_DIR: &str = "/usr/share/resource-agents";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// OCF agents as `storha list` names them (fence agents have their own
/// meta-data format and their own tests).
fn ocf_agents() -> Vec<String> {
    let out = Command::new(BIN)
        .arg("list")
        .output()
        .expect("storha list runs");
    assert!(out.status.success());
    let names: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .filter(|n| !n.starts_with("fence_") && !n.ends_with("-stonith"))
        .collect();
    assert!(names.contains(&"floating-ip".to_string()), "{names:?}");
    names
}

fn meta_data(agent: &str) -> String {
    let out = Command::new(BIN)
        .args(["meta-data", agent])
        .env_clear()
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{agent}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

fn tool(name: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn xmllint(args: &[&str], dir: &Path, input: &str) -> (bool, String) {
    let mut child = Command::new("xmllint")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("xmllint runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("xmllint finishes");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn require_xmllint() -> bool {
    if tool("xmllint") && Path::new(DTD_DIR).join("ra-api-1.dtd").exists() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI must have xmllint and resource-agents' DTD"
    );
    eprintln!("SKIPPED (needs xmllint and resource-agents): meta-data schema checks");
    false
}

#[test]
fn golden_copies_are_current() {
    for agent in ocf_agents() {
        let fresh = meta_data(&agent);
        let path = root().join("ocf-metadata").join(format!("{agent}.xml"));
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::write(&path, &fresh).expect("write golden");
        }
        let golden = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (run make metadata)", path.display()));
        assert!(
            golden == fresh,
            "{} is stale: run `make metadata` and commit it",
            path.display()
        );
    }
}

#[test]
fn valid_against_ocf_testers_dtd() {
    if !require_xmllint() {
        return;
    }
    for agent in ocf_agents() {
        // ocf-tester: `agent meta-data | (cd /usr/share/resource-agents && xmllint --noout --valid -)`
        let (ok, err) = xmllint(
            &["--noout", "--valid", "-"],
            Path::new(DTD_DIR),
            &meta_data(&agent),
        );
        assert!(ok, "{agent} fails ra-api-1.dtd:\n{err}");
    }
}

#[test]
fn valid_against_ocf_1_1_relax_ng() {
    if !require_xmllint() {
        return;
    }
    let rng = root().join("tests/schemas/ocf-ra-api-1.1.rng");
    let rng = rng.to_str().expect("path");
    for agent in ocf_agents() {
        let (ok, err) = xmllint(
            &["--noout", "--relaxng", rng, "-"],
            &std::env::temp_dir(),
            &meta_data(&agent),
        );
        assert!(ok, "{agent} fails the OCF 1.1 schema:\n{err}");
    }
}

#[test]
fn printed_by_nobody_through_the_agent_name() {
    if !nix::unistd::Uid::effective().is_root() {
        assert!(std::env::var_os("CI").is_none(), "CI runs as root");
        eprintln!("SKIPPED (needs root to become nobody)");
        return;
    }
    // A directory nobody can read and traverse, holding links named like the agents.
    let dir = std::env::temp_dir().join(format!("storha-md-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let bin = dir.join("storha");
    std::fs::copy(BIN, &bin).expect("copy binary");
    let mut perm = std::fs::metadata(&dir).expect("stat").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
    std::fs::set_permissions(&dir, perm).expect("chmod");
    for agent in ocf_agents() {
        let link = dir.join(&agent);
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&bin, &link).expect("symlink");
        let out = Command::new("setpriv")
            .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"])
            .arg(&link)
            .arg("meta-data")
            .env_clear()
            .output()
            .expect("setpriv runs");
        assert!(out.status.success(), "{agent} meta-data as nobody: {out:?}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), meta_data(&agent));
    }
    let _ = std::fs::remove_dir_all(&dir);
}
