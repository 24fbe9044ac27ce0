// SPDX-License-Identifier: GPL-2.0-or-later
//! nfs-export's parameters and their typed form. Pure: nothing here looks
//! at the host. The exports part speaks exportfs' names (`directory`,
//! `clientspec`, `options`, `fsid`, `unlock_on_stop`,
//! `wait_for_leasetime_on_stop`, `rmtab_backup`), widened to several
//! directories and several client specifications; the server part speaks
//! nfsserver's (`nfsv4_only`, `nfs_shared_infodir`, `nfs_server_scope`,
//! `nfs_ip`, `rpcpipefs_dir`).

use crate::configured;
use crate::ocf::params::shown;
use crate::ocf::{ActionSpec, AgentMeta, Kind, OcfError, ParamSpec, Params};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub static PARAMS: &[ParamSpec] = &[
    ParamSpec::new("directory", Kind::String, "Directories to export")
        .required()
        .unique()
        .long(
            "One or more absolute directories to export, separated by spaces (exportfs' \
             parameter, same meaning). Each must exist when the resource starts, unless \
             create_directory is set. Letters, digits and '/', '.', '_', '-', '+', '@', '~', \
             '%', '=' only; no '.' or '..' component. A trailing '/' is ignored and a symbolic \
             link is resolved, as exportfs does.",
        ),
    ParamSpec::new(
        "clientspec",
        Kind::String,
        "Clients the directories are exported to",
    )
    .required()
    .long(
        "One or more client specifications, separated by spaces, each exported every \
             directory: '*', a host name (wildcards '*' and '?' allowed), '@netgroup', an IPv4 \
             address or subnet (192.0.2.0/24 or 192.0.2.0/255.255.255.0), an IPv6 address or \
             subnet in brackets ([2001:db8::]/64). exportfs takes exactly one; a single value \
             has exportfs' meaning.",
    ),
    ParamSpec::new("options", Kind::String, "Export options").long(
        "Comma-separated options of exports(5) for every client, e.g. \
             rw,sync,no_root_squash,no_subtree_check. An fsid= here is overridden by the fsid \
             parameter, as in exportfs. async is refused unless allow_async is set: with async \
             the server acknowledges writes it has not stored, and a failover loses them. \
             Unknown options, white space, parentheses and quotes are refused.",
    ),
    ParamSpec::new("fsid", Kind::String, "File system ids of the exports")
        .unique()
        .long(
            "The fsid of each directory, so that file handles stay valid when the export moves \
             to another node: one value per directory (separated by spaces), each an integer, a \
             UUID (32 hex digits, '-' allowed between them) or 'root' (the same as 0: the NFSv4 \
             pseudo-root, which NFSv4 clients mount as '/'). A single integer with several \
             directories is incremented per directory, as exportfs does. Values may not repeat. \
             Required, here or as fsid= in options (one directory only).",
        ),
    ParamSpec::new(
        "create_directory",
        Kind::Boolean,
        "Create missing directories",
    )
    .default("false")
    .long("Start creates a missing export directory (mode 0755) instead of failing."),
    ParamSpec::new("unlock_on_stop", Kind::Boolean, "Release NFS locks on stop")
        .default("true")
        .long(
            "Stop writes each directory to /proc/fs/nfsd/unlock_filesystem, releasing the NLM \
             (NFSv3) locks held on it (exportfs' parameter). On kernel 6.1 NFSv4 state stays \
             until the nfsd threads stop, which the agent does when it manages the server.",
        ),
    ParamSpec::new(
        "wait_for_leasetime_on_stop",
        Kind::Boolean,
        "Wait for the NFSv4 lease time on stop",
    )
    .default("false")
    .long(
        "Stop waits the NFSv4 lease time plus 2 s after unexporting (exportfs' parameter), \
         bounded by the stop timeout. Only useful when the server is not managed here: a \
         managed server stops its threads, which ends every lease at once.",
    ),
    ParamSpec::new(
        "rmtab_backup",
        Kind::String,
        "Where the rmtab entries are kept",
    )
    .default(".rmtab")
    .long(
        "File, relative to each directory, where stop keeps the /var/lib/nfs/rmtab lines of \
             that directory and start merges them back (exportfs' parameter; NFSv3 mount \
             lists survive the failover). 'none' disables it. A missing rmtab is not an error.",
    ),
    ParamSpec::new("allow_async", Kind::Boolean, "Accept the async option")
        .default("false")
        .long(
            "Accept async in options. async loses writes the clients were told were stored \
             whenever the node fails; leave it false on a failover cluster.",
        ),
    ParamSpec::new(
        "manage_server",
        Kind::Boolean,
        "Run the NFS server in this resource",
    )
    .default("true")
    .long(
        "true: start brings up the NFS server (shared state, rpc.statd, rpc.mountd, \
             nfsdcld, nfsd threads in the server scope) before the exports, and stop takes it \
             down after them. false: the server is someone else's (systemd's nfs-server, \
             nfsserver): only the exports are managed, and what the server needs for a clean \
             failover (shared state, server scope, threads stopped before the filesystem is \
             unmounted) is not done.",
    ),
    ParamSpec::new(
        "threads",
        Kind::Integer { min: 1, max: 4096 },
        "nfsd threads",
    )
    .default("8")
    .long("Number of nfsd kernel threads a managed server starts."),
    ParamSpec::new("nfsv4_only", Kind::Boolean, "NFSv4 only")
        .default("false")
        .long(
            "Serve NFSv4 only: no rpcbind, rpc.statd or NLM, NFSv3 disabled in nfsd and \
             rpc.mountd (which still answers the kernel's export upcalls).",
        ),
    ParamSpec::new(
        "nfs_shared_infodir",
        Kind::String,
        "Server state directory on the replicated filesystem",
    )
    .long(
        "A directory on the replicated filesystem that is bind-mounted over /var/lib/nfs \
         while the server runs, so that statd's monitor list (sm, sm.bak, state), nfsdcld's \
         client database, etab and rmtab move with the service. Created and filled with the \
         empty layout when missing. Strongly recommended: without it NFSv4 clients cannot \
         reclaim their state after a failover.",
    ),
    ParamSpec::new("nfs_server_scope", Kind::String, "NFSv4 server scope").long(
        "The server scope (RFC 8881) the nfsd threads present: the UTS node name of the \
             process that starts them, set in a namespace of its own. It must be the same on \
             every node, or NFSv4.1+ clients refuse to reclaim their state after a failover. \
             Default: the resource's name. Letters, digits, '.', '_', '-'; at most 64.",
    ),
    ParamSpec::new(
        "nfs_ip",
        Kind::String,
        "Addresses NFSv3 clients are notified from",
    )
    .long(
        "Comma-separated floating addresses of this service. After start, sm-notify -f \
             -v ADDRESS tells the NFSv3 clients in the monitor list to reclaim their locks; it \
             runs in the background once the address is up on this node (sm-notify sends \
             nothing, silently, from an address that is not there yet). Empty: no \
             notification.",
    ),
    ParamSpec::new(
        "lease_time",
        Kind::Integer { min: 10, max: 3600 },
        "NFSv4 lease time (s)",
    )
    .long(
        "nfsv4leasetime of a managed server, written while nfsd is stopped (the kernel \
             takes it only then). Default: the kernel's (90 s).",
    ),
    ParamSpec::new(
        "grace_time",
        Kind::Integer { min: 10, max: 3600 },
        "NFSv4 grace time (s)",
    )
    .long(
        "nfsv4gracetime of a managed server, written while nfsd is stopped. Default: the \
             kernel's (the lease time).",
    ),
    ParamSpec::new("rpcpipefs_dir", Kind::String, "rpc_pipefs mount point")
        .default("/run/rpc_pipefs")
        .long(
            "Where rpc_pipefs is mounted (Debian: /run/rpc_pipefs, as nfs.conf says). nfsdcld \
             talks to the kernel through it; start mounts it when it is not.",
        ),
];

