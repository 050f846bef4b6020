/* rtcsec-dtls's own state, shared by its files (one job each):
 *
 *   rtcsec-dtls.c      what the program does (the top of the file), its
 *                      options, and main: setup, handshake, then media or
 *                      data, close
 *   dtls/setup.c       certificate, socket, key log, the association (made
 *                      again for each handshake a listener drops), the TURN
 *                      client, and what is freed at exit
 *   dtls/engine.c      the engine (an rtcsec_transport, or the bare
 *                      rtcsec_dtls) and the poll() loop every phase runs on:
 *                      datagrams in and out, events, timers
 *   dtls/listener.c    --listen: the peer chosen by its ClientHello, what is
 *                      ignored, a failed handshake dropped for the next one
 *   dtls/handshake.c   the handshake phase, why it failed, what it printed
 *   dtls/media.c       --send-rtp: RTP and RTCP both ways, verified, and the
 *                      counts exchanged over DTLS application data
 *   dtls/data.c        plain DTLS (--no-srtp): --send-*, --echo, and CoAP
 *                      (--coap-get, --coap-reply) on the codec in tools/coap.c
 *   dtls/turn.c        --turns: the path through a TURN server over DTLS
 *
 * The ClientHello check (tools/client_hello.c) and the CoAP codec
 * (tools/coap.c) are libraries of their own, with tests and fuzz targets;
 * numbers, addresses and the clock come from tools/util.h.
 *
 * Threads: one. Every phase runs the one poll() loop (engine.c) on
 * CLOCK_MONOTONIC (tool_now_us()).
 */
#ifndef RTCSEC_DTLS_APP_H
#define RTCSEC_DTLS_APP_H

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "rtcsec/rtcsec.h"
#include "rtcsec/srtp.h"
#include "rtcsec/transport.h"
#include "rtcsec/turn.h"
#include "util.h"

#define PROG "rtcsec-dtls"
#define EXIT_USAGE 2
#define MAX_UDP_PAYLOAD 65507 /* IPv4: 65535 - 20 (IP) - 8 (UDP) */
#define DEFAULT_TIMEOUT_S 30
#define MAX_TIMEOUT_S 86400
#define ADDR_STRLEN (INET6_ADDRSTRLEN + 8) /* "[" addr "]:" port */
/* --listen: a handshake whose peer sends nothing for this long is dropped
 * (OpenSSL's first retransmissions come after 1 and 2 s more). */
#define HANDSHAKE_IDLE_US 4000000u
/* ... and one that sent a fatal alert (which the association does not act
 * on: it is not authenticated) is given this long to say more. */
#define HANDSHAKE_ALERTED_IDLE_US 1000000u
#define MAX_IGNORED_ADDRS 1024 /* distinct senders counted exactly */

/* Media phase. */
#define DEFAULT_RATE 500                /* RTP packets per second */
#define MAX_RATE 1000000                /* 1 us apart */
#define MAX_SEND_RTP 10000000           /* fits the receiver's bitmap */
#define RTP_PAYLOAD_LEN 160             /* 20 ms of G.711 */
#define RTP_LEN (12 + RTP_PAYLOAD_LEN)  /* no CSRC, no extension */
#define RTP_PT 96                       /* dynamic payload type */
#define RTP_CLOCK_STEP 160              /* timestamp step per packet (8 kHz) */
#define SR_LEN 28                       /* RTCP SR without report blocks */
#define SR_EVERY 50                     /* an SR after every 50th RTP packet */
#define FIRST_SEQ 64536                 /* 1000 before the 16-bit wrap */
#define SSRC_CLIENT 0x52544331u         /* "RTC1" */
#define SSRC_SERVER 0x52544332u         /* "RTC2" */
#define RESEND_US 100000u               /* "ready" / "done" resend interval */
#define DRAIN_US 2000000u               /* wait for stragglers after "done" */
#define SEND_BATCH 64                   /* packets per turn at --rate 0 */
#define SOCKET_BUFFER (4 * 1024 * 1024) /* asked for; the kernel may give less */
#define MEDIA_BUF (RTP_LEN + 64)        /* room for any SRTP / SRTCP trailer */

/* Data phase (plain DTLS). */
#define DATA_MAX 1024 /* --send-data / --send-hex */
#define DEFAULT_EXPORT_LABEL "EXPERIMENTAL-rtcsec"
#define DEFAULT_EXPORT_LEN 32
#define COAP_ACK_TIMEOUT_US 2000000u /* RFC 7252 §4.8: ACK_TIMEOUT */
#define COAP_MAX_RETRANSMIT 4        /* RFC 7252 §4.8 */

/* ---- options (rtcsec-dtls.c) ---------------------------------------------- */

