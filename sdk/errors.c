/* Error codes: descriptions and the family test. */
#include "mqstate/errors.h"

#include "sdk_reply.h"

const char *mqs_strerror(mqs_err err)
{
    switch (err) {
    case MQS_OK: return "success";
    case MQS_ERR_INVALID: return "invalid argument";
    case MQS_ERR_TIMEOUT: return "timeout";
    case MQS_ERR_NOT_CONNECTED: return "not connected";
    case MQS_ERR_CONNECTION_LOST: return "connection lost before the response arrived";
    case MQS_ERR_CONNECT: return "cannot connect to the broker";
    case MQS_ERR_REFUSED: return "the broker refused the connection";
    case MQS_ERR_MQTT: return "MQTT client error";
    case MQS_ERR_CANCELLED: return "cancelled";
    case MQS_ERR_NOT_HELD: return "lease not held";
    case MQS_ERR_BUSY: return "operation already in progress";
    case MQS_ERR_PROTOCOL: return "malformed response from the state store";
    case MQS_ERR_STATUS: return "state store RPC error status";
    case MQS_ERR_VERSION: return "unsupported state store protocol version";
    case MQS_ERR_CLOCK_DRIFT: return "clock drift exceeds the limit";
    case MQS_ERR_HLC_OVERFLOW: return "hybrid logical clock counter overflow";
    case MQS_ERR_SERVICE_UNKNOWN: return "state store error";
    default: break;
    }
    const char *text = sdk_service_error_text(err);
    return text ? text : "unknown error";
}

bool mqs_err_is_service(mqs_err err) { return err <= MQS_ERR_TIMESTAMP_SKEW && err >= MQS_ERR_SERVICE_UNKNOWN; }
