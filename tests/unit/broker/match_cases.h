/* Shared table of (filter, topic, expected) cases for the topic tree and
 * retained store tests. */
#ifndef MQS_TEST_MATCH_CASES_H
#define MQS_TEST_MATCH_CASES_H

#include <stdbool.h>
#include <string.h>

#include "mqtt/packet.h"

typedef struct match_case {
    const char *filter;
    const char *topic;
    bool match;
} match_case;

static const match_case match_cases[] = {
    /* exact */
    {"a", "a", true},
    {"a", "b", false},
    {"a/b/c", "a/b/c", true},
    {"a/b/c", "a/b", false},
    {"a/b", "a/b/c", false},
    {"A", "a", false},
    {"ab", "a", false},
    {"a", "ab", false},
    /* '+' */
    {"+", "a", true},
    {"+", "a/b", false},
    {"+/+", "a/b", true},
    {"a/+", "a/b", true},
    {"a/+", "a", false},
    {"a/+", "a/b/c", false},
    {"a/+/c", "a/b/c", true},
    {"a/+/c", "a/b/d", false},
    {"+/b/+", "a/b/c", true},
    /* '#' */
    {"#", "a", true},
    {"#", "a/b/c", true},
    {"a/#", "a/b", true},
    {"a/#", "a/b/c/d", true},
    {"a/#", "a", true}, /* parent level */
    {"a/#", "ab", false},
    {"a/#", "b/a", false},
    {"a/b/#", "a", false},
    {"+/#", "a", true},
    {"a/+/#", "a/b", true},
    {"a/+/#", "a", false},
    /* '$' topics */
    {"#", "$SYS/x", false},
    {"+/x", "$SYS/x", false},
    {"+", "$SYS", false},
    {"$SYS/#", "$SYS/x", true},
    {"$SYS/#", "$SYS", true},
    {"$SYS/+", "$SYS/x", true},
    {"a/#", "a/$x", true}, /* the rule is for the first level only */
    {"a/+", "a/$x", true},
    {"$SYS/x", "$SYS/x", true},
    /* empty levels, leading and trailing slashes */
    {"+", "", true},
    {"a/+", "a/", true},
    {"a/#", "a/", true},
    {"+/+", "/", true},
    {"/+", "/a", true},
    {"+", "/a", false},
    {"/a", "a", false},
    {"a/", "a", false},
    {"a//b", "a//b", true},
    {"a/+/b", "a//b", true},
    {"a/b", "a//b", false},
    {"+/+/+", "a//b", true},
    {"#", "/", true},
    {"/#", "/a/b", true},
    {"//", "//", true},
    {"+//+", "a//b", true},
    /* long */
    {"a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p", "a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p", true},
    {"a/+/c/+/e/+/g/+/i/+/k/+/m/+/o/#", "a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q", true},
    {"a/+/c/+/e/+/g/+/i/+/k/+/m/+/o/p", "a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/q", false},
    {"sensor/averyveryverylonglevelname_0123456789/+", "sensor/averyveryverylonglevelname_0123456789/temp", true},
    {"sensor/averyveryverylonglevelname_0123456789/+", "sensor/averyveryverylonglevelname_012345678/temp", false},
};

#define N_MATCH_CASES (sizeof match_cases / sizeof match_cases[0])

static inline mqtt_bytes B(const char *s) { return (mqtt_bytes){(const uint8_t *)s, (uint32_t)strlen(s)}; }

#endif
