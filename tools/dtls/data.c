/* rtcsec-dtls --no-srtp: the data phase of plain DTLS (docs/iot.md; what
 * each option does is at the top of rtcsec-dtls.c). The CoAP messages are
 * tools/coap.c's; this file sends, answers and retransmits them. See
 * app.h for the other files.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "app.h"
#include "coap.h"

/* "LABEL: TEXT" with bytes outside printable ASCII (and '\\') as \xNN. */
static void print_data_line(const char *label, const uint8_t *p, size_t n) {
  printf("%s: ", label);
  for (size_t i = 0; i < n; i++) {
    if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\') {
      putchar(p[i]);
    } else {
      printf("\\x%02X", p[i]);
    }
  }
  putchar('\n');
  fflush(stdout);
}

/* One record to the peer (copied first: the bytes may be an event's). */
static void data_send(dtls_app *t, const uint8_t *p, size_t n, uint64_t now) {
  uint8_t copy[DATA_MAX + 64];
  if (n > sizeof(copy)) {
    fprintf(stderr, PROG ": not sending %zu bytes: more than %zu\n", n, sizeof(copy));
    return;
  }
  memcpy(copy, p, n);
  int rc = rtcsec_dtls_send_data(t->dtls, copy, n, now);
  if (rc != 0) {
    fprintf(stderr, PROG ": cannot send %zu bytes: %s\n", n, rtcsec_strerror(rc));
  }
}

/* A CoAP message from the peer: the response to our GET (RFC 7252 §5.3.2:
 * matched by token; a separate response is acknowledged, §5.2.2), or a
 * confirmable request --coap-reply answers with a piggybacked 2.05
 * (§5.2.1). */
static void coap_on_message(dtls_app *t, const uint8_t *data, size_t len, uint64_t now) {
  const dtls_options *opt = t->opt;
  coap_msg m;
  if (coap_parse(data, len, &m) != 0) {
    printf("coap: malformed message\n");
    return;
  }
  int is_response = m.code >= 0x40;
  if (opt->coap_get != NULL && is_response && m.token_len == sizeof(t->coap_token) &&
      memcmp(m.token, t->coap_token, sizeof(t->coap_token)) == 0) {
    printf("coap response: %u.%02u\n", (unsigned)(m.code >> 5), (unsigned)(m.code & 0x1f));
    fflush(stdout);
    print_data_line("coap payload", m.payload, m.payload_len);
    t->data_done = 1;
    if (m.type == COAP_CON) {
      uint8_t ack[4] = {(uint8_t)(1u << 6 | COAP_ACK << 4), 0, (uint8_t)(m.message_id >> 8),
                        (uint8_t)m.message_id};
      data_send(t, ack, sizeof(ack), now);
    }
    return;
  }
  if (opt->coap_reply != NULL && !is_response && m.code != 0 && m.type == COAP_CON) {
    printf("coap request: %u.%02u /%s\n", (unsigned)(m.code >> 5), (unsigned)(m.code & 0x1f),
           m.uri_path);
    fflush(stdout);
    uint8_t out[DATA_MAX + 64];
    size_t n = coap_build_response(out, sizeof(out), &m, COAP_CONTENT,
                                   (const uint8_t *)opt->coap_reply, strlen(opt->coap_reply));
    if (n > 0) {
      data_send(t, out, n, now);
      t->data_answered++;
    }
  }
}

void data_on_record(dtls_app *t, const uint8_t *data, size_t len, uint64_t now) {
  const dtls_options *opt = t->opt;
  t->data_received++;
  t->data_idle = now + (uint64_t)opt->timeout_s * 1000000u;
  print_data_line("data", data, len);
  if (opt->coap_get != NULL || opt->coap_reply != NULL) {
    coap_on_message(t, data, len, now);
    return;
  }
  if (opt->send_given) {
    t->data_done = 1;
  }
  if (opt->echo) {
    data_send(t, data, len, now);
    t->data_answered++;
  }
}

/* Our CoAP GET, first or again (RFC 7252 §4.2: ACK_TIMEOUT doubling, at
 * most MAX_RETRANSMIT retransmissions). Returns 0 once they are used up. */
static int coap_send_request(dtls_app *t, uint64_t now) {
  if (t->coap_sent > COAP_MAX_RETRANSMIT) {
    return 0;
  }
  data_send(t, t->coap_req, t->coap_req_len, now);
  t->coap_next = now + ((uint64_t)COAP_ACK_TIMEOUT_US << t->coap_sent);
  t->coap_sent++;
  return 1;
}

int run_data(dtls_app *t) {
  const dtls_options *opt = t->opt;
  uint64_t now = tool_now_us();
  t->data_idle = now + (uint64_t)opt->timeout_s * 1000000u;
  if (opt->send_given) {
    data_send(t, opt->send_data, opt->send_len, now);
  }
  if (opt->coap_get != NULL) {
    uint8_t rnd[6];
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
      fprintf(stderr, PROG ": getrandom: %s\n", strerror(errno));
      return 1;
    }
    memcpy(t->coap_token, rnd, sizeof(t->coap_token));
    t->coap_mid = (uint16_t)(rnd[4] << 8 | rnd[5]);
    t->coap_req_len = coap_build_get(t->coap_req, sizeof(t->coap_req), t->coap_mid, t->coap_token,
                                     sizeof(t->coap_token), opt->coap_get);
    printf("coap request: GET /%s\n", opt->coap_get);
    coap_send_request(t, now);
  }
  drain(t);
  int asking = opt->send_given || opt->coap_get != NULL;
  int answering = opt->echo || opt->coap_reply != NULL;
  const char *why = NULL;
  for (;;) {
    now = tool_now_us();
    if (t->failed) {
      why = "the association failed";
      break;
    }
    if (asking && t->data_done && !answering) {
      break;
    }
    if (t->peer_closed || now >= t->data_idle) {
      break;
    }
    uint64_t wake = t->data_idle;
    if (opt->coap_get != NULL && !t->data_done) {
      if (now >= t->coap_next && !coap_send_request(t, now)) {
        why = "no CoAP response after the last retransmission";
        break;
      }
      drain(t);
      wake = min_u64(wake, t->coap_next);
    }
    io_step(t, wake);
  }
  printf("data records: %llu received, %llu answered\n", (unsigned long long)t->data_received,
         (unsigned long long)t->data_answered);
  fflush(stdout);
  if (why == NULL && asking && !t->data_done) {
    why = t->peer_closed ? "the peer closed without replying" : "no reply in time";
  }
  if (why == NULL && !asking && answering && t->data_answered == 0) {
    why = "no record to answer";
  }
  if (why != NULL) {
    fprintf(stderr, PROG ": data phase failed: %s\n", why);
    return 1;
  }
  return 0;
}
