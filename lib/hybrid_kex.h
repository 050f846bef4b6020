/* Key exchange for the TLS 1.3 key_share extension, as the DTLS 1.3 engine
 * needs it (internal, not installed): X25519 (RFC 7748, RFC 8446 §7.4.2),
 * secp256r1 (RFC 8446 §4.2.8.2, §7.4.2) and the hybrid X25519MLKEM768
 * (draft-ietf-tls-ecdhe-mlkem, codepoint 0x11ec).
 *
 * The server functions take the client's key_exchange bytes as received and
 * give the server's key_exchange and the shared secret; the client side is
 * for tests and a test DTLS 1.3 client. Every function returns 0 or:
 *   RTCSEC_ERR_INVALID_ARGUMENT   a NULL pointer, an unknown group, or a
 *                                 client state that does not match;
 *   RTCSEC_ERR_BUFFER_TOO_SMALL   an output capacity below the group's size;
 *   RTCSEC_ERR_KEY_SHARE_LENGTH   the peer's share has the wrong length for
 *                                 the group;
 *   RTCSEC_ERR_KEY_SHARE_INVALID  the peer's share is not a key: an ML-KEM
 *                                 encapsulation key that fails the FIPS 203
 *                                 §7.2 modulus check, a P-256 share that is
 *                                 not an uncompressed point on the curve;
 *   RTCSEC_ERR_KEY_SHARE_ZERO     the X25519 result is all zero (the peer sent
 *                                 a small-order point; RFC 8446 §7.4.2 and
 *                                 RFC 7748 §6.1 say abort);
 *   RTCSEC_ERR_CRYPTO             OpenSSL failed (memory, missing algorithm).
 * The three KEY_SHARE errors are the peer's fault: the handshake ends with
 * an illegal_parameter alert. On any error the outputs are zeroed.
 * Thread rule: no shared state; a client state belongs to one thread. */
#ifndef RTCSEC_HYBRID_KEX_H
#define RTCSEC_HYBRID_KEX_H

#include <openssl/types.h>
#include <stddef.h>
#include <stdint.h>

#include "mlkem.h"

/* TLS NamedGroup codepoints (IANA "TLS Supported Groups"). */
#define RTCSEC_GROUP_SECP256R1 0x0017
#define RTCSEC_GROUP_X25519 0x001d
#define RTCSEC_GROUP_X25519MLKEM768 0x11ec

#define RTCSEC_X25519_SHARE_LEN 32
#define RTCSEC_X25519_SECRET_LEN 32
#define RTCSEC_P256_SHARE_LEN 65  /* 0x04 || X || Y (RFC 8446 §4.2.8.2) */
#define RTCSEC_P256_SECRET_LEN 32 /* the x-coordinate (RFC 8446 §7.4.2) */
/* Client: ML-KEM-768 ek || X25519 public; server: ML-KEM ciphertext ||
 * X25519 public; secret: ML-KEM shared secret || X25519 shared secret. */
#define RTCSEC_X25519MLKEM768_CLIENT_SHARE_LEN (RTCSEC_MLKEM768_EK_LEN + RTCSEC_X25519_SHARE_LEN)
#define RTCSEC_X25519MLKEM768_SERVER_SHARE_LEN (RTCSEC_MLKEM768_CT_LEN + RTCSEC_X25519_SHARE_LEN)
#define RTCSEC_X25519MLKEM768_SECRET_LEN (RTCSEC_MLKEM_SS_LEN + RTCSEC_X25519_SECRET_LEN)

#define RTCSEC_KEX_MAX_CLIENT_SHARE_LEN RTCSEC_X25519MLKEM768_CLIENT_SHARE_LEN
#define RTCSEC_KEX_MAX_SERVER_SHARE_LEN RTCSEC_X25519MLKEM768_SERVER_SHARE_LEN
#define RTCSEC_KEX_MAX_SECRET_LEN RTCSEC_X25519MLKEM768_SECRET_LEN

/* ---- server side ---------------------------------------------------------- */

/* X25519: a fresh key pair, our public key in server_share, the 32-byte
 * shared secret. */
