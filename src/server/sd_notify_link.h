/* Readiness for systemd's Type=notify (sd_notify(3), libsystemd): the
 * service manager learns when mqstated serves, reloads and stops. Every
 * call does nothing when $NOTIFY_SOCKET is unset (not started by systemd
 * or another notify-aware supervisor). */
#ifndef MQS_SERVER_SD_NOTIFY_LINK_H
#define MQS_SERVER_SD_NOTIFY_LINK_H

/* READY=1: the persisted state is restored and every listener listens.
 * Also the end of a reload, whether it applied or was refused. */
void sd_notify_link_ready(void);
/* RELOADING=1 (with MONOTONIC_USEC): a SIGHUP reload begins; always
 * followed by sd_notify_link_ready. */
void sd_notify_link_reloading(void);
/* STOPPING=1: an orderly shutdown begins. */
void sd_notify_link_stopping(void);

#endif
