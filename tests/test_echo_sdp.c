/* rtcsec-echo's SDP and RTP/RTCP rewriting (tools/echo/sdp_session.c,
 * tools/echo/rtp_echo.c): what Chromium 156 and Firefox 153 send is parsed
 * as it is, the answer keeps the offer's payload types and one BUNDLE group
 * (a bundle-only section is part of it, RFC 8843), what cannot be echoed
 * is rejected in place, and every SSRC field the echo forwards is
 * swapped between the browser's and rtcsec's, with NACKs answered from the
 * cache where it can. */
#include <check.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rtp_echo.h"
#include "sdp_session.h"

/* The transport attributes Chromium repeats in every bundled section. */
#define CHROMIUM_TRANSPORT                                                                         \
  "a=ice-ufrag:N+df\r\n"                                                                           \
  "a=ice-pwd:Hv5Elys1h/KSHwkOZGxq/t8R\r\n"                                                         \
  "a=ice-options:trickle\r\n"                                                                      \
  "a=fingerprint:sha-256 "                                                                         \
  "45:75:AB:60:C6:CB:29:99:88:54:D4:A7:28:D8:CB:F5:90:E0:B3:A9:14:A3:BE:F8:4B:3E:6B:37:7B:84:CC:"  \
  "83\r\n"                                                                                         \
  "a=setup:actpass\r\n"

/* A Chromium 156 offer as the echo page makes it (bundlePolicy max-bundle,
 * gathering complete), captured in the test namespace; the video codec list
 * is shortened (the real one has 23 payload types), nothing else changed. */
static const char chromium_offer[] =
    "v=0\r\n"
    "o=- 4330581004017274707 2 IN IP4 127.0.0.1\r\n"
    "s=-\r\n"
    "t=0 0\r\n"
    "a=group:BUNDLE 0 1\r\n"
    "a=extmap-allow-mixed\r\n"
    "a=msid-semantic: WMS df1bb17f-f51e-4f65-9957-033c7230f23c\r\n"
    "m=audio 43606 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126\r\n"
    "c=IN IP4 10.77.0.1\r\n"
    "a=rtcp:9 IN IP4 0.0.0.0\r\n"
    "a=candidate:4288694443 1 udp 2122260223 10.77.0.1 43606 typ host generation 0 network-id "
    "1\r\n"
    "a=candidate:2814304643 1 udp 2122194687 10.77.0.2 57134 typ host generation 0 network-id "
    "2\r\n"
    "a=candidate:17472575 1 tcp 1518280447 10.77.0.1 9 typ host tcptype active generation 0 "
    "network-id 1\r\n"
    "a=candidate:1494496535 1 tcp 1518214911 10.77.0.2 9 typ host tcptype active generation 0 "
    "network-id 2\r\n" CHROMIUM_TRANSPORT "a=mid:0\r\n"
    "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n"
    "a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\n"
    "a=sendrecv\r\n"
    "a=msid:df1bb17f-f51e-4f65-9957-033c7230f23c d640e64d-3a55-485a-8ade-6c5297b75b02\r\n"
    "a=rtcp-mux\r\n"
    "a=rtcp-rsize\r\n"
    "a=rtcp-xr:rcvr-rtt=all\r\n"
    "a=rtpmap:111 opus/48000/2\r\n"
    "a=rtcp-fb:111 transport-cc\r\n"
    "a=fmtp:111 minptime=10;useinbandfec=1\r\n"
    "a=rtpmap:63 red/48000/2\r\n"
    "a=fmtp:63 111/111\r\n"
    "a=rtpmap:9 G722/8000\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:8 PCMA/8000\r\n"
    "a=rtpmap:13 CN/8000\r\n"
    "a=rtpmap:110 telephone-event/48000\r\n"
    "a=rtpmap:126 telephone-event/8000\r\n"
    "a=ssrc:1777311167 cname:o0DElOLe/8YNZ2/g\r\n"
    "a=ssrc:1777311167 msid:df1bb17f-f51e-4f65-9957-033c7230f23c "
    "d640e64d-3a55-485a-8ade-6c5297b75b02\r\n"
    "m=video 9 UDP/TLS/RTP/SAVPF 96 97 104 107 102 103 108 109 45 46\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=rtcp:9 IN IP4 0.0.0.0\r\n" CHROMIUM_TRANSPORT "a=mid:1\r\n"
    "a=extmap:14 urn:ietf:params:rtp-hdrext:toffset\r\n"
    "a=sendrecv\r\n"
    "a=msid:df1bb17f-f51e-4f65-9957-033c7230f23c 91251f82-af48-4900-98e1-d560b5e74b83\r\n"
    "a=rtcp-mux\r\n"
    "a=rtcp-rsize\r\n"
    "a=rtpmap:96 VP8/90000\r\n"
    "a=rtcp-fb:96 goog-remb\r\n"
    "a=rtcp-fb:96 transport-cc\r\n"
    "a=rtcp-fb:96 ccm fir\r\n"
    "a=rtcp-fb:96 nack\r\n"
    "a=rtcp-fb:96 nack pli\r\n"
    "a=rtpmap:97 rtx/90000\r\n"
    "a=fmtp:97 apt=96\r\n"
    "a=rtpmap:104 H264/90000\r\n"
    "a=rtcp-fb:104 nack\r\n"
    "a=fmtp:104 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42001f\r\n"
    "a=rtpmap:107 rtx/90000\r\n"
    "a=fmtp:107 apt=104\r\n"
    "a=rtpmap:102 H264/90000\r\n"
    "a=rtcp-fb:102 goog-remb\r\n"
    "a=rtcp-fb:102 ccm fir\r\n"
    "a=rtcp-fb:102 nack\r\n"
    "a=rtcp-fb:102 nack pli\r\n"
    "a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f\r\n"
    "a=rtpmap:103 rtx/90000\r\n"
    "a=fmtp:103 apt=102\r\n"
    "a=rtpmap:108 H264/90000\r\n"
    "a=rtcp-fb:108 nack\r\n"
    "a=fmtp:108 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n"
    "a=rtpmap:109 rtx/90000\r\n"
    "a=fmtp:109 apt=108\r\n"
    "a=rtpmap:45 AV1/90000\r\n"
    "a=fmtp:45 level-idx=5;profile=0;tier=0\r\n"
    "a=rtpmap:46 rtx/90000\r\n"
    "a=fmtp:46 apt=45\r\n"
    "a=ssrc-group:FID 267443760 3101611238\r\n"
    "a=ssrc:267443760 cname:o0DElOLe/8YNZ2/g\r\n"
    "a=ssrc:3101611238 cname:o0DElOLe/8YNZ2/g\r\n";

/* A Firefox 153 (Debian firefox-esr) offer as the echo page makes it
 * (bundlePolicy max-bundle, gathering complete), captured in the test
 * namespace, unchanged: the video section is offered with port 0 and
 * a=bundle-only (RFC 8843 §6), the fingerprint is at session level. */
static const char firefox_offer[] =
    "v=0\r\n"
    "o=mozilla...THIS_IS_SDPARTA-99.0 7296753437724523846 0 IN IP4 0.0.0.0\r\n"
    "s=-\r\n"
    "t=0 0\r\n"
    "a=sendrecv\r\n"
    "a=fingerprint:sha-256 "
    "F5:51:7B:B1:57:F7:B5:5D:54:E2:B6:FC:0A:BA:31:C1:B8:65:FA:30:B6:23:1F:2E:FC:91:0F:83:C6:3D:84:"
    "10\r\n"
    "a=group:BUNDLE 0 1\r\n"
    "a=ice-options:trickle\r\n"
    "a=msid-semantic:WMS *\r\n"
    "m=audio 43203 UDP/TLS/RTP/SAVPF 109 9 0 8 101\r\n"
    "c=IN IP4 10.77.0.1\r\n"
    "a=candidate:0 1 UDP 2122252543 10.77.0.1 43203 typ host\r\n"
    "a=candidate:1 1 TCP 2105524479 10.77.0.1 9 typ host tcptype active\r\n"
    "a=candidate:0 2 UDP 2122252542 10.77.0.1 51757 typ host\r\n"
    "a=candidate:1 2 TCP 2105524478 10.77.0.1 9 typ host tcptype active\r\n"
    "a=sendrecv\r\n"
    "a=end-of-candidates\r\n"
    "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n"
    "a=extmap:2/recvonly urn:ietf:params:rtp-hdrext:csrc-audio-level\r\n"
    "a=extmap:3 urn:ietf:params:rtp-hdrext:sdes:mid\r\n"
    "a=extmap:7 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\n"
    "a=extmap-allow-mixed\r\n"
    "a=fmtp:109 maxplaybackrate=48000;stereo=1;useinbandfec=1\r\n"
    "a=fmtp:101 0-15\r\n"
    "a=ice-pwd:abc4ca307f3c0894522ba2fe4d453cd9\r\n"
    "a=ice-ufrag:14c85f23\r\n"
    "a=mid:0\r\n"
    "a=msid:{1c19a363-5890-4d35-a2ed-8230942c5ed1} {f3f1d53a-4e44-460d-afda-f6551480c44b}\r\n"
    "a=rtcp:51757 IN IP4 10.77.0.1\r\n"
    "a=rtcp-fb:109 transport-cc\r\n"
    "a=rtcp-fb:9 transport-cc\r\n"
    "a=rtcp-fb:0 transport-cc\r\n"
    "a=rtcp-fb:8 transport-cc\r\n"
    "a=rtcp-mux\r\n"
    "a=rtpmap:109 opus/48000/2\r\n"
    "a=rtpmap:9 G722/8000/1\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:8 PCMA/8000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\n"
    "a=setup:actpass\r\n"
    "a=ssrc:17772493 cname:{c0c45ef5-0e29-49da-9d24-57e5aa9e793a}\r\n"
    "m=video 0 UDP/TLS/RTP/SAVPF 120 124 121 125 99 100 123 122 119\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=bundle-only\r\n"
    "a=sendrecv\r\n"
    "a=extmap:3 urn:ietf:params:rtp-hdrext:sdes:mid\r\n"
    "a=extmap:4 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\r\n"
    "a=extmap:5 urn:ietf:params:rtp-hdrext:toffset\r\n"
    "a=extmap:6/recvonly http://www.webrtc.org/experiments/rtp-hdrext/playout-delay\r\n"
    "a=extmap:7 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\n"
    "a=extmap-allow-mixed\r\n"
    "a=fmtp:120 max-fs=12288;max-fr=60\r\n"
    "a=fmtp:124 apt=120\r\n"
    "a=fmtp:121 max-fs=12288;max-fr=60\r\n"
    "a=fmtp:125 apt=121\r\n"
    "a=fmtp:100 apt=99\r\n"
    "a=fmtp:119 apt=122\r\n"
    "a=ice-pwd:abc4ca307f3c0894522ba2fe4d453cd9\r\n"
    "a=ice-ufrag:14c85f23\r\n"
    "a=mid:1\r\n"
    "a=msid:{1c19a363-5890-4d35-a2ed-8230942c5ed1} {a2e37161-0772-4d1e-9ef1-7ec47f9307cc}\r\n"
    "a=rtcp-fb:120 nack\r\n"
    "a=rtcp-fb:120 nack pli\r\n"
    "a=rtcp-fb:120 ccm fir\r\n"
    "a=rtcp-fb:120 goog-remb\r\n"
    "a=rtcp-fb:120 transport-cc\r\n"
    "a=rtcp-fb:121 nack\r\n"
    "a=rtcp-fb:121 nack pli\r\n"
    "a=rtcp-fb:121 ccm fir\r\n"
    "a=rtcp-fb:121 goog-remb\r\n"
    "a=rtcp-fb:121 transport-cc\r\n"
    "a=rtcp-fb:99 nack\r\n"
    "a=rtcp-fb:99 nack pli\r\n"
    "a=rtcp-fb:99 ccm fir\r\n"
    "a=rtcp-fb:99 goog-remb\r\n"
    "a=rtcp-fb:99 transport-cc\r\n"
    "a=rtcp-fb:123 nack\r\n"
    "a=rtcp-fb:123 nack pli\r\n"
    "a=rtcp-fb:123 ccm fir\r\n"
    "a=rtcp-fb:123 goog-remb\r\n"
    "a=rtcp-fb:123 transport-cc\r\n"
    "a=rtcp-fb:122 nack\r\n"
    "a=rtcp-fb:122 nack pli\r\n"
    "a=rtcp-fb:122 ccm fir\r\n"
    "a=rtcp-fb:122 goog-remb\r\n"
    "a=rtcp-fb:122 transport-cc\r\n"
    "a=rtcp-mux\r\n"
    "a=rtcp-rsize\r\n"
    "a=rtpmap:120 VP8/90000\r\n"
    "a=rtpmap:124 rtx/90000\r\n"
    "a=rtpmap:121 VP9/90000\r\n"
    "a=rtpmap:125 rtx/90000\r\n"
    "a=rtpmap:99 AV1/90000\r\n"
    "a=rtpmap:100 rtx/90000\r\n"
    "a=rtpmap:123 ulpfec/90000\r\n"
    "a=rtpmap:122 red/90000\r\n"
    "a=rtpmap:119 rtx/90000\r\n"
    "a=setup:actpass\r\n"
    "a=ssrc:3614226201 cname:{c0c45ef5-0e29-49da-9d24-57e5aa9e793a}\r\n"
    "a=ssrc:3550307889 cname:{c0c45ef5-0e29-49da-9d24-57e5aa9e793a}\r\n"
    "a=ssrc-group:FID 3614226201 3550307889\r\n";

/* Firefox 153's answer to rtcsec's offer (echo_plan_offer(): video
 * bundle-only), captured the same way: JSEP answers every bundled section
 * with a port (RFC 8829 §5.3.1), here the same one. It was captured before
 * the offer had its data-channel section; that section (mid 2) is Firefox
 * 153's answer to one, as captured in the browser suite (its address and
 * credentials made those of this answer). */
