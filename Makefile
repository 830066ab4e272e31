# libiotsec — plain GNU Makefile (no meson, no autotools; CMakeLists.txt is only for embedding
# the portable sources in CMake-based firmware, from the same list: libiotsec/sources.cmake).
#
#   make                    library (static + shared), the iotsec CLI, front-ends
#   make check              install missing packages, then build and test twice:
#                           normally (build/) and with ASan+UBSan (build/asan/)
#   make demo               the end-to-end demo (scripts/demo)
#   make bench              benchmarks (bench/), ratios against raw OpenSSL in the same run
#   make fuzz               libFuzzer targets for FUZZ_SECONDS each (clang)
#   make firmware / firmware-check / size   Cortex-M4 build, its tests on QEMU, and
#                           libiotsec's own flash/RAM/stack per profile (firmware/firmware.mk)
#   make fuzz-campaign      every target for FUZZ_CAMPAIGN_RUNS executions -> tests/fuzz/CAMPAIGN.md
#   make install / uninstall   honour PREFIX DESTDIR LIBDIR INCLUDEDIR BINDIR PKGCONFIGDIR MANDIR
#
# Variables: BACKENDS (default "openssl sodium psa"; psa is the PSA Crypto API of Mbed TLS,
# libmbedtls-dev), BUILD (output dir, default build),
# SANITIZE=1 (ASan+UBSan), WERROR=1 (warnings are errors; CI sets it), CC, CFLAGS, LDFLAGS.

VERSION_MAJOR := $(shell sed -n 's/^\#define IOTSEC_VERSION_MAJOR \([0-9]*\).*/\1/p' include/iotsec/version.h)
VERSION_MINOR := $(shell sed -n 's/^\#define IOTSEC_VERSION_MINOR \([0-9]*\).*/\1/p' include/iotsec/version.h)
VERSION_PATCH := $(shell sed -n 's/^\#define IOTSEC_VERSION_PATCH \([0-9]*\).*/\1/p' include/iotsec/version.h)
VERSION := $(VERSION_MAJOR).$(VERSION_MINOR).$(VERSION_PATCH)

