# SPDX-License-Identifier: GPL-3.0-or-later
# cartoflash: every entry point. Sources are discovered by directory, so adding a file needs no
# edit here:
#   protocol/*.c            -> libprotocol (pure, sans-I/O)
#   src/**/*.c              -> the cartoflash binary (src/main.c holds main())
#   tools/<name>/*.c        -> lib<name>.a from every file but main.c; main.c -> $(BUILD)/<name>
#   tests/unit|sim/test_*.c -> one cmocka binary each, built with ASan+UBSan
#   tests/fuzz/fuzz_*.c     -> one libFuzzer binary each (clang), linked with protocol/ and src/
# Parallel work in one tree: give each worker its own BUILD directory (make BUILD=build-x).
#
# `make` builds the program only; `make tools` the test tools, `make test` everything.
# Distribution builds: CPPFLAGS, CFLAGS and LDFLAGS are honoured, WERROR= drops -Werror (kept in
# development and CI), VERSION= names the version (default: `git describe` of a v* tag, else
# the top entry of NEWS). Static binaries for small hosts: `make static ARCH=…`.

PREFIX ?= /usr/local
DESTDIR ?=
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
# Where bash-completion and udev look, as their pkg-config files say (fallbacks for machines
# without bash-completion or udev installed).
BASHCOMPDIR ?= $(or $(shell pkg-config --variable=completionsdir bash-completion 2>/dev/null),/usr/share/bash-completion/completions)
UDEVRULESDIR ?= $(or $(shell pkg-config --variable=udevdir udev 2>/dev/null),/usr/lib/udev)/rules.d
BUILD ?= build
CC ?= cc
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 5
FUZZ_LONG_SECONDS ?= 300

PKGS := libusb-1.0 libsocketcan zlib jansson inih nettle
WERROR ?= -Werror
WARN := -Wall -Wextra $(WERROR) -Wshadow -Wmissing-prototypes -Wstrict-prototypes
BASE_CFLAGS := -std=c11 $(WARN) -D_GNU_SOURCE -I. -Isrc -g
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CFLAGS ?= -O2
SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
TEST_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null)

PROTO_SRC := $(wildcard protocol/*.c)
SRC_ALL := $(wildcard src/*.c src/*/*.c)
SRC_LIB := $(filter-out src/main.c,$(SRC_ALL))
TOOLS := $(notdir $(patsubst %/,%,$(dir $(wildcard tools/*/main.c))))
# dfuemu's parts need umockdev: they link into dfuemu alone, never into the other tools' libraries
TOOL_LIBS := $(filter-out dfuemu,$(notdir $(patsubst %/,%,$(sort $(dir $(filter-out %/main.c,$(wildcard tools/*/*.c)))))))
UNIT_TESTS := $(basename $(notdir $(wildcard tests/unit/test_*.c)))
SIM_TESTS := $(basename $(notdir $(wildcard tests/sim/test_*.c)))
FUZZERS := $(basename $(notdir $(wildcard tests/fuzz/fuzz_*.c)))

