#include "keyspace_tests.h"

int main(void)
{
    int failed = 0;
    failed += run_keyspace_tests();
    failed += run_keyspace_scan_tests();
    return failed;
}
