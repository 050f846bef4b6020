/* rtcsec-dtls: a DTLS-SRTP peer over a plain UDP socket (no ICE), in the
 * spirit of `openssl s_client` / `s_server`, built on the public API only.
 *
 * One process runs one association: it binds or connects a UDP socket,
 * drives the sans-IO association from a poll() loop on CLOCK_MONOTONIC,
 * prints what was negotiated in stable `key: value` lines on stdout, closes
 * with close_notify and exits. The program is split in phases (setup,
 * handshake, report, close) so that a media phase can follow "connected".
 *
 * Exit status: 0 connected, 1 runtime failure, 2 usage error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "rtcsec/rtcsec.h"

#define PROG "rtcsec-dtls"
#define EXIT_USAGE 2
#define MAX_UDP_PAYLOAD 65507 /* IPv4: 65535 - 20 (IP) - 8 (UDP) */
#define DEFAULT_TIMEOUT_S 30
#define MAX_TIMEOUT_S 86400
#define ADDR_STRLEN (INET6_ADDRSTRLEN + 8) /* "[" addr "]:" port */

/* ---- options ------------------------------------------------------------ */

typedef struct tool_options {
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
} tool_options;

/* ---- runtime state ------------------------------------------------------ */

typedef struct tool {
  const tool_options *opt;
  int fd;
  int have_peer; /* server: learned from the first datagram; client: always */
  struct sockaddr_storage peer;
  socklen_t peer_len;
  rtcsec_cert *cert;
  rtcsec_dtls *dtls;
  FILE *keylog;
  uint64_t deadline; /* overall --timeout, caller's clock */
  /* Outcome of the event queue. */
  int connected;
  int failed;
  int peer_closed;
  int error;
  int alert;
  int alert_from_peer;
  char detail[256];
  rtcsec_dtls_connected_info info; /* keys are wiped in tool_cleanup() */
  uint8_t buf[MAX_UDP_PAYLOAD];
} tool;

static void usage(FILE *out) {
  fprintf(out,
          "usage: " PROG " (--listen ADDR:PORT | --connect ADDR:PORT) [options]\n"
          "\n"
          "A DTLS-SRTP peer over UDP (no ICE). The peer is authenticated by its\n"
          "certificate fingerprint only; without --fingerprint the handshake waits\n"
          "for one and cannot complete.\n"
          "\n"
          "  -l, --listen ADDR:PORT    server role (a=setup:passive); port 0 picks one\n"
          "  -c, --connect ADDR:PORT   client role (a=setup:active)\n"
          "                            IPv6 as [ADDR]:PORT\n"
          "  -p, --profiles LIST       SRTP profiles in preference order, comma or colon\n"
          "                            separated (RFC or OpenSSL names)\n"
          "      --cert FILE           PEM certificate (with --key); default: a fresh\n"
          "      --key FILE            ECDSA P-256 self-signed certificate\n"
          "  -f, --fingerprint FP      expected peer fingerprint, e.g. \"sha-256 AB:CD:...\"\n"
          "                            (repeatable, up to %d)\n"
          "      --mtu N               largest UDP payload to send (256..%d)\n"
          "      --export-keying-material\n"
          "                            print the exported SRTP keying material (secret!)\n"
          "      --keylog FILE         append NSS key log lines (secret!)\n"
          "  -t, --timeout SECONDS     give up after this long (default %d)\n"
          "  -q, --quiet               print only 'listening on', 'keying material' and\n"
          "                            errors\n"
          "  -h, --help                this text\n"
          "\n"
          "Exit status: 0 connected, 1 failed, 2 usage error.\n",
          RTCSEC_DTLS_MAX_FINGERPRINTS, MAX_UDP_PAYLOAD, DEFAULT_TIMEOUT_S);
}

static void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void usage_error(const char *fmt, ...) {
  va_list ap;
  fputs(PROG ": ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputs("\nTry '" PROG " --help'.\n", stderr);
}

/* Parses a decimal unsigned number in [min, max]; 0 on success. */
static int parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out) {
  if (s[0] < '0' || s[0] > '9') {
    return -1;
  }
  errno = 0;
  char *end = NULL;
  unsigned long v = strtoul(s, &end, 10);
  if (errno != 0 || *end != '\0' || v < min || v > max) {
    return -1;
  }
  *out = v;
  return 0;
}

