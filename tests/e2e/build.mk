# tests/e2e: the demo's scenarios (scripts/demo, run by tests/scripts/e2e_demo.sh in
# `make check`). Their firmware images v1 and v2 are the device simulator built with two
# version strings (examples/device-sim/build.mk); `make tests` builds them so the scripted
# test finds them in $(BUILD)/firmware/.
DEMO_FIRMWARE := $(BUILD)/firmware/iotsec-device-sim-1.0.0 $(BUILD)/firmware/iotsec-device-sim-2.0.0

ifneq ($(filter $(DEVSIM_BIN),$(PROGRAMS)),)
tests: $(DEMO_FIRMWARE)
endif
