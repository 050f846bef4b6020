/* libFuzzer target: the STUN codec and the single-port router's input.
 *
 * The first input byte picks the source address (one of 4 loopback ports);
 * the rest is one datagram. It is parsed with rtcsec_stun_parse() (no
 * crash, no read past the end, a documented result; a parsed message's
 * views lie inside the buffer and its integrity check answers yes or no)
 * and then handed to a router that has one session, ufrag "fuzz" and a
 * known password: whatever the bytes, the router must not create sessions,
 * must answer at most with datagrams to the sender, and must stay usable. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "rtcsec/router.h"
#include "rtcsec/stun.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char local_pwd[] = "fuzzpassword0123456789ab";
static rtcsec_router *router;
static rtcsec_session_id session;
static uint64_t clock_us = 1000000;

static void router_init(void) {
  rtcsec_router_config cfg;
  rtcsec_router_config_default(&cfg);
  cfg.transport.dtls.cert = fuzz_cert(FUZZ_CERT_SERVER);
  FUZZ_CHECK(rtcsec_router_new(&router, &cfg) == 0);
  rtcsec_router_session_config sc;
  rtcsec_router_session_config_default(&sc);
  sc.local_ufrag = "fuzz";
  sc.local_pwd = local_pwd;
  rtcsec_fingerprint fp = fuzz_fp(FUZZ_CERT_CLIENT);
  sc.peer_fingerprints = &fp;
  sc.n_peer_fingerprints = 1;
  FUZZ_CHECK(rtcsec_router_add_session(router, &sc, clock_us, &session) == 0);
}

static void check_parse(const uint8_t *data, size_t size) {
  rtcsec_stun_msg m;
  int rc = rtcsec_stun_parse(&m, data, size);
  if (rc != 0) {
    FUZZ_CHECK(rc < 0);
    return;
  }
  FUZZ_CHECK(size >= RTCSEC_STUN_HEADER_LEN);
  FUZZ_CHECK(m.username_len <= RTCSEC_STUN_MAX_USERNAME);
  if (m.username_len > 0)
    FUZZ_CHECK((const uint8_t *)m.username >= data &&
               (const uint8_t *)m.username + m.username_len <= data + size);
  int ic = rtcsec_stun_check_integrity(&m, (const uint8_t *)local_pwd, sizeof(local_pwd) - 1);
  FUZZ_CHECK(ic == 0 || ic == RTCSEC_ERR_STUN_INTEGRITY || ic == RTCSEC_ERR_INVALID_ARGUMENT);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (router == NULL)
    router_init();
  if (size < 1)
    return 0;
  unsigned src_port = 40000u + (data[0] & 3u);
  data++;
  size--;
  check_parse(data, size);

  uint8_t *buf = malloc(size ? size : 1); /* exact size: ASan sees any over-read */
  FUZZ_CHECK(buf != NULL);
  memcpy(buf, data, size);
  struct sockaddr_storage src;
  memset(&src, 0, sizeof(src));
  struct sockaddr_in *in4 = (struct sockaddr_in *)&src;
  in4->sin_family = AF_INET;
  in4->sin_port = htons((uint16_t)src_port);
  in4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  clock_us += 1000;
  /* as a batched receive loop does, before handling (a hint: must change
   * nothing, whatever the router's state) */
  socklen_t src_len = sizeof(*in4);
  rtcsec_router_prefetch(router, &src, &src_len, 1);
  rtcsec_router_input in;
  (void)rtcsec_router_handle_datagram(router, buf, size, &src, src_len, clock_us, &in);
  free(buf);

  uint8_t out[2048];
  size_t n;
  struct sockaddr_storage dst;
  socklen_t dst_len;
  rtcsec_session_id sid;
  while (rtcsec_router_poll_datagram(router, out, sizeof(out), &n, &dst, &dst_len, &sid) == 0 &&
         n > 0) {
    /* only ever back to a loopback source of ours */
    FUZZ_CHECK(dst.ss_family == AF_INET);
    FUZZ_CHECK(((struct sockaddr_in *)&dst)->sin_addr.s_addr == htonl(INADDR_LOOPBACK));
  }
  rtcsec_event ev;
  while (rtcsec_router_poll_event(router, &ev) == 0 && ev.type != RTCSEC_EVENT_NONE)
    ;
  if (rtcsec_router_deadline(router) <= clock_us)
    (void)rtcsec_router_handle_timeout(router, clock_us);
  rtcsec_router_stats st;
  FUZZ_CHECK(rtcsec_router_get_stats(router, &st) == 0);
  /* A session is only ever added by the application. If consent expired
   * (it does, 30 s of fake time without a check), add it again. */
  rtcsec_router_session_info info;
  if (rtcsec_router_get_session_info(router, session, &info) != 0) {
    rtcsec_router_free(router);
    router = NULL;
  }
  return 0;
}
