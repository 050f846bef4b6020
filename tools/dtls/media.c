/* rtcsec-dtls --send-rtp: the media phase (both peers run it).
 *
 * Each side sends N RTP packets from its own SSRC with a payload derived
 * from (SSRC, sequence number), and an RTCP sender report after every
 * 50th; the receiver unprotects and checks every packet. Three DTLS
 * application-data messages frame it, each resent until the peer shows it
 * arrived (UDP may lose them):
 *   "ready"          I am connected (keys installed): send me media;
 *   "done RTP RTCP"  I have sent that many packets, nothing more follows;
 *   "ack"            your "done" arrived.
 * A side starts sending once the peer is ready, so that no packet reaches
 * a peer that has no keys yet, and ends once its "done" is acknowledged and
 * it has the peer's count and every packet the peer sent (or a bounded
 * drain has passed). See app.h for the other files.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "app.h"

/* ---- media phase: packets ----------------------------------------------- */

/* Payload octet i of the packet (ssrc, seq): the receiver recomputes it. */
static uint8_t payload_octet(uint32_t ssrc, uint16_t seq, size_t i) {
  uint32_t h = (ssrc ^ ((uint32_t)seq << 16 | seq)) * 2654435761u + (uint32_t)i * 40503u;
  return (uint8_t)(h >> 24);
}

/* RTP packet number idx (RFC 3550 §5.1): V=2, no CSRC, no extension, the
 * marker on the first, sequence numbers from FIRST_SEQ (so that a call of
 * more than 1000 packets crosses the 16-bit wrap and the ROC moves). */
static size_t build_rtp(uint8_t *p, uint32_t ssrc, uint64_t idx) {
  uint16_t seq = (uint16_t)(FIRST_SEQ + idx);
  p[0] = 0x80;
  p[1] = (uint8_t)(RTP_PT | (idx == 0 ? 0x80 : 0));
  tool_put_be16(p + 2, seq);
  tool_put_be32(p + 4, (uint32_t)(idx * RTP_CLOCK_STEP));
  tool_put_be32(p + 8, ssrc);
  for (size_t i = 0; i < RTP_PAYLOAD_LEN; i++) {
    p[12 + i] = payload_octet(ssrc, seq, i);
  }
  return RTP_LEN;
}

/* RTCP sender report without report blocks (RFC 3550 §6.4.1). */
static size_t build_sr(uint8_t *p, const media_state *m) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  uint64_t ntp_sec = (uint64_t)ts.tv_sec + 2208988800u; /* 1900 -> 1970 */
  uint64_t ntp_frac = ((uint64_t)ts.tv_nsec << 32) / 1000000000u;
  p[0] = 0x80; /* V=2, RC=0 */
  p[1] = 200;  /* SR */
  tool_put_be16(p + 2, SR_LEN / 4 - 1);
  tool_put_be32(p + 4, m->local_ssrc);
  tool_put_be32(p + 8, (uint32_t)ntp_sec);
  tool_put_be32(p + 12, (uint32_t)ntp_frac);
  tool_put_be32(p + 16, (uint32_t)(m->rtp_protected * RTP_CLOCK_STEP));
  tool_put_be32(p + 20, (uint32_t)m->rtp_sent);
  tool_put_be32(p + 24, (uint32_t)m->rtp_octets);
  return SR_LEN;
}

/* A plaintext RTP packet from the peer: SSRC, length, payload and place in
 * the sequence are checked; each packet index may be verified once. */
void media_on_rtp(dtls_app *t, const uint8_t *p, size_t len) {
  media_state *m = &t->m;
  m->rtp_received++;
  if (len != RTP_LEN || (p[0] & 0x3f) != 0 || (p[1] & 0x7f) != RTP_PT ||
      tool_get_be32(p + 8) != m->peer_ssrc) {
    m->rtp_bad++;
    return;
  }
  uint16_t seq = tool_get_be16(p + 2);
  for (size_t i = 0; i < RTP_PAYLOAD_LEN; i++) {
    if (p[12 + i] != payload_octet(m->peer_ssrc, seq, i)) {
      m->rtp_bad++;
      return;
    }
  }
  /* The packet index, unwrapped from 16 bits next to the highest so far
   * (RFC 3550 §A.1 in spirit): a step of more than +-32767 is a jump the
   * sender never makes. */
  uint64_t base = m->have_index ? m->highest_index : 0;
  int16_t delta = (int16_t)(uint16_t)(seq - (uint16_t)(FIRST_SEQ + base));
  int64_t idx = (int64_t)base + delta;
  if (idx < 0 || idx >= MAX_SEND_RTP) {
    m->rtp_bad++;
    return;
  }
  uint64_t u = (uint64_t)idx;
  if (m->seen[u / 8] & (1u << (u % 8))) {
    m->rtp_duplicates++;
    return;
  }
  m->seen[u / 8] |= (uint8_t)(1u << (u % 8));
  if (!m->have_index || u > m->highest_index) {
    m->highest_index = u;
    m->have_index = 1;
  } else {
    m->rtp_out_of_order++;
  }
  m->rtp_verified++;
  m->peer_ready = 1; /* it sends, so it has keys */
}

