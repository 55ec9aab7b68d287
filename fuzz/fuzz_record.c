/* libFuzzer target: the store record decoder (src/store/record.h). Any
 * input either fails to decode or is the canonical encoding of the record
 * it decodes to: re-encoding gives the same bytes. */
#include <string.h>

#include "store/record.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    store_record r;
    store_record_err e = store_record_decode(data, size, &r);
    CHECK(store_record_strerror(e) != NULL);
    if (e != STORE_RECORD_OK) return 0;
    CHECK(store_record_encoded_size(&r) == size);
    buf out = {0};
    store_record_encode(&r, &out);
    CHECK(out.len == size && memcmp(out.data, data, size) == 0);
    buf_free(&out);
    return 0;
}
