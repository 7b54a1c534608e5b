# SPDX-License-Identifier: GPL-2.0-only
# cnf-apply build.  `make`, `make test`, `make SAN=1 test`, `make V=1`.

PREFIX   ?= /usr/local
DESTDIR  ?=
BUILD    ?= build
SAN      ?=

CC       ?= cc
CLANG    ?= clang
BPFTOOL  ?= bpftool
PKG_CONFIG ?= pkg-config

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

ifneq ($(SAN),)
BUILD := $(BUILD)-san
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
endif

PKGS := libbpf libcyaml yaml-0.1 json-c nettle libmnl
PKG_CHECK := $(shell $(PKG_CONFIG) --exists $(PKGS) && echo ok)
ifneq ($(PKG_CHECK),ok)
$(error missing libraries: need $(PKGS) via pkg-config; run scripts/setup.sh as root)
endif
LIBBPF_VERSION := $(shell $(PKG_CONFIG) --modversion libbpf)
ifneq ($(shell $(PKG_CONFIG) --atleast-version=1.4 libbpf && echo ok),ok)
$(error libbpf $(LIBBPF_VERSION) is too old: cnf-apply needs >= 1.4 (tcx, netkit); install libbpf-dev from bookworm-backports: scripts/setup.sh)
endif

CFLAGS   ?= -O2 -g
CFLAGS   += -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter -Wno-format-truncation -Wshadow \
	    -Wformat=2 -Wmissing-prototypes -D_GNU_SOURCE -Iinclude -I$(BUILD) \
	    $(shell $(PKG_CONFIG) --cflags $(PKGS)) $(SAN_FLAGS) -MMD -MP
LDLIBS   += $(shell $(PKG_CONFIG) --libs $(PKGS)) -lelf -lz
LDFLAGS  += $(SAN_FLAGS)

BPF_CFLAGS := -g -O2 -target bpf -Wall -Werror -Iinclude -MMD -MP
BPF_CFLAGS += $(shell $(PKG_CONFIG) --cflags-only-I libbpf)
# <linux/bpf.h> needs <asm/types.h>, which Debian keeps in the multiarch dir
# that clang -target bpf does not search.
BPF_CFLAGS += -idirafter /usr/include/$(shell $(CC) -dumpmachine)

SRCS      := $(sort $(wildcard src/*.c))
OBJS      := $(SRCS:src/%.c=$(BUILD)/obj/%.o)
LIB_OBJS  := $(filter-out $(BUILD)/obj/main.o,$(OBJS))

TOOL_BPF  := $(sort $(wildcard bpf/*.bpf.c))
SKELS     := $(TOOL_BPF:bpf/%.bpf.c=$(BUILD)/%.skel.h)

TEST_BPF  := $(sort $(wildcard tests/bpf/*.bpf.c))
TEST_BPF_OBJS := $(TEST_BPF:tests/bpf/%.bpf.c=$(BUILD)/tests/bpf/%.bpf.o)

EXAMPLE_BPF := $(sort $(wildcard examples/*/*.bpf.c))
EXAMPLE_BPF_OBJS := $(EXAMPLE_BPF:%.bpf.c=$(BUILD)/%.bpf.o)

