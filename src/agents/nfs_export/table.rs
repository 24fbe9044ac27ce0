// SPDX-License-Identifier: GPL-2.0-or-later
//! Pure readers of the NFS server's tables: the export table exportfs
//! keeps for mountd (`/var/lib/nfs/etab`), the kernel's export cache
//! (`/proc/net/rpc/nfsd.export/content`), rmtab, and the mount table.

/// One line of etab or of the kernel's export cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub path: String,
    pub client: String,
    pub options: Vec<String>,
}

impl Entry {
    pub fn option(&self, name: &str) -> Option<&str> {
        self.options.iter().find_map(|o| {
            o.split_once('=')
                .filter(|(n, _)| *n == name)
                .map(|(_, v)| v)
        })
    }
}

pub use crate::agents::procfs::unescape;

/// Lines `PATH<ws>CLIENT(OPT,OPT,...)`; comments ('#') and anything else
/// that does not parse are left out.
pub fn parse_exports(text: &str) -> Vec<Entry> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| {
            let l = l.trim();
            let (path, rest) = l.split_once(char::is_whitespace)?;
            let rest = rest.trim();
            let (client, opts) = match rest.split_once('(') {
                Some((c, o)) => (c, o.strip_suffix(')')?),
                None => (rest, ""),
            };
            Some(Entry {
                path: unescape(path),
                client: client.to_string(),
                options: opts
                    .split(',')
                    .filter(|o| !o.is_empty())
                    .map(String::from)
                    .collect(),
            })
        })
        .collect()
}

/// The lines of rmtab (`client:path:count`) that belong to `dir`.
pub fn rmtab_lines<'a>(text: &'a str, dir: &str) -> Vec<&'a str> {
    let needle = format!(":{dir}:");
    text.lines().filter(|l| l.contains(&needle)).collect()
}

/// `old` with the lines of `add` it does not have, sorted (as exportfs'
/// `sort -u`).
pub fn merge_lines(old: &str, add: &str) -> String {
    let mut set: std::collections::BTreeSet<&str> =
        old.lines().filter(|l| !l.trim().is_empty()).collect();
    set.extend(add.lines().filter(|l| !l.trim().is_empty()));
    let mut s: String = set.into_iter().collect::<Vec<_>>().join("\n");
    if !s.is_empty() {
        s.push('\n');
    }
    s
}

/// One line of /proc/self/mountinfo: (mount point, root inside its
/// filesystem, filesystem type, source).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub root: String,
    pub point: String,
    pub fstype: String,
    pub source: String,
}

pub fn parse_mountinfo(text: &str) -> Vec<Mount> {
    text.lines()
        .filter_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let f: Vec<&str> = left.split(' ').collect();
            let r: Vec<&str> = right.split(' ').collect();
            Some(Mount {
                root: unescape(f.get(3)?),
                point: unescape(f.get(4)?),
                fstype: r.first()?.to_string(),
                source: unescape(r.get(1)?),
            })
        })
        .collect()
}

/// The nfsd thread count as /proc/fs/nfsd/threads gives it.
pub fn parse_threads(text: &str) -> Option<u32> {
    text.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    // nfs-utils 2.6.2 etab after `exportfs -o rw,sync,no_root_squash,fsid=77
    // 192.168.77.0/24:/srv/nfs-test` and a world export of /srv/ro.
    const ETAB: &str = "/srv/nfs-test\t192.168.77.0/24(rw,sync,wdelay,hide,nocrossmnt,secure,\
no_root_squash,no_all_squash,no_subtree_check,secure_locks,acl,no_pnfs,fsid=77,anonuid=65534,\
anongid=65534,sec=sys,rw,secure,no_root_squash,no_all_squash)
/srv/ro\t*(ro,sync,wdelay,hide,nocrossmnt,secure,root_squash,no_all_squash,no_subtree_check,\
secure_locks,acl,no_pnfs,fsid=0,anonuid=65534,anongid=65534,sec=sys,ro,secure,root_squash,\
no_all_squash)
/srv/with\\040space\t2001:db8::/64(rw,fsid=3)
";

    // The kernel's export cache (kernel 6.1) with a negative entry.
    const CONTENT: &str = "#path domain(flags)
/srv/nfs-test\t192.168.77.0/24(rw,no_root_squash,sync,wdelay,no_subtree_check,fsid=77,uuid=2a0d4c44:5b6b4e48:a5b9f5e8:0b0f6ef1,sec=1)
# /srv/gone\t192.168.77.0/24(ro)
";

    #[test]
    fn etab_parses() {
        let e = parse_exports(ETAB);
        assert_eq!(e.len(), 3);
        assert_eq!(e[0].path, "/srv/nfs-test");
        assert_eq!(e[0].client, "192.168.77.0/24");
        assert_eq!(e[0].option("fsid"), Some("77"));
        assert_eq!(e[1].client, "*");
        assert_eq!(e[1].option("fsid"), Some("0"));
        assert_eq!(e[2].path, "/srv/with space");
        assert_eq!(e[2].client, "2001:db8::/64");
        assert!(parse_exports("").is_empty());
        assert!(parse_exports("garbage\n(\n").is_empty());
    }

    #[test]
    fn export_cache_skips_comments() {
        let e = parse_exports(CONTENT);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].option("fsid"), Some("77"));
    }

    #[test]
    fn rmtab_is_filtered_and_merged() {
        let rm = "192.168.77.50:/srv/nfs-test:0x00000001\n192.168.77.51:/srv/other:0x00000001\n";
        assert_eq!(
            rmtab_lines(rm, "/srv/nfs-test"),
            vec!["192.168.77.50:/srv/nfs-test:0x00000001"]
        );
        assert!(rmtab_lines(rm, "/srv/nfs").is_empty());
        assert_eq!(merge_lines("b\na\n", "a\nc\n"), "a\nb\nc\n");
        assert_eq!(merge_lines("", ""), "");
    }

    #[test]
    fn mountinfo_parses() {
        let mi = "36 25 0:32 / /proc/fs/nfsd rw,relatime shared:17 - nfsd nfsd rw
90 29 147:0 /nfs-state /var/lib/nfs rw,relatime shared:50 - ext4 /dev/drbd0 rw
91 25 0:44 / /run/rpc_pipefs rw,relatime shared:52 - rpc_pipefs sunrpc rw
";
        let m = parse_mountinfo(mi);
        assert_eq!(m.len(), 3);
        assert_eq!(m[1].point, "/var/lib/nfs");
        assert_eq!(m[1].root, "/nfs-state");
        assert_eq!(m[1].source, "/dev/drbd0");
        assert_eq!(m[2].fstype, "rpc_pipefs");
    }

    #[test]
    fn threads_parse() {
        assert_eq!(parse_threads("8\n"), Some(8));
        assert_eq!(parse_threads("0\n"), Some(0));
        assert_eq!(parse_threads(""), None);
    }

    #[test]
    fn unescape_handles_edges() {
        assert_eq!(unescape("a\\040b"), "a b");
        assert_eq!(unescape("a\\04"), "a\\04");
        assert_eq!(unescape("\\"), "\\");
    }
}
