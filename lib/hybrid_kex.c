/* TLS 1.3 key_share exchange: X25519, secp256r1, X25519MLKEM768. See
 * hybrid_kex.h. ECDH runs on OpenSSL's EVP; ML-KEM-768 is mlkem.c. */
#include "hybrid_kex.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/proverr.h>
#include <string.h>

#include "rtcsec/error.h"

/* ---- ECDH on EVP ------------------------------------------------------------- */

static size_t ecdh_share_len(uint16_t group) {
  return group == RTCSEC_GROUP_X25519 ? RTCSEC_X25519_SHARE_LEN : RTCSEC_P256_SHARE_LEN;
}

/* A fresh key pair for the group. */
static int ecdh_keygen(uint16_t group, EVP_PKEY **out) {
  *out = group == RTCSEC_GROUP_X25519 ? EVP_PKEY_Q_keygen(NULL, NULL, "X25519")
                                      : EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
  return *out != NULL ? 0 : RTCSEC_ERR_CRYPTO;
}

/* Our key_exchange bytes: the raw X25519 key, or the uncompressed point. */
static int ecdh_share(uint16_t group, EVP_PKEY *key, uint8_t *out) {
  size_t n = ecdh_share_len(group);
  size_t got = n; /* in: the room at out (raw key); out: the length */
  int ok =
      group == RTCSEC_GROUP_X25519
          ? EVP_PKEY_get_raw_public_key(key, out, &got)
          : EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, out, n, &got);
  return ok == 1 && got == n ? 0 : RTCSEC_ERR_CRYPTO;
}

/* The peer's key from its key_exchange bytes, validated. */
static int ecdh_peer(uint16_t group, const uint8_t *share, size_t len, EVP_PKEY **out) {
  *out = NULL;
  if (len != ecdh_share_len(group))
    return RTCSEC_ERR_KEY_SHARE_LENGTH;
  if (group == RTCSEC_GROUP_X25519) {
    /* RFC 7748 §5: any 32 bytes are a u-coordinate (the top bit is masked);
     * a small-order one shows as an all-zero result, checked at derive. */
    *out = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, share, len);
    return *out != NULL ? 0 : RTCSEC_ERR_CRYPTO;
  }
  /* RFC 8446 §4.2.8.2: "UncompressedPointRepresentation": legacy_form 4,
   * and the peer MUST validate the point (on the curve, not infinity: the
   * quick check suffices on a prime-order curve). */
  if (share[0] != 0x04)
    return RTCSEC_ERR_KEY_SHARE_INVALID;
  EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
  if (pctx == NULL)
    return RTCSEC_ERR_CRYPTO;
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)"prime256v1", 0),
      OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)share, len),
      OSSL_PARAM_construct_end(),
  };
  int rc = RTCSEC_ERR_CRYPTO;
  if (EVP_PKEY_fromdata_init(pctx) == 1) {
    /* fromdata decodes the point and refuses one off the curve. */
    rc = EVP_PKEY_fromdata(pctx, out, EVP_PKEY_PUBLIC_KEY, params) == 1
             ? 0
             : RTCSEC_ERR_KEY_SHARE_INVALID;
  }
  EVP_PKEY_CTX_free(pctx);
  if (rc == 0) {
    EVP_PKEY_CTX *cctx = EVP_PKEY_CTX_new_from_pkey(NULL, *out, NULL);
    if (cctx == NULL)
      rc = RTCSEC_ERR_CRYPTO;
    else if (EVP_PKEY_public_check_quick(cctx) != 1)
      rc = RTCSEC_ERR_KEY_SHARE_INVALID;
    EVP_PKEY_CTX_free(cctx);
  }
  if (rc != 0) {
    EVP_PKEY_free(*out);
    *out = NULL;
  }
  ERR_clear_error();
  return rc;
}

/* secret = ECDH(own, peer), 32 bytes for both groups. OpenSSL refuses an
 * all-zero X25519 result itself (PROV_R_FAILED_DURING_DERIVATION): that
 * reason, and the zero check here too, give KEY_SHARE_ZERO. */
