/* rtcsec-dtls: a DTLS-SRTP peer over a plain UDP socket (no ICE), in the
 * spirit of `openssl s_client` / `s_server`, built on the public API only.
 *
 * One process runs one association: it binds or connects a UDP socket,
 * drives a sans-IO rtcsec_transport (DTLS and SRTP on the one socket, told
 * apart by the first byte, RFC 7983) from a poll() loop on CLOCK_MONOTONIC,
 * prints what was negotiated in stable `key: value` lines on stdout, closes
 * with close_notify and exits. The phases are setup, handshake, report,
 * media (with --send-rtp) and close.
 *
 * Media phase (--send-rtp, both peers run it): each side sends N RTP
 * packets and an RTCP sender report after every 50th, checks every packet
 * of the other, and the two compare counts over DTLS application data
 * (tools/dtls/media.c says how).
 *
 * --listen takes its peer from the first datagram that is a valid DTLS
 * ClientHello (client_hello.h); every other datagram from anyone else is
 * ignored and counted. A handshake that fails (a wrong certificate, an
 * unauthenticated alert, garbage the association refused) or whose peer
 * sends nothing for HANDSHAKE_IDLE_US (HANDSHAKE_ALERTED_IDLE_US after a
 * plaintext fatal alert) is dropped and the listener takes
 * the next valid ClientHello, until --timeout. No cookie exchange (RFC
 * 6347 §4.2.1): OpenSSL's cookie callbacks are not reachable through
 * rtcsec's sans-IO API, and a HelloVerifyRequest written here would not be
 * part of the handshake OpenSSL runs; so a ClientHello spoofed from an
 * address holds the listener for as long as datagrams keep coming from
 * that address, and HANDSHAKE_IDLE_US more.
 * The socket is connected to the peer once the handshake is done.
 *
 * --export-keying-material needs the bare rtcsec_dtls association instead:
 * the transport never lets the SRTP keys out, so that option runs the
 * handshake without a transport and cannot be combined with --send-rtp.
 *
 * A listener ends with two counter lines on stdout:
 *   ignored_datagrams: N from M addresses
 *   failed_handshakes: N
 *
 * Plain DTLS (--no-srtp, docs/iot.md): the bare association without
 * use_srtp, for RFC 7925 devices and servers. The peer is authenticated by
 * --fingerprint, by --ca-file with --peer-name, or by a pre-shared key
 * (--psk-identity, --psk); --cipher and --groups choose the suites. After
 * the handshake the data phase runs: --send-data / --send-hex sends one
 * record and waits for one back, --echo sends every record back,
 * --coap-get sends a CoAP GET (RFC 7252) and waits for its response,
 * --coap-reply answers every CoAP request. Each record received is printed
 * as "data: TEXT" (bytes outside printable ASCII as \xNN). The data phase
 * ends when its work is done, the peer closes, or --timeout seconds pass
 * without a record.
 *
 * Through a TURN server over DTLS (--turns, RFC 7350, docs/turns.md): the
 * socket talks to the TURN server only, through an rtcsec_turn client
 * that authenticates the server (--turn-ca + --turn-name, or
 * --turn-fingerprint) before any STUN, asks for the reflexive address
 * (Binding), allocates a relayed address with --turn-user / --turn-pass,
 * binds a channel to the --connect peer, and then carries every datagram
 * of the association to and from the peer through the relay. It prints
 * "mapped address:", "relayed address:" and "turn channel:" lines.
 *
 * Exit status: 0 connected (with --send-rtp: and every packet the peer sent
 * received and verified), 1 runtime failure, 2 usage error.
 *
 * This file holds the options and main; tools/dtls/app.h lists the other
 * files and their jobs.
 */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "coap.h"
#include "dtls/app.h"

/* ---- options ------------------------------------------------------------ */

