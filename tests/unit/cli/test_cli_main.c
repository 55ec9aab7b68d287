#include "tests.h"

int main(void)
{
    int failed = 0;
    failed += run_cli_options_tests();
    failed += run_cli_output_tests();
    return failed ? 1 : 0;
}
