# Firmware build (docs/DESIGN.md §15), included by the Makefile.
#
#   make firmware         the core, the PSA backend and its crypto for Cortex-M4:
#                         $(FW_DIR)/libiotsec.a, libmbedcrypto.a (Mbed TLS 2.28 from Debian's
#                         source package), libsodium-ed25519.a (libsodium's ref10 files), and
#                         the test firmware $(FW_DIR)/iotsec-test.elf
#   make firmware-check   run the test firmware on QEMU mps2-an386 (semihosting): every
#                         bindings-spec vector; prints one summary line, fails on a failure
#   make size             libiotsec's own flash, RAM and worst-case stack for the profiles
#                         bootloader, sensor and full (scripts/fw-size; a benchmark)
#
# Variables: CROSS (arm-none-eabi-), FW_CPU, FW_OPT (-Os), FW_SRC (where
# scripts/fetch-firmware-sources unpacks the sources), QEMU (qemu-system-arm).
# Nothing here comes from a host include directory: the cross compiler's own headers
# (picolibc) and the fetched sources only; `make firmware` checks the dependency files.

CROSS ?= arm-none-eabi-
FW_CC := $(CROSS)gcc
FW_AR := $(CROSS)ar
FW_CPU ?= -mcpu=cortex-m4 -mthumb -mfloat-abi=soft
FW_OPT ?= -Os
QEMU ?= qemu-system-arm
FW_DIR := $(BUILD)/firmware
FW_SRC ?= build/firmware-src
FW_MBEDTLS := $(FW_SRC)/mbedtls
FW_SODIUM := $(FW_SRC)/libsodium/src/libsodium
FW_FETCHED := $(FW_MBEDTLS)/include/psa/crypto.h

FW_BASE := $(FW_CPU) $(FW_OPT) -g -ffunction-sections -fdata-sections --specs=picolibc.specs
FW_MBEDTLS_DEF := -Ifirmware -DMBEDTLS_CONFIG_FILE='"mbedtls_config.h"'
# libsodium's ref10 files without its configure: the two macros it would have set
FW_SODIUM_DEF := -DCONFIGURED=1 -DNATIVE_LITTLE_ENDIAN=1 -I$(FW_DIR)/include \
    -I$(FW_SODIUM)/include -I$(FW_SODIUM)/include/sodium -I$(FW_SODIUM)/include/sodium/private
FW_IOTSEC_CFLAGS := -std=c99 $(WARN) $(FW_BASE) -I$(FW_DIR)/include -Iinclude

# What a firmware build of the library has: the PSA backend, libsodium's (ref10) as its
# Ed25519 fallback, no OpenSSL, no POSIX, no SQLite.
FW_CONFIG_VARS := OPENSSL=0 SODIUM=1 PSA=1 POSIX=0 SQLITE=0 X509=0 NO_JSON=0 NO_ECOWATT=0
FW_CONFIG_H := $(FW_DIR)/include/iotsec/config.h

# the sources of libiotsec/sources.cmake (the Makefile's SRC_*), JSON and EcoWatt included
FW_CORE_SRC := $(sort $(SRC_CORE) $(SRC_JSON) $(SRC_ECOWATT))
FW_CRYPTO_SRC := libiotsec/crypto/psa.c libiotsec/crypto/sodium.c $(SRC_CRYPTO)
FW_LIB_OBJ := $(patsubst %.c,$(FW_DIR)/obj/%.o,$(FW_CORE_SRC) $(FW_CRYPTO_SRC))
FW_SODIUM_FILES := crypto_sign/ed25519/ref10/keypair.c crypto_sign/ed25519/ref10/open.c \
    crypto_sign/ed25519/ref10/sign.c crypto_core/ed25519/ref10/ed25519_ref10.c \
    crypto_hash/sha512/cp/hash_sha512_cp.c crypto_hash/sha256/cp/hash_sha256_cp.c \
    crypto_auth/hmacsha256/auth_hmacsha256.c crypto_verify/sodium/verify.c sodium/utils.c \
    crypto_sign/crypto_sign.c crypto_sign/ed25519/sign_ed25519.c
FW_SODIUM_OBJ := $(patsubst %.c,$(FW_DIR)/obj/sodium/%.o,$(FW_SODIUM_FILES))
FW_TEST_OBJ := $(patsubst %.c,$(FW_DIR)/obj/%.o,firmware/main.c firmware/spec_vectors.c \
    firmware/sodium_shim.c firmware/test_entropy.c)
