/* Fuzz target: base64, hex and decimal decoders, with round trips where an encoder exists:
 * whatever decodes must re-encode to the same text (canonical), and every byte string must
 * survive encode → decode. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "iotsec/util.h"
#include "iotsec/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    size_t cap = size + 8u, n = 0, m = 0;
    uint8_t *dec = malloc(cap);
    char *enc = malloc(2u * size + IOTSEC_BASE64_ENCODED_LEN(size) + 8u);
    uint64_t v;

    if (dec == NULL || enc == NULL)
        abort();
    if (iotsec_base64_decode(text, size, dec, cap, &n) == IOTSEC_OK) {
        /* strict decoding means canonical: re-encoding gives the input back */
        if (iotsec_base64_encode(dec, n, enc, IOTSEC_BASE64_ENCODED_LEN(n) + 1u, &m) != IOTSEC_OK ||
            m != size || memcmp(enc, text, size) != 0)
            abort();
    }
    if (iotsec_hex_decode(text, size, dec, cap, &n, IOTSEC_HEX_LOWER_ONLY) == IOTSEC_OK) {
        if (iotsec_hex_encode(dec, n, enc, 2u * n + 1u) != IOTSEC_OK || memcmp(enc, text, size) != 0)
            abort();
    }
    (void)iotsec_hex_decode(text, size, dec, cap, &n, 0);
    if (iotsec_parse_u64_dec(text, size, UINT64_MAX, &v) == IOTSEC_OK) {
        char buf[20];
        if (iotsec_format_u64_dec(v, buf) != size || memcmp(buf, text, size) != 0)
            abort();
    }
    /* encode → decode round trip of arbitrary bytes */
    if (iotsec_base64_encode(data, size, enc, IOTSEC_BASE64_ENCODED_LEN(size) + 1u, &m) != IOTSEC_OK ||
        iotsec_base64_decode(enc, m, dec, cap, &n) != IOTSEC_OK || n != size ||
        (size > 0 && memcmp(dec, data, size) != 0))
        abort();
    (void)iotsec_crc32(0, data, size);
    free(dec);
    free(enc);
    return 0;
}