enum {
  OPT_CERT = 256,
  OPT_KEY,
  OPT_MTU,
  OPT_EXPORT,
  OPT_KEYLOG,
};

/* Returns 0, or EXIT_USAGE after printing why; sets *help if --help. */
static int parse_options(int argc, char **argv, tool_options *opt, int *help) {
  static const struct option longopts[] = {
      {"listen", required_argument, NULL, 'l'},
      {"connect", required_argument, NULL, 'c'},
      {"profiles", required_argument, NULL, 'p'},
      {"cert", required_argument, NULL, OPT_CERT},
      {"key", required_argument, NULL, OPT_KEY},
      {"fingerprint", required_argument, NULL, 'f'},
      {"mtu", required_argument, NULL, OPT_MTU},
      {"export-keying-material", no_argument, NULL, OPT_EXPORT},
      {"keylog", required_argument, NULL, OPT_KEYLOG},
      {"timeout", required_argument, NULL, 't'},
      {"quiet", no_argument, NULL, 'q'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  memset(opt, 0, sizeof(*opt));
  opt->timeout_s = DEFAULT_TIMEOUT_S;
  *help = 0;
  int n_roles = 0;
  int c;
  unsigned long v;
  while ((c = getopt_long(argc, argv, "l:c:p:f:t:qh", longopts, NULL)) != -1) {
    switch (c) {
    case 'l':
    case 'c':
      opt->role = c == 'l' ? RTCSEC_DTLS_SERVER : RTCSEC_DTLS_CLIENT;
      opt->addr = optarg;
      n_roles++;
      break;
    case 'p': {
      int rc = rtcsec_srtp_profile_list_parse(optarg, opt->profiles, RTCSEC_SRTP_MAX_PROFILES,
                                              &opt->n_profiles);
      if (rc != 0) {
        usage_error("--profiles '%s': %s", optarg, rtcsec_strerror(rc));
        return EXIT_USAGE;
      }
      break;
    }
    case OPT_CERT:
      opt->cert_path = optarg;
      break;
    case OPT_KEY:
      opt->key_path = optarg;
      break;
    case 'f': {
      if (opt->n_fingerprints == RTCSEC_DTLS_MAX_FINGERPRINTS) {
        usage_error("at most %d --fingerprint options", RTCSEC_DTLS_MAX_FINGERPRINTS);
        return EXIT_USAGE;
      }
      int rc =
          rtcsec_fingerprint_parse(&opt->fingerprints[opt->n_fingerprints], optarg, strlen(optarg));
      if (rc != 0) {
        usage_error("--fingerprint '%s': %s", optarg, rtcsec_strerror(rc));
        return EXIT_USAGE;
      }
      opt->n_fingerprints++;
      break;
    }
    case OPT_MTU:
      if (parse_uint(optarg, 256, MAX_UDP_PAYLOAD, &v) != 0) {
        usage_error("--mtu '%s': expected a number from 256 to %d", optarg, MAX_UDP_PAYLOAD);
        return EXIT_USAGE;
      }
      opt->mtu = v;
      break;
    case OPT_EXPORT:
      opt->export_keying_material = 1;
      break;
    case OPT_KEYLOG:
      opt->keylog_path = optarg;
      break;
    case 't':
      if (parse_uint(optarg, 1, MAX_TIMEOUT_S, &v) != 0) {
        usage_error("--timeout '%s': expected seconds from 1 to %d", optarg, MAX_TIMEOUT_S);
        return EXIT_USAGE;
      }
      opt->timeout_s = (unsigned)v;
      break;
    case 'q':
      opt->quiet = 1;
      break;
    case 'h':
      *help = 1;
      return 0;
    default: /* getopt_long has printed the reason */
      fputs("Try '" PROG " --help'.\n", stderr);
      return EXIT_USAGE;
    }
  }
  if (optind < argc) {
    usage_error("unexpected argument '%s'", argv[optind]);
    return EXIT_USAGE;
  }
  if (n_roles != 1) {
    usage_error("give exactly one of --listen and --connect");
    return EXIT_USAGE;
  }
  if ((opt->cert_path == NULL) != (opt->key_path == NULL)) {
    usage_error("--cert and --key go together");
    return EXIT_USAGE;
  }
  return 0;
}

/* ---- addresses ---------------------------------------------------------- */

/* Splits "HOST:PORT" or "[HOST]:PORT" (IPv6) into host and port strings. */
static int split_host_port(const char *s, char *host, size_t host_cap, char *port,
                           size_t port_cap) {
  const char *h = s;
  size_t hlen;
  const char *p;
  if (s[0] == '[') {
    const char *close = strchr(s, ']');
    if (close == NULL || close[1] != ':') {
      return -1;
    }
    h = s + 1;
    hlen = (size_t)(close - h);
    p = close + 2;
  } else {
    const char *colon = strrchr(s, ':');
    /* A bare IPv6 address is ambiguous: ask for brackets. */
    if (colon == NULL || memchr(s, ':', (size_t)(colon - s)) != NULL) {
      return -1;
    }
    hlen = (size_t)(colon - s);
    p = colon + 1;
  }
  if (hlen == 0 || hlen >= host_cap || strlen(p) >= port_cap) {
    return -1;
  }
  memcpy(host, h, hlen);
  host[hlen] = '\0';
  strcpy(port, p);
  return 0;
}

/* Resolves ADDR:PORT (numeric port) to the first UDP address. Returns 0 or
 * EXIT_USAGE after printing why. */
static int resolve(const char *spec, int passive, struct sockaddr_storage *out,
                   socklen_t *out_len) {
  char host[256];
  char port[8];
  unsigned long port_num;
  if (split_host_port(spec, host, sizeof(host), port, sizeof(port)) != 0 ||
      parse_uint(port, passive ? 0 : 1, 65535, &port_num) != 0) {
    usage_error("'%s': expected ADDR:PORT or [IPv6]:PORT%s", spec,
                passive ? "" : " with a port from 1 to 65535");
    return EXIT_USAGE;
  }
  struct addrinfo hints;
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  hints.ai_protocol = IPPROTO_UDP;
  hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
  struct addrinfo *res = NULL;
  int rc = getaddrinfo(host, port, &hints, &res);
  if (rc != 0 || res == NULL) {
    usage_error("'%s': %s", spec, rc != 0 ? gai_strerror(rc) : "no address");
    return EXIT_USAGE;
  }
  memcpy(out, res->ai_addr, res->ai_addrlen);
  *out_len = res->ai_addrlen;
  freeaddrinfo(res);
  return 0;
}

/* "127.0.0.1:5000" or "[::1]:5000". */
static void format_addr(const struct sockaddr_storage *ss, char *buf, size_t cap) {
  char host[INET6_ADDRSTRLEN] = "?";
  unsigned port = 0;
  if (ss->ss_family == AF_INET6) {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
    inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
    port = ntohs(a->sin6_port);
    snprintf(buf, cap, "[%s]:%u", host, port);
    return;
  }
  if (ss->ss_family == AF_INET) {
    const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
    inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
    port = ntohs(a->sin_port);
  }
  snprintf(buf, cap, "%s:%u", host, port);
}

static int same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b) {
  if (a->ss_family != b->ss_family) {
    return 0;
  }
  if (a->ss_family == AF_INET) {
    const struct sockaddr_in *x = (const struct sockaddr_in *)a;
    const struct sockaddr_in *y = (const struct sockaddr_in *)b;
    return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
  }
  if (a->ss_family == AF_INET6) {
    const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)a;
    const struct sockaddr_in6 *y = (const struct sockaddr_in6 *)b;
    return x->sin6_port == y->sin6_port &&
           memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
  }
  return 0;
}

