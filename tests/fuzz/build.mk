# What a fuzz target (tests/fuzz/fuzz_<name>.c) links besides the static library: code of
# examples/, tools/ or tests/unit/, as objects or internal libraries, never #included as a
# .c file. One line per target that needs any, exactly of the form
#   FUZZ_LINK_<target> := <path under $(BUILD)> ...
# The Makefile links these into the replay binaries ($(BUILD)/fuzz-replay/<target>);
# `make fuzz` builds them with clang and scripts/run-fuzz, which reads this table with sed,
# links them into the libFuzzer binaries.
FUZZ_LINK_fuzz_backend_head := internal/libbackend-http.a
FUZZ_LINK_fuzz_backend_range := internal/libbackend-http.a
FUZZ_LINK_fuzz_ca_index := internal/libiotsec-cli.a
FUZZ_LINK_fuzz_devicesim_state := obj/examples/device-sim/state.o
FUZZ_LINK_fuzz_manifest_roundtrip := obj/tests/unit/fixture_manifest.o
