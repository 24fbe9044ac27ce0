# SPDX-License-Identifier: GPL-2.0-or-later
"""ocf:storha:writeboost-cache against the real dm-writeboost in the VMs.

Data safety is checked with checksums of data written through the device:
a stop with dirty blocks, a hard power-off while dirty, a valid cache that
is never reformatted, a stop under a holder, and a full flush that alone may
erase the superblock. Then ocf-tester, hostile parameters, reload, and the
agent as a clone in the cluster.
"""

import json
import re
import shlex
import time

import pytest

import storhalab

AGENT = "/usr/lib/ocf/resource.d/storha/writeboost-cache"
HDD = "/dev/vdb"
NVME = storhalab.session_cache_dev()  # the "NVMe": the cache disk
NAME = "wbt"
DATA_MIB = 16
RC_OK, RC_GENERIC, RC_ARGS, RC_CONFIGURED, RC_NOT_RUNNING = 0, 1, 2, 6, 7


def agent(vm, action, timeout_s=120, interval_ms=None, extra_env=None, **params):
    """Runs one action as Pacemaker would: parameters in OCF_RESKEY_*."""
    params.setdefault("name", NAME)
    params.setdefault("backing_dev", HDD)
    params.setdefault("cache_dev", NVME)
    extra_env = extra_env or {}
    env = {"OCF_ROOT": "/usr/lib/ocf", "OCF_RESOURCE_INSTANCE": params["name"],
           "OCF_RESKEY_CRM_meta_timeout": timeout_s * 1000}
    if interval_ms is not None:
        env["OCF_RESKEY_CRM_meta_interval"] = interval_ms
    env.update({f"OCF_RESKEY_{k}": v for k, v in params.items()})
    env.update(extra_env)
    # Every word quoted: hostile values (name="x;reboot") reach the agent
    # as they are, never the shell of the VM.
    words = ["env", *(shlex.quote(f"{k}={v}") for k, v in env.items()), AGENT, action]
    cmd = f"{' '.join(words)} </dev/null"
    return vm.run(cmd, check=False, timeout=timeout_s + 60)


def reason(r):
    lines = [l for l in r.err.splitlines() if l.startswith("ocf-exit-reason:")]
    return lines[-1] if lines else ""


def head(vm, dev):
    """The first 16 bytes of dev, read past the page cache, as hex."""
    return vm.run(f"set -o pipefail; dd if={dev} bs=4096 count=1 iflag=direct status=none"
                  " | od -An -tx1 -N16 | tr -d ' \\n'").out


# The first 16 bytes of a cache that a full drain left clean, as hex:
# storha's mark in place of the superblock header.
DRAINED_HEAD = b"storha writeboos".hex()


def checksum(vm, dev, mib=DATA_MIB, timeout=300):
    """sha256 of the first mib MiB, read past the page cache. pipefail: a
    read error fails here as an I/O error, never as a checksum of the part
    that was read (which would look like lost data)."""
    r = vm.run(f"set -o pipefail; dd if={dev} bs=1M count={mib} iflag=direct status=none"
               " | sha256sum", timeout=timeout)
    return r.out.split()[0]


def write_data(vm, dev=f"/dev/mapper/{NAME}", mib=DATA_MIB):
    """Random data through the device, flushed (fsync) so that it is
    acknowledged as durable: with writeback held back it lives on the cache."""
    vm.run(f"dd if=/dev/urandom of={dev} bs=1M count={mib} conv=fsync status=none")
    return checksum(vm, dev, mib)


def status_fields(vm):
    """dmsetup status of the device: the fields after the target name."""
    return [int(f) for f in vm.run(f"dmsetup status {NAME}").out.split()[3:3 + 7]]


def dirty(vm):
    return status_fields(vm)[6]


