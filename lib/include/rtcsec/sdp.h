/* rtcsec: the few SDP attributes a WebRTC media security stack owns.
 *
 * rtcsec does not parse or build whole SDP documents: the application (or
 * its signalling library) does. These helpers handle the attributes whose
 * meaning belongs to this stack: ICE credentials and options, candidates
 * (RFC 8839), the certificate fingerprint (RFC 8122) and the DTLS role
 * (`a=setup`, RFC 4145, RFC 5763 §5, RFC 8842).
 *
 * Rules shared by every parser here:
 *   - Input is (s, len); it need not be NUL-terminated and is never read
 *     past len. s must not be NULL (RTCSEC_ERR_INVALID_ARGUMENT).
 *   - len > RTCSEC_SDP_MAX_LINE is refused with RTCSEC_ERR_TOO_LARGE
 *     before anything else is looked at.
 *   - An optional leading "a=" is accepted; trailing CR, LF, SP and HTAB
 *     are ignored. Anything else after the value (a second line, a NUL, a
 *     control character) is RTCSEC_ERR_PARSE.
 *   - Literal words ("candidate", "typ", "host", "actpass", ...) are
 *     matched case-insensitively, as RFC 5234 §2.3 makes ABNF strings;
 *     fields are separated by exactly one SP, as the grammars say.
 *   - The output is written only on success.
 *
 * Rules shared by every formatter here:
 *   - The attribute is written without "a=" and without a line end, with
 *     a NUL: "candidate:...", "setup:active". The application adds "a="
 *     and CRLF (or hands a candidate string to its signalling as is).
 *   - *len_out (optional) gets the length without the NUL, also when the
 *     result is RTCSEC_ERR_BUFFER_TOO_SMALL, so a caller can size a buffer.
 *     On any error nothing is written to buf.
 *   - A result that would not fit one SDP line once "a=" and CRLF are
 *     added (more than RTCSEC_SDP_MAX_LINE - 4 characters) is
 *     RTCSEC_ERR_TOO_LARGE.
 *
 * All functions are pure apart from the credential generator, which reads
 * OpenSSL's random generator; any thread may call any of them.
 */
#ifndef RTCSEC_SDP_H
#define RTCSEC_SDP_H

#include <stddef.h>
#include <stdint.h>

#include "rtcsec/cert.h"
#include "rtcsec/dtls.h"
#include "rtcsec/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Longest attribute line accepted, counting "a=" and the line end. */
#define RTCSEC_SDP_MAX_LINE 1024

/* ---- telling attributes apart ------------------------------------------ */

typedef enum rtcsec_sdp_attr {
  RTCSEC_SDP_ATTR_OTHER = 0,         /* an attribute this stack does not own */
  RTCSEC_SDP_ATTR_ICE_UFRAG,         /* a=ice-ufrag:  RFC 8839 §5.4 */
  RTCSEC_SDP_ATTR_ICE_PWD,           /* a=ice-pwd:    RFC 8839 §5.4 */
  RTCSEC_SDP_ATTR_ICE_OPTIONS,       /* a=ice-options: RFC 8839 §5.6 */
  RTCSEC_SDP_ATTR_ICE_LITE,          /* a=ice-lite    RFC 8839 §5.3 (flag) */
  RTCSEC_SDP_ATTR_END_OF_CANDIDATES, /* a=end-of-candidates RFC 8840 (flag) */
  RTCSEC_SDP_ATTR_CANDIDATE,         /* a=candidate:  RFC 8839 §5.1 */
  RTCSEC_SDP_ATTR_FINGERPRINT,       /* a=fingerprint: RFC 8122 §5 */
  RTCSEC_SDP_ATTR_SETUP,             /* a=setup:      RFC 4145 §4 */
} rtcsec_sdp_attr;

/* Sorts one attribute line by its name (the value is not checked, except
 * that the flag attributes ice-lite and end-of-candidates must have none).
 * Errors: RTCSEC_ERR_INVALID_ARGUMENT (NULL out or s),
 * RTCSEC_ERR_TOO_LARGE (len > RTCSEC_SDP_MAX_LINE), RTCSEC_ERR_PARSE (no
 * attribute name, a control character or NUL, or a value on a flag
 * attribute). */
RTCSEC_API int rtcsec_sdp_attr_identify(rtcsec_sdp_attr *out, const char *s, size_t len);

/* ---- attributes other modules own ---------------------------------------- */