DEMO_BPF  := $(sort $(wildcard cnf.d/src/*.bpf.c))
DEMO_BPF_OBJS := $(DEMO_BPF:cnf.d/src/%.bpf.c=cnf.d/objs/%.bpf.o)

UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

BIN := $(BUILD)/cnf-apply

.PHONY: all clean test check test-deps unit integration install demo
.SECONDARY:

# `make` builds the program; the tests need more (test-deps), which `make
# test`, `make check`, `make unit` and `make integration` build first.
all: $(BIN)

test-deps: $(BIN) $(TEST_BPF_OBJS) $(EXAMPLE_BPF_OBJS) $(DEMO_BPF_OBJS) $(UNIT_BINS)

$(BIN): $(OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Every C file may include a skeleton; generate them first.
$(OBJS): | $(SKELS)

$(BUILD)/obj/%.o: src/%.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

# The tool's own BPF programs, embedded as skeletons.
$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c
	$(call msg,BPF,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c -o $@ $<

$(BUILD)/%.skel.h: $(BUILD)/bpf/%.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst -,_,$*) > $@.tmp && mv $@.tmp $@

# BPF objects used by tests, examples and the bundled manifests.
$(BUILD)/tests/bpf/%.bpf.o: tests/bpf/%.bpf.c
	$(call msg,BPF,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c -o $@ $<

$(BUILD)/examples/%.bpf.o: examples/%.bpf.c
	$(call msg,BPF,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c -o $@ $<

cnf.d/objs/%.bpf.o: cnf.d/src/%.bpf.c
	$(call msg,BPF,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c -o $@ $<

$(BUILD)/tests/test_%: tests/unit/test_%.c $(LIB_OBJS)
	$(call msg,CCLD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB_OBJS) $(LDLIBS)

unit: $(UNIT_BINS)
	$(Q)tests/run-unit.sh $(UNIT_BINS)

integration: test-deps
	$(Q)tests/run-integration.sh $(BUILD)

# Everything: unit tests, then the integration suite as root.
test: test-deps
	$(Q)tests/run-all.sh $(BUILD)

check: test

# The examples' objects (and readers), where the manifests in the
# checkout point.
.PHONY: examples
examples: $(EXAMPLE_BPF_OBJS)

# What scripts/demo.sh runs: the program and the bundled manifests' objects.
.PHONY: demo-deps
demo-deps: $(BIN) $(DEMO_BPF_OBJS)

demo: demo-deps
	$(Q)scripts/demo.sh $(BUILD)/cnf-apply

install: $(BIN) man $(EXAMPLE_BPF_OBJS)
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/sbin/cnf-apply
	install -D -m 0644 $(BUILD)/man/cnf-apply.8 $(DESTDIR)$(PREFIX)/share/man/man8/cnf-apply.8
	install -D -m 0644 $(BUILD)/man/cnf.d.5 $(DESTDIR)$(PREFIX)/share/man/man5/cnf.d.5
	$(install-operator-files)

# The build directory given (BUILD=...), its sanitizer twin, and the
# bundled manifests' objects.
clean:
	rm -rf $(BUILD) $(BUILD)-san cnf.d/objs

-include $(OBJS:.o=.d) $(UNIT_BINS:=.d)
# BPF objects depend on the headers they include too.
-include $(TOOL_BPF:bpf/%.bpf.c=$(BUILD)/bpf/%.bpf.d) $(TEST_BPF_OBJS:.o=.d) \
	 $(EXAMPLE_BPF_OBJS:.o=.d) $(DEMO_BPF_OBJS:.o=.d)

# The hook table's manifest rules as JSON, for the schema check.
$(BUILD)/tests/hook_rules: tests/tools/hook_rules.c $(LIB_OBJS)
	$(call msg,CCLD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB_OBJS) $(LDLIBS)

test-deps: $(BUILD)/tests/hook_rules

# Test driver for the live-state reader (tests/integration/test_live.sh).
LIVE_DUMP_OBJS := $(LIB_OBJS)
$(BUILD)/tests/live_dump: tests/tools/live_dump.c $(LIVE_DUMP_OBJS)
	$(call msg,CCLD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIVE_DUMP_OBJS) $(LDLIBS)

test-deps: $(BUILD)/tests/live_dump

# LD_PRELOAD shim that makes bpf(2) calls fail like an interrupted one
# (tests/integration/test_state_root.sh). Never instrumented: a preloaded
# library cannot be, and ASan is told not to mind it.
FAULT_SO := $(BUILD)/tests/fault_bpf.so
test-deps: $(FAULT_SO)
$(FAULT_SO): tests/tools/fault_bpf.c
	$(call msg,CCLD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) -O2 -g -Wall -Wextra -Werror -D_GNU_SOURCE -shared -fPIC -o $@ $< -ldl

# Man pages (scdoc) and the manifest schema's checks.
SCDOC  ?= scdoc
PYTHON ?= python3

.PHONY: man schema-test

man: $(BUILD)/man/cnf-apply.8 $(BUILD)/man/cnf.d.5

$(BUILD)/man/%: man/%.scd
	$(call msg,SCDOC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(SCDOC) < $< > $@.tmp && mv $@.tmp $@

schema-test: $(BIN) $(TEST_BPF_OBJS)
	$(Q)$(PYTHON) tests/schema/check_schema.py --build $(BUILD)

# ---- Bad input and fuzzing (tests/badinput/, fuzz/) -----------------------

# BPF objects only the bad-input catalogue uses: one with global variables
# for `config:` cases, one with a legacy `maps` section libbpf refuses.
BADINPUT_BPF  := $(sort $(wildcard tests/badinput/objs/*.bpf.c))
BADINPUT_BPF_OBJS := $(BADINPUT_BPF:tests/badinput/objs/%.bpf.c=$(BUILD)/tests/badinput/%.bpf.o)

test-deps: $(BADINPUT_BPF_OBJS)
-include $(BADINPUT_BPF_OBJS:.o=.d)

$(BUILD)/tests/badinput/%.bpf.o: tests/badinput/objs/%.bpf.c
	$(call msg,BPF,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c -o $@ $<

# The manifest loader under libFuzzer, ASan and UBSan (clang only):
#   make fuzz                       build build-fuzz/fuzz_manifest
#   make fuzz-run FUZZ_SECONDS=60   fuzz for that long; fails on a crash,
#                                   leak, timeout or broken promise
# New inputs go to build-fuzz/corpus (not committed), crashes to
# build-fuzz/artifacts/. tests/fuzz-replay.sh replays fuzz/corpus/.
FUZZ_BUILD   ?= build-fuzz
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_MAX_LEN ?= 16384
FUZZ_JOBS    ?= 1
FUZZ_ARGS    ?=
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS  := -O1 -g -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter -Wshadow \
		-Wformat=2 -Wno-format-nonliteral -Wmissing-prototypes -D_GNU_SOURCE -Iinclude -Isrc \
		-I$(BUILD) $(shell $(PKG_CONFIG) --cflags $(PKGS)) $(FUZZ_SAN)
FUZZ_LDLIBS  := $(shell $(PKG_CONFIG) --libs $(PKGS)) -lelf -lz
# (clang, unlike gcc, flags vprintf-style wrappers under -Wformat=2.)
# What manifest_load_buffer() needs, instrumented for coverage: the
# loader checks attachments by the hook table's rows, so the library.
FUZZ_LIB_SRCS := $(filter-out src/main.c,$(SRCS))
FUZZ_LIB_OBJS := $(FUZZ_LIB_SRCS:src/%.c=$(FUZZ_BUILD)/obj/%.o)
FUZZ_BIN     := $(FUZZ_BUILD)/fuzz_manifest
# The state reader's target: what state_read() needs.
FUZZ_STATE_SRCS := $(sort $(FUZZ_LIB_SRCS) src/state.c src/hashidx.c)
FUZZ_STATE_OBJS := $(FUZZ_STATE_SRCS:src/%.c=$(FUZZ_BUILD)/obj/%.o)
FUZZ_STATE_BIN  := $(FUZZ_BUILD)/fuzz_state

.PHONY: fuzz fuzz-run fuzz-replay fuzz-state-run

fuzz: $(FUZZ_BIN) $(FUZZ_STATE_BIN)

$(FUZZ_BUILD)/obj/%.o: src/%.c | $(SKELS)
	$(call msg,FUZZCC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

$(FUZZ_BIN): fuzz/fuzz_manifest.c $(FUZZ_LIB_OBJS)
	$(call msg,FUZZLD,$@)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_LIB_OBJS) $(FUZZ_LDLIBS)

$(FUZZ_STATE_BIN): fuzz/fuzz_state.c $(FUZZ_STATE_OBJS)
	$(call msg,FUZZLD,$@)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_STATE_OBJS) $(FUZZ_LDLIBS)

# The state reader, as root (it makes maps on a private bpffs):
#   make fuzz-state-run FUZZ_SECONDS=60
fuzz-state-run: $(FUZZ_STATE_BIN)
	$(Q)mkdir -p $(FUZZ_BUILD)/corpus-state $(FUZZ_BUILD)/artifacts
	$(Q)ASAN_OPTIONS=detect_leaks=1 $(FUZZ_STATE_BIN) -max_total_time=$(FUZZ_SECONDS) \
		-max_len=4096 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix=$(FUZZ_BUILD)/artifacts/ $(FUZZ_ARGS) \
		$(FUZZ_BUILD)/corpus-state fuzz/corpus-state

fuzz-run: $(FUZZ_BIN)
	$(Q)mkdir -p $(FUZZ_BUILD)/corpus $(FUZZ_BUILD)/artifacts
	$(Q)ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
		$(FUZZ_BIN) -max_total_time=$(FUZZ_SECONDS) -max_len=$(FUZZ_MAX_LEN) \
		-timeout=10 -rss_limit_mb=2048 -dict=fuzz/yaml.dict -print_final_stats=1 \
		$(if $(filter-out 1,$(FUZZ_JOBS)),-fork=$(FUZZ_JOBS) -ignore_crashes=0) \
		-artifact_prefix=$(FUZZ_BUILD)/artifacts/ $(FUZZ_ARGS) \
		$(FUZZ_BUILD)/corpus fuzz/corpus

fuzz-replay: $(FUZZ_BIN)
	$(Q)tests/fuzz-replay.sh $(FUZZ_BIN)

-include $(FUZZ_STATE_OBJS:.o=.d)

.PHONY: clean-fuzz
clean: clean-fuzz
clean-fuzz:
	rm -rf $(FUZZ_BUILD)

# Benchmark harness (bench/README.md): `sudo make bench` (BENCH_ARGS=--quick
# for N=10,100 only). The floor program and the stopwatch are standalone;
# plan_bench links the tool's objects, as the unit tests do.
BENCH_BINS := $(BUILD)/bench/floor $(BUILD)/bench/stopwatch $(BUILD)/bench/plan_bench
BENCH_BPF  := $(addprefix $(BUILD)/tests/bpf/,xdp_v1.bpf.o xdp_v2.bpf.o tc_v1.bpf.o tc_v2.bpf.o)

.PHONY: bench bench-bins

bench-bins: $(BIN) $(BENCH_BPF) $(BENCH_BINS)

bench: bench-bins
	$(Q)BENCH_NO_BUILD=1 BUILD=$(BUILD) bench/run.sh $(BENCH_ARGS)

$(BUILD)/bench/floor: bench/floor.c
	$(call msg,CCLD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LDLIBS)

$(BUILD)/bench/stopwatch: bench/stopwatch.c
	$(call msg,CCLD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $<

$(BUILD)/bench/plan_bench: bench/plan_bench.c $(LIB_OBJS)
	$(call msg,CCLD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB_OBJS) $(LDLIBS)

-include $(BENCH_BINS:=.d)

# ---- Installed for operators: completion, systemd units, examples ---------
# `make install` (PREFIX, DESTDIR) also puts:
#   $(BASHCOMPDIR)/cnf-apply             bash completion
#   $(SYSTEMDUNITDIR)/cnf-apply.{service,path}, cnf-apply-reload.service
#                                        (/usr/sbin/cnf-apply in them becomes
#                                        $(PREFIX)/sbin/cnf-apply)
#   $(CNF_DATADIR)/examples/<dir>/       every examples/ directory; a BPF object
#                                        built from it sits beside its manifest,
#                                        whose `file: ../../build/examples/<dir>/X`
#                                        becomes `file: X`
#   $(CNF_DATADIR)/schema/               the manifest schema (the examples'
#                                        yaml-language-server modelines point here)
#                                        and the plan file's
#   $(SYSCONFDIR)/cnf.d/                 the manifest directory, empty
BASHCOMPDIR    ?= $(PREFIX)/share/bash-completion/completions
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
CNF_DATADIR    ?= $(PREFIX)/share/cnf-apply
SYSCONFDIR     ?= /etc
SYSTEMD_UNITS  := $(sort $(wildcard systemd/*.service systemd/*.path systemd/*.timer systemd/*.mount))

define install-operator-files
install -D -m 0644 completion/cnf-apply.bash $(DESTDIR)$(BASHCOMPDIR)/cnf-apply
for u in $(SYSTEMD_UNITS); do \
	install -d $(DESTDIR)$(SYSTEMDUNITDIR) && \
	sed 's|/usr/sbin/cnf-apply|$(PREFIX)/sbin/cnf-apply|g' $$u >$(DESTDIR)$(SYSTEMDUNITDIR)/$${u##*/} && \
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/$${u##*/} || exit 1; \
done
install -D -m 0644 schema/manifest.schema.json $(DESTDIR)$(CNF_DATADIR)/schema/manifest.schema.json
install -D -m 0644 schema/planfile.schema.json $(DESTDIR)$(CNF_DATADIR)/schema/planfile.schema.json
find examples -type f ! -name '*.pyc' ! -path '*/__pycache__/*' ! -name '.*' | sort | while read -r f; do \
	dest=$(DESTDIR)$(CNF_DATADIR)/$$f; \
	install -d "$${dest%/*}" || exit 1; \
	case $$f in \
	*.yaml|*.yml) sed 's|file: \.\./\.\./build/examples/[^/]*/|file: |' "$$f" >"$$dest" && chmod 0644 "$$dest" ;; \
	*) install -m 0644 "$$f" "$$dest" ;; \
	esac || exit 1; \