static void usage(FILE *out) {
  fprintf(out,
          "usage: " PROG " (--listen ADDR:PORT | --connect ADDR:PORT) [options]\n"
          "\n"
          "A DTLS-SRTP peer over UDP (no ICE). The peer is authenticated by its\n"
          "certificate fingerprint only; without --fingerprint the handshake waits\n"
          "for one and cannot complete.\n"
          "\n"
          "  -l, --listen ADDR:PORT    server role (a=setup:passive); port 0 picks one.\n"
          "                            The peer is the sender of the first valid DTLS\n"
          "                            ClientHello; datagrams from anyone else are\n"
          "                            ignored and counted. A handshake that fails, or\n"
          "                            whose peer is silent for %u s, is dropped and the\n"
          "                            next ClientHello taken, until --timeout. No\n"
          "                            cookie exchange (RFC 6347 4.2.1): OpenSSL's\n"
          "                            cookie callbacks are not reachable through\n"
          "                            rtcsec's API, so a ClientHello spoofed from an\n"
          "                            address holds the listener for as long as\n"
          "                            datagrams keep coming from there, and %u s more.\n"
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
          "                            (runs the bare DTLS association: the transport\n"
          "                            never reveals its keys; not with --send-rtp)\n"
          "      --keylog FILE         append NSS key log lines (secret!)\n"
          "      --send-rtp N          after connecting, send N RTP packets (and an RTCP\n"
          "                            sender report after every %d), verify what the\n"
          "                            peer sends, print the counters; 0 only receives.\n"
          "                            Both peers need it. Up to %d.\n"
          "      --rate PPS            RTP packets per second (default %d; 0 = as fast\n"
          "                            as possible)\n"
          "  -t, --timeout SECONDS     give up on the handshake after this long, and on\n"
          "                            the media this long after its planned end\n"
          "                            (default %d)\n"
          "  -q, --quiet               print only 'listening on', 'keying material', the\n"
          "                            media and listener counters and errors\n"
          "  -h, --help                this text\n"
          "\n"
          "Plain DTLS (RFC 7925 devices; docs/iot.md):\n"
          "      --no-srtp             no use_srtp: plain DTLS with a data phase instead\n"
          "                            of media (not with --send-rtp or --profiles)\n"
          "      --psk-identity ID     RFC 4279 pre-shared key identity (sent in clear!)\n"
          "      --psk HEX             the pre-shared key, 1..%d bytes in hex; with a\n"
          "                            key and no --cert no certificate is used\n"
          "      --cipher LIST         OpenSSL cipher suites, e.g. PSK-AES128-CCM8 or\n"
          "                            ECDHE-ECDSA-AES128-CCM8 (AEAD suites only)\n"
          "      --groups LIST         ECDHE groups, e.g. P-256 (RFC 7925 4.4)\n"
          "      --ca-file FILE        accept a peer certificate that verifies against\n"
          "                            these CA certificates (PEM) ...\n"
          "      --peer-name NAME      ... and names NAME (DNS name or IP address;\n"
          "                            required with --ca-file when connecting)\n"
          "      --rto-initial-ms N    first DTLS retransmission timeout (default 100;\n"
          "                            RFC 7925 11 recommends 9000 on slow links)\n"
          "      --rto-max-ms N        retransmission timeout cap (default 3000;\n"
          "                            RFC 7925 11: at least 60000)\n"
          "      --export-label LABEL  with --no-srtp --export-keying-material: the\n"
          "                            RFC 5705 label (default %s)\n"
          "      --export-len N        ... and length (1..%d, default %d)\n"
          "      --send-data TEXT      after connecting, send TEXT as one record, wait\n"
          "      --send-hex HEX        for one record back (up to %d bytes)\n"
          "      --echo                send every record received back\n"
          "      --coap-get PATH       send a CoAP GET for PATH (RFC 7252), wait for\n"
          "                            the response, print its code and payload\n"
          "      --coap-reply TEXT     answer each CoAP request with 2.05 Content TEXT\n"
          "\n"
          "Through a TURN server over DTLS (RFC 7350; docs/turns.md; with --connect):\n"
          "      --turns ADDR:PORT     relay every datagram to the peer through this\n"
          "                            TURN server, reached over DTLS\n"
          "      --turn-user USER      long-term credential for the allocation\n"
          "      --turn-pass PASS\n"
          "      --turn-ca FILE        authenticate the server by these CA certificates\n"
          "      --turn-name NAME      ... and its name (DNS name or IP address)\n"
          "      --turn-fingerprint FP ... or by its certificate's fingerprint\n"
          "      --turn-only WHAT      stop after the server answered: 'binding' (print\n"
          "                            the reflexive address) or 'allocation'\n"
          "\n"
          "Exit status: 0 connected (with --send-rtp: and every packet the peer sent\n"
          "received and verified; with --send-*/--coap-get: and the reply came; with\n"
          "--echo/--coap-reply: and a record was answered), 1 failed, 2 usage error.\n",
          HANDSHAKE_IDLE_US / 1000000u, HANDSHAKE_IDLE_US / 1000000u, RTCSEC_DTLS_MAX_FINGERPRINTS,
          MAX_UDP_PAYLOAD, SR_EVERY, MAX_SEND_RTP, DEFAULT_RATE, DEFAULT_TIMEOUT_S,
          RTCSEC_DTLS_MAX_PSK, DEFAULT_EXPORT_LABEL, RTCSEC_DTLS_MAX_EXPORT, DEFAULT_EXPORT_LEN,
          DATA_MAX);
}