/* The value of one attribute line "[a=]NAME:VALUE" under the parser rules
 * above (NAME matched case-insensitively, trailing line end and blanks
 * dropped): *value points at VALUE inside s, *value_len is its length
 * (possibly 0). For the parsers of attributes that belong to other rtcsec
 * libraries (data channels: a=sctp-port, a=max-message-size, RFC 8841) and
 * to applications, so that every attribute follows the same line rules.
 * Errors: RTCSEC_ERR_INVALID_ARGUMENT (NULL s, name, value or value_len),
 * RTCSEC_ERR_TOO_LARGE, RTCSEC_ERR_PARSE (not NAME followed by ':', a
 * control character or NUL). */
RTCSEC_API int rtcsec_sdp_attr_value(const char *s, size_t len, const char *name,
                                     const char **value, size_t *value_len);

/* The same rules for a line that is not an attribute ("m=...", RFC 8866
 * §5.14): no "a=" is taken; *body and *body_len give the line without its
 * trailing line end and blanks.
 * Errors: RTCSEC_ERR_INVALID_ARGUMENT, RTCSEC_ERR_TOO_LARGE,
 * RTCSEC_ERR_PARSE (a control character or NUL, or nothing left). */
RTCSEC_API int rtcsec_sdp_line_body(const char *s, size_t len, const char **body, size_t *body_len);

/* ---- ICE credentials (RFC 8839 §5.4, RFC 8445 §5.3) --------------------- */

/* ufrag = 4*256ice-char, password = 22*256ice-char, where
 * ice-char = ALPHA / DIGIT / "+" / "/". */
#define RTCSEC_ICE_UFRAG_MIN 4
#define RTCSEC_ICE_UFRAG_MAX 256
#define RTCSEC_ICE_PWD_MIN 22
#define RTCSEC_ICE_PWD_MAX 256
/* Generated lengths when 0 is asked for: 48 and 144 random bits. */
/* 1 if s[0..len) is min..max ice-chars (RFC 8839 §5.4: ALPHA / DIGIT /
 * "+" / "/"), else 0 (also for NULL). The one check of ICE credentials in
 * rtcsec (SDP helpers, the router, the ICE agent). */
RTCSEC_API int rtcsec_sdp_ice_chars_valid(const char *s, size_t len, size_t min, size_t max);

#define RTCSEC_ICE_UFRAG_DEFAULT_LEN 8
#define RTCSEC_ICE_PWD_DEFAULT_LEN 24

/* The ICE credentials of one media section (or session). Both strings are
 * NUL-terminated; "" means not set. */
typedef struct rtcsec_sdp_ice_credentials {
  char ufrag[RTCSEC_ICE_UFRAG_MAX + 1];
  char pwd[RTCSEC_ICE_PWD_MAX + 1];
} rtcsec_sdp_ice_credentials;

/* Parses "a=ice-ufrag:VALUE" into creds->ufrag; creds->pwd is left alone.
 * Errors: RTCSEC_ERR_INVALID_ARGUMENT (NULL creds or s),
 * RTCSEC_ERR_TOO_LARGE, RTCSEC_ERR_PARSE (not ice-ufrag, empty value,
 * fewer than 4 or more than 256 characters, a character that is not an
 * ice-char). */
RTCSEC_API int rtcsec_sdp_ice_ufrag_parse(rtcsec_sdp_ice_credentials *creds, const char *s,
                                          size_t len);

/* Parses "a=ice-pwd:VALUE" into creds->pwd; creds->ufrag is left alone.
 * Errors: as rtcsec_sdp_ice_ufrag_parse(), with 22..256 characters. */
RTCSEC_API int rtcsec_sdp_ice_pwd_parse(rtcsec_sdp_ice_credentials *creds, const char *s,
                                        size_t len);

/* Writes "ice-ufrag:VALUE" / "ice-pwd:VALUE" from creds.
 * Errors: RTCSEC_ERR_INVALID_ARGUMENT (NULL creds, buf NULL with cap > 0,
 * the value is not a valid ufrag / password as above),
 * RTCSEC_ERR_BUFFER_TOO_SMALL. */
RTCSEC_API int rtcsec_sdp_ice_ufrag_format(const rtcsec_sdp_ice_credentials *creds, char *buf,
                                           size_t cap, size_t *len_out);
RTCSEC_API int rtcsec_sdp_ice_pwd_format(const rtcsec_sdp_ice_credentials *creds, char *buf,
                                         size_t cap, size_t *len_out);

/* Fills *out with a fresh random ufrag of ufrag_len characters and password
 * of pwd_len characters (0 selects the defaults above). Every ice-char
 * carries exactly 6 random bits (64 symbols), so RFC 8445 §5.3's minimums
 * of 24 bits (ufrag) and 128 bits (password) hold from 4 and 22 characters.
 * Errors: RTCSEC_ERR_INVALID_ARGUMENT (NULL out, a length out of
 * 4..256 / 22..256), RTCSEC_ERR_CRYPTO (the random generator failed; *out
 * is untouched). */
