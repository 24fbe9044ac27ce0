// SPDX-License-Identifier: GPL-2.0-or-later
//! Logging as `ocf_log` does it, without forking `logger`.
//!
//! By hand (stdin is a terminal): stderr only. Under Pacemaker: syslog with
//! `HA_LOGFACILITY`, appended to `HA_LOGFILE`, stderr when neither is set.
//! Debug only with `HA_debug` (not 0) or `OCF_TRACE_RA`; it goes to syslog at
//! debug level, to `HA_DEBUGLOG`, or to `OCF_TRACE_FILE` / stderr.

use super::env::{self, OcfEnv};
use log::{Level, LevelFilter, Log, Metadata, Record};
use std::fs::OpenOptions;
use std::io::{IsTerminal, Write};
use std::os::unix::net::UnixDatagram;
use std::sync::Mutex;

struct OcfLogger {
    tag: String,
    debug: bool,
    tty: bool,
    syslog: Option<(UnixDatagram, u8)>,
    logfile: Option<String>,
    debuglog: Option<String>,
    tracefile: Option<String>,
    lock: Mutex<()>,
}

fn facility_code(name: &str) -> Option<u8> {
    Some(match name.trim().to_ascii_lowercase().as_str() {
        "kern" => 0,
        "user" => 1,
        "mail" => 2,
        "daemon" => 3,
        "auth" => 4,
        "syslog" => 5,
        "lpr" => 6,
        "news" => 7,
        "uucp" => 8,
        "cron" => 9,
        "authpriv" => 10,
        "ftp" => 11,
        "local0" => 16,
        "local1" => 17,
        "local2" => 18,
        "local3" => 19,
        "local4" => 20,
        "local5" => 21,
        "local6" => 22,
        "local7" => 23,
        _ => return None,
    })
}

fn severity(level: Level) -> u8 {
    match level {
        Level::Error => 3,
        Level::Warn => 4,
        Level::Info => 6,
        Level::Debug | Level::Trace => 7,
    }
}

fn prio_word(level: Level) -> &'static str {
    match level {
        Level::Error => "ERROR",
        Level::Warn => "WARNING",
        Level::Info => "INFO",
        Level::Debug | Level::Trace => "DEBUG",
    }
}

/// `HA_DATEFMT`'s default, `%b %d %T`, in UTC from the system clock:
/// formatting local time would need the time zone database.
fn timestamp() -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86400, secs % 86400);
    // Civil-from-days (proleptic Gregorian), valid for any date after 1970.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    format!(
        "{} {:02} {:02}:{:02}:{:02}",
        MONTHS[(month - 1) as usize],
        day,
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

fn append(path: &str, line: &str) {
    if let Ok(mut f) = OpenOptions::new().create(true).append(true).open(path) {
        let _ = f.write_all(line.as_bytes());
    }
}

impl Log for OcfLogger {
    fn enabled(&self, m: &Metadata) -> bool {
        m.level() <= Level::Info || self.debug
    }

    fn log(&self, r: &Record) {
        if !self.enabled(r.metadata()) {
            return;
        }
        let _guard = self.lock.lock();
        let level = r.level();
        let msg = format!("{}: {}", prio_word(level), r.args());
        if self.tty {
            eprintln!("{}: {msg}", self.tag);
            return;
        }
        let is_debug = level >= Level::Debug;
        let mut delivered = false;
        if let Some((sock, facility)) = &self.syslog {
            let pri = facility * 8 + severity(level);
            let _ = sock.send(format!("<{pri}>{}: {msg}", self.tag).as_bytes());
            delivered = true;
        }
        if is_debug {
            if let Some(f) = &self.tracefile {
                append(f, &format!("{} {}: {msg}\n", timestamp(), self.tag));
                return;
            }
            if let Some(f) = &self.debuglog {
                append(f, &format!("{} {}: {msg}\n", timestamp(), self.tag));
                delivered = true;
            }
        } else {
            if let Some(f) = &self.logfile {
                append(f, &format!("{} {}:    {msg}\n", timestamp(), self.tag));
                delivered = true;
            }
            if let (Some(d), Some(l)) = (&self.debuglog, &self.logfile) {
                if d != l {
                    append(d, &format!("{} {}:    {msg}\n", timestamp(), self.tag));
                }
            }
        }
        if !delivered {
            eprintln!("{} {}: {msg}", timestamp(), self.tag);
        }
    }

    fn flush(&self) {}
}

/// Installs the logger once per process. Never fails: a log sink that cannot
/// be opened (meta-data as `nobody`, say) is simply skipped.
pub fn init(agent: &str, env: &OcfEnv) {
    let tag = match env.instance() {
        Some(i) => format!("{agent}({i})[{}]", std::process::id()),
        None => format!("{agent}[{}]", std::process::id()),
    };
    let debug = env
        .get(env::HA_DEBUG)
        .is_some_and(|v| !v.trim().is_empty() && v.trim() != "0")
        || env.get(env::OCF_TRACE_RA).is_some_and(env::is_true);
    let syslog = env
        .nonempty(env::HA_LOGFACILITY)
        .filter(|f| *f != "none")
        .and_then(facility_code)
        .and_then(|fac| {
            let sock = UnixDatagram::unbound().ok()?;
            sock.connect("/dev/log").ok()?;
            Some((sock, fac))
        });
    let trace_on = env.get(env::OCF_TRACE_RA).is_some_and(env::is_true);
    let logger = OcfLogger {
        tag,
        debug,
        tty: std::io::stdin().is_terminal(),
        syslog,
        logfile: env.nonempty(env::HA_LOGFILE).map(str::to_owned),
        debuglog: env.nonempty(env::HA_DEBUGLOG).map(str::to_owned),
        tracefile: env
            .nonempty(env::OCF_TRACE_FILE)
            .filter(|f| trace_on && f.starts_with('/'))
            .map(str::to_owned),
        lock: Mutex::new(()),
    };
    let level = if debug {
        LevelFilter::Debug
    } else {
        LevelFilter::Info
    };
    if log::set_boxed_logger(Box::new(logger)).is_ok() {
        log::set_max_level(level);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facilities_and_levels() {
        assert_eq!(facility_code("daemon"), Some(3));
        assert_eq!(facility_code("LOCAL7"), Some(23));
        assert_eq!(facility_code("bogus"), None);
        assert_eq!(severity(Level::Error), 3);
        assert_eq!(prio_word(Level::Warn), "WARNING");
    }

    #[test]
    fn timestamp_has_syslog_shape() {
        let t = timestamp();
        assert_eq!(t.len(), 15, "{t}");
        assert_eq!(&t[9..10], ":");
    }
}
