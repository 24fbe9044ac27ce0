// SPDX-License-Identifier: GPL-2.0-or-later
//! OCF exit codes (OCF 1.1 plus the two "degraded" codes Pacemaker 2.1 knows).

use std::fmt;

/// The exit status of an OCF action. resource-agents' `ocf-returncodes` only
/// defines 0-9 under legacy names, so every code is spelled out here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OcfStatus {
    Success,
    ErrGeneric,
    ErrArgs,
    ErrUnimplemented,
    ErrPerm,
    ErrInstalled,
    ErrConfigured,
    NotRunning,
    RunningPromoted,
    FailedPromoted,
    Degraded,
    DegradedPromoted,
}

impl OcfStatus {
    pub const ALL: [OcfStatus; 12] = [
        Self::Success,
        Self::ErrGeneric,
        Self::ErrArgs,
        Self::ErrUnimplemented,
        Self::ErrPerm,
        Self::ErrInstalled,
        Self::ErrConfigured,
        Self::NotRunning,
        Self::RunningPromoted,
        Self::FailedPromoted,
        Self::Degraded,
        Self::DegradedPromoted,
    ];

    pub fn code(self) -> u8 {
        match self {
            Self::Success => 0,
            Self::ErrGeneric => 1,
            Self::ErrArgs => 2,
            Self::ErrUnimplemented => 3,
            Self::ErrPerm => 4,
            Self::ErrInstalled => 5,
            Self::ErrConfigured => 6,
            Self::NotRunning => 7,
            Self::RunningPromoted => 8,
            Self::FailedPromoted => 9,
            Self::Degraded => 190,
            Self::DegradedPromoted => 191,
        }
    }

    /// The name resource-agents and Pacemaker's documentation use.
    pub fn name(self) -> &'static str {
        match self {
            Self::Success => "OCF_SUCCESS",
            Self::ErrGeneric => "OCF_ERR_GENERIC",
            Self::ErrArgs => "OCF_ERR_ARGS",
            Self::ErrUnimplemented => "OCF_ERR_UNIMPLEMENTED",
            Self::ErrPerm => "OCF_ERR_PERM",
            Self::ErrInstalled => "OCF_ERR_INSTALLED",
            Self::ErrConfigured => "OCF_ERR_CONFIGURED",
            Self::NotRunning => "OCF_NOT_RUNNING",
            Self::RunningPromoted => "OCF_RUNNING_PROMOTED",
            Self::FailedPromoted => "OCF_FAILED_PROMOTED",
            Self::Degraded => "OCF_DEGRADED",
            Self::DegradedPromoted => "OCF_DEGRADED_PROMOTED",
        }
    }

    pub fn from_code(code: i32) -> Option<Self> {
        Self::ALL.into_iter().find(|s| i32::from(s.code()) == code)
    }
}

impl fmt::Display for OcfStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.code(), self.name())
    }
}

/// What a monitor observed. Kept apart from `OcfStatus` so that a monitor
/// cannot "return" an error code by accident: failures are `OcfError`s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]

pub enum Health {
    NotRunning,
    Running,
    RunningPromoted,
    FailedPromoted,
    Degraded,
    DegradedPromoted,
}

impl Health {
    pub fn status(self) -> OcfStatus {
        match self {
            Self::NotRunning => OcfStatus::NotRunning,
            Self::Running => OcfStatus::Success,
            Self::RunningPromoted => OcfStatus::RunningPromoted,
            Self::FailedPromoted => OcfStatus::FailedPromoted,
            Self::Degraded => OcfStatus::Degraded,
            Self::DegradedPromoted => OcfStatus::DegradedPromoted,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_the_ocf_numbers_and_round_trip() {
        let codes: Vec<u8> = OcfStatus::ALL.iter().map(|s| s.code()).collect();
        assert_eq!(codes, vec![0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 190, 191]);
        for s in OcfStatus::ALL {
            assert_eq!(OcfStatus::from_code(i32::from(s.code())), Some(s));
            assert!(s.name().starts_with("OCF_"));
        }
        assert_eq!(OcfStatus::from_code(42), None);
    }

    #[test]
    fn display_shows_code_and_name() {
        assert_eq!(OcfStatus::NotRunning.to_string(), "7 (OCF_NOT_RUNNING)");
    }
}
