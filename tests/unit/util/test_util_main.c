#include "tests.h"

int main(void)
{
    int failed = 0;
    failed += run_siphash_tests();
    failed += run_digest_tests();
    failed += run_hashmap_tests();
    failed += run_buf_tests();
    failed += run_clock_tests();
    failed += run_log_tests();
    return failed ? 1 : 0;
}
