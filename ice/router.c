/* The single-port router: ICE-lite responder + per-session transports on
 * one UDP socket. See rtcsec/router.h for the contract.
 *
 * Data structures, all owned by the router:
 *   slots      session by id (slot index + generation): O(1), stale ids fail;
 *   by_ufrag   chained hash table, local ufrag -> session (STUN routing);
 *   by_addr    chained hash table, nominated address -> session (media);
 *   heap       binary min-heap of sessions keyed by their next deadline
 *              (min of consent expiry and the transport's DTLS timer);
 *   pending    doubly linked list of sessions whose transport may have
 *              datagrams to send;
 *   outq       ring of datagrams the router made itself (STUN responses,
 *              close_notify of removed sessions), bounded;
 *   evq        ring of events, DTLS data events bounded. */
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "rtcsec/error.h"
#include "rtcsec/router.h"
#include "rtcsec/stun.h"

#define SEC 1000000u
#define ICE_UFRAG_MIN 4
#define ICE_PWD_MIN 22
#define ICE_CRED_MAX 256
/* Nominating transactions remembered per session (replay check). */
#define RECENT_TIDS 4
/* Router-made datagrams up to this size are stored inline. */
#define OUT_SMALL 192
/* Events drained from one transport in one go (it queues only a few). */
#define DRAIN_MAX 64

/* ---- addresses ---------------------------------------------------------------- */

/* An address as a hash key: IPv4-mapped IPv6 is folded into IPv4, so that a
 * dual-stack socket and an IPv4 socket see the same 5-tuple. */
typedef struct addr_key {
  uint16_t family; /* AF_INET or AF_INET6 */
  uint16_t port;   /* network order */
  uint8_t ip[16];  /* 4 or 16 bytes used, rest zero */
} addr_key;

static int make_key(const struct sockaddr_storage *ss, socklen_t len, addr_key *k,
                    struct sockaddr_storage *plain, socklen_t *plain_len) {
  memset(k, 0, sizeof(*k));
  if (ss == NULL || len > (socklen_t)sizeof(*ss))
    return RTCSEC_ERR_INVALID_ARGUMENT;
  if (ss->ss_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
    const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
    k->family = AF_INET;
    k->port = sin->sin_port;
    memcpy(k->ip, &sin->sin_addr, 4);
  } else if (ss->ss_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
    const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
    k->port = sin6->sin6_port;
    if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
      k->family = AF_INET;
      memcpy(k->ip, sin6->sin6_addr.s6_addr + 12, 4);
    } else {
      k->family = AF_INET6;
      memcpy(k->ip, sin6->sin6_addr.s6_addr, 16);
    }
  } else {
    return RTCSEC_ERR_INVALID_ARGUMENT;
  }
  if (plain != NULL) {
    /* The address as the peer sees it, for XOR-MAPPED-ADDRESS. */
    memset(plain, 0, sizeof(*plain));
    if (k->family == AF_INET) {
      struct sockaddr_in *sin = (struct sockaddr_in *)plain;
      sin->sin_family = AF_INET;
      sin->sin_port = k->port;
      memcpy(&sin->sin_addr, k->ip, 4);
      *plain_len = sizeof(*sin);
    } else {
      memcpy(plain, ss, sizeof(struct sockaddr_in6));
      *plain_len = sizeof(struct sockaddr_in6);
    }
  }
  return RTCSEC_OK;
}

static int key_equal(const addr_key *a, const addr_key *b) {
  return a->family == b->family && a->port == b->port && memcmp(a->ip, b->ip, 16) == 0;
}

/* ---- hashing ------------------------------------------------------------------- */

static uint64_t mix64(uint64_t x) {
  x ^= x >> 33;
  x *= UINT64_C(0xff51afd7ed558ccd);
  x ^= x >> 33;
  x *= UINT64_C(0xc4ceb9fe1a85ec53);
  x ^= x >> 33;
  return x;
}

/* FNV-1a over the bytes from a seeded basis, finished with a 64-bit mixer. */
static uint64_t hash_bytes(uint64_t seed, const void *data, size_t len) {
  const uint8_t *p = data;
  uint64_t h = UINT64_C(0xcbf29ce484222325) ^ mix64(seed);
  for (size_t i = 0; i < len; i++) {
    h ^= p[i];
    h *= UINT64_C(0x100000001b3);
  }
  return mix64(h);
}

/* ---- sessions -------------------------------------------------------------------- */

typedef struct session session;

struct session {
  rtcsec_session_id id;
  uint32_t slot;
  void *user;

  char *ufrag; /* local, NUL-terminated */
  size_t ufrag_len;
  char *remote_ufrag; /* optional */
  size_t remote_ufrag_len;
  uint8_t *pwd; /* local password: the MESSAGE-INTEGRITY key; wiped on free */
  size_t pwd_len;
  uint64_t ufrag_hash;
  session *ufrag_next;

  rtcsec_dtls_role role;
  rtcsec_fingerprint *fps; /* until the transport exists */
  size_t n_fps;
  rtcsec_transport *t;
  int transport_error; /* the transport could not be made (sticky) */

  int has_addr;
  addr_key akey;
  uint64_t addr_hash;
  struct sockaddr_storage addr; /* as the socket gave it: where to send */
  socklen_t addr_len;
  session *addr_next;

  uint64_t consent_at; /* last valid check (or the time it was added) */
  uint64_t deadline;   /* heap key */
  size_t heap_idx;

  session *pend_prev, *pend_next;
  int pending;

  uint8_t tids[RECENT_TIDS][RTCSEC_STUN_TID_LEN]; /* nominating transactions */
  addr_key tid_addr[RECENT_TIDS];
  unsigned n_tids;

  uint64_t checks, media_in;
};

/* A chained hash table; nbuckets is a power of two, grown at load 1. */
typedef struct table {
  session **b;
  size_t nb, n;
} table;

typedef struct out_entry {
  rtcsec_session_id sid; /* 0: send even if no session has this id any more */
  struct sockaddr_storage dst;
  socklen_t dst_len;
  size_t len;
  uint8_t *big; /* owned when len > OUT_SMALL */
  uint8_t small[OUT_SMALL];
} out_entry;

typedef struct ev_entry {
  rtcsec_router_event ev;
  uint8_t *owned; /* DATA copy */
} ev_entry;

struct rtcsec_router {
  rtcsec_router_config cfg;
  rtcsec_cert *cert;
  uint64_t now; /* latest time the caller gave: for calls that take none */

  session **slots;
  uint32_t *gens;
  uint32_t *free_slots;
  size_t n_slots, cap_slots, n_free;
  size_t n_sessions;

  table by_ufrag, by_addr;

  session **heap;
  size_t heap_n, heap_cap;

  session *pend_head, *pend_tail;

  out_entry *outq;
  size_t out_head, out_n, out_cap;

  ev_entry *evq;
  size_t ev_head, ev_n, ev_cap, ev_data_n;
  uint8_t *last_data; /* data of the last DATA event handed out */

