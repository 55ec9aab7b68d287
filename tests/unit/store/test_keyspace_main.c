#include "keyspace_tests.h"

int main(void)
{
    int failed = 0;
    failed += run_keyspace_tests();
    failed += run_keyspace_scan_tests();
    failed += run_keyspace_layout_tests();
    return failed;
}
