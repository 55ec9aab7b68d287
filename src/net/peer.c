/* The peer address of a connection: stored compactly at accept (19 bytes
 * instead of two preformatted strings, ~100 bytes, per connection) and
 * formatted only when asked, which is for logs and for the authenticator.
 *
 * The address is the one accept() returned: getpeername() would fail for
 * a peer that reset before we looked, and that peer still came from
 * somewhere worth logging.
 *
 * The text lives in per-thread buffers, one per function, so that a caller
 * may hold net_conn_peer_ip() (e.g. in an authentication request) while
 * something it calls logs net_conn_peer(). The address is read at accept
 * and never again: it stays available after the socket is closed, for the
 * "connection lost" lines written from on_close. */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "net/net_internal.h"

void net__peer_store(net_conn *c, const struct sockaddr *sa)
{
    c->peer_family = 0; /* unknown, unless accept said */
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;
        memcpy(c->peer_ip, &a->sin6_addr, 16);
        c->peer_port_be = a->sin6_port;
        c->peer_family = AF_INET6;
    } else if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
        memcpy(c->peer_ip, &a->sin_addr, 4);
        c->peer_port_be = a->sin_port;
        c->peer_family = AF_INET;
    }
}

static void ip_text(int family, const void *ip, char *out, size_t size)
{
    if ((family == AF_INET || family == AF_INET6) && uv_inet_ntop(family, ip, out, size) == 0) return;
    snprintf(out, size, "?");
}

static void peer_text(int family, const void *ip, uint16_t port_be, char *out, size_t size)
{
    char text[INET6_ADDRSTRLEN];
    ip_text(family, ip, text, sizeof text);
    unsigned port = ntohs(port_be);
    if (family == AF_INET6) snprintf(out, size, "[%s]:%u", text, port);
    else snprintf(out, size, "%s:%u", text, port);
}

const char *net_conn_peer_ip(const net_conn *c)
{
    static _Thread_local char text[INET6_ADDRSTRLEN];
    ip_text(c->peer_family, c->peer_ip, text, sizeof text);
    return text;
}

const char *net_conn_peer(const net_conn *c)
{
    static _Thread_local char text[INET6_ADDRSTRLEN + 8]; /* "[v6addr]:65535" */
    peer_text(c->peer_family, c->peer_ip, c->peer_port_be, text, sizeof text);
    return text;
}

void net__peer_format(const struct sockaddr *sa, char *out, size_t size)
{
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;
        peer_text(AF_INET6, &a->sin6_addr, a->sin6_port, out, size);
    } else if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
        peer_text(AF_INET, &a->sin_addr, a->sin_port, out, size);
    } else {
        peer_text(0, NULL, 0, out, size);
    }
}

/* --- connections not yet established, per address ------------------------
 *
 * A connection counts from accept until its user vouches for it
 * (net_conn_established) or it closes, so one address cannot hold more
 * than max_pending connections (each up to a CONNECT's worth of input)
 * before authenticating. The key is the family byte and the IPv4 address
 * or the IPv6 /64 prefix. */

static size_t peer_key(const net_conn *c, uint8_t key[9])
{
    const uint8_t *ip = c->peer_ip;
    if (c->peer_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)(const void *)ip)) {
        key[0] = AF_INET; /* an IPv4 client of a dual-stack listener */
        memcpy(key + 1, ip + 12, 4);
        return 5;
    }
    key[0] = c->peer_family;
    /* IPv6: one client normally holds a whole /64, so that is what counts. */
    size_t alen = c->peer_family == AF_INET6 ? 8 : 4;
    memcpy(key + 1, ip, alen);
    return 1 + alen;
}

bool net__peer_admit(net_conn *c)
{
    net *n = c->l->n;
    if (!n->max_pending || !c->peer_family) return true; /* no limit, or no address to count by */
    if (!n->pending) n->pending = hashmap_new();
    uint8_t key[9];
    size_t klen = peer_key(c, key);
    uintptr_t count = (uintptr_t)hashmap_get(n->pending, key, klen);
    if (count >= n->max_pending) return false;
    hashmap_put(n->pending, key, klen, (void *)(count + 1));
    c->pending = true;
    return true;
}

void net__peer_release(net_conn *c)
{
    if (!c->pending) return;
    c->pending = false;
    net *n = c->l->n;
    uint8_t key[9];
    size_t klen = peer_key(c, key);
    uintptr_t count = (uintptr_t)hashmap_get(n->pending, key, klen);
    assert(count >= 1);
    if (count <= 1) hashmap_remove(n->pending, key, klen);
    else hashmap_put(n->pending, key, klen, (void *)(count - 1));
}
