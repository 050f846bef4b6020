/* Certificates, PEM I/O and RFC 8122 fingerprints (lib/cert.c). */
#include <check.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "cert_internal.h"
#include "rtcsec/cert.h"
#include "rtcsec/error.h"

/* ---- fixed vectors ------------------------------------------------------ */

/* Made once with
 *   openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
 *     -keyout k.pem -out c.pem -subj /CN=vector -days 3650
 * and fingerprinted with `openssl x509 -in c.pem -noout -fingerprint -sha256`
 * (and -sha1, -sha224, -sha384, -sha512): an independent implementation. */
static const char vector_cert_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBdjCCAR2gAwIBAgIUL7Z0aJa7+pK2PJO5ORjdPCDSQ4cwCgYIKoZIzj0EAwIw\n"
    "ETEPMA0GA1UEAwwGdmVjdG9yMB4XDTI2MTEyNjE0NDI0MFoXDTM2MTEyMzE0NDI0\n"
    "MFowETEPMA0GA1UEAwwGdmVjdG9yMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n"
    "ylj//jkKXAG0ESzqqMyfz1VuMgk6lqjbzFcZNuqqf9pLG9EqLCZa7mcj+DietGM6\n"
    "udGo6HNAhHu2/0wE/dRPoqNTMFEwHQYDVR0OBBYEFAgnlgq5FUQCanF6u+UWsKes\n"
    "fp5EMB8GA1UdIwQYMBaAFAgnlgq5FUQCanF6u+UWsKesfp5EMA8GA1UdEwEB/wQF\n"
    "MAMBAf8wCgYIKoZIzj0EAwIDRwAwRAIgbzsgNfGgEARMnAPf6llOlPFp0hiWbq9v\n"
    "aez0ugwN0VsCIHxfWaaYH6Fqbt+XvUzbFMWtw81fevLxRMjNYyPWxdvv\n"
    "-----END CERTIFICATE-----\n";

static const char vector_key_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg0JoxA77FER+HkiRL\n"
    "4KP3FljwiTq4i6uE0mGj4W01DjOhRANCAATKWP/+OQpcAbQRLOqozJ/PVW4yCTqW\n"
    "qNvMVxk26qp/2ksb0SosJlruZyP4OJ60Yzq50ajoc0CEe7b/TAT91E+i\n"
    "-----END PRIVATE KEY-----\n";

struct vector_fp {
  rtcsec_hash hash;
  const char *text; /* as the openssl CLI printed it, "sha256 Fingerprint=" renamed */
};

static const struct vector_fp vector_fps[] = {
    {RTCSEC_HASH_SHA1, "sha-1 C6:52:D2:03:43:39:56:7B:B0:4D:DF:5F:33:F4:31:A1:08:8E:97:BE"},
    {RTCSEC_HASH_SHA224, "sha-224 6D:85:00:BB:30:88:41:E5:EA:0F:11:94:29:33:01:48:A6:0F:F1:9B:"
                         "D1:6E:CF:2F:17:D4:CC:37"},
    {RTCSEC_HASH_SHA256, "sha-256 A5:9D:E4:0C:05:A7:29:20:C9:69:FC:DA:A8:52:C0:01:54:E3:C4:5F:"
                         "51:62:A3:29:31:B1:7C:E8:D7:23:A1:A8"},
    {RTCSEC_HASH_SHA384, "sha-384 D6:2B:52:5E:72:22:F4:BC:29:E7:6C:08:67:03:E6:A1:9B:68:65:2F:"
                         "A6:82:C2:7E:56:06:F0:B9:9A:C9:78:96:8A:B4:26:AE:26:69:45:61:5E:2D:9F:"
                         "C9:3C:19:3F:FB"},
    {RTCSEC_HASH_SHA512, "sha-512 FA:28:2D:30:1F:14:9C:FB:78:45:83:3F:02:A8:B0:41:0F:AA:D0:AB:"
                         "E2:52:28:0F:64:A5:79:9E:7A:E7:7E:E2:05:B8:E7:B3:7A:DE:3C:C7:09:A9:A2:"
                         "02:45:36:A0:FD:DD:30:11:93:E0:F7:CF:3E:41:E8:47:59:8A:81:C7:51"},
};

#define VECTOR_SHA256 (vector_fps[2].text)

/* An EC P-384 pair (openssl req ... ec_paramgen_curve:P-384): valid, but
 * not a key type rtcsec uses. */
static const char p384_cert_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBsTCCATagAwIBAgIUCZBFb6kF2/+nkmsGe6FAO9ylU3MwCgYIKoZIzj0EAwIw\n"
    "DzENMAsGA1UEAwwEcDM4NDAeFw0yNjExMjYxNDQyNDFaFw0zNjExMjMxNDQyNDFa\n"
    "MA8xDTALBgNVBAMMBHAzODQwdjAQBgcqhkjOPQIBBgUrgQQAIgNiAARic6e8ss1U\n"
    "dsBHcikcEWRVTY4xvbmBUoA8yqG8O/GkqgQPaM28A1vJlIvgPotOD9Hye1xgcvbJ\n"
    "5HtgrMnWXWfiriU5DjGMXGI6hf5GioygclPT1OdWpuVzmrLj1hdyt2mjUzBRMB0G\n"
    "A1UdDgQWBBQTP+qLQ9Bgy5W3cSkHNwPeSD86pjAfBgNVHSMEGDAWgBQTP+qLQ9Bg\n"
    "y5W3cSkHNwPeSD86pjAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA2kAMGYC\n"
    "MQC2ZBpnlYhmharyiw/3vg2L2mde3j/CjmCFUZEXVSNy2G6izTKFe3BKHsQHLs1u\n"
    "HEsCMQDU2nbU/cYQ05ZMZpJC8tjTQlsOB8H6erj9mex4lNLv6Jx117TX1D94eALr\n"
    "1B5IuYM=\n"
    "-----END CERTIFICATE-----\n";

static const char p384_key_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIG2AgEAMBAGByqGSM49AgEGBSuBBAAiBIGeMIGbAgEBBDDhZO6X9UhcSAbNT6gq\n"
    "DxsNirgmhxaKLZ4+pNspGdkuPVx8ljm0tOPHHX8leiudlR6hZANiAARic6e8ss1U\n"
    "dsBHcikcEWRVTY4xvbmBUoA8yqG8O/GkqgQPaM28A1vJlIvgPotOD9Hye1xgcvbJ\n"
    "5HtgrMnWXWfiriU5DjGMXGI6hf5GioygclPT1OdWpuVzmrLj1hdyt2k=\n"
    "-----END PRIVATE KEY-----\n";

static const rtcsec_hash all_hashes[] = {RTCSEC_HASH_SHA1, RTCSEC_HASH_SHA224, RTCSEC_HASH_SHA256,
                                         RTCSEC_HASH_SHA384, RTCSEC_HASH_SHA512};
#define N_HASHES (sizeof(all_hashes) / sizeof(all_hashes[0]))

/* ---- helpers ------------------------------------------------------------ */

static int parse_str(rtcsec_fingerprint *fp, const char *s) {
  return rtcsec_fingerprint_parse(fp, s, strlen(s));
}

static rtcsec_cert *generate(rtcsec_key_type type) {
  rtcsec_cert_config cfg;
  rtcsec_cert_config_default(&cfg);
  cfg.key_type = type;
  rtcsec_cert *c = NULL;
  ck_assert_int_eq(rtcsec_cert_generate(&c, &cfg), RTCSEC_OK);
  ck_assert_ptr_nonnull(c);
  return c;
}

