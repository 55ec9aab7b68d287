/* sd_notify(3) messages for a Type=notify unit. A failure to notify is
 * logged (a misdirected $NOTIFY_SOCKET would otherwise look like a hang to
 * the supervisor) and never stops the server. */
#include "server/sd_notify_link.h"

#include <stdio.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "util/log.h"

static void notify(const char *state)
{
    /* unset_environment = 0: later reloads and the stop notify again. */
    int r = sd_notify(0, state);
    if (r < 0) log_warn("sd_notify \"%.*s\": %s", (int)strcspn(state, "\n"), state, strerror(-r));
}

void sd_notify_link_ready(void) { notify("READY=1\nSTATUS=serving"); }

void sd_notify_link_reloading(void)
{
    /* MONOTONIC_USEC lets systemd (253+, Type=notify-reload) tell this
     * reload's READY=1 from an older one's; older systemd ignores it. */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    char msg[96];
    snprintf(msg, sizeof msg, "RELOADING=1\nSTATUS=reloading the configuration\nMONOTONIC_USEC=%llu",
             (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000ULL);
    notify(msg);
}

void sd_notify_link_stopping(void) { notify("STOPPING=1\nSTATUS=shutting down"); }
