#include "auth/x509_map.h"

#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <string.h>

static const struct {
    const char *name;
    int nid; /* subject attribute, or NID_undef for a SAN type */
    int gen; /* GENERAL_NAME type for SAN fields */
} fields[] = {
    [X509_FIELD_NONE] = {NULL, NID_undef, 0},
    [X509_FIELD_CN] = {"CN", NID_commonName, 0},
    [X509_FIELD_OU] = {"OU", NID_organizationalUnitName, 0},
    [X509_FIELD_O] = {"O", NID_organizationName, 0},
    [X509_FIELD_L] = {"L", NID_localityName, 0},
    [X509_FIELD_ST] = {"ST", NID_stateOrProvinceName, 0},
    [X509_FIELD_C] = {"C", NID_countryName, 0},
    [X509_FIELD_DC] = {"DC", NID_domainComponent, 0},
    [X509_FIELD_SERIALNUMBER] = {"SERIALNUMBER", NID_serialNumber, 0},
    [X509_FIELD_UID] = {"UID", NID_userId, 0},
    [X509_FIELD_EMAIL] = {"EMAIL", NID_pkcs9_emailAddress, 0},
    [X509_FIELD_SAN_DNS] = {"SAN_DNS", NID_undef, GEN_DNS},
    [X509_FIELD_SAN_EMAIL] = {"SAN_EMAIL", NID_undef, GEN_EMAIL},
    [X509_FIELD_SAN_URI] = {"SAN_URI", NID_undef, GEN_URI},
    [X509_FIELD_SAN_IP] = {"SAN_IP", NID_undef, GEN_IPADD},
};

#define NFIELDS (sizeof fields / sizeof fields[0])

x509_field x509_field_parse(const char *name)
{
    for (size_t i = 1; i < NFIELDS; i++)
        if (strcmp(fields[i].name, name) == 0) return (x509_field)i;
    return X509_FIELD_NONE;
}

const char *x509_field_name(x509_field f) { return (size_t)f < NFIELDS ? fields[f].name : NULL; }

/* Copy an ASN1 string as UTF-8; refuses embedded NULs (a classic way to
 * make "admin\0.evil.example" look like "admin"). */
static int copy_utf8(const ASN1_STRING *s, char *out, size_t outlen)
{
    unsigned char *u = NULL;
    int n = ASN1_STRING_to_UTF8(&u, s);
    int r = -1;
    if (n >= 0 && (size_t)n < outlen && !memchr(u, 0, (size_t)n)) {
        memcpy(out, u, (size_t)n);
        out[n] = '\0';
        r = n;
    }
    OPENSSL_free(u);
    return r;
}

static int subject_field(const X509 *cert, int nid, char *out, size_t outlen)
{
    const X509_NAME *name = X509_get_subject_name(cert);
    int i = X509_NAME_get_index_by_NID(name, nid, -1);
    if (i < 0) return -1;
    return copy_utf8(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)), out, outlen);
}

static int ip_text(const ASN1_OCTET_STRING *ip, char *out, size_t outlen)
{
    const unsigned char *d = ASN1_STRING_get0_data(ip);
    int len = ASN1_STRING_length(ip);
    int n = -1;
    if (len == 4) n = snprintf(out, outlen, "%u.%u.%u.%u", d[0], d[1], d[2], d[3]);
    else if (len == 16) {
        n = 0;
        for (int i = 0; i < 16 && n >= 0 && (size_t)n < outlen; i += 2)
            n += snprintf(out + n, outlen - (size_t)n, "%s%x", i ? ":" : "", (unsigned)(d[i] << 8 | d[i + 1]));
    }
    return n >= 0 && (size_t)n < outlen ? n : -1;
}

static int san_field(const X509 *cert, int type, char *out, size_t outlen)
{
    GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    int r = -1;
    for (int i = 0; names && i < sk_GENERAL_NAME_num(names); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
        if (g->type != type) continue;
        if (type == GEN_IPADD) r = ip_text(g->d.iPAddress, out, outlen);
        else r = copy_utf8(g->d.ia5, out, outlen);
        break;
    }
    GENERAL_NAMES_free(names);
    return r;
}

int x509_field_get(const X509 *cert, x509_field f, char *out, size_t outlen)
{
    if (!cert || f == X509_FIELD_NONE || (size_t)f >= NFIELDS || outlen == 0) return -1;
    if (fields[f].nid != NID_undef) return subject_field(cert, fields[f].nid, out, outlen);
    return san_field(cert, fields[f].gen, out, outlen);
}
