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
 * Media phase (both peers run it): each side sends N RTP packets from its
 * own SSRC with a payload derived from (SSRC, sequence number), and an RTCP
 * sender report after every 50th; the receiver unprotects and checks every
 * packet. Three DTLS application-data messages frame it, each resent until
 * the peer shows it arrived (UDP may lose them):
 *   "ready"          I am connected (keys installed): send me media;
 *   "done RTP RTCP"  I have sent that many packets, nothing more follows;
 *   "ack"            your "done" arrived.
 * A side starts sending once the peer is ready, so that no packet reaches
 * a peer that has no keys yet, and ends once its "done" is acknowledged and
 * it has the peer's count and every packet the peer sent (or a bounded
 * drain has passed).
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
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "client_hello.h"
#include "coap.h"
#include "rtcsec/rtcsec.h"
#include "rtcsec/srtp.h"
#include "rtcsec/transport.h"
#include "rtcsec/turn.h"

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
} tool_options;

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

typedef struct tool {
  const tool_options *opt;
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
  char detail[256];
  rtcsec_connected_info info; /* what was negotiated */
  rtcsec_srtp_keys keys;      /* bare association only (--export-keying-material); wiped in
                                 tool_cleanup() */
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
} tool;

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

static void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void usage_error(const char *fmt, ...) {
  va_list ap;
  fputs(PROG ": ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputs("\nTry '" PROG " --help'.\n", stderr);
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
static int check_plain_options(const tool_options *opt) {
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
    usage_error("%s", why);
    return EXIT_USAGE;
  }
  if (opt->coap_get != NULL) {
    static const uint8_t token[4] = {0};
    uint8_t probe[DATA_MAX];
    if (coap_build_get(probe, sizeof(probe), 0, token, sizeof(token), opt->coap_get) == 0) {
      usage_error("--coap-get '%s': expected a path of non-empty segments", opt->coap_get);
      return EXIT_USAGE;
    }
  }
  return 0;
}

/* The TURN options go together as the help says. */
static int check_turn_options(const tool_options *opt) {
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
    usage_error("%s", why);
    return EXIT_USAGE;
  }
  return 0;
}

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
    case OPT_SEND_RTP:
      if (parse_uint(optarg, 0, MAX_SEND_RTP, &v) != 0) {
        usage_error("--send-rtp '%s': expected a number of packets from 0 to %d", optarg,
                    MAX_SEND_RTP);
        return EXIT_USAGE;
      }
      opt->media = 1;
      opt->send_rtp = v;
      break;
    case OPT_RATE:
      if (parse_uint(optarg, 0, MAX_RATE, &v) != 0) {
        usage_error("--rate '%s': expected packets per second from 0 to %d", optarg, MAX_RATE);
        return EXIT_USAGE;
      }
      opt->rate = v;
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
    case OPT_NO_SRTP:
      opt->no_srtp = 1;
      break;
    case OPT_PSK_IDENTITY:
      if (optarg[0] == '\0' || strlen(optarg) > RTCSEC_DTLS_MAX_PSK_IDENTITY) {
        usage_error("--psk-identity: 1 to %d bytes", RTCSEC_DTLS_MAX_PSK_IDENTITY);
        return EXIT_USAGE;
      }
      opt->psk_identity = optarg;
      break;
    case OPT_PSK:
      if (parse_hex(optarg, opt->psk, sizeof(opt->psk), &opt->psk_len) != 0) {
        usage_error("--psk: expected 1 to %d bytes in hex", RTCSEC_DTLS_MAX_PSK);
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
      if (parse_uint(optarg, 1, 600000, &v) != 0) {
        usage_error("--%s '%s': expected milliseconds from 1 to 600000",
                    c == OPT_RTO_INITIAL ? "rto-initial-ms" : "rto-max-ms", optarg);
        return EXIT_USAGE;
      }
      *(c == OPT_RTO_INITIAL ? &opt->rto_initial_ms : &opt->rto_max_ms) = v;
      break;
    case OPT_EXPORT_LABEL:
      opt->export_label = optarg;
      break;
    case OPT_EXPORT_LEN:
      if (parse_uint(optarg, 1, RTCSEC_DTLS_MAX_EXPORT, &opt->export_len) != 0) {
        usage_error("--export-len '%s': expected 1 to %d", optarg, RTCSEC_DTLS_MAX_EXPORT);
        return EXIT_USAGE;
      }
      break;
    case OPT_SEND_DATA:
      if (optarg[0] == '\0' || strlen(optarg) > DATA_MAX) {
        usage_error("--send-data: 1 to %d bytes", DATA_MAX);
        return EXIT_USAGE;
      }
      memcpy(opt->send_data, optarg, strlen(optarg));
      opt->send_len = strlen(optarg);
      opt->send_given++;
      break;
    case OPT_SEND_HEX:
      if (parse_hex(optarg, opt->send_data, sizeof(opt->send_data), &opt->send_len) != 0) {
        usage_error("--send-hex: expected 1 to %d bytes in hex", DATA_MAX);
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
        usage_error("at most %d --turn-fingerprint options", RTCSEC_DTLS_MAX_FINGERPRINTS);
        return EXIT_USAGE;
      }
      int rc = rtcsec_fingerprint_parse(&opt->turn_fps[opt->n_turn_fps], optarg, strlen(optarg));
      if (rc != 0) {
        usage_error("--turn-fingerprint '%s': %s", optarg, rtcsec_strerror(rc));
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
        usage_error("--turn-only '%s': expected binding or allocation", optarg);
        return EXIT_USAGE;
      }
      break;
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
  if (opt->media && opt->export_keying_material) {
    usage_error("--export-keying-material runs the bare DTLS association, which carries no "
                "media: it cannot be combined with --send-rtp");
    return EXIT_USAGE;
  }
  int rc = check_plain_options(opt);
  return rc != 0 ? rc : check_turn_options(opt);
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

static uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }

