// SPDX-License-Identifier: GPL-2.0-or-later
//! The fence agent's option table and the two ways options arrive.
//!
//! One table feeds stdin parsing (what pacemaker-fenced sends), getopt-style
//! command-line parsing (what a person types), the defaults and the
//! meta-data, as fence-agents' `all_opt` does, so none of them can drift.
//!
//! Stdin follows fencing.py's `_parse_input_stdin`: blank lines and `#`
//! comments are skipped, the line is split at the first `=`, surrounding
//! double quotes are stripped, `-` and `_` are the same in a key, the key
//! may be the current name or the old one (`ipaddr`, `login`, `passwd`,
//! `port`, `option`...), the last value wins, and unknown keys are warned
//! about and ignored (except `nodename`, which the fencer always sends).

use std::collections::BTreeMap;
use std::fmt;

/// How a value is checked and how the meta-data shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptKind {
    /// A switch: on the command line it takes no value.
    Flag,
    String,
    Integer,
    /// Seconds, fractions allowed (`0.5`).
    Second,
    /// One of a fixed set of values.
    Select(&'static [&'static str]),
}

#[derive(Debug, Clone, Copy)]
pub struct FenceOpt {
    /// The current name: stdin key and meta-data parameter.
    pub name: &'static str,
    /// The name it replaced; still accepted, shown as deprecated.
    pub old: Option<&'static str>,
    /// Further stdin keys accepted silently (`option` for `action`).
    pub aliases: &'static [&'static str],
    pub short: Option<char>,
    /// `--long` option, without the dashes.
    pub long: &'static str,
    /// What the value is called in `--long=[...]`.
    pub metavar: &'static str,
    pub kind: OptKind,
    pub default: Option<&'static str>,
    pub required: bool,
    /// Never printed, logged or put in an error message.
    pub secret: bool,
    /// Listed in the meta-data (help and version are command-line only in
    /// spirit but fencing.py lists them too, so they stay listed).
    pub shortdesc: &'static str,
}

impl FenceOpt {
    pub const fn new(
        name: &'static str,
        long: &'static str,
        kind: OptKind,
        shortdesc: &'static str,
    ) -> Self {
        FenceOpt {
            name,
            old: None,
            aliases: &[],
            short: None,
            long,
            metavar: "",
            kind,
            default: None,
            required: false,
            secret: false,
            shortdesc,
        }
    }
    pub const fn old(mut self, o: &'static str) -> Self {
        self.old = Some(o);
        self
    }
    pub const fn aliases(mut self, a: &'static [&'static str]) -> Self {
        self.aliases = a;
        self
    }
    pub const fn short(mut self, c: char) -> Self {
        self.short = Some(c);
        self
    }
    pub const fn metavar(mut self, m: &'static str) -> Self {
        self.metavar = m;
        self
    }
    pub const fn default(mut self, d: &'static str) -> Self {
        self.default = Some(d);
        self
    }
    pub const fn required(mut self) -> Self {
        self.required = true;
        self
    }
    pub const fn secret(mut self) -> Self {
        self.secret = true;
        self
    }

    /// `-n, --plug=[id]` as fence-agents writes it in `<getopt mixed=...>`.
    pub fn getopt(&self) -> String {
        let mut s = String::new();
        if let Some(c) = self.short {
            s.push('-');
            s.push(c);
            s.push_str(", ");
        }
        s.push_str("--");
        s.push_str(self.long);
        if self.kind != OptKind::Flag {
            s.push_str("=[");
            s.push_str(if self.metavar.is_empty() {
                self.name
            } else {
                self.metavar
            });
            s.push(']');
        }
        s
    }

    fn matches_key(&self, key: &str) -> bool {
        let fold = |s: &str| s.replace('-', "_");
        let key = fold(key);
        key == self.name
            || key == fold(self.long)
            || self.old.is_some_and(|o| key == o)
            || self.aliases.iter().any(|a| key == *a)
    }
}

/// Options after parsing: canonical name -> value as given. Booleans are
/// kept as given and read with [`Options::flag`].
#[derive(Clone, Default)]
pub struct Options {
    values: BTreeMap<&'static str, String>,
    table: &'static [&'static [FenceOpt]],
    /// Problems seen while parsing that are not fatal (unknown keys).
    pub warnings: Vec<String>,
}

