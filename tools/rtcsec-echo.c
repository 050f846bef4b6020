/* rtcsec-echo: a browser's camera and microphone, back through rtcsec.
 *
 * One program serves a web page and its signalling over HTTP (libsoup 3, on
 * the same GLib main loop as the calls) and answers WebRTC calls: each
 * call's plaintext RTP and RTCP are rewritten into rtcsec's own SSRCs and
 * payload types (tools/echo/rtp_echo.h says exactly what is translated) and
 * protected again with rtcsec's outbound keys. Nothing is decoded.
 *
 * Two back-ends carry the calls: by default one rtcsec_ice_agent (libnice,
 * full ICE) per call; with --single-port ADDR:PORT every call shares one
 * UDP socket and one rtcsec_router (ICE-lite, the SFU shape). The files
 * and their jobs are listed in tools/echo/app.h; this one holds the
 * options, start-up and shutdown.
 */
#include <errno.h>
#include <getopt.h>
#include <gio/gio.h>
#include <glib-unix.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "echo/app.h"
#include "util.h"

#define EXIT_USAGE 2
#define DEFAULT_LISTEN "127.0.0.1:8080"
#define MAX_EXIT_AFTER 86400

static gint64 log_start_us;

void echo_log(const char *fmt, ...) {
  double t = (double)(g_get_monotonic_time() - log_start_us) / 1e6;
  fprintf(stderr, PROG " [%8.3f] ", t);
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

/* ---- options ------------------------------------------------------------------- */

static void usage(FILE *out) {
  fprintf(out,
          "usage: " PROG " [options]\n"
          "\n"
          "Serves a web page that sends the browser's camera and microphone to rtcsec\n"
          "and shows them coming back through rtcsec's ICE, DTLS and SRTP.\n"
          "Open http://ADDR:PORT/?dtls=client (the browser offers, rtcsec is the DTLS\n"
          "client) or /?dtls=server (rtcsec offers and is the DTLS server).\n"
          "\n"
          "  -l, --listen ADDR:PORT     HTTP address (default " DEFAULT_LISTEN "; port 0 picks\n"
          "                             one; IPv6 as [ADDR]:PORT)\n"
          "  -a, --ice-address ADDR     gather host candidates on this address only\n"
          "                             (repeatable, up to %d; default: libnice's choice\n"
          "                             of interfaces, which skips loopback)\n"
          "      --port-range MIN-MAX   UDP ports for ICE candidates\n"
          "  -p, --profiles LIST        SRTP profiles in preference order, comma or colon\n"
          "                             separated (default: rtcsec's, AEAD first)\n"
          "      --stun ADDR:PORT       STUN server (IP address) for srflx candidates\n"
          "      --turn ADDR:PORT       TURN server (IP address) for relay candidates,\n"
          "      --turn-user USER       with these credentials\n"
          "      --turn-pass PASS\n"
          "      --single-port ADDR:PORT\n"
          "                             SFU mode: every call on this one UDP port, rtcsec\n"
          "                             an ICE-lite agent with the one host candidate\n"
          "                             ADDR PORT (an IP address, not a wildcard; port 0\n"
          "                             picks one); no libnice, so none of -a,\n"
          "                             --port-range, --stun, --turn\n"
          "      --no-dtls13            answer with DTLS 1.2 only (by default a browser that\n"
          "                             offers DTLS 1.3 gets it when rtcsec is the DTLS\n"
          "                             server; as DTLS client rtcsec speaks 1.2)\n"
          "      --no-mlkem             DTLS 1.3 without the post-quantum X25519MLKEM768\n"
          "                             key exchange (by default taken first when the\n"
          "                             browser sends its share): x25519\n"
          "  -r, --report FILE          append each report the page POSTs to /report as\n"
          "                             one JSON line\n"
          "      --exit-after SECONDS   stop after this long (for bounded test runs)\n"
          "      --test-wrong-fingerprint\n"
          "                             TEST ONLY: expect a wrong fingerprint from every\n"
          "                             browser, so every DTLS association is refused\n"
          "      --test-drop-video N    TEST ONLY: do not send every Nth echoed video\n"
          "                             packet the first time (2..1000), so that the\n"
          "                             browser NACKs it and it is resent from the cache\n"
          "      --test-corrupt-echo N  TEST ONLY: alter the Nth data-channel message each\n"
          "                             call echoes (its last byte; the next one if the Nth\n"
          "                             is empty), so the page must see it\n"
          "  -h, --help                 this text\n",
          RTCSEC_ICE_MAX_LOCAL_ADDRESSES);
}

#define usage_error(...) tool_usage_error(PROG, __VA_ARGS__)

static int parse_host_port(const char *s, host_port *out, int allow_zero) {
  return tool_parse_host_port(s, out->host, sizeof(out->host), &out->port, allow_zero);
}

enum {
  OPT_PORT_RANGE = 256,
  OPT_STUN,
  OPT_TURN,
  OPT_TURN_USER,
  OPT_TURN_PASS,
  OPT_EXIT_AFTER,
  OPT_WRONG_FP,
  OPT_DROP_VIDEO,
  OPT_SINGLE_PORT,
  OPT_CORRUPT_ECHO,
  OPT_NO_DTLS13,
  OPT_NO_MLKEM,
};

static int parse_options(int argc, char **argv, echo_options *o, int *help) {
  static const struct option longopts[] = {
      {"listen", required_argument, NULL, 'l'},
      {"ice-address", required_argument, NULL, 'a'},
      {"port-range", required_argument, NULL, OPT_PORT_RANGE},
      {"profiles", required_argument, NULL, 'p'},
      {"stun", required_argument, NULL, OPT_STUN},
      {"turn", required_argument, NULL, OPT_TURN},
      {"turn-user", required_argument, NULL, OPT_TURN_USER},
      {"turn-pass", required_argument, NULL, OPT_TURN_PASS},
      {"report", required_argument, NULL, 'r'},
      {"exit-after", required_argument, NULL, OPT_EXIT_AFTER},
      {"test-wrong-fingerprint", no_argument, NULL, OPT_WRONG_FP},
      {"test-drop-video", required_argument, NULL, OPT_DROP_VIDEO},
      {"single-port", required_argument, NULL, OPT_SINGLE_PORT},
      {"test-corrupt-echo", required_argument, NULL, OPT_CORRUPT_ECHO},
      {"no-dtls13", no_argument, NULL, OPT_NO_DTLS13},
      {"no-mlkem", no_argument, NULL, OPT_NO_MLKEM},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  memset(o, 0, sizeof(*o));
  parse_host_port(DEFAULT_LISTEN, &o->listen, 1);
  *help = 0;
  int c;
  unsigned long v;
  while ((c = getopt_long(argc, argv, "l:a:p:r:h", longopts, NULL)) != -1) {
    switch (c) {
    case 'l':
      if (parse_host_port(optarg, &o->listen, 1) != 0) {
        usage_error("--listen '%s': expected ADDR:PORT", optarg);
        return EXIT_USAGE;
      }
      break;
    case 'a': {
      if (o->n_ice_addresses == RTCSEC_ICE_MAX_LOCAL_ADDRESSES) {
        usage_error("at most %d --ice-address options", RTCSEC_ICE_MAX_LOCAL_ADDRESSES);
        return EXIT_USAGE;
      }
      GInetAddress *ia = g_inet_address_new_from_string(optarg);
      if (ia == NULL) {
        usage_error("--ice-address '%s': not an IP address", optarg);
        return EXIT_USAGE;
      }
      g_object_unref(ia);
      o->ice_addresses[o->n_ice_addresses++] = optarg;
      break;
    }
    case OPT_PORT_RANGE: {
      char *dash = strchr(optarg, '-');
      unsigned long lo, hi;
      if (dash == NULL) {
        usage_error("--port-range '%s': expected MIN-MAX", optarg);
        return EXIT_USAGE;
      }
      *dash = '\0';
      int bad =
          tool_parse_ulong(optarg, 1, 65535, &lo) != 0 || tool_parse_ulong(dash + 1, 1, 65535, &hi);
      *dash = '-';
      if (bad || lo > hi) {
        usage_error("--port-range '%s': expected MIN-MAX with 1 <= MIN <= MAX <= 65535", optarg);
        return EXIT_USAGE;
      }
      o->port_min = (uint16_t)lo;
      o->port_max = (uint16_t)hi;
      break;
    }
    case 'p': {
      int rc = rtcsec_srtp_profile_list_parse(optarg, o->profiles, RTCSEC_SRTP_MAX_PROFILES,
                                              &o->n_profiles);
      if (rc != 0) {
        usage_error("--profiles '%s': %s", optarg, rtcsec_strerror(rc));
        return EXIT_USAGE;
      }
      for (size_t i = 0; i < o->n_profiles; i++)
        if (!rtcsec_srtp_profile_supported(o->profiles[i])) {
          usage_error("--profiles: %s is not supported by this libsrtp2",
                      rtcsec_srtp_profile_name(o->profiles[i]));
          return EXIT_USAGE;
        }
      break;
    }
    case OPT_STUN:
    case OPT_TURN: {
      host_port *hp = c == OPT_STUN ? &o->stun : &o->turn;
      GInetAddress *ia = NULL;
      if (parse_host_port(optarg, hp, 0) != 0 ||
          (ia = g_inet_address_new_from_string(hp->host)) == NULL) {
        usage_error("--%s '%s': expected IP-ADDRESS:PORT", c == OPT_STUN ? "stun" : "turn", optarg);
        return EXIT_USAGE;
      }
      g_object_unref(ia);
      if (c == OPT_STUN)
        o->has_stun = 1;
      else
        o->has_turn = 1;
      break;
    }
    case OPT_TURN_USER:
      o->turn_user = optarg;
      break;
    case OPT_TURN_PASS:
      o->turn_pass = optarg;
      break;
    case 'r':
      o->report_path = optarg;
      break;
    case OPT_EXIT_AFTER:
      if (tool_parse_ulong(optarg, 1, MAX_EXIT_AFTER, &v) != 0) {
        usage_error("--exit-after '%s': expected 1..%d seconds", optarg, MAX_EXIT_AFTER);
        return EXIT_USAGE;
      }
      o->exit_after = (unsigned)v;
      break;
    case OPT_WRONG_FP:
      o->wrong_fingerprint = 1;
      break;
    case OPT_NO_DTLS13:
      o->no_dtls13 = 1;
      break;
    case OPT_NO_MLKEM:
      o->no_mlkem = 1;
      break;
    case OPT_SINGLE_PORT: {
      GInetAddress *ia = NULL;
      if (parse_host_port(optarg, &o->single_port, 1) != 0 ||
          (ia = g_inet_address_new_from_string(o->single_port.host)) == NULL) {
        usage_error("--single-port '%s': expected IP-ADDRESS:PORT", optarg);
        return EXIT_USAGE;
      }
      /* The address is the candidate the browser sends its checks to. */
      int any = g_inet_address_get_is_any(ia);
      g_object_unref(ia);
      if (any) {
        usage_error("--single-port '%s': a wildcard address cannot be an ICE candidate; "
                    "give the address the browser can reach",
                    optarg);
        return EXIT_USAGE;
      }
      o->has_single_port = 1;
      break;
    }
    case OPT_CORRUPT_ECHO:
      if (tool_parse_ulong(optarg, 1, 1000000, &v) != 0) {
        usage_error("--test-corrupt-echo '%s': expected 1..1000000", optarg);
        return EXIT_USAGE;
      }
      o->corrupt_echo = (unsigned)v;
      break;
    case OPT_DROP_VIDEO:
      if (tool_parse_ulong(optarg, 2, 1000, &v) != 0) {
        usage_error("--test-drop-video '%s': expected 2..1000", optarg);
        return EXIT_USAGE;
      }
      o->drop_video = (unsigned)v;
      break;
    case 'h':
      *help = 1;
      return 0;
    default:
      usage_error("unknown option");
      return EXIT_USAGE;
    }
  }
  if (optind < argc) {
    usage_error("unexpected argument '%s'", argv[optind]);
    return EXIT_USAGE;
  }
  if (o->has_single_port && (o->n_ice_addresses || o->port_min || o->has_stun || o->has_turn)) {
    usage_error("--single-port runs its own ICE-lite responder on one port: "
                "-a, --port-range, --stun and --turn do not apply");
    return EXIT_USAGE;
  }
  if (o->has_turn && (o->turn_user == NULL || o->turn_pass == NULL)) {
    usage_error("--turn needs --turn-user and --turn-pass");
    return EXIT_USAGE;
  }
  return 0;
}

/* ---- main --------------------------------------------------------------------- */

static gboolean on_quit_signal(gpointer user) {
  echo_app *app = user;
  echo_log("%s", "signal: stopping");
  g_main_loop_quit(app->loop);
  return G_SOURCE_CONTINUE;
}

static gboolean on_exit_after(gpointer user) {
  echo_app *app = user;
  echo_log("--exit-after %u s reached: stopping", app->opt.exit_after);
  g_main_loop_quit(app->loop);
  return G_SOURCE_REMOVE;
}

int main(int argc, char **argv) {
  static echo_app app; /* large: sessions are separate allocations */
  int help = 0;
  log_start_us = g_get_monotonic_time();
  setvbuf(stdout, NULL, _IOLBF, 0);
  int rc = parse_options(argc, argv, &app.opt, &help);
  if (rc != 0)
    return rc;
  if (help) {
    usage(stdout);
    return 0;
  }
  if (app.opt.wrong_fingerprint) {
    for (int i = 0; i < 3; i++)
      fprintf(stderr, PROG ": WARNING: --test-wrong-fingerprint: every browser's fingerprint is "
                           "altered; every DTLS association WILL BE REFUSED (test only)\n");
  }
  if (app.opt.corrupt_echo)
    fprintf(stderr,
            PROG ": WARNING: --test-corrupt-echo %u: the %uth data-channel message of each call "
                 "is echoed ALTERED (test only)\n",
            app.opt.corrupt_echo, app.opt.corrupt_echo);
  if (app.opt.drop_video)
    fprintf(stderr,
            PROG ": WARNING: --test-drop-video %u: every %uth echoed video packet is dropped "
                 "on its first send (test only)\n",
            app.opt.drop_video, app.opt.drop_video);
  if (rtcsec_init() != 0) {
    fprintf(stderr, PROG ": rtcsec_init failed\n");
    return 1;
  }
  rtcsec_cert_config cc;
  rtcsec_cert_config_default(&cc);
  cc.common_name = "rtcsec-echo";
  if ((rc = rtcsec_cert_generate(&app.cert, &cc)) != 0 ||
      (rc = rtcsec_cert_fingerprint(app.cert, RTCSEC_HASH_SHA256, &app.local_fp)) != 0 ||
      (rc = rtcsec_fingerprint_format(&app.local_fp, app.local_fp_str, sizeof(app.local_fp_str),
                                      NULL)) != 0) {
    fprintf(stderr, PROG ": certificate: %s\n", rtcsec_strerror(rc));
    rtcsec_cert_free(app.cert);
    return 1;
  }
  if (app.opt.report_path) {
    app.report = fopen(app.opt.report_path, "a");
    if (app.report == NULL) {
      fprintf(stderr, PROG ": --report %s: %s\n", app.opt.report_path, strerror(errno));
      rtcsec_cert_free(app.cert);
      return 1;
    }
  }
  if (app.opt.no_dtls13)
    echo_log("%s", "DTLS: 1.2 only (--no-dtls13)");
  else
    echo_log("DTLS: 1.3 as server when the browser offers it (rtcsec's engine, key exchange "
             "%s), else 1.2; 1.2 as client",
             app.opt.no_mlkem ? "x25519, --no-mlkem" : "X25519MLKEM768 first, then x25519");
  g_queue_init(&app.sessions);
  app.loop = g_main_loop_new(NULL, FALSE);
  signal(SIGPIPE, SIG_IGN);
  if (lite_open(&app) != 0 || http_listen(&app) != 0) {
    app.exit_status = 1;
  } else {
    guint sig_int = g_unix_signal_add(SIGINT, on_quit_signal, &app);
    guint sig_term = g_unix_signal_add(SIGTERM, on_quit_signal, &app);
    guint exit_timer =
        app.opt.exit_after ? g_timeout_add_seconds(app.opt.exit_after, on_exit_after, &app) : 0;
    g_main_loop_run(app.loop);
    g_source_remove(sig_int);
    g_source_remove(sig_term);
    if (exit_timer && g_main_context_find_source_by_id(NULL, exit_timer))
      g_source_remove(exit_timer);
    stats_print_summary(&app);
  }
  echo_session *s;
  while ((s = g_queue_pop_head(&app.sessions)) != NULL)
    session_free(s);
  echo_lite_close(app.lite); /* after the sessions: their close_notify went out */
  if (app.server) {
    soup_server_disconnect(app.server);
    g_object_unref(app.server);
  }
  g_main_loop_unref(app.loop);
  if (app.report)
    fclose(app.report);
  rtcsec_cert_free(app.cert);
  return app.exit_status;
}
