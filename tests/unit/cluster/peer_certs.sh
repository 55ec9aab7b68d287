#!/bin/sh
# Certificates for the node link TLS tests, into DIR (test_peer_tls.c):
#   ca.pem ca.key      the cluster CA
#   ca2.pem ca2.key    another CA
#   n1..n3 .pem/.key   nodes, issued by ca, SANs IP 127.0.0.1 and DNS localhost
#   other.pem/.key     issued by ca2, IP SAN 127.0.0.1
#   wronghost.pem/.key issued by ca, SANs naming another host only
#   r1..r3 .pem/.key   nodes, issued by ca, one host each: IP SAN 127.0.0.11..13
#                      (raft over TLS, test_raft_tls.c: a node cannot pass for another)
# Usage: peer_certs.sh DIR   (openssl errors go to DIR/openssl.log)
set -e
D=$1
ssl() { openssl "$@" 2>>"$D/openssl.log" >/dev/null; }
ca() { ssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$D/$1.key" -out "$D/$1.pem" \
    -days 2 -subj "/CN=$1"; }
# $1 name, $2 issuing CA, $3 SANs
leaf() {
    ssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$D/$1.key" -out "$D/$1.csr" -subj "/CN=$1"
    printf 'subjectAltName=%s\n' "$3" >"$D/$1.ext"
    ssl x509 -req -in "$D/$1.csr" -CA "$D/$2.pem" -CAkey "$D/$2.key" -set_serial "$4" -days 2 \
        -extfile "$D/$1.ext" -out "$D/$1.pem"
}
ca ca
ca ca2
leaf n1 ca IP:127.0.0.1,DNS:localhost 11
leaf n2 ca IP:127.0.0.1,DNS:localhost 12
leaf n3 ca IP:127.0.0.1,DNS:localhost 13
leaf other ca2 IP:127.0.0.1 14
leaf wronghost ca "IP:127.0.0.2,DNS:elsewhere.example" 15
leaf r1 ca IP:127.0.0.11 21
leaf r2 ca IP:127.0.0.12 22
leaf r3 ca IP:127.0.0.13 23
