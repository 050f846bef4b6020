/* rtcsec-echo: whole-SDP parsing and writing (see sdp_session.h). */
#include "sdp_session.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rtcsec/datachannel.h"

/* ---- small helpers -------------------------------------------------------- */

static void set_err(char *err, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t cap, const char *fmt, ...) {
  if (err == NULL || cap == 0)
    return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, cap, fmt, ap);
  va_end(ap);
}

/* A view into the document: never NUL-terminated, never read past len. */
typedef struct span {
  const char *p;
  size_t len;
} span;

static int span_eq(span s, const char *lit) {
  size_t n = strlen(lit);
  return s.len == n && memcmp(s.p, lit, n) == 0;
}

static int span_starts(span s, const char *lit) {
  size_t n = strlen(lit);
  return s.len >= n && memcmp(s.p, lit, n) == 0;
}

static span span_after(span s, size_t n) {
  span r = {s.p + n, s.len - n};
  return r;
}

/* Next SP-separated token of *s (consumed); empty at the end. */
static span next_token(span *s) {
  size_t i = 0;
  while (i < s->len && s->p[i] != ' ')
    i++;
  span tok = {s->p, i};
  if (i < s->len)
    i++; /* the separator */
  s->p += i;
  s->len -= i;
  return tok;
}

/* Copies s into dst (cap with NUL); 0, or -1 if it does not fit. */
static int span_copy(char *dst, size_t cap, span s) {
  if (s.len >= cap)
    return -1;
  memcpy(dst, s.p, s.len);
  dst[s.len] = '\0';
  return 0;
}

/* Unsigned decimal of at most max_digits digits, value <= max. */
static int span_uint(span s, unsigned max_digits, uint64_t max, uint64_t *out) {
  if (s.len == 0 || s.len > max_digits)
    return -1;
  uint64_t v = 0;
  for (size_t i = 0; i < s.len; i++) {
    if (s.p[i] < '0' || s.p[i] > '9')
      return -1;
    v = v * 10 + (uint64_t)(s.p[i] - '0');
  }
  if (v > max)
    return -1;
  *out = v;
  return 0;
}

static int span_pt(span s, uint8_t *pt) {
  uint64_t v;
  if (span_uint(s, 3, 127, &v) != 0)
    return -1;
  *pt = (uint8_t)v;
  return 0;
}

const char *echo_kind_name(echo_kind k) {
  switch (k) {
  case ECHO_KIND_AUDIO:
    return "audio";
  case ECHO_KIND_VIDEO:
    return "video";
  case ECHO_KIND_DATA:
    return "data";
  case ECHO_KIND_OTHER:
  default:
    return "other";
  }
}

/* ---- parsing ---------------------------------------------------------------- */

static echo_codec *codec_by_pt(echo_section *sec, uint8_t pt) {
  for (size_t i = 0; i < sec->n_codecs; i++)
    if (sec->codecs[i].pt == pt)
      return &sec->codecs[i];
  return NULL;
}

/* RFC 8866 §9: token-char = %x21 / %x23-27 / %x2A-2B / %x2D-2E / %x30-39 /
 * %x41-5A / %x5E-7E; a proto is tokens joined by "/". The m= line's words
 * are written back into the answer, so nothing else (a NUL, a control or
 * non-ASCII byte, "=") may pass: the answer must be SDP too. */
static int token_char(unsigned char c) {
  return c == 0x21 || (c >= 0x23 && c <= 0x27) || c == 0x2a || c == 0x2b || c == 0x2d ||
         c == 0x2e || (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) ||
         (c >= 0x5e && c <= 0x7e);
}

static int span_is_token(span s, int slash_ok) {
  for (size_t i = 0; i < s.len; i++)
    if (!token_char((unsigned char)s.p[i]) && !(slash_ok && s.p[i] == '/'))
      return 0;
  return s.len > 0;
}

/* "m=<media> <port>[/<n>] <proto> <fmt> ..." */
static int parse_m_line(echo_section *sec, span v, char *err, size_t cap) {
  span media = next_token(&v);
  span port = next_token(&v);
  span proto = next_token(&v);
  uint64_t port_v;
  size_t slash = 0;
  while (slash < port.len && port.p[slash] != '/')
    slash++;
  port.len = slash;
  if (!span_is_token(media, 0) || span_copy(sec->media, sizeof(sec->media), media) != 0 ||
      span_uint(port, 5, 65535, &port_v) != 0 || !span_is_token(proto, 1) ||
      span_copy(sec->proto, sizeof(sec->proto), proto) != 0) {
    set_err(err, cap, "malformed m= line");
    return RTCSEC_ERR_PARSE;
  }
  sec->port = (uint16_t)port_v;
  sec->kind = span_eq(media, "audio")   ? ECHO_KIND_AUDIO
              : span_eq(media, "video") ? ECHO_KIND_VIDEO
                                        : ECHO_KIND_OTHER;
  span first = v;
  first.len = 0;
  while (first.len < v.len && v.p[first.len] != ' ')
    first.len++;
  if (span_copy(sec->fmt0, sizeof(sec->fmt0), first) != 0 || !span_is_token(first, 0)) {
    set_err(err, cap, "m=%s without a format", sec->media);
    return RTCSEC_ERR_PARSE;
  }
  if (sec->kind == ECHO_KIND_OTHER)
    return 0; /* formats of other media (e.g. webrtc-datachannel) are not PTs */
  while (v.len > 0) {
    span fmt = next_token(&v);
    uint8_t pt;
    if (span_pt(fmt, &pt) != 0) {
      set_err(err, cap, "m=%s: bad payload type '%.*s'", sec->media, (int)fmt.len, fmt.p);
      return RTCSEC_ERR_PARSE;
    }
    if (codec_by_pt(sec, pt) != NULL)
      continue;
    if (sec->n_codecs == ECHO_MAX_CODECS) {
      sec->codecs_ignored++;
      continue;
    }
    echo_codec *c = &sec->codecs[sec->n_codecs++];
    memset(c, 0, sizeof(*c));
    c->pt = pt;
  }
  return 0;
}

/* RFC 8841 §4.1: "m=application <port> UDP/DTLS/SCTP webrtc-datachannel" is
 * a data-channel section (rtcsec/datachannel.h reads it); TCP/DTLS/SCTP and
 * the pre-RFC "DTLS/SCTP 5000" stay ECHO_KIND_OTHER, which the echo does not
 * accept. */
