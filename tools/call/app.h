/* rtcsec-call's own state, shared by its files (one job each):
 *
 *   rtcsec-call.c     what the program does (the top of the file), its
 *                     options, and main: the agent, the order of the
 *                     offer/answer, media, the count exchange, the report
 *   call/signal.c     the SDP fragments: ours written once gathering is
 *                     done, the peer's read from a file or stdin and applied
 *   call/media.c      what the agent reports (events, media), the RTP we
 *                     send and check, the count exchange ("done N" /
 *                     "got K") and the verdict on it
 *   call/data.c       --data N: one data channel over the same DTLS
 *                     (librtcsec-datachannel), on a thread of its own
 *   call/report.c     the `key: value` report and `result:` line
 *
 * Numbers, addresses and byte order come from tools/util.h.
 *
 * Threads: main; libnice's, which runs the agent's callbacks; and with
 * --data the data channel's. Everything in `call` is under call.m.
 */
#ifndef RTCSEC_CALL_APP_H
#define RTCSEC_CALL_APP_H

#include <glib.h>
#include <stdint.h>
#include <stdio.h>

#include "rtcsec/datachannel.h"
#include "rtcsec/ice.h"
#include "rtcsec/rtcsec.h"
#include "rtcsec/sdp.h"
#include "rtcsec/srtp.h"
#include "util.h"

#define PROG "rtcsec-call"
#define EXIT_USAGE 2
#define MAX_ADDRESSES RTCSEC_ICE_MAX_LOCAL_ADDRESSES
#define MAX_REMOTE_CANDIDATES RTCSEC_ICE_MAX_PENDING_CANDIDATES
#define MAX_SDP_BYTES (64 * 1024)
#define RTP_PT 111
#define RTP_PAYLOAD 160
#define RTP_CLOCK_STEP 960 /* 20 ms at 48 kHz */
#define MEDIA_BUF (12 + RTP_PAYLOAD + RTCSEC_SRTP_MAX_OVERHEAD + 16)
#define POLL_FILE_US 20000
#define DRAIN_US 1000000 /* after the peer's "done": its last packets */
#define RESEND_US 200000 /* "done" until the peer's "got" */
#define LINGER_US 500000 /* answering a late "done" once both sides agree */
#define FINISH_POLL_US 10000

/* ---- options (rtcsec-call.c) ----------------------------------------------- */

typedef struct options {
  int offer; /* 1 --offer, 0 --answer, -1 not given */
  const char *local_sdp;
  const char *remote_sdp;
  const char *addresses[MAX_ADDRESSES];
  size_t n_addresses;
  unsigned duration_s;
  unsigned rate;
  unsigned timeout_s;
  rtcsec_srtp_profile profiles[RTCSEC_SRTP_MAX_PROFILES];
  size_t n_profiles;
  int relay_only;
  char turn_host[64];
  uint16_t turn_port;
  const char *turn_user;
  const char *turn_pass;
  char stun_host[64];
  uint16_t stun_port;
  unsigned data;         /* --data N: messages over a data channel, 0 none */
  unsigned corrupt_echo; /* --test-corrupt-echo K: echo K (1-based) altered */
} options;

/* stdout, or stderr when stdout carries SDP (rtcsec-call.c). */
extern FILE *report;

/* A runtime failure: the reason on stderr, and the result line a script
 * looks for in the report; exits 1 (rtcsec-call.c). */
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* ---- the call's state ------------------------------------------------------- */

/* --data N: one data channel over the call's DTLS (see the top of
 * rtcsec-call.c). */
typedef struct data_run {
  unsigned n;       /* messages the offerer sends and the answerer expects */
  int offerer;      /* 1: sends and checks the echoes; 0: checks and echoes */
  unsigned corrupt; /* --test-corrupt-echo */
  rtcsec_dc *dc;
  GThread *thread;
  int stop;
  int up, channel_open, closed, failed, error;
  uint16_t id;
  uint64_t sent, received, verified, bad, echoed, send_errors, early;
  uint64_t bytes, inflight; /* offerer: sent, and not echoed yet */
  gint64 start_us, first_us, done_us;
  uint8_t buf[65536];
} data_run;