int rtcsec_x25519_server(const uint8_t *client_share, size_t len,
                         uint8_t server_share[RTCSEC_X25519_SHARE_LEN],
                         uint8_t secret[RTCSEC_X25519_SECRET_LEN]);

/* secp256r1: the client share must be 65 bytes, 0x04 || X || Y, a point on
 * the curve; our share is the same form. */
int rtcsec_p256_server(const uint8_t *client_share, size_t len,
                       uint8_t server_share[RTCSEC_P256_SHARE_LEN],
                       uint8_t secret[RTCSEC_P256_SECRET_LEN]);

/* X25519MLKEM768: checks the length (1216), the ML-KEM modulus check of ek,
 * runs X25519 (all-zero refused), then ML-KEM.Encaps to ek. */
int rtcsec_x25519mlkem768_server(const uint8_t *client_share, size_t len,
                                 uint8_t server_share[RTCSEC_X25519MLKEM768_SERVER_SHARE_LEN],
                                 uint8_t secret[RTCSEC_X25519MLKEM768_SECRET_LEN]);

/* The same, chosen by group: the written lengths come back through the
 * _len pointers. */
int rtcsec_kex_server(uint16_t group, const uint8_t *client_share, size_t len,
                      uint8_t *server_share, size_t server_share_cap, size_t *server_share_len,
                      uint8_t *secret, size_t secret_cap, size_t *secret_len);

/* 1 for the three groups above, else 0. */
int rtcsec_kex_group_supported(uint16_t group);
/* The IANA name ("X25519MLKEM768", "x25519", "secp256r1"), for stats and
 * the connected event; "unknown" otherwise. Never NULL. */
const char *rtcsec_kex_group_name(uint16_t group);
/* Sizes for a group; 0 for an unknown group. */
size_t rtcsec_kex_client_share_len(uint16_t group);
size_t rtcsec_kex_server_share_len(uint16_t group);
size_t rtcsec_kex_secret_len(uint16_t group);

/* ---- client side (tests, test client) ----------------------------------------- */

/* One client's key pair for one group. Not copyable (it owns an EVP_PKEY);
 * rtcsec_kex_client_clear() frees and wipes it. */
typedef struct rtcsec_kex_client {
  uint16_t group;
  EVP_PKEY *ecdh;                           /* X25519 or P-256 key pair */
  uint8_t mlkem_dk[RTCSEC_MLKEM768_DK_LEN]; /* X25519MLKEM768 only */
} rtcsec_kex_client;

/* Makes a key pair for `group` into *c (overwritten, not read: clear it
 * before reusing it) and writes the client key_exchange bytes. */
int rtcsec_kex_client_keygen(rtcsec_kex_client *c, uint16_t group, uint8_t *share, size_t cap,
                             size_t *share_len);
/* The shared secret from the server's key_exchange bytes. Implicit rejection
 * is not an error: a bad ML-KEM ciphertext gives a secret the server does
 * not have. */
int rtcsec_kex_client_finish(rtcsec_kex_client *c, const uint8_t *server_share, size_t len,
                             uint8_t *secret, size_t cap, size_t *secret_len);
/* As rtcsec_kex_client_keygen, from a given private key instead of a random
 * one, for known-answer tests: X25519 takes the 32-byte scalar (RFC 7748 §5),
 * X25519MLKEM768 takes d || z || the X25519 scalar (96 bytes). Any other
 * group or length is RTCSEC_ERR_INVALID_ARGUMENT. */
int rtcsec_kex_client_from_private(rtcsec_kex_client *c, uint16_t group, const uint8_t *priv,
                                   size_t priv_len, uint8_t *share, size_t cap, size_t *share_len);
/* Frees the key pair and wipes the state; c may be NULL. */
void rtcsec_kex_client_clear(rtcsec_kex_client *c);

/* The X25519MLKEM768 client with fixed-size buffers. */
int rtcsec_x25519mlkem768_client_keygen(
    rtcsec_kex_client *c, uint8_t client_share[RTCSEC_X25519MLKEM768_CLIENT_SHARE_LEN]);
int rtcsec_x25519mlkem768_client_finish(rtcsec_kex_client *c, const uint8_t *server_share,
                                        size_t len,
                                        uint8_t secret[RTCSEC_X25519MLKEM768_SECRET_LEN]);

#endif
