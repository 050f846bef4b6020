/* rtcsec: the STUN message codec (RFC 8489, RFC 5389) with the ICE
 * attributes (RFC 8445 §16.1), for the ICE-lite responder of the
 * single-port router (rtcsec/router.h) and for test and load clients.
 *
 * Parsing never allocates and never copies: rtcsec_stun_parse() checks the
 * header and walks every attribute within the datagram's bounds, and the
 * parsed view points into the caller's buffer. Building writes into the
 * caller's buffer through rtcsec_stun_builder, which keeps the header's
 * length field right after every attribute, so the buffer always holds a
 * well-formed message.
 *
 * What a receiver does with a parsed message (RFC 8489 §6.3): a message
 * that fails rtcsec_stun_parse() is discarded silently; unknown
 * comprehension-optional attributes are ignored; unknown
 * comprehension-required attributes are listed in `unknown` so that a
 * server can answer 420 with UNKNOWN-ATTRIBUTES (§6.3.1); of an attribute
 * present more than once only the first is used (§14); attributes after
 * MESSAGE-INTEGRITY other than FINGERPRINT are ignored (§14.5); nothing may
 * follow FINGERPRINT (§14.7).
 *
 * Pure functions and caller-owned state: any thread.
 */
#ifndef RTCSEC_STUN_H
#define RTCSEC_STUN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "rtcsec/export.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RTCSEC_STUN_MAGIC_COOKIE 0x2112A442u
#define RTCSEC_STUN_HEADER_LEN 20
#define RTCSEC_STUN_TID_LEN 12
/* HMAC-SHA1 (RFC 8489 §14.5). */
#define RTCSEC_STUN_INTEGRITY_LEN 20
/* RFC 8489 §14.7: CRC-32 of the message XOR'ed with this. */
#define RTCSEC_STUN_FINGERPRINT_XOR 0x5354554eu
/* Longest USERNAME accepted. RFC 5389 §15.3 allows < 513 bytes; an ICE
 * USERNAME is "ufrag:ufrag" with ufrags of at most 256 characters (RFC 8445
 * §5.3), 513 bytes. Longer is malformed. */
#define RTCSEC_STUN_MAX_USERNAME 513
/* RFC 8489 §14.8: the reason phrase is < 128 characters, <= 763 bytes. */
#define RTCSEC_STUN_MAX_REASON 763
/* Attributes walked per message; more is malformed. */
#define RTCSEC_STUN_MAX_ATTRIBUTES 64
/* Unknown comprehension-required attribute types remembered. */
#define RTCSEC_STUN_MAX_UNKNOWN 8

/* Methods (RFC 8489 §18.2, RFC 8656 §17). */
#define RTCSEC_STUN_BINDING 0x001
#define RTCSEC_STUN_ALLOCATE 0x003
#define RTCSEC_STUN_REFRESH 0x004
#define RTCSEC_STUN_SEND 0x006
#define RTCSEC_STUN_DATA 0x007
#define RTCSEC_STUN_CREATE_PERMISSION 0x008
#define RTCSEC_STUN_CHANNEL_BIND 0x009

typedef enum rtcsec_stun_class {
  RTCSEC_STUN_REQUEST = 0,
  RTCSEC_STUN_INDICATION = 1,
  RTCSEC_STUN_SUCCESS = 2,
  RTCSEC_STUN_ERROR = 3,
} rtcsec_stun_class;

