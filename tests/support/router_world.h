/* A router world for the tests of the single-port router: one
 * rtcsec_router and N client legs on a zero-delay in-memory network with
 * the fake clock. Each leg is a small controlling full-ICE agent (Binding
 * requests built with the STUN codec) plus a DTLS-client rtcsec_transport;
 * the router's side echoes RTP back. Shared by tests/test_router.c and
 * tests/test_hostile.c. */
#ifndef RTCSEC_TEST_ROUTER_WORLD_H
#define RTCSEC_TEST_ROUTER_WORLD_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "rtcsec/router.h"
#include "rtcsec/rtcsec.h"
#include "rtcsec/transport.h"

#define SEC 1000000u
#define MS 1000u
#define BASE_PORT 20000
#define MAX_PKT 1600

/* Addresses of a leg: which = 0 its primary, 1 a second one (network
 * change), 2 a spoofer's. Legs with idx % 4 == 3 use [::1] as primary. */
enum { ADDR_MAIN = 0, ADDR_ALT = 1, ADDR_SPOOF = 2 };

typedef struct leg {
  int idx;
  char srv_ufrag[16], srv_pwd[40], cli_ufrag[16];
  rtcsec_session_id id;
  rtcsec_transport *t; /* the client's DTLS (client role unless swapped) */
  int send_from;       /* which address the client sends from */
  int dtls_started;
  /* client side */
  int cli_connected, cli_failed;
  uint64_t responses, error_responses, bad_responses, last_error_code;
  uint64_t rx[3];           /* datagrams received per address */
  uint64_t rtp_ok, rtp_bad; /* echoed media back at the client */
  uint8_t last_tid[12];
  /* router side, from events and inputs */
  int srv_connected, srv_failed, srv_closed, nominated_events, moved_events, expired;
  uint64_t media_at_router, media_wrong;
} leg;

typedef struct pkt {
  int to_router;
  int leg, which;
  size_t len;
  uint8_t data[MAX_PKT];
} pkt;

typedef struct world {
  rtcsec_router *r;
  rtcsec_cert *srv_cert, *cli_cert;
  rtcsec_fingerprint srv_fp, cli_fp;
  leg *legs;
  int n;
  uint64_t now;
  pkt *q;
  size_t q_head, q_tail, q_cap;
  int echo;                /* router side echoes media back */
  uint64_t out_to_unknown; /* router outputs to no leg of ours */
  uint64_t router_sent;    /* datagrams the router gave */
  uint64_t sent_to[3];     /* router outputs per address kind */
  int last_rc;             /* router's answer to the last datagram */
  uint64_t expired_events, other_events;
  uint64_t tid_counter;
  int drop_router_dtls; /* lose this many DTLS datagrams from the router */
  int dropped;
} world;

typedef struct check_opts {
  int use_candidate;
  int controlled;       /* send ICE-CONTROLLED instead of ICE-CONTROLLING */
  const char *pwd;      /* NULL: the right one */
  const char *username; /* NULL: "srv:cli" */
  uint16_t extra_attr;  /* nonzero: add this (empty) attribute */
  const uint8_t *tid;   /* NULL: a fresh one */
} check_opts;

void leg_addr(int idx, int which, struct sockaddr_storage *ss, socklen_t *len);
/* The leg and address a router output goes to; -1 if none of ours. */
int decode_addr(const struct sockaddr_storage *ss, socklen_t len, int *which);
/* Queues a datagram on the network (to the router or to a leg). */
void q_push(world *w, int to_router, int leg_idx, int which, const uint8_t *d, size_t n);
/* n sessions (the router in router_role) and their legs, not connected. */
world *world_new(int n, rtcsec_dtls_role router_role);
void world_free(world *w);
/* A Binding request of leg l with the options o. */
size_t build_check(world *w, leg *l, const check_opts *o, uint8_t *buf, size_t cap);
void send_check(world *w, leg *l, int from, const check_opts *o);
/* Queues what the leg's transport has to send and takes its events. */
void client_flush(world *w, leg *l);
/* Sends what the router has to send onto the network and takes its events. */
void router_flush(world *w);
/* Delivers everything in flight (zero delay), then what it causes. */
void settle(world *w);
/* Advances the clock to `t`, running every deadline on the way. */
void advance_to(world *w, uint64_t t);
int all_connected(const world *w);
/* Each leg nominates its primary address; handshakes run to the end. */
void connect_all(world *w);
/* Protects an RTP packet (SSRC 0x10000 + leg) on the leg and queues it. */
int send_rtp(world *w, leg *l, int from, uint16_t seq);
/* One RTP packet from the leg, and its echo back at the leg. */
void media_round_trip(world *w, leg *l, int from, uint16_t seq);
rtcsec_router_stats stats_of(const world *w);
uint64_t consent_of(const world *w, const leg *l);
/* 1 if the session's media address is the leg's address `which`. */
int addr_is(const world *w, const leg *l, int which);

#endif
