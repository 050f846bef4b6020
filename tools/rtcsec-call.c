/* rtcsec-call: a two-process call with ICE (libnice), DTLS-SRTP and RTP,
 * built on the public API only (librtcsec-ice + the core).
 *
 * One process offers (--offer: ICE controlling, a=setup:actpass), the
 * other answers (--answer: ICE controlled, a=setup:active, so the DTLS
 * client, RFC 8842 §5.3). They exchange small SDP fragments, one attribute
 * per line:
 *   a=ice-ufrag:...  a=ice-pwd:...  a=ice-options:trickle
 *   a=fingerprint:sha-256 AB:CD:...  a=setup:actpass|active|passive
 *   a=candidate:...  (one per candidate)  a=end-of-candidates
 * through files (--local-sdp FILE written atomically once gathering is
 * done; --remote-sdp FILE waited for until it holds a=end-of-candidates)
 * or through stdout / stdin when a file is not given (the report then goes
 * to stderr). The offerer writes first; the answerer reads the offer, then
 * writes its answer.
 *
 * Once DTLS is connected each side sends RTP (PT 111, 160-byte payload
 * derived from the sequence number) at --rate packets per second for
 * --duration seconds and checks every packet it receives. Then the two
 * sides compare counts over DTLS application data, each message resent
 * until answered:
 *   "done N"  I sent N packets and nothing more follows;
 *   "got K"   of the N you said you sent, K arrived and verified (sent
 *             once every packet the peer announced arrived, or a drain
 *             time after its "done").
 * With --data N (give it to both sides) the call also runs a data channel
 * (librtcsec-datachannel: SCTP over the same DTLS, RFC 8261): the offerer
 * opens one DCEP channel and sends N messages of sizes from 0 to 64 KiB,
 * strings and binary, each derived from its number; the answerer checks
 * each against that derivation and sends it back on the same channel, same
 * type; the offerer checks every echo byte for byte, in order. Both sides
 * assume a=sctp-port 5000 and 256 KiB messages (rtcsec at both ends). The
 * count exchange stays plain DTLS application data: its lines are ASCII
 * "done ..." / "got ...", and an SCTP packet starts with its source port
 * (5000: 0x13 0x88), so the two never mix.
 * It prints, as `key: value` lines: the time from the program's start to
 * the agent's creation, ICE connected, DTLS connected and first media; the
 * selected pair; the DTLS role, version, cipher and SRTP profile; the
 * packet counters; and `result: ok` or `result: failed (REASON)`.
 *
 * Exit status: 0 (result: ok) only if every RTP send succeeded, every
 * packet the peer announced arrived and verified, the peer confirmed that
 * every packet we sent arrived and verified, no packet failed
 * authentication, and the DTLS association and ICE were still connected
 * at the end, and with --data all N messages arrived (answerer) and came
 * back (offerer) byte-identical; 1 otherwise (result: failed, with the first reason that
 * applies), also on any runtime failure; 2 usage error.
 * Traffic: only to the addresses given (--address, default 127.0.0.1) and
 * the TURN / STUN server given.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <glib.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rtcsec/datachannel.h"
#include "rtcsec/ice.h"
#include "rtcsec/rtcsec.h"
#include "rtcsec/sdp.h"
#include "rtcsec/srtp.h"

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

/* ---- options --------------------------------------------------------------- */

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

static FILE *report; /* stdout, or stderr when stdout carries SDP */

/* A runtime failure: the reason on stderr, and the result line a script
 * looks for in the report. */
static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  fprintf(stderr, PROG ": %s\n", msg);
  if (report != NULL)
    fprintf(report, "result: failed (%s)\n", msg);
  exit(1);
}

static void usage(FILE *f) {
  fprintf(f, "usage: " PROG " --offer|--answer [options]\n"
             "  --local-sdp FILE      write our SDP fragment here (default: stdout)\n"
             "  --remote-sdp FILE     read the peer's fragment here (default: stdin)\n"
             "  --address IP          host candidate address, repeatable (default 127.0.0.1)\n"
             "  --duration SECONDS    media time once DTLS is up (default 5)\n"
             "  --rate PPS            RTP packets per second (default 50)\n"
             "  --timeout SECONDS     bound on signalling + connecting, and on comparing\n"
             "                        counts with the peer after our media (default 30)\n"
             "  --profiles LIST       SRTP profiles in preference order, comma-separated\n"
             "  --relay-only          offer and use relay candidates only (needs --turn)\n"
             "  --turn ADDR:PORT      TURN server (UDP); --turn-user U --turn-pass P\n"
             "  --stun ADDR:PORT      STUN server for server-reflexive candidates\n"
             "  --data N              also N data-channel messages (0..64 KiB, string and\n"
             "                        binary), echoed by the answerer, checked by both;\n"
             "                        give it to both sides\n"
             "  --test-corrupt-echo K TEST ONLY (answerer): alter the K-th echo, so that\n"
             "                        the offerer must fail\n"
             "  --help\n"
             "exit status: 0 (result: ok) every packet sent both ways arrived and\n"
             "verified, as both sides counted, and DTLS was still connected at the end;\n"
             "1 failure (result: failed (REASON)), 2 usage error\n");
}

static void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void usage_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, PROG ": ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  usage(stderr);
  exit(EXIT_USAGE);
}

static unsigned parse_uint(const char *s, unsigned min, unsigned max, const char *opt) {
  char *end = NULL;
  errno = 0;
  unsigned long v = strtoul(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v < min || v > max)
    usage_error("%s %s: expected a number in %u..%u", opt, s, min, max);
  return (unsigned)v;
}

/* "a.b.c.d:port" or "[v6]:port", numeric only. */
static void parse_host_port(const char *s, char *host, size_t cap, uint16_t *port,
                            const char *opt) {
  const char *colon = NULL;
  const char *h = s;
  size_t hlen;
  if (s[0] == '[') {
    const char *close = strchr(s, ']');
    if (close == NULL || close[1] != ':')
      usage_error("%s %s: expected IP:PORT (numeric address)", opt, s);
    h = s + 1;
    hlen = (size_t)(close - h);
    colon = close + 1;
  } else {
    colon = strrchr(s, ':');
    if (colon == NULL)
      usage_error("%s %s: expected IP:PORT (numeric address)", opt, s);
    hlen = (size_t)(colon - s);
  }
  if (hlen == 0 || hlen >= cap)
    usage_error("%s %s: expected IP:PORT (numeric address)", opt, s);
  memcpy(host, h, hlen);
  host[hlen] = '\0';
  unsigned char buf[16];
  if (inet_pton(AF_INET, host, buf) != 1 && inet_pton(AF_INET6, host, buf) != 1)
    usage_error("%s %s: expected IP:PORT (numeric address)", opt, s);
  *port = (uint16_t)parse_uint(colon + 1, 1, 65535, opt);
}

