/* A counter incremented safely by several processes: each increment is an
 * "edit under lock" (lock -> GET -> +1 -> SET with the lock's fencing
 * token -> release), so no update is lost even when a lock holder stalls
 * past its lease: its stale write is rejected by the fencing token.
 *
 *   counter [-h HOST] [-p PORT] [-n INCREMENTS] [-k KEY]
 *
 * Run it from several shells at once; the final value of KEY grows by
 * exactly the sum of all INCREMENTS. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mqstate/mqstate.h>

/* The edit callback: current value + 1 (absent counts as 0). */
static mqs_edit_action increment(const mqs_result *cur, uint8_t **new_value, size_t *new_len, void *ud)
{
    (void)ud;
    long v = cur->found ? strtol((const char *)cur->value.data, NULL, 10) : 0;
    char *s = malloc(32);
    if (!s) return MQS_EDIT_KEEP;
    *new_len = (size_t)snprintf(s, 32, "%ld", v + 1);
    *new_value = (uint8_t *)s;
    return MQS_EDIT_SET;
}

int main(int argc, char **argv)
{
    const char *host = "localhost", *key = "counter";
    int port = 1883, n = 10, opt;
    while ((opt = getopt(argc, argv, "h:p:n:k:")) != -1) {
        switch (opt) {
        case 'h': host = optarg; break;
        case 'p': port = atoi(optarg); break;
        case 'n': n = atoi(optarg); break;
        case 'k': key = optarg; break;
        default: fprintf(stderr, "usage: %s [-h HOST] [-p PORT] [-n INCREMENTS] [-k KEY]\n", argv[0]); return 2;
        }
    }
    char id[64], lock_name[256];
    mqs_client_id_generate("counter", id, sizeof id);
    snprintf(lock_name, sizeof lock_name, "%s.lock", key);

    mqs_connect_opts o;
    mqs_connect_opts_init(&o);
    o.host = host;
    o.port = port;
    o.client_id = id;
    mqs_err err;
    mqs_client *c = mqs_client_new(&o, &err);
    if (!c || (err = mqs_client_connect(c, 5000)) != MQS_OK) {
        fprintf(stderr, "counter: cannot connect to %s:%d: %s\n", host, port, mqs_strerror(err));
        mqs_client_destroy(c);
        return 3;
    }
    mqs_lease *lock = mqs_lease_new(c, lock_name, strlen(lock_name), NULL, 0);
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        err = mqs_lock_edit(lock, key, strlen(key), 5000, 30000, increment, NULL);
        if (err != MQS_OK) {
            fprintf(stderr, "counter: increment failed: %s\n", mqs_strerror(err));
            rc = 4;
        }
    }
    mqs_lease_free(lock);
    mqs_client_destroy(c);
    return rc;
}
