/* rtcsec's DTLS 1.3 server against an independent client: NSS (Debian
 * 12's libnss3, the library Firefox uses for DTLS), over a UDP socket pair
 * on 127.0.0.1, on the real clock. For each cipher suite, group and SRTP
 * profile NSS offers, the keying material NSS exports for
 * "EXTRACTOR-dtls_srtp" must equal the server's byte for byte; data, a
 * KeyUpdate from NSS, a HelloRetryRequest and close_notify are exercised
 * too. A failure prints what NSS reported. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cert.h>
#include <keyhi.h>
#include <nss.h>
#include <pk11pub.h>
#include <prerror.h>
#include <prio.h>
#include <prnetdb.h>
#include <secerr.h>
#include <ssl.h>
#include <sslerr.h>
#include <sslexp.h>
#include <sslproto.h>

#include "cert_internal.h"
#include "dtls13.h"
#include "dtls13_pair.h"
#include "dtls_client_hello.h"
#include "dtls_internal.h"
#include "dtls_pair.h"
#include "rtcsec/rtcsec.h"

static uint64_t mono_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---- NSS once per process ------------------------------------------------------------ */

/* NSS implements RFC 9147 from 3.100 on. Earlier releases (Debian 12 has
 * 3.87) speak a pre-RFC DTLS 1.3 that no RFC 9147 peer can complete a
 * handshake with: version code point 0x7f2b (NSS bug 1818222), the epoch
 * in the AEAD nonce (bug 1818235), message_seq and the fragment fields in
 * the transcript (bug 1818487), 8-byte record numbers in ACKs (bug
 * 1809872); all fixed in NSS 3.100. */
static void nss_init(void) {
  if (NSS_IsInitialized())
    return;
  ck_assert_msg(NSS_VersionCheck("3.100") == PR_TRUE,
                "NSS %s implements a pre-RFC 9147 DTLS 1.3 (fixed in NSS 3.100): run this suite "
                "with LD_LIBRARY_PATH pointing at NSS 3.100 or later (docs/dtls13.md)",
                NSS_GetVersion());
  ck_assert_msg(NSS_NoDB_Init(NULL) == SECSuccess, "NSS_NoDB_Init failed: %d", PR_GetError());
  ck_assert_int_eq(NSS_SetDomesticPolicy(), SECSuccess);
}

/* An rtcsec certificate and key moved into NSS (temporary objects). */
typedef struct nss_identity {
  CERTCertificate *cert;
  SECKEYPrivateKey *key;
} nss_identity;

static nss_identity nss_import(rtcsec_cert *c) {
  nss_identity id = {0};
  unsigned char *der = NULL;
  int dl = i2d_X509(rtcsec_cert_x509(c), &der);
  ck_assert_int_gt(dl, 0);
  SECItem item = {siBuffer, der, (unsigned)dl};
  id.cert = CERT_NewTempCertificate(CERT_GetDefaultCertDB(), &item, NULL, PR_FALSE, PR_TRUE);
  OPENSSL_free(der);
  ck_assert_msg(id.cert != NULL, "CERT_NewTempCertificate: %d", PR_GetError());
  unsigned char *p8 = NULL;
  PKCS8_PRIV_KEY_INFO *info = EVP_PKEY2PKCS8(rtcsec_cert_pkey(c));
  ck_assert_ptr_nonnull(info);
  int pl = i2d_PKCS8_PRIV_KEY_INFO(info, &p8);
  PKCS8_PRIV_KEY_INFO_free(info);
  ck_assert_int_gt(pl, 0);
  SECItem kitem = {siBuffer, p8, (unsigned)pl};
  PK11SlotInfo *slot = PK11_GetInternalSlot();
  SECStatus rv = PK11_ImportDERPrivateKeyInfoAndReturnKey(slot, &kitem, NULL, NULL, PR_FALSE,
                                                          PR_TRUE, KU_ALL, &id.key, NULL);
  PK11_FreeSlot(slot);
  OPENSSL_cleanse(p8, (size_t)pl);
  OPENSSL_free(p8);
  ck_assert_msg(rv == SECSuccess && id.key != NULL, "PK11_ImportDERPrivateKeyInfo: %d",
                PR_GetError());
  return id;
}

static void nss_identity_free(nss_identity *id) {
  if (id->cert)
    CERT_DestroyCertificate(id->cert);
  if (id->key)
    SECKEY_DestroyPrivateKey(id->key);
}

typedef struct nss_client {
  PRFileDesc *fd;
  nss_identity id;
  unsigned char *server_der; /* the certificate NSS must be shown (OpenSSL-allocated) */
  size_t server_der_len;
  int server_cert_seen_ok;
  int client_auth_asked;
} nss_client;

