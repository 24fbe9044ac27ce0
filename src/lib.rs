// SPDX-License-Identifier: GPL-2.0-or-later
//! storha: Pacemaker resource agents for a highly available NFS storage
//! cluster, as one library behind one multi-call binary.

pub mod admin;
pub mod agents;
pub mod cluster;
pub mod cmd;
pub mod deadline;
pub mod doctor;
pub mod fence;
pub mod manpage;
pub mod net;
pub mod ocf;
pub mod registry;
pub mod status;

use ocf::OcfEnv;

/// One exit-reason line on stderr. Pacemaker keeps the last such line, up
/// to its end, so the reason is flattened onto one line.
pub fn print_reason(env: &OcfEnv, reason: Option<&str>) {
    if let Some(r) = reason {
        let flat: String = r
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        eprintln!("{}{}", env.exit_reason_prefix(), flat);
    }
}
