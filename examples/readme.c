/* The README's API example, whole: tests/test_readme.py checks that the
 * README's block is this file's text between the markers and compiles
 * this file against the public headers (-Wall -Wextra -Werror). The
 * functions declared extern are the application's. */
/* README-BEGIN */
#include <rtcsec/rtcsec.h>    /* the DTLS core: certificates, fingerprints, events */
#include <rtcsec/transport.h> /* demux + DTLS + SRTP for one socket */
#include <stdio.h>
#include <string.h>

/* Yours: the socket, the clock, the signalling and the media. */
extern uint64_t now_us(void);                          /* CLOCK_MONOTONIC, microseconds */
extern size_t recv_datagram(uint8_t *buf, size_t cap); /* 0: nothing now */
extern void send_datagram(const uint8_t *buf, size_t len);
extern void deliver_rtp(const uint8_t *pkt, size_t len); /* plaintext RTP */
extern void give_to_ice(const uint8_t *pkt, size_t len); /* STUN */
extern size_t next_rtp(uint8_t *buf, size_t cap);        /* 0: nothing to send now */
extern int call_over(void);

int run_call(const char *peer_fingerprint) { /* "sha-256 AB:CD:..." from the peer's SDP */
  rtcsec_cert *cert;
  if (rtcsec_cert_generate(&cert, NULL) != 0) /* ECDSA P-256, self-signed; one per endpoint */
    return -1;
  rtcsec_fingerprint mine, theirs;
  rtcsec_cert_fingerprint(cert, RTCSEC_HASH_SHA256, &mine); /* into your SDP */
  if (rtcsec_fingerprint_parse(&theirs, peer_fingerprint, strlen(peer_fingerprint)) != 0)
    return -1;

  rtcsec_transport_config cfg;
  rtcsec_transport_config_default(&cfg); /* MTU 1200, RTO 100 ms..3 s, AEAD profiles first */
  cfg.dtls.role = RTCSEC_DTLS_CLIENT;    /* a=setup:active */
  cfg.dtls.cert = cert;
  cfg.dtls.peer_fingerprints = &theirs; /* or later: rtcsec_transport_add_peer_fingerprints() */
  cfg.dtls.n_peer_fingerprints = 1;
  rtcsec_transport *t;
  if (rtcsec_transport_new(&t, &cfg) != 0)
    return -1;
  rtcsec_transport_start(t, now_us());

  uint8_t buf[2048];
  int connected = 0;
  while (!call_over()) {
    /* 1. every datagram from the socket; media is unprotected in place */
    size_t n = recv_datagram(buf, sizeof(buf));
    rtcsec_transport_input in;
    if (n > 0) {
      int rc = rtcsec_transport_handle_datagram(t, buf, n, now_us(), &in);
      if (rc == 0 && in.kind == RTCSEC_PKT_RTP)
        deliver_rtp(buf, in.len);
      else if (rc == 0 && in.kind == RTCSEC_PKT_STUN)
        give_to_ice(buf, in.len);
      /* rc < 0: dropped and counted (rtcsec_strerror(rc) says why); the call goes on */
    }
    /* 2. timers: at the deadline (UINT64_MAX: none), handle_timeout */
    if (now_us() >= rtcsec_transport_deadline(t))
      rtcsec_transport_handle_timeout(t, now_us());
    /* 3. everything to send, one datagram each */
    size_t len;
    while (rtcsec_transport_poll_datagram(t, buf, sizeof(buf), &len) == 0 && len > 0)
      send_datagram(buf, len);
    /* 4. events: the same rtcsec_event from every object (rtcsec/event.h) */
    rtcsec_event ev;
    while (rtcsec_transport_poll_event(t, &ev) == 0 && ev.type != RTCSEC_EVENT_NONE) {
      if (ev.type == RTCSEC_EVENT_CONNECTED) /* the peer matched the fingerprint */
        connected = 1;
      else if (ev.type == RTCSEC_EVENT_FAILED)
        fprintf(stderr, "DTLS failed: %s\n", rtcsec_strerror(ev.failed.error));
    }
    /* 5. media out, once connected: protected in place, with room for the tag */
    size_t rtp_len = connected ? next_rtp(buf, sizeof(buf) - RTCSEC_SRTP_MAX_OVERHEAD) : 0;
    size_t srtp_len;
    if (rtp_len > 0 &&
        rtcsec_transport_protect_rtp(t, buf, rtp_len, sizeof(buf), &srtp_len, now_us()) == 0)
      send_datagram(buf, srtp_len);
  }
  rtcsec_transport_close(t, now_us()); /* close_notify; keys wiped */
  size_t len;
  while (rtcsec_transport_poll_datagram(t, buf, sizeof(buf), &len) == 0 && len > 0)
    send_datagram(buf, len);
  rtcsec_transport_free(t);
  rtcsec_cert_free(cert);
  return connected ? 0 : -1;
}
/* README-END */