typedef struct dtls_options {
  rtcsec_dtls_role role;
  const char *addr; /* ADDR:PORT of --listen or --connect */
  rtcsec_srtp_profile profiles[RTCSEC_SRTP_MAX_PROFILES];
  size_t n_profiles;
  const char *cert_path;
  const char *key_path;
  rtcsec_fingerprint fingerprints[RTCSEC_DTLS_MAX_FINGERPRINTS];
  size_t n_fingerprints;
  size_t mtu; /* 0: library default */
  int export_keying_material;
  const char *keylog_path;
  unsigned timeout_s;
  int quiet;
  int media;              /* --send-rtp given: run the media phase */
  unsigned long send_rtp; /* RTP packets to send (0: receive only) */
  unsigned long rate;     /* packets per second, 0: as fast as possible */
  /* plain DTLS and its peer authentication (docs/iot.md) */
  int no_srtp;
  const char *ciphers;
  const char *groups;
  const char *psk_identity;
  uint8_t psk[RTCSEC_DTLS_MAX_PSK];
  size_t psk_len;
  const char *ca_file;
  const char *peer_name;
  unsigned long rto_initial_ms, rto_max_ms; /* 0: library default */
  const char *export_label;                 /* --no-srtp --export-keying-material */
  unsigned long export_len;
  /* data phase */
  uint8_t send_data[DATA_MAX];
  size_t send_len;
  int send_given;
  int echo;
  const char *coap_get;
  const char *coap_reply;
  /* through a TURN server over DTLS */
  const char *turns; /* its ADDR:PORT */
  const char *turn_user, *turn_pass;
  const char *turn_ca, *turn_name;
  rtcsec_fingerprint turn_fps[RTCSEC_DTLS_MAX_FINGERPRINTS];
  size_t n_turn_fps;
  int turn_only; /* TURN_ONLY_* */
} dtls_options;

enum { TURN_ONLY_NO = 0, TURN_ONLY_BINDING, TURN_ONLY_ALLOCATION };

/* ---- media state -------------------------------------------------------- */

typedef struct media_state {
  uint32_t local_ssrc;
  uint32_t peer_ssrc;
  uint64_t deadline; /* caller's clock: give up */
  /* sending */
  int peer_ready;         /* the peer said "ready" (or sent media / "done") */
  uint64_t next_ready;    /* when to resend "ready" */
  uint64_t send_start;    /* when the first packet was due */
  uint64_t rtp_protected; /* packets that used a sequence number */
  uint64_t rtp_sent, rtp_octets, rtcp_sent;
  uint64_t send_errors;
  int sr_due; /* an SR goes before the next RTP packet */
  int sent_all;
  int done_acked;
  uint64_t next_done;         /* when to resend "done" */
  uint8_t pending[MEDIA_BUF]; /* protected, not yet taken by the kernel */
  size_t pending_len;
  int pending_rtcp;
  /* receiving */
  uint64_t rtp_received, rtp_verified, rtp_bad, rtp_duplicates, rtp_out_of_order;
  uint64_t rtcp_received, rtcp_bad;
  uint64_t stun_ignored, data_unknown;
  int have_index;
  uint64_t highest_index;
  int got_done;
  uint64_t peer_rtp, peer_rtcp;
  uint64_t done_at;
  uint8_t seen[MAX_SEND_RTP / 8]; /* RTP packet indexes received */
} media_state;

/* ---- runtime state ------------------------------------------------------ */

/* A sender's address as a comparable key (family, port, address). */
typedef struct addr_key {
  uint8_t b[20];
} addr_key;

typedef struct dtls_app {
  const dtls_options *opt;
  int fd;
  int have_peer; /* server: from the first valid ClientHello; client: always */
  int socket_connected;
  struct sockaddr_storage peer;
  socklen_t peer_len;
  uint64_t peer_last_rx; /* server: the chosen peer's last datagram */
  /* --listen: what was ignored and what failed */
  uint64_t ignored_datagrams;
  addr_key ignored_addrs[MAX_IGNORED_ADDRS];
  size_t n_ignored_addrs;
  int ignored_addrs_overflow;
  uint64_t failed_handshakes;
  int last_failed_code;                    /* the last dropped handshake, for the final reason */
  char last_failed[320 + ADDR_STRLEN + 8]; /* detail " from " peer */
  rtcsec_cert *cert;
  rtcsec_transport *tr; /* the engine, unless --export-keying-material */
  rtcsec_dtls *dtls;    /* --export-keying-material: the bare association */
  FILE *keylog;
  uint64_t deadline; /* overall --timeout, caller's clock */
  /* Outcome of the event queue. */
  int connected;
  int failed;
  int peer_closed;
  int error;
  int alert;
  int alert_from_peer;
  rtcsec_connected_info info; /* what was negotiated */
  rtcsec_srtp_keys keys;      /* bare association only (--export-keying-material); wiped in
                                 app_cleanup() */
  media_state m;
  /* data phase (plain DTLS) */
  uint64_t data_received, data_answered;
  int data_done;      /* --send-*: a reply came; --coap-get: its response */
  uint64_t data_idle; /* when the data phase gives up without a record */
  uint8_t coap_token[4];
  uint16_t coap_mid;
  uint8_t coap_req[DATA_MAX];
  size_t coap_req_len;
  unsigned coap_sent;                     /* transmissions of the request so far */
  uint64_t coap_next;                     /* when to retransmit it (RFC 7252 §4.2) */
  uint8_t keymat[RTCSEC_DTLS_MAX_EXPORT]; /* --no-srtp --export-keying-material */
  size_t keymat_len;
  /* --turns: the client that carries everything to the peer */
  rtcsec_turn *turn;
  int turn_connected, turn_failed, turn_mapped, turn_allocated, turn_bound;
  int turn_error; /* a TURN_ERROR came: turn_why says which */
  char turn_why[480];
  uint8_t turn_buf[MAX_UDP_PAYLOAD];
  uint8_t buf[MAX_UDP_PAYLOAD];
} dtls_app;