  rtcsec_router_stats stats;
};

/* ---- tables -------------------------------------------------------------------- */

static session **ufrag_link(session *s) { return &s->ufrag_next; }
static session **addr_link(session *s) { return &s->addr_next; }

typedef session **(*link_fn)(session *);

static int table_grow(table *t, link_fn link, int by_addr) {
  size_t nb = t->nb ? t->nb * 2 : 64;
  session **b = calloc(nb, sizeof(*b));
  if (b == NULL)
    return RTCSEC_ERR_NO_MEMORY;
  for (size_t i = 0; i < t->nb; i++) {
    session *s = t->b[i];
    while (s != NULL) {
      session *next = *link(s);
      uint64_t h = by_addr ? s->addr_hash : s->ufrag_hash;
      *link(s) = b[h & (nb - 1)];
      b[h & (nb - 1)] = s;
      s = next;
    }
  }
  free(t->b);
  t->b = b;
  t->nb = nb;
  return RTCSEC_OK;
}

static int table_insert(table *t, session *s, uint64_t h, link_fn link, int by_addr) {
  if (t->n + 1 > t->nb) {
    int rc = table_grow(t, link, by_addr);
    if (rc != RTCSEC_OK)
      return rc;
  }
  session **head = &t->b[h & (t->nb - 1)];
  *link(s) = *head;
  *head = s;
  t->n++;
  return RTCSEC_OK;
}

static void table_remove(table *t, session *s, uint64_t h, link_fn link) {
  if (t->nb == 0)
    return;
  for (session **pp = &t->b[h & (t->nb - 1)]; *pp != NULL; pp = link(*pp)) {
    if (*pp == s) {
      *pp = *link(s);
      *link(s) = NULL;
      t->n--;
      return;
    }
  }
}

static session *find_ufrag(const rtcsec_router *r, const uint8_t *ufrag, size_t len) {
  if (r->by_ufrag.nb == 0)
    return NULL;
  uint64_t h = hash_bytes(r->cfg.hash_seed, ufrag, len);
  for (session *s = r->by_ufrag.b[h & (r->by_ufrag.nb - 1)]; s != NULL; s = s->ufrag_next) {
    if (s->ufrag_hash == h && s->ufrag_len == len && memcmp(s->ufrag, ufrag, len) == 0)
      return s;
  }
  return NULL;
}

static session *find_addr(const rtcsec_router *r, const addr_key *k, uint64_t h) {
  if (r->by_addr.nb == 0)
    return NULL;
  for (session *s = r->by_addr.b[h & (r->by_addr.nb - 1)]; s != NULL; s = s->addr_next) {
    if (s->addr_hash == h && key_equal(&s->akey, k))
      return s;
  }
  return NULL;
}

/* ---- the deadline heap ------------------------------------------------------------ */

static void heap_set(rtcsec_router *r, size_t i, session *s) {
  r->heap[i] = s;
  s->heap_idx = i;
}

static void sift_up(rtcsec_router *r, size_t i) {
  session *s = r->heap[i];
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (r->heap[parent]->deadline <= s->deadline)
      break;
    heap_set(r, i, r->heap[parent]);
    i = parent;
  }
  heap_set(r, i, s);
}

static void sift_down(rtcsec_router *r, size_t i) {
  session *s = r->heap[i];
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= r->heap_n)
      break;
    if (c + 1 < r->heap_n && r->heap[c + 1]->deadline < r->heap[c]->deadline)
      c++;
    if (s->deadline <= r->heap[c]->deadline)
      break;
    heap_set(r, i, r->heap[c]);
    i = c;
  }
  heap_set(r, i, s);
}

static int heap_push(rtcsec_router *r, session *s) {
  if (r->heap_n == r->heap_cap) {
    size_t cap = r->heap_cap ? r->heap_cap * 2 : 64;
    session **h = realloc(r->heap, cap * sizeof(*h));
    if (h == NULL)
      return RTCSEC_ERR_NO_MEMORY;
    r->heap = h;
    r->heap_cap = cap;
  }
  heap_set(r, r->heap_n++, s);
  sift_up(r, s->heap_idx);
  return RTCSEC_OK;
}

static void heap_remove(rtcsec_router *r, session *s) {
  size_t i = s->heap_idx;
  if (i >= r->heap_n || r->heap[i] != s)
    return;
  session *last = r->heap[--r->heap_n];
  if (last != s) {
    heap_set(r, i, last);
    sift_up(r, i);
    sift_down(r, last->heap_idx);
  }
}

static uint64_t consent_expiry(const rtcsec_router *r, const session *s) {
  uint64_t t = r->cfg.consent_timeout_us;
  return s->consent_at > UINT64_MAX - t ? UINT64_MAX : s->consent_at + t;
}

/* Recomputes the session's deadline and moves it in the heap: O(log n). */
static void update_deadline(rtcsec_router *r, session *s) {
  uint64_t d = consent_expiry(r, s);
  if (s->t != NULL) {
    uint64_t td = rtcsec_transport_deadline(s->t);
    if (td < d)
      d = td;
  }
  if (d == s->deadline)
    return;
  s->deadline = d;
  sift_up(r, s->heap_idx);
  sift_down(r, s->heap_idx);
}

/* ---- the pending-output list ----------------------------------------------------- */

static void pending_add(rtcsec_router *r, session *s) {
  if (s->pending)
    return;
  s->pending = 1;
  s->pend_next = NULL;
  s->pend_prev = r->pend_tail;
  if (r->pend_tail)
    r->pend_tail->pend_next = s;
  else
    r->pend_head = s;
  r->pend_tail = s;
}

static void pending_remove(rtcsec_router *r, session *s) {
  if (!s->pending)
    return;
  if (s->pend_prev)
    s->pend_prev->pend_next = s->pend_next;
  else
    r->pend_head = s->pend_next;
  if (s->pend_next)
    s->pend_next->pend_prev = s->pend_prev;
  else
    r->pend_tail = s->pend_prev;
  s->pend_prev = s->pend_next = NULL;
  s->pending = 0;
}

/* ---- queues ------------------------------------------------------------------------ */

static int ring_grow(void **ring, size_t elem, size_t *head, size_t n, size_t *cap, size_t max) {
  if (*cap >= max)
    return RTCSEC_ERR_LIMIT;
  size_t ncap = *cap ? *cap * 2 : 16;
  if (ncap > max)
    ncap = max;
  uint8_t *nr = malloc(ncap * elem);
  if (nr == NULL)
    return RTCSEC_ERR_NO_MEMORY;
  const uint8_t *old = *ring;
  for (size_t i = 0; i < n; i++)
    memcpy(nr + i * elem, old + ((*head + i) % *cap) * elem, elem);
  free(*ring);
  *ring = nr;
  *head = 0;
  *cap = ncap;
  return RTCSEC_OK;
}