def sb_record(vm):
    """The superblock record on the cache device: last_writeback_segment_id,
    a little-endian u64 at the start of sector 2047 (the last 4 KiB block of
    the 1 MiB superblock area is read whole, past the page cache)."""
    out = vm.run(f"set -o pipefail; dd if={NVME} bs=4096 skip=255 count=1 iflag=direct"
                 " status=none | od -An -tu8 -j3584 -N8").out
    return int(out.split()[0])


def hdd_sectors_written(vm):
    """Sectors written to the backing disk since boot (/sys/block/*/stat)."""
    return int(vm.run(f"cat /sys/block/{HDD.rsplit('/', 1)[1]}/stat").out.split()[6])


RECORD_LINE = re.compile(r"superblock record on \S+ at segment (\d+) \(last written back (\d+)\)")


def nvme_stalls(vm):
    """The guest kernel's NVMe timeouts: the lab's emulated NVMe (qemu 7.2)
    can stop consuming an I/O queue; every later I/O to it then waits for
    nvme_core.io_timeout. Named in failures so that a stalled device is not
    mistaken for lost data."""
    r = vm.run("dmesg | grep -E 'nvme.*(timeout|Abort|reset)' | tail -n 20", check=False,
               timeout=30)
    return r.out.strip()


def clean_disks(vm):
    vm.run(f"dmsetup remove {NAME}-top", check=False)
    vm.run(f"dmsetup remove {NAME}", check=False)
    vm.run(f"wipefs -qa {HDD}; dd if=/dev/zero of={NVME} bs=1M count=1 oflag=direct status=none")


@pytest.fixture
def vm(node1):
    node1.run("modprobe dm-writeboost")
    clean_disks(node1)
    yield node1
    clean_disks(node1)


def test_unformatted_cache_refused_by_default_nothing_touched(vm):
    before = head(vm, NVME)
    r = agent(vm, "start")
    assert r.rc == RC_ARGS, str(r)
    assert "no dm-writeboost superblock and format=never" in reason(r), str(r)
    assert NAME not in vm.run("dmsetup ls").out
    assert head(vm, NVME) == before == "00" * 16


def test_stop_with_dirty_blocks_then_start_reads_back_intact(vm):
    r = agent(vm, "start", format="if-unformatted", writeback_threshold=0)
    assert r.rc == RC_OK, str(r)
    assert head(vm, NVME).startswith("74734257"), "formatted: magic WBst"
    want = write_data(vm)
    assert dirty(vm) > 0
    assert agent(vm, "monitor", interval_ms=10000).rc == RC_OK
    r = agent(vm, "stop", writeback_threshold=0)
    assert r.rc == RC_OK, str(r)
    assert NAME not in vm.run("dmsetup ls").out
    assert agent(vm, "monitor").rc == RC_NOT_RUNNING
    assert checksum(vm, HDD) != want, "the data was still dirty: only on the cache"
    # Default policy format=never: a valid cache is resumed, never formatted.
    r = agent(vm, "start", writeback_threshold=0)
    assert r.rc == RC_OK, str(r)
    assert checksum(vm, f"/dev/mapper/{NAME}") == want
    assert dirty(vm) > 0
    # Start again is a no-op; so is a start with if-unformatted after a stop.
    assert agent(vm, "start", writeback_threshold=0).rc == RC_OK
    assert agent(vm, "stop").rc == RC_OK
    assert agent(vm, "stop").rc == RC_OK, "stop is idempotent"
    assert agent(vm, "start", format="if-unformatted", writeback_threshold=0).rc == RC_OK
    assert checksum(vm, f"/dev/mapper/{NAME}") == want


def test_write_around_on_a_valid_cache_refused_data_kept(vm):
    assert agent(vm, "start", format="if-unformatted", writeback_threshold=0).rc == RC_OK
    want = write_data(vm)
    assert agent(vm, "stop").rc == RC_OK
    r = agent(vm, "start", format="if-unformatted", write_around_mode="true")
    assert r.rc == RC_ARGS, str(r)
    assert "write_around_mode=true would reformat" in reason(r), str(r)
    assert NAME not in vm.run("dmsetup ls").out
    assert agent(vm, "start", writeback_threshold=0).rc == RC_OK
    assert checksum(vm, f"/dev/mapper/{NAME}") == want