FW_ELF := $(FW_DIR)/iotsec-test.elf

.PHONY: firmware firmware-check firmware-fetch

firmware: $(FW_DIR)/libiotsec.a $(FW_DIR)/libmbedcrypto.a $(FW_DIR)/libsodium-ed25519.a $(FW_ELF)
	@if grep -h -o ' /usr/include/[^ ]*' $(FW_DIR)/obj/*/*.d $(FW_DIR)/obj/*/*/*.d \
	        $(FW_DIR)/obj/*/*/*/*.d 2>/dev/null | sort -u | grep .; then \
	    echo "firmware: FAIL: the files above come from the host's /usr/include" >&2; exit 1; fi
	@$(CROSS)size $(FW_ELF) | sed 's/^/firmware: /'

firmware-fetch: $(FW_FETCHED)
$(FW_FETCHED):
	FW_SRC=$(FW_SRC) scripts/fetch-firmware-sources
# the sources exist once the fetch ran
$(FW_SODIUM)/%.c: | $(FW_FETCHED) ;

$(FW_CONFIG_H): FORCE
	@mkdir -p $(@D)
	@scripts/gen-config $(FW_CONFIG_VARS) > $@.tmp
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi
# libsodium's sodium.h wants the version.h its configure writes; the source package ships
# the same header pre-generated for MSVC builds
$(FW_DIR)/include/sodium/version.h: | $(FW_FETCHED)
	@mkdir -p $(@D)
	cp $(FW_SRC)/libsodium/builds/msvc/version.h $@

# Mbed TLS with its own Makefile (in the unpacked tree), rebuilt from clean when our
# configuration changes. MAKEFLAGS is not passed: this build's variables are not Mbed TLS's.
$(FW_DIR)/libmbedcrypto.a: firmware/mbedtls_config.h | $(FW_FETCHED)
	@mkdir -p $(@D)
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL $(MAKE) -s -C $(FW_MBEDTLS)/library clean >/dev/null
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL $(MAKE) -s -j2 -C $(FW_MBEDTLS)/library \
	    libmbedcrypto.a CC=$(FW_CC) AR=$(FW_AR) \
	    CFLAGS="$(FW_BASE) -I$(CURDIR)/firmware -DMBEDTLS_CONFIG_FILE='\"mbedtls_config.h\"'"
	cp $(FW_MBEDTLS)/library/libmbedcrypto.a $@

$(FW_DIR)/obj/sodium/%.o: $(FW_SODIUM)/%.c $(FW_DIR)/include/sodium/version.h
	@mkdir -p $(@D)
	$(FW_CC) $(FW_BASE) $(FW_SODIUM_DEF) -w -MMD -MP -c $< -o $@

$(FW_DIR)/libsodium-ed25519.a: $(FW_SODIUM_OBJ)
	rm -f $@
	$(FW_AR) rcs $@ $^

# libiotsec: the portable core, the PSA backend and libsodium's (its fallback), warnings as
# on the host
$(FW_DIR)/obj/libiotsec/core/%.o: libiotsec/core/%.c | $(FW_CONFIG_H)
	@mkdir -p $(@D)
	$(FW_CC) $(FW_IOTSEC_CFLAGS) -MMD -MP -c $< -o $@
$(FW_DIR)/obj/libiotsec/crypto/psa.o: libiotsec/crypto/psa.c | $(FW_CONFIG_H) $(FW_FETCHED)
	@mkdir -p $(@D)
	$(FW_CC) $(FW_IOTSEC_CFLAGS) $(FW_MBEDTLS_DEF) -I$(FW_MBEDTLS)/include -MMD -MP -c $< -o $@
$(FW_DIR)/obj/libiotsec/crypto/sodium.o: libiotsec/crypto/sodium.c $(FW_DIR)/include/sodium/version.h | $(FW_CONFIG_H)
	@mkdir -p $(@D)
	$(FW_CC) $(FW_IOTSEC_CFLAGS) -I$(FW_SODIUM)/include -I$(FW_SODIUM)/include/sodium -MMD -MP -c $< -o $@
$(FW_DIR)/obj/libiotsec/crypto/registry.o: libiotsec/crypto/registry.c | $(FW_CONFIG_H)
	@mkdir -p $(@D)
	$(FW_CC) $(FW_IOTSEC_CFLAGS) -MMD -MP -c $< -o $@

$(FW_DIR)/libiotsec.a: $(FW_LIB_OBJ)
	rm -f $@
	$(FW_AR) rcs $@ $^

# the test firmware
$(FW_DIR)/obj/firmware/spec_vectors.o: firmware/spec_vectors.c $(SPEC_VECTORS_H) | $(FW_CONFIG_H)
	@mkdir -p $(@D)
	$(FW_CC) $(FW_IOTSEC_CFLAGS) -I$(BUILD)/gen -MMD -MP -c $< -o $@
$(FW_DIR)/obj/firmware/main.o: firmware/main.c | $(FW_CONFIG_H)
	@mkdir -p $(@D)
	$(FW_CC) $(FW_IOTSEC_CFLAGS) -DPICOLIBC_INTEGER_PRINTF_SCANF -MMD -MP -c $< -o $@
$(FW_DIR)/obj/firmware/%.o: firmware/%.c | $(FW_CONFIG_H) $(FW_FETCHED)
	@mkdir -p $(@D)
	$(FW_CC) $(FW_IOTSEC_CFLAGS) $(FW_MBEDTLS_DEF) -I$(FW_MBEDTLS)/include -MMD -MP -c $< -o $@

$(FW_ELF): $(FW_TEST_OBJ) $(FW_DIR)/libiotsec.a $(FW_DIR)/libsodium-ed25519.a \
        $(FW_DIR)/libmbedcrypto.a firmware/mps2-an386.ld
	$(FW_CC) $(FW_BASE) -DPICOLIBC_INTEGER_PRINTF_SCANF --crt0=semihost --oslib=semihost \
	    -Tfirmware/mps2-an386.ld -Wl,--gc-sections -Wl,-Map=$(FW_DIR)/iotsec-test.map \
	    -o $@ $(FW_TEST_OBJ) $(FW_DIR)/libiotsec.a $(FW_DIR)/libsodium-ed25519.a \
	    $(FW_DIR)/libmbedcrypto.a

# QEMU's semihosting exit status is the firmware's: the number of failed checks. A hard
# fault exits 1 after printing registers; a hang ends at the timeout (124).
firmware-check: firmware
	@start=$$(date +%s.%N); \
	timeout 120 $(QEMU) -M mps2-an386 -display none -monitor none -serial none \
	    -chardev stdio,id=shc -semihosting-config enable=on,target=native,chardev=shc \
	    -kernel $(FW_ELF) > $(FW_DIR)/qemu.log 2>&1; rc=$$?; \
	end=$$(date +%s.%N); \
	grep '^FAIL' $(FW_DIR)/qemu.log | head -50; \
	line=$$(grep '^firmware: [0-9]* passed' $(FW_DIR)/qemu.log | tail -n 1); \
	passed=$$(echo "$$line" | sed -n 's/.* \([0-9]*\) passed.*/\1/p'); \
	failed=$$(echo "$$line" | sed -n 's/.* \([0-9]*\) failed.*/\1/p'); \
	secs=$$(awk "BEGIN {printf \"%.1f\", $$end - $$start}"); \
	if [ -z "$$passed" ]; then \
	    cat $(FW_DIR)/qemu.log; \
	    echo "firmware-check: FAIL: no summary from the firmware (exit $$rc)"; exit 1; fi; \
	grep '^firmware: libiotsec' $(FW_DIR)/qemu.log | sed 's/^firmware: /firmware-check: /'; \
	echo "firmware-check: $$passed passed, $$failed failed (qemu mps2-an386, Cortex-M4, $${secs}s)"; \
	[ "$$rc" = 0 ] && [ "$$failed" = 0 ]