static int out_push(rtcsec_router *r, rtcsec_session_id sid, const uint8_t *data, size_t len,
                    const struct sockaddr_storage *dst, socklen_t dst_len) {
  if (r->out_n == r->out_cap) {
    void *ring = r->outq;
    int rc = ring_grow(&ring, sizeof(out_entry), &r->out_head, r->out_n, &r->out_cap,
                       r->cfg.max_queued_datagrams);
    r->outq = ring;
    if (rc != RTCSEC_OK) {
      r->stats.drop_queue_full++;
      return RTCSEC_ERR_LIMIT;
    }
  }
  out_entry *e = &r->outq[(r->out_head + r->out_n) % r->out_cap];
  e->big = NULL;
  if (len > OUT_SMALL) {
    e->big = malloc(len);
    if (e->big == NULL)
      return RTCSEC_ERR_NO_MEMORY;
    memcpy(e->big, data, len);
  } else {
    memcpy(e->small, data, len);
  }
  e->sid = sid;
  e->len = len;
  memcpy(&e->dst, dst, dst_len);
  e->dst_len = dst_len;
  r->out_n++;
  return RTCSEC_OK;
}

static int ev_push(rtcsec_router *r, const rtcsec_router_event *ev, const uint8_t *data,
                   size_t data_len) {
  if (ev->type == RTCSEC_ROUTER_EVENT_DATA && r->ev_data_n >= r->cfg.max_queued_data_events) {
    r->stats.drop_queue_full++;
    return RTCSEC_ERR_LIMIT;
  }
  if (r->ev_n == r->ev_cap) {
    void *ring = r->evq;
    int rc = ring_grow(&ring, sizeof(ev_entry), &r->ev_head, r->ev_n, &r->ev_cap, SIZE_MAX / 2);
    r->evq = ring;
    if (rc != RTCSEC_OK) {
      r->stats.drop_queue_full++;
      return rc;
    }
  }
  ev_entry *e = &r->evq[(r->ev_head + r->ev_n) % r->ev_cap];
  e->ev = *ev;
  e->owned = NULL;
  if (ev->type == RTCSEC_ROUTER_EVENT_DATA) {
    e->owned = malloc(data_len ? data_len : 1);
    if (e->owned == NULL)
      return RTCSEC_ERR_NO_MEMORY;
    if (data_len)
      memcpy(e->owned, data, data_len);
    e->ev.data = NULL;
    e->ev.data_len = data_len;
    r->ev_data_n++;
  }
  r->ev_n++;
  return RTCSEC_OK;
}

static void ev_init(rtcsec_router_event *ev, rtcsec_router_event_type type, const session *s) {
  memset(ev, 0, sizeof(*ev));
  ev->type = type;
  ev->session = s->id;
  ev->user = s->user;
  ev->alert = -1;
  if (s->has_addr) {
    memcpy(&ev->addr, &s->addr, s->addr_len);
    ev->addr_len = s->addr_len;
  }
}

/* Moves the transport's events into the router's queue, marks its output
 * pending and re-keys it in the heap. Called after every transport call. */
static void after_transport(rtcsec_router *r, session *s) {
  if (s->t == NULL)
    return;
  for (int i = 0; i < DRAIN_MAX; i++) {
    rtcsec_transport_event tev;
    if (rtcsec_transport_poll_event(s->t, &tev) != RTCSEC_OK ||
        tev.type == RTCSEC_TRANSPORT_EVENT_NONE)
      break;
    rtcsec_router_event ev;
    switch (tev.type) {
    case RTCSEC_TRANSPORT_EVENT_CONNECTED:
      ev_init(&ev, RTCSEC_ROUTER_EVENT_CONNECTED, s);
      ev.profile = tev.profile;
      ev.peer_fingerprint = tev.peer_fingerprint;
      ev_push(r, &ev, NULL, 0);
      break;
    case RTCSEC_TRANSPORT_EVENT_DATA:
      ev_init(&ev, RTCSEC_ROUTER_EVENT_DATA, s);
      ev_push(r, &ev, tev.data, tev.data_len);
      break;
    case RTCSEC_TRANSPORT_EVENT_CLOSED:
      ev_init(&ev, RTCSEC_ROUTER_EVENT_CLOSED, s);
      ev_push(r, &ev, NULL, 0);
      break;
    case RTCSEC_TRANSPORT_EVENT_FAILED:
    default:
      ev_init(&ev, RTCSEC_ROUTER_EVENT_FAILED, s);
      ev.error = tev.error;
      ev.alert = tev.alert;
      ev.alert_from_peer = tev.alert_from_peer;
      ev_push(r, &ev, NULL, 0);
      break;
    }
  }
  pending_add(r, s);
  update_deadline(r, s);
}

/* ---- session lifecycle -------------------------------------------------------------- */

static session *lookup(const rtcsec_router *r, rtcsec_session_id id) {
  uint32_t slot = (uint32_t)id, gen = (uint32_t)(id >> 32);
  if (id == 0 || slot >= r->n_slots || r->gens[slot] != gen)
    return NULL;
  return r->slots[slot];
}

static void clear_addr(rtcsec_router *r, session *s) {
  if (!s->has_addr)
    return;
  table_remove(&r->by_addr, s, s->addr_hash, addr_link);
  s->has_addr = 0;
  r->stats.nominated--;
}

static void destroy_session(rtcsec_router *r, session *s) {
  table_remove(&r->by_ufrag, s, s->ufrag_hash, ufrag_link);
  clear_addr(r, s);
  heap_remove(r, s);
  pending_remove(r, s);
  if (s->t != NULL) {
    rtcsec_transport_free(s->t);
    r->stats.transports--;
  }
  /* The next id of this slot differs: stale ids find nothing. */
  r->slots[s->slot] = NULL;
  r->gens[s->slot]++;
  if (r->gens[s->slot] == 0)
    r->gens[s->slot] = 1;
  r->free_slots[r->n_free++] = s->slot;
  r->n_sessions--;
  r->stats.sessions = r->n_sessions;
  OPENSSL_cleanse(s->pwd, s->pwd_len);
  free(s->pwd);
  free(s->ufrag);
  free(s->remote_ufrag);
  free(s->fps);
  free(s);
}

/* RFC 7675 §5.1: consent is gone; stop sending at once (no close_notify),
 * forget the session, tell the application. */
static void expire(rtcsec_router *r, session *s) {
  rtcsec_router_event ev;
  ev_init(&ev, RTCSEC_ROUTER_EVENT_EXPIRED, s);
  ev.error = RTCSEC_ERR_CONSENT_EXPIRED;
  ev_push(r, &ev, NULL, 0);
  r->stats.sessions_expired++;
  destroy_session(r, s);
}

static int consent_gone(const rtcsec_router *r, const session *s, uint64_t now) {
  return now >= consent_expiry(r, s);
}