static uint64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
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
  if (opt->cert_path == NULL && opt->psk_len > 0) {
    return 0; /* a device keyed by its pre-shared key needs no certificate */
  }
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
  if (opt->turns != NULL) {
    /* The peer is reached through the relay: the socket talks to the TURN
     * server only, and the peer's address goes into TURN messages. */
    t->peer = addr;
    t->peer_len = addr_len;
    rc = resolve(opt->turns, 0, &addr, &addr_len);
    if (rc != 0) {
      return rc;
    }
  }
  t->fd = socket(addr.ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, IPPROTO_UDP);
  if (t->fd < 0) {
    fprintf(stderr, PROG ": socket: %s\n", strerror(errno));
    return 1;
  }
  if (opt->media) {
    /* Media at --rate 0 comes in bursts: ask for room (best effort, the
     * kernel caps it at net.core.rmem_max / wmem_max). */
    int size = SOCKET_BUFFER;
    (void)setsockopt(t->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
    (void)setsockopt(t->fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
  }
  char text[ADDR_STRLEN];
  if (!passive) {
    if (connect(t->fd, (const struct sockaddr *)&addr, addr_len) != 0) {
      format_addr(&addr, text, sizeof(text));
      fprintf(stderr, PROG ": connect %s: %s\n", text, strerror(errno));
      return 1;
    }
    if (opt->turns == NULL) {
      t->peer = addr;
      t->peer_len = addr_len;
    }
    t->have_peer = 1;
    t->socket_connected = 1;
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

static int association_new(tool *t);

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
  return association_new(t);
}

/* A fresh association (transport, or the bare one); its handshake timeout
 * is what is left of --timeout. */
static int association_new(tool *t) {
  const tool_options *opt = t->opt;
  rtcsec_transport_config tcfg;
  rtcsec_transport_config_default(&tcfg);
  rtcsec_dtls_config *cfg = &tcfg.dtls;
  cfg->role = opt->role;
  cfg->cert = t->cert;
  memcpy(cfg->profiles, opt->profiles, sizeof(cfg->profiles));
  cfg->n_profiles = opt->n_profiles;
  if (opt->mtu != 0) {
    cfg->mtu = opt->mtu;
  }
  /* Let the association itself report a timeout, with its own reason. */
  uint64_t now = now_us();
  cfg->handshake_timeout_us = t->deadline > now ? t->deadline - now : 1;
  cfg->peer_fingerprints = opt->fingerprints;
  cfg->n_peer_fingerprints = opt->n_fingerprints;
  if (t->keylog != NULL) {
    cfg->keylog = keylog_line;
    cfg->keylog_user = t->keylog;
  }
  cfg->use_srtp = !opt->no_srtp;
  cfg->ciphers = opt->ciphers;
  cfg->groups = opt->groups;
  if (opt->psk_len > 0) {
    cfg->psk_identity = opt->psk_identity;
    cfg->psk = opt->psk;
    cfg->psk_len = opt->psk_len;
  }
  cfg->ca_file = opt->ca_file;
  cfg->peer_name = opt->peer_name;
  if (opt->rto_initial_ms != 0) {
    cfg->rto_initial_us = opt->rto_initial_ms * 1000u;
  }
  if (opt->rto_max_ms != 0) {
    cfg->rto_max_us = opt->rto_max_ms * 1000u;
  } else if (cfg->rto_max_us < cfg->rto_initial_us) {
    cfg->rto_max_us = cfg->rto_initial_us;
  }
  int bare = opt->export_keying_material || opt->no_srtp;
  int rc = bare ? rtcsec_dtls_new(&t->dtls, cfg) : rtcsec_transport_new(&t->tr, &tcfg);
  if (rc != 0) {
    fprintf(stderr, PROG ": cannot create the %s: %s\n", bare ? "DTLS association" : "transport",
            rtcsec_strerror(rc));
    if (rc == RTCSEC_ERR_INVALID_ARGUMENT && (opt->ciphers != NULL || opt->groups != NULL)) {
      fprintf(stderr, PROG ": check --cipher (AEAD suites only: AES-GCM, AES-CCM, AES-CCM8, "
                           "ChaCha20-Poly1305; PSK suites need --psk) and --groups\n");
    }
    return rc == RTCSEC_ERR_INVALID_ARGUMENT ? EXIT_USAGE : 1;
  }
  return 0;
}

/* The TURN client for --turns (its own fresh certificate: the server
 * does not check it). */
static int setup_turn(tool *t) {
  const tool_options *opt = t->opt;
  if (opt->turns == NULL) {
    return 0;
  }
  rtcsec_turn_config tc;
  rtcsec_turn_config_default(&tc);
  tc.dtls.ca_file = opt->turn_ca;
  tc.dtls.peer_name = opt->turn_name;
  tc.dtls.peer_fingerprints = opt->turn_fps;
  tc.dtls.n_peer_fingerprints = opt->n_turn_fps;
  uint64_t now = now_us();
  tc.dtls.handshake_timeout_us = t->deadline > now ? t->deadline - now : 1;
  tc.username = opt->turn_user;
  tc.password = opt->turn_pass;
  tc.software = PROG;
  int rc = rtcsec_turn_new(&t->turn, &tc);
  if (rc != 0) {
    fprintf(stderr, PROG ": cannot create the TURN client: %s\n", rtcsec_strerror(rc));
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
    rc = setup_turn(t);
  }
  if (rc == 0) {
    rc = setup_association(t);
  }
  if (rc != 0) {
    return rc;
  }
  if (!opt->quiet) {
    rtcsec_fingerprint fp;
    if (t->cert != NULL && rtcsec_cert_fingerprint(t->cert, RTCSEC_HASH_SHA256, &fp) == 0) {
      print_fingerprint("local fingerprint", &fp);
    }
    fflush(stdout);
    if (opt->n_fingerprints == 0 && opt->psk_len == 0 && opt->ca_file == NULL &&
        opt->turn_only == TURN_ONLY_NO) {
      fprintf(stderr, PROG ": warning: no --fingerprint (nor --psk or --ca-file) given: the "
                           "peer cannot be verified, so the handshake cannot complete (it will "
                           "time out)\n");
    }
  }
  return 0;
}

/* ---- the engine: a transport, or the bare association ------------------- */

/* The calls the I/O loop makes, on whichever object this run drives. The
 * transport's DTLS half behaves as the bare association does. */

static int engine_start(tool *t, uint64_t now) {
  return t->tr != NULL ? rtcsec_transport_start(t->tr, now) : rtcsec_dtls_start(t->dtls, now);
}

static uint64_t engine_deadline(const tool *t) {
  return t->tr != NULL ? rtcsec_transport_deadline(t->tr) : rtcsec_dtls_deadline(t->dtls);
}

static void engine_timeout(tool *t, uint64_t now) {
  if (t->tr != NULL) {
    rtcsec_transport_handle_timeout(t->tr, now);
  } else {
    rtcsec_dtls_handle_timeout(t->dtls, now);
  }
}

static int engine_poll_datagram(tool *t, uint8_t *buf, size_t cap, size_t *len) {
  return t->tr != NULL ? rtcsec_transport_poll_datagram(t->tr, buf, cap, len)
                       : rtcsec_dtls_poll_datagram(t->dtls, buf, cap, len);
}

static int engine_close(tool *t, uint64_t now) {
  return t->tr != NULL ? rtcsec_transport_close(t->tr, now) : rtcsec_dtls_close(t->dtls, now);
}

static void engine_dtls_stats(const tool *t, rtcsec_dtls_stats *st) {
  memset(st, 0, sizeof(*st));
  if (t->tr != NULL) {
    rtcsec_transport_stats ts;
    if (rtcsec_transport_get_stats(t->tr, &ts) == 0) {
      *st = ts.dtls;
    }
  } else {
    rtcsec_dtls_get_stats(t->dtls, st);
  }
}

/* OpenSSL's reason for a failure: only the bare association keeps it. */
static const char *engine_error_detail(const tool *t) {
  return t->dtls != NULL ? rtcsec_dtls_error_detail(t->dtls) : "";
}

/* ---- the I/O loop shared by all phases ---------------------------------- */

/* One datagram to the peer: on the connected socket, or (a listener before
 * its handshake is done) addressed to the peer chosen. */
static void flush_turn(tool *t);

static ssize_t send_to_peer(tool *t, const uint8_t *buf, size_t len) {
  if (t->turn != NULL) {
    /* through the relay: ChannelData once bound (it is before the
     * handshake starts), else a Send indication */
    int rc = rtcsec_turn_send(t->turn, (const struct sockaddr *)&t->peer, t->peer_len, buf, len,
                              now_us());
    flush_turn(t);
    if (rc != 0) {
      errno = EIO;
      return -1;
    }
    return (ssize_t)len;
  }
  if (t->socket_connected) {
    return send(t->fd, buf, len, 0);
  }
  return sendto(t->fd, buf, len, 0, (const struct sockaddr *)&t->peer, t->peer_len);
}

/* Sends every queued datagram. Send errors are not fatal: DTLS retransmits. */
static void flush_datagrams(tool *t) {
  for (;;) {
    size_t len = 0;
    int rc = engine_poll_datagram(t, t->buf, sizeof(t->buf), &len);
    if (rc != 0 || len == 0) {
      return;
    }
    if (!t->have_peer) {
      continue; /* a server cannot answer before it has heard from a peer */
    }
    /* ECONNREFUSED (an ICMP error for an earlier datagram) and a full buffer
     * are both cured by retransmission. */
    (void)send_to_peer(t, t->buf, len);
  }
}

static void media_on_data(tool *t, const uint8_t *data, size_t len, uint64_t now);
static void data_on_record(tool *t, const uint8_t *data, size_t len, uint64_t now);

static void on_event(tool *t, const rtcsec_event *ev) {
  switch (ev->type) {
  case RTCSEC_EVENT_CONNECTED:
    t->connected = 1;
    t->info = ev->connected;
    /* the advanced path: the bare association hands its keys out */
    if (rtcsec_dtls_export_srtp_keys(t->dtls, &t->keys) != RTCSEC_OK)
      t->keys.material_len = 0;
    /* plain DTLS: RFC 5705 material for another protocol on top */
    if (t->opt->no_srtp && t->opt->export_keying_material &&
        rtcsec_dtls_export_keying_material(t->dtls, t->opt->export_label, t->keymat,
                                           t->opt->export_len) == RTCSEC_OK)
      t->keymat_len = t->opt->export_len;
    break;
  case RTCSEC_EVENT_FAILED:
    t->failed = 1;
    t->error = ev->failed.error;
    t->alert = ev->failed.alert;
    t->alert_from_peer = ev->failed.alert_from_peer;
    break;
  case RTCSEC_EVENT_CLOSED:
    t->peer_closed = 1;
    break;
  case RTCSEC_EVENT_DATA: /* plain DTLS: the data phase */
    data_on_record(t, ev->data.data, ev->data.len, now_us());
    break;
  case RTCSEC_EVENT_NONE:
  default:
    break;
  }
}

static void on_transport_event(tool *t, const rtcsec_event *ev) {
  switch (ev->type) {
  case RTCSEC_EVENT_CONNECTED:
    /* What was negotiated; the keys stay inside the transport. */
    t->connected = 1;
    t->info = ev->connected;
    break;
  case RTCSEC_EVENT_FAILED:
    t->failed = 1;
    t->error = ev->failed.error;
    t->alert = ev->failed.alert;
    t->alert_from_peer = ev->failed.alert_from_peer;
    break;
  case RTCSEC_EVENT_CLOSED:
    t->peer_closed = 1;
    break;
  case RTCSEC_EVENT_DATA:
    media_on_data(t, ev->data.data, ev->data.len, now_us());
    break;
  case RTCSEC_EVENT_NONE:
  default:
    break;
  }
}

/* Drains datagrams and events after any call into the engine. */
static void drain(tool *t) {
  flush_datagrams(t);
  for (;;) {
    if (t->tr != NULL) {
      rtcsec_event ev;
      memset(&ev, 0, sizeof(ev));
      if (rtcsec_transport_poll_event(t->tr, &ev) != 0 || ev.type == RTCSEC_EVENT_NONE) {
        break;
      }
      on_transport_event(t, &ev);
    } else {
      rtcsec_event ev;
      memset(&ev, 0, sizeof(ev));
      if (rtcsec_dtls_poll_event(t->dtls, &ev) != 0 || ev.type == RTCSEC_EVENT_NONE) {
        break;
      }
      on_event(t, &ev);
    }
    /* An answer to DATA ("ack") may have been queued: send it in order. */
    flush_datagrams(t);
  }
  /* A failure queues its alert after the event: send that too. */
  flush_datagrams(t);
}

static void addr_key_of(const struct sockaddr_storage *ss, addr_key *k) {
  memset(k, 0, sizeof(*k));
  k->b[0] = (uint8_t)ss->ss_family;
  if (ss->ss_family == AF_INET) {
    const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
    memcpy(k->b + 2, &a->sin_port, 2);
    memcpy(k->b + 4, &a->sin_addr, 4);
  } else if (ss->ss_family == AF_INET6) {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
    memcpy(k->b + 2, &a->sin6_port, 2);
    memcpy(k->b + 4, &a->sin6_addr, 16);
  }
}

/* A datagram the listener does not hand to the association: counted, and
 * its sender among the distinct ones (exactly up to MAX_IGNORED_ADDRS). */
static void ignore_datagram(tool *t, const struct sockaddr_storage *from) {
  t->ignored_datagrams++;
  addr_key k;
  addr_key_of(from, &k);
  for (size_t i = 0; i < t->n_ignored_addrs; i++) {
    if (memcmp(&t->ignored_addrs[i], &k, sizeof(k)) == 0) {
      return;
    }
  }
  if (t->n_ignored_addrs == MAX_IGNORED_ADDRS) {
    t->ignored_addrs_overflow = 1;
    return;
  }
  t->ignored_addrs[t->n_ignored_addrs++] = k;
}

/* A listener takes as its peer the sender of the first valid ClientHello
 * (client_hello.h); anything else is not the start of a handshake. The
 * socket stays unconnected until the handshake is done, so that a failed
 * one can be followed by another client. */
static int accept_peer(tool *t, const struct sockaddr_storage *from, socklen_t from_len,
                       const uint8_t *data, size_t len) {
  if (client_hello_check(data, len) != CLIENT_HELLO_OK) {
    return -1;
  }
  t->peer = *from;
  t->peer_len = from_len;
  t->have_peer = 1;
  t->peer_last_rx = now_us();
  if (!t->opt->quiet) {
    char text[ADDR_STRLEN];
    format_addr(from, text, sizeof(text));
    fprintf(stderr, PROG ": peer %s\n", text);
  }
  return 0;
}

static void media_on_rtp(tool *t, const uint8_t *p, size_t len);
static void media_on_rtcp(tool *t, const uint8_t *p, size_t len);

/* One received datagram into the transport. Media comes back as plaintext;
 * what the transport refuses (forged, replayed, unknown, ...) it counts. */
static void handle_transport_datagram(tool *t, size_t n, uint64_t now) {
  rtcsec_transport_input in;
  memset(&in, 0, sizeof(in));
  int rc = rtcsec_transport_handle_datagram(t->tr, t->buf, n, now, &in);
  if (rc != 0) {
    return;
  }
  switch (in.kind) {
  case RTCSEC_PKT_RTP:
    media_on_rtp(t, t->buf, in.len);
    break;
  case RTCSEC_PKT_RTCP:
    media_on_rtcp(t, t->buf, in.len);
    break;
  case RTCSEC_PKT_STUN: /* no ICE here */
    t->m.stun_ignored++;
    break;
  default:
    break;
  }
}

/* One datagram from the peer into the association. */
static void engine_input(tool *t, size_t n) {
  t->peer_last_rx = now_us();
  if (t->tr != NULL) {
    handle_transport_datagram(t, n, now_us());
  } else {
    rtcsec_dtls_handle_datagram(t->dtls, t->buf, n, now_us());
  }
  drain(t);
}

static void read_datagrams(tool *t) {
  for (;;) {
    struct sockaddr_storage from;
    socklen_t from_len = sizeof(from);
    uint8_t *into = t->turn != NULL ? t->turn_buf : t->buf;
    ssize_t n = recvfrom(t->fd, into, sizeof(t->buf), 0, (struct sockaddr *)&from, &from_len);
    if (n < 0) {
      /* EAGAIN: drained. ECONNREFUSED: the peer is not up yet; keep going. */
      if (errno == EINTR || errno == ECONNREFUSED) {
        continue;
      }
      return;
    }
    if (t->turn != NULL) {
      /* the connected socket hears the TURN server only */
      rtcsec_turn_handle_datagram(t->turn, t->turn_buf, (size_t)n, now_us());
      flush_turn(t);
      continue;
    }
    if (!t->have_peer) {
      if (accept_peer(t, &from, from_len, t->buf, (size_t)n) != 0) {
        ignore_datagram(t, &from);
        continue;
      }
    } else if (!same_addr(&from, &t->peer)) {
      ignore_datagram(t, &from); /* someone else, or queued before connect() */
      continue;
    }
    engine_input(t, (size_t)n);
  }
}

/* One turn of the loop: waits for a datagram or the next deadline (at most
 * until `until`; with want_write also for room to send), feeds what came
 * and runs due timers. */
static void io_wait(tool *t, uint64_t until, int want_write) {
  uint64_t now = now_us();
  uint64_t wake = engine_deadline(t);
  if (t->turn != NULL) {
    wake = min_u64(wake, rtcsec_turn_deadline(t->turn));
  }
  if (until < wake) {
    wake = until;
  }
  int wait_ms = 0;
  if (wake > now) {
    uint64_t ms = (wake - now + 999) / 1000; /* round up: never wake early */
    wait_ms = ms > INT_MAX ? INT_MAX : (int)ms;
  }
  struct pollfd pfd = {.fd = t->fd, .events = POLLIN, .revents = 0};
  if (want_write) {
    pfd.events |= POLLOUT;
  }
  int n = poll(&pfd, 1, wait_ms);
  if (n > 0 && (pfd.revents & (POLLIN | POLLERR)) != 0) {
    read_datagrams(t);
  }
  now = now_us();
  if (now >= engine_deadline(t)) {
    engine_timeout(t, now);
    drain(t);
  }
  if (t->turn != NULL && now >= rtcsec_turn_deadline(t->turn)) {
    rtcsec_turn_handle_timeout(t->turn, now);
    flush_turn(t);
  }
}

static void io_step(tool *t, uint64_t until) { io_wait(t, until, 0); }

/* ---- the path through a TURN server over DTLS (--turns) ------------------- */

static void print_addr_line(const char *label, const struct sockaddr_storage *a) {
  char text[ADDR_STRLEN];
  format_addr(a, text, sizeof(text));
  printf("%s: %s\n", label, text);
  fflush(stdout);
}

static void on_turn_event(tool *t, const rtcsec_event *ev) {
  const rtcsec_turn_info *ti = &ev->turn;
  switch (ev->type) {
  case RTCSEC_EVENT_CONNECTED:
    t->turn_connected = 1;
    if (!t->opt->quiet) {
      printf("turn server: connected, %s, %s\n", ev->connected.version, ev->connected.cipher);
      print_fingerprint("turn server fingerprint", &ev->connected.peer_fingerprint);
    }
    break;
  case RTCSEC_EVENT_FAILED:
    t->turn_failed = 1;
    snprintf(t->turn_why, sizeof(t->turn_why), "DTLS to the TURN server failed: %s (%s)",
             rtcsec_strerror(ev->failed.error), rtcsec_turn_error_detail(t->turn));
    break;
  case RTCSEC_EVENT_MAPPED_ADDRESS: /* from Binding, and again from Allocate */
    if (!t->turn_mapped) {
      print_addr_line("mapped address", &ti->addr);
    }
    t->turn_mapped = 1;
    break;
  case RTCSEC_EVENT_ALLOCATED:
    t->turn_allocated = 1;
    print_addr_line("relayed address", &ti->addr);
    break;
  case RTCSEC_EVENT_CHANNEL_BOUND:
    t->turn_bound = 1;
    printf("turn channel: 0x%04X\n", ti->channel);
    fflush(stdout);
    break;
  case RTCSEC_EVENT_TURN_ERROR:
    t->turn_error = 1;
    snprintf(t->turn_why, sizeof(t->turn_why), "TURN request 0x%03X failed: %s",
             (unsigned)ti->method, ti->reason[0] ? ti->reason : "no response");
    break;
  case RTCSEC_EVENT_RELAYED_DATA:
    /* only the peer's datagrams feed the association (RFC 8656 §11.4 already
     * kept out peers without permission) */
    if (same_addr(&ti->addr, &t->peer) && ti->len <= sizeof(t->buf)) {
      memcpy(t->buf, ti->data, ti->len);
      engine_input(t, ti->len);
    } else {
      t->ignored_datagrams++;
    }
    break;
  case RTCSEC_EVENT_CLOSED:
    t->turn_failed = 1;
    snprintf(t->turn_why, sizeof(t->turn_why), "the TURN server closed the DTLS association");
    break;
  default:
    break;
  }
}

/* Sends what the TURN client queued and handles its events. */
static void flush_turn(tool *t) {
  for (int round = 0; round < 64; round++) {
    size_t len = 0;
    while (rtcsec_turn_poll_datagram(t->turn, t->turn_buf, sizeof(t->turn_buf), &len) == 0 &&
           len > 0) {
      (void)send(t->fd, t->turn_buf, len, 0); /* lost ones are retransmitted */
    }
    rtcsec_event ev;
    if (rtcsec_turn_poll_event(t->turn, &ev) != 0 || ev.type == RTCSEC_EVENT_NONE) {
      return;
    }
    on_turn_event(t, &ev);
  }
}

/* Before the handshake with the peer: the TURN server authenticated, our
 * reflexive address, an allocation and a channel to the peer. Returns 0
 * when the path is ready (or --turn-only is satisfied), else 1. */
static int run_turn(tool *t) {
  const tool_options *opt = t->opt;
  uint64_t now = now_us();
  if (rtcsec_turn_start(t->turn, now) != 0 || rtcsec_turn_binding(t->turn, now) != 0 ||
      (opt->turn_user != NULL && rtcsec_turn_allocate(t->turn, now) != 0)) {
    return fail(RTCSEC_ERR_INVALID_STATE, "the TURN client refused to start");
  }
  flush_turn(t);
  int asked_channel = 0;
  for (;;) {
    now = now_us();
    if (t->turn_failed || t->turn_error) {
      fprintf(stderr, PROG ": turn failed: %s\n", t->turn_why);
      return 1;
    }
    if (opt->turn_only == TURN_ONLY_BINDING && t->turn_mapped) {
      return 0;
    }
    if (t->turn_allocated && t->turn_mapped) {
      if (opt->turn_only == TURN_ONLY_ALLOCATION || t->turn_bound) {
        return 0;
      }
      if (!asked_channel) {
        /* the channel also installs the permission (RFC 8656 §12) */
        if (rtcsec_turn_bind_channel(t->turn, (const struct sockaddr *)&t->peer, t->peer_len,
                                     now) != 0) {
          return fail(RTCSEC_ERR_INVALID_STATE, "the TURN client refused ChannelBind");
        }
        asked_channel = 1;
        flush_turn(t);
        continue;
      }
    }
    if (now >= t->deadline) {
      fprintf(stderr, PROG ": turn failed: %s in %u s\n",
              !t->turn_connected   ? "no DTLS association with the TURN server"
              : !t->turn_mapped    ? "no Binding answer"
              : !t->turn_allocated ? "no allocation"
                                   : "no channel",
              opt->timeout_s);
      return 1;
    }
    io_step(t, t->deadline);
  }
}

/* ---- handshake phase ---------------------------------------------------- */

/* "N from M addresses" (M exact up to MAX_IGNORED_ADDRS). */
static void format_ignored(const tool *t, char *buf, size_t cap) {
  snprintf(buf, cap, "%llu from %s%zu addresses", (unsigned long long)t->ignored_datagrams,
           t->ignored_addrs_overflow ? "more than " : "", t->n_ignored_addrs);
}

/* Why a handshake ran out of time, from what we saw. */
static void describe_timeout(const tool *t, char *buf, size_t cap) {
  rtcsec_dtls_stats st;
  engine_dtls_stats(t, &st);
  unsigned s = t->opt->timeout_s;
  if (!t->have_peer) {
    char ignored[80];
    format_ignored(t, ignored, sizeof(ignored));
    snprintf(buf, cap, "no valid ClientHello in %u s; ignored datagrams: %s", s, ignored);
  } else if (st.awaiting_fingerprint) {
    snprintf(buf, cap, "waited %u s for a --fingerprint to verify the peer with", s);
  } else if (st.datagrams_received == 0) {
    snprintf(buf, cap, "no answer in %u s, %llu retransmissions", s,
             (unsigned long long)st.retransmissions);
  } else if (st.unauthenticated_alerts > 0) {
    /* The peer (or someone) sent a plaintext alert; the association did
     * not act on it, since it is not authenticated, but it is the likely
     * reason: name it. */
    snprintf(buf, cap,
             "not finished in %u s, %llu datagrams received, %llu retransmissions; "
             "unauthenticated alert received: %s",
             s, (unsigned long long)st.datagrams_received, (unsigned long long)st.retransmissions,
             rtcsec_dtls_alert_name(st.last_unauthenticated_alert));
  } else {
    snprintf(buf, cap, "not finished in %u s, %llu datagrams received, %llu retransmissions%s", s,
             (unsigned long long)st.datagrams_received, (unsigned long long)st.retransmissions,
             /* RFC 4279: a Finished under another key is dropped like any
              * forged record, so a wrong key looks like silence */
             t->opt->psk_len > 0 ? "; with a pre-shared key this is what a different key on "
                                   "the other side looks like"
                                 : "");
  }
}

/* Why the handshake in progress ended without connecting. Returns the
 * error code; the detail goes to buf. */
static int handshake_failure(const tool *t, char *buf, size_t cap) {
  if (t->peer_closed && !t->failed) {
    snprintf(buf, cap, "peer closed during the handshake");
    return RTCSEC_ERR_CLOSED;
  }
  if (!t->failed) {
    describe_timeout(t, buf, cap);
    return RTCSEC_ERR_HANDSHAKE_TIMEOUT;
  }
  const char *d = engine_error_detail(t);
  if (t->alert >= 0) {
    snprintf(buf, cap, "%s%salert %s %s", d, d[0] != '\0' ? "; " : "",
             rtcsec_dtls_alert_name(t->alert), t->alert_from_peer ? "from peer" : "sent");
  } else {
    snprintf(buf, cap, "%s", d[0] != '\0' ? d : "no detail");
  }
  return t->error;
}

static void association_free(tool *t) {
  rtcsec_srtp_keys_wipe(&t->keys);
  rtcsec_transport_free(t->tr);
  t->tr = NULL;
  rtcsec_dtls_free(t->dtls);
  t->dtls = NULL;
}

/* --listen: the handshake with the chosen peer ended without connecting
 * (it failed, the peer closed, or went silent). Nothing the peer sent was
 * authenticated, so it ends nothing but this attempt: remember why, forget
 * the peer, and wait for the next valid ClientHello with a fresh
 * association. Returns 0, or 1 if no association could be made. */
static int listener_drop_peer(tool *t, int code, const char *detail) {
  char peer[ADDR_STRLEN];
  format_addr(&t->peer, peer, sizeof(peer));
  t->failed_handshakes++;
  t->last_failed_code = code;
  snprintf(t->last_failed, sizeof(t->last_failed), "%s from %s", detail, peer);
  fprintf(stderr, PROG ": handshake with %s dropped: %s (%s); waiting for another ClientHello\n",
          peer, rtcsec_strerror(code), detail);
  association_free(t);
  memset(&t->info, 0, sizeof(t->info));
  memset(&t->m, 0, sizeof(t->m)); /* what that peer's datagrams counted */
  t->have_peer = 0;
  t->connected = 0;
  t->failed = 0;
  t->peer_closed = 0;
  t->error = 0;
  t->alert = -1;
  t->alert_from_peer = 0;
  int rc = association_new(t);
  return rc == 0 ? 0 : 1;
}

static int run_handshake(tool *t) {
  int listener = t->opt->role == RTCSEC_DTLS_SERVER;
  /* A server starts with the first datagram, so that its handshake time and
   * timeout count from the peer's first contact, not from our launch. */
  if (!listener) {
    int rc = engine_start(t, now_us());
    if (rc != 0) {
      return fail(rc, engine_error_detail(t));
    }
    drain(t);
  }
  char detail[320];
  for (;;) {
    uint64_t now = now_us();
    if (t->connected || now >= t->deadline) {
      break;
    }
    uint64_t until = t->deadline;
    if (listener && t->have_peer) {
      int ended = t->failed || t->peer_closed;
      rtcsec_dtls_stats st;
      engine_dtls_stats(t, &st);
      uint64_t idle = st.unauthenticated_alerts > 0 ? HANDSHAKE_ALERTED_IDLE_US : HANDSHAKE_IDLE_US;
      if (ended || now - t->peer_last_rx >= idle) {
        int code = RTCSEC_ERR_HANDSHAKE_TIMEOUT;
        if (ended) {
          code = handshake_failure(t, detail, sizeof(detail));
        } else if (st.unauthenticated_alerts > 0) {
          snprintf(detail, sizeof(detail),
                   "the peer sent the alert %s (unauthenticated) and then nothing for %u s",
                   rtcsec_dtls_alert_name(st.last_unauthenticated_alert),
                   (unsigned)(idle / 1000000u));
        } else {
          snprintf(detail, sizeof(detail), "the peer sent nothing for %u s",
                   HANDSHAKE_IDLE_US / 1000000u);
        }
        if (listener_drop_peer(t, code, detail) != 0) {
          return 1;
        }
        continue;
      }
      until = min_u64(until, t->peer_last_rx + idle);
    } else if (!listener && (t->failed || t->peer_closed)) {
      break;
    }
    io_step(t, until);
  }
  if (t->connected) {
    /* From now on the kernel drops everyone else, and reports ICMP errors. */
    if (listener && connect(t->fd, (const struct sockaddr *)&t->peer, t->peer_len) == 0) {
      t->socket_connected = 1;
    }
    return 0;
  }
  int code = handshake_failure(t, detail, sizeof(detail));
  if (listener && !t->have_peer && t->failed_handshakes > 0) {
    /* The last handshake that got anywhere says most about what went wrong. */
    char last[sizeof(t->last_failed) + 64];
    snprintf(last, sizeof(last), "%s; then no other handshake completed in %u s", t->last_failed,
             t->opt->timeout_s);
    return fail(t->last_failed_code, last);
  }
  return fail(code, detail);
}

/* ---- report phase ------------------------------------------------------- */

static void report_connected(tool *t) {
  const tool_options *opt = t->opt;
  const rtcsec_connected_info *ci = &t->info;
  if (!opt->quiet) {
    rtcsec_dtls_stats st;
    engine_dtls_stats(t, &st);
    printf("connected\n");
    printf("profile: %s\n", rtcsec_srtp_profile_name(ci->profile));
    printf("version: %s\n", ci->version != NULL ? ci->version : "?");
    printf("cipher: %s\n", ci->cipher != NULL ? ci->cipher : "?");
    printf("group: %s\n", ci->group != NULL && ci->group[0] ? ci->group : "?");
    if (ci->peer_fingerprint.len > 0) {
      print_fingerprint("peer fingerprint", &ci->peer_fingerprint);
    } else {
      printf("peer: authenticated by the pre-shared key\n");
    }
    printf("role: %s\n", opt->role == RTCSEC_DTLS_CLIENT ? "client" : "server");
    printf("handshake: %llu ms, %llu retransmissions\n",
           (unsigned long long)(st.handshake_us / 1000), (unsigned long long)st.retransmissions);
  }
  if (opt->export_keying_material) {
    if (!opt->quiet) {
      fprintf(stderr, PROG ": warning: the keying material printed on stdout is secret: it "
                           "decrypts all media of this session\n");
    }
    if (opt->no_srtp) {
      print_hex_line("keying material", t->keymat, t->keymat_len);
    } else {
      print_hex_line("keying material", t->keys.material, t->keys.material_len);
    }
  }
  fflush(stdout);
}

/* ---- media phase: packets ----------------------------------------------- */

static void put_u16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}

static void put_u32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

static uint16_t get_u16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static uint32_t get_u32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Payload octet i of the packet (ssrc, seq): the receiver recomputes it. */
static uint8_t payload_octet(uint32_t ssrc, uint16_t seq, size_t i) {
  uint32_t h = (ssrc ^ ((uint32_t)seq << 16 | seq)) * 2654435761u + (uint32_t)i * 40503u;
  return (uint8_t)(h >> 24);
}

/* RTP packet number idx (RFC 3550 §5.1): V=2, no CSRC, no extension, the
 * marker on the first, sequence numbers from FIRST_SEQ (so that a call of
 * more than 1000 packets crosses the 16-bit wrap and the ROC moves). */
static size_t build_rtp(uint8_t *p, uint32_t ssrc, uint64_t idx) {
  uint16_t seq = (uint16_t)(FIRST_SEQ + idx);
  p[0] = 0x80;
  p[1] = (uint8_t)(RTP_PT | (idx == 0 ? 0x80 : 0));
  put_u16(p + 2, seq);
  put_u32(p + 4, (uint32_t)(idx * RTP_CLOCK_STEP));
  put_u32(p + 8, ssrc);
  for (size_t i = 0; i < RTP_PAYLOAD_LEN; i++) {
    p[12 + i] = payload_octet(ssrc, seq, i);
  }
  return RTP_LEN;
}

/* RTCP sender report without report blocks (RFC 3550 §6.4.1). */
static size_t build_sr(uint8_t *p, const media_state *m) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  uint64_t ntp_sec = (uint64_t)ts.tv_sec + 2208988800u; /* 1900 -> 1970 */
  uint64_t ntp_frac = ((uint64_t)ts.tv_nsec << 32) / 1000000000u;
  p[0] = 0x80; /* V=2, RC=0 */
  p[1] = 200;  /* SR */
  put_u16(p + 2, SR_LEN / 4 - 1);
  put_u32(p + 4, m->local_ssrc);
  put_u32(p + 8, (uint32_t)ntp_sec);
  put_u32(p + 12, (uint32_t)ntp_frac);
  put_u32(p + 16, (uint32_t)(m->rtp_protected * RTP_CLOCK_STEP));
  put_u32(p + 20, (uint32_t)m->rtp_sent);
  put_u32(p + 24, (uint32_t)m->rtp_octets);
  return SR_LEN;
}