static int ecdh_derive(EVP_PKEY *own, EVP_PKEY *peer, uint8_t secret[32]) {
  EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, own, NULL);
  if (ctx == NULL)
    return RTCSEC_ERR_CRYPTO;
  size_t n = 32;
  int rc = RTCSEC_ERR_CRYPTO;
  ERR_clear_error();
  /* The peer was validated by ecdh_peer; validate_peer = 0 avoids OpenSSL's
   * full check, a second scalar multiplication for P-256. */
  if (EVP_PKEY_derive_init(ctx) == 1 && EVP_PKEY_derive_set_peer_ex(ctx, peer, 0) == 1) {
    if (EVP_PKEY_derive(ctx, secret, &n) == 1 && n == 32) {
      static const uint8_t zero[32];
      rc = CRYPTO_memcmp(secret, zero, 32) != 0 ? 0 : RTCSEC_ERR_KEY_SHARE_ZERO;
    } else {
      unsigned long e = ERR_peek_last_error();
      if (ERR_GET_LIB(e) == ERR_LIB_PROV && ERR_GET_REASON(e) == PROV_R_FAILED_DURING_DERIVATION)
        rc = RTCSEC_ERR_KEY_SHARE_ZERO;
    }
  }
  ERR_clear_error();
  EVP_PKEY_CTX_free(ctx);
  if (rc != 0)
    OPENSSL_cleanse(secret, 32);
  return rc;
}

/* Server side of one ECDH group. */
static int ecdh_server(uint16_t group, const uint8_t *client_share, size_t len,
                       uint8_t *server_share, uint8_t secret[32]) {
  EVP_PKEY *peer = NULL, *own = NULL;
  int rc = ecdh_peer(group, client_share, len, &peer);
  if (rc == 0)
    rc = ecdh_keygen(group, &own);
  if (rc == 0)
    rc = ecdh_derive(own, peer, secret);
  if (rc == 0)
    rc = ecdh_share(group, own, server_share);
  EVP_PKEY_free(own);
  EVP_PKEY_free(peer);
  if (rc != 0) {
    memset(server_share, 0, ecdh_share_len(group));
    OPENSSL_cleanse(secret, 32);
  }
  return rc;
}