/* The PEM text of one part in a new NUL-terminated buffer. */
static char *to_pem(const rtcsec_cert *c, rtcsec_pem_part which, size_t *len_out) {
  size_t need = 0;
  ck_assert_int_eq(rtcsec_cert_to_pem(c, which, NULL, 0, &need), RTCSEC_ERR_BUFFER_TOO_SMALL);
  char *buf = malloc(need + 1);
  ck_assert_ptr_nonnull(buf);
  size_t len = 0;
  ck_assert_int_eq(rtcsec_cert_to_pem(c, which, buf, need + 1, &len), RTCSEC_OK);
  ck_assert_uint_eq(len, need);
  ck_assert_uint_eq(strlen(buf), len);
  if (len_out != NULL)
    *len_out = len;
  return buf;
}

static void assert_same_fingerprint(const rtcsec_cert *a, const rtcsec_cert *b) {
  rtcsec_fingerprint fa, fb;
  ck_assert_int_eq(rtcsec_cert_fingerprint(a, RTCSEC_HASH_SHA256, &fa), RTCSEC_OK);
  ck_assert_int_eq(rtcsec_cert_fingerprint(b, RTCSEC_HASH_SHA256, &fb), RTCSEC_OK);
  ck_assert_int_eq(rtcsec_fingerprint_equal(&fa, &fb), 1);
}

static void write_file(const char *path, const void *data, size_t len) {
  FILE *f = fopen(path, "wb");
  ck_assert_ptr_nonnull(f);
  if (len > 0)
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
  ck_assert_int_eq(fclose(f), 0);
}

/* A fresh directory under /tmp; the test removes what it made. */
static void make_tmpdir(char *dir, size_t cap) {
  ck_assert_int_lt(snprintf(dir, cap, "/tmp/rtcsec-test-cert-XXXXXX"), (int)cap);
  ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void path_in(char *out, size_t cap, const char *dir, const char *name) {
  ck_assert_int_lt(snprintf(out, cap, "%s/%s", dir, name), (int)cap);
}

/* ---- generation --------------------------------------------------------- */

static void assert_generated_cert(const rtcsec_cert *c, rtcsec_key_type type, const char *cn,
                                  uint32_t days, int64_t offset_s) {
  X509 *x = rtcsec_cert_x509(c);
  EVP_PKEY *pkey = rtcsec_cert_pkey(c);
  ck_assert_ptr_nonnull(x);
  ck_assert_ptr_nonnull(pkey);
  ck_assert_int_eq(rtcsec_cert_key_type(c), type);
  ck_assert_int_eq(X509_get_version(x), X509_VERSION_3);

  /* Key type as OpenSSL sees it. */
  EVP_PKEY *pub = X509_get0_pubkey(x);
  ck_assert_ptr_nonnull(pub);
  if (type == RTCSEC_KEY_ECDSA_P256) {
    ck_assert_int_eq(EVP_PKEY_get_base_id(pub), EVP_PKEY_EC);
    char group[64];
    size_t glen = 0;
    ck_assert_int_eq(EVP_PKEY_get_group_name(pub, group, sizeof(group), &glen), 1);
    ck_assert_int_eq(OBJ_txt2nid(group), NID_X9_62_prime256v1);
    ck_assert_int_eq(X509_get_signature_nid(x), NID_ecdsa_with_SHA256);
  } else {
    ck_assert_int_eq(EVP_PKEY_get_base_id(pub), EVP_PKEY_RSA);
    ck_assert_int_eq(EVP_PKEY_get_bits(pub), 2048);
    ck_assert_int_eq(X509_get_signature_nid(x), NID_sha256WithRSAEncryption);
  }

  /* Self-signed: subject == issuer == CN, and the signature verifies. */
  char got_cn[128];
  ck_assert_int_gt(
      X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, got_cn, sizeof(got_cn)),
      0);
  ck_assert_str_eq(got_cn, cn);
  ck_assert_int_eq(X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)), 0);
  ck_assert_int_eq(X509_verify(x, pub), 1);
  ck_assert_int_eq(X509_check_private_key(x, pkey), 1);

  /* notBefore = now + offset (a few seconds of slack for slow runs). */
  int d = 0, s = 0;
  ck_assert_int_eq(ASN1_TIME_diff(&d, &s, NULL, X509_get0_notBefore(x)), 1);
  int64_t nb_from_now = (int64_t)d * 86400 + s;
  ck_assert_int_ge(nb_from_now, offset_s - 60);
  ck_assert_int_le(nb_from_now, offset_s + 1);
  /* notAfter = notBefore + validity_days, exactly. */
  ck_assert_int_eq(ASN1_TIME_diff(&d, &s, X509_get0_notBefore(x), X509_get0_notAfter(x)), 1);
  ck_assert_int_eq(d, (int)days);
  ck_assert_int_eq(s, 0);

  /* Serial: positive, nonzero, fits 63 bits. */
  BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
  ck_assert_ptr_nonnull(bn);
  ck_assert_int_eq(BN_is_negative(bn), 0);
  ck_assert_int_eq(BN_is_zero(bn), 0);
  ck_assert_int_le(BN_num_bits(bn), 63);
  BN_free(bn);
}

START_TEST(generate_ecdsa_p256_by_default_is_self_signed_with_cn_and_validity) {
  rtcsec_cert_config cfg;
  rtcsec_cert_config_default(&cfg);
  ck_assert_int_eq(cfg.key_type, RTCSEC_KEY_ECDSA_P256);
  ck_assert_str_eq(cfg.common_name, "rtcsec");
  ck_assert_uint_eq(cfg.validity_days, 30);
  ck_assert_int_eq(cfg.not_before_offset_s, -86400);

  rtcsec_cert *c = NULL;
  ck_assert_int_eq(rtcsec_cert_generate(&c, &cfg), RTCSEC_OK);
  assert_generated_cert(c, RTCSEC_KEY_ECDSA_P256, "rtcsec", 30, -86400);
  rtcsec_cert_free(c);
}
END_TEST

START_TEST(generate_rsa_2048_is_self_signed_with_sha256_and_custom_window) {
  rtcsec_cert_config cfg;
  rtcsec_cert_config_default(&cfg);
  cfg.key_type = RTCSEC_KEY_RSA_2048;
  cfg.common_name = "rsa peer";
  cfg.validity_days = 365;
  cfg.not_before_offset_s = 0;
  rtcsec_cert *c = NULL;
  ck_assert_int_eq(rtcsec_cert_generate(&c, &cfg), RTCSEC_OK);
  assert_generated_cert(c, RTCSEC_KEY_RSA_2048, "rsa peer", 365, 0);
  rtcsec_cert_free(c);
}
END_TEST

START_TEST(generate_with_null_config_uses_the_defaults) {
  rtcsec_cert *c = NULL;
  ck_assert_int_eq(rtcsec_cert_generate(&c, NULL), RTCSEC_OK);
  assert_generated_cert(c, RTCSEC_KEY_ECDSA_P256, "rtcsec", 30, -86400);
  rtcsec_cert_free(c);
}
END_TEST

START_TEST(generate_gives_each_certificate_a_different_serial_and_key) {
  rtcsec_cert *a = generate(RTCSEC_KEY_ECDSA_P256);
  rtcsec_cert *b = generate(RTCSEC_KEY_ECDSA_P256);
  ck_assert_int_ne(ASN1_INTEGER_cmp(X509_get0_serialNumber(rtcsec_cert_x509(a)),
                                    X509_get0_serialNumber(rtcsec_cert_x509(b))),
                   0);
  ck_assert_int_ne(EVP_PKEY_eq(rtcsec_cert_pkey(a), rtcsec_cert_pkey(b)), 1);
  rtcsec_fingerprint fa, fb;
  ck_assert_int_eq(rtcsec_cert_fingerprint(a, RTCSEC_HASH_SHA256, &fa), RTCSEC_OK);
  ck_assert_int_eq(rtcsec_cert_fingerprint(b, RTCSEC_HASH_SHA256, &fb), RTCSEC_OK);
  ck_assert_int_eq(rtcsec_fingerprint_equal(&fa, &fb), 0);
  rtcsec_cert_free(a);
  rtcsec_cert_free(b);
}
END_TEST

