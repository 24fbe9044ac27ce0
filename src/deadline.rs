// SPDX-License-Identifier: GPL-2.0-or-later
//! How long the current operation may still run: the one notion of time that
//! the OCF framework, the fence agent API and the command runner share. It
//! sits below all of them and knows nothing of any.

use std::time::{Duration, Instant};

/// When the current operation must be finished. Pacemaker SIGKILLs the agent
/// at its timeout; we keep a margin so that we can fail with a reason first.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    end: Instant,
}

impl Deadline {
    pub fn after(d: Duration) -> Self {
        Deadline {
            end: Instant::now() + d,
        }
    }

    /// The operation's timeout less a margin: 10% of it, at least 0.5 s and
    /// at most 5 s.
    pub fn for_operation(timeout: Duration) -> Self {
        let margin = (timeout / 10).clamp(Duration::from_millis(500), Duration::from_secs(5));
        Self::after(timeout.saturating_sub(margin))
    }

    pub fn remaining(&self) -> Duration {
        self.end.saturating_duration_since(Instant::now())
    }

    pub fn expired(&self) -> bool {
        self.remaining().is_zero()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn margin_is_ten_percent_clamped() {
        let d = Deadline::for_operation(Duration::from_secs(20));
        assert!(d.remaining() <= Duration::from_secs(18));
        assert!(d.remaining() > Duration::from_secs(17));
        let d = Deadline::for_operation(Duration::from_secs(2));
        assert!(d.remaining() <= Duration::from_millis(1500));
        let d = Deadline::for_operation(Duration::from_secs(200));
        assert!(d.remaining() <= Duration::from_secs(195));
        assert!(d.remaining() > Duration::from_secs(194));
        assert!(Deadline::after(Duration::ZERO).expired());
    }
}