static const char firefox_answer[] =
    "v=0\r\n"
    "o=mozilla...THIS_IS_SDPARTA-99.0 2014912755180937826 0 IN IP4 0.0.0.0\r\n"
    "s=-\r\n"
    "t=0 0\r\n"
    "a=sendrecv\r\n"
    "a=fingerprint:sha-256 "
    "7D:1D:F4:96:2D:22:A3:12:BB:CB:2F:A6:42:A1:CE:CE:3D:99:1C:7D:E5:CC:7F:C8:06:DB:4C:09:50:3D:B2:"
    "6E\r\n"
    "a=group:BUNDLE 0 1 2\r\n"
    "a=ice-options:trickle\r\n"
    "a=msid-semantic:WMS *\r\n"
    "m=audio 43483 UDP/TLS/RTP/SAVPF 111\r\n"
    "c=IN IP4 10.77.0.1\r\n"
    "a=candidate:0 1 UDP 2122252543 10.77.0.1 43483 typ host\r\n"
    "a=candidate:1 1 TCP 2105524479 10.77.0.1 9 typ host tcptype active\r\n"
    "a=sendrecv\r\n"
    "a=end-of-candidates\r\n"
    "a=fmtp:111 maxplaybackrate=48000;stereo=1;useinbandfec=1\r\n"
    "a=ice-pwd:a6de1037b5e5d14233fe3dde3d0945dd\r\n"
    "a=ice-ufrag:b545181c\r\n"
    "a=mid:0\r\n"
    "a=msid:{c18c11c9-8276-4ce6-b7f8-b3e2dece3c17} {213d243a-6b59-4bdc-9feb-c7ea45db10d8}\r\n"
    "a=rtcp-mux\r\n"
    "a=rtpmap:111 opus/48000/2\r\n"
    "a=setup:active\r\n"
    "a=ssrc:2060376573 cname:{dd0dffd5-4ecc-47fb-906b-bfdd82816b87}\r\n"
    "m=video 43483 UDP/TLS/RTP/SAVPF 96\r\n"
    "c=IN IP4 10.77.0.1\r\n"
    "a=sendrecv\r\n"
    "a=fmtp:96 max-fs=12288;max-fr=60\r\n"
    "a=ice-pwd:a6de1037b5e5d14233fe3dde3d0945dd\r\n"
    "a=ice-ufrag:b545181c\r\n"
    "a=mid:1\r\n"
    "a=msid:{c18c11c9-8276-4ce6-b7f8-b3e2dece3c17} {6a32256f-4a3c-48aa-bcd2-19fc0dfad46c}\r\n"
    "a=rtcp-fb:96 nack\r\n"
    "a=rtcp-fb:96 nack pli\r\n"
    "a=rtcp-fb:96 ccm fir\r\n"
    "a=rtcp-mux\r\n"
    "a=rtcp-rsize\r\n"
    "a=rtpmap:96 VP8/90000\r\n"
    "a=setup:active\r\n"
    "a=ssrc:1053488960 cname:{dd0dffd5-4ecc-47fb-906b-bfdd82816b87}\r\n"
    "m=application 43483 UDP/DTLS/SCTP webrtc-datachannel\r\n"
    "c=IN IP4 10.77.0.1\r\n"
    "a=sendrecv\r\n"
    "a=ice-pwd:a6de1037b5e5d14233fe3dde3d0945dd\r\n"
    "a=ice-ufrag:b545181c\r\n"
    "a=mid:2\r\n"
    "a=setup:active\r\n"
    "a=sctp-port:5000\r\n"
    "a=max-message-size:1073741823\r\n";

static const echo_local_ids test_ids = {1111, 2222, "rtcsec-echo-test", "rtcsec-echo"};

static echo_sdp *parse_ok(const char *text) {
  echo_sdp *sdp = calloc(1, sizeof(*sdp));
  ck_assert_ptr_nonnull(sdp);
  char err[256] = "";
  /* A heap copy without NUL, so that ASan sees any read past the end. */
  size_t len = strlen(text);
  char *copy = malloc(len ? len : 1);
  ck_assert_ptr_nonnull(copy);
  memcpy(copy, text, len);
  int rc = echo_sdp_parse(sdp, copy, len, err, sizeof(err));
  free(copy);
  ck_assert_msg(rc == 0, "parse failed (%d): %s", rc, err);
  return sdp;
}

static int parse_fails(const char *text, char *err, size_t cap) {
  echo_sdp *sdp = calloc(1, sizeof(*sdp));
  ck_assert_ptr_nonnull(sdp);
  int rc = echo_sdp_parse(sdp, text, strlen(text), err, cap);
  free(sdp);
  return rc;
}

/* Replaces the first occurrence of `from` in src by `to` (test helper). */
static char *replace(const char *src, const char *from, const char *to) {
  const char *at = strstr(src, from);
  ck_assert_ptr_nonnull(at);
  size_t n = strlen(src) - strlen(from) + strlen(to) + 1;
  char *out = malloc(n);
  ck_assert_ptr_nonnull(out);
  size_t head = (size_t)(at - src);
  memcpy(out, src, head);
  strcpy(out + head, to);
  strcat(out, at + strlen(from));
  return out;
}

/* Asserts that text has (want 1) or lacks (want 0) each of the
 * NULL-terminated strings after `want`. */
static void has_each(const char *text, int want, ...) {
  va_list ap;
  va_start(ap, want);
  for (const char *s = va_arg(ap, const char *); s != NULL; s = va_arg(ap, const char *))
    ck_assert_msg((strstr(text, s) != NULL) == want, "%s %s in:\n%s", want ? "no" : "unexpected", s,
                  text);
  va_end(ap);
}

/* The echo's data section as the last, bundle-only section of sdp: port 0,
 * a=bundle-only, its SCTP attributes, and none of RTP's (rtcp-mux, SSRC,
 * direction) or the transport's (RFC 8843 §7.1.3). */
static void bundled_data_section(const char *sdp) {
  const char *data = strstr(sdp, "m=application 0 UDP/DTLS/SCTP webrtc-datachannel\r\n"
                                 "c=IN IP4 0.0.0.0\r\na=bundle-only\r\na=mid:2\r\n"
                                 "a=sctp-port:5000\r\na=max-message-size:262144\r\n");
  ck_assert_msg(data != NULL, "no bundle-only data section in:\n%s", sdp);
  has_each(data, 0, "a=rtcp-mux", "a=ssrc", "a=sendrecv", "a=candidate", "a=ice-ufrag",
           (const char *)NULL);
}

static const echo_plan_codec *find_codec(const echo_plan_media *m, const char *name) {
  for (size_t i = 0; i < m->n_codecs; i++)
    if (strcmp(m->codecs[i].codec.name, name) == 0)
      return &m->codecs[i];
  return NULL;
}

/* ---- parsing --------------------------------------------------------------- */

START_TEST(chromium_offer_is_parsed) {
  echo_sdp *sdp = parse_ok(chromium_offer);
  ck_assert_uint_eq(sdp->n_sections, 2);
  ck_assert_uint_eq(sdp->n_bundle, 2);
  ck_assert_str_eq(sdp->bundle[0], "0");
  ck_assert_str_eq(sdp->bundle[1], "1");
  const echo_section *a = &sdp->s[0], *v = &sdp->s[1];
  ck_assert_int_eq(a->kind, ECHO_KIND_AUDIO);
  ck_assert_int_eq(v->kind, ECHO_KIND_VIDEO);
  ck_assert_str_eq(a->mid, "0");
  ck_assert_str_eq(v->mid, "1");
  ck_assert_uint_eq(a->port, 43606);
  ck_assert_str_eq(a->proto, "UDP/TLS/RTP/SAVPF");
  ck_assert(a->rtcp_mux && a->rtcp_rsize && v->rtcp_mux);
  ck_assert_int_eq(a->dir, ECHO_DIR_SENDRECV);
  ck_assert_uint_eq(a->n_codecs, 8);
  ck_assert_uint_eq(a->codecs[0].pt, 111);
  ck_assert_str_eq(a->codecs[0].name, "opus");
  ck_assert_uint_eq(a->codecs[0].clock, 48000);
  ck_assert_uint_eq(a->codecs[0].channels, 2);
  ck_assert_str_eq(a->codecs[0].fmtp, "minptime=10;useinbandfec=1");
  ck_assert_uint_eq(a->ssrc, 1777311167u);
  ck_assert_str_eq(a->cname, "o0DElOLe/8YNZ2/g");
  /* The FID group names the media SSRC first, the RTX one second. */
  ck_assert_uint_eq(v->ssrc, 267443760u);
  ck_assert_uint_eq(v->n_codecs, 10);
  ck_assert_uint_eq(v->codecs[0].fb, ECHO_FB_NACK | ECHO_FB_NACK_PLI | ECHO_FB_CCM_FIR);
  /* Two UDP host candidates kept; the two TCP ones ignored. */
  ck_assert_uint_eq(sdp->n_candidates, 2);
  ck_assert_uint_eq(sdp->candidates_ignored, 2);
  ck_assert(strncmp(sdp->candidates[0], "candidate:4288694443 1 udp", 26) == 0);
  echo_transport_desc td;
  char err[256];
  ck_assert_int_eq(echo_sdp_transport(sdp, &td, err, sizeof(err)), 0);
  ck_assert_str_eq(td.ice.ufrag, "N+df");
  ck_assert_str_eq(td.ice.pwd, "Hv5Elys1h/KSHwkOZGxq/t8R");
  ck_assert_int_eq(td.fingerprint.hash, RTCSEC_HASH_SHA256);
  ck_assert_uint_eq(td.fingerprint.digest[0], 0x45);
  ck_assert_int_eq(td.setup, RTCSEC_SDP_SETUP_ACTPASS);
  free(sdp);
}
END_TEST

START_TEST(lf_line_ends_are_accepted) {
  char *lf = strdup(chromium_offer);
  ck_assert_ptr_nonnull(lf);
  char *w = lf;
  for (const char *r = lf; *r; r++)
    if (*r != '\r')
      *w++ = *r;
  *w = '\0';
  echo_sdp *sdp = parse_ok(lf);
  ck_assert_uint_eq(sdp->n_sections, 2);
  ck_assert_str_eq(sdp->s[0].codecs[0].fmtp, "minptime=10;useinbandfec=1");
  free(sdp);
  free(lf);
}
END_TEST

START_TEST(bad_documents_are_refused_with_a_reason) {
  char err[256];
  ck_assert_int_eq(parse_fails("", err, sizeof(err)), RTCSEC_ERR_PARSE);
  ck_assert_int_eq(parse_fails("hello\r\n", err, sizeof(err)), RTCSEC_ERR_PARSE);
  ck_assert_int_eq(parse_fails("v=1\r\n", err, sizeof(err)), RTCSEC_ERR_PARSE);
  ck_assert_ptr_nonnull(strstr(err, "v=0"));
  ck_assert_int_eq(parse_fails("v=0\r\ns=-\r\n", err, sizeof(err)), RTCSEC_ERR_PARSE);
  ck_assert_ptr_nonnull(strstr(err, "no media"));
  ck_assert_int_eq(parse_fails("v=0\r\nm=audio x UDP/TLS/RTP/SAVPF 111\r\n", err, sizeof(err)),
                   RTCSEC_ERR_PARSE);
  ck_assert_int_eq(parse_fails("v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 300\r\n", err, sizeof(err)),
                   RTCSEC_ERR_PARSE);
  ck_assert_int_eq(parse_fails("v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF\r\n", err, sizeof(err)),
                   RTCSEC_ERR_PARSE);
  /* Transport attributes go through rtcsec/sdp.h and its errors. */
  ck_assert_int_eq(parse_fails("v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=setup:sideways\r\n",
                               err, sizeof(err)),
                   RTCSEC_ERR_PARSE);
  ck_assert_ptr_nonnull(strstr(err, "setup"));
  ck_assert_int_eq(
      parse_fails("v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=fingerprint:sha-256 AB:CD\r\n", err,
                  sizeof(err)),
      RTCSEC_ERR_FINGERPRINT_LENGTH);
}
END_TEST

/* The m= line's words go back into the answer (a rejected section keeps its
 * media, proto and first format): a byte that is not an RFC 8866 token
 * character there is refused, or the answer would not be SDP (found by
 * fuzz_echo_sdp: "m=\0pplication" gave an answer line "m= 0 ..."). */
START_TEST(m_line_words_must_be_sdp_tokens) {
  static const char *const good = "v=0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n";
  static const struct {
    size_t at; /* offset in `good` */
    char byte;
  } bad[] = {
      {7, '\0'},    /* media */
      {10, '\x01'}, /* media */
      {12, '='},    /* media */
      {21, '\xff'}, /* proto */
      {25, '('},    /* proto */
      {35, '='},    /* first format */
      {40, '\0'},   /* first format */
      {45, '\x7f'}, /* first format */
  };
  char err[256];
  echo_sdp *sdp = calloc(1, sizeof(*sdp));
  ck_assert_ptr_nonnull(sdp);
  size_t n = strlen(good);
  ck_assert_int_eq(echo_sdp_parse(sdp, good, n, err, sizeof(err)), 0);
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    char doc[64];
    ck_assert_uint_lt(bad[i].at, n);
    memcpy(doc, good, n);
    doc[bad[i].at] = bad[i].byte;
    ck_assert_msg(echo_sdp_parse(sdp, doc, n, err, sizeof(err)) == RTCSEC_ERR_PARSE,
                  "byte 0x%02x at %zu accepted", (unsigned char)bad[i].byte, bad[i].at);
    ck_assert_ptr_nonnull(strstr(err, "m="));
  }
  free(sdp);
}
END_TEST

START_TEST(limits_are_enforced) {
  char err[256];
  /* Too large a document. */
  size_t big = ECHO_SDP_MAX_LEN + 1;
  char *doc = malloc(big + 1);
  ck_assert_ptr_nonnull(doc);
  memset(doc, 'a', big);
  doc[big] = '\0';
  echo_sdp *sdp = calloc(1, sizeof(*sdp));
  ck_assert_ptr_nonnull(sdp);
  ck_assert_int_eq(echo_sdp_parse(sdp, doc, big, err, sizeof(err)), RTCSEC_ERR_TOO_LARGE);
  /* Too long a line. */
  strcpy(doc, "v=0\r\na=");
  memset(doc + 7, 'x', 2000);
  strcpy(doc + 2007, "\r\n");
  ck_assert_int_eq(echo_sdp_parse(sdp, doc, strlen(doc), err, sizeof(err)), RTCSEC_ERR_TOO_LARGE);
  /* Too many media sections. */
  strcpy(doc, "v=0\r\n");
  for (int i = 0; i <= ECHO_MAX_SECTIONS; i++)
    strcat(doc, "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n");
  ck_assert_int_eq(echo_sdp_parse(sdp, doc, strlen(doc), err, sizeof(err)), RTCSEC_ERR_TOO_LARGE);
  /* Payload types past the table are counted, not stored. */
  strcpy(doc, "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF");
  for (int pt = 0; pt < 100; pt++)
    sprintf(doc + strlen(doc), " %d", pt);
  strcat(doc, "\r\n");
  ck_assert_int_eq(echo_sdp_parse(sdp, doc, strlen(doc), err, sizeof(err)), 0);
  ck_assert_uint_eq(sdp->s[0].n_codecs, ECHO_MAX_CODECS);
  ck_assert_uint_eq(sdp->s[0].codecs_ignored, 100 - ECHO_MAX_CODECS);
  free(sdp);
  free(doc);
}
END_TEST