static SECStatus get_client_auth(void *arg, PRFileDesc *fd, CERTDistNames *ca,
                                 CERTCertificate **cert, SECKEYPrivateKey **key) {
  (void)fd;
  (void)ca;
  nss_client *nc = arg;
  nc->client_auth_asked++;
  *cert = CERT_DupCertificate(nc->id.cert);
  *key = SECKEY_CopyPrivateKey(nc->id.key);
  return SECSuccess;
}

/* WebRTC authenticates by fingerprint: accept exactly rtcsec's server
 * certificate (NSS still checks the CertificateVerify signature). */
static SECStatus auth_certificate(void *arg, PRFileDesc *fd, PRBool sig, PRBool server) {
  (void)sig;
  (void)server;
  nss_client *nc = arg;
  CERTCertificate *pc = SSL_PeerCertificate(fd);
  int ok = pc != NULL && pc->derCert.len == nc->server_der_len &&
           memcmp(pc->derCert.data, nc->server_der, nc->server_der_len) == 0;
  if (pc)
    CERT_DestroyCertificate(pc);
  nc->server_cert_seen_ok = ok;
  if (!ok) {
    PR_SetError(SSL_ERROR_BAD_CERTIFICATE, 0);
    return SECFailure;
  }
  return SECSuccess;
}

typedef struct nss_opts {
  uint16_t srtp[4];
  size_t n_srtp;
  uint16_t only_suite; /* 0: NSS's default TLS 1.3 suites */
  SSLNamedGroup groups[4];
  size_t n_groups; /* 0: NSS's default */
  int dtls12_too;  /* offer DTLS 1.2 and 1.3, as browsers do */
} nss_opts;

static void nss_client_open(nss_client *nc, uint16_t port, const nss_opts *o) {
  PRFileDesc *udp = PR_OpenUDPSocket(PR_AF_INET);
  ck_assert_ptr_nonnull(udp);
  PRNetAddr addr;
  ck_assert_int_eq(PR_InitializeNetAddr(PR_IpAddrLoopback, port, &addr), PR_SUCCESS);
  ck_assert_int_eq(PR_Connect(udp, &addr, PR_INTERVAL_NO_TIMEOUT), PR_SUCCESS);
  PRSocketOptionData nb = {.option = PR_SockOpt_Nonblocking, .value.non_blocking = PR_TRUE};
  ck_assert_int_eq(PR_SetSocketOption(udp, &nb), PR_SUCCESS);
  nc->fd = DTLS_ImportFD(NULL, udp);
  ck_assert_ptr_nonnull(nc->fd);
  PRFileDesc *fd = nc->fd;
  ck_assert_int_eq(SSL_OptionSet(fd, SSL_SECURITY, PR_TRUE), SECSuccess);
  ck_assert_int_eq(SSL_OptionSet(fd, SSL_HANDSHAKE_AS_CLIENT, PR_TRUE), SECSuccess);
  ck_assert_int_eq(SSL_OptionSet(fd, SSL_NO_CACHE, PR_TRUE), SECSuccess);
  ck_assert_int_eq(SSL_OptionSet(fd, SSL_ENABLE_SESSION_TICKETS, PR_FALSE), SECSuccess);
  SSLVersionRange range = {o->dtls12_too ? SSL_LIBRARY_VERSION_TLS_1_2
                                         : SSL_LIBRARY_VERSION_TLS_1_3,
                           SSL_LIBRARY_VERSION_TLS_1_3};
  ck_assert_msg(SSL_VersionRangeSet(fd, &range) == SECSuccess,
                "NSS refuses DTLS 1.3 in its version range: %d", PR_GetError());
  ck_assert_msg(SSL_SetSRTPCiphers(fd, o->srtp, (unsigned)o->n_srtp) == SECSuccess,
                "NSS implements none of the SRTP profiles asked for (first 0x%04x)", o->srtp[0]);
  if (o->only_suite != 0) {
    static const PRUint16 tls13[] = {TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384,
                                     TLS_CHACHA20_POLY1305_SHA256};
    for (size_t i = 0; i < 3; i++)
      ck_assert_int_eq(SSL_CipherPrefSet(fd, tls13[i], tls13[i] == o->only_suite), SECSuccess);
  }
  if (o->n_groups > 0)
    ck_assert_int_eq(SSL_NamedGroupConfig(fd, o->groups, (unsigned)o->n_groups), SECSuccess);
  ck_assert_int_eq(SSL_GetClientAuthDataHook(fd, get_client_auth, nc), SECSuccess);
  ck_assert_int_eq(SSL_AuthCertificateHook(fd, auth_certificate, nc), SECSuccess);
  ck_assert_int_eq(SSL_ResetHandshake(fd, PR_FALSE), SECSuccess);
}

/* An NSS client with `ccert` as its certificate, expecting `scert`, towards
 * 127.0.0.1:port. */
