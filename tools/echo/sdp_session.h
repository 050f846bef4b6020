/* rtcsec-echo: the whole-SDP side of the echo, kept apart from I/O so that
 * it can be unit tested (tests/test_echo_sdp.c).
 *
 * rtcsec itself owns only a few SDP attributes (rtcsec/sdp.h: ICE
 * credentials, candidates, fingerprint, setup); this module is the small
 * "signalling library" of the echo tool around them:
 *
 *   echo_sdp_parse()        a browser's offer or answer -> echo_sdp, with
 *                           the attributes the echo needs (m= lines, mid,
 *                           rtpmap, fmtp, rtcp-fb, ssrc, direction, mux) and
 *                           the transport ones parsed by rtcsec/sdp.h;
 *   echo_plan_answer()      what to answer to a browser's offer: one BUNDLE
 *                           group, audio Opus, video VP8 (+ H.264 if
 *                           offered), the offer's payload type numbers kept
 *                           so that nothing needs rewriting, and data
 *                           channels (RFC 8841: m=application UDP/DTLS/SCTP
 *                           webrtc-datachannel, a=sctp-port,
 *                           a=max-message-size);
 *   echo_plan_offer()       what rtcsec offers itself (same codecs, and a
 *                           data-channel section);
 *   echo_plan_apply_answer() the browser's answer to that offer;
 *   echo_sdp_write()        the SDP text of a plan (offer or answer).
 *
 * Bounds: a document longer than ECHO_SDP_MAX_LEN, a line longer than
 * RTCSEC_SDP_MAX_LINE or more than ECHO_MAX_SECTIONS media sections is
 * refused; codecs and candidates beyond the table sizes are ignored and
 * counted. Nothing is allocated: every structure is a plain value.
 */
#ifndef RTCSEC_ECHO_SDP_SESSION_H
#define RTCSEC_ECHO_SDP_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "rtcsec/rtcsec.h"

#define ECHO_SDP_MAX_LEN 65536
#define ECHO_MAX_SECTIONS 8
#define ECHO_MAX_CODECS 64     /* per parsed media section */
#define ECHO_MAX_PLAN_CODECS 4 /* per negotiated media section */
#define ECHO_MAX_CANDIDATES 16 /* remote candidates kept */
#define ECHO_MAX_LOCAL_CANDIDATES 16
#define ECHO_CANDIDATE_LEN 256 /* "candidate:..." with NUL */
#define ECHO_MID_LEN 32
#define ECHO_FMTP_LEN 256
#define ECHO_CNAME_LEN 64

typedef enum echo_kind {
  ECHO_KIND_OTHER = 0,
  ECHO_KIND_AUDIO = 1,
  ECHO_KIND_VIDEO = 2,
  /* "m=application ... UDP/DTLS/SCTP webrtc-datachannel" (RFC 8841 §4.1) */
  ECHO_KIND_DATA = 3,
} echo_kind;

/* What the echo says for its data channels: a=sctp-port (RFC 8841 §5, the
 * default) and a=max-message-size (§6: what it accepts). */
#define ECHO_SCTP_PORT 5000
#define ECHO_MAX_MESSAGE_SIZE (256u * 1024u)

typedef enum echo_dir {
  ECHO_DIR_SENDRECV = 0, /* also the default when a section says nothing */
  ECHO_DIR_SENDONLY,
  ECHO_DIR_RECVONLY,
  ECHO_DIR_INACTIVE,
} echo_dir;

/* a=rtcp-fb values the echo understands (others are dropped). */
enum {
  ECHO_FB_NACK = 1u << 0,     /* nack (RFC 4585) */
  ECHO_FB_NACK_PLI = 1u << 1, /* nack pli */
  ECHO_FB_CCM_FIR = 1u << 2,  /* ccm fir (RFC 5104) */
};

typedef struct echo_codec {
  uint8_t pt;
  char name[32]; /* as written in a=rtpmap, e.g. "opus", "VP8", "H264" */
  uint32_t clock;
  uint8_t channels; /* 0: not given */
  char fmtp[ECHO_FMTP_LEN];
  unsigned fb; /* ECHO_FB_* */
} echo_codec;

