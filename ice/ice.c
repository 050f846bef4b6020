/* The ICE agent: one libnice agent (one stream, one component) carrying one
 * rtcsec_transport over its selected pair. See rtcsec/ice.h for the
 * contract.
 *
 * Locking. `lock` guards the transport and every field below it in the
 * struct. It is never held while calling into libnice (libnice emits its
 * signals synchronously from inside its own API calls, on whichever thread
 * made them, after dropping its own lock: a handler that takes `lock`
 * would deadlock against a caller holding it) and never while calling the
 * application. So:
 *   - under the lock, work on the transport; datagrams to send go to the
 *     `out` queue and events to the `events` queue;
 *   - after unlocking, flush() hands `out` to nice_agent_send();
 *   - events reach the application only through dispatch(), which runs on
 *     the context's thread and outside any API call: directly at the end of
 *     the receive and timer callbacks, else from an idle source that any
 *     thread may schedule. libnice signal handlers only queue.
 * `dispatching` belongs to the context's thread and needs no lock.
 * `cand_lock` serialises handing remote candidates to libnice against an
 * ICE restart (never taken by a libnice signal handler, so holding it
 * across libnice calls is safe).
 */
#include <arpa/inet.h>
#include <nice/agent.h>
#include <stdlib.h>
#include <string.h>

#include "rtcsec/error.h"
#include "rtcsec/ice.h"
#include "rtcsec/sdp.h"

#include "ice_internal.h"

#define COMPONENT 1
#define TX_BUF_SIZE 65536 /* any configured DTLS MTU fits */

typedef struct queued_event {
  rtcsec_event ev;
  char *candidate; /* owned */
  uint8_t *data;   /* owned */
} queued_event;

/* DTLS kept before the pair is validated (issue 14): bounded per agent. */
#define EARLY_MAX_DATAGRAMS 8
#define EARLY_MAX_BYTES (16 * 1024)

struct rtcsec_ice_agent {
  /* Set at creation, read-only afterwards. */
  GMainContext *ctx;
  GMainLoop *loop; /* own loop thread only */
  GThread *thread; /* own loop thread only */
  NiceAgent *nice;
  guint stream_id;
  gulong signals[5];
  rtcsec_ice_config cfg; /* strings point at the copies below */
  char *local_addresses[RTCSEC_ICE_MAX_LOCAL_ADDRESSES];
  char *stun_server, *turn_server, *turn_username, *turn_password;
  rtcsec_cert *cert; /* our reference, for a transport made again */
  uint64_t start_us;

  /* Context thread only. */
  int dispatching;
  GMutex cand_lock; /* serialises remote candidates against a restart */

  GMutex lock;
  /* Everything below is guarded by lock. */
  rtcsec_transport *transport;
  rtcsec_transport_config tcfg; /* cert and fingerprints point at ours */
  rtcsec_fingerprint peer_fps[RTCSEC_DTLS_MAX_FINGERPRINTS];
  size_t n_peer_fps;
  uint8_t *tx;
  NiceComponentState nice_state;
  int gathering;    /* rtcsec_ice_gather() called */
  int remote_creds; /* the peer's credentials of this generation are set */
  int remote_eoc;   /* end-of-candidates held until remote_creds */
  int have_pair;    /* libnice reported a selected pair */
  int validated;    /* a selected pair was CONNECTED/READY: DTLS may flow */
  int consent_lost; /* RFC 7675: send nothing until a restart connects */
  int dtls_started;
  int restarting;
  unsigned generation; /* ICE restarts so far: candidates of an older one are refused */
  int peer_checked;    /* libnice took an authenticated check from the peer */
  GQueue early;        /* GBytes *: DTLS before the pair was validated */
  size_t early_bytes;
  int closing;    /* rtcsec_ice_agent_free() has begun */
  int vanished;   /* test hook: the stream was removed */
  GQueue pending; /* char *: checked candidate lines for libnice */
  GQueue events;  /* queued_event * */
  GQueue out;     /* GBytes *: DTLS datagrams to send */
  GSource *timer;
  uint64_t timer_deadline;
  GSource *dispatch_src;
  rtcsec_ice_stats st; /* transport part filled on demand */
};

typedef struct pending_candidate {
  char *line;
  unsigned gen;
} pending_candidate;

static void pending_free(gpointer p) {
  pending_candidate *pc = p;
  g_free(pc->line);
  g_free(pc);
}

static uint64_t now_us(void) { return (uint64_t)g_get_monotonic_time(); }

static uint64_t since_start(const rtcsec_ice_agent *a, uint64_t now) {
  uint64_t d = now > a->start_us ? now - a->start_us : 0;
  return d ? d : 1; /* 0 means "not yet" */
}

const char *rtcsec_ice_state_name(rtcsec_ice_state s) {
  switch (s) {
  case RTCSEC_ICE_STATE_NEW:
    return "new";
  case RTCSEC_ICE_STATE_GATHERING:
    return "gathering";
  case RTCSEC_ICE_STATE_CHECKING:
    return "checking";
  case RTCSEC_ICE_STATE_CONNECTED:
    return "connected";
  case RTCSEC_ICE_STATE_FAILED:
    return "failed";
  case RTCSEC_ICE_STATE_DISCONNECTED:
    return "disconnected";
  case RTCSEC_ICE_STATE_CLOSED:
    return "closed";
  default:
    return "unknown";
  }
}

void rtcsec_ice_config_default(rtcsec_ice_config *cfg) {
  if (cfg == NULL)
    return;
  memset(cfg, 0, sizeof(*cfg));
  cfg->role = RTCSEC_ICE_CONTROLLING;
  cfg->stun_port = 3478;
  cfg->turn_port = 3478;
  cfg->consent_freshness = 1;
  cfg->check_pacing_ms = 5;
  rtcsec_transport_config_default(&cfg->transport);
}

/* ---- events, datagrams, timer (lock held unless said otherwise) ---------- */

static void queue_event_locked(rtcsec_ice_agent *a, const rtcsec_event *ev, const char *candidate,
                               const uint8_t *data, size_t data_len) {
  queued_event *q = g_new0(queued_event, 1);
  q->ev = *ev;
  if (candidate != NULL) {
    q->candidate = g_strdup(candidate);
    q->ev.candidate = q->candidate;
  }
  if (data != NULL && data_len > 0) {
    /* the one copy on this path: callbacks run after the lock is dropped,
     * when the transport may already have reused its buffer */
    q->data = g_memdup2(data, data_len);
    q->ev.data.data = q->data;
    q->ev.data.len = data_len;
  }
  g_queue_push_tail(&a->events, q);
}

static void queue_simple_locked(rtcsec_ice_agent *a, rtcsec_event_type type) {
  rtcsec_event ev;
  memset(&ev, 0, sizeof(ev));
  ev.type = type;
  if (type == RTCSEC_EVENT_ICE_STATE)
    ev.ice_state = a->st.state;
  queue_event_locked(a, &ev, NULL, NULL, 0);
}

static void queued_event_free(gpointer p) {
  queued_event *q = p;
  g_free(q->candidate);
  g_free(q->data);
  g_free(q);
}