static void nss_client_start(nss_client *nc, rtcsec_cert *ccert, rtcsec_cert *scert, uint16_t port,
                             const nss_opts *o) {
  memset(nc, 0, sizeof(*nc));
  nc->id = nss_import(ccert);
  int len = i2d_X509(rtcsec_cert_x509(scert), &nc->server_der);
  ck_assert_int_gt(len, 0);
  nc->server_der_len = (size_t)len;
  nss_client_open(nc, port, o);
}

static void nss_client_close(nss_client *nc) {
  PR_Close(nc->fd);
  nss_identity_free(&nc->id);
  OPENSSL_free(nc->server_der);
}

/* A non-blocking UDP socket on 127.0.0.1 and its port. */
static int udp_loopback_socket(uint16_t *port) {
  int sock = socket(AF_INET, SOCK_DGRAM, 0);
  ck_assert_int_ge(sock, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  ck_assert_int_eq(bind(sock, (struct sockaddr *)&a, sizeof(a)), 0);
  socklen_t al = sizeof(a);
  ck_assert_int_eq(getsockname(sock, (struct sockaddr *)&a, &al), 0);
  *port = ntohs(a.sin_port);
  ck_assert_int_eq(fcntl(sock, F_SETFL, O_NONBLOCK), 0);
  return sock;
}

/* Reads from NSS, letting `pump` run rtcsec's side between tries (up to
 * ~1 s): the bytes read, 0 at the end of the stream, -1 on an error or
 * nothing in time. */
static PRInt32 nss_read_pumping(nss_client *nc, char *buf, size_t cap, void (*pump)(void *, int),
                                void *ctx) {
  PRInt32 got = -1;
  for (int i = 0; i < 200; i++) {
    got = PR_Read(nc->fd, buf, (PRInt32)cap);
    if (got >= 0 || PR_GetError() != PR_WOULD_BLOCK_ERROR)
      break;
    pump(ctx, 5);
  }
  return got;
}

/* ---- rtcsec's side: one UDP socket, the collector, the engine --------------------------- */

typedef struct server_side {
  int sock;
  uint16_t port;
  struct sockaddr_in peer;
  int have_peer;
  d13s s; /* collector + engine, from the in-memory suites */
  peer events;
  uint64_t start;
} server_side;

static void server_open(server_side *sv, rtcsec_cert *cert, const rtcsec_dtls13_config *cfg) {
  memset(sv, 0, sizeof(*sv));
  sv->sock = udp_loopback_socket(&sv->port);
  d13s_init(&sv->s, cert, cfg);
  sv->start = mono_us();
}

static void server_close(server_side *sv) {
  d13s_free(&sv->s);
  rtcsec_srtp_keys_wipe(&sv->events.keys);
  close(sv->sock);
}

/* Receives what is there, runs timers, sends what the engine has. */
static void server_pump(server_side *sv, int wait_ms) {
  struct pollfd pfd = {sv->sock, POLLIN, 0};
  poll(&pfd, 1, wait_ms);
  uint64_t now = mono_us() - sv->start;
  for (;;) {
    uint8_t buf[4096];
    struct sockaddr_in from;
    socklen_t fl = sizeof(from);
    ssize_t n = recvfrom(sv->sock, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
    if (n < 0)
      break;
    sv->peer = from;
    sv->have_peer = 1;
    (void)d13s_handle_datagram(&sv->s, buf, (size_t)n, now);
  }
  rtcsec_dtls13 *e = sv->s.e;
  if (e == NULL)
    return;
  if (rtcsec_dtls13_deadline(e) <= now)
    (void)rtcsec_dtls13_handle_timeout(e, now);
  for (;;) {
    uint8_t out[2048];
    size_t len = 0;
    ck_assert_int_eq(rtcsec_dtls13_poll_datagram(e, out, sizeof(out), &len), 0);
    if (len == 0)
      break;
    ck_assert_uint_le(len, 1200);
    ck_assert(sv->have_peer);
    ck_assert_int_eq(sendto(sv->sock, out, len, 0, (struct sockaddr *)&sv->peer, sizeof(sv->peer)),
                     (ssize_t)len);
  }
  rtcsec_event ev;
  for (;;) {
    ck_assert_int_eq(rtcsec_dtls13_poll_event(e, &ev), 0);
    if (ev.type == RTCSEC_EVENT_NONE)
      break;
    peer_take_event(&sv->events, &ev, now);
    if (ev.type == RTCSEC_EVENT_CONNECTED)
      ck_assert_int_eq(rtcsec_dtls13_export_srtp(e, &sv->events.keys), 0);
  }
}

static void server_pump_cb(void *sv, int wait_ms) { server_pump(sv, wait_ms); }

/* ---- one run ------------------------------------------------------------------------------- */

typedef struct nss_run {
  rtcsec_key_type client_key, server_key;
  nss_opts nss;
  rtcsec_dtls13_config server; /* cert/key/verify filled in */
  int key_update;              /* NSS sends KeyUpdate(update_requested) after the handshake */
} nss_run;

static void run_against_nss(const nss_run *r, SSLChannelInfo *ci_out, uint16_t *srtp_out,
                            int *hrr_out) {
  nss_init();
  rtcsec_cert *ccert = make_cert(r->client_key);
  rtcsec_cert *scert = make_cert(r->server_key);
  server_side sv;
  server_open(&sv, scert, &r->server);
  sv.s.expect = fp_of(ccert, RTCSEC_HASH_SHA256);
  nss_client nc;
  nss_client_start(&nc, ccert, scert, sv.port, &r->nss);

  /* The handshake, bounded in time. */
  int client_done = 0, client_err = 0;
  uint64_t limit = mono_us() + 10 * 1000000u;
  while (mono_us() < limit) {
    if (!client_done) {
      SECStatus rv = SSL_ForceHandshake(nc.fd);
      if (rv == SECSuccess)
        client_done = 1;
      else if (PR_GetError() != PR_WOULD_BLOCK_ERROR)
        client_err = PR_GetError();
    }
    server_pump(&sv, 1);
    if (client_err || sv.events.failed || (client_done && sv.events.connected))
      break;
  }
  ck_assert_msg(client_err == 0, "NSS failed the handshake: %d (%s); server state %d error %d",
                client_err, PR_ErrorToName(client_err),
                sv.s.e ? (int)rtcsec_dtls13_state(sv.s.e) : -1, sv.events.error);
  ck_assert_msg(sv.events.failed == 0, "rtcsec failed: %d alert %d (parse %d)", sv.events.error,
                sv.events.alert, sv.s.parse_rc);
  if (!(client_done && sv.events.connected == 1) && sv.s.e != NULL) {
    rtcsec_d13_stats st;
    rtcsec_dtls13_get_stats(sv.s.e, &st);
    fprintf(stderr,
            "server state %d: datagrams in %llu out %llu, records accepted %llu dropped %llu "
            "replayed %llu, plaintext ignored %llu, acks in %llu out %llu, retransmissions %llu\n",
            (int)rtcsec_dtls13_state(sv.s.e), (unsigned long long)st.datagrams_received,
            (unsigned long long)st.datagrams_sent, (unsigned long long)st.records_received,
            (unsigned long long)st.records_dropped, (unsigned long long)st.records_replayed,
            (unsigned long long)st.plaintext_ignored, (unsigned long long)st.acks_received,
            (unsigned long long)st.acks_sent, (unsigned long long)st.retransmissions);
  }
  ck_assert_msg(client_done && sv.events.connected == 1, "no handshake in 10 s");
  ck_assert_int_eq(nc.server_cert_seen_ok, 1);
  ck_assert_int_eq(nc.client_auth_asked, 1);
  ck_assert_int_eq(sv.s.verify_calls, 1);

  /* What NSS negotiated. */
  SSLChannelInfo ci;
  ck_assert_int_eq(SSL_GetChannelInfo(nc.fd, &ci, sizeof(ci)), SECSuccess);
  ck_assert_uint_eq(ci.protocolVersion, SSL_LIBRARY_VERSION_TLS_1_3);
  PRUint16 srtp = 0;
  ck_assert_int_eq(SSL_GetSRTPCipher(nc.fd, &srtp), SECSuccess);
  ck_assert_uint_eq(srtp, (unsigned)sv.events.info.profile);
  ck_assert_str_eq(sv.events.info.version, "DTLSv1.3");

  /* The keying material, byte for byte. */
  const rtcsec_srtp_keys *k = &sv.events.keys;
  uint8_t nss_km[RTCSEC_SRTP_MAX_MATERIAL_LEN];
  ck_assert_int_eq(SSL_ExportKeyingMaterial(nc.fd, "EXTRACTOR-dtls_srtp", 19, PR_FALSE, NULL, 0,
                                            nss_km, (unsigned)k->material_len),
                   SECSuccess);
  ck_assert_mem_eq(nss_km, k->material, k->material_len);
  /* Another label, with a context: the exporter as a whole. */
  uint8_t a[48], b[48];
  static const uint8_t ctx[] = "context";
  ck_assert_int_eq(
      SSL_ExportKeyingMaterial(nc.fd, "EXPORTER-rtcsec-test", 20, PR_TRUE, ctx, 7, a, sizeof(a)),
      SECSuccess);
  ck_assert_int_eq(rtcsec_dtls13_export(sv.s.e, "EXPORTER-rtcsec-test", ctx, 7, b, sizeof(b)), 0);
  ck_assert_mem_eq(a, b, sizeof(a));

  /* Application data both ways. */
  static const char hello[] = "hello from NSS";
  ck_assert_int_eq(PR_Write(nc.fd, hello, sizeof(hello)), (PRInt32)sizeof(hello));
  for (int i = 0; i < 200 && sv.events.n_data == 0; i++)
    server_pump(&sv, 5);
  ck_assert_int_eq(sv.events.n_data, 1);
  ck_assert_mem_eq(sv.events.data, hello, sizeof(hello));
  uint64_t now = mono_us() - sv.start;
  static const char back[] = "hello from rtcsec";
  ck_assert_int_eq(rtcsec_dtls13_send(sv.s.e, (const uint8_t *)back, sizeof(back), now), 0);
  server_pump(&sv, 0);
  char rbuf[256];
  PRInt32 got = nss_read_pumping(&nc, rbuf, sizeof(rbuf), server_pump_cb, &sv);
  ck_assert_int_eq(got, (PRInt32)sizeof(back));
  ck_assert_mem_eq(rbuf, back, sizeof(back));

  if (r->key_update) {
    /* NSS updates its keys and asks rtcsec to do the same (RFC 8446
     * §4.6.3, RFC 9147 §8); data must flow in the new epochs. */
    ck_assert_msg(SSL_KeyUpdate(nc.fd, PR_TRUE) == SECSuccess, "SSL_KeyUpdate: %s",
                  PR_ErrorToName(PR_GetError()));
    rtcsec_d13_stats st;
    for (int i = 0; i < 400; i++) {
      (void)PR_Read(nc.fd, rbuf, sizeof(rbuf)); /* lets NSS read our ACK and KeyUpdate */
      server_pump(&sv, 5);
      rtcsec_dtls13_get_stats(sv.s.e, &st);
      if (st.key_updates_received == 1 && rtcsec_dtls13_test_conn(sv.s.e)->w_app.epoch == 4)
        break;
    }
    ck_assert_uint_eq(st.key_updates_received, 1);
    ck_assert_uint_eq(st.key_updates_sent, 1);
    ck_assert_uint_eq(rtcsec_dtls13_test_conn(sv.s.e)->w_app.epoch, 4);
    static const char after[] = "after the key update";
    ck_assert_int_eq(PR_Write(nc.fd, after, sizeof(after)), (PRInt32)sizeof(after));
    for (int i = 0; i < 200 && sv.events.n_data == 1; i++)
      server_pump(&sv, 5);
    ck_assert_int_eq(sv.events.n_data, 2);
    ck_assert_mem_eq(sv.events.data, after, sizeof(after));
    ck_assert_uint_eq(rtcsec_dtls13_test_conn(sv.s.e)->r_app[1].epoch, 4);
    now = mono_us() - sv.start;
    ck_assert_int_eq(rtcsec_dtls13_send(sv.s.e, (const uint8_t *)after, sizeof(after), now), 0);
    server_pump(&sv, 0);
    got = nss_read_pumping(&nc, rbuf, sizeof(rbuf), server_pump_cb, &sv);
    ck_assert_int_eq(got, (PRInt32)sizeof(after));
  }

  /* close_notify from rtcsec: NSS reads the end of the stream. */
  now = mono_us() - sv.start;
  ck_assert_int_eq(rtcsec_dtls13_close(sv.s.e, now), 0);
  server_pump(&sv, 0);
  got = nss_read_pumping(&nc, rbuf, sizeof(rbuf), server_pump_cb, &sv);
  ck_assert_msg(got == 0, "NSS did not see close_notify: %d (%s)", got,
                got < 0 ? PR_ErrorToName(PR_GetError()) : "data");

  if (ci_out)
    *ci_out = ci;
  if (srtp_out)
    *srtp_out = srtp;
  if (hrr_out)
    *hrr_out = rtcsec_dtls13_used_hrr(sv.s.e);
  nss_client_close(&nc);
  server_close(&sv);
  rtcsec_cert_free(ccert);
  rtcsec_cert_free(scert);
}

static void default_run(nss_run *r) {
  memset(r, 0, sizeof(*r));
  r->client_key = RTCSEC_KEY_ECDSA_P256;
  r->server_key = RTCSEC_KEY_ECDSA_P256;
  r->nss.srtp[0] = SRTP_AES128_CM_HMAC_SHA1_80;
  r->nss.n_srtp = 1;
  r->nss.dtls12_too = 1;
  rtcsec_dtls13_config_default(&r->server);
}

START_TEST(nss_and_rtcsec_export_the_same_keys_for_each_suite) {
  /* _i 0: NSS's defaults (AES-128-GCM chosen); 1: AES-256-GCM only. */
  nss_run r;
  default_run(&r);
  r.nss.only_suite = _i == 0 ? 0 : TLS_AES_256_GCM_SHA384;
  SSLChannelInfo ci;
  run_against_nss(&r, &ci, NULL, NULL);
  ck_assert_uint_eq(ci.cipherSuite, _i == 0 ? TLS_AES_128_GCM_SHA256 : TLS_AES_256_GCM_SHA384);
  printf("NSS %s: DTLS 1.3, suite 0x%04x, group %d: keying material equal\n", NSS_GetVersion(),
         ci.cipherSuite, (int)ci.keaGroup);
}
END_TEST

START_TEST(nss_and_rtcsec_export_the_same_keys_for_each_group) {
  /* _i 0: x25519; 1: secp256r1 */
  nss_run r;
  default_run(&r);
  r.nss.groups[0] = _i == 0 ? ssl_grp_ec_curve25519 : ssl_grp_ec_secp256r1;
  r.nss.n_groups = 1;
  SSLChannelInfo ci;
  int hrr = -1;
  run_against_nss(&r, &ci, NULL, &hrr);
  ck_assert_int_eq(ci.keaGroup, r.nss.groups[0]);
  ck_assert_int_eq(hrr, 0);
}
END_TEST

START_TEST(nss_answers_rtcsec_hello_retry_request) {
  /* _i 0: NSS's first group (and only share) is P-384, which rtcsec does
   * not take: rtcsec asks for x25519. 1: rtcsec's cookie exchange. */
  nss_run r;
  default_run(&r);
  if (_i == 0) {
    r.nss.groups[0] = ssl_grp_ec_secp384r1;
    r.nss.groups[1] = ssl_grp_ec_curve25519;
    r.nss.n_groups = 2;
  } else {
    r.server.cookie_exchange = 1;
  }
  SSLChannelInfo ci;
  int hrr = 0;
  run_against_nss(&r, &ci, NULL, &hrr);
  ck_assert_int_eq(hrr, 1);
  if (_i == 0)
    ck_assert_int_eq(ci.keaGroup, ssl_grp_ec_curve25519);
}
END_TEST

START_TEST(nss_and_rtcsec_agree_for_each_srtp_profile_nss_implements) {
  /* NSS implements the AES-CM profiles; the AEAD ones are tried and
   * reported (SSL_SetSRTPCiphers refuses what it does not implement). */
  static const uint16_t profiles[] = {SRTP_AES128_CM_HMAC_SHA1_80, SRTP_AES128_CM_HMAC_SHA1_32,
                                      0x0007, 0x0008};
  nss_init();
  int tried = 0;
  for (size_t i = 0; i < 4; i++) {
    PRFileDesc *probe = DTLS_ImportFD(NULL, PR_OpenUDPSocket(PR_AF_INET));
    ck_assert_ptr_nonnull(probe);
    SECStatus ok = SSL_SetSRTPCiphers(probe, &profiles[i], 1);
    PR_Close(probe);
    if (ok != SECSuccess) {
      printf("NSS %s does not implement SRTP profile 0x%04x: not tested with NSS\n",
             NSS_GetVersion(), profiles[i]);
      ck_assert_uint_ge(i, 2); /* the AES-CM ones it must have */
      continue;
    }
    nss_run r;
    default_run(&r);
    r.nss.srtp[0] = profiles[i];
    static const rtcsec_srtp_profile all[] = {
        RTCSEC_SRTP_AEAD_AES_128_GCM, RTCSEC_SRTP_AEAD_AES_256_GCM, RTCSEC_SRTP_AES128_CM_SHA1_80,
        RTCSEC_SRTP_AES128_CM_SHA1_32};
    r.server.profiles = all;
    r.server.n_profiles = 4;
    uint16_t srtp = 0;
    run_against_nss(&r, NULL, &srtp, NULL);
    ck_assert_uint_eq(srtp, profiles[i]);
    tried++;
  }
  ck_assert_int_ge(tried, 2);
}
END_TEST

START_TEST(nss_and_rtcsec_agree_for_each_certificate_key_type) {
  /* _i: client key (ECDSA, RSA) x server key (ECDSA, RSA) */
  nss_run r;
  default_run(&r);
  r.client_key = _i % 2 ? RTCSEC_KEY_RSA_2048 : RTCSEC_KEY_ECDSA_P256;
  r.server_key = _i / 2 ? RTCSEC_KEY_RSA_2048 : RTCSEC_KEY_ECDSA_P256;
  run_against_nss(&r, NULL, NULL, NULL);
}
END_TEST

START_TEST(nss_key_update_is_answered_and_data_flows_in_the_new_epochs) {
  nss_run r;
  default_run(&r);
  r.key_update = 1;
  run_against_nss(&r, NULL, NULL, NULL);
}
END_TEST

/* ---- through the association: NSS against rtcsec_dtls as a server ---------------------------- */

typedef struct assoc_case {
  int nss_min_13;    /* NSS offers only DTLS 1.3 (else 1.2 and 1.3, as browsers do) */
  int nss_max_12;    /* NSS offers only DTLS 1.2 */
  int enable_dtls13; /* the association's setting */
  int late_fp;       /* the fingerprint is added only once the handshake is held */
  const char *version;
} assoc_case;

static const assoc_case assoc_cases[] = {
    {0, 0, 1, 0, "DTLSv1.3"}, {1, 0, 1, 0, "DTLSv1.3"}, {0, 0, 1, 1, "DTLSv1.3"},
    {0, 0, 0, 0, "DTLSv1.2"}, {0, 1, 1, 0, "DTLSv1.2"}, {0, 0, 0, 1, "DTLSv1.2"},
};

/* rtcsec_dtls as a UDP server. */
typedef struct assoc_side {
  int sock;
  struct sockaddr_in to;
  int have_to;
  peer p;
  uint64_t t0;
} assoc_side;

/* Receives, runs timers, sends, takes events: one turn of the server. */
static void assoc_pump(void *ctx, int wait_ms) {
  assoc_side *a = ctx;
  struct pollfd pfd = {a->sock, POLLIN, 0};
  poll(&pfd, 1, wait_ms);
  uint64_t now = mono_us() - a->t0;
  for (;;) {
    uint8_t buf[4096];
    socklen_t fl = sizeof(a->to);
    ssize_t n = recvfrom(a->sock, buf, sizeof(buf), 0, (struct sockaddr *)&a->to, &fl);
    if (n < 0)
      break;
    a->have_to = 1;
    (void)rtcsec_dtls_handle_datagram(a->p.d, buf, (size_t)n, now);
  }
  if (rtcsec_dtls_deadline(a->p.d) <= now)
    (void)rtcsec_dtls_handle_timeout(a->p.d, now);
  for (;;) {
    uint8_t out[2048];
    size_t len = 0;
    ck_assert_int_eq(rtcsec_dtls_poll_datagram(a->p.d, out, sizeof(out), &len), 0);
    if (len == 0)
      break;
    ck_assert(a->have_to);
    ck_assert_int_eq(sendto(a->sock, out, len, 0, (struct sockaddr *)&a->to, sizeof(a->to)),
                     (ssize_t)len);
  }
  peer_poll(&a->p, now);
}

START_TEST(nss_against_the_association_each_version_and_setting) {
  const assoc_case *c = &assoc_cases[_i];
  nss_init();
  rtcsec_cert *ccert = make_cert(RTCSEC_KEY_ECDSA_P256);
  rtcsec_cert *scert = make_cert(RTCSEC_KEY_ECDSA_P256);
  uint16_t port = 0;
  assoc_side a = {0};
  a.sock = udp_loopback_socket(&port);

  rtcsec_fingerprint cfp = fp_of(ccert, RTCSEC_HASH_SHA256);
  rtcsec_dtls_config cfg;
  rtcsec_dtls_config_default(&cfg);
  cfg.role = RTCSEC_DTLS_SERVER;
  cfg.cert = scert;
  cfg.enable_dtls13 = c->enable_dtls13;
  if (!c->late_fp) {
    cfg.peer_fingerprints = &cfp;
    cfg.n_peer_fingerprints = 1;
  }
  ck_assert_int_eq(rtcsec_dtls_new(&a.p.d, &cfg), 0);
  a.t0 = mono_us();

  nss_opts o = {.srtp = {SRTP_AES128_CM_HMAC_SHA1_80}, .n_srtp = 1, .dtls12_too = !c->nss_min_13};
  nss_client nc;
  nss_client_start(&nc, ccert, scert, port, &o);
  if (c->nss_max_12) {
    SSLVersionRange r12 = {SSL_LIBRARY_VERSION_TLS_1_2, SSL_LIBRARY_VERSION_TLS_1_2};
    ck_assert_int_eq(SSL_VersionRangeSet(nc.fd, &r12), SECSuccess);
  }

  int client_done = 0, client_err = 0, added = 0;
  uint64_t limit = mono_us() + 10 * 1000000u;
  while (mono_us() < limit) {
    if (!client_done) {
      if (SSL_ForceHandshake(nc.fd) == SECSuccess)
        client_done = 1;
      else if (PR_GetError() != PR_WOULD_BLOCK_ERROR)
        client_err = PR_GetError();
    }
    assoc_pump(&a, 1);
    rtcsec_dtls_stats st;
    ck_assert_int_eq(rtcsec_dtls_get_stats(a.p.d, &st), 0);
    if (c->late_fp && !added && st.awaiting_fingerprint) {
      /* Held: nothing of the client's second flight reached the engine. */
      ck_assert_int_eq(a.p.connected, 0);
      ck_assert_int_eq(rtcsec_dtls_add_peer_fingerprints(a.p.d, &cfp, 1, mono_us() - a.t0), 0);
      added = 1;
      assoc_pump(&a, 0);
    }
    if (client_err || a.p.failed || (client_done && a.p.connected))
      break;
  }
  ck_assert_msg(client_err == 0, "NSS failed: %s", PR_ErrorToName(client_err));
  ck_assert_msg(a.p.failed == 0, "rtcsec_dtls failed: %d alert %d", a.p.error, a.p.alert);
  ck_assert_msg(client_done && a.p.connected == 1, "no handshake in 10 s");
  ck_assert_int_eq(added, c->late_fp);
  ck_assert_str_eq(a.p.info.version, c->version);
  ck_assert_str_eq(rtcsec_dtls_test_engine_name(a.p.d),
                   strcmp(c->version, "DTLSv1.3") == 0 ? "rtcsec-dtls1.3" : "openssl-dtls1.2");
  rtcsec_dtls_stats st;
  ck_assert_int_eq(rtcsec_dtls_get_stats(a.p.d, &st), 0);
  ck_assert_str_eq(st.version, c->version);
  if (c->enable_dtls13)
    ck_assert_uint_ge(st.datagrams_collected, 1);
  else
    ck_assert_uint_eq(st.datagrams_collected, 0);
  SSLChannelInfo ci;
  ck_assert_int_eq(SSL_GetChannelInfo(nc.fd, &ci, sizeof(ci)), SECSuccess);
  ck_assert_uint_eq(ci.protocolVersion, strcmp(c->version, "DTLSv1.3") == 0
                                            ? SSL_LIBRARY_VERSION_TLS_1_3
                                            : SSL_LIBRARY_VERSION_TLS_1_2);
  PRUint16 srtp = 0;
  ck_assert_int_eq(SSL_GetSRTPCipher(nc.fd, &srtp), SECSuccess);
  ck_assert_uint_eq(srtp, (unsigned)a.p.info.profile);
  uint8_t nss_km[RTCSEC_SRTP_MAX_MATERIAL_LEN];
  ck_assert_int_eq(SSL_ExportKeyingMaterial(nc.fd, "EXTRACTOR-dtls_srtp", 19, PR_FALSE, NULL, 0,
                                            nss_km, (unsigned)a.p.keys.material_len),
                   SECSuccess);
  ck_assert_mem_eq(nss_km, a.p.keys.material, a.p.keys.material_len);

  /* Data both ways through the association. */
  static const char hello[] = "hello from NSS";
  ck_assert_int_eq(PR_Write(nc.fd, hello, sizeof(hello)), (PRInt32)sizeof(hello));
  for (int i = 0; i < 200 && a.p.n_data == 0; i++)
    assoc_pump(&a, 5);
  ck_assert_int_eq(a.p.n_data, 1);
  ck_assert_mem_eq(a.p.data, hello, sizeof(hello));
  static const char back[] = "hello from rtcsec_dtls";
  ck_assert_int_eq(
      rtcsec_dtls_send_data(a.p.d, (const uint8_t *)back, sizeof(back), mono_us() - a.t0), 0);
  assoc_pump(&a, 0);
  char rbuf[256];
  PRInt32 got = nss_read_pumping(&nc, rbuf, sizeof(rbuf), assoc_pump, &a);
  ck_assert_int_eq(got, (PRInt32)sizeof(back));
  ck_assert_mem_eq(rbuf, back, sizeof(back));
  printf("NSS %s offering %s against rtcsec_dtls (enable_dtls13=%d%s): %s, keys equal\n",
         NSS_GetVersion(),
         c->nss_min_13   ? "1.3"
         : c->nss_max_12 ? "1.2"
                         : "1.2+1.3",
         c->enable_dtls13, c->late_fp ? ", late fingerprint" : "", a.p.info.version);

  nss_client_close(&nc);
  rtcsec_srtp_keys_wipe(&a.p.keys);
  rtcsec_dtls_free(a.p.d);
  close(a.sock);
  rtcsec_cert_free(ccert);
  rtcsec_cert_free(scert);
}
END_TEST

int main(void) {
  Suite *s = suite_create("dtls13_nss");
  TCase *tc = tcase_create("nss");
  tcase_set_timeout(tc, 120);
  tcase_add_loop_test(tc, nss_and_rtcsec_export_the_same_keys_for_each_suite, 0, 2);
  tcase_add_loop_test(tc, nss_and_rtcsec_export_the_same_keys_for_each_group, 0, 2);
  tcase_add_loop_test(tc, nss_answers_rtcsec_hello_retry_request, 0, 2);
  tcase_add_test(tc, nss_and_rtcsec_agree_for_each_srtp_profile_nss_implements);
  tcase_add_loop_test(tc, nss_and_rtcsec_agree_for_each_certificate_key_type, 0, 4);
  tcase_add_test(tc, nss_key_update_is_answered_and_data_flows_in_the_new_epochs);
  tcase_add_loop_test(tc, nss_against_the_association_each_version_and_setting, 0,
                      (int)(sizeof(assoc_cases) / sizeof(assoc_cases[0])));
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
