# Benchmarks with link needs beyond the library's (the generic rule in the top-level
# Makefile links $(STATIC_LIB) $(PKG_LIBS) -lm only).
# bench_mqtt: the MQTT load generator links libmosquitto (Debian libmosquitto-dev); without it
# it is built as a stub that says so.
BENCH_MQTT_LIBS := $(shell $(PKG_CONFIG) --libs libmosquitto 2>/dev/null)

$(BUILD)/bench/bench_mqtt: bench/bench_mqtt.c $(STATIC_LIB) | $(CONFIG_H)
	@mkdir -p $(@D)
	$(CC) $(SYS_CFLAGS) $(if $(BENCH_MQTT_LIBS),-DBENCH_HAVE_MQTT=1,-DBENCH_HAVE_MQTT=0) \
	    $(CFLAGS) -o $@ $< $(STATIC_LIB) $(PKG_LIBS) $(BENCH_MQTT_LIBS) -lpthread -lm