/* The one function that moves the ICE state; reports each change. */
static void set_state_locked(rtcsec_ice_agent *a, rtcsec_ice_state s) {
  if (a->st.state == s)
    return;
  a->st.state = s;
  queue_simple_locked(a, RTCSEC_EVENT_ICE_STATE);
}

/* DTLS and media go only to a validated pair that still has consent (RFC
 * 8445 §12, RFC 7675 §5.1). */
static int path_usable_locked(const rtcsec_ice_agent *a) {
  return a->validated && !a->consent_lost && !a->closing;
}

static gboolean dispatch_cb(gpointer data);
static gboolean timer_cb(gpointer data);

static void schedule_dispatch_locked(rtcsec_ice_agent *a) {
  if (a->dispatch_src != NULL || g_queue_is_empty(&a->events) || a->closing)
    return;
  a->dispatch_src = g_idle_source_new();
  g_source_set_priority(a->dispatch_src, G_PRIORITY_DEFAULT);
  g_source_set_callback(a->dispatch_src, dispatch_cb, a, NULL);
  g_source_attach(a->dispatch_src, a->ctx);
}

static void drop_source(GSource **src) {
  if (*src != NULL) {
    g_source_destroy(*src);
    g_source_unref(*src);
    *src = NULL;
  }
}

/* The transport's deadline becomes a GLib timer on the context. */
static void rearm_timer_locked(rtcsec_ice_agent *a, uint64_t now) {
  uint64_t deadline = a->closing ? UINT64_MAX : rtcsec_transport_deadline(a->transport);
  if (a->timer != NULL && deadline == a->timer_deadline)
    return;
  drop_source(&a->timer);
  a->timer_deadline = deadline;
  if (deadline == UINT64_MAX)
    return;
  uint64_t ms = deadline > now ? (deadline - now + 999) / 1000 : 0;
  a->timer = g_timeout_source_new(ms > G_MAXUINT ? G_MAXUINT : (guint)ms);
  g_source_set_callback(a->timer, timer_cb, a, NULL);
  g_source_attach(a->timer, a->ctx);
}

/* After every call into the transport: its datagrams to `out` (or dropped
 * without a usable path), its events to `events`, its deadline to the
 * timer. */
static void pump_locked(rtcsec_ice_agent *a, uint64_t now) {
  for (;;) {
    size_t len = 0;
    if (rtcsec_transport_poll_datagram(a->transport, a->tx, TX_BUF_SIZE, &len) != RTCSEC_OK ||
        len == 0)
      break;
    if (!path_usable_locked(a)) {
      a->st.dropped_unvalidated++;
      continue;
    }
    g_queue_push_tail(&a->out, g_bytes_new(a->tx, len));
  }
  for (;;) {
    rtcsec_event ev;
    if (rtcsec_transport_poll_event(a->transport, &ev) != RTCSEC_OK || ev.type == RTCSEC_EVENT_NONE)
      break;
    if (ev.type == RTCSEC_EVENT_CONNECTED) {
      a->st.dtls_handshakes++;
      if (a->st.dtls_connected_us == 0)
        a->st.dtls_connected_us = since_start(a, now);
    }
    if (ev.type == RTCSEC_EVENT_DATA)
      queue_event_locked(a, &ev, NULL, ev.data.data, ev.data.len);
    else
      queue_event_locked(a, &ev, NULL, NULL, 0);
  }
  rearm_timer_locked(a, now);
  schedule_dispatch_locked(a);
}

/* Sends what pump_locked() queued. Lock not held. */
static void flush(rtcsec_ice_agent *a) {
  GQueue todo = G_QUEUE_INIT;
  g_mutex_lock(&a->lock);
  todo = a->out;
  g_queue_init(&a->out);
  g_mutex_unlock(&a->lock);
  uint64_t errors = 0;
  GBytes *b;
  while ((b = g_queue_pop_head(&todo)) != NULL) {
    gsize len = 0;
    const gchar *p = g_bytes_get_data(b, &len);
    if (nice_agent_send(a->nice, a->stream_id, COMPONENT, (guint)len, p) != (gint)len)
      errors++;
    g_bytes_unref(b);
  }
  if (errors) {
    g_mutex_lock(&a->lock);
    a->st.send_errors += errors;
    g_mutex_unlock(&a->lock);
  }
}

/* Delivers queued events to the application. Context thread only, never
 * from inside an API call; lock not held. */
static void dispatch(rtcsec_ice_agent *a) {
  if (a->dispatching)
    return; /* a callback iterated the context */
  a->dispatching = 1;
  for (;;) {
    g_mutex_lock(&a->lock);
    queued_event *q = a->closing ? NULL : g_queue_pop_head(&a->events);
    g_mutex_unlock(&a->lock);
    if (q == NULL)
      break;
    if (a->cfg.on_event != NULL)
      a->cfg.on_event(a->cfg.user, &q->ev);
    queued_event_free(q);
  }
  a->dispatching = 0;
}

static gboolean dispatch_cb(gpointer data) {
  rtcsec_ice_agent *a = data;
  g_mutex_lock(&a->lock);
  if (a->dispatch_src == g_main_current_source()) {
    g_source_unref(a->dispatch_src);
    a->dispatch_src = NULL;
  }
  g_mutex_unlock(&a->lock);
  dispatch(a);
  return G_SOURCE_REMOVE;
}

static gboolean timer_cb(gpointer data) {
  rtcsec_ice_agent *a = data;
  uint64_t now = now_us();
  g_mutex_lock(&a->lock);
  if (a->timer == g_main_current_source()) {
    g_source_unref(a->timer);
    a->timer = NULL;
    a->timer_deadline = UINT64_MAX;
  }
  if (!a->closing) {
    rtcsec_transport_handle_timeout(a->transport, now);
    pump_locked(a, now);
  }
  g_mutex_unlock(&a->lock);
  flush(a);
  dispatch(a);
  return G_SOURCE_REMOVE;
}

/* ---- ICE state from libnice ---------------------------------------------- */

/* RFC 8445 §12: DTLS (and so media) starts only once a nominated pair is
 * validated: libnice has reported a selected pair and the component is
 * CONNECTED or READY. */