pub static ACTIONS: &[ActionSpec] = &[
    ActionSpec::new("start", 60),
    ActionSpec::new("stop", 120),
    ActionSpec::new("monitor", 20).interval(10).depth(0),
    ActionSpec::new("status", 20),
    ActionSpec::new("meta-data", 5),
    ActionSpec::new("validate-all", 20),
];

pub static META: AgentMeta = AgentMeta {
    name: "nfs-export",
    shortdesc: "NFS exports and the NFS server behind them",
    longdesc: "Exports one or more directories of the Primary's filesystem over NFS to one or \
more client specifications, with a deterministic fsid per directory, and (by default) runs the \
NFS server behind them: the state of statd and nfsdcld bind-mounted from the replicated \
filesystem, rpc.statd, rpc.mountd and nfsdcld started in that order, lease and grace times \
written while nfsd is stopped, and the nfsd threads started in a UTS namespace whose node name \
is the server scope, the same on every node. Place it after the Filesystem and before the \
floating IP.

Start brings the server up and checks it serves (threads running, mountd and statd registered \
where NFSv3 is on, nfsdcld running), then exports every directory to every client; it is \
idempotent. Monitor starts no program: it reads /proc/fs/nfsd/threads, the export table \
(/var/lib/nfs/etab, once for all exports) and the daemons' liveness from /proc; with \
OCF_CHECK_LEVEL=10 it also makes a real RPC NULL call to nfsd over TCP and asks rpc.mountd for \
its export list. Stop unexports, releases the locks (unlock_filesystem), flushes the kernel's \
export cache until the fsids have left it, optionally waits for the lease time, stops the \
server in reverse order and unmounts the shared state, naming any process that still holds \
it.",
    params: PARAMS,
    actions: ACTIONS,
};

