/* A member's address and the identity a certificate must carry for it,
 * shared by node links (peer.c, peer_link.c) and raft's TLS transport
 * (raft_tls.c).
 *
 * An address is "host:port": an IPv4 literal, "[IPv6]" or a DNS name.
 * A certificate names a host by a subject alternative name: an IP SAN for
 * an IP literal, a DNS SAN (or, as OpenSSL allows, the CN) for a name. */
#ifndef MQS_CLUSTER_MEMBER_ADDR_H
#define MQS_CLUSTER_MEMBER_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define MEMBER_ADDR_MAX 255 /* "host:port" without the NUL */

struct x509_st;

/* "host:port" or "[v6]:port" (the first `len` bytes of addr) -> host
 * (brackets dropped, NUL-terminated, at most `hostcap` - 1 bytes) and port
 * 1..65535. */
bool member_addr_parse_n(const char *addr, size_t len, char *host, size_t hostcap, uint16_t *port);
bool member_addr_parse(const char *addr, char *host, size_t hostcap, uint16_t *port);

/* An IP literal as a socket address; false for a DNS name. */
bool member_addr_ip(const char *host, uint16_t port, struct sockaddr_storage *ss);

/* Whether cert names host (X509_check_ip_asc for an IP literal,
 * X509_check_host for a DNS name). */
bool member_addr_cert_names(const struct x509_st *cert, const char *host);

#endif
