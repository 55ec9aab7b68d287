/* LD_PRELOAD shim for tests: every fsync and fdatasync of the process
 * first sleeps MQS_TEST_FSYNC_DELAY_MS milliseconds (a slow disk), then
 * does the real call. Used by test_persistence_snapshot_io.sh to show
 * which fsyncs the event loop waits for. */
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <time.h>

static void slow_fsync__delay(void)
{
    const char *s = getenv("MQS_TEST_FSYNC_DELAY_MS");
    long ms = s ? atol(s) : 0;
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (ms > 0 && nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

int fsync(int fd)
{
    int (*real)(int) = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    slow_fsync__delay();
    return real(fd);
}

int fdatasync(int fd)
{
    int (*real)(int) = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    slow_fsync__delay();
    return real(fd);
}