void media_on_rtcp(dtls_app *t, const uint8_t *p, size_t len) {
  media_state *m = &t->m;
  m->rtcp_received++;
  if (len != SR_LEN || p[1] != 200 || tool_get_be32(p + 4) != m->peer_ssrc ||
      tool_get_be32(p + 20) % SR_EVERY != 0) {
    m->rtcp_bad++;
  }
}

/* ---- media phase: the control messages ---------------------------------- */

static void send_control(dtls_app *t, const char *msg, uint64_t now) {
  /* Lost on the way is fine: "ready" and "done" are resent until answered,
   * "ack" answers every "done". */
  (void)rtcsec_transport_send_data(t->tr, (const uint8_t *)msg, strlen(msg), now);
  drain(t);
}

/* Parses "done RTP RTCP": two decimal numbers up to MAX_SEND_RTP. */
static int parse_done(const char *s, uint64_t *rtp, uint64_t *rtcp) {
  unsigned long long a = 0, b = 0;
  int used = 0;
  if (sscanf(s, "done %llu %llu%n", &a, &b, &used) != 2 || s[used] != '\0' || a > MAX_SEND_RTP ||
      b > MAX_SEND_RTP) {
    return -1;
  }
  *rtp = a;
  *rtcp = b;
  return 0;
}

void media_on_data(dtls_app *t, const uint8_t *data, size_t len, uint64_t now) {
  media_state *m = &t->m;
  char msg[64];
  if (len == 0 || len >= sizeof(msg)) {
    m->data_unknown++;
    return;
  }
  memcpy(msg, data, len);
  msg[len] = '\0';
  if (strcmp(msg, "ready") == 0) {
    m->peer_ready = 1;
  } else if (strcmp(msg, "ack") == 0) {
    m->done_acked = 1;
  } else if (parse_done(msg, &m->peer_rtp, &m->peer_rtcp) == 0) {
    if (!m->got_done) {
      m->got_done = 1;
      m->done_at = now;
    }
    m->peer_ready = 1;
    /* Answered where the event is handled (drain() flushes it after). */
    (void)rtcsec_transport_send_data(t->tr, (const uint8_t *)"ack", 3, now);
  } else {
    m->data_unknown++;
  }
}

/* ---- media phase: sending ------------------------------------------------ */

/* Hands the pending packet to the kernel. 1: gone (or given up), 0: the
 * socket is full, try again when it is writable. */
static int send_pending(dtls_app *t) {
  media_state *m = &t->m;
  ssize_t n = send_to_peer(t, m->pending, m->pending_len);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS || errno == EINTR)) {
    return 0;
  }
  if (n < 0) {
    m->send_errors++; /* e.g. ECONNREFUSED: the peer is gone */
  } else if (m->pending_rtcp) {
    m->rtcp_sent++;
  } else {
    m->rtp_sent++;
    m->rtp_octets += RTP_PAYLOAD_LEN;
  }
  m->pending_len = 0;
  return 1;
}

/* Protects the next packet (an SR if one is due, else the next RTP packet)
 * into m->pending. Returns 0, or the protect error. */
static int protect_next(dtls_app *t) {
  media_state *m = &t->m;
  size_t len, out = 0;
  int rc;
  if (m->sr_due) {
    len = build_sr(m->pending, m);
    rc = rtcsec_transport_protect_rtcp(t->tr, m->pending, len, sizeof(m->pending), &out,
                                       tool_now_us());
    m->sr_due = 0;
    m->pending_rtcp = 1;
  } else {
    len = build_rtp(m->pending, m->local_ssrc, m->rtp_protected);
    rc = rtcsec_transport_protect_rtp(t->tr, m->pending, len, sizeof(m->pending), &out,
                                      tool_now_us());
    m->rtp_protected++;
    m->sr_due = m->rtp_protected % SR_EVERY == 0;
    m->pending_rtcp = 0;
  }
  m->pending_len = rc == 0 ? out : 0;
  return rc;
}