static int hex_digit(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* Decodes hex (case-insensitive, optional ':' between bytes) into out;
 * 0 on success with *n bytes, -1 if malformed, empty or longer than cap. */
static int parse_hex(const char *s, uint8_t *out, size_t cap, size_t *n) {
  size_t k = 0;
  while (*s != '\0') {
    if (*s == ':' && k > 0) {
      s++;
      continue;
    }
    int hi = hex_digit(s[0]), lo = s[0] != '\0' ? hex_digit(s[1]) : -1;
    if (hi < 0 || lo < 0 || k == cap)
      return -1;
    out[k++] = (uint8_t)(hi << 4 | lo);
    s += 2;
  }
  *n = k;
  return k > 0 ? 0 : -1;
}

enum {
  OPT_CERT = 256,
  OPT_KEY,
  OPT_MTU,
  OPT_EXPORT,
  OPT_KEYLOG,
  OPT_SEND_RTP,
  OPT_RATE,
  OPT_NO_SRTP,
  OPT_PSK_IDENTITY,
  OPT_PSK,
  OPT_CIPHER,
  OPT_GROUPS,
  OPT_CA_FILE,
  OPT_PEER_NAME,
  OPT_RTO_INITIAL,
  OPT_RTO_MAX,
  OPT_EXPORT_LABEL,
  OPT_EXPORT_LEN,
  OPT_SEND_DATA,
  OPT_SEND_HEX,
  OPT_ECHO,
  OPT_COAP_GET,
  OPT_COAP_REPLY,
  OPT_TURNS,
  OPT_TURN_USER,
  OPT_TURN_PASS,
  OPT_TURN_CA,
  OPT_TURN_NAME,
  OPT_TURN_FINGERPRINT,
  OPT_TURN_ONLY,
};

/* The plain-DTLS options go together as the help says. */
static int check_plain_options(const dtls_options *opt) {
  int data = opt->send_given || opt->echo || opt->coap_get || opt->coap_reply;
  const char *why = NULL;
  if ((opt->psk_identity == NULL) != (opt->psk_len == 0))
    why = "--psk-identity and --psk go together";
  else if (opt->peer_name != NULL && opt->ca_file == NULL)
    why = "--peer-name needs --ca-file";
  else if (opt->ca_file != NULL && opt->peer_name == NULL && opt->role == RTCSEC_DTLS_CLIENT)
    why = "--ca-file needs --peer-name when connecting: the server's name must be checked "
          "(RFC 8489 6.2.3, RFC 6125)";
  else if (opt->no_srtp && (opt->media || opt->n_profiles > 0))
    why = "--no-srtp carries no media: not with --send-rtp or --profiles";
  else if (data && !opt->no_srtp)
    why = "--send-data, --send-hex, --echo, --coap-get and --coap-reply need --no-srtp";
  else if (opt->send_given > 1 || (opt->send_given && opt->coap_get) ||
           (opt->coap_get && opt->coap_reply) || (opt->echo && opt->coap_reply))
    why = "give one of --send-data, --send-hex and --coap-get, and at most one of --echo "
          "and --coap-reply";
  else if (opt->rto_max_ms != 0 &&
           opt->rto_max_ms < (opt->rto_initial_ms ? opt->rto_initial_ms : 100))
    why = "--rto-max-ms must not be below --rto-initial-ms (default 100)";
  if (why != NULL) {
    tool_usage_error(PROG, "%s", why);
    return EXIT_USAGE;
  }
  if (opt->coap_get != NULL) {
    static const uint8_t token[4] = {0};
    uint8_t probe[DATA_MAX];
    if (coap_build_get(probe, sizeof(probe), 0, token, sizeof(token), opt->coap_get) == 0) {
      tool_usage_error(PROG, "--coap-get '%s': expected a path of non-empty segments",
                       opt->coap_get);
      return EXIT_USAGE;
    }
  }
  return 0;
}

/* The TURN options go together as the help says. */
static int check_turn_options(const dtls_options *opt) {
  int any = opt->turn_user || opt->turn_pass || opt->turn_ca || opt->turn_name ||
            opt->n_turn_fps > 0 || opt->turn_only;
  const char *why = NULL;
  if (opt->turns == NULL) {
    why = any ? "the --turn-* options need --turns" : NULL;
  } else if (opt->role != RTCSEC_DTLS_CLIENT) {
    why = "--turns needs --connect: the relay carries the handshake to that peer";
  } else if ((opt->turn_user == NULL) != (opt->turn_pass == NULL)) {
    why = "--turn-user and --turn-pass go together";
  } else if (opt->turn_user == NULL && opt->turn_only != TURN_ONLY_BINDING) {
    why = "--turns needs --turn-user and --turn-pass (an allocation), unless --turn-only binding";
  } else if ((opt->turn_ca == NULL) != (opt->turn_name == NULL)) {
    why = "--turn-ca and --turn-name go together (RFC 8489 6.2.3: the server's name is checked)";
  } else if (opt->turn_ca == NULL && opt->n_turn_fps == 0) {
    why = "--turns needs --turn-ca and --turn-name, or --turn-fingerprint: the server must be "
          "authenticated before any STUN is sent (RFC 8489 6.2.3)";
  }
  if (why != NULL) {
    tool_usage_error(PROG, "%s", why);
    return EXIT_USAGE;
  }
  return 0;
}

/* Returns 0, or EXIT_USAGE after printing why; sets *help if --help. */
static int parse_options(int argc, char **argv, dtls_options *opt, int *help) {
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
      {"send-rtp", required_argument, NULL, OPT_SEND_RTP},
      {"rate", required_argument, NULL, OPT_RATE},
      {"timeout", required_argument, NULL, 't'},
      {"quiet", no_argument, NULL, 'q'},
      {"help", no_argument, NULL, 'h'},
      {"no-srtp", no_argument, NULL, OPT_NO_SRTP},
      {"psk-identity", required_argument, NULL, OPT_PSK_IDENTITY},
      {"psk", required_argument, NULL, OPT_PSK},
      {"cipher", required_argument, NULL, OPT_CIPHER},
      {"groups", required_argument, NULL, OPT_GROUPS},
      {"ca-file", required_argument, NULL, OPT_CA_FILE},
      {"peer-name", required_argument, NULL, OPT_PEER_NAME},
      {"rto-initial-ms", required_argument, NULL, OPT_RTO_INITIAL},
      {"rto-max-ms", required_argument, NULL, OPT_RTO_MAX},
      {"export-label", required_argument, NULL, OPT_EXPORT_LABEL},
      {"export-len", required_argument, NULL, OPT_EXPORT_LEN},
      {"send-data", required_argument, NULL, OPT_SEND_DATA},
      {"send-hex", required_argument, NULL, OPT_SEND_HEX},
      {"echo", no_argument, NULL, OPT_ECHO},
      {"coap-get", required_argument, NULL, OPT_COAP_GET},
      {"coap-reply", required_argument, NULL, OPT_COAP_REPLY},
      {"turns", required_argument, NULL, OPT_TURNS},
      {"turn-user", required_argument, NULL, OPT_TURN_USER},
      {"turn-pass", required_argument, NULL, OPT_TURN_PASS},
      {"turn-ca", required_argument, NULL, OPT_TURN_CA},
      {"turn-name", required_argument, NULL, OPT_TURN_NAME},
      {"turn-fingerprint", required_argument, NULL, OPT_TURN_FINGERPRINT},
      {"turn-only", required_argument, NULL, OPT_TURN_ONLY},
      {NULL, 0, NULL, 0},
  };
  memset(opt, 0, sizeof(*opt));
  opt->timeout_s = DEFAULT_TIMEOUT_S;
  opt->rate = DEFAULT_RATE;
  opt->export_label = DEFAULT_EXPORT_LABEL;
  opt->export_len = DEFAULT_EXPORT_LEN;
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
        tool_usage_error(PROG, "--profiles '%s': %s", optarg, rtcsec_strerror(rc));
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
        tool_usage_error(PROG, "at most %d --fingerprint options", RTCSEC_DTLS_MAX_FINGERPRINTS);
        return EXIT_USAGE;
      }
      int rc =
          rtcsec_fingerprint_parse(&opt->fingerprints[opt->n_fingerprints], optarg, strlen(optarg));
      if (rc != 0) {
        tool_usage_error(PROG, "--fingerprint '%s': %s", optarg, rtcsec_strerror(rc));
        return EXIT_USAGE;
      }
      opt->n_fingerprints++;
      break;
    }
    case OPT_MTU:
      if (tool_parse_ulong(optarg, 256, MAX_UDP_PAYLOAD, &v) != 0) {
        tool_usage_error(PROG, "--mtu '%s': expected a number from 256 to %d", optarg,
                         MAX_UDP_PAYLOAD);
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
    case OPT_SEND_RTP:
      if (tool_parse_ulong(optarg, 0, MAX_SEND_RTP, &v) != 0) {
        tool_usage_error(PROG, "--send-rtp '%s': expected a number of packets from 0 to %d", optarg,
                         MAX_SEND_RTP);
        return EXIT_USAGE;
      }
      opt->media = 1;
      opt->send_rtp = v;
      break;
    case OPT_RATE:
      if (tool_parse_ulong(optarg, 0, MAX_RATE, &v) != 0) {
        tool_usage_error(PROG, "--rate '%s': expected packets per second from 0 to %d", optarg,
                         MAX_RATE);
        return EXIT_USAGE;
      }
      opt->rate = v;
      break;
    case 't':
      if (tool_parse_ulong(optarg, 1, MAX_TIMEOUT_S, &v) != 0) {
        tool_usage_error(PROG, "--timeout '%s': expected seconds from 1 to %d", optarg,
                         MAX_TIMEOUT_S);
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
    case OPT_NO_SRTP:
      opt->no_srtp = 1;
      break;
    case OPT_PSK_IDENTITY:
      if (optarg[0] == '\0' || strlen(optarg) > RTCSEC_DTLS_MAX_PSK_IDENTITY) {
        tool_usage_error(PROG, "--psk-identity: 1 to %d bytes", RTCSEC_DTLS_MAX_PSK_IDENTITY);
        return EXIT_USAGE;
      }
      opt->psk_identity = optarg;
      break;
    case OPT_PSK:
      if (parse_hex(optarg, opt->psk, sizeof(opt->psk), &opt->psk_len) != 0) {
        tool_usage_error(PROG, "--psk: expected 1 to %d bytes in hex", RTCSEC_DTLS_MAX_PSK);
        return EXIT_USAGE;
      }
      break;
    case OPT_CIPHER:
      opt->ciphers = optarg;
      break;
    case OPT_GROUPS:
      opt->groups = optarg;
      break;
    case OPT_CA_FILE:
      opt->ca_file = optarg;
      break;
    case OPT_PEER_NAME:
      opt->peer_name = optarg;
      break;
    case OPT_RTO_INITIAL:
    case OPT_RTO_MAX:
      if (tool_parse_ulong(optarg, 1, 600000, &v) != 0) {
        tool_usage_error(PROG, "--%s '%s': expected milliseconds from 1 to 600000",
                         c == OPT_RTO_INITIAL ? "rto-initial-ms" : "rto-max-ms", optarg);
        return EXIT_USAGE;
      }
      *(c == OPT_RTO_INITIAL ? &opt->rto_initial_ms : &opt->rto_max_ms) = v;
      break;
    case OPT_EXPORT_LABEL:
      opt->export_label = optarg;
      break;
    case OPT_EXPORT_LEN:
      if (tool_parse_ulong(optarg, 1, RTCSEC_DTLS_MAX_EXPORT, &opt->export_len) != 0) {
        tool_usage_error(PROG, "--export-len '%s': expected 1 to %d", optarg,
                         RTCSEC_DTLS_MAX_EXPORT);
        return EXIT_USAGE;
      }
      break;
    case OPT_SEND_DATA:
      if (optarg[0] == '\0' || strlen(optarg) > DATA_MAX) {
        tool_usage_error(PROG, "--send-data: 1 to %d bytes", DATA_MAX);
        return EXIT_USAGE;
      }
      memcpy(opt->send_data, optarg, strlen(optarg));
      opt->send_len = strlen(optarg);
      opt->send_given++;
      break;
    case OPT_SEND_HEX:
      if (parse_hex(optarg, opt->send_data, sizeof(opt->send_data), &opt->send_len) != 0) {
        tool_usage_error(PROG, "--send-hex: expected 1 to %d bytes in hex", DATA_MAX);
        return EXIT_USAGE;
      }
      opt->send_given++;
      break;
    case OPT_ECHO:
      opt->echo = 1;
      break;
    case OPT_COAP_GET:
      opt->coap_get = optarg[0] == '/' ? optarg + 1 : optarg;
      break;
    case OPT_COAP_REPLY:
      opt->coap_reply = optarg;
      break;
    case OPT_TURNS:
      opt->turns = optarg;
      break;
    case OPT_TURN_USER:
      opt->turn_user = optarg;
      break;
    case OPT_TURN_PASS:
      opt->turn_pass = optarg;
      break;
    case OPT_TURN_CA:
      opt->turn_ca = optarg;
      break;
    case OPT_TURN_NAME:
      opt->turn_name = optarg;
      break;
    case OPT_TURN_FINGERPRINT: {
      if (opt->n_turn_fps == RTCSEC_DTLS_MAX_FINGERPRINTS) {
        tool_usage_error(PROG, "at most %d --turn-fingerprint options",
                         RTCSEC_DTLS_MAX_FINGERPRINTS);
        return EXIT_USAGE;
      }
      int rc = rtcsec_fingerprint_parse(&opt->turn_fps[opt->n_turn_fps], optarg, strlen(optarg));
      if (rc != 0) {
        tool_usage_error(PROG, "--turn-fingerprint '%s': %s", optarg, rtcsec_strerror(rc));
        return EXIT_USAGE;
      }
      opt->n_turn_fps++;
      break;
    }
    case OPT_TURN_ONLY:
      if (strcmp(optarg, "binding") == 0) {
        opt->turn_only = TURN_ONLY_BINDING;
      } else if (strcmp(optarg, "allocation") == 0) {
        opt->turn_only = TURN_ONLY_ALLOCATION;
      } else {
        tool_usage_error(PROG, "--turn-only '%s': expected binding or allocation", optarg);
        return EXIT_USAGE;
      }
      break;
    default: /* getopt_long has printed the reason */
      fputs("Try '" PROG " --help'.\n", stderr);
      return EXIT_USAGE;
    }
  }
  if (optind < argc) {
    tool_usage_error(PROG, "unexpected argument '%s'", argv[optind]);
    return EXIT_USAGE;
  }
  if (n_roles != 1) {
    tool_usage_error(PROG, "give exactly one of --listen and --connect");
    return EXIT_USAGE;
  }
  if ((opt->cert_path == NULL) != (opt->key_path == NULL)) {
    tool_usage_error(PROG, "--cert and --key go together");
    return EXIT_USAGE;
  }
  if (opt->media && opt->export_keying_material) {
    tool_usage_error(PROG,
                     "--export-keying-material runs the bare DTLS association, which carries no "
                     "media: it cannot be combined with --send-rtp");
    return EXIT_USAGE;
  }
  int rc = check_plain_options(opt);
  return rc != 0 ? rc : check_turn_options(opt);
}