/* ---- small helpers ------------------------------------------------------ */

static uint64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* RFC 5246 §7.2 alert descriptions the handshake can end with. */
static const char *alert_name(int alert) {
  switch (alert) {
  case 0:
    return "close_notify";
  case 10:
    return "unexpected_message";
  case 20:
    return "bad_record_mac";
  case 40:
    return "handshake_failure";
  case 42:
    return "bad_certificate";
  case 43:
    return "unsupported_certificate";
  case 44:
    return "certificate_revoked";
  case 45:
    return "certificate_expired";
  case 46:
    return "certificate_unknown";
  case 47:
    return "illegal_parameter";
  case 48:
    return "unknown_ca";
  case 50:
    return "decode_error";
  case 51:
    return "decrypt_error";
  case 70:
    return "protocol_version";
  case 71:
    return "insufficient_security";
  case 80:
    return "internal_error";
  case 100:
    return "no_renegotiation";
  case 110:
    return "unsupported_extension";
  default:
    return "alert";
  }
}

static void print_hex_line(const char *label, const uint8_t *p, size_t n) {
  printf("%s: ", label);
  for (size_t i = 0; i < n; i++) {
    printf("%02X", p[i]);
  }
  putchar('\n');
}

static void print_fingerprint(const char *label, const rtcsec_fingerprint *fp) {
  char s[RTCSEC_FINGERPRINT_STRLEN];
  if (rtcsec_fingerprint_format(fp, s, sizeof(s), NULL) == 0) {
    printf("%s: %s\n", label, s);
  }
}

