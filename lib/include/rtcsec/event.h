/* rtcsec: the one event type of every stateful object.
 *
 * The DTLS association, the transport, the single-port router, the ICE
 * agent, the TURN client and the data-channel association all report what happened through
 * one struct, rtcsec_event, taken with their `_poll_event()` (the ICE agent
 * hands the same struct to its callback). One kind, one payload: a
 * "connected" event carries the same rtcsec_connected_info whichever object
 * reports it.
 *
 * Lifetime: pointers inside an event (data, candidate, label, protocol)
 * stay valid until the next call on the object that gave the event.
 */
#ifndef RTCSEC_EVENT_H
#define RTCSEC_EVENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "rtcsec/cert.h"
#include "rtcsec/export.h"
#include "rtcsec/profile.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum rtcsec_dtls_role {
  RTCSEC_DTLS_CLIENT = 0, /* a=setup:active */
  RTCSEC_DTLS_SERVER = 1, /* a=setup:passive */
} rtcsec_dtls_role;

typedef enum rtcsec_event_type {
  RTCSEC_EVENT_NONE = 0,
  /* DTLS: the association, the transport, a router session, the ICE agent */
  RTCSEC_EVENT_CONNECTED, /* .connected: peer verified, keys in place */
  RTCSEC_EVENT_DATA,      /* .data: DTLS application data */
  RTCSEC_EVENT_CLOSED,    /* the peer sent close_notify */
  RTCSEC_EVENT_FAILED,    /* .failed: the association (or association of channels) failed */
  /* ICE: the router and the agent */
  RTCSEC_EVENT_NOMINATED,       /* .address: a router session's media address, set or moved */
  RTCSEC_EVENT_EXPIRED,         /* router: consent expired, the session is gone: .address */
  RTCSEC_EVENT_LOCAL_CANDIDATE, /* .candidate: "candidate:..." (no "a=") */
  RTCSEC_EVENT_GATHERING_DONE,  /* end-of-candidates */
  RTCSEC_EVENT_ICE_STATE,       /* .ice_state (an rtcsec_ice_state) */
  RTCSEC_EVENT_SELECTED_PAIR,   /* .pair */
  RTCSEC_EVENT_CONSENT_LOST,    /* RFC 7675 §5.1: media and DTLS stopped */
  /* data channels */
  RTCSEC_EVENT_CHANNEL_OPEN,        /* .channel */
  RTCSEC_EVENT_MESSAGE,             /* .message */
  RTCSEC_EVENT_BUFFERED_AMOUNT_LOW, /* .channel (id only) */
  RTCSEC_EVENT_CHANNEL_CLOSED,      /* .channel (id only) */
  /* STUN / TURN client over DTLS (rtcsec/turn.h) */
  RTCSEC_EVENT_MAPPED_ADDRESS, /* .turn: addr = our server-reflexive address */
  RTCSEC_EVENT_ALLOCATED,      /* .turn: addr = the relayed address, lifetime_s */
  RTCSEC_EVENT_REFRESHED,      /* .turn: lifetime_s (0: the allocation is deleted) */
  RTCSEC_EVENT_PERMISSION,     /* .turn: addr = the peer (its IP counts, RFC 8656 §9) */
  RTCSEC_EVENT_CHANNEL_BOUND,  /* .turn: addr = the peer, channel */
  RTCSEC_EVENT_RELAYED_DATA,   /* .turn: addr = the peer, channel (0: Data indication), data */
  RTCSEC_EVENT_TURN_ERROR,     /* .turn: method, error_code (0: no answer), reason */
} rtcsec_event_type;

/* What a DTLS association agreed on. The same payload from every object. */
typedef struct rtcsec_connected_info {
  rtcsec_srtp_profile profile;         /* RTCSEC_SRTP_NONE without use_srtp (RFC 7925 use) */
  const char *version;                 /* "DTLSv1.2" or "DTLSv1.3"; static */
  const char *cipher;                  /* IANA / OpenSSL cipher suite name; static */
  const char *group;                   /* key exchange group, e.g. "x25519"; static */
  rtcsec_dtls_role role;               /* this side's role */
  rtcsec_fingerprint peer_fingerprint; /* with the hash of the expected one that matched */
} rtcsec_connected_info;

