# storha: build, test, benchmark and install the multi-call agent binary.
# SPDX-License-Identifier: GPL-2.0-or-later

PREFIX   ?= /usr
DESTDIR  ?=
OCF_ROOT ?= /usr/lib/ocf
SBINDIR  ?= $(PREFIX)/sbin
BINDIR   ?= $(PREFIX)/bin
CARGO    ?= cargo
PROVIDER := storha

# Every name the binary answers to as an OCF agent (symlinks in resource.d/storha/).
OCF_AGENTS := floating-ip writeboost-cache drbd-tuned nfs-export
# Fence agents go to $(SBINDIR) because pacemaker-fenced only lists fence_* there.
FENCE_AGENTS := fence_ipstrip

# The installed binary is linked statically (glibc's crt-static): an agent
# runs as a fresh process on every monitor, and without the dynamic loader
# one starts in about two thirds of the time (floating-ip's monitor: 1.0 ms
# against 1.5 ms, as cheap as /bin/true). Name lookups still work: glibc
# 2.34+ carries the files and dns NSS modules inside itself. The target must
# be named so that proc-macros, which run in the compiler, stay dynamic.
# STATIC=0 builds the ordinary dynamic binary.
STATIC      ?= 1
HOST_TRIPLE := $(shell rustc -vV 2>/dev/null | sed -n 's/^host: //p')
ifeq ($(STATIC),1)
TRIPLE_VAR  := $(shell echo '$(HOST_TRIPLE)' | tr 'a-z-' 'A-Z_')
BUILD_FLAGS := --target $(HOST_TRIPLE)
BUILD_ENV   := CARGO_TARGET_$(TRIPLE_VAR)_RUSTFLAGS="-C target-feature=+crt-static"
RELEASE_BIN := target/$(HOST_TRIPLE)/release/storha
else
BUILD_FLAGS :=
BUILD_ENV   :=
RELEASE_BIN := target/release/storha
endif

.PHONY: all build deps test test-all bench bench-host bench-lab install uninstall metadata man deb demo demo-ip soak clean

all: build

deps:
	scripts/install-deps.sh

build:
	$(BUILD_ENV) $(CARGO) build --release --locked $(BUILD_FLAGS)

# Unit tests and host integration tests (network namespaces, ocf-tester, single-node Pacemaker),
# then the host-side tests of the lab's own tooling (install decisions, result checks).
test: build
	$(CARGO) test --release --locked
	PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 -m pytest -p no:cacheprovider -q tests/host

# The README's test command: everything, including the lab of virtual machines.
# The lab stage fails when the lab cannot run or any lab test is skipped;
# LAB=skip skips it (loudly, and never when CI is set).
test-all: deps test lab-test-all

# The main job: the whole stack in the lab (two storage nodes and a client VM),
# failed over by powering the Primary off at its strip, with a timeline and the
# client's data check. KEEP=1 leaves the lab running afterwards.
demo: deps build
	lab/host-deps.sh
	$(LAB_PYTHON) lab/demo.py

# The quick one, on this host alone: a floating IP under a real single-node
# Pacemaker, shown with crm_mon. KEEP=1 leaves the cluster running.
demo-ip: deps
	scripts/demo.sh

# Failover after failover of the whole stack in the lab (ROUNDS=20 by default):
# records written, acknowledged and lost. KEEP=1 leaves the lab running.
soak: deps build
	lab/host-deps.sh
	$(LAB_PYTHON) lab/soak.py

# Benchmarks, side by side with the reference agents, as ratios in one run.
bench: bench-host bench-lab

bench-host: build
	STORHA_BIN=$(CURDIR)/$(RELEASE_BIN) scripts/bench-floating-ip.sh

# Inside the lab VMs: the reference agents' monitors (the baselines), then
# writeboost-cache against dmsetup status and the bare drain. The benchmark boots
# its own lab and takes it down afterwards; it never touches a running lab,
# which belongs to whoever started it (run `make lab-bench` there yourself).
bench-lab:
	@if $(LAB_CLI) status 2>/dev/null | grep -q " pid "; then \
		echo "bench-lab: a lab is running; not touching it. Run 'make lab-bench' if it is yours."; \
	else \
		$(MAKE) --no-print-directory lab-up CLIENT=1 && \
		{ $(MAKE) --no-print-directory lab-bench; rc=$$?; $(MAKE) --no-print-directory lab-down; exit $$rc; }; \
	fi

metadata: build
	@mkdir -p ocf-metadata
	@for a in $(OCF_AGENTS) $(FENCE_AGENTS); do \
		$(RELEASE_BIN) meta-data $$a > ocf-metadata/$$a.xml || exit 1; \
		echo "ocf-metadata/$$a.xml"; \
	done

# Manual pages from the agents' own tables: ocf_storha_<agent>.7, fence_ipstrip.8, storha.8.
MANDIR ?= $(PREFIX)/share/man
man: build
	@mkdir -p target/man
	@for p in storha $(addprefix ocf_storha_,$(OCF_AGENTS)) $(FENCE_AGENTS); do \
		case $$p in ocf_*) s=7;; *) s=8;; esac; \
		$(RELEASE_BIN) man $$p > target/man/$$p.$$s || exit 1; \
		echo "target/man/$$p.$$s"; \
	done

# The Debian package (target/deb/storha_VERSION_ARCH.deb) of the statically
# linked binary, built with dpkg-deb from a staging tree (scripts/build-deb.sh):
# every name in OCF_AGENTS and FENCE_AGENTS, the manual pages, completions,
# crm-examples. DEB_VERSION defaults to Cargo.toml's version, revision 1.
DEB_VERSION ?= $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)-1
deb: build
	@BIN=$(RELEASE_BIN) OCF_AGENTS="$(OCF_AGENTS)" FENCE_AGENTS="$(FENCE_AGENTS)" \
		DEB_VERSION=$(DEB_VERSION) scripts/build-deb.sh target/deb

install: build
	install -D -m 0755 $(RELEASE_BIN) $(DESTDIR)$(BINDIR)/storha
	install -d -m 0755 $(DESTDIR)$(OCF_ROOT)/resource.d/$(PROVIDER)
	@for a in $(OCF_AGENTS); do \
		ln -sfn $(BINDIR)/storha $(DESTDIR)$(OCF_ROOT)/resource.d/$(PROVIDER)/$$a; \
		echo "$(OCF_ROOT)/resource.d/$(PROVIDER)/$$a -> $(BINDIR)/storha"; \
	done
	@for a in $(FENCE_AGENTS); do \
		install -d -m 0755 $(DESTDIR)$(SBINDIR); \
		ln -sfn $(BINDIR)/storha $(DESTDIR)$(SBINDIR)/$$a; \
		echo "$(SBINDIR)/$$a -> $(BINDIR)/storha"; \
	done

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/storha
	@for a in $(OCF_AGENTS); do rm -f $(DESTDIR)$(OCF_ROOT)/resource.d/$(PROVIDER)/$$a; done
	@for a in $(FENCE_AGENTS); do rm -f $(DESTDIR)$(SBINDIR)/$$a; done
	-rmdir $(DESTDIR)$(OCF_ROOT)/resource.d/$(PROVIDER)

clean:
	$(CARGO) clean

# The lab of Debian VMs (lab-up, lab-down, lab-ssh, lab-test, lab-status, ...).
-include lab/lab.mk