/* A plaintext RTP packet from the peer: SSRC, length, payload and place in
 * the sequence are checked; each packet index may be verified once. */
static void media_on_rtp(tool *t, const uint8_t *p, size_t len) {
  media_state *m = &t->m;
  m->rtp_received++;
  if (len != RTP_LEN || (p[0] & 0x3f) != 0 || (p[1] & 0x7f) != RTP_PT ||
      get_u32(p + 8) != m->peer_ssrc) {
    m->rtp_bad++;
    return;
  }
  uint16_t seq = get_u16(p + 2);
  for (size_t i = 0; i < RTP_PAYLOAD_LEN; i++) {
    if (p[12 + i] != payload_octet(m->peer_ssrc, seq, i)) {
      m->rtp_bad++;
      return;
    }
  }
  /* The packet index, unwrapped from 16 bits next to the highest so far
   * (RFC 3550 §A.1 in spirit): a step of more than +-32767 is a jump the
   * sender never makes. */
  uint64_t base = m->have_index ? m->highest_index : 0;
  int16_t delta = (int16_t)(uint16_t)(seq - (uint16_t)(FIRST_SEQ + base));
  int64_t idx = (int64_t)base + delta;
  if (idx < 0 || idx >= MAX_SEND_RTP) {
    m->rtp_bad++;
    return;
  }
  uint64_t u = (uint64_t)idx;
  if (m->seen[u / 8] & (1u << (u % 8))) {
    m->rtp_duplicates++;
    return;
  }
  m->seen[u / 8] |= (uint8_t)(1u << (u % 8));
  if (!m->have_index || u > m->highest_index) {
    m->highest_index = u;
    m->have_index = 1;
  } else {
    m->rtp_out_of_order++;
  }
  m->rtp_verified++;
  m->peer_ready = 1; /* it sends, so it has keys */
}