def test_stop_under_a_holder_fails_and_leaves_device_and_data(vm):
    assert agent(vm, "start", format="if-unformatted", writeback_threshold=0).rc == RC_OK
    want = write_data(vm)
    n = dirty(vm)
    size = vm.run(f"blockdev --getsz /dev/mapper/{NAME}").out.strip()
    vm.run(f"dmsetup create {NAME}-top --table '0 {size} linear /dev/mapper/{NAME} 0'")
    r = agent(vm, "stop")
    assert r.rc == RC_GENERIC, str(r)
    assert "still in use by" in reason(r) and f"{NAME}-top" in reason(r), str(r)
    info = vm.run(f"dmsetup info {NAME}").out
    assert "ACTIVE" in info and "SUSPENDED" not in info, info
    assert dirty(vm) == n
    assert checksum(vm, f"/dev/mapper/{NAME}-top") == want
    vm.run(f"dmsetup remove {NAME}-top")
    assert agent(vm, "stop").rc == RC_OK


def test_full_flush_reaches_zero_dirty_before_zeroing_the_superblock(vm):
    assert agent(vm, "start", format="if-unformatted", writeback_threshold=0).rc == RC_OK
    want = write_data(vm)
    assert dirty(vm) > 0
    r = agent(vm, "stop", timeout_s=300, flush_on_stop="full", zero_superblock_on_stop="true",
              format="if-unformatted", writeback_threshold=0, extra_env={"HA_debug": 1})
    assert r.rc == RC_OK, str(r)
    assert "dirty blocks written back" in r.err, str(r)
    assert NAME not in vm.run("dmsetup ls").out
    assert checksum(vm, HDD) == want, "every dirty block reached the backing device"
    assert head(vm, NVME) == "00" * 16, "superblock zeroed after the clean flush"


def test_full_drain_persists_the_record_and_a_restart_replays_nothing(vm):
    p = dict(format="if-unformatted", writeback_threshold=0)
    assert agent(vm, "start", **p).rc == RC_OK
    want = write_data(vm)
    n = dirty(vm)
    assert n > 0
    before = sb_record(vm)
    r = agent(vm, "stop", timeout_s=300, flush_on_stop="full", extra_env={"HA_debug": 1}, **p)
    assert r.rc == RC_OK, str(r)
    m = RECORD_LINE.search(r.err)
    assert m, str(r)
    rec = sb_record(vm)
    print(f"\n{n} blocks drained; superblock record {before} -> {rec}"
          f" (last written back {m.group(2)})")
    assert rec == int(m.group(1)) >= int(m.group(2)) > before, str(r)
    assert NAME not in vm.run("dmsetup ls").out
    assert head(vm, NVME) == DRAINED_HEAD, "the drained cache marked as such"
    assert checksum(vm, HDD) == want, "every dirty block reached the backing device"
    written = hdd_sectors_written(vm)
    # The default format=never: the mark alone lets the start format it.
    r = agent(vm, "start", writeback_threshold=0, extra_env={"HA_debug": 1})
    assert r.rc == RC_OK, str(r)
    assert "drained clean by the last stop" in r.err, str(r)
    assert head(vm, NVME).startswith("74734257"), "formatted anew"
    f = status_fields(vm)
    print(f"after the restart: dirty {f[6]}, last_writeback_id {f[5]}")
    assert f[6] == 0, f"the restart replayed {f[6]} blocks as dirty again"
    vm.run(f"dmsetup message {NAME} 0 drop_caches", timeout=60)
    assert dirty(vm) == 0
    assert hdd_sectors_written(vm) == written, "nothing was written back a second time"
    assert checksum(vm, f"/dev/mapper/{NAME}") == want