static void parse_options(int argc, char **argv, options *o) {
  enum {
    OPT_OFFER = 256,
    OPT_ANSWER,
    OPT_LOCAL,
    OPT_REMOTE,
    OPT_ADDRESS,
    OPT_DURATION,
    OPT_RATE,
    OPT_TIMEOUT,
    OPT_PROFILES,
    OPT_RELAY_ONLY,
    OPT_TURN,
    OPT_TURN_USER,
    OPT_TURN_PASS,
    OPT_STUN,
    OPT_DATA,
    OPT_CORRUPT_ECHO,
    OPT_HELP,
  };
  static const struct option longopts[] = {
      {"offer", no_argument, NULL, OPT_OFFER},
      {"answer", no_argument, NULL, OPT_ANSWER},
      {"local-sdp", required_argument, NULL, OPT_LOCAL},
      {"remote-sdp", required_argument, NULL, OPT_REMOTE},
      {"address", required_argument, NULL, OPT_ADDRESS},
      {"duration", required_argument, NULL, OPT_DURATION},
      {"rate", required_argument, NULL, OPT_RATE},
      {"timeout", required_argument, NULL, OPT_TIMEOUT},
      {"profiles", required_argument, NULL, OPT_PROFILES},
      {"relay-only", no_argument, NULL, OPT_RELAY_ONLY},
      {"turn", required_argument, NULL, OPT_TURN},
      {"turn-user", required_argument, NULL, OPT_TURN_USER},
      {"turn-pass", required_argument, NULL, OPT_TURN_PASS},
      {"stun", required_argument, NULL, OPT_STUN},
      {"data", required_argument, NULL, OPT_DATA},
      {"test-corrupt-echo", required_argument, NULL, OPT_CORRUPT_ECHO},
      {"help", no_argument, NULL, OPT_HELP},
      {NULL, 0, NULL, 0},
  };
  memset(o, 0, sizeof(*o));
  o->offer = -1;
  o->duration_s = 5;
  o->rate = 50;
  o->timeout_s = 30;
  int c;
  while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
    switch (c) {
    case OPT_OFFER:
    case OPT_ANSWER:
      if (o->offer != -1)
        usage_error("%s", "give exactly one of --offer and --answer");
      o->offer = c == OPT_OFFER;
      break;
    case OPT_LOCAL:
      o->local_sdp = optarg;
      break;
    case OPT_REMOTE:
      o->remote_sdp = optarg;
      break;
    case OPT_ADDRESS: {
      unsigned char buf[16];
      if (inet_pton(AF_INET, optarg, buf) != 1 && inet_pton(AF_INET6, optarg, buf) != 1)
        usage_error("--address %s: not a numeric IP address", optarg);
      if (o->n_addresses == MAX_ADDRESSES)
        usage_error("--address %s: too many addresses", optarg);
      o->addresses[o->n_addresses++] = optarg;
      break;
    }
    case OPT_DURATION:
      o->duration_s = parse_uint(optarg, 1, 3600, "--duration");
      break;
    case OPT_RATE:
      o->rate = parse_uint(optarg, 1, 10000, "--rate");
      break;
    case OPT_TIMEOUT:
      o->timeout_s = parse_uint(optarg, 1, 3600, "--timeout");
      break;
    case OPT_PROFILES:
      if (rtcsec_srtp_profile_list_parse(optarg, o->profiles, RTCSEC_SRTP_MAX_PROFILES,
                                         &o->n_profiles) != RTCSEC_OK)
        usage_error("--profiles %s: unknown, duplicate or too many profile names", optarg);
      break;
    case OPT_RELAY_ONLY:
      o->relay_only = 1;
      break;
    case OPT_TURN:
      parse_host_port(optarg, o->turn_host, sizeof(o->turn_host), &o->turn_port, "--turn");
      break;
    case OPT_TURN_USER:
      o->turn_user = optarg;
      break;
    case OPT_TURN_PASS:
      o->turn_pass = optarg;
      break;
    case OPT_STUN:
      parse_host_port(optarg, o->stun_host, sizeof(o->stun_host), &o->stun_port, "--stun");
      break;
    case OPT_DATA:
      o->data = parse_uint(optarg, 0, 1000000, "--data");
      break;
    case OPT_CORRUPT_ECHO:
      o->corrupt_echo = parse_uint(optarg, 1, 1000000, "--test-corrupt-echo");
      break;
    case OPT_HELP:
      usage(stdout);
      exit(0);
    default:
      usage(stderr);
      exit(EXIT_USAGE);
    }
  }
  if (optind < argc)
    usage_error("unexpected argument %s", argv[optind]);
  if (o->offer == -1)
    usage_error("%s", "give --offer or --answer");
  if (o->relay_only && o->turn_host[0] == '\0')
    usage_error("%s", "--relay-only needs --turn");
  if (o->turn_host[0] != '\0' && (o->turn_user == NULL || o->turn_pass == NULL))
    usage_error("%s", "--turn needs --turn-user and --turn-pass");
  if (o->local_sdp == NULL && o->remote_sdp == NULL && isatty(STDIN_FILENO))
    fprintf(stderr, PROG ": reading the peer's SDP from the terminal\n");
  if (o->n_addresses == 0)
    o->addresses[o->n_addresses++] = "127.0.0.1";
}

/* ---- what the agent reports ------------------------------------------------ */

/* --data N: one data channel over the call's DTLS (see the top). */
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
  /* the count exchange (see the top of the file) */
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

/* Sends one control message; counts a failure (the caller resends). */
static void send_control(call *c, rtcsec_ice_agent *agent, const char *msg) {
  if (rtcsec_ice_send_data(agent, (const uint8_t *)msg, strlen(msg)) != RTCSEC_OK)
    c->data_send_errors++;
}

/* "done N" / "got K": a decimal count, nothing else. */
static int parse_count(const char *msg, size_t len, const char *word, uint64_t *out) {
  size_t wl = strlen(word);
  if (len <= wl + 1 || len > wl + 1 + 20 || memcmp(msg, word, wl) != 0 || msg[wl] != ' ')
    return -1;
  uint64_t v = 0;
  for (size_t i = wl + 1; i < len; i++) {
    if (msg[i] < '0' || msg[i] > '9' || v > (UINT64_MAX - 9) / 10)
      return -1;
    v = v * 10 + (uint64_t)(msg[i] - '0');
  }
  *out = v;
  return 0;
}