START_TEST(transport_needs_credentials_and_fingerprint) {
  char err[256];
  echo_transport_desc td;
  /* Only the video section has one: the BUNDLE tag section decides. */
  char *no_fp = replace(chromium_offer, "a=fingerprint:sha-256 45", "a=x-fingerprint:sha-256 45");
  echo_sdp *sdp = parse_ok(no_fp);
  ck_assert_int_eq(echo_sdp_transport(sdp, &td, err, sizeof(err)), RTCSEC_ERR_PARSE);
  ck_assert_ptr_nonnull(strstr(err, "fingerprint"));
  free(sdp);
  /* At session level it applies to every section. */
  char *no_fp2 = replace(no_fp, "a=group:BUNDLE 0 1\r\n",
                         "a=group:BUNDLE 0 1\r\na=fingerprint:sha-1 "
                         "00:01:02:03:04:05:06:07:08:09:0A:0B:0C:0D:0E:0F:10:11:12:13\r\n");
  sdp = parse_ok(no_fp2);
  ck_assert_int_eq(echo_sdp_transport(sdp, &td, err, sizeof(err)), 0);
  ck_assert_int_eq(td.fingerprint.hash, RTCSEC_HASH_SHA1);
  free(sdp);
  char *v = replace(chromium_offer, "a=ice-pwd:", "a=x-ice-pwd:");
  sdp = parse_ok(v);
  ck_assert_int_eq(echo_sdp_transport(sdp, &td, err, sizeof(err)), RTCSEC_ERR_PARSE);
  ck_assert_ptr_nonnull(strstr(err, "ice-pwd"));
  free(sdp);
  const char *bare = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=ice-ufrag:abcd\r\n"
                     "a=ice-pwd:abcdefghijklmnopqrstuv\r\n";
  sdp = parse_ok(bare);
  ck_assert_int_eq(echo_sdp_transport(sdp, &td, err, sizeof(err)), RTCSEC_ERR_PARSE);
  ck_assert_ptr_nonnull(strstr(err, "fingerprint"));
  free(sdp);
  free(no_fp);
  free(no_fp2);
  free(v);
}
END_TEST

START_TEST(mdns_and_tcp_candidates_are_ignored) {
  char *m = replace(chromium_offer, "10.77.0.2 57134",
                    "1f0c2a6e-0bbf-4c3b-a5d1-2f1d2d2e6b3c.local 57134");
  echo_sdp *sdp = parse_ok(m);
  ck_assert_uint_eq(sdp->n_candidates, 1);
  ck_assert_uint_eq(sdp->candidates_ignored, 3);
  free(sdp);
  free(m);
}
END_TEST

/* ---- answering ---------------------------------------------------------------- */

static const char *const test_cands[] = {
    "candidate:1 1 UDP 2015363583 10.77.0.1 5000 typ host",
    "candidate:2 1 UDP 2015363327 10.77.0.3 5002 typ host",
};

static echo_transport_desc local_transport(rtcsec_sdp_setup setup) {
  echo_transport_desc t;
  memset(&t, 0, sizeof(t));
  snprintf(t.ice.ufrag, sizeof(t.ice.ufrag), "rtcs");
  snprintf(t.ice.pwd, sizeof(t.ice.pwd), "0123456789abcdefghijkl");
  t.fingerprint.hash = RTCSEC_HASH_SHA256;
  t.fingerprint.len = 32;
  for (int i = 0; i < 32; i++)
    t.fingerprint.digest[i] = (uint8_t)i;
  t.setup = setup;
  return t;
}

START_TEST(answer_keeps_offer_payload_types_and_one_bundle) {
  echo_sdp *offer = parse_ok(chromium_offer);
  echo_plan plan;
  char err[256];
  ck_assert_int_eq(echo_plan_answer(&plan, offer, &test_ids, err, sizeof(err)), 0);
  ck_assert_uint_eq(plan.n_media, 2);
  const echo_plan_media *a = &plan.m[0], *v = &plan.m[1];
  ck_assert(a->accepted && v->accepted);
  ck_assert_uint_eq(a->n_codecs, 1);
  ck_assert_uint_eq(a->codecs[0].local_pt, 111);
  ck_assert_uint_eq(a->codecs[0].remote_pt, 111);
  ck_assert_uint_eq(a->fb, 0); /* transport-cc is not negotiated */
  ck_assert_uint_eq(a->local_ssrc, 1111);
  ck_assert_uint_eq(a->remote_ssrc, 1777311167u);
  /* VP8 first, then the first H.264 with packetization-mode=1 and a
   * constrained baseline profile: PT 102, not 104 (mode 0). */
  ck_assert_uint_eq(v->n_codecs, 2);
  ck_assert_str_eq(v->codecs[0].codec.name, "VP8");
  ck_assert_uint_eq(v->codecs[0].local_pt, 96);
  ck_assert_uint_eq(v->codecs[1].local_pt, 102);
  ck_assert_uint_eq(v->fb, ECHO_FB_NACK | ECHO_FB_NACK_PLI | ECHO_FB_CCM_FIR);
  ck_assert_uint_eq(v->local_ssrc, 2222);
  ck_assert_uint_eq(v->remote_ssrc, 267443760u);
  ck_assert_ptr_null(find_codec(v, "rtx"));

  echo_transport_desc local = local_transport(RTCSEC_SDP_SETUP_ACTIVE);
  char *buf = malloc(ECHO_SDP_MAX_LEN);
  ck_assert_ptr_nonnull(buf);
  size_t len = 0;
  ck_assert_int_eq(echo_sdp_write(&plan, &local, test_cands, 2, 42, buf, ECHO_SDP_MAX_LEN, &len),
                   0);
  ck_assert_uint_eq(len, strlen(buf));
  ck_assert_ptr_nonnull(strstr(buf, "v=0\r\no=rtcsec-echo 42 2 IN IP4 127.0.0.1\r\n"));
  ck_assert_ptr_nonnull(strstr(buf, "a=group:BUNDLE 0 1\r\n"));
  ck_assert_ptr_nonnull(
      strstr(buf, "m=audio 5000 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 10.77.0.1\r\n"));
  /* RFC 8843 §7.3: every bundled section but the tagged one is answered
   * with port 0 and a=bundle-only, also when the offer gave it a port. */
  ck_assert(!a->bundle_only && v->bundle_only);
  ck_assert_ptr_nonnull(strstr(buf, "m=video 0 UDP/TLS/RTP/SAVPF 96 102\r\n"
                                    "c=IN IP4 0.0.0.0\r\na=bundle-only\r\na=mid:1\r\n"));
  ck_assert_ptr_nonnull(strstr(buf, "a=setup:active\r\n"));
  ck_assert_ptr_nonnull(strstr(buf, "a=ice-ufrag:rtcs\r\n"));
  ck_assert_ptr_nonnull(strstr(buf, "a=fingerprint:sha-256 00:01:02:03:"));
  ck_assert_ptr_nonnull(strstr(buf, "a=rtpmap:111 opus/48000/2\r\n"));
  ck_assert_ptr_nonnull(strstr(buf, "a=fmtp:111 minptime=10;useinbandfec=1\r\n"));
  ck_assert_ptr_nonnull(strstr(buf, "a=rtcp-fb:96 nack pli\r\n"));
  ck_assert_ptr_nonnull(strstr(buf, "a=ssrc:1111 cname:rtcsec-echo-test\r\n"));
  ck_assert_ptr_nonnull(strstr(buf, "a=ssrc:2222 msid:rtcsec-echo echo-video\r\n"));
  ck_assert_ptr_nonnull(strstr(buf, "a=candidate:2 1 UDP 2015363327 10.77.0.3 5002 typ host\r\n"));
  /* Nothing that was not negotiated. */
  ck_assert_ptr_null(strstr(buf, "extmap"));
  ck_assert_ptr_null(strstr(buf, "transport-cc"));
  ck_assert_ptr_null(strstr(buf, "goog-remb"));
  ck_assert_ptr_null(strstr(buf, "rtx"));
  /* Candidates once, in the BUNDLE tag section, then end-of-candidates. */
  const char *first = strstr(buf, "a=end-of-candidates");
  ck_assert_ptr_nonnull(first);
  ck_assert_ptr_null(strstr(first + 1, "a=end-of-candidates"));
  ck_assert_ptr_null(strstr(strstr(buf, "m=video"), "a=candidate"));

  /* What we wrote parses back to the same thing. */
  echo_sdp *again = parse_ok(buf);
  echo_transport_desc td;
  ck_assert_int_eq(echo_sdp_transport(again, &td, err, sizeof(err)), 0);
  ck_assert_int_eq(td.setup, RTCSEC_SDP_SETUP_ACTIVE);
  ck_assert(rtcsec_fingerprint_equal(&td.fingerprint, &local.fingerprint));
  ck_assert_uint_eq(again->n_candidates, 2);
  ck_assert(again->end_of_candidates);
  ck_assert_uint_eq(again->s[1].ssrc, 2222);
  free(again);
  free(buf);
  free(offer);
}
END_TEST

START_TEST(what_cannot_be_echoed_is_rejected_in_place) {
  const char *offer_text = "v=0\r\n"
                           "o=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
                           "a=group:BUNDLE 0 1 2\r\n"
                           "a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuv\r\n"
                           "a=fingerprint:sha-1 "
                           "00:01:02:03:04:05:06:07:08:09:0A:0B:0C:0D:0E:0F:10:11:12:13\r\n"
                           "m=audio 9 UDP/TLS/RTP/SAVPF 0 8\r\n"
                           "a=mid:0\r\na=rtcp-mux\r\na=rtpmap:0 PCMU/8000\r\n"
                           "m=application 9 DTLS/SCTP 5000\r\n"
                           "a=mid:1\r\na=sctpmap:5000 webrtc-datachannel 1024\r\n"
                           "m=video 9 UDP/TLS/RTP/SAVPF 96\r\n"
                           "a=mid:2\r\na=rtcp-mux\r\na=rtpmap:96 VP8/90000\r\na=recvonly\r\n";
  echo_sdp *offer = parse_ok(offer_text);
  echo_plan plan;
  char err[256];
  ck_assert_int_eq(echo_plan_answer(&plan, offer, &test_ids, err, sizeof(err)), 0);
  ck_assert_uint_eq(plan.n_media, 3);
  ck_assert(!plan.m[0].accepted); /* audio without opus */
  ck_assert(!plan.m[1].accepted); /* data channel before RFC 8841 */
  ck_assert(plan.m[2].accepted);
  /* The offer's first BUNDLE section is rejected, so the tag moves on to
   * video (RFC 8843 §7.3.1), which has the same (session-level) transport. */
  ck_assert(!plan.m[2].bundle_only);
  ck_assert_int_eq(plan.m[2].dir, ECHO_DIR_SENDONLY); /* answers recvonly */
  echo_transport_desc local = local_transport(RTCSEC_SDP_SETUP_ACTIVE);
  char buf[8192];
  ck_assert_int_eq(echo_sdp_write(&plan, &local, test_cands, 1, 1, buf, sizeof(buf), NULL), 0);
  ck_assert_ptr_nonnull(strstr(buf, "a=group:BUNDLE 2\r\n"));
  ck_assert_ptr_nonnull(strstr(buf, "m=audio 0 UDP/TLS/RTP/SAVPF 0\r\n"));
  ck_assert_ptr_nonnull(strstr(buf, "m=application 0 DTLS/SCTP 5000\r\n"));
  ck_assert_ptr_nonnull(strstr(buf, "m=video 5000 UDP/TLS/RTP/SAVPF 96\r\n"));
  ck_assert_ptr_nonnull(strstr(buf, "a=sendonly\r\n"));
  /* The candidates go to the first accepted section. */
  ck_assert_ptr_nonnull(strstr(strstr(buf, "m=video"), "a=candidate:1 1 UDP"));
  echo_sdp *again = parse_ok(buf);
  ck_assert_uint_eq(again->n_sections, 3);
  ck_assert_str_eq(again->s[1].mid, "1");
  free(again);
  free(offer);

  /* Nothing at all to echo. */
  const char *nothing = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\na=rtcp-mux\r\n";
  offer = parse_ok(nothing);
  ck_assert_int_eq(echo_plan_answer(&plan, offer, &test_ids, err, sizeof(err)),
                   RTCSEC_ERR_UNSUPPORTED);
  ck_assert_ptr_nonnull(strstr(err, "opus"));
  free(offer);
  /* rtcp-mux is required. */
  char *no_mux = replace(chromium_offer, "a=rtcp-mux\r\n", "");
  char *no_mux2 = replace(no_mux, "a=rtcp-mux\r\n", "");
  offer = parse_ok(no_mux2);
  ck_assert_int_eq(echo_plan_answer(&plan, offer, &test_ids, err, sizeof(err)),
                   RTCSEC_ERR_UNSUPPORTED);
  free(offer);
  free(no_mux);
  free(no_mux2);
}
END_TEST

START_TEST(firefox_offer_is_parsed) {
  echo_sdp *sdp = parse_ok(firefox_offer);
  ck_assert_uint_eq(sdp->n_sections, 2);
  ck_assert_uint_eq(sdp->n_bundle, 2);
  const echo_section *a = &sdp->s[0], *v = &sdp->s[1];
  ck_assert_uint_eq(a->port, 43203);
  ck_assert(!a->bundle_only);
  /* max-bundle: the video section says port 0 and a=bundle-only. */
  ck_assert_uint_eq(v->port, 0);
  ck_assert(v->bundle_only);
  ck_assert(a->rtcp_mux && v->rtcp_mux && !a->rtcp_rsize && v->rtcp_rsize);
  ck_assert_uint_eq(a->codecs[0].pt, 109);
  ck_assert_str_eq(a->codecs[0].name, "opus");
  ck_assert_uint_eq(a->codecs[0].channels, 2);
  ck_assert_str_eq(a->codecs[0].fmtp, "maxplaybackrate=48000;stereo=1;useinbandfec=1");
  ck_assert_uint_eq(a->ssrc, 17772493u);
  ck_assert_uint_eq(v->n_codecs, 9);
  ck_assert_uint_eq(v->codecs[0].pt, 120);
  ck_assert_str_eq(v->codecs[0].name, "VP8");
  ck_assert_uint_eq(v->codecs[0].fb, ECHO_FB_NACK | ECHO_FB_NACK_PLI | ECHO_FB_CCM_FIR);
  ck_assert_uint_eq(v->ssrc, 3614226201u); /* the FID group's first */
  /* One UDP candidate of component 1; the RTCP one and two TCP ignored. */
  ck_assert_uint_eq(sdp->n_candidates, 1);
  ck_assert_uint_eq(sdp->candidates_ignored, 3);
  ck_assert(sdp->end_of_candidates);
  echo_transport_desc td;
  char err[256];
  ck_assert_int_eq(echo_sdp_transport(sdp, &td, err, sizeof(err)), 0);
  ck_assert_str_eq(td.ice.ufrag, "14c85f23");
  ck_assert_str_eq(td.ice.pwd, "abc4ca307f3c0894522ba2fe4d453cd9");
  ck_assert_uint_eq(td.fingerprint.digest[0], 0xF5); /* from session level */
  ck_assert_int_eq(td.setup, RTCSEC_SDP_SETUP_ACTPASS);
  free(sdp);
}
END_TEST

/* Issue 14.1: the video Firefox offers bundle-only was answered port 0,
 * a=inactive, outside the group, and never flowed. */
