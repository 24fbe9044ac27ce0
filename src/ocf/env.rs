// SPDX-License-Identifier: GPL-2.0-or-later
//! The OCF environment: every variable name is spelled once, here.

use std::collections::BTreeMap;
use std::time::Duration;

pub const OCF_ROOT: &str = "OCF_ROOT";
pub const OCF_RESOURCE_INSTANCE: &str = "OCF_RESOURCE_INSTANCE";
pub const OCF_RESOURCE_TYPE: &str = "OCF_RESOURCE_TYPE";
pub const OCF_RESOURCE_PROVIDER: &str = "OCF_RESOURCE_PROVIDER";
pub const OCF_RA_VERSION_MAJOR: &str = "OCF_RA_VERSION_MAJOR";
pub const OCF_RA_VERSION_MINOR: &str = "OCF_RA_VERSION_MINOR";
pub const OCF_EXIT_REASON_PREFIX: &str = "OCF_EXIT_REASON_PREFIX";
pub const OCF_CHECK_LEVEL: &str = "OCF_CHECK_LEVEL";
pub const OCF_TRACE_RA: &str = "OCF_TRACE_RA";
pub const OCF_TRACE_FILE: &str = "OCF_TRACE_FILE";
pub const HA_LOGFACILITY: &str = "HA_LOGFACILITY";
pub const HA_LOGFILE: &str = "HA_LOGFILE";
pub const HA_DEBUGLOG: &str = "HA_DEBUGLOG";
pub const HA_DEBUG: &str = "HA_debug";
pub const HA_RSCTMP: &str = "HA_RSCTMP";
pub const RESKEY_PREFIX: &str = "OCF_RESKEY_";
pub const META_PREFIX: &str = "OCF_RESKEY_CRM_meta_";
pub const META_TIMEOUT: &str = "OCF_RESKEY_CRM_meta_timeout";
pub const META_INTERVAL: &str = "OCF_RESKEY_CRM_meta_interval";
pub const FEATURE_SET: &str = "OCF_RESKEY_crm_feature_set";

pub const DEFAULT_EXIT_REASON_PREFIX: &str = "ocf-exit-reason:";
pub const DEFAULT_OCF_ROOT: &str = "/usr/lib/ocf";
pub const DEFAULT_RSCTMP: &str = "/run/resource-agents";
/// Pacemaker's default operation timeout (`CRM_DEFAULT_OP_TIMEOUT_S`).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);

/// A snapshot of the variables an action runs with. Built from the process
/// environment in production and from a map in tests and admin mode.
#[derive(Debug, Clone, Default)]
pub struct OcfEnv {
    vars: BTreeMap<String, String>,
    /// Variables whose value was not valid UTF-8; a parameter among them is
    /// reported as misconfigured rather than silently mangled.
    not_utf8: Vec<String>,
}

impl OcfEnv {
    pub fn from_process() -> Self {
        let mut env = OcfEnv::default();
        for (k, v) in std::env::vars_os() {
            let Some(k) = k.to_str().map(str::to_owned) else {
                continue;
            };
            match v.into_string() {
                Ok(v) => {
                    env.vars.insert(k, v);
                }
                Err(_) => env.not_utf8.push(k),
            }
        }
        env
    }

    #[cfg(test)]
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        OcfEnv {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            not_utf8: Vec::new(),
        }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    /// A value that is set and not empty.
    pub fn nonempty(&self, name: &str) -> Option<&str> {
        self.get(name).filter(|v| !v.is_empty())
    }

    pub fn is_not_utf8(&self, name: &str) -> bool {
        self.not_utf8.iter().any(|n| n == name)
    }

    pub fn instance(&self) -> Option<&str> {
        self.nonempty(OCF_RESOURCE_INSTANCE)
    }

    /// Instance parameters (`OCF_RESKEY_<name>`), excluding Pacemaker's own
    /// `CRM_meta_*` and `crm_feature_set`.
    pub fn params(&self) -> impl Iterator<Item = (&str, &str)> {
        self.vars.iter().filter_map(|(k, v)| {
            let name = k.strip_prefix(RESKEY_PREFIX)?;
            if k.starts_with(META_PREFIX) || k == FEATURE_SET {
                None
            } else {
                Some((name, v.as_str()))
            }
        })
    }

