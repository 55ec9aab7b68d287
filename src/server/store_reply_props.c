#include "server/store_reply_props.h"

#include <stdio.h>
#include <string.h>

#define CONTENT_TYPE "application/octet-stream"
#define PROTOCOL_VERSION "1.0"

#define S mqtt_bytes_str
#define BUF mqtt_bytes_buf
static void add_user(buf *b, const char *k, mqtt_bytes v) { mqtt_props_add_user(b, S(k), v); }

static void content_type(buf *b)
{
    mqtt_props p = {.present = MQTT_PROP_BIT(MQTT_PROP_CONTENT_TYPE), .content_type = S(CONTENT_TYPE)};
    mqtt_props_encode_block(b, &p);
}

void store_reply_props_init(store_reply_props *p)
{
    memset(p, 0, sizeof *p);
    content_type(&p->ok_head);
    add_user(&p->ok_users, "__stat", S("200"));
    add_user(&p->ok_users, "__protVer", S(PROTOCOL_VERSION));
}

void store_reply_props_free(store_reply_props *p)
{
    buf_free(&p->reply);
    buf_free(&p->notification);
    buf_free(&p->ok_head);
    buf_free(&p->ok_users);
}

mqtt_bytes store_reply_props_build(store_reply_props *p, mqtt_bytes corr, int status, const char *message,
                                   mqtt_bytes req_prot_ver, const buf *version)
{
    buf *b = &p->reply;
    b->len = 0;
    if (status == 200) {
        buf_append(b, p->ok_head.data, p->ok_head.len);
        if (corr.len) {
            buf_append_u8(b, MQTT_PROP_CORRELATION_DATA);
            buf_append_u16be(b, (uint16_t)corr.len); /* came in a property: < 64 KiB */
            buf_append(b, corr.data, corr.len);
        }
        buf_append(b, p->ok_users.data, p->ok_users.len);
        if (version) add_user(b, "__ts", BUF(version));
        return BUF(b);
    }
    mqtt_props mp = {.present = MQTT_PROP_BIT(MQTT_PROP_CONTENT_TYPE), .content_type = S(CONTENT_TYPE)};
    if (corr.len) {
        mp.present |= MQTT_PROP_BIT(MQTT_PROP_CORRELATION_DATA);
        mp.correlation_data = corr;
    }
    mqtt_props_encode_block(b, &mp);
    char stat[8];
    snprintf(stat, sizeof stat, "%d", status);
    add_user(b, "__stat", S(stat));
    add_user(b, "__protVer", S(PROTOCOL_VERSION));
    add_user(b, "__stMsg", S(message ? message : "error"));
    add_user(b, "__apErr", S("false"));
    if (status == 505) {
        add_user(b, "__supProtMajVer", S("1"));
        add_user(b, "__requestProtVer", req_prot_ver);
    }
    if (status == 400) add_user(b, "__propName", S("Correlation Data"));
    return BUF(b);
}

mqtt_bytes store_reply_props_notification(store_reply_props *p, mqtt_bytes version)
{
    buf *b = &p->notification;
    b->len = 0;
    buf_append(b, p->ok_head.data, p->ok_head.len); /* the content type block */
    add_user(b, "__ts", version);
    return BUF(b);
}
