/* Internal: what other lib/ modules need from rtcsec_cert. Not installed. */
#ifndef RTCSEC_CERT_INTERNAL_H
#define RTCSEC_CERT_INTERNAL_H

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "rtcsec/cert.h"

/* Borrowed pointers, valid as long as the certificate. */
X509 *rtcsec_cert_x509(const rtcsec_cert *cert);
EVP_PKEY *rtcsec_cert_pkey(const rtcsec_cert *cert);

/* The SSL_CTX shared by every association that uses this certificate, made
 * on first use by make(cert) under the certificate's lock. On success *out
 * holds a new reference (SSL_CTX_free it). Returns 0 or a negative code. */
typedef int (*rtcsec_ssl_ctx_maker)(const rtcsec_cert *cert, SSL_CTX **out);
int rtcsec_cert_ssl_ctx(rtcsec_cert *cert, rtcsec_ssl_ctx_maker make, SSL_CTX **out);

#endif