static void maybe_connected_locked(rtcsec_ice_agent *a, uint64_t now) {
  if (!a->have_pair || a->closing)
    return;
  if (a->nice_state != NICE_COMPONENT_STATE_CONNECTED &&
      a->nice_state != NICE_COMPONENT_STATE_READY)
    return;
  /* RFC 7675 §5.1: once consent is lost nothing flows again on this
   * session's credentials; only an ICE restart (new credentials, new
   * checks) may bring the path back, even if libnice reconnects. */
  if (a->consent_lost && !a->restarting)
    return;
  a->validated = 1;
  a->consent_lost = 0;
  a->restarting = 0;
  if (a->st.ice_connected_us == 0)
    a->st.ice_connected_us = since_start(a, now);
  set_state_locked(a, RTCSEC_ICE_STATE_CONNECTED);
  if (!a->dtls_started) {
    a->dtls_started = 1;
    int rc = rtcsec_transport_start(a->transport, now);
    if (rc != RTCSEC_OK) {
      rtcsec_event ev;
      memset(&ev, 0, sizeof(ev));
      ev.type = RTCSEC_EVENT_FAILED;
      ev.failed.error = rc;
      ev.failed.alert = -1;
      queue_event_locked(a, &ev, NULL, NULL, 0);
    }
  }
  /* DTLS that overtook the validation goes to the association now: no
   * round trip lost waiting for the peer's retransmission (issue 14). */
  GBytes *b;
  while ((b = g_queue_pop_head(&a->early)) != NULL) {
    gsize len = 0;
    const uint8_t *p = g_bytes_get_data(b, &len);
    rtcsec_transport_input in;
    rtcsec_transport_handle_datagram(a->transport, (uint8_t *)p, len, now, &in);
    a->st.early_dtls_kept++;
    g_bytes_unref(b);
  }
  a->early_bytes = 0;
  pump_locked(a, now);
}

/* DTLS before the pair is validated, from a peer that has sent at least
 * one authenticated check (libnice drops data from addresses that are no
 * known candidate): kept, bounded, for the moment the pair is validated.
 * Never any DTLS state for it before then. */
static void keep_early_locked(rtcsec_ice_agent *a, const uint8_t *buf, size_t len) {
  if (!a->peer_checked || a->validated || a->consent_lost ||
      rtcsec_demux_classify(buf, len) != RTCSEC_PKT_DTLS ||
      g_queue_get_length(&a->early) >= EARLY_MAX_DATAGRAMS ||
      a->early_bytes + len > EARLY_MAX_BYTES) {
    a->st.dropped_unvalidated++;
    a->st.early_dtls_dropped += rtcsec_demux_classify(buf, len) == RTCSEC_PKT_DTLS;
    return;
  }
  g_queue_push_tail(&a->early, g_bytes_new(buf, len));
  a->early_bytes += len;
}

/* The component failed. Before any pair was validated that is ICE failure;
 * after, libnice's consent freshness (RFC 7675 §5.1) has expired (or the
 * pair otherwise broke): stop sending media and DTLS. */
static void lost_or_failed_locked(rtcsec_ice_agent *a) {
  if (!a->validated) {
    set_state_locked(a, RTCSEC_ICE_STATE_FAILED);
    a->st.early_dtls_dropped += g_queue_get_length(&a->early);
    g_queue_clear_full(&a->early, (GDestroyNotify)g_bytes_unref);
    g_queue_init(&a->early);
    a->early_bytes = 0;
    return;
  }
  if (a->consent_lost)
    return;
  a->consent_lost = 1;
  a->st.consent_losses++;
  set_state_locked(a, RTCSEC_ICE_STATE_DISCONNECTED);
  queue_simple_locked(a, RTCSEC_EVENT_CONSENT_LOST);
  /* Drop what is queued for sending. */
  GBytes *b;
  while ((b = g_queue_pop_head(&a->out)) != NULL) {
    a->st.dropped_unvalidated++;
    g_bytes_unref(b);
  }
}

static void on_component_state(NiceAgent *nice, guint stream_id, guint component_id, guint state,
                               gpointer data) {
  (void)nice;
  rtcsec_ice_agent *a = data;
  if (stream_id != a->stream_id || component_id != COMPONENT)
    return;
  uint64_t now = now_us();
  g_mutex_lock(&a->lock);
  a->nice_state = (NiceComponentState)state;
  switch (state) {
  case NICE_COMPONENT_STATE_GATHERING:
    if (a->st.state == RTCSEC_ICE_STATE_NEW)
      set_state_locked(a, RTCSEC_ICE_STATE_GATHERING);
    break;
  case NICE_COMPONENT_STATE_CONNECTING:
    set_state_locked(a, RTCSEC_ICE_STATE_CHECKING);
    break;
  case NICE_COMPONENT_STATE_CONNECTED:
  case NICE_COMPONENT_STATE_READY:
    maybe_connected_locked(a, now);
    break;
  case NICE_COMPONENT_STATE_FAILED:
    lost_or_failed_locked(a);
    break;
  case NICE_COMPONENT_STATE_DISCONNECTED:
    if (a->validated && !a->restarting)
      lost_or_failed_locked(a);
    break;
  default:
    break;
  }
  schedule_dispatch_locked(a);
  g_mutex_unlock(&a->lock);
  flush(a);
}

static const char *candidate_type_name(NiceCandidateType t) {
  switch (t) {
  case NICE_CANDIDATE_TYPE_HOST:
    return "host";
  case NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE:
    return "srflx";
  case NICE_CANDIDATE_TYPE_PEER_REFLEXIVE:
    return "prflx";
  case NICE_CANDIDATE_TYPE_RELAYED:
    return "relay";
  default:
    return "unknown";
  }
}

static void describe(NiceCandidate *c, char *type, size_t type_cap, char *addr, size_t addr_cap,
                     uint16_t *port) {
  char buf[NICE_ADDRESS_STRING_LEN + 1];
  g_strlcpy(type, candidate_type_name(c->type), type_cap);
  nice_address_to_string(&c->addr, buf);
  g_strlcpy(addr, buf, addr_cap);
  *port = (uint16_t)nice_address_get_port(&c->addr);
}

static void on_selected_pair(NiceAgent *nice, guint stream_id, guint component_id,
                             NiceCandidate *local, NiceCandidate *remote, gpointer data) {
  (void)nice;
  rtcsec_ice_agent *a = data;
  if (stream_id != a->stream_id || component_id != COMPONENT || local == NULL || remote == NULL)
    return;
  rtcsec_event ev;
  memset(&ev, 0, sizeof(ev));
  ev.type = RTCSEC_EVENT_SELECTED_PAIR;
  describe(local, ev.pair.local_type, sizeof(ev.pair.local_type), ev.pair.local_address,
           sizeof(ev.pair.local_address), &ev.pair.local_port);
  describe(remote, ev.pair.remote_type, sizeof(ev.pair.remote_type), ev.pair.remote_address,
           sizeof(ev.pair.remote_address), &ev.pair.remote_port);
  g_strlcpy(ev.pair.protocol, "udp", sizeof(ev.pair.protocol));
  uint64_t now = now_us();
  g_mutex_lock(&a->lock);
  a->st.pair = ev.pair;
  a->st.has_pair = 1;
  a->st.pair_changes++;
  a->have_pair = 1;
  queue_event_locked(a, &ev, NULL, NULL, 0);
  maybe_connected_locked(a, now);
  schedule_dispatch_locked(a);
  g_mutex_unlock(&a->lock);
  flush(a);
}

