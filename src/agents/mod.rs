// SPDX-License-Identifier: GPL-2.0-or-later
//! The agents. Each has the same shape: `params.rs` (the table and the typed
//! configuration, pure), parsers or selection logic in their own pure files,
//! and `mod.rs` with the `Agent` implementation.

pub mod drbd_tuned;
pub mod floating_ip;
pub mod ipstrip;
pub mod nfs_export;
pub mod procfs;
pub mod writeboost_cache;