static void media_on_rtcp(tool *t, const uint8_t *p, size_t len) {
  media_state *m = &t->m;
  m->rtcp_received++;
  if (len != SR_LEN || p[1] != 200 || get_u32(p + 4) != m->peer_ssrc ||
      get_u32(p + 20) % SR_EVERY != 0) {
    m->rtcp_bad++;
  }
}

/* ---- media phase: the control messages ---------------------------------- */

static void send_control(tool *t, const char *msg, uint64_t now) {
  /* Lost on the way is fine: "ready" and "done" are resent until answered,
   * "ack" answers every "done". */
  (void)rtcsec_transport_send_data(t->tr, (const uint8_t *)msg, strlen(msg), now);
  drain(t);
}

/* Parses "done RTP RTCP": two decimal numbers up to MAX_SEND_RTP. */
static int parse_done(const char *s, uint64_t *rtp, uint64_t *rtcp) {
  unsigned long long a = 0, b = 0;
  int used = 0;
  if (sscanf(s, "done %llu %llu%n", &a, &b, &used) != 2 || s[used] != '\0' || a > MAX_SEND_RTP ||
      b > MAX_SEND_RTP) {
    return -1;
  }
  *rtp = a;
  *rtcp = b;
  return 0;
}

static void media_on_data(tool *t, const uint8_t *data, size_t len, uint64_t now) {
  media_state *m = &t->m;
  char msg[64];
  if (len == 0 || len >= sizeof(msg)) {
    m->data_unknown++;
    return;
  }
  memcpy(msg, data, len);
  msg[len] = '\0';
  if (strcmp(msg, "ready") == 0) {
    m->peer_ready = 1;
  } else if (strcmp(msg, "ack") == 0) {
    m->done_acked = 1;
  } else if (parse_done(msg, &m->peer_rtp, &m->peer_rtcp) == 0) {
    if (!m->got_done) {
      m->got_done = 1;
      m->done_at = now;
    }
    m->peer_ready = 1;
    /* Answered where the event is handled (drain() flushes it after). */
    (void)rtcsec_transport_send_data(t->tr, (const uint8_t *)"ack", 3, now);
  } else {
    m->data_unknown++;
  }
}

