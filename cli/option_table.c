/* Every spelling of every option. Clashes between mosquitto_pub and
 * statestore-cli are settled here, once:
 *   -h  is the host (mosquitto_pub); help is --help only.
 *   -k/--key is the state store key (statestore-cli); the TLS private key
 *       is -K/--keyfile, so mosquitto_pub's --key FILE is not accepted.
 *   -P  is the MQTT password (mosquitto_pub); statestore-cli's key password
 *       file is --keypasswordfile only.
 *   -f  is the value file (statestore-cli): input of set/vdel, output of get. */
#include "option_table.h"

#include <stddef.h>
#include <string.h>

static const struct cli_opt_spec specs[] = {
    {OPT_HOST, 'h', {"host", "hostname"}, true},
    {OPT_HOST, 'n', {NULL}, true},
    {OPT_PORT, 'p', {"port"}, true},
    {OPT_ID, 'i', {"id", "client-id"}, true},
    {OPT_USERNAME, 'u', {"username"}, true},
    {OPT_PASSWORD, 'P', {"password"}, true},
    {OPT_PASSWORD_FILE, 0, {"password-file"}, true},
    {OPT_ASKPASS, 0, {"askpass"}, false},
    {OPT_CAFILE, 'T', {"cafile"}, true},
    {OPT_CAPATH, 0, {"capath"}, true},
    {OPT_CERTFILE, 'C', {"cert", "certfile"}, true},
    {OPT_KEYFILE, 'K', {"keyfile"}, true},
    {OPT_KEYPASS, 0, {"keypass"}, true},
    {OPT_KEYPASSWORDFILE, 0, {"keypasswordfile"}, true},
    {OPT_TLS, 0, {"tls"}, false},
    {OPT_NOTLS, 0, {"notls", "no-tls"}, false},
    {OPT_INSECURE, 0, {"insecure"}, false},
    {OPT_TIMEOUT, 0, {"timeout"}, true},
    {OPT_VERBOSE, 0, {"verbose"}, false},
    {OPT_KEY, 'k', {"key"}, true},
    {OPT_KEY_HEX, 0, {"key-hex"}, true},
    {OPT_VALUE, 0, {"value"}, true},
    {OPT_VALUE_HEX, 0, {"value-hex"}, true},
    {OPT_VALUEFILE, 'f', {"valuefile", "file"}, true},
    {OPT_NX, 0, {"nx"}, false},
    {OPT_NEX, 0, {"nex"}, false},
    {OPT_PX, 0, {"px"}, true},
    {OPT_FT, 0, {"ft", "fencing-token"}, true},
    {OPT_PERSIST, 0, {"persist"}, false},
    {OPT_TTL, 0, {"ttl"}, true},
    {OPT_WAIT, 0, {"wait"}, true},
    {OPT_HEX, 0, {"hex"}, false},
    {OPT_JSON, 0, {"json"}, false},
    {OPT_DIGEST, 0, {"digest"}, false},
    {OPT_HELP, 0, {"help"}, false},
    {OPT_VERSION, 0, {"version"}, false},
};

#define SPEC_COUNT (sizeof specs / sizeof specs[0])

const struct cli_opt_spec *cli_opt_find_long(const char *name, size_t len)
{
    for (size_t i = 0; i < SPEC_COUNT; i++) {
        for (size_t j = 0; j < 3 && specs[i].long_names[j]; j++) {
            const char *candidate = specs[i].long_names[j];
            if (strlen(candidate) == len && memcmp(candidate, name, len) == 0) return &specs[i];
        }
    }
    return NULL;
}

const struct cli_opt_spec *cli_opt_find_short(char c)
{
    for (size_t i = 0; i < SPEC_COUNT; i++) {
        if (specs[i].short_name == c) return &specs[i];
    }
    return NULL;
}

const char *cli_opt_name(enum cli_opt_id id)
{
    for (size_t i = 0; i < SPEC_COUNT; i++) {
        if (specs[i].id == id && specs[i].long_names[0]) return specs[i].long_names[0];
    }
    return "?";
}