START_TEST(generate_rejects_invalid_configs) {
  rtcsec_cert_config cfg;
  rtcsec_cert *c = (rtcsec_cert *)&cfg; /* must be reset to NULL on failure */

  ck_assert_int_eq(rtcsec_cert_generate(NULL, NULL), RTCSEC_ERR_INVALID_ARGUMENT);

  rtcsec_cert_config_default(&cfg);
  cfg.key_type = (rtcsec_key_type)7;
  ck_assert_int_eq(rtcsec_cert_generate(&c, &cfg), RTCSEC_ERR_INVALID_ARGUMENT);
  ck_assert_ptr_null(c);

  rtcsec_cert_config_default(&cfg);
  cfg.validity_days = 0;
  ck_assert_int_eq(rtcsec_cert_generate(&c, &cfg), RTCSEC_ERR_INVALID_ARGUMENT);

  rtcsec_cert_config_default(&cfg);
  cfg.common_name = NULL;
  ck_assert_int_eq(rtcsec_cert_generate(&c, &cfg), RTCSEC_ERR_INVALID_ARGUMENT);
  cfg.common_name = "";
  ck_assert_int_eq(rtcsec_cert_generate(&c, &cfg), RTCSEC_ERR_INVALID_ARGUMENT);
  /* X.520 ub-common-name is 64 characters. */
  char long_cn[66];
  memset(long_cn, 'x', sizeof(long_cn) - 1);
  long_cn[65] = '\0';
  cfg.common_name = long_cn;
  ck_assert_int_eq(rtcsec_cert_generate(&c, &cfg), RTCSEC_ERR_INVALID_ARGUMENT);
  long_cn[64] = '\0';
  ck_assert_int_eq(rtcsec_cert_generate(&c, &cfg), RTCSEC_OK);
  rtcsec_cert_free(c);
}
END_TEST

/* ---- fingerprints: format and parse ------------------------------------ */

START_TEST(hash_names_and_lengths_follow_rfc_8122) {
  static const char *const names[] = {"sha-1", "sha-224", "sha-256", "sha-384", "sha-512"};
  static const size_t lens[] = {20, 28, 32, 48, 64};
  for (size_t i = 0; i < N_HASHES; i++) {
    ck_assert_str_eq(rtcsec_hash_name(all_hashes[i]), names[i]);
    ck_assert_uint_eq(rtcsec_hash_len(all_hashes[i]), lens[i]);
  }
  ck_assert_str_eq(rtcsec_hash_name((rtcsec_hash)0), "unknown");
  ck_assert_uint_eq(rtcsec_hash_len((rtcsec_hash)6), 0);
}
END_TEST

START_TEST(fingerprint_format_and_parse_round_trip_for_every_hash) {
  for (size_t i = 0; i < N_HASHES; i++) {
    rtcsec_fingerprint fp;
    memset(&fp, 0, sizeof(fp));
    fp.hash = all_hashes[i];
    fp.len = rtcsec_hash_len(fp.hash);
    for (size_t j = 0; j < fp.len; j++)
      fp.digest[j] = (uint8_t)(j * 37 + i * 11 + 0xA0);

    char buf[RTCSEC_FINGERPRINT_STRLEN];
    size_t len = 0;
    ck_assert_int_eq(rtcsec_fingerprint_format(&fp, buf, sizeof(buf), &len), RTCSEC_OK);
    const char *name = rtcsec_hash_name(fp.hash);
    ck_assert_uint_eq(len, strlen(name) + 1 + fp.len * 3 - 1);
    ck_assert_uint_eq(strlen(buf), len);
    ck_assert_int_eq(strncmp(buf, name, strlen(name)), 0);
    ck_assert_int_eq(buf[strlen(name)], ' ');
    for (const char *p = buf + strlen(name) + 1; *p != '\0'; p++)
      ck_assert(*p == ':' || (*p >= '0' && *p <= '9') || (*p >= 'A' && *p <= 'F'));

    rtcsec_fingerprint back;
    ck_assert_int_eq(rtcsec_fingerprint_parse(&back, buf, len), RTCSEC_OK);
    ck_assert_int_eq(back.hash, fp.hash);
    ck_assert_uint_eq(back.len, fp.len);
    ck_assert_int_eq(memcmp(back.digest, fp.digest, fp.len), 0);
    ck_assert_int_eq(rtcsec_fingerprint_equal(&fp, &back), 1);
  }
}
END_TEST

START_TEST(fingerprint_of_known_certificate_matches_openssl_cli) {
  /* DER through OpenSSL's own decoder, not through rtcsec. */
  BIO *bio = BIO_new_mem_buf(vector_cert_pem, (int)strlen(vector_cert_pem));
  X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
  BIO_free(bio);
  ck_assert_ptr_nonnull(x);
  unsigned char *der = NULL;
  int der_len = i2d_X509(x, &der);
  ck_assert_int_gt(der_len, 0);
  X509_free(x);

  rtcsec_cert *c = NULL;
  ck_assert_int_eq(rtcsec_cert_load_pem(&c, vector_cert_pem, strlen(vector_cert_pem),
                                        vector_key_pem, strlen(vector_key_pem)),
                   RTCSEC_OK);

  for (size_t i = 0; i < sizeof(vector_fps) / sizeof(vector_fps[0]); i++) {
    rtcsec_fingerprint expected, from_der, from_cert;
    ck_assert_int_eq(parse_str(&expected, vector_fps[i].text), RTCSEC_OK);
    ck_assert_int_eq(expected.hash, vector_fps[i].hash);
    ck_assert_int_eq(rtcsec_fingerprint_of_der(der, (size_t)der_len, vector_fps[i].hash, &from_der),
                     RTCSEC_OK);
    ck_assert_int_eq(rtcsec_fingerprint_equal(&expected, &from_der), 1);
    ck_assert_int_eq(rtcsec_cert_fingerprint(c, vector_fps[i].hash, &from_cert), RTCSEC_OK);
    ck_assert_int_eq(rtcsec_fingerprint_equal(&expected, &from_cert), 1);

    char buf[RTCSEC_FINGERPRINT_STRLEN];
    ck_assert_int_eq(rtcsec_fingerprint_format(&from_cert, buf, sizeof(buf), NULL), RTCSEC_OK);
    ck_assert_str_eq(buf, vector_fps[i].text);
  }
  OPENSSL_free(der);
  rtcsec_cert_free(c);
}
END_TEST

START_TEST(fingerprint_parse_accepts_sdp_prefix_blanks_and_any_case) {
  rtcsec_fingerprint ref, fp;
  ck_assert_int_eq(parse_str(&ref, VECTOR_SHA256), RTCSEC_OK);

  static const char *const ok[] = {
      "a=fingerprint:sha-256 A5:9D:E4:0C:05:A7:29:20:C9:69:FC:DA:A8:52:C0:01:54:E3:C4:5F:51:62:"
      "A3:29:31:B1:7C:E8:D7:23:A1:A8",
      "fingerprint:sha-256 A5:9D:E4:0C:05:A7:29:20:C9:69:FC:DA:A8:52:C0:01:54:E3:C4:5F:51:62:A3:"
      "29:31:B1:7C:E8:D7:23:A1:A8",
      "A=FINGERPRINT:SHA-256 a5:9d:e4:0c:05:a7:29:20:c9:69:fc:da:a8:52:c0:01:54:e3:c4:5f:51:62:"
      "a3:29:31:b1:7c:e8:d7:23:a1:a8",
      " \t Sha-256 \t a5:9D:e4:0C:05:a7:29:20:C9:69:fC:Da:A8:52:c0:01:54:E3:C4:5F:51:62:A3:29:"
      "31:B1:7C:E8:D7:23:A1:A8 \t ",
      "  a=fingerprint:sha-256   A5:9D:E4:0C:05:A7:29:20:C9:69:FC:DA:A8:52:C0:01:54:E3:C4:5F:"
      "51:62:A3:29:31:B1:7C:E8:D7:23:A1:A8  ",
  };
  for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
    memset(&fp, 0, sizeof(fp));
    ck_assert_msg(parse_str(&fp, ok[i]) == RTCSEC_OK, "rejected: %s", ok[i]);
    ck_assert_int_eq(rtcsec_fingerprint_equal(&ref, &fp), 1);
  }
}
END_TEST