/* ---- media phase: sending ------------------------------------------------ */

/* Hands the pending packet to the kernel. 1: gone (or given up), 0: the
 * socket is full, try again when it is writable. */
static int send_pending(tool *t) {
  media_state *m = &t->m;
  ssize_t n = send_to_peer(t, m->pending, m->pending_len);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS || errno == EINTR)) {
    return 0;
  }
  if (n < 0) {
    m->send_errors++; /* e.g. ECONNREFUSED: the peer is gone */
  } else if (m->pending_rtcp) {
    m->rtcp_sent++;
  } else {
    m->rtp_sent++;
    m->rtp_octets += RTP_PAYLOAD_LEN;
  }
  m->pending_len = 0;
  return 1;
}

/* Protects the next packet (an SR if one is due, else the next RTP packet)
 * into m->pending. Returns 0, or the protect error. */
static int protect_next(tool *t) {
  media_state *m = &t->m;
  size_t len, out = 0;
  int rc;
  if (m->sr_due) {
    len = build_sr(m->pending, m);
    rc = rtcsec_transport_protect_rtcp(t->tr, m->pending, len, sizeof(m->pending), &out, now_us());
    m->sr_due = 0;
    m->pending_rtcp = 1;
  } else {
    len = build_rtp(m->pending, m->local_ssrc, m->rtp_protected);
    rc = rtcsec_transport_protect_rtp(t->tr, m->pending, len, sizeof(m->pending), &out, now_us());
    m->rtp_protected++;
    m->sr_due = m->rtp_protected % SR_EVERY == 0;
    m->pending_rtcp = 0;
  }
  m->pending_len = rc == 0 ? out : 0;
  return rc;
}