static void classify_data(echo_section *sec, span line) {
  uint16_t port;
  rtcsec_sdp_dc_proto proto;
  if (sec->kind != ECHO_KIND_OTHER ||
      rtcsec_sdp_dc_media_parse(&port, &proto, line.p, line.len) != RTCSEC_OK ||
      proto != RTCSEC_SDP_DC_UDP_DTLS_SCTP)
    return;
  sec->kind = ECHO_KIND_DATA;
  sec->sctp_port = RTCSEC_DC_DEFAULT_PORT; /* RFC 8841 §5: when a=sctp-port is absent */
}

/* "rtpmap:<pt> <name>/<clock>[/<channels>]" */
static void parse_rtpmap(echo_section *sec, span v) {
  span pt_s = next_token(&v);
  uint8_t pt;
  echo_codec *c;
  if (span_pt(pt_s, &pt) != 0 || (c = codec_by_pt(sec, pt)) == NULL)
    return; /* not in the m= line: RFC 8866 §6.6 says ignore */
  span enc = next_token(&v);
  size_t i = 0;
  while (i < enc.len && enc.p[i] != '/')
    i++;
  span name = {enc.p, i};
  if (name.len == 0 || i >= enc.len || span_copy(c->name, sizeof(c->name), name) != 0)
    return;
  span rest = span_after(enc, i + 1);
  size_t j = 0;
  while (j < rest.len && rest.p[j] != '/')
    j++;
  span clock = {rest.p, j};
  uint64_t clock_v, ch = 0;
  if (span_uint(clock, 10, UINT32_MAX, &clock_v) != 0)
    return;
  if (j < rest.len && span_uint(span_after(rest, j + 1), 3, 255, &ch) != 0)
    return;
  c->clock = (uint32_t)clock_v;
  c->channels = (uint8_t)ch;
}

/* "fmtp:<pt> <params>" */
static void parse_fmtp(echo_section *sec, span v) {
  span pt_s = next_token(&v);
  uint8_t pt;
  echo_codec *c;
  if (span_pt(pt_s, &pt) != 0 || (c = codec_by_pt(sec, pt)) == NULL)
    return;
  if (span_copy(c->fmtp, sizeof(c->fmtp), v) != 0)
    c->fmtp[0] = '\0'; /* longer than any codec the echo keeps needs */
}

/* "rtcp-fb:<pt>|* <type> [<subtype>]" */
static void parse_rtcp_fb(echo_section *sec, span v) {
  span pt_s = next_token(&v);
  unsigned fb = span_eq(v, "nack")       ? ECHO_FB_NACK
                : span_eq(v, "nack pli") ? ECHO_FB_NACK_PLI
                : span_eq(v, "ccm fir")  ? ECHO_FB_CCM_FIR
                                         : 0;
  if (fb == 0)
    return;
  if (span_eq(pt_s, "*")) {
    for (size_t i = 0; i < sec->n_codecs; i++)
      sec->codecs[i].fb |= fb;
    return;
  }
  uint8_t pt;
  echo_codec *c;
  if (span_pt(pt_s, &pt) == 0 && (c = codec_by_pt(sec, pt)) != NULL)
    c->fb |= fb;
}

static int parse_ssrc_value(span s, uint32_t *out) {
  uint64_t v;
  if (span_uint(s, 10, UINT32_MAX, &v) != 0)
    return -1;
  *out = (uint32_t)v;
  return 0;
}

/* "ssrc:<ssrc> <attr>[:<value>]" */
static void parse_ssrc(echo_section *sec, span v) {
  span id = next_token(&v);
  uint32_t ssrc;
  if (parse_ssrc_value(id, &ssrc) != 0)
    return;
  if (sec->ssrc == 0)
    sec->ssrc = ssrc;
  if (ssrc == sec->ssrc && span_starts(v, "cname:") && sec->cname[0] == '\0' &&
      span_copy(sec->cname, sizeof(sec->cname), span_after(v, 6)) != 0)
    sec->cname[0] = '\0';
}

/* "ssrc-group:FID <media> <rtx>": the first SSRC is the media one. */
static void parse_ssrc_group(echo_section *sec, span v, int *from_fid) {
  span sem = next_token(&v);
  span first = next_token(&v);
  uint32_t ssrc;
  if (!span_eq(sem, "FID") || *from_fid || parse_ssrc_value(first, &ssrc) != 0)
    return;
  sec->ssrc = ssrc;
  *from_fid = 1;
}

static int parse_group(echo_sdp *out, span v) {
  span sem = next_token(&v);
  if (!span_eq(sem, "BUNDLE") || out->n_bundle > 0)
    return 0; /* other groups (LS, ...) are not for the echo; one BUNDLE group */
  while (v.len > 0) {
    span mid = next_token(&v);
    if (mid.len == 0 || out->n_bundle == ECHO_MAX_SECTIONS)
      break;
    if (span_copy(out->bundle[out->n_bundle], ECHO_MID_LEN + 1, mid) == 0)
      out->n_bundle++;
  }
  return 0;
}

/* The transport attributes, parsed by rtcsec/sdp.h, at session level
 * (sec == NULL) or in a section. */
static int parse_transport_attr(echo_sdp *out, echo_section *sec, rtcsec_sdp_attr kind, span line,
                                char *err, size_t cap) {
  int *has_ufrag = sec ? &sec->has_ufrag : &out->has_ufrag;
  int *has_pwd = sec ? &sec->has_pwd : &out->has_pwd;
  int *has_fp = sec ? &sec->has_fingerprint : &out->has_fingerprint;
  int *has_setup = sec ? &sec->has_setup : &out->has_setup;
  rtcsec_sdp_ice_credentials *ice = sec ? &sec->ice : &out->ice;
  int rc = 0;
  switch (kind) {
  case RTCSEC_SDP_ATTR_ICE_UFRAG:
    rc = rtcsec_sdp_ice_ufrag_parse(ice, line.p, line.len);
    if (rc == 0)
      *has_ufrag = 1;
    break;
  case RTCSEC_SDP_ATTR_ICE_PWD:
    rc = rtcsec_sdp_ice_pwd_parse(ice, line.p, line.len);
    if (rc == 0)
      *has_pwd = 1;
    break;
  case RTCSEC_SDP_ATTR_FINGERPRINT: {
    rtcsec_fingerprint fp;
    rc = rtcsec_sdp_fingerprint_parse(&fp, line.p, line.len);
    /* Several fingerprints may be given; the echo keeps the first sha-256
     * one (what browsers send), else the first. */
    if (rc == 0 && (!*has_fp || (fp.hash == RTCSEC_HASH_SHA256 &&
                                 (sec ? sec->fingerprint.hash : out->fingerprint.hash) !=
                                     RTCSEC_HASH_SHA256))) {
      if (sec)
        sec->fingerprint = fp;
      else
        out->fingerprint = fp;
      *has_fp = 1;
    }
    break;
  }
  case RTCSEC_SDP_ATTR_SETUP:
    rc = rtcsec_sdp_setup_parse(sec ? &sec->setup : &out->setup, line.p, line.len);
    if (rc == 0)
      *has_setup = 1;
    break;
  case RTCSEC_SDP_ATTR_ICE_LITE:
    out->ice_lite = 1;
    break;
  default:
    break;
  }
  if (rc != 0)
    set_err(err, cap, "bad attribute '%.*s': %s", (int)(line.len > 80 ? 80 : line.len), line.p,
            rtcsec_strerror(rc));
  return rc;
}