typedef struct echo_section {
  echo_kind kind;
  char media[16]; /* "audio", "video", "application", ... */
  uint16_t port;
  char proto[48];
  char fmt0[64]; /* the first format of the m= line */
  char mid[ECHO_MID_LEN + 1];
  echo_dir dir;
  int rtcp_mux, rtcp_rsize;
  /* a=bundle-only (RFC 8843 §6): with port 0, the section is offered only
   * as part of the BUNDLE group, not rejected. */
  int bundle_only;
  size_t n_codecs;
  echo_codec codecs[ECHO_MAX_CODECS]; /* in m= line order */
  size_t codecs_ignored;
  /* The media SSRC: the first of "a=ssrc-group:FID", else the first
   * a=ssrc; 0 when the section declares none. */
  uint32_t ssrc;
  char cname[ECHO_CNAME_LEN + 1];
  /* Transport attributes found in this section. */
  int has_ufrag, has_pwd, has_fingerprint, has_setup;
  rtcsec_sdp_ice_credentials ice;
  rtcsec_fingerprint fingerprint;
  rtcsec_sdp_setup setup;
  /* ECHO_KIND_DATA: a=sctp-port (5000 when absent, RFC 8841 §5) and
   * a=max-message-size, as rtcsec_sdp_max_message_size_parse() gives it
   * (0 when absent: the peer takes 64 KiB, §6.1). */
  uint16_t sctp_port;
  size_t max_message_size;
} echo_section;

typedef struct echo_sdp {
  size_t n_sections;
  echo_section s[ECHO_MAX_SECTIONS];
  /* a=group:BUNDLE mids, in order. */
  size_t n_bundle;
  char bundle[ECHO_MAX_SECTIONS][ECHO_MID_LEN + 1];
  int ice_lite;
  /* Transport attributes at session level (used where a section has none). */
  int has_ufrag, has_pwd, has_fingerprint, has_setup;
  rtcsec_sdp_ice_credentials ice;
  rtcsec_fingerprint fingerprint;
  rtcsec_sdp_setup setup;
  /* Candidates of the transport section (the first bundled one): UDP, not
   * mDNS names (rtcsec cannot resolve those; ICE finds the peer as
   * peer-reflexive instead), without "a=". */
  size_t n_candidates;
  char candidates[ECHO_MAX_CANDIDATES][ECHO_CANDIDATE_LEN];
  size_t candidates_ignored; /* mDNS, TCP, malformed, over the table */
  int end_of_candidates;
} echo_sdp;

/* The transport of the session, as seen from one side. */
typedef struct echo_transport_desc {
  rtcsec_sdp_ice_credentials ice;
  rtcsec_fingerprint fingerprint;
  rtcsec_sdp_setup setup;
  /* An ICE-lite agent (RFC 8445 §2.5): echo_sdp_transport() sets it from
   * the peer's session-level a=ice-lite; echo_sdp_write() writes a=ice-lite
   * at session level (RFC 8839 §5.3) when it is set. */
  int ice_lite;
} echo_transport_desc;

/* Parses a whole SDP document (CRLF or LF line ends).
 * Returns 0, or a negative rtcsec error with a reason in err:
 * RTCSEC_ERR_TOO_LARGE (document, line, too many sections),
 * RTCSEC_ERR_PARSE (not SDP, bad m= line, bad transport attribute ...). */
int echo_sdp_parse(echo_sdp *out, const char *sdp, size_t len, char *err, size_t err_cap);

/* The transport attributes that apply to the BUNDLE group: those of its
 * first (tagging) section, else session level. RTCSEC_ERR_PARSE with a
 * reason when ufrag, pwd or a fingerprint is missing (a=setup missing is
 * actpass, RFC 5763 §5 default for an offer). */
int echo_sdp_transport(const echo_sdp *sdp, echo_transport_desc *out, char *err, size_t err_cap);

/* ---- the negotiated session ------------------------------------------- */

/* One negotiated codec. Payload type numbers are per direction: the peer
 * sends to us with the numbers of OUR description (local_pt), we send to
 * the peer with the numbers of ITS description (remote_pt). */
typedef struct echo_plan_codec {
  echo_codec codec; /* as we declare it; codec.pt == local_pt */
  uint8_t local_pt;
  uint8_t remote_pt;
} echo_plan_codec;

typedef struct echo_plan_media {
  int accepted; /* 0: rejected (port 0 in our description) */
  /* Accepted into the BUNDLE group but not its tagged section: written
   * with port 0 and a=bundle-only, without the transport attributes (ICE,
   * fingerprint, setup, candidates), which the tagged section carries for
   * the whole group (RFC 8843 §6, §7.1.3, §7.3). */
  int bundle_only;
  echo_kind kind;
  char media[16];
  char proto[48];
  char fmt0[64]; /* a rejected section's format in our m= line */
  char mid[ECHO_MID_LEN + 1];
  echo_dir dir; /* our direction */
  int rtcp_rsize;
  size_t n_codecs;
  echo_plan_codec codecs[ECHO_MAX_PLAN_CODECS];
  uint32_t local_ssrc;  /* what the echo sends with (a=ssrc in our SDP) */
  uint32_t remote_ssrc; /* what the peer declared; 0 if it declared none */
  unsigned fb;          /* feedback negotiated (ECHO_FB_*, union of codecs) */
  /* ECHO_KIND_DATA: the peer's a=sctp-port and a=max-message-size (as in
   * echo_section); ours are ECHO_SCTP_PORT and ECHO_MAX_MESSAGE_SIZE. */
  uint16_t remote_sctp_port;
  size_t remote_max_message_size;
} echo_plan_media;