/* When RTP packet idx is due on the caller's clock. */
static uint64_t due_time(const tool *t, uint64_t idx) {
  if (t->opt->rate == 0) {
    return t->m.send_start;
  }
  return t->m.send_start + idx * 1000000u / t->opt->rate;
}

/* Sends what is due now (at --rate 0: a batch). Returns 0, or a protect
 * error (fatal: e.g. the key is used up). */
static int send_due(tool *t, uint64_t now) {
  media_state *m = &t->m;
  for (int batch = 0; batch < SEND_BATCH; batch++) {
    if (m->pending_len > 0 && !send_pending(t)) {
      return 0; /* socket full: wait for POLLOUT */
    }
    if (!m->sr_due && m->rtp_protected == t->opt->send_rtp) {
      m->sent_all = 1;
      return 0;
    }
    if (!m->sr_due && due_time(t, m->rtp_protected) > now) {
      return 0;
    }
    int rc = protect_next(t);
    if (rc != 0) {
      return rc;
    }
  }
  return 0;
}

/* ---- media phase: the loop ------------------------------------------------ */

/* Every packet the peer said it sent arrived, once, intact. */
static int media_complete(const media_state *m) {
  return m->got_done && m->rtp_verified == m->peer_rtp && m->rtcp_received == m->peer_rtcp &&
         m->rtp_bad == 0 && m->rtcp_bad == 0 && m->rtp_duplicates == 0;
}