/// The fsid of one export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fsid {
    /// 0: the NFSv4 pseudo-root.
    Root,
    Num(u32),
    /// 32 lowercase hex digits, as given (dashes kept for exportfs).
    Uuid {
        given: String,
        hex: String,
    },
}

impl Fsid {
    pub fn parse(s: &str) -> Result<Fsid, String> {
        if s == "root" || s == "0" {
            return Ok(Fsid::Root);
        }
        if !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()) {
            return match s.parse::<u32>() {
                Ok(0) => Ok(Fsid::Root),
                Ok(n) => Ok(Fsid::Num(n)),
                Err(_) => Err(format!(
                    "fsid {} is too large (at most 4294967295)",
                    shown(s)
                )),
            };
        }
        let hex: String = s.chars().filter(|c| *c != '-').collect();
        if hex.len() == 32
            && hex.chars().all(|c| c.is_ascii_hexdigit())
            && !s.starts_with('-')
            && !s.ends_with('-')
            && !s.contains("--")
        {
            return Ok(Fsid::Uuid {
                given: s.to_string(),
                hex: hex.to_ascii_lowercase(),
            });
        }
        Err(format!(
            "fsid {} is neither an integer, a UUID (32 hex digits) nor 'root'",
            shown(s)
        ))
    }

    /// The value of `fsid=` for exportfs.
    pub fn option(&self) -> String {
        match self {
            Fsid::Root => "0".into(),
            Fsid::Num(n) => n.to_string(),
            Fsid::Uuid { given, .. } => given.clone(),
        }
    }

    /// Whether an `fsid=` value read back from the system is this one.
    pub fn matches(&self, v: &str) -> bool {
        match Fsid::parse(v) {
            Ok(Fsid::Uuid { hex, .. }) => matches!(self, Fsid::Uuid { hex: h, .. } if *h == hex),
            Ok(other) => other == *self,
            Err(_) => false,
        }
    }

    fn key(&self) -> String {
        match self {
            Fsid::Root => "0".into(),
            Fsid::Num(n) => n.to_string(),
            Fsid::Uuid { hex, .. } => hex.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export {
    /// Absolute, without a trailing '/'; resolved against the host later.
    pub dir: String,
    pub fsid: Fsid,
}

/// One client specification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    /// As exportfs takes it on its command line (IPv6 in brackets).
    pub spec: String,
    /// As exportfs writes it to etab (brackets removed).
    pub table: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    pub threads: u32,
    pub v4_only: bool,
    pub infodir: Option<String>,
    /// None: the resource's name (known only to the action).
    pub scope: Option<String>,
    pub notify_ips: Vec<IpAddr>,
    pub lease: Option<u32>,
    pub grace: Option<u32>,
    pub pipefs: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub exports: Vec<Export>,
    pub clients: Vec<Client>,
    /// Without any fsid=; the agent adds each export's own.
    pub options: Vec<String>,
    pub create_directory: bool,
    pub unlock_on_stop: bool,
    pub wait_lease: bool,
    pub rmtab_backup: Option<String>,
    pub server: Option<Server>,
}

/// Characters a directory may contain. exportfs itself accepts more (it
/// octal-escapes white space in etab), but every one left out here is a
/// separator of some layer: the parameter list, the client:path argument,
/// exports(5) syntax, a shell in somebody's script.
fn dir_char_ok(c: char) -> bool {
    c.is_ascii_alphanumeric() || "/._-+@~%=".contains(c)
}

pub fn check_dir(param: &str, d: &str) -> Result<String, OcfError> {
    if let Some(c) = d.chars().find(|c| !dir_char_ok(*c)) {
        return Err(configured!(
            "{param} {} contains {c:?}: only letters, digits and '/._-+@~%=' are allowed",
            shown(d)
        ));
    }
    if !d.starts_with('/') {
        return Err(configured!("{param} {} is not an absolute path", shown(d)));
    }
    if d.split('/').any(|c| c == ".." || c == ".") {
        return Err(configured!(
            "{param} {} contains a '.' or '..' component",
            shown(d)
        ));
    }
    let trimmed = d.trim_end_matches('/');
    let out = if trimmed.is_empty() { "/" } else { trimmed };
    if out.contains("//") {
        return Err(configured!("{param} {} contains '//'", shown(d)));
    }
    Ok(out.to_string())
}

/// exports(5) options that take no value.
const FLAGS: &[&str] = &[
    "ro",
    "rw",
    "sync",
    "async",
    "wdelay",
    "no_wdelay",
    "hide",
    "nohide",
    "crossmnt",
    "nocrossmnt",
    "subtree_check",
    "no_subtree_check",
    "secure",
    "insecure",
    "root_squash",
    "no_root_squash",
    "all_squash",
    "no_all_squash",
    "secure_locks",
    "insecure_locks",
    "auth_nlm",
    "no_auth_nlm",
    "acl",
    "no_acl",
    "pnfs",
    "no_pnfs",
    "security_label",
];

/// exports(5) options that take a value.
const VALUED: &[&str] = &[
    "fsid",
    "anonuid",
    "anongid",
    "sec",
    "mountpoint",
    "mp",
    "refer",
    "replicas",
    "xprtsec",
];

const SEC: &[&str] = &["sys", "krb5", "krb5i", "krb5p", "none", "null", "unix"];

/// Splits and checks the options; returns them without fsid= and the fsid
/// found there, if any.
pub fn parse_options(
    s: &str,
    allow_async: bool,
) -> Result<(Vec<String>, Option<String>), OcfError> {
    if let Some(c) = s
        .chars()
        .find(|c| c.is_whitespace() || "()\"'`\\;$&|<>*[]{}#!".contains(*c))
    {
        return Err(configured!(
            "options {} contains {c:?}: options are comma-separated words of exports(5), and \
             clients and directories have their own parameters",
            shown(s)
        ));
    }
    let mut out = Vec::new();
    let mut fsid = None;
    for tok in s.split(',') {
        if tok.is_empty() {
            continue;
        }
        let (name, value) = match tok.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (tok, None),
        };
        match value {
            None if FLAGS.contains(&name) => {
                if name == "async" && !allow_async {
                    return Err(configured!(
                        "options contain async: the server would acknowledge writes before \
                         they are stored, and a failover loses them (set allow_async=true to \
                         accept that)"
                    ));
                }
                out.push(name.to_string());
            }
            None if VALUED.contains(&name) && name != "mountpoint" && name != "mp" => {
                return Err(configured!("option {name} needs a value ({name}=...)"));
            }
            None if name == "mountpoint" || name == "mp" => out.push(name.to_string()),
            Some(_) if FLAGS.contains(&name) => {
                return Err(configured!("option {name} takes no value"));
            }
            Some(v) if VALUED.contains(&name) => {
                check_option_value(name, v)?;
                if name == "fsid" {
                    fsid = Some(v.to_string());
                } else {
                    out.push(tok.to_string());
                }
            }
            _ => {
                return Err(configured!(
                    "unknown export option {} (see exports(5))",
                    shown(name)
                ))
            }
        }
    }
    Ok((out, fsid))
}