def drain_then_write_backing(vm, **stop):
    """A cache with data written through it, a full drain at stop, then
    newer data written to the backing disk without the cache (the reason
    to drain fully). Returns (old, newer) checksums."""
    p = dict(format="if-unformatted", writeback_threshold=0)
    assert agent(vm, "start", **p).rc == RC_OK
    old = write_data(vm)
    r = agent(vm, "stop", timeout_s=300, flush_on_stop="full", extra_env={"HA_debug": 1},
              **p, **stop)
    assert r.rc == RC_OK, str(r)
    assert RECORD_LINE.search(r.err), str(r)
    assert checksum(vm, HDD) == old
    newer = write_data(vm, dev=HDD)
    assert newer != old
    return old, newer


def test_backing_written_after_a_full_drain_reads_back_through_the_restarted_cache(vm):
    old, newer = drain_then_write_backing(vm)
    assert head(vm, NVME) == DRAINED_HEAD
    # Background writeback on (the default threshold), then a forced one:
    # anything the start took as dirty would be written back now. The
    # default format=never.
    written = hdd_sectors_written(vm)
    r = agent(vm, "start")
    assert r.rc == RC_OK, str(r)
    assert dirty(vm) == 0, "the restart took written-back blocks as dirty again"
    vm.run(f"dmsetup message {NAME} 0 drop_caches", timeout=60)
    through = checksum(vm, f"/dev/mapper/{NAME}")
    assert agent(vm, "stop").rc == RC_OK
    assert hdd_sectors_written(vm) == written, "the restart wrote blocks back again"
    assert checksum(vm, HDD) == newer, "the restart wrote older cached data over the backing disk"
    assert through == newer, ("read through the restarted cache: "
                              + {old: "the older data"}.get(through, "other data"))


def test_backing_written_after_a_zeroing_full_drain_reads_back_through_the_cache(vm):
    old, newer = drain_then_write_backing(vm, zero_superblock_on_stop="true")
    assert head(vm, NVME) == "00" * 16, "superblock zeroed after the confirmed record"
    r = agent(vm, "start", format="if-unformatted")
    assert r.rc == RC_OK, str(r)
    assert dirty(vm) == 0
    assert checksum(vm, f"/dev/mapper/{NAME}") == newer
    assert agent(vm, "stop", format="if-unformatted").rc == RC_OK
    assert checksum(vm, HDD) == newer


# A slow backing disk: dm-delay holds every write (and flush) to the HDD
# for SLOW_WRITE_MS. dm-writeboost writes back in batches of up to 32
# segments (16 MiB) whose writes run in parallel and end with a flush, so a
# batch takes about 2 x SLOW_WRITE_MS (measured: ~10.5 s a batch, 32 MiB in
# ~32 s): a drain of minutes on a real disk, in seconds of lab time.
SLOW = "/dev/mapper/wbslow"
SLOW_WRITE_MS = 5000


@pytest.fixture
def slow(vm):
    vm.run("modprobe dm-delay")
    vm.run("dmsetup remove wbslow", check=False)
    vm.run(f'dmsetup create wbslow --table "0 $(blockdev --getsz {HDD}) delay'
           f' {HDD} 0 0 {HDD} 0 {SLOW_WRITE_MS}"')
    try:
        yield SLOW
    finally:
        # The cache device first: it holds wbslow. Removing it may wait for
        # a writeback batch in flight (a few delayed writes).
        vm.run(f"dmsetup remove {NAME}", check=False, timeout=120)
        vm.run("dmsetup remove --retry wbslow", check=False, timeout=120)


def drain_lines(r):
    return re.findall(r"\d+ of \d+ dirty blocks left after \d+s[^\n]*", r.err)


