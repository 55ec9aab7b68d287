#include "server/principal_ops.h"

#include "auth/principal.h"

/* Method "anonymous"; a claimed but empty user name stays present (not
 * NULL), as the authenticator keeps it. */
static struct principal *make_anonymous(mqtt_bytes client_id, const mqtt_bytes *username)
{
    static const uint8_t empty[1];
    const void *user = username ? (username->len ? username->data : empty) : NULL;
    return principal_new(client_id.data, client_id.len, user, username ? username->len : 0, "anonymous");
}

const broker_principal_ops server_principal_ops = {
    .make_anonymous = make_anonymous,
    .free = principal_free,
    .same = principal_same,
    .encode = principal_encode,
    .decode = principal_decode,
};
