/* rtcsec-dtls --listen: is this datagram the start of a DTLS handshake?
 *
 * A listener takes its peer from the first datagram that is a plausible
 * ClientHello, so that a scanner's or anyone's stray bytes cannot become
 * "the peer" (issue 11). This is a bounds-checked look at two headers, not
 * a parser of the ClientHello: OpenSSL parses it once the datagram is
 * handed to the association. The datagram must start with
 *   a DTLS record header (RFC 6347 §4.1): content type 22 (handshake),
 *     version DTLS 1.0 {254, 255} or 1.2 {254, 253} (a ClientHello's record
 *     may carry either, §4.1), epoch 0, a length that fits the datagram;
 *   a handshake header (§4.2.2) in that record: msg_type 1 (client_hello),
 *     the first fragment (offset 0) of a message at least as long as the
 *     smallest ClientHello, the fragment within the record and within the
 *     message;
 *   and, in the fragment, client_version DTLS 1.0 or 1.2 (DTLS 1.3 keeps
 *     {254, 253} there too, RFC 9147 §5.3).
 * Whatever follows the first record is not looked at.
 */
#ifndef RTCSEC_TOOLS_CLIENT_HELLO_H
#define RTCSEC_TOOLS_CLIENT_HELLO_H

#include <stddef.h>
#include <stdint.h>

typedef enum client_hello_verdict {
  CLIENT_HELLO_OK = 0,
  CLIENT_HELLO_SHORT,              /* shorter than the two headers and client_version */
  CLIENT_HELLO_NOT_HANDSHAKE,      /* content type is not 22 */
  CLIENT_HELLO_BAD_RECORD_VERSION, /* not DTLS 1.0 or 1.2 */
  CLIENT_HELLO_BAD_EPOCH,          /* not 0: a ClientHello is never protected */
  CLIENT_HELLO_BAD_RECORD_LENGTH,  /* past the datagram, or no room for the message */
  CLIENT_HELLO_NOT_CLIENT_HELLO,   /* handshake type is not 1 */
  CLIENT_HELLO_BAD_FRAGMENT,       /* not the first fragment, or past the record / message */
  CLIENT_HELLO_BAD_LENGTH,         /* the message is shorter than any ClientHello */
  CLIENT_HELLO_BAD_CLIENT_VERSION, /* client_version not DTLS 1.0 or 1.2 */
} client_hello_verdict;

/* The smallest ClientHello body (RFC 6347 §4.2.1 with RFC 5246 §7.4.1.2):
 * client_version 2, random 32, session_id length 1, cookie length 1,
 * cipher_suites length 2 + one suite 2, compression_methods length 1 +
 * one method 1. */
#define CLIENT_HELLO_MIN_BODY 42u

/* Checks the first record of a datagram; CLIENT_HELLO_OK or why not. Reads
 * nothing past data[len - 1]; data may be NULL when len is 0. */
client_hello_verdict client_hello_check(const uint8_t *data, size_t len);

/* "ok", "short", ...: for logs. */
const char *client_hello_verdict_name(client_hello_verdict v);

#endif
