/* Test groups of the mqstate tool's parser and encoders, run by
 * test_cli_main.c. */
#ifndef MQS_TEST_CLI_TESTS_H
#define MQS_TEST_CLI_TESTS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

int run_cli_options_tests(void);
int run_cli_output_tests(void);

#endif