/* DTLS application data from the peer (under c->m). */
static void on_data(call *c, const uint8_t *data, size_t len) {
  uint64_t v;
  if (parse_count((const char *)data, len, "done", &v) == 0) {
    if (!c->got_done) {
      c->got_done = 1;
      c->peer_sent = v;
      c->done_at = g_get_monotonic_time();
    }
    /* A resent "done": our "got" was lost; answer again once decided. */
    if (c->receipt_final && c->agent != NULL) {
      char msg[32];
      snprintf(msg, sizeof(msg), "got %llu", (unsigned long long)c->receipt);
      send_control(c, c->agent, msg);
    }
  } else if (parse_count((const char *)data, len, "got", &v) == 0) {
    c->got_receipt = 1;
    c->peer_verified = v;
  } else if (c->d.dc != NULL) {
    rtcsec_dc_handle_datagram(c->d.dc, data, len, (uint64_t)g_get_monotonic_time());
  } else if (c->d.n > 0) {
    c->d.early++; /* SCTP before our association exists: SCTP repeats it */
  } else {
    c->data_unknown++;
  }
}

static void data_start(call *c, const rtcsec_connected_info *dtls);

static void on_event(void *user, const rtcsec_event *ev) {
  call *c = user;
  g_mutex_lock(&c->m);
  switch (ev->type) {
  case RTCSEC_EVENT_LOCAL_CANDIDATE:
    g_ptr_array_add(c->cands, g_strdup(ev->candidate));
    break;
  case RTCSEC_EVENT_GATHERING_DONE:
    c->gathering_done = 1;
    break;
  case RTCSEC_EVENT_CONNECTED:
    c->dtls_connected = 1;
    c->profile = ev->connected.profile;
    c->cipher = ev->connected.cipher;
    if (c->d.n > 0)
      data_start(c, &ev->connected);
    break;
  case RTCSEC_EVENT_FAILED:
    c->dtls_failed = 1;
    c->dtls_error = ev->failed.error;
    break;
  case RTCSEC_EVENT_CLOSED:
    c->dtls_closed = 1;
    break;
  case RTCSEC_EVENT_CONSENT_LOST:
    c->consent_lost = 1;
    break;
  case RTCSEC_EVENT_DATA:
    on_data(c, ev->data.data, ev->data.len);
    break;
  default:
    break;
  }
  g_cond_broadcast(&c->c);
  g_mutex_unlock(&c->m);
}

/* A packet as make_rtp() builds it: V=2, PT, length, the payload derived
 * from its sequence number. */
static int rtp_well_formed(rtcsec_packet_class kind, const uint8_t *b, size_t len) {
  if (kind != RTCSEC_PKT_RTP || len != 12 + RTP_PAYLOAD || b[0] != 0x80 || b[1] != RTP_PT)
    return 0;
  uint16_t seq = (uint16_t)(b[2] << 8 | b[3]);
  for (size_t i = 0; i < RTP_PAYLOAD; i++)
    if (b[12 + i] != (uint8_t)(seq ^ i))
      return 0;
  return 1;
}

/* Authenticated media from the peer: verified if well formed and from the
 * peer's one SSRC. SRTP's replay check (RFC 3711 §3.3.2) has already
 * dropped any second copy, so each verified packet is a distinct one. */
static void on_media(void *user, rtcsec_packet_class kind, uint8_t *buf, size_t len) {
  call *c = user;
  int ok = rtp_well_formed(kind, buf, len);
  uint32_t ssrc =
      ok ? (uint32_t)buf[8] << 24 | (uint32_t)buf[9] << 16 | (uint32_t)buf[10] << 8 | buf[11] : 0;
  g_mutex_lock(&c->m);
  c->rtp_received++;
  if (ok && !c->have_peer_ssrc) {
    c->have_peer_ssrc = 1;
    c->peer_ssrc = ssrc;
  }
  if (ok && ssrc == c->peer_ssrc)
    c->rtp_verified++;
  else
    c->rtp_bad++;
  g_cond_broadcast(&c->c);
  g_mutex_unlock(&c->m);
}

/* Waits until *flag (or *fail) is set, at most until `deadline` (monotonic
 * µs). Returns the flag. */
static int wait_flag(call *c, const int *flag, const int *fail, gint64 deadline) {
  g_mutex_lock(&c->m);
  while (!*flag && !(fail && *fail) && g_cond_wait_until(&c->c, &c->m, deadline)) {
  }
  int v = *flag;
  g_mutex_unlock(&c->m);
  return v;
}

/* ---- SDP fragments ----------------------------------------------------------- */

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

static void fragment_clear(fragment *f) {
  for (size_t i = 0; i < f->n_cands; i++)
    g_free(f->cands[i]);
  memset(f, 0, sizeof(*f));
}

/* Parses the peer's fragment; returns NULL or an error message (static). */
static const char *fragment_parse(fragment *f, const char *text) {
  memset(f, 0, sizeof(*f));
  const char *p = text;
  while (*p != '\0') {
    const char *nl = strchr(p, '\n');
    size_t len = nl ? (size_t)(nl - p) : strlen(p);
    const char *line = p;
    p = nl ? nl + 1 : p + len;
    while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' '))
      len--;
    if (len == 0)
      continue;
    rtcsec_sdp_attr kind;
    if (rtcsec_sdp_attr_identify(&kind, line, len) != RTCSEC_OK)
      return "a line that is not an SDP attribute";
    switch (kind) {
    case RTCSEC_SDP_ATTR_ICE_UFRAG:
      if (rtcsec_sdp_ice_ufrag_parse(&f->creds, line, len) != RTCSEC_OK)
        return "bad a=ice-ufrag";
      break;
    case RTCSEC_SDP_ATTR_ICE_PWD:
      if (rtcsec_sdp_ice_pwd_parse(&f->creds, line, len) != RTCSEC_OK)
        return "bad a=ice-pwd";
      break;
    case RTCSEC_SDP_ATTR_FINGERPRINT:
      if (f->n_fps == RTCSEC_DTLS_MAX_FINGERPRINTS)
        return "too many a=fingerprint lines";
      if (rtcsec_sdp_fingerprint_parse(&f->fps[f->n_fps], line, len) != RTCSEC_OK)
        return "bad a=fingerprint";
      f->n_fps++;
      break;
    case RTCSEC_SDP_ATTR_SETUP:
      if (rtcsec_sdp_setup_parse(&f->setup, line, len) != RTCSEC_OK)
        return "bad a=setup";
      f->has_setup = 1;
      break;
    case RTCSEC_SDP_ATTR_CANDIDATE:
      if (f->n_cands == MAX_REMOTE_CANDIDATES)
        return "too many a=candidate lines";
      f->cands[f->n_cands++] = g_strndup(line, len);
      break;
    case RTCSEC_SDP_ATTR_END_OF_CANDIDATES:
      f->end_of_candidates = 1;
      break;
    default:
      break; /* ice-options, ice-lite, anything else: not needed here */
    }
  }
  if (f->creds.ufrag[0] == '\0' || f->creds.pwd[0] == '\0')
    return "no a=ice-ufrag / a=ice-pwd";
  if (f->n_fps == 0)
    return "no a=fingerprint";
  if (!f->has_setup)
    return "no a=setup";
  if (!f->end_of_candidates)
    return "no a=end-of-candidates";
  return NULL;
}