int rtcsec_x25519_server(const uint8_t *client_share, size_t len,
                         uint8_t server_share[RTCSEC_X25519_SHARE_LEN],
                         uint8_t secret[RTCSEC_X25519_SECRET_LEN]) {
  if (client_share == NULL || server_share == NULL || secret == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  return ecdh_server(RTCSEC_GROUP_X25519, client_share, len, server_share, secret);
}

int rtcsec_p256_server(const uint8_t *client_share, size_t len,
                       uint8_t server_share[RTCSEC_P256_SHARE_LEN],
                       uint8_t secret[RTCSEC_P256_SECRET_LEN]) {
  if (client_share == NULL || server_share == NULL || secret == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  return ecdh_server(RTCSEC_GROUP_SECP256R1, client_share, len, server_share, secret);
}

/* ---- X25519MLKEM768 ------------------------------------------------------------ */

int rtcsec_x25519mlkem768_server(const uint8_t *client_share, size_t len,
                                 uint8_t server_share[RTCSEC_X25519MLKEM768_SERVER_SHARE_LEN],
                                 uint8_t secret[RTCSEC_X25519MLKEM768_SECRET_LEN]) {
  if (client_share == NULL || server_share == NULL || secret == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  memset(server_share, 0, RTCSEC_X25519MLKEM768_SERVER_SHARE_LEN);
  memset(secret, 0, RTCSEC_X25519MLKEM768_SECRET_LEN);
  /* draft-ietf-tls-ecdhe-mlkem, X25519MLKEM768: the client share is the ML-KEM
   * encapsulation key then the X25519 share, 1184 + 32 bytes; anything else
   * is an error. */
  if (len != RTCSEC_X25519MLKEM768_CLIENT_SHARE_LEN)
    return RTCSEC_ERR_KEY_SHARE_LENGTH;
  /* ... and the server MUST perform the FIPS 203 §7.2 encapsulation key
   * check, failing with illegal_parameter. */
  if (rtcsec_mlkem768_check_ek(client_share) != 0)
    return RTCSEC_ERR_KEY_SHARE_INVALID;
  /* The server share is ciphertext || X25519 share, the secret ML-KEM shared
   * secret || X25519 shared secret: both ML-KEM first for this group. */
  int rc = ecdh_server(RTCSEC_GROUP_X25519, client_share + RTCSEC_MLKEM768_EK_LEN,
                       RTCSEC_X25519_SHARE_LEN, server_share + RTCSEC_MLKEM768_CT_LEN,
                       secret + RTCSEC_MLKEM_SS_LEN);
  if (rc == 0) {
    rc = rtcsec_mlkem768_encaps(client_share, server_share, secret);
    /* The modulus check passed above, so only OpenSSL can fail here. */
    if (rc != 0)
      rc = RTCSEC_ERR_CRYPTO;
  }
  if (rc != 0) {
    memset(server_share, 0, RTCSEC_X25519MLKEM768_SERVER_SHARE_LEN);
    OPENSSL_cleanse(secret, RTCSEC_X25519MLKEM768_SECRET_LEN);
  }
  return rc;
}

/* ---- by group ------------------------------------------------------------------ */

int rtcsec_kex_group_supported(uint16_t group) {
  return group == RTCSEC_GROUP_X25519 || group == RTCSEC_GROUP_SECP256R1 ||
         group == RTCSEC_GROUP_X25519MLKEM768;
}

const char *rtcsec_kex_group_name(uint16_t group) {
  switch (group) {
  case RTCSEC_GROUP_X25519MLKEM768:
    return "X25519MLKEM768";
  case RTCSEC_GROUP_X25519:
    return "x25519";
  case RTCSEC_GROUP_SECP256R1:
    return "secp256r1";
  default:
    return "unknown";
  }
}

size_t rtcsec_kex_client_share_len(uint16_t group) {
  switch (group) {
  case RTCSEC_GROUP_X25519MLKEM768:
    return RTCSEC_X25519MLKEM768_CLIENT_SHARE_LEN;
  case RTCSEC_GROUP_X25519:
    return RTCSEC_X25519_SHARE_LEN;
  case RTCSEC_GROUP_SECP256R1:
    return RTCSEC_P256_SHARE_LEN;
  default:
    return 0;
  }
}

size_t rtcsec_kex_server_share_len(uint16_t group) {
  return group == RTCSEC_GROUP_X25519MLKEM768 ? RTCSEC_X25519MLKEM768_SERVER_SHARE_LEN
                                              : rtcsec_kex_client_share_len(group);
}

size_t rtcsec_kex_secret_len(uint16_t group) {
  switch (group) {
  case RTCSEC_GROUP_X25519MLKEM768:
    return RTCSEC_X25519MLKEM768_SECRET_LEN;
  case RTCSEC_GROUP_X25519:
    return RTCSEC_X25519_SECRET_LEN;
  case RTCSEC_GROUP_SECP256R1:
    return RTCSEC_P256_SECRET_LEN;
  default:
    return 0;
  }
}

int rtcsec_kex_server(uint16_t group, const uint8_t *client_share, size_t len,
                      uint8_t *server_share, size_t server_share_cap, size_t *server_share_len,
                      uint8_t *secret, size_t secret_cap, size_t *secret_len) {
  if (server_share_len != NULL)
    *server_share_len = 0;
  if (secret_len != NULL)
    *secret_len = 0;
  if (!rtcsec_kex_group_supported(group) || client_share == NULL || server_share == NULL ||
      secret == NULL || server_share_len == NULL || secret_len == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  size_t share_n = rtcsec_kex_server_share_len(group), secret_n = rtcsec_kex_secret_len(group);
  if (server_share_cap < share_n || secret_cap < secret_n)
    return RTCSEC_ERR_BUFFER_TOO_SMALL;
  int rc = group == RTCSEC_GROUP_X25519MLKEM768
               ? rtcsec_x25519mlkem768_server(client_share, len, server_share, secret)
               : ecdh_server(group, client_share, len, server_share, secret);
  if (rc == 0) {
    *server_share_len = share_n;
    *secret_len = secret_n;
  }
  return rc;
}

/* ---- client side ------------------------------------------------------------------ */

void rtcsec_kex_client_clear(rtcsec_kex_client *c) {
  if (c == NULL)
    return;
  EVP_PKEY_free(c->ecdh);
  OPENSSL_cleanse(c, sizeof(*c));
}

/* The client key pair from `priv` (X25519 scalar, or d || z || scalar), or
 * random when priv is NULL. */
static int client_make(rtcsec_kex_client *c, uint16_t group, const uint8_t *priv, uint8_t *share) {
  c->group = group;
  int rc = 0;
  size_t off = 0;
  if (group == RTCSEC_GROUP_X25519MLKEM768) {
    /* ek first, then the X25519 share. */
    rc = priv != NULL ? rtcsec_mlkem768_keygen_internal(priv, priv + 32, share, c->mlkem_dk)
                      : rtcsec_mlkem768_keygen(share, c->mlkem_dk);
    off = RTCSEC_MLKEM768_EK_LEN;
    group = RTCSEC_GROUP_X25519;
    if (priv != NULL)
      priv += 2 * RTCSEC_MLKEM_SEED_LEN;
  }
  if (rc != 0)
    return rc;
  if (priv == NULL) {
    rc = ecdh_keygen(group, &c->ecdh);
  } else {
    c->ecdh = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, 32);
    rc = c->ecdh != NULL ? 0 : RTCSEC_ERR_CRYPTO;
  }
  if (rc == 0)
    rc = ecdh_share(group, c->ecdh, share + off);
  return rc;
}

static int client_start(rtcsec_kex_client *c, uint16_t group, const uint8_t *priv, uint8_t *share,
                        size_t cap, size_t *share_len) {
  size_t n = rtcsec_kex_client_share_len(group);
  if (cap < n)
    return RTCSEC_ERR_BUFFER_TOO_SMALL;
  int rc = client_make(c, group, priv, share);
  if (rc != 0) {
    rtcsec_kex_client_clear(c);
    memset(share, 0, n);
    return rc;
  }
  *share_len = n;
  return 0;
}

int rtcsec_kex_client_keygen(rtcsec_kex_client *c, uint16_t group, uint8_t *share, size_t cap,
                             size_t *share_len) {
  if (share_len != NULL)
    *share_len = 0;
  if (c == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  memset(c, 0, sizeof(*c));
  if (!rtcsec_kex_group_supported(group) || share == NULL || share_len == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  return client_start(c, group, NULL, share, cap, share_len);
}

int rtcsec_kex_client_from_private(rtcsec_kex_client *c, uint16_t group, const uint8_t *priv,
                                   size_t priv_len, uint8_t *share, size_t cap, size_t *share_len) {
  if (share_len != NULL)
    *share_len = 0;
  if (c == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  memset(c, 0, sizeof(*c));
  size_t want = group == RTCSEC_GROUP_X25519           ? 32
                : group == RTCSEC_GROUP_X25519MLKEM768 ? 2 * RTCSEC_MLKEM_SEED_LEN + 32
                                                       : 0;
  if (want == 0 || priv == NULL || priv_len != want || share == NULL || share_len == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  return client_start(c, group, priv, share, cap, share_len);
}

int rtcsec_kex_client_finish(rtcsec_kex_client *c, const uint8_t *server_share, size_t len,
                             uint8_t *secret, size_t cap, size_t *secret_len) {
  if (secret_len != NULL)
    *secret_len = 0;
  if (c == NULL || c->ecdh == NULL || !rtcsec_kex_group_supported(c->group) ||
      server_share == NULL || secret == NULL || secret_len == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  size_t n = rtcsec_kex_secret_len(c->group);
  if (cap < n)
    return RTCSEC_ERR_BUFFER_TOO_SMALL;
  if (len != rtcsec_kex_server_share_len(c->group))
    return RTCSEC_ERR_KEY_SHARE_LENGTH;
  int rc = 0;
  const uint8_t *ecdh_share_in = server_share;
  uint8_t *ecdh_secret = secret;
  uint16_t ecdh_group = c->group;
  if (c->group == RTCSEC_GROUP_X25519MLKEM768) {
    /* Implicit rejection: a bad ciphertext still gives a (wrong) secret. */
    rc = rtcsec_mlkem768_decaps(c->mlkem_dk, server_share, secret);
    ecdh_share_in = server_share + RTCSEC_MLKEM768_CT_LEN;
    ecdh_secret = secret + RTCSEC_MLKEM_SS_LEN;
    ecdh_group = RTCSEC_GROUP_X25519;
  }
  EVP_PKEY *peer = NULL;
  if (rc == 0)
    rc = ecdh_peer(ecdh_group, ecdh_share_in, ecdh_share_len(ecdh_group), &peer);
  if (rc == 0)
    rc = ecdh_derive(c->ecdh, peer, ecdh_secret);
  EVP_PKEY_free(peer);
  if (rc != 0) {
    OPENSSL_cleanse(secret, n);
    return rc;
  }
  *secret_len = n;
  return 0;
}

int rtcsec_x25519mlkem768_client_keygen(
    rtcsec_kex_client *c, uint8_t client_share[RTCSEC_X25519MLKEM768_CLIENT_SHARE_LEN]) {
  size_t n = 0;
  return rtcsec_kex_client_keygen(c, RTCSEC_GROUP_X25519MLKEM768, client_share,
                                  RTCSEC_X25519MLKEM768_CLIENT_SHARE_LEN, &n);
}

int rtcsec_x25519mlkem768_client_finish(rtcsec_kex_client *c, const uint8_t *server_share,
                                        size_t len,
                                        uint8_t secret[RTCSEC_X25519MLKEM768_SECRET_LEN]) {
  if (c == NULL || c->group != RTCSEC_GROUP_X25519MLKEM768)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  size_t n = 0;
  return rtcsec_kex_client_finish(c, server_share, len, secret, RTCSEC_X25519MLKEM768_SECRET_LEN,
                                  &n);
}
