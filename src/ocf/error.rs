// SPDX-License-Identifier: GPL-2.0-or-later
//! Errors that know their OCF exit code (one `match`, in `status()`).

use super::status::OcfStatus;
use crate::cmd::CmdError;

#[derive(Debug, thiserror::Error)]
pub enum OcfError {
    /// 6: the parameters are wrong on every node.
    #[error("{0}")]
    Configured(String),
    /// 2: the parameters are wrong on this node (missing file, device, interface).
    #[error("{0}")]
    Args(String),
    /// 5: required software is missing on this node.
    #[error("{0}")]
    NotInstalled(String),
    /// 4: insufficient privilege.
    #[error("{0}")]
    Perm(String),
    /// 3: the agent does not implement this action.
    #[error("action '{0}' is not supported by this agent")]
    Unimplemented(String),
    /// 1: an external command failed.
    #[error(transparent)]
    Cmd(#[from] CmdError),
    /// 1: anything else that went wrong.
    #[error("{0}")]
    Generic(String),
}

impl OcfError {
    pub fn status(&self) -> OcfStatus {
        match self {
            Self::Configured(_) => OcfStatus::ErrConfigured,
            Self::Args(_) => OcfStatus::ErrArgs,
            Self::NotInstalled(_) => OcfStatus::ErrInstalled,
            Self::Perm(_) => OcfStatus::ErrPerm,
            Self::Unimplemented(_) => OcfStatus::ErrUnimplemented,
            Self::Cmd(_) | Self::Generic(_) => OcfStatus::ErrGeneric,
        }
    }

    /// Errors that mean "this node cannot run the resource as configured",
    /// which a stop answers with success and a probe with "not running"
    /// (resource-agents' `handle_invalid_env` convention).
    pub fn is_environment(&self) -> bool {
        matches!(
            self,
            Self::Configured(_) | Self::Args(_) | Self::NotInstalled(_)
        )
    }
}

/// Shorthands so agent code reads `Err(configured!("..."))`.
#[macro_export]
macro_rules! configured {
    ($($t:tt)*) => { $crate::ocf::OcfError::Configured(format!($($t)*)) };
}
#[macro_export]
macro_rules! args_err {
    ($($t:tt)*) => { $crate::ocf::OcfError::Args(format!($($t)*)) };
}
#[macro_export]
macro_rules! generic {
    ($($t:tt)*) => { $crate::ocf::OcfError::Generic(format!($($t)*)) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_maps_to_its_code() {
        assert_eq!(OcfError::Configured("x".into()).status().code(), 6);
        assert_eq!(OcfError::Args("x".into()).status().code(), 2);
        assert_eq!(OcfError::NotInstalled("x".into()).status().code(), 5);
        assert_eq!(OcfError::Perm("x".into()).status().code(), 4);
        assert_eq!(OcfError::Unimplemented("promote".into()).status().code(), 3);
        assert_eq!(OcfError::Generic("x".into()).status().code(), 1);
        assert!(OcfError::Args("x".into()).is_environment());
        assert!(!OcfError::Generic("x".into()).is_environment());
    }
}
