/* Test groups of the util module, run by test_util_main.c. */
#ifndef MQS_TEST_UTIL_TESTS_H
#define MQS_TEST_UTIL_TESTS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

int run_siphash_tests(void);
int run_digest_tests(void);
int run_hashmap_tests(void);
int run_buf_tests(void);
int run_clock_tests(void);
int run_log_tests(void);

#endif
