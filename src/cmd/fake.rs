// SPDX-License-Identifier: GPL-2.0-or-later
//! A strict scripted runner for unit tests: every call must have been
//! expected, in order, and every expectation must be used before it drops.

use super::{Cmd, CmdError, Output, Runner};
use std::cell::RefCell;
use std::collections::VecDeque;

pub struct FakeRunner {
    script: RefCell<VecDeque<(String, Result<Output, CmdError>)>>,
    seen: RefCell<Vec<String>>,
}

impl FakeRunner {
    pub fn new() -> Self {
        FakeRunner {
            script: RefCell::new(VecDeque::new()),
            seen: RefCell::new(Vec::new()),
        }
    }

    /// Expect `cmdline` (as `Cmd::display` shows it) and answer with exit 0.
    pub fn ok(self, cmdline: &str, stdout: &str) -> Self {
        self.answer(
            cmdline,
            Ok(Output {
                status: 0,
                stdout: stdout.into(),
                stderr: String::new(),
            }),
        )
    }

    /// Expect `cmdline` and answer with a non-zero exit and stderr.
    pub fn fails(self, cmdline: &str, status: i32, stderr: &str) -> Self {
        self.answer(
            cmdline,
            Ok(Output {
                status,
                stdout: String::new(),
                stderr: stderr.into(),
            }),
        )
    }

    pub fn answer(self, cmdline: &str, result: Result<Output, CmdError>) -> Self {
        self.script
            .borrow_mut()
            .push_back((cmdline.to_string(), result));
        self
    }

    pub fn calls(&self) -> Vec<String> {
        self.seen.borrow().clone()
    }
}

impl Default for FakeRunner {
    fn default() -> Self {
        Self::new()
    }
}

impl Runner for FakeRunner {
    fn output(&self, cmd: &Cmd) -> Result<Output, CmdError> {
        let shown = cmd.display();
        self.seen.borrow_mut().push(shown.clone());
        match self.script.borrow_mut().pop_front() {
            Some((expected, result)) if expected == shown => result,
            Some((expected, _)) => panic!("FakeRunner: expected `{expected}`, got `{shown}`"),
            None => panic!("FakeRunner: unexpected command `{shown}`"),
        }
    }
}

impl Drop for FakeRunner {
    fn drop(&mut self) {
        let left = self.script.borrow();
        if !left.is_empty() && !std::thread::panicking() {
            let names: Vec<&str> = left.iter().map(|(c, _)| c.as_str()).collect();
            panic!("FakeRunner: expected commands never ran: {names:?}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_in_order() {
        let f = FakeRunner::new()
            .ok("dmsetup version", "v1\n")
            .fails("dmsetup status x", 1, "no");
        assert_eq!(
            f.run(&Cmd::new("dmsetup").arg("version")).map(|o| o.stdout),
            Ok("v1\n".into())
        );
        assert!(f.run(&Cmd::new("dmsetup").args(["status", "x"])).is_err());
        assert_eq!(f.calls(), vec!["dmsetup version", "dmsetup status x"]);
    }

    #[test]
    #[should_panic(expected = "unexpected command")]
    fn unexpected_call_panics() {
        let f = FakeRunner::new();
        let _ = f.output(&Cmd::new("rm").arg("-rf"));
    }

    #[test]
    #[should_panic(expected = "expected `a`, got `b`")]
    fn wrong_call_panics() {
        let f = FakeRunner::new().ok("a", "");
        let _ = f.output(&Cmd::new("b"));
    }

    #[test]
    #[should_panic(expected = "never ran")]
    fn unused_expectation_panics_on_drop() {
        let _f = FakeRunner::new().ok("a", "");
    }
}
