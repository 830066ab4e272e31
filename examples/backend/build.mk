# examples/backend: iotsec-backend, the example mTLS HTTPS server (docs/DESIGN.md §10).
# libevent (evhttp over bufferevent_openssl) + OpenSSL + SQLite, linked with the static
# library. Built only when the OpenSSL backend is (the server side needs libiotsec/x509/).
BACKEND_BIN := $(BUILD)/iotsec-backend
BACKEND_SRC := $(sort $(wildcard examples/backend/*.c))
BACKEND_OBJ := $(BACKEND_SRC:%.c=$(BUILD)/obj/%.o)
BACKEND_EVENT_CFLAGS := $(shell $(PKG_CONFIG) --cflags libevent libevent_openssl 2>/dev/null)
BACKEND_EVENT_LIBS := $(shell $(PKG_CONFIG) --libs libevent libevent_openssl 2>/dev/null)

PROGRAMS += $(if $(HAVE_OPENSSL),$(BACKEND_BIN))

$(BUILD)/obj/examples/backend/%.o: examples/backend/%.c | $(CONFIG_H)
	@mkdir -p $(@D)
	$(CC) $(SYS_CFLAGS) $(BACKEND_EVENT_CFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

$(BACKEND_BIN): $(BACKEND_OBJ) $(STATIC_LIB)
	$(CC) $(SANFLAGS) $(LDFLAGS) -o $@ $(BACKEND_OBJ) $(STATIC_LIB) $(BACKEND_EVENT_LIBS) $(PKG_LIBS)

# The HTTP parsers (httpparse.h: no libevent) as an internal library for the Check suite and
# the fuzz target that test them.
BACKEND_HTTP_LIB := $(BUILD)/internal/libbackend-http.a
TEST_INTERNAL_LIBS += $(BACKEND_HTTP_LIB)
$(BACKEND_HTTP_LIB): $(BUILD)/obj/examples/backend/httpparse.o
# The storage code (db.c, db_admin.c, db_floors.c: SQLite; db_pg.c: PostgreSQL) and util.c, for tests/unit/test_backend_device.c.
BACKEND_DB_LIB := $(BUILD)/internal/libbackend-db.a
TEST_INTERNAL_LIBS += $(BACKEND_DB_LIB)
$(BACKEND_DB_LIB): $(addprefix $(BUILD)/obj/examples/backend/,db.o db_admin.o db_floors.o db_pg.o util.o)

-include $(BACKEND_OBJ:.o=.d)