/* Attribute types (RFC 8489 §18.3, RFC 8445 §16.1). */
typedef enum rtcsec_stun_attr {
  RTCSEC_STUN_ATTR_MAPPED_ADDRESS = 0x0001,
  RTCSEC_STUN_ATTR_USERNAME = 0x0006,
  RTCSEC_STUN_ATTR_MESSAGE_INTEGRITY = 0x0008,
  RTCSEC_STUN_ATTR_ERROR_CODE = 0x0009,
  RTCSEC_STUN_ATTR_UNKNOWN_ATTRIBUTES = 0x000A,
  RTCSEC_STUN_ATTR_REALM = 0x0014,
  RTCSEC_STUN_ATTR_NONCE = 0x0015,
  RTCSEC_STUN_ATTR_MESSAGE_INTEGRITY_SHA256 = 0x001C,
  RTCSEC_STUN_ATTR_PASSWORD_ALGORITHM = 0x001D,
  RTCSEC_STUN_ATTR_USERHASH = 0x001E,
  RTCSEC_STUN_ATTR_XOR_MAPPED_ADDRESS = 0x0020,
  RTCSEC_STUN_ATTR_PRIORITY = 0x0024,
  RTCSEC_STUN_ATTR_USE_CANDIDATE = 0x0025,
  RTCSEC_STUN_ATTR_PASSWORD_ALGORITHMS = 0x8002,
  RTCSEC_STUN_ATTR_ALTERNATE_DOMAIN = 0x8003,
  RTCSEC_STUN_ATTR_SOFTWARE = 0x8022,
  RTCSEC_STUN_ATTR_ALTERNATE_SERVER = 0x8023,
  RTCSEC_STUN_ATTR_FINGERPRINT = 0x8028,
  RTCSEC_STUN_ATTR_ICE_CONTROLLED = 0x8029,
  RTCSEC_STUN_ATTR_ICE_CONTROLLING = 0x802A,
  /* TURN (RFC 8656 §18) */
  RTCSEC_STUN_ATTR_CHANNEL_NUMBER = 0x000C,
  RTCSEC_STUN_ATTR_LIFETIME = 0x000D,
  RTCSEC_STUN_ATTR_XOR_PEER_ADDRESS = 0x0012,
  RTCSEC_STUN_ATTR_DATA = 0x0013,
  RTCSEC_STUN_ATTR_XOR_RELAYED_ADDRESS = 0x0016,
  RTCSEC_STUN_ATTR_REQUESTED_ADDRESS_FAMILY = 0x0017,
  RTCSEC_STUN_ATTR_EVEN_PORT = 0x0018,
  RTCSEC_STUN_ATTR_REQUESTED_TRANSPORT = 0x0019,
  RTCSEC_STUN_ATTR_DONT_FRAGMENT = 0x001A,
  RTCSEC_STUN_ATTR_RESERVATION_TOKEN = 0x0022,
} rtcsec_stun_attr;

/* Error codes used by ICE and TURN (RFC 8489 §14.8, RFC 8445 §7.3.1.1,
 * RFC 8656 §19). */
#define RTCSEC_STUN_ERR_BAD_REQUEST 400
#define RTCSEC_STUN_ERR_UNAUTHENTICATED 401
#define RTCSEC_STUN_ERR_FORBIDDEN 403
#define RTCSEC_STUN_ERR_UNKNOWN_ATTRIBUTE 420
#define RTCSEC_STUN_ERR_ALLOCATION_MISMATCH 437
#define RTCSEC_STUN_ERR_STALE_NONCE 438
#define RTCSEC_STUN_ERR_WRONG_CREDENTIALS 441
#define RTCSEC_STUN_ERR_UNSUPPORTED_TRANSPORT 442
#define RTCSEC_STUN_ERR_ALLOCATION_QUOTA 486
#define RTCSEC_STUN_ERR_ROLE_CONFLICT 487
#define RTCSEC_STUN_ERR_INSUFFICIENT_CAPACITY 508

/* Bits of rtcsec_stun_msg.present. */
#define RTCSEC_STUN_HAS_USERNAME (1u << 0)
#define RTCSEC_STUN_HAS_INTEGRITY (1u << 1)
#define RTCSEC_STUN_HAS_FINGERPRINT (1u << 2) /* and it verified */
#define RTCSEC_STUN_HAS_PRIORITY (1u << 3)
#define RTCSEC_STUN_HAS_USE_CANDIDATE (1u << 4)
#define RTCSEC_STUN_HAS_ICE_CONTROLLING (1u << 5)
#define RTCSEC_STUN_HAS_ICE_CONTROLLED (1u << 6)
#define RTCSEC_STUN_HAS_XOR_MAPPED_ADDRESS (1u << 7)
#define RTCSEC_STUN_HAS_ERROR_CODE (1u << 8)
#define RTCSEC_STUN_HAS_REALM (1u << 9)
#define RTCSEC_STUN_HAS_NONCE (1u << 10)
#define RTCSEC_STUN_HAS_SOFTWARE (1u << 11)

/* A parsed message: a view into the buffer given to rtcsec_stun_parse(),
 * valid while that buffer is. */
typedef struct rtcsec_stun_msg {
  const uint8_t *data; /* the whole message */
  size_t len;
  uint16_t method; /* 12 bits */
  rtcsec_stun_class cls;
  uint8_t tid[RTCSEC_STUN_TID_LEN];
  unsigned present; /* RTCSEC_STUN_HAS_* */

  const uint8_t *username; /* not NUL-terminated */
  size_t username_len;
  size_t integrity_offset; /* offset of the MESSAGE-INTEGRITY attribute header */
  uint32_t priority;
  uint64_t ice_controlling;           /* tie-breaker */
  uint64_t ice_controlled;            /* tie-breaker */
  struct sockaddr_storage xor_mapped; /* AF_INET or AF_INET6, decoded */
  socklen_t xor_mapped_len;
  int error_code; /* 300..699 */
  const uint8_t *error_reason;
  size_t error_reason_len;
  const uint8_t *realm, *nonce, *software;
  size_t realm_len, nonce_len, software_len;

  /* Comprehension-required types (< 0x8000) this codec does not know, in
   * order, before MESSAGE-INTEGRITY. n_unknown counts all of them, at most
   * RTCSEC_STUN_MAX_UNKNOWN are stored. */
  uint16_t unknown[RTCSEC_STUN_MAX_UNKNOWN];
  size_t n_unknown;
  size_t n_attributes; /* walked, including ignored ones */
  size_t n_duplicates; /* attributes ignored as repeats of an earlier one */
} rtcsec_stun_msg;

