/* rtcsec: the DTLS association (DTLS 1.2, RFC 6347; DTLS 1.3, RFC 9147)
 * that authenticates the peer by its SDP fingerprint (RFC 5763, RFC 8122)
 * and negotiates SRTP keys (RFC 5764).
 *
 * Versions: a client speaks DTLS 1.2 (OpenSSL). A server reassembles the
 * client's first ClientHello (bounded: 8 datagrams, 16 KiB) and answers
 * with DTLS 1.3 (rtcsec's own engine, docs/dtls13.md) if it offers it and
 * enable_dtls13 is set, else with DTLS 1.2 (OpenSSL, given the very
 * datagrams that arrived). Both keep the contract below.
 *
 * The same association serves the other uses of DTLS (rtcsec_dtls_config,
 * "uses beyond WebRTC"): plain DTLS without use_srtp for the RFC 7925
 * profile of constrained devices (docs/iot.md) and for STUN and TURN over
 * DTLS, RFC 7350 (rtcsec/turn.h, docs/turns.md); the peer then proves
 * itself by a pre-shared key (RFC 4279) or by a certificate that chains to
 * a CA and names the expected host (RFC 5280, RFC 6125), beside or instead
 * of fingerprints.
 *
 * Sans-IO: the association never opens a socket, never starts a thread and
 * acts on the caller's clock. Each call takes `now`, the caller's monotonic
 * time in microseconds. After any call, the caller
 *   1. sends every datagram rtcsec_dtls_poll_datagram() gives, one UDP
 *      payload each (boundaries matter: each is at most the MTU);
 *   2. handles every event rtcsec_dtls_poll_event() gives;
 *   3. calls rtcsec_dtls_handle_timeout() once rtcsec_dtls_deadline() has
 *      passed (UINT64_MAX: no deadline).
 *
 * Time inside OpenSSL: OpenSSL 3.0 reads gettimeofday() for its DTLS
 * retransmission timer. rtcsec sets that timer's durations itself (initial
 * RTO, doubling, cap), reads the time OpenSSL has left after every call and
 * turns it into a deadline on the caller's clock. In production the two
 * clocks run at the same rate, so the deadline is exact to within OpenSSL's
 * 15 ms rounding; the test suite replaces gettimeofday() with its fake clock
 * so that handshakes under loss replay exactly (see tests/support/fakeclock.c).
 *
 * Identity (RFC 8827 §6.5): the server always requests the client's
 * certificate (unless a pre-shared-key suite is chosen, which needs none),
 * and a peer certificate must match one of the expected fingerprints or,
 * with ca_file, verify against that CA and name peer_name. Until one
 * expected fingerprint, a CA or a pre-shared key is known the association
 * holds the peer's datagrams that carry its certificate (bounded) and goes
 * on once a fingerprint is added: no key exists and no "connected" event is
 * given before the peer was authenticated. A mismatch sends a fatal
 * bad_certificate alert and fails the association; no keys are exported.
 * Nothing is sent or accepted as application data before that either.
 *
 * Threads: one association is used by one thread at a time. Associations
 * sharing a certificate may run on different threads.
 */
#ifndef RTCSEC_DTLS_H
#define RTCSEC_DTLS_H

#include <stddef.h>
#include <stdint.h>

#include "rtcsec/cert.h"
#include "rtcsec/event.h"
#include "rtcsec/export.h"
#include "rtcsec/profile.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rtcsec_dtls rtcsec_dtls;

typedef enum rtcsec_dtls_state {
  RTCSEC_DTLS_STATE_NEW = 0,     /* created, not started */
  RTCSEC_DTLS_STATE_HANDSHAKING, /* started, not yet verified and connected */
  RTCSEC_DTLS_STATE_CONNECTED,   /* peer verified, keys exported */
  RTCSEC_DTLS_STATE_CLOSED,      /* close_notify sent or received */
  RTCSEC_DTLS_STATE_FAILED,      /* fatal error; rtcsec_dtls_error() says which */
} rtcsec_dtls_state;

#define RTCSEC_DTLS_MAX_FINGERPRINTS 8