/* Why an association failed. */
typedef struct rtcsec_failed_info {
  int error;           /* the sticky rtcsec_error code */
  int alert;           /* TLS alert description sent or received, -1 if none */
  int alert_from_peer; /* 1 if the peer sent it */
} rtcsec_failed_info;

typedef struct rtcsec_ice_pair_info {
  char local_type[8]; /* "host", "srflx", "prflx", "relay" */
  char local_address[64];
  uint16_t local_port;
  char remote_type[8];
  char remote_address[64];
  uint16_t remote_port;
  char protocol[4]; /* "udp" */
} rtcsec_ice_pair_info;

typedef struct rtcsec_address_info {
  struct sockaddr_storage addr;
  socklen_t addr_len; /* 0 if none */
  int moved;          /* NOMINATED: 1 if the session had another address before */
} rtcsec_address_info;

typedef enum rtcsec_channel_reliability {
  RTCSEC_CHANNEL_RELIABLE = 0,
  RTCSEC_CHANNEL_MAX_RETRANSMITS = 1, /* reliability_param: retransmissions */
  RTCSEC_CHANNEL_MAX_LIFETIME = 2,    /* reliability_param: milliseconds */
} rtcsec_channel_reliability;

typedef struct rtcsec_channel_info {
  uint16_t id;          /* SCTP stream id */
  const char *label;    /* UTF-8, NUL-terminated; "" for id-only events */
  const char *protocol; /* UTF-8, NUL-terminated */
  int ordered;
  rtcsec_channel_reliability reliability;
  uint32_t reliability_param;
  uint16_t priority;
  int negotiated; /* 1: pre-agreed id, no DCEP */
} rtcsec_channel_info;

typedef struct rtcsec_message_info {
  uint16_t channel;
  int binary; /* 0: string (UTF-8) */
  const uint8_t *data;
  size_t len;
} rtcsec_message_info;

/* What a STUN / TURN transaction or relayed datagram brought. */
typedef struct rtcsec_turn_info {
  uint16_t method;     /* the STUN method it answers (RTCSEC_STUN_ALLOCATE, ...) */
  uint16_t channel;    /* CHANNEL_BOUND; RELAYED_DATA that came as ChannelData; else 0 */
  uint32_t lifetime_s; /* ALLOCATED, REFRESHED */
  int error_code;      /* TURN_ERROR: the STUN error code (e.g. 401, 437), 0 if none came */
  const char *reason;  /* TURN_ERROR: why, NUL-terminated; "" elsewhere */
  struct sockaddr_storage addr;
  socklen_t addr_len;
  const uint8_t *data; /* RELAYED_DATA */
  size_t len;
} rtcsec_turn_info;

typedef struct rtcsec_event {
  rtcsec_event_type type;
  uint64_t session; /* router: the session's id; 0 elsewhere */
  void *user;       /* router: the session's user pointer; NULL elsewhere */
  union {
    rtcsec_connected_info connected; /* CONNECTED */
    rtcsec_failed_info failed;       /* FAILED */
    struct {
      const uint8_t *data;
      size_t len;
    } data;                      /* DATA */
    rtcsec_address_info address; /* NOMINATED, EXPIRED */
    const char *candidate;       /* LOCAL_CANDIDATE */
    int ice_state;               /* ICE_STATE: an rtcsec_ice_state */
    rtcsec_ice_pair_info pair;   /* SELECTED_PAIR */
    rtcsec_channel_info channel; /* CHANNEL_OPEN, BUFFERED_AMOUNT_LOW, CHANNEL_CLOSED */
    rtcsec_message_info message; /* MESSAGE */
    rtcsec_turn_info turn;       /* MAPPED_ADDRESS ... TURN_ERROR */
  };
} rtcsec_event;

/* "none", "connected", "data", ... for logs; "unknown" for other values. */
RTCSEC_API const char *rtcsec_event_type_name(rtcsec_event_type type);

#ifdef __cplusplus
}
#endif
#endif
