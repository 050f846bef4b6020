/* rtcsec-dtls --turns: the path through a TURN server over DTLS (RFC 7350,
 * docs/turns.md; the top of rtcsec-dtls.c says what it does): the server
 * authenticated, then Binding, Allocate and ChannelBind to the peer before
 * the handshake, and every datagram of the association through the relay.
 * See app.h for the other files.
 */
#include <stdio.h>
#include <string.h>

#include "app.h"

static void print_addr_line(const char *label, const struct sockaddr_storage *a, socklen_t len) {
  char text[ADDR_STRLEN];
  tool_addr_text(a, len, text, sizeof(text));
  printf("%s: %s\n", label, text);
  fflush(stdout);
}

static void on_turn_event(dtls_app *t, const rtcsec_event *ev) {
  const rtcsec_turn_info *ti = &ev->turn;
  switch (ev->type) {
  case RTCSEC_EVENT_CONNECTED:
    t->turn_connected = 1;
    if (!t->opt->quiet) {
      printf("turn server: connected, %s, %s\n", ev->connected.version, ev->connected.cipher);
      print_fingerprint("turn server fingerprint", &ev->connected.peer_fingerprint);
    }
    break;
  case RTCSEC_EVENT_FAILED:
    t->turn_failed = 1;
    snprintf(t->turn_why, sizeof(t->turn_why), "DTLS to the TURN server failed: %s (%s)",
             rtcsec_strerror(ev->failed.error), rtcsec_turn_error_detail(t->turn));
    break;
  case RTCSEC_EVENT_MAPPED_ADDRESS: /* from Binding, and again from Allocate */
    if (!t->turn_mapped) {
      print_addr_line("mapped address", &ti->addr, ti->addr_len);
    }
    t->turn_mapped = 1;
    break;
  case RTCSEC_EVENT_ALLOCATED:
    t->turn_allocated = 1;
    print_addr_line("relayed address", &ti->addr, ti->addr_len);
    break;
  case RTCSEC_EVENT_CHANNEL_BOUND:
    t->turn_bound = 1;
    printf("turn channel: 0x%04X\n", ti->channel);
    fflush(stdout);
    break;
  case RTCSEC_EVENT_TURN_ERROR:
    t->turn_error = 1;
    snprintf(t->turn_why, sizeof(t->turn_why), "TURN request 0x%03X failed: %s",
             (unsigned)ti->method, ti->reason[0] ? ti->reason : "no response");
    break;
  case RTCSEC_EVENT_RELAYED_DATA:
    /* only the peer's datagrams feed the association (RFC 8656 §11.4 already
     * kept out peers without permission) */
    if (tool_addr_equal(&ti->addr, &t->peer) && ti->len <= sizeof(t->buf)) {
      memcpy(t->buf, ti->data, ti->len);
      engine_input(t, ti->len);
    } else {
      t->ignored_datagrams++;
    }
    break;
  case RTCSEC_EVENT_CLOSED:
    t->turn_failed = 1;
    snprintf(t->turn_why, sizeof(t->turn_why), "the TURN server closed the DTLS association");
    break;
  default:
    break;
  }
}

/* Sends what the TURN client queued and handles its events. */
void flush_turn(dtls_app *t) {
  for (int round = 0; round < 64; round++) {
    size_t len = 0;
    while (rtcsec_turn_poll_datagram(t->turn, t->turn_buf, sizeof(t->turn_buf), &len) == 0 &&
           len > 0) {
      (void)send(t->fd, t->turn_buf, len, 0); /* lost ones are retransmitted */
    }
    rtcsec_event ev;
    if (rtcsec_turn_poll_event(t->turn, &ev) != 0 || ev.type == RTCSEC_EVENT_NONE) {
      return;
    }
    on_turn_event(t, &ev);
  }
}

/* Before the handshake with the peer: the TURN server authenticated, our
 * reflexive address, an allocation and a channel to the peer. Returns 0
 * when the path is ready (or --turn-only is satisfied), else 1. */
int run_turn(dtls_app *t) {
  const dtls_options *opt = t->opt;
  uint64_t now = tool_now_us();
  if (rtcsec_turn_start(t->turn, now) != 0 || rtcsec_turn_binding(t->turn, now) != 0 ||
      (opt->turn_user != NULL && rtcsec_turn_allocate(t->turn, now) != 0)) {
    return handshake_fail(RTCSEC_ERR_INVALID_STATE, "the TURN client refused to start");
  }
  flush_turn(t);
  int asked_channel = 0;
  for (;;) {
    now = tool_now_us();
    if (t->turn_failed || t->turn_error) {
      fprintf(stderr, PROG ": turn failed: %s\n", t->turn_why);
      return 1;
    }
    if (opt->turn_only == TURN_ONLY_BINDING && t->turn_mapped) {
      return 0;
    }
    if (t->turn_allocated && t->turn_mapped) {
      if (opt->turn_only == TURN_ONLY_ALLOCATION || t->turn_bound) {
        return 0;
      }
      if (!asked_channel) {
        /* the channel also installs the permission (RFC 8656 §12) */
        if (rtcsec_turn_bind_channel(t->turn, (const struct sockaddr *)&t->peer, t->peer_len,
                                     now) != 0) {
          return handshake_fail(RTCSEC_ERR_INVALID_STATE, "the TURN client refused ChannelBind");
        }
        asked_channel = 1;
        flush_turn(t);
        continue;
      }
    }
    if (now >= t->deadline) {
      fprintf(stderr, PROG ": turn failed: %s in %u s\n",
              !t->turn_connected   ? "no DTLS association with the TURN server"
              : !t->turn_mapped    ? "no Binding answer"
              : !t->turn_allocated ? "no allocation"
                                   : "no channel",
              opt->timeout_s);
      return 1;
    }
    io_step(t, t->deadline);
  }
}