PREFIX ?= /usr/local
EXEC_PREFIX ?= $(PREFIX)
BINDIR ?= $(EXEC_PREFIX)/bin
LIBDIR ?= $(EXEC_PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
MANDIR ?= $(PREFIX)/share/man
DESTDIR ?=

BACKENDS ?= openssl sodium psa
BUILD ?= build
PKG_CONFIG ?= pkg-config
INSTALL ?= install

CFLAGS ?= -O2 -g
WARN := -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wcast-qual -Wstrict-prototypes \
        -Wmissing-prototypes
ifeq ($(WERROR),1)
WARN += -Werror
endif
ifeq ($(SANITIZE),1)
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
endif

# pkg-config modules per backend; Requires.private of libiotsec.pc names the ones built.
PKG_openssl := libcrypto libssl
PKG_sodium := libsodium
# psa: the PSA Crypto API of Mbed TLS. Debian's libmbedtls-dev (2.28) ships no .pc file, so
# the library is named directly; MBEDTLS_LIBS overrides it (e.g. for a TF-M client library).
PKG_psa :=
MBEDTLS_LIBS ?= -lmbedcrypto
LIBS_psa = $(MBEDTLS_LIBS)
HAVE_OPENSSL := $(filter openssl,$(BACKENDS))
HAVE_SODIUM := $(filter sodium,$(BACKENDS))
HAVE_PSA := $(filter psa,$(BACKENDS))
ifeq ($(strip $(BACKENDS)),)
$(error BACKENDS is empty: libiotsec needs at least one crypto backend (openssl, sodium, psa))
endif
ifneq ($(filter-out openssl sodium psa,$(BACKENDS)),)
$(error BACKENDS: unknown backend $(filter-out openssl sodium psa,$(BACKENDS)) (known: openssl sodium psa))
endif
# The parts outside core/ and crypto/, each a directory named after what it adds. A host
# build with OpenSSL has them all; a firmware-style build (BACKENDS=sodium) has none.
#   PORT=posix   libiotsec/port/posix/ (files, fsync, the counter file port)
#   STORES=sqlite  libiotsec/store/sqlite.c (needs the POSIX port)
#   STORES+=pg   libiotsec/store/postgres.c (libpq; in the default when pkg-config finds libpq)
#   X509=1       libiotsec/x509/ (OpenSSL: key files, certificates, CRLs, TLS, the CA)
PORT ?= $(if $(HAVE_OPENSSL),posix)
LIBPQ_FOUND := $(shell $(PKG_CONFIG) --exists libpq 2>/dev/null && echo pg)
STORES ?= $(if $(HAVE_OPENSSL),sqlite $(LIBPQ_FOUND))
X509 := $(if $(HAVE_OPENSSL),1)
HAVE_POSIX := $(filter posix,$(PORT))
HAVE_SQLITE := $(and $(HAVE_POSIX),$(filter sqlite,$(STORES)))
HAVE_PG := $(filter pg,$(STORES))
ifneq ($(HAVE_PG),)
ifeq ($(LIBPQ_FOUND),)
$(error STORES names pg but pkg-config finds no libpq (Debian: libpq-dev; scripts/install-deps))
endif
endif
# Build-time subsetting of the core for firmware: NO_JSON=1 drops the JSON frame encoding
# (and with it the EcoWatt profile, which is JSON), NO_ECOWATT=1 the EcoWatt profile alone.
NO_JSON ?=
NO_ECOWATT ?=
LIB_PKGS := $(foreach b,$(BACKENDS),$(PKG_$(b))) $(if $(HAVE_SQLITE),sqlite3) $(if $(HAVE_PG),libpq)
# libiotsec.pc: libpq is named as -lpq in Libs.private, not in Requires.private, because
# Debian's libpq.pc lists for static linking libraries that libpq-dev does not provide
# (libpgcommon, libpgport: postgresql-server-dev; -lgssapi_krb5, -lldap without their -dev
# packages), so `pkg-config --static libiotsec` would name libraries that do not exist. The
# public headers do not include libpq's, so its Cflags are not needed either.
PC_REQUIRES := $(filter-out libpq,$(LIB_PKGS))
PC_LIBS_PRIVATE := $(foreach b,$(BACKENDS),$(LIBS_$(b))) $(if $(HAVE_PG),-lpq)

PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(LIB_PKGS) 2>/dev/null)
PKG_LIBS := $(shell $(PKG_CONFIG) --libs $(LIB_PKGS) 2>/dev/null) $(foreach b,$(BACKENDS),$(LIBS_$(b)))
CHECK_CFLAGS := $(shell $(PKG_CONFIG) --cflags check 2>/dev/null)
CHECK_LIBS := $(shell $(PKG_CONFIG) --libs check 2>/dev/null)

# iotsec/config.h records what this build has; iotsec.h includes only that. Generated into
# $(BUILD)/include (so builds with other BACKENDS do not share it) and installed with the
# public headers.
CONFIG_H := $(BUILD)/include/iotsec/config.h
flag01 = $(if $(strip $(1)),1,0)
CONFIG_VARS := OPENSSL=$(call flag01,$(HAVE_OPENSSL)) SODIUM=$(call flag01,$(HAVE_SODIUM)) \
    PSA=$(call flag01,$(HAVE_PSA)) \
    POSIX=$(call flag01,$(HAVE_POSIX)) SQLITE=$(call flag01,$(HAVE_SQLITE)) \
    PG=$(call flag01,$(HAVE_PG)) \
    X509=$(call flag01,$(X509)) NO_JSON=$(call flag01,$(filter-out 0,$(NO_JSON))) \
    NO_ECOWATT=$(call flag01,$(filter-out 0,$(NO_ECOWATT) $(NO_JSON)))

BASE_CFLAGS := -std=c99 -fPIC -fvisibility=hidden $(WARN) $(SANFLAGS) -I$(BUILD)/include -Iinclude
# core is portable C99: no OS headers beyond the freestanding ones and string.h, no
# dependency's header (tests/scripts/layout.sh checks both)
CORE_CFLAGS := $(BASE_CFLAGS)
SYS_CFLAGS := $(BASE_CFLAGS) -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE $(PKG_CFLAGS)