typedef struct rtcsec_dtls_config {
  rtcsec_dtls_role role; /* default RTCSEC_DTLS_SERVER */
  rtcsec_cert *cert;     /* required (except with a PSK); the association takes a reference */
  /* SRTP profiles in preference order; n_profiles == 0 selects the default
   * AEAD_AES_128_GCM, AEAD_AES_256_GCM, AES128_CM_SHA1_80, AES128_CM_SHA1_32
   * (RFC 8827 asks for AEAD first). As server, this order decides. */
  rtcsec_srtp_profile profiles[RTCSEC_SRTP_MAX_PROFILES];
  size_t n_profiles;
  size_t mtu;                    /* max UDP payload; default 1200, min 256 */
  uint64_t rto_initial_us;       /* first retransmission timeout; default 100 ms */
  uint64_t rto_max_us;           /* doubling stops here; default 3 s */
  uint64_t handshake_timeout_us; /* from start to connected; default 30 s */
  /* Expected peer fingerprints (copied); more may be added later. */
  const rtcsec_fingerprint *peer_fingerprints;
  size_t n_peer_fingerprints;
  /* Optional: called with each NSS key log line (as SSLKEYLOGFILE writes,
   * without newline) so Wireshark can decrypt the handshake. Secret! */
  void (*keylog)(void *user, const char *line);
  void *keylog_user;
  /* Server role: answer a ClientHello that offers DTLS 1.3 with DTLS 1.3
   * (default 1); 0 always answers with DTLS 1.2. Ignored by a client, and
   * by a server given any of the non-WebRTC options below (use_srtp 0,
   * ciphers, groups, a pre-shared key, ca_file): those are DTLS 1.2 only. */
  int enable_dtls13;
  /* DTLS 1.3 server: the post-quantum hybrid key exchange X25519MLKEM768
   * (ML-KEM-768, FIPS 203, with X25519; TLS group 0x11ec,
   * draft-ietf-tls-ecdhe-mlkem), default 1. The server's group order is
   * then X25519MLKEM768, x25519, secp256r1; 0 leaves x25519, secp256r1.
   * The server takes its first group of which the ClientHello carries a
   * key share (Chromium and Firefox send X25519MLKEM768 and x25519
   * shares, so they get X25519MLKEM768 in one round trip). A
   * HelloRetryRequest is sent only when no share is usable: for the
   * server's first group the client lists. A client that lists
   * X25519MLKEM768 but sent only an x25519 share gets x25519 at once:
   * rtcsec never adds a round trip to obtain the hybrid share. The group
   * agreed is in the CONNECTED event (.group "X25519MLKEM768") and the
   * stats. DTLS 1.2 (OpenSSL 3.0, no ML-KEM) is not affected.
   * Failures (each a FAILED event, the error sticky, every secret of the
   * handshake wiped at once; the caller drops the association, and the
   * call if it needs one):
   *   - an X25519MLKEM768 share that is not exactly 1184 + 32 bytes
   *     (checked as every known group's length, whatever enable_mlkem):
   *     RTCSEC_ERR_HANDSHAKE, alert illegal_parameter;
   *   - with enable_mlkem 1 and that share chosen: an ML-KEM
   *     encapsulation key that fails FIPS 203 §7.2's modulus check, or an
   *     all-zero X25519 result: RTCSEC_ERR_HANDSHAKE, illegal_parameter
   *     (with enable_mlkem 0 the hybrid share is never used or looked at);
   *   - a client that cannot decapsulate the server's ciphertext (damaged
   *     on the way: ML-KEM rejects implicitly, with another secret) sends
   *     a flight that does not decrypt: nothing unauthenticated ends the
   *     handshake, so it times out, RTCSEC_ERR_HANDSHAKE_TIMEOUT, and
   *     rtcsec_dtls_error_detail() says the client's records did not
   *     decrypt. */
  int enable_mlkem;

  /* ---- uses beyond WebRTC (docs/iot.md, docs/turns.md) ---------------- */
  /* 1 (default): DTLS-SRTP as WebRTC needs it, use_srtp offered and
   * required (RFC 5764 §4.1.1). 0: plain DTLS, as RFC 7925 devices and
   * STUN/TURN over DTLS (RFC 7350) use it: no use_srtp is offered or
   * required, `profiles` is ignored, CONNECTED's profile is
   * RTCSEC_SRTP_NONE and rtcsec_dtls_export_srtp_keys() refuses. Only for
   * the bare association: rtcsec_transport_new() requires 1. */
  int use_srtp;
  /* OpenSSL cipher string for DTLS 1.2 (e.g. "PSK-AES128-CCM8" or
   * "ECDHE-ECDSA-AES128-CCM8"), in preference order (as server, this
   * order decides). NULL: the default, ECDHE with AES-GCM or
   * ChaCha20-Poly1305 (RFC 8827 §6.5) followed, with use_srtp == 0, by
   * ECDHE-ECDSA-AES128-CCM8 (RFC 7925 §4.4); with a pre-shared key the
   * default is PSK-AES128-CCM8 (RFC 7925 §4.2), then PSK with AES-GCM.
   * Only AEAD suites whose record overhead rtcsec's record filter knows
   * are allowed: AES-GCM, AES-CCM, AES-CCM_8, ChaCha20-Poly1305; a list
   * that names no suite or names another suite is RTCSEC_ERR_INVALID_ARGUMENT. */
  const char *ciphers;
  /* OpenSSL group list for the ECDHE key exchange in preference order,
   * NULL: "X25519:P-256:P-384". RFC 7925 §4.4 names secp256r1: "P-256".
   * Unknown names: RTCSEC_ERR_INVALID_ARGUMENT. */
  const char *groups;
  /* RFC 4279 pre-shared key (psk_len 1..RTCSEC_DTLS_MAX_PSK bytes, copied
   * and wiped on free) and its identity (1..RTCSEC_DTLS_MAX_PSK_IDENTITY
   * bytes, copied), the same in both roles: a client sends this identity,
   * a server accepts this identity only (another one fails the handshake
   * with unknown_psk_identity, RTCSEC_ERR_PSK_UNKNOWN_IDENTITY). The
   * identity travels in clear in the ClientKeyExchange (RFC 7925 §4.2):
   * it must not say more about the device than an eavesdropper may know.
   * A peer authenticated by the key needs no certificate: cert may then
   * be NULL (pre-shared-key suites only). */
  const char *psk_identity;
  const uint8_t *psk;
  size_t psk_len;
  /* PEM file of CA certificates: a peer certificate that matches no
   * fingerprint is accepted if its chain verifies against these (RFC
   * 5280: signatures, validity on the real clock, CA flags) for the TLS
   * purpose of its role and, if peer_name is set, it names peer_name: a
   * DNS name (RFC 6125 DNS-ID, or CN-ID without DNS names) or an IP
   * address literal (iPAddress). Read once, by rtcsec_dtls_new(). A
   * client with ca_file must give peer_name (RFC 8489 §6.2.3: the client
   * MUST verify the identity of the server). */
  const char *ca_file;
  const char *peer_name;
} rtcsec_dtls_config;