static int has_end_line(const char *text) {
  for (const char *p = text; (p = strstr(p, "a=end-of-candidates")) != NULL; p++) {
    if (p == text || p[-1] == '\n')
      return 1;
  }
  return 0;
}

/* Reads the peer's fragment: from a file that is complete once it holds an
 * a=end-of-candidates line, or from stdin up to that line; bounded. */
static char *read_remote(const char *path, gint64 deadline) {
  if (path != NULL) {
    while (g_get_monotonic_time() < deadline) {
      gchar *text = NULL;
      gsize len = 0;
      if (g_file_get_contents(path, &text, &len, NULL)) {
        if (len > MAX_SDP_BYTES)
          die("%s: larger than %d bytes", path, MAX_SDP_BYTES);
        if (has_end_line(text))
          return text;
        g_free(text);
      }
      g_usleep(POLL_FILE_US);
    }
    die("%s: no complete SDP fragment (ending in a=end-of-candidates) in time", path);
  }
  GString *s = g_string_new(NULL);
  char buf[4096];
  for (;;) {
    gint64 left = deadline - g_get_monotonic_time();
    if (left <= 0)
      die("stdin: no complete SDP fragment in time");
    struct pollfd pfd = {STDIN_FILENO, POLLIN, 0};
    int n = poll(&pfd, 1, (int)(left / 1000) + 1);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      continue;
    ssize_t r = read(STDIN_FILENO, buf, sizeof(buf));
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      die("stdin: end of input before a=end-of-candidates");
    g_string_append_len(s, buf, r);
    if (s->len > MAX_SDP_BYTES)
      die("stdin: more than %d bytes of SDP", MAX_SDP_BYTES);
    if (has_end_line(s->str))
      return g_string_free(s, FALSE);
  }
}

/* Our fragment, once gathering is done. */
static char *fragment_format(rtcsec_ice_agent *agent, call *c, const rtcsec_fingerprint *fp,
                             rtcsec_sdp_setup setup) {
  rtcsec_sdp_ice_credentials creds;
  memset(&creds, 0, sizeof(creds));
  if (rtcsec_ice_get_local_credentials(agent, creds.ufrag, sizeof(creds.ufrag), creds.pwd,
                                       sizeof(creds.pwd)) != RTCSEC_OK)
    die("no local ICE credentials");
  char line[RTCSEC_SDP_MAX_LINE];
  GString *s = g_string_new(NULL);
  if (rtcsec_sdp_ice_ufrag_format(&creds, line, sizeof(line), NULL) != RTCSEC_OK)
    die("cannot format a=ice-ufrag");
  g_string_append_printf(s, "a=%s\r\n", line);
  if (rtcsec_sdp_ice_pwd_format(&creds, line, sizeof(line), NULL) != RTCSEC_OK)
    die("cannot format a=ice-pwd");
  g_string_append_printf(s, "a=%s\r\n", line);
  g_string_append(s, "a=ice-options:trickle\r\n");
  if (rtcsec_sdp_fingerprint_format(fp, line, sizeof(line), NULL) != RTCSEC_OK)
    die("cannot format a=fingerprint");
  g_string_append_printf(s, "a=%s\r\n", line);
  if (rtcsec_sdp_setup_format(setup, line, sizeof(line), NULL) != RTCSEC_OK)
    die("cannot format a=setup");
  g_string_append_printf(s, "a=%s\r\n", line);
  g_mutex_lock(&c->m);
  for (guint i = 0; i < c->cands->len; i++)
    g_string_append_printf(s, "a=%s\r\n", (const char *)g_ptr_array_index(c->cands, i));
  g_mutex_unlock(&c->m);
  g_string_append(s, "a=end-of-candidates\r\n");
  memset(creds.pwd, 0, sizeof(creds.pwd));
  return g_string_free(s, FALSE);
}

static void write_local(const char *path, const char *text) {
  if (path == NULL) {
    fputs(text, stdout);
    fflush(stdout);
    return;
  }
  /* Whole or not at all: the peer polls for the file. */
  gchar *tmp = g_strdup_printf("%s.tmp.%ld", path, (long)getpid());
  if (!g_file_set_contents(tmp, text, -1, NULL) || rename(tmp, path) != 0) {
    unlink(tmp);
    die("%s: cannot write: %s", path, strerror(errno));
  }
  g_free(tmp);
}

static void apply_remote(rtcsec_ice_agent *agent, const fragment *f) {
  /* all of the SDP's fingerprints at once (RFC 8122: any one may match) */
  int rc = rtcsec_ice_add_peer_fingerprints(agent, f->fps, f->n_fps);
  if (rc != RTCSEC_OK)
    die("peer fingerprint: %s", rtcsec_strerror(rc));
  rc = rtcsec_ice_set_remote_credentials(agent, f->creds.ufrag, f->creds.pwd);
  if (rc != RTCSEC_OK)
    die("remote credentials: %s", rtcsec_strerror(rc));
  for (size_t i = 0; i < f->n_cands; i++) {
    rc = rtcsec_ice_add_remote_candidate(agent, f->cands[i]);
    if (rc == RTCSEC_ERR_UNSUPPORTED)
      fprintf(stderr, PROG ": ignoring candidate (%s): %s\n", rtcsec_strerror(rc), f->cands[i]);
    else if (rc != RTCSEC_OK)
      die("remote candidate %s: %s", f->cands[i], rtcsec_strerror(rc));
  }
  rtcsec_ice_remote_end_of_candidates(agent);
}

/* ---- media ----------------------------------------------------------------- */

static size_t make_rtp(uint8_t *b, uint32_t ssrc, uint16_t seq, uint32_t ts) {
  b[0] = 0x80;
  b[1] = RTP_PT;
  b[2] = (uint8_t)(seq >> 8);
  b[3] = (uint8_t)seq;
  for (int i = 0; i < 4; i++) {
    b[4 + i] = (uint8_t)(ts >> (24 - 8 * i));
    b[8 + i] = (uint8_t)(ssrc >> (24 - 8 * i));
  }
  for (size_t i = 0; i < RTP_PAYLOAD; i++)
    b[12 + i] = (uint8_t)(seq ^ i);
  return 12 + RTP_PAYLOAD;
}

