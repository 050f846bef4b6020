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
 *
 * This file holds the options and main; tools/call/app.h lists the other
 * files and their jobs.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "call/app.h"

/* ---- options --------------------------------------------------------------- */

FILE *report; /* stdout, or stderr when stdout carries SDP */

void die(const char *fmt, ...) {
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

/* The reason, then the whole usage text, and exit 2. Not tool_usage_error():
 * that one prints "Try 'PROG --help'." instead, and rtcsec-call has always
 * answered a usage error with its usage. */
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

/* tool_parse_ulong(), or a usage error naming the option. */
static unsigned parse_uint(const char *s, unsigned min, unsigned max, const char *opt) {
  unsigned long v;
  if (tool_parse_ulong(s, min, max, &v) != 0)
    usage_error("%s %s: expected a number in %u..%u", opt, s, min, max);
  return (unsigned)v;
}

/* "a.b.c.d:port" or "[v6]:port", numeric only (tools/util.h), or a usage
 * error naming the option. */
static void parse_ip_port(const char *s, char *host, size_t cap, uint16_t *port, const char *opt) {
  if (tool_parse_host_port(s, host, cap, port, 0) != 0 || !tool_is_ip_address(host))
    usage_error("%s %s: expected IP:PORT (numeric address)", opt, s);
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
      if (!tool_is_ip_address(optarg))
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
      parse_ip_port(optarg, o->turn_host, sizeof(o->turn_host), &o->turn_port, "--turn");
      break;
    case OPT_TURN_USER:
      o->turn_user = optarg;
      break;
    case OPT_TURN_PASS:
      o->turn_pass = optarg;
      break;
    case OPT_STUN:
      parse_ip_port(optarg, o->stun_host, sizeof(o->stun_host), &o->stun_port, "--stun");
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

/* ---- main ------------------------------------------------------------------ */

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
  media_sent ms;
  media_send(&c, agent, &o, &ms);
  if (o.data > 0)
    data_wait(&c, g_get_monotonic_time() + (gint64)o.timeout_s * G_USEC_PER_SEC);
  finish(&c, agent, ms.sent, g_get_monotonic_time() + (gint64)o.timeout_s * G_USEC_PER_SEC);
  int ok = call_report(&c, agent, &o, &ms, local_setup, start);

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
