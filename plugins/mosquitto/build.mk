# plugins/mosquitto/ (docs/DESIGN.md §13, plugins/mosquitto/README.md): the mosquitto 2.x broker
# plugin, a shared object loaded by mosquitto (plugin API v5). Included by the top-level
# Makefile; built by `make` when the build has OpenSSL and SQLite and mosquitto's plugin
# headers are present (Debian mosquitto-dev: /usr/include/mosquitto_broker.h,
# mosquitto_plugin.h; mosquitto.h from libmosquitto-dev). It links the static libiotsec of
# this build (compiled -fPIC) and exports only mosquitto_plugin_version/init/cleanup.
MQPLUGIN_SRC := $(sort $(wildcard plugins/mosquitto/*.c))
MQPLUGIN_OBJ := $(MQPLUGIN_SRC:%.c=$(BUILD)/obj/%.o)
MQPLUGIN := $(BUILD)/mosquitto_iotsec.so
MOSQUITTO_INCLUDEDIR ?= /usr/include
MQPLUGIN_HEADERS := $(wildcard $(MOSQUITTO_INCLUDEDIR)/mosquitto_broker.h) \
    $(wildcard $(MOSQUITTO_INCLUDEDIR)/mosquitto_plugin.h) $(wildcard $(MOSQUITTO_INCLUDEDIR)/mosquitto.h)
# mosquitto's headers are read as system headers (their own style is not ours to warn about)
MQPLUGIN_CFLAGS := $(if $(filter-out /usr/include,$(MOSQUITTO_INCLUDEDIR)),-isystem $(MOSQUITTO_INCLUDEDIR))

# `make install` puts it in MOSQUITTO_PLUGINDIR (default $(LIBDIR)/mosquitto), the directory
# mosquitto.conf's `plugin` line names.
MOSQUITTO_PLUGINDIR ?= $(LIBDIR)/mosquitto

ifneq ($(and $(HAVE_OPENSSL),$(HAVE_SQLITE),$(word 3,$(MQPLUGIN_HEADERS))),)
PROGRAMS += $(MQPLUGIN)
install: install-mosquitto-plugin
uninstall: uninstall-mosquitto-plugin
endif

.PHONY: install-mosquitto-plugin uninstall-mosquitto-plugin
install-mosquitto-plugin: $(MQPLUGIN)
	$(INSTALL) -d $(DESTDIR)$(MOSQUITTO_PLUGINDIR)
	$(INSTALL) -m 755 $(MQPLUGIN) $(DESTDIR)$(MOSQUITTO_PLUGINDIR)/mosquitto_iotsec.so

uninstall-mosquitto-plugin:
	rm -f $(DESTDIR)$(MOSQUITTO_PLUGINDIR)/mosquitto_iotsec.so

# -fvisibility=default after SYS_CFLAGS' hidden: the version script decides what is exported
$(BUILD)/obj/plugins/mosquitto/%.o: plugins/mosquitto/%.c | $(CONFIG_H)
	@mkdir -p $(@D)
	$(CC) $(SYS_CFLAGS) -fvisibility=default $(MQPLUGIN_CFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

$(MQPLUGIN): $(MQPLUGIN_OBJ) $(STATIC_LIB) plugins/mosquitto/exports.map
	$(CC) -shared $(SANFLAGS) $(LDFLAGS) -Wl,--version-script=plugins/mosquitto/exports.map \
	    -Wl,--exclude-libs,ALL -o $@ $(MQPLUGIN_OBJ) $(STATIC_LIB) $(PKG_LIBS)

# The topic patterns (topic.h: plain C, no mosquitto header) as an internal library for the
# Check suite tests/unit/test_mqtt_topic.c.
MQPLUGIN_TOPIC_LIB := $(BUILD)/internal/libmqplugin-topic.a
TEST_INTERNAL_LIBS += $(MQPLUGIN_TOPIC_LIB)
$(MQPLUGIN_TOPIC_LIB): $(BUILD)/obj/plugins/mosquitto/topic.o

-include $(MQPLUGIN_OBJ:.o=.d)