/* When RTP packet idx is due on the caller's clock. */
static uint64_t due_time(const dtls_app *t, uint64_t idx) {
  if (t->opt->rate == 0) {
    return t->m.send_start;
  }
  return t->m.send_start + idx * 1000000u / t->opt->rate;
}

/* Sends what is due now (at --rate 0: a batch). Returns 0, or a protect
 * error (fatal: e.g. the key is used up). */
static int send_due(dtls_app *t, uint64_t now) {
  media_state *m = &t->m;
  for (int batch = 0; batch < SEND_BATCH; batch++) {
    if (m->pending_len > 0 && !send_pending(t)) {
      return 0; /* socket full: wait for POLLOUT */
    }
    if (!m->sr_due && m->rtp_protected == t->opt->send_rtp) {
      m->sent_all = 1;
      return 0;
    }
    if (!m->sr_due && due_time(t, m->rtp_protected) > now) {
      return 0;
    }
    int rc = protect_next(t);
    if (rc != 0) {
      return rc;
    }
  }
  return 0;
}

/* ---- media phase: the loop ------------------------------------------------ */

/* Every packet the peer said it sent arrived, once, intact. */
static int media_complete(const media_state *m) {
  return m->got_done && m->rtp_verified == m->peer_rtp && m->rtcp_received == m->peer_rtcp &&
         m->rtp_bad == 0 && m->rtcp_bad == 0 && m->rtp_duplicates == 0;
}

/* Runs the media exchange; returns 0 when it ended as planned (whether or
 * not everything arrived: media_report() judges), else a reason in why. */
static int media_loop(dtls_app *t, char *why, size_t why_cap) {
  media_state *m = &t->m;
  const dtls_options *opt = t->opt;
  uint64_t now = tool_now_us();
  uint64_t planned = opt->rate ? opt->send_rtp * 1000000u / opt->rate : 0;
  m->deadline = now + planned + (uint64_t)opt->timeout_s * 1000000u;
  send_control(t, "ready", now);
  m->next_ready = now + RESEND_US;
  for (;;) {
    now = tool_now_us();
    if (t->failed) {
      snprintf(why, why_cap, "association failed: %s", rtcsec_strerror(t->error));
      return -1;
    }
    if (!m->peer_ready && t->peer_closed) {
      snprintf(why, why_cap, "the peer closed without a media phase (did it get --send-rtp?)");
      return -1;
    }
    if (now >= m->deadline) {
      snprintf(why, why_cap, "timed out (%s)",
               !m->peer_ready ? "the peer never said it was ready"
               : !m->sent_all ? "still sending"
               : !m->got_done ? "no count from the peer"
                              : "the peer never acknowledged our count");
      return -1;
    }
    if (!m->peer_ready && now >= m->next_ready) {
      send_control(t, "ready", now);
      m->next_ready = now + RESEND_US;
    }
    if (m->peer_ready && !m->sent_all) {
      if (m->send_start == 0) {
        m->send_start = now;
      }
      int rc = send_due(t, now);
      if (rc != 0) {
        snprintf(why, why_cap, "cannot protect: %s", rtcsec_strerror(rc));
        return -1;
      }
      if (m->sent_all) {
        m->next_done = now; /* announce at once */
      }
    }
    if (m->sent_all && !m->done_acked && !t->peer_closed && now >= m->next_done) {
      char msg[64];
      snprintf(msg, sizeof(msg), "done %llu %llu", (unsigned long long)m->rtp_sent,
               (unsigned long long)m->rtcp_sent);
      send_control(t, msg, now);
      m->next_done = now + RESEND_US;
    }
    int sent_ok = m->sent_all && (m->done_acked || t->peer_closed);
    int recv_ok =
        m->got_done && (media_complete(m) || t->peer_closed || now >= m->done_at + DRAIN_US);
    if (sent_ok && recv_ok) {
      return 0;
    }
    if (t->peer_closed && !m->got_done) {
      snprintf(why, why_cap, "the peer closed before saying how much it sent");
      return -1;
    }
    /* Sleep until the next thing to do. */
    uint64_t wake = m->deadline;
    if (!m->peer_ready) {
      wake = min_u64(wake, m->next_ready);
    }
    int want_write = m->pending_len > 0;
    if (m->peer_ready && !m->sent_all && !want_write) {
      wake = min_u64(wake, m->sr_due ? now : due_time(t, m->rtp_protected));
    }
    if (m->sent_all && !m->done_acked && !t->peer_closed) {
      wake = min_u64(wake, m->next_done);
    }
    if (m->got_done && !media_complete(m)) {
      wake = min_u64(wake, m->done_at + DRAIN_US);
    }
    io_wait(t, wake, want_write);
  }
}

