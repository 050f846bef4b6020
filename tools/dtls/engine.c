/* rtcsec-dtls: the engine (an rtcsec_transport, or the bare rtcsec_dtls for
 * --export-keying-material and --no-srtp) and the poll() loop that drives
 * it in every phase (see app.h). */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <string.h>

#include "app.h"

/* The calls the I/O loop makes, on whichever object this run drives. The
 * transport's DTLS half behaves as the bare association does. */

int engine_start(dtls_app *t, uint64_t now) {
  return t->tr != NULL ? rtcsec_transport_start(t->tr, now) : rtcsec_dtls_start(t->dtls, now);
}

static uint64_t engine_deadline(const dtls_app *t) {
  return t->tr != NULL ? rtcsec_transport_deadline(t->tr) : rtcsec_dtls_deadline(t->dtls);
}

static void engine_timeout(dtls_app *t, uint64_t now) {
  if (t->tr != NULL) {
    rtcsec_transport_handle_timeout(t->tr, now);
  } else {
    rtcsec_dtls_handle_timeout(t->dtls, now);
  }
}

static int engine_poll_datagram(dtls_app *t, uint8_t *buf, size_t cap, size_t *len) {
  return t->tr != NULL ? rtcsec_transport_poll_datagram(t->tr, buf, cap, len)
                       : rtcsec_dtls_poll_datagram(t->dtls, buf, cap, len);
}

int engine_close(dtls_app *t, uint64_t now) {
  return t->tr != NULL ? rtcsec_transport_close(t->tr, now) : rtcsec_dtls_close(t->dtls, now);
}

void engine_dtls_stats(const dtls_app *t, rtcsec_dtls_stats *st) {
  memset(st, 0, sizeof(*st));
  if (t->tr != NULL) {
    rtcsec_transport_stats ts;
    if (rtcsec_transport_get_stats(t->tr, &ts) == 0) {
      *st = ts.dtls;
    }
  } else {
    rtcsec_dtls_get_stats(t->dtls, st);
  }
}

const char *engine_error_detail(const dtls_app *t) {
  return t->dtls != NULL ? rtcsec_dtls_error_detail(t->dtls) : "";
}

/* ---- the I/O loop shared by all phases ---------------------------------- */

ssize_t send_to_peer(dtls_app *t, const uint8_t *buf, size_t len) {
  if (t->turn != NULL) {
    /* through the relay: ChannelData once bound (it is before the
     * handshake starts), else a Send indication */
    int rc = rtcsec_turn_send(t->turn, (const struct sockaddr *)&t->peer, t->peer_len, buf, len,
                              tool_now_us());
    flush_turn(t);
    if (rc != 0) {
      errno = EIO;
      return -1;
    }
    return (ssize_t)len;
  }
  if (t->socket_connected) {
    return send(t->fd, buf, len, 0);
  }
  return sendto(t->fd, buf, len, 0, (const struct sockaddr *)&t->peer, t->peer_len);
}

/* Sends every queued datagram. Send errors are not fatal: DTLS retransmits. */
static void flush_datagrams(dtls_app *t) {
  for (;;) {
    size_t len = 0;
    int rc = engine_poll_datagram(t, t->buf, sizeof(t->buf), &len);
    if (rc != 0 || len == 0) {
      return;
    }
    if (!t->have_peer) {
      continue; /* a server cannot answer before it has heard from a peer */
    }
    /* ECONNREFUSED (an ICMP error for an earlier datagram) and a full buffer
     * are both cured by retransmission. */
    (void)send_to_peer(t, t->buf, len);
  }
}

/* What the engine reports. The transport and the bare association report
 * the same events; only what follows CONNECTED and DATA differs. */
static void on_event(dtls_app *t, const rtcsec_event *ev) {
  switch (ev->type) {
  case RTCSEC_EVENT_CONNECTED:
    /* What was negotiated; the transport's keys stay inside it. */
    t->connected = 1;
    t->info = ev->connected;
    if (t->dtls == NULL)
      break;
    /* the advanced path: the bare association hands its keys out */
    if (rtcsec_dtls_export_srtp_keys(t->dtls, &t->keys) != RTCSEC_OK)
      t->keys.material_len = 0;
    /* plain DTLS: RFC 5705 material for another protocol on top */
    if (t->opt->no_srtp && t->opt->export_keying_material &&
        rtcsec_dtls_export_keying_material(t->dtls, t->opt->export_label, t->keymat,
                                           t->opt->export_len) == RTCSEC_OK)
      t->keymat_len = t->opt->export_len;
    break;
  case RTCSEC_EVENT_FAILED:
    t->failed = 1;
    t->error = ev->failed.error;
    t->alert = ev->failed.alert;
    t->alert_from_peer = ev->failed.alert_from_peer;
    break;
  case RTCSEC_EVENT_CLOSED:
    t->peer_closed = 1;
    break;
  case RTCSEC_EVENT_DATA:
    /* the transport's: the media phase's control messages; the bare
     * association's: plain DTLS, the data phase */
    if (t->tr != NULL)
      media_on_data(t, ev->data.data, ev->data.len, tool_now_us());
    else
      data_on_record(t, ev->data.data, ev->data.len, tool_now_us());
    break;
  case RTCSEC_EVENT_NONE:
  default:
    break;
  }
}