def bare_drain_s(vm, mib):
    """The same drain without the agent: a cache made by hand over the slow
    disk, mib MiB written, then one `dmsetup message drop_caches` timed in
    the VM."""
    vm.run(f"dd if=/dev/zero of={NVME} bs=1M count=1 oflag=direct status=none")
    vm.run(f'dmsetup create {NAME} --table "0 $(blockdev --getsz {SLOW}) writeboost'
           f' {SLOW} {NVME} 2 writeback_threshold 0"')
    write_data(vm, mib=mib)
    vm.run(f"dmsetup suspend {NAME}; dmsetup resume {NAME}")
    assert dirty(vm) > 0
    out = vm.run(f"t0=$(date +%s.%N); dmsetup message {NAME} 0 drop_caches;"
                 f" t1=$(date +%s.%N); echo \"$t1 - $t0\" | bc", timeout=600).out
    assert dirty(vm) == 0
    vm.run(f"dmsetup remove {NAME}", timeout=120)
    return float(out.strip())


def test_long_full_drain_logs_progress_and_zeroes_a_clean_cache(vm, slow):
    mib = 32
    p = dict(backing_dev=slow, writeback_threshold=0, format="if-unformatted")
    assert agent(vm, "start", **p).rc == RC_OK
    want = write_data(vm, mib=mib)
    n = dirty(vm)
    assert n > 0
    t0 = time.monotonic()
    r = agent(vm, "stop", timeout_s=240, flush_on_stop="full", zero_superblock_on_stop="true",
              extra_env={"HA_debug": 1}, **p)
    took = time.monotonic() - t0
    assert r.rc == RC_OK, str(r)
    assert drain_lines(r), f"no progress line in a {took:.0f}s drain: {r}"
    m = re.search(r"all (\d+) dirty blocks written back in ([\d.]+)s", r.err)
    assert m and int(m.group(1)) >= n, str(r)
    assert RECORD_LINE.search(r.err), f"zeroed before the record was confirmed: {r}"
    assert NAME not in vm.run("dmsetup ls").out
    assert checksum(vm, HDD, mib) == want, "every dirty block reached the backing device"
    assert head(vm, NVME) == "00" * 16, "superblock zeroed after the clean flush"
    bare = bare_drain_s(vm, mib)
    print(f"\n{mib} MiB ({n} blocks) over {SLOW_WRITE_MS} ms writes: agent drain"
          f" {float(m.group(2)):.1f}s (stop {took:.1f}s), bare drop_caches {bare:.1f}s")
    for line in drain_lines(r):
        print("  " + line)


def test_drain_out_of_time_keeps_superblock_and_data(vm, slow):
    mib, timeout_s = 64, 20
    p = dict(backing_dev=slow, writeback_threshold=0, format="if-unformatted")
    assert agent(vm, "start", **p).rc == RC_OK
    want = write_data(vm, mib=mib)
    n = dirty(vm)
    t0 = time.monotonic()
    r = agent(vm, "stop", timeout_s=timeout_s, flush_on_stop="full",
              zero_superblock_on_stop="true", extra_env={"HA_debug": 1}, **p)
    took = time.monotonic() - t0
    print(f"\nstop of {n} dirty blocks with a {timeout_s}s timeout: {took:.1f}s")
    for line in r.err.splitlines():
        if NAME in line:
            print("  " + line)
    # A bound on hanging (ssh adds well under a second), not a speed test:
    # past the timeout Pacemaker would have killed the stop and fenced.
    assert took < timeout_s + 3, f"stop took {took:.1f}s of {timeout_s}s: {r}"
    assert r.rc == RC_OK, str(r)
    m = re.search(r"(\d+) of (\d+) dirty blocks still on the cache when the time ran out", r.err)
    assert m and int(m.group(1)) > 0, str(r)
    assert "dirty blocks remain on the cache; the cache keeps its superblock" in r.err, str(r)
    assert NAME not in vm.run("dmsetup ls").out
    assert head(vm, NVME).startswith("74734257"), "superblock kept: blocks still dirty"
    r = agent(vm, "start", backing_dev=slow, writeback_threshold=0)
    assert r.rc == RC_OK, str(r)
    print(f"  after the restart: {dirty(vm)} dirty (superblock record {sb_record(vm)})")
    assert dirty(vm) > 0
    assert checksum(vm, f"/dev/mapper/{NAME}", mib) == want