# ---- make size (docs: README "Using libiotsec in firmware") ------------------------------
# libiotsec's own flash, RAM and worst-case stack per profile, apart from the crypto
# library's. The library is compiled again (same flags as above, plus -fstack-usage and
# gcc's -fcallgraph-info=su, which change no code) into $(FW_SIZE_DIR); each profile is a
# small entry program (firmware/size/<profile>.c) linked with --gc-sections and a link map
# against it, Mbed TLS and the libsodium ref10 files; scripts/fw-size reads the maps, the
# .su/.ci files and the relocations and prints the table.
FW_SIZE_DIR := $(FW_DIR)/size
FW_SIZE_PROFILES := bootloader sensor full
FW_SIZE_LIB_OBJ := $(patsubst %.c,$(FW_SIZE_DIR)/obj/%.o,$(FW_CORE_SRC) $(FW_CRYPTO_SRC))
FW_SIZE_SU := -fstack-usage -fcallgraph-info=su
FW_SIZE_SUPPORT := $(FW_DIR)/obj/firmware/sodium_shim.o $(FW_DIR)/obj/firmware/test_entropy.o
FW_SIZE_LINK = $(FW_CC) $(FW_BASE) --crt0=semihost --oslib=semihost -Tfirmware/mps2-an386.ld \
    -Wl,--gc-sections

