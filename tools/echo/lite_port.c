/* rtcsec-echo --single-port: rtcsec_router + rtcsec_udp_mux on the GLib loop. See
 * lite_port.h. */
#include "lite_port.h"

#include <errno.h>
#include <glib.h>
#include <stdio.h>
#include <string.h>

#if defined(__linux__)

#include "rtcsec/udp_mux.h"

#define LITE_BATCH 32      /* datagrams per recvmmsg / sendmmsg */
#define LITE_MAX_BATCHES 8 /* per turn: then HTTP gets its turn too */
#define LITE_SOCK_BUF (1024 * 1024)

typedef struct lite_source {
  GSource base;
  echo_lite *lite;
} lite_source;

struct echo_lite {
  rtcsec_router *router;
  rtcsec_udp_mux *mux;
  echo_lite_callbacks cb;
  lite_source *source;
  int in_turn; /* inside rtcsec_udp_mux_run_once(): sends wait for its flush */
  echo_lite_stats stats;
};

uint64_t echo_lite_now(void) { return rtcsec_udp_mux_now(); }

/* The source wakes at the router's deadline. GLib's ready time is on
 * g_get_monotonic_time()'s clock; the router's is rtcsec_udp_mux_now(). Both are
 * CLOCK_MONOTONIC on Linux, but the distance is carried over rather than
 * the value, so nothing depends on that. */
static void rearm(echo_lite *l) {
  uint64_t deadline = rtcsec_router_deadline(l->router);
  if (deadline == UINT64_MAX) {
    g_source_set_ready_time(&l->source->base, -1);
    return;
  }
  uint64_t now = rtcsec_udp_mux_now();
  gint64 gnow = g_get_monotonic_time();
  uint64_t left = deadline > now ? deadline - now : 0;
  if (left > (uint64_t)G_MAXINT64 / 2)
    left = (uint64_t)G_MAXINT64 / 2;
  g_source_set_ready_time(&l->source->base, gnow + (gint64)left);
}

/* After a change made outside a turn: send what the router queued, hand
 * its events over, re-arm. rtcsec_udp_mux_run_once(m, 0, 0) does exactly that
 * without receiving (the readable socket is the source's business). */
static void settle(echo_lite *l) {
  if (l->in_turn)
    return;
  l->in_turn = 1;
  rtcsec_udp_mux_run_once(l->mux, 0, 0);
  l->stats.turns++;
  l->in_turn = 0;
  rearm(l);
}

