/* rtcsec_cert: self-signed certificates, PEM I/O and RFC 8122 fingerprints. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "cert_internal.h"
#include "rtcsec/error.h"
#include "rtcsec/rtcsec.h"

/* PEM inputs larger than this are not certificates we made or would use. */
#define PEM_MAX_BYTES ((size_t)1 << 20)
/* X.520 ub-common-name. */
#define CN_MAX_LEN 64
#define RSA_BITS 2048

struct rtcsec_cert {
  X509 *x509;
  EVP_PKEY *pkey;
  rtcsec_key_type key_type;
  atomic_size_t refs;
  pthread_mutex_t lock; /* guards ssl_ctx only; the rest is immutable */
  SSL_CTX *ssl_ctx;
  rtcsec_fingerprint sha256; /* computed once: what SDP shows, asked for per session */
};

/* ---- hash table --------------------------------------------------------- */

struct hash_info {
  rtcsec_hash hash;
  const char *name; /* RFC 8122 §5 / IANA "Hash Function Textual Names" */
  size_t len;
};

static const struct hash_info hash_table[] = {
    {RTCSEC_HASH_SHA1, "sha-1", 20},     {RTCSEC_HASH_SHA224, "sha-224", 28},
    {RTCSEC_HASH_SHA256, "sha-256", 32}, {RTCSEC_HASH_SHA384, "sha-384", 48},
    {RTCSEC_HASH_SHA512, "sha-512", 64},
};

static const struct hash_info *hash_find(rtcsec_hash hash) {
  for (size_t i = 0; i < sizeof(hash_table) / sizeof(hash_table[0]); i++) {
    if (hash_table[i].hash == hash)
      return &hash_table[i];
  }
  return NULL;
}

static const EVP_MD *hash_md(rtcsec_hash hash) {
  switch (hash) {
  case RTCSEC_HASH_SHA1:
    return EVP_sha1();
  case RTCSEC_HASH_SHA224:
    return EVP_sha224();
  case RTCSEC_HASH_SHA256:
    return EVP_sha256();
  case RTCSEC_HASH_SHA384:
    return EVP_sha384();
  case RTCSEC_HASH_SHA512:
    return EVP_sha512();
  default:
    return NULL;
  }
}

const char *rtcsec_hash_name(rtcsec_hash hash) {
  const struct hash_info *h = hash_find(hash);
  return h != NULL ? h->name : "unknown";
}

size_t rtcsec_hash_len(rtcsec_hash hash) {
  const struct hash_info *h = hash_find(hash);
  return h != NULL ? h->len : 0;
}

/* ---- fingerprint formatting -------------------------------------------- */

int rtcsec_fingerprint_format(const rtcsec_fingerprint *fp, char *buf, size_t cap,
                              size_t *len_out) {
  static const char hex[] = "0123456789ABCDEF";
  if (fp == NULL || (buf == NULL && cap != 0))
    return RTCSEC_ERR_INVALID_ARGUMENT;
  const struct hash_info *h = hash_find(fp->hash);
  if (h == NULL || fp->len != h->len)
    return RTCSEC_ERR_INVALID_ARGUMENT;

  size_t name_len = strlen(h->name);
  size_t need = name_len + 1 + fp->len * 3 - 1;
  if (len_out != NULL)
    *len_out = need;
  if (cap < need + 1)
    return RTCSEC_ERR_BUFFER_TOO_SMALL;

  memcpy(buf, h->name, name_len);
  size_t pos = name_len;
  buf[pos++] = ' ';
  for (size_t i = 0; i < fp->len; i++) {
    if (i > 0)
      buf[pos++] = ':';
    buf[pos++] = hex[fp->digest[i] >> 4];
    buf[pos++] = hex[fp->digest[i] & 0x0F];
  }
  buf[pos] = '\0';
  return RTCSEC_OK;
}

/* ---- fingerprint parsing ------------------------------------------------ */

