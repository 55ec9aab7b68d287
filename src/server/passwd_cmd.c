/* mqstated passwd [--stdin] [--delete] [--iterations N] FILE USER
 *
 * Prompts twice with echo off (on the terminal), or reads one line from
 * standard input with --stdin; the password never appears on the command
 * line, where other users could see it in the process list. */
#include "server/passwd_cmd.h"

#include <getopt.h>
#include <openssl/crypto.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "auth/passwd_file.h"
#include "auth/passwd_hash.h"

#define PW_MAX 1024

static void usage(FILE *f)
{
    fprintf(f, "Usage: mqstated passwd [--stdin] [--delete] [--iterations N] FILE USER\n"
               "  Sets USER's password in FILE (created if missing), or removes USER\n"
               "  with --delete. Prompts twice unless --stdin (one line from standard input).\n");
}

/* One line without its line end; false on end of input or an overlong line. */
static bool read_line(FILE *in, char *out, size_t len)
{
    if (!fgets(out, (int)len, in)) return false;
    size_t n = strcspn(out, "\r\n");
    if (out[n] == '\0' && n == len - 1) return false;
    out[n] = '\0';
    return true;
}

static bool prompt(const char *text, char *out, size_t len)
{
    struct termios old, quiet;
    bool tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
    fputs(text, stderr);
    fflush(stderr);
    if (tty) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    bool ok = read_line(stdin, out, len);
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fputc('\n', stderr);
    }
    return ok;
}

static int get_password(bool from_stdin, char *pw, size_t len)
{
    if (from_stdin) {
        if (!read_line(stdin, pw, len)) {
            fprintf(stderr, "mqstated passwd: no password on standard input\n");
            return -1;
        }
    } else {
        char again[PW_MAX];
        bool ok = prompt("Password: ", pw, len) && prompt("Password (again): ", again, sizeof again);
        bool same = ok && strcmp(pw, again) == 0;
        OPENSSL_cleanse(again, sizeof again);
        if (!same) {
            fprintf(stderr, "mqstated passwd: %s\n", ok ? "the passwords differ" : "no password given");
            return -1;
        }
    }
    if (!pw[0]) {
        fprintf(stderr, "mqstated passwd: empty password refused\n");
        return -1;
    }
    return 0;
}

int passwd_cmd_main(int argc, char **argv)
{
    enum { OPT_STDIN = 256, OPT_DELETE, OPT_ITER };
    static const struct option longopts[] = {
        {"stdin", no_argument, NULL, OPT_STDIN},
        {"delete", no_argument, NULL, OPT_DELETE},
        {"iterations", required_argument, NULL, OPT_ITER},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool from_stdin = false, del = false;
    unsigned long iter = PASSWD_HASH_ITERATIONS;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (ch) {
        case OPT_STDIN: from_stdin = true; break;
        case OPT_DELETE: del = true; break;
        case OPT_ITER: {
            char *end;
            iter = strtoul(optarg, &end, 10);
            if (*end || iter < PASSWD_HASH_MIN_ITERATIONS || iter > PASSWD_HASH_MAX_ITERATIONS) {
                fprintf(stderr, "mqstated passwd: --iterations: expected 1000 to 10000000\n");
                return 2;
            }
            break;
        }
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (argc - optind != 2) {
        usage(stderr);
        return 2;
    }
    const char *path = argv[optind], *user = argv[optind + 1];
    /* A weaker hash than the default is allowed (tests, tiny devices) but
     * never silently. */
    if (!del && iter < PASSWD_HASH_ITERATIONS)
        fprintf(stderr,
                "mqstated passwd: warning: %lu iterations is below the recommended %u; "
                "a stolen file is that much faster to crack\n",
                iter, PASSWD_HASH_ITERATIONS);
    char pw[PW_MAX] = "";
    if (!del && get_password(from_stdin, pw, sizeof pw) != 0) return 1;
    char err[512];
    int r = passwd_file_update(path, user, del ? NULL : pw, (uint32_t)iter, err, sizeof err);
    OPENSSL_cleanse(pw, sizeof pw);
    if (r != 0) {
        fprintf(stderr, "mqstated passwd: %s\n", err);
        return 1;
    }
    return 0;
}