/* The association broke: DTLS failed or closed, or consent was lost
 * (under c->m). */
static int call_broken(const call *c) {
  return c->dtls_failed || c->dtls_closed || c->consent_lost;
}

/* Takes c->end (under c->m). */
static void take_end(call *c, rtcsec_ice_agent *agent) {
  c->end.dtls_failed = c->dtls_failed;
  c->end.dtls_error = c->dtls_error;
  c->end.dtls_closed = c->dtls_closed;
  c->end.consent_lost = c->consent_lost;
  c->end.verified = c->receipt_final ? c->receipt : c->rtp_verified;
  rtcsec_ice_get_stats(agent, &c->end.st);
}

/* After our media: "done" until the peer's "got", our own "got" once the
 * peer's packets are in, then a short linger to answer a resent "done".
 * Ends early if the association breaks; bounded by `deadline`. */
static void finish(call *c, rtcsec_ice_agent *agent, uint64_t sent, gint64 deadline) {
  char done[32];
  snprintf(done, sizeof(done), "done %llu", (unsigned long long)sent);
  gint64 next_done = 0, linger_until = 0;
  g_mutex_lock(&c->m);
  for (;;) {
    gint64 now = g_get_monotonic_time();
    if (now >= deadline || call_broken(c) || (linger_until != 0 && now >= linger_until))
      break;
    if (!c->got_receipt && now >= next_done) {
      send_control(c, agent, done);
      next_done = now + RESEND_US;
    }
    if (c->got_done && !c->receipt_final &&
        (c->rtp_verified >= c->peer_sent || now >= c->done_at + DRAIN_US)) {
      c->receipt_final = 1;
      c->receipt = c->rtp_verified;
      char got[32];
      snprintf(got, sizeof(got), "got %llu", (unsigned long long)c->receipt);
      send_control(c, agent, got);
    }
    if (c->got_receipt && c->receipt_final && linger_until == 0) {
      take_end(c, agent);
      linger_until = now + LINGER_US;
    }
    g_cond_wait_until(&c->c, &c->m, now + FINISH_POLL_US);
  }
  if (linger_until == 0)
    take_end(c, agent);
  g_mutex_unlock(&c->m);
}

/* Why the call is not ok, or NULL if it is: the first reason that applies
 * to c->end and the counters (under c->m). */
static const char *call_verdict(const call *c, uint64_t total, uint64_t sent, uint64_t send_errors,
                                int last_error, char *buf, size_t cap) {
  const rtcsec_ice_stats *st = &c->end.st;
  const rtcsec_srtp_direction_stats *in = &st->transport.srtp.inbound;
  if (c->end.dtls_failed)
    snprintf(buf, cap, "DTLS failed: %s", rtcsec_strerror(c->end.dtls_error));
  else if (c->end.dtls_closed)
    snprintf(buf, cap, "the peer closed the DTLS association");
  else if (c->end.consent_lost)
    snprintf(buf, cap, "ICE consent lost (RFC 7675)");
  else if (send_errors > 0)
    snprintf(buf, cap, "%llu of %llu RTP sends failed, last: %s", (unsigned long long)send_errors,
             (unsigned long long)total, rtcsec_strerror(last_error));
  else if (sent != total)
    snprintf(buf, cap, "sent %llu of %llu RTP packets", (unsigned long long)sent,
             (unsigned long long)total);
  else if (c->rtp_bad > 0)
    snprintf(buf, cap, "%llu packets from the peer failed verification",
             (unsigned long long)c->rtp_bad);
  else if (in->auth_failures > 0)
    snprintf(buf, cap, "%llu packets failed SRTP authentication",
             (unsigned long long)in->auth_failures);
  else if (!c->got_done)
    snprintf(buf, cap, "the peer never said how many packets it sent (verified %llu)",
             (unsigned long long)c->rtp_verified);
  else if (c->peer_sent == 0)
    snprintf(buf, cap, "the peer sent no media");
  else if (c->end.verified != c->peer_sent)
    snprintf(buf, cap, "verified %llu of the %llu packets the peer sent",
             (unsigned long long)c->end.verified, (unsigned long long)c->peer_sent);
  else if (!c->got_receipt)
    snprintf(buf, cap, "the peer never confirmed what it received");
  else if (c->peer_verified != sent)
    snprintf(buf, cap, "the peer verified %llu of the %llu packets we sent",
             (unsigned long long)c->peer_verified, (unsigned long long)sent);
  else if (st->transport.state != RTCSEC_DTLS_STATE_CONNECTED ||
           st->state != RTCSEC_ICE_STATE_CONNECTED)
    snprintf(buf, cap, "at the end DTLS is %s and ICE %s",
             rtcsec_dtls_state_name(st->transport.state), rtcsec_ice_state_name(st->state));
  else
    return NULL;
  return buf;
}

/* ---- data channels (--data N) ----------------------------------------------- */

/* Offerer: bytes sent and not echoed yet. Small enough that a burst fits
 * the peer's UDP receive buffer: RTP shares that socket and every RTP
 * packet must arrive. */
#define DATA_WINDOW (64u * 1024u)
/* SCTP must be up this long after DTLS (the peer may lack --data). */
#define DATA_UP_US (5 * G_USEC_PER_SEC)

/* Message i: its size (0 to 64 KiB; the edges first, then spread), type
 * (odd: binary) and bytes (strings: ASCII letters, valid UTF-8). */
static size_t data_size(unsigned i) {
  static const size_t edges[] = {0, 0, 1, 1, 1199, 16384, 16385, 65535, 65536};
  if (i < sizeof(edges) / sizeof(edges[0]))
    return edges[i];
  return (size_t)(((uint64_t)i * 2654435761u) % 65537u);
}

static uint8_t data_byte(unsigned i, size_t k) {
  uint8_t b = (uint8_t)(i * 31u + k * 7u + (k >> 8));
  return (i & 1) ? b : (uint8_t)('a' + b % 26);
}

static int data_check(unsigned i, const rtcsec_message_info *m) {
  if (m->len != data_size(i) || m->binary != (int)(i & 1))
    return 0;
  for (size_t k = 0; k < m->len; k++)
    if (m->data[k] != data_byte(i, k))
      return 0;
  return 1;
}

static int to_agent(void *user, const uint8_t *packet, size_t len, uint64_t now) {
  (void)now;
  return rtcsec_ice_send_data(((call *)user)->agent, packet, len);
}

static void on_wake(void *user) { g_cond_broadcast(&((call *)user)->c); }

/* DTLS is up (agent thread, under c->m): the association, and for the
 * offerer its channel. */
