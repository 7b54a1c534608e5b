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

PKGS := libbpf libcyaml yaml-0.1 json-c libcrypto
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

BPF_CFLAGS := -g -O2 -target bpf -Wall -Werror -I$(BUILD)/bpf-include -Iinclude
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

.PHONY: all clean test unit integration install demo check-deps
.SECONDARY:

all: $(BIN) $(TEST_BPF_OBJS) $(EXAMPLE_BPF_OBJS) $(DEMO_BPF_OBJS) $(UNIT_BINS)

$(BIN): $(OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Every C file may include a skeleton; generate them first.
$(OBJS): | $(SKELS)

$(BUILD)/obj/%.o: src/%.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

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

integration: all
	$(Q)tests/run-integration.sh $(BUILD)

# Everything: unit tests, then the integration suite as root.
test: all
	$(Q)tests/run-all.sh $(BUILD)

demo: all
	$(Q)scripts/demo.sh $(BUILD)/cnf-apply

install: $(BIN) man
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/sbin/cnf-apply
	install -D -m 0644 $(BUILD)/man/cnf-apply.8 $(DESTDIR)$(PREFIX)/share/man/man8/cnf-apply.8
	install -D -m 0644 $(BUILD)/man/cnf.d.5 $(DESTDIR)$(PREFIX)/share/man/man5/cnf.d.5

clean:
	rm -rf build build-san cnf.d/objs

-include $(OBJS:.o=.d) $(UNIT_BINS:=.d)

# Test driver for the live-state reader (tests/integration/test_live.sh).
LIVE_DUMP_OBJS := $(addprefix $(BUILD)/obj/,live.o probe.o cmd_probe.o util.o log.o)
$(BUILD)/tests/live_dump: tests/tools/live_dump.c $(LIVE_DUMP_OBJS)
	$(call msg,CCLD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIVE_DUMP_OBJS) $(LDLIBS)

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

# Small programs the integration tests use to act as another tool would.
TEST_TOOLS := $(BUILD)/tests/tools/drift_tool
all: $(TEST_TOOLS)
$(BUILD)/tests/tools/drift_tool: tests/tools/drift_tool.c
	$(call msg,CCLD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LDLIBS)
