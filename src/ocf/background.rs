// SPDX-License-Identifier: GPL-2.0-or-later
//! Work that must outlive the action (gratuitous ARPs after start returns),
//! run in a forked child that leaves the agent's process group with setsid:
//! Pacemaker SIGKILLs the whole group when an operation times out or ends.
//! The child is recorded in a pid file so that stop can end it, and it is
//! recognised by its process name before anything is killed, because a pid
//! file may outlive its process and the pid be reused.

use super::OcfError;
use nix::sys::signal::{kill, Signal};
use nix::unistd::{fork, setsid, ForkResult, Pid};
use std::path::Path;
use std::time::{Duration, Instant};

/// Forks `work` into its own session. The caller must not hold other threads
/// at this point: only the calling thread exists in the child.
pub fn spawn(pidfile: &Path, comm: &str, work: impl FnOnce()) -> Result<i32, OcfError> {
    // SAFETY: storha is single-threaded whenever it forks (the command
    // runner joins its pipe threads before returning), so the child cannot
    // inherit a lock held by another thread.
    match unsafe { fork() } {
        Err(e) => Err(OcfError::Generic(format!(
            "cannot fork background {comm}: {e}"
        ))),
        Ok(ForkResult::Child) => {
            let _ = setsid();
            set_comm(comm);
            detach_stdio();
            work();
            // SAFETY: _exit ends the child without running the parent's
            // atexit handlers or flushing its copied stdio buffers.
            unsafe { libc::_exit(0) }
        }
        Ok(ForkResult::Parent { child }) => {
            let pid = child.as_raw();
            let tmp = pidfile.with_extension("tmp");
            std::fs::write(&tmp, format!("{pid}\n"))
                .and_then(|()| std::fs::rename(&tmp, pidfile))
                .map_err(|e| {
                    OcfError::Generic(format!("cannot write {}: {e}", pidfile.display()))
                })?;
            Ok(pid)
        }
    }
}

fn set_comm(comm: &str) {
    let mut name = [0u8; 16];
    for (d, s) in name.iter_mut().zip(comm.bytes().take(15)) {
        *d = s;
    }
    // SAFETY: PR_SET_NAME reads a NUL-terminated string of at most 16 bytes.
    unsafe {
        libc::prctl(libc::PR_SET_NAME, name.as_ptr() as libc::c_ulong, 0, 0, 0);
    }
}

/// Pacemaker reads the agent's stdout and stderr until they close; a child
/// that kept them open would hold the operation's output hostage.
fn detach_stdio() {
    if let Ok(null) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
    {
        use std::os::fd::AsRawFd;
        for fd in 0..=2 {
            // SAFETY: dup2 onto the standard descriptors of this process.
            unsafe {
                libc::dup2(null.as_raw_fd(), fd);
            }
        }
    }
}

/// The pid recorded in `pidfile`, if that process still runs under `comm`.
pub fn running(pidfile: &Path, comm: &str) -> Option<i32> {
    let pid: i32 = std::fs::read_to_string(pidfile).ok()?.trim().parse().ok()?;
    if pid <= 1 {
        return None;
    }
    let actual = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    let want: String = comm.chars().take(15).collect();
    (actual.trim_end() == want).then_some(pid)
}

/// Ends the recorded child (TERM, then KILL after `grace`) and removes the
/// pid file. Succeeds when nothing is running.
pub fn stop(pidfile: &Path, comm: &str, grace: Duration) -> Result<(), OcfError> {
    if let Some(pid) = running(pidfile, comm) {
        let p = Pid::from_raw(pid);
        let _ = kill(p, Signal::SIGTERM);
        let started = Instant::now();
        while running(pidfile, comm).is_some() && started.elapsed() < grace {
            std::thread::sleep(Duration::from_millis(10));
        }
        if running(pidfile, comm).is_some() {
            let _ = kill(p, Signal::SIGKILL);
        }
        log::info!("ended background {comm} (pid {pid})");
    }
    match std::fs::remove_file(pidfile) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(OcfError::Generic(format!(
            "cannot remove {}: {e}",
            pidfile.display()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_or_foreign_pid_files_are_not_running() {
        let dir = std::env::temp_dir().join(format!("storha-bg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let f = dir.join("x.pid");
        assert_eq!(running(&f, "storha-garp"), None);
        // Our own pid runs, but under another name: never ours to kill.
        std::fs::write(&f, format!("{}\n", std::process::id())).expect("write");
        assert_eq!(running(&f, "storha-garp"), None);
        std::fs::write(&f, "1\n").expect("write");
        assert_eq!(running(&f, "init"), None);
        std::fs::write(&f, "garbage").expect("write");
        assert_eq!(running(&f, "storha-garp"), None);
        stop(&f, "storha-garp", Duration::from_millis(10)).expect("stop");
        assert!(!f.exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