static void keylog_line(void *user, const char *line) {
  FILE *f = user;
  fprintf(f, "%s\n", line);
  fflush(f);
}

/* Reports a failure in the one-line format scripts rely on; returns 1. */
static int fail(int code, const char *detail) {
  fprintf(stderr, PROG ": handshake failed: %s (%s)\n", rtcsec_strerror(code), detail);
  return 1;
}

/* ---- setup phase -------------------------------------------------------- */

static int setup_cert(tool *t) {
  const tool_options *opt = t->opt;
  int rc;
  if (opt->cert_path != NULL) {
    rc = rtcsec_cert_load_pem_file(&t->cert, opt->cert_path, opt->key_path);
    if (rc != 0) {
      fprintf(stderr, PROG ": cannot load --cert %s / --key %s: %s\n", opt->cert_path,
              opt->key_path, rtcsec_strerror(rc));
      return 1;
    }
    return 0;
  }
  rtcsec_cert_config cc;
  rtcsec_cert_config_default(&cc);
  cc.key_type = RTCSEC_KEY_ECDSA_P256;
  rc = rtcsec_cert_generate(&t->cert, &cc);
  if (rc != 0) {
    fprintf(stderr, PROG ": cannot generate a certificate: %s\n", rtcsec_strerror(rc));
    return 1;
  }
  return 0;
}

static int setup_socket(tool *t) {
  const tool_options *opt = t->opt;
  struct sockaddr_storage addr;
  socklen_t addr_len = 0;
  int passive = opt->role == RTCSEC_DTLS_SERVER;
  int rc = resolve(opt->addr, passive, &addr, &addr_len);
  if (rc != 0) {
    return rc;
  }
  t->fd = socket(addr.ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, IPPROTO_UDP);
  if (t->fd < 0) {
    fprintf(stderr, PROG ": socket: %s\n", strerror(errno));
    return 1;
  }
  char text[ADDR_STRLEN];
  if (!passive) {
    if (connect(t->fd, (const struct sockaddr *)&addr, addr_len) != 0) {
      format_addr(&addr, text, sizeof(text));
      fprintf(stderr, PROG ": connect %s: %s\n", text, strerror(errno));
      return 1;
    }
    t->peer = addr;
    t->peer_len = addr_len;
    t->have_peer = 1;
    return 0;
  }
  if (bind(t->fd, (const struct sockaddr *)&addr, addr_len) != 0) {
    format_addr(&addr, text, sizeof(text));
    fprintf(stderr, PROG ": bind %s: %s\n", text, strerror(errno));
    return 1;
  }
  struct sockaddr_storage bound;
  socklen_t bound_len = sizeof(bound);
  if (getsockname(t->fd, (struct sockaddr *)&bound, &bound_len) != 0) {
    fprintf(stderr, PROG ": getsockname: %s\n", strerror(errno));
    return 1;
  }
  format_addr(&bound, text, sizeof(text));
  /* Scripts wait for this line to learn the port: flush it now. */
  printf("listening on %s\n", text);
  fflush(stdout);
  return 0;
}