# Two flavours of every object: plain (the shipped binary) and san (tests).
obj = $(patsubst %.c,$(BUILD)/$(1)/%.o,$(2))
toolsrc = $(filter-out tools/$(1)/main.c,$(wildcard tools/$(1)/*.c))

.PHONY: all demo test ci check fuzz bench install uninstall deps clean format tools static FORCE
all: $(BUILD)/cartoflash

tools: $(addprefix $(BUILD)/,$(TOOLS))

# The version reaches main.o alone; the stamp changes only when the version does.
VERSION ?= $(or $(shell git describe --tags --match 'v[0-9]*' --dirty 2>/dev/null | sed 's/^v//'),$(shell sed -n '1s/^cartoflash \([^ ]*\).*/\1/p' NEWS))
$(BUILD)/version.stamp: FORCE
	@mkdir -p $(dir $@)
	@echo '$(VERSION)' | cmp -s - $@ || echo '$(VERSION)' >$@
$(BUILD)/plain/src/main.o: $(BUILD)/version.stamp
$(BUILD)/plain/src/main.o: CPPFLAGS += -DCARTOFLASH_VERSION='"$(VERSION)"'

$(BUILD)/plain/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(BASE_CFLAGS) $(CFLAGS) $(PKG_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/san/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) -O1 $(SAN) $(PKG_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/plain/libprotocol.a: $(call obj,plain,$(PROTO_SRC))
	@rm -f $@; ar rcs $@ $^
$(BUILD)/san/libprotocol.a: $(call obj,san,$(PROTO_SRC))
	@rm -f $@; ar rcs $@ $^
$(BUILD)/plain/libcf.a: $(call obj,plain,$(SRC_LIB))
	@rm -f $@; ar rcs $@ $^
$(BUILD)/san/libcf.a: $(call obj,san,$(SRC_LIB))
	@rm -f $@; ar rcs $@ $^

define tool_lib_rules
$(BUILD)/plain/lib$(1).a: $(call obj,plain,$(call toolsrc,$(1)))
	@rm -f $$@; ar rcs $$@ $$^
$(BUILD)/san/lib$(1).a: $(call obj,san,$(call toolsrc,$(1)))
	@rm -f $$@; ar rcs $$@ $$^
endef
$(foreach t,$(TOOL_LIBS),$(eval $(call tool_lib_rules,$(t))))

PLAIN_TOOL_LIBS := $(foreach t,$(TOOL_LIBS),$(BUILD)/plain/lib$(t).a)
SAN_TOOL_LIBS := $(foreach t,$(TOOL_LIBS),$(BUILD)/san/lib$(t).a)

$(BUILD)/cartoflash: $(BUILD)/plain/src/main.o $(BUILD)/plain/libcf.a $(BUILD)/plain/libprotocol.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm

# Tools may use src/ modules (transports, loop) and protocol/.
$(BUILD)/%: $(BUILD)/plain/tools/%/main.o $(PLAIN_TOOL_LIBS) $(BUILD)/plain/libcf.a $(BUILD)/plain/libprotocol.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< -Wl,--start-group $(PLAIN_TOOL_LIBS) $(BUILD)/plain/libcf.a $(BUILD)/plain/libprotocol.a -Wl,--end-group $(PKG_LIBS) -lm

# tools/dfuemu alone hosts a live USB device through umockdev (glib): only its objects and its
# link get these flags, as system headers so glib's own warnings do not trip -Werror.
DFUEMU_CFLAGS := $(patsubst -I%,-isystem %,$(shell pkg-config --cflags umockdev-1.0 2>/dev/null))
$(BUILD)/plain/tools/dfuemu/%.o: PKG_CFLAGS += $(DFUEMU_CFLAGS)
$(BUILD)/dfuemu: PKG_LIBS += $(shell pkg-config --libs umockdev-1.0 2>/dev/null)
DFUEMU_OBJS := $(call obj,plain,$(call toolsrc,dfuemu))
$(BUILD)/dfuemu: $(BUILD)/plain/tools/dfuemu/main.o $(DFUEMU_OBJS) $(PLAIN_TOOL_LIBS) $(BUILD)/plain/libcf.a $(BUILD)/plain/libprotocol.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(DFUEMU_OBJS) -Wl,--start-group $(PLAIN_TOOL_LIBS) $(BUILD)/plain/libcf.a $(BUILD)/plain/libprotocol.a -Wl,--end-group $(PKG_LIBS) -lm

SAN_LINK = -Wl,--start-group $(SAN_TOOL_LIBS) $(BUILD)/san/libcf.a $(BUILD)/san/libprotocol.a -Wl,--end-group $(PKG_LIBS) $(TEST_LIBS) -lm
$(BUILD)/tests/unit/%: $(BUILD)/san/tests/unit/%.o $(SAN_TOOL_LIBS) $(BUILD)/san/libcf.a $(BUILD)/san/libprotocol.a
	@mkdir -p $(dir $@)
	$(CC) $(SAN) -o $@ $< $(SAN_LINK)
$(BUILD)/tests/sim/%: $(BUILD)/san/tests/sim/%.o $(SAN_TOOL_LIBS) $(BUILD)/san/libcf.a $(BUILD)/san/libprotocol.a
	@mkdir -p $(dir $@)
	$(CC) $(SAN) -o $@ $< $(SAN_LINK)

# libFuzzer targets link protocol/ and src/ from one archive built by clang with the fuzzer's
# coverage (fuzzer-no-link), so a target pulls in only the objects it calls.
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -I. -Isrc -g -O1 -fsanitize=address,undefined
$(BUILD)/fuzzobj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link $(PKG_CFLAGS) -MMD -MP -c $< -o $@
$(BUILD)/fuzzobj/libfuzzcf.a: $(call obj,fuzzobj,$(PROTO_SRC) $(SRC_LIB))
	@rm -f $@; ar rcs $@ $^
$(BUILD)/fuzz/%: tests/fuzz/%.c $(BUILD)/fuzzobj/libfuzzcf.a
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $(PKG_CFLAGS) -o $@ $< \
		$(BUILD)/fuzzobj/libfuzzcf.a $(PKG_LIBS) -lm

UNIT_BINS := $(addprefix $(BUILD)/tests/unit/,$(UNIT_TESTS))
SIM_BINS := $(addprefix $(BUILD)/tests/sim/,$(SIM_TESTS))
FUZZ_BINS := $(addprefix $(BUILD)/fuzz/,$(FUZZERS))

deps:
	@bash tools/deps.sh

# check: the quick loop (unit + in-process simulation, no processes, no fuzzing, no VM).
check: $(UNIT_BINS) $(SIM_BINS)
	@bash tests/check-headers.sh
	@BUILD=$(BUILD) bash tests/run.sh unit sim

# test: everything, ending in one "N passed, N failed" line.
TEST_LAYERS ?= unit sim e2e fuzz rig
test: deps
	@$(MAKE) --no-print-directory all tools $(UNIT_BINS) $(SIM_BINS) $(FUZZ_BINS)
	@bash tests/check-headers.sh
	@BUILD=$(BUILD) FUZZ_SECONDS=$(FUZZ_SECONDS) bash tests/run.sh $(TEST_LAYERS)

# ci: what .ci/run runs, as one command: make test plus the Debian package (build, lintian, install, smoke test;
# tests/package/) and the static cross builds under qemu-user (tests/static/), in one count.
ci:
	@bash tools/deps.sh package static
	@$(MAKE) --no-print-directory test TEST_LAYERS="$(TEST_LAYERS) package static"

fuzz: $(FUZZ_BINS)
	@BUILD=$(BUILD) FUZZ_SECONDS=$(FUZZ_LONG_SECONDS) bash tests/run.sh fuzz

demo: deps
	@$(MAKE) --no-print-directory all tools
	@BUILD=$(BUILD) bash tools/demo.sh

# bench: ratios measured in one run (never timed assertions in tests). B1-B3 CAN (run.sh, also
# written into docs/can.md), B4 USB-serial, B5 DFU recovery against dfu-util, B6 update --all
# on a current machine against a full update, B7 update --all on a mixed machine against its floor.
bench: all tools
	@BUILD=$(BUILD) bash tools/bench/run.sh
	@echo; echo "| bench | what | measured | reference | ratio |"; echo "|---|---|---|---|---|"
	@BUILD=$(BUILD) bash tools/bench/b4_serial.sh
	@BUILD=$(BUILD) bash tools/bench/b5_dfu.sh
	@BUILD=$(BUILD) bash tools/bench/b6_update.sh
	@BUILD=$(BUILD) bash tools/bench/b7_mixed.sh
	@head -c 32768 /dev/urandom >$(BUILD)/bench-garbage.bin
	@B5_FLASH_IN=$(BUILD)/bench-garbage.bin BUILD=$(BUILD) bash tools/bench/b5_dfu.sh

# install: the program, its man page, bash completion and udev rule. DESTDIR for staging.
INSTALLED := $(BINDIR)/cartoflash $(MANDIR)/man1/cartoflash.1 $(BASHCOMPDIR)/cartoflash \
	$(UDEVRULESDIR)/70-cartoflash.rules
install: $(BUILD)/cartoflash
	install -D -m 0755 $(BUILD)/cartoflash $(DESTDIR)$(BINDIR)/cartoflash
	install -D -m 0644 man/cartoflash.1 $(DESTDIR)$(MANDIR)/man1/cartoflash.1
	install -D -m 0644 tools/completion/cartoflash.bash $(DESTDIR)$(BASHCOMPDIR)/cartoflash
	install -D -m 0644 tools/udev/70-cartoflash.rules $(DESTDIR)$(UDEVRULESDIR)/70-cartoflash.rules

uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALLED))

# static: one static cartoflash for a small host (ARCH=arm64|armhf|mipsel), built with
# Debian's cross toolchain against libraries unpacked from Debian packages (tools/static/).
static:
	@BUILD=$(BUILD) bash tools/static/static.sh build $(ARCH)

format:
	clang-format -i $(PROTO_SRC) $(wildcard protocol/*.h) $(SRC_ALL) $(wildcard src/*.h src/*/*.h)

clean:
	rm -rf build build-*

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