static int make_transport(rtcsec_router *r, session *s, uint64_t now) {
  if (s->t != NULL)
    return RTCSEC_OK;
  if (s->transport_error != RTCSEC_OK)
    return s->transport_error;
  rtcsec_transport_config cfg = r->cfg.transport;
  cfg.dtls.role = s->role;
  cfg.dtls.peer_fingerprints = s->fps;
  cfg.dtls.n_peer_fingerprints = s->n_fps;
  int rc = rtcsec_transport_new(&s->t, &cfg);
  if (rc != RTCSEC_OK) {
    s->t = NULL;
    s->transport_error = rc;
    rtcsec_router_event ev;
    ev_init(&ev, RTCSEC_ROUTER_EVENT_FAILED, s);
    ev.error = rc;
    ev_push(r, &ev, NULL, 0);
    return rc;
  }
  r->stats.transports++;
  /* The transport has its own copy now. */
  free(s->fps);
  s->fps = NULL;
  s->n_fps = 0;
  if (s->role == RTCSEC_DTLS_CLIENT)
    rtcsec_transport_start(s->t, now);
  after_transport(r, s);
  return RTCSEC_OK;
}

static int ice_chars(const char *p, size_t min, size_t *len) {
  if (p == NULL)
    return 0;
  size_t n = strnlen(p, ICE_CRED_MAX + 1);
  if (n < min || n > ICE_CRED_MAX)
    return 0;
  /* RFC 8445 §5.3: ice-char = ALPHA / DIGIT / "+" / "/" */
  for (size_t i = 0; i < n; i++) {
    char c = p[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' ||
          c == '/'))
      return 0;
  }
  *len = n;
  return 1;
}

static char *dup_n(const char *p, size_t n) {
  char *d = malloc(n + 1);
  if (d != NULL) {
    memcpy(d, p, n);
    d[n] = '\0';
  }
  return d;
}

/* ---- public: lifecycle ------------------------------------------------------------- */

void rtcsec_router_config_default(rtcsec_router_config *cfg) {
  if (cfg == NULL)
    return;
  memset(cfg, 0, sizeof(*cfg));
  rtcsec_transport_config_default(&cfg->transport);
  cfg->consent_timeout_us = 30 * (uint64_t)SEC;
  cfg->max_sessions = 100000;
  cfg->max_queued_datagrams = 4096;
  cfg->max_queued_data_events = 1024;
}

