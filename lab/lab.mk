# The lab: Debian VMs under qemu forming a Corosync/Pacemaker cluster, where
# storha's agents are tested against real DRBD, device-mapper and nfsd.
# Included by the top-level Makefile. See lab/README.md.
# SPDX-License-Identifier: GPL-2.0-or-later

# Debian's python3 (with python3-pytest), whatever python is first on PATH.
LAB_PYTHON ?= /usr/bin/python3
LAB_CLI    := $(LAB_PYTHON) lab/storhalab.py
NODES      ?= 2
CLIENT     ?= 0
NODE       ?= 1
# No __pycache__ folders in the source tree.
export PYTHONDONTWRITEBYTECODE := 1
# Extra pytest arguments, e.g. PYTEST_ARGS='-k drbd'.
PYTEST_ARGS ?=

.PHONY: lab-deps lab-image lab-up lab-down lab-ssh lab-status lab-install \
	lab-test lab-test-long lab-bench lab-test-all lab-logs boot-race

# Host packages of the lab (qemu, mmdebstrap, kernel headers, pytest).
lab-deps:
	lab/host-deps.sh

# The VM image, rebuilt only when lab/image/ changes (cached in /var/cache/storha-lab).
lab-image:
	$(LAB_CLI) image

# Boot NODES nodes (2 or 3) and, with CLIENT=1, a client VM; start the cluster.
lab-up:
	$(LAB_CLI) up --nodes $(NODES) --client $(CLIENT)

lab-down:
	$(LAB_CLI) down

lab-ssh:
	$(LAB_CLI) ssh $(NODE)

lab-status:
	$(LAB_CLI) status

# Install a fresh `make deb` of storha in the running VMs (dpkg -i).
lab-install:
	$(LAB_CLI) install

# The lab tests against the running lab (storha reinstalled first).
lab-test: lab-install
	$(LAB_PYTHON) -m pytest -p no:cacheprovider -rs -v tests/lab $(PYTEST_ARGS)

# The lab tests marked `long` (crash consistency replayed point by point, the
# power-off during writeback): beyond CI's time budget, in a running lab with a
# client (make lab-up CLIENT=1).
lab-test-long: lab-install
	$(LAB_PYTHON) -m pytest -p no:cacheprovider -rs -v -m long tests/lab $(PYTEST_ARGS)

# Monitor-time baselines of the reference agents and storha's agents against
# them (BENCH_DRBD=0, BENCH_NFS=0, ... leave a part out), in the running lab.
lab-bench:
	$(LAB_PYTHON) lab/bench.py
	@if $(LAB_CLI) status 2>/dev/null | grep -q "client"; then \
		$(LAB_PYTHON) lab/bench_failover.py; \
	else \
		echo "lab-bench: no client VM in this lab: the failover benchmark needs one (CLIENT=1)"; \
	fi

lab-logs:
	$(LAB_CLI) logs lab/artifacts/manual

# nfs-export's start right after a fresh boot of two nodes, BOOTS times
# (default 10): the start race systemd:nfs-server showed. Boots its own labs.
boot-race:
	$(LAB_PYTHON) lab/boot_race.py

# CI: host packages, image, both topologies, every lab test, logs, teardown.
lab-test-all:
	lab/test-all.sh