/* Runs the media exchange; returns 0 when it ended as planned (whether or
 * not everything arrived: media_report() judges), else a reason in why. */
static int media_loop(tool *t, char *why, size_t why_cap) {
  media_state *m = &t->m;
  const tool_options *opt = t->opt;
  uint64_t now = now_us();
  uint64_t planned = opt->rate ? opt->send_rtp * 1000000u / opt->rate : 0;
  m->deadline = now + planned + (uint64_t)opt->timeout_s * 1000000u;
  send_control(t, "ready", now);
  m->next_ready = now + RESEND_US;
  for (;;) {
    now = now_us();
    if (t->failed) {
      snprintf(why, why_cap, "association failed: %s", rtcsec_strerror(t->error));
      return -1;
    }
    if (!m->peer_ready && t->peer_closed) {
      snprintf(why, why_cap, "the peer closed without a media phase (did it get --send-rtp?)");
      return -1;
    }
    if (now >= m->deadline) {
      snprintf(why, why_cap, "timed out (%s)",
               !m->peer_ready ? "the peer never said it was ready"
               : !m->sent_all ? "still sending"
               : !m->got_done ? "no count from the peer"
                              : "the peer never acknowledged our count");
      return -1;
    }
    if (!m->peer_ready && now >= m->next_ready) {
      send_control(t, "ready", now);
      m->next_ready = now + RESEND_US;
    }
    if (m->peer_ready && !m->sent_all) {
      if (m->send_start == 0) {
        m->send_start = now;
      }
      int rc = send_due(t, now);
      if (rc != 0) {
        snprintf(why, why_cap, "cannot protect: %s", rtcsec_strerror(rc));
        return -1;
      }
      if (m->sent_all) {
        m->next_done = now; /* announce at once */
      }
    }
    if (m->sent_all && !m->done_acked && !t->peer_closed && now >= m->next_done) {
      char msg[64];
      snprintf(msg, sizeof(msg), "done %llu %llu", (unsigned long long)m->rtp_sent,
               (unsigned long long)m->rtcp_sent);
      send_control(t, msg, now);
      m->next_done = now + RESEND_US;
    }
    int sent_ok = m->sent_all && (m->done_acked || t->peer_closed);
    int recv_ok =
        m->got_done && (media_complete(m) || t->peer_closed || now >= m->done_at + DRAIN_US);
    if (sent_ok && recv_ok) {
      return 0;
    }
    if (t->peer_closed && !m->got_done) {
      snprintf(why, why_cap, "the peer closed before saying how much it sent");
      return -1;
    }
    /* Sleep until the next thing to do. */
    uint64_t wake = m->deadline;
    if (!m->peer_ready) {
      wake = min_u64(wake, m->next_ready);
    }
    int want_write = m->pending_len > 0;
    if (m->peer_ready && !m->sent_all && !want_write) {
      wake = min_u64(wake, m->sr_due ? now : due_time(t, m->rtp_protected));
    }
    if (m->sent_all && !m->done_acked && !t->peer_closed) {
      wake = min_u64(wake, m->next_done);
    }
    if (m->got_done && !media_complete(m)) {
      wake = min_u64(wake, m->done_at + DRAIN_US);
    }
    io_wait(t, wake, want_write);
  }
}

/* Prints the counters; returns 0 if every packet the peer sent arrived and
 * verified and nothing was refused. */
static int media_report(tool *t, int loop_rc, const char *why) {
  media_state *m = &t->m;
  rtcsec_transport_stats st;
  memset(&st, 0, sizeof(st));
  rtcsec_transport_get_stats(t->tr, &st);
  const rtcsec_srtp_direction_stats *in = &st.srtp.inbound;
  uint64_t drops = st.drop_unknown + st.drop_zrtp + st.drop_turn_channel + st.drop_no_keys +
                   st.drop_closed + in->too_old_drops + in->malformed + in->ssrc_limit_drops +
                   in->key_limit_refusals + in->other_errors + m->stun_ignored;
  printf("rtp sent: %llu, rtp received: %llu, verified: %llu, rtcp sent: %llu, rtcp received: "
         "%llu, auth failures: %llu, replays: %llu, drops: %llu\n",
         (unsigned long long)m->rtp_sent, (unsigned long long)m->rtp_received,
         (unsigned long long)m->rtp_verified, (unsigned long long)m->rtcp_sent,
         (unsigned long long)m->rtcp_received, (unsigned long long)in->auth_failures,
         (unsigned long long)in->replay_drops, (unsigned long long)drops);
  if (m->got_done) {
    printf("peer sent: %llu rtp, %llu rtcp\n", (unsigned long long)m->peer_rtp,
           (unsigned long long)m->peer_rtcp);
  } else {
    printf("peer sent: unknown\n");
  }
  uint64_t missing =
      m->got_done && m->peer_rtp > m->rtp_verified ? m->peer_rtp - m->rtp_verified : 0;
  printf("missing: %llu, duplicates: %llu, bad: %llu, out of order: %llu\n",
         (unsigned long long)missing, (unsigned long long)m->rtp_duplicates,
         (unsigned long long)(m->rtp_bad + m->rtcp_bad), (unsigned long long)m->rtp_out_of_order);
  char reason[200];
  reason[0] = '\0';
  if (loop_rc != 0) {
    snprintf(reason, sizeof(reason), "%s", why);
  } else if (m->rtp_sent != t->opt->send_rtp || m->send_errors != 0) {
    snprintf(reason, sizeof(reason), "sent %llu of %lu RTP packets",
             (unsigned long long)m->rtp_sent, t->opt->send_rtp);
  } else if (!media_complete(m)) {
    snprintf(reason, sizeof(reason), "not every packet the peer sent was received and verified");
  } else if (in->auth_failures + in->replay_drops + drops != 0) {
    snprintf(reason, sizeof(reason), "packets were refused");
  }
  if (reason[0] != '\0') {
    printf("media: failed\n");
    fflush(stdout);
    fprintf(stderr, PROG ": media failed: %s\n", reason);
    return 1;
  }
  printf("media: verified\n");
  fflush(stdout);
  return 0;
}

static int run_media(tool *t) {
  media_state *m = &t->m;
  int client = t->opt->role == RTCSEC_DTLS_CLIENT;
  m->local_ssrc = client ? SSRC_CLIENT : SSRC_SERVER;
  m->peer_ssrc = client ? SSRC_SERVER : SSRC_CLIENT;
  if (!t->opt->quiet) {
    printf("sending: %lu RTP packets as ssrc 0x%08X at %lu/s, expecting ssrc 0x%08X\n",
           t->opt->send_rtp, m->local_ssrc, t->opt->rate, m->peer_ssrc);
    fflush(stdout);
  }
  char why[200] = "";
  int rc = media_loop(t, why, sizeof(why));
  return media_report(t, rc, why);
}

/* ---- data phase (plain DTLS) ---------------------------------------------- */

