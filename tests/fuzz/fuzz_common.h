/* Shared by the libFuzzer targets in tests/fuzz and by gen_corpus.c.
 *
 * Determinism: a fuzz input must replay exactly, and a handshake recorded by
 * gen_corpus must replay against a target. Three things make that so:
 *   - fixed certificates (fuzz_certs.h), loaded once;
 *   - a deterministic random source installed into OpenSSL
 *     (fuzz_rng_install), with one stream per association: select a stream
 *     before every call into an association, reset all of them at the start
 *     of an input, and an association draws the same bytes for the same
 *     inputs whatever else ran in the process;
 *   - the fake clock of tests/support/fakeclock.c for OpenSSL's DTLS timer.
 */
#ifndef RTCSEC_FUZZ_COMMON_H
#define RTCSEC_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "hybrid_kex.h"
#include "rtcsec/rtcsec.h"
#include "rtcsec/transport.h"

/* Traps (and so makes libFuzzer report a crash) when an invariant fails. */
#define FUZZ_CHECK(cond)                                                                           \
  do {                                                                                             \
    if (!(cond))                                                                                   \
      fuzz_fail(__FILE__, __LINE__, #cond);                                                        \
  } while (0)

_Noreturn void fuzz_fail(const char *file, int line, const char *what);

/* ---- fixed certificates ---------------------------------------------- */

typedef enum fuzz_cert_id {
  FUZZ_CERT_CLIENT = 0,     /* ECDSA P-256: the DTLS client */
  FUZZ_CERT_SERVER = 1,     /* ECDSA P-256: the DTLS server */
  FUZZ_CERT_SERVER_RSA = 2, /* RSA-2048: a server variant (ECDHE-RSA) */
  FUZZ_N_CERTS = 3,
} fuzz_cert_id;

/* Loads all certificates on the first call; aborts if that fails. */
rtcsec_cert *fuzz_cert(fuzz_cert_id id);
/* sha-256 fingerprint of a fixed certificate. */
rtcsec_fingerprint fuzz_fp(fuzz_cert_id id);

/* ---- deterministic random source --------------------------------------- */

#define FUZZ_RNG_STREAMS 4
enum { FUZZ_STREAM_CLIENT = 0, FUZZ_STREAM_SERVER = 1, FUZZ_STREAM_OTHER = 2 };

/* Replaces OpenSSL's random source for the rest of the process. Call after
 * the certificates are loaded. */
void fuzz_rng_install(void);
/* Every stream back to its fixed seed; stream 0 selected. */
void fuzz_rng_reset(void);
void fuzz_rng_select(int stream);

/* ---- SRTP ------------------------------------------------------------------ */

/* Fixed keys for profile p, as a DTLS client (tx) and server (rx) would get
 * them: tx's local key is rx's remote key and the other way round. */
void fuzz_srtp_fixed_keys(rtcsec_srtp_profile p, rtcsec_srtp_keys *tx, rtcsec_srtp_keys *rx);

/* ---- DTLS helpers ----------------------------------------------------------- */

/* Start of the caller's clock in every target (1 s; 0 is not special, but a
 * nonzero start catches "0 means unset" mistakes). */
#define FUZZ_T0 UINT64_C(1000000)

/* The association configurations the first-flight targets use, so that
 * gen_corpus records against exactly the same peers.
 * The server: FUZZ_CERT_SERVER, default profiles, MTU 1200, expects the
 * client's fingerprint. The client: FUZZ_CERT_CLIENT, default profiles,
 * MTU 1200, expects either server certificate's fingerprint. When
 * `know_peer` is 0 no fingerprint is configured (add them later with
 * fuzz_dtls_add_peer_fps). */
void fuzz_dtls_config(rtcsec_dtls_config *cfg, rtcsec_dtls_role role, int know_peer,
                      rtcsec_fingerprint fps[2]);
/* Adds the fingerprints fuzz_dtls_config would have configured, one at a
 * time; stops early once the association has left the handshake (the first
 * one can release a held flight that completes or fails it). */
int fuzz_dtls_add_peer_fps(rtcsec_dtls *d, rtcsec_dtls_role role, uint64_t now);

/* What an association reported through its events, checked as they come:
 * at most one CONNECTED, nothing after FAILED or CLOSED, CONNECTED only
 * with a fingerprint that was expected. */
typedef struct fuzz_dtls_watch {
  int connected, failed, closed, data;
  int error;
  rtcsec_connected_info info; /* of the CONNECTED event */
  rtcsec_srtp_keys keys;      /* exported at CONNECTED; wiped by the caller */
  const rtcsec_fingerprint *expected;
  size_t n_expected;
  /* Optional: sees each DATA event's payload. */
  void (*on_data)(void *user, const uint8_t *data, size_t len);
  void *user;
} fuzz_dtls_watch;

/* Polls every event and checks it (see above). */
void fuzz_dtls_poll_events(rtcsec_dtls *d, fuzz_dtls_watch *w);
/* After a call on d that returned rc: a call fails only with the sticky
 * error of a FAILED association, or RTCSEC_ERR_CLOSED once closed. */
void fuzz_dtls_check_rc(rtcsec_dtls *d, int rc);
/* At the end of a run: the state agrees with the events seen. */
void fuzz_dtls_check_final(rtcsec_dtls *d, const fuzz_dtls_watch *w);
/* Polls and discards every datagram; checks each fits `mtu`. Returns the
 * number polled. */
size_t fuzz_dtls_discard_datagrams(rtcsec_dtls *d, size_t mtu);

/* ---- the first-flight targets ----------------------------------------------- */

/* Input format of fuzz_dtls_server_first_flight and
 * fuzz_dtls_client_first_flight (and of the seeds gen_corpus writes):
 *
 *   byte 0 = B
 *   B in 20..63   the whole input is one datagram, as it came off the wire
 *                 (RFC 7983: only those first bytes reach DTLS);
 *   B in 0..19    B datagrams follow; the association knows the peer's
 *                 fingerprint from the start;
 *   B in 64..255  (B - 64) % 20 datagrams follow; the association learns the
 *                 fingerprint only when a datagram header says so (or at
 *                 the end), so it holds the peer's flight meanwhile.
 *   each datagram: a 2-byte big-endian header H, then min(H & 0x3FFF,
 *   what is left) bytes;
 *     H & 0x8000  first advance the clock to the deadline and run the timer
 *     H & 0x4000  first add the expected peer fingerprints
 */
#define FUZZ_DG_TIMER 0x8000u
#define FUZZ_DG_ADD_FP 0x4000u
#define FUZZ_DG_LEN_MASK 0x3FFFu
#define FUZZ_SPLIT_LATE_FP 64u

/* Walks an input in that format. */
typedef struct fuzz_flight_input {
  const uint8_t *p;
  size_t left;
  size_t n, i;
  int raw;
  int fp_known; /* the fingerprint is known from the start */
} fuzz_flight_input;

void fuzz_flight_input_init(fuzz_flight_input *it, const uint8_t *data, size_t size);
/* The next datagram and its header flags (FUZZ_DG_*); 0 at the end. */
int fuzz_flight_input_next(fuzz_flight_input *it, const uint8_t **dg, size_t *len, unsigned *flags);

/* What one run of a first-flight input did (for gen_corpus' self-check). */
typedef struct fuzz_flight_result {
  fuzz_dtls_watch watch;
  rtcsec_dtls_state state;
  size_t datagrams_out;
} fuzz_flight_result;

/* Runs one input against a fresh association of `role` (a client is started
 * first, so it has sent its ClientHello). res may be NULL. */
void fuzz_dtls_first_flight(rtcsec_dtls_role role, const uint8_t *data, size_t size,
                            fuzz_flight_result *res);

/* ---- the transport target ---------------------------------------------------- */

/* What one run of fuzz_transport did. */
typedef struct fuzz_transport_result {
  int connected, failed, closed, data;
  size_t rtp_ok, rtcp_ok, stun;
} fuzz_transport_result;

/* A server rtcsec_transport configured as the server first-flight target's
 * association (fuzz_dtls_config) gets the input's datagrams (same format as
 * above) through rtcsec_transport_handle_datagram: STUN, DTLS, SRTP, SRTCP
 * and everything else on one socket. res may be NULL. */
void fuzz_transport_run(const uint8_t *data, size_t size, fuzz_transport_result *res);

/* Debian's libsrtp2 uses NSS, and each libsrtp2 cipher opens an NSS
 * context; when the last one closes NSS unloads its softoken (dlclose) and
 * the next session loads it again, which is most of the time of a run. A
 * session kept for the life of the process keeps NSS loaded. */
void fuzz_keep_nss_loaded(void);

/* ---- the mlkem target ------------------------------------------------------------ */

/* The fixed ML-KEM-768 key pair of fuzz_mlkem (KeyGen_internal with d = 01..01,
 * z = 02..02), a ciphertext to it (m = 03..03) and that ciphertext's shared
 * secret. Aborts if ML-KEM fails. */
void fuzz_mlkem_fixed(uint8_t ek[RTCSEC_MLKEM768_EK_LEN], uint8_t dk[RTCSEC_MLKEM768_DK_LEN],
                      uint8_t ct[RTCSEC_MLKEM768_CT_LEN], uint8_t ss[RTCSEC_MLKEM_SS_LEN]);
/* The fixed X25519MLKEM768 client of fuzz_mlkem: the key pair above and the
 * X25519 scalar 04..04; its client share. Clear c after use. */
void fuzz_hybrid_client(rtcsec_kex_client *c,
                        uint8_t share[RTCSEC_X25519MLKEM768_CLIENT_SHARE_LEN]);

#endif