/// Secrets stay out of `{:?}`: a debug print of the options is the classic
/// way a password ends up in a log.
impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        for (k, v) in &self.values {
            let secret = self.find(k).is_some_and(|o| o.secret);
            m.entry(k, &if secret { "<hidden>" } else { v.as_str() });
        }
        m.finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

pub fn is_true(v: &str) -> bool {
    matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "1" | "yes" | "on" | "true" | "y"
    )
}

pub fn is_false(v: &str) -> bool {
    matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "0" | "no" | "off" | "false" | "n"
    )
}

impl Options {
    pub fn new(table: &'static [&'static [FenceOpt]]) -> Self {
        Options {
            values: BTreeMap::new(),
            table,
            warnings: Vec::new(),
        }
    }

    pub fn all(&self) -> impl Iterator<Item = &'static FenceOpt> {
        self.table.iter().flat_map(|t| t.iter())
    }

    fn find(&self, name: &str) -> Option<&'static FenceOpt> {
        self.all().find(|o| o.name == name)
    }

    fn find_key(&self, key: &str) -> Option<&'static FenceOpt> {
        self.all().find(|o| o.matches_key(key))
    }

    /// The value given, or the table's default.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values
            .get(name)
            .map(String::as_str)
            .or_else(|| self.find(name).and_then(|o| o.default))
    }

    /// Only what was given, without the default.
    pub fn given(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    pub fn set(&mut self, name: &'static str, value: impl Into<String>) {
        self.values.insert(name, value.into());
    }

    /// A flag is on when given with a true value or with no value at all
    /// (`--ssl`, or `ssl=` on stdin as fencing.py treats it).
    pub fn flag(&self, name: &str) -> bool {
        match self.get(name) {
            Some(v) => v.trim().is_empty() || is_true(v),
            None => false,
        }
    }

    /// Seconds as a float; fence-agents allows fractions in `second` options.
    pub fn seconds(&self, name: &str) -> Result<f64, UsageError> {
        let v = self.get(name).unwrap_or("0");
        v.trim()
            .parse::<f64>()
            .ok()
            .filter(|s| s.is_finite() && *s >= 0.0 && *s < 1e6)
            .ok_or_else(|| UsageError(format!("{name}={v}: not a number of seconds")))
    }

    pub fn integer(&self, name: &str) -> Result<Option<i64>, UsageError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse::<i64>()
                .map(Some)
                .map_err(|_| UsageError(format!("{name}={v}: not an integer"))),
        }
    }

    /// Stores one `key=value` pair from stdin or a command line, by any of
    /// the option's names.
    fn store(&mut self, key: &str, value: &str) -> bool {
        match self.find_key(key) {
            Some(o) => {
                self.values.insert(o.name, value.to_string());
                true
            }
            None => false,
        }
    }

    /// Parses what pacemaker-fenced writes on stdin.
    pub fn parse_stdin(table: &'static [&'static [FenceOpt]], text: &str) -> Options {
        let mut opts = Options::new(table);
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                opts.warnings.push(format!(
                    "ignoring a line without '=' ({} bytes)",
                    line.len()
                ));
                continue;
            };
            let key = key.trim();
            let mut value = value.trim();
            if value.len() >= 2 && value.starts_with('"') && value.ends_with('"') {
                value = &value[1..value.len() - 1];
            }
            if !opts.store(key, value) && key != "nodename" && key != "nodeid" {
                // The key may itself be a mistyped secret, but it is what
                // the user needs to see to fix the configuration; only the
                // value is left out.
                let shown = super::printable(key, 64);
                opts.warnings
                    .push(format!("parse error: unknown option '{shown}'"));
            }
        }
        opts
    }

    /// Parses getopt-style arguments: `-o off`, `-ooff`, `--action=off`,
    /// `--action off`, flags `-v`, `--ssl`, several short flags in one `-vq`.
    pub fn parse_args(
        table: &'static [&'static [FenceOpt]],
        args: &[String],
    ) -> Result<Options, UsageError> {
        let mut opts = Options::new(table);
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            if let Some(long) = arg.strip_prefix("--") {
                let (name, inline) = match long.split_once('=') {
                    Some((n, v)) => (n, Some(v)),
                    None => (long, None),
                };
                let o = opts
                    .all()
                    .find(|o| o.long == name)
                    .ok_or_else(|| UsageError(format!("unknown option --{name}")))?;
                if o.kind == OptKind::Flag {
                    opts.values
                        .insert(o.name, inline.unwrap_or("1").to_string());
                } else {
                    let v = match inline {
                        Some(v) => v.to_string(),
                        None => it
                            .next()
                            .cloned()
                            .ok_or_else(|| UsageError(format!("--{name} needs a value")))?,
                    };
                    opts.values.insert(o.name, v);
                }
            } else if let Some(shorts) = arg.strip_prefix('-').filter(|s| !s.is_empty()) {
                for (i, c) in shorts.char_indices() {
                    let o = opts
                        .all()
                        .find(|o| o.short == Some(c))
                        .ok_or_else(|| UsageError(format!("unknown option -{c}")))?;
                    if o.kind == OptKind::Flag {
                        opts.values.insert(o.name, "1".to_string());
                        continue;
                    }
                    let rest = &shorts[i + c.len_utf8()..];
                    let v = if rest.is_empty() {
                        it.next()
                            .cloned()
                            .ok_or_else(|| UsageError(format!("-{c} needs a value")))?
                    } else {
                        rest.to_string()
                    };
                    opts.values.insert(o.name, v);
                    break;
                }
            } else {
                return Err(UsageError(format!(
                    "unexpected argument '{}'",
                    if arg.contains('=') { "key=value" } else { arg }
                )));
            }
        }
        Ok(opts)
    }

    /// Table checks every action but meta-data needs: values of the right
    /// type, select values from their list.
    pub fn check_types(&self) -> Result<(), UsageError> {
        for (name, v) in &self.values {
            let Some(o) = self.find(name) else { continue };
            let bad = match o.kind {
                OptKind::Flag => !(v.trim().is_empty() || is_true(v) || is_false(v)),
                OptKind::Integer => v.trim().parse::<i64>().is_err(),
                OptKind::Second => self.seconds(name).is_err(),
                OptKind::Select(list) => !list.contains(&v.as_str()),
                OptKind::String => false,
            };
            if bad {
                let shown = if o.secret { "<hidden>" } else { v.as_str() };
                let hint = match o.kind {
                    OptKind::Select(list) => format!(" (one of {})", list.join(", ")),
                    OptKind::Flag => " (true or false)".to_string(),
                    OptKind::Integer => " (an integer)".to_string(),
                    OptKind::Second => " (seconds)".to_string(),
                    OptKind::String => String::new(),
                };
                return Err(UsageError(format!("invalid value {name}={shown}{hint}")));
            }
        }
        Ok(())
    }

    /// Every secret value, to scrub from any text before it is shown.
    pub fn secrets(&self) -> Vec<String> {
        self.values
            .iter()
            .filter(|(k, v)| !v.is_empty() && self.find(k).is_some_and(|o| o.secret))
            .map(|(_, v)| v.clone())
            .collect()
    }
}