/* Reports one local candidate as "candidate:..." (trickle, RFC 8838). */
static void report_candidate(rtcsec_ice_agent *a, NiceCandidate *c) {
  if (c->stream_id != a->stream_id || c->component_id != COMPONENT ||
      c->transport != NICE_CANDIDATE_TRANSPORT_UDP)
    return;
  if (a->cfg.relay_only && c->type != NICE_CANDIDATE_TYPE_RELAYED)
    return;
  gchar *sdp = nice_agent_generate_local_candidate_sdp(a->nice, c);
  if (sdp == NULL)
    return;
  const char *s = g_str_has_prefix(sdp, "a=") ? sdp + 2 : sdp;
  rtcsec_event ev;
  memset(&ev, 0, sizeof(ev));
  ev.type = RTCSEC_EVENT_LOCAL_CANDIDATE;
  g_mutex_lock(&a->lock);
  a->st.local_candidates++;
  queue_event_locked(a, &ev, s, NULL, 0);
  schedule_dispatch_locked(a);
  g_mutex_unlock(&a->lock);
  g_free(sdp);
}

static void on_new_candidate(NiceAgent *nice, NiceCandidate *c, gpointer data) {
  (void)nice;
  report_candidate(data, c);
}

static void on_gathering_done(NiceAgent *nice, guint stream_id, gpointer data) {
  (void)nice;
  rtcsec_ice_agent *a = data;
  if (stream_id != a->stream_id)
    return;
  g_mutex_lock(&a->lock);
  queue_simple_locked(a, RTCSEC_EVENT_GATHERING_DONE);
  schedule_dispatch_locked(a);
  g_mutex_unlock(&a->lock);
}

/* Every datagram libnice does not consume itself (STUN it does) arrives
 * here, on the context's thread, from a known remote candidate (libnice
 * drops data from other addresses). Media is decrypted in place in
 * libnice's buffer: no copy. */
static void on_receive(NiceAgent *nice, guint stream_id, guint component_id, guint len, gchar *buf,
                       gpointer data) {
  (void)nice;
  (void)stream_id;
  (void)component_id;
  rtcsec_ice_agent *a = data;
  if (len == 0)
    return;
  uint64_t now = now_us();
  uint8_t *p = (uint8_t *)buf;
  rtcsec_transport_input in = {RTCSEC_PKT_UNKNOWN, 0, 0};
  int media = 0;
  g_mutex_lock(&a->lock);
  if (!path_usable_locked(a)) {
    /* Not from a validated pair with consent: nothing reaches DTLS or
     * SRTP (RFC 8445 §12, RFC 7675 §5.1); early DTLS is kept. */
    keep_early_locked(a, p, len);
    g_mutex_unlock(&a->lock);
    return;
  }
  int rc = rtcsec_transport_handle_datagram(a->transport, p, len, now, &in);
  if (rc == RTCSEC_OK && (in.kind == RTCSEC_PKT_RTP || in.kind == RTCSEC_PKT_RTCP)) {
    media = 1;
    if (a->st.first_media_us == 0)
      a->st.first_media_us = since_start(a, now);
  }
  int dtls = in.kind == RTCSEC_PKT_DTLS;
  if (dtls)
    pump_locked(a, now);
  g_mutex_unlock(&a->lock);
  /* Only DTLS produces datagrams to send and events; media skips both. */
  if (dtls)
    flush(a);
  if (media && a->cfg.on_media != NULL)
    a->cfg.on_media(a->cfg.user, in.kind, p, in.len);
  if (dtls)
    dispatch(a);
}

/* libnice took its first authenticated check from the peer. */
static void on_initial_binding_request(NiceAgent *nice, guint stream_id, gpointer data) {
  (void)nice;
  rtcsec_ice_agent *a = data;
  if (stream_id != a->stream_id)
    return;
  g_mutex_lock(&a->lock);
  a->peer_checked = 1;
  g_mutex_unlock(&a->lock);
}

/* ---- creation and teardown ----------------------------------------------- */

static int is_ip_literal(const char *s) {
  unsigned char buf[sizeof(struct in6_addr)];
  return s != NULL && (inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1);
}

