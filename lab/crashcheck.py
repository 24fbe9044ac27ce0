# SPDX-License-Identifier: GPL-2.0-or-later
"""Crash consistency of the storage stack, recorded with dm-log-writes and
replayed (runs inside a lab node as root; tests/lab/test_crash_consistency.py
copies it there).

`record CONFIG`: one log-writes device over a loop file (the log on a
second one), the writeboost cache and backing devices carved out of it with
dm-linear so that a single log orders both, the writeboost device made by
storha's agent, DRBD on it (a standalone Primary, internal metadata), ext4,
and a writer of self-checking records that fsyncs each one and, once the
fsync has returned, puts a mark `ackN` in the log.

`check CONFIG`: the log read with the replayer below (the format of
Documentation/admin-guide/device-mapper/log-writes.rst), replayed onto a
fresh zeroed file up to each chosen point (after a FLUSH or FUA entry, just
after an ack mark, half-way between two flushes, the end), and at each point
a throw-away snapshot of that image assembled again as the stack: writeboost
over it (it replays its own log), DRBD attached and promoted, ext4 mounted
(journal recovery), and every record acknowledged before the point read
back and checked. Prints one JSON object.

A replayed prefix of the log is one state a power cut could leave: every
write logged before a flush had completed before it, and dm-log-writes logs
a write only at the flush that follows its completion (or at a FUA)."""

import hashlib
import json
import os
import struct
import subprocess
import sys
import time

MAGIC = 0x6A736677736872
FLUSH, FUA, DISCARD, MARK, METADATA = 1, 2, 4, 8, 16
ENTRY = struct.Struct("<QQQQ")  # sector, nr_sectors, flags, data_len
SUPER = struct.Struct("<QQQI")  # magic, version, nr_entries, sectorsize

LW, CACHE, BACKING, SNAP = "crash-lw", "crash-c", "crash-b", "crash-snap"
WB, RES, MINOR = "crashwb", "crash", 9
MNT = "/mnt/crash"
REC = 64


# ---- the log

def read_log(path):
    """(sectorsize, [entry]) where entry = dict(i, sector, nr, flags,
    data_at, mark): sector and nr in units of sectorsize, data_at the byte
    offset of the entry's data in the log."""
    with open(path, "rb") as f:
        magic, version, nr_entries, ss = SUPER.unpack(f.read(SUPER.size))
        if magic != MAGIC or version != 1:
            raise ValueError(f"{path}: not a dm-log-writes log (magic {magic:#x}, "
                             f"version {version})")
        entries = []
        pos = ss
        for i in range(nr_entries):
            f.seek(pos)
            head = f.read(ss)
            if len(head) < ENTRY.size:
                raise ValueError(f"{path}: entry {i} of {nr_entries} past the end")
            sector, nr, flags, data_len = ENTRY.unpack_from(head)
            mark = None
            if flags & MARK:
                mark = head[ENTRY.size:ENTRY.size + data_len].decode(errors="replace")
            entries.append({"i": i, "sector": sector, "nr": nr, "flags": flags,
                            "data_at": pos + ss, "mark": mark})
            pos += ss
            if not flags & DISCARD:
                pos += nr * ss
    return ss, entries


def replay(log, target, ss, entries, start, stop):
    """Applies entries[start:stop] to the open target file (a discard reads
    back as zeros)."""
    for e in entries[start:stop]:
        if not e["nr"] or e["flags"] & MARK:
            continue
        if e["flags"] & DISCARD:
            data = bytes(e["nr"] * ss)
        else:
            log.seek(e["data_at"])
            data = log.read(e["nr"] * ss)
        os.pwrite(target, data, e["sector"] * ss)


def acked_before(entries, point):
    """Records acknowledged before entries[point]: 1 + the highest N of an
    `ackN` mark among entries[:point]."""
    n = 0
    for e in entries[:point]:
        if e["mark"] and e["mark"].startswith("ack"):
            n = max(n, int(e["mark"][3:]) + 1)
    return n


def spread(xs, k):
    """k items of xs, evenly spread, the last one included."""
    if k <= 0 or not xs:
        return []
    if len(xs) <= k:
        return list(xs)
    return [xs[round(j * (len(xs) - 1) / (k - 1))] for j in range(k)] if k > 1 else [xs[-1]]


