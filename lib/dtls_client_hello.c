/* The first ClientHello: reassembly and a strict parser. See
 * client_hello.h. */
#include "dtls_client_hello.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "rtcsec/error.h"
#include "wire.h"

uint16_t rtcsec_u16_list_at(rtcsec_u16_list l, size_t i) {
  return i < l.n ? (uint16_t)get_uint(l.p + 2 * i, 2) : 0;
}

int rtcsec_u16_list_has(rtcsec_u16_list l, uint16_t v) {
  for (size_t i = 0; i < l.n; i++) {
    if (rtcsec_u16_list_at(l, i) == v)
      return 1;
  }
  return 0;
}

/* A vector of 16-bit values with an n-byte length prefix, at least `min`
 * entries. */
static int rd_u16_list(rtcsec_rd *r, size_t prefix, size_t min, rtcsec_u16_list *out) {
  rtcsec_rd v;
  if (!rd_vec(r, prefix, &v))
    return 0;
  size_t len = rd_left(&v);
  if (len % 2 != 0 || len / 2 < min)
    return rd_fail(r);
  out->p = v.p;
  out->n = len / 2;
  return 1;
}

static int fail_with(int *alert, int a) {
  *alert = a;
  return RTCSEC_ERR_HANDSHAKE;
}

/* RFC 8446 §4.2.1: ProtocolVersion versions<2..254>. */
static int parse_supported_versions(rtcsec_client_hello *ch, rtcsec_rd *e) {
  if (!rd_u16_list(e, 1, 1, &ch->versions) || !rd_done(e))
    return 0;
  ch->has_supported_versions = 1;
  return 1;
}

/* RFC 8446 §4.2.8: KeyShareEntry client_shares<0..2^16-1>, each a group
 * and opaque key_exchange<1..2^16-1>. */
static int parse_key_share(rtcsec_client_hello *ch, rtcsec_rd *e, int *alert) {
  rtcsec_rd list;
  if (!rd_vec(e, 2, &list) || !rd_done(e))
    return 0;
  while (rd_left(&list) > 0) {
    uint16_t group;
    rtcsec_rd key;
    if (!rd_u16(&list, &group) || !rd_vec(&list, 2, &key) || rd_left(&key) == 0)
      return 0;
    if (ch->n_key_shares == RTCSEC_CH_MAX_KEY_SHARES) {
      *alert = RTCSEC_ALERT_ILLEGAL_PARAMETER;
      return 0;
    }
    ch->key_shares[ch->n_key_shares++] = (rtcsec_ch_key_share){group, key.p, rd_left(&key)};
  }
  ch->has_key_share = 1;
  return list.ok;
}

/* RFC 5764 §4.1.1: SRTPProtectionProfile SRTPProtectionProfiles<2..2^16-1>
 * (2-byte profiles), then opaque srtp_mki<0..255>. */
static int parse_use_srtp(rtcsec_client_hello *ch, rtcsec_rd *e) {
  rtcsec_rd mki;
  if (!rd_u16_list(e, 2, 1, &ch->srtp_profiles) || !rd_vec(e, 1, &mki) || !rd_done(e))
    return 0;
  ch->srtp_mki = mki.p;
  ch->srtp_mki_len = rd_left(&mki);
  ch->has_use_srtp = 1;
  return 1;
}

/* RFC 8446 §4.2.11: PskIdentity identities<7..2^16-1>, PskBinderEntry
 * binders<33..2^16-1>. rtcsec accepts no PSK; the syntax is still checked
 * so that a malformed one is refused like any other malformed extension. */
static int parse_pre_shared_key(rtcsec_client_hello *ch, rtcsec_rd *e) {
  rtcsec_rd ids, binders;
  if (!rd_vec(e, 2, &ids) || rd_left(&ids) < 7 || !rd_vec(e, 2, &binders) ||
      rd_left(&binders) < 33 || !rd_done(e))
    return 0;
  ch->has_pre_shared_key = 1;
  return 1;
}

/* One extension rtcsec looks into; unknown ones pass untouched. Returns 1,
 * or 0 with *alert (decode_error unless set otherwise). */