#define RTCSEC_DTLS_MAX_PSK 64           /* RFC 4279 §5.3: up to 64 octets */
#define RTCSEC_DTLS_MAX_PSK_IDENTITY 128 /* RFC 4279 §5.3: at least 128 octets */

/* The retransmission timer for slow links (RFC 7925 §11): rto_initial_us
 * 9 s, doubling to rto_max_us of at least 60 s, and a handshake_timeout_us
 * long enough for OpenSSL's 12 retransmissions of one flight (about
 * ten minutes at these values). */
#define RTCSEC_DTLS_RFC7925_RTO_INITIAL_US 9000000u
#define RTCSEC_DTLS_RFC7925_RTO_MAX_US 60000000u

/* Fills cfg with the defaults documented above (cert = NULL). */
RTCSEC_API void rtcsec_dtls_config_default(rtcsec_dtls_config *cfg);

/* Creates an association. The config is copied.
 * Errors: RTCSEC_ERR_INVALID_ARGUMENT (no cert and no pre-shared key, bad
 * MTU, timers of 0, duplicate or unknown profiles, too many fingerprints,
 * a cipher list with no or a non-AEAD suite, a PSK or identity of a wrong
 * length or without the other, a client with ca_file but no peer_name),
 * RTCSEC_ERR_IO (ca_file unreadable), RTCSEC_ERR_PEM (no certificate in
 * ca_file), RTCSEC_ERR_CRYPTO, RTCSEC_ERR_NO_MEMORY. */
RTCSEC_API int rtcsec_dtls_new(rtcsec_dtls **out, const rtcsec_dtls_config *cfg);

/* Frees the association and wipes all key material. NULL is a no-op.
 * Sends nothing: call rtcsec_dtls_close() first for a clean close. */
RTCSEC_API void rtcsec_dtls_free(rtcsec_dtls *d);

