/* The SDP attributes rtcsec owns: ICE credentials, options and candidates
 * (RFC 8839), fingerprint (RFC 8122) and setup (RFC 4145, RFC 5763, RFC 8842).
 *
 * Parsers read through a bounds-checked cursor over (s, len) and fill a
 * local copy of the result, which reaches the caller's struct only once the
 * whole line has been accepted. Formatters write into a local line of at
 * most RTCSEC_SDP_MAX_LINE - 4 characters and copy it out at the end. */
#include <arpa/inet.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <string.h>

#include "rtcsec/error.h"
#include "rtcsec/rtcsec.h"
#include "rtcsec/sdp.h"

/* Room for "a=" and CRLF around a formatted attribute. */
#define FORMAT_MAX (RTCSEC_SDP_MAX_LINE - 4)
/* Longest IPv4 / IPv6 text ("ffff:...:255.255.255.255"), without NUL. */
#define IPV4_TEXT_MAX 15
#define IPV6_TEXT_MAX 45
#define PRIORITY_MAX 0x7FFFFFFFu

/* ---- character classes ---------------------------------------------------- */

static int is_digit(int ch) { return ch >= '0' && ch <= '9'; }

static int is_alpha(int ch) { return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z'); }

/* RFC 8839 §5.1: ice-char = ALPHA / DIGIT / "+" / "/". */
static int is_ice_char(int ch) { return is_alpha(ch) || is_digit(ch) || ch == '+' || ch == '/'; }

/* RFC 8866 §9 token-char. */
static int is_token_char(int ch) {
  return ch == 0x21 || (ch >= 0x23 && ch <= 0x27) || ch == 0x2A || ch == 0x2B || ch == 0x2D ||
         ch == 0x2E || (ch >= 0x30 && ch <= 0x39) || (ch >= 0x41 && ch <= 0x5A) ||
         (ch >= 0x5E && ch <= 0x7E);
}

/* RFC 5234 VCHAR: visible ASCII, no space. */
static int is_vchar(int ch) { return ch >= 0x21 && ch <= 0x7E; }

static int ascii_lower(int ch) { return (ch >= 'A' && ch <= 'Z') ? ch + ('a' - 'A') : ch; }

static int all_of(const char *s, size_t n, int (*pred)(int)) {
  for (size_t i = 0; i < n; i++) {
    if (!pred((unsigned char)s[i]))
      return 0;
  }
  return 1;
}

/* s[0..n) equals the NUL-terminated lit, ignoring ASCII case. */
static int span_equals_ci(const char *s, size_t n, const char *lit) {
  if (strlen(lit) != n)
    return 0;
  for (size_t i = 0; i < n; i++) {
    if (ascii_lower((unsigned char)s[i]) != ascii_lower((unsigned char)lit[i]))
      return 0;
  }
  return 1;
}

/* ---- cursor ---------------------------------------------------------------- */

/* Reads never go past len; the text need not be NUL-terminated. */
typedef struct cursor {
  const char *p;
  size_t len;
  size_t pos;
} cursor;

/* A piece of the input: p[0..n). */
typedef struct span {
  const char *p;
  size_t n;
} span;

static int cur_at_end(const cursor *c) { return c->pos >= c->len; }

/* Next byte as 0..255, or -1 at the end. */
static int cur_peek(const cursor *c) {
  return cur_at_end(c) ? -1 : (int)(unsigned char)c->p[c->pos];
}

static size_t cur_left(const cursor *c) { return cur_at_end(c) ? 0 : c->len - c->pos; }

/* Consumes `lit` (ASCII, case-insensitive) if the input continues with it. */
static int cur_accept_ci(cursor *c, const char *lit) {
  size_t n = strlen(lit);
  if (cur_left(c) < n || !span_equals_ci(c->p + c->pos, n, lit))
    return 0;
  c->pos += n;
  return 1;
}

/* Exactly one SP, as the grammars separate fields. */
static int cur_sp(cursor *c) {
  if (cur_peek(c) != ' ')
    return 0;
  c->pos++;
  return 1;
}

/* The run of bytes up to the next SP or the end (possibly empty). */
static span cur_word(cursor *c) {
  span w = {c->p + c->pos, 0};
  while (!cur_at_end(c) && cur_peek(c) != ' ') {
    c->pos++;
    w.n++;
  }
  return w;
}

/* A run of 1..max_digits decimal digits that ends the word. Leading zeros
 * are allowed (the grammars say 1*DIGIT); the digit bound keeps the value
 * in a uint64_t. */
static int cur_number(cursor *c, size_t max_digits, uint64_t *out) {
  span w = cur_word(c);
  if (w.n == 0 || w.n > max_digits || !all_of(w.p, w.n, is_digit))
    return 0;
  uint64_t v = 0;
  for (size_t i = 0; i < w.n; i++)
    v = v * 10 + (uint64_t)(w.p[i] - '0');
  *out = v;
  return 1;
}

/* ---- line rules shared by every parser ----------------------------------- */

static int is_trailing(int ch) { return ch == '\r' || ch == '\n' || ch == ' ' || ch == '\t'; }

/* Checks the rules of sdp.h ("Rules shared by every parser") and sets *c
 * over the attribute: after an optional "a=", before the trailing line end
 * and blanks. */
static int line_open(cursor *c, const char *s, size_t len) {
  if (s == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  if (len > RTCSEC_SDP_MAX_LINE)
    return RTCSEC_ERR_TOO_LARGE;
  while (len > 0 && is_trailing((unsigned char)s[len - 1]))
    len--;
  for (size_t i = 0; i < len; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (ch < 0x20 || ch == 0x7F)
      return RTCSEC_ERR_PARSE; /* NUL, a second line, a tab inside */
  }
  c->p = s;
  c->len = len;
  c->pos = 0;
  if (len >= 2 && s[0] == 'a' && s[1] == '=')
    c->pos = 2;
  return RTCSEC_OK;
}

/* line_open() and the attribute name with its ':'. */
static int attr_open(cursor *c, const char *s, size_t len, const char *name_colon) {
  int rc = line_open(c, s, len);
  if (rc != RTCSEC_OK)
    return rc;
  return cur_accept_ci(c, name_colon) ? RTCSEC_OK : RTCSEC_ERR_PARSE;
}

/* ---- output rules shared by every formatter -------------------------------- */

typedef struct writer {
  char buf[FORMAT_MAX];
  size_t len;
  int overflow;
} writer;

static void w_mem(writer *w, const char *s, size_t n) {
  if (w->overflow || n > FORMAT_MAX - w->len) {
    w->overflow = 1;
    return;
  }
  memcpy(w->buf + w->len, s, n);
  w->len += n;
}

static void w_str(writer *w, const char *s) { w_mem(w, s, strlen(s)); }

static void w_u32(writer *w, uint32_t v) {
  char digits[10];
  size_t n = 0;
  do {
    digits[sizeof(digits) - 1 - n] = (char)('0' + v % 10);
    v /= 10;
    n++;
  } while (v != 0);
  w_mem(w, digits + sizeof(digits) - n, n);
}

/* Copies the finished attribute out with a NUL. */
static int w_finish(const writer *w, char *buf, size_t cap, size_t *len_out) {
  if (w->overflow)
    return RTCSEC_ERR_TOO_LARGE;
  if (len_out != NULL)
    *len_out = w->len;
  if (cap < w->len + 1)
    return RTCSEC_ERR_BUFFER_TOO_SMALL;
  memcpy(buf, w->buf, w->len);
  buf[w->len] = '\0';
  return RTCSEC_OK;
}

/* Length of a NUL-terminated string in a fixed array, or cap if there is
 * no NUL in it (which the formatters refuse). */
static size_t bounded_strlen(const char *s, size_t cap) {
  const char *nul = memchr(s, '\0', cap);
  return nul != NULL ? (size_t)(nul - s) : cap;
}

/* ---- identify -------------------------------------------------------------- */

struct attr_name {
  const char *name;
  rtcsec_sdp_attr attr;
  int is_flag; /* takes no value */
};

static const struct attr_name attr_names[] = {
    {"ice-ufrag", RTCSEC_SDP_ATTR_ICE_UFRAG, 0},
    {"ice-pwd", RTCSEC_SDP_ATTR_ICE_PWD, 0},
    {"ice-options", RTCSEC_SDP_ATTR_ICE_OPTIONS, 0},
    {"ice-lite", RTCSEC_SDP_ATTR_ICE_LITE, 1},
    {"end-of-candidates", RTCSEC_SDP_ATTR_END_OF_CANDIDATES, 1},
    {"candidate", RTCSEC_SDP_ATTR_CANDIDATE, 0},
    {"fingerprint", RTCSEC_SDP_ATTR_FINGERPRINT, 0},
    {"setup", RTCSEC_SDP_ATTR_SETUP, 0},
};

int rtcsec_sdp_attr_identify(rtcsec_sdp_attr *out, const char *s, size_t len) {
  if (out == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  cursor c;
  int rc = line_open(&c, s, len);
  if (rc != RTCSEC_OK)
    return rc;

  /* RFC 8866 §5.13: attribute = (attribute-name ":" attribute-value) /
   * attribute-name, where the name is a token. */
  span name = {c.p + c.pos, 0};
  while (is_token_char(cur_peek(&c))) {
    c.pos++;
    name.n++;
  }
  if (name.n == 0)
    return RTCSEC_ERR_PARSE;
  int has_value = 0;
  if (!cur_at_end(&c)) {
    if (cur_peek(&c) != ':')
      return RTCSEC_ERR_PARSE;
    has_value = 1;
  }

  rtcsec_sdp_attr attr = RTCSEC_SDP_ATTR_OTHER;
  for (size_t i = 0; i < sizeof(attr_names) / sizeof(attr_names[0]); i++) {
    if (span_equals_ci(name.p, name.n, attr_names[i].name)) {
      if (attr_names[i].is_flag && has_value)
        return RTCSEC_ERR_PARSE; /* RFC 8839 §5.3, RFC 8840: flags carry no value */
      attr = attr_names[i].attr;
      break;
    }
  }
  *out = attr;
  return RTCSEC_OK;
}

/* ---- attributes other modules own ----------------------------------------- */

int rtcsec_sdp_attr_value(const char *s, size_t len, const char *name, const char **value,
                          size_t *value_len) {
  if (name == NULL || value == NULL || value_len == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  cursor c;
  int rc = line_open(&c, s, len);
  if (rc != RTCSEC_OK)
    return rc;
  if (!cur_accept_ci(&c, name) || !cur_accept_ci(&c, ":"))
    return RTCSEC_ERR_PARSE;
  *value = c.p + c.pos;
  *value_len = cur_left(&c);
  return RTCSEC_OK;
}

int rtcsec_sdp_line_body(const char *s, size_t len, const char **body, size_t *body_len) {
  if (body == NULL || body_len == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  cursor c;
  int rc = line_open(&c, s, len);
  if (rc != RTCSEC_OK)
    return rc;
  if (c.len == 0)
    return RTCSEC_ERR_PARSE;
  /* line_open() skipped an "a=": a line that is not an attribute keeps it. */
  *body = c.p;
  *body_len = c.len;
  return RTCSEC_OK;
}

/* ---- ICE credentials ------------------------------------------------------ */

int rtcsec_sdp_ice_chars_valid(const char *s, size_t n, size_t min, size_t max) {
  return s != NULL && n >= min && n <= max && all_of(s, n, is_ice_char);
}

/* RFC 8839 §5.4: ufrag = 4*256ice-char, password = 22*256ice-char. */
static int ice_value_parse(char *dst, size_t dst_cap, const char *s, size_t len,
                           const char *name_colon, size_t min, size_t max) {
  cursor c;
  int rc = attr_open(&c, s, len, name_colon);
  if (rc != RTCSEC_OK)
    return rc;
  span v = {c.p + c.pos, cur_left(&c)};
  if (!rtcsec_sdp_ice_chars_valid(v.p, v.n, min, max) || v.n >= dst_cap)
    return RTCSEC_ERR_PARSE; /* empty, too short or long, not ice-chars */
  memcpy(dst, v.p, v.n);
  dst[v.n] = '\0';
  return RTCSEC_OK;
}

int rtcsec_sdp_ice_ufrag_parse(rtcsec_sdp_ice_credentials *creds, const char *s, size_t len) {
  if (creds == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  return ice_value_parse(creds->ufrag, sizeof(creds->ufrag), s, len,
                         "ice-ufrag:", RTCSEC_ICE_UFRAG_MIN, RTCSEC_ICE_UFRAG_MAX);
}

int rtcsec_sdp_ice_pwd_parse(rtcsec_sdp_ice_credentials *creds, const char *s, size_t len) {
  if (creds == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  return ice_value_parse(creds->pwd, sizeof(creds->pwd), s, len, "ice-pwd:", RTCSEC_ICE_PWD_MIN,
                         RTCSEC_ICE_PWD_MAX);
}

static int ice_value_format(const char *value, size_t value_cap, const char *name_colon, size_t min,
                            size_t max, char *buf, size_t cap, size_t *len_out) {
  size_t n = bounded_strlen(value, value_cap);
  if (!rtcsec_sdp_ice_chars_valid(value, n, min, max))
    return RTCSEC_ERR_INVALID_ARGUMENT;
  writer w = {.len = 0};
  w_str(&w, name_colon);
  w_mem(&w, value, n);
  return w_finish(&w, buf, cap, len_out);
}

int rtcsec_sdp_ice_ufrag_format(const rtcsec_sdp_ice_credentials *creds, char *buf, size_t cap,
                                size_t *len_out) {
  if (creds == NULL || (buf == NULL && cap != 0))
    return RTCSEC_ERR_INVALID_ARGUMENT;
  return ice_value_format(creds->ufrag, sizeof(creds->ufrag), "ice-ufrag:", RTCSEC_ICE_UFRAG_MIN,
                          RTCSEC_ICE_UFRAG_MAX, buf, cap, len_out);
}

int rtcsec_sdp_ice_pwd_format(const rtcsec_sdp_ice_credentials *creds, char *buf, size_t cap,
                              size_t *len_out) {
  if (creds == NULL || (buf == NULL && cap != 0))
    return RTCSEC_ERR_INVALID_ARGUMENT;
  return ice_value_format(creds->pwd, sizeof(creds->pwd), "ice-pwd:", RTCSEC_ICE_PWD_MIN,
                          RTCSEC_ICE_PWD_MAX, buf, cap, len_out);
}

/* The 64 ice-chars. 256 is a multiple of 64, so the low 6 bits of a
 * uniform random byte pick a uniform ice-char: no modulo bias. */
static const char ice_alphabet[64] = {
    'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O', 'P',
    'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'a', 'b', 'c', 'd', 'e', 'f',
    'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', 'p', 'q', 'r', 's', 't', 'u', 'v',
    'w', 'x', 'y', 'z', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '+', '/'};

int rtcsec_sdp_ice_credentials_generate(rtcsec_sdp_ice_credentials *out, size_t ufrag_len,
                                        size_t pwd_len) {
  if (out == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  if (ufrag_len == 0)
    ufrag_len = RTCSEC_ICE_UFRAG_DEFAULT_LEN;
  if (pwd_len == 0)
    pwd_len = RTCSEC_ICE_PWD_DEFAULT_LEN;
  /* RFC 8445 §5.3: at least 24 random bits in the ufrag and 128 in the
   * password; at 6 bits a character the RFC 8839 minimum lengths give it. */
  if (ufrag_len < RTCSEC_ICE_UFRAG_MIN || ufrag_len > RTCSEC_ICE_UFRAG_MAX ||
      pwd_len < RTCSEC_ICE_PWD_MIN || pwd_len > RTCSEC_ICE_PWD_MAX)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  if (rtcsec_init() != RTCSEC_OK)
    return RTCSEC_ERR_CRYPTO;

  unsigned char rnd[RTCSEC_ICE_UFRAG_MAX + RTCSEC_ICE_PWD_MAX];
  if (RAND_bytes(rnd, (int)(ufrag_len + pwd_len)) != 1) {
    OPENSSL_cleanse(rnd, sizeof(rnd));
    return RTCSEC_ERR_CRYPTO;
  }
  rtcsec_sdp_ice_credentials tmp;
  memset(&tmp, 0, sizeof(tmp));
  for (size_t i = 0; i < ufrag_len; i++)
    tmp.ufrag[i] = ice_alphabet[rnd[i] & 0x3F];
  for (size_t i = 0; i < pwd_len; i++)
    tmp.pwd[i] = ice_alphabet[rnd[ufrag_len + i] & 0x3F];
  memcpy(out, &tmp, sizeof(tmp));
  /* The password authenticates ICE checks: leave no copy behind. */
  OPENSSL_cleanse(rnd, sizeof(rnd));
  OPENSSL_cleanse(&tmp, sizeof(tmp));
  return RTCSEC_OK;
}

/* ---- ICE options ---------------------------------------------------------- */

int rtcsec_sdp_ice_options_parse(rtcsec_sdp_ice_options *out, const char *s, size_t len) {
  if (out == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  cursor c;
  int rc = attr_open(&c, s, len, "ice-options:");
  if (rc != RTCSEC_OK)
    return rc;

  /* RFC 8839 §5.6: ice-options = "ice-options:" ice-option-tag
   * *(SP ice-option-tag); ice-option-tag = 1*ice-char. Unknown tags are
   * ignored. */
  rtcsec_sdp_ice_options o;
  memset(&o, 0, sizeof(o));
  for (;;) {
    span tag = cur_word(&c);
    if (tag.n == 0 || !all_of(tag.p, tag.n, is_ice_char))
      return RTCSEC_ERR_PARSE;
    if (span_equals_ci(tag.p, tag.n, "trickle"))
      o.trickle = 1;
    else if (span_equals_ci(tag.p, tag.n, "ice2"))
      o.ice2 = 1;
    else
      o.n_unknown++;
    if (cur_at_end(&c))
      break;
    (void)cur_sp(&c); /* cur_word() stopped at an SP */
  }
  *out = o;
  return RTCSEC_OK;
}

int rtcsec_sdp_ice_options_format(const rtcsec_sdp_ice_options *opts, char *buf, size_t cap,
                                  size_t *len_out) {
  if (opts == NULL || (buf == NULL && cap != 0) || (!opts->trickle && !opts->ice2))
    return RTCSEC_ERR_INVALID_ARGUMENT;
  writer w = {.len = 0};
  w_str(&w, "ice-options:");
  if (opts->trickle)
    w_str(&w, "trickle");
  if (opts->ice2)
    w_str(&w, opts->trickle ? " ice2" : "ice2");
  return w_finish(&w, buf, cap, len_out);
}

/* ---- candidates ----------------------------------------------------------- */

static const char *const candidate_type_names[] = {"host", "srflx", "prflx", "relay"};

const char *rtcsec_candidate_type_name(rtcsec_candidate_type t) {
  switch (t) {
  case RTCSEC_CANDIDATE_HOST:
  case RTCSEC_CANDIDATE_SRFLX:
  case RTCSEC_CANDIDATE_PRFLX:
  case RTCSEC_CANDIDATE_RELAY:
    return candidate_type_names[t];
  default:
    return "unknown";
  }
}

static const char *tcptype_name(rtcsec_candidate_tcptype t) {
  switch (t) {
  case RTCSEC_CANDIDATE_TCPTYPE_ACTIVE:
    return "active";
  case RTCSEC_CANDIDATE_TCPTYPE_PASSIVE:
    return "passive";
  case RTCSEC_CANDIDATE_TCPTYPE_SO:
    return "so";
  default:
    return NULL;
  }
}

/* Extension names with a meaning of their own here: decoded into fields
 * (or, for raddr / rport, part of the fixed grammar), never kept in ext[]. */
static const char *const reserved_ext_names[] = {
    "raddr", "rport", "tcptype", "generation", "ufrag", "network-id", "network-cost",
};

static int is_reserved_ext_name(const char *s, size_t n) {
  for (size_t i = 0; i < sizeof(reserved_ext_names) / sizeof(reserved_ext_names[0]); i++) {
    if (span_equals_ci(s, n, reserved_ext_names[i]))
      return 1;
  }
  return 0;
}

/* A DNS host name: dot-separated labels of 1..63 letters, digits and '-'
 * (RFC 1123 §2.1), not starting or ending with '-'; the last label is not
 * all digits, so that a mistyped IPv4 address ("1.2.3.256") is not taken
 * for a name. */
static int host_name_valid(const char *s, size_t n) {
  size_t label_start = 0;
  int label_numeric = 1;
  for (size_t i = 0; i <= n; i++) {
    int ch = i < n ? (unsigned char)s[i] : '.';
    if (ch == '.') {
      size_t label_len = i - label_start;
      if (label_len == 0 || label_len > 63 || s[label_start] == '-' || s[i - 1] == '-')
        return 0;
      if (i == n && label_numeric)
        return 0;
      label_start = i + 1;
      label_numeric = 1;
      continue;
    }
    if (!is_alpha(ch) && !is_digit(ch) && ch != '-')
      return 0;
    if (!is_digit(ch))
      label_numeric = 0;
  }
  return 1;
}

static int is_ipv4_char(int ch) { return is_digit(ch) || ch == '.'; }

/* RFC 8839 §5.1 connection-address: an IPv4 address, an IPv6 address or a
 * fully qualified domain name. Fills host, type and mdns of *out. */
static int address_parse(const char *s, size_t n, rtcsec_candidate_address *out) {
  char text[IPV6_TEXT_MAX + 1];
  unsigned char bin[16];

  if (n == 0 || n > RTCSEC_CANDIDATE_HOST_MAX)
    return RTCSEC_ERR_PARSE;
  if (memchr(s, ':', n) != NULL) {
    /* Zone indices ("fe80::1%eth0") are local to the sender: refused. */
    if (n > IPV6_TEXT_MAX)
      return RTCSEC_ERR_PARSE;
    memcpy(text, s, n);
    text[n] = '\0';
    if (inet_pton(AF_INET6, text, bin) != 1)
      return RTCSEC_ERR_PARSE;
    out->type = RTCSEC_CANDIDATE_ADDR_IPV6;
    out->mdns = 0;
  } else if (all_of(s, n, is_ipv4_char)) {
    if (n > IPV4_TEXT_MAX)
      return RTCSEC_ERR_PARSE;
    memcpy(text, s, n);
    text[n] = '\0';
    if (inet_pton(AF_INET, text, bin) != 1)
      return RTCSEC_ERR_PARSE;
    out->type = RTCSEC_CANDIDATE_ADDR_IPV4;
    out->mdns = 0;
  } else {
    if (!host_name_valid(s, n))
      return RTCSEC_ERR_PARSE;
    out->type = RTCSEC_CANDIDATE_ADDR_FQDN;
    /* RFC 6762 §3: names under "local." are resolved by multicast DNS. */
    static const char local[] = ".local";
    size_t ln = sizeof(local) - 1;
    out->mdns = n > ln && span_equals_ci(s + n - ln, ln, local);
  }
  memcpy(out->host, s, n);
  out->host[n] = '\0';
  return RTCSEC_OK;
}

/* An address word, one SP and a port (RFC 8866 port = 1*DIGIT, here at
 * most 5 of them and at most 65535). */
static int address_port_parse(cursor *c, rtcsec_candidate_address *out) {
  span a = cur_word(c);
  int rc = address_parse(a.p, a.n, out);
  if (rc != RTCSEC_OK)
    return rc;
  uint64_t port;
  if (!cur_sp(c) || !cur_number(c, 5, &port) || port > 65535)
    return RTCSEC_ERR_PARSE;
  out->port = (uint16_t)port;
  return RTCSEC_OK;
}

static int u32_ext_parse(cursor *c, int *has, uint32_t *value) {
  uint64_t v;
  if (*has || !cur_number(c, 10, &v) || v > UINT32_MAX)
    return RTCSEC_ERR_PARSE; /* repeated, not a number, too large */
  *has = 1;
  *value = (uint32_t)v;
  return RTCSEC_OK;
}

/* One "name SP value" extension after the fixed fields. */
static int extension_parse(cursor *c, span name, rtcsec_candidate *cand) {
  if (span_equals_ci(name.p, name.n, "tcptype")) {
    /* RFC 6544 §4.5: tcp-type-ext = "tcptype" SP tcp-type;
     * tcp-type = "active" / "passive" / "so". */
    span v = cur_word(c);
    if (cand->tcptype != RTCSEC_CANDIDATE_TCPTYPE_NONE)
      return RTCSEC_ERR_PARSE;
    if (span_equals_ci(v.p, v.n, "active"))
      cand->tcptype = RTCSEC_CANDIDATE_TCPTYPE_ACTIVE;
    else if (span_equals_ci(v.p, v.n, "passive"))
      cand->tcptype = RTCSEC_CANDIDATE_TCPTYPE_PASSIVE;
    else if (span_equals_ci(v.p, v.n, "so"))
      cand->tcptype = RTCSEC_CANDIDATE_TCPTYPE_SO;
    else
      return RTCSEC_ERR_PARSE;
    return RTCSEC_OK;
  }
  if (span_equals_ci(name.p, name.n, "generation"))
    return u32_ext_parse(c, &cand->has_generation, &cand->generation);
  if (span_equals_ci(name.p, name.n, "network-id"))
    return u32_ext_parse(c, &cand->has_network_id, &cand->network_id);
  if (span_equals_ci(name.p, name.n, "network-cost"))
    return u32_ext_parse(c, &cand->has_network_cost, &cand->network_cost);
  if (span_equals_ci(name.p, name.n, "ufrag")) {
    span v = cur_word(c);
    if (cand->ufrag[0] != '\0' ||
        !rtcsec_sdp_ice_chars_valid(v.p, v.n, RTCSEC_ICE_UFRAG_MIN, RTCSEC_ICE_UFRAG_MAX))
      return RTCSEC_ERR_PARSE;
    memcpy(cand->ufrag, v.p, v.n);
    cand->ufrag[v.n] = '\0';
    return RTCSEC_OK;
  }
  /* raddr / rport belong right after the type (RFC 8839 §5.1 grammar);
   * anywhere else they are misplaced, not an extension. */
  if (is_reserved_ext_name(name.p, name.n))
    return RTCSEC_ERR_PARSE;

  /* RFC 8839 §5.1: cand-extension = extension-att-name SP
   * extension-att-value; the value is *VCHAR, and here at least one. */
  span v = cur_word(c);
  if (v.n == 0 || !all_of(v.p, v.n, is_vchar))
    return RTCSEC_ERR_PARSE;
  if (name.n > RTCSEC_CANDIDATE_EXT_NAME_MAX || v.n > RTCSEC_CANDIDATE_EXT_VALUE_MAX)
    return RTCSEC_ERR_TOO_LARGE;
  for (size_t i = 0; i < cand->n_ext; i++) {
    if (span_equals_ci(name.p, name.n, cand->ext[i].name))
      return RTCSEC_ERR_PARSE;
  }
  rtcsec_candidate_ext *e = &cand->ext[cand->n_ext++];
  memcpy(e->name, name.p, name.n);
  e->name[name.n] = '\0';
  memcpy(e->value, v.p, v.n);
  e->value[v.n] = '\0';
  return RTCSEC_OK;
}

/* The fixed fields: foundation SP component-id SP transport SP priority SP
 * connection-address SP port SP "typ" SP cand-type. A transport or type
 * that is a well-formed token but unknown sets *unknown and parsing goes
 * on, so that RTCSEC_ERR_UNSUPPORTED is only ever given for a line that is
 * otherwise a candidate. */
static int candidate_fixed_parse(cursor *c, rtcsec_candidate *cand, int *unknown) {
  /* RFC 8839 §5.1: foundation = 1*32ice-char. */
  span f = cur_word(c);
  if (f.n == 0 || f.n > RTCSEC_CANDIDATE_FOUNDATION_MAX || !all_of(f.p, f.n, is_ice_char))
    return RTCSEC_ERR_PARSE;
  memcpy(cand->foundation, f.p, f.n);
  cand->foundation[f.n] = '\0';

  /* RFC 8839 §5.1: component-id = 1*3DIGIT, between 1 and 256. */
  uint64_t v;
  if (!cur_sp(c) || !cur_number(c, 3, &v) || v < 1 || v > 256)
    return RTCSEC_ERR_PARSE;
  cand->component = (uint16_t)v;

  /* RFC 8839 §5.1: transport = "UDP" / transport-extension (a token);
   * RFC 6544 adds "TCP". Any other token is well-formed but unknown. */
  if (!cur_sp(c))
    return RTCSEC_ERR_PARSE;
  span t = cur_word(c);
  if (span_equals_ci(t.p, t.n, "udp"))
    cand->transport = RTCSEC_CANDIDATE_UDP;
  else if (span_equals_ci(t.p, t.n, "tcp"))
    cand->transport = RTCSEC_CANDIDATE_TCP;
  else if (t.n > 0 && all_of(t.p, t.n, is_token_char))
    *unknown = 1;
  else
    return RTCSEC_ERR_PARSE;

  /* RFC 8839 §5.1: priority = 1*10DIGIT, between 1 and 2^31 - 1. */
  if (!cur_sp(c) || !cur_number(c, 10, &v) || v < 1 || v > PRIORITY_MAX)
    return RTCSEC_ERR_PARSE;
  cand->priority = (uint32_t)v;

  if (!cur_sp(c))
    return RTCSEC_ERR_PARSE;
  int rc = address_port_parse(c, &cand->addr);
  if (rc != RTCSEC_OK)
    return rc;

  /* RFC 8839 §5.1: cand-type = "typ" SP candidate-types;
   * candidate-types = "host" / "srflx" / "prflx" / "relay" / token. */
  if (!cur_sp(c) || !cur_accept_ci(c, "typ") || !cur_sp(c))
    return RTCSEC_ERR_PARSE;
  span ty = cur_word(c);
  for (size_t i = 0; i < sizeof(candidate_type_names) / sizeof(candidate_type_names[0]); i++) {
    if (span_equals_ci(ty.p, ty.n, candidate_type_names[i])) {
      cand->type = (rtcsec_candidate_type)i;
      return RTCSEC_OK;
    }
  }
  if (ty.n == 0 || !all_of(ty.p, ty.n, is_token_char))
    return RTCSEC_ERR_PARSE;
  *unknown = 1;
  return RTCSEC_OK;
}

int rtcsec_sdp_candidate_parse(rtcsec_candidate *out, const char *s, size_t len) {
  if (out == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  cursor c;
  int rc = attr_open(&c, s, len, "candidate:");
  if (rc != RTCSEC_OK)
    return rc;

  /* ~5.5 KB: kept off the caller's struct until the whole line is good. */
  rtcsec_candidate cand;
  memset(&cand, 0, sizeof(cand));
  int unknown = 0;
  rc = candidate_fixed_parse(&c, &cand, &unknown);
  if (rc != RTCSEC_OK)
    return rc;

  /* RFC 8839 §5.1: [SP rel-addr] [SP rel-port], rel-addr = "raddr" SP
   * connection-address, rel-port = "rport" SP port. The text says they
   * convey the related address and port together; one alone is refused. */
  cursor save = c;
  if (cur_sp(&c) && cur_accept_ci(&c, "raddr ")) {
    span a = cur_word(&c);
    rc = address_parse(a.p, a.n, &cand.related);
    if (rc != RTCSEC_OK)
      return rc;
    uint64_t port;
    if (!cur_sp(&c) || !cur_accept_ci(&c, "rport ") || !cur_number(&c, 5, &port) || port > 65535)
      return RTCSEC_ERR_PARSE; /* raddr without rport, or a bad port */
    cand.related.port = (uint16_t)port;
    cand.has_related = 1;
  } else {
    c = save; /* no related address: the extensions start here */
  }

  size_t n_extensions = 0;
  while (!cur_at_end(&c)) {
    if (!cur_sp(&c))
      return RTCSEC_ERR_PARSE;
    span name = cur_word(&c);
    if (name.n == 0 || !all_of(name.p, name.n, is_token_char) || !cur_sp(&c))
      return RTCSEC_ERR_PARSE; /* no name, or a name without a value */
    /* Bounded: a peer cannot make us keep or walk more than this. */
    if (++n_extensions > RTCSEC_CANDIDATE_MAX_EXTENSIONS)
      return RTCSEC_ERR_LIMIT;
    rc = extension_parse(&c, name, &cand);
    if (rc != RTCSEC_OK)
      return rc;
  }

  if (unknown)
    return RTCSEC_ERR_UNSUPPORTED; /* well-formed, but not for us */
  /* RFC 6544 §4.5: a TCP candidate carries its tcptype; UDP has none. */
  if ((cand.transport == RTCSEC_CANDIDATE_TCP) != (cand.tcptype != RTCSEC_CANDIDATE_TCPTYPE_NONE))
    return RTCSEC_ERR_PARSE;

  memcpy(out, &cand, sizeof(cand));
  return RTCSEC_OK;
}

/* Checks an address's host the way the parser would and writes it. */
static int host_format(writer *w, const rtcsec_candidate_address *a) {
  rtcsec_candidate_address check;
  size_t n = bounded_strlen(a->host, sizeof(a->host));
  if (n >= sizeof(a->host) || address_parse(a->host, n, &check) != RTCSEC_OK)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  w_mem(w, a->host, n);
  return RTCSEC_OK;
}

static int candidate_fields_valid(const rtcsec_candidate *c) {
  size_t n = bounded_strlen(c->foundation, sizeof(c->foundation));
  if (n == 0 || n > RTCSEC_CANDIDATE_FOUNDATION_MAX || !all_of(c->foundation, n, is_ice_char))
    return 0;
  if (c->component < 1 || c->component > 256 || c->priority < 1 || c->priority > PRIORITY_MAX)
    return 0;
  if (strcmp(rtcsec_candidate_type_name(c->type), "unknown") == 0)
    return 0;
  switch (c->transport) {
  case RTCSEC_CANDIDATE_UDP:
    if (c->tcptype != RTCSEC_CANDIDATE_TCPTYPE_NONE)
      return 0;
    break;
  case RTCSEC_CANDIDATE_TCP:
    if (tcptype_name(c->tcptype) == NULL)
      return 0;
    break;
  default:
    return 0;
  }
  n = bounded_strlen(c->ufrag, sizeof(c->ufrag));
  if (n != 0 &&
      !rtcsec_sdp_ice_chars_valid(c->ufrag, n, RTCSEC_ICE_UFRAG_MIN, RTCSEC_ICE_UFRAG_MAX))
    return 0;
  for (size_t i = 0; i < c->n_ext; i++) {
    const rtcsec_candidate_ext *e = &c->ext[i];
    size_t nn = bounded_strlen(e->name, sizeof(e->name));
    size_t vn = bounded_strlen(e->value, sizeof(e->value));
    if (nn == 0 || nn >= sizeof(e->name) || !all_of(e->name, nn, is_token_char) ||
        is_reserved_ext_name(e->name, nn))
      return 0;
    if (vn == 0 || vn >= sizeof(e->value) || !all_of(e->value, vn, is_vchar))
      return 0;
    for (size_t j = 0; j < i; j++) {
      if (span_equals_ci(e->name, nn, c->ext[j].name))
        return 0;
    }
  }
  return 1;
}

int rtcsec_sdp_candidate_format(const rtcsec_candidate *c, char *buf, size_t cap, size_t *len_out) {
  if (c == NULL || (buf == NULL && cap != 0))
    return RTCSEC_ERR_INVALID_ARGUMENT;
  size_t n_extensions = c->n_ext + (c->tcptype != RTCSEC_CANDIDATE_TCPTYPE_NONE) +
                        (c->has_generation != 0) + (c->ufrag[0] != '\0') +
                        (c->has_network_id != 0) + (c->has_network_cost != 0);
  if (c->n_ext > RTCSEC_CANDIDATE_MAX_EXTENSIONS || n_extensions > RTCSEC_CANDIDATE_MAX_EXTENSIONS)
    return RTCSEC_ERR_LIMIT;
  if (!candidate_fields_valid(c))
    return RTCSEC_ERR_INVALID_ARGUMENT;

  writer w = {.len = 0};
  w_str(&w, "candidate:");
  w_str(&w, c->foundation);
  w_str(&w, " ");
  w_u32(&w, c->component);
  w_str(&w, c->transport == RTCSEC_CANDIDATE_TCP ? " tcp " : " udp ");
  w_u32(&w, c->priority);
  w_str(&w, " ");
  if (host_format(&w, &c->addr) != RTCSEC_OK)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  w_str(&w, " ");
  w_u32(&w, c->addr.port);
  w_str(&w, " typ ");
  w_str(&w, rtcsec_candidate_type_name(c->type));
  if (c->has_related) {
    w_str(&w, " raddr ");
    if (host_format(&w, &c->related) != RTCSEC_OK)
      return RTCSEC_ERR_INVALID_ARGUMENT;
    w_str(&w, " rport ");
    w_u32(&w, c->related.port);
  }
  if (c->tcptype != RTCSEC_CANDIDATE_TCPTYPE_NONE) {
    w_str(&w, " tcptype ");
    w_str(&w, tcptype_name(c->tcptype));
  }
  if (c->has_generation) {
    w_str(&w, " generation ");
    w_u32(&w, c->generation);
  }
  if (c->ufrag[0] != '\0') {
    w_str(&w, " ufrag ");
    w_str(&w, c->ufrag);
  }
  if (c->has_network_id) {
    w_str(&w, " network-id ");
    w_u32(&w, c->network_id);
  }
  if (c->has_network_cost) {
    w_str(&w, " network-cost ");
    w_u32(&w, c->network_cost);
  }
  for (size_t i = 0; i < c->n_ext; i++) {
    w_str(&w, " ");
    w_str(&w, c->ext[i].name);
    w_str(&w, " ");
    w_str(&w, c->ext[i].value);
  }
  return w_finish(&w, buf, cap, len_out);
}

/* ---- fingerprint ------------------------------------------------------------ */

int rtcsec_sdp_fingerprint_parse(rtcsec_fingerprint *out, const char *s, size_t len) {
  if (out == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  cursor c;
  int rc = attr_open(&c, s, len, "fingerprint:");
  if (rc != RTCSEC_OK)
    return rc;
  /* The trimmed line, prefix included: rtcsec_fingerprint_parse() takes
   * one "[a=]fingerprint:" itself, so a doubled one stays an error. */
  return rtcsec_fingerprint_parse(out, c.p, c.len);
}

int rtcsec_sdp_fingerprint_format(const rtcsec_fingerprint *fp, char *buf, size_t cap,
                                  size_t *len_out) {
  if (fp == NULL || (buf == NULL && cap != 0))
    return RTCSEC_ERR_INVALID_ARGUMENT;
  char text[RTCSEC_FINGERPRINT_STRLEN];
  size_t n = 0;
  int rc = rtcsec_fingerprint_format(fp, text, sizeof(text), &n);
  if (rc != RTCSEC_OK)
    return rc == RTCSEC_ERR_BUFFER_TOO_SMALL ? RTCSEC_ERR_INVALID_ARGUMENT : rc;
  writer w = {.len = 0};
  w_str(&w, "fingerprint:");
  w_mem(&w, text, n);
  return w_finish(&w, buf, cap, len_out);
}

/* ---- setup ------------------------------------------------------------------ */

const char *rtcsec_sdp_setup_name(rtcsec_sdp_setup setup) {
  switch (setup) {
  case RTCSEC_SDP_SETUP_ACTPASS:
    return "actpass";
  case RTCSEC_SDP_SETUP_ACTIVE:
    return "active";
  case RTCSEC_SDP_SETUP_PASSIVE:
    return "passive";
  case RTCSEC_SDP_SETUP_HOLDCONN:
    return "holdconn";
  default:
    return "unknown";
  }
}

static int setup_valid(rtcsec_sdp_setup setup) {
  return strcmp(rtcsec_sdp_setup_name(setup), "unknown") != 0;
}

int rtcsec_sdp_setup_parse(rtcsec_sdp_setup *out, const char *s, size_t len) {
  if (out == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  cursor c;
  int rc = attr_open(&c, s, len, "setup:");
  if (rc != RTCSEC_OK)
    return rc;
  /* RFC 4145 §4: role = "active" / "passive" / "actpass" / "holdconn". */
  static const rtcsec_sdp_setup all[] = {RTCSEC_SDP_SETUP_ACTPASS, RTCSEC_SDP_SETUP_ACTIVE,
                                         RTCSEC_SDP_SETUP_PASSIVE, RTCSEC_SDP_SETUP_HOLDCONN};
  span v = {c.p + c.pos, cur_left(&c)};
  for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
    if (span_equals_ci(v.p, v.n, rtcsec_sdp_setup_name(all[i]))) {
      *out = all[i];
      return RTCSEC_OK;
    }
  }
  return RTCSEC_ERR_PARSE;
}

int rtcsec_sdp_setup_format(rtcsec_sdp_setup setup, char *buf, size_t cap, size_t *len_out) {
  if (!setup_valid(setup) || (buf == NULL && cap != 0))
    return RTCSEC_ERR_INVALID_ARGUMENT;
  writer w = {.len = 0};
  w_str(&w, "setup:");
  w_str(&w, rtcsec_sdp_setup_name(setup));
  return w_finish(&w, buf, cap, len_out);
}

int rtcsec_sdp_setup_answer(rtcsec_sdp_setup offer, rtcsec_sdp_setup preferred_answer,
                            rtcsec_sdp_setup *answer) {
  if (answer == NULL || !setup_valid(offer) || !setup_valid(preferred_answer) ||
      preferred_answer == RTCSEC_SDP_SETUP_HOLDCONN)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  switch (offer) {
  case RTCSEC_SDP_SETUP_ACTPASS:
    /* RFC 5763 §5: the answerer MUST use setup:active or setup:passive;
     * active is RECOMMENDED, so that the handshake does not wait for the
     * answer to reach the offerer. */
    *answer = preferred_answer == RTCSEC_SDP_SETUP_PASSIVE ? RTCSEC_SDP_SETUP_PASSIVE
                                                           : RTCSEC_SDP_SETUP_ACTIVE;
    return RTCSEC_OK;
  case RTCSEC_SDP_SETUP_ACTIVE:
    /* RFC 4145 §4.1: an active offer is answered passive. */
    *answer = RTCSEC_SDP_SETUP_PASSIVE;
    return RTCSEC_OK;
  case RTCSEC_SDP_SETUP_PASSIVE:
    *answer = RTCSEC_SDP_SETUP_ACTIVE;
    return RTCSEC_OK;
  case RTCSEC_SDP_SETUP_HOLDCONN:
    /* RFC 8842 §5.3 leaves the answerer active or passive only; holdconn
     * gives no DTLS role to answer with. */
    return RTCSEC_ERR_UNSUPPORTED;
  default:
    return RTCSEC_ERR_INVALID_ARGUMENT;
  }
}

int rtcsec_sdp_setup_dtls_role(rtcsec_sdp_setup local, rtcsec_dtls_role *role) {
  if (role == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  switch (local) {
  case RTCSEC_SDP_SETUP_ACTIVE:
    /* RFC 5763 §5 / RFC 4145 §4: the active side opens the connection,
     * that is sends the DTLS ClientHello. */
    *role = RTCSEC_DTLS_CLIENT;
    return RTCSEC_OK;
  case RTCSEC_SDP_SETUP_PASSIVE:
    *role = RTCSEC_DTLS_SERVER;
    return RTCSEC_OK;
  case RTCSEC_SDP_SETUP_ACTPASS:
  case RTCSEC_SDP_SETUP_HOLDCONN:
    return RTCSEC_ERR_INVALID_STATE; /* no role until the answer decides */
  default:
    return RTCSEC_ERR_INVALID_ARGUMENT;
  }
}

int rtcsec_sdp_setup_dtls_role_from_remote(rtcsec_sdp_setup remote, rtcsec_dtls_role *role) {
  /* Our side is the opposite of the peer's final choice. */
  switch (remote) {
  case RTCSEC_SDP_SETUP_ACTIVE:
    return rtcsec_sdp_setup_dtls_role(RTCSEC_SDP_SETUP_PASSIVE, role);
  case RTCSEC_SDP_SETUP_PASSIVE:
    return rtcsec_sdp_setup_dtls_role(RTCSEC_SDP_SETUP_ACTIVE, role);
  default:
    return rtcsec_sdp_setup_dtls_role(remote, role);
  }
}