static int parse_extension(rtcsec_client_hello *ch, uint16_t type, rtcsec_rd *e, int *alert) {
  rtcsec_rd v;
  switch (type) {
  case RTCSEC_EXT_SUPPORTED_VERSIONS:
    return parse_supported_versions(ch, e);
  case RTCSEC_EXT_SUPPORTED_GROUPS: /* NamedGroup named_group_list<2..2^16-1> */
    ch->has_supported_groups = rd_u16_list(e, 2, 1, &ch->groups) && rd_done(e);
    return ch->has_supported_groups;
  case RTCSEC_EXT_KEY_SHARE:
    return parse_key_share(ch, e, alert);
  case RTCSEC_EXT_SIGNATURE_ALGORITHMS: /* SignatureScheme ...<2..2^16-2> */
    ch->has_signature_algorithms = rd_u16_list(e, 2, 1, &ch->sig_algs) && rd_done(e);
    return ch->has_signature_algorithms;
  case RTCSEC_EXT_SIGNATURE_ALGORITHMS_CERT:
    ch->has_signature_algorithms_cert = rd_u16_list(e, 2, 1, &ch->sig_algs_cert) && rd_done(e);
    return ch->has_signature_algorithms_cert;
  case RTCSEC_EXT_USE_SRTP:
    return parse_use_srtp(ch, e);
  case RTCSEC_EXT_COOKIE: /* opaque cookie<1..2^16-1> */
    if (!rd_vec(e, 2, &v) || rd_left(&v) == 0 || !rd_done(e))
      return 0;
    ch->cookie = v.p;
    ch->cookie_len = rd_left(&v);
    ch->has_cookie = 1;
    return 1;
  case RTCSEC_EXT_PSK_KEY_EXCHANGE_MODES: /* PskKeyExchangeMode ke_modes<1..255> */
    ch->has_psk_modes = rd_vec(e, 1, &v) && rd_left(&v) > 0 && rd_done(e);
    return ch->has_psk_modes;
  case RTCSEC_EXT_EARLY_DATA: /* empty in a ClientHello (RFC 8446 §4.2.10) */
    ch->has_early_data = rd_done(e);
    return ch->has_early_data;
  case RTCSEC_EXT_PRE_SHARED_KEY:
    return parse_pre_shared_key(ch, e);
  case RTCSEC_EXT_CONNECTION_ID: /* RFC 9146 §3: opaque cid<0..2^8-1> */
    ch->has_connection_id = rd_vec(e, 1, &v) && rd_done(e);
    return ch->has_connection_id;
  default:
    return 1;
  }
}

static int parse_extensions(rtcsec_client_hello *ch, rtcsec_rd *r, int *alert) {
  rtcsec_rd exts;
  if (!rd_vec(r, 2, &exts) || !rd_done(r))
    return fail_with(alert, RTCSEC_ALERT_DECODE_ERROR);
  while (rd_left(&exts) > 0) {
    uint16_t type;
    rtcsec_rd e;
    if (!rd_u16(&exts, &type) || !rd_vec(&exts, 2, &e))
      return fail_with(alert, RTCSEC_ALERT_DECODE_ERROR);
    /* RFC 8446 §4.2: there MUST NOT be more than one extension of the same
     * type in a given extension block. */
    if (rtcsec_client_hello_ext(ch, type) != NULL)
      return fail_with(alert, RTCSEC_ALERT_ILLEGAL_PARAMETER);
    /* RFC 8446 §4.2.11: pre_shared_key MUST be the last extension in the
     * ClientHello; servers MUST check and fail with illegal_parameter. */
    if (ch->has_pre_shared_key)
      return fail_with(alert, RTCSEC_ALERT_ILLEGAL_PARAMETER);
    if (ch->n_extensions == RTCSEC_CH_MAX_EXTENSIONS)
      return fail_with(alert, RTCSEC_ALERT_ILLEGAL_PARAMETER);
    ch->extensions[ch->n_extensions++] = (rtcsec_ch_extension){type, e.p, rd_left(&e)};
    int a = RTCSEC_ALERT_DECODE_ERROR;
    if (!parse_extension(ch, type, &e, &a))
      return fail_with(alert, a);
  }
  return RTCSEC_OK;
}