.PHONY: size
size: $(foreach p,$(FW_SIZE_PROFILES),$(FW_SIZE_DIR)/$(p).elf) scripts/fw-size
	@python3 scripts/fw-size --dir $(FW_SIZE_DIR) --cross $(CROSS) --top . $(FW_SIZE_PROFILES)

$(FW_SIZE_DIR)/obj/libiotsec/core/%.o: libiotsec/core/%.c | $(FW_CONFIG_H)
	@mkdir -p $(@D)
	$(FW_CC) $(FW_IOTSEC_CFLAGS) $(FW_SIZE_SU) -MMD -MP -c $< -o $@
$(FW_SIZE_DIR)/obj/libiotsec/crypto/psa.o: libiotsec/crypto/psa.c | $(FW_CONFIG_H) $(FW_FETCHED)
	@mkdir -p $(@D)
	$(FW_CC) $(FW_IOTSEC_CFLAGS) $(FW_SIZE_SU) $(FW_MBEDTLS_DEF) -I$(FW_MBEDTLS)/include -MMD -MP -c $< -o $@
$(FW_SIZE_DIR)/obj/libiotsec/crypto/sodium.o: libiotsec/crypto/sodium.c $(FW_DIR)/include/sodium/version.h | $(FW_CONFIG_H)
	@mkdir -p $(@D)
	$(FW_CC) $(FW_IOTSEC_CFLAGS) $(FW_SIZE_SU) -I$(FW_SODIUM)/include -I$(FW_SODIUM)/include/sodium -MMD -MP -c $< -o $@
$(FW_SIZE_DIR)/obj/libiotsec/crypto/registry.o: libiotsec/crypto/registry.c | $(FW_CONFIG_H)
	@mkdir -p $(@D)
	$(FW_CC) $(FW_IOTSEC_CFLAGS) $(FW_SIZE_SU) -MMD -MP -c $< -o $@
$(FW_SIZE_DIR)/libiotsec.a: $(FW_SIZE_LIB_OBJ)
	rm -f $@
	$(FW_AR) rcs $@ $^
$(FW_SIZE_DIR)/obj/%.o: firmware/size/%.c | $(FW_CONFIG_H)
	@mkdir -p $(@D)
	$(FW_CC) $(FW_IOTSEC_CFLAGS) -MMD -MP -c $< -o $@

# "full" keeps every global function of the library: each is named with --undefined, which
# --gc-sections treats as a root
$(FW_SIZE_DIR)/full.elf: FW_SIZE_ROOTS = $$($(CROSS)nm -g --defined-only $(FW_SIZE_DIR)/libiotsec.a | \
    awk '$$2 == "T" { printf " -Wl,--undefined=%s", $$3 }')
$(FW_SIZE_DIR)/%.elf: $(FW_SIZE_DIR)/obj/%.o $(FW_SIZE_DIR)/libiotsec.a $(FW_SIZE_SUPPORT) \
        $(FW_DIR)/libsodium-ed25519.a $(FW_DIR)/libmbedcrypto.a firmware/mps2-an386.ld
	$(FW_SIZE_LINK) -Wl,-Map=$(FW_SIZE_DIR)/$*.map $(FW_SIZE_ROOTS) -o $@ $< \
	    $(FW_SIZE_DIR)/libiotsec.a $(FW_SIZE_SUPPORT) $(FW_DIR)/libsodium-ed25519.a \
	    $(FW_DIR)/libmbedcrypto.a

-include $(FW_SIZE_LIB_OBJ:.o=.d)
