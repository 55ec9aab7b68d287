/* libFuzzer target: the YAML configuration loader must reject any input
 * with a message, never crash, leak or read out of bounds. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "server/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    config c;
    char err[512];
    config_init(&c);
    err[0] = '\0';
    if (config_load_string(&c, "fuzz.yaml", data, size, err, sizeof err) != 0) {
        /* Every failure must explain itself, prefixed with the name. */
        if (strncmp(err, "fuzz.yaml:", 10) != 0) __builtin_trap();
    } else if (c.nlisteners == 0 || c.limits.keepalive_max < c.limits.keepalive_min) {
        __builtin_trap();
    }
    config_free(&c);
    return 0;
}
