/* rtcsec-dtls --listen: the peer is the sender of the first valid
 * ClientHello (tools/client_hello.h); everyone else is ignored and counted;
 * a handshake that fails or goes silent is dropped for the next one (see
 * the top of rtcsec-dtls.c and app.h). */
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "client_hello.h"

static void addr_key_of(const struct sockaddr_storage *ss, addr_key *k) {
  memset(k, 0, sizeof(*k));
  k->b[0] = (uint8_t)ss->ss_family;
  if (ss->ss_family == AF_INET) {
    const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
    memcpy(k->b + 2, &a->sin_port, 2);
    memcpy(k->b + 4, &a->sin_addr, 4);
  } else if (ss->ss_family == AF_INET6) {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
    memcpy(k->b + 2, &a->sin6_port, 2);
    memcpy(k->b + 4, &a->sin6_addr, 16);
  }
}

/* A datagram the listener does not hand to the association: counted, and
 * its sender among the distinct ones (exactly up to MAX_IGNORED_ADDRS). */
void listener_ignore(dtls_app *t, const struct sockaddr_storage *from) {
  t->ignored_datagrams++;
  addr_key k;
  addr_key_of(from, &k);
  for (size_t i = 0; i < t->n_ignored_addrs; i++) {
    if (memcmp(&t->ignored_addrs[i], &k, sizeof(k)) == 0) {
      return;
    }
  }
  if (t->n_ignored_addrs == MAX_IGNORED_ADDRS) {
    t->ignored_addrs_overflow = 1;
    return;
  }
  t->ignored_addrs[t->n_ignored_addrs++] = k;
}

/* A listener takes as its peer the sender of the first valid ClientHello
 * (client_hello.h); anything else is not the start of a handshake. The
 * socket stays unconnected until the handshake is done, so that a failed
 * one can be followed by another client. */
int listener_accept_peer(dtls_app *t, const struct sockaddr_storage *from, socklen_t from_len,
                         const uint8_t *data, size_t len) {
  if (client_hello_check(data, len) != CLIENT_HELLO_OK) {
    return -1;
  }
  t->peer = *from;
  t->peer_len = from_len;
  t->have_peer = 1;
  t->peer_last_rx = tool_now_us();
  if (!t->opt->quiet) {
    char text[ADDR_STRLEN];
    tool_addr_text(from, from_len, text, sizeof(text));
    fprintf(stderr, PROG ": peer %s\n", text);
  }
  return 0;
}

/* "N from M addresses" (M exact up to MAX_IGNORED_ADDRS). */
void listener_format_ignored(const dtls_app *t, char *buf, size_t cap) {
  snprintf(buf, cap, "%llu from %s%zu addresses", (unsigned long long)t->ignored_datagrams,
           t->ignored_addrs_overflow ? "more than " : "", t->n_ignored_addrs);
}

/* --listen: the handshake with the chosen peer ended without connecting
 * (it failed, the peer closed, or went silent). Nothing the peer sent was
 * authenticated, so it ends nothing but this attempt: remember why, forget
 * the peer, and wait for the next valid ClientHello with a fresh
 * association. Returns 0, or 1 if no association could be made. */
int listener_drop_peer(dtls_app *t, int code, const char *detail) {
  char peer[ADDR_STRLEN];
  tool_addr_text(&t->peer, t->peer_len, peer, sizeof(peer));
  t->failed_handshakes++;
  t->last_failed_code = code;
  snprintf(t->last_failed, sizeof(t->last_failed), "%s from %s", detail, peer);
  fprintf(stderr, PROG ": handshake with %s dropped: %s (%s); waiting for another ClientHello\n",
          peer, rtcsec_strerror(code), detail);
  association_free(t);
  memset(&t->info, 0, sizeof(t->info));
  memset(&t->m, 0, sizeof(t->m)); /* what that peer's datagrams counted */
  t->have_peer = 0;
  t->connected = 0;
  t->failed = 0;
  t->peer_closed = 0;
  t->error = 0;
  t->alert = -1;
  t->alert_from_peer = 0;
  int rc = association_new(t);
  return rc == 0 ? 0 : 1;
}

/* --listen: what was ignored and dropped (scripts read these lines). */
void listener_report(const dtls_app *t) {
  char ignored[80];
  listener_format_ignored(t, ignored, sizeof(ignored));
  printf("ignored_datagrams: %s\n", ignored);
  printf("failed_handshakes: %llu\n", (unsigned long long)t->failed_handshakes);
  fflush(stdout);
}
