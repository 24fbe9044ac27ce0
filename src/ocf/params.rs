// SPDX-License-Identifier: GPL-2.0-or-later
//! One declarative table per agent: it feeds the meta-data, the defaults,
//! the required checks and the typed parsing, so none of them can drift.

use super::env::{is_false, is_true, OcfEnv, RESKEY_PREFIX};
use super::OcfError;
use std::collections::BTreeMap;

/// The type of a parameter as the meta-data shows it, with the checks the
/// framework applies before the agent sees the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Free text, checked by the agent. Control characters are always refused.
    String,
    /// A whole number within an inclusive range.
    Integer { min: i64, max: i64 },
    /// `ocf_is_true` / false spellings; anything else is refused.
    Boolean,
}

#[derive(Debug, Clone, Copy)]
pub struct ParamSpec {
    pub name: &'static str,
    pub kind: Kind,
    pub required: bool,
    /// Under OCF 1.0's legacy reload rule a unique parameter forces a
    /// restart when it changes; for agents without reload it is the plain
    /// uniqueness hint.
    pub unique: bool,
    pub default: Option<&'static str>,
    pub shortdesc: &'static str,
    pub longdesc: &'static str,
}

impl ParamSpec {
    pub const fn new(name: &'static str, kind: Kind, shortdesc: &'static str) -> Self {
        ParamSpec {
            name,
            kind,
            required: false,
            unique: false,
            default: None,
            shortdesc,
            longdesc: "",
        }
    }
    pub const fn required(mut self) -> Self {
        self.required = true;
        self
    }
    pub const fn unique(mut self) -> Self {
        self.unique = true;
        self
    }
    pub const fn default(mut self, d: &'static str) -> Self {
        self.default = Some(d);
        self
    }
    pub const fn long(mut self, l: &'static str) -> Self {
        self.longdesc = l;
        self
    }
}

/// Longest value any parameter may carry. Pacemaker itself has no limit; a
/// value this long is a mistake or an attack, never a configuration.
pub const MAX_VALUE_LEN: usize = 4096;

/// Parameter values after defaults and type checks.
#[derive(Debug, Clone, Default)]
pub struct Params {
    values: BTreeMap<&'static str, String>,
    explicit: Vec<&'static str>,
}

impl Params {
    /// Reads every parameter of the table from the environment. Only the
    /// framework's generic checks run here; no command, no system access.
    pub fn from_env(specs: &'static [ParamSpec], env: &OcfEnv) -> Result<Params, OcfError> {
        let mut p = Params::default();
        for spec in specs {
            let key = format!("{RESKEY_PREFIX}{}", spec.name);
            if env.is_not_utf8(&key) {
                return Err(OcfError::Configured(format!(
                    "parameter {} is not valid UTF-8",
                    spec.name
                )));
            }
            let given = env.param(spec.name).filter(|v| !v.is_empty());
            let value = match (given, spec.default) {
                (Some(v), _) => {
                    p.explicit.push(spec.name);
                    v
                }
                (None, Some(d)) => d,
                (None, None) if spec.required => {
                    return Err(OcfError::Configured(format!(
                        "required parameter {} is not set",
                        spec.name
                    )))
                }
                (None, None) => continue,
            };
            check_value(spec, value)?;
            p.values.insert(spec.name, value.to_string());
        }
        for (name, _) in env.params() {
            if !specs.iter().any(|s| s.name == name) {
                log::warn!("ignoring unknown parameter {name}");
            }
        }
        Ok(p)
    }

    /// The value (given or default), if any.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// Whether the user set it (as opposed to a default applying).
    pub fn is_set(&self, name: &str) -> bool {
        self.explicit.contains(&name)
    }

    /// Boolean value; the framework has already refused anything that is
    /// neither true nor false, so an absent value reads as false.
    pub fn flag(&self, name: &str) -> bool {
        self.get(name).is_some_and(is_true)
    }

    /// Integer value, already range-checked against the table.
    pub fn int(&self, name: &str) -> Option<i64> {
        self.get(name).and_then(|v| v.trim().parse().ok())
    }

    #[cfg(test)]
    pub fn from_pairs(
        specs: &'static [ParamSpec],
        pairs: &[(&str, &str)],
    ) -> Result<Params, OcfError> {
        let owned: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (format!("{RESKEY_PREFIX}{k}"), v.to_string()))
            .collect();
        let env = OcfEnv::from_pairs(owned.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        Params::from_env(specs, &env)
    }
}