done
for o in $(EXAMPLE_BPF_OBJS); do \
	install -D -m 0644 $$o $(DESTDIR)$(CNF_DATADIR)/examples/$${o#$(BUILD)/examples/} || exit 1; \
done
find contrib -type f ! -name '*.pyc' ! -path '*/__pycache__/*' | sort | while read -r f; do \
	install -D -m 0644 "$$f" "$(DESTDIR)$(CNF_DATADIR)/$${f#contrib/}" || exit 1; \
done
install -d -m 0755 $(DESTDIR)$(SYSCONFDIR)/cnf.d
endef

# ---- The Debian package (debian/) -------------------------------------------
# `make deb`: dpkg-buildpackage on a copy of the source tree (the files git
# knows, tracked or new, or everything but build outputs outside a git
# checkout) in $(BUILD)/deb/; the package is
# $(BUILD)/deb/cnf-apply_<version>_<arch>.deb, checked by lintian when it
# is installed.
CNF_VERSION := $(shell sed -n 's/^\#define CNF_VERSION "\(.*\)"/\1/p' src/main.c)
DEB_DIR     := $(BUILD)/deb
DEB_SRC     := $(DEB_DIR)/cnf-apply-$(CNF_VERSION)

.PHONY: deb
deb:
	$(Q)rm -rf $(DEB_DIR) && mkdir -p $(DEB_SRC)
	$(Q)if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then \
		git ls-files -z -co --exclude-standard | xargs -0 tar -c --no-recursion -f - | tar -x -C $(DEB_SRC); \
	else \
		tar -c --exclude=./build --exclude='./build-*' --exclude=./cnf.d/objs -f - . | tar -x -C $(DEB_SRC); \
	fi
	$(Q)cd $(DEB_SRC) && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u BUILD dpkg-buildpackage -b -us -uc -j2 >../build.log 2>&1 || \
		{ tail -n 40 $(DEB_DIR)/build.log; exit 1; }
	$(Q)if command -v lintian >/dev/null; then lintian --fail-on error $(DEB_DIR)/*.changes; fi
	$(Q)ls $(DEB_DIR)/cnf-apply_$(CNF_VERSION)_*.deb

# Readers of the examples that report through ring buffers.
EXAMPLE_READERS := $(BUILD)/examples/execve-trace/execve-trace-reader \
		   $(BUILD)/examples/netkit-ipv6-monitor/ipv6-monitor-reader
test-deps: $(EXAMPLE_READERS)
examples: $(EXAMPLE_READERS)

$(BUILD)/examples/execve-trace/execve-trace-reader: examples/execve-trace/reader.c
	$(call msg,CCLD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LDLIBS)

$(BUILD)/examples/netkit-ipv6-monitor/ipv6-monitor-reader: examples/netkit-ipv6-monitor/reader.c
	$(call msg,CCLD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LDLIBS)

# Small programs the integration tests use to act as another tool would.
TEST_TOOLS := $(BUILD)/tests/tools/drift_tool $(BUILD)/tests/tools/forge_state
test-deps: $(TEST_TOOLS)
$(BUILD)/tests/tools/%: tests/tools/%.c
	$(call msg,CCLD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LDLIBS)

# Test objects built from another one with a different VERSION.
$(BUILD)/tests/bpf/trace_v2.bpf.o: tests/bpf/trace_v1.bpf.c
$(BUILD)/tests/bpf/sto_v2.bpf.o: tests/bpf/sto_v1.bpf.c