int rtcsec_client_hello_parse(rtcsec_client_hello *ch, const uint8_t *body, size_t len,
                              int *alert) {
  int dummy;
  if (alert == NULL)
    alert = &dummy;
  *alert = -1;
  if (ch == NULL || (body == NULL && len > 0))
    return RTCSEC_ERR_INVALID_ARGUMENT;
  memset(ch, 0, sizeof(*ch));
  ch->body = body;
  ch->body_len = len;
  rtcsec_rd r, sid, cookie, comp;
  rd_init(&r, body, len);
  /* RFC 9147 §5.3: legacy_version, random, legacy_session_id<0..32>,
   * legacy_cookie<0..2^8-1>, cipher_suites<2..2^16-2>,
   * legacy_compression_methods<1..2^8-1>, extensions. */
  rd_u16(&r, &ch->legacy_version);
  rd_bytes(&r, 32, &ch->random);
  rd_vec(&r, 1, &sid);
  rd_vec(&r, 1, &cookie);
  rd_u16_list(&r, 2, 1, &ch->cipher_suites);
  rd_vec(&r, 1, &comp);
  if (!r.ok || rd_left(&sid) > 32 || rd_left(&comp) == 0)
    return fail_with(alert, RTCSEC_ALERT_DECODE_ERROR);
  ch->session_id = sid.p;
  ch->session_id_len = rd_left(&sid);
  ch->legacy_cookie = cookie.p;
  ch->legacy_cookie_len = rd_left(&cookie);
  ch->compression = comp.p;
  ch->compression_len = rd_left(&comp);
  /* A DTLS 1.0/1.2 ClientHello may end here (no extensions at all). */
  if (rd_left(&r) == 0)
    return RTCSEC_OK;
  int rc = parse_extensions(ch, &r, alert);
  if (rc != RTCSEC_OK) {
    /* Nothing half-parsed is left for a caller that ignores the error. */
    memset(ch, 0, sizeof(*ch));
    return rc;
  }
  return RTCSEC_OK;
}

int rtcsec_client_hello_offers(const rtcsec_client_hello *ch, uint16_t version) {
  return ch != NULL && ch->has_supported_versions && rtcsec_u16_list_has(ch->versions, version);
}

const rtcsec_ch_extension *rtcsec_client_hello_ext(const rtcsec_client_hello *ch, uint16_t type) {
  for (size_t i = 0; ch != NULL && i < ch->n_extensions; i++) {
    if (ch->extensions[i].type == type)
      return &ch->extensions[i];
  }
  return NULL;
}

/* ---- reassembly -------------------------------------------------------------- */

void rtcsec_ch_collector_init(rtcsec_ch_collector *c) {
  if (c == NULL)
    return;
  memset(c, 0, sizeof(*c));
  rtcsec_dgram_queue_init(&c->datagrams, RTCSEC_CH_MAX_DATAGRAMS);
}

/* Forgets the message (not the counters). */
static void collector_reset(rtcsec_ch_collector *c) {
  free(c->msg);
  free(c->filled);
  c->msg = NULL;
  c->filled = NULL;
  c->msg_len = 0;
  c->received = 0;
  c->complete = 0;
  rtcsec_dgram_queue_clear(&c->datagrams);
}

void rtcsec_ch_collector_clear(rtcsec_ch_collector *c) {
  if (c == NULL)
    return;
  collector_reset(c);
  memset(c, 0, sizeof(*c));
}

static int collector_start(rtcsec_ch_collector *c, size_t msg_len) {
  collector_reset(c);
  c->msg = malloc(msg_len);
  c->filled = calloc((msg_len + 7) / 8, 1);
  if (c->msg == NULL || c->filled == NULL) {
    collector_reset(c);
    return RTCSEC_ERR_NO_MEMORY;
  }
  c->msg_len = msg_len;
  return RTCSEC_OK;
}

/* 1 if the fragment agrees with every byte already collected. */
static int fragment_agrees(const rtcsec_ch_collector *c, size_t off, const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (bit_get(c->filled, off + i) && c->msg[off + i] != p[i])
      return 0;
  }
  return 1;
}

/* One handshake fragment of a ClientHello (msg_seq 0); *news is set when
 * it filled a byte not filled before. */
static int add_fragment(rtcsec_ch_collector *c, size_t msg_len, size_t off, const uint8_t *p,
                        size_t n, int *news) {
  if (c->msg == NULL || msg_len != c->msg_len || !fragment_agrees(c, off, p, n)) {
    if (c->msg != NULL)
      c->resets++;
    int rc = collector_start(c, msg_len);
    if (rc != RTCSEC_OK)
      return rc;
  }
  for (size_t i = 0; i < n; i++) {
    if (!bit_get(c->filled, off + i)) {
      bit_set(c->filled, off + i);
      c->msg[off + i] = p[i];
      c->received++;
      *news = 1;
    }
  }
  return RTCSEC_OK;
}

