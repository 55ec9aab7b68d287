#include "broker_test_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/alloc.h"

void tc_open(tc_conn *c, uint16_t port, uint8_t version)
{
    memset(c, 0, sizeof *c);
    c->version = version;
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(c->fd, (struct sockaddr *)&a, sizeof a), 0);
}

tc_conn *tc_dial(uint16_t port, uint8_t version)
{
    tc_conn *c = xcalloc(1, sizeof *c);
    tc_open(c, port, version);
    return c;
}

void tc_release(tc_conn *c)
{
    close(c->fd);
    buf_free(&c->in);
}

void tc_close(tc_conn *c)
{
    tc_release(c);
    free(c);
}

void tc_pump(uv_loop_t *loop, tc_conn *c)
{
    uv_run(loop, UV_RUN_NOWAIT);
    uint8_t tmp[4096];
    ssize_t r = recv(c->fd, tmp, sizeof tmp, MSG_DONTWAIT);
    if (r > 0) buf_append(&c->in, tmp, (size_t)r);
    else if (r == 0) c->eof = true;
    else usleep(1000);
}

void tc_send(tc_conn *c, const mqtt_packet *p)
{
    buf out = {0};
    mqtt_encode(&out, c->version, p);
    assert_int_equal(write(c->fd, out.data, out.len), (ssize_t)out.len);
    buf_free(&out);
}

void tc_send_connect(tc_conn *c, const char *id, const char *user)
{
    mqtt_packet p = {.type = MQTT_CONNECT};
    p.connect.version = c->version;
    p.connect.clean_start = true;
    p.connect.keep_alive = 60;
    p.connect.client_id = (mqtt_bytes){(const uint8_t *)id, (uint32_t)strlen(id)};
    if (user) {
        p.connect.has_username = true;
        p.connect.username = (mqtt_bytes){(const uint8_t *)user, (uint32_t)strlen(user)};
    }
    tc_send(c, &p);
}

void tc_expect_silence(uv_loop_t *loop, tc_conn *c)
{
    for (int i = 0; i < 100; i++) tc_pump(loop, c);
    assert_int_equal(c->in.len, 0);
}

void tc_consume(tc_conn *c, mqtt_packet *p)
{
    size_t total;
    assert_int_equal(mqtt_frame(c->in.data, c->in.len, 0, &total), MQTT_FRAME_OK);
    mqtt_packet_release(p);
    buf_consume(&c->in, total);
}