# The portable sources come from libiotsec/sources.cmake, the list CMakeLists.txt reads too
# (one build's list for two build systems): $(call source_list,NAME) is the paths between
# `set(NAME` and `)`.
SOURCES_LIST := libiotsec/sources.cmake
source_list = $(shell sed -n '/^set($(1)$$/,/^)/s/^ *\(libiotsec\/[^ ]*\.c\) *$$/\1/p' $(SOURCES_LIST))
SRC_CORE := $(call source_list,IOTSEC_CORE_SOURCES)
SRC_JSON := $(call source_list,IOTSEC_JSON_SOURCES)
SRC_ECOWATT := $(call source_list,IOTSEC_ECOWATT_SOURCES)
SRC_CRYPTO := $(call source_list,IOTSEC_CRYPTO_SOURCES)
ifeq ($(strip $(SRC_CORE)),)
$(error $(SOURCES_LIST): no IOTSEC_CORE_SOURCES read)
endif
CORE_SRC := $(sort $(SRC_CORE) $(if $(filter-out 0,$(NO_JSON)),,$(SRC_JSON)) \
    $(if $(filter-out 0,$(NO_JSON) $(NO_ECOWATT)),,$(SRC_ECOWATT)))
CRYPTO_SRC := $(foreach b,$(BACKENDS),libiotsec/crypto/$(b).c) $(SRC_CRYPTO)
PORT_SRC := $(if $(HAVE_POSIX),$(sort $(wildcard libiotsec/port/posix/*.c)))
STORE_SRC := $(if $(HAVE_SQLITE),libiotsec/store/sqlite.c) $(if $(HAVE_PG),libiotsec/store/postgres.c)
X509_SRC := $(if $(X509),$(sort $(wildcard libiotsec/x509/*.c)))
LIB_SRC := $(CORE_SRC) $(CRYPTO_SRC) $(PORT_SRC) $(STORE_SRC) $(X509_SRC)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)

STATIC_LIB := $(BUILD)/libiotsec.a
SHARED_LIB := $(BUILD)/libiotsec.so.$(VERSION)
SONAME := libiotsec.so.$(VERSION_MAJOR)

TOOL_SRC := $(sort $(wildcard tools/iotsec/*.c))
TOOL_OBJ := $(TOOL_SRC:%.c=$(BUILD)/obj/%.o)
CLI := $(BUILD)/iotsec
# the CLI's code without its main(), for the fuzz target of `iotsec ca`'s records
CLI_INTERNAL_LIB := $(BUILD)/internal/libiotsec-cli.a

TEST_UTIL_SRC := $(sort $(filter-out tests/unit/test_%.c,$(wildcard tests/unit/*.c)))
TEST_UTIL_OBJ := $(TEST_UTIL_SRC:%.c=$(BUILD)/obj/%.o)
TEST_SRC := $(sort $(wildcard tests/unit/test_*.c))
TEST_BIN := $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)
# Internal libraries ($(BUILD)/internal/lib*.a, not installed): code of tools/ and examples/
# that tests need is linked from these, never #included as a .c file
# (tests/scripts/no_c_includes.sh). Every Check suite is linked with those the makefile
# fragments add here (an archive contributes only the members a suite uses); a fuzz target
# names what it links in tests/fuzz/build.mk.
TEST_INTERNAL_LIBS :=

# Benchmarks: bench/bench_*.c, each a program printing its figures (make bench).
BENCH_SRC := $(sort $(wildcard bench/bench_*.c))
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

# Fuzz targets: tests/fuzz/fuzz_*.c, each defining LLVMFuzzerTestOneInput. `make check` links
# each with a replay driver and runs its corpus (tests/fuzz/corpus/<name>/) under the
# sanitizers; `make fuzz` links them with libFuzzer (clang) and fuzzes FUZZ_SECONDS each.
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_REPLAY_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzz-replay/%)
FUZZ_SECONDS ?= 60
# `make fuzz FUZZ_TARGETS="frame crl"` fuzzes only those (names without the fuzz_ prefix)
FUZZ_RUN := $(if $(FUZZ_TARGETS),$(FUZZ_TARGETS:%=tests/fuzz/fuzz_%.c),$(FUZZ_SRC))

# Front-ends and extra programs register themselves in their own makefile fragments.
PROGRAMS :=
-include $(sort $(wildcard tools/*/build.mk examples/*/build.mk plugins/*/build.mk tests/*/build.mk bench/build.mk))

.PHONY: all lib cli programs tests check test test-unit test-scripts deps install uninstall \
        install-lib install-includes install-pc install-bin install-man clean demo bench fuzz fuzz-campaign FORCE
.DEFAULT_GOAL := all
.SECONDARY:

all: lib cli programs
lib: $(CONFIG_H) $(STATIC_LIB) $(SHARED_LIB) $(BUILD)/libiotsec.pc
cli: $(if $(HAVE_OPENSSL),$(CLI))
programs: $(PROGRAMS)
tests: $(TEST_BIN) $(FUZZ_REPLAY_BIN)

$(BUILD)/obj/libiotsec/core/%.o: libiotsec/core/%.c | $(CONFIG_H)
	@mkdir -p $(@D)
	$(CC) $(CORE_CFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/obj/%.o: %.c | $(CONFIG_H)
	@mkdir -p $(@D)
	$(CC) $(SYS_CFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

# Rewritten only when the build's choices change (a stamp like the .pc's), so objects are
# not rebuilt for nothing.
$(CONFIG_H): FORCE
	@mkdir -p $(@D)
	@scripts/gen-config $(CONFIG_VARS) > $@.tmp
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi

$(STATIC_LIB): $(LIB_OBJ)
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $^

$(SHARED_LIB): $(LIB_OBJ)
	@mkdir -p $(@D)
	$(CC) -shared $(SANFLAGS) $(LDFLAGS) -Wl,-soname,$(SONAME) -o $@ $^ $(PKG_LIBS)
	ln -sf libiotsec.so.$(VERSION) $(BUILD)/$(SONAME)
	ln -sf $(SONAME) $(BUILD)/libiotsec.so

# The .pc holds the install paths: a stamp of them makes `make install PREFIX=...` after a
# plain `make` regenerate it instead of installing the /usr/local one.
PC_VARS := $(PREFIX)|$(LIBDIR)|$(INCLUDEDIR)|$(strip $(LIB_PKGS))|$(strip $(PC_LIBS_PRIVATE))
$(BUILD)/pc-vars: FORCE
	@mkdir -p $(@D)
	@echo '$(PC_VARS)' | cmp -s - $@ || echo '$(PC_VARS)' > $@
FORCE:

$(BUILD)/libiotsec.pc: libiotsec.pc.in include/iotsec/version.h Makefile $(BUILD)/pc-vars
	@mkdir -p $(@D)
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@VERSION@|$(VERSION)|g' \
	    -e 's|@REQUIRES_PRIVATE@|$(strip $(PC_REQUIRES))|g' \
	    -e 's|@LIBS_PRIVATE@|$(strip $(PC_LIBS_PRIVATE))|g' $< > $@

# PKCS#11 signing (tools/iotsec/pkcs11.c): only the header of p11-kit (libp11-kit-dev); the
# module is dlopen'ed at run time. Without the header the CLI says it lacks PKCS#11.
P11_CFLAGS := $(shell $(PKG_CONFIG) --cflags p11-kit-1 2>/dev/null)
HAVE_P11KIT := $(shell $(PKG_CONFIG) --exists p11-kit-1 2>/dev/null && echo 1)
$(BUILD)/obj/tools/iotsec/pkcs11.o: SYS_CFLAGS += $(if $(HAVE_P11KIT),-DIOTSEC_HAVE_P11KIT $(P11_CFLAGS))

$(CLI): $(TOOL_OBJ) $(STATIC_LIB)
	$(CC) $(SANFLAGS) $(LDFLAGS) -o $@ $(TOOL_OBJ) $(STATIC_LIB) $(PKG_LIBS)

$(CLI_INTERNAL_LIB): $(filter-out %/main.o,$(TOOL_OBJ))

# An internal library holds the objects its rule lists as prerequisites.
$(BUILD)/internal/%.a:
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $^

# The bindings-spec vectors as C tables (firmware/gen_vectors.py), for the runner shared by
# tests/unit/test_spec_vectors.c and the test firmware (firmware/spec_vectors.c).
SPEC_VECTORS_H := $(BUILD)/gen/spec_vectors_data.h
$(SPEC_VECTORS_H): firmware/gen_vectors.py $(wildcard bindings-spec/vectors/*.json)
	@mkdir -p $(@D)
	python3 firmware/gen_vectors.py bindings-spec/vectors $@
# The host build of the runner is an internal library every Check suite may link.
SPEC_VECTORS_LIB := $(BUILD)/internal/libspecvectors.a
TEST_INTERNAL_LIBS += $(SPEC_VECTORS_LIB)
$(BUILD)/obj/firmware/spec_vectors.o: $(SPEC_VECTORS_H)
$(BUILD)/obj/firmware/spec_vectors.o: SYS_CFLAGS += -I$(BUILD)/gen
$(SPEC_VECTORS_LIB): $(BUILD)/obj/firmware/spec_vectors.o
$(BUILD)/obj/tests/unit/test_spec_vectors.o: CHECK_CFLAGS += -Ifirmware

$(BUILD)/obj/tests/unit/%.o: tests/unit/%.c | $(CONFIG_H)
	@mkdir -p $(@D)
	$(CC) $(SYS_CFLAGS) $(CHECK_CFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(TEST_UTIL_OBJ) $(TEST_INTERNAL_LIBS) $(STATIC_LIB)
	@mkdir -p $(@D)
	$(CC) $(SANFLAGS) $(LDFLAGS) -o $@ $< $(TEST_UTIL_OBJ) $(TEST_INTERNAL_LIBS) $(STATIC_LIB) \
	    $(PKG_LIBS) $(CHECK_LIBS) -lpthread

$(BUILD)/obj/tests/fuzz/%.o: tests/fuzz/%.c | $(CONFIG_H)
	@mkdir -p $(@D)
	$(CC) $(SYS_CFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

# A fuzz target also links what tests/fuzz/build.mk names for it (FUZZ_LINK_<target>, paths
# under $(BUILD)); scripts/run-fuzz reads the same table for the libFuzzer binaries.
fuzz_link = $(addprefix $(BUILD)/,$(FUZZ_LINK_$(1)))
$(foreach t,$(FUZZ_SRC:tests/fuzz/%.c=%),$(eval $(BUILD)/fuzz-replay/$(t): $(call fuzz_link,$(t))))

$(BUILD)/fuzz-replay/%: $(BUILD)/obj/tests/fuzz/%.o $(BUILD)/obj/tests/fuzz/replay_main.o $(STATIC_LIB)
	@mkdir -p $(@D)
	$(CC) $(SANFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/obj/tests/fuzz/replay_main.o \
	    $(call fuzz_link,$*) $(STATIC_LIB) $(PKG_LIBS)

$(BUILD)/bench/%: bench/%.c $(STATIC_LIB) | $(CONFIG_H)
	@mkdir -p $(@D)
	$(CC) $(SYS_CFLAGS) $(CFLAGS) -o $@ $< $(STATIC_LIB) $(PKG_LIBS) -lm

bench: deps
	$(MAKE) BUILD=build/bench-build CFLAGS="-O2 -g -DNDEBUG" all $(BENCH_BIN:$(BUILD)/%=build/bench-build/%)
	@BUILD=build/bench-build scripts/run-bench

# libFuzzer build: everything recompiled by clang with coverage instrumentation, the library
# and what the targets run link besides it (tests/fuzz/build.mk).
FUZZ_RUN_LINK = $(sort $(foreach s,$(FUZZ_RUN),$(FUZZ_LINK_$(basename $(notdir $(s))))))
fuzz: deps
	$(MAKE) BUILD=build/fuzz CC=clang SANITIZE=1 CFLAGS="-O1 -g -fsanitize=fuzzer-no-link" lib \
	    $(addprefix build/fuzz/,$(FUZZ_RUN_LINK))
	@BUILD=build/fuzz FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_CFLAGS="$(PKG_CFLAGS)" \
	    FUZZ_LIBS="$(PKG_LIBS)" scripts/run-fuzz $(FUZZ_RUN)

# The campaign record (tests/fuzz/CAMPAIGN.md): every target for FUZZ_CAMPAIGN_RUNS
# executions (default 1,000,000), not for a time. Long: run it by hand, not in CI.
fuzz-campaign: deps
	$(MAKE) BUILD=build/fuzz CC=clang SANITIZE=1 CFLAGS="-O1 -g -fsanitize=fuzzer-no-link" lib \
	    $(addprefix build/fuzz/,$(FUZZ_RUN_LINK))
	@BUILD=build/fuzz FUZZ_CFLAGS="$(PKG_CFLAGS)" FUZZ_LIBS="$(PKG_LIBS)" \
	    scripts/fuzz-campaign $(FUZZ_RUN)

# ---- tests ------------------------------------------------------------------------------
# `make check` is the README's test command: dependencies, then the whole suite twice.
check: deps
	$(MAKE) BUILD=build WERROR=$(WERROR) test
	$(MAKE) BUILD=build/asan SANITIZE=1 WERROR=$(WERROR) test

deps:
	@scripts/install-deps

demo: deps
	@DEMO_SKIP_DEPS=1 scripts/demo

# One build's tests: every Check suite, then the scripted tests (tests/scripts/*.sh),
# each given the build directory.
test: all tests
	@BUILD=$(BUILD) SANITIZE=$(SANITIZE) FUZZ_REPLAY="$(FUZZ_REPLAY_BIN)" scripts/run-tests $(TEST_BIN)

install: install-lib install-includes install-pc install-bin install-man

install-lib: lib
	$(INSTALL) -d $(DESTDIR)$(LIBDIR)
	$(INSTALL) -m 644 $(STATIC_LIB) $(DESTDIR)$(LIBDIR)/libiotsec.a
	$(INSTALL) -m 755 $(SHARED_LIB) $(DESTDIR)$(LIBDIR)/libiotsec.so.$(VERSION)
	ln -sf libiotsec.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libiotsec.so

install-includes: $(CONFIG_H)
	$(INSTALL) -d $(DESTDIR)$(INCLUDEDIR)/iotsec
	$(INSTALL) -m 644 include/iotsec/*.h $(CONFIG_H) $(DESTDIR)$(INCLUDEDIR)/iotsec/

install-pc: $(BUILD)/libiotsec.pc
	$(INSTALL) -d $(DESTDIR)$(PKGCONFIGDIR)
	$(INSTALL) -m 644 $(BUILD)/libiotsec.pc $(DESTDIR)$(PKGCONFIGDIR)/libiotsec.pc

install-bin: cli
	$(if $(HAVE_OPENSSL),$(INSTALL) -d $(DESTDIR)$(BINDIR))
	$(if $(HAVE_OPENSSL),$(INSTALL) -m 755 $(CLI) $(DESTDIR)$(BINDIR)/iotsec)

# Manual pages, hand-written next to their programs (tests/scripts/man_pages.sh renders them
# and checks every --help option is documented).
MAN_PAGES := $(if $(HAVE_OPENSSL),$(wildcard tools/iotsec/iotsec.1 examples/backend/iotsec-backend.8 \
    $(if $(filter $(DEVSIM_BIN),$(PROGRAMS)),examples/device-sim/iotsec-device-sim.1)))
install-man:
	$(foreach m,$(MAN_PAGES),$(INSTALL) -d $(DESTDIR)$(MANDIR)/man$(subst .,,$(suffix $(m))) && \
	    $(INSTALL) -m 644 $(m) $(DESTDIR)$(MANDIR)/man$(subst .,,$(suffix $(m)))/ &&) true

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/libiotsec.a $(DESTDIR)$(LIBDIR)/libiotsec.so \
	      $(DESTDIR)$(LIBDIR)/$(SONAME) $(DESTDIR)$(LIBDIR)/libiotsec.so.$(VERSION) \
	      $(DESTDIR)$(PKGCONFIGDIR)/libiotsec.pc $(DESTDIR)$(BINDIR)/iotsec \
	      $(foreach m,$(MAN_PAGES),$(DESTDIR)$(MANDIR)/man$(subst .,,$(suffix $(m)))/$(notdir $(m)))
	rm -rf $(DESTDIR)$(INCLUDEDIR)/iotsec

clean:
	rm -rf build

# Cortex-M4 firmware: make firmware, make firmware-check (firmware/firmware.mk)
include firmware/firmware.mk

-include $(LIB_OBJ:.o=.d) $(TOOL_OBJ:.o=.d) $(FUZZ_SRC:%.c=$(BUILD)/obj/%.d) $(TEST_UTIL_OBJ:.o=.d) $(TEST_SRC:tests/unit/%.c=$(BUILD)/obj/tests/unit/%.d)
