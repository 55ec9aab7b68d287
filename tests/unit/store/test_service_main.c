#include "service_tests.h"

int main(void)
{
    int failed = 0;
    failed += run_service_reply_tests();
    failed += run_service_time_tests();
    failed += run_service_notify_tests();
    failed += run_service_scan_tests();
    return failed;
}
