#include "tests.h"

int main(void)
{
    int failed = 0;
    failed += run_reply_tests();
    failed += run_topic_tests();
    failed += run_hlc_tests();
    return failed ? 1 : 0;
}