/* Adds expected peer fingerprints (any hash functions; RFC 8122 allows
 * several a=fingerprint lines: give all of one SDP in one call). If the
 * handshake is held for a fingerprint, it resumes within this call against
 * the whole set: datagrams and events are then ready to poll, and a peer
 * certificate matching none fails the association (return value and a
 * FAILED event, RTCSEC_ERR_FINGERPRINT_MISMATCH).
 * Errors: RTCSEC_ERR_LIMIT (more than RTCSEC_DTLS_MAX_FINGERPRINTS in all),
 * RTCSEC_ERR_INVALID_STATE (connected, failed or closed),
 * RTCSEC_ERR_INVALID_ARGUMENT (n == 0, an unknown hash or a wrong length). */
RTCSEC_API int rtcsec_dtls_add_peer_fingerprints(rtcsec_dtls *d, const rtcsec_fingerprint *fps,
                                                 size_t n, uint64_t now);

/* Starts the handshake clock; a client also produces its ClientHello.
 * A server may also be started implicitly by the first datagram.
 * Errors: RTCSEC_ERR_INVALID_STATE (already started). */
RTCSEC_API int rtcsec_dtls_start(rtcsec_dtls *d, uint64_t now);

/* Feeds one received UDP payload that carries DTLS (first byte 20..63).
 * Garbage is dropped silently as RFC 6347 §4.1.2.7 asks and returns 0;
 * a fatal protocol error returns the (sticky) error code and queues a
 * FAILED event. */
RTCSEC_API int rtcsec_dtls_handle_datagram(rtcsec_dtls *d, const uint8_t *data, size_t len,
                                           uint64_t now);

/* Runs retransmission and the handshake timeout. Harmless if early. */
RTCSEC_API int rtcsec_dtls_handle_timeout(rtcsec_dtls *d, uint64_t now);

/* Next time (caller's clock) at which rtcsec_dtls_handle_timeout() must be
 * called, or UINT64_MAX for none. */
RTCSEC_API uint64_t rtcsec_dtls_deadline(const rtcsec_dtls *d);

/* Takes the next datagram to send into buf. Returns 0 with *out_len = 0
 * when there is none. RTCSEC_ERR_BUFFER_TOO_SMALL leaves the datagram
 * queued; a buffer of the configured MTU always suffices. */
RTCSEC_API int rtcsec_dtls_poll_datagram(rtcsec_dtls *d, uint8_t *buf, size_t cap, size_t *out_len);

/* Takes the next event (rtcsec/event.h): CONNECTED (.connected: profile,
 * version, cipher, group, role, the matched peer fingerprint; no keys),
 * DATA (.data: application data, one record), CLOSED (the peer sent
 * close_notify), FAILED (.failed). ev->type == RTCSEC_EVENT_NONE when
 * there is none. DATA bytes stay valid until the next call on this
 * association other than rtcsec_dtls_poll_event() (they are not copied
 * per record: up to 64 KiB of undelivered data is kept, beyond that new
 * data is dropped and counted in stats.data_dropped). */
RTCSEC_API int rtcsec_dtls_poll_event(rtcsec_dtls *d, rtcsec_event *ev);

/* What the association agreed on, once connected (the payload of its
 * CONNECTED event). Errors: RTCSEC_ERR_INVALID_STATE unless connected. */
RTCSEC_API int rtcsec_dtls_get_connected(const rtcsec_dtls *d, rtcsec_connected_info *out);

/* Sends application data (one record, one datagram) once connected.
 * Errors: RTCSEC_ERR_INVALID_STATE, RTCSEC_ERR_TOO_LARGE (does not fit the
 * MTU with record overhead), RTCSEC_ERR_KEY_EXHAUSTED (the association
 * fails: the 48-bit record sequence would wrap, RFC 6347 §4.1). */
RTCSEC_API int rtcsec_dtls_send_data(rtcsec_dtls *d, const uint8_t *data, size_t len, uint64_t now);

/* Sends close_notify (if the handshake got far enough) and moves to CLOSED. */
RTCSEC_API int rtcsec_dtls_close(rtcsec_dtls *d, uint64_t now);

/* Advanced, for embedders who drive libsrtp2 (or another SRTP stack)
 * themselves: the SRTP master keys of the connected association (RFC 5764
 * §4.2, exporter label "EXTRACTOR-dtls_srtp"), split by role. Most
 * programs never need this: rtcsec_transport keeps the keys inside and
 * does SRTP itself. The caller owns the copy: wipe it with
 * rtcsec_srtp_keys_wipe() as soon as it is installed.
 * Errors: RTCSEC_ERR_INVALID_STATE (not connected),
 * RTCSEC_ERR_SRTP_NOT_NEGOTIATED (no use_srtp), RTCSEC_ERR_CRYPTO. */
