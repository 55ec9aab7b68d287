/* The libmqstate unit test groups, run from test_sdk_main.c. */
#ifndef MQS_TEST_SDK_TESTS_H
#define MQS_TEST_SDK_TESTS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

int run_reply_tests(void);
int run_topic_tests(void);
int run_hlc_tests(void);

#endif
