/* Internal: the DTLS 1.3 record layer (RFC 9147 §4): plaintext records
 * (epoch 0), the unified header of protected records, record number
 * encryption, AEAD protection with the 64-bit sequence number, sequence
 * number reconstruction and the per-epoch replay window. Not installed. */
#ifndef RTCSEC_DTLS13_RECORD_H
#define RTCSEC_DTLS13_RECORD_H

#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>

#include "dtls13_keys.h"
#include "tls_codes.h"

/* Cipher suites (RFC 8446 §B.4). */
#define RTCSEC_TLS_AES_128_GCM_SHA256 0x1301
#define RTCSEC_TLS_AES_256_GCM_SHA384 0x1302

/* RFC 9147 §4: legacy_record_version of every record rtcsec sends. */
#define RTCSEC_DTLS13_LEGACY_RECORD_VERSION RTCSEC_DTLS12_VERSION

typedef struct rtcsec_d13_suite {
  uint16_t id;
  const char *name; /* IANA name, as browsers' stats show it */
  size_t key_len;
  const EVP_MD *(*md)(void);
  const EVP_CIPHER *(*aead)(void);
  const EVP_CIPHER *(*ecb)(void); /* record number encryption (RFC 9147 §4.2.3) */
} rtcsec_d13_suite;

const rtcsec_d13_suite *rtcsec_d13_suite_by_id(uint16_t id);

#define RTCSEC_D13_TAG_LEN 16
#define RTCSEC_D13_PLAIN_HDR 13 /* DTLSPlaintext header */
#define RTCSEC_D13_CIPHER_HDR 5 /* the unified header rtcsec sends: flags, 16-bit seq, length */
/* Bytes a protected record adds to its content: header, inner type, tag. */
#define RTCSEC_D13_OVERHEAD (RTCSEC_D13_CIPHER_HDR + 1 + RTCSEC_D13_TAG_LEN)
#define RTCSEC_D13_MAX_PLAINTEXT 16384 /* RFC 8446 §5.1: 2^14 */

/* A sliding replay window of 64 records (RFC 9147 §4.5.1, RFC 4303
 * §3.4.3): `top` is the highest sequence number that authenticated. */
typedef struct rtcsec_replay {
  uint64_t top;
  uint64_t bits; /* bit i: top - i was seen */
  int any;
} rtcsec_replay;

/* 1 if seq is new (right of the window or unseen inside it), 0 if it is a
 * replay or left of the window. */
int rtcsec_replay_check(const rtcsec_replay *w, uint64_t seq);
/* Marks seq seen; call only after the record authenticated. */
void rtcsec_replay_update(rtcsec_replay *w, uint64_t seq);

/* RFC 9147 §4.2.2: the full sequence number closest to `expected` whose
 * low `bits` bits are `low`. */
uint64_t rtcsec_d13_reconstruct_seq(uint64_t expected, uint64_t low, unsigned bits);

/* Keys of one epoch in one direction. */
typedef struct rtcsec_d13_keys {
  int active;
  uint64_t epoch;
  const rtcsec_d13_suite *suite;
  EVP_CIPHER_CTX *aead; /* key set; the nonce is set per record */
  EVP_CIPHER_CTX *sn;   /* AES-ECB with sn_key */
  uint8_t iv[RTCSEC_D13_IV_LEN];
  int encrypt;
  uint64_t next_seq;    /* sending: the next record's sequence number */
  rtcsec_replay window; /* receiving */
  uint64_t failures;    /* receiving: records that failed to authenticate */
  uint64_t records;     /* records protected or opened with these keys */
} rtcsec_d13_keys;

/* Derives key, iv and sn_key from a traffic secret (RFC 8446 §7.3,
 * RFC 9147 §4.2.3) and readies the contexts. Returns 0 or
 * RTCSEC_ERR_CRYPTO / RTCSEC_ERR_NO_MEMORY. */
int rtcsec_d13_keys_init(rtcsec_d13_keys *k, const rtcsec_d13_suite *suite, const char *prefix,
                         const uint8_t *secret, uint64_t epoch, int encrypt);
/* Frees the contexts and wipes the keys; the struct may be reused. */
void rtcsec_d13_keys_clear(rtcsec_d13_keys *k);

/* Writes one protected record (DTLSCiphertext, RFC 9147 §4): header
 * 001 C=0 S=1 L=1 EE, 16-bit sequence number, length; content || type,
 * AEAD-protected with the header (before record number encryption) as
 * additional data; then the sequence number masked. Uses and advances
 * k->next_seq. Returns 0, RTCSEC_ERR_BUFFER_TOO_SMALL, RTCSEC_ERR_CRYPTO. */
int rtcsec_d13_seal(rtcsec_d13_keys *k, uint8_t type, const uint8_t *content, size_t len,
                    uint8_t *out, size_t cap, size_t *out_len);

/* The same with another header form and padding: flags
 * RTCSEC_D13_SEAL_SEQ8 (8-bit sequence number), RTCSEC_D13_SEAL_NO_LENGTH
 * (no length: the record ends the datagram), and `pad` zero bytes after the
 * content type (RFC 8446 §5.4). */
#define RTCSEC_D13_SEAL_SEQ8 1
#define RTCSEC_D13_SEAL_NO_LENGTH 2
int rtcsec_d13_seal_ex(rtcsec_d13_keys *k, uint8_t type, const uint8_t *content, size_t len,
                       size_t pad, unsigned flags, uint8_t *out, size_t cap, size_t *out_len);

/* Writes one DTLSPlaintext record of epoch 0. */
int rtcsec_d13_plain(uint8_t type, uint64_t seq, const uint8_t *content, size_t len, uint8_t *out,
                     size_t cap, size_t *out_len);

/* One record split off a datagram, not yet authenticated. */
typedef struct rtcsec_d13_record {
  int protected_;     /* DTLSCiphertext (unified header) */
  uint8_t type;       /* plaintext: the content type */
  uint16_t epoch;     /* plaintext: the epoch; protected: the two epoch bits */
  uint64_t seq;       /* plaintext: 48-bit number; protected: the masked low bits */
  unsigned seq_bits;  /* protected: 8 or 16 */
  const uint8_t *hdr; /* the header as received */
  size_t hdr_len;
  const uint8_t *body; /* plaintext fragment or encrypted_record */
  size_t body_len;
} rtcsec_d13_record;

/* Splits the next record off data[*off..len). Returns 1 with *rec, 0 at the
 * end of the datagram, -1 if the rest cannot be framed (a length past the
 * end, an unknown first byte, a connection ID that was not negotiated):
 * the caller drops the rest of the datagram (RFC 9147 §4.1, §4.5.2). */
int rtcsec_d13_next_record(const uint8_t *data, size_t len, size_t *off, rtcsec_d13_record *rec);

/* Opens a protected record with k: reconstructs the sequence number,
 * removes the mask, authenticates and decrypts, checks the replay window
 * and only then moves it. out (cap >= body_len) gets the content, *type the
 * inner content type. Returns 0; RTCSEC_ERR_CRYPTO if it does not
 * authenticate (counted in k->failures) or is malformed; 1 if it is a
 * replay. Nothing of a failed record is left in out. */
int rtcsec_d13_open(rtcsec_d13_keys *k, const rtcsec_d13_record *rec, uint8_t *out, size_t cap,
                    size_t *out_len, uint8_t *type, uint64_t *seq);

#endif
