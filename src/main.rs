// SPDX-License-Identifier: GPL-2.0-or-later
#[allow(dead_code)]
mod net;

fn main() {}
