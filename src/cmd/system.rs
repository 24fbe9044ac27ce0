// SPDX-License-Identifier: GPL-2.0-or-later
//! The real runner: `std::process`, no shell, bounded by the deadline.

use super::{Cmd, CmdError, Output, Runner};
use crate::deadline::Deadline;
use std::io::{Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub struct SystemRunner {
    deadline: Deadline,
}

impl SystemRunner {
    pub fn new(deadline: Deadline) -> Self {
        SystemRunner { deadline }
    }
}

impl Runner for SystemRunner {
    fn output(&self, cmd: &Cmd) -> Result<Output, CmdError> {
        let shown = cmd.display();
        let mut limit = self.deadline.remaining();
        if let Some(t) = cmd.timeout {
            limit = limit.min(t);
        }
        if limit.is_zero() {
            return Err(CmdError::Timeout {
                cmd: shown,
                secs: 0.0,
            });
        }
        log::debug!("running: {shown} (limit {:.1}s)", limit.as_secs_f64());
        let started = Instant::now();
        let mut child = Command::new(&cmd.program)
            .args(&cmd.args)
            .stdin(if cmd.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env("LC_ALL", "C")
            .spawn()
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => CmdError::NotFound {
                    cmd: cmd.program.clone(),
                },
                _ => CmdError::Spawn {
                    cmd: shown.clone(),
                    reason: e.to_string(),
                },
            })?;

        // Pipes are drained by threads so a chatty command cannot block on a
        // full pipe while we wait for it to exit.
        let stdin_writer = match (child.stdin.take(), cmd.stdin.clone()) {
            (Some(mut pipe), Some(data)) => Some(std::thread::spawn(move || {
                let _ = pipe.write_all(&data);
            })),
            _ => None,
        };
        let out_reader = child.stdout.take().map(|mut p| {
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let _ = p.read_to_end(&mut buf);
                buf
            })
        });
        let err_reader = child.stderr.take().map(|mut p| {
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let _ = p.read_to_end(&mut buf);
                buf
            })
        });

        let mut pause = Duration::from_millis(1);
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if started.elapsed() >= limit => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(CmdError::Timeout {
                        cmd: shown,
                        secs: started.elapsed().as_secs_f64(),
                    });
                }
                Ok(None) if cmd.cancel.as_ref().is_some_and(|c| c.is_raised()) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(CmdError::Cancelled {
                        cmd: shown,
                        secs: started.elapsed().as_secs_f64(),
                    });
                }
                Ok(None) => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(50));
                }
                Err(e) => {
                    return Err(CmdError::Spawn {
                        cmd: shown,
                        reason: e.to_string(),
                    })
                }
            }
        };
        if let Some(h) = stdin_writer {
            let _ = h.join();
        }
        let stdout = out_reader.and_then(|h| h.join().ok()).unwrap_or_default();
        let stderr = err_reader.and_then(|h| h.join().ok()).unwrap_or_default();
        let out = Output {
            status: status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        };
        if let Some(sig) = status.signal() {
            return Err(CmdError::Signaled {
                cmd: shown,
                signal: sig,
            });
        }
        log::debug!(
            "{shown}: exit {} in {:.1} ms",
            out.status,
            started.elapsed().as_secs_f64() * 1e3
        );
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runner(secs: u64) -> SystemRunner {
        SystemRunner::new(Deadline::after(Duration::from_secs(secs)))
    }

    #[test]
    fn captures_stdout_stderr_and_status_without_a_shell() {
        let out = runner(10).output(&Cmd::new("sh").args(["-c", "echo out; echo err >&2; exit 3"]));
        let out = out.expect("sh runs");
        assert_eq!(
            out,
            Output {
                status: 3,
                stdout: "out\n".into(),
                stderr: "err\n".into()
            }
        );
        // Metacharacters in an argument reach the program literally.
        let out = runner(10)
            .run(&Cmd::new("echo").arg("$(id); `id` | x"))
            .expect("echo runs");
        assert_eq!(out.stdout, "$(id); `id` | x\n");
    }

    #[test]
    fn stdin_is_fed_to_the_command() {
        let out = runner(10)
            .run(&Cmd::new("cat").stdin("a=b\n"))
            .expect("cat runs");
        assert_eq!(out.stdout, "a=b\n");
    }

    #[test]
    fn non_zero_exit_is_an_error_with_stderr() {
        let err = runner(10).run(&Cmd::new("sh").args(["-c", "echo boom >&2; exit 2"]));
        match err {
            Err(CmdError::Failed {
                status: 2, stderr, ..
            }) => assert_eq!(stderr, "boom\n"),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn missing_program_is_not_found() {
        let err = runner(10).output(&Cmd::new("/nonexistent/storha-tool"));
        assert!(matches!(err, Err(CmdError::NotFound { .. })), "{err:?}");
    }

    #[test]
    fn command_is_killed_at_its_limit() {
        let started = Instant::now();
        let err = runner(10).output(
            &Cmd::new("sleep")
                .arg("5")
                .timeout(Duration::from_millis(200)),
        );
        assert!(matches!(err, Err(CmdError::Timeout { .. })), "{err:?}");
        assert!(started.elapsed() < Duration::from_secs(4));
    }

    #[test]
    fn raised_cancel_flag_kills_the_command() {
        let cancel = super::super::Cancel::new();
        let raiser = {
            let c = cancel.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(100));
                c.raise();
            })
        };
        let err = runner(30).output(&Cmd::new("sleep").arg("20").cancel(&cancel));
        raiser.join().expect("raiser");
        assert!(matches!(err, Err(CmdError::Cancelled { .. })), "{err:?}");
        // A flag that is never raised changes nothing.
        let out = runner(10).run(&Cmd::new("true").cancel(&super::super::Cancel::new()));
        assert!(out.is_ok(), "{out:?}");
    }

    #[test]
    fn spent_deadline_runs_nothing() {
        let r = SystemRunner::new(Deadline::after(Duration::ZERO));
        let err = r.output(&Cmd::new("true"));
        assert!(matches!(err, Err(CmdError::Timeout { .. })), "{err:?}");
    }
}
