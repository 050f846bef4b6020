/* embed.c: how an application embeds the rtcsec core.
 *
 * Two DTLS-SRTP associations live in one process, as the two ends of a call
 * would. Each has its own certificate and learns the other's fingerprint and
 * its own DTLS role from (simulated) SDP. The program carries the datagrams
 * between them where a real application would use its UDP sockets, and
 * drives both on its own monotonic clock. Once a side reports CONNECTED, its
 * SRTP keys are handed to the SRTP layer; one RTP packet is then protected
 * by each side and unprotected by the other.
 *
 * Only the public API is used. Built, not installed; `meson test --suite
 * examples` runs it. Exit status 0 means: both sides connected and media
 * went both ways. */
#include <rtcsec/rtcsec.h>
#include <rtcsec/srtp.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

typedef struct side {
  const char *name;
  rtcsec_cert *cert;
  char sdp_fingerprint[RTCSEC_FINGERPRINT_STRLEN + 16]; /* our a=fingerprint value */
  rtcsec_dtls *dtls;
  rtcsec_srtp *srtp; /* exists once connected */
  int failed;
} side;

/* The application's clock (monotonic, microseconds): rtcsec reads none. */
static uint64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int check(int rc, const char *what) {
  if (rc != 0)
    fprintf(stderr, "%s: %s\n", what, rtcsec_strerror(rc));
  return rc;
}

/* One certificate per endpoint; its fingerprint goes into our SDP. */
static int make_identity(side *s, const char *name) {
  rtcsec_fingerprint fp;
  s->name = name;
  if (check(rtcsec_cert_generate(&s->cert, NULL), "rtcsec_cert_generate") != 0 ||
      check(rtcsec_cert_fingerprint(s->cert, RTCSEC_HASH_SHA256, &fp), "fingerprint") != 0)
    return -1;
  return check(
      rtcsec_sdp_fingerprint_format(&fp, s->sdp_fingerprint, sizeof(s->sdp_fingerprint), NULL),
      "rtcsec_sdp_fingerprint_format");
}

/* The association, from what the peer's SDP said. */
static int make_dtls(side *s, rtcsec_dtls_role role, const char *peer_sdp_fingerprint) {
  rtcsec_fingerprint peer;
  int rc = rtcsec_sdp_fingerprint_parse(&peer, peer_sdp_fingerprint, strlen(peer_sdp_fingerprint));
  if (check(rc, "rtcsec_sdp_fingerprint_parse") != 0)
    return rc;
  rtcsec_dtls_config cfg;
  rtcsec_dtls_config_default(&cfg);
  cfg.role = role;
  cfg.cert = s->cert; /* the association takes its own reference */
  cfg.peer_fingerprints = &peer;
  cfg.n_peer_fingerprints = 1;
  return check(rtcsec_dtls_new(&s->dtls, &cfg), "rtcsec_dtls_new");
}

/* Stands for the application's SRTP layer: it keeps the keys inside
 * libsrtp2, and the copy in the event is wiped at once. */
static int srtp_layer_take_keys(side *s, rtcsec_srtp_keys *keys) {
  int rc = rtcsec_srtp_new(&s->srtp, keys, NULL);
  rtcsec_srtp_keys_wipe(keys);
  return check(rc, "rtcsec_srtp_new");
}

/* Sends every datagram `from` has queued to `to`, as a UDP socket would. */
static int deliver(side *from, side *to, uint64_t now) {
  uint8_t buf[1500]; /* >= the MTU (default 1200) */
  size_t len;
  int moved = 0;
  while (rtcsec_dtls_poll_datagram(from->dtls, buf, sizeof(buf), &len) == 0 && len > 0) {
    (void)rtcsec_dtls_handle_datagram(to->dtls, buf, len, now); /* failures come as events */
    moved = 1;
  }
  return moved;
}

static void handle_events(side *s) {
  rtcsec_event ev;
  while (rtcsec_dtls_poll_event(s->dtls, &ev) == 0 && ev.type != RTCSEC_EVENT_NONE) {
    if (ev.type == RTCSEC_EVENT_CONNECTED) {
      const rtcsec_connected_info *ci = &ev.connected;
      char peer[RTCSEC_FINGERPRINT_STRLEN];
      (void)rtcsec_fingerprint_format(&ci->peer_fingerprint, peer, sizeof(peer), NULL);
      /* The advanced path: this example drives the SRTP bridge itself, so it
       * takes the keys out (rtcsec_transport would keep them inside). */
      rtcsec_srtp_keys keys;
      if (rtcsec_dtls_export_srtp_keys(s->dtls, &keys) != 0) {
        s->failed = 1;
        continue;
      }
      printf("%s: CONNECTED as DTLS %s, %s %s %s, %s\n  peer %s\n  keys: %zu-byte master keys, "
             "%zu-byte salts (not printed)\n",
             s->name, rtcsec_dtls_get_role(s->dtls) == RTCSEC_DTLS_CLIENT ? "client" : "server",
             ci->version, ci->cipher, ci->group, rtcsec_srtp_profile_name(ci->profile), peer,
             keys.key_len, keys.salt_len);
      if (srtp_layer_take_keys(s, &keys) != 0)
        s->failed = 1;
    } else if (ev.type == RTCSEC_EVENT_FAILED) {
      fprintf(stderr, "%s: FAILED: %s (%s)\n", s->name, rtcsec_strerror(ev.failed.error),
              rtcsec_dtls_error_detail(s->dtls));
      s->failed = 1;
    }
  }
}