START_TEST(firefox_bundle_only_video_is_answered_in_the_bundle) {
  echo_sdp *offer = parse_ok(firefox_offer);
  echo_plan plan;
  char err[256];
  ck_assert_int_eq(echo_plan_answer(&plan, offer, &test_ids, err, sizeof(err)), 0);
  const echo_plan_media *a = &plan.m[0], *v = &plan.m[1];
  ck_assert(a->accepted && !a->bundle_only);
  ck_assert(v->accepted && v->bundle_only);
  ck_assert_uint_eq(v->n_codecs, 1); /* VP8; Firefox offers no H.264 here */
  ck_assert_uint_eq(v->codecs[0].local_pt, 120);
  ck_assert_uint_eq(v->fb, ECHO_FB_NACK | ECHO_FB_NACK_PLI | ECHO_FB_CCM_FIR);
  ck_assert_uint_eq(v->local_ssrc, 2222);
  ck_assert_uint_eq(v->remote_ssrc, 3614226201u);

  echo_transport_desc local = local_transport(RTCSEC_SDP_SETUP_ACTIVE);
  char *buf = malloc(ECHO_SDP_MAX_LEN);
  ck_assert_ptr_nonnull(buf);
  ck_assert_int_eq(echo_sdp_write(&plan, &local, test_cands, 2, 9, buf, ECHO_SDP_MAX_LEN, NULL), 0);
  ck_assert_ptr_nonnull(strstr(buf, "a=group:BUNDLE 0 1\r\n"));
  /* The fingerprint at session level, before the first section. */
  const char *fp = strstr(buf, "a=fingerprint:sha-256 00:01:02:03:");
  ck_assert_ptr_nonnull(fp);
  ck_assert(fp < strstr(buf, "m=audio"));
  ck_assert_ptr_null(strstr(fp + 1, "a=fingerprint"));
  ck_assert_ptr_nonnull(strstr(buf, "m=audio 5000 UDP/TLS/RTP/SAVPF 109\r\n"));
  /* RFC 8843 §7.3: port 0 and a=bundle-only; §7.1.3: no transport
   * attributes; rtcp-mux as browsers require; §9.3.1.2: no a=rtcp. */
  const char *video = strstr(buf, "m=video 0 UDP/TLS/RTP/SAVPF 120\r\nc=IN IP4 0.0.0.0\r\n"
                                  "a=bundle-only\r\na=mid:1\r\na=sendrecv\r\na=rtcp-mux\r\n"
                                  "a=rtcp-rsize\r\na=rtpmap:120 VP8/90000\r\n");
  ck_assert_ptr_nonnull(video);
  ck_assert_ptr_null(strstr(video, "a=ice-"));
  ck_assert_ptr_null(strstr(video, "a=setup"));
  ck_assert_ptr_null(strstr(video, "a=candidate"));
  ck_assert_ptr_null(strstr(video, "a=end-of-candidates"));
  ck_assert_ptr_nonnull(strstr(video, "a=ssrc:2222 cname:rtcsec-echo-test\r\n"));
  ck_assert_ptr_null(strstr(buf, "a=rtcp:"));
  ck_assert_ptr_null(strstr(buf, "a=inactive"));

  /* What we wrote parses back: video bundle-only, the transport from the
   * tagged audio section and session level. */
  echo_sdp *again = parse_ok(buf);
  ck_assert_uint_eq(again->s[1].port, 0);
  ck_assert(again->s[1].bundle_only && !again->s[0].bundle_only);
  echo_transport_desc td;
  ck_assert_int_eq(echo_sdp_transport(again, &td, err, sizeof(err)), 0);
  ck_assert_int_eq(td.setup, RTCSEC_SDP_SETUP_ACTIVE);
  ck_assert_str_eq(td.ice.ufrag, "rtcs");
  ck_assert(rtcsec_fingerprint_equal(&td.fingerprint, &local.fingerprint));
  ck_assert_uint_eq(again->n_candidates, 2);
  free(again);
  free(buf);
  free(offer);
}
END_TEST

/* A small offer in Firefox's max-bundle shape, for the edge cases. */
static const char bundle_offer[] =
    "v=0\r\n"
    "o=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
    "a=group:BUNDLE 0 1\r\n"
    "a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuv\r\n"
    "a=fingerprint:sha-256 "
    "00:01:02:03:04:05:06:07:08:09:0A:0B:0C:0D:0E:0F:10:11:12:13:14:15:16:17:18:19:1A:1B:1C:1D:"
    "1E:1F\r\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
    "a=mid:0\r\na=rtcp-mux\r\na=rtpmap:111 opus/48000/2\r\n"
    "m=video 0 UDP/TLS/RTP/SAVPF 96\r\n"
    "a=bundle-only\r\n"
    "a=mid:1\r\na=rtcp-mux\r\na=rtpmap:96 VP8/90000\r\n";

/* Plans and writes the answer to text; returns echo_plan_answer()'s
 * result, the plan and (on success) the SDP in buf. */
static int answer_to(const char *text, echo_plan *plan, char *buf, size_t cap, char *err,
                     size_t err_cap) {
  echo_sdp *offer = parse_ok(text);
  int rc = echo_plan_answer(plan, offer, &test_ids, err, err_cap);
  free(offer);
  if (rc != 0)
    return rc;
  echo_transport_desc local = local_transport(RTCSEC_SDP_SETUP_ACTIVE);
  ck_assert_int_eq(echo_sdp_write(plan, &local, test_cands, 1, 1, buf, cap, NULL), 0);
  return 0;
}

START_TEST(bundle_only_is_honoured_only_inside_the_group) {
  echo_plan plan;
  char buf[8192], err[256];
  ck_assert_int_eq(answer_to(bundle_offer, &plan, buf, sizeof(buf), err, sizeof(err)), 0);
  ck_assert(plan.m[1].accepted && plan.m[1].bundle_only);
  ck_assert_ptr_nonnull(strstr(buf, "a=group:BUNDLE 0 1\r\n"));

  /* Port 0 without a=bundle-only disables the section (RFC 8843 §7.3
   * NOTE): rejected in place, out of the group, no bundle-only (§7.3.3). */
  char *t = replace(bundle_offer, "a=bundle-only\r\n", "");
  ck_assert_int_eq(answer_to(t, &plan, buf, sizeof(buf), err, sizeof(err)), 0);
  ck_assert(!plan.m[1].accepted && !plan.m[1].bundle_only);
  ck_assert_ptr_nonnull(strstr(buf, "a=group:BUNDLE 0\r\n"));
  ck_assert_ptr_nonnull(strstr(
      buf, "m=video 0 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:1\r\na=inactive\r\n"));
  ck_assert_ptr_null(strstr(buf, "bundle-only"));
  free(t);
  /* The attribute has no value: "bundle-only:1" is not it. */
  t = replace(bundle_offer, "a=bundle-only\r\n", "a=bundle-only:1\r\n");
  ck_assert_int_eq(answer_to(t, &plan, buf, sizeof(buf), err, sizeof(err)), 0);
  ck_assert(!plan.m[1].accepted);
  free(t);
  /* Bundle-only outside the group, or without any group: rejected. */
  t = replace(bundle_offer, "a=group:BUNDLE 0 1\r\n", "a=group:BUNDLE 0\r\n");
  ck_assert_int_eq(answer_to(t, &plan, buf, sizeof(buf), err, sizeof(err)), 0);
  ck_assert(plan.m[0].accepted && !plan.m[1].accepted);
  free(t);
  t = replace(bundle_offer, "a=group:BUNDLE 0 1\r\n", "");
  ck_assert_int_eq(answer_to(t, &plan, buf, sizeof(buf), err, sizeof(err)), 0);
  ck_assert(plan.m[0].accepted && !plan.m[0].bundle_only && !plan.m[1].accepted);
  free(t);
  /* With a port, bundle-only means nothing (RFC 8843 §6: unspecified):
   * a normal bundled section, answered bundle-only as every non-tag one. */
  t = replace(bundle_offer, "m=video 0 ", "m=video 9 ");
  ck_assert_int_eq(answer_to(t, &plan, buf, sizeof(buf), err, sizeof(err)), 0);
  ck_assert(plan.m[1].accepted && plan.m[1].bundle_only);
  free(t);
}
END_TEST

START_TEST(bundle_tag_follows_rfc8843_selection) {
  echo_plan plan;
  char buf[8192], err[256];
  /* No section with a port: nothing can carry the group (§7.3.1), and
   * bundle-only sections cannot be moved out of it (§7.3.2). */
  char *t = replace(bundle_offer, "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n",
                    "m=audio 0 UDP/TLS/RTP/SAVPF 111\r\na=bundle-only\r\n");
  ck_assert_int_eq(answer_to(t, &plan, buf, sizeof(buf), err, sizeof(err)), RTCSEC_ERR_UNSUPPORTED);
  ck_assert_ptr_nonnull(strstr(err, "tag"));
  free(t);
  /* The offer suggests the bundle-only section as its tag (against
   * §7.2.1): the first one with a port is tagged, and listed first. */
  t = replace(bundle_offer, "a=group:BUNDLE 0 1\r\n", "a=group:BUNDLE 1 0\r\n");
  ck_assert_int_eq(answer_to(t, &plan, buf, sizeof(buf), err, sizeof(err)), 0);
  ck_assert(plan.m[0].accepted && !plan.m[0].bundle_only && plan.m[1].bundle_only);
  ck_assert_ptr_nonnull(strstr(buf, "a=group:BUNDLE 0 1\r\n"));
  ck_assert_ptr_nonnull(strstr(buf, "m=audio 5000 "));
  free(t);
  /* A section the echo rejects first (a data channel in the pre-RFC 8841
   * form): the tag moves to audio, which says the same transport. */
  const char *dc = "m=application 9 DTLS/SCTP 5000\r\n"
                   "a=mid:d\r\na=sctpmap:5000 webrtc-datachannel 1024\r\n";
  char *with_dc = replace(bundle_offer, "m=audio", "");
  char *dc_first = malloc(strlen(with_dc) + strlen(dc) + 16);
  ck_assert_ptr_nonnull(dc_first);
  const char *audio_at = strstr(with_dc, " 9 UDP/TLS/RTP/SAVPF 111");
  ck_assert_ptr_nonnull(audio_at);
  snprintf(dc_first, strlen(with_dc) + strlen(dc) + 16, "%.*s%sm=audio%s",
           (int)(audio_at - with_dc), with_dc, dc, audio_at);
  char *dc_group = replace(dc_first, "a=group:BUNDLE 0 1", "a=group:BUNDLE d 0 1");
  char *dc_video = replace(dc_group, "m=video 0 ", "m=video 9 ");
  char *dc_nobo = replace(dc_video, "a=bundle-only\r\n", "");
  ck_assert_int_eq(answer_to(dc_nobo, &plan, buf, sizeof(buf), err, sizeof(err)), 0);
  ck_assert(!plan.m[0].accepted && plan.m[1].accepted && !plan.m[1].bundle_only &&
            plan.m[2].bundle_only);
  ck_assert_ptr_nonnull(strstr(buf, "a=group:BUNDLE 0 1\r\n"));
  ck_assert_ptr_nonnull(strstr(buf, "m=application 0 DTLS/SCTP 5000\r\n"));
  /* The same with audio and video bundle-only: nothing left to tag. */
  char *dc_bo = replace(dc_group, "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n",
                        "m=audio 0 UDP/TLS/RTP/SAVPF 111\r\na=bundle-only\r\n");
  ck_assert_int_eq(answer_to(dc_bo, &plan, buf, sizeof(buf), err, sizeof(err)),
                   RTCSEC_ERR_UNSUPPORTED);
  /* Audio with ICE credentials of its own: another transport than the one
   * read from the rejected first section, so refused with a reason. */
  char *dc_creds = replace(dc_nobo, "a=mid:0\r\n", "a=mid:0\r\na=ice-ufrag:wxyz\r\n");
  ck_assert_int_eq(answer_to(dc_creds, &plan, buf, sizeof(buf), err, sizeof(err)),
                   RTCSEC_ERR_UNSUPPORTED);
  ck_assert_ptr_nonnull(strstr(err, "ICE credentials"));
  free(with_dc);
  free(dc_first);
  free(dc_group);
  free(dc_video);
  free(dc_nobo);
  free(dc_bo);
  free(dc_creds);
}
END_TEST

START_TEST(answers_with_bundle_only_sections_are_applied) {
  echo_plan plan;
  char err[256];
  /* Firefox's own answer to the echo's offer: a port in every section. */
  echo_plan_offer(&plan, &test_ids);
  echo_sdp *answer = parse_ok(firefox_answer);
  ck_assert_int_eq(echo_plan_apply_answer(&plan, answer, err, sizeof(err)), 0);
  ck_assert(plan.m[0].accepted && plan.m[1].accepted && plan.m[2].accepted);
  ck_assert_uint_eq(plan.m[1].n_codecs, 1); /* VP8 only, no H.264 */
  ck_assert_int_eq(plan.m[2].kind, ECHO_KIND_DATA);
  ck_assert_uint_eq(plan.m[2].remote_sctp_port, 5000);
  ck_assert_uint_eq(plan.m[2].remote_max_message_size, 1073741823u);
  ck_assert_uint_eq(plan.m[1].codecs[0].remote_pt, 96);
  echo_transport_desc td;
  ck_assert_int_eq(echo_sdp_transport(answer, &td, err, sizeof(err)), 0);
  ck_assert_int_eq(td.setup, RTCSEC_SDP_SETUP_ACTIVE);
  ck_assert_uint_eq(td.fingerprint.digest[0], 0x7D);
  free(answer);
  /* An RFC 8843 §7.3 answerer says port 0 and a=bundle-only instead. */
  char *rfc =
      replace(firefox_answer, "m=video 43483 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 10.77.0.1\r\n",
              "m=video 0 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=bundle-only\r\n");
  echo_plan_offer(&plan, &test_ids);
  answer = parse_ok(rfc);
  ck_assert_int_eq(echo_plan_apply_answer(&plan, answer, err, sizeof(err)), 0);
  ck_assert(plan.m[1].accepted);
  ck_assert_uint_eq(plan.m[1].remote_ssrc, 1053488960u);
  free(answer);
  /* Bundle-only outside the answer's group is no answer at all. */
  char *outside = replace(rfc, "a=group:BUNDLE 0 1", "a=group:BUNDLE 0");
  echo_plan_offer(&plan, &test_ids);
  answer = parse_ok(outside);
  ck_assert_int_eq(echo_plan_apply_answer(&plan, answer, err, sizeof(err)), RTCSEC_ERR_PARSE);
  ck_assert_ptr_nonnull(strstr(err, "bundle-only"));
  free(answer);
  /* Port 0 alone still rejects the section. */
  char *rejected = replace(rfc, "a=bundle-only\r\n", "");
  echo_plan_offer(&plan, &test_ids);
  answer = parse_ok(rejected);
  ck_assert_int_eq(echo_plan_apply_answer(&plan, answer, err, sizeof(err)), 0);
  ck_assert(plan.m[0].accepted && !plan.m[1].accepted);
  free(answer);
  free(rfc);
  free(outside);
  free(rejected);
}
END_TEST

START_TEST(writer_refuses_a_group_without_a_tag) {
  echo_plan plan;
  echo_plan_offer(&plan, &test_ids);
  plan.m[0].bundle_only = 1; /* every accepted section bundle-only */
  echo_transport_desc local = local_transport(RTCSEC_SDP_SETUP_ACTPASS);
  char buf[8192];
  ck_assert_int_eq(echo_sdp_write(&plan, &local, test_cands, 1, 1, buf, sizeof(buf), NULL),
                   RTCSEC_ERR_INVALID_ARGUMENT);
}
END_TEST

