// SPDX-License-Identifier: GPL-2.0-or-later
//! storha: one binary, several agents, chosen by the name it is called by.

use std::ffi::OsString;
use std::path::Path;
use std::process::ExitCode;
use storha::ocf::{self, OcfEnv};
use storha::{admin, registry};

/// Runs an OCF agent the way Pacemaker calls it: the action is the only
/// argument, everything else is in the environment.
fn ocf_main(entry: &registry::Entry, args: &[OsString]) -> u8 {
    let env = OcfEnv::from_process();
    ocf::logging::init(entry.name, &env);
    if let Some(t) = env.nonempty(ocf::env::OCF_RESOURCE_TYPE) {
        if t != entry.name {
            log::warn!("called as {} but OCF_RESOURCE_TYPE is {t}", entry.name);
        }
    }
    let action = args.first().and_then(|a| a.to_str()).unwrap_or("");
    let outcome = (entry.run)(action, &env, ocf::RunOpts::default());
    print!("{}", outcome.stdout);
    storha::print_reason(&env, outcome.reason.as_deref());
    outcome.status.code()
}

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    let argv0 = args.first().cloned().unwrap_or_default();
    // The link's own name, not the resolved binary: Pacemaker runs
    // /usr/lib/ocf/resource.d/storha/floating-ip -> /usr/bin/storha.
    let name = Path::new(&argv0)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("");
    let code = if let Some(entry) = registry::find(name) {
        ocf_main(entry, &args[1..])
    } else if name == "storha" || name.starts_with("storha-") {
        admin::main(&args[1..])
    } else {
        let known: Vec<&str> = registry::AGENTS.iter().map(|e| e.name).collect();
        eprintln!(
            "{}unknown agent name '{name}': storha answers to {} (or to storha itself)",
            ocf::env::DEFAULT_EXIT_REASON_PREFIX,
            known.join(", ")
        );
        ocf::OcfStatus::ErrUnimplemented.code()
    };
    ExitCode::from(code)
}