RTCSEC_API int rtcsec_dtls_export_srtp_keys(const rtcsec_dtls *d, rtcsec_srtp_keys *out);

/* Keying material for another protocol on top of the connected association
 * (RFC 5705 §4, no context): len (1..RTCSEC_DTLS_MAX_EXPORT) bytes for
 * `label`, identical on both sides. Secret: wipe it after use.
 * Errors: RTCSEC_ERR_INVALID_STATE (not connected),
 * RTCSEC_ERR_INVALID_ARGUMENT (empty label, len out of range),
 * RTCSEC_ERR_CRYPTO. */
#define RTCSEC_DTLS_MAX_EXPORT 1024
RTCSEC_API int rtcsec_dtls_export_keying_material(const rtcsec_dtls *d, const char *label,
                                                  uint8_t *out, size_t len);

RTCSEC_API rtcsec_dtls_state rtcsec_dtls_get_state(const rtcsec_dtls *d);
RTCSEC_API rtcsec_dtls_role rtcsec_dtls_get_role(const rtcsec_dtls *d);
/* The sticky error of a FAILED association, else 0. */
RTCSEC_API int rtcsec_dtls_error(const rtcsec_dtls *d);
/* OpenSSL's reason text for the last failure, or "". Never NULL. */
RTCSEC_API const char *rtcsec_dtls_error_detail(const rtcsec_dtls *d);
RTCSEC_API const char *rtcsec_dtls_state_name(rtcsec_dtls_state s);
/* Name of a TLS alert description (RFC 5246 §7.2, RFC 8446 §6), e.g. 42
 * "bad_certificate"; "unknown" for others and -1. Never NULL. */
RTCSEC_API const char *rtcsec_dtls_alert_name(int alert);

typedef struct rtcsec_dtls_stats {
  rtcsec_dtls_state state;
  rtcsec_dtls_role role;
  int awaiting_fingerprint; /* 1 while the handshake is held for it */
  uint64_t retransmissions; /* timer-driven flight retransmissions */
  uint64_t datagrams_sent, bytes_sent;
  uint64_t datagrams_received, bytes_received;
  uint64_t datagrams_held;    /* held while waiting for a fingerprint */
  uint64_t datagrams_dropped; /* nothing usable in it, held-queue overflow, after failure */
  /* Records dropped before the engine acted on them because they cannot
   * authenticate or cannot be valid now (docs/bad-input.md): unknown type,
   * wrong epoch or version, shorter than the AEAD overhead, handshake
   * fragments that do not add up, copies of handshake messages already
   * read (whatever their record number), alerts in epoch 0; with DTLS 1.3
   * also records that fail to decrypt and replayed ones. */
  uint64_t records_dropped;
  /* Records after the handshake that passed those checks and that OpenSSL
   * then discarded: they did not authenticate (forged or damaged), repeated
   * a record already received, or fell behind its 64-record replay window.
   * A datagram none of whose records had any effect is also counted in
   * datagrams_dropped. */
  uint64_t records_discarded;
  /* Plaintext (epoch 0) alerts among them: never acted on, since anyone
   * can forge one; the last is named in the detail of a handshake that
   * then times out. */
  uint64_t unauthenticated_alerts;
  int last_unauthenticated_alert; /* its description (e.g. 42), -1 if none */
  uint64_t handshake_us;          /* start to connected, 0 before */
  uint64_t data_dropped;          /* application records dropped: 64 KiB undelivered */
  /* Records after the handshake that decrypted (application data,
   * close_notify): proof that the peer holds the keys. */
  uint64_t records_authenticated;
  /* "DTLSv1.2" or "DTLSv1.3" once the version is chosen (a client: from
   * its start; a server: on the first complete ClientHello), else "". */
  const char *version;
  /* Datagrams a server took while reassembling the first ClientHello. */
  uint64_t datagrams_collected;
  /* The key exchange group once connected ("X25519MLKEM768", "x25519",
   * "secp256r1", ...; the CONNECTED event's), else "". */
  const char *group;
} rtcsec_dtls_stats;

RTCSEC_API int rtcsec_dtls_get_stats(const rtcsec_dtls *d, rtcsec_dtls_stats *out);

#ifdef __cplusplus
}
#endif
#endif