static void data_start(call *c, const rtcsec_connected_info *dtls) {
  data_run *d = &c->d;
  if (d->dc != NULL)
    return;
  rtcsec_dc_config cfg;
  rtcsec_dc_config_default(&cfg);
  cfg.dtls_role = dtls->role;
  cfg.remote_max_message_size = RTCSEC_DC_DEFAULT_MAX_MESSAGE_SIZE; /* rtcsec's */
  cfg.wake = on_wake;
  cfg.wake_user = c;
  uint64_t now = (uint64_t)g_get_monotonic_time();
  d->start_us = (gint64)now;
  int rc = rtcsec_dc_new(&d->dc, &cfg);
  if (rc == RTCSEC_OK && d->offerer) {
    rtcsec_dc_channel_config cc;
    rtcsec_dc_channel_config_default(&cc);
    cc.label = "rtcsec-call";
    rc = rtcsec_dc_open_channel(d->dc, &cc, &d->id, now);
  }
  if (rc == RTCSEC_OK)
    rc = rtcsec_dc_start(d->dc, dtls, now);
  if (rc != RTCSEC_OK) {
    d->failed = 1;
    d->error = rc;
  }
  g_cond_broadcast(&c->c);
}

static void data_message(call *c, const rtcsec_message_info *m, uint64_t now) {
  data_run *d = &c->d;
  unsigned i = (unsigned)d->received++;
  int ok = i < d->n && data_check(i, m);
  if (ok)
    d->verified++;
  else
    d->bad++;
  if (d->offerer) {
    d->inflight -= i < d->n ? data_size(i) : 0;
    if (d->received == d->n)
      d->done_us = (gint64)now;
    return;
  }
  /* The answerer sends it back as it came: same channel, type, bytes. */
  if (d->first_us == 0)
    d->first_us = (gint64)now;
  const uint8_t *echo = m->data;
  size_t len = m->len;
  if (i + 1 == d->corrupt) { /* TEST ONLY: one byte off, or one byte more */
    memcpy(d->buf, m->data, len);
    if (len > 0)
      d->buf[len - 1] ^= 0x01;
    else
      d->buf[len++] = 'x';
    echo = d->buf;
  }
  if (rtcsec_dc_send(d->dc, m->channel, echo, len, m->binary, now) == RTCSEC_OK)
    d->echoed++;
  else
    d->send_errors++;
  if (d->received == d->n)
    d->done_us = (gint64)now;
}

/* One turn (under c->m): timers, events, the offerer's next messages,
 * packets out. */
static void data_step(call *c) {
  data_run *d = &c->d;
  uint64_t now = (uint64_t)g_get_monotonic_time();
  if (rtcsec_dc_deadline(d->dc) <= now)
    rtcsec_dc_handle_timeout(d->dc, now);
  rtcsec_event ev;
  while (rtcsec_dc_poll_event(d->dc, &ev) == RTCSEC_OK && ev.type != RTCSEC_EVENT_NONE) {
    if (ev.type == RTCSEC_EVENT_CONNECTED) {
      d->up = 1;
    } else if (ev.type == RTCSEC_EVENT_CHANNEL_OPEN) {
      d->channel_open = 1;
      d->id = ev.channel.id;
    } else if (ev.type == RTCSEC_EVENT_CHANNEL_CLOSED) {
      d->channel_open = 0;
    } else if (ev.type == RTCSEC_EVENT_MESSAGE) {
      data_message(c, &ev.message, now);
    } else if (ev.type == RTCSEC_EVENT_CLOSED) {
      d->closed = 1;
    } else if (ev.type == RTCSEC_EVENT_FAILED) {
      d->failed = 1;
      d->error = ev.failed.error;
    }
  }
  while (d->offerer && d->channel_open && d->sent < d->n && d->inflight < DATA_WINDOW) {
    unsigned i = (unsigned)d->sent;
    size_t len = data_size(i);
    for (size_t k = 0; k < len; k++)
      d->buf[k] = data_byte(i, k);
    int rc = rtcsec_dc_send(d->dc, d->id, d->buf, len, (int)(i & 1), now);
    if (rc == RTCSEC_ERR_DC_BUFFER_FULL)
      break;
    if (rc != RTCSEC_OK) {
      d->send_errors++;
      break;
    }
    if (d->sent++ == 0)
      d->first_us = (gint64)now;
    d->inflight += len;
    d->bytes += len;
  }
  rtcsec_dc_pump(d->dc, to_agent, c, now);
}

/* Drives the association on its own thread until stopped. */
static gpointer data_thread(gpointer user) {
  call *c = user;
  g_mutex_lock(&c->m);
  while (!c->d.stop) {
    gint64 now = g_get_monotonic_time(), until = now + 50000;
    if (c->d.dc != NULL) {
      data_step(c);
      uint64_t dl = rtcsec_dc_deadline(c->d.dc);
      if (dl < (uint64_t)until)
        until = (gint64)dl > now ? (gint64)dl : now + 1000;
    }
    g_cond_wait_until(&c->c, &c->m, until);
  }
  g_mutex_unlock(&c->m);
  return NULL;
}

/* After our media: until every message is through, the association ended
 * or the call broke, SCTP did not come up in DATA_UP_US, at most until
 * `deadline`. */
static void data_wait(call *c, gint64 deadline) {
  g_mutex_lock(&c->m);
  for (;;) {
    gint64 now = g_get_monotonic_time();
    const data_run *d = &c->d;
    if (d->received >= d->n || d->failed || d->closed || call_broken(c) || now >= deadline ||
        (!d->up && d->start_us != 0 && now >= d->start_us + DATA_UP_US))
      break;
    g_cond_wait_until(&c->c, &c->m, now + FINISH_POLL_US * 10);
  }
  g_mutex_unlock(&c->m);
}

/* Why the data part is not ok, or NULL (under c->m). */
static const char *data_verdict(const call *c, char *buf, size_t cap) {
  const data_run *d = &c->d;
  if (d->failed)
    snprintf(buf, cap, "data channel: %s", rtcsec_strerror(d->error));
  else if (!d->up)
    snprintf(buf, cap, "data channel: SCTP never came up (did the peer get --data?)");
  else if (d->send_errors > 0)
    snprintf(buf, cap, "data channel: %llu sends failed", (unsigned long long)d->send_errors);
  else if (d->received != d->n || d->verified != d->n)
    snprintf(buf, cap, "data channel: %llu of %u messages %s byte-identical (%llu differ)",
             (unsigned long long)d->verified, d->n, d->offerer ? "came back" : "arrived",
             (unsigned long long)d->bad);
  else
    return NULL;
  return buf;
}

