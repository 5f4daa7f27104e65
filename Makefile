# banger — one static musl binary. `make` builds build/banger; see README.md.
#
# Dependencies are built once from Debian sources into $(DEPS) by
# scripts/build-deps.sh and reused until their source versions change.

DEPS    ?= build/deps
B       := build
VERSION := 0.1.0$(shell git describe --always --dirty --abbrev=10 2>/dev/null | sed 's/^/+g/')
SOURCES  = $(strip $(shell tr '\n' ' ' < $(DEPS)/.sources 2>/dev/null))

CC       := musl-gcc
WARN     := -Wall -Wextra -Wshadow -Wno-unused-parameter -Wstrict-prototypes -Wvla
CFLAGS   := -std=gnu11 -Os -ffunction-sections -fdata-sections $(WARN) -Werror=implicit-function-declaration
CPPFLAGS := -D_GNU_SOURCE -Ilib -Iapplets -I. -I$(DEPS)/include -idirafter $(DEPS)/kinc
LIBS     := -L$(DEPS)/lib -lcurl -lbearssl -larchive -llz4 -lzstd -llzma -lz -lcjson
LDFLAGS  := -static -Wl,--gc-sections

LIB_SRC    := $(sort $(wildcard lib/*.c lib/*/*.c))
APPLET_SRC := $(sort $(wildcard applets/*.c initramfs/*.c))
EMBED_SRC  := $(sort $(wildcard lib/*.S))
LIB_OBJ    := $(LIB_SRC:%.c=$(B)/obj/%.o) $(EMBED_SRC:%.S=$(B)/obj/%.o)
APPLET_OBJ := $(APPLET_SRC:%.c=$(B)/obj/%.o)
UNIT_SRC   := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN   := $(UNIT_SRC:tests/unit/%.c=$(B)/unit/%)
ASAN_BIN   := $(UNIT_SRC:tests/unit/%.c=$(B)/asan/%)
FUZZ_NAMES := $(sort $(patsubst tests/fuzz/fuzz-%.c,%,$(wildcard tests/fuzz/fuzz-*.c)))
FUZZ_BIN   := $(FUZZ_NAMES:%=$(B)/fuzz/fuzz-%)
REPLAY_BIN := $(FUZZ_NAMES:%=$(B)/replay/fuzz-%)
FUZZ_HDR   := tests/fuzz/fuzz.h tests/fuzz/guard.h tests/fuzz/replay.c

# `make V=1` shows the commands.
Q := $(if $(V),,@)

.PHONY: all deps test unit check-asan fuzz fuzz-run lint format size bench clean distclean
all: $(B)/banger

$(DEPS)/.stamp: scripts/build-deps.sh scripts/curl-bearssl-ip-san.patch
	scripts/build-deps.sh $(DEPS)
deps:
	scripts/build-deps.sh $(DEPS)

$(B)/obj/%.o: %.c $(DEPS)/.stamp
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

# Embedded files (catalogs, initramfs lists) are pulled in by .incbin;
# rebuild when they change.
EMBEDDED := $(shell find config initramfs -type f ! -name '*.[ch]')
$(B)/obj/%.o: %.S $(DEPS)/.stamp $(EMBEDDED)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -c $< -o $@


# Only lib/version.o sees the version; it is rebuilt when the version changes.
$(B)/version.txt: FORCE
	@mkdir -p $(@D)
	@echo '$(VERSION) $(SOURCES)' | cmp -s - $@ || echo '$(VERSION) $(SOURCES)' >$@
$(B)/obj/lib/version.o: $(B)/version.txt
$(B)/obj/lib/version.o: CPPFLAGS += -DBANGER_VERSION='"$(VERSION)"' -DBANGER_SOURCES='"$(SOURCES)"'
FORCE:

$(B)/banger.unstripped: $(APPLET_OBJ) $(B)/libbanger.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -Wl,-Map,$(B)/banger.map -o $@ $(APPLET_OBJ) $(B)/libbanger.a $(LIBS)

$(B)/banger: $(B)/banger.unstripped
	strip -o $@ $<

$(B)/libbanger.a: $(LIB_OBJ)
	$(Q)rm -f $@
	$(Q)ar rcs $@ $^

# Unit tests: one binary per tests/unit/test_*.c, linked with lib/.
$(B)/unit/%: tests/unit/%.c tests/unit/harness.h $(B)/libbanger.a
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -O1 $(LDFLAGS) -o $@ $< $(B)/libbanger.a $(LIBS)

unit: $(UNIT_BIN)

# Each fuzz target also runs over its corpus (tests/fuzz/NAME/) without
# libFuzzer, linked like a unit test: make test replays every seed and
# finding kept there.
$(B)/replay/fuzz-%: tests/fuzz/fuzz-%.c $(FUZZ_HDR) $(B)/libbanger.a
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -O1 $(LDFLAGS) -DFUZZ_NAME='"$*"' \
		-DFUZZ_CORPUS='"$(CURDIR)/tests/fuzz/$*"' -DFUZZ_TOP='"$(CURDIR)"' -o $@ tests/fuzz/replay.c $< \
		$(B)/libbanger.a $(LIBS)

test: $(B)/banger $(UNIT_BIN) $(REPLAY_BIN)
	tests/run.sh $(B) $(UNIT_BIN) $(REPLAY_BIN)

# The unit tests again, with the host compiler, ASan and UBSan, against
# Debian's -dev builds of the same libraries (sanitizers need glibc).
ASAN_FLAGS := -std=gnu11 -g -O1 -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer $(WARN)
ASAN_LIBS  := -lcurl -lbearssl -larchive -lzstd -llzma -lz -lcjson -lpthread
ASAN_CC    := gcc -D_GNU_SOURCE -Ilib -Iapplets -I. -idirafter /usr/include/bearssl $(ASAN_FLAGS)
ASAN_OBJ   := $(LIB_SRC:%.c=$(B)/asan/obj/%.o) $(EMBED_SRC:%.S=$(B)/asan/obj/%.o)
$(B)/asan/obj/%.o: %.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  ASAN    $<")
	$(Q)$(ASAN_CC) -MMD -MP -c $< -o $@
$(B)/asan/obj/%.o: %.S $(EMBEDDED)
	@mkdir -p $(@D)
	$(Q)$(ASAN_CC) -c $< -o $@
$(B)/asan/libbanger.a: $(ASAN_OBJ)
	$(Q)rm -f $@
	$(Q)ar rcs $@ $^
$(B)/asan/%: tests/unit/%.c tests/unit/harness.h $(B)/asan/libbanger.a
	@$(if $(Q),echo "  ASAN    $@")
	$(Q)$(ASAN_CC) -o $@ $< $(B)/asan/libbanger.a $(ASAN_LIBS)

$(B)/asan/fuzz-%: tests/fuzz/fuzz-%.c $(FUZZ_HDR) $(B)/asan/libbanger.a
	@$(if $(Q),echo "  ASAN    $@")
	$(Q)$(ASAN_CC) -DFUZZ_NAME='"$*"' -DFUZZ_CORPUS='"$(CURDIR)/tests/fuzz/$*"' -DFUZZ_TOP='"$(CURDIR)"' -o $@ \
		tests/fuzz/replay.c $< $(B)/asan/libbanger.a $(ASAN_LIBS)

check-asan: $(ASAN_BIN) $(FUZZ_NAMES:%=$(B)/asan/fuzz-%)
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 tests/run.sh --unit-only $(B) \
		$(ASAN_BIN) $(FUZZ_NAMES:%=$(B)/asan/fuzz-%)

# libFuzzer targets (clang; ASan and UBSan; the same lib/ sources against
# Debian's -dev libraries, as check-asan): make fuzz builds
# build/fuzz/fuzz-NAME, make fuzz-run SECONDS=N fuzzes each for N seconds
# (findings in build/fuzz/crash/NAME/; add them to tests/fuzz/NAME/ once
# fixed). See docs/fuzzing.md.
FUZZ_CC  := clang -D_GNU_SOURCE -Ilib -Iapplets -idirafter /usr/include/bearssl -std=gnu11 -g -O1 \
	-fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all $(WARN)
FUZZ_OBJ := $(LIB_SRC:%.c=$(B)/fuzz/obj/%.o) $(EMBED_SRC:%.S=$(B)/fuzz/obj/%.o)
$(B)/fuzz/obj/%.o: %.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  FUZZCC  $<")
	$(Q)$(FUZZ_CC) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@
$(B)/fuzz/obj/%.o: %.S $(shell find config -type f)
	@mkdir -p $(@D)
	$(Q)$(FUZZ_CC) -c $< -o $@
$(B)/fuzz/libbanger.a: $(FUZZ_OBJ)
	$(Q)rm -f $@
	$(Q)ar rcs $@ $^
$(B)/fuzz/fuzz-%: tests/fuzz/fuzz-%.c $(FUZZ_HDR) $(B)/fuzz/libbanger.a
	@$(if $(Q),echo "  FUZZ    $@")
	$(Q)$(FUZZ_CC) -fsanitize=fuzzer -DFUZZ_TOP='"$(CURDIR)"' -o $@ $< $(B)/fuzz/libbanger.a $(ASAN_LIBS)

fuzz: $(FUZZ_BIN)

SECONDS ?= 60
fuzz-run: $(FUZZ_BIN)
	scripts/fuzz-run.sh $(B)/fuzz $(SECONDS) $(FUZZ_NAMES)

FORMAT_SRC = $(wildcard lib/*.[ch] lib/*/*.[ch] applets/*.[ch] tests/unit/*.[ch] tests/fuzz/*.[ch] \
	initramfs/*.[ch])
SHELL_SRC  = $(wildcard scripts/*.sh tests/*.sh tests/*.test bench/*.sh) .ci/run
lint:
	@echo "  LINT    clang-format, cppcheck, shellcheck, banned functions, layers"
	$(Q)clang-format --dry-run --Werror $(FORMAT_SRC)
	$(Q)cppcheck -q --error-exitcode=1 --enable=warning,portability --std=c11 \
		--suppress=missingIncludeSystem --inline-suppr -D_GNU_SOURCE -Ilib -Iapplets -I. lib applets initramfs
	$(Q)shellcheck -x $(SHELL_SRC)
	$(Q)scripts/check-banned.sh $(FORMAT_SRC)
	$(Q)scripts/check-layers.sh

format:
	clang-format -i $(FORMAT_SRC)

size: $(B)/banger
	scripts/size.sh $(B)/banger $(B)/banger.map

bench: $(B)/banger
	bench/run.sh $(B)/banger $(BENCH)

clean:
	rm -rf $(B)/obj $(B)/unit $(B)/asan $(B)/fuzz $(B)/replay $(B)/banger $(B)/banger.unstripped $(B)/banger.map $(B)/libbanger.a
distclean:
	rm -rf $(B)

-include $(shell find $(B)/obj $(B)/asan/obj $(B)/fuzz/obj -name '*.d' 2>/dev/null)
