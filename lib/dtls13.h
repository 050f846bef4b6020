/* Internal: rtcsec's DTLS 1.3 engine (RFC 9147), server role, on
 * OpenSSL's libcrypto. The DTLS association (rtcsec_dtls) creates it with
 * the client's first ClientHello once that offers DTLS 1.3, and forwards
 * every later datagram; the engine gives back datagrams, events of the
 * same shape as the DTLS 1.2 path (rtcsec_event) and one deadline.
 *
 * What it does (docs/dtls13.md): TLS_AES_128_GCM_SHA256 (and
 * TLS_AES_256_GCM_SHA384), x25519 and secp256r1 key exchange (and
 * X25519MLKEM768 with enable_mlkem) through lib/hybrid_kex.h, a
 * HelloRetryRequest (with a cookie) when the client offers a usable group
 * without a share, use_srtp in EncryptedExtensions, a mandatory
 * CertificateRequest, ECDSA P-256 or RSA-PSS CertificateVerify, the client's
 * certificate checked through verify_peer before any key exists, the
 * RFC 5764 exporter. No PSK, tickets, 0-RTT or connection IDs.
 *
 * Errors (sticky, as in rtcsec/dtls.h): RTCSEC_ERR_HANDSHAKE (a protocol
 * violation; the alert sent says which), RTCSEC_ERR_HANDSHAKE_TIMEOUT,
 * RTCSEC_ERR_FINGERPRINT_MISMATCH (bad_certificate sent),
 * RTCSEC_ERR_NO_PEER_CERTIFICATE (certificate_required sent),
 * RTCSEC_ERR_SRTP_NO_COMMON_PROFILE / RTCSEC_ERR_SRTP_NOT_NEGOTIATED
 * (handshake_failure sent), RTCSEC_ERR_PEER_ALERT, RTCSEC_ERR_KEY_EXHAUSTED,
 * RTCSEC_ERR_CRYPTO, RTCSEC_ERR_NO_MEMORY. Nothing unauthenticated fails
 * the engine: garbage, records that do not deprotect, plaintext alerts,
 * replays are dropped and counted.
 *
 * One engine is used by one thread at a time. Not installed. */
#ifndef RTCSEC_DTLS13_H
#define RTCSEC_DTLS13_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stddef.h>
#include <stdint.h>

#include "dtls13_conn.h"
#include "dtls_client_hello.h"
#include "rtcsec/dtls.h"
#include "rtcsec/profile.h"

typedef struct rtcsec_dtls13 rtcsec_dtls13;

typedef struct rtcsec_dtls13_config {
  X509 *cert;    /* the server's certificate (a reference is taken) */
  EVP_PKEY *key; /* its private key: EC P-256 or RSA (a reference is taken) */
  /* SRTP profiles in the server's order of preference (copied); n == 0:
   * rtcsec's default order. */
  const rtcsec_srtp_profile *profiles;
  size_t n_profiles;
  size_t mtu;                    /* default 1200, at least 256 */
  uint64_t rto_initial_us;       /* default 100 ms */
  uint64_t rto_max_us;           /* default 3 s */
  uint64_t handshake_timeout_us; /* default 30 s */
  int allow_aes256;    /* accept TLS_AES_256_GCM_SHA384 when 128 is not offered; default 1 */
  int cookie_exchange; /* HelloRetryRequest with a cookie on every handshake; default 0 */
  /* X25519MLKEM768 (lib/hybrid_kex.h) first in the server's group order,
   * before x25519 and secp256r1; default 1 (rtcsec_dtls_config.enable_mlkem
   * says the policy: a share wins over a HelloRetryRequest). */
  int enable_mlkem;
  /* The client's leaf certificate, before any key leaves the engine:
   * return 1 if it matches an expected fingerprint, 0 if not (then
   * bad_certificate, RTCSEC_ERR_FINGERPRINT_MISMATCH). Required. */
  int (*verify_peer)(void *user, X509 *leaf);
  void *user;
  /* Optional: NSS key log lines (SSLKEYLOGFILE format, no newline). */
  void (*keylog)(void *user, const char *line);
  void *keylog_user;
  /* Optional, with `user`: a plaintext alert arrived (and was ignored);
   * application data (valid during the call) instead of DATA events. */
  void (*plaintext_alert)(void *user, int level, int desc);
  void (*data)(void *user, const uint8_t *data, size_t len);
} rtcsec_dtls13_config;

void rtcsec_dtls13_config_default(rtcsec_dtls13_config *cfg);

/* Creates a server engine that answers the ClientHello `ch` (parsed by
 * rtcsec_client_hello_parse from the collector's message) at `now`: a
 * ServerHello flight, or a HelloRetryRequest. The engine copies what it
 * keeps of ch.
 * Returns 0 with *out set; or a protocol error with *out still set to a
 * FAILED engine whose alert datagram and FAILED event wait to be polled
 * (a ClientHello the server must refuse: no use_srtp, no common profile,
 * no common group, suite or signature scheme, a bad key share, a
 * non-empty legacy_cookie, ...); or RTCSEC_ERR_INVALID_ARGUMENT,
 * RTCSEC_ERR_NO_MEMORY, RTCSEC_ERR_CRYPTO with *out NULL. */