START_TEST(offer_then_answer_maps_payload_types) {
  echo_plan plan;
  echo_plan_offer(&plan, &test_ids);
  ck_assert_uint_eq(plan.n_media, 3);
  echo_transport_desc local = local_transport(RTCSEC_SDP_SETUP_ACTPASS);
  char buf[8192];
  ck_assert_int_eq(echo_sdp_write(&plan, &local, test_cands, 1, 7, buf, sizeof(buf), NULL), 0);
  ck_assert_ptr_nonnull(strstr(buf, "a=setup:actpass\r\n"));
  ck_assert_ptr_nonnull(strstr(buf, "a=group:BUNDLE 0 1 2\r\n"));
  /* The data channels (RFC 8841), bundle-only like video. */
  bundled_data_section(buf);
  ck_assert_ptr_nonnull(strstr(buf, "m=audio 5000 UDP/TLS/RTP/SAVPF 111\r\n"));
  /* RFC 8843 §7.2: only the tagged section has an address:port; video is
   * bundle-only, without transport attributes but with rtcp-mux. */
  const char *video = strstr(buf, "m=video 0 UDP/TLS/RTP/SAVPF 96 102\r\n"
                                  "c=IN IP4 0.0.0.0\r\na=bundle-only\r\n");
  ck_assert_ptr_nonnull(video);
  ck_assert_ptr_null(strstr(video, "a=ice-ufrag"));
  ck_assert_ptr_null(strstr(video, "a=setup"));
  ck_assert_ptr_nonnull(strstr(video, "a=rtcp-mux\r\n"));
  ck_assert_ptr_nonnull(strstr(
      buf,
      "a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n"));

  /* A browser answer that numbers VP8 differently and drops H.264 (a
   * browser should not renumber, but the echo copes). */
  const char *answer_text =
      "v=0\r\no=- 5 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
      "a=group:BUNDLE 0 1 2\r\n"
      "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
      "a=ice-ufrag:gOTb\r\na=ice-pwd:L15DP6cdH1IICv0d4UVCoBjI\r\n"
      "a=fingerprint:sha-256 "
      "D6:F3:DD:A0:40:29:45:1A:22:02:50:AC:6B:DF:FB:C9:1A:51:F2:1A:38:F8:9B:B9:71:71:DE:B2:2D:D2:"
      "A6:C5\r\n"
      "a=setup:active\r\na=mid:0\r\na=sendrecv\r\na=rtcp-mux\r\n"
      "a=rtpmap:111 opus/48000/2\r\na=ssrc:3189711929 cname:x\r\n"
      "m=video 9 UDP/TLS/RTP/SAVPF 120\r\n"
      "a=mid:1\r\na=sendrecv\r\na=rtcp-mux\r\na=rtpmap:120 VP8/90000\r\n"
      "a=rtcp-fb:120 nack\r\na=rtcp-fb:120 nack pli\r\n"
      "a=ssrc-group:FID 417453831 3793398656\r\na=ssrc:417453831 cname:x\r\n"
      "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"
      "a=mid:2\r\na=sctp-port:5001\r\na=max-message-size:65536\r\n";
  echo_sdp *answer = parse_ok(answer_text);
  char err[256];
  ck_assert_int_eq(echo_plan_apply_answer(&plan, answer, err, sizeof(err)), 0);
  const echo_plan_media *v = &plan.m[1];
  ck_assert_uint_eq(v->n_codecs, 1);
  ck_assert_uint_eq(v->codecs[0].local_pt, 96);
  ck_assert_uint_eq(v->codecs[0].remote_pt, 120);
  ck_assert_uint_eq(v->fb, ECHO_FB_NACK | ECHO_FB_NACK_PLI); /* no ccm fir in the answer */
  ck_assert_uint_eq(v->remote_ssrc, 417453831u);
  ck_assert_uint_eq(plan.m[0].remote_ssrc, 3189711929u);
  ck_assert(plan.m[2].accepted);
  ck_assert_uint_eq(plan.m[2].remote_sctp_port, 5001);
  ck_assert_uint_eq(plan.m[2].remote_max_message_size, 65536);
  echo_transport_desc td;
  ck_assert_int_eq(echo_sdp_transport(answer, &td, err, sizeof(err)), 0);
  ck_assert_int_eq(td.setup, RTCSEC_SDP_SETUP_ACTIVE);
  free(answer);

  /* An answer that rejects video keeps audio; one that changes the
   * sections is refused. */
  echo_plan_offer(&plan, &test_ids);
  char *rejected = replace(answer_text, "m=video 9 ", "m=video 0 ");
  answer = parse_ok(rejected);
  ck_assert_int_eq(echo_plan_apply_answer(&plan, answer, err, sizeof(err)), 0);
  ck_assert(plan.m[0].accepted && !plan.m[1].accepted);
  free(answer);
  echo_plan_offer(&plan, &test_ids);
  char *swapped = replace(answer_text, "a=mid:1", "a=mid:7");
  answer = parse_ok(swapped);
  ck_assert_int_eq(echo_plan_apply_answer(&plan, answer, err, sizeof(err)), RTCSEC_ERR_PARSE);
  ck_assert_ptr_nonnull(strstr(err, "mid"));
  free(answer);
  echo_plan_offer(&plan, &test_ids);
  char *vp9 = replace(answer_text, "a=rtpmap:120 VP8/90000", "a=rtpmap:120 VP9/90000");
  answer = parse_ok(vp9);
  ck_assert_int_eq(echo_plan_apply_answer(&plan, answer, err, sizeof(err)), RTCSEC_ERR_PARSE);
  free(answer);
  free(rejected);
  free(swapped);
  free(vp9);
}
END_TEST

/* ---- data channels (RFC 8841) ------------------------------------------------ */

/* What Chromium 156 adds to its offer for a data channel (captured in the
 * browser suite; credentials and fingerprint made those of chromium_offer):
 * the section of the same BUNDLE transport, sctp-port and its
 * max-message-size. */
static const char chromium_data_section[] = "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"
                                            "c=IN IP4 0.0.0.0\r\n" CHROMIUM_TRANSPORT "a=mid:2\r\n"
                                            "a=sctp-port:5000\r\n"
                                            "a=max-message-size:262144\r\n";

/* chromium_offer with its data section last, in the group. */
static char *chromium_offer_with_data(void) {
  char *grouped = replace(chromium_offer, "a=group:BUNDLE 0 1\r\n", "a=group:BUNDLE 0 1 2\r\n");
  size_t n = strlen(grouped) + strlen(chromium_data_section) + 1;
  char *out = malloc(n);
  ck_assert_ptr_nonnull(out);
  snprintf(out, n, "%s%s", grouped, chromium_data_section);
  free(grouped);
  return out;
}

START_TEST(data_channel_section_is_answered_in_the_bundle) {
  char *text = chromium_offer_with_data();
  echo_sdp *offer = parse_ok(text);
  ck_assert_uint_eq(offer->n_sections, 3);
  const echo_section *d = &offer->s[2];
  ck_assert_int_eq(d->kind, ECHO_KIND_DATA);
  ck_assert_str_eq(echo_kind_name(d->kind), "data");
  ck_assert_uint_eq(d->sctp_port, 5000);
  ck_assert_uint_eq(d->max_message_size, 262144);
  ck_assert_uint_eq(d->n_codecs, 0);
  echo_plan plan;
  char err[256];
  ck_assert_int_eq(echo_plan_answer(&plan, offer, &test_ids, err, sizeof(err)), 0);
  ck_assert(plan.m[0].accepted && !plan.m[0].bundle_only);
  ck_assert(plan.m[2].accepted && plan.m[2].bundle_only);
  ck_assert_uint_eq(plan.m[2].remote_sctp_port, 5000);
  ck_assert_uint_eq(plan.m[2].remote_max_message_size, 262144);
  echo_transport_desc local = local_transport(RTCSEC_SDP_SETUP_ACTIVE);
  char *buf = malloc(ECHO_SDP_MAX_LEN);
  ck_assert_ptr_nonnull(buf);
  ck_assert_int_eq(echo_sdp_write(&plan, &local, test_cands, 2, 3, buf, ECHO_SDP_MAX_LEN, NULL), 0);
  ck_assert_ptr_nonnull(strstr(buf, "a=group:BUNDLE 0 1 2\r\n"));
  bundled_data_section(buf);
  /* It parses back as a data section with our values. */
  echo_sdp *again = parse_ok(buf);
  ck_assert_int_eq(again->s[2].kind, ECHO_KIND_DATA);
  ck_assert_uint_eq(again->s[2].sctp_port, ECHO_SCTP_PORT);
  ck_assert_uint_eq(again->s[2].max_message_size, ECHO_MAX_MESSAGE_SIZE);
  ck_assert(again->s[2].bundle_only);
  free(again);
  free(buf);
  free(offer);
  free(text);
}
END_TEST

static const char data_only_offer[] =
    "v=0\r\n"
    "o=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
    "a=group:BUNDLE 0\r\n"
    "a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuv\r\n"
    "a=fingerprint:sha-256 "
    "00:01:02:03:04:05:06:07:08:09:0A:0B:0C:0D:0E:0F:10:11:12:13:14:15:16:17:18:19:1A:1B:1C:1D:"
    "1E:1F\r\n"
    "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"
    "a=mid:0\r\na=sctp-port:5000\r\na=max-message-size:65536\r\n";

START_TEST(data_channel_attributes_are_checked) {
  echo_plan plan;
  char buf[8192], err[256];
  /* Data channels alone are a call: the section carries the group. */
  ck_assert_int_eq(answer_to(data_only_offer, &plan, buf, sizeof(buf), err, sizeof(err)), 0);
  ck_assert(plan.m[0].accepted && !plan.m[0].bundle_only);
  ck_assert_uint_eq(plan.m[0].remote_max_message_size, 65536);
  const char *data = strstr(buf, "m=application 5000 UDP/DTLS/SCTP webrtc-datachannel\r\n");
  ck_assert_ptr_nonnull(data);
  has_each(data, 1, "a=ice-ufrag:", "a=setup:active\r\n", "a=sctp-port:5000\r\n",
           "a=candidate:1 1 UDP", "a=end-of-candidates\r\n", (const char *)NULL);
  ck_assert_ptr_null(strstr(buf, "a=rtcp-mux"));

  /* Defaults: no a=sctp-port is 5000 (RFC 8841 §5), no a=max-message-size
   * is 0 (the peer takes 64 KiB, §6.1); 0 says "any size". */
  char *t = replace(data_only_offer, "a=sctp-port:5000\r\na=max-message-size:65536\r\n", "");
  ck_assert_int_eq(answer_to(t, &plan, buf, sizeof(buf), err, sizeof(err)), 0);
  ck_assert_uint_eq(plan.m[0].remote_sctp_port, 5000);
  ck_assert_uint_eq(plan.m[0].remote_max_message_size, 0);
  free(t);
  t = replace(data_only_offer, "a=max-message-size:65536", "a=max-message-size:0");
  ck_assert_int_eq(answer_to(t, &plan, buf, sizeof(buf), err, sizeof(err)), 0);
  ck_assert_uint_eq(plan.m[0].remote_max_message_size, SIZE_MAX);
  free(t);
  t = replace(data_only_offer, "a=sctp-port:5000", "a=sctp-port:6000");
  ck_assert_int_eq(answer_to(t, &plan, buf, sizeof(buf), err, sizeof(err)), 0);
  ck_assert_uint_eq(plan.m[0].remote_sctp_port, 6000);
  ck_assert_ptr_nonnull(strstr(buf, "a=sctp-port:5000\r\n")); /* ours stays */
  free(t);

  /* Malformed values refuse the document with a reason. */
  static const char *const bad[][2] = {
      {"a=sctp-port:5000", "a=sctp-port:0"},
      {"a=sctp-port:5000", "a=sctp-port:65536"},
      {"a=sctp-port:5000", "a=sctp-port:"},
      {"a=sctp-port:5000", "a=sctp-port:50x0"},
      {"a=max-message-size:65536", "a=max-message-size:"},
      {"a=max-message-size:65536", "a=max-message-size:-1"},
      {"a=max-message-size:65536", "a=max-message-size:64k"},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    t = replace(data_only_offer, bad[i][0], bad[i][1]);
    err[0] = '\0';
    ck_assert_int_eq(parse_fails(t, err, sizeof(err)), RTCSEC_ERR_PARSE);
    ck_assert_msg(strstr(err, "RFC 8841") != NULL, "%s: %s", bad[i][1], err);
    free(t);
  }

  /* Sections the echo does not take: over TCP, outside the group, port 0
   * without bundle-only, a second data section. */
  t = replace(data_only_offer, "UDP/DTLS/SCTP", "TCP/DTLS/SCTP");
  echo_sdp *sdp = parse_ok(t);
  ck_assert_int_eq(sdp->s[0].kind, ECHO_KIND_OTHER);
  free(sdp);
  ck_assert_int_eq(answer_to(t, &plan, buf, sizeof(buf), err, sizeof(err)), RTCSEC_ERR_UNSUPPORTED);
  free(t);
  t = replace(data_only_offer, "m=application 9 ", "m=application 0 ");
  ck_assert_int_eq(answer_to(t, &plan, buf, sizeof(buf), err, sizeof(err)), RTCSEC_ERR_UNSUPPORTED);
  free(t);
  size_t n = strlen(bundle_offer) + 256;
  char *two = malloc(n);
  ck_assert_ptr_nonnull(two);
  snprintf(two, n, "%s%s%s", bundle_offer,
           "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:d1\r\n",
           "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:d2\r\n");
  /* neither is in the group (it lists 0 1): both rejected */
  ck_assert_int_eq(answer_to(two, &plan, buf, sizeof(buf), err, sizeof(err)), 0);
  ck_assert(plan.m[0].accepted && !plan.m[2].accepted && !plan.m[3].accepted);
  ck_assert_ptr_nonnull(strstr(buf, "m=application 0 UDP/DTLS/SCTP webrtc-datachannel\r\n"));
  /* both in it: the first is taken, the second rejected (one SCTP
   * association per connection) */
  char *grouped = replace(two, "a=group:BUNDLE 0 1\r\n", "a=group:BUNDLE 0 1 d1 d2\r\n");
  ck_assert_int_eq(answer_to(grouped, &plan, buf, sizeof(buf), err, sizeof(err)), 0);
  ck_assert(plan.m[2].accepted && plan.m[2].bundle_only && !plan.m[3].accepted);
  ck_assert_ptr_nonnull(strstr(buf, "a=group:BUNDLE 0 1 d1\r\n"));
  free(grouped);
  free(two);

  /* The browser rejects the data section of our offer: media stays. */
  echo_plan_offer(&plan, &test_ids);
  char *no_data = replace(firefox_answer, "m=application 43483 ", "m=application 0 ");
  sdp = parse_ok(no_data);
  ck_assert_int_eq(echo_plan_apply_answer(&plan, sdp, err, sizeof(err)), 0);
  ck_assert(plan.m[0].accepted && plan.m[1].accepted && !plan.m[2].accepted);
  free(sdp);
  free(no_data);
  /* ... or answers it with another kind of section: refused. */
  echo_plan_offer(&plan, &test_ids);
  char *tcp = replace(firefox_answer, "m=application 43483 UDP/DTLS/SCTP",
                      "m=application 43483 TCP/DTLS/SCTP");
  sdp = parse_ok(tcp);
  ck_assert_int_eq(echo_plan_apply_answer(&plan, sdp, err, sizeof(err)), RTCSEC_ERR_PARSE);
  free(sdp);
  free(tcp);
}
END_TEST

