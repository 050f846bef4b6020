/* Internal: the first ClientHello of a DTLS association, reassembled from
 * datagrams and parsed strictly, before any engine sees it. The server
 * uses it to choose between OpenSSL's DTLS 1.2 and rtcsec's DTLS 1.3
 * (both browsers send a ClientHello of about 1.4 kB over two datagrams,
 * with supported_versions in either one), and the 1.3 engine answers the
 * parsed result. Independent of both engines. Not installed. */
#ifndef RTCSEC_DTLS_CLIENT_HELLO_H
#define RTCSEC_DTLS_CLIENT_HELLO_H

#include <stddef.h>
#include <stdint.h>

#include "dtls_bio.h"

#include "tls_codes.h"

/* Bounds. A ClientHello larger than this is refused; browsers send under
 * 2 kB (a post-quantum share is 1216 bytes). */
#define RTCSEC_CH_MAX_MSG (16 * 1024)
#define RTCSEC_CH_MAX_DATAGRAMS 8
#define RTCSEC_CH_MAX_BYTES (16 * 1024)
#define RTCSEC_CH_MAX_EXTENSIONS 64
#define RTCSEC_CH_MAX_KEY_SHARES 16

/* A list of 16-bit values on the wire: n entries at p (big-endian). */
typedef struct rtcsec_u16_list {
  const uint8_t *p;
  size_t n;
} rtcsec_u16_list;

uint16_t rtcsec_u16_list_at(rtcsec_u16_list l, size_t i);
int rtcsec_u16_list_has(rtcsec_u16_list l, uint16_t v);

typedef struct rtcsec_ch_extension {
  uint16_t type;
  const uint8_t *data;
  size_t len;
} rtcsec_ch_extension;

typedef struct rtcsec_ch_key_share {
  uint16_t group;
  const uint8_t *key;
  size_t len;
} rtcsec_ch_key_share;

/* A parsed ClientHello. Every pointer points into the message given to
 * rtcsec_client_hello_parse(), which must outlive this struct. */
typedef struct rtcsec_client_hello {
  const uint8_t *body; /* the whole message body, as hashed in the transcript */
  size_t body_len;

  uint16_t legacy_version;
  const uint8_t *random; /* 32 bytes */
  const uint8_t *session_id;
  size_t session_id_len;
  const uint8_t *legacy_cookie; /* DTLS field; must be empty for 1.3 */
  size_t legacy_cookie_len;
  rtcsec_u16_list cipher_suites;
  const uint8_t *compression;
  size_t compression_len;

  rtcsec_ch_extension extensions[RTCSEC_CH_MAX_EXTENSIONS]; /* in wire order */
  size_t n_extensions;

  /* The extensions rtcsec uses, each checked against its own syntax. */
  int has_supported_versions;
  rtcsec_u16_list versions;
  int has_supported_groups;
  rtcsec_u16_list groups;
  int has_key_share;
  rtcsec_ch_key_share key_shares[RTCSEC_CH_MAX_KEY_SHARES];
  size_t n_key_shares;
  int has_signature_algorithms;
  rtcsec_u16_list sig_algs;
  int has_signature_algorithms_cert;
  rtcsec_u16_list sig_algs_cert;
  int has_use_srtp; /* RFC 5764 §4.1.1 UseSRTPData */
  rtcsec_u16_list srtp_profiles;
  const uint8_t *srtp_mki;
  size_t srtp_mki_len;
  int has_cookie; /* RFC 8446 §4.2.2 */
  const uint8_t *cookie;
  size_t cookie_len;
  /* Present only (rtcsec negotiates none of them). */
  int has_pre_shared_key, has_early_data, has_psk_modes, has_connection_id;
} rtcsec_client_hello;

/* Parses a ClientHello body (the handshake message without its header).
 * Strict: every length is checked, nothing may follow the extensions,
 * duplicate extensions and a pre_shared_key that is not last are refused
 * (RFC 8446 §4.2, §4.2.11), and each extension above must match its own
 * syntax. Unknown extensions are kept in `extensions` and otherwise
 * ignored. Returns 0, or RTCSEC_ERR_HANDSHAKE with *alert set to the alert
 * to send (decode_error for bad syntax, illegal_parameter for a duplicate
 * or misplaced extension); RTCSEC_ERR_INVALID_ARGUMENT for NULL. */
int rtcsec_client_hello_parse(rtcsec_client_hello *ch, const uint8_t *body, size_t len, int *alert);

/* 1 if supported_versions lists `version` (e.g. RTCSEC_DTLS13_VERSION). */
int rtcsec_client_hello_offers(const rtcsec_client_hello *ch, uint16_t version);

/* The data of extension `type`, or NULL if absent. */
const rtcsec_ch_extension *rtcsec_client_hello_ext(const rtcsec_client_hello *ch, uint16_t type);

/* Reassembles the first ClientHello (epoch 0, message_seq 0) from the
 * client's first datagrams: fragments in any order, duplicated, spread over
 * several datagrams, mixed with other records. The datagrams that carried
 * new ClientHello bytes are kept, in order and unchanged, so that the
 * DTLS 1.2 path can be given exactly what arrived. Bounded: at most
 * RTCSEC_CH_MAX_DATAGRAMS datagrams and RTCSEC_CH_MAX_BYTES bytes are kept.
 *
 * Nothing here is authenticated, so nothing is trusted: a fragment that
 * disagrees with what was collected (another total length, other bytes in
 * an overlap) or that would exceed the bounds starts the collection over
 * from that fragment (counted in `resets`): the last writer wins, and a
 * genuine retransmission always completes. */
typedef struct rtcsec_ch_collector {
  uint8_t *msg;    /* msg_len bytes once the first fragment is seen */
  uint8_t *filled; /* one bit per byte of msg */
  size_t msg_len;
  size_t received; /* distinct bytes of msg filled */
  int complete;
  rtcsec_dgram_queue datagrams;
  uint64_t ignored; /* datagrams that brought nothing new */
  uint64_t resets;
} rtcsec_ch_collector;

void rtcsec_ch_collector_init(rtcsec_ch_collector *c);
/* Frees what it holds; the collector may be used again after init. */
void rtcsec_ch_collector_clear(rtcsec_ch_collector *c);

/* Offers one datagram. Returns 1 if the ClientHello is complete (then the
 * collector takes nothing more), 0 if more is needed,
 * RTCSEC_ERR_NO_MEMORY, or RTCSEC_ERR_INVALID_ARGUMENT. */
int rtcsec_ch_collector_add(rtcsec_ch_collector *c, const uint8_t *data, size_t len);

/* The reassembled message body once complete, else NULL. */
const uint8_t *rtcsec_ch_collector_message(const rtcsec_ch_collector *c, size_t *len);

#endif
