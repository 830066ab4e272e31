# tools/gen-vectors: the C generators of bindings-spec/vectors/ (gen_vectors.h). Their code is
# an internal library linked by the two generator programs and by the Check suites that
# compare a fresh run with the committed files (tests/unit/test_frame.c, test_vectors.c).
#   make build/gen_frames && build/gen_frames bindings-spec/vectors      (frame vectors)
#   make build/gen_firmware && build/gen_firmware bindings-spec/vectors  (firmware_image.json)
# The generators need the OpenSSL backend, so `make all` builds them only with it.
GENVEC_SRC := tools/gen-vectors/gen_frames.c tools/gen-vectors/gen_firmware.c
GENVEC_OBJ := $(GENVEC_SRC:%.c=$(BUILD)/obj/%.o)
GENVEC_LIB := $(BUILD)/internal/libgenvectors.a
GENVEC_BIN := $(BUILD)/gen_frames $(BUILD)/gen_firmware

PROGRAMS += $(if $(HAVE_OPENSSL),$(GENVEC_BIN))
TEST_INTERNAL_LIBS += $(GENVEC_LIB)

$(GENVEC_LIB): $(GENVEC_OBJ)

$(GENVEC_BIN): $(BUILD)/%: $(BUILD)/obj/tools/gen-vectors/%_main.o $(GENVEC_LIB) $(STATIC_LIB)
	$(CC) $(SANFLAGS) $(LDFLAGS) -o $@ $< $(GENVEC_LIB) $(STATIC_LIB) $(PKG_LIBS)

-include $(GENVEC_OBJ:.o=.d) $(GENVEC_BIN:$(BUILD)/%=$(BUILD)/obj/tools/gen-vectors/%_main.d)
