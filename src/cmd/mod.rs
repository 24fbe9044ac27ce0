// SPDX-License-Identifier: GPL-2.0-or-later
//! The one seam through which every external command runs.
//!
//! No shell is ever involved: a command is a program and an argument vector.
//! Each run is bounded by what is left of the operation's timeout, because
//! Pacemaker SIGKILLs the agent's whole process group when the timeout ends
//! and a killed agent leaves no exit reason behind.

mod fake;
mod system;

pub use fake::FakeRunner;
pub use system::SystemRunner;

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A command to run: program, arguments, optional stdin, time limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cmd {
    pub program: String,
    pub args: Vec<String>,
    pub stdin: Option<Vec<u8>>,
    /// Upper bound for this command; the runner also caps it with the
    /// operation's deadline.
    pub timeout: Option<Duration>,
    /// Ends the command early when another thread raises it.
    pub cancel: Option<Cancel>,
}

/// A flag another thread raises to end a running command early (the
/// runner kills it and reports `CmdError::Cancelled`). Clones share the
/// flag; two are equal when they are the same flag.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    pub fn new() -> Self {
        Cancel::default()
    }

    pub fn raise(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_raised(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

impl PartialEq for Cancel {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for Cancel {}

impl Cmd {
    pub fn new(program: impl Into<String>) -> Self {
        Cmd {
            program: program.into(),
            args: Vec::new(),
            stdin: None,
            timeout: None,
            cancel: None,
        }
    }

    pub fn arg(mut self, a: impl Into<String>) -> Self {
        self.args.push(a.into());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub fn stdin(mut self, data: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(data.into());
        self
    }

    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = Some(t);
        self
    }

    pub fn cancel(mut self, c: &Cancel) -> Self {
        self.cancel = Some(c.clone());
        self
    }

    /// The command line as a person would type it, for logs and errors.
    pub fn display(&self) -> String {
        let mut s = self.program.clone();
        for a in &self.args {
            s.push(' ');
            if a.is_empty() || a.contains(|c: char| c.is_whitespace() || "'\"\\$`;&|<>".contains(c))
            {
                s.push('\'');
                s.push_str(&a.replace('\'', "'\\''"));
                s.push('\'');
            } else {
                s.push_str(a);
            }
        }
        s
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Output {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Why a command did not give the answer we needed. Every variant names the
/// command; a failure carries its stderr, because that is what a sysadmin
/// needs to read in `crm_mon`'s failed actions.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CmdError {
    #[error("{cmd}: not found")]
    NotFound { cmd: String },
    #[error("{cmd}: could not run: {reason}")]
    Spawn { cmd: String, reason: String },
    #[error("{cmd}: timed out after {secs:.1}s")]
    Timeout { cmd: String, secs: f64 },
    #[error("{cmd}: ended early after {secs:.1}s")]
    Cancelled { cmd: String, secs: f64 },
    #[error("{cmd}: exit {status}{}", stderr_suffix(.stderr))]
    Failed {
        cmd: String,
        status: i32,
        stderr: String,
    },
    #[error("{cmd}: killed by signal {signal}")]
    Signaled { cmd: String, signal: i32 },
}

fn stderr_suffix(stderr: &str) -> String {
    let line = stderr
        .trim()
        .lines()
        .rfind(|l| !l.trim().is_empty())
        .unwrap_or("");
    if line.is_empty() {
        String::new()
    } else {
        format!(": {}", line.trim())
    }
}

/// Runs commands. Production code gets a `SystemRunner`; unit tests a
/// `FakeRunner` that fails loudly on any call it was not told to expect.
pub trait Runner {
    /// Runs the command and returns its output whatever its exit status.
    fn output(&self, cmd: &Cmd) -> Result<Output, CmdError>;

    /// Runs the command and treats a non-zero exit as an error.
    fn run(&self, cmd: &Cmd) -> Result<Output, CmdError> {
        let out = self.output(cmd)?;
        if out.status == 0 {
            Ok(out)
        } else {
            Err(CmdError::Failed {
                cmd: cmd.display(),
                status: out.status,
                stderr: out.stderr,
            })
        }
    }
}

impl fmt::Display for Cmd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_quotes_what_a_shell_would_split() {
        let c = Cmd::new("exportfs").args(["-o", "rw,sync", "*:/srv/my dir", "a'b", ""]);
        assert_eq!(
            c.display(),
            "exportfs -o rw,sync '*:/srv/my dir' 'a'\\''b' ''"
        );
    }

    #[test]
    fn failed_error_carries_last_stderr_line() {
        let e = CmdError::Failed {
            cmd: "dmsetup status x".into(),
            status: 1,
            stderr: "warning\nDevice does not exist.\n\n".into(),
        };
        assert_eq!(
            e.to_string(),
            "dmsetup status x: exit 1: Device does not exist."
        );
        let e = CmdError::Failed {
            cmd: "true".into(),
            status: 3,
            stderr: String::new(),
        };
        assert_eq!(e.to_string(), "true: exit 3");
    }
}
