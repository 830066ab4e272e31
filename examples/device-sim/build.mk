# iotsec-device-sim (docs/DESIGN.md §11): the simulated ESP32-class device, a libcurl client
# (and a libmosquitto client when libmosquitto-dev is installed).
# Included by the top-level Makefile; builds $(BUILD)/iotsec-device-sim when OpenSSL and
# libcurl are available.
DEVSIM_SRC := $(sort $(wildcard examples/device-sim/*.c))
DEVSIM_OBJ := $(DEVSIM_SRC:%.c=$(BUILD)/obj/%.o)
DEVSIM_BIN := $(BUILD)/iotsec-device-sim
DEVSIM_CURL_CFLAGS := $(shell $(PKG_CONFIG) --cflags libcurl 2>/dev/null)
DEVSIM_CURL_LIBS := $(shell $(PKG_CONFIG) --libs libcurl 2>/dev/null)
# MQTT transport (mqtt.c) only when libmosquitto is installed (Debian libmosquitto-dev);
# without it `run --transport mqtt` and `listen` say so and exit 2
DEVSIM_MQTT_LIBS := $(shell $(PKG_CONFIG) --libs libmosquitto 2>/dev/null)
DEVSIM_MQTT_CFLAGS := $(if $(DEVSIM_MQTT_LIBS),-DSIM_HAVE_MQTT=1 $(shell $(PKG_CONFIG) --cflags libmosquitto 2>/dev/null),-DSIM_HAVE_MQTT=0)

ifneq ($(and $(HAVE_OPENSSL),$(DEVSIM_CURL_LIBS)),)
PROGRAMS += $(DEVSIM_BIN)
endif

$(BUILD)/obj/examples/device-sim/%.o: examples/device-sim/%.c | $(CONFIG_H)
	@mkdir -p $(@D)
	$(CC) $(SYS_CFLAGS) $(DEVSIM_CURL_CFLAGS) $(DEVSIM_MQTT_CFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

$(DEVSIM_BIN): $(DEVSIM_OBJ) $(STATIC_LIB)
	$(CC) $(SANFLAGS) $(LDFLAGS) -o $@ $(DEVSIM_OBJ) $(STATIC_LIB) $(PKG_LIBS) $(DEVSIM_CURL_LIBS) \
	    $(DEVSIM_MQTT_LIBS)

# The simulator as a firmware image of a given version, a real ELF for the demo's updates:
# `make build/firmware/iotsec-device-sim-2.0.0` compiles main.c with SIM_FIRMWARE_VERSION
# set to "2.0.0" and links it with the other objects, stripped as a release image would be.
DEVSIM_LIB_OBJ := $(filter-out %/main.o,$(DEVSIM_OBJ))
$(BUILD)/firmware/iotsec-device-sim-%: examples/device-sim/main.c $(DEVSIM_LIB_OBJ) $(STATIC_LIB)
	@mkdir -p $(@D)
	$(CC) $(SYS_CFLAGS) $(DEVSIM_CURL_CFLAGS) $(DEVSIM_MQTT_CFLAGS) $(CFLAGS) -DSIM_FIRMWARE_VERSION='"$*"' -s \
	    $(SANFLAGS) $(LDFLAGS) -o $@ $< $(DEVSIM_LIB_OBJ) $(STATIC_LIB) $(PKG_LIBS) $(DEVSIM_CURL_LIBS) \
	    $(DEVSIM_MQTT_LIBS)

-include $(DEVSIM_OBJ:.o=.d)