/* Prints the counters; returns 0 if every packet the peer sent arrived and
 * verified and nothing was refused. */
static int media_report(dtls_app *t, int loop_rc, const char *why) {
  media_state *m = &t->m;
  rtcsec_transport_stats st;
  memset(&st, 0, sizeof(st));
  rtcsec_transport_get_stats(t->tr, &st);
  const rtcsec_srtp_direction_stats *in = &st.srtp.inbound;
  uint64_t drops = st.drop_unknown + st.drop_zrtp + st.drop_turn_channel + st.drop_no_keys +
                   st.drop_closed + in->too_old_drops + in->malformed + in->ssrc_limit_drops +
                   in->key_limit_refusals + in->other_errors + m->stun_ignored;
  printf("rtp sent: %llu, rtp received: %llu, verified: %llu, rtcp sent: %llu, rtcp received: "
         "%llu, auth failures: %llu, replays: %llu, drops: %llu\n",
         (unsigned long long)m->rtp_sent, (unsigned long long)m->rtp_received,
         (unsigned long long)m->rtp_verified, (unsigned long long)m->rtcp_sent,
         (unsigned long long)m->rtcp_received, (unsigned long long)in->auth_failures,
         (unsigned long long)in->replay_drops, (unsigned long long)drops);
  if (m->got_done) {
    printf("peer sent: %llu rtp, %llu rtcp\n", (unsigned long long)m->peer_rtp,
           (unsigned long long)m->peer_rtcp);
  } else {
    printf("peer sent: unknown\n");
  }
  uint64_t missing =
      m->got_done && m->peer_rtp > m->rtp_verified ? m->peer_rtp - m->rtp_verified : 0;
  printf("missing: %llu, duplicates: %llu, bad: %llu, out of order: %llu\n",
         (unsigned long long)missing, (unsigned long long)m->rtp_duplicates,
         (unsigned long long)(m->rtp_bad + m->rtcp_bad), (unsigned long long)m->rtp_out_of_order);
  char reason[200];
  reason[0] = '\0';
  if (loop_rc != 0) {
    snprintf(reason, sizeof(reason), "%s", why);
  } else if (m->rtp_sent != t->opt->send_rtp || m->send_errors != 0) {
    snprintf(reason, sizeof(reason), "sent %llu of %lu RTP packets",
             (unsigned long long)m->rtp_sent, t->opt->send_rtp);
  } else if (!media_complete(m)) {
    snprintf(reason, sizeof(reason), "not every packet the peer sent was received and verified");
  } else if (in->auth_failures + in->replay_drops + drops != 0) {
    snprintf(reason, sizeof(reason), "packets were refused");
  }
  if (reason[0] != '\0') {
    printf("media: failed\n");
    fflush(stdout);
    fprintf(stderr, PROG ": media failed: %s\n", reason);
    return 1;
  }
  printf("media: verified\n");
  fflush(stdout);
  return 0;
}

int run_media(dtls_app *t) {
  media_state *m = &t->m;
  int client = t->opt->role == RTCSEC_DTLS_CLIENT;
  m->local_ssrc = client ? SSRC_CLIENT : SSRC_SERVER;
  m->peer_ssrc = client ? SSRC_SERVER : SSRC_CLIENT;
  if (!t->opt->quiet) {
    printf("sending: %lu RTP packets as ssrc 0x%08X at %lu/s, expecting ssrc 0x%08X\n",
           t->opt->send_rtp, m->local_ssrc, t->opt->rate, m->peer_ssrc);
    fflush(stdout);
  }
  char why[200] = "";
  int rc = media_loop(t, why, sizeof(why));
  return media_report(t, rc, why);
}