RTCSEC_API int rtcsec_sdp_ice_credentials_generate(rtcsec_sdp_ice_credentials *out,
                                                   size_t ufrag_len, size_t pwd_len);

/* ---- ICE options (RFC 8839 §5.6) ----------------------------------------- */

typedef struct rtcsec_sdp_ice_options {
  int trickle;      /* "trickle": the peer trickles candidates (RFC 8838 §3) */
  int ice2;         /* "ice2": the peer implements RFC 8445 (RFC 8445 §10) */
  size_t n_unknown; /* other option tags, ignored as RFC 8839 §5.6 asks */
} rtcsec_sdp_ice_options;

/* Parses "a=ice-options:TAG *(SP TAG)", TAG = 1*ice-char.
 * Errors: RTCSEC_ERR_INVALID_ARGUMENT, RTCSEC_ERR_TOO_LARGE,
 * RTCSEC_ERR_PARSE (not ice-options, no tag, an empty tag, a character
 * that is not an ice-char). */
RTCSEC_API int rtcsec_sdp_ice_options_parse(rtcsec_sdp_ice_options *out, const char *s, size_t len);

/* Writes "ice-options:trickle ice2" (the tags set, in that order).
 * Errors: RTCSEC_ERR_INVALID_ARGUMENT (NULL opts, buf NULL with cap > 0,
 * no tag set), RTCSEC_ERR_BUFFER_TOO_SMALL. */
RTCSEC_API int rtcsec_sdp_ice_options_format(const rtcsec_sdp_ice_options *opts, char *buf,
                                             size_t cap, size_t *len_out);

/* ---- candidates (RFC 8839 §5.1, RFC 6544 §4.5) ---------------------------- */

#define RTCSEC_CANDIDATE_FOUNDATION_MAX 32 /* 1*32ice-char */
#define RTCSEC_CANDIDATE_HOST_MAX 253      /* longest DNS name */
#define RTCSEC_CANDIDATE_MAX_EXTENSIONS 16 /* name-value pairs after typ/raddr/rport */
#define RTCSEC_CANDIDATE_EXT_NAME_MAX 32
#define RTCSEC_CANDIDATE_EXT_VALUE_MAX 256

typedef enum rtcsec_candidate_transport {
  RTCSEC_CANDIDATE_UDP = 0,
  RTCSEC_CANDIDATE_TCP = 1, /* RFC 6544 */
} rtcsec_candidate_transport;

typedef enum rtcsec_candidate_type {
  RTCSEC_CANDIDATE_HOST = 0,
  RTCSEC_CANDIDATE_SRFLX = 1,
  RTCSEC_CANDIDATE_PRFLX = 2,
  RTCSEC_CANDIDATE_RELAY = 3,
} rtcsec_candidate_type;

typedef enum rtcsec_candidate_tcptype {
  RTCSEC_CANDIDATE_TCPTYPE_NONE = 0, /* UDP candidates */
  RTCSEC_CANDIDATE_TCPTYPE_ACTIVE = 1,
  RTCSEC_CANDIDATE_TCPTYPE_PASSIVE = 2,
  RTCSEC_CANDIDATE_TCPTYPE_SO = 3,
} rtcsec_candidate_tcptype;

typedef enum rtcsec_candidate_addr_type {
  RTCSEC_CANDIDATE_ADDR_IPV4 = 1,
  RTCSEC_CANDIDATE_ADDR_IPV6 = 2,
  RTCSEC_CANDIDATE_ADDR_FQDN = 3, /* a host name, to be resolved */
} rtcsec_candidate_addr_type;

/* A transport address as written in the candidate. `host` is kept as it
 * was written (an IPv6 address is not canonicalised). `type` and `mdns`
 * are set by the parser and ignored by the formatter, which looks at `host`
 * itself. */
typedef struct rtcsec_candidate_address {
  rtcsec_candidate_addr_type type;
  int mdns; /* 1: a host name ending in ".local" (an mDNS name, as browsers
               use to hide local addresses) */
  uint16_t port;
  char host[RTCSEC_CANDIDATE_HOST_MAX + 1];
} rtcsec_candidate_address;

/* An extension attribute this stack does not interpret. */
typedef struct rtcsec_candidate_ext {
  char name[RTCSEC_CANDIDATE_EXT_NAME_MAX + 1];   /* token */
  char value[RTCSEC_CANDIDATE_EXT_VALUE_MAX + 1]; /* 1*VCHAR */
} rtcsec_candidate_ext;