static int setup_association(tool *t) {
  const tool_options *opt = t->opt;
  if (opt->keylog_path != NULL) {
    /* The key log unlocks the session: create it readable by us only. */
    int kfd = open(opt->keylog_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (kfd < 0 || (t->keylog = fdopen(kfd, "a")) == NULL) {
      fprintf(stderr, PROG ": --keylog %s: %s\n", opt->keylog_path, strerror(errno));
      if (kfd >= 0) {
        close(kfd);
      }
      return 1;
    }
  }
  rtcsec_dtls_config cfg;
  rtcsec_dtls_config_default(&cfg);
  cfg.role = opt->role;
  cfg.cert = t->cert;
  memcpy(cfg.profiles, opt->profiles, sizeof(cfg.profiles));
  cfg.n_profiles = opt->n_profiles;
  if (opt->mtu != 0) {
    cfg.mtu = opt->mtu;
  }
  /* Let the association itself report a timeout, with its own reason. */
  cfg.handshake_timeout_us = (uint64_t)opt->timeout_s * 1000000u;
  cfg.peer_fingerprints = opt->fingerprints;
  cfg.n_peer_fingerprints = opt->n_fingerprints;
  if (t->keylog != NULL) {
    cfg.keylog = keylog_line;
    cfg.keylog_user = t->keylog;
  }
  int rc = rtcsec_dtls_new(&t->dtls, &cfg);
  if (rc != 0) {
    fprintf(stderr, PROG ": cannot create the DTLS association: %s\n", rtcsec_strerror(rc));
    return rc == RTCSEC_ERR_INVALID_ARGUMENT ? EXIT_USAGE : 1;
  }
  return 0;
}

static int setup(tool *t) {
  const tool_options *opt = t->opt;
  int rc = setup_cert(t);
  if (rc == 0) {
    rc = setup_socket(t);
  }
  if (rc == 0) {
    rc = setup_association(t);
  }
  if (rc != 0) {
    return rc;
  }
  if (!opt->quiet) {
    rtcsec_fingerprint fp;
    if (rtcsec_cert_fingerprint(t->cert, RTCSEC_HASH_SHA256, &fp) == 0) {
      print_fingerprint("local fingerprint", &fp);
    }
    fflush(stdout);
    if (opt->n_fingerprints == 0) {
      fprintf(stderr, PROG ": warning: no --fingerprint given: the peer cannot be verified, so "
                           "the handshake cannot complete (it will time out)\n");
    }
  }
  return 0;
}

/* ---- the I/O loop shared by all phases ---------------------------------- */

/* Sends every queued datagram. Send errors are not fatal: DTLS retransmits. */
static void flush_datagrams(tool *t) {
  for (;;) {
    size_t len = 0;
    int rc = rtcsec_dtls_poll_datagram(t->dtls, t->buf, sizeof(t->buf), &len);
    if (rc != 0 || len == 0) {
      return;
    }
    if (!t->have_peer) {
      continue; /* a server cannot answer before it has heard from a peer */
    }
    /* ECONNREFUSED (an ICMP error for an earlier datagram) and a full buffer
     * are both cured by retransmission. */
    (void)send(t->fd, t->buf, len, 0);
  }
}

static void on_event(tool *t, const rtcsec_dtls_event *ev) {
  switch (ev->type) {
  case RTCSEC_DTLS_EVENT_CONNECTED:
    t->connected = 1;
    t->info = ev->connected;
    break;
  case RTCSEC_DTLS_EVENT_FAILED:
    t->failed = 1;
    t->error = ev->error;
    t->alert = ev->alert;
    t->alert_from_peer = ev->alert_from_peer;
    break;
  case RTCSEC_DTLS_EVENT_CLOSED:
    t->peer_closed = 1;
    break;
  case RTCSEC_DTLS_EVENT_DATA: /* no application data protocol (yet) */
  case RTCSEC_DTLS_EVENT_NONE:
  default:
    break;
  }
}

/* Drains datagrams and events after any call into the association. */
static void drain(tool *t) {
  flush_datagrams(t);
  for (;;) {
    rtcsec_dtls_event ev;
    memset(&ev, 0, sizeof(ev));
    if (rtcsec_dtls_poll_event(t->dtls, &ev) != 0 || ev.type == RTCSEC_DTLS_EVENT_NONE) {
      break;
    }
    on_event(t, &ev);
    rtcsec_srtp_keys_wipe(&ev.connected.keys);
  }
  /* A failure queues its alert after the event: send that too. */
  flush_datagrams(t);
}

/* Learns the peer from the first datagram that looks like DTLS and connects
 * the socket to it, so that the kernel drops everyone else from now on. */
static int accept_peer(tool *t, const struct sockaddr_storage *from, socklen_t from_len,
                       const uint8_t *data, size_t len) {
  /* RFC 7983: DTLS records start with 20..63. */
  if (len == 0 || data[0] < 20 || data[0] > 63) {
    return -1;
  }
  if (connect(t->fd, (const struct sockaddr *)from, from_len) != 0) {
    return -1;
  }
  t->peer = *from;
  t->peer_len = from_len;
  t->have_peer = 1;
  if (!t->opt->quiet) {
    char text[ADDR_STRLEN];
    format_addr(from, text, sizeof(text));
    fprintf(stderr, PROG ": peer %s\n", text);
  }
  return 0;
}

static void read_datagrams(tool *t) {
  for (;;) {
    struct sockaddr_storage from;
    socklen_t from_len = sizeof(from);
    ssize_t n = recvfrom(t->fd, t->buf, sizeof(t->buf), 0, (struct sockaddr *)&from, &from_len);
    if (n < 0) {
      /* EAGAIN: drained. ECONNREFUSED: the peer is not up yet; keep going. */
      if (errno == EINTR || errno == ECONNREFUSED) {
        continue;
      }
      return;
    }
    if (!t->have_peer) {
      if (accept_peer(t, &from, from_len, t->buf, (size_t)n) != 0) {
        continue;
      }
    } else if (!same_addr(&from, &t->peer)) {
      continue; /* queued before connect(), from someone else */
    }
    rtcsec_dtls_handle_datagram(t->dtls, t->buf, (size_t)n, now_us());
    drain(t);
  }
}

/* One turn of the loop: waits for a datagram or the next deadline (at most
 * until `until`), feeds what came and runs due timers. */
static void io_step(tool *t, uint64_t until) {
  uint64_t now = now_us();
  uint64_t wake = rtcsec_dtls_deadline(t->dtls);
  if (until < wake) {
    wake = until;
  }
  int wait_ms = 0;
  if (wake > now) {
    uint64_t ms = (wake - now + 999) / 1000; /* round up: never wake early */
    wait_ms = ms > INT_MAX ? INT_MAX : (int)ms;
  }
  struct pollfd pfd = {.fd = t->fd, .events = POLLIN, .revents = 0};
  int n = poll(&pfd, 1, wait_ms);
  if (n > 0 && (pfd.revents & (POLLIN | POLLERR)) != 0) {
    read_datagrams(t);
  }
  now = now_us();
  if (now >= rtcsec_dtls_deadline(t->dtls)) {
    rtcsec_dtls_handle_timeout(t->dtls, now);
    drain(t);
  }
}

/* ---- handshake phase ---------------------------------------------------- */

/* Why a handshake ran out of time, from what we saw. */
static void describe_timeout(const tool *t, char *buf, size_t cap) {
  rtcsec_dtls_stats st;
  memset(&st, 0, sizeof(st));
  rtcsec_dtls_get_stats(t->dtls, &st);
  unsigned s = t->opt->timeout_s;
  if (!t->have_peer) {
    snprintf(buf, cap, "no datagram from a peer in %u s", s);
  } else if (st.awaiting_fingerprint) {
    snprintf(buf, cap, "waited %u s for a --fingerprint to verify the peer with", s);
  } else if (st.datagrams_received == 0) {
    snprintf(buf, cap, "no answer in %u s, %llu retransmissions", s,
             (unsigned long long)st.retransmissions);
  } else {
    snprintf(buf, cap, "not finished in %u s, %llu datagrams received, %llu retransmissions", s,
             (unsigned long long)st.datagrams_received, (unsigned long long)st.retransmissions);
  }
}

static int run_handshake(tool *t) {
  /* A server starts with the first datagram, so that its handshake time and
   * timeout count from the peer's first contact, not from our launch. */
  if (t->opt->role == RTCSEC_DTLS_CLIENT) {
    int rc = rtcsec_dtls_start(t->dtls, now_us());
    if (rc != 0) {
      return fail(rc, rtcsec_dtls_error_detail(t->dtls));
    }
    drain(t);
  }
  while (!t->connected && !t->failed && !t->peer_closed) {
    if (now_us() >= t->deadline) {
      break;
    }
    io_step(t, t->deadline);
  }
  if (t->connected) {
    return 0;
  }
  if (t->peer_closed && !t->failed) {
    return fail(RTCSEC_ERR_CLOSED, "peer closed during the handshake");
  }
  int code = t->failed ? t->error : RTCSEC_ERR_HANDSHAKE_TIMEOUT;
  char detail[320];
  if (code == RTCSEC_ERR_HANDSHAKE_TIMEOUT) {
    describe_timeout(t, detail, sizeof(detail));
  } else {
    const char *d = rtcsec_dtls_error_detail(t->dtls);
    if (t->alert >= 0) {
      snprintf(detail, sizeof(detail), "%s%salert %s %s", d, d[0] != '\0' ? "; " : "",
               alert_name(t->alert), t->alert_from_peer ? "from peer" : "sent");
    } else {
      snprintf(detail, sizeof(detail), "%s", d[0] != '\0' ? d : "no detail");
    }
  }
  return fail(code, detail);
}

/* ---- report phase ------------------------------------------------------- */

static void report_connected(tool *t) {
  const tool_options *opt = t->opt;
  const rtcsec_dtls_connected_info *ci = &t->info;
  if (!opt->quiet) {
    rtcsec_dtls_stats st;
    memset(&st, 0, sizeof(st));
    rtcsec_dtls_get_stats(t->dtls, &st);
    printf("connected\n");
    printf("profile: %s\n", rtcsec_srtp_profile_name(ci->profile));
    printf("version: %s\n", ci->version != NULL ? ci->version : "?");
    printf("cipher: %s\n", ci->cipher != NULL ? ci->cipher : "?");
    print_fingerprint("peer fingerprint", &ci->peer_fingerprint);
    printf("role: %s\n", opt->role == RTCSEC_DTLS_CLIENT ? "client" : "server");
    printf("handshake: %llu ms, %llu retransmissions\n",
           (unsigned long long)(st.handshake_us / 1000), (unsigned long long)st.retransmissions);
  }
  if (opt->export_keying_material) {
    if (!opt->quiet) {
      fprintf(stderr, PROG ": warning: the keying material printed on stdout is secret: it "
                           "decrypts all media of this session\n");
    }
    print_hex_line("keying material", ci->keys.material, ci->keys.material_len);
  }
  fflush(stdout);
}

/* ---- close phase -------------------------------------------------------- */

static void run_close(tool *t) {
  /* close_notify is a single unacknowledged datagram (RFC 5246 §7.2.1). */
  if (rtcsec_dtls_close(t->dtls, now_us()) == 0) {
    drain(t);
  }
}

/* ---- main --------------------------------------------------------------- */

static void tool_cleanup(tool *t) {
  rtcsec_srtp_keys_wipe(&t->info.keys);
  rtcsec_dtls_free(t->dtls);
  rtcsec_cert_free(t->cert);
  if (t->keylog != NULL) {
    fclose(t->keylog);
  }
  if (t->fd >= 0) {
    close(t->fd);
  }
}

int main(int argc, char **argv) {
  tool_options opt;
  int help = 0;
  int rc = parse_options(argc, argv, &opt, &help);
  if (rc != 0) {
    return rc;
  }
  if (help) {
    usage(stdout);
    return 0;
  }
  static tool t; /* large receive buffer: keep it off the stack */
  memset(&t, 0, sizeof(t));
  t.opt = &opt;
  t.fd = -1;
  t.alert = -1;
  t.deadline = now_us() + (uint64_t)opt.timeout_s * 1000000u;

  rc = setup(&t);
  if (rc == 0) {
    rc = run_handshake(&t);
  }
  if (rc == 0) {
    report_connected(&t);
    /* A media phase (issue 3) goes here, before the close. */
    run_close(&t);
  }
  tool_cleanup(&t);
  return rc;
}