/* Reads never go past len; the text need not be NUL-terminated. */
typedef struct cursor {
  const char *p;
  size_t len;
  size_t pos;
} cursor;

static int cur_at_end(const cursor *c) { return c->pos >= c->len; }

/* Next byte as 0..255, or -1 at the end. */
static int cur_peek(const cursor *c) {
  return cur_at_end(c) ? -1 : (int)(unsigned char)c->p[c->pos];
}

static int is_blank(int ch) { return ch == ' ' || ch == '\t'; }

static int ascii_lower(int ch) { return (ch >= 'A' && ch <= 'Z') ? ch + ('a' - 'A') : ch; }

static size_t cur_skip_blanks(cursor *c) {
  size_t n = 0;
  while (is_blank(cur_peek(c))) {
    c->pos++;
    n++;
  }
  return n;
}

/* Consumes `lit` (ASCII, case-insensitive) if the input continues with it. */
static int cur_accept_ci(cursor *c, const char *lit) {
  size_t n = strlen(lit);
  if (c->len - c->pos < n)
    return 0;
  for (size_t i = 0; i < n; i++) {
    if (ascii_lower((unsigned char)c->p[c->pos + i]) != ascii_lower((unsigned char)lit[i]))
      return 0;
  }
  c->pos += n;
  return 1;
}

static int hex_value(int ch) {
  if (ch >= '0' && ch <= '9')
    return ch - '0';
  ch = ascii_lower(ch);
  if (ch >= 'a' && ch <= 'f')
    return ch - 'a' + 10;
  return -1;
}

/* RFC 8866 §9 token-char: what a hash-func name may be made of. A token of
 * these that names no hash we know is an unknown hash, anything else is
 * not a fingerprint at all. */
static int is_token_char(int ch) {
  return ch == 0x21 || (ch >= 0x23 && ch <= 0x27) || ch == 0x2A || ch == 0x2B || ch == 0x2D ||
         ch == 0x2E || (ch >= 0x30 && ch <= 0x39) || (ch >= 0x41 && ch <= 0x5A) ||
         (ch >= 0x5E && ch <= 0x7E);
}

static int hash_from_token(const char *tok, size_t n, const struct hash_info **out) {
  for (size_t i = 0; i < n; i++) {
    if (!is_token_char((unsigned char)tok[i]))
      return RTCSEC_ERR_FINGERPRINT_MALFORMED;
  }
  for (size_t i = 0; i < sizeof(hash_table) / sizeof(hash_table[0]); i++) {
    const char *name = hash_table[i].name;
    if (strlen(name) != n)
      continue;
    size_t j = 0;
    while (j < n && ascii_lower((unsigned char)tok[j]) == (unsigned char)name[j])
      j++;
    if (j == n) {
      *out = &hash_table[i];
      return RTCSEC_OK;
    }
  }
  return RTCSEC_ERR_FINGERPRINT_UNKNOWN_HASH;
}

/* RFC 8122 §5: fingerprint = 2UHEX *(":" 2UHEX). Lower case is accepted
 * too (the header promises case-insensitive hex). Bytes beyond the largest
 * digest are still syntax-checked and counted, so that an over-long but
 * well-formed list reports a length error rather than a syntax error. */
static int parse_hex_pairs(cursor *c, uint8_t digest[RTCSEC_FINGERPRINT_MAX_DIGEST],
                           size_t *count_out) {
  size_t count = 0;
  for (;;) {
    int hi = hex_value(cur_peek(c));
    if (hi < 0)
      return RTCSEC_ERR_FINGERPRINT_MALFORMED; /* empty, trailing ':', non-hex */
    c->pos++;
    int lo = hex_value(cur_peek(c));
    if (lo < 0)
      return RTCSEC_ERR_FINGERPRINT_MALFORMED; /* single digit */
    c->pos++;
    if (count < RTCSEC_FINGERPRINT_MAX_DIGEST)
      digest[count] = (uint8_t)((hi << 4) | lo);
    count++;

    int next = cur_peek(c);
    if (next == ':') {
      c->pos++;
      continue;
    }
    if (next == -1 || is_blank(next))
      break;
    return RTCSEC_ERR_FINGERPRINT_MALFORMED; /* third digit, other separator */
  }
  *count_out = count;
  return RTCSEC_OK;
}