static int engine_poll_event(dtls_app *t, rtcsec_event *ev) {
  memset(ev, 0, sizeof(*ev));
  return t->tr != NULL ? rtcsec_transport_poll_event(t->tr, ev)
                       : rtcsec_dtls_poll_event(t->dtls, ev);
}

void drain(dtls_app *t) {
  flush_datagrams(t);
  for (;;) {
    rtcsec_event ev;
    if (engine_poll_event(t, &ev) != 0 || ev.type == RTCSEC_EVENT_NONE) {
      break;
    }
    on_event(t, &ev);
    /* An answer to DATA ("ack") may have been queued: send it in order. */
    flush_datagrams(t);
  }
  /* A failure queues its alert after the event: send that too. */
  flush_datagrams(t);
}

/* One received datagram into the transport. Media comes back as plaintext;
 * what the transport refuses (forged, replayed, unknown, ...) it counts. */
static void handle_transport_datagram(dtls_app *t, size_t n, uint64_t now) {
  rtcsec_transport_input in;
  memset(&in, 0, sizeof(in));
  int rc = rtcsec_transport_handle_datagram(t->tr, t->buf, n, now, &in);
  if (rc != 0) {
    return;
  }
  switch (in.kind) {
  case RTCSEC_PKT_RTP:
    media_on_rtp(t, t->buf, in.len);
    break;
  case RTCSEC_PKT_RTCP:
    media_on_rtcp(t, t->buf, in.len);
    break;
  case RTCSEC_PKT_STUN: /* no ICE here */
    t->m.stun_ignored++;
    break;
  default:
    break;
  }
}

void engine_input(dtls_app *t, size_t n) {
  t->peer_last_rx = tool_now_us();
  if (t->tr != NULL) {
    handle_transport_datagram(t, n, tool_now_us());
  } else {
    rtcsec_dtls_handle_datagram(t->dtls, t->buf, n, tool_now_us());
  }
  drain(t);
}

static void read_datagrams(dtls_app *t) {
  for (;;) {
    struct sockaddr_storage from;
    socklen_t from_len = sizeof(from);
    uint8_t *into = t->turn != NULL ? t->turn_buf : t->buf;
    ssize_t n = recvfrom(t->fd, into, sizeof(t->buf), 0, (struct sockaddr *)&from, &from_len);
    if (n < 0) {
      /* EAGAIN: drained. ECONNREFUSED: the peer is not up yet; keep going. */
      if (errno == EINTR || errno == ECONNREFUSED) {
        continue;
      }
      return;
    }
    if (t->turn != NULL) {
      /* the connected socket hears the TURN server only */
      rtcsec_turn_handle_datagram(t->turn, t->turn_buf, (size_t)n, tool_now_us());
      flush_turn(t);
      continue;
    }
    if (!t->have_peer) {
      if (listener_accept_peer(t, &from, from_len, t->buf, (size_t)n) != 0) {
        listener_ignore(t, &from);
        continue;
      }
    } else if (!tool_addr_equal(&from, &t->peer)) {
      listener_ignore(t, &from); /* someone else, or queued before connect() */
      continue;
    }
    engine_input(t, (size_t)n);
  }
}

void io_wait(dtls_app *t, uint64_t until, int want_write) {
  uint64_t now = tool_now_us();
  uint64_t wake = engine_deadline(t);
  if (t->turn != NULL) {
    wake = min_u64(wake, rtcsec_turn_deadline(t->turn));
  }
  if (until < wake) {
    wake = until;
  }
  int wait_ms = 0;
  if (wake > now) {
    uint64_t ms = (wake - now + 999) / 1000; /* round up: never wake early */
    wait_ms = ms > INT_MAX ? INT_MAX : (int)ms;
  }
  struct pollfd pfd = {.fd = t->fd, .events = POLLIN, .revents = 0};
  if (want_write) {
    pfd.events |= POLLOUT;
  }
  int n = poll(&pfd, 1, wait_ms);
  if (n > 0 && (pfd.revents & (POLLIN | POLLERR)) != 0) {
    read_datagrams(t);
  }
  now = tool_now_us();
  if (now >= engine_deadline(t)) {
    engine_timeout(t, now);
    drain(t);
  }
  if (t->turn != NULL && now >= rtcsec_turn_deadline(t->turn)) {
    rtcsec_turn_handle_timeout(t->turn, now);
    flush_turn(t);
  }
}

void io_step(dtls_app *t, uint64_t until) { io_wait(t, until, 0); }
