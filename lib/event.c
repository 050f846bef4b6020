/* Names of event kinds, for logs (rtcsec/event.h). */
#include "rtcsec/event.h"

const char *rtcsec_event_type_name(rtcsec_event_type type) {
  switch (type) {
  case RTCSEC_EVENT_NONE:
    return "none";
  case RTCSEC_EVENT_CONNECTED:
    return "connected";
  case RTCSEC_EVENT_DATA:
    return "data";
  case RTCSEC_EVENT_CLOSED:
    return "closed";
  case RTCSEC_EVENT_FAILED:
    return "failed";
  case RTCSEC_EVENT_NOMINATED:
    return "nominated";
  case RTCSEC_EVENT_EXPIRED:
    return "expired";
  case RTCSEC_EVENT_LOCAL_CANDIDATE:
    return "local-candidate";
  case RTCSEC_EVENT_GATHERING_DONE:
    return "gathering-done";
  case RTCSEC_EVENT_ICE_STATE:
    return "ice-state";
  case RTCSEC_EVENT_SELECTED_PAIR:
    return "selected-pair";
  case RTCSEC_EVENT_CONSENT_LOST:
    return "consent-lost";
  case RTCSEC_EVENT_CHANNEL_OPEN:
    return "channel-open";
  case RTCSEC_EVENT_MESSAGE:
    return "message";
  case RTCSEC_EVENT_BUFFERED_AMOUNT_LOW:
    return "buffered-amount-low";
  case RTCSEC_EVENT_CHANNEL_CLOSED:
    return "channel-closed";
  case RTCSEC_EVENT_MAPPED_ADDRESS:
    return "mapped-address";
  case RTCSEC_EVENT_ALLOCATED:
    return "allocated";
  case RTCSEC_EVENT_REFRESHED:
    return "refreshed";
  case RTCSEC_EVENT_PERMISSION:
    return "permission";
  case RTCSEC_EVENT_CHANNEL_BOUND:
    return "channel-bound";
  case RTCSEC_EVENT_RELAYED_DATA:
    return "relayed-data";
  case RTCSEC_EVENT_TURN_ERROR:
    return "turn-error";
  default:
    return "unknown";
  }
}