/* "LABEL: TEXT" with bytes outside printable ASCII (and '\\') as \xNN. */
static void print_data_line(const char *label, const uint8_t *p, size_t n) {
  printf("%s: ", label);
  for (size_t i = 0; i < n; i++) {
    if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\') {
      putchar(p[i]);
    } else {
      printf("\\x%02X", p[i]);
    }
  }
  putchar('\n');
  fflush(stdout);
}

/* One record to the peer (copied first: the bytes may be an event's). */
static void data_send(tool *t, const uint8_t *p, size_t n, uint64_t now) {
  uint8_t copy[DATA_MAX + 64];
  if (n > sizeof(copy)) {
    fprintf(stderr, PROG ": not sending %zu bytes: more than %zu\n", n, sizeof(copy));
    return;
  }
  memcpy(copy, p, n);
  int rc = rtcsec_dtls_send_data(t->dtls, copy, n, now);
  if (rc != 0) {
    fprintf(stderr, PROG ": cannot send %zu bytes: %s\n", n, rtcsec_strerror(rc));
  }
}

/* A CoAP message from the peer: the response to our GET (RFC 7252 §5.3.2:
 * matched by token; a separate response is acknowledged, §5.2.2), or a
 * confirmable request --coap-reply answers with a piggybacked 2.05
 * (§5.2.1). */
static void coap_on_message(tool *t, const uint8_t *data, size_t len, uint64_t now) {
  const tool_options *opt = t->opt;
  coap_msg m;
  if (coap_parse(data, len, &m) != 0) {
    printf("coap: malformed message\n");
    return;
  }
  int is_response = m.code >= 0x40;
  if (opt->coap_get != NULL && is_response && m.token_len == sizeof(t->coap_token) &&
      memcmp(m.token, t->coap_token, sizeof(t->coap_token)) == 0) {
    printf("coap response: %u.%02u\n", (unsigned)(m.code >> 5), (unsigned)(m.code & 0x1f));
    fflush(stdout);
    print_data_line("coap payload", m.payload, m.payload_len);
    t->data_done = 1;
    if (m.type == COAP_CON) {
      uint8_t ack[4] = {(uint8_t)(1u << 6 | COAP_ACK << 4), 0, (uint8_t)(m.message_id >> 8),
                        (uint8_t)m.message_id};
      data_send(t, ack, sizeof(ack), now);
    }
    return;
  }
  if (opt->coap_reply != NULL && !is_response && m.code != 0 && m.type == COAP_CON) {
    printf("coap request: %u.%02u /%s\n", (unsigned)(m.code >> 5), (unsigned)(m.code & 0x1f),
           m.uri_path);
    fflush(stdout);
    uint8_t out[DATA_MAX + 64];
    size_t n = coap_build_response(out, sizeof(out), &m, COAP_CONTENT,
                                   (const uint8_t *)opt->coap_reply, strlen(opt->coap_reply));
    if (n > 0) {
      data_send(t, out, n, now);
      t->data_answered++;
    }
  }
}

static void data_on_record(tool *t, const uint8_t *data, size_t len, uint64_t now) {
  const tool_options *opt = t->opt;
  t->data_received++;
  t->data_idle = now + (uint64_t)opt->timeout_s * 1000000u;
  print_data_line("data", data, len);
  if (opt->coap_get != NULL || opt->coap_reply != NULL) {
    coap_on_message(t, data, len, now);
    return;
  }
  if (opt->send_given) {
    t->data_done = 1;
  }
  if (opt->echo) {
    data_send(t, data, len, now);
    t->data_answered++;
  }
}

/* Our CoAP GET, first or again (RFC 7252 §4.2: ACK_TIMEOUT doubling, at
 * most MAX_RETRANSMIT retransmissions). Returns 0 once they are used up. */
static int coap_send_request(tool *t, uint64_t now) {
  if (t->coap_sent > COAP_MAX_RETRANSMIT) {
    return 0;
  }
  data_send(t, t->coap_req, t->coap_req_len, now);
  t->coap_next = now + ((uint64_t)COAP_ACK_TIMEOUT_US << t->coap_sent);
  t->coap_sent++;
  return 1;
}

static int run_data(tool *t) {
  const tool_options *opt = t->opt;
  uint64_t now = now_us();
  t->data_idle = now + (uint64_t)opt->timeout_s * 1000000u;
  if (opt->send_given) {
    data_send(t, opt->send_data, opt->send_len, now);
  }
  if (opt->coap_get != NULL) {
    uint8_t rnd[6];
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
      fprintf(stderr, PROG ": getrandom: %s\n", strerror(errno));
      return 1;
    }
    memcpy(t->coap_token, rnd, sizeof(t->coap_token));
    t->coap_mid = (uint16_t)(rnd[4] << 8 | rnd[5]);
    t->coap_req_len = coap_build_get(t->coap_req, sizeof(t->coap_req), t->coap_mid, t->coap_token,
                                     sizeof(t->coap_token), opt->coap_get);
    printf("coap request: GET /%s\n", opt->coap_get);
    coap_send_request(t, now);
  }
  drain(t);
  int asking = opt->send_given || opt->coap_get != NULL;
  int answering = opt->echo || opt->coap_reply != NULL;
  const char *why = NULL;
  for (;;) {
    now = now_us();
    if (t->failed) {
      why = "the association failed";
      break;
    }
    if (asking && t->data_done && !answering) {
      break;
    }
    if (t->peer_closed || now >= t->data_idle) {
      break;
    }
    uint64_t wake = t->data_idle;
    if (opt->coap_get != NULL && !t->data_done) {
      if (now >= t->coap_next && !coap_send_request(t, now)) {
        why = "no CoAP response after the last retransmission";
        break;
      }
      drain(t);
      wake = min_u64(wake, t->coap_next);
    }
    io_step(t, wake);
  }
  printf("data records: %llu received, %llu answered\n", (unsigned long long)t->data_received,
         (unsigned long long)t->data_answered);
  fflush(stdout);
  if (why == NULL && asking && !t->data_done) {
    why = t->peer_closed ? "the peer closed without replying" : "no reply in time";
  }
  if (why == NULL && !asking && answering && t->data_answered == 0) {
    why = "no record to answer";
  }
  if (why != NULL) {
    fprintf(stderr, PROG ": data phase failed: %s\n", why);
    return 1;
  }
  return 0;
}

/* ---- close phase -------------------------------------------------------- */

static void run_close(tool *t) {
  /* close_notify is a single unacknowledged datagram (RFC 5246 §7.2.1). */
  if (engine_close(t, now_us()) == 0) {
    drain(t);
  }
  if (t->turn != NULL) {
    /* deletes the allocation and closes the DTLS association to the server */
    rtcsec_turn_close(t->turn, now_us());
    flush_turn(t);
  }
}

/* ---- main --------------------------------------------------------------- */

/* --listen: what was ignored and dropped (scripts read these lines). */
static void report_listener(const tool *t) {
  char ignored[80];
  format_ignored(t, ignored, sizeof(ignored));
  printf("ignored_datagrams: %s\n", ignored);
  printf("failed_handshakes: %llu\n", (unsigned long long)t->failed_handshakes);
  fflush(stdout);
}

static void tool_cleanup(tool *t) {
  association_free(t);
  rtcsec_turn_free(t->turn);
  explicit_bzero(t->keymat, sizeof(t->keymat));
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
  static tool t; /* large buffers: keep them off the stack */
  memset(&t, 0, sizeof(t));
  t.opt = &opt;
  t.fd = -1;
  t.alert = -1;
  t.deadline = now_us() + (uint64_t)opt.timeout_s * 1000000u;

  rc = setup(&t);
  if (rc != 0) {
    tool_cleanup(&t);
    return rc;
  }
  if (t.turn != NULL) {
    rc = run_turn(&t);
    if (rc != 0 || opt.turn_only != TURN_ONLY_NO) {
      if (rc == 0) {
        run_close(&t);
      }
      tool_cleanup(&t);
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
    report_listener(&t);
  }
  tool_cleanup(&t);
  return rc;
}