fn check_value(spec: &ParamSpec, value: &str) -> Result<(), OcfError> {
    let name = spec.name;
    if value.len() > MAX_VALUE_LEN {
        return Err(OcfError::Configured(format!(
            "parameter {name} is {} bytes long (at most {MAX_VALUE_LEN})",
            value.len()
        )));
    }
    if value.chars().any(char::is_control) {
        return Err(OcfError::Configured(format!(
            "parameter {name} contains a control character (newline, tab, ...)"
        )));
    }
    match spec.kind {
        Kind::String => Ok(()),
        Kind::Boolean if is_true(value) || is_false(value) => Ok(()),
        Kind::Boolean => Err(OcfError::Configured(format!(
            "parameter {name}={} is not a boolean (use true or false)",
            shown(value)
        ))),
        Kind::Integer { min, max } => match value.trim().parse::<i64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(()),
            Ok(n) => Err(OcfError::Configured(format!(
                "parameter {name}={n} is out of range ({min} to {max})"
            ))),
            Err(_) => Err(OcfError::Configured(format!(
                "parameter {name}={} is not a whole number",
                shown(value)
            ))),
        },
    }
}

/// A value quoted for an error message, cut so a hostile value cannot flood
/// the exit reason (Pacemaker keeps 128 characters of it).
pub fn shown(value: &str) -> String {
    const MAX: usize = 40;
    let mut s: String = value.chars().take(MAX).collect();
    if value.chars().count() > MAX {
        s.push_str("...");
    }
    format!("'{s}'")
}

/// Invariants every agent's table must satisfy; called by each agent's tests.
#[cfg(test)]
pub fn check_table(specs: &[ParamSpec]) {
    let mut names = std::collections::BTreeSet::new();
    for s in specs {
        assert!(names.insert(s.name), "duplicate parameter {}", s.name);
        assert!(
            s.name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
            "parameter name {} is not snake_case",
            s.name
        );
        assert!(
            !(s.required && s.default.is_some()),
            "required {} has a default",
            s.name
        );
        assert!(
            !s.shortdesc.is_empty() && !s.longdesc.is_empty(),
            "{} lacks a description",
            s.name
        );
        assert!(s.shortdesc.len() <= 80, "{} shortdesc too long", s.name);
        if let Some(d) = s.default {
            check_value(s, d).unwrap_or_else(|e| panic!("default of {} is invalid: {e}", s.name));
        }
        if let Kind::Integer { min, max } = s.kind {
            assert!(min <= max, "{} has an empty range", s.name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static SPECS: &[ParamSpec] = &[
        ParamSpec::new("ip", Kind::String, "address")
            .required()
            .unique()
            .long("The address."),
        ParamSpec::new("count", Kind::Integer { min: 0, max: 10 }, "count")
            .default("5")
            .long("N."),
        ParamSpec::new("flag", Kind::Boolean, "flag")
            .default("false")
            .long("F."),
    ];

    #[test]
    fn table_invariants() {
        check_table(SPECS);
    }

    #[test]
    fn defaults_apply_and_explicit_values_win() {
        let p = Params::from_pairs(SPECS, &[("ip", "x")]).expect("valid");
        assert_eq!(p.int("count"), Some(5));
        assert!(!p.flag("flag"));
        assert!(p.is_set("ip") && !p.is_set("count"));
        let p = Params::from_pairs(SPECS, &[("ip", "x"), ("count", "7"), ("flag", "yes")])
            .expect("valid");
        assert_eq!(p.int("count"), Some(7));
        assert!(p.flag("flag"));
    }

    #[test]
    fn empty_value_counts_as_unset() {
        let p = Params::from_pairs(SPECS, &[("ip", "x"), ("count", "")]).expect("valid");
        assert_eq!(p.int("count"), Some(5));
    }

    fn err(pairs: &[(&str, &str)]) -> String {
        match Params::from_pairs(SPECS, pairs) {
            Err(e) => {
                assert_eq!(e.status().code(), 6, "{e}");
                e.to_string()
            }
            Ok(_) => panic!("{pairs:?} accepted"),
        }
    }

    #[test]
    fn bad_input_is_refused_with_a_reason() {
        assert_eq!(err(&[]), "required parameter ip is not set");
        assert!(err(&[("ip", "x"), ("count", "11")]).contains("out of range (0 to 10)"));
        assert!(err(&[("ip", "x"), ("count", "-1")]).contains("out of range"));
        assert!(err(&[("ip", "x"), ("count", "abc")]).contains("not a whole number"));
        assert!(err(&[("ip", "x"), ("count", "99999999999999999999")]).contains("whole number"));
        assert!(err(&[("ip", "x"), ("flag", "maybe")]).contains("not a boolean"));
        assert!(err(&[("ip", "a\nb")]).contains("control character"));
        assert!(err(&[("ip", &"x".repeat(5000))]).contains("5000 bytes long"));
    }

    #[test]
    fn shown_cuts_long_values() {
        assert_eq!(shown("abc"), "'abc'");
        assert_eq!(shown(&"y".repeat(100)).len(), 40 + 5);
    }
}
