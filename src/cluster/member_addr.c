/* Member addresses and certificate names (member_addr.h). */
#include "cluster/member_addr.h"

#include <arpa/inet.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

bool member_addr_parse_n(const char *addr, size_t len, char *host, size_t hostcap, uint16_t *port)
{
    if (!addr || len == 0 || len > MEMBER_ADDR_MAX || memchr(addr, '\0', len)) return false;
    const char *end = addr + len, *colon;
    size_t hl;
    const char *h;
    if (addr[0] == '[') {
        const char *close = memchr(addr, ']', len);
        if (!close || close + 1 >= end || close[1] != ':' || close == addr + 1) return false;
        h = addr + 1;
        hl = (size_t)(close - addr - 1);
        colon = close + 1;
    } else {
        colon = NULL;
        for (const char *p = addr; p < end; p++)
            if (*p == ':') {
                if (colon) return false; /* an IPv6 literal needs brackets */
                colon = p;
            }
        if (!colon || colon == addr) return false;
        h = addr;
        hl = (size_t)(colon - addr);
    }
    if (hl >= hostcap) return false;
    const char *p = colon + 1;
    if (p == end || end - p > 5) return false;
    unsigned long v = 0;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9') return false;
        v = v * 10 + (unsigned long)(*p - '0');
    }
    if (v == 0 || v > 65535) return false;
    memcpy(host, h, hl);
    host[hl] = '\0';
    *port = (uint16_t)v;
    return true;
}

bool member_addr_parse(const char *addr, char *host, size_t hostcap, uint16_t *port)
{
    return addr && member_addr_parse_n(addr, strlen(addr), host, hostcap, port);
}

bool member_addr_ip(const char *host, uint16_t port, struct sockaddr_storage *ss)
{
    return uv_ip4_addr(host, port, (struct sockaddr_in *)ss) == 0 ||
           uv_ip6_addr(host, port, (struct sockaddr_in6 *)ss) == 0;
}

bool member_addr_cert_names(const struct x509_st *cert, const char *host)
{
    unsigned char ip[16];
    X509 *x = (X509 *)cert; /* the checks do not modify it; their prototypes lack const */
    if (inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1)
        return X509_check_ip_asc(x, host, 0) == 1;
    return X509_check_host(x, host, 0, 0, NULL) == 1;
}