/* One ICE candidate. No pointers: it may be copied and compared with
 * memcmp (the parser zeroes it first). About 5.5 KB. */
typedef struct rtcsec_candidate {
  char foundation[RTCSEC_CANDIDATE_FOUNDATION_MAX + 1];
  uint16_t component; /* 1..256; 1 = RTP (the only one with rtcp-mux) */
  rtcsec_candidate_transport transport;
  uint32_t priority; /* 1..2^31-1 */
  rtcsec_candidate_address addr;
  rtcsec_candidate_type type;
  int has_related; /* raddr + rport present */
  rtcsec_candidate_address related;
  rtcsec_candidate_tcptype tcptype; /* set for TCP, NONE for UDP */
  /* The extensions browsers send, decoded; has_* = 0 / "" when absent. */
  int has_generation;
  uint32_t generation;
  char ufrag[RTCSEC_ICE_UFRAG_MAX + 1]; /* "ufrag": which credentials */
  int has_network_id;
  uint32_t network_id;
  int has_network_cost;
  uint32_t network_cost;
  /* Every other extension, in order. */
  size_t n_ext;
  rtcsec_candidate_ext ext[RTCSEC_CANDIDATE_MAX_EXTENSIONS];
} rtcsec_candidate;

/* Parses "[a=]candidate:foundation component transport priority address
 * port typ type [raddr A rport P] *(SP name SP value)".
 * transport is "UDP" or "TCP" (any case); TCP needs the RFC 6544 tcptype
 * extension (active / passive / so), UDP must not have it. address is an
 * IPv4 dotted quad, an IPv6 address or a host name (letters, digits, '-'
 * in dot-separated labels; not all-numeric in its last label); port is
 * 0..65535 in 1..5 digits. "raddr" and "rport" come together and only
 * right after the type. The extensions generation, network-id and
 * network-cost (decimal, 32-bit) and ufrag (ice-chars, 4..256) are
 * decoded; others are kept in ext[]; none may appear twice.
 * Errors:
 *   RTCSEC_ERR_INVALID_ARGUMENT  NULL out or s.
 *   RTCSEC_ERR_TOO_LARGE         len > RTCSEC_SDP_MAX_LINE, or an unknown
 *                                extension name or value longer than
 *                                RTCSEC_CANDIDATE_EXT_NAME_MAX / _VALUE_MAX.
 *   RTCSEC_ERR_UNSUPPORTED       a line that is a candidate in every
 *                                other respect has a transport other than
 *                                UDP and TCP or a type other than host,
 *                                srflx, prflx and relay (each a token):
 *                                the caller should ignore the candidate.
 *   RTCSEC_ERR_LIMIT             more than RTCSEC_CANDIDATE_MAX_EXTENSIONS
 *                                extensions (tcptype included).
 *   RTCSEC_ERR_PARSE             anything else that is not a candidate as
 *                                described (missing field, number out of
 *                                range, bad address, raddr without rport,
 *                                ...). */
RTCSEC_API int rtcsec_sdp_candidate_parse(rtcsec_candidate *out, const char *s, size_t len);

/* Writes "candidate:..." in the order of the grammar: the fixed fields
 * (transport in lower case, as browsers write it), raddr/rport, tcptype,
 * generation, ufrag, network-id, network-cost, then ext[] in order. A line
 * a browser wrote in that shape comes back byte for byte.
 * Errors: RTCSEC_ERR_INVALID_ARGUMENT (NULL c, buf NULL with cap > 0, any
 * field the parser would refuse, an ext[] name that is one of the decoded
 * ones or raddr / rport / tcptype), RTCSEC_ERR_LIMIT (more than
 * RTCSEC_CANDIDATE_MAX_EXTENSIONS extensions), RTCSEC_ERR_TOO_LARGE,
 * RTCSEC_ERR_BUFFER_TOO_SMALL. */
RTCSEC_API int rtcsec_sdp_candidate_format(const rtcsec_candidate *c, char *buf, size_t cap,
                                           size_t *len_out);

/* "host", "srflx", "prflx", "relay"; "unknown" otherwise. */
RTCSEC_API const char *rtcsec_candidate_type_name(rtcsec_candidate_type t);

/* ---- fingerprint (RFC 8122 §5) ------------------------------------------- */

