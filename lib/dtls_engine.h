/* Internal: the association and the engines behind it. Not installed.
 *
 * rtcsec_dtls (dtls.c) is the association the API describes: its state,
 * the expected fingerprints and the check against them, the hold while no
 * fingerprint is known, the output queue, the events and their data, the
 * statistics, the handshake time limit, the failure and its detail. An
 * engine does the protocol: dtls12.c drives OpenSSL 3.0's DTLS 1.2;
 * dtls13_engine.c is rtcsec's own DTLS 1.3 server. A server with DTLS 1.3
 * enabled makes its engine only once the first ClientHello is in, and
 * picks it by what that ClientHello offers. An engine never decides anything
 * the association owns: it reports through the rtcsec_dtls_engine_*()
 * calls below and writes datagrams to env->out.
 *
 * Order of work for every association call that can move the protocol:
 * the association checks its state, then calls the engine, which may call
 * back (connected, data, closed, failed) before it returns. */
#ifndef RTCSEC_DTLS_ENGINE_H
#define RTCSEC_DTLS_ENGINE_H

#include <openssl/x509.h>
#include <stddef.h>
#include <stdint.h>

#include "dtls_bio.h"
#include "dtls_client_hello.h"
#include "rtcsec/dtls.h"

/* What an engine is given when it is made; valid for its whole life. */
typedef struct rtcsec_dtls_engine_env {
  rtcsec_dtls *assoc;
  rtcsec_dtls_role role;
  rtcsec_cert *cert;
  const rtcsec_srtp_profile *profiles; /* resolved preference order */
  size_t n_profiles;
  size_t mtu;
  uint64_t rto_initial_us, rto_max_us;
  void (*keylog)(void *user, const char *line);
  void *keylog_user;
  rtcsec_dgram_queue *out;  /* datagrams to send, in order */
  rtcsec_dtls_stats *stats; /* the engine counts retransmissions and dropped records here */
  /* Uses beyond WebRTC (rtcsec_dtls_config): 0 = plain DTLS, no use_srtp. */
  int use_srtp;
  const char *ciphers; /* the association's copy; NULL: the engine's default */
  const char *groups;  /* the association's copy; NULL: the engine's default */
  /* Pre-shared key (RFC 4279), the association's copies; psk_len 0: none. */
  const char *psk_identity;
  const uint8_t *psk;
  size_t psk_len;
  /* DTLS 1.3: X25519MLKEM768 first (rtcsec_dtls_config.enable_mlkem). */
  int enable_mlkem;
} rtcsec_dtls_engine_env;

typedef struct rtcsec_dtls_engine_ops {
  const char *name; /* "openssl-dtls1.2", ... */
  void (*free)(void *e);
  /* A client sends its first flight; a server prepares to answer. */
  int (*start)(void *e, uint64_t now);
  /* One received datagram (first byte 20..63), not held. */
  int (*handle_datagram)(void *e, const uint8_t *data, size_t len, uint64_t now);
  int (*handle_timeout)(void *e, uint64_t now);
  /* Retransmission timer on the caller's clock, UINT64_MAX for none; the
   * association adds the handshake limit. */
  uint64_t (*deadline)(const void *e);
  int (*send_data)(void *e, const uint8_t *data, size_t len, uint64_t now);
  /* Queues close_notify if the engine got far enough to send one. */
  void (*close)(void *e, uint64_t now);
  /* RFC 5705 / RFC 8446 §7.5 exporter, no context; connected only. */
  int (*export_material)(const void *e, const char *label, uint8_t *out, size_t len);
  /* Fills the protocol part of the connected payload: profile, version,
   * cipher, group (the association adds role and fingerprint). */
  void (*connected_info)(const void *e, rtcsec_connected_info *info);
  /* 1 once the engine has sent anything (a server holds the peer's flight
   * after its own first one while no fingerprint is known). */
  int (*has_sent)(const void *e);
  /* Optional (may be NULL): why a handshake that timed out may have, in
   * the engine's words, or NULL; appended to the association's detail. */
  const char *(*timeout_hint)(const void *e);
  /* Optional (may be NULL): the association failed (for any reason, its
   * own or the engine's): the engine sends nothing more and wipes its
   * secrets now rather than at free. Must not call back. */
  void (*abort)(void *e, int error);
} rtcsec_dtls_engine_ops;