fn check_option_value(name: &str, v: &str) -> Result<(), OcfError> {
    let ok = match name {
        "anonuid" | "anongid" => v.parse::<u32>().is_ok(),
        "sec" => !v.is_empty() && v.split(':').all(|f| SEC.contains(&f)),
        "fsid" => Fsid::parse(v).is_ok(),
        "mountpoint" | "mp" => check_dir("mountpoint", v).is_ok(),
        "xprtsec" => !v.is_empty() && v.split(':').all(|f| ["none", "tls", "mtls"].contains(&f)),
        // refer=/path@host+host:/path@host...
        _ => {
            !v.is_empty()
                && v.starts_with('/')
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "/._-+@:".contains(c))
        }
    };
    if ok {
        Ok(())
    } else {
        Err(configured!("option {name}={} is not valid", shown(v)))
    }
}

fn host_label_ok(l: &str) -> bool {
    !l.is_empty()
        && l.len() <= 63
        && l.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-*?_".contains(c))
        && !l.starts_with('-')
}

/// One client specification in the forms exports(5) documents.
pub fn parse_client(s: &str) -> Result<Client, OcfError> {
    let bad = |why: &str| configured!("clientspec {} is not valid: {why}", shown(s));
    if s == "*" {
        return Ok(Client {
            spec: s.into(),
            table: s.into(),
        });
    }
    if let Some(ng) = s.strip_prefix('@') {
        if ng.is_empty()
            || !ng
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        {
            return Err(bad("a netgroup is @ and letters, digits, '.', '_', '-'"));
        }
        return Ok(Client {
            spec: s.into(),
            table: s.into(),
        });
    }
    let (addr, prefix) = match s.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (s, None),
    };
    if addr.contains(':') || addr.starts_with('[') {
        let inner = addr
            .strip_prefix('[')
            .and_then(|a| a.strip_suffix(']'))
            .ok_or_else(|| bad("an IPv6 address goes in brackets, e.g. [2001:db8::]/64"))?;
        inner
            .parse::<Ipv6Addr>()
            .map_err(|_| bad("not an IPv6 address"))?;
        if let Some(p) = prefix {
            match p.parse::<u8>() {
                Ok(n) if n <= 128 && !p.starts_with('+') => {}
                _ => return Err(bad("an IPv6 prefix length is 0 to 128")),
            }
        }
        let table = match prefix {
            Some(p) => format!("{inner}/{p}"),
            None => inner.to_string(),
        };
        return Ok(Client {
            spec: s.into(),
            table,
        });
    }
    let looks_v4 = addr.chars().all(|c| c.is_ascii_digit() || c == '.');
    if looks_v4 || prefix.is_some() {
        addr.parse::<Ipv4Addr>()
            .map_err(|_| bad("not an IPv4 address"))?;
        if let Some(p) = prefix {
            let len_ok = matches!(p.parse::<u8>(), Ok(n) if n <= 32 && !p.starts_with('+'));
            let mask_ok = p.parse::<Ipv4Addr>().is_ok_and(|m| {
                let m = u32::from(m);
                m.leading_ones() + m.trailing_zeros() == 32
            });
            if !len_ok && !mask_ok {
                return Err(bad("the prefix is a length 0 to 32 or a netmask"));
            }
        }
        return Ok(Client {
            spec: s.into(),
            table: s.into(),
        });
    }
    if s.len() > 253 || !s.split('.').all(host_label_ok) {
        return Err(bad(
            "expected '*', a host name, @netgroup, an IPv4 or a bracketed IPv6 address or subnet",
        ));
    }
    Ok(Client {
        spec: s.into(),
        table: s.into(),
    })
}

