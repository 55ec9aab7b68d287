/* libmqstate: C client for the AIO-compatible MQTT state store.
 *
 * Include this umbrella header; link with `pkg-config --cflags --libs
 * mqstate`. See docs/sdk.md for a tour.
 *
 *   errors.h  typed error codes
 *   hlc.h     version values (HLC) and the process clock
 *   client.h  connection, get/set/del/vdel, observe, scan
 *   lease.h   lease, lock, edit under lock, leader election */
#ifndef MQSTATE_MQSTATE_H
#define MQSTATE_MQSTATE_H

#include "mqstate/errors.h"
#include "mqstate/hlc.h"
#include "mqstate/client.h"
#include "mqstate/lease.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MQS_SDK_VERSION_MAJOR 0
#define MQS_SDK_VERSION_MINOR 1
#define MQS_SDK_VERSION_PATCH 0

/* The library's version string ("0.1.0"), which may differ from the
 * header's MQS_SDK_VERSION_* when linked dynamically. */
const char *mqs_sdk_version(void);

#ifdef __cplusplus
}
#endif

#endif
