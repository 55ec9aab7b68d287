/* Fields of a verified client certificate, by name, for mapping to the
 * principal's user name and attributes (listener `authentication.x509`).
 *
 * Subject fields: CN, OU, O, L, ST, C, DC, SERIALNUMBER (subject's
 * serialNumber attribute), UID, EMAIL (subject emailAddress). Subject
 * alternative names: SAN_DNS, SAN_EMAIL, SAN_URI, SAN_IP. When a field
 * occurs more than once the first occurrence counts. */
#ifndef MQS_AUTH_X509_MAP_H
#define MQS_AUTH_X509_MAP_H

#include <stddef.h>

struct x509_st;

typedef enum x509_field {
    X509_FIELD_NONE = 0,
    X509_FIELD_CN,
    X509_FIELD_OU,
    X509_FIELD_O,
    X509_FIELD_L,
    X509_FIELD_ST,
    X509_FIELD_C,
    X509_FIELD_DC,
    X509_FIELD_SERIALNUMBER,
    X509_FIELD_UID,
    X509_FIELD_EMAIL,
    X509_FIELD_SAN_DNS,
    X509_FIELD_SAN_EMAIL,
    X509_FIELD_SAN_URI,
    X509_FIELD_SAN_IP,
} x509_field;

/* "CN" -> X509_FIELD_CN (case-sensitive); X509_FIELD_NONE if unknown. */
x509_field x509_field_parse(const char *name);
const char *x509_field_name(x509_field f);
/* The field's value as UTF-8 into out (NUL-terminated). Returns the
 * length, or -1 when the certificate has no such field, or the value
 * does not fit, or contains a NUL byte. */
int x509_field_get(const struct x509_st *cert, x509_field f, char *out, size_t outlen);

#endif
