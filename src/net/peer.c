/* The peer address of a connection: stored compactly at accept (19 bytes
 * instead of two preformatted strings, ~100 bytes, per connection) and
 * formatted only when asked, which is for logs and for the authenticator.
 *
 * The text lives in per-thread buffers, one per function, so that a caller
 * may hold net_conn_peer_ip() (e.g. in an authentication request) while
 * something it calls logs net_conn_peer(). The address is read at accept
 * and never again: it stays available after the socket is closed, for the
 * "connection lost" lines written from on_close. */
#include <stdio.h>
#include <string.h>

#include "net/net_internal.h"

void peer_store(net_conn *c)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    c->peer_family = 0; /* unknown, unless getpeername says */
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) != 0) return;
    if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
        memcpy(c->peer_ip, &a->sin6_addr, 16);
        c->peer_port_be = a->sin6_port;
        c->peer_family = AF_INET6;
    } else if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
        memcpy(c->peer_ip, &a->sin_addr, 4);
        c->peer_port_be = a->sin_port;
        c->peer_family = AF_INET;
    }
}

static void ip_text(const net_conn *c, char *out, size_t size)
{
    if ((c->peer_family == AF_INET || c->peer_family == AF_INET6) &&
        uv_inet_ntop(c->peer_family, c->peer_ip, out, size) == 0)
        return;
    snprintf(out, size, "?");
}

const char *net_conn_peer_ip(const net_conn *c)
{
    static _Thread_local char text[INET6_ADDRSTRLEN];
    ip_text(c, text, sizeof text);
    return text;
}

const char *net_conn_peer(const net_conn *c)
{
    static _Thread_local char text[INET6_ADDRSTRLEN + 8]; /* "[v6addr]:65535" */
    char ip[INET6_ADDRSTRLEN];
    ip_text(c, ip, sizeof ip);
    unsigned port = ntohs(c->peer_port_be);
    if (c->peer_family == AF_INET6) snprintf(text, sizeof text, "[%s]:%u", ip, port);
    else snprintf(text, sizeof text, "%s:%u", ip, port);
    return text;
}