/* The DTLS 1.2 engine on OpenSSL (dtls12.c). */
extern const rtcsec_dtls_engine_ops rtcsec_dtls12_ops;
int rtcsec_dtls12_new(void **out, const rtcsec_dtls_engine_env *env);
/* Test hook: presets the count of application records sent in epoch 1. */
void rtcsec_dtls12_test_set_records_sent(void *e, uint64_t n);

/* rtcsec's DTLS 1.3 server (dtls13_engine.c), made once the ClientHello
 * (reassembled and parsed by the association) offers DTLS 1.3: it answers
 * it within this call. A ClientHello it refuses still gives an engine: its
 * alert is in env->out and the association has been told it failed.
 * Errors (no engine): RTCSEC_ERR_UNSUPPORTED (client role),
 * RTCSEC_ERR_NO_MEMORY, RTCSEC_ERR_CRYPTO. */
extern const rtcsec_dtls_engine_ops rtcsec_dtls13_ops;
int rtcsec_dtls13_engine_new(void **out, const rtcsec_dtls_engine_env *env,
                             const rtcsec_client_hello *ch, uint64_t now);
/* Test hook: rtcsec_dtls13_secrets_wiped() of the engine's server. */
int rtcsec_dtls13_engine_secrets_wiped(const void *e);

/* ---- what engines call on the association ------------------------------- */

/* The peer's leaf certificate, before any key may be released: 1 if it
 * matches an expected fingerprint (remembered as the matched one), 0 if
 * not (the detail then names the certificate). Same as
 * rtcsec_dtls_engine_verify_peer(d, leaf, NULL) == RTCSEC_OK. */
int rtcsec_dtls_engine_check_peer(rtcsec_dtls *d, X509 *leaf);

/* The same with the chain the peer sent (may be NULL), for a CA
 * (rtcsec_dtls_config.ca_file): RTCSEC_OK if the leaf matches a
 * fingerprint, or chains to the CA and names peer_name; else
 * RTCSEC_ERR_FINGERPRINT_MISMATCH, RTCSEC_ERR_CERT_UNTRUSTED or
 * RTCSEC_ERR_CERT_NAME_MISMATCH (the detail says why). */
int rtcsec_dtls_engine_verify_peer(rtcsec_dtls *d, X509 *leaf, STACK_OF(X509) * chain);

/* The handshake is keyed by the configured pre-shared key (RFC 4279): once
 * it completes, the peer's Finished proved it holds the key, so the
 * association may connect without a certificate. */
void rtcsec_dtls_engine_peer_psk(rtcsec_dtls *d);

/* The handshake finished. The association fails closed unless
 * rtcsec_dtls_engine_check_peer() matched; then it is connected. */
void rtcsec_dtls_engine_connected(rtcsec_dtls *d, uint64_t now);

/* Room for up to `need` bytes of received application data: the engine
 * decrypts into it and commits what it wrote, which becomes one DATA
 * event. NULL: no room (the record is dropped and counted). */
uint8_t *rtcsec_dtls_engine_data_room(rtcsec_dtls *d, size_t need);
void rtcsec_dtls_engine_data_commit(rtcsec_dtls *d, size_t len);

/* The peer sent close_notify. */
void rtcsec_dtls_engine_closed(rtcsec_dtls *d);

/* The engine failed: code (an rtcsec_error), the alert sent or received
 * (-1 if none), who sent it, and the engine's own words for codes the
 * association has no text of its own for (may be NULL). */
void rtcsec_dtls_engine_failed(rtcsec_dtls *d, int code, int alert, int alert_from_peer,
                               const char *detail);

/* A plaintext alert arrived and was not acted on (nothing authenticates
 * it); remembered for the detail of a handshake timeout. */
void rtcsec_dtls_engine_unauthenticated_alert(rtcsec_dtls *d, int level, int desc);

#endif