/* Candidates are collected per section first (index), and the transport
 * section's are kept at the end (see finish_candidates). */
typedef struct cand_slot {
  size_t section;
  char text[ECHO_CANDIDATE_LEN];
} cand_slot;

typedef struct parse_state {
  size_t n_cands;
  cand_slot cands[ECHO_MAX_CANDIDATES * 2];
  size_t ignored;
  int eoc_section; /* -1: none; else the section that had end-of-candidates */
} parse_state;

static void take_candidate(parse_state *ps, size_t section, span line) {
  rtcsec_candidate *c = malloc(sizeof(*c));
  if (c == NULL) {
    ps->ignored++;
    return;
  }
  int rc = rtcsec_sdp_candidate_parse(c, line.p, line.len);
  int keep = rc == 0 && c->transport == RTCSEC_CANDIDATE_UDP && !c->addr.mdns &&
             c->addr.type != RTCSEC_CANDIDATE_ADDR_FQDN && c->component == 1;
  free(c);
  if (!keep || ps->n_cands == sizeof(ps->cands) / sizeof(ps->cands[0])) {
    ps->ignored++;
    return;
  }
  if (span_starts(line, "a="))
    line = span_after(line, 2);
  cand_slot *slot = &ps->cands[ps->n_cands];
  if (span_copy(slot->text, sizeof(slot->text), line) != 0) {
    ps->ignored++;
    return;
  }
  slot->section = section;
  ps->n_cands++;
}

static int section_by_mid(const echo_sdp *sdp, const char *mid, size_t *out) {
  for (size_t i = 0; i < sdp->n_sections; i++)
    if (strcmp(sdp->s[i].mid, mid) == 0) {
      *out = i;
      return 1;
    }
  return 0;
}

/* The section whose transport (ICE, fingerprint, setup, candidates) the
 * BUNDLE group uses: the first of the group's list with a port. A
 * bundle-only section (port 0) is never the tagged one (RFC 8843 §7.2.1)
 * and carries no transport attributes (§7.1.3). Without such a section, the
 * first of the list; without a group, the first section. */
static size_t transport_section(const echo_sdp *sdp) {
  size_t i;
  for (size_t k = 0; k < sdp->n_bundle; k++)
    if (section_by_mid(sdp, sdp->bundle[k], &i) && sdp->s[i].port != 0)
      return i;
  if (sdp->n_bundle > 0 && section_by_mid(sdp, sdp->bundle[0], &i))
    return i;
  return 0;
}

static void finish_candidates(echo_sdp *out, const parse_state *ps) {
  size_t ts = transport_section(out);
  out->candidates_ignored = ps->ignored;
  for (size_t i = 0; i < ps->n_cands; i++) {
    if (ps->cands[i].section != ts) {
      out->candidates_ignored++; /* a bundled section's duplicate */
      continue;
    }
    if (out->n_candidates == ECHO_MAX_CANDIDATES) {
      out->candidates_ignored++;
      continue;
    }
    memcpy(out->candidates[out->n_candidates++], ps->cands[i].text, ECHO_CANDIDATE_LEN);
  }
  out->end_of_candidates = ps->eoc_section == (int)ts;
}

static int parse_attribute(echo_sdp *out, echo_section *sec, parse_state *ps, span line,
                           int *from_fid, char *err, size_t cap) {
  span v = span_after(line, 2); /* after "a=" */
  rtcsec_sdp_attr kind;
  int rc = rtcsec_sdp_attr_identify(&kind, line.p, line.len);
  if (rc != 0) {
    set_err(err, cap, "bad attribute line '%.*s'", (int)(line.len > 80 ? 80 : line.len), line.p);
    return rc;
  }
  if (kind == RTCSEC_SDP_ATTR_CANDIDATE) {
    if (sec != NULL)
      take_candidate(ps, (size_t)(sec - out->s), line);
    return 0;
  }
  if (kind == RTCSEC_SDP_ATTR_END_OF_CANDIDATES) {
    if (sec != NULL && ps->eoc_section < 0)
      ps->eoc_section = (int)(sec - out->s);
    return 0;
  }
  if (kind != RTCSEC_SDP_ATTR_OTHER && kind != RTCSEC_SDP_ATTR_ICE_OPTIONS)
    return parse_transport_attr(out, sec, kind, line, err, cap);
  if (sec == NULL) {
    if (span_starts(v, "group:"))
      return parse_group(out, span_after(v, 6));
    return 0;
  }
  if (span_starts(v, "mid:")) {
    if (span_copy(sec->mid, sizeof(sec->mid), span_after(v, 4)) != 0 || sec->mid[0] == '\0') {
      set_err(err, cap, "bad a=mid");
      return RTCSEC_ERR_PARSE;
    }
  } else if (span_starts(v, "rtpmap:")) {
    parse_rtpmap(sec, span_after(v, 7));
  } else if (span_starts(v, "fmtp:")) {
    parse_fmtp(sec, span_after(v, 5));
  } else if (span_starts(v, "rtcp-fb:")) {
    parse_rtcp_fb(sec, span_after(v, 8));
  } else if (span_starts(v, "ssrc:")) {
    parse_ssrc(sec, span_after(v, 5));
  } else if (span_starts(v, "ssrc-group:")) {
    parse_ssrc_group(sec, span_after(v, 11), from_fid);
  } else if (sec->kind == ECHO_KIND_DATA && span_starts(v, "sctp-port:")) {
    if (rtcsec_sdp_sctp_port_parse(&sec->sctp_port, line.p, line.len) != 0) {
      set_err(err, cap, "bad a=sctp-port (RFC 8841 §5)");
      return RTCSEC_ERR_PARSE;
    }
  } else if (sec->kind == ECHO_KIND_DATA && span_starts(v, "max-message-size:")) {
    if (rtcsec_sdp_max_message_size_parse(&sec->max_message_size, line.p, line.len) != 0) {
      set_err(err, cap, "bad a=max-message-size (RFC 8841 §6)");
      return RTCSEC_ERR_PARSE;
    }
  } else if (span_eq(v, "rtcp-mux")) {
    sec->rtcp_mux = 1;
  } else if (span_eq(v, "rtcp-rsize")) {
    sec->rtcp_rsize = 1;
  } else if (span_eq(v, "bundle-only")) {
    sec->bundle_only = 1; /* RFC 8843 §6: a property attribute, no value */
  } else if (span_eq(v, "sendrecv")) {
    sec->dir = ECHO_DIR_SENDRECV;
  } else if (span_eq(v, "sendonly")) {
    sec->dir = ECHO_DIR_SENDONLY;
  } else if (span_eq(v, "recvonly")) {
    sec->dir = ECHO_DIR_RECVONLY;
  } else if (span_eq(v, "inactive")) {
    sec->dir = ECHO_DIR_INACTIVE;
  }
  /* Everything else (extmap, msid, rid, simulcast, ...) is not negotiated
   * by the echo and so dropped. */
  return 0;
}

