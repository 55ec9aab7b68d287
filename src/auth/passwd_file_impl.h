/* Private to passwd_file.c and passwd_check.c: a loaded password file.
 *
 * Immutable once parsed, except for each entry's remembered tag, which
 * only the loop thread reads and writes. Reference counted (on the loop
 * thread only, so no atomics): a verification running on the thread pool
 * holds a reference, and a SIGHUP reload may drop the owner's meanwhile. */
#ifndef MQS_AUTH_PASSWD_FILE_IMPL_H
#define MQS_AUTH_PASSWD_FILE_IMPL_H

#include <stdbool.h>
#include <stdint.h>

#include "auth/passwd_file.h"
#include "auth/passwd_hash.h"
#include "util/hashmap.h"

#define PASSWD_TAG_LEN 32

typedef struct passwd_entry {
    passwd_hash h;
    uint8_t ok_tag[PASSWD_TAG_LEN]; /* HMAC(key, last verified password) */
    bool has_ok;
} passwd_entry;

struct passwd_file {
    uint32_t refs;
    hashmap *users;                  /* user name -> passwd_entry */
    uint8_t tag_key[PASSWD_TAG_LEN]; /* random per load: tags mean nothing elsewhere */
    passwd_hash dummy;               /* verified against for unknown users; its iterations are the
                                         file's highest (the default when the file is empty) */
};

#endif