fn check_scope(s: &str) -> Result<(), OcfError> {
    if s.is_empty()
        || s.len() > 64
        || !s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    {
        return Err(configured!(
            "nfs_server_scope {} must be 1 to 64 letters, digits, '.', '_' or '-'",
            shown(s)
        ));
    }
    Ok(())
}

/// The resource's name, made a valid server scope.
pub fn default_scope(instance: &str) -> String {
    let s: String = instance
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    if s.is_empty() {
        "nfs-export".into()
    } else {
        s
    }
}

/// The fsids of the directories from the parameter (or options).
fn fsids(
    dirs: &[String],
    param: Option<&str>,
    from_opts: Option<&str>,
) -> Result<Vec<Fsid>, OcfError> {
    let given: Vec<&str> = match (param, from_opts) {
        (Some(p), _) => {
            if p.contains(',') {
                return Err(configured!("fsid {} cannot contain a comma", shown(p)));
            }
            p.split_whitespace().collect()
        }
        (None, Some(o)) if dirs.len() == 1 => vec![o],
        (None, Some(_)) => {
            return Err(configured!(
                "an fsid in options cannot serve {} directories: set fsid",
                dirs.len()
            ))
        }
        (None, None) => {
            return Err(configured!(
                "fsid is not set: every export needs a deterministic fsid, the same on every \
                 node, or its file handles change in a failover"
            ))
        }
    };
    let parsed: Vec<Fsid> = given
        .iter()
        .map(|g| Fsid::parse(g).map_err(OcfError::Configured))
        .collect::<Result<_, _>>()?;
    let out = if parsed.len() == dirs.len() {
        parsed
    } else if parsed.len() == 1 {
        // exportfs: a starting integer, incremented per directory.
        let start = match &parsed[0] {
            Fsid::Root => 0u64,
            Fsid::Num(n) => u64::from(*n),
            Fsid::Uuid { .. } => {
                return Err(configured!(
                    "use integer fsid when exporting multiple directories (or one fsid per \
                     directory)"
                ))
            }
        };
        (0..dirs.len() as u64)
            .map(|i| match u32::try_from(start + i) {
                Ok(0) => Ok(Fsid::Root),
                Ok(n) => Ok(Fsid::Num(n)),
                Err(_) => Err(configured!("fsid {start}+{i} is too large")),
            })
            .collect::<Result<_, _>>()?
    } else {
        return Err(configured!(
            "fsid has {} values for {} directories: give one per directory, or one integer",
            parsed.len(),
            dirs.len()
        ));
    };
    for (i, a) in out.iter().enumerate() {
        if let Some(j) = out[i + 1..].iter().position(|b| b.key() == a.key()) {
            return Err(configured!(
                "{} and {} would have the same fsid {}: file handles of one would open the \
                 other",
                dirs[i],
                dirs[i + 1 + j],
                a.option()
            ));
        }
    }
    Ok(out)
}