/* 1 if the datagram has the shape of a STUN message (RFC 8489 §6.3: first
 * two bits zero, the magic cookie, a length field that is a multiple of 4
 * and equal to the datagram's length less the header), else 0. Cheap:
 * reads the 20-byte header only. */
RTCSEC_API int rtcsec_stun_is_message(const uint8_t *buf, size_t len);

/* Parses and checks one datagram as a STUN message (RFC 8489 §5, §6.3,
 * §14), within len bytes and at most RTCSEC_STUN_MAX_ATTRIBUTES attributes.
 * A FINGERPRINT attribute, if present, is verified here.
 * Errors (out is then undefined; discard the datagram):
 *   RTCSEC_ERR_INVALID_ARGUMENT   NULL out, or NULL buf with len > 0;
 *   RTCSEC_ERR_STUN_MALFORMED     too short, top bits set, bad cookie,
 *                                 length field wrong or not a multiple of 4,
 *                                 an attribute running past the end, a
 *                                 known attribute with a wrong length or
 *                                 value (USERNAME over the limit, address
 *                                 family, ERROR-CODE class), an attribute
 *                                 after FINGERPRINT, too many attributes;
 *   RTCSEC_ERR_STUN_FINGERPRINT   FINGERPRINT present and wrong.
 * Whether MESSAGE-INTEGRITY is right needs the key: see
 * rtcsec_stun_check_integrity(). */
RTCSEC_API int rtcsec_stun_parse(rtcsec_stun_msg *out, const uint8_t *buf, size_t len);

/* Verifies MESSAGE-INTEGRITY (RFC 8489 §14.5): HMAC-SHA1 keyed by `key`
 * (short-term: the password as given, RFC 8489 §9.1.1; long-term: see
 * rtcsec_stun_long_term_key()) over the message up to the attribute, with
 * the header's length field counting up to and including it. The
 * comparison is constant-time.
 * Returns 0, or RTCSEC_ERR_STUN_INTEGRITY (absent or wrong),
 * RTCSEC_ERR_INVALID_ARGUMENT, RTCSEC_ERR_CRYPTO. */
RTCSEC_API int rtcsec_stun_check_integrity(const rtcsec_stun_msg *m, const uint8_t *key,
                                           size_t key_len);

/* A MESSAGE-INTEGRITY key made once (an HMAC-SHA1 context keyed with it)
 * for the many messages of one credential: the ICE-lite router keeps one
 * per session. Errors: RTCSEC_ERR_INVALID_ARGUMENT, RTCSEC_ERR_NO_MEMORY,
 * RTCSEC_ERR_CRYPTO. A key is used by one thread at a time. */
typedef struct rtcsec_stun_key rtcsec_stun_key;
RTCSEC_API int rtcsec_stun_key_new(rtcsec_stun_key **out, const uint8_t *key, size_t key_len);
/* Frees the key (OpenSSL wipes the keyed state). NULL is a no-op. */
RTCSEC_API void rtcsec_stun_key_free(rtcsec_stun_key *k);
/* rtcsec_stun_check_integrity() with a key made by rtcsec_stun_key_new(). */
RTCSEC_API int rtcsec_stun_check_integrity_key(const rtcsec_stun_msg *m, rtcsec_stun_key *k);

/* The long-term credential key (RFC 8489 §9.2.2 with MD5, as RFC 5389
 * §15.4): MD5(username ":" realm ":" password). The strings must already
 * be processed (SASLprep / OpaqueString) by the caller. */
RTCSEC_API int rtcsec_stun_long_term_key(const char *username, const char *realm,
                                         const char *password, uint8_t out[16]);

/* The first attribute of `type` before MESSAGE-INTEGRITY (RFC 8489 §14.5:
 * what follows it, other than FINGERPRINT, is ignored), for attributes
 * the parsed view does not decode (the TURN ones). Returns 1 with *value
 * (into the message) and *len set, or 0 if absent (or m is NULL). */
RTCSEC_API int rtcsec_stun_find_attr(const rtcsec_stun_msg *m, uint16_t type, const uint8_t **value,
                                     size_t *len);