START_TEST(writer_refuses_a_small_buffer) {
  echo_plan plan;
  echo_plan_offer(&plan, &test_ids);
  echo_transport_desc local = local_transport(RTCSEC_SDP_SETUP_ACTPASS);
  char buf[300];
  ck_assert_int_eq(echo_sdp_write(&plan, &local, test_cands, 2, 1, buf, sizeof(buf), NULL),
                   RTCSEC_ERR_BUFFER_TOO_SMALL);
}
END_TEST

/* ---- RTP ------------------------------------------------------------------------ */

#define B_AUDIO 0xA0A0A0A0u
#define B_VIDEO 0xB0B0B0B0u
#define R_AUDIO 0x0A0A0A0Au
#define R_VIDEO 0x0B0B0B0Bu

static void put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void make_rewriter(echo_rewriter *rw) {
  echo_rewriter_init(rw);
  int a = echo_rewriter_add_stream(rw, ECHO_KIND_AUDIO, R_AUDIO, B_AUDIO);
  int v = echo_rewriter_add_stream(rw, ECHO_KIND_VIDEO, R_VIDEO, B_VIDEO);
  ck_assert_int_eq(a, 0);
  ck_assert_int_eq(v, 1);
  echo_rewriter_map_pt(rw, a, 111, 111);
  echo_rewriter_map_pt(rw, v, 96, 120);
}

static size_t make_rtp(uint8_t *p, uint8_t pt, int marker, uint16_t seq, uint32_t ssrc) {
  memset(p, 0, 40);
  p[0] = 0x80;
  p[1] = (uint8_t)((marker ? 0x80 : 0) | pt);
  p[2] = (uint8_t)(seq >> 8);
  p[3] = (uint8_t)seq;
  put32(p + 4, 123456);
  put32(p + 8, ssrc);
  memset(p + 12, 0x5a, 28);
  return 40;
}

START_TEST(rtp_gets_rtcsec_ssrc_and_the_browsers_payload_type) {
  echo_rewriter rw;
  make_rewriter(&rw);
  uint8_t p[64];
  size_t n = make_rtp(p, 96, 1, 1000, B_VIDEO);
  ck_assert_int_eq(echo_rewrite_rtp(&rw, p, n), 1);
  ck_assert_uint_eq(get32(p + 8), R_VIDEO);
  ck_assert_uint_eq(p[1], 0x80 | 120); /* marker kept, PT mapped */
  ck_assert_uint_eq(p[2] << 8 | p[3], 1000);
  ck_assert_uint_eq(get32(p + 4), 123456); /* timestamp kept */
  n = make_rtp(p, 111, 0, 5, B_AUDIO);
  ck_assert_int_eq(echo_rewrite_rtp(&rw, p, n), 0);
  ck_assert_uint_eq(get32(p + 8), R_AUDIO);
  ck_assert_uint_eq(p[1], 111);
  ck_assert_uint_eq(rw.streams[0].packets, 1);
  ck_assert_uint_eq(rw.streams[1].packets, 1);
  /* Not negotiated: dropped and counted. */
  n = make_rtp(p, 97, 0, 6, B_VIDEO);
  ck_assert_int_eq(echo_rewrite_rtp(&rw, p, n), -1);
  ck_assert_uint_eq(rw.rtp_dropped_pt, 1);
  n = make_rtp(p, 96, 0, 6, 0x12345678);
  ck_assert_int_eq(echo_rewrite_rtp(&rw, p, n), -1);
  ck_assert_uint_eq(rw.rtp_dropped_ssrc, 1);
  p[0] = 0x40;
  ck_assert_int_eq(echo_rewrite_rtp(&rw, p, n), -1);
  ck_assert_int_eq(echo_rewrite_rtp(&rw, p, 11), -1);
  ck_assert_uint_eq(rw.rtp_malformed, 2);
}
END_TEST

START_TEST(rtp_stream_without_declared_ssrc_is_learned) {
  echo_rewriter rw;
  echo_rewriter_init(&rw);
  int v = echo_rewriter_add_stream(&rw, ECHO_KIND_VIDEO, R_VIDEO, 0);
  echo_rewriter_map_pt(&rw, v, 96, 96);
  uint8_t p[64];
  size_t n = make_rtp(p, 96, 0, 1, 0x77777777);
  ck_assert_int_eq(echo_rewrite_rtp(&rw, p, n), 0);
  ck_assert_uint_eq(rw.streams[0].remote_ssrc, 0x77777777u);
  n = make_rtp(p, 96, 0, 2, 0x88888888); /* a second one is not taken */
  ck_assert_int_eq(echo_rewrite_rtp(&rw, p, n), -1);
  ck_assert_uint_eq(echo_rewriter_swap(&rw, 0x77777777u), R_VIDEO);
  ck_assert_uint_eq(echo_rewriter_swap(&rw, R_VIDEO), 0x77777777u);
  ck_assert_uint_eq(echo_rewriter_swap(&rw, 0), 0);
  ck_assert_int_eq(echo_rewriter_add_stream(&rw, ECHO_KIND_AUDIO, 0, 1), -1);
}
END_TEST

/* ---- RTCP ------------------------------------------------------------------------ */

/* RR from the browser about the echoed video (sender = its video SSRC,
 * report block about rtcsec's), then an SDES with its CNAME. */
static size_t make_rr_sdes(uint8_t *p) {
  memset(p, 0, 64);
  p[0] = 0x81; /* V=2, RC=1 */
  p[1] = 201;
  p[3] = 7; /* 8 words */
  put32(p + 4, B_VIDEO);
  put32(p + 8, R_VIDEO);
  p[12] = 5; /* fraction lost */
  /* SDES: one chunk, CNAME "ab", padded to a word */
  uint8_t *s = p + 32;
  s[0] = 0x81;
  s[1] = 202;
  s[3] = 2; /* 3 words */
  put32(s + 4, B_VIDEO);
  s[8] = 1; /* CNAME */
  s[9] = 2;
  s[10] = 'a';
  s[11] = 'b';
  return 44;
}

START_TEST(rtcp_rr_is_swapped_and_sdes_dropped) {
  echo_rewriter rw;
  make_rewriter(&rw);
  uint8_t p[64];
  size_t n = make_rr_sdes(p), out = 0;
  ck_assert_int_eq(echo_rewrite_rtcp(&rw, p, n, &out, NULL, NULL, NULL, 0), 1);
  ck_assert_uint_eq(out, 32);
  ck_assert_uint_eq(p[1], 201);
  ck_assert_uint_eq(get32(p + 4), R_VIDEO);
  ck_assert_uint_eq(get32(p + 8), B_VIDEO);
  ck_assert_uint_eq(p[12], 5);
  ck_assert_uint_eq(rw.rtcp_forwarded, 1);
  ck_assert_uint_eq(rw.rtcp_parts_dropped, 1);
}
END_TEST

START_TEST(rtcp_sr_report_blocks_and_bye_are_swapped) {
  echo_rewriter rw;
  make_rewriter(&rw);
  uint8_t p[80];
  memset(p, 0, sizeof(p));
  p[0] = 0x81;
  p[1] = 200;
  p[3] = 12; /* 52 bytes: header 28 + one block */
  put32(p + 4, B_AUDIO);
  put32(p + 28, R_AUDIO);
  uint8_t *b = p + 52;
  b[0] = 0x82; /* BYE with two SSRCs */
  b[1] = 203;
  b[3] = 2;
  put32(b + 4, B_AUDIO);
  put32(b + 8, B_VIDEO);
  size_t out = 0;
  ck_assert_int_eq(echo_rewrite_rtcp(&rw, p, 64, &out, NULL, NULL, NULL, 0), 1);
  ck_assert_uint_eq(out, 64);
  ck_assert_uint_eq(get32(p + 4), R_AUDIO);
  ck_assert_uint_eq(get32(p + 28), B_AUDIO);
  ck_assert_uint_eq(get32(b + 4), R_AUDIO);
  ck_assert_uint_eq(get32(b + 8), R_VIDEO);
}
END_TEST

START_TEST(rtcp_pli_and_fir_reach_the_browsers_encoder) {
  echo_rewriter rw;
  make_rewriter(&rw);
  uint8_t p[32];
  memset(p, 0, sizeof(p));
  p[0] = 0x81; /* PLI: FMT 1 */
  p[1] = 206;
  p[3] = 2;
  put32(p + 4, B_VIDEO);
  put32(p + 8, R_VIDEO);
  size_t out = 0;
  ck_assert_int_eq(echo_rewrite_rtcp(&rw, p, 12, &out, NULL, NULL, NULL, 0), 1);
  ck_assert_uint_eq(out, 12);
  ck_assert_uint_eq(get32(p + 4), R_VIDEO);
  ck_assert_uint_eq(get32(p + 8), B_VIDEO);
  ck_assert_uint_eq(rw.pli, 1);
  memset(p, 0, sizeof(p));
  p[0] = 0x84; /* FIR: FMT 4, media SSRC 0, FCI SSRC + seq */
  p[1] = 206;
  p[3] = 4;
  put32(p + 4, B_VIDEO);
  put32(p + 12, R_VIDEO);
  p[16] = 9;
  ck_assert_int_eq(echo_rewrite_rtcp(&rw, p, 20, &out, NULL, NULL, NULL, 0), 1);
  ck_assert_uint_eq(get32(p + 8), 0);
  ck_assert_uint_eq(get32(p + 12), B_VIDEO);
  ck_assert_uint_eq(p[16], 9);
  ck_assert_uint_eq(rw.fir, 1);
  /* REMB: its SSRC list too. */
  memset(p, 0, sizeof(p));
  p[0] = 0x8f;
  p[1] = 206;
  p[3] = 5;
  put32(p + 4, B_VIDEO);
  memcpy(p + 12, "REMB", 4);
  p[16] = 1;
  put32(p + 20, R_VIDEO);
  ck_assert_int_eq(echo_rewrite_rtcp(&rw, p, 24, &out, NULL, NULL, NULL, 0), 1);
  ck_assert_uint_eq(get32(p + 20), B_VIDEO);
  /* Other feedback (transport-cc, RTPFB FMT 15) is not negotiated: dropped. */
  memset(p, 0, sizeof(p));
  p[0] = 0x8f;
  p[1] = 205;
  p[3] = 2;
  ck_assert_int_eq(echo_rewrite_rtcp(&rw, p, 12, &out, NULL, NULL, NULL, 0), 0);
  ck_assert_uint_eq(out, 0);
}
END_TEST

typedef struct resent {
  int n;
  uint16_t seq[32];
} resent;

static void on_resend(void *user, const uint8_t *pkt, size_t len) {
  resent *r = user;
  ck_assert_uint_ge(len, 12);
  ck_assert_uint_eq(get32(pkt + 8), R_VIDEO);
  if (r->n < 32)
    r->seq[r->n++] = (uint16_t)(pkt[2] << 8 | pkt[3]);
}

static size_t make_nack(uint8_t *p, uint16_t pid, uint16_t blp) {
  memset(p, 0, 16);
  p[0] = 0x81; /* generic NACK: FMT 1 */
  p[1] = 205;
  p[3] = 3;
  put32(p + 4, B_VIDEO);
  put32(p + 8, R_VIDEO);
  p[12] = (uint8_t)(pid >> 8);
  p[13] = (uint8_t)pid;
  p[14] = (uint8_t)(blp >> 8);
  p[15] = (uint8_t)blp;
  return 16;
}

START_TEST(nack_is_answered_from_the_cache_where_it_can) {
  echo_rewriter rw;
  make_rewriter(&rw);
  echo_rtp_cache *cache = calloc(1, sizeof(*cache));
  ck_assert_ptr_nonnull(cache);
  cache->ssrc = R_VIDEO;
  uint8_t pkt[64];
  /* The cache has 65534..65535, 0..3 (a wrap) but not 4 or 5. */
  for (uint16_t s = 65534; s != 4; s++) {
    size_t n = make_rtp(pkt, 120, 0, s, R_VIDEO);
    echo_rtp_cache_put(cache, pkt, n, 0);
  }
  size_t got_len = 0;
  ck_assert_ptr_nonnull(echo_rtp_cache_get(cache, 65535, &got_len));
  ck_assert_uint_eq(got_len, 40);
  ck_assert_ptr_null(echo_rtp_cache_get(cache, 4, &got_len));

  /* All lost packets cached: resent, nothing forwarded. */
  uint8_t p[32];
  resent r = {0};
  size_t n = make_nack(p, 65535, 0x0003), out = 99; /* 65535, 0, 1 */
  ck_assert_int_eq(echo_rewrite_rtcp(&rw, p, n, &out, cache, on_resend, &r, 0), 0);
  ck_assert_uint_eq(out, 0);
  ck_assert_int_eq(r.n, 3);
  ck_assert_uint_eq(r.seq[0], 65535);
  ck_assert_uint_eq(r.seq[2], 1);
  ck_assert_uint_eq(rw.nack_resent, 3);

  /* 3 cached, 4 and 5 not: 3 resent, the NACK asks the browser for 4, 5
   * about its own SSRC. */
  memset(&r, 0, sizeof(r));
  n = make_nack(p, 3, 0x0003);
  ck_assert_int_eq(echo_rewrite_rtcp(&rw, p, n, &out, cache, on_resend, &r, 0), 1);
  ck_assert_int_eq(r.n, 1);
  ck_assert_uint_eq(r.seq[0], 3);
  ck_assert_uint_eq(out, 16);
  ck_assert_uint_eq(get32(p + 4), R_VIDEO);
  ck_assert_uint_eq(get32(p + 8), B_VIDEO);
  ck_assert_uint_eq(p[12] << 8 | p[13], 4);
  ck_assert_uint_eq(p[14] << 8 | p[15], 0x0001); /* 5 */
  ck_assert_uint_eq(rw.nack, 1);

  /* Without a cache, the NACK is forwarded whole. */
  n = make_nack(p, 3, 0x0003);
  ck_assert_int_eq(echo_rewrite_rtcp(&rw, p, n, &out, NULL, NULL, NULL, 0), 1);
  ck_assert_uint_eq(p[12] << 8 | p[13], 3);
  ck_assert_uint_eq(p[14] << 8 | p[15], 0x0003);
  free(cache);
}
END_TEST

/* ---- NACK limits (issue 11, item 6) ------------------------------------------ */

#define MS 1000u /* microseconds */

/* Every resend, per sequence number. */
typedef struct resend_log {
  uint64_t n, bytes;
  uint32_t *per_seq; /* 65536 counters */
} resend_log;

static resend_log *resend_log_new(void) {
  resend_log *l = calloc(1, sizeof(*l));
  ck_assert_ptr_nonnull(l);
  l->per_seq = calloc(65536, sizeof(*l->per_seq));
  ck_assert_ptr_nonnull(l->per_seq);
  return l;
}

