// SPDX-License-Identifier: GPL-2.0-or-later
//! Transient node attributes and promotion scores, shared by the agents.
//!
//! Both are written only under Pacemaker and only when the value changed
//! (the last value written is kept in a per-boot state file), so that a
//! steady-state monitor usually runs no program. Pacemaker purges a node's
//! transient attributes when the node leaves and rejoins; a value older
//! than the refresh interval is therefore checked or written again.
//! Failures never fail the action: they are logged.

use super::{env, Ctx, OcfEnv};
use crate::cmd::Cmd;
use std::path::PathBuf;
use std::time::Duration;

/// Whether the action runs under Pacemaker (which passes its feature set);
/// outside it (ocf-tester, the admin command, drbd-reactor) no attribute is
/// written.
pub fn under_pacemaker(env: &OcfEnv) -> bool {
    env.get(env::FEATURE_SET).is_some()
}

/// The last value written, and whether it is younger than `refresh`.
fn cached(path: &PathBuf, refresh: Duration) -> (Option<String>, bool) {
    let value = std::fs::read_to_string(path).ok();
    let fresh = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|age| age < refresh);
    (value, fresh)
}

fn remember(ctx: &Ctx, path: &PathBuf, value: &str) {
    let _ = ctx.state.ensure();
    let _ = std::fs::write(path, value);
}

/// A transient node attribute set with attrd_updater.
pub struct NodeAttr<'a> {
    pub name: &'a str,
    /// State-file suffix that caches the last value written.
    pub cache: &'a str,
    pub refresh: Duration,
}

impl NodeAttr<'_> {
    /// Sets the attribute when it changed or the cached value is old.
    pub fn report(&self, ctx: &Ctx, value: &str) {
        if !under_pacemaker(ctx.env) {
            return;
        }
        let path = ctx.state.path(self.cache);
        let (old, fresh) = cached(&path, self.refresh);
        if fresh && old.as_deref() == Some(value) {
            return;
        }
        let cmd = Cmd::new("attrd_updater")
            .args(["-n", self.name, "-U", value])
            .timeout(Duration::from_secs(5));
        match ctx.runner.run(&cmd) {
            Ok(_) => remember(ctx, &path, value),
            Err(e) => log::warn!("could not set node attribute {}: {e}", self.name),
        }
    }

    pub fn clear(&self, ctx: &Ctx) {
        let _ = std::fs::remove_file(ctx.state.path(self.cache));
        if !under_pacemaker(ctx.env) {
            return;
        }
        let cmd = Cmd::new("attrd_updater")
            .args(["-n", self.name, "-D"])
            .timeout(Duration::from_secs(5));
        if let Err(e) = ctx.runner.run(&cmd) {
            log::warn!("could not delete node attribute {}: {e}", self.name);
        }
    }
}

/// The node's promotion score for this resource (`crm_attribute
/// --promotion`, which names the attribute after OCF_RESOURCE_INSTANCE and
/// replaces the deprecated crm_master). Each call is bounded by the
/// operation's deadline through the runner, so a hung attribute manager
/// costs a warning, not the action.
pub struct Promotion {
    /// State-file suffix caching the last score written ("-" for none).
    pub cache: &'static str,
    /// How long a cached score is trusted before it is read back.
    pub refresh: Duration,
}

const NONE: &str = "-";

impl Promotion {
    fn cmd(args: &[&str]) -> Cmd {
        Cmd::new("crm_attribute")
            .args(["--promotion", "-l", "reboot"])
            .args(args.iter().copied())
    }

    /// The score Pacemaker has now: `Ok(None)` when there is none.
    pub fn read(ctx: &Ctx) -> Result<Option<i64>, String> {
        let out = ctx
            .runner
            .output(&Self::cmd(&["-G", "-q"]))
            .map_err(|e| e.to_string())?;
        if out.status == 0 {
            return Ok(out.stdout.trim().parse().ok());
        }
        // crm_attribute exits 105 (no such object) for a missing attribute.
        if out.status == 105 || out.stderr.contains("No such") || out.stderr.contains("not found") {
            return Ok(None);
        }
        Err(format!(
            "crm_attribute --promotion -G: exit {}: {}",
            out.status,
            out.stderr.trim()
        ))
    }

    /// Whether a score is set, from the cache when it is fresh.
    pub fn have(&self, ctx: &Ctx) -> bool {
        let (old, fresh) = cached(&ctx.state.path(self.cache), self.refresh);
        match old {
            Some(v) if fresh => v != NONE,
            _ => Self::read(ctx).ok().flatten().is_some(),
        }
    }

    /// Sets the score (`None` removes it), unless it is known to be set to
    /// that already: the cache says so and is fresh, or a read shows it.
    pub fn apply(&self, ctx: &Ctx, score: Option<i64>) {
        if !under_pacemaker(ctx.env) {
            return;
        }
        let path = ctx.state.path(self.cache);
        let want = score.map_or_else(|| NONE.to_string(), |s| s.to_string());
        let (old, fresh) = cached(&path, self.refresh);
        if old.as_deref() == Some(want.as_str()) {
            if fresh {
                return;
            }
            // Unchanged but old: Pacemaker may have purged it meanwhile.
            match Self::read(ctx) {
                Ok(now) if now == score => {
                    remember(ctx, &path, &want);
                    return;
                }
                Ok(now) => log::info!(
                    "promotion score is {} in Pacemaker, expected {want}: writing it again",
                    now.map_or_else(|| "unset".to_string(), |n| n.to_string())
                ),
                Err(e) => log::warn!("{e}"),
            }
        }
        let cmd = match score {
            Some(s) => Self::cmd(&["-v", &s.to_string()]),
            None => Self::cmd(&["-D"]),
        };
        match ctx.runner.run(&cmd) {
            Ok(_) => {
                log::debug!("promotion score {want}");
                remember(ctx, &path, &want);
            }
            Err(e) => {
                let _ = std::fs::remove_file(&path);
                log::warn!("could not set the promotion score: {e}");
            }
        }
    }
}