int echo_sdp_parse(echo_sdp *out, const char *sdp, size_t len, char *err, size_t cap) {
  if (out == NULL || sdp == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  if (len > ECHO_SDP_MAX_LEN) {
    set_err(err, cap, "SDP of %zu bytes (at most %d)", len, ECHO_SDP_MAX_LEN);
    return RTCSEC_ERR_TOO_LARGE;
  }
  memset(out, 0, sizeof(*out));
  parse_state *ps = calloc(1, sizeof(*ps));
  if (ps == NULL)
    return RTCSEC_ERR_NO_MEMORY;
  ps->eoc_section = -1;
  echo_section *sec = NULL;
  int from_fid = 0, seen_v = 0, rc = 0;
  size_t pos = 0, line_no = 0;
  while (pos < len && rc == 0) {
    size_t end = pos;
    while (end < len && sdp[end] != '\n')
      end++;
    span line = {sdp + pos, end - pos};
    pos = end < len ? end + 1 : end;
    line_no++;
    if (line.len > 0 && line.p[line.len - 1] == '\r')
      line.len--;
    if (line.len == 0)
      continue; /* tolerate a trailing empty line */
    if (line.len > RTCSEC_SDP_MAX_LINE - 2) {
      set_err(err, cap, "line %zu longer than %d characters", line_no, RTCSEC_SDP_MAX_LINE - 2);
      rc = RTCSEC_ERR_TOO_LARGE;
      break;
    }
    if (line.len < 2 || line.p[1] != '=' || !isalpha((unsigned char)line.p[0])) {
      set_err(err, cap, "line %zu is not 'x=...'", line_no);
      rc = RTCSEC_ERR_PARSE;
      break;
    }
    if (!seen_v) {
      if (!span_eq(line, "v=0")) {
        set_err(err, cap, "not SDP: the first line is not v=0");
        rc = RTCSEC_ERR_PARSE;
        break;
      }
      seen_v = 1;
      continue;
    }
    switch (line.p[0]) {
    case 'm':
      if (out->n_sections == ECHO_MAX_SECTIONS) {
        set_err(err, cap, "more than %d media sections", ECHO_MAX_SECTIONS);
        rc = RTCSEC_ERR_TOO_LARGE;
        break;
      }
      sec = &out->s[out->n_sections++];
      from_fid = 0;
      rc = parse_m_line(sec, span_after(line, 2), err, cap);
      if (rc == 0)
        classify_data(sec, line);
      break;
    case 'a':
      rc = parse_attribute(out, sec, ps, line, &from_fid, err, cap);
      break;
    default:
      break; /* o=, s=, t=, c=, b= ...: nothing the echo needs */
    }
  }
  if (rc == 0 && !seen_v) {
    set_err(err, cap, "empty SDP");
    rc = RTCSEC_ERR_PARSE;
  }
  if (rc == 0 && out->n_sections == 0) {
    set_err(err, cap, "no media section");
    rc = RTCSEC_ERR_PARSE;
  }
  if (rc == 0)
    finish_candidates(out, ps);
  free(ps);
  return rc;
}

/* The transport one section says, each attribute from the section or else
 * from session level. */
static int section_transport(const echo_sdp *sdp, const echo_section *sec, echo_transport_desc *out,
                             char *err, size_t cap) {
  memset(out, 0, sizeof(*out));
  const rtcsec_sdp_ice_credentials *uf = sec->has_ufrag ? &sec->ice : &sdp->ice;
  const rtcsec_sdp_ice_credentials *pw = sec->has_pwd ? &sec->ice : &sdp->ice;
  if (!sec->has_ufrag && !sdp->has_ufrag) {
    set_err(err, cap, "no a=ice-ufrag");
    return RTCSEC_ERR_PARSE;
  }
  if (!sec->has_pwd && !sdp->has_pwd) {
    set_err(err, cap, "no a=ice-pwd");
    return RTCSEC_ERR_PARSE;
  }
  if (!sec->has_fingerprint && !sdp->has_fingerprint) {
    /* RFC 8122 §5 / RFC 5763 §5: without a fingerprint the peer cannot be
     * authenticated, so there is no call. */
    set_err(err, cap, "no a=fingerprint");
    return RTCSEC_ERR_PARSE;
  }
  memcpy(out->ice.ufrag, uf->ufrag, sizeof(out->ice.ufrag));
  memcpy(out->ice.pwd, pw->pwd, sizeof(out->ice.pwd));
  out->fingerprint = sec->has_fingerprint ? sec->fingerprint : sdp->fingerprint;
  out->setup = sec->has_setup ? sec->setup : sdp->has_setup ? sdp->setup : RTCSEC_SDP_SETUP_ACTPASS;
  out->ice_lite = sdp->ice_lite;
  return 0;
}

int echo_sdp_transport(const echo_sdp *sdp, echo_transport_desc *out, char *err, size_t cap) {
  if (sdp == NULL || out == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  return section_transport(sdp, &sdp->s[transport_section(sdp)], out, err, cap);
}

/* ---- planning ---------------------------------------------------------------- */

static int codec_is(const echo_codec *c, const char *name, uint32_t clock) {
  return strcasecmp(c->name, name) == 0 && c->clock == clock;
}

/* Value of one "key=value" fmtp parameter (a view into fmtp), or NULL. */
static const char *fmtp_param(const char *fmtp, const char *key, size_t *len) {
  size_t klen = strlen(key);
  const char *p = fmtp;
  while (*p) {
    while (*p == ' ' || *p == ';')
      p++;
    const char *end = strchr(p, ';');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    if (n > klen && strncasecmp(p, key, klen) == 0 && p[klen] == '=') {
      *len = n - klen - 1;
      return p + klen + 1;
    }
    p += n;
  }
  return NULL;
}

static int fmtp_param_is(const char *fmtp, const char *key, const char *want) {
  size_t n;
  const char *v = fmtp_param(fmtp, key, &n);
  return v != NULL && n == strlen(want) && strncasecmp(v, want, n) == 0;
}

/* H.264 packetization-mode=1 with a constrained baseline profile (42e0xx or
 * 4200xx) is what every browser encodes. */
static int h264_ok(const echo_codec *c) {
  size_t n;
  const char *pl = fmtp_param(c->fmtp, "profile-level-id", &n);
  return fmtp_param_is(c->fmtp, "packetization-mode", "1") && pl != NULL && n == 6 &&
         (strncasecmp(pl, "42e0", 4) == 0 || strncasecmp(pl, "4200", 4) == 0);
}

static const unsigned fb_kept = ECHO_FB_NACK | ECHO_FB_NACK_PLI | ECHO_FB_CCM_FIR;

static void plan_add_codec(echo_plan_media *m, const echo_codec *c) {
  if (m->n_codecs == ECHO_MAX_PLAN_CODECS)
    return;
  echo_plan_codec *pc = &m->codecs[m->n_codecs++];
  pc->codec = *c;
  pc->codec.fb &= m->kind == ECHO_KIND_VIDEO ? fb_kept : 0;
  pc->local_pt = c->pt;
  pc->remote_pt = c->pt;
  m->fb |= pc->codec.fb;
}

static echo_dir answer_dir(echo_dir offered) {
  switch (offered) {
  case ECHO_DIR_SENDONLY:
    return ECHO_DIR_RECVONLY;
  case ECHO_DIR_RECVONLY:
    return ECHO_DIR_SENDONLY;
  case ECHO_DIR_INACTIVE:
    return ECHO_DIR_INACTIVE;
  case ECHO_DIR_SENDRECV:
  default:
    return ECHO_DIR_SENDRECV;
  }
}

static int section_in_bundle(const echo_sdp *sdp, const echo_section *sec) {
  if (sdp->n_bundle == 0)
    return 1; /* no group: the echo still runs everything on one transport */
  for (size_t i = 0; i < sdp->n_bundle; i++)
    if (strcmp(sdp->bundle[i], sec->mid) == 0)
      return 1;
  return 0;
}

static void plan_ids(echo_plan *plan, const echo_local_ids *ids) {
  snprintf(plan->cname, sizeof(plan->cname), "%s", ids->cname ? ids->cname : "rtcsec-echo");
  snprintf(plan->stream_id, sizeof(plan->stream_id), "%s",
           ids->stream_id ? ids->stream_id : "rtcsec-echo");
}

/* Whether two sections name the same transport: both complete, with the
 * same ICE ufrag and password and the same fingerprint. */
static int same_transport(const echo_sdp *sdp, const echo_section *a, const echo_section *b) {
  echo_transport_desc ta, tb;
  return section_transport(sdp, a, &ta, NULL, 0) == 0 &&
         section_transport(sdp, b, &tb, NULL, 0) == 0 && strcmp(ta.ice.ufrag, tb.ice.ufrag) == 0 &&
         strcmp(ta.ice.pwd, tb.ice.pwd) == 0 &&
         rtcsec_fingerprint_equal(&ta.fingerprint, &tb.fingerprint);
}

/* RFC 8843 §7.3.1: the offerer tagged section is the first of the offer's
 * BUNDLE list that the answer accepts and that has a port; the answer tags
 * the same section and marks every other accepted one bundle-only (§7.3).
 * Without a tag there is no group, and a bundle-only section can be neither
 * kept nor moved out of it (§7.3.2): the offer cannot be answered. */
static int tag_bundle(echo_plan *plan, const echo_sdp *offer, char *err, size_t cap) {
  size_t tag = 0, i;
  int found = 0;
  if (offer->n_bundle == 0)
    return 0; /* no group offered: each accepted section keeps its port */
  for (size_t k = 0; k < offer->n_bundle && !found; k++)
    if (section_by_mid(offer, offer->bundle[k], &i) && plan->m[i].accepted &&
        offer->s[i].port != 0) {
      tag = i;
      found = 1;
    }
  if (!found) {
    set_err(err, cap,
            "no accepted section of the BUNDLE group has a port to tag it with (RFC 8843 "
            "§7.3.1): the bundle-only sections cannot be accepted alone");
    return RTCSEC_ERR_UNSUPPORTED;
  }
  /* The transport and the candidates were read from the section that
   * transport_section() chose. When the echo cannot accept that one (a
   * data channel listed first, say), the tag moves on; that is the same
   * transport only if it says the same ICE credentials and fingerprint
   * (browsers give every bundled section theirs). */
  size_t ts = transport_section(offer);
  if (tag != ts && !same_transport(offer, &offer->s[tag], &offer->s[ts])) {
    set_err(err, cap,
            "section '%s' would carry the BUNDLE group, but its ICE credentials or "
            "fingerprint differ from those of section '%s', which the echo cannot accept",
            offer->s[tag].mid, offer->s[ts].mid);
    return RTCSEC_ERR_UNSUPPORTED;
  }
  for (i = 0; i < plan->n_media; i++)
    plan->m[i].bundle_only = plan->m[i].accepted && i != tag;
  return 0;
}

int echo_plan_answer(echo_plan *plan, const echo_sdp *offer, const echo_local_ids *ids, char *err,
                     size_t cap) {
  if (plan == NULL || offer == NULL || ids == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  memset(plan, 0, sizeof(*plan));
  plan_ids(plan, ids);
  int have_audio = 0, have_video = 0, have_data = 0;
  size_t accepted = 0;
  for (size_t i = 0; i < offer->n_sections; i++) {
    const echo_section *sec = &offer->s[i];
    echo_plan_media *m = &plan->m[plan->n_media++];
    m->kind = sec->kind;
    memcpy(m->media, sec->media, sizeof(m->media));
    memcpy(m->proto, sec->proto, sizeof(m->proto));
    memcpy(m->mid, sec->mid, sizeof(m->mid));
    memcpy(m->fmt0, sec->fmt0, sizeof(m->fmt0));
    m->dir = answer_dir(sec->dir);
    m->rtcp_rsize = sec->rtcp_rsize;
    m->remote_ssrc = sec->ssrc;
    /* RFC 8843 §7.3: port 0 with a=bundle-only asks for the section only
     * inside the BUNDLE group, so it is accepted there; port 0 without it
     * (or outside any group) is a disabled section (RFC 3264 §6). */
    int offered = sec->port != 0 || (sec->bundle_only && offer->n_bundle > 0);
    if (sec->kind == ECHO_KIND_DATA) {
      /* RFC 8831 §6.1: one SCTP association per peer connection, so one
       * data section; it rides the same BUNDLE transport as the media. */
      if (!offered || sec->mid[0] == '\0' || !section_in_bundle(offer, sec) || have_data)
        continue;
      m->accepted = 1;
      m->remote_sctp_port = sec->sctp_port;
      m->remote_max_message_size = sec->max_message_size;
      have_data = 1;
      accepted++;
      continue;
    }
    /* One section per kind: the echo has one SSRC to send per kind. */
    int usable = offered && sec->mid[0] != '\0' && sec->rtcp_mux &&
                 strcmp(sec->proto, "UDP/TLS/RTP/SAVPF") == 0 && section_in_bundle(offer, sec) &&
                 ((sec->kind == ECHO_KIND_AUDIO && !have_audio) ||
                  (sec->kind == ECHO_KIND_VIDEO && !have_video));
    if (!usable)
      continue;
    if (sec->kind == ECHO_KIND_AUDIO) {
      for (size_t k = 0; k < sec->n_codecs; k++)
        if (codec_is(&sec->codecs[k], "opus", 48000) && sec->codecs[k].channels == 2) {
          plan_add_codec(m, &sec->codecs[k]);
          break;
        }
    } else {
      for (size_t k = 0; k < sec->n_codecs; k++)
        if (codec_is(&sec->codecs[k], "VP8", 90000)) {
          plan_add_codec(m, &sec->codecs[k]);
          break;
        }
      for (size_t k = 0; k < sec->n_codecs; k++)
        if (codec_is(&sec->codecs[k], "H264", 90000) && h264_ok(&sec->codecs[k])) {
          plan_add_codec(m, &sec->codecs[k]);
          break;
        }
    }
    if (m->n_codecs == 0)
      continue;
    m->accepted = 1;
    m->local_ssrc = sec->kind == ECHO_KIND_AUDIO ? ids->audio_ssrc : ids->video_ssrc;
    if (sec->kind == ECHO_KIND_AUDIO)
      have_audio = 1;
    else
      have_video = 1;
    accepted++;
  }
  if (accepted == 0) {
    set_err(err, cap,
            "no media section to echo (needs audio with opus/48000/2 or video with VP8 or "
            "H.264, UDP/TLS/RTP/SAVPF, rtcp-mux, or data channels (UDP/DTLS/SCTP "
            "webrtc-datachannel), in the BUNDLE group)");
    return RTCSEC_ERR_UNSUPPORTED;
  }
  return tag_bundle(plan, offer, err, cap);
}

void echo_plan_offer(echo_plan *plan, const echo_local_ids *ids) {
  static const echo_codec opus = {111, "opus", 48000, 2, "minptime=10;useinbandfec=1", 0};
  static const echo_codec vp8 = {96, "VP8", 90000, 0, "", fb_kept};
  static const echo_codec h264 = {
      102,
      "H264",
      90000,
      0,
      "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
      fb_kept};
  memset(plan, 0, sizeof(*plan));
  plan_ids(plan, ids);
  plan->n_media = 3;
  echo_plan_media *a = &plan->m[0], *v = &plan->m[1], *d = &plan->m[2];
  a->kind = ECHO_KIND_AUDIO;
  v->kind = ECHO_KIND_VIDEO;
  snprintf(a->media, sizeof(a->media), "audio");
  snprintf(v->media, sizeof(v->media), "video");
  snprintf(a->mid, sizeof(a->mid), "0");
  snprintf(v->mid, sizeof(v->mid), "1");
  a->local_ssrc = ids->audio_ssrc;
  v->local_ssrc = ids->video_ssrc;
  for (int i = 0; i < 2; i++) {
    snprintf(plan->m[i].proto, sizeof(plan->m[i].proto), "UDP/TLS/RTP/SAVPF");
    plan->m[i].accepted = 1;
    plan->m[i].dir = ECHO_DIR_SENDRECV;
    plan->m[i].rtcp_rsize = 1;
  }
  /* Data channels (RFC 8841 §4.1); the peer's port and size come with its
   * answer. */
  d->kind = ECHO_KIND_DATA;
  d->accepted = 1;
  snprintf(d->media, sizeof(d->media), "application");
  snprintf(d->proto, sizeof(d->proto), "UDP/DTLS/SCTP");
  snprintf(d->fmt0, sizeof(d->fmt0), "webrtc-datachannel");
  snprintf(d->mid, sizeof(d->mid), "2");
  /* RFC 8843 §7.2: the tagged audio section alone has the address:port. */
  v->bundle_only = 1;
  d->bundle_only = 1;
  plan_add_codec(a, &opus);
  plan_add_codec(v, &vp8);
  plan_add_codec(v, &h264);
}

int echo_plan_apply_answer(echo_plan *plan, const echo_sdp *answer, char *err, size_t cap) {
  if (plan == NULL || answer == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  if (answer->n_sections != plan->n_media) {
    set_err(err, cap, "the answer has %zu media sections, the offer %zu", answer->n_sections,
            plan->n_media);
    return RTCSEC_ERR_PARSE;
  }
  size_t accepted = 0;
  for (size_t i = 0; i < plan->n_media; i++) {
    echo_plan_media *m = &plan->m[i];
    const echo_section *sec = &answer->s[i];
    if (!m->accepted)
      continue;
    if (sec->kind != m->kind || strcmp(sec->mid, m->mid) != 0) {
      set_err(err, cap, "answer section %zu is %s mid '%s', offered %s mid '%s'", i, sec->media,
              sec->mid, m->media, m->mid);
      return RTCSEC_ERR_PARSE;
    }
    if (sec->port == 0 && !sec->bundle_only) {
      m->accepted = 0; /* rejected by the browser */
      m->bundle_only = 0;
      continue;
    }
    /* RFC 8843 §7.3: an answerer may mark every bundled section but its
     * tagged one with port 0 and a=bundle-only; such a section is kept,
     * inside the answer's BUNDLE group only (§7.3.3: a rejected one never
     * says bundle-only). */
    if (sec->port == 0 && !(answer->n_bundle > 0 && section_in_bundle(answer, sec))) {
      set_err(err, cap, "answer section '%s' is bundle-only outside the BUNDLE group", sec->mid);
      return RTCSEC_ERR_PARSE;
    }
    if (m->kind == ECHO_KIND_DATA) {
      m->remote_sctp_port = sec->sctp_port;
      m->remote_max_message_size = sec->max_message_size;
      accepted++;
      continue;
    }
    if (!sec->rtcp_mux) {
      set_err(err, cap, "answer section '%s' without rtcp-mux", sec->mid);
      return RTCSEC_ERR_PARSE;
    }
    /* Keep the offered codecs the answer kept, in our order. */
    size_t kept = 0;
    unsigned fb = 0;
    for (size_t k = 0; k < m->n_codecs; k++) {
      echo_plan_codec pc = m->codecs[k];
      const echo_codec *match = NULL;
      for (size_t j = 0; j < sec->n_codecs && match == NULL; j++) {
        const echo_codec *c = &sec->codecs[j];
        if (codec_is(c, pc.codec.name, pc.codec.clock) &&
            (pc.codec.channels == 0 || c->channels == pc.codec.channels) &&
            (strcasecmp(pc.codec.name, "H264") != 0 || h264_ok(c)))
          match = c;
      }
      if (match == NULL)
        continue;
      pc.remote_pt = match->pt;
      pc.codec.fb &= match->fb; /* feedback both sides said */
      fb |= pc.codec.fb;
      m->codecs[kept++] = pc;
    }
    if (kept == 0) {
      set_err(err, cap, "the answer keeps none of the codecs offered in section '%s'", sec->mid);
      return RTCSEC_ERR_PARSE;
    }
    m->n_codecs = kept;
    m->fb = fb;
    m->remote_ssrc = sec->ssrc;
    m->rtcp_rsize = m->rtcp_rsize && sec->rtcp_rsize;
    /* Our direction follows what the browser answered. */
    m->dir = answer_dir(sec->dir);
    accepted++;
  }
  if (accepted == 0) {
    set_err(err, cap, "the answer rejects every media section");
    return RTCSEC_ERR_PARSE;
  }
  return 0;
}

/* ---- writing ------------------------------------------------------------------ */

typedef struct out_buf {
  char *p;
  size_t cap, len;
  int overflow;
} out_buf;

static void put(out_buf *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(out_buf *o, const char *fmt, ...) {
  if (o->overflow)
    return;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= o->cap - o->len) {
    o->overflow = 1;
    return;
  }
  o->len += (size_t)n;
}

static const char *dir_name(echo_dir d) {
  switch (d) {
  case ECHO_DIR_SENDONLY:
    return "sendonly";
  case ECHO_DIR_RECVONLY:
    return "recvonly";
  case ECHO_DIR_INACTIVE:
    return "inactive";
  case ECHO_DIR_SENDRECV:
  default:
    return "sendrecv";
  }
}

/* Address and port of a "candidate:..." string for the c= and m= lines. */
static void candidate_addr(const char *cand, char *addr, size_t addr_cap, unsigned *port, int *v6) {
  snprintf(addr, addr_cap, "0.0.0.0");
  *port = 9;
  *v6 = 0;
  rtcsec_candidate *c = malloc(sizeof(*c));
  if (c == NULL)
    return;
  if (rtcsec_sdp_candidate_parse(c, cand, strlen(cand)) == 0 &&
      c->addr.type != RTCSEC_CANDIDATE_ADDR_FQDN) {
    snprintf(addr, addr_cap, "%s", c->addr.host);
    *port = c->addr.port;
    *v6 = c->addr.type == RTCSEC_CANDIDATE_ADDR_IPV6;
  }
  free(c);
}

static void write_codec(out_buf *o, const echo_codec *c) {
  if (c->channels)
    put(o, "a=rtpmap:%u %s/%u/%u\r\n", c->pt, c->name, (unsigned)c->clock, c->channels);
  else
    put(o, "a=rtpmap:%u %s/%u\r\n", c->pt, c->name, (unsigned)c->clock);
  if (c->fb & ECHO_FB_CCM_FIR)
    put(o, "a=rtcp-fb:%u ccm fir\r\n", c->pt);
  if (c->fb & ECHO_FB_NACK)
    put(o, "a=rtcp-fb:%u nack\r\n", c->pt);
  if (c->fb & ECHO_FB_NACK_PLI)
    put(o, "a=rtcp-fb:%u nack pli\r\n", c->pt);
  if (c->fmtp[0])
    put(o, "a=fmtp:%u %s\r\n", c->pt, c->fmtp);
}

/* Non-trickle: every candidate is in the BUNDLE tag section. */
static void write_candidates(out_buf *o, const char *const *candidates, size_t n) {
  for (size_t c = 0; c < n; c++)
    put(o, "a=%s\r\n", candidates[c]);
  put(o, "a=end-of-candidates\r\n");
}

/* A data section's own attributes (RFC 8841 §5, §6), through the
 * data-channel library's formatters; no direction, rtcp-mux or SSRC: it
 * carries SCTP, not RTP. */
static void write_data(out_buf *o) {
  char line[64];
  if (rtcsec_sdp_sctp_port_format(ECHO_SCTP_PORT, line, sizeof(line), NULL) == 0)
    put(o, "a=%s\r\n", line);
  if (rtcsec_sdp_max_message_size_format(ECHO_MAX_MESSAGE_SIZE, line, sizeof(line), NULL) == 0)
    put(o, "a=%s\r\n", line);
}

int echo_sdp_write(const echo_plan *plan, const echo_transport_desc *local,
                   const char *const *candidates, size_t n_candidates, uint64_t session_id,
                   char *buf, size_t cap, size_t *len_out) {
  if (plan == NULL || local == NULL || buf == NULL || cap == 0 ||
      (n_candidates > 0 && candidates == NULL))
    return RTCSEC_ERR_INVALID_ARGUMENT;
  char ufrag[RTCSEC_SDP_MAX_LINE], pwd[RTCSEC_SDP_MAX_LINE], fp[RTCSEC_SDP_MAX_LINE];
  char setup[32];
  int rc;
  if ((rc = rtcsec_sdp_ice_ufrag_format(&local->ice, ufrag, sizeof(ufrag), NULL)) != 0 ||
      (rc = rtcsec_sdp_ice_pwd_format(&local->ice, pwd, sizeof(pwd), NULL)) != 0 ||
      (rc = rtcsec_sdp_fingerprint_format(&local->fingerprint, fp, sizeof(fp), NULL)) != 0 ||
      (rc = rtcsec_sdp_setup_format(local->setup, setup, sizeof(setup), NULL)) != 0)
    return rc;
  char addr[RTCSEC_CANDIDATE_HOST_MAX + 1];
  unsigned port;
  int v6;
  candidate_addr(n_candidates > 0 ? candidates[0] : "", addr, sizeof(addr), &port, &v6);

  /* The tagged section: the first accepted one that is not bundle-only. */
  size_t tag = plan->n_media;
  for (size_t i = 0; i < plan->n_media && tag == plan->n_media; i++)
    if (plan->m[i].accepted && !plan->m[i].bundle_only)
      tag = i;
  for (size_t i = 0; i < plan->n_media; i++)
    if (plan->m[i].accepted && tag == plan->n_media)
      return RTCSEC_ERR_INVALID_ARGUMENT; /* a group of bundle-only sections */

  out_buf o = {buf, cap, 0, 0};
  put(&o, "v=0\r\n");
  put(&o, "o=rtcsec-echo %llu 2 IN IP4 127.0.0.1\r\n", (unsigned long long)session_id);
  put(&o, "s=-\r\n");
  put(&o, "t=0 0\r\n");
  if (local->ice_lite)
    put(&o, "a=ice-lite\r\n"); /* session level only (RFC 8839 §5.3) */
  /* The fingerprint at session level (RFC 8122 §5 allows it), where it
   * applies to every section: Firefox 153's content process crashes in
   * setRemoteDescription() on a bundle-only section that has no
   * fingerprint of its own or from session level. */
  put(&o, "a=%s\r\n", fp);
  /* RFC 8843 §7.3: the BUNDLE-tag (the first mid of the list) names the
   * tagged section. */
  put(&o, "a=group:BUNDLE");
  if (tag < plan->n_media)
    put(&o, " %s", plan->m[tag].mid);
  for (size_t i = 0; i < plan->n_media; i++)
    if (plan->m[i].accepted && i != tag)
      put(&o, " %s", plan->m[i].mid);
  put(&o, "\r\n");
  put(&o, "a=msid-semantic: WMS %s\r\n", plan->stream_id);
  for (size_t i = 0; i < plan->n_media; i++) {
    const echo_plan_media *m = &plan->m[i];
    if (!m->accepted) {
      /* RFC 8843 §7.3.3 / JSEP: a rejected section keeps its place with
       * port 0, stays out of the BUNDLE group and never says bundle-only. */
      put(&o, "m=%s 0 %s %s\r\n", m->media, m->proto, m->fmt0[0] ? m->fmt0 : "0");
      put(&o, "c=IN IP4 0.0.0.0\r\n");
      if (m->mid[0])
        put(&o, "a=mid:%s\r\n", m->mid);
      put(&o, "a=inactive\r\n");
      continue;
    }
    put(&o, "m=%s %u %s", m->media, m->bundle_only ? 0 : port, m->proto);
    if (m->kind == ECHO_KIND_DATA)
      put(&o, " webrtc-datachannel"); /* RFC 8841 §4.1 */
    for (size_t k = 0; k < m->n_codecs; k++)
      put(&o, " %u", m->codecs[k].codec.pt);
    put(&o, "\r\n");
    if (m->bundle_only) {
      /* RFC 8843 §7.1.1: the same address type as the tagged section;
       * §6, §7.1.3: port 0, a=bundle-only, and none of the TRANSPORT
       * attributes, which the tagged section gives the group. */
      put(&o, "c=IN %s\r\n", v6 ? "IP6 ::" : "IP4 0.0.0.0");
      put(&o, "a=bundle-only\r\n");
    } else {
      put(&o, "c=IN %s %s\r\n", v6 ? "IP6" : "IP4", addr);
      put(&o, "a=%s\r\na=%s\r\na=%s\r\n", ufrag, pwd, setup);
    }
    put(&o, "a=mid:%s\r\n", m->mid);
    if (m->kind == ECHO_KIND_DATA) {
      write_data(&o);
      if (i == tag)
        write_candidates(&o, candidates, n_candidates);
      continue;
    }
    put(&o, "a=%s\r\n", dir_name(m->dir));
    /* rtcp-mux and rtcp-rsize are IDENTICAL attributes, which RFC 8843
     * §7.1.3 keeps to the tagged section; but with rtcpMuxPolicy 'require'
     * Firefox 153 refuses any m= section without a=rtcp-mux ("missing
     * a=rtcp-mux, which is required by rtcpMuxPolicy") and Chromium 156
     * refuses to answer such an offer ("rtcp-mux must be enabled when BUNDLE
     * is enabled"). Both repeat them in their own bundle-only sections, and
     * so does the echo. No a=rtcp anywhere (§9.3.1.2). */
    put(&o, "a=rtcp-mux\r\n");
    if (m->rtcp_rsize)
      put(&o, "a=rtcp-rsize\r\n");
    for (size_t k = 0; k < m->n_codecs; k++)
      write_codec(&o, &m->codecs[k].codec);
    if (m->dir == ECHO_DIR_SENDRECV || m->dir == ECHO_DIR_SENDONLY) {
      const char *track = m->kind == ECHO_KIND_AUDIO ? "echo-audio" : "echo-video";
      put(&o, "a=msid:%s %s\r\n", plan->stream_id, track);
      put(&o, "a=ssrc:%u cname:%s\r\n", (unsigned)m->local_ssrc, plan->cname);
      put(&o, "a=ssrc:%u msid:%s %s\r\n", (unsigned)m->local_ssrc, plan->stream_id, track);
    }
    if (i == tag)
      write_candidates(&o, candidates, n_candidates);
  }
  if (o.overflow)
    return RTCSEC_ERR_BUFFER_TOO_SMALL;
  if (len_out)
    *len_out = o.len;
  return 0;
}