typedef struct call {
  GMutex m;
  GCond c;
  rtcsec_ice_agent *agent; /* for answers sent from the callback */
  GPtrArray *cands;        /* local "candidate:..." lines */
  int gathering_done;
  int dtls_connected, dtls_failed, dtls_error, consent_lost, dtls_closed;
  rtcsec_srtp_profile profile;
  const char *cipher;
  /* received media */
  uint64_t rtp_received, rtp_verified, rtp_bad;
  int have_peer_ssrc;
  uint32_t peer_ssrc;
  /* the count exchange (see the top of rtcsec-call.c) */
  int got_done;       /* the peer's "done N" arrived ... */
  uint64_t peer_sent; /* ... with this N */
  gint64 done_at;
  int receipt_final; /* our "got K" is decided ... */
  uint64_t receipt;  /* ... with this K */
  int got_receipt;   /* the peer's "got K" arrived ... */
  uint64_t peer_verified;
  uint64_t data_unknown, data_send_errors;
  data_run d;
  /* The state the verdict judges: taken when both sides agreed on the
   * counts (a close_notify after that is the normal end of the call), or
   * when the exchange gave up. */
  struct {
    int dtls_failed, dtls_error, dtls_closed, consent_lost;
    uint64_t verified; /* our "got K" if decided, else what had verified */
    rtcsec_ice_stats st;
  } end;
} call;

/* What the media loop did (call/media.c). */
typedef struct media_sent {
  uint64_t total; /* packets it was to send: --duration x --rate */
  uint64_t sent, send_errors;
  int last_error;
} media_sent;

/* ---- SDP fragments (call/signal.c) ---- */

typedef struct fragment {
  rtcsec_sdp_ice_credentials creds;
  rtcsec_fingerprint fps[RTCSEC_DTLS_MAX_FINGERPRINTS];
  size_t n_fps;
  int has_setup;
  rtcsec_sdp_setup setup;
  char *cands[MAX_REMOTE_CANDIDATES];
  size_t n_cands;
  int end_of_candidates;
} fragment;

/* Parses the peer's fragment; returns NULL or an error message (static). */
const char *fragment_parse(fragment *f, const char *text);
void fragment_clear(fragment *f);
/* Reads the peer's fragment: from a file that is complete once it holds an
 * a=end-of-candidates line, or from stdin up to that line; bounded. */
char *read_remote(const char *path, gint64 deadline);
/* Our fragment, once gathering is done. */
char *fragment_format(rtcsec_ice_agent *agent, call *c, const rtcsec_fingerprint *fp,
                      rtcsec_sdp_setup setup);
/* To the file (whole or not at all: the peer polls for it), or stdout. */
void write_local(const char *path, const char *text);
/* Fingerprints, credentials and candidates into the agent. */
void apply_remote(rtcsec_ice_agent *agent, const fragment *f);

/* ---- the agent, media and the count exchange (call/media.c) ---- */

/* The agent's callbacks (cfg.on_event, cfg.on_media; user = the call). */
void on_event(void *user, const rtcsec_event *ev);
void on_media(void *user, rtcsec_packet_class kind, uint8_t *buf, size_t len);
/* Waits until *flag (or *fail) is set, at most until `deadline` (monotonic
 * µs). Returns the flag. */
int wait_flag(call *c, const int *flag, const int *fail, gint64 deadline);
/* The association broke: DTLS failed or closed, or consent was lost
 * (under c->m). */
int call_broken(const call *c);
/* RTP at --rate for --duration, stopping early if the call breaks. */
void media_send(call *c, rtcsec_ice_agent *agent, const options *o, media_sent *out);
/* After our media: "done" until the peer's "got", our own "got" once the
 * peer's packets are in, then a short linger to answer a resent "done".
 * Ends early if the association breaks; bounded by `deadline`. */
void finish(call *c, rtcsec_ice_agent *agent, uint64_t sent, gint64 deadline);
/* Why the call is not ok, or NULL if it is: the first reason that applies
 * to c->end and the counters (under c->m). */
const char *call_verdict(const call *c, const media_sent *ms, char *buf, size_t cap);

/* ---- data channels (call/data.c) ---- */

/* DTLS is up (agent thread, under c->m): the association, and for the
 * offerer its channel. */
void data_start(call *c, const rtcsec_connected_info *dtls);
/* Drives the association on its own thread until c->d.stop. */
gpointer data_thread(gpointer user);
/* After our media: until every message is through, the association ended
 * or the call broke, SCTP did not come up in time, at most until
 * `deadline`. */
void data_wait(call *c, gint64 deadline);
/* Why the data part is not ok, or NULL (under c->m). */
const char *data_verdict(const call *c, char *buf, size_t cap);
/* The data_* report lines (under c->m). */
void data_report(const call *c);

/* ---- the report (call/report.c) ---- */

/* Prints the report and its result line; returns 1 if the call is ok. */
int call_report(call *c, rtcsec_ice_agent *agent, const options *o, const media_sent *ms,
                rtcsec_sdp_setup local_setup, gint64 start);

#endif