typedef struct echo_plan {
  size_t n_media;
  echo_plan_media m[ECHO_MAX_SECTIONS];
  char cname[ECHO_CNAME_LEN + 1];
  char stream_id[ECHO_CNAME_LEN + 1];
} echo_plan;

/* Local values a plan needs that the caller chooses (random in the tool,
 * fixed in tests). */
typedef struct echo_local_ids {
  uint32_t audio_ssrc, video_ssrc; /* nonzero */
  const char *cname;               /* e.g. "rtcsec-echo-1234" */
  const char *stream_id;           /* msid stream id */
} echo_local_ids;

/* Plans the answer to a browser's offer. The first data-channel section in
 * the BUNDLE group is accepted. Sections other than audio, video and data
 * channels, audio or video with an unknown proto, without rtcp-mux, or
 * without a codec the echo can reflect are rejected (port 0, outside the
 * BUNDLE group), and so
 * is a section with port 0 unless it is a=bundle-only and in the offer's
 * BUNDLE group (RFC 8843 §7.3: bundle-only is part of the group, not
 * rejected; what Firefox offers under max-bundle). The offerer tagged
 * section is the first one of the group's list that is accepted and has a
 * port (RFC 8843 §7.3.1); every other accepted section gets bundle_only.
 * That section must be the one whose transport echo_sdp_parse() kept (the
 * first of the group with a port) or say the same ICE credentials and
 * fingerprint, or the offer is refused. The kept codecs
 * use the offer's payload type numbers. Errors: RTCSEC_ERR_UNSUPPORTED with
 * a reason when no section can be accepted or none can be tagged (then the
 * bundle-only ones cannot be accepted either, RFC 8843 §7.3.2). */
int echo_plan_answer(echo_plan *plan, const echo_sdp *offer, const echo_local_ids *ids, char *err,
                     size_t err_cap);

/* Plans rtcsec's own offer: mid 0 audio (Opus, PT 111), mid 1 video (VP8
 * PT 96 and H.264 constrained baseline PT 102, with nack, nack pli, ccm
 * fir), both sendrecv, mid 2 data channels, in one BUNDLE group tagged by
 * the audio section; the video and data sections are bundle-only (RFC 8843
 * §7.2: only the tagged section has an address:port, as a browser offers
 * with bundlePolicy max-bundle). */
void echo_plan_offer(echo_plan *plan, const echo_local_ids *ids);

/* Applies the browser's answer to the plan made by echo_plan_offer():
 * sections it rejected (port 0 without a=bundle-only) are dropped, codecs
 * are matched by name, clock and channels (remote_pt from the answer),
 * remote SSRCs recorded, the data section's a=sctp-port and
 * a=max-message-size taken. A section with port 0 and a=bundle-only is
 * accepted (RFC 8843 §7.3: an answerer marks every bundled section but its
 * tagged one that way). Errors: RTCSEC_ERR_PARSE with a reason (section
 * count or mids differ, no common codec in an accepted section, a
 * bundle-only section outside the answer's BUNDLE group). */
int echo_plan_apply_answer(echo_plan *plan, const echo_sdp *answer, char *err, size_t err_cap);

/* Writes the SDP of plan (an offer or an answer: the difference is our
 * a=setup in local->setup; with local->ice_lite, a=ice-lite at session level)
 * with our transport and candidates. The BUNDLE group lists the accepted
 * sections, the tagged one first: the first accepted section without
 * bundle_only. Only that section has the port, the transport attributes,
 * the candidates and end-of-candidates (non-trickle); the other accepted
 * sections say port 0 and a=bundle-only (RFC 8843 §7.1.3, §7.3). Every
 * accepted audio or video section says a=rtcp-mux, as browsers require (see
 * the .c); no a=rtcp anywhere (§9.3.1.2). A data section says a=sctp-port
 * and a=max-message-size (RFC 8841 §5, §6). candidates are
 * "candidate:..." strings; the first one's address and port make the c= and
 * m= values. Errors: RTCSEC_ERR_BUFFER_TOO_SMALL, RTCSEC_ERR_INVALID_ARGUMENT
 * (also: accepted sections but every one bundle_only). */
int echo_sdp_write(const echo_plan *plan, const echo_transport_desc *local,
                   const char *const *candidates, size_t n_candidates, uint64_t session_id,
                   char *buf, size_t cap, size_t *len_out);

/* "audio", "video", "data", "other". */
const char *echo_kind_name(echo_kind k);

#endif