def test_hostile_and_broken_parameters_touch_no_device(vm):
    assert agent(vm, "start", format="if-unformatted").rc == RC_OK
    assert agent(vm, "stop").rc == RC_OK
    before = head(vm, NVME)
    cases = [
        (RC_CONFIGURED, dict(name="x;reboot")),
        (RC_CONFIGURED, dict(name="../../control")),
        (RC_CONFIGURED, dict(backing_dev="/etc/passwd")),
        (RC_CONFIGURED, dict(backing_dev=NVME)),
        (RC_CONFIGURED, dict(writeback_threshold=101)),
        (RC_CONFIGURED, dict(format="always")),
        (RC_CONFIGURED, dict(zero_superblock_on_stop="true")),
        (RC_ARGS, dict(backing_dev="/dev/disk/by-id/does-not-exist")),
        (RC_ARGS, dict(backing_dev="/dev/vda")),  # the root disk: mounted
        (RC_ARGS, dict(backing_dev="/dev/null")),
    ]
    for rc, params in cases:
        # The most permissive policy, so that only the bad value can refuse.
        params = {"format": "force", **params}
        for action in ("validate-all", "start"):
            r = agent(vm, action, **params)
            assert r.rc == rc, f"{params} {action}: {r}"
            assert reason(r), f"{params}: no exit reason: {r}"
        assert "writeboost" not in vm.run("dmsetup table").out
        assert head(vm, NVME) == before
    # Stop and probe with broken parameters: nothing to stop, not running.
    assert agent(vm, "stop", name="x;reboot").rc == RC_OK
    assert agent(vm, "monitor", name="x;reboot").rc == RC_NOT_RUNNING


def test_reload_changes_tunables_live(vm):
    assert agent(vm, "start", format="if-unformatted", writeback_threshold=0).rc == RC_OK
    dev_before = vm.run(f"dmsetup info -c --noheadings -o major,minor {NAME}").out
    r = agent(vm, "reload", writeback_threshold=40, read_cache_threshold=16)
    assert r.rc == RC_OK, str(r)
    status = vm.run(f"dmsetup status {NAME}").out
    assert "writeback_threshold 40" in status and "read_cache_threshold 16" in status, status
    assert vm.run(f"dmsetup info -c --noheadings -o major,minor {NAME}").out == dev_before


def test_observed_state_reports_dirty_blocks(vm):
    assert agent(vm, "start", format="if-unformatted", writeback_threshold=0).rc == RC_OK
    write_data(vm)
    r = vm.run(f"storha writeboost-cache monitor --json -p name={NAME} -p backing_dev={HDD} "
               f"-p cache_dev={NVME} -p writeback_threshold=0", check=False)
    assert r.rc == 0, str(r)
    state = json.loads(r.out)["state"]
    assert state["dirty_blocks"] == dirty(vm), r.out
    assert state["cache_superblock"] is True


def test_ocf_tester(vm):
    vm.run(f"dd if=/dev/zero of={NVME} bs=1M count=1 oflag=direct status=none")
    r = vm.run(f"ocf-tester -n {NAME} -o name={NAME} -o backing_dev={HDD} -o cache_dev={NVME}"
               f" -o format=if-unformatted {AGENT}", check=False, timeout=900)
    assert r.rc == 0 and "passed all tests" in r.out, str(r)