impl Config {
    pub fn from_params(p: &Params) -> Result<Config, OcfError> {
        let get = |n: &str| p.get(n).map(str::trim).filter(|v| !v.is_empty());
        let mut dirs = Vec::new();
        for d in get("directory").unwrap_or_default().split_whitespace() {
            let d = check_dir("directory", d)?;
            if dirs.contains(&d) {
                return Err(configured!("directory {d} is given twice"));
            }
            dirs.push(d);
        }
        if dirs.is_empty() {
            return Err(configured!("required parameter directory is not set"));
        }
        let mut clients: Vec<Client> = Vec::new();
        for c in get("clientspec").unwrap_or_default().split_whitespace() {
            let c = parse_client(c)?;
            if clients.iter().any(|o| o.table == c.table) {
                return Err(configured!("clientspec {} is given twice", c.spec));
            }
            clients.push(c);
        }
        if clients.is_empty() {
            return Err(configured!("required parameter clientspec is not set"));
        }
        let (options, opt_fsid) =
            parse_options(get("options").unwrap_or_default(), p.flag("allow_async"))?;
        if opt_fsid.is_some() && get("fsid").is_some() {
            log::warn!("the fsid in options is overridden by the fsid parameter");
        }
        let ids = fsids(&dirs, get("fsid"), opt_fsid.as_deref())?;
        let exports = dirs
            .into_iter()
            .zip(ids)
            .map(|(dir, fsid)| Export { dir, fsid })
            .collect();
        let rmtab_backup = match get("rmtab_backup") {
            None | Some("none") => None,
            Some(r) => {
                if r.starts_with('/')
                    || r.split('/').any(|c| c == ".." || c == "." || c.is_empty())
                    || !r.chars().all(dir_char_ok)
                {
                    return Err(configured!(
                        "rmtab_backup {} must be a relative path inside the directory",
                        shown(r)
                    ));
                }
                Some(r.to_string())
            }
        };
        let server = if p.flag("manage_server") {
            let infodir = match get("nfs_shared_infodir") {
                Some(d) => {
                    let d = check_dir("nfs_shared_infodir", d)?;
                    if d == "/" || d == "/var/lib/nfs" || d.starts_with("/var/lib/nfs/") {
                        return Err(configured!(
                            "nfs_shared_infodir {d} cannot be /var/lib/nfs or inside it"
                        ));
                    }
                    Some(d)
                }
                None => None,
            };
            let scope = match get("nfs_server_scope") {
                Some(s) => {
                    check_scope(s)?;
                    Some(s.to_string())
                }
                None => None,
            };
            let mut notify_ips = Vec::new();
            for ip in get("nfs_ip").unwrap_or_default().split([',', ' ']) {
                if ip.is_empty() {
                    continue;
                }
                notify_ips.push(
                    ip.parse::<IpAddr>()
                        .map_err(|_| configured!("nfs_ip {} is not an IP address", shown(ip)))?,
                );
            }
            let pipefs = check_dir(
                "rpcpipefs_dir",
                get("rpcpipefs_dir").unwrap_or("/run/rpc_pipefs"),
            )?;
            Some(Server {
                threads: p
                    .int("threads")
                    .and_then(|n| u32::try_from(n).ok())
                    .unwrap_or(8),
                v4_only: p.flag("nfsv4_only"),
                infodir,
                scope,
                notify_ips,
                lease: p.int("lease_time").and_then(|n| u32::try_from(n).ok()),
                grace: p.int("grace_time").and_then(|n| u32::try_from(n).ok()),
                pipefs,
            })
        } else {
            None
        };
        Ok(Config {
            exports,
            clients,
            options,
            create_directory: p.flag("create_directory"),
            unlock_on_stop: p.flag("unlock_on_stop"),
            wait_lease: p.flag("wait_for_leasetime_on_stop"),
            rmtab_backup,
            server,
        })
    }

    /// The `-o` value for one export.
    pub fn options_for(&self, e: &Export) -> String {
        let mut o = self.options.clone();
        o.push(format!("fsid={}", e.fsid.option()));
        o.join(",")
    }
}