static inline uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }

/* ---- setup and cleanup (dtls/setup.c) ---- */

/* Certificate, socket ("listening on" for --listen), TURN client, key log
 * and the association; prints the local fingerprint. Returns 0, 1, or
 * EXIT_USAGE, after printing why. */
int app_setup(dtls_app *t);
/* A fresh association (transport, or the bare one); its handshake timeout
 * is what is left of --timeout. Returns 0, 1 or EXIT_USAGE. */
int association_new(dtls_app *t);
/* Frees it and wipes any exported keys. */
void association_free(dtls_app *t);
void app_cleanup(dtls_app *t);

/* ---- the engine and the I/O loop (dtls/engine.c) ---- */

int engine_start(dtls_app *t, uint64_t now);
int engine_close(dtls_app *t, uint64_t now);
void engine_dtls_stats(const dtls_app *t, rtcsec_dtls_stats *st);
/* OpenSSL's reason for a failure: only the bare association keeps it. */
const char *engine_error_detail(const dtls_app *t);
/* One datagram from the peer (in t->buf) into the association. */
void engine_input(dtls_app *t, size_t n);
/* Drains datagrams and events after any call into the engine. */
void drain(dtls_app *t);
/* One datagram to the peer: through the relay, on the connected socket, or
 * (a listener before its handshake is done) addressed to the peer chosen. */
ssize_t send_to_peer(dtls_app *t, const uint8_t *buf, size_t len);
/* One turn of the loop: waits for a datagram or the next deadline (at most
 * until `until`; with want_write also for room to send), feeds what came
 * and runs due timers. */
void io_wait(dtls_app *t, uint64_t until, int want_write);
void io_step(dtls_app *t, uint64_t until);

/* ---- --listen (dtls/listener.c) ---- */

/* 0 and the peer taken if data is a valid ClientHello, else -1. */
int listener_accept_peer(dtls_app *t, const struct sockaddr_storage *from, socklen_t from_len,
                         const uint8_t *data, size_t len);
/* A datagram not handed to the association: counted with its sender. */
void listener_ignore(dtls_app *t, const struct sockaddr_storage *from);
/* "N from M addresses" (M exact up to MAX_IGNORED_ADDRS). */
void listener_format_ignored(const dtls_app *t, char *buf, size_t cap);
/* The handshake with the chosen peer ended without connecting: counted,
 * logged, and a fresh association waits for the next ClientHello. Returns
 * 0, or 1 if no association could be made. */
int listener_drop_peer(dtls_app *t, int code, const char *detail);
/* The "ignored_datagrams:" and "failed_handshakes:" lines scripts read. */
void listener_report(const dtls_app *t);

/* ---- the handshake phase (dtls/handshake.c) ---- */

/* Returns 0 once connected, else 1 after "handshake failed: ...". */
int run_handshake(dtls_app *t);
/* "connected", profile, version, ... and the keying material if asked. */
void report_connected(dtls_app *t);
/* "PROG: handshake failed: ERROR (detail)", the line scripts rely on;
 * returns 1. */
int handshake_fail(int code, const char *detail);
void print_fingerprint(const char *label, const rtcsec_fingerprint *fp);

/* ---- the media phase (dtls/media.c) ---- */

/* Returns 0 if every packet the peer sent arrived and verified. */
int run_media(dtls_app *t);
/* Plaintext RTP / RTCP from the transport, and its application data. */
void media_on_rtp(dtls_app *t, const uint8_t *p, size_t len);
void media_on_rtcp(dtls_app *t, const uint8_t *p, size_t len);
void media_on_data(dtls_app *t, const uint8_t *data, size_t len, uint64_t now);

/* ---- the data phase of plain DTLS (dtls/data.c) ---- */

int run_data(dtls_app *t);
void data_on_record(dtls_app *t, const uint8_t *data, size_t len, uint64_t now);

/* ---- through a TURN server (dtls/turn.c) ---- */

/* The server authenticated, an allocation and a channel to the peer (or
 * what --turn-only asks for). Returns 0 or 1 after printing why. */
int run_turn(dtls_app *t);
/* Sends what the TURN client queued and handles its events. */
void flush_turn(dtls_app *t);

#endif