int rtcsec_fingerprint_parse(rtcsec_fingerprint *out, const char *s, size_t len) {
  if (out == NULL || s == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;

  cursor c = {s, len, 0};
  cur_skip_blanks(&c);
  /* The longer prefix first: "fingerprint:" is its suffix. */
  if (!cur_accept_ci(&c, "a=fingerprint:"))
    (void)cur_accept_ci(&c, "fingerprint:");
  cur_skip_blanks(&c);

  /* RFC 8122 §5: fingerprint-attribute = "fingerprint" ":" hash-func SP
   * fingerprint. We take a run of blanks for the SP. */
  size_t tok_start = c.pos;
  while (!cur_at_end(&c) && !is_blank(cur_peek(&c)))
    c.pos++;
  size_t tok_len = c.pos - tok_start;
  if (tok_len == 0 || cur_skip_blanks(&c) == 0 || cur_at_end(&c))
    return RTCSEC_ERR_FINGERPRINT_MALFORMED; /* no hash, or no digest after it */

  const struct hash_info *h = NULL;
  int rc = hash_from_token(s + tok_start, tok_len, &h);
  if (rc != RTCSEC_OK)
    return rc;

  rtcsec_fingerprint fp;
  memset(&fp, 0, sizeof(fp));
  size_t count = 0;
  rc = parse_hex_pairs(&c, fp.digest, &count);
  if (rc != RTCSEC_OK)
    return rc;
  cur_skip_blanks(&c);
  if (!cur_at_end(&c))
    return RTCSEC_ERR_FINGERPRINT_MALFORMED; /* a second word after the digest */
  if (count != h->len)
    return RTCSEC_ERR_FINGERPRINT_LENGTH;

  fp.hash = h->hash;
  fp.len = h->len;
  *out = fp;
  return RTCSEC_OK;
}

int rtcsec_fingerprint_equal(const rtcsec_fingerprint *a, const rtcsec_fingerprint *b) {
  if (a == NULL || b == NULL)
    return 0;
  size_t n = rtcsec_hash_len(a->hash);
  if (n == 0 || a->hash != b->hash || a->len != n || b->len != n)
    return 0;
  /* The digest comes from the peer's certificate: compare in constant time. */
  return CRYPTO_memcmp(a->digest, b->digest, n) == 0;
}

int rtcsec_fingerprint_of_der(const uint8_t *der, size_t der_len, rtcsec_hash hash,
                              rtcsec_fingerprint *out) {
  if (der == NULL || der_len == 0 || out == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  const struct hash_info *h = hash_find(hash);
  const EVP_MD *md = hash_md(hash);
  if (h == NULL || md == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;

  /* RFC 8122 §5: the hash is computed over the DER form of the certificate. */
  rtcsec_fingerprint fp;
  memset(&fp, 0, sizeof(fp));
  unsigned int md_len = 0;
  if (EVP_Digest(der, der_len, fp.digest, &md_len, md, NULL) != 1 || md_len != h->len) {
    ERR_clear_error();
    return RTCSEC_ERR_CRYPTO;
  }
  fp.hash = hash;
  fp.len = h->len;
  *out = fp;
  return RTCSEC_OK;
}

/* ---- certificate object ------------------------------------------------- */

/* Takes ownership of x509 and pkey, also on failure. */
static int cert_wrap(X509 *x509, EVP_PKEY *pkey, rtcsec_key_type type, rtcsec_cert **out) {
  rtcsec_cert *c = calloc(1, sizeof(*c));
  if (c == NULL)
    goto fail;
  if (pthread_mutex_init(&c->lock, NULL) != 0) {
    free(c);
    goto fail;
  }
  c->x509 = x509;
  c->pkey = pkey;
  c->key_type = type;
  c->ssl_ctx = NULL;
  atomic_init(&c->refs, 1);
  unsigned char *der = NULL;
  int der_len = i2d_X509(x509, &der);
  int rc = der_len > 0 && der != NULL
               ? rtcsec_fingerprint_of_der(der, (size_t)der_len, RTCSEC_HASH_SHA256, &c->sha256)
               : RTCSEC_ERR_CRYPTO;
  OPENSSL_free(der);
  if (rc != RTCSEC_OK) {
    ERR_clear_error();
    pthread_mutex_destroy(&c->lock);
    free(c);
    X509_free(x509);
    EVP_PKEY_free(pkey);
    return rc;
  }
  *out = c;
  return RTCSEC_OK;

fail:
  X509_free(x509);
  EVP_PKEY_free(pkey);
  return RTCSEC_ERR_NO_MEMORY;
}

rtcsec_cert *rtcsec_cert_ref(rtcsec_cert *cert) {
  if (cert != NULL)
    atomic_fetch_add_explicit(&cert->refs, 1, memory_order_relaxed);
  return cert;
}

void rtcsec_cert_free(rtcsec_cert *cert) {
  if (cert == NULL)
    return;
  /* acq_rel: every other holder's use happens before the destruction. */
  if (atomic_fetch_sub_explicit(&cert->refs, 1, memory_order_acq_rel) != 1)
    return;
  SSL_CTX_free(cert->ssl_ctx);
  X509_free(cert->x509);
  EVP_PKEY_free(cert->pkey); /* OpenSSL clears the key material it frees */
  pthread_mutex_destroy(&cert->lock);
  free(cert);
}

rtcsec_key_type rtcsec_cert_key_type(const rtcsec_cert *cert) {
  return cert != NULL ? cert->key_type : RTCSEC_KEY_ECDSA_P256;
}

X509 *rtcsec_cert_x509(const rtcsec_cert *cert) { return cert != NULL ? cert->x509 : NULL; }

EVP_PKEY *rtcsec_cert_pkey(const rtcsec_cert *cert) { return cert != NULL ? cert->pkey : NULL; }

/* The first maker wins; later calls share its context whatever maker they
 * pass. The maker must not take a reference on the certificate (the
 * context lives inside it, so that would be a cycle). */
int rtcsec_cert_ssl_ctx(rtcsec_cert *cert, rtcsec_ssl_ctx_maker make, SSL_CTX **out) {
  if (cert == NULL || make == NULL || out == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  if (pthread_mutex_lock(&cert->lock) != 0)
    return RTCSEC_ERR_INVALID_STATE;

  int rc = RTCSEC_OK;
  if (cert->ssl_ctx == NULL) {
    SSL_CTX *made = NULL;
    rc = make(cert, &made);
    if (rc == RTCSEC_OK && made == NULL)
      rc = RTCSEC_ERR_CRYPTO;
    if (rc == RTCSEC_OK)
      cert->ssl_ctx = made; /* the maker's reference becomes the cache's */
  }
  if (rc == RTCSEC_OK) {
    if (SSL_CTX_up_ref(cert->ssl_ctx) == 1)
      *out = cert->ssl_ctx;
    else
      rc = RTCSEC_ERR_CRYPTO;
  }
  pthread_mutex_unlock(&cert->lock);
  return rc;
}

/* ---- generation --------------------------------------------------------- */

void rtcsec_cert_config_default(rtcsec_cert_config *cfg) {
  if (cfg == NULL)
    return;
  memset(cfg, 0, sizeof(*cfg));
  cfg->key_type = RTCSEC_KEY_ECDSA_P256;
  cfg->common_name = "rtcsec";
  cfg->validity_days = 30;
  cfg->not_before_offset_s = -86400;
}

static EVP_PKEY *generate_key(rtcsec_key_type type) {
  switch (type) {
  case RTCSEC_KEY_ECDSA_P256:
    return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
  case RTCSEC_KEY_RSA_2048:
    return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)RSA_BITS);
  default:
    return NULL;
  }
}

/* Positive (top bit clear) and nonzero, as RFC 5280 §4.1.2.2 requires. */
static int random_serial(uint64_t *out) {
  for (int tries = 0; tries < 8; tries++) {
    uint8_t b[8];
    if (RAND_bytes(b, (int)sizeof(b)) != 1)
      return RTCSEC_ERR_CRYPTO;
    b[0] &= 0x7F;
    uint64_t v = 0;
    for (size_t i = 0; i < sizeof(b); i++)
      v = (v << 8) | b[i];
    if (v != 0) {
      *out = v;
      return RTCSEC_OK;
    }
  }
  return RTCSEC_ERR_CRYPTO;
}

static int build_self_signed(EVP_PKEY *pkey, const rtcsec_cert_config *cfg, X509 **out) {
  X509 *x = X509_new();
  if (x == NULL)
    return RTCSEC_ERR_NO_MEMORY;

  int rc = RTCSEC_ERR_CRYPTO;
  uint64_t serial = 0;
  time_t now = time(NULL);
  X509_NAME *name = X509_get_subject_name(x);

  if (X509_set_version(x, X509_VERSION_3) != 1)
    goto done;
  rc = random_serial(&serial);
  if (rc != RTCSEC_OK)
    goto done;
  rc = RTCSEC_ERR_CRYPTO;
  if (ASN1_INTEGER_set_uint64(X509_get_serialNumber(x), serial) != 1)
    goto done;
  if (name == NULL ||
      X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cfg->common_name,
                                 -1, -1, 0) != 1)
    goto done;
  if (X509_set_issuer_name(x, name) != 1)
    goto done;
  /* Both times from one reading of the clock, so the window is exact. */
  if (X509_time_adj_ex(X509_getm_notBefore(x), 0, (long)cfg->not_before_offset_s, &now) == NULL)
    goto done;
  if (X509_time_adj_ex(X509_getm_notAfter(x), (int)cfg->validity_days,
                       (long)cfg->not_before_offset_s, &now) == NULL)
    goto done;
  if (X509_set_pubkey(x, pkey) != 1)
    goto done;
  if (X509_sign(x, pkey, EVP_sha256()) <= 0)
    goto done;
  rc = RTCSEC_OK;

done:
  if (rc != RTCSEC_OK) {
    X509_free(x);
    return rc;
  }
  *out = x;
  return RTCSEC_OK;
}

static int config_check(const rtcsec_cert_config *cfg) {
  if (cfg->key_type != RTCSEC_KEY_ECDSA_P256 && cfg->key_type != RTCSEC_KEY_RSA_2048)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  if (cfg->common_name == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  size_t cn_len = strlen(cfg->common_name);
  if (cn_len == 0 || cn_len > CN_MAX_LEN)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  if (cfg->validity_days == 0 || cfg->validity_days > (uint32_t)INT_MAX)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  if (cfg->not_before_offset_s < LONG_MIN || cfg->not_before_offset_s > LONG_MAX)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  return RTCSEC_OK;
}

int rtcsec_cert_generate(rtcsec_cert **out, const rtcsec_cert_config *cfg) {
  int rc = rtcsec_init();
  if (rc != RTCSEC_OK)
    return rc;
  if (out == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  *out = NULL;

  rtcsec_cert_config defaults;
  if (cfg == NULL) {
    rtcsec_cert_config_default(&defaults);
    cfg = &defaults;
  }
  rc = config_check(cfg);
  if (rc != RTCSEC_OK)
    return rc;

  EVP_PKEY *pkey = generate_key(cfg->key_type);
  if (pkey == NULL) {
    ERR_clear_error();
    return RTCSEC_ERR_CRYPTO;
  }
  X509 *x = NULL;
  rc = build_self_signed(pkey, cfg, &x);
  if (rc != RTCSEC_OK) {
    EVP_PKEY_free(pkey);
    ERR_clear_error();
    return rc;
  }
  return cert_wrap(x, pkey, cfg->key_type, out);
}

/* ---- PEM loading -------------------------------------------------------- */

/* Never prompt on a terminal for a pass phrase: encrypted keys are refused. */
static int no_password(char *buf, int size, int rwflag, void *u) {
  (void)buf;
  (void)size;
  (void)rwflag;
  (void)u;
  return 0;
}

static int key_type_of(const EVP_PKEY *pkey, rtcsec_key_type *out) {
  switch (EVP_PKEY_get_base_id(pkey)) {
  case EVP_PKEY_EC: {
    char group[64];
    size_t group_len = 0;
    if (EVP_PKEY_get_group_name(pkey, group, sizeof(group), &group_len) != 1)
      return RTCSEC_ERR_UNSUPPORTED; /* e.g. explicit curve parameters */
    int nid = OBJ_txt2nid(group);
    if (nid == NID_undef)
      nid = EC_curve_nist2nid(group);
    if (nid != NID_X9_62_prime256v1)
      return RTCSEC_ERR_UNSUPPORTED;
    *out = RTCSEC_KEY_ECDSA_P256;
    return RTCSEC_OK;
  }
  case EVP_PKEY_RSA:
    /* Debian's default security level refuses shorter RSA keys in TLS
     * anyway; say so here rather than at the first handshake. */
    if (EVP_PKEY_get_bits(pkey) < RSA_BITS)
      return RTCSEC_ERR_UNSUPPORTED;
    *out = RTCSEC_KEY_RSA_2048;
    return RTCSEC_OK;
  default:
    return RTCSEC_ERR_UNSUPPORTED;
  }
}

/* Lengths are already checked: nonzero and at most PEM_MAX_BYTES. */
static int load_pem_checked(rtcsec_cert **out, const char *cert_pem, size_t cert_len,
                            const char *key_pem, size_t key_len) {
  X509 *x = NULL;
  EVP_PKEY *pkey = NULL;
  rtcsec_key_type type = RTCSEC_KEY_ECDSA_P256;
  int rc = RTCSEC_ERR_NO_MEMORY;

  BIO *bio = BIO_new_mem_buf(cert_pem, (int)cert_len);
  if (bio == NULL)
    goto done;
  x = PEM_read_bio_X509(bio, NULL, no_password, NULL);
  BIO_free(bio);
  rc = RTCSEC_ERR_PEM;
  if (x == NULL)
    goto done;

  rc = RTCSEC_ERR_NO_MEMORY;
  bio = BIO_new_mem_buf(key_pem, (int)key_len);
  if (bio == NULL)
    goto done;
  pkey = PEM_read_bio_PrivateKey(bio, NULL, no_password, NULL);
  BIO_free(bio);
  rc = RTCSEC_ERR_PEM;
  if (pkey == NULL)
    goto done;

  rc = key_type_of(pkey, &type);
  if (rc != RTCSEC_OK)
    goto done;
  if (X509_check_private_key(x, pkey) != 1) {
    rc = RTCSEC_ERR_KEY_MISMATCH;
    goto done;
  }
  rc = RTCSEC_OK;

done:
  /* Leave nothing behind for a later SSL_get_error() on this thread. */
  ERR_clear_error();
  if (rc != RTCSEC_OK) {
    X509_free(x);
    EVP_PKEY_free(pkey);
    return rc;
  }
  return cert_wrap(x, pkey, type, out);
}

int rtcsec_cert_load_pem(rtcsec_cert **out, const char *cert_pem, size_t cert_len,
                         const char *key_pem, size_t key_len) {
  int rc = rtcsec_init();
  if (rc != RTCSEC_OK)
    return rc;
  if (out == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  *out = NULL;
  if (cert_pem == NULL || cert_len == 0 || key_pem == NULL || key_len == 0)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  if (cert_len > PEM_MAX_BYTES || key_len > PEM_MAX_BYTES)
    return RTCSEC_ERR_TOO_LARGE;
  return load_pem_checked(out, cert_pem, cert_len, key_pem, key_len);
}

/* Reads a whole file of at most PEM_MAX_BYTES into a new buffer. */
static int read_file(const char *path, char **buf_out, size_t *len_out) {
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    return RTCSEC_ERR_IO;
  char *buf = malloc(PEM_MAX_BYTES + 1);
  if (buf == NULL) {
    fclose(f);
    return RTCSEC_ERR_NO_MEMORY;
  }
  /* One byte more than allowed tells "exactly the limit" from "over it". */
  size_t n = fread(buf, 1, PEM_MAX_BYTES + 1, f);
  int rc = RTCSEC_OK;
  if (ferror(f))
    rc = RTCSEC_ERR_IO;
  else if (n > PEM_MAX_BYTES)
    rc = RTCSEC_ERR_TOO_LARGE;
  fclose(f);
  if (rc != RTCSEC_OK) {
    OPENSSL_cleanse(buf, n);
    free(buf);
    return rc;
  }
  *buf_out = buf;
  *len_out = n;
  return RTCSEC_OK;
}

static void free_wiped(char *buf, size_t len) {
  if (buf == NULL)
    return;
  OPENSSL_cleanse(buf, len);
  free(buf);
}

int rtcsec_cert_load_pem_file(rtcsec_cert **out, const char *cert_path, const char *key_path) {
  int rc = rtcsec_init();
  if (rc != RTCSEC_OK)
    return rc;
  if (out == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  *out = NULL;
  if (cert_path == NULL || key_path == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;

  char *cert_buf = NULL, *key_buf = NULL;
  size_t cert_len = 0, key_len = 0;
  rc = read_file(cert_path, &cert_buf, &cert_len);
  if (rc == RTCSEC_OK)
    rc = read_file(key_path, &key_buf, &key_len);
  if (rc == RTCSEC_OK) {
    if (cert_len == 0 || key_len == 0)
      rc = RTCSEC_ERR_PEM; /* an empty file holds no PEM */
    else
      rc = load_pem_checked(out, cert_buf, cert_len, key_buf, key_len);
  }
  free_wiped(cert_buf, cert_len);
  free_wiped(key_buf, key_len);
  return rc;
}

/* ---- PEM writing -------------------------------------------------------- */

/* Renders one part as PEM into a memory BIO. */
static int pem_bio(const rtcsec_cert *cert, rtcsec_pem_part which, BIO **out) {
  BIO *bio = BIO_new(BIO_s_mem());
  if (bio == NULL)
    return RTCSEC_ERR_NO_MEMORY;
  int ok = 0;
  if (which == RTCSEC_PEM_CERT)
    ok = PEM_write_bio_X509(bio, cert->x509);
  else /* PKCS#8, unencrypted ("BEGIN PRIVATE KEY") */
    ok = PEM_write_bio_PrivateKey(bio, cert->pkey, NULL, NULL, 0, NULL, NULL);
  if (ok != 1) {
    BIO_free(bio);
    ERR_clear_error();
    return RTCSEC_ERR_CRYPTO;
  }
  *out = bio;
  return RTCSEC_OK;
}

static void bio_free_wiped(BIO *bio) {
  BUF_MEM *bm = NULL;
  if (BIO_get_mem_ptr(bio, &bm) == 1 && bm != NULL && bm->data != NULL)
    OPENSSL_cleanse(bm->data, bm->max);
  BIO_free(bio);
}

int rtcsec_cert_to_pem(const rtcsec_cert *cert, rtcsec_pem_part which, char *buf, size_t cap,
                       size_t *len_out) {
  if (cert == NULL || (buf == NULL && cap != 0))
    return RTCSEC_ERR_INVALID_ARGUMENT;
  if (which != RTCSEC_PEM_CERT && which != RTCSEC_PEM_KEY)
    return RTCSEC_ERR_INVALID_ARGUMENT;

  BIO *bio = NULL;
  int rc = pem_bio(cert, which, &bio);
  if (rc != RTCSEC_OK)
    return rc;
  char *data = NULL;
  long n = BIO_get_mem_data(bio, &data);
  if (n <= 0 || data == NULL) {
    bio_free_wiped(bio);
    return RTCSEC_ERR_CRYPTO;
  }
  size_t need = (size_t)n;
  if (len_out != NULL)
    *len_out = need;
  if (cap < need + 1) {
    bio_free_wiped(bio);
    return RTCSEC_ERR_BUFFER_TOO_SMALL;
  }
  memcpy(buf, data, need);
  buf[need] = '\0';
  bio_free_wiped(bio);
  return RTCSEC_OK;
}

static int write_all(int fd, const char *data, size_t len) {
  while (len > 0) {
    ssize_t w = write(fd, data, len);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      return RTCSEC_ERR_IO;
    }
    data += w;
    len -= (size_t)w;
  }
  return RTCSEC_OK;
}

/* The key file gets exactly 0600; the certificate is public and keeps the
 * caller's umask. */
static int save_part(const rtcsec_cert *cert, rtcsec_pem_part which, const char *path) {
  mode_t mode = which == RTCSEC_PEM_KEY ? 0600 : 0644;
  BIO *bio = NULL;
  int rc = pem_bio(cert, which, &bio);
  if (rc != RTCSEC_OK)
    return rc;
  char *data = NULL;
  long n = BIO_get_mem_data(bio, &data);
  if (n <= 0 || data == NULL) {
    bio_free_wiped(bio);
    return RTCSEC_ERR_CRYPTO;
  }

  int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, mode);
  if (fd < 0) {
    bio_free_wiped(bio);
    return RTCSEC_ERR_IO;
  }
  /* open() keeps the mode of a key file that already existed: narrow it
   * before any secret is written. */
  if (which == RTCSEC_PEM_KEY && fchmod(fd, mode) != 0)
    rc = RTCSEC_ERR_IO;
  if (rc == RTCSEC_OK)
    rc = write_all(fd, data, (size_t)n);
  if (close(fd) != 0 && rc == RTCSEC_OK)
    rc = RTCSEC_ERR_IO;
  bio_free_wiped(bio);
  return rc;
}

int rtcsec_cert_save_pem_file(const rtcsec_cert *cert, const char *cert_path,
                              const char *key_path) {
  if (cert == NULL || cert_path == NULL || key_path == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  int rc = save_part(cert, RTCSEC_PEM_CERT, cert_path);
  if (rc != RTCSEC_OK)
    return rc;
  return save_part(cert, RTCSEC_PEM_KEY, key_path);
}

/* ---- fingerprint of a certificate -------------------------------------- */

int rtcsec_cert_fingerprint(const rtcsec_cert *cert, rtcsec_hash hash, rtcsec_fingerprint *out) {
  if (cert == NULL || out == NULL || hash_find(hash) == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  if (hash == RTCSEC_HASH_SHA256) {
    *out = cert->sha256;
    return RTCSEC_OK;
  }
  unsigned char *der = NULL;
  int der_len = i2d_X509(cert->x509, &der);
  if (der_len <= 0 || der == NULL) {
    ERR_clear_error();
    return RTCSEC_ERR_CRYPTO;
  }
  int rc = rtcsec_fingerprint_of_der(der, (size_t)der_len, hash, out);
  OPENSSL_free(der);
  return rc;
}