int rtcsec_router_new(rtcsec_router **out, const rtcsec_router_config *cfg) {
  if (out == NULL || cfg == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  *out = NULL;
  if (cfg->transport.dtls.cert == NULL || cfg->consent_timeout_us == 0 || cfg->max_sessions == 0 ||
      cfg->max_sessions > UINT32_MAX - 1 || cfg->max_queued_datagrams == 0 ||
      cfg->max_queued_data_events == 0)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  /* Catch a bad transport template now rather than at the first peer. */
  rtcsec_transport_config probe = cfg->transport;
  probe.dtls.peer_fingerprints = NULL;
  probe.dtls.n_peer_fingerprints = 0;
  rtcsec_transport *t = NULL;
  int rc = rtcsec_transport_new(&t, &probe);
  if (rc != RTCSEC_OK)
    return rc;
  rtcsec_transport_free(t);

  rtcsec_router *r = calloc(1, sizeof(*r));
  if (r == NULL)
    return RTCSEC_ERR_NO_MEMORY;
  r->cfg = *cfg;
  r->cfg.transport.dtls.peer_fingerprints = NULL;
  r->cfg.transport.dtls.n_peer_fingerprints = 0;
  r->cert = rtcsec_cert_ref(cfg->transport.dtls.cert);
  r->cfg.transport.dtls.cert = r->cert;
  *out = r;
  return RTCSEC_OK;
}

void rtcsec_router_free(rtcsec_router *r) {
  if (r == NULL)
    return;
  for (size_t i = 0; i < r->n_slots; i++) {
    if (r->slots[i] != NULL)
      destroy_session(r, r->slots[i]);
  }
  for (size_t i = 0; i < r->out_n; i++)
    free(r->outq[(r->out_head + i) % r->out_cap].big);
  for (size_t i = 0; i < r->ev_n; i++)
    free(r->evq[(r->ev_head + i) % r->ev_cap].owned);
  free(r->last_data);
  free(r->outq);
  free(r->evq);
  free(r->slots);
  free(r->gens);
  free(r->free_slots);
  free(r->by_ufrag.b);
  free(r->by_addr.b);
  free(r->heap);
  rtcsec_cert_free(r->cert);
  free(r);
}

void rtcsec_router_session_config_default(rtcsec_router_session_config *cfg) {
  if (cfg == NULL)
    return;
  memset(cfg, 0, sizeof(*cfg));
  cfg->role = RTCSEC_DTLS_SERVER;
}

static int take_slot(rtcsec_router *r, uint32_t *slot) {
  if (r->n_free > 0) {
    *slot = r->free_slots[--r->n_free];
    return RTCSEC_OK;
  }
  if (r->n_slots == r->cap_slots) {
    size_t cap = r->cap_slots ? r->cap_slots * 2 : 64;
    session **ns = realloc(r->slots, cap * sizeof(*ns));
    if (ns == NULL)
      return RTCSEC_ERR_NO_MEMORY;
    r->slots = ns;
    uint32_t *ng = realloc(r->gens, cap * sizeof(*ng));
    if (ng == NULL)
      return RTCSEC_ERR_NO_MEMORY;
    r->gens = ng;
    uint32_t *nf = realloc(r->free_slots, cap * sizeof(*nf));
    if (nf == NULL)
      return RTCSEC_ERR_NO_MEMORY;
    r->free_slots = nf;
    r->cap_slots = cap;
  }
  *slot = (uint32_t)r->n_slots;
  r->slots[*slot] = NULL;
  r->gens[*slot] = 1;
  r->n_slots++;
  return RTCSEC_OK;
}

int rtcsec_router_add_session(rtcsec_router *r, const rtcsec_router_session_config *cfg,
                              uint64_t now, rtcsec_session_id *id) {
  if (r == NULL || cfg == NULL || id == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  *id = 0;
  size_t ulen = 0, plen = 0, rlen = 0;
  if (!ice_chars(cfg->local_ufrag, ICE_UFRAG_MIN, &ulen) ||
      !ice_chars(cfg->local_pwd, ICE_PWD_MIN, &plen) ||
      (cfg->remote_ufrag != NULL && !ice_chars(cfg->remote_ufrag, ICE_UFRAG_MIN, &rlen)) ||
      (cfg->role != RTCSEC_DTLS_CLIENT && cfg->role != RTCSEC_DTLS_SERVER) ||
      cfg->n_remote_fingerprints > RTCSEC_DTLS_MAX_FINGERPRINTS ||
      (cfg->n_remote_fingerprints > 0 && cfg->remote_fingerprints == NULL))
    return RTCSEC_ERR_INVALID_ARGUMENT;
  if (find_ufrag(r, (const uint8_t *)cfg->local_ufrag, ulen) != NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  if (r->n_sessions >= r->cfg.max_sessions)
    return RTCSEC_ERR_LIMIT;

  session *s = calloc(1, sizeof(*s));
  if (s == NULL)
    return RTCSEC_ERR_NO_MEMORY;
  s->ufrag = dup_n(cfg->local_ufrag, ulen);
  s->pwd = (uint8_t *)dup_n(cfg->local_pwd, plen);
  s->remote_ufrag = cfg->remote_ufrag ? dup_n(cfg->remote_ufrag, rlen) : NULL;
  if (cfg->n_remote_fingerprints > 0) {
    s->fps = malloc(cfg->n_remote_fingerprints * sizeof(*s->fps));
    if (s->fps != NULL)
      memcpy(s->fps, cfg->remote_fingerprints, cfg->n_remote_fingerprints * sizeof(*s->fps));
  }
  if (s->ufrag == NULL || s->pwd == NULL || (cfg->remote_ufrag && s->remote_ufrag == NULL) ||
      (cfg->n_remote_fingerprints > 0 && s->fps == NULL)) {
    free(s->ufrag);
    if (s->pwd != NULL)
      OPENSSL_cleanse(s->pwd, plen);
    free(s->pwd);
    free(s->remote_ufrag);
    free(s->fps);
    free(s);
    return RTCSEC_ERR_NO_MEMORY;
  }
  s->ufrag_len = ulen;
  s->pwd_len = plen;
  s->remote_ufrag_len = rlen;
  s->n_fps = cfg->n_remote_fingerprints;
  s->role = cfg->role;
  s->user = cfg->user;
  s->ufrag_hash = hash_bytes(r->cfg.hash_seed, s->ufrag, ulen);
  s->consent_at = now;
  s->deadline = consent_expiry(r, s);

  uint32_t slot = 0;
  int rc = take_slot(r, &slot);
  if (rc == RTCSEC_OK) {
    rc = table_insert(&r->by_ufrag, s, s->ufrag_hash, ufrag_link, 0);
    if (rc == RTCSEC_OK) {
      rc = heap_push(r, s);
      if (rc != RTCSEC_OK)
        table_remove(&r->by_ufrag, s, s->ufrag_hash, ufrag_link);
    }
    if (rc != RTCSEC_OK)
      r->free_slots[r->n_free++] = slot;
  }
  if (rc != RTCSEC_OK) {
    OPENSSL_cleanse(s->pwd, s->pwd_len);
    free(s->ufrag);
    free(s->pwd);
    free(s->remote_ufrag);
    free(s->fps);
    free(s);
    return rc;
  }
  s->slot = slot;
  s->id = (uint64_t)r->gens[slot] << 32 | slot;
  r->slots[slot] = s;
  r->n_sessions++;
  r->stats.sessions = r->n_sessions;
  r->stats.sessions_added++;
  *id = s->id;
  return RTCSEC_OK;
}

int rtcsec_router_remove_session(rtcsec_router *r, rtcsec_session_id id, uint64_t now) {
  session *s = r ? lookup(r, id) : NULL;
  if (s == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  if (s->t != NULL && s->has_addr && !consent_gone(r, s, now) &&
      rtcsec_transport_get_state(s->t) == RTCSEC_DTLS_STATE_CONNECTED) {
    /* A polite close_notify; queued without a session id, since the
     * session is gone when it is sent. */
    rtcsec_transport_close(s->t, now);
    uint8_t buf[2048];
    for (int i = 0; i < DRAIN_MAX; i++) {
      size_t n = 0;
      if (rtcsec_transport_poll_datagram(s->t, buf, sizeof(buf), &n) != RTCSEC_OK || n == 0)
        break;
      out_push(r, 0, buf, n, &s->addr, s->addr_len);
    }
  }
  r->stats.sessions_removed++;
  destroy_session(r, s);
  return RTCSEC_OK;
}

int rtcsec_router_add_remote_fingerprint(rtcsec_router *r, rtcsec_session_id id,
                                         const rtcsec_fingerprint *fp, uint64_t now) {
  session *s = r ? lookup(r, id) : NULL;
  if (s == NULL || fp == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  if (s->t != NULL) {
    int rc = rtcsec_transport_add_peer_fingerprint(s->t, fp, now);
    after_transport(r, s);
    return rc;
  }
  if (s->n_fps >= RTCSEC_DTLS_MAX_FINGERPRINTS)
    return RTCSEC_ERR_LIMIT;
  if (rtcsec_hash_len(fp->hash) == 0 || fp->len != rtcsec_hash_len(fp->hash))
    return RTCSEC_ERR_INVALID_ARGUMENT;
  rtcsec_fingerprint *n = realloc(s->fps, (s->n_fps + 1) * sizeof(*n));
  if (n == NULL)
    return RTCSEC_ERR_NO_MEMORY;
  n[s->n_fps++] = *fp;
  s->fps = n;
  return RTCSEC_OK;
}

/* ---- ICE-lite: Binding requests --------------------------------------------------- */

/* Queues an error response. With a key it carries MESSAGE-INTEGRITY (the
 * request was authenticated); without, only FINGERPRINT. */
static int send_error(rtcsec_router *r, const session *s, const rtcsec_stun_msg *m, int code,
                      const char *reason, const struct sockaddr_storage *src, socklen_t src_len) {
  uint8_t buf[OUT_SMALL];
  rtcsec_stun_builder b;
  rtcsec_stun_builder_init(&b, buf, sizeof(buf), RTCSEC_STUN_BINDING, RTCSEC_STUN_ERROR, m->tid);
  rtcsec_stun_add_error_code(&b, code, reason);
  if (code == RTCSEC_STUN_ERR_UNKNOWN_ATTRIBUTE) {
    size_t n = m->n_unknown < RTCSEC_STUN_MAX_UNKNOWN ? m->n_unknown : RTCSEC_STUN_MAX_UNKNOWN;
    rtcsec_stun_add_unknown_attributes(&b, m->unknown, n);
  }
  if (s != NULL)
    rtcsec_stun_add_integrity(&b, s->pwd, s->pwd_len);
  rtcsec_stun_add_fingerprint(&b);
  size_t len = 0;
  int rc = rtcsec_stun_builder_finish(&b, &len);
  if (rc != RTCSEC_OK)
    return rc;
  rc = out_push(r, s ? s->id : 0, buf, len, src, src_len);
  if (rc == RTCSEC_OK)
    r->stats.stun_errors_sent++;
  return rc;
}

static void unauthenticated(rtcsec_router *r, const rtcsec_stun_msg *m, int code,
                            const char *reason, const struct sockaddr_storage *src,
                            socklen_t src_len) {
  if (r->cfg.reply_unauthenticated)
    send_error(r, NULL, m, code, reason, src, src_len);
}

/* A nominating request seen before from another address is a replay: the
 * source address is not covered by MESSAGE-INTEGRITY, so a captured
 * USE-CANDIDATE request re-sent from elsewhere must not move the session. */
/* Index of the transaction id among the recent nominating ones, -1 if new. */
static int tid_index(const session *s, const rtcsec_stun_msg *m) {
  unsigned n = s->n_tids < RECENT_TIDS ? s->n_tids : RECENT_TIDS;
  for (unsigned i = 0; i < n; i++) {
    if (memcmp(s->tids[i], m->tid, RTCSEC_STUN_TID_LEN) == 0)
      return (int)i;
  }
  return -1;
}

/* A nominating request seen before from another address: a replay. */
static int replayed(const session *s, const rtcsec_stun_msg *m, const addr_key *k) {
  int i = tid_index(s, m);
  return i >= 0 && !key_equal(&s->tid_addr[i], k);
}

static void remember_tid(session *s, const rtcsec_stun_msg *m, const addr_key *k) {
  unsigned i = s->n_tids % RECENT_TIDS;
  memcpy(s->tids[i], m->tid, RTCSEC_STUN_TID_LEN);
  s->tid_addr[i] = *k;
  s->n_tids++;
}

/* USE-CANDIDATE: the 5-tuple becomes the session's (RFC 8445 §7.3.1.5);
 * a different one moves it. */
static void nominate(rtcsec_router *r, session *s, const addr_key *k, uint64_t h,
                     const struct sockaddr_storage *src, socklen_t src_len, uint64_t now) {
  if (s->has_addr && key_equal(&s->akey, k))
    return;
  session *other = find_addr(r, k, h);
  if (other != NULL && other != s) {
    /* The address now belongs to whoever proved the credentials last. */
    clear_addr(r, other);
    r->stats.address_takeovers++;
  }
  int moved = s->has_addr;
  clear_addr(r, s);
  s->akey = *k;
  s->addr_hash = h;
  memset(&s->addr, 0, sizeof(s->addr));
  memcpy(&s->addr, src, src_len);
  s->addr_len = src_len;
  if (table_insert(&r->by_addr, s, h, addr_link, 1) != RTCSEC_OK)
    return; /* out of memory: stays unnominated, the peer will retry */
  s->has_addr = 1;
  r->stats.nominated++;
  r->stats.nominations++;
  if (moved)
    r->stats.moves++;
  rtcsec_router_event ev;
  ev_init(&ev, RTCSEC_ROUTER_EVENT_NOMINATED, s);
  ev.moved = moved;
  ev_push(r, &ev, NULL, 0);
  if (s->role == RTCSEC_DTLS_CLIENT && s->t == NULL)
    make_transport(r, s, now);
  else if (s->t != NULL)
    pending_add(r, s); /* anything queued goes to the new address */
}

static int handle_stun(rtcsec_router *r, const uint8_t *buf, size_t len,
                       const struct sockaddr_storage *src, socklen_t src_len, const addr_key *k,
                       uint64_t h, const struct sockaddr_storage *plain, socklen_t plain_len,
                       uint64_t now, rtcsec_router_input *in) {
  rtcsec_stun_msg m;
  int rc = rtcsec_stun_parse(&m, buf, len);
  if (rc == RTCSEC_ERR_STUN_FINGERPRINT) {
    r->stats.stun_bad_fingerprint++;
    return rc;
  }
  if (rc != RTCSEC_OK) {
    /* RFC 8489 §6.3: a message that fails the basic checks is discarded. */
    r->stats.stun_malformed++;
    return RTCSEC_ERR_STUN_MALFORMED;
  }
  if (m.cls != RTCSEC_STUN_REQUEST || m.method != RTCSEC_STUN_BINDING) {
    /* Indications (RFC 8445 §11 keepalives) need no answer; a lite agent
     * sends no requests, so any response is unsolicited. */
    r->stats.stun_ignored++;
    return RTCSEC_ERR_STUN_IGNORED;
  }
  r->stats.stun_requests++;
  /* RFC 8445 §7.2.2: connectivity checks carry FINGERPRINT. */
  if (!(m.present & RTCSEC_STUN_HAS_FINGERPRINT)) {
    r->stats.stun_bad_fingerprint++;
    return RTCSEC_ERR_STUN_FINGERPRINT;
  }
  /* RFC 8489 §9.1.3: no MESSAGE-INTEGRITY or no USERNAME: 400. */
  if (!(m.present & RTCSEC_STUN_HAS_INTEGRITY) || !(m.present & RTCSEC_STUN_HAS_USERNAME)) {
    r->stats.stun_bad_request++;
    unauthenticated(r, &m, RTCSEC_STUN_ERR_BAD_REQUEST, "Bad Request", src, src_len);
    return RTCSEC_ERR_STUN_BAD_REQUEST;
  }
  /* RFC 8445 §7.2.2: USERNAME is "<receiver's ufrag>:<sender's ufrag>". */
  const uint8_t *colon = memchr(m.username, ':', m.username_len);
  session *s = NULL;
  if (colon != NULL && colon > m.username)
    s = find_ufrag(r, m.username, (size_t)(colon - m.username));
  if (s != NULL && s->remote_ufrag != NULL) {
    size_t rest = m.username_len - (size_t)(colon + 1 - m.username);
    if (rest != s->remote_ufrag_len || memcmp(colon + 1, s->remote_ufrag, rest) != 0)
      s = NULL;
  }
  if (s != NULL && consent_gone(r, s, now)) {
    expire(r, s);
    s = NULL;
  }
  if (s == NULL) {
    r->stats.stun_unknown_user++;
    unauthenticated(r, &m, RTCSEC_STUN_ERR_UNAUTHENTICATED, "Unauthenticated", src, src_len);
    return RTCSEC_ERR_STUN_UNKNOWN_USER;
  }
  /* RFC 8489 §9.1.3: HMAC keyed by the local password (short-term
   * credentials, RFC 8445 §7.2.2); compared in constant time. */
  rc = rtcsec_stun_check_integrity(&m, s->pwd, s->pwd_len);
  if (rc != RTCSEC_OK) {
    r->stats.stun_bad_integrity++;
    unauthenticated(r, &m, RTCSEC_STUN_ERR_UNAUTHENTICATED, "Unauthenticated", src, src_len);
    return RTCSEC_ERR_STUN_INTEGRITY;
  }
  /* Authenticated from here on: errors carry MESSAGE-INTEGRITY. */
  in->session = s->id;
  in->user = s->user;
  if (m.n_unknown > 0) {
    /* RFC 8489 §6.3.1: unknown comprehension-required attributes: 420. */
    r->stats.stun_unknown_attribute++;
    send_error(r, s, &m, RTCSEC_STUN_ERR_UNKNOWN_ATTRIBUTE, "Unknown Attribute", src, src_len);
    return RTCSEC_ERR_STUN_UNKNOWN_ATTRIBUTE;
  }
  int controlling = (m.present & RTCSEC_STUN_HAS_ICE_CONTROLLING) != 0;
  int controlled = (m.present & RTCSEC_STUN_HAS_ICE_CONTROLLED) != 0;
  if (controlling && controlled) {
    r->stats.stun_bad_request++;
    send_error(r, s, &m, RTCSEC_STUN_ERR_BAD_REQUEST, "Bad Request", src, src_len);
    return RTCSEC_ERR_STUN_BAD_REQUEST;
  }
  if (controlled) {
    /* RFC 8445 §7.3.1.1: we are controlled and so is the peer. A lite agent
     * never takes the controlling role (§6.1.1), so it answers 487 whatever
     * the tie-breakers, and keeps its role. */
    r->stats.stun_role_conflicts++;
    send_error(r, s, &m, RTCSEC_STUN_ERR_ROLE_CONFLICT, "Role Conflict", src, src_len);
    return RTCSEC_ERR_STUN_ROLE_CONFLICT;
  }
  int use_candidate = (m.present & RTCSEC_STUN_HAS_USE_CANDIDATE) != 0;
  if (use_candidate && replayed(s, &m, k)) {
    r->stats.stun_replays++;
    r->stats.stun_ignored++;
    return RTCSEC_ERR_STUN_IGNORED;
  }

  /* RFC 8445 §7.3.1.2, RFC 8489 §6.3.1.1: success response from the address
   * the request came to, XOR-MAPPED-ADDRESS = the request's source. */
  uint8_t out[OUT_SMALL];
  rtcsec_stun_builder b;
  rtcsec_stun_builder_init(&b, out, sizeof(out), RTCSEC_STUN_BINDING, RTCSEC_STUN_SUCCESS, m.tid);
  rtcsec_stun_add_xor_address(&b, RTCSEC_STUN_ATTR_XOR_MAPPED_ADDRESS,
                              (const struct sockaddr *)plain, plain_len);
  rtcsec_stun_add_integrity(&b, s->pwd, s->pwd_len);
  rtcsec_stun_add_fingerprint(&b);
  size_t out_len = 0;
  rc = rtcsec_stun_builder_finish(&b, &out_len);
  if (rc == RTCSEC_OK) {
    rc = out_push(r, s->id, out, out_len, src, src_len);
    if (rc == RTCSEC_OK)
      r->stats.stun_responses++;
  }
  s->checks++;
  /* RFC 7675: consent is per 5-tuple. Once nominated, only checks on the
   * nominated address (or one that moves the session) refresh it. */
  int same = s->has_addr && key_equal(&s->akey, k);
  if (!s->has_addr || same || use_candidate) {
    s->consent_at = now;
    update_deadline(r, s);
  }
  if (use_candidate) {
    /* Retransmissions of a known one must not push other ids out. */
    if (tid_index(s, &m) < 0)
      remember_tid(s, &m, k);
    nominate(r, s, k, h, src, src_len, now);
  }
  return rc;
}

/* ---- public: the datagram path ------------------------------------------------------ */

int rtcsec_router_handle_datagram(rtcsec_router *r, uint8_t *buf, size_t len,
                                  const struct sockaddr_storage *src, socklen_t src_len,
                                  uint64_t now, rtcsec_router_input *in) {
  if (r == NULL || in == NULL || (buf == NULL && len > 0))
    return RTCSEC_ERR_INVALID_ARGUMENT;
  if (now > r->now)
    r->now = now;
  memset(in, 0, sizeof(*in));
  addr_key k;
  if (make_key(src, src_len, &k, NULL, NULL) != RTCSEC_OK)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  /* Where to send back: the address as the socket gave it, at its exact
   * size (a caller may pass sizeof(struct sockaddr_storage)). */
  src_len = src->ss_family == AF_INET ? (socklen_t)sizeof(struct sockaddr_in)
                                      : (socklen_t)sizeof(struct sockaddr_in6);
  r->stats.datagrams_in++;
  uint64_t h = hash_bytes(r->cfg.hash_seed, &k, sizeof(k));
  in->kind = rtcsec_demux_classify(buf, len);
  if (in->kind == RTCSEC_PKT_STUN) {
    /* The address as the peer sees it (XOR-MAPPED-ADDRESS): STUN only,
     * not built for every media packet. */
    struct sockaddr_storage plain;
    socklen_t plain_len = 0;
    make_key(src, src_len, &k, &plain, &plain_len);
    return handle_stun(r, buf, len, src, src_len, &k, h, &plain, plain_len, now, in);
  }

  /* Everything else only from a nominated address, and before any work. */
  session *s = find_addr(r, &k, h);
  if (s != NULL && consent_gone(r, s, now)) {
    expire(r, s);
    s = NULL;
  }
  if (s == NULL) {
    r->stats.drop_unknown_source++;
    return RTCSEC_ERR_UNKNOWN_SOURCE;
  }
  in->session = s->id;
  in->user = s->user;
  rtcsec_transport_input tin;
  int rc;
  switch (in->kind) {
  case RTCSEC_PKT_DTLS:
    r->stats.dtls_in++;
    /* The association is created by the first DTLS datagram from the
     * nominated address (server role; a client made it at nomination). */
    rc = make_transport(r, s, now);
    if (rc != RTCSEC_OK)
      return rc;
    rc = rtcsec_transport_handle_datagram(s->t, buf, len, now, &tin);
    after_transport(r, s);
    return rc;
  case RTCSEC_PKT_RTP:
  case RTCSEC_PKT_RTCP:
    r->stats.media_in++;
    s->media_in++;
    if (s->t == NULL) {
      r->stats.media_dropped++;
      return RTCSEC_ERR_SRTP_NO_KEYS;
    }
    rc = rtcsec_transport_handle_datagram(s->t, buf, len, now, &tin);
    if (rc != RTCSEC_OK) {
      r->stats.media_dropped++;
      return rc;
    }
    in->len = tin.len;
    r->stats.media_delivered++;
    return RTCSEC_OK;
  case RTCSEC_PKT_ZRTP:
  case RTCSEC_PKT_TURN_CHANNEL:
    return RTCSEC_ERR_UNSUPPORTED;
  case RTCSEC_PKT_UNKNOWN:
  default:
    return RTCSEC_ERR_DEMUX_UNKNOWN;
  }
}

int rtcsec_router_handle_timeout(rtcsec_router *r, uint64_t now) {
  if (r == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  if (now > r->now)
    r->now = now;
  /* Each session at most once per call, even if its timer did not move. */
  size_t budget = r->heap_n;
  while (budget-- > 0 && r->heap_n > 0 && r->heap[0]->deadline <= now) {
    session *s = r->heap[0];
    if (consent_gone(r, s, now)) {
      expire(r, s);
      continue;
    }
    if (s->t != NULL && rtcsec_transport_deadline(s->t) <= now) {
      rtcsec_transport_handle_timeout(s->t, now);
      after_transport(r, s);
    } else {
      update_deadline(r, s);
    }
  }
  return RTCSEC_OK;
}

uint64_t rtcsec_router_deadline(const rtcsec_router *r) {
  if (r == NULL || r->heap_n == 0)
    return UINT64_MAX;
  return r->heap[0]->deadline;
}

int rtcsec_router_poll_datagram(rtcsec_router *r, uint8_t *buf, size_t cap, size_t *len,
                                struct sockaddr_storage *dst, socklen_t *dst_len,
                                rtcsec_session_id *session_out) {
  if (r == NULL || buf == NULL || len == NULL || dst == NULL || dst_len == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  *len = 0;
  if (session_out)
    *session_out = 0;
  /* The router's own datagrams first: answers to checks are what lets a
   * peer's ICE go on. Those of sessions gone since are not sent. */
  while (r->out_n > 0) {
    out_entry *e = &r->outq[r->out_head];
    if (e->sid != 0 && lookup(r, e->sid) == NULL) {
      free(e->big);
      r->out_head = (r->out_head + 1) % r->out_cap;
      r->out_n--;
      continue;
    }
    if (cap < e->len)
      return RTCSEC_ERR_BUFFER_TOO_SMALL;
    memcpy(buf, e->big ? e->big : e->small, e->len);
    *len = e->len;
    memcpy(dst, &e->dst, e->dst_len);
    *dst_len = e->dst_len;
    if (session_out)
      *session_out = e->sid;
    free(e->big);
    r->out_head = (r->out_head + 1) % r->out_cap;
    r->out_n--;
    r->stats.datagrams_out++;
    return RTCSEC_OK;
  }
  /* Then the DTLS flights of sessions, straight into the caller's buffer. */
  while (r->pend_head != NULL) {
    session *s = r->pend_head;
    if (s->t == NULL || !s->has_addr) {
      pending_remove(r, s); /* kept by the transport until an address exists */
      continue;
    }
    /* RFC 7675 §5.1: nothing more to an address whose consent ran out,
     * even before the next handle_timeout() notices. */
    if (consent_gone(r, s, r->now)) {
      expire(r, s);
      continue;
    }
    size_t n = 0;
    int rc = rtcsec_transport_poll_datagram(s->t, buf, cap, &n);
    if (rc != RTCSEC_OK)
      return rc;
    if (n == 0) {
      pending_remove(r, s);
      continue;
    }
    *len = n;
    memcpy(dst, &s->addr, s->addr_len);
    *dst_len = s->addr_len;
    if (session_out)
      *session_out = s->id;
    r->stats.datagrams_out++;
    return RTCSEC_OK;
  }
  return RTCSEC_OK;
}

static int protect(rtcsec_router *r, rtcsec_session_id id, uint8_t *buf, size_t len, size_t cap,
                   size_t *out_len, struct sockaddr_storage *dst, socklen_t *dst_len, int rtcp) {
  session *s = r ? lookup(r, id) : NULL;
  if (s == NULL || dst == NULL || dst_len == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  if (s->t == NULL || !s->has_addr)
    return RTCSEC_ERR_INVALID_STATE;
  if (consent_gone(r, s, r->now)) { /* RFC 7675 §5.1, as in poll_datagram */
    expire(r, s);
    return RTCSEC_ERR_CONSENT_EXPIRED;
  }
  int rc = rtcp ? rtcsec_transport_protect_rtcp(s->t, buf, len, cap, out_len)
                : rtcsec_transport_protect_rtp(s->t, buf, len, cap, out_len);
  if (rc != RTCSEC_OK)
    return rc;
  memcpy(dst, &s->addr, s->addr_len);
  *dst_len = s->addr_len;
  return RTCSEC_OK;
}

int rtcsec_router_protect_rtp(rtcsec_router *r, rtcsec_session_id id, uint8_t *buf, size_t len,
                              size_t cap, size_t *out_len, struct sockaddr_storage *dst,
                              socklen_t *dst_len) {
  return protect(r, id, buf, len, cap, out_len, dst, dst_len, 0);
}

int rtcsec_router_protect_rtcp(rtcsec_router *r, rtcsec_session_id id, uint8_t *buf, size_t len,
                               size_t cap, size_t *out_len, struct sockaddr_storage *dst,
                               socklen_t *dst_len) {
  return protect(r, id, buf, len, cap, out_len, dst, dst_len, 1);
}

int rtcsec_router_send_data(rtcsec_router *r, rtcsec_session_id id, const uint8_t *data, size_t len,
                            uint64_t now) {
  session *s = r ? lookup(r, id) : NULL;
  if (s == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  if (s->t == NULL)
    return RTCSEC_ERR_INVALID_STATE;
  if (now > r->now)
    r->now = now;
  if (consent_gone(r, s, r->now)) { /* RFC 7675 §5.1 */
    expire(r, s);
    return RTCSEC_ERR_CONSENT_EXPIRED;
  }
  int rc = rtcsec_transport_send_data(s->t, data, len, now);
  after_transport(r, s);
  return rc;
}

/* ---- public: events and introspection ------------------------------------------------ */

int rtcsec_router_poll_event(rtcsec_router *r, rtcsec_router_event *ev) {
  if (r == NULL || ev == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  free(r->last_data);
  r->last_data = NULL;
  memset(ev, 0, sizeof(*ev));
  ev->alert = -1;
  if (r->ev_n == 0)
    return RTCSEC_OK;
  ev_entry *e = &r->evq[r->ev_head];
  *ev = e->ev;
  if (e->owned != NULL) {
    r->last_data = e->owned;
    ev->data = e->owned;
    r->ev_data_n--;
  }
  r->ev_head = (r->ev_head + 1) % r->ev_cap;
  r->ev_n--;
  return RTCSEC_OK;
}

int rtcsec_router_get_stats(const rtcsec_router *r, rtcsec_router_stats *out) {
  if (r == NULL || out == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  *out = r->stats;
  return RTCSEC_OK;
}

int rtcsec_router_get_session_info(const rtcsec_router *r, rtcsec_session_id id,
                                   rtcsec_router_session_info *out) {
  const session *s = r ? lookup(r, id) : NULL;
  if (s == NULL || out == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  memset(out, 0, sizeof(*out));
  out->user = s->user;
  out->nominated = s->has_addr;
  if (s->has_addr) {
    memcpy(&out->addr, &s->addr, s->addr_len);
    out->addr_len = s->addr_len;
  }
  out->consent_expires = consent_expiry(r, s);
  out->deadline = s->deadline;
  out->has_transport = s->t != NULL;
  out->dtls_state = s->t ? rtcsec_transport_get_state(s->t) : RTCSEC_DTLS_STATE_NEW;
  out->checks = s->checks;
  out->media_in = s->media_in;
  return RTCSEC_OK;
}

rtcsec_transport *rtcsec_router_session_transport(rtcsec_router *r, rtcsec_session_id id) {
  session *s = r ? lookup(r, id) : NULL;
  return s ? s->t : NULL;
}