int rtcsec_dtls13_server_new(rtcsec_dtls13 **out, const rtcsec_dtls13_config *cfg,
                             const rtcsec_client_hello *ch, uint64_t now);

/* Wipes every secret and frees. NULL is a no-op. */
void rtcsec_dtls13_free(rtcsec_dtls13 *e);

/* One received datagram (any DTLS bytes). Returns 0, or the sticky error
 * once the engine failed (RTCSEC_ERR_CLOSED once closed). */
int rtcsec_dtls13_handle_datagram(rtcsec_dtls13 *e, const uint8_t *data, size_t len, uint64_t now);
/* Retransmissions, delayed ACKs, the handshake time limit. */
int rtcsec_dtls13_handle_timeout(rtcsec_dtls13 *e, uint64_t now);
/* When handle_timeout must next run; UINT64_MAX for never. */
uint64_t rtcsec_dtls13_deadline(const rtcsec_dtls13 *e);
/* The next datagram to send (at most the MTU); *len = 0 when none.
 * RTCSEC_ERR_BUFFER_TOO_SMALL leaves it queued. */
int rtcsec_dtls13_poll_datagram(rtcsec_dtls13 *e, uint8_t *buf, size_t cap, size_t *len);
/* CONNECTED (profile, "DTLSv1.3", the suite's IANA name, the SRTP keys;
 * peer_fingerprint is left for the caller, which matched it), DATA,
 * CLOSED, FAILED; type NONE when none. */
int rtcsec_dtls13_poll_event(rtcsec_dtls13 *e, rtcsec_event *ev);
/* Application data, one record in one datagram, once connected.
 * RTCSEC_ERR_INVALID_STATE, RTCSEC_ERR_TOO_LARGE, RTCSEC_ERR_KEY_EXHAUSTED. */
int rtcsec_dtls13_send(rtcsec_dtls13 *e, const uint8_t *data, size_t len, uint64_t now);
/* close_notify when connected; CLOSED. */
int rtcsec_dtls13_close(rtcsec_dtls13 *e, uint64_t now);
/* A KeyUpdate of the server's own sending keys (update_requested asks the
 * client for one too). RTCSEC_ERR_INVALID_STATE unless connected. */
int rtcsec_dtls13_key_update(rtcsec_dtls13 *e, int update_requested, uint64_t now);

rtcsec_dtls_state rtcsec_dtls13_state(const rtcsec_dtls13 *e);
/* The sticky error of a FAILED engine, else 0. */
int rtcsec_dtls13_error(const rtcsec_dtls13 *e);

/* The caller failed the association for its own reasons (its handshake
 * time limit, a wrong late fingerprint): the engine fails with `error`,
 * sends nothing more and wipes every secret now, not at free. A FAILED
 * engine already has. NULL is a no-op. */
void rtcsec_dtls13_abort(rtcsec_dtls13 *e, int error);
/* Why a handshake that timed out may have, in the engine's words (static),
 * or NULL: the client's encrypted flight did not decrypt (different
 * secrets: a damaged key share, ML-KEM implicit rejection at the client),
 * or nothing readable came after the server's flight. */
const char *rtcsec_dtls13_timeout_hint(const rtcsec_dtls13 *e);
/* Test hook: 1 if no record key is active and every secret the engine
 * holds (handshake and traffic secrets, key schedule, exporter) is zero. */
int rtcsec_dtls13_secrets_wiped(const rtcsec_dtls13 *e);

/* RFC 8446 §7.5 exporter (any label; no context = empty context). Once
 * connected; RTCSEC_ERR_INVALID_STATE before. */
int rtcsec_dtls13_export(rtcsec_dtls13 *e, const char *label, const uint8_t *context,
                         size_t context_len, uint8_t *out, size_t len);
/* The SRTP keys (RFC 5764 §4.2 from "EXTRACTOR-dtls_srtp"), split for the
 * server's side. Once connected. The caller wipes them. */
int rtcsec_dtls13_export_srtp(rtcsec_dtls13 *e, rtcsec_srtp_keys *keys);

/* Negotiated names (static strings), "" before they are known. */
const char *rtcsec_dtls13_cipher_name(const rtcsec_dtls13 *e);
const char *rtcsec_dtls13_group_name(const rtcsec_dtls13 *e);
rtcsec_srtp_profile rtcsec_dtls13_profile(const rtcsec_dtls13 *e);

/* 1 if a HelloRetryRequest was sent. */
int rtcsec_dtls13_used_hrr(const rtcsec_dtls13 *e);

int rtcsec_dtls13_get_stats(const rtcsec_dtls13 *e, rtcsec_d13_stats *out);

/* Test hook: the engine's connection core (counters, keys). */
rtcsec_d13_conn *rtcsec_dtls13_test_conn(rtcsec_dtls13 *e);

#endif