/* ---- close phase -------------------------------------------------------- */

static void run_close(dtls_app *t) {
  /* close_notify is a single unacknowledged datagram (RFC 5246 §7.2.1). */
  if (engine_close(t, tool_now_us()) == 0) {
    drain(t);
  }
  if (t->turn != NULL) {
    /* deletes the allocation and closes the DTLS association to the server */
    rtcsec_turn_close(t->turn, tool_now_us());
    flush_turn(t);
  }
}

/* ---- main --------------------------------------------------------------- */

int main(int argc, char **argv) {
  dtls_options opt;
  int help = 0;
  int rc = parse_options(argc, argv, &opt, &help);
  if (rc != 0) {
    return rc;
  }
  if (help) {
    usage(stdout);
    return 0;
  }
  static dtls_app t; /* large buffers: keep them off the stack */
  memset(&t, 0, sizeof(t));
  t.opt = &opt;
  t.fd = -1;
  t.alert = -1;
  t.deadline = tool_now_us() + (uint64_t)opt.timeout_s * 1000000u;

  rc = app_setup(&t);
  if (rc != 0) {
    app_cleanup(&t);
    return rc;
  }
  if (t.turn != NULL) {
    rc = run_turn(&t);
    if (rc != 0 || opt.turn_only != TURN_ONLY_NO) {
      if (rc == 0) {
        run_close(&t);
      }
      app_cleanup(&t);
      return rc;
    }
  }
  rc = run_handshake(&t);
  if (rc == 0) {
    report_connected(&t);
    if (opt.media) {
      rc = run_media(&t);
    } else if (opt.send_given || opt.echo || opt.coap_get != NULL || opt.coap_reply != NULL) {
      rc = run_data(&t);
    }
    run_close(&t);
  }
  if (opt.role == RTCSEC_DTLS_SERVER) {
    listener_report(&t);
  }
  app_cleanup(&t);
  return rc;
}