struct bad_case {
  const char *text;
  int err;
};

START_TEST(fingerprint_parse_rejects_malformed_strings_with_specific_errors) {
  /* A valid sha-256 body to vary. */
#define BODY32                                                                                     \
  "A5:9D:E4:0C:05:A7:29:20:C9:69:FC:DA:A8:52:C0:01:54:E3:C4:5F:51:62:A3:29:31:B1:7C:E8:D7:23:A1:"  \
  "A8"
  static const struct bad_case cases[] = {
      {"", RTCSEC_ERR_FINGERPRINT_MALFORMED},
      {"   \t ", RTCSEC_ERR_FINGERPRINT_MALFORMED},
      {"a=fingerprint:", RTCSEC_ERR_FINGERPRINT_MALFORMED},
      /* no hash name */
      {BODY32, RTCSEC_ERR_FINGERPRINT_MALFORMED},
      {"a=fingerprint:" BODY32, RTCSEC_ERR_FINGERPRINT_MALFORMED},
      /* hash name but no digest */
      {"sha-256", RTCSEC_ERR_FINGERPRINT_MALFORMED},
      {"sha-256   ", RTCSEC_ERR_FINGERPRINT_MALFORMED},
      /* unknown hash functions */
      {"md5 A5:9D:E4:0C:05:A7:29:20:C9:69:FC:DA:A8:52:C0:01", RTCSEC_ERR_FINGERPRINT_UNKNOWN_HASH},
      {"sha-3 " BODY32, RTCSEC_ERR_FINGERPRINT_UNKNOWN_HASH},
      {"sha256 " BODY32, RTCSEC_ERR_FINGERPRINT_UNKNOWN_HASH},
      {"sha-2566 " BODY32, RTCSEC_ERR_FINGERPRINT_UNKNOWN_HASH},
      {"sha-25 " BODY32, RTCSEC_ERR_FINGERPRINT_UNKNOWN_HASH},
      /* hash name glued to the digest, or with characters no token has */
      {"sha-256:" BODY32, RTCSEC_ERR_FINGERPRINT_MALFORMED},
      {"sha-256\"x " BODY32, RTCSEC_ERR_FINGERPRINT_MALFORMED},
      /* missing colon */
      {"sha-256 A59D:E4:0C:05:A7:29:20:C9:69:FC:DA:A8:52:C0:01:54:E3:C4:5F:51:62:A3:29:31:B1:7C:"
       "E8:D7:23:A1:A8",
       RTCSEC_ERR_FINGERPRINT_MALFORMED},
      {"sha-256 A5 9D:E4:0C:05:A7:29:20:C9:69:FC:DA:A8:52:C0:01:54:E3:C4:5F:51:62:A3:29:31:B1:7C:"
       "E8:D7:23:A1:A8",
       RTCSEC_ERR_FINGERPRINT_MALFORMED},
      /* trailing, leading and doubled colons */
      {"sha-256 " BODY32 ":", RTCSEC_ERR_FINGERPRINT_MALFORMED},
      {"sha-256 :" BODY32, RTCSEC_ERR_FINGERPRINT_MALFORMED},
      {"sha-256 A5::9D:E4:0C:05:A7:29:20:C9:69:FC:DA:A8:52:C0:01:54:E3:C4:5F:51:62:A3:29:31:B1:"
       "7C:E8:D7:23:A1:A8",
       RTCSEC_ERR_FINGERPRINT_MALFORMED},
      /* 3-digit and 1-digit groups */
      {"sha-256 A59:9D:E4:0C:05:A7:29:20:C9:69:FC:DA:A8:52:C0:01:54:E3:C4:5F:51:62:A3:29:31:B1:"
       "7C:E8:D7:23:A1:A8",
       RTCSEC_ERR_FINGERPRINT_MALFORMED},
      {"sha-256 5:9D:E4:0C:05:A7:29:20:C9:69:FC:DA:A8:52:C0:01:54:E3:C4:5F:51:62:A3:29:31:B1:7C:"
       "E8:D7:23:A1:A8",
       RTCSEC_ERR_FINGERPRINT_MALFORMED},
      /* non-hex digits */
      {"sha-256 G5:9D:E4:0C:05:A7:29:20:C9:69:FC:DA:A8:52:C0:01:54:E3:C4:5F:51:62:A3:29:31:B1:"
       "7C:E8:D7:23:A1:A8",
       RTCSEC_ERR_FINGERPRINT_MALFORMED},
      {"sha-256 A5:9D:E4:0C:05:A7:29:20:C9:69:FC:DA:A8:52:C0:01:54:E3:C4:5F:51:62:A3:29:31:B1:"
       "7C:E8:D7:23:A1:AZ",
       RTCSEC_ERR_FINGERPRINT_MALFORMED},
      {"sha-256 0xA5:9D", RTCSEC_ERR_FINGERPRINT_MALFORMED},
      /* other separators, words after the digest */
      {"sha-256 A5-9D-E4", RTCSEC_ERR_FINGERPRINT_MALFORMED},
      {"sha-256 A5: 9D", RTCSEC_ERR_FINGERPRINT_MALFORMED},
      {"sha-256 " BODY32 " extra", RTCSEC_ERR_FINGERPRINT_MALFORMED},
      {"sha-256 " BODY32 "\r\n", RTCSEC_ERR_FINGERPRINT_MALFORMED},
      /* well formed, wrong number of bytes for the hash */
      {"sha-256 A5", RTCSEC_ERR_FINGERPRINT_LENGTH},
      {"sha-256 A5:9D:E4:0C:05:A7:29:20:C9:69:FC:DA:A8:52:C0:01:54:E3:C4:5F:51:62:A3:29:31:B1:"
       "7C:E8:D7:23:A1",
       RTCSEC_ERR_FINGERPRINT_LENGTH},
      {"sha-256 " BODY32 ":00", RTCSEC_ERR_FINGERPRINT_LENGTH},
      {"sha-1 " BODY32, RTCSEC_ERR_FINGERPRINT_LENGTH},
      {"sha-512 " BODY32, RTCSEC_ERR_FINGERPRINT_LENGTH},
  };
#undef BODY32
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    rtcsec_fingerprint fp;
    memset(&fp, 0x5A, sizeof(fp));
    int rc = parse_str(&fp, cases[i].text);
    ck_assert_msg(rc == cases[i].err, "case %zu \"%s\": got %d, want %d", i, cases[i].text, rc,
                  cases[i].err);
    /* Nothing is written on failure. */
    ck_assert_uint_eq(fp.digest[0], 0x5A);
  }

  rtcsec_fingerprint fp;
  ck_assert_int_eq(rtcsec_fingerprint_parse(NULL, "sha-1 00", 8), RTCSEC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(rtcsec_fingerprint_parse(&fp, NULL, 0), RTCSEC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(rtcsec_fingerprint_parse(&fp, NULL, 10), RTCSEC_ERR_INVALID_ARGUMENT);
}
END_TEST

START_TEST(fingerprint_parse_rejects_embedded_nul) {
  const size_t n = strlen(VECTOR_SHA256);
  char *buf = malloc(n);
  ck_assert_ptr_nonnull(buf);
  rtcsec_fingerprint fp;

  /* In the digest, in the hash name, in the separator. */
  static const size_t positions[] = {8, 9, 10, 30, 3, 7};
  for (size_t i = 0; i < sizeof(positions) / sizeof(positions[0]); i++) {
    memcpy(buf, VECTOR_SHA256, n);
    buf[positions[i]] = '\0';
    ck_assert_int_eq(rtcsec_fingerprint_parse(&fp, buf, n), RTCSEC_ERR_FINGERPRINT_MALFORMED);
  }
  free(buf);

  /* A terminating NUL counted in len is a character like any other. */
  ck_assert_int_eq(rtcsec_fingerprint_parse(&fp, VECTOR_SHA256, n + 1),
                   RTCSEC_ERR_FINGERPRINT_MALFORMED);
}
END_TEST

START_TEST(fingerprint_parse_handles_10kb_inputs) {
  const size_t n = 10 * 1024;
  char *buf = malloc(n); /* exactly n bytes: ASan catches any read past them */
  ck_assert_ptr_nonnull(buf);
  rtcsec_fingerprint fp;

  /* Well formed but far too many bytes. */
  memcpy(buf, "sha-256 ", 8);
  size_t pos = 8;
  while (pos + 3 <= n) {
    memcpy(buf + pos, "AB:", 3);
    pos += 3;
  }
  buf[pos - 1] = ' '; /* end on a blank instead of a trailing ':' */
  for (; pos < n; pos++)
    buf[pos] = ' ';
  ck_assert_int_eq(rtcsec_fingerprint_parse(&fp, buf, n), RTCSEC_ERR_FINGERPRINT_LENGTH);

  /* One endless hex group. */
  memset(buf + 8, 'A', n - 8);
  ck_assert_int_eq(rtcsec_fingerprint_parse(&fp, buf, n), RTCSEC_ERR_FINGERPRINT_MALFORMED);

  /* One endless hash name. */
  memset(buf, 'a', n);
  ck_assert_int_eq(rtcsec_fingerprint_parse(&fp, buf, n), RTCSEC_ERR_FINGERPRINT_MALFORMED);

  /* Only blanks. */
  memset(buf, ' ', n);
  ck_assert_int_eq(rtcsec_fingerprint_parse(&fp, buf, n), RTCSEC_ERR_FINGERPRINT_MALFORMED);

  /* A valid fingerprint padded with 10 KB of trailing blanks is still valid. */
  memcpy(buf, VECTOR_SHA256, strlen(VECTOR_SHA256));
  ck_assert_int_eq(rtcsec_fingerprint_parse(&fp, buf, n), RTCSEC_OK);
  free(buf);
}
END_TEST

START_TEST(fingerprint_parse_reads_only_len_bytes_of_unterminated_input) {
  const char *tail = ":FF:FF:FF";
  const size_t n = strlen(VECTOR_SHA256);
  const size_t total = n + strlen(tail);
  char *buf = malloc(total); /* no NUL anywhere */
  ck_assert_ptr_nonnull(buf);
  memcpy(buf, VECTOR_SHA256, n);
  memcpy(buf + n, tail, strlen(tail));

  rtcsec_fingerprint ref, fp;
  ck_assert_int_eq(parse_str(&ref, VECTOR_SHA256), RTCSEC_OK);
  /* The prefix alone is the fingerprint... */
  ck_assert_int_eq(rtcsec_fingerprint_parse(&fp, buf, n), RTCSEC_OK);
  ck_assert_int_eq(rtcsec_fingerprint_equal(&ref, &fp), 1);
  /* ...the whole buffer is three bytes too long... */
  ck_assert_int_eq(rtcsec_fingerprint_parse(&fp, buf, total), RTCSEC_ERR_FINGERPRINT_LENGTH);
  /* ...a cut in the middle of the last byte or after a ':' is malformed. */
  ck_assert_int_eq(rtcsec_fingerprint_parse(&fp, buf, n - 1), RTCSEC_ERR_FINGERPRINT_MALFORMED);
  ck_assert_int_eq(rtcsec_fingerprint_parse(&fp, buf, n + 1), RTCSEC_ERR_FINGERPRINT_MALFORMED);
  /* Every prefix is handled without reading past it (ASan would tell). */
  for (size_t len = 0; len <= total; len++) {
    char *exact = malloc(len > 0 ? len : 1);
    ck_assert_ptr_nonnull(exact);
    memcpy(exact, buf, len);
    int rc = rtcsec_fingerprint_parse(&fp, exact, len);
    ck_assert(rc == RTCSEC_OK || rc == RTCSEC_ERR_FINGERPRINT_MALFORMED ||
              rc == RTCSEC_ERR_FINGERPRINT_LENGTH);
    ck_assert_int_eq(rc == RTCSEC_OK, len == n);
    free(exact);
  }
  free(buf);
}
END_TEST

START_TEST(fingerprint_equal_needs_same_hash_and_same_digest) {
  rtcsec_fingerprint a, b;
  ck_assert_int_eq(parse_str(&a, VECTOR_SHA256), RTCSEC_OK);
  b = a;
  ck_assert_int_eq(rtcsec_fingerprint_equal(&a, &b), 1);
  b.digest[31] ^= 0x01;
  ck_assert_int_eq(rtcsec_fingerprint_equal(&a, &b), 0);
  b = a;
  b.digest[0] ^= 0x80;
  ck_assert_int_eq(rtcsec_fingerprint_equal(&a, &b), 0);
  /* Same bytes under another hash name. */
  b = a;
  b.hash = RTCSEC_HASH_SHA224;
  b.len = 28;
  a.len = 28;
  a.hash = RTCSEC_HASH_SHA256;
  ck_assert_int_eq(rtcsec_fingerprint_equal(&a, &b), 0);
  /* A length that does not fit the hash never compares equal. */
  ck_assert_int_eq(parse_str(&a, VECTOR_SHA256), RTCSEC_OK);
  b = a;
  a.len = b.len = 20;
  ck_assert_int_eq(rtcsec_fingerprint_equal(&a, &b), 0);
  ck_assert_int_eq(rtcsec_fingerprint_equal(NULL, &b), 0);
  ck_assert_int_eq(rtcsec_fingerprint_equal(&a, NULL), 0);
}
END_TEST

START_TEST(fingerprint_format_reports_needed_length_when_buffer_too_small) {
  rtcsec_fingerprint fp;
  ck_assert_int_eq(parse_str(&fp, vector_fps[4].text), RTCSEC_OK); /* sha-512, the longest */
  const size_t want = strlen(vector_fps[4].text);
  ck_assert_uint_lt(want, RTCSEC_FINGERPRINT_STRLEN);

  size_t len = 0;
  ck_assert_int_eq(rtcsec_fingerprint_format(&fp, NULL, 0, &len), RTCSEC_ERR_BUFFER_TOO_SMALL);
  ck_assert_uint_eq(len, want);
  char buf[RTCSEC_FINGERPRINT_STRLEN];
  memset(buf, 'Z', sizeof(buf));
  len = 0;
  ck_assert_int_eq(rtcsec_fingerprint_format(&fp, buf, want, &len), RTCSEC_ERR_BUFFER_TOO_SMALL);
  ck_assert_uint_eq(len, want);
  ck_assert_int_eq(buf[0], 'Z'); /* untouched */
  ck_assert_int_eq(rtcsec_fingerprint_format(&fp, buf, want + 1, &len), RTCSEC_OK);
  ck_assert_str_eq(buf, vector_fps[4].text);

  ck_assert_int_eq(rtcsec_fingerprint_format(NULL, buf, sizeof(buf), NULL),
                   RTCSEC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(rtcsec_fingerprint_format(&fp, NULL, 10, NULL), RTCSEC_ERR_INVALID_ARGUMENT);
  fp.len = 63;
  ck_assert_int_eq(rtcsec_fingerprint_format(&fp, buf, sizeof(buf), NULL),
                   RTCSEC_ERR_INVALID_ARGUMENT);
  fp.len = 64;
  fp.hash = (rtcsec_hash)0;
  ck_assert_int_eq(rtcsec_fingerprint_format(&fp, buf, sizeof(buf), NULL),
                   RTCSEC_ERR_INVALID_ARGUMENT);
}
END_TEST

START_TEST(fingerprint_of_der_rejects_bad_arguments) {
  static const uint8_t der[] = {0x30, 0x00};
  rtcsec_fingerprint fp;
  ck_assert_int_eq(rtcsec_fingerprint_of_der(NULL, 2, RTCSEC_HASH_SHA256, &fp),
                   RTCSEC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(rtcsec_fingerprint_of_der(der, 0, RTCSEC_HASH_SHA256, &fp),
                   RTCSEC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(rtcsec_fingerprint_of_der(der, 2, (rtcsec_hash)9, &fp),
                   RTCSEC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(rtcsec_fingerprint_of_der(der, 2, RTCSEC_HASH_SHA256, NULL),
                   RTCSEC_ERR_INVALID_ARGUMENT);
  rtcsec_cert *c = generate(RTCSEC_KEY_ECDSA_P256);
  ck_assert_int_eq(rtcsec_cert_fingerprint(c, (rtcsec_hash)0, &fp), RTCSEC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(rtcsec_cert_fingerprint(NULL, RTCSEC_HASH_SHA256, &fp),
                   RTCSEC_ERR_INVALID_ARGUMENT);
  rtcsec_cert_free(c);
}
END_TEST

/* ---- PEM ---------------------------------------------------------------- */

START_TEST(pem_memory_round_trip_keeps_certificate_and_key) {
  static const rtcsec_key_type types[] = {RTCSEC_KEY_ECDSA_P256, RTCSEC_KEY_RSA_2048};
  for (size_t i = 0; i < 2; i++) {
    rtcsec_cert *c = generate(types[i]);
    size_t cert_len = 0, key_len = 0;
    char *cert_pem = to_pem(c, RTCSEC_PEM_CERT, &cert_len);
    char *key_pem = to_pem(c, RTCSEC_PEM_KEY, &key_len);
    ck_assert_int_eq(strncmp(cert_pem, "-----BEGIN CERTIFICATE-----\n", 28), 0);
    /* PKCS#8, unencrypted. */
    ck_assert_int_eq(strncmp(key_pem, "-----BEGIN PRIVATE KEY-----\n", 28), 0);

    rtcsec_cert *back = NULL;
    ck_assert_int_eq(rtcsec_cert_load_pem(&back, cert_pem, cert_len, key_pem, key_len), RTCSEC_OK);
    ck_assert_int_eq(rtcsec_cert_key_type(back), types[i]);
    assert_same_fingerprint(c, back);
    ck_assert_int_eq(EVP_PKEY_eq(rtcsec_cert_pkey(c), rtcsec_cert_pkey(back)), 1);
    rtcsec_cert_free(back);

    /* Both parts in one buffer, passed twice, in either order. */
    size_t both_len = cert_len + key_len;
    char *both = malloc(both_len);
    ck_assert_ptr_nonnull(both);
    memcpy(both, key_pem, key_len);
    memcpy(both + key_len, cert_pem, cert_len);
    ck_assert_int_eq(rtcsec_cert_load_pem(&back, both, both_len, both, both_len), RTCSEC_OK);
    assert_same_fingerprint(c, back);
    rtcsec_cert_free(back);
    memcpy(both, cert_pem, cert_len);
    memcpy(both + cert_len, key_pem, key_len);
    ck_assert_int_eq(rtcsec_cert_load_pem(&back, both, both_len, both, both_len), RTCSEC_OK);
    assert_same_fingerprint(c, back);
    rtcsec_cert_free(back);

    free(both);
    free(cert_pem);
    free(key_pem);
    rtcsec_cert_free(c);
  }
}
END_TEST

START_TEST(pem_to_pem_reports_needed_length_when_buffer_too_small) {
  rtcsec_cert *c = generate(RTCSEC_KEY_ECDSA_P256);
  for (int which = RTCSEC_PEM_CERT; which <= RTCSEC_PEM_KEY; which++) {
    size_t need = 0;
    ck_assert_int_eq(rtcsec_cert_to_pem(c, (rtcsec_pem_part)which, NULL, 0, &need),
                     RTCSEC_ERR_BUFFER_TOO_SMALL);
    ck_assert_uint_gt(need, 100);
    char *buf = malloc(need + 1);
    ck_assert_ptr_nonnull(buf);
    size_t len = 0;
    /* Room for the text but not its NUL. */
    ck_assert_int_eq(rtcsec_cert_to_pem(c, (rtcsec_pem_part)which, buf, need, &len),
                     RTCSEC_ERR_BUFFER_TOO_SMALL);
    ck_assert_uint_eq(len, need);
    ck_assert_int_eq(rtcsec_cert_to_pem(c, (rtcsec_pem_part)which, buf, 1, &len),
                     RTCSEC_ERR_BUFFER_TOO_SMALL);
    ck_assert_uint_eq(len, need);
    ck_assert_int_eq(rtcsec_cert_to_pem(c, (rtcsec_pem_part)which, buf, need + 1, &len), RTCSEC_OK);
    ck_assert_uint_eq(len, need);
    ck_assert_uint_eq(strlen(buf), need);
    free(buf);
  }
  char small[8];
  ck_assert_int_eq(rtcsec_cert_to_pem(NULL, RTCSEC_PEM_CERT, small, sizeof(small), NULL),
                   RTCSEC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(rtcsec_cert_to_pem(c, (rtcsec_pem_part)2, small, sizeof(small), NULL),
                   RTCSEC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(rtcsec_cert_to_pem(c, RTCSEC_PEM_CERT, NULL, 10, NULL),
                   RTCSEC_ERR_INVALID_ARGUMENT);
  rtcsec_cert_free(c);
}
END_TEST

START_TEST(pem_file_round_trip_writes_key_file_with_mode_0600) {
  char dir[64], cert_path[128], key_path[128];
  make_tmpdir(dir, sizeof(dir));
  path_in(cert_path, sizeof(cert_path), dir, "cert.pem");
  path_in(key_path, sizeof(key_path), dir, "key.pem");

  /* A key file that already exists with a wider mode is narrowed. */
  write_file(key_path, "old", 3);
  ck_assert_int_eq(chmod(key_path, 0644), 0);

  rtcsec_cert *c = generate(RTCSEC_KEY_ECDSA_P256);
  ck_assert_int_eq(rtcsec_cert_save_pem_file(c, cert_path, key_path), RTCSEC_OK);
  struct stat st;
  ck_assert_int_eq(stat(key_path, &st), 0);
  ck_assert_uint_eq(st.st_mode & 07777, 0600);
  ck_assert_int_eq(stat(cert_path, &st), 0);
  ck_assert(S_ISREG(st.st_mode));

  rtcsec_cert *back = NULL;
  ck_assert_int_eq(rtcsec_cert_load_pem_file(&back, cert_path, key_path), RTCSEC_OK);
  assert_same_fingerprint(c, back);
  ck_assert_int_eq(EVP_PKEY_eq(rtcsec_cert_pkey(c), rtcsec_cert_pkey(back)), 1);
  rtcsec_cert_free(back);

  /* A new key file gets 0600 too, whatever the umask. */
  ck_assert_int_eq(unlink(key_path), 0);
  mode_t old_mask = umask(0);
  ck_assert_int_eq(rtcsec_cert_save_pem_file(c, cert_path, key_path), RTCSEC_OK);
  umask(old_mask);
  ck_assert_int_eq(stat(key_path, &st), 0);
  ck_assert_uint_eq(st.st_mode & 07777, 0600);

  rtcsec_cert_free(c);
  unlink(cert_path);
  unlink(key_path);
  rmdir(dir);
}
END_TEST

START_TEST(pem_file_load_reports_io_too_large_and_empty_files) {
  char dir[64], cert_path[128], key_path[128], big_path[128], empty_path[128], missing[128];
  make_tmpdir(dir, sizeof(dir));
  path_in(cert_path, sizeof(cert_path), dir, "cert.pem");
  path_in(key_path, sizeof(key_path), dir, "key.pem");
  path_in(big_path, sizeof(big_path), dir, "big.pem");
  path_in(empty_path, sizeof(empty_path), dir, "empty.pem");
  path_in(missing, sizeof(missing), dir, "missing.pem");
  write_file(cert_path, vector_cert_pem, strlen(vector_cert_pem));
  write_file(key_path, vector_key_pem, strlen(vector_key_pem));
  write_file(empty_path, "", 0);

  rtcsec_cert *c = NULL;
  ck_assert_int_eq(rtcsec_cert_load_pem_file(&c, cert_path, key_path), RTCSEC_OK);
  rtcsec_fingerprint fp, want;
  ck_assert_int_eq(rtcsec_cert_fingerprint(c, RTCSEC_HASH_SHA256, &fp), RTCSEC_OK);
  ck_assert_int_eq(parse_str(&want, VECTOR_SHA256), RTCSEC_OK);
  ck_assert_int_eq(rtcsec_fingerprint_equal(&fp, &want), 1);
  rtcsec_cert_free(c);

  ck_assert_int_eq(rtcsec_cert_load_pem_file(&c, missing, key_path), RTCSEC_ERR_IO);
  ck_assert_ptr_null(c);
  ck_assert_int_eq(rtcsec_cert_load_pem_file(&c, cert_path, missing), RTCSEC_ERR_IO);
  ck_assert_int_eq(rtcsec_cert_load_pem_file(&c, dir, key_path), RTCSEC_ERR_IO);
  ck_assert_int_eq(rtcsec_cert_load_pem_file(&c, empty_path, key_path), RTCSEC_ERR_PEM);
  ck_assert_int_eq(rtcsec_cert_load_pem_file(&c, cert_path, empty_path), RTCSEC_ERR_PEM);

  /* 1 MiB exactly is read (and is not PEM); one byte more is refused. */
  const size_t mib = (size_t)1 << 20;
  char *big = malloc(mib + 1);
  ck_assert_ptr_nonnull(big);
  memset(big, 'A', mib + 1);
  write_file(big_path, big, mib);
  ck_assert_int_eq(rtcsec_cert_load_pem_file(&c, big_path, key_path), RTCSEC_ERR_PEM);
  write_file(big_path, big, mib + 1);
  ck_assert_int_eq(rtcsec_cert_load_pem_file(&c, big_path, key_path), RTCSEC_ERR_TOO_LARGE);
  ck_assert_int_eq(rtcsec_cert_load_pem_file(&c, cert_path, big_path), RTCSEC_ERR_TOO_LARGE);
  ck_assert_int_eq(rtcsec_cert_load_pem(&c, big, mib + 1, vector_key_pem, strlen(vector_key_pem)),
                   RTCSEC_ERR_TOO_LARGE);
  free(big);

  ck_assert_int_eq(rtcsec_cert_load_pem_file(&c, NULL, key_path), RTCSEC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(rtcsec_cert_load_pem_file(NULL, cert_path, key_path),
                   RTCSEC_ERR_INVALID_ARGUMENT);

  unlink(cert_path);
  unlink(key_path);
  unlink(big_path);
  unlink(empty_path);
  rmdir(dir);
}
END_TEST

START_TEST(pem_load_with_another_certificates_key_is_key_mismatch) {
  rtcsec_cert *a = generate(RTCSEC_KEY_ECDSA_P256);
  rtcsec_cert *b = generate(RTCSEC_KEY_ECDSA_P256);
  rtcsec_cert *r = generate(RTCSEC_KEY_RSA_2048);
  size_t a_len = 0, b_len = 0, r_len = 0;
  char *a_cert = to_pem(a, RTCSEC_PEM_CERT, &a_len);
  char *b_key = to_pem(b, RTCSEC_PEM_KEY, &b_len);
  char *r_key = to_pem(r, RTCSEC_PEM_KEY, &r_len);

  rtcsec_cert *c = (rtcsec_cert *)&a_len;
  ck_assert_int_eq(rtcsec_cert_load_pem(&c, a_cert, a_len, b_key, b_len), RTCSEC_ERR_KEY_MISMATCH);
  ck_assert_ptr_null(c);
  /* A key of another type does not match either. */
  ck_assert_int_eq(rtcsec_cert_load_pem(&c, a_cert, a_len, r_key, r_len), RTCSEC_ERR_KEY_MISMATCH);
  ck_assert_int_eq(rtcsec_cert_load_pem(&c, vector_cert_pem, strlen(vector_cert_pem), b_key, b_len),
                   RTCSEC_ERR_KEY_MISMATCH);

  free(a_cert);
  free(b_key);
  free(r_key);
  rtcsec_cert_free(a);
  rtcsec_cert_free(b);
  rtcsec_cert_free(r);
}
END_TEST

START_TEST(pem_load_rejects_garbage_with_pem_error) {
  const size_t cl = strlen(vector_cert_pem), kl = strlen(vector_key_pem);
  rtcsec_cert *c = NULL;
  static const char garbage[] = "hello, this is not PEM\n";
  ck_assert_int_eq(rtcsec_cert_load_pem(&c, garbage, strlen(garbage), vector_key_pem, kl),
                   RTCSEC_ERR_PEM);
  ck_assert_ptr_null(c);
  ck_assert_int_eq(rtcsec_cert_load_pem(&c, vector_cert_pem, cl, garbage, strlen(garbage)),
                   RTCSEC_ERR_PEM);
  /* The certificate where the key should be, and the other way round. */
  ck_assert_int_eq(rtcsec_cert_load_pem(&c, vector_cert_pem, cl, vector_cert_pem, cl),
                   RTCSEC_ERR_PEM);
  ck_assert_int_eq(rtcsec_cert_load_pem(&c, vector_key_pem, kl, vector_key_pem, kl),
                   RTCSEC_ERR_PEM);
  /* Truncated text (no END line), and a corrupted base64 body. */
  ck_assert_int_eq(rtcsec_cert_load_pem(&c, vector_cert_pem, cl / 2, vector_key_pem, kl),
                   RTCSEC_ERR_PEM);
  ck_assert_int_eq(rtcsec_cert_load_pem(&c, vector_cert_pem, cl, vector_key_pem, kl - 30),
                   RTCSEC_ERR_PEM);
  char *bad = malloc(cl);
  ck_assert_ptr_nonnull(bad);
  memcpy(bad, vector_cert_pem, cl);
  memset(bad + 40, '!', 20);
  ck_assert_int_eq(rtcsec_cert_load_pem(&c, bad, cl, vector_key_pem, kl), RTCSEC_ERR_PEM);
  free(bad);

  ck_assert_int_eq(rtcsec_cert_load_pem(&c, vector_cert_pem, 0, vector_key_pem, kl),
                   RTCSEC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(rtcsec_cert_load_pem(&c, NULL, cl, vector_key_pem, kl),
                   RTCSEC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(rtcsec_cert_load_pem(&c, vector_cert_pem, cl, NULL, 0),
                   RTCSEC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(rtcsec_cert_load_pem(NULL, vector_cert_pem, cl, vector_key_pem, kl),
                   RTCSEC_ERR_INVALID_ARGUMENT);
}
END_TEST

START_TEST(pem_load_refuses_keys_other_than_p256_and_rsa) {
  rtcsec_cert *c = NULL;
  ck_assert_int_eq(rtcsec_cert_load_pem(&c, p384_cert_pem, strlen(p384_cert_pem), p384_key_pem,
                                        strlen(p384_key_pem)),
                   RTCSEC_ERR_UNSUPPORTED);
  ck_assert_ptr_null(c);
}
END_TEST

/* ---- references and the shared SSL_CTX --------------------------------- */

START_TEST(cert_ref_then_two_frees_releases_once) {
  rtcsec_cert *c = generate(RTCSEC_KEY_ECDSA_P256);
  ck_assert_ptr_eq(rtcsec_cert_ref(c), c);
  rtcsec_cert_free(c);
  /* Still alive through the second reference. */
  rtcsec_fingerprint fp;
  ck_assert_int_eq(rtcsec_cert_fingerprint(c, RTCSEC_HASH_SHA256, &fp), RTCSEC_OK);
  rtcsec_cert_free(c); /* ASan/LSan report a double free or a leak */
  rtcsec_cert_free(NULL);
  ck_assert_ptr_null(rtcsec_cert_ref(NULL));
}
END_TEST

static void *ref_free_loop(void *arg) {
  rtcsec_cert *c = arg;
  for (int i = 0; i < 10000; i++)
    rtcsec_cert_free(rtcsec_cert_ref(c));
  return NULL;
}

START_TEST(cert_refcount_is_safe_across_threads) {
  rtcsec_cert *c = generate(RTCSEC_KEY_ECDSA_P256);
  pthread_t t[4];
  for (int i = 0; i < 4; i++)
    ck_assert_int_eq(pthread_create(&t[i], NULL, ref_free_loop, c), 0);
  for (int i = 0; i < 4; i++)
    ck_assert_int_eq(pthread_join(t[i], NULL), 0);
  rtcsec_fingerprint fp;
  ck_assert_int_eq(rtcsec_cert_fingerprint(c, RTCSEC_HASH_SHA256, &fp), RTCSEC_OK);
  rtcsec_cert_free(c);
}
END_TEST

static int maker_calls;
static int maker_fail;

static int test_maker(const rtcsec_cert *cert, SSL_CTX **out) {
  maker_calls++;
  if (maker_fail)
    return RTCSEC_ERR_CRYPTO;
  SSL_CTX *ctx = SSL_CTX_new(DTLS_method());
  ck_assert_ptr_nonnull(ctx);
  ck_assert_int_eq(SSL_CTX_use_certificate(ctx, rtcsec_cert_x509(cert)), 1);
  ck_assert_int_eq(SSL_CTX_use_PrivateKey(ctx, rtcsec_cert_pkey(cert)), 1);
  *out = ctx;
  return RTCSEC_OK;
}

START_TEST(ssl_ctx_maker_runs_once_and_the_context_is_shared) {
  rtcsec_cert *c = generate(RTCSEC_KEY_ECDSA_P256);
  maker_calls = 0;
  maker_fail = 0;
  SSL_CTX *a = NULL, *b = NULL;
  ck_assert_int_eq(rtcsec_cert_ssl_ctx(c, test_maker, &a), RTCSEC_OK);
  ck_assert_int_eq(rtcsec_cert_ssl_ctx(c, test_maker, &b), RTCSEC_OK);
  ck_assert_int_eq(maker_calls, 1);
  ck_assert_ptr_nonnull(a);
  ck_assert_ptr_eq(a, b);
  ck_assert_ptr_eq(SSL_CTX_get0_certificate(a), rtcsec_cert_x509(c));
  /* Each caller got its own reference: the context outlives the cert. */
  SSL_CTX_free(a);
  rtcsec_cert_free(c);
  SSL *ssl = SSL_new(b);
  ck_assert_ptr_nonnull(ssl);
  SSL_free(ssl);
  SSL_CTX_free(b);
}
END_TEST

START_TEST(ssl_ctx_maker_failure_is_returned_and_retried_next_time) {
  rtcsec_cert *c = generate(RTCSEC_KEY_ECDSA_P256);
  maker_calls = 0;
  maker_fail = 1;
  SSL_CTX *ctx = NULL;
  ck_assert_int_eq(rtcsec_cert_ssl_ctx(c, test_maker, &ctx), RTCSEC_ERR_CRYPTO);
  ck_assert_ptr_null(ctx);
  maker_fail = 0;
  ck_assert_int_eq(rtcsec_cert_ssl_ctx(c, test_maker, &ctx), RTCSEC_OK);
  ck_assert_int_eq(maker_calls, 2);
  ck_assert_ptr_nonnull(ctx);
  SSL_CTX_free(ctx);
  ck_assert_int_eq(rtcsec_cert_ssl_ctx(NULL, test_maker, &ctx), RTCSEC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(rtcsec_cert_ssl_ctx(c, NULL, &ctx), RTCSEC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(rtcsec_cert_ssl_ctx(c, test_maker, NULL), RTCSEC_ERR_INVALID_ARGUMENT);
  rtcsec_cert_free(c);
}
END_TEST

int main(void) {
  Suite *s = suite_create("cert");
  TCase *gen = tcase_create("generate");
  tcase_add_test(gen, generate_ecdsa_p256_by_default_is_self_signed_with_cn_and_validity);
  tcase_add_test(gen, generate_rsa_2048_is_self_signed_with_sha256_and_custom_window);
  tcase_add_test(gen, generate_with_null_config_uses_the_defaults);
  tcase_add_test(gen, generate_gives_each_certificate_a_different_serial_and_key);
  tcase_add_test(gen, generate_rejects_invalid_configs);
  suite_add_tcase(s, gen);

  TCase *fp = tcase_create("fingerprint");
  tcase_add_test(fp, hash_names_and_lengths_follow_rfc_8122);
  tcase_add_test(fp, fingerprint_format_and_parse_round_trip_for_every_hash);
  tcase_add_test(fp, fingerprint_of_known_certificate_matches_openssl_cli);
  tcase_add_test(fp, fingerprint_parse_accepts_sdp_prefix_blanks_and_any_case);
  tcase_add_test(fp, fingerprint_parse_rejects_malformed_strings_with_specific_errors);
  tcase_add_test(fp, fingerprint_parse_rejects_embedded_nul);
  tcase_add_test(fp, fingerprint_parse_handles_10kb_inputs);
  tcase_add_test(fp, fingerprint_parse_reads_only_len_bytes_of_unterminated_input);
  tcase_add_test(fp, fingerprint_equal_needs_same_hash_and_same_digest);
  tcase_add_test(fp, fingerprint_format_reports_needed_length_when_buffer_too_small);
  tcase_add_test(fp, fingerprint_of_der_rejects_bad_arguments);
  suite_add_tcase(s, fp);

  TCase *pem = tcase_create("pem");
  tcase_add_test(pem, pem_memory_round_trip_keeps_certificate_and_key);
  tcase_add_test(pem, pem_to_pem_reports_needed_length_when_buffer_too_small);
  tcase_add_test(pem, pem_file_round_trip_writes_key_file_with_mode_0600);
  tcase_add_test(pem, pem_file_load_reports_io_too_large_and_empty_files);
  tcase_add_test(pem, pem_load_with_another_certificates_key_is_key_mismatch);
  tcase_add_test(pem, pem_load_rejects_garbage_with_pem_error);
  tcase_add_test(pem, pem_load_refuses_keys_other_than_p256_and_rsa);
  suite_add_tcase(s, pem);

  TCase *life = tcase_create("lifetime");
  tcase_add_test(life, cert_ref_then_two_frees_releases_once);
  tcase_add_test(life, cert_refcount_is_safe_across_threads);
  tcase_add_test(life, ssl_ctx_maker_runs_once_and_the_context_is_shared);
  tcase_add_test(life, ssl_ctx_maker_failure_is_returned_and_retried_next_time);
  suite_add_tcase(s, life);

  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