    pub fn param(&self, name: &str) -> Option<&str> {
        self.vars
            .get(&format!("{RESKEY_PREFIX}{name}"))
            .map(String::as_str)
    }

    /// `CRM_meta_timeout` is in milliseconds; a missing or garbled value
    /// falls back to Pacemaker's default rather than to "no limit".
    pub fn timeout(&self) -> Duration {
        self.get(META_TIMEOUT)
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|ms| *ms > 0)
            .map(Duration::from_millis)
            .unwrap_or(DEFAULT_TIMEOUT)
    }

    /// Interval of a recurring operation in ms; absent means 0 (a probe when
    /// the action is monitor), as `ocf_is_probe` has it.
    pub fn interval_ms(&self) -> u64 {
        self.get(META_INTERVAL)
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    }

    pub fn exit_reason_prefix(&self) -> &str {
        self.nonempty(OCF_EXIT_REASON_PREFIX)
            .unwrap_or(DEFAULT_EXIT_REASON_PREFIX)
    }

    pub fn check_level(&self) -> u32 {
        self.get(OCF_CHECK_LEVEL)
            .or_else(|| self.get("OCF_RESKEY_OCF_CHECK_LEVEL"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    }

    pub fn rsctmp(&self) -> &str {
        self.nonempty(HA_RSCTMP).unwrap_or(DEFAULT_RSCTMP)
    }

    /// A `CRM_meta_*` variable (clone, notify, ...) by its short name.
    pub fn meta(&self, name: &str) -> Option<&str> {
        self.get(&format!("{META_PREFIX}{name}"))
    }
}

/// `ocf_is_true` of ocf-shellfuncs.
pub fn is_true(v: &str) -> bool {
    matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "yes" | "true" | "1" | "ja" | "on"
    )
}

/// The values ocf-shellfuncs users write for "no". Anything that is neither
/// true nor false is rejected by parameter validation instead of being read
/// as false, as the shell agents would.
pub fn is_false(v: &str) -> bool {
    matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "no" | "false" | "0" | "nein" | "off"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_exclude_pacemaker_meta() {
        let env = OcfEnv::from_pairs([
            ("OCF_RESKEY_ip", "192.0.2.1"),
            ("OCF_RESKEY_CRM_meta_timeout", "20000"),
            ("OCF_RESKEY_crm_feature_set", "3.16.1"),
            ("PATH", "/bin"),
        ]);
        let p: Vec<_> = env.params().collect();
        assert_eq!(p, vec![("ip", "192.0.2.1")]);
        assert_eq!(env.param("ip"), Some("192.0.2.1"));
    }

    #[test]
    fn timeout_and_interval_defaults() {
        let env = OcfEnv::from_pairs([]);
        assert_eq!(env.timeout(), Duration::from_secs(20));
        assert_eq!(env.interval_ms(), 0);
        let env = OcfEnv::from_pairs([(META_TIMEOUT, "90000"), (META_INTERVAL, "10000")]);
        assert_eq!(env.timeout(), Duration::from_secs(90));
        assert_eq!(env.interval_ms(), 10000);
        let env = OcfEnv::from_pairs([(META_TIMEOUT, "garbage")]);
        assert_eq!(env.timeout(), DEFAULT_TIMEOUT);
    }

    #[test]
    fn booleans_follow_ocf_is_true() {
        for t in ["yes", "true", "1", "YES", "True", "ja", "on", "ON"] {
            assert!(is_true(t), "{t}");
        }
        for f in ["no", "false", "0", "NO", "off", "nein"] {
            assert!(is_false(f) && !is_true(f), "{f}");
        }
        assert!(!is_true("maybe") && !is_false("maybe"));
    }

    #[test]
    fn exit_reason_prefix_defaults() {
        assert_eq!(
            OcfEnv::from_pairs([]).exit_reason_prefix(),
            "ocf-exit-reason:"
        );
        let env = OcfEnv::from_pairs([(OCF_EXIT_REASON_PREFIX, "why:")]);
        assert_eq!(env.exit_reason_prefix(), "why:");
    }
}