static void resend_log_free(resend_log *l) {
  free(l->per_seq);
  free(l);
}

static void log_resend(void *user, const uint8_t *pkt, size_t len) {
  resend_log *l = user;
  ck_assert_uint_ge(len, 12);
  ck_assert_uint_eq(get32(pkt + 8), R_VIDEO);
  l->n++;
  l->bytes += len;
  l->per_seq[pkt[2] << 8 | pkt[3]]++;
}

static uint32_t log_max_per_seq(const resend_log *l) {
  uint32_t m = 0;
  for (size_t i = 0; i < 65536; i++)
    if (l->per_seq[i] > m)
      m = l->per_seq[i];
  return m;
}

/* A video packet of rtcsec's stream, len bytes (12..1500). */
static size_t make_video(uint8_t *p, uint16_t seq, size_t len) {
  memset(p, 0, len);
  p[0] = 0x80;
  p[1] = 120;
  p[2] = (uint8_t)(seq >> 8);
  p[3] = (uint8_t)seq;
  put32(p + 8, R_VIDEO);
  memset(p + 12, 0x3c, len - 12);
  return len;
}

static echo_rtp_cache *video_cache(void) {
  echo_rtp_cache *c = calloc(1, sizeof(*c));
  ck_assert_ptr_nonnull(c);
  c->ssrc = R_VIDEO;
  return c;
}

/* Puts seqs first..first+n-1 of len bytes, one every step_us from t. */
static void put_video(echo_rtp_cache *c, uint16_t first, size_t n, size_t len, uint64_t t,
                      uint64_t step_us) {
  uint8_t pkt[ECHO_CACHE_PKT];
  for (size_t i = 0; i < n; i++)
    echo_rtp_cache_put(c, pkt, make_video(pkt, (uint16_t)(first + i), len), t + i * step_us);
}

/* A generic NACK from the browser about media_ssrc with n entries (pid,
 * blp) into p (room for 12 + 4n bytes). */
static size_t make_nack_n(uint8_t *p, uint32_t media_ssrc, const uint16_t *pid, const uint16_t *blp,
                          size_t n) {
  p[0] = 0x81;
  p[1] = 205;
  p[2] = (uint8_t)((3 + n - 1) >> 8);
  p[3] = (uint8_t)(3 + n - 1);
  put32(p + 4, B_VIDEO);
  put32(p + 8, media_ssrc);
  for (size_t i = 0; i < n; i++) {
    p[12 + 4 * i] = (uint8_t)(pid[i] >> 8);
    p[13 + 4 * i] = (uint8_t)pid[i];
    p[14 + 4 * i] = (uint8_t)(blp[i] >> 8);
    p[15 + 4 * i] = (uint8_t)blp[i];
  }
  return 12 + 4 * n;
}

/* The sequence numbers a (forwarded) NACK asks for, as 65536 flags;
 * returns how many. */
static size_t nack_seqs(const uint8_t *p, size_t len, uint8_t *flags) {
  memset(flags, 0, 65536);
  size_t n = 0;
  for (size_t off = 12; off + 4 <= len; off += 4) {
    uint16_t pid = (uint16_t)(p[off] << 8 | p[off + 1]);
    uint16_t blp = (uint16_t)(p[off + 2] << 8 | p[off + 3]);
    for (unsigned b = 0; b <= 16; b++) {
      if (b > 0 && !(blp & (1u << (b - 1))))
        continue;
      uint16_t s = (uint16_t)(pid + b);
      ck_assert_msg(!flags[s], "seq %u asked for twice", s);
      flags[s] = 1;
      n++;
    }
  }
  return n;
}

/* The report from the field: one 1180-byte NACK of 292 entries, every BLP
 * bit set, made the echo send 4964 packets. Each cached packet must go out
 * once, the duplicates be counted, nothing be forwarded. */
START_TEST(nack_of_292_entries_resends_each_cached_packet_once) {
  echo_rewriter rw;
  make_rewriter(&rw);
  echo_rtp_cache *cache = video_cache();
  /* 308 small packets (seqs 1000..1307): the byte budget is not what
   * limits here (308 x 40 < ECHO_RESEND_BURST). */
  put_video(cache, 1000, 308, 40, 0, 1 * MS);
  uint16_t pid[292], blp[292];
  for (size_t i = 0; i < 292; i++) {
    pid[i] = (uint16_t)(1000 + i);
    blp[i] = 0xffff;
  }
  uint8_t p[12 + 4 * 292];
  size_t n = make_nack_n(p, R_VIDEO, pid, blp, 292), out = 99;
  ck_assert_uint_eq(n, 1180);
  resend_log *l = resend_log_new();
  ck_assert_int_eq(echo_rewrite_rtcp(&rw, p, n, &out, cache, log_resend, l, 400 * MS), 0);
  ck_assert_uint_eq(out, 0);
  ck_assert_uint_eq(l->n, 308); /* was 4964 */
  ck_assert_uint_eq(log_max_per_seq(l), 1);
  for (uint16_t s = 1000; s < 1308; s++)
    ck_assert_uint_eq(l->per_seq[s], 1);
  ck_assert_uint_eq(rw.nack_resent, 308);
  ck_assert_uint_eq(rw.nack_resent_bytes, 308 * 40);
  ck_assert_uint_eq(rw.nack_duplicates, 292 * 17 - 308);
  ck_assert_uint_eq(rw.nack_refused_rtt, 0);
  ck_assert_uint_eq(rw.nack_refused_rate, 0);

  /* The same 292 entries all naming one window: 17 packets, once each
   * (a fresh cache: the first ones were just resent). */
  make_rewriter(&rw);
  memset(cache, 0, sizeof(*cache));
  cache->ssrc = R_VIDEO;
  put_video(cache, 1000, 308, 40, 0, 1 * MS);
  memset(l->per_seq, 0, 65536 * sizeof(*l->per_seq));
  l->n = l->bytes = 0;
  for (size_t i = 0; i < 292; i++)
    pid[i] = 1000;
  n = make_nack_n(p, R_VIDEO, pid, blp, 292);
  ck_assert_int_eq(echo_rewrite_rtcp(&rw, p, n, &out, cache, log_resend, l, 400 * MS), 0);
  ck_assert_uint_eq(l->n, 17);
  ck_assert_uint_eq(log_max_per_seq(l), 1);
  ck_assert_uint_eq(rw.nack_duplicates, 292 * 17 - 17);
  resend_log_free(l);
  free(cache);
}
END_TEST

/* A NACK naming all 65536 sequence numbers (4096 entries): the cache's
 * packets go out once each, the rest is forwarded, each number once. */
START_TEST(nack_naming_every_sequence_number_is_bounded_and_forwarded_once) {
  echo_rewriter rw;
  make_rewriter(&rw);
  echo_rtp_cache *cache = video_cache();
  put_video(cache, 65500, 100, 40, 0, 1 * MS); /* 65500..65535, 0..63: a wrap */
  uint16_t *pid = calloc(4096, sizeof(*pid)), *blp = calloc(4096, sizeof(*blp));
  uint8_t *p = malloc(12 + 4 * 4096), *flags = malloc(65536);
  ck_assert(pid && blp && p && flags);
  for (size_t i = 0; i < 4096; i++) {
    pid[i] = (uint16_t)(30000 + 16 * i); /* the first PID is not 0 */
    blp[i] = 0x7fff;
  }
  size_t n = make_nack_n(p, R_VIDEO, pid, blp, 4096), out = 0;
  resend_log *l = resend_log_new();
  ck_assert_int_eq(echo_rewrite_rtcp(&rw, p, n, &out, cache, log_resend, l, 200 * MS), 1);
  ck_assert_uint_eq(l->n, 100);
  ck_assert_uint_eq(log_max_per_seq(l), 1);
  ck_assert_uint_eq(rw.nack_duplicates, 0);
  ck_assert_uint_le(out, n);
  ck_assert_uint_eq(get32(p + 8), B_VIDEO);
  ck_assert_uint_eq(nack_seqs(p, out, flags), 65536 - 100);
  for (uint32_t s = 0; s < 65536; s++) {
    int cached = s >= 65500 || s < 64;
    ck_assert_msg(flags[s] == !cached, "seq %u forwarded %d", s, flags[s]);
  }
  resend_log_free(l);
  free(pid);
  free(blp);
  free(p);
  free(flags);
  free(cache);
}
END_TEST

START_TEST(nack_repeated_within_the_default_rtt_resends_nothing) {
  echo_rewriter rw;
  make_rewriter(&rw);
  echo_rtp_cache *cache = video_cache();
  put_video(cache, 10, 11, 100, 0, 1 * MS); /* 10..20 */
  ck_assert_uint_eq(echo_rewriter_rtt_window(&rw), ECHO_RTT_DEFAULT_US);
  resend_log *l = resend_log_new();
  uint8_t p[32];
  size_t n = make_nack(p, 10, 0x00ff), out = 99; /* 10..18 */
  uint64_t t = 1000 * MS;
  ck_assert_int_eq(echo_rewrite_rtcp(&rw, p, n, &out, cache, log_resend, l, t), 0);
  ck_assert_uint_eq(l->n, 9);
  /* Again 50 ms later: within the RTT, the first resends are still on
   * their way. Nothing is resent, and nothing is asked of the browser. */
  n = make_nack(p, 10, 0x00ff);
  ck_assert_int_eq(echo_rewrite_rtcp(&rw, p, n, &out, cache, log_resend, l, t + 50 * MS), 0);
  ck_assert_uint_eq(out, 0);
  ck_assert_uint_eq(l->n, 9);
  ck_assert_uint_eq(rw.nack_refused_rtt, 9);
  n = make_nack(p, 10, 0x00ff);
  ck_assert_int_eq(
      echo_rewrite_rtcp(&rw, p, n, &out, cache, log_resend, l, t + ECHO_RTT_DEFAULT_US - 1), 0);
  ck_assert_uint_eq(l->n, 9);
  ck_assert_uint_eq(rw.nack_refused_rtt, 18);
  /* One RTT after the resend, a packet still missing may go again. */
  n = make_nack(p, 10, 0x00ff);
  ck_assert_int_eq(
      echo_rewrite_rtcp(&rw, p, n, &out, cache, log_resend, l, t + ECHO_RTT_DEFAULT_US), 0);
  ck_assert_uint_eq(l->n, 18);
  ck_assert_uint_eq(log_max_per_seq(l), 2);
  ck_assert_uint_eq(rw.nack_resent, 18);
  ck_assert_uint_eq(rw.nack_resent_bytes, 18 * 100);
  ck_assert_uint_eq(rw.nack_refused_rate, 0);
  ck_assert_uint_eq(rw.nack_duplicates, 0);
  /* A packet put again (a new one in its slot) may be resent at once. */
  put_video(cache, 10, 1, 100, t + ECHO_RTT_DEFAULT_US + 1, 0);
  n = make_nack(p, 10, 0x0001); /* 10, 11 */
  ck_assert_int_eq(
      echo_rewrite_rtcp(&rw, p, n, &out, cache, log_resend, l, t + ECHO_RTT_DEFAULT_US + 2), 0);
  ck_assert_uint_eq(l->n, 19);
  ck_assert_uint_eq(l->per_seq[10], 3);
  ck_assert_uint_eq(l->per_seq[11], 2);
  ck_assert_uint_eq(rw.nack_refused_rtt, 19);
  resend_log_free(l);
  free(cache);
}
END_TEST

/* An RTCP packet of len bytes from the browser's video SSRC, zero after
 * the sender SSRC. */
static size_t rtcp_from_browser(uint8_t *p, size_t len, uint8_t first, uint8_t type) {
  memset(p, 0, len);
  p[0] = first;
  p[1] = type;
  p[3] = (uint8_t)(len / 4 - 1);
  put32(p + 4, B_VIDEO);
  return len;
}

/* RTCP SR from the browser about its video, NTP timestamp ntp_hi.ntp_lo. */
static size_t make_sr(uint8_t *p, uint32_t ntp_hi, uint32_t ntp_lo) {
  size_t n = rtcp_from_browser(p, 28, 0x80, 200);
  put32(p + 8, ntp_hi);
  put32(p + 12, ntp_lo);
  return n;
}

/* RTCP RR from the browser with one block about `source`. */
static size_t make_rr_block(uint8_t *p, uint32_t source, uint32_t lsr, uint32_t dlsr) {
  size_t n = rtcp_from_browser(p, 32, 0x81, 201);
  put32(p + 8, source);
  put32(p + 24, lsr);
  put32(p + 28, dlsr);
  return n;
}

START_TEST(rtt_is_measured_from_lsr_and_dlsr_and_bounds_resends) {
  echo_rewriter rw;
  make_rewriter(&rw);
  uint8_t p[64];
  size_t out = 0;
  /* The browser's SR goes out as rtcsec's at 1 s; its RR names it (LSR =
   * the middle 32 bits of the NTP timestamp) 400 ms later, after holding it
   * 100 ms (DLSR 6553.6 / 65536 s): RTT 300 ms. */
  size_t n = make_sr(p, 0xAABB1234u, 0x5678CCDDu);
  ck_assert_int_eq(echo_rewrite_rtcp(&rw, p, n, &out, NULL, NULL, NULL, 1000 * MS), 1);
  ck_assert_uint_eq(get32(p + 4), R_VIDEO);
  /* An LSR that names no SR the echo sent, a block about a stream that is
   * not rtcsec's, and a DLSR longer than the time that passed: no sample. */
  n = make_rr_block(p, R_VIDEO, 0x11111111u, 6554);
  ck_assert_int_eq(echo_rewrite_rtcp(&rw, p, n, &out, NULL, NULL, NULL, 1400 * MS), 1);
  n = make_rr_block(p, 0x99999999u, 0x12345678u, 6554);
  ck_assert_int_eq(echo_rewrite_rtcp(&rw, p, n, &out, NULL, NULL, NULL, 1400 * MS), 1);
  n = make_rr_block(p, R_VIDEO, 0x12345678u, 65536);
  ck_assert_int_eq(echo_rewrite_rtcp(&rw, p, n, &out, NULL, NULL, NULL, 1400 * MS), 1);
  ck_assert_uint_eq(rw.rtt_samples, 0);
  ck_assert_uint_eq(echo_rewriter_rtt_window(&rw), ECHO_RTT_DEFAULT_US);
  n = make_rr_block(p, R_VIDEO, 0x12345678u, 6554); /* 100.006 ms */
  ck_assert_int_eq(echo_rewrite_rtcp(&rw, p, n, &out, NULL, NULL, NULL, 1400 * MS), 1);
  ck_assert_uint_eq(get32(p + 8), B_VIDEO); /* still swapped for the browser */
  ck_assert_uint_eq(rw.rtt_samples, 1);
  ck_assert_uint_ge(rw.rtt_us, 299 * MS);
  ck_assert_uint_le(rw.rtt_us, 300 * MS);
  uint64_t rtt = echo_rewriter_rtt_window(&rw);

  echo_rtp_cache *cache = video_cache();
  put_video(cache, 500, 5, 200, 1500 * MS, 1 * MS);
  resend_log *l = resend_log_new();
  uint64_t t = 2000 * MS;
  n = make_nack(p, 500, 0x000f);
  ck_assert_int_eq(echo_rewrite_rtcp(&rw, p, n, &out, cache, log_resend, l, t), 0);
  ck_assert_uint_eq(l->n, 5);
  /* 250 ms later: past the default 100 ms, but within this path's RTT. */
  n = make_nack(p, 500, 0x000f);
  ck_assert_int_eq(echo_rewrite_rtcp(&rw, p, n, &out, cache, log_resend, l, t + 250 * MS), 0);
  ck_assert_uint_eq(l->n, 5);
  ck_assert_uint_eq(rw.nack_refused_rtt, 5);
  n = make_nack(p, 500, 0x000f);
  ck_assert_int_eq(echo_rewrite_rtcp(&rw, p, n, &out, cache, log_resend, l, t + rtt), 0);
  ck_assert_uint_eq(l->n, 10);

  /* A second sample is smoothed in (1/8), and the window stays within its
   * bounds whatever the browser claims. */
  n = make_sr(p, 0, 0x00020000u);
  echo_rewrite_rtcp(&rw, p, n, &out, NULL, NULL, NULL, 3000 * MS);
  n = make_rr_block(p, R_VIDEO, 0x00000002u, 0);
  echo_rewrite_rtcp(&rw, p, n, &out, NULL, NULL, NULL, 3000 * MS + 100); /* 0.1 ms */
  ck_assert_uint_eq(rw.rtt_samples, 2);
  ck_assert_uint_lt(rw.rtt_us, rtt);
  ck_assert_uint_gt(rw.rtt_us, rtt * 7 / 8 - MS);
  rw.rtt_us = 1;
  ck_assert_uint_eq(echo_rewriter_rtt_window(&rw), ECHO_RTT_MIN_US);
  rw.rtt_us = 60000 * MS;
  ck_assert_uint_eq(echo_rewriter_rtt_window(&rw), ECHO_RTT_MAX_US);
  resend_log_free(l);
  free(cache);
}
END_TEST