static int validate_config(const rtcsec_ice_config *cfg) {
  if (cfg->role != RTCSEC_ICE_CONTROLLING && cfg->role != RTCSEC_ICE_CONTROLLED)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  if (cfg->ice_lite && cfg->role != RTCSEC_ICE_CONTROLLED)
    return RTCSEC_ERR_INVALID_ARGUMENT; /* RFC 8445 §6.1.1: a lite agent is controlled */
  if (cfg->transport.dtls.cert == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  if (cfg->n_local_addresses > RTCSEC_ICE_MAX_LOCAL_ADDRESSES)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  for (size_t i = 0; i < cfg->n_local_addresses; i++) {
    if (!is_ip_literal(cfg->local_addresses[i]))
      return RTCSEC_ERR_INVALID_ARGUMENT;
  }
  if (cfg->port_min > cfg->port_max && cfg->port_max != 0)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  if (cfg->check_pacing_ms != 0 && (cfg->check_pacing_ms < 5 || cfg->check_pacing_ms > 1000))
    return RTCSEC_ERR_INVALID_ARGUMENT;
  if (cfg->stun_server != NULL && !is_ip_literal(cfg->stun_server))
    return RTCSEC_ERR_INVALID_ARGUMENT;
  if (cfg->turn_server != NULL) {
    if (!is_ip_literal(cfg->turn_server) || cfg->turn_username == NULL ||
        cfg->turn_password == NULL)
      return RTCSEC_ERR_INVALID_ARGUMENT;
  }
  if (cfg->relay_only && cfg->turn_server == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  if (cfg->transport.dtls.n_peer_fingerprints > RTCSEC_DTLS_MAX_FINGERPRINTS ||
      (cfg->transport.dtls.n_peer_fingerprints > 0 &&
       cfg->transport.dtls.peer_fingerprints == NULL))
    return RTCSEC_ERR_INVALID_ARGUMENT;
  return RTCSEC_OK;
}

static int has_property(NiceAgent *nice, const char *name) {
  return g_object_class_find_property(G_OBJECT_GET_CLASS(nice), name) != NULL;
}

static int agent_has_consent_freshness(void) {
  GObjectClass *klass = g_type_class_ref(NICE_TYPE_AGENT);
  int ok = g_object_class_find_property(klass, "consent-freshness") != NULL;
  g_type_class_unref(klass);
  return ok;
}

static gpointer loop_thread(gpointer data) {
  rtcsec_ice_agent *a = data;
  g_main_context_push_thread_default(a->ctx);
  g_main_loop_run(a->loop);
  g_main_context_pop_thread_default(a->ctx);
  return NULL;
}

static gboolean quit_cb(gpointer data) {
  g_main_loop_quit(data);
  return G_SOURCE_REMOVE;
}

/* ---- closing TURN allocations -------------------------------------------- */

typedef struct close_wait {
  GMutex m;
  GCond c;
  int done;
} close_wait;

typedef struct close_req {
  NiceAgent *nice;
  close_wait *w;
} close_req;

static void closed_cb(GObject *src, GAsyncResult *res, gpointer data) {
  (void)src;
  (void)res; /* "this operation never fails" (libnice) */
  close_wait *w = data;
  g_mutex_lock(&w->m);
  w->done = 1;
  g_cond_signal(&w->c);
  g_mutex_unlock(&w->m);
}

/* Releases the TURN allocations (a Refresh with lifetime 0, RFC 8656 §7)
 * instead of leaving them to expire on the server, waiting at most
 * CLOSE_WAIT_US for the server's answers. */
#define CLOSE_WAIT_US (2 * G_USEC_PER_SEC)

static gboolean close_on_loop_cb(gpointer data) {
  close_req *r = data;
  nice_agent_close_async(r->nice, closed_cb, r->w);
  return G_SOURCE_REMOVE;
}

static void close_relays(rtcsec_ice_agent *a) {
  close_wait *w = g_new0(close_wait, 1);
  g_mutex_init(&w->m);
  g_cond_init(&w->c);
  gint64 end = g_get_monotonic_time() + CLOSE_WAIT_US;
  /* libnice calls back on the thread-default context of the caller of
   * nice_agent_close_async(): make that the agent's context. */
  if (a->thread != NULL) {
    close_req *r = g_new0(close_req, 1);
    r->nice = a->nice;
    r->w = w;
    GSource *src = g_idle_source_new();
    g_source_set_callback(src, close_on_loop_cb, r, g_free);
    g_source_attach(src, a->ctx);
    g_source_unref(src);
    g_mutex_lock(&w->m);
    while (!w->done && g_cond_wait_until(&w->c, &w->m, end)) {
    }
    g_mutex_unlock(&w->m);
  } else {
    /* The caller's context, on its thread (see rtcsec_ice_agent_free). */
    g_main_context_push_thread_default(a->ctx);
    nice_agent_close_async(a->nice, closed_cb, w);
    g_main_context_pop_thread_default(a->ctx);
    while (g_get_monotonic_time() < end) {
      g_mutex_lock(&w->m);
      int done = w->done;
      g_mutex_unlock(&w->m);
      if (done)
        break;
      if (!g_main_context_iteration(a->ctx, FALSE))
        g_usleep(1000);
    }
  }
  g_mutex_lock(&w->m);
  int done = w->done;
  g_mutex_unlock(&w->m);
  if (!done)
    return; /* the callback may still come: w stays allocated (bounded leak) */
  g_mutex_clear(&w->m);
  g_cond_clear(&w->c);
  g_free(w);
}

static void agent_destroy(rtcsec_ice_agent *a) {
  g_mutex_lock(&a->lock);
  int vanished = a->vanished;
  g_mutex_unlock(&a->lock);
  if (a->nice != NULL && a->turn_server != NULL && a->stream_id != 0 && !vanished)
    close_relays(a);
  if (a->thread != NULL) {
    /* Quit from inside the loop: a quit before g_main_loop_run() started
     * would be lost. */
    GSource *q = g_idle_source_new();
    g_source_set_callback(q, quit_cb, a->loop, NULL);
    g_source_attach(q, a->ctx);
    g_source_unref(q);
    g_thread_join(a->thread);
    a->thread = NULL;
  }
  if (a->nice != NULL) {
    for (size_t i = 0; i < G_N_ELEMENTS(a->signals); i++) {
      if (a->signals[i] != 0)
        g_signal_handler_disconnect(a->nice, a->signals[i]);
    }
    if (a->stream_id != 0 && !vanished)
      nice_agent_attach_recv(a->nice, a->stream_id, COMPONENT, a->ctx, NULL, NULL);
  }
  g_mutex_lock(&a->lock);
  drop_source(&a->timer);
  drop_source(&a->dispatch_src);
  g_mutex_unlock(&a->lock);
  if (a->nice != NULL)
    g_object_unref(a->nice);
  g_queue_clear_full(&a->events, queued_event_free);
  g_queue_clear_full(&a->out, (GDestroyNotify)g_bytes_unref);
  g_queue_clear_full(&a->pending, pending_free);
  g_queue_clear_full(&a->early, (GDestroyNotify)g_bytes_unref);
  rtcsec_transport_free(a->transport);
  rtcsec_cert_free(a->cert);
  if (a->loop != NULL)
    g_main_loop_unref(a->loop);
  if (a->ctx != NULL)
    g_main_context_unref(a->ctx);
  for (size_t i = 0; i < RTCSEC_ICE_MAX_LOCAL_ADDRESSES; i++)
    g_free(a->local_addresses[i]);
  g_free(a->stun_server);
  g_free(a->turn_server);
  g_free(a->turn_username);
  if (a->turn_password != NULL) {
    memset(a->turn_password, 0, strlen(a->turn_password));
    g_free(a->turn_password);
  }
  g_free(a->tx);
  g_mutex_clear(&a->cand_lock);
  g_mutex_clear(&a->lock);
  g_free(a);
}

/* Copies the strings and the parts of the config the agent keeps. */
static int copy_config(rtcsec_ice_agent *a, const rtcsec_ice_config *cfg) {
  a->cfg = *cfg;
  for (size_t i = 0; i < cfg->n_local_addresses; i++) {
    a->local_addresses[i] = g_strdup(cfg->local_addresses[i]);
    a->cfg.local_addresses[i] = a->local_addresses[i];
  }
  for (size_t i = cfg->n_local_addresses; i < RTCSEC_ICE_MAX_LOCAL_ADDRESSES; i++)
    a->cfg.local_addresses[i] = NULL;
  a->cfg.stun_server = a->stun_server = g_strdup(cfg->stun_server);
  a->cfg.turn_server = a->turn_server = g_strdup(cfg->turn_server);
  a->cfg.turn_username = a->turn_username = g_strdup(cfg->turn_username);
  a->cfg.turn_password = a->turn_password = g_strdup(cfg->turn_password);
  if (a->cfg.stun_port == 0)
    a->cfg.stun_port = 3478;
  if (a->cfg.turn_port == 0)
    a->cfg.turn_port = 3478;
  a->cert = rtcsec_cert_ref(cfg->transport.dtls.cert);
  a->n_peer_fps = cfg->transport.dtls.n_peer_fingerprints;
  for (size_t i = 0; i < a->n_peer_fps; i++)
    a->peer_fps[i] = cfg->transport.dtls.peer_fingerprints[i];
  a->tcfg = cfg->transport;
  a->tcfg.dtls.cert = a->cert;
  a->tcfg.dtls.peer_fingerprints = a->n_peer_fps ? a->peer_fps : NULL;
  a->cfg.transport = a->tcfg;
  return rtcsec_transport_new(&a->transport, &a->tcfg);
}

static int setup_nice(rtcsec_ice_agent *a) {
  const rtcsec_ice_config *cfg = &a->cfg;
  /* RFC 8445 §8.1.1 keeps only regular nomination; trickle always on
   * (RFC 8838): candidates are reported and accepted one by one. */
  NiceAgentOption opts = NICE_AGENT_OPTION_REGULAR_NOMINATION | NICE_AGENT_OPTION_ICE_TRICKLE;
  if (cfg->consent_freshness)
    opts |= NICE_AGENT_OPTION_CONSENT_FRESHNESS;
  if (cfg->ice_lite)
    opts |= NICE_AGENT_OPTION_LITE_MODE;
  a->nice = nice_agent_new_full(a->ctx, NICE_COMPATIBILITY_RFC5245, opts);
  if (a->nice == NULL)
    return RTCSEC_ERR_NO_MEMORY;
  g_object_set(a->nice, "controlling-mode", cfg->role == RTCSEC_ICE_CONTROLLING, "ice-udp", TRUE,
               "ice-tcp", FALSE, "force-relay", cfg->relay_only ? TRUE : FALSE, "stun-pacing-timer",
               (guint)(cfg->check_pacing_ms ? cfg->check_pacing_ms : 5), NULL);
  /* libnice built with gupnp-igd would look for a UPnP gateway by SSDP
   * multicast on the local network: never. */
  if (has_property(a->nice, "upnp"))
    g_object_set(a->nice, "upnp", FALSE, NULL);
  if (cfg->stun_server != NULL)
    g_object_set(a->nice, "stun-server", cfg->stun_server, "stun-server-port",
                 (guint)cfg->stun_port, NULL);
  for (size_t i = 0; i < cfg->n_local_addresses; i++) {
    NiceAddress addr;
    nice_address_init(&addr);
    if (!nice_address_set_from_string(&addr, cfg->local_addresses[i]) ||
        !nice_agent_add_local_address(a->nice, &addr))
      return RTCSEC_ERR_INVALID_ARGUMENT;
  }
  a->stream_id = nice_agent_add_stream(a->nice, 1);
  if (a->stream_id == 0)
    return RTCSEC_ERR_NO_MEMORY;
  if (cfg->port_min != 0 || cfg->port_max != 0)
    nice_agent_set_port_range(a->nice, a->stream_id, COMPONENT, cfg->port_min,
                              cfg->port_max ? cfg->port_max : 65535);
  if (cfg->turn_server != NULL &&
      !nice_agent_set_relay_info(a->nice, a->stream_id, COMPONENT, cfg->turn_server, cfg->turn_port,
                                 cfg->turn_username, cfg->turn_password, NICE_RELAY_TYPE_TURN_UDP))
    return RTCSEC_ERR_INVALID_ARGUMENT;
  a->signals[0] = g_signal_connect(a->nice, "new-candidate-full", G_CALLBACK(on_new_candidate), a);
  a->signals[1] =
      g_signal_connect(a->nice, "candidate-gathering-done", G_CALLBACK(on_gathering_done), a);
  a->signals[2] =
      g_signal_connect(a->nice, "component-state-changed", G_CALLBACK(on_component_state), a);
  a->signals[3] =
      g_signal_connect(a->nice, "new-selected-pair-full", G_CALLBACK(on_selected_pair), a);
  a->signals[4] = g_signal_connect(a->nice, "initial-binding-request-received",
                                   G_CALLBACK(on_initial_binding_request), a);
  if (!nice_agent_attach_recv(a->nice, a->stream_id, COMPONENT, a->ctx, on_receive, a))
    return RTCSEC_ERR_INVALID_STATE;
  return RTCSEC_OK;
}

int rtcsec_ice_agent_new(rtcsec_ice_agent **out, const rtcsec_ice_config *cfg) {
  if (out == NULL || cfg == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  *out = NULL;
  int rc = validate_config(cfg);
  if (rc != RTCSEC_OK)
    return rc;
  if (cfg->consent_freshness && !agent_has_consent_freshness())
    return RTCSEC_ERR_UNSUPPORTED;
  rtcsec_ice_agent *a = g_new0(rtcsec_ice_agent, 1);
  g_mutex_init(&a->lock);
  g_mutex_init(&a->cand_lock);
  g_queue_init(&a->pending);
  g_queue_init(&a->early);
  g_queue_init(&a->events);
  g_queue_init(&a->out);
  a->timer_deadline = UINT64_MAX;
  a->start_us = now_us();
  a->st.start_us = a->start_us;
  a->st.state = RTCSEC_ICE_STATE_NEW;
  a->nice_state = NICE_COMPONENT_STATE_DISCONNECTED;
  a->tx = g_malloc(TX_BUF_SIZE);
  rc = copy_config(a, cfg);
  if (rc != RTCSEC_OK) {
    agent_destroy(a);
    return rc;
  }
  if (cfg->context != NULL) {
    a->ctx = g_main_context_ref(cfg->context);
  } else {
    a->ctx = g_main_context_new();
    a->loop = g_main_loop_new(a->ctx, FALSE);
  }
  rc = setup_nice(a);
  if (rc == RTCSEC_OK && a->loop != NULL) {
    a->thread = g_thread_try_new("rtcsec-ice", loop_thread, a, NULL);
    if (a->thread == NULL)
      rc = RTCSEC_ERR_NO_MEMORY;
  }
  if (rc != RTCSEC_OK) {
    agent_destroy(a);
    return rc;
  }
  *out = a;
  return RTCSEC_OK;
}

void rtcsec_ice_agent_free(rtcsec_ice_agent *a) {
  if (a == NULL)
    return;
  uint64_t now = now_us();
  g_mutex_lock(&a->lock);
  /* A clean close_notify while the path may still carry it. */
  if (path_usable_locked(a) &&
      rtcsec_transport_get_state(a->transport) == RTCSEC_DTLS_STATE_CONNECTED) {
    rtcsec_transport_close(a->transport, now);
    pump_locked(a, now);
  }
  a->closing = 1;
  a->st.state = RTCSEC_ICE_STATE_CLOSED;
  g_mutex_unlock(&a->lock);
  flush(a);
  agent_destroy(a);
}

/* ---- credentials and candidates ------------------------------------------ */

int rtcsec_ice_get_local_credentials(rtcsec_ice_agent *a, char *ufrag, size_t ufrag_cap, char *pwd,
                                     size_t pwd_cap) {
  if (a == NULL || ufrag == NULL || pwd == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  gchar *u = NULL, *p = NULL;
  if (!nice_agent_get_local_credentials(a->nice, a->stream_id, &u, &p))
    return RTCSEC_ERR_INVALID_STATE;
  int rc = RTCSEC_OK;
  if (strlen(u) + 1 > ufrag_cap || strlen(p) + 1 > pwd_cap) {
    rc = RTCSEC_ERR_BUFFER_TOO_SMALL;
  } else {
    memcpy(ufrag, u, strlen(u) + 1);
    memcpy(pwd, p, strlen(p) + 1);
  }
  g_free(u);
  if (p != NULL)
    memset(p, 0, strlen(p));
  g_free(p);
  return rc;
}

/* Hands one checked candidate of generation `gen` to libnice. Called with
 * cand_lock held and the main lock not held: a restart (which takes
 * cand_lock too) cannot start between the generation check and the call,
 * so a candidate of the old generation never lands in the new one.
 * Returns RTCSEC_ERR_INVALID_STATE when libnice refuses it (counted) and
 * RTCSEC_ERR_LIMIT-free RTCSEC_OK when it is stale (dropped: its
 * generation is over). */
static int add_to_nice(rtcsec_ice_agent *a, const char *nice_sdp, unsigned gen) {
  g_mutex_lock(&a->lock);
  int stale = gen != a->generation;
  if (stale)
    a->st.remote_candidates_refused++;
  g_mutex_unlock(&a->lock);
  if (stale)
    return RTCSEC_ERR_INVALID_STATE;
  rtcsec_ice_test_candidate_pause();
  NiceCandidate *c = nice_agent_parse_remote_candidate_sdp(a->nice, a->stream_id, nice_sdp);
  int n = -1;
  if (c != NULL && rtcsec_ice_test_take_refusal()) {
    nice_candidate_free(c); /* libnice's free does not take NULL */
    c = NULL;
  }
  if (c != NULL) {
    GSList one = {c, NULL};
    n = nice_agent_set_remote_candidates(a->nice, a->stream_id, COMPONENT, &one);
    nice_candidate_free(c);
  }
  g_mutex_lock(&a->lock);
  if (n > 0)
    a->st.remote_candidates += (uint64_t)n;
  else
    a->st.remote_candidates_refused++;
  g_mutex_unlock(&a->lock);
  return n > 0 ? RTCSEC_OK : RTCSEC_ERR_INVALID_STATE;
}

/* Candidates (and end-of-candidates) held until the credentials of their
 * generation are known and gathering has started. Lock not held. */
static void apply_pending(rtcsec_ice_agent *a) {
  g_mutex_lock(&a->cand_lock);
  g_mutex_lock(&a->lock);
  if (!a->remote_creds || !a->gathering) {
    g_mutex_unlock(&a->lock);
    g_mutex_unlock(&a->cand_lock);
    return;
  }
  GQueue todo = a->pending;
  g_queue_init(&a->pending);
  int eoc = a->remote_eoc;
  a->remote_eoc = 0;
  g_mutex_unlock(&a->lock);
  pending_candidate *pc;
  while ((pc = g_queue_pop_head(&todo)) != NULL) {
    add_to_nice(a, pc->line, pc->gen); /* refusals are counted in the stats */
    pending_free(pc);
  }
  if (eoc)
    nice_agent_peer_candidate_gathering_done(a->nice, a->stream_id);
  g_mutex_unlock(&a->cand_lock);
}

int rtcsec_ice_set_remote_credentials(rtcsec_ice_agent *a, const char *ufrag, const char *pwd) {
  if (a == NULL || ufrag == NULL || pwd == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  /* RFC 8839 §5.4: ice-ufrag 4*256ice-char, ice-pwd 22*256ice-char. */
  if (!rtcsec_sdp_ice_chars_valid(ufrag, strnlen(ufrag, RTCSEC_ICE_UFRAG_MAX + 1),
                                  RTCSEC_ICE_UFRAG_MIN, RTCSEC_ICE_UFRAG_MAX) ||
      !rtcsec_sdp_ice_chars_valid(pwd, strnlen(pwd, RTCSEC_ICE_PWD_MAX + 1), RTCSEC_ICE_PWD_MIN,
                                  RTCSEC_ICE_PWD_MAX))
    return RTCSEC_ERR_PARSE;
  if (!nice_agent_set_remote_credentials(a->nice, a->stream_id, ufrag, pwd))
    return RTCSEC_ERR_INVALID_STATE;
  g_mutex_lock(&a->lock);
  a->remote_creds = 1;
  g_mutex_unlock(&a->lock);
  apply_pending(a);
  return RTCSEC_OK;
}

int rtcsec_ice_gather(rtcsec_ice_agent *a) {
  if (a == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  g_mutex_lock(&a->lock);
  if (a->gathering || a->closing) {
    g_mutex_unlock(&a->lock);
    return RTCSEC_ERR_INVALID_STATE;
  }
  a->gathering = 1;
  set_state_locked(a, RTCSEC_ICE_STATE_GATHERING);
  schedule_dispatch_locked(a);
  g_mutex_unlock(&a->lock);
  if (!nice_agent_gather_candidates(a->nice, a->stream_id)) {
    g_mutex_lock(&a->lock);
    a->gathering = 0;
    set_state_locked(a, RTCSEC_ICE_STATE_FAILED);
    schedule_dispatch_locked(a);
    g_mutex_unlock(&a->lock);
    return RTCSEC_ERR_IO;
  }
  apply_pending(a);
  return RTCSEC_OK;
}

int rtcsec_ice_add_remote_candidate(rtcsec_ice_agent *a, const char *line) {
  if (a == NULL || line == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  rtcsec_ice_candidate_line cl;
  int rc = rtcsec_ice_candidate_check(line, &cl);
  if (rc != RTCSEC_OK)
    return rc;
  g_mutex_lock(&a->cand_lock);
  g_mutex_lock(&a->lock);
  unsigned gen = a->generation;
  if (!a->remote_creds || !a->gathering) {
    /* RFC 8838 §5: candidates may come before the credentials. */
    if (g_queue_get_length(&a->pending) >= RTCSEC_ICE_MAX_PENDING_CANDIDATES) {
      rc = RTCSEC_ERR_LIMIT;
    } else {
      pending_candidate *pc = g_new0(pending_candidate, 1);
      pc->line = g_strdup(cl.nice_sdp);
      pc->gen = gen;
      g_queue_push_tail(&a->pending, pc);
    }
    g_mutex_unlock(&a->lock);
    g_mutex_unlock(&a->cand_lock);
    return rc;
  }
  g_mutex_unlock(&a->lock);
  rc = add_to_nice(a, cl.nice_sdp, gen);
  g_mutex_unlock(&a->cand_lock);
  return rc;
}

int rtcsec_ice_remote_end_of_candidates(rtcsec_ice_agent *a) {
  if (a == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  g_mutex_lock(&a->lock);
  if (!a->remote_creds || !a->gathering) {
    a->remote_eoc = 1;
    g_mutex_unlock(&a->lock);
    return RTCSEC_OK;
  }
  g_mutex_unlock(&a->lock);
  return nice_agent_peer_candidate_gathering_done(a->nice, a->stream_id) ? RTCSEC_OK
                                                                         : RTCSEC_ERR_INVALID_STATE;
}

int rtcsec_ice_restart(rtcsec_ice_agent *a) {
  if (a == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  g_mutex_lock(&a->cand_lock);
  g_mutex_lock(&a->lock);
  int ok = a->gathering && !a->closing;
  if (ok) {
    /* Candidates of the old generation are over (held ones dropped, any
     * caller still on its way refused); new ones wait for the new
     * credentials. */
    a->generation++;
    a->remote_creds = 0;
    a->remote_eoc = 0;
    a->restarting = 1;
    g_queue_clear_full(&a->pending, pending_free);
    g_queue_init(&a->pending);
  }
  g_mutex_unlock(&a->lock);
  /* RFC 8445 §9: new credentials; libnice keeps the local candidates and
   * restores consent. The transport is untouched: same DTLS association,
   * same SRTP keys. */
  ok = ok && nice_agent_restart_stream(a->nice, a->stream_id);
  g_mutex_unlock(&a->cand_lock);
  if (!ok)
    return RTCSEC_ERR_INVALID_STATE;
  g_mutex_lock(&a->lock);
  a->st.restarts++;
  g_mutex_unlock(&a->lock);
  GSList *cands = nice_agent_get_local_candidates(a->nice, a->stream_id, COMPONENT);
  for (GSList *l = cands; l != NULL; l = l->next)
    report_candidate(a, l->data);
  g_slist_free_full(cands, (GDestroyNotify)nice_candidate_free);
  g_mutex_lock(&a->lock);
  queue_simple_locked(a, RTCSEC_EVENT_GATHERING_DONE);
  schedule_dispatch_locked(a);
  g_mutex_unlock(&a->lock);
  return RTCSEC_OK;
}

/* ---- DTLS and media ------------------------------------------------------ */

int rtcsec_ice_add_peer_fingerprints(rtcsec_ice_agent *a, const rtcsec_fingerprint *fps, size_t n) {
  if (a == NULL || fps == NULL || n == 0)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  uint64_t now = now_us();
  g_mutex_lock(&a->lock);
  int rc = rtcsec_transport_add_peer_fingerprints(a->transport, fps, n, now);
  for (size_t i = 0; rc == RTCSEC_OK && i < n && a->n_peer_fps < RTCSEC_DTLS_MAX_FINGERPRINTS; i++)
    a->peer_fps[a->n_peer_fps++] = fps[i];
  pump_locked(a, now);
  g_mutex_unlock(&a->lock);
  flush(a);
  return rc;
}

int rtcsec_ice_set_dtls_role(rtcsec_ice_agent *a, rtcsec_dtls_role role) {
  if (a == NULL || (role != RTCSEC_DTLS_CLIENT && role != RTCSEC_DTLS_SERVER))
    return RTCSEC_ERR_INVALID_ARGUMENT;
  g_mutex_lock(&a->lock);
  int rc = RTCSEC_OK;
  if (a->dtls_started) {
    rc = RTCSEC_ERR_INVALID_STATE;
  } else if (a->tcfg.dtls.role != role) {
    /* Nothing has reached the transport yet (it starts with the validated
     * pair), so a new one with the other role loses nothing. */
    rtcsec_transport_config tcfg = a->tcfg;
    tcfg.dtls.role = role;
    tcfg.dtls.peer_fingerprints = a->n_peer_fps ? a->peer_fps : NULL;
    tcfg.dtls.n_peer_fingerprints = a->n_peer_fps;
    rtcsec_transport *t = NULL;
    rc = rtcsec_transport_new(&t, &tcfg);
    if (rc == RTCSEC_OK) {
      rtcsec_transport_free(a->transport);
      a->transport = t;
      a->tcfg = tcfg;
    }
  }
  g_mutex_unlock(&a->lock);
  return rc;
}

static int send_media(rtcsec_ice_agent *a, uint8_t *buf, size_t len, size_t cap, int rtcp) {
  if (a == NULL || buf == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  size_t out_len = 0;
  g_mutex_lock(&a->lock);
  int rc;
  if (a->consent_lost || a->closing) {
    rc = RTCSEC_ERR_INVALID_STATE; /* RFC 7675 §5.1: stop sending */
  } else if (!path_usable_locked(a)) {
    /* RFC 8445 §12: no media to a pair ICE has not validated (the
     * transport has no keys then either). */
    a->st.dropped_unvalidated++;
    rc = RTCSEC_ERR_SRTP_NO_KEYS;
  } else {
    uint64_t now = now_us();
    rc = rtcp ? rtcsec_transport_protect_rtcp(a->transport, buf, len, cap, &out_len, now)
              : rtcsec_transport_protect_rtp(a->transport, buf, len, cap, &out_len, now);
  }
  g_mutex_unlock(&a->lock);
  if (rc != RTCSEC_OK)
    return rc;
  if (out_len > G_MAXUINT || nice_agent_send(a->nice, a->stream_id, COMPONENT, (guint)out_len,
                                             (const gchar *)buf) != (gint)out_len) {
    g_mutex_lock(&a->lock);
    a->st.send_errors++;
    g_mutex_unlock(&a->lock);
    return RTCSEC_ERR_IO;
  }
  return RTCSEC_OK;
}

int rtcsec_ice_send_rtp(rtcsec_ice_agent *a, uint8_t *buf, size_t len, size_t cap) {
  return send_media(a, buf, len, cap, 0);
}

int rtcsec_ice_send_rtcp(rtcsec_ice_agent *a, uint8_t *buf, size_t len, size_t cap) {
  return send_media(a, buf, len, cap, 1);
}

int rtcsec_ice_send_data(rtcsec_ice_agent *a, const uint8_t *data, size_t len) {
  if (a == NULL || (data == NULL && len > 0))
    return RTCSEC_ERR_INVALID_ARGUMENT;
  uint64_t now = now_us();
  g_mutex_lock(&a->lock);
  int rc = RTCSEC_ERR_INVALID_STATE;
  if (path_usable_locked(a)) {
    rc = rtcsec_transport_send_data(a->transport, data, len, now);
    pump_locked(a, now);
  }
  g_mutex_unlock(&a->lock);
  flush(a);
  return rc;
}

int rtcsec_ice_get_stats(rtcsec_ice_agent *a, rtcsec_ice_stats *out) {
  if (a == NULL || out == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  g_mutex_lock(&a->lock);
  *out = a->st;
  guint ta = 0;
  g_object_get(a->nice, "stun-pacing-timer", &ta, NULL); /* what libnice took */
  out->check_pacing_ms = ta;
  int rc = rtcsec_transport_get_stats(a->transport, &out->transport);
  g_mutex_unlock(&a->lock);
  return rc;
}

/* ---- test hook (ice_internal.h) ------------------------------------------ */

static volatile gulong candidate_pause_us;

void rtcsec_ice_test_set_candidate_pause(unsigned long us) { candidate_pause_us = us; }

static volatile gint refuse_next;

void rtcsec_ice_test_refuse_next_candidate(void) { g_atomic_int_set(&refuse_next, 1); }

int rtcsec_ice_test_take_refusal(void) {
  return g_atomic_int_compare_and_exchange(&refuse_next, 1, 0);
}

void rtcsec_ice_test_candidate_pause(void) {
  if (candidate_pause_us > 0)
    g_usleep(candidate_pause_us);
}

void rtcsec_ice_test_vanish(rtcsec_ice_agent *a) {
  if (a == NULL)
    return;
  g_mutex_lock(&a->lock);
  a->closing = 1; /* no close_notify, no callbacks, nothing received */
  a->vanished = 1;
  g_mutex_unlock(&a->lock);
  /* Closes the stream's sockets: the peer's consent checks go unanswered
   * from now on, as if this side's process had died. */
  nice_agent_remove_stream(a->nice, a->stream_id);
}

void rtcsec_ice_test_revoke_consent(rtcsec_ice_agent *a) {
  /* RFC 7675 §5.2: libnice answers the peer's consent checks with 403 from
   * now on, until a restart. */
  if (a != NULL)
    nice_agent_consent_lost(a->nice, a->stream_id, COMPONENT);
}
