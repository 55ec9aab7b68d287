/* Every configuration example in the documentation loads: each ```yaml
 * block of README.md and docs/ *.md, docs/examples/ *.yaml,
 * mqstated.example.yaml and packaging/mqstated.yaml (the packaged
 * default), through the loader and the loopback rule (what
 * mqstated checks before it reads any certificate or password file).
 *
 * A block that is not a whole file says so in its first line:
 *   # fragment: rule    keys of one authorization rule (brokerResources...)
 *   # fragment: rules   entries of authorization.rules ("    - principals:")
 *   # invalid: TEXT     must fail, with TEXT in the error
 * Anything else must load as it is. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/config.h"
#include "util/buf.h"

static int nblocks;

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("%s: cannot open", path);
    buf b = {0};
    size_t n;
    while ((n = fread(buf_reserve(&b, 4096), 1, 4096, f)) > 0) b.len += n;
    fclose(f);
    buf_append_u8(&b, '\0');
    return (char *)b.data;
}

static bool starts(const char *s, const char *prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }

/* The block wrapped into a whole file as its marker says. */
static void wrap(const char *yaml, size_t len, buf *out)
{
    if (starts(yaml, "# fragment: rules\n")) {
        static const char head[] = "authorization:\n  enabled: true\n  rules:\n";
        buf_append(out, head, sizeof head - 1);
        buf_append(out, yaml, len);
    } else if (starts(yaml, "# fragment: rule\n")) {
        static const char head[] = "authorization:\n  enabled: true\n  rules:\n    - principals: {usernames: [u]}\n";
        buf_append(out, head, sizeof head - 1);
        for (const char *p = yaml, *end = yaml + len; p < end;) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
            buf_append(out, "      ", 6);
            buf_append(out, p, n);
            p += n;
        }
    } else {
        assert_false(starts(yaml, "# fragment:")); /* an unknown marker: say what it means here */
        buf_append(out, yaml, len);
    }
}

/* Load one example named `where`; checks it as its marker says. */
static void check_example(const char *where, const char *yaml, size_t len)
{
    buf file = {0};
    wrap(yaml, len, &file);
    config c;
    char err[1024] = "";
    config_init(&c);
    int r = config_load_string(&c, where, file.data ? (const char *)file.data : "", file.len, err, sizeof err);
    if (r == 0) r = config_check_listeners(&c, err, sizeof err);
    config_free(&c);
    buf_free(&file);
    nblocks++;
    if (starts(yaml, "# invalid: ")) {
        const char *want = yaml + strlen("# invalid: ");
        size_t wlen = strcspn(want, "\n");
        if (r == 0) fail_msg("%s: marked invalid but loads", where);
        if (!memmem(err, strlen(err), want, wlen))
            fail_msg("%s: error \"%s\" lacks \"%.*s\"", where, err, (int)wlen, want);
        return;
    }
    if (r != 0) fail_msg("%s", err); /* err names `where` and the line */
}

/* Every ```yaml ... ``` block of a Markdown file. */
static void check_markdown(const char *path)
{
    char *text = slurp(path);
    unsigned line = 1;
    const char *p = text, *start = NULL;
    unsigned start_line = 0;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        if (!start && n == 7 && starts(p, "```yaml")) {
            start = nl ? nl + 1 : p + n;
            start_line = line + 1;
        } else if (start && n == 3 && starts(p, "```")) {
            char where[1200];
            snprintf(where, sizeof where, "%s (block at line %u)", path, start_line);
            check_example(where, start, (size_t)(p - start));
            start = NULL;
        }
        if (!nl) break;
        p = nl + 1;
        line++;
    }
    if (start) fail_msg("%s: ```yaml block at line %u never closed", path, start_line);
    free(text);
}

static void check_yaml_file(const char *path)
{
    char *text = slurp(path);
    check_example(path, text, strlen(text));
    free(text);
}

/* Files in `dir` ending in `ext`, in name order. */
static void each_file(const char *dir, const char *ext, void (*fn)(const char *))
{
    struct dirent **names;
    int n = scandir(dir, &names, NULL, alphasort);
    assert_true(n >= 0);
    for (int i = 0; i < n; i++) {
        size_t len = strlen(names[i]->d_name), elen = strlen(ext);
        if (len > elen && !strcmp(names[i]->d_name + len - elen, ext)) {
            char path[1024];
            snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
            fn(path);
        }
        free(names[i]);
    }
    free(names);
}

static void test_every_example_loads(void **state)
{
    (void)state;
    nblocks = 0;
    check_markdown(MQS_SOURCE_DIR "/README.md");
    each_file(MQS_SOURCE_DIR "/docs", ".md", check_markdown);
    int in_markdown = nblocks;
    each_file(MQS_SOURCE_DIR "/docs/examples", ".yaml", check_yaml_file);
    check_yaml_file(MQS_SOURCE_DIR "/mqstated.example.yaml");
    check_yaml_file(MQS_SOURCE_DIR "/packaging/mqstated.yaml");
    print_message("%d YAML blocks in Markdown, %d files\n", in_markdown, nblocks - in_markdown);
    assert_true(in_markdown >= 8); /* the extraction itself works */
}

/* The markers do what they say: an `# invalid:` block that loads, or
 * fails differently, is a failure too. */
static void test_markers(void **state)
{
    (void)state;
    static const char bad[] = "# invalid: needs an authentication section\nlisteners:\n  - bind: 0.0.0.0\n";
    check_example("bad", bad, sizeof bad - 1);
    static const char rule[] = "# fragment: rule\nbrokerResources:\n  - method: Connect\n";
    check_example("rule", rule, sizeof rule - 1);
    static const char rules[] = "# fragment: rules\n    - principals:\n        clientIds: [a]\n";
    check_example("rules", rules, sizeof rules - 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_example_loads),
        cmocka_unit_test(test_markers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