@pytest.mark.every_topology
@pytest.mark.power
def test_hard_power_off_while_dirty_then_replayed_intact(lab):
    victim = lab.node_names[-1]
    vm = lab.vm(victim)
    vm.run("modprobe dm-writeboost")
    clean_disks(vm)
    assert agent(vm, "start", format="if-unformatted", writeback_threshold=0).rc == RC_OK
    want = write_data(vm)
    # fsync returned: dm-writeboost acknowledges a flush only once the RAM
    # buffer went to the cache device as one checksummed segment and the
    # cache device was flushed (daemon.c process_deferred_barriers). So the
    # buffer is empty: every segment up to current_id - 1 is on the cache.
    cursor, _, _, current_id, last_flushed, _, n = status_fields(vm)
    assert n > 0
    assert last_flushed == current_id - 1, f"RAM buffer not flushed: {status_fields(vm)}"
    lab.power(victim, "off")
    lab.boot_again(victim)
    stalled = ""
    try:
        r = agent(vm, "start", writeback_threshold=0)
        stalled = nvme_stalls(vm)
        assert r.rc == RC_OK, f"{r}\n{stalled}"
        after = status_fields(vm)
        # The replay found every flushed segment: same ids, same dirty count.
        assert after[4] == last_flushed and after[6] == n, (after, last_flushed, n, stalled)
        try:
            got = checksum(vm, f"/dev/mapper/{NAME}", timeout=240)
        except Exception as e:
            stalled = nvme_stalls(vm)
            raise AssertionError(f"reading the replayed device failed: {e}\n"
                                 f"guest NVMe timeouts: {stalled or 'none'}") from e
        assert got == want, f"replayed data differs; guest NVMe timeouts: {nvme_stalls(vm) or 'none'}"
        assert dirty(vm) == n
        assert agent(vm, "stop").rc == RC_OK
    finally:
        if stalled or nvme_stalls(vm):
            # A stalled emulated NVMe never recovers in this boot: power
            # the VM off and on so that the lab stays usable.
            lab.power(victim, "off")
            lab.boot_again(victim)
        clean_disks(vm)
        vm.run("systemctl start corosync pacemaker", check=False)
    lab.wait_cluster(online=lab.node_names, timeout=300)


CRM = f"""
primitive p_wbc ocf:storha:writeboost-cache \\
    params name=wbc backing_dev={HDD} cache_dev={NVME} format=if-unformatted \\
    op start timeout=300s interval=0s \\
    op stop timeout=300s interval=0s \\
    op monitor interval=10s timeout=30s
clone cl_wbc p_wbc meta clone-max=2 clone-node-max=1 interleave=true
location l_wbc_nodes cl_wbc rule -inf: #uname ne node1 and #uname ne node2
"""


def test_clone_started_everywhere_and_standby_stops_cleanly(cluster, node1, node2):
    lab = cluster
    nodes = [node1, node2]
    for n in nodes:
        clean_disks(n)
    try:
        node1.put_bytes("/tmp/wbc.crm", CRM)
        node1.run("crm configure load update /tmp/wbc.crm", timeout=300)

        def started():
            roles = lab.resource_roles("p_wbc")
            return all(roles.get(n.name) == "Started" for n in nodes) and roles
        lab.wait_for(started, 300, "cl_wbc started on both nodes",
                     describe=lambda: node1.run("crm_mon -1 -r", check=False).out)
        for n in nodes:
            assert "writeboost" in n.run("dmsetup table wbc").out
        # The monitor reports the dirty count as a transient node attribute.
        lab.wait_for(lambda: node2.run("attrd_updater -Q -n writeboost-wbc-dirty -N node2",
                                       check=False).ok, 120, "node attribute set")
        node1.run("crm node standby node2")
        lab.wait_for(lambda: "node2" not in lab.resource_roles("p_wbc"), 300,
                     "cl_wbc stopped on node2",
                     describe=lambda: node1.run("crm_mon -1 -r", check=False).out)
        assert "wbc" not in node2.run("dmsetup ls").out
        mon = node1.run("crm_mon -1 -r").out
        assert "Failed" not in mon, mon
        node1.run("crm node online node2")
        lab.wait_for(started, 300, "cl_wbc started again on node2")
    finally:
        node1.run("crm node online node2", check=False)
        lab.reset_cluster()
        for n in nodes:
            clean_disks(n)