/* Decodes an XOR'ed address value of message m (XOR-MAPPED-ADDRESS,
 * XOR-PEER-ADDRESS, XOR-RELAYED-ADDRESS; RFC 8489 §14.2): family 1 with 8
 * bytes or family 2 with 20. Returns 0, or RTCSEC_ERR_STUN_MALFORMED (out
 * then undefined), RTCSEC_ERR_INVALID_ARGUMENT. */
RTCSEC_API int rtcsec_stun_decode_xor_address(const rtcsec_stun_msg *m, const uint8_t *value,
                                              size_t len, struct sockaddr_storage *out,
                                              socklen_t *out_len);

/* CRC-32 (ISO-HDLC, as in RFC 1952) of data, for FINGERPRINT. */
RTCSEC_API uint32_t rtcsec_stun_crc32(const uint8_t *data, size_t len);

/* "Binding request", "Binding success response", ...; for logs. */
RTCSEC_API const char *rtcsec_stun_class_name(rtcsec_stun_class c);

/* ---- building ------------------------------------------------------------ */

/* Writes into buf[0..cap). Every add function returns 0 or an error; the
 * first error is kept (sticky) and returned again by
 * rtcsec_stun_builder_finish(), so a sequence of adds may be checked once.
 * Padding bytes are zero (RFC 8489 §14). After MESSAGE-INTEGRITY only
 * FINGERPRINT may be added, and after FINGERPRINT nothing. */
typedef struct rtcsec_stun_builder {
  uint8_t *buf;
  size_t cap;
  size_t len;
  int error;
  int has_integrity;
  int has_fingerprint;
} rtcsec_stun_builder;

/* Writes the header: method (12 bits), class, cookie and tid.
 * Errors: RTCSEC_ERR_INVALID_ARGUMENT, RTCSEC_ERR_BUFFER_TOO_SMALL. */
RTCSEC_API int rtcsec_stun_builder_init(rtcsec_stun_builder *b, uint8_t *buf, size_t cap,
                                        uint16_t method, rtcsec_stun_class cls,
                                        const uint8_t tid[RTCSEC_STUN_TID_LEN]);

/* Any attribute from raw bytes (len <= 65535; NULL value with len 0).
 * Errors: RTCSEC_ERR_BUFFER_TOO_SMALL, RTCSEC_ERR_TOO_LARGE (the message
 * would exceed 65535 bytes of attributes), RTCSEC_ERR_INVALID_STATE (after
 * MESSAGE-INTEGRITY or FINGERPRINT), RTCSEC_ERR_INVALID_ARGUMENT. */
RTCSEC_API int rtcsec_stun_add_attr(rtcsec_stun_builder *b, uint16_t type, const void *value,
                                    size_t len);
RTCSEC_API int rtcsec_stun_add_u32(rtcsec_stun_builder *b, uint16_t type, uint32_t v);
RTCSEC_API int rtcsec_stun_add_u64(rtcsec_stun_builder *b, uint16_t type, uint64_t v);
/* USERNAME; more than RTCSEC_STUN_MAX_USERNAME bytes: RTCSEC_ERR_TOO_LARGE. */
RTCSEC_API int rtcsec_stun_add_username(rtcsec_stun_builder *b, const char *username, size_t len);
/* XOR-MAPPED-ADDRESS of an AF_INET or AF_INET6 address (RFC 8489 §14.2). */
RTCSEC_API int rtcsec_stun_add_xor_address(rtcsec_stun_builder *b, uint16_t type,
                                           const struct sockaddr *addr, socklen_t addr_len);
/* ERROR-CODE (RFC 8489 §14.8): code 300..699, reason may be NULL. */
RTCSEC_API int rtcsec_stun_add_error_code(rtcsec_stun_builder *b, int code, const char *reason);
/* UNKNOWN-ATTRIBUTES (RFC 8489 §14.9). */
RTCSEC_API int rtcsec_stun_add_unknown_attributes(rtcsec_stun_builder *b, const uint16_t *types,
                                                  size_t n);
/* MESSAGE-INTEGRITY over what is in the buffer now (RFC 8489 §14.5). */
RTCSEC_API int rtcsec_stun_add_integrity(rtcsec_stun_builder *b, const uint8_t *key,
                                         size_t key_len);
/* The same with a key made by rtcsec_stun_key_new(). */
RTCSEC_API int rtcsec_stun_add_integrity_key(rtcsec_stun_builder *b, rtcsec_stun_key *k);
/* FINGERPRINT over what is in the buffer now (RFC 8489 §14.7). */
RTCSEC_API int rtcsec_stun_add_fingerprint(rtcsec_stun_builder *b);
/* The first error of the sequence, or 0 with *out_len the message length. */
RTCSEC_API int rtcsec_stun_builder_finish(const rtcsec_stun_builder *b, size_t *out_len);

#ifdef __cplusplus
}
#endif
#endif