static gboolean lite_dispatch(GSource *src, GSourceFunc callback, gpointer user) {
  (void)callback, (void)user;
  echo_lite *l = ((lite_source *)src)->lite;
  l->in_turn = 1;
  int n = rtcsec_udp_mux_run_once(l->mux, 0, LITE_MAX_BATCHES);
  l->in_turn = 0;
  l->stats.turns++;
  if (n < 0) {
    l->stats.socket_errors++;
    l->stats.last_socket_error = -n;
  }
  rearm(l);
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs lite_source_funcs = {
    .dispatch = lite_dispatch,
};

static void mux_media(void *user, rtcsec_udp_mux *m, const rtcsec_router_input *in, uint8_t *buf,
                      uint64_t now) {
  (void)m, (void)now;
  echo_lite *l = user;
  if (l->cb.on_media)
    l->cb.on_media(l->cb.user, in->session, in->kind, buf, in->len);
}

static void mux_event(void *user, rtcsec_udp_mux *m, const rtcsec_event *ev, uint64_t now) {
  (void)m, (void)now;
  echo_lite *l = user;
  if (l->cb.on_event)
    l->cb.on_event(l->cb.user, ev);
}

int echo_lite_open(echo_lite **out, const echo_lite_config *cfg, const echo_lite_callbacks *cb,
                   char *err, size_t err_cap) {
  if (out == NULL || cfg == NULL || cfg->address == NULL || cfg->cert == NULL ||
      cfg->n_profiles > RTCSEC_SRTP_MAX_PROFILES) {
    snprintf(err, err_cap, "bad configuration");
    return RTCSEC_ERR_INVALID_ARGUMENT;
  }
  *out = NULL;
  echo_lite *l = g_new0(echo_lite, 1);
  if (cb)
    l->cb = *cb;
  rtcsec_router_config rc;
  rtcsec_router_config_default(&rc);
  rc.transport.dtls.cert = cfg->cert;
  rc.transport.dtls.enable_dtls13 = cfg->enable_dtls13;
  rc.transport.dtls.enable_mlkem = cfg->enable_mlkem;
  if (cfg->n_profiles) {
    memcpy(rc.transport.dtls.profiles, cfg->profiles, cfg->n_profiles * sizeof(cfg->profiles[0]));
    rc.transport.dtls.n_profiles = cfg->n_profiles;
  }
  if (cfg->max_sessions)
    rc.max_sessions = cfg->max_sessions;
  rc.hash_seed = ((uint64_t)g_random_int() << 32) | g_random_int();
  int rc_ = rtcsec_router_new(&l->router, &rc);
  if (rc_ != RTCSEC_OK) {
    snprintf(err, err_cap, "rtcsec_router_new: %s (%d)", rtcsec_strerror(rc_), rc_);
    g_free(l);
    return rc_;
  }
  rtcsec_udp_mux_config mc;
  rtcsec_udp_mux_config_default(&mc);
  mc.bind_addr = cfg->address;
  mc.port = cfg->port;
  mc.batch = LITE_BATCH;
  mc.sock_buf = LITE_SOCK_BUF;
  rtcsec_udp_mux_callbacks mcb = {.on_media = mux_media, .on_event = mux_event, .user = l};
  int e = rtcsec_udp_mux_open(&l->mux, l->router, &mc, &mcb);
  if (e != 0) {
    snprintf(err, err_cap, "UDP socket on %s port %u: %s", cfg->address, (unsigned)cfg->port,
             g_strerror(-e));
    rtcsec_router_free(l->router);
    g_free(l);
    return e == -EINVAL ? RTCSEC_ERR_INVALID_ARGUMENT : RTCSEC_ERR_IO;
  }
  l->source = (lite_source *)g_source_new(&lite_source_funcs, sizeof(lite_source));
  l->source->lite = l;
  g_source_set_name(&l->source->base, "rtcsec-echo single port");
  g_source_add_unix_fd(&l->source->base, rtcsec_udp_mux_fd(l->mux), G_IO_IN);
  g_source_attach(&l->source->base, NULL);
  rearm(l);
  *out = l;
  return RTCSEC_OK;
}

void echo_lite_close(echo_lite *l) {
  if (l == NULL)
    return;
  if (l->source) {
    g_source_destroy(&l->source->base);
    g_source_unref(&l->source->base);
  }
  rtcsec_udp_mux_close(l->mux);
  rtcsec_router_free(l->router);
  g_free(l);
}

uint16_t echo_lite_port(const echo_lite *l) { return l ? rtcsec_udp_mux_port(l->mux) : 0; }

rtcsec_router *echo_lite_router(echo_lite *l) { return l ? l->router : NULL; }

int echo_lite_add_session(echo_lite *l, const rtcsec_router_session_config *sc,
                          rtcsec_session_id *id) {
  if (l == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  int rc = rtcsec_router_add_session(l->router, sc, rtcsec_udp_mux_now(), id);
  settle(l);
  return rc;
}

int echo_lite_remove_session(echo_lite *l, rtcsec_session_id id) {
  if (l == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  int rc = rtcsec_router_remove_session(l->router, id, rtcsec_udp_mux_now());
  settle(l); /* the close_notify goes out now */
  return rc;
}

int echo_lite_add_remote_fingerprint(echo_lite *l, rtcsec_session_id id,
                                     const rtcsec_fingerprint *fp) {
  if (l == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  int rc = rtcsec_router_add_peer_fingerprints(l->router, id, fp, 1, rtcsec_udp_mux_now());
  settle(l); /* a held handshake may go on */
  return rc;
}

static int send_media(echo_lite *l, rtcsec_session_id id, int rtcp, uint8_t *buf, size_t len,
                      size_t cap) {
  if (l == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  size_t out_len = 0;
  struct sockaddr_storage dst;
  socklen_t dst_len = 0;
  uint64_t now = rtcsec_udp_mux_now();
  int rc =
      rtcp ? rtcsec_router_protect_rtcp(l->router, id, buf, len, cap, &out_len, &dst, &dst_len, now)
           : rtcsec_router_protect_rtp(l->router, id, buf, len, cap, &out_len, &dst, &dst_len, now);
  if (rc != RTCSEC_OK)
    return rc;
  if (rtcsec_udp_mux_send(l->mux, buf, out_len, &dst, dst_len) != 0)
    return RTCSEC_ERR_TOO_LARGE;
  if (!l->in_turn)
    rtcsec_udp_mux_flush(l->mux);
  return RTCSEC_OK;
}

int echo_lite_send_rtp(echo_lite *l, rtcsec_session_id id, uint8_t *buf, size_t len, size_t cap) {
  return send_media(l, id, 0, buf, len, cap);
}

int echo_lite_send_rtcp(echo_lite *l, rtcsec_session_id id, uint8_t *buf, size_t len, size_t cap) {
  return send_media(l, id, 1, buf, len, cap);
}

int echo_lite_send_data(echo_lite *l, rtcsec_session_id id, const uint8_t *data, size_t len) {
  if (l == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  return rtcsec_router_send_data(l->router, id, data, len, rtcsec_udp_mux_now());
}

void echo_lite_flush(echo_lite *l) {
  if (l == NULL || l->in_turn)
    return;
  rtcsec_udp_mux_flush(l->mux);
  rearm(l);
}

void echo_lite_get_stats(const echo_lite *l, echo_lite_stats *out) {
  if (l == NULL || out == NULL)
    return;
  *out = l->stats;
  rtcsec_udp_mux_stats ms;
  rtcsec_udp_mux_get_stats(l->mux, &ms);
  out->rx_datagrams = ms.rx_datagrams;
  out->tx_datagrams = ms.tx_datagrams;
  out->tx_dropped = ms.tx_dropped;
  out->rx_refused = ms.rx_dropped;
}

#else /* not Linux: the driver needs recvmmsg / sendmmsg */

uint64_t echo_lite_now(void) { return (uint64_t)g_get_monotonic_time(); }

int echo_lite_open(echo_lite **out, const echo_lite_config *cfg, const echo_lite_callbacks *cb,
                   char *err, size_t err_cap) {
  (void)cfg, (void)cb;
  if (out)
    *out = NULL;
  snprintf(err, err_cap, "--single-port needs Linux (recvmmsg/sendmmsg)");
  return RTCSEC_ERR_UNSUPPORTED;
}
void echo_lite_close(echo_lite *l) { (void)l; }
uint16_t echo_lite_port(const echo_lite *l) { return (void)l, 0; }
rtcsec_router *echo_lite_router(echo_lite *l) { return (void)l, NULL; }
int echo_lite_add_session(echo_lite *l, const rtcsec_router_session_config *sc,
                          rtcsec_session_id *id) {
  (void)l, (void)sc, (void)id;
  return RTCSEC_ERR_UNSUPPORTED;
}
int echo_lite_remove_session(echo_lite *l, rtcsec_session_id id) {
  (void)l, (void)id;
  return RTCSEC_ERR_UNSUPPORTED;
}
int echo_lite_add_remote_fingerprint(echo_lite *l, rtcsec_session_id id,
                                     const rtcsec_fingerprint *fp) {
  (void)l, (void)id, (void)fp;
  return RTCSEC_ERR_UNSUPPORTED;
}
int echo_lite_send_rtp(echo_lite *l, rtcsec_session_id id, uint8_t *buf, size_t len, size_t cap) {
  (void)l, (void)id, (void)buf, (void)len, (void)cap;
  return RTCSEC_ERR_UNSUPPORTED;
}
int echo_lite_send_rtcp(echo_lite *l, rtcsec_session_id id, uint8_t *buf, size_t len, size_t cap) {
  (void)l, (void)id, (void)buf, (void)len, (void)cap;
  return RTCSEC_ERR_UNSUPPORTED;
}
int echo_lite_send_data(echo_lite *l, rtcsec_session_id id, const uint8_t *data, size_t len) {
  (void)l, (void)id, (void)data, (void)len;
  return RTCSEC_ERR_UNSUPPORTED;
}
void echo_lite_flush(echo_lite *l) { (void)l; }
void echo_lite_get_stats(const echo_lite *l, echo_lite_stats *out) {
  (void)l;
  if (out)
    memset(out, 0, sizeof(*out));
}

#endif