def choose_points(entries, cfg):
    """[(point, kind)]: the state after entries[:point]."""
    ready = next(e["i"] for e in entries if e["mark"] == "ready")
    first_ack = next((e["i"] for e in entries if (e["mark"] or "").startswith("ack")),
                     len(entries))
    start = min(ready + 1, first_ack)
    flushes = [e["i"] + 1 for e in entries[start:] if e["flags"] & (FLUSH | FUA)]
    acks = [e["i"] + 1 for e in entries[start:] if (e["mark"] or "").startswith("ack")]
    mids = [(a + b) // 2 for a, b in zip(flushes, flushes[1:]) if b - a > 2]
    pts = {}
    for kind, xs, k in (("flush", flushes, cfg["flush_points"]),
                        ("ack", acks, cfg["ack_points"]),
                        ("between", mids, cfg["between_points"])):
        for p in spread(xs, k):
            pts.setdefault(p, kind)
    pts.setdefault(len(entries), "end")
    return sorted(pts.items()), {"flushes": len(flushes), "acks": len(acks),
                                 "between": len(mids)}


# ---- the stack

def sh(cmd, check=True, timeout=300):
    r = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError(f"{cmd}: rc={r.returncode}\n{r.stdout}{r.stderr}")
    return r.stdout


def losetup(path):
    return sh(f"losetup -f --show {path}").strip()


def res_text(cfg):
    return (f"resource {RES} {{\n\tdevice /dev/drbd{MINOR};\n\tdisk /dev/mapper/{WB};\n"
            f"\tmeta-disk internal;\n\tdisk {{ al-extents 3389; {cfg['drbd_disk']} }}\n"
            f"\tnet {{ protocol C; }}\n"
            f"\ton {cfg['host']} {{ address {cfg['addr']}:7799; }}\n"
            f"\ton crash-nopeer {{ address 192.168.77.250:7799; }}\n}}\n")


def linear(sectors_c, sectors_b, under):
    sh(f"dmsetup create {CACHE} --table '0 {sectors_c} linear {under} 0'")
    sh(f"dmsetup create {BACKING} --table '0 {sectors_b} linear {under} {sectors_c}'")


def down_all(cfg, loops=()):
    sh(f"umount {MNT} 2>/dev/null; drbdadm down {RES} 2>/dev/null; "
       f"dmsetup remove --retry {WB} 2>/dev/null; "
       f"dmsetup remove {BACKING} 2>/dev/null; dmsetup remove {CACHE} 2>/dev/null; "
       f"dmsetup remove {SNAP} 2>/dev/null; dmsetup remove {LW} 2>/dev/null; true",
       timeout=240)
    for loop in loops:
        sh(f"losetup -d {loop}", check=False)


def sizes(cfg):
    c = cfg["cache_mib"] * 2048
    b = cfg["backing_mib"] * 2048
    return c, b


def record_body(n):
    payload = ("%016d" % (n * 7919)).encode()
    body = b"%010d " % n + hashlib.sha256(b"%d:" % n + payload).hexdigest()[:32].encode() \
        + b" " + payload
    return body.ljust(REC - 1, b".") + b"\n"


def record(cfg):
    d = cfg["dir"]
    sh(f"losetup -j {d}/data.img | cut -d: -f1 | xargs -r -n1 losetup -d; "
       f"losetup -j {d}/log.img | cut -d: -f1 | xargs -r -n1 losetup -d; true")
    down_all(cfg)
    sh(f"rm -rf {d} && mkdir -p {d} {MNT}")
    c, b = sizes(cfg)
    sh(f"truncate -s {(c + b) * 512} {d}/data.img && truncate -s {cfg['log_mib']}M {d}/log.img")
    sh("modprobe dm-log-writes && modprobe dm-snapshot && modprobe dm-writeboost && "
       "modprobe drbd")
    data, logdev = losetup(f"{d}/data.img"), losetup(f"{d}/log.img")
    loops = [data, logdev]
    t0 = time.time()
    try:
        sh(f"dmsetup create {LW} --table '0 {c + b} log-writes {data} {logdev}'")
        linear(c, b, f"/dev/mapper/{LW}")
        env = {"OCF_ROOT": "/usr/lib/ocf", "OCF_RESOURCE_INSTANCE": WB,
               "OCF_RESKEY_CRM_meta_timeout": "300000", "OCF_RESKEY_name": WB,
               "OCF_RESKEY_backing_dev": f"/dev/mapper/{BACKING}",
               "OCF_RESKEY_cache_dev": f"/dev/mapper/{CACHE}",
               "OCF_RESKEY_format": "if-unformatted"}
        r = subprocess.run([cfg["agent"], "start"], env={**os.environ, **env},
                           capture_output=True, text=True, timeout=360)
        if r.returncode != 0:
            raise RuntimeError(f"writeboost-cache start: rc={r.returncode}\n{r.stderr}")
        table = sh(f"dmsetup table {WB}").split()
        with open(f"/etc/drbd.d/{RES}.res", "w") as f:
            f.write(res_text(cfg))
        sh(f"drbdadm create-md --force {RES} </dev/null && drbdadm up {RES} && "
           f"drbdadm primary --force {RES}")
        sh(f"mkfs.ext4 -q -F -N 1024 -J size=4 -E nodiscard /dev/drbd{MINOR}")
        opts = f"-o {cfg['mount_opts']}" if cfg["mount_opts"] else ""
        sh(f"mount -t ext4 {opts} /dev/drbd{MINOR} {MNT} && sync")
        sh(f"dmsetup message {LW} 0 mark ready")
        path = f"{MNT}/records"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        dfd = os.open(MNT, os.O_RDONLY)
        os.fsync(dfd)
        os.close(dfd)
        t1 = time.time()
        for n in range(cfg["records"]):
            os.pwrite(fd, record_body(n), n * REC)
            os.fsync(fd)
            sh(f"dmsetup message {LW} 0 mark ack{n}")
        t2 = time.time()
        os.close(fd)
        status = sh(f"dmsetup status {WB}").split()
        sh(f"umount {MNT} && drbdadm down {RES}")
        sh(f"dmsetup remove --retry {WB}", timeout=240)
        sh(f"dmsetup remove {BACKING} && dmsetup remove {CACHE} && dmsetup remove {LW}")
    finally:
        down_all(cfg, loops)
    with open(f"{d}/table.json", "w") as f:
        json.dump(table, f)
    # dmsetup status of writeboost: cursor, cache blocks, segments, current
    # id, last flushed id, last written back id, dirty blocks, ...
    return {"records": cfg["records"], "writer_s": round(t2 - t1, 1),
            "record_s": round(time.time() - t0, 1), "wb_table": " ".join(table[2:]),
            "wb_segments": int(status[5]), "wb_current_id": int(status[6]),
            "wb_last_writeback_id": int(status[8]), "wb_dirty": int(status[9]),
            "log_bytes": os.stat(f"{d}/log.img").st_blocks * 512}


def read_records(path, count):
    """The numbers of the first `count` records that do not read back
    intact, and how many records past them are intact too."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return list(range(count)), 0
    bad = [n for n in range(count) if data[n * REC:(n + 1) * REC] != record_body(n)]
    extra = 0
    while data[(count + extra) * REC:(count + extra + 1) * REC] == record_body(count + extra):
        extra += 1
    return bad, extra


def check_point(cfg, table, replay_loop, cow_loop, count):
    """The replayed image at one point, assembled as the stack (on a
    transient snapshot, so that the recoveries write elsewhere): the bad
    records among the first count, the intact ones past them."""
    c, b = sizes(cfg)
    try:
        sh(f"dmsetup create {SNAP} --table '0 {c + b} snapshot {replay_loop} {cow_loop} N 8'")
        linear(c, b, f"/dev/mapper/{SNAP}")
        t = list(table)
        t[3], t[4] = f"/dev/mapper/{BACKING}", f"/dev/mapper/{CACHE}"
        sh(f"dmsetup create {WB} --table '{' '.join(t)}'", timeout=300)
        sh(f"drbdadm up {RES} && drbdadm primary --force {RES}")
        opts = f"-o {cfg['mount_opts']}" if cfg["mount_opts"] else ""
        sh(f"mount -t ext4 {opts} /dev/drbd{MINOR} {MNT}")
        return read_records(f"{MNT}/records", count)
    finally:
        down_all(cfg)


def check(cfg):
    d = cfg["dir"]
    t0 = time.time()
    ss, entries = read_log(f"{d}/log.img")
    with open(f"{d}/table.json") as f:
        table = json.load(f)
    points, candidates = choose_points(entries, cfg)
    c, b = sizes(cfg)
    sh(f"rm -f {d}/replay.img {d}/cow.img && truncate -s {(c + b) * 512} {d}/replay.img "
       f"&& truncate -s {(c + b) * 512} {d}/cow.img")
    replay_loop, cow_loop = losetup(f"{d}/replay.img"), losetup(f"{d}/cow.img")
    results = []
    try:
        with open(f"{d}/log.img", "rb") as log:
            target = os.open(f"{d}/replay.img", os.O_RDWR)
            done = 0
            for point, kind in points:
                replay(log, target, ss, entries, done, point)
                os.fsync(target)
                done = point
                count = acked_before(entries, point)
                t = time.time()
                error = None
                try:
                    bad, extra = check_point(cfg, table, replay_loop, cow_loop, count)
                except (RuntimeError, subprocess.TimeoutExpired) as e:
                    # The stack did not come up on this image: every
                    # acknowledged record is lost with it.
                    error, bad, extra = str(e)[-2000:], list(range(count)), 0
                results.append({"point": point, "kind": kind, "acked": count,
                                "bad": bad[:20], "lost": len(bad), "intact_unacked": extra,
                                "error": error, "s": round(time.time() - t, 1)})
            os.close(target)
    finally:
        down_all(cfg, [replay_loop, cow_loop])
    flags = {"flush": sum(1 for e in entries if e["flags"] & FLUSH),
             "fua": sum(1 for e in entries if e["flags"] & FUA),
             "discard": sum(1 for e in entries if e["flags"] & DISCARD),
             "mark": sum(1 for e in entries if e["flags"] & MARK)}
    return {"entries": len(entries), "sectorsize": ss, "flags": flags,
            "candidates": candidates, "points": results, "check_s": round(time.time() - t0, 1)}


def main(argv):
    if len(argv) != 3 or argv[1] not in ("record", "check"):
        print("usage: crashcheck.py record|check CONFIG.json", file=sys.stderr)
        return 2
    with open(argv[2]) as f:
        cfg = json.load(f)
    out = record(cfg) if argv[1] == "record" else check(cfg)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
