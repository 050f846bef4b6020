/* Internal: DTLS 1.3 handshake message bodies (RFC 8446 §4 with RFC 9147
 * §5): what the server writes, what it reads from the client, and the
 * CertificateVerify signature both sides make and check. Writers append to
 * a rtcsec_wr and leave its `ok` flag clear on overflow. Not installed. */
#ifndef RTCSEC_DTLS13_MSG_H
#define RTCSEC_DTLS13_MSG_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stddef.h>
#include <stdint.h>

#include "dtls_client_hello.h"
#include "wire.h"

/* RFC 8446 §4.1.3: the ServerHello.random of a HelloRetryRequest,
 * SHA-256("HelloRetryRequest"). */
extern const uint8_t rtcsec_d13_hrr_random[32];

/* The signature schemes the server asks the client to use in its
 * CertificateVerify (CertificateRequest.signature_algorithms) and accepts. */
extern const uint16_t rtcsec_d13_sig_schemes[];
extern const size_t rtcsec_d13_n_sig_schemes;

/* ServerHello (RFC 8446 §4.1.3, RFC 9147 §5.4): legacy_version 0xfefd,
 * an empty legacy_session_id_echo (RFC 9147 §5: DTLS servers MUST NOT echo
 * it), supported_versions `version` (0xfefc) and the server's key_share. */
void rtcsec_d13_write_server_hello(rtcsec_wr *w, uint16_t version, const uint8_t random[32],
                                   uint16_t suite, uint16_t group, const uint8_t *share,
                                   size_t share_len);
/* HelloRetryRequest: a ServerHello with the special random, the selected
 * group alone in key_share (group 0: no key_share) and a cookie (RFC 8446
 * §4.1.4, §4.2.2). */
void rtcsec_d13_write_hello_retry_request(rtcsec_wr *w, uint16_t version, uint16_t suite,
                                          uint16_t group, const uint8_t *cookie, size_t cookie_len);
/* EncryptedExtensions with use_srtp: one profile, empty MKI (RFC 5764
 * §4.1.1). */
void rtcsec_d13_write_encrypted_extensions(rtcsec_wr *w, uint16_t srtp_profile);
/* CertificateRequest: empty context, signature_algorithms (RFC 8446
 * §4.3.2). */
void rtcsec_d13_write_certificate_request(rtcsec_wr *w);
/* Certificate: the context, one entry (DER), no extensions (RFC 8446
 * §4.4.2). der == NULL writes an empty certificate_list. */
void rtcsec_d13_write_certificate(rtcsec_wr *w, const uint8_t *context, size_t context_len,
                                  const uint8_t *der, size_t der_len);

/* The signature scheme for a CertificateVerify made with `key`, among the
 * peer's list: ecdsa_secp256r1_sha256 for a P-256 key, rsa_pss_rsae_sha256
 * (or _sha384, _sha512) for RSA. 0 if none fits. */
uint16_t rtcsec_d13_pick_sig_scheme(EVP_PKEY *key, rtcsec_u16_list peer);

/* CertificateVerify body (RFC 8446 §4.4.3): scheme and a signature over
 * 64 spaces, "TLS 1.3, server CertificateVerify" (or client), a zero byte
 * and the transcript hash. Returns 0 or RTCSEC_ERR_CRYPTO. */
int rtcsec_d13_write_certificate_verify(rtcsec_wr *w, EVP_PKEY *key, uint16_t scheme, int server,
                                        const uint8_t *hash, size_t hlen);

/* Checks a CertificateVerify body against the signer's public key. The
 * scheme must be one of `allowed` and fit the key. Returns 0, or
 * RTCSEC_ERR_HANDSHAKE with *alert: decode_error (syntax),
 * illegal_parameter (a scheme not offered or not for this key),
 * decrypt_error (a signature that does not verify). */
int rtcsec_d13_check_certificate_verify(EVP_PKEY *signer, const uint8_t *body, size_t len,
                                        int server, const uint8_t *hash, size_t hlen,
                                        const uint16_t *allowed, size_t n_allowed, int *alert);

/* Parses a Certificate body: the context must equal `context`, entries
 * carry no extensions (none were requested: RFC 8446 §4.2), and the first
 * entry is the leaf. *leaf is NULL for an empty list. Returns 0, or
 * RTCSEC_ERR_HANDSHAKE with *alert: decode_error, illegal_parameter (wrong
 * context), unsupported_extension, bad_certificate (a leaf that is not a
 * DER certificate). */
int rtcsec_d13_read_certificate(const uint8_t *body, size_t len, const uint8_t *context,
                                size_t context_len, X509 **leaf, int *alert);

/* 1 if a Finished body equals the expected verify_data; constant time. */
int rtcsec_d13_finished_equal(const uint8_t *body, size_t len, const uint8_t *expected,
                              size_t hlen);

#endif
