/* One-time library initialisation. */
#include <openssl/crypto.h>
#include <openssl/ssl.h>
#include <pthread.h>

#include "rtcsec/error.h"
#include "rtcsec/rtcsec.h"

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_result = RTCSEC_ERR_CRYPTO;

static void init_run(void) {
  /* OpenSSL 3 initialises itself; doing it here makes failure visible once,
   * and keeps later calls free of lazy-init races in the caller's threads. */
  if (OPENSSL_init_ssl(OPENSSL_INIT_LOAD_SSL_STRINGS | OPENSSL_INIT_LOAD_CRYPTO_STRINGS, NULL) == 1)
    init_result = RTCSEC_OK;
}

int rtcsec_init(void) {
  if (pthread_once(&init_once, init_run) != 0)
    return RTCSEC_ERR_CRYPTO;
  return init_result;
}

const char *rtcsec_version(void) { return RTCSEC_VERSION_STRING; }
