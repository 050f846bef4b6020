/* rtcsec-dtls: the handshake phase, why it ended without connecting, and
 * what was negotiated (see app.h). */
#include <stdio.h>
#include <string.h>

#include "app.h"

/* Reports a failure in the one-line format scripts rely on; returns 1. */
int handshake_fail(int code, const char *detail) {
  fprintf(stderr, PROG ": handshake failed: %s (%s)\n", rtcsec_strerror(code), detail);
  return 1;
}

void print_fingerprint(const char *label, const rtcsec_fingerprint *fp) {
  char s[RTCSEC_FINGERPRINT_STRLEN];
  if (rtcsec_fingerprint_format(fp, s, sizeof(s), NULL) == 0) {
    printf("%s: %s\n", label, s);
  }
}

static void print_hex_line(const char *label, const uint8_t *p, size_t n) {
  printf("%s: ", label);
  for (size_t i = 0; i < n; i++) {
    printf("%02X", p[i]);
  }
  putchar('\n');
}

/* Why a handshake ran out of time, from what we saw. */
static void describe_timeout(const dtls_app *t, char *buf, size_t cap) {
  rtcsec_dtls_stats st;
  engine_dtls_stats(t, &st);
  unsigned s = t->opt->timeout_s;
  if (!t->have_peer) {
    char ignored[80];
    listener_format_ignored(t, ignored, sizeof(ignored));
    snprintf(buf, cap, "no valid ClientHello in %u s; ignored datagrams: %s", s, ignored);
  } else if (st.awaiting_fingerprint) {
    snprintf(buf, cap, "waited %u s for a --fingerprint to verify the peer with", s);
  } else if (st.datagrams_received == 0) {
    snprintf(buf, cap, "no answer in %u s, %llu retransmissions", s,
             (unsigned long long)st.retransmissions);
  } else if (st.unauthenticated_alerts > 0) {
    /* The peer (or someone) sent a plaintext alert; the association did
     * not act on it, since it is not authenticated, but it is the likely
     * reason: name it. */
    snprintf(buf, cap,
             "not finished in %u s, %llu datagrams received, %llu retransmissions; "
             "unauthenticated alert received: %s",
             s, (unsigned long long)st.datagrams_received, (unsigned long long)st.retransmissions,
             rtcsec_dtls_alert_name(st.last_unauthenticated_alert));
  } else {
    snprintf(buf, cap, "not finished in %u s, %llu datagrams received, %llu retransmissions%s", s,
             (unsigned long long)st.datagrams_received, (unsigned long long)st.retransmissions,
             /* RFC 4279: a Finished under another key is dropped like any
              * forged record, so a wrong key looks like silence */
             t->opt->psk_len > 0 ? "; with a pre-shared key this is what a different key on "
                                   "the other side looks like"
                                 : "");
  }
}

/* Why the handshake in progress ended without connecting. Returns the
 * error code; the detail goes to buf. */
static int handshake_failure(const dtls_app *t, char *buf, size_t cap) {
  if (t->peer_closed && !t->failed) {
    snprintf(buf, cap, "peer closed during the handshake");
    return RTCSEC_ERR_CLOSED;
  }
  if (!t->failed) {
    describe_timeout(t, buf, cap);
    return RTCSEC_ERR_HANDSHAKE_TIMEOUT;
  }
  const char *d = engine_error_detail(t);
  if (t->alert >= 0) {
    snprintf(buf, cap, "%s%salert %s %s", d, d[0] != '\0' ? "; " : "",
             rtcsec_dtls_alert_name(t->alert), t->alert_from_peer ? "from peer" : "sent");
  } else {
    snprintf(buf, cap, "%s", d[0] != '\0' ? d : "no detail");
  }
  return t->error;
}