/// Replaces every secret in `text` by `<hidden>`. The last line of defence:
/// device errors can echo what was sent (a URL with an API key, say).
pub fn scrub(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_string();
    for s in secrets {
        if s.len() >= 3 {
            out = out.replace(s.as_str(), "<hidden>");
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    static T: &[FenceOpt] = &[
        FenceOpt::new("action", "action", OptKind::String, "Fencing action")
            .short('o')
            .aliases(&["option"])
            .default("reboot"),
        FenceOpt::new("ip", "ip", OptKind::String, "IP")
            .short('a')
            .old("ipaddr"),
        FenceOpt::new("username", "username", OptKind::String, "Login")
            .short('l')
            .old("login"),
        FenceOpt::new("password", "password", OptKind::String, "Password")
            .short('p')
            .old("passwd")
            .secret(),
        FenceOpt::new("plug", "plug", OptKind::String, "Plug")
            .short('n')
            .old("port"),
        FenceOpt::new("power_wait", "power-wait", OptKind::Second, "Wait").default("0"),
        FenceOpt::new("ssl", "ssl", OptKind::Flag, "SSL").short('z'),
        FenceOpt::new("verbose", "verbose", OptKind::Flag, "Verbose").short('v'),
        FenceOpt::new(
            "snmp_version",
            "snmp-version",
            OptKind::Select(&["1", "2c", "3"]),
            "V",
        )
        .short('d'),
    ];
    static TABLE: &[&[FenceOpt]] = &[T];

    #[test]
    fn stdin_like_fencing_py() {
        let o = Options::parse_stdin(
            TABLE,
            "# a comment\n\n  ipaddr = 10.0.0.1 \naction=off\nport=\"3\"\nlogin=admin\n\
             passwd=s3cret\nnodename=node1\nbogus=1\naction=on\npower-wait=2\nnoequals\n",
        );
        assert_eq!(o.get("ip"), Some("10.0.0.1"));
        assert_eq!(o.get("action"), Some("on"), "last value wins");
        assert_eq!(o.get("plug"), Some("3"), "quotes stripped");
        assert_eq!(o.get("username"), Some("admin"));
        assert_eq!(o.get("password"), Some("s3cret"));
        assert_eq!(o.get("power_wait"), Some("2"), "- folded to _");
        assert_eq!(o.warnings.len(), 2, "{:?}", o.warnings);
        assert!(o.warnings[0].contains("'bogus'"));
        assert!(!format!("{o:?}").contains("s3cret"));
        assert!(format!("{o:?}").contains("<hidden>"));
    }

    #[test]
    fn new_names_and_old_alias_option() {
        let o = Options::parse_stdin(TABLE, "option=status\nip=h\nplug=1,2\nusername=u\n");
        assert_eq!(o.get("action"), Some("status"));
        assert_eq!(o.get("plug"), Some("1,2"));
        let o = Options::parse_stdin(TABLE, "");
        assert_eq!(o.get("action"), Some("reboot"), "default");
        assert_eq!(o.given("action"), None);
    }

    #[test]
    fn command_line_like_getopt() {
        let args: Vec<String> = [
            "-o",
            "off",
            "-a10.0.0.1",
            "--plug=4",
            "--username",
            "u",
            "-vz",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let o = Options::parse_args(TABLE, &args).expect("parses");
        assert_eq!(o.get("action"), Some("off"));
        assert_eq!(o.get("ip"), Some("10.0.0.1"));
        assert_eq!(o.get("plug"), Some("4"));
        assert_eq!(o.get("username"), Some("u"));
        assert!(o.flag("verbose") && o.flag("ssl"));
        for bad in [
            &["--nope"][..],
            &["-o"][..],
            &["-x"][..],
            &["stray"][..],
            &["--plug"][..],
        ] {
            let args: Vec<String> = bad.iter().map(|s| s.to_string()).collect();
            assert!(Options::parse_args(TABLE, &args).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn types_are_checked_and_secrets_hidden() {
        let o = Options::parse_stdin(TABLE, "power_wait=abc\n");
        assert!(o.check_types().is_err());
        let o = Options::parse_stdin(TABLE, "snmp_version=4\n");
        let e = o.check_types().expect_err("bad select");
        assert!(e.0.contains("one of 1, 2c, 3"), "{e}");
        let o = Options::parse_stdin(TABLE, "ssl=maybe\n");
        assert!(o.check_types().is_err());
        let o = Options::parse_stdin(TABLE, "ssl=yes\npower_wait=0.5\npassword=abcdef\n");
        assert!(o.check_types().is_ok());
        assert!(o.flag("ssl"));
        assert_eq!(o.seconds("power_wait"), Ok(0.5));
        assert_eq!(
            scrub("GET /x?key=abcdef failed", &o.secrets()),
            "GET /x?key=<hidden> failed"
        );
    }

    #[test]
    fn getopt_strings_as_fence_agents_writes_them() {
        assert_eq!(T[4].getopt(), "-n, --plug=[plug]");
        assert_eq!(T[5].getopt(), "--power-wait=[power_wait]");
        assert_eq!(T[6].getopt(), "-z, --ssl");
    }
}