/* The handshake fragments of one epoch-0 handshake record. Malformed
 * fragments end the record (the rest of it cannot be framed). */
static int add_record(rtcsec_ch_collector *c, const uint8_t *p, size_t len, int *news) {
  rtcsec_rd r;
  rd_init(&r, p, len);
  while (rd_left(&r) >= 12) {
    uint8_t type;
    uint32_t msg_len, frag_off, frag_len;
    uint16_t seq;
    const uint8_t *frag;
    /* RFC 9147 §5.2: msg_type, length, message_seq, fragment_offset,
     * fragment_length, then the fragment. */
    rd_u8(&r, &type);
    rd_u24(&r, &msg_len);
    rd_u16(&r, &seq);
    rd_u24(&r, &frag_off);
    rd_u24(&r, &frag_len);
    if (!rd_bytes(&r, frag_len, &frag))
      return RTCSEC_OK;
    if (type != RTCSEC_HS_CLIENT_HELLO || seq != 0 || msg_len == 0 || msg_len > RTCSEC_CH_MAX_MSG ||
        frag_off > msg_len || frag_len > msg_len - frag_off || frag_len == 0)
      continue;
    int rc = add_fragment(c, msg_len, frag_off, frag, frag_len, news);
    if (rc != RTCSEC_OK)
      return rc;
  }
  return RTCSEC_OK;
}

/* Takes every ClientHello fragment of one datagram; *news is set when
 * one filled a byte not filled before. */
static int add_datagram(rtcsec_ch_collector *c, const uint8_t *data, size_t len, int *news) {
  rtcsec_rd r;
  rd_init(&r, data, len);
  /* RFC 9147 §4: DTLSPlaintext records: type, legacy_record_version,
   * epoch, sequence_number (48 bits), length, fragment. */
  while (rd_left(&r) >= 13) {
    uint8_t type = 0;
    uint16_t version = 0, epoch = 0;
    uint64_t seq = 0;
    rtcsec_rd frag;
    rd_u8(&r, &type);
    rd_u16(&r, &version);
    rd_u16(&r, &epoch);
    rd_uint(&r, 6, &seq);
    if (!rd_vec(&r, 2, &frag))
      break; /* a length past the datagram: the rest cannot be framed */
    if (type != RTCSEC_CT_HANDSHAKE || epoch != 0 || (version >> 8) != 0xfe)
      continue;
    int rc = add_record(c, frag.p, rd_left(&frag), news);
    if (rc != RTCSEC_OK)
      return rc;
  }
  return RTCSEC_OK;
}

int rtcsec_ch_collector_add(rtcsec_ch_collector *c, const uint8_t *data, size_t len) {
  if (c == NULL || (data == NULL && len > 0))
    return RTCSEC_ERR_INVALID_ARGUMENT;
  if (c->complete)
    return 1;
  int news = 0;
  int rc = len <= RTCSEC_CH_MAX_BYTES ? add_datagram(c, data, len, &news) : RTCSEC_OK;
  if (rc != RTCSEC_OK)
    return rc;
  if (!news) {
    c->ignored++;
    return 0;
  }
  /* Past the bounds the collection starts over from this datagram, which
   * then is the first one kept. */
  if (rtcsec_dgram_queue_count(&c->datagrams) >= RTCSEC_CH_MAX_DATAGRAMS ||
      c->datagrams.bytes + len > RTCSEC_CH_MAX_BYTES) {
    c->resets++;
    collector_reset(c);
    rc = add_datagram(c, data, len, &news);
    if (rc != RTCSEC_OK)
      return rc;
  }
  /* A reset while reading this datagram dropped the datagrams kept so far;
   * this one is then the first of the new collection. */
  rc = rtcsec_dgram_queue_push(&c->datagrams, data, len);
  if (rc != RTCSEC_OK)
    return rc;
  if (c->received == c->msg_len)
    c->complete = 1;
  return c->complete;
}

const uint8_t *rtcsec_ch_collector_message(const rtcsec_ch_collector *c, size_t *len) {
  if (c == NULL || !c->complete) {
    if (len != NULL)
      *len = 0;
    return NULL;
  }
  if (len != NULL)
    *len = c->msg_len;
  return c->msg;
}