/* The browser sends 1200-byte video at 100 packets/s (120 000 B/s) while a
 * NACK every 10 ms names 17 cached packets (20 400 B per NACK, 2 MB/s),
 * each named again only after more than an RTT. The resends stay within the
 * bucket: its depth plus 25 % of the video rate, at every moment. */
START_TEST(resend_bytes_stay_within_a_quarter_of_the_video_rate) {
  echo_rewriter rw;
  make_rewriter(&rw);
  echo_rtp_cache *cache = video_cache();
  resend_log *l = resend_log_new();
  const uint64_t rate = 120000, len = 1200;
  /* 3 s of video first: the rate is known and 300 packets are cached. */
  put_video(cache, 0, 300, len, 0, 10 * MS);
  const uint64_t start = 3000 * MS;
  uint16_t next = 0, seq = 300;
  uint8_t p[32];
  for (unsigned k = 0; k < 200; k++) { /* 2 s */
    uint64_t now = start + k * 10 * MS;
    put_video(cache, seq++, 1, len, now, 0);
    /* 17 packets from a cursor that sweeps the last 300 in ~180 ms. */
    if (next + 17 > seq)
      next = (uint16_t)(seq - 300);
    size_t n = make_nack(p, next, 0xffff), out = 0;
    next = (uint16_t)(next + 17);
    echo_rewrite_rtcp(&rw, p, n, &out, cache, log_resend, l, now);
    uint64_t allowed =
        ECHO_RESEND_BURST + rate * ECHO_RESEND_RATE_PERCENT / 100 * (now - start) / 1000000u;
    ck_assert_msg(l->bytes <= allowed, "%llu bytes resent by %llu us, %llu allowed",
                  (unsigned long long)l->bytes, (unsigned long long)(now - start),
                  (unsigned long long)allowed);
  }
  ck_assert_uint_eq(cache->rate_bytes_per_s, rate);
  /* The bucket refills: what is allowed is used, but for less than a
   * packet's worth of tokens. */
  uint64_t allowed = ECHO_RESEND_BURST + rate * ECHO_RESEND_RATE_PERCENT / 100 * 1990 / 1000;
  ck_assert_uint_ge(l->bytes, allowed - len);
  ck_assert_uint_eq(rw.nack_resent, l->n);
  ck_assert_uint_eq(rw.nack_resent_bytes, l->bytes);
  ck_assert_uint_gt(rw.nack_refused_rate, 0);
  ck_assert_uint_eq(rw.nack_refused_rtt, 0);
  ck_assert_uint_eq(rw.nack_duplicates, 0);
  /* Every packet named was cached: resent or refused, none forwarded. */
  ck_assert_uint_eq(rw.nack_resent + rw.nack_refused_rate, 200 * 17);
  resend_log_free(l);
  free(cache);
}
END_TEST

START_TEST(nack_for_packets_not_in_the_cache_is_forwarded_once_each) {
  echo_rewriter rw;
  make_rewriter(&rw);
  echo_rtp_cache *cache = video_cache();
  put_video(cache, 100, 5, 60, 0, 0); /* 100..104 */
  resend_log *l = resend_log_new();
  /* 200 and 201 named three times, 202 once, 102 (cached) once. */
  uint16_t pid[4] = {200, 200, 201, 102}, blp[4] = {0x0001, 0x0003, 0x0000, 0x0000};
  uint8_t p[64];
  size_t n = make_nack_n(p, R_VIDEO, pid, blp, 4), out = 0;
  ck_assert_int_eq(echo_rewrite_rtcp(&rw, p, n, &out, cache, log_resend, l, 10 * MS), 1);
  ck_assert_uint_eq(l->n, 1);
  ck_assert_uint_eq(l->per_seq[102], 1);
  ck_assert_uint_eq(out, 16); /* one entry: 200 + {201, 202} */
  ck_assert_uint_eq(p[3], 3);
  ck_assert_uint_eq(get32(p + 4), R_VIDEO);
  ck_assert_uint_eq(get32(p + 8), B_VIDEO);
  ck_assert_uint_eq(p[12] << 8 | p[13], 200);
  ck_assert_uint_eq(p[14] << 8 | p[15], 0x0003);
  ck_assert_uint_eq(rw.nack_duplicates, 3);
  ck_assert_uint_eq(rw.nack, 1);
  /* Across the wrap, in order: 65535 then 0 and 16. */
  pid[0] = 16;
  pid[1] = 65535;
  blp[0] = 0;
  blp[1] = 0x0001;
  n = make_nack_n(p, R_VIDEO, pid, blp, 2);
  ck_assert_int_eq(echo_rewrite_rtcp(&rw, p, n, &out, cache, log_resend, l, 10 * MS), 1);
  ck_assert_uint_eq(out, 20);
  ck_assert_uint_eq(p[12] << 8 | p[13], 16);
  ck_assert_uint_eq(p[14] << 8 | p[15], 0);
  ck_assert_uint_eq(p[16] << 8 | p[17], 65535);
  ck_assert_uint_eq(p[18] << 8 | p[19], 0x0001);
  /* About the audio stream (not cached): forwarded whole, as it was. */
  pid[0] = 102;
  blp[0] = 0x0003;
  n = make_nack_n(p, R_AUDIO, pid, blp, 1);
  ck_assert_int_eq(echo_rewrite_rtcp(&rw, p, n, &out, cache, log_resend, l, 10 * MS), 1);
  ck_assert_uint_eq(out, 16);
  ck_assert_uint_eq(get32(p + 8), B_AUDIO);
  ck_assert_uint_eq(p[14] << 8 | p[15], 0x0003);
  ck_assert_uint_eq(l->n, 1);
  /* A NACK with no FCI asks for nothing: dropped. */
  n = make_nack_n(p, R_VIDEO, pid, blp, 0);
  ck_assert_int_eq(echo_rewrite_rtcp(&rw, p, n, &out, cache, log_resend, l, 10 * MS), 0);
  ck_assert_uint_eq(rw.nack, 3);
  resend_log_free(l);
  free(cache);
}
END_TEST

START_TEST(malformed_rtcp_is_dropped_whole) {
  echo_rewriter rw;
  make_rewriter(&rw);
  uint8_t p[64];
  size_t n = make_rr_sdes(p), out = 0;
  /* Length of the second packet runs past the datagram. */
  p[32 + 3] = 9;
  ck_assert_int_eq(echo_rewrite_rtcp(&rw, p, n, &out, NULL, NULL, NULL, 0), -1);
  /* A trailing partial header. */
  n = make_rr_sdes(p);
  ck_assert_int_eq(echo_rewrite_rtcp(&rw, p, 34, &out, NULL, NULL, NULL, 0), -1);
  /* Wrong version. */
  n = make_rr_sdes(p);
  p[0] = 0x41;
  ck_assert_int_eq(echo_rewrite_rtcp(&rw, p, n, &out, NULL, NULL, NULL, 0), -1);
  ck_assert_int_eq(echo_rewrite_rtcp(&rw, p, 0, &out, NULL, NULL, NULL, 0), -1);
  /* RR whose report count does not fit its length: that part is dropped. */
  n = make_rr_sdes(p);
  p[0] = 0x82;
  ck_assert_int_eq(echo_rewrite_rtcp(&rw, p, n, &out, NULL, NULL, NULL, 0), 0);
  ck_assert_uint_eq(rw.rtcp_dropped, 5);
}
END_TEST

/* Random bytes never crash the parsers (bounded, seeded). */
START_TEST(random_input_is_survived) {
  uint32_t x = 12345;
  echo_rewriter rw;
  make_rewriter(&rw);
  echo_sdp *sdp = calloc(1, sizeof(*sdp));
  ck_assert_ptr_nonnull(sdp);
  char err[128];
  size_t base = strlen(chromium_offer);
  char *doc = malloc(base);
  ck_assert_ptr_nonnull(doc);
  echo_rtp_cache *cache = video_cache();
  for (unsigned k = 0; k < ECHO_CACHE_SLOTS; k++) /* a full cache, across the space */
    put_video(cache, (uint16_t)(k * 129), 1, 40, 0, 0);
  resend_log *l = resend_log_new();
  for (int i = 0; i < 2000; i++) {
    uint8_t p[96];
    size_t n = 0;
    x = x * 1103515245u + 12345u;
    n = (x >> 16) % sizeof(p);
    for (size_t k = 0; k < n; k++) {
      x = x * 1103515245u + 12345u;
      p[k] = (uint8_t)(x >> 16);
    }
    if (n > 0)
      p[0] = (uint8_t)(0x80 | (p[0] & 0x3f));
    size_t out = 0;
    if (echo_rewrite_rtcp(&rw, p, n, &out, NULL, NULL, NULL, 0) >= 0)
      ck_assert_uint_le(out, n);
    /* The same bytes as a NACK about the cached stream: whatever it asks
     * for, each cached packet goes out at most once (one instant: within
     * one RTT), and what is forwarded is no longer than what came. */
    if (n >= 12) {
      p[0] = 0x81;
      p[1] = 205;
      p[2] = (uint8_t)((n / 4 - 1) >> 8);
      p[3] = (uint8_t)(n / 4 - 1);
      put32(p + 8, R_VIDEO);
      if (echo_rewrite_rtcp(&rw, p, n / 4 * 4, &out, cache, log_resend, l, 5000 * MS) >= 0)
        ck_assert_uint_le(out, n / 4 * 4);
      ck_assert_uint_le(log_max_per_seq(l), 1);
    }
    echo_rewrite_rtp(&rw, p, n);
    /* The offer with a few bytes changed. */
    memcpy(doc, chromium_offer, base);
    for (int k = 0; k < 4; k++) {
      x = x * 1103515245u + 12345u;
      size_t at = (x >> 8) % base;
      x = x * 1103515245u + 12345u;
      doc[at] = (char)(x >> 16);
    }
    echo_sdp_parse(sdp, doc, base, err, sizeof(err));
  }
  ck_assert_uint_eq(rw.nack_resent, l->n);
  resend_log_free(l);
  free(cache);
  free(doc);
  free(sdp);
}
END_TEST

int main(void) {
  Suite *s = suite_create("echo_sdp");
  TCase *sdp = tcase_create("sdp");
  tcase_add_test(sdp, chromium_offer_is_parsed);
  tcase_add_test(sdp, lf_line_ends_are_accepted);
  tcase_add_test(sdp, bad_documents_are_refused_with_a_reason);
  tcase_add_test(sdp, m_line_words_must_be_sdp_tokens);
  tcase_add_test(sdp, limits_are_enforced);
  tcase_add_test(sdp, transport_needs_credentials_and_fingerprint);
  tcase_add_test(sdp, mdns_and_tcp_candidates_are_ignored);
  tcase_add_test(sdp, answer_keeps_offer_payload_types_and_one_bundle);
  tcase_add_test(sdp, what_cannot_be_echoed_is_rejected_in_place);
  tcase_add_test(sdp, firefox_offer_is_parsed);
  tcase_add_test(sdp, firefox_bundle_only_video_is_answered_in_the_bundle);
  tcase_add_test(sdp, bundle_only_is_honoured_only_inside_the_group);
  tcase_add_test(sdp, bundle_tag_follows_rfc8843_selection);
  tcase_add_test(sdp, answers_with_bundle_only_sections_are_applied);
  tcase_add_test(sdp, writer_refuses_a_group_without_a_tag);
  tcase_add_test(sdp, offer_then_answer_maps_payload_types);
  tcase_add_test(sdp, writer_refuses_a_small_buffer);
  tcase_add_test(sdp, data_channel_section_is_answered_in_the_bundle);
  tcase_add_test(sdp, data_channel_attributes_are_checked);
  suite_add_tcase(s, sdp);
  TCase *rtp = tcase_create("rtp");
  tcase_add_test(rtp, rtp_gets_rtcsec_ssrc_and_the_browsers_payload_type);
  tcase_add_test(rtp, rtp_stream_without_declared_ssrc_is_learned);
  tcase_add_test(rtp, rtcp_rr_is_swapped_and_sdes_dropped);
  tcase_add_test(rtp, rtcp_sr_report_blocks_and_bye_are_swapped);
  tcase_add_test(rtp, rtcp_pli_and_fir_reach_the_browsers_encoder);
  tcase_add_test(rtp, nack_is_answered_from_the_cache_where_it_can);
  tcase_add_test(rtp, nack_of_292_entries_resends_each_cached_packet_once);
  tcase_add_test(rtp, nack_naming_every_sequence_number_is_bounded_and_forwarded_once);
  tcase_add_test(rtp, nack_repeated_within_the_default_rtt_resends_nothing);
  tcase_add_test(rtp, rtt_is_measured_from_lsr_and_dlsr_and_bounds_resends);
  tcase_add_test(rtp, resend_bytes_stay_within_a_quarter_of_the_video_rate);
  tcase_add_test(rtp, nack_for_packets_not_in_the_cache_is_forwarded_once_each);
  tcase_add_test(rtp, malformed_rtcp_is_dropped_whole);
  tcase_add_test(rtp, random_input_is_survived);
  suite_add_tcase(s, rtp);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