static void data_report(const call *c) {
  const data_run *d = &c->d;
  double secs = d->done_us > d->first_us ? (double)(d->done_us - d->first_us) / 1e6 : 0;
  fprintf(report, "data_messages: %u\n", d->n);
  fprintf(report, "data_sent: %llu\n", (unsigned long long)(d->offerer ? d->sent : d->echoed));
  fprintf(report, "data_received: %llu\n", (unsigned long long)d->received);
  fprintf(report, "data_verified: %llu\n", (unsigned long long)d->verified);
  fprintf(report, "data_bad: %llu\n", (unsigned long long)d->bad);
  if (d->offerer)
    fprintf(report, "data_round_trip: %llu bytes in %.3f s (%.2f MB/s each way)\n",
            (unsigned long long)d->bytes, secs, secs > 0 ? (double)d->bytes / 1e6 / secs : 0.0);
}

/* ---- main ------------------------------------------------------------------ */

static double ms(uint64_t us) { return us / 1000.0; }

int main(int argc, char **argv) {
  options o;
  parse_options(argc, argv, &o);
  report = o.local_sdp == NULL ? stderr : stdout;
  gint64 start = g_get_monotonic_time();
  gint64 deadline = start + (gint64)o.timeout_s * G_USEC_PER_SEC;
  if (o.local_sdp != NULL)
    unlink(o.local_sdp); /* never let the peer read a previous run's file */

  rtcsec_cert *cert = NULL;
  rtcsec_cert_config cc;
  rtcsec_cert_config_default(&cc);
  if (rtcsec_cert_generate(&cert, &cc) != RTCSEC_OK)
    die("cannot generate a certificate");
  rtcsec_fingerprint fp;
  rtcsec_cert_fingerprint(cert, RTCSEC_HASH_SHA256, &fp);

  call c;
  memset(&c, 0, sizeof(c));
  g_mutex_init(&c.m);
  g_cond_init(&c.c);
  c.cands = g_ptr_array_new_with_free_func(g_free);
  c.d.n = o.data;
  c.d.offerer = o.offer;
  c.d.corrupt = o.corrupt_echo;
  if (o.data > 0)
    c.d.thread = g_thread_new("rtcsec-call data", data_thread, &c);

  rtcsec_ice_config cfg;
  rtcsec_ice_config_default(&cfg);
  cfg.role = o.offer ? RTCSEC_ICE_CONTROLLING : RTCSEC_ICE_CONTROLLED;
  for (size_t i = 0; i < o.n_addresses; i++)
    cfg.local_addresses[i] = o.addresses[i];
  cfg.n_local_addresses = o.n_addresses;
  if (o.turn_host[0] != '\0') {
    cfg.turn_server = o.turn_host;
    cfg.turn_port = o.turn_port;
    cfg.turn_username = o.turn_user;
    cfg.turn_password = o.turn_pass;
  }
  cfg.relay_only = o.relay_only;
  if (o.stun_host[0] != '\0') {
    cfg.stun_server = o.stun_host;
    cfg.stun_port = o.stun_port;
  }
  cfg.transport.dtls.cert = cert;
  memcpy(cfg.transport.dtls.profiles, o.profiles, sizeof(o.profiles));
  cfg.transport.dtls.n_profiles = o.n_profiles;
  cfg.on_event = on_event;
  cfg.on_media = on_media;
  cfg.user = &c;

  fragment remote;
  memset(&remote, 0, sizeof(remote));
  rtcsec_sdp_setup local_setup = RTCSEC_SDP_SETUP_ACTPASS;
  rtcsec_dtls_role dtls_role = RTCSEC_DTLS_SERVER;
  if (!o.offer) {
    /* The answerer reads the offer first: its a=setup decides our role
     * (RFC 8842 §5.3: actpass -> we answer active and are the client). */
    char *text = read_remote(o.remote_sdp, deadline);
    const char *err = fragment_parse(&remote, text);
    g_free(text);
    if (err != NULL)
      die("offer: %s", err);
    int rc = rtcsec_sdp_setup_answer(remote.setup, RTCSEC_SDP_SETUP_ACTPASS, &local_setup);
    if (rc == RTCSEC_OK)
      rc = rtcsec_sdp_setup_dtls_role(local_setup, &dtls_role);
    if (rc != RTCSEC_OK)
      die("offer a=setup:%s: %s", rtcsec_sdp_setup_name(remote.setup), rtcsec_strerror(rc));
  }
  cfg.transport.dtls.role = dtls_role;

  rtcsec_ice_agent *agent = NULL;
  int rc = rtcsec_ice_agent_new(&agent, &cfg);
  if (rc != RTCSEC_OK)
    die("cannot create the ICE agent: %s", rtcsec_strerror(rc));
  g_mutex_lock(&c.m);
  c.agent = agent;
  g_mutex_unlock(&c.m);
  if (!o.offer)
    apply_remote(agent, &remote); /* held until gathering has started */
  if ((rc = rtcsec_ice_gather(agent)) != RTCSEC_OK)
    die("gathering: %s", rtcsec_strerror(rc));
  if (!wait_flag(&c, &c.gathering_done, NULL, deadline))
    die("gathering did not finish in time");
  char *local = fragment_format(agent, &c, &fp, local_setup);
  write_local(o.local_sdp, local);
  g_free(local);

  if (o.offer) {
    char *text = read_remote(o.remote_sdp, deadline);
    const char *err = fragment_parse(&remote, text);
    g_free(text);
    if (err != NULL)
      die("answer: %s", err);
    /* RFC 8842 §5.3: we said actpass; the answer's active makes us the
     * server, passive the client. */
    rc = rtcsec_sdp_setup_dtls_role_from_remote(remote.setup, &dtls_role);
    if (rc == RTCSEC_OK)
      rc = rtcsec_ice_set_dtls_role(agent, dtls_role);
    if (rc != RTCSEC_OK)
      die("answer a=setup:%s: %s", rtcsec_sdp_setup_name(remote.setup), rtcsec_strerror(rc));
    apply_remote(agent, &remote);
  }

  if (!wait_flag(&c, &c.dtls_connected, &c.dtls_failed, deadline)) {
    rtcsec_ice_stats st;
    rtcsec_ice_get_stats(agent, &st);
    die("not connected in time: ICE %s, DTLS %s%s%s", rtcsec_ice_state_name(st.state),
        rtcsec_dtls_state_name(st.transport.state), c.dtls_failed ? ": " : "",
        c.dtls_failed ? rtcsec_strerror(c.dtls_error) : "");
  }

  /* Media at a steady rate for the duration. */
  uint32_t ssrc = g_random_int() | 1u;
  uint16_t seq = (uint16_t)g_random_int();
  uint32_t ts = g_random_int();
  uint64_t total = (uint64_t)o.duration_s * o.rate, sent = 0, send_errors = 0;
  int last_error = 0;
  gint64 media_start = g_get_monotonic_time();
  uint8_t buf[MEDIA_BUF];
  for (uint64_t i = 0; i < total; i++) {
    gint64 due = media_start + (gint64)(i * G_USEC_PER_SEC / o.rate);
    gint64 now = g_get_monotonic_time();
    if (due > now)
      g_usleep((gulong)(due - now));
    g_mutex_lock(&c.m);
    int broken = call_broken(&c);
    g_mutex_unlock(&c.m);
    if (broken)
      break; /* nothing more can arrive: say so now, not after the duration */
    size_t len = make_rtp(buf, ssrc, (uint16_t)(seq + i), ts + (uint32_t)i * RTP_CLOCK_STEP);
    rc = rtcsec_ice_send_rtp(agent, buf, len, sizeof(buf));
    if (rc == RTCSEC_OK) {
      sent++;
    } else {
      send_errors++;
      last_error = rc;
    }
  }
  if (o.data > 0)
    data_wait(&c, g_get_monotonic_time() + (gint64)o.timeout_s * G_USEC_PER_SEC);
  finish(&c, agent, sent, g_get_monotonic_time() + (gint64)o.timeout_s * G_USEC_PER_SEC);

  rtcsec_ice_stats st;
  rtcsec_ice_get_stats(agent, &st);
  g_mutex_lock(&c.m);
  char why[200];
  const char *failure = call_verdict(&c, total, sent, send_errors, last_error, why, sizeof(why));
  /* The data part's reason comes first unless the association itself
   * broke: waiting for it is what can make the count exchange late. */
  char dwhy[200];
  if (o.data > 0 && data_verdict(&c, dwhy, sizeof(dwhy)) != NULL &&
      !(c.end.dtls_failed || c.end.dtls_closed || c.end.consent_lost)) {
    snprintf(why, sizeof(why), "%s", dwhy);
    failure = why;
  }
  rtcsec_dtls_state end_state = c.end.st.transport.state;
  uint64_t received = c.rtp_received, verified = c.rtp_verified, bad = c.rtp_bad;
  int got_done = c.got_done, got_receipt = c.got_receipt;
  uint64_t peer_sent = c.peer_sent, peer_verified = c.peer_verified;
  uint64_t data_send_errors = c.data_send_errors, data_unknown = c.data_unknown;
  g_mutex_unlock(&c.m);
  const rtcsec_srtp_direction_stats *in = &st.transport.srtp.inbound;
  fprintf(report, "role: %s (ICE %s, DTLS %s, a=setup:%s)\n", o.offer ? "offer" : "answer",
          o.offer ? "controlling" : "controlled",
          st.transport.role == RTCSEC_DTLS_CLIENT ? "client" : "server",
          rtcsec_sdp_setup_name(local_setup));
  /* From the program's start (the answerer creates its agent only once the
   * offer is in); 0 for what never happened. */
  uint64_t created = st.start_us > (uint64_t)start ? st.start_us - (uint64_t)start : 0;
  fprintf(report, "agent_created_ms: %.1f\n", ms(created));
  fprintf(report, "ice_connected_ms: %.1f\n",
          ms(st.ice_connected_us ? created + st.ice_connected_us : 0));
  fprintf(report, "dtls_connected_ms: %.1f\n",
          ms(st.dtls_connected_us ? created + st.dtls_connected_us : 0));
  fprintf(report, "first_media_ms: %.1f\n",
          ms(st.first_media_us ? created + st.first_media_us : 0));
  fprintf(report, "selected_pair: %s %s:%u -> %s %s:%u %s\n", st.pair.local_type,
          st.pair.local_address, st.pair.local_port, st.pair.remote_type, st.pair.remote_address,
          st.pair.remote_port, st.pair.protocol);
  fprintf(report, "dtls: %s %s\n", st.transport.dtls_version, st.transport.dtls_cipher);
  fprintf(report, "profile: %s\n", rtcsec_srtp_profile_name(st.transport.profile));
  fprintf(report, "rtp_sent: %llu\n", (unsigned long long)sent);
  fprintf(report, "rtp_received: %llu\n", (unsigned long long)received);
  fprintf(report, "rtp_verified: %llu\n", (unsigned long long)verified);
  if (got_done)
    fprintf(report, "peer_sent: %llu\n", (unsigned long long)peer_sent);
  else
    fprintf(report, "peer_sent: unknown\n");
  if (got_receipt)
    fprintf(report, "peer_verified: %llu\n", (unsigned long long)peer_verified);
  else
    fprintf(report, "peer_verified: unknown\n");
  fprintf(report, "auth_failures: %llu\n", (unsigned long long)in->auth_failures);
  fprintf(report, "replay_drops: %llu\n", (unsigned long long)in->replay_drops);
  fprintf(report, "dropped_before_keys: %llu\n", (unsigned long long)st.transport.drop_no_keys);
  fprintf(report, "bad_media: %llu\n", (unsigned long long)bad);
  fprintf(report, "send_errors: %llu%s%s\n", (unsigned long long)send_errors,
          send_errors ? " last: " : "", send_errors ? rtcsec_strerror(last_error) : "");
  fprintf(report, "control_send_errors: %llu\n", (unsigned long long)data_send_errors);
  fprintf(report, "control_unknown: %llu\n", (unsigned long long)data_unknown);
  /* When the counts were agreed (or the exchange gave up). */
  fprintf(report, "dtls_state: %s\n", rtcsec_dtls_state_name(end_state));
  if (o.data > 0) {
    g_mutex_lock(&c.m);
    data_report(&c);
    g_mutex_unlock(&c.m);
  }
  int ok = failure == NULL;
  if (ok)
    fprintf(report, "result: ok\n");
  else
    fprintf(report, "result: failed (%s)\n", failure);
  fflush(report);

  g_mutex_lock(&c.m);
  c.agent = NULL; /* no more answers from the callback */
  c.d.stop = 1;
  g_cond_broadcast(&c.c);
  g_mutex_unlock(&c.m);
  if (c.d.thread != NULL)
    g_thread_join(c.d.thread);
  g_mutex_lock(&c.m);
  rtcsec_dc_free(c.d.dc); /* sends nothing; late SCTP is dropped (on_data) */
  c.d.dc = NULL;
  g_mutex_unlock(&c.m);
  rtcsec_ice_agent_free(agent);
  fragment_clear(&remote);
  g_ptr_array_free(c.cands, TRUE);
  g_mutex_clear(&c.m);
  g_cond_clear(&c.c);
  rtcsec_cert_free(cert);
  return ok ? 0 : 1;
}