/* One RTP packet, protected by `from` and unprotected by `to`. */
static int media(side *from, side *to) {
  static const char payload[5] = {'h', 'e', 'l', 'l', 'o'};
  uint8_t pkt[12 + sizeof(payload) + RTCSEC_SRTP_MAX_OVERHEAD] = {
      0x80, 111, 0x00, 0x01, 0x00, 0x00, 0x00, 0xA0, 0x11, 0x22, 0x33, 0x44}; /* V=2, PT 111 */
  memcpy(pkt + 12, payload, sizeof(payload));
  size_t rtp_len = 12 + sizeof(payload), srtp_len = 0, out_len = 0;
  if (check(rtcsec_srtp_protect_rtp(from->srtp, pkt, rtp_len, sizeof(pkt), &srtp_len), "protect") !=
          0 ||
      check(rtcsec_srtp_unprotect_rtp(to->srtp, pkt, srtp_len, &out_len), "unprotect") != 0)
    return -1;
  int ok = out_len == rtp_len && memcmp(pkt + 12, payload, sizeof(payload)) == 0;
  printf("%s -> %s: RTP %zu bytes, SRTP %zu bytes, %s\n", from->name, to->name, rtp_len, srtp_len,
         ok ? "decrypted intact" : "MISMATCH");
  return ok ? 0 : -1;
}

int main(void) {
  side a = {0}, b = {0};
  int result = 1;
  if (make_identity(&a, "offerer") != 0 || make_identity(&b, "answerer") != 0)
    goto out;

  /* a=setup (RFC 5763 §5): the offerer says actpass, the answerer picks
   * (active by default); each side derives its own DTLS role. */
  rtcsec_sdp_setup answer;
  rtcsec_dtls_role role_a, role_b;
  if (check(rtcsec_sdp_setup_answer(RTCSEC_SDP_SETUP_ACTPASS, RTCSEC_SDP_SETUP_ACTPASS, &answer),
            "setup") != 0 ||
      check(rtcsec_sdp_setup_dtls_role(answer, &role_b), "role") != 0 ||
      check(rtcsec_sdp_setup_dtls_role_from_remote(answer, &role_a), "role") != 0)
    goto out;

  /* Each side reads the other's a=fingerprint from SDP. */
  if (make_dtls(&a, role_a, b.sdp_fingerprint) != 0 ||
      make_dtls(&b, role_b, a.sdp_fingerprint) != 0)
    goto out;
  uint64_t start = now_us();
  if (check(rtcsec_dtls_start(a.dtls, start), "start") != 0 ||
      check(rtcsec_dtls_start(b.dtls, start), "start") != 0)
    goto out;

  /* The event loop: carry datagrams, handle events, run timers. A real
   * application would wait in poll() for its socket or the deadline. */
  while ((a.srtp == NULL || b.srtp == NULL) && !a.failed && !b.failed) {
    uint64_t now = now_us();
    if (now - start > 10000000u) {
      fprintf(stderr, "handshake did not finish in 10 s\n");
      goto out;
    }
    int moved = deliver(&a, &b, now) | deliver(&b, &a, now);
    handle_events(&a);
    handle_events(&b);
    if (now >= rtcsec_dtls_deadline(a.dtls))
      (void)rtcsec_dtls_handle_timeout(a.dtls, now);
    if (now >= rtcsec_dtls_deadline(b.dtls))
      (void)rtcsec_dtls_handle_timeout(b.dtls, now);
    if (!moved)
      nanosleep(&(struct timespec){0, 1000000}, NULL); /* 1 ms */
  }
  if (a.failed || b.failed)
    goto out;

  /* Media both ways with the keys the handshake gave. */
  if (media(&a, &b) == 0 && media(&b, &a) == 0)
    result = 0;

out:
  rtcsec_srtp_free(a.srtp);
  rtcsec_srtp_free(b.srtp);
  rtcsec_dtls_free(a.dtls); /* wipes what key material it still holds */
  rtcsec_dtls_free(b.dtls);
  rtcsec_cert_free(a.cert);
  rtcsec_cert_free(b.cert);
  printf("%s\n", result == 0 ? "OK" : "FAILED");
  return result;
}