/* The SDP line rules above, then rtcsec_fingerprint_parse() (cert.h) on
 * "[a=]fingerprint:HASH XX:XX:...".
 * Errors: RTCSEC_ERR_INVALID_ARGUMENT, RTCSEC_ERR_TOO_LARGE,
 * RTCSEC_ERR_PARSE (not a fingerprint attribute, a control character), and
 * those of rtcsec_fingerprint_parse(): RTCSEC_ERR_FINGERPRINT_MALFORMED,
 * RTCSEC_ERR_FINGERPRINT_UNKNOWN_HASH, RTCSEC_ERR_FINGERPRINT_LENGTH. */
RTCSEC_API int rtcsec_sdp_fingerprint_parse(rtcsec_fingerprint *out, const char *s, size_t len);

/* Writes "fingerprint:sha-256 AB:CD:..." with rtcsec_fingerprint_format().
 * Errors: RTCSEC_ERR_INVALID_ARGUMENT, RTCSEC_ERR_BUFFER_TOO_SMALL. */
RTCSEC_API int rtcsec_sdp_fingerprint_format(const rtcsec_fingerprint *fp, char *buf, size_t cap,
                                             size_t *len_out);

/* ---- DTLS role: a=setup (RFC 4145 §4, RFC 5763 §5, RFC 8842 §5) ---------- */

typedef enum rtcsec_sdp_setup {
  RTCSEC_SDP_SETUP_ACTPASS = 0, /* either; what an offerer says */
  RTCSEC_SDP_SETUP_ACTIVE = 1,  /* opens the connection: the DTLS client */
  RTCSEC_SDP_SETUP_PASSIVE = 2, /* waits: the DTLS server */
  RTCSEC_SDP_SETUP_HOLDCONN = 3,
} rtcsec_sdp_setup;

/* "actpass", "active", "passive", "holdconn"; "unknown" otherwise. */
RTCSEC_API const char *rtcsec_sdp_setup_name(rtcsec_sdp_setup setup);

/* Parses "a=setup:ROLE".
 * Errors: RTCSEC_ERR_INVALID_ARGUMENT, RTCSEC_ERR_TOO_LARGE,
 * RTCSEC_ERR_PARSE (not setup, or a value other than the four roles). */
RTCSEC_API int rtcsec_sdp_setup_parse(rtcsec_sdp_setup *out, const char *s, size_t len);

/* Writes "setup:ROLE".
 * Errors: RTCSEC_ERR_INVALID_ARGUMENT (unknown value, buf NULL with
 * cap > 0), RTCSEC_ERR_BUFFER_TOO_SMALL. */
RTCSEC_API int rtcsec_sdp_setup_format(rtcsec_sdp_setup setup, char *buf, size_t cap,
                                       size_t *len_out);

/* The answerer's a=setup for an offer (RFC 4145 §4.1 table, narrowed by
 * RFC 5763 §5 / RFC 8842 §5.3 to active or passive):
 *   offer actpass -> preferred_answer if it is active or passive; with
 *                    preferred_answer = actpass (no preference): active, as
 *                    RFC 5763 §5 recommends (the handshake then starts
 *                    while the answer is still on its way);
 *   offer active  -> passive;  offer passive -> active (preference unused).
 * Errors: RTCSEC_ERR_INVALID_ARGUMENT (NULL answer, values out of the enum,
 * preferred_answer holdconn), RTCSEC_ERR_UNSUPPORTED (offer holdconn: there
 * is no DTLS role to take; reject the media section). */
RTCSEC_API int rtcsec_sdp_setup_answer(rtcsec_sdp_setup offer, rtcsec_sdp_setup preferred_answer,
                                       rtcsec_sdp_setup *answer);

/* The DTLS role for this endpoint's own final a=setup value: active ->
 * RTCSEC_DTLS_CLIENT, passive -> RTCSEC_DTLS_SERVER.
 * Errors: RTCSEC_ERR_INVALID_ARGUMENT (NULL role, value out of the enum),
 * RTCSEC_ERR_INVALID_STATE (actpass or holdconn: not a role yet; an
 * offerer learns its role from the answer, see the next function). */
RTCSEC_API int rtcsec_sdp_setup_dtls_role(rtcsec_sdp_setup local, rtcsec_dtls_role *role);

/* The DTLS role for this endpoint from the peer's final a=setup value (an
 * offerer that said actpass, reading the answer): remote active ->
 * RTCSEC_DTLS_SERVER, remote passive -> RTCSEC_DTLS_CLIENT.
 * Errors: as rtcsec_sdp_setup_dtls_role(). */
RTCSEC_API int rtcsec_sdp_setup_dtls_role_from_remote(rtcsec_sdp_setup remote,
                                                      rtcsec_dtls_role *role);

#ifdef __cplusplus
}
#endif
#endif