int run_handshake(dtls_app *t) {
  int listener = t->opt->role == RTCSEC_DTLS_SERVER;
  /* A server starts with the first datagram, so that its handshake time and
   * timeout count from the peer's first contact, not from our launch. */
  if (!listener) {
    int rc = engine_start(t, tool_now_us());
    if (rc != 0) {
      return handshake_fail(rc, engine_error_detail(t));
    }
    drain(t);
  }
  char detail[320];
  for (;;) {
    uint64_t now = tool_now_us();
    if (t->connected || now >= t->deadline) {
      break;
    }
    uint64_t until = t->deadline;
    if (listener && t->have_peer) {
      int ended = t->failed || t->peer_closed;
      rtcsec_dtls_stats st;
      engine_dtls_stats(t, &st);
      uint64_t idle = st.unauthenticated_alerts > 0 ? HANDSHAKE_ALERTED_IDLE_US : HANDSHAKE_IDLE_US;
      if (ended || now - t->peer_last_rx >= idle) {
        int code = RTCSEC_ERR_HANDSHAKE_TIMEOUT;
        if (ended) {
          code = handshake_failure(t, detail, sizeof(detail));
        } else if (st.unauthenticated_alerts > 0) {
          snprintf(detail, sizeof(detail),
                   "the peer sent the alert %s (unauthenticated) and then nothing for %u s",
                   rtcsec_dtls_alert_name(st.last_unauthenticated_alert),
                   (unsigned)(idle / 1000000u));
        } else {
          snprintf(detail, sizeof(detail), "the peer sent nothing for %u s",
                   HANDSHAKE_IDLE_US / 1000000u);
        }
        if (listener_drop_peer(t, code, detail) != 0) {
          return 1;
        }
        continue;
      }
      until = min_u64(until, t->peer_last_rx + idle);
    } else if (!listener && (t->failed || t->peer_closed)) {
      break;
    }
    io_step(t, until);
  }
  if (t->connected) {
    /* From now on the kernel drops everyone else, and reports ICMP errors. */
    if (listener && connect(t->fd, (const struct sockaddr *)&t->peer, t->peer_len) == 0) {
      t->socket_connected = 1;
    }
    return 0;
  }
  int code = handshake_failure(t, detail, sizeof(detail));
  if (listener && !t->have_peer && t->failed_handshakes > 0) {
    /* The last handshake that got anywhere says most about what went wrong. */
    char last[sizeof(t->last_failed) + 64];
    snprintf(last, sizeof(last), "%s; then no other handshake completed in %u s", t->last_failed,
             t->opt->timeout_s);
    return handshake_fail(t->last_failed_code, last);
  }
  return handshake_fail(code, detail);
}

/* ---- what was negotiated ------------------------------------------------- */

void report_connected(dtls_app *t) {
  const dtls_options *opt = t->opt;
  const rtcsec_connected_info *ci = &t->info;
  if (!opt->quiet) {
    rtcsec_dtls_stats st;
    engine_dtls_stats(t, &st);
    printf("connected\n");
    printf("profile: %s\n", rtcsec_srtp_profile_name(ci->profile));
    printf("version: %s\n", ci->version != NULL ? ci->version : "?");
    printf("cipher: %s\n", ci->cipher != NULL ? ci->cipher : "?");
    printf("group: %s\n", ci->group != NULL && ci->group[0] ? ci->group : "?");
    if (ci->peer_fingerprint.len > 0) {
      print_fingerprint("peer fingerprint", &ci->peer_fingerprint);
    } else {
      printf("peer: authenticated by the pre-shared key\n");
    }
    printf("role: %s\n", opt->role == RTCSEC_DTLS_CLIENT ? "client" : "server");
    printf("handshake: %llu ms, %llu retransmissions\n",
           (unsigned long long)(st.handshake_us / 1000), (unsigned long long)st.retransmissions);
  }
  if (opt->export_keying_material) {
    if (!opt->quiet) {
      fprintf(stderr, PROG ": warning: the keying material printed on stdout is secret: it "
                           "decrypts all media of this session\n");
    }
    if (opt->no_srtp) {
      print_hex_line("keying material", t->keymat, t->keymat_len);
    } else {
      print_hex_line("keying material", t->keys.material, t->keys.material_len);
    }
  }
  fflush(stdout);
}
