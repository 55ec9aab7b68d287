/* Connecting: options → mqs_connect_opts, a unique client id for every run
 * (a fixed id would make two runs take over each other's session, which
 * is what statestore-cli does), and connection errors as exit status 3. */
#include "session.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "exitcodes.h"

static int keypass_from_text(char *buf, int size, void *ud)
{
    const char *pass = ud;
    int len = (int)strlen(pass);
    if (len >= size) return 0;
    memcpy(buf, pass, (size_t)len + 1);
    return len;
}

/* After the first successful connect the library reconnects by itself;
 * say so, since a watch may miss nothing but the user should know. */
static void on_connection(mqs_client *c, bool connected, mqs_err reason, void *ud)
{
    struct cli_session *s = ud;
    if (connected) atomic_store(&s->was_connected, true);
    if (!connected && atomic_load(&s->was_connected) && !atomic_load(&s->closing))
        fprintf(stderr, "mqstate: connection to %s:%d lost, reconnecting\n", s->conn->host, s->conn->port);
    else if (connected && s->verbose)
        fprintf(stderr, "mqstate: connected to %s:%d as %s\n", s->conn->host, s->conn->port, mqs_client_id(c));
}

static void on_log(mqs_client *c, int level, const char *msg, void *ud)
{
    struct cli_session *s = ud;
    if (s->verbose) fprintf(stderr, "mqstate: %s\n", msg);
}

/* A missing certificate file is the user's typo: say which file, with
 * status 2, rather than a vague TLS failure. */
static int check_readable(const char *path, const char *option)
{
    if (!path) return CLI_EXIT_OK;
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "mqstate: %s %s: %s\n", option, path, strerror(errno));
        return CLI_EXIT_USAGE;
    }
    fclose(f);
    return CLI_EXIT_OK;
}

static int check_files(const struct cli_connection *c)
{
    int rc = check_readable(c->cafile, "--cafile");
    if (!rc) rc = check_readable(c->certfile, "--cert");
    if (!rc) rc = check_readable(c->keyfile, "--keyfile");
    if (!rc) rc = check_readable(c->keypasswordfile, "--keypasswordfile");
    return rc;
}

static void fill_opts(mqs_connect_opts *o, struct cli_session *s)
{
    const struct cli_connection *c = s->conn;
    mqs_connect_opts_init(o);
    o->host = c->host;
    o->port = c->port;
    o->client_id = c->client_id ? c->client_id : s->generated_id;
    o->username = c->username;
    o->password = c->password;
    o->tls = c->tls;
    o->cafile = c->cafile;
    o->capath = c->capath;
    o->certfile = c->certfile;
    o->keyfile = c->keyfile;
    o->keypass_file = c->keypasswordfile;
    if (c->keypass) {
        o->keypass_cb = keypass_from_text;
        o->keypass_ud = (void *)c->keypass;
    }
    o->insecure = c->insecure;
    o->request_timeout_ms = c->timeout_ms;
    o->on_connection = on_connection;
    o->on_log = on_log;
    o->ud = s;
}

/* One line with the real cause (CONNACK reason, socket error, TLS
 * verification result) as libmqstate recorded it. */
static int connect_failed(const struct cli_connection *c, mqs_client *client, mqs_err err)
{
    char text[256] = "";
    if (client) mqs_client_error_text(client, text, sizeof text);
    const char *why = text[0] ? text : mqs_strerror(err);
    if (err == MQS_ERR_TIMEOUT && !text[0]) why = "no answer within the timeout";
    /* A TLS listener drops a plain CONNECT without a word, and a plain
     * one answers a TLS hello with bytes that are not TLS. */
    const char *hint = "";
    if (!c->tls && strstr(why, "closed before")) hint = " (a TLS port? try --tls)";
    else if (c->tls && (strstr(why, "unexpected eof") || strstr(why, "wrong version number")))
        hint = " (not a TLS port?)";
    fprintf(stderr, "mqstate: cannot connect to %s:%d: %s%s\n", c->host, c->port, why, hint);
    return CLI_EXIT_CONNECT;
}

int cli_session_open(struct cli_session *s, const struct cli_options *opts)
{
    memset(s, 0, sizeof *s);
    s->conn = &opts->conn;
    s->verbose = opts->verbose;
    int rc = check_files(s->conn);
    if (rc) return rc;
    if (!mqs_client_id_generate("mqstate", s->generated_id, sizeof s->generated_id)) {
        fprintf(stderr, "mqstate: cannot make a client id\n");
        return CLI_EXIT_CONNECT;
    }
    mqs_connect_opts o;
    fill_opts(&o, s);
    mqs_err err = MQS_OK;
    s->client = mqs_client_new(&o, &err);
    if (!s->client) return connect_failed(s->conn, NULL, err);
    /* A refused or failed first connection is reported at once; once
     * connected, the library reconnects by itself (watch, lock). */
    err = mqs_client_connect_once(s->client, (int)s->conn->timeout_ms);
    if (err != MQS_OK) {
        int rc = connect_failed(&opts->conn, s->client, err);
        cli_session_close(s);
        return rc;
    }
    return CLI_EXIT_OK;
}

void cli_session_close(struct cli_session *s)
{
    /* The disconnect we ask for is not a "connection lost". */
    atomic_store(&s->closing, true);
    if (s->client) mqs_client_destroy(s->client);
    s->client = NULL;
}
