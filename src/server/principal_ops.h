/* The broker's principal operations (broker_principal_ops), bound to
 * src/auth/principal.h, so that the broker keeps and compares principals
 * without depending on src/auth. main gives them to broker_new. */
#ifndef MQS_SERVER_PRINCIPAL_OPS_H
#define MQS_SERVER_PRINCIPAL_OPS_H

#include "broker/broker.h"

extern const broker_principal_ops server_principal_ops;

#endif
