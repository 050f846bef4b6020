/* The single-port router: ICE-lite responder + per-session transports on
 * one UDP socket. See rtcsec/router.h for the contract.
 *
 * What the router keeps, all owned by it:
 *   slots       session by id (slot index + generation): O(1), stale ids fail;
 *   by_ufrag    hash map, local ufrag -> session (STUN routing);
 *   by_addr     hash map, address -> path (a session's media address and its
 *               probed one);
 *   heap        min-heap of sessions keyed by their next deadline (consent
 *               expiry, the transport's DTLS timer);
 *   out_list    sessions whose transport may have datagrams to send;
 *   ev_list     sessions whose transport may have events to give;
 *   outq, evq   rings of what the router made itself (STUN answers,
 *               close_notify of removed sessions; NOMINATED, EXPIRED, ...).
 * A session's state moves only through session_move() and its table. */
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "dtls_bio.h"
#include "heap.h"
#include "ice_lite.h"
#include "map.h"
#include "ring.h"
#include "rtcsec/error.h"
#include "rtcsec/router.h"
#include "rtcsec/sdp.h"
#include "rtcsec/stun.h"
#include "transport_internal.h"

/* Router-made datagrams up to this size are stored inline. */
#define OUT_SMALL 192
/* The router's own events waiting for rtcsec_router_poll_event(). */
#define EVENTS_MAX 65536
/* Bytes of early DTLS kept per session. */
#define EARLY_MAX_BYTES (16 * 1024)

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

/* ---- sessions -------------------------------------------------------------------- */

typedef struct session session;

/* One of a session's addresses, as stored in by_addr. What a media packet
 * reads comes first: the owner, the key compared, and the address an
 * answer goes to (an IPv4 one within the path's first 64 bytes). */
typedef struct path {
  session *s;
  int in_map;
  socklen_t addr_len;
  uint64_t hash;
  addr_key key;
  struct sockaddr_storage addr; /* as the socket gave it: where to send */
} path;

/* A genuine check remembered: its transaction id (the first 8 of its 12
 * random bytes) and the hash of the address it came from. */
typedef struct recent_check {
  uint64_t tid;
  uint64_t addr_hash;
} recent_check;

/* An intrusive list link (out_list, ev_list). */
typedef struct link {
  session *prev, *next;
  int on;
} link;

/* A session is allocated on a cache line of its own, and what every media
 * packet reads (the id, user pointer, state, transport, consent times and
 * the media path) sits in its first two lines: with thousands of sessions
 * each packet finds its session in memory, not in cache, so every line
 * counts. The rest is read by checks, handshakes and timers. */
struct session {
  rtcsec_session_id id;
  void *user;
  rtcsec_transport *t;
  uint64_t check_at; /* last genuine new check (consent) */
  uint64_t auth_at;  /* last authenticated traffic from the media address */
  uint64_t media_in;
  rtcsec_router_session_state state;
  uint32_t slot;
  path active; /* the media address, once nominated (active.in_map) */

  char *ufrag; /* local, NUL-terminated */
  size_t ufrag_len;
  uint64_t ufrag_hash;
  char *remote_ufrag; /* optional */
  size_t remote_ufrag_len;
  rtcsec_stun_key *key; /* the local password, keyed once */

  rtcsec_dtls_role role;
  rtcsec_fingerprint fps[RTCSEC_DTLS_MAX_FINGERPRINTS]; /* until the transport exists */
  size_t n_fps;
  int transport_error; /* the transport could not be made (sticky) */

  path probe;               /* before nomination: where genuine checks came from; once
                               connected: a nominated new address waiting for proof */
  rtcsec_dgram_queue early; /* DTLS from probe before nomination */

  rtcsec_heap_node hnode;
  link out_link, ev_link;

  recent_check recent[RTCSEC_ROUTER_RECENT_CHECKS];
  size_t n_recent;

  uint64_t checks;
};

/* A slot of the session table: the session and its generation side by
 * side, so that finding a session by id reads one line. */
typedef struct slot_entry {
  session *s;
  uint32_t gen;
} slot_entry;

typedef struct out_entry {
  rtcsec_session_id sid; /* 0: send even if no session has this id any more */
  struct sockaddr_storage dst;
  socklen_t dst_len;
  size_t len;
  uint8_t *big; /* owned when len > OUT_SMALL */
  uint8_t small[OUT_SMALL];
} out_entry;

typedef struct list {
  session *head, *tail;
} list;

struct rtcsec_router {
  rtcsec_router_config cfg;
  rtcsec_cert *cert;
  uint64_t now; /* latest time the caller gave */

  slot_entry *slots;
  uint32_t *free_slots;
  size_t n_slots, cap_slots, n_free;
  size_t n_sessions;

  rtcsec_map by_ufrag, by_addr;
  rtcsec_heap heap;
  list out_list, ev_list;
  rtcsec_ring outq; /* of out_entry */
  rtcsec_ring evq;  /* of rtcsec_event */

  rtcsec_router_stats stats;
};

/* ---- the session state machine (rtcsec/router.h) -------------------------------- */

typedef enum session_input {
  IN_NOMINATED, /* its first address */
  IN_TRANSPORT, /* the DTLS association was made */
  IN_CONNECTED, /* DTLS connected, SRTP keys installed */
  IN_ENDED,     /* DTLS closed or failed */
} session_input;

static const struct {
  rtcsec_router_session_state from;
  session_input in;
  rtcsec_router_session_state to;
} transitions[] = {
    {RTCSEC_ROUTER_SESSION_WAITING, IN_NOMINATED, RTCSEC_ROUTER_SESSION_NOMINATED},
    {RTCSEC_ROUTER_SESSION_NOMINATED, IN_TRANSPORT, RTCSEC_ROUTER_SESSION_HANDSHAKING},
    {RTCSEC_ROUTER_SESSION_HANDSHAKING, IN_CONNECTED, RTCSEC_ROUTER_SESSION_CONNECTED},
    {RTCSEC_ROUTER_SESSION_HANDSHAKING, IN_ENDED, RTCSEC_ROUTER_SESSION_ENDED},
    {RTCSEC_ROUTER_SESSION_CONNECTED, IN_ENDED, RTCSEC_ROUTER_SESSION_ENDED},
};

/* The one place a session's state changes. An input with no row for the
 * current state changes nothing and says so. */
static int session_move(session *s, session_input in) {
  for (size_t i = 0; i < sizeof(transitions) / sizeof(transitions[0]); i++) {
    if (transitions[i].from == s->state && transitions[i].in == in) {
      s->state = transitions[i].to;
      return RTCSEC_OK;
    }
  }
  return RTCSEC_ERR_INVALID_STATE;
}

const char *rtcsec_router_session_state_name(rtcsec_router_session_state st) {
  switch (st) {
  case RTCSEC_ROUTER_SESSION_WAITING:
    return "waiting";
  case RTCSEC_ROUTER_SESSION_NOMINATED:
    return "nominated";
  case RTCSEC_ROUTER_SESSION_HANDSHAKING:
    return "handshaking";
  case RTCSEC_ROUTER_SESSION_CONNECTED:
    return "connected";
  case RTCSEC_ROUTER_SESSION_ENDED:
    return "ended";
  default:
    return "unknown";
  }
}

/* ---- maps, lists --------------------------------------------------------------------- */

typedef struct ufrag_key {
  const uint8_t *p;
  size_t n;
} ufrag_key;

static int ufrag_eq(const void *value, const void *key) {
  const session *s = value;
  const ufrag_key *k = key;
  return s->ufrag_len == k->n && memcmp(s->ufrag, k->p, k->n) == 0;
}

static int path_eq(const void *value, const void *key) {
  return key_equal(&((const path *)value)->key, key);
}

static session *find_ufrag(const rtcsec_router *r, const uint8_t *ufrag, size_t len) {
  ufrag_key k = {ufrag, len};
  return rtcsec_map_find(&r->by_ufrag, rtcsec_map_hash(r->cfg.hash_seed, ufrag, len), &k, ufrag_eq);
}

static path *find_path(const rtcsec_router *r, const addr_key *k, uint64_t h) {
  return rtcsec_map_find(&r->by_addr, h, k, path_eq);
}

static void list_add(list *l, session *s, link *lk, size_t off) {
  if (lk->on)
    return;
  lk->on = 1;
  lk->next = NULL;
  lk->prev = l->tail;
  if (l->tail != NULL)
    ((link *)((char *)l->tail + off))->next = s;
  else
    l->head = s;
  l->tail = s;
}

static void list_remove(list *l, session *s, link *lk, size_t off) {
  (void)s;
  if (!lk->on)
    return;
  if (lk->prev != NULL)
    ((link *)((char *)lk->prev + off))->next = lk->next;
  else
    l->head = lk->next;
  if (lk->next != NULL)
    ((link *)((char *)lk->next + off))->prev = lk->prev;
  else
    l->tail = lk->prev;
  lk->prev = lk->next = NULL;
  lk->on = 0;
}

#define OUT_OFF offsetof(session, out_link)
#define EV_OFF offsetof(session, ev_link)

/* ---- deadlines, consent -------------------------------------------------------------- */

/* RFC 7675 §5.1 as the top of router.h describes it. */
static uint64_t consent_expiry(const rtcsec_router *r, const session *s) {
  uint64_t since = s->check_at;
  if (s->state >= RTCSEC_ROUTER_SESSION_CONNECTED && s->auth_at < since)
    since = s->auth_at;
  uint64_t t = r->cfg.consent_timeout_us;
  return since > UINT64_MAX - t ? UINT64_MAX : since + t;
}

static int consent_gone(const rtcsec_router *r, const session *s, uint64_t now) {
  return now >= consent_expiry(r, s);
}

/* Recomputes the session's deadline and moves it in the heap: O(log n). */
static void update_deadline(rtcsec_router *r, session *s) {
  uint64_t d = consent_expiry(r, s);
  if (s->t != NULL) {
    uint64_t td = rtcsec_transport_deadline(s->t);
    if (td < d)
      d = td;
  }
  if (d != s->hnode.key)
    rtcsec_heap_update(&r->heap, &s->hnode, d);
}

/* ---- queues ----------------------------------------------------------------------- */

static int out_push(rtcsec_router *r, rtcsec_session_id sid, const uint8_t *data, size_t len,
                    const struct sockaddr_storage *dst, socklen_t dst_len) {
  out_entry e;
  e.big = NULL;
  if (len > OUT_SMALL) {
    e.big = malloc(len);
    if (e.big == NULL)
      return RTCSEC_ERR_NO_MEMORY;
    memcpy(e.big, data, len);
  } else {
    memcpy(e.small, data, len);
  }
  e.sid = sid;
  e.len = len;
  memset(&e.dst, 0, sizeof(e.dst));
  memcpy(&e.dst, dst, dst_len);
  e.dst_len = dst_len;
  int rc = rtcsec_ring_push(&r->outq, &e);
  if (rc != RTCSEC_OK) {
    free(e.big);
    r->stats.drop_queue_full++;
  }
  return rc;
}

static void ev_init(rtcsec_event *ev, rtcsec_event_type type, const session *s) {
  memset(ev, 0, sizeof(*ev));
  ev->type = type;
  ev->session = s->id;
  ev->user = s->user;
}

static void ev_push(rtcsec_router *r, const rtcsec_event *ev) {
  if (rtcsec_ring_push(&r->evq, ev) != RTCSEC_OK)
    r->stats.drop_queue_full++;
}

static void address_event(rtcsec_router *r, session *s, rtcsec_event_type type, int moved) {
  rtcsec_event ev;
  ev_init(&ev, type, s);
  if (s->active.in_map) {
    memcpy(&ev.address.addr, &s->active.addr, s->active.addr_len);
    ev.address.addr_len = s->active.addr_len;
  }
  ev.address.moved = moved;
  ev_push(r, &ev);
}

/* After every transport call: the session's state follows its DTLS
 * association, its output and events are marked pending, and it is re-keyed
 * in the heap. */
static void after_transport(rtcsec_router *r, session *s, uint64_t now) {
  if (s->t == NULL)
    return;
  rtcsec_dtls_state ds = rtcsec_transport_get_state(s->t);
  if (ds == RTCSEC_DTLS_STATE_CONNECTED && session_move(s, IN_CONNECTED) == RTCSEC_OK)
    s->auth_at = now; /* the handshake itself was the proof */
  else if (ds == RTCSEC_DTLS_STATE_FAILED || ds == RTCSEC_DTLS_STATE_CLOSED)
    session_move(s, IN_ENDED);
  list_add(&r->out_list, s, &s->out_link, OUT_OFF);
  if (rtcsec_transport_pending_events(s->t))
    list_add(&r->ev_list, s, &s->ev_link, EV_OFF);
  update_deadline(r, s);
}

/* ---- session lifecycle -------------------------------------------------------------- */

static session *lookup(const rtcsec_router *r, rtcsec_session_id id) {
  uint32_t slot = (uint32_t)id, gen = (uint32_t)(id >> 32);
  if (id == 0 || slot >= r->n_slots || r->slots[slot].gen != gen)
    return NULL;
  return r->slots[slot].s;
}

static void path_clear(rtcsec_router *r, path *p) {
  if (p->in_map)
    rtcsec_map_remove(&r->by_addr, p->hash, p);
  p->in_map = 0;
}

/* Puts p at address k; another session's path there is taken over (the
 * address belongs to whoever proved the credentials last). */
static int path_set(rtcsec_router *r, path *p, const addr_key *k, uint64_t h,
                    const struct sockaddr_storage *src, socklen_t src_len) {
  path_clear(r, p);
  path *other = find_path(r, k, h);
  if (other != NULL) {
    if (other == &other->s->active) {
      r->stats.nominated--;
      r->stats.address_takeovers++;
    }
    path_clear(r, other);
  }
  p->key = *k;
  p->hash = h;
  memset(&p->addr, 0, sizeof(p->addr));
  memcpy(&p->addr, src, src_len);
  p->addr_len = src_len;
  int rc = rtcsec_map_insert(&r->by_addr, h, p);
  p->in_map = rc == RTCSEC_OK;
  return rc;
}

static void free_session(session *s) {
  rtcsec_dgram_queue_clear(&s->early);
  rtcsec_stun_key_free(s->key);
  if (s->ufrag != NULL)
    OPENSSL_cleanse(s->ufrag, s->ufrag_len);
  free(s->ufrag);
  free(s->remote_ufrag);
  OPENSSL_cleanse(s, sizeof(*s));
  free(s);
}

static void destroy_session(rtcsec_router *r, session *s) {
  rtcsec_map_remove(&r->by_ufrag, s->ufrag_hash, s);
  if (s->active.in_map)
    r->stats.nominated--;
  path_clear(r, &s->active);
  path_clear(r, &s->probe);
  rtcsec_heap_remove(&r->heap, &s->hnode);
  list_remove(&r->out_list, s, &s->out_link, OUT_OFF);
  list_remove(&r->ev_list, s, &s->ev_link, EV_OFF);
  if (s->t != NULL) {
    rtcsec_transport_free(s->t);
    r->stats.transports--;
  }
  r->stats.early_dtls_dropped += rtcsec_dgram_queue_count(&s->early);
  /* The next id of this slot differs: stale ids find nothing. */
  slot_entry *se = &r->slots[s->slot];
  se->s = NULL;
  se->gen++;
  if (se->gen == 0)
    se->gen = 1;
  r->free_slots[r->n_free++] = s->slot;
  r->n_sessions--;
  r->stats.sessions = r->n_sessions;
  free_session(s);
}

/* RFC 7675 §5.1: consent is gone; stop sending at once (no close_notify),
 * forget the session, tell the application. */
static void expire(rtcsec_router *r, session *s) {
  address_event(r, s, RTCSEC_EVENT_EXPIRED, 0);
  r->stats.sessions_expired++;
  destroy_session(r, s);
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
    rtcsec_event ev;
    ev_init(&ev, RTCSEC_EVENT_FAILED, s);
    ev.failed.error = rc;
    ev.failed.alert = -1;
    ev_push(r, &ev);
    return rc;
  }
  session_move(s, IN_TRANSPORT);
  r->stats.transports++;
  if (s->role == RTCSEC_DTLS_CLIENT)
    rtcsec_transport_start(s->t, now);
  after_transport(r, s, now);
  return RTCSEC_OK;
}

/* A DTLS datagram for the session's association. */
static int feed_dtls(rtcsec_router *r, session *s, uint8_t *buf, size_t len, uint64_t now,
                     rtcsec_transport_input *tin) {
  int rc = make_transport(r, s, now);
  if (rc != RTCSEC_OK)
    return rc;
  rc = rtcsec_transport_handle_classified(s->t, RTCSEC_PKT_DTLS, buf, len, now, tin);
  after_transport(r, s, now);
  return rc;
}

/* The first address of a session (RFC 8445 §7.3.1.5), or, before DTLS is
 * connected, a new one: there are no keys yet to prove anything with, and a
 * replayed check was refused before this. */
static void nominate(rtcsec_router *r, session *s, const addr_key *k, uint64_t h,
                     const struct sockaddr_storage *src, socklen_t src_len, uint64_t now) {
  int moved = s->active.in_map;
  int was_probe = s->probe.in_map && key_equal(&s->probe.key, k);
  path_clear(r, &s->probe);
  if (!moved)
    r->stats.nominated++;
  if (path_set(r, &s->active, k, h, src, src_len) != RTCSEC_OK) {
    r->stats.nominated--; /* out of memory: stays unnominated, the peer will retry */
    return;
  }
  r->stats.nominations++;
  r->stats.moves += (uint64_t)moved;
  session_move(s, IN_NOMINATED);
  address_event(r, s, RTCSEC_EVENT_NOMINATED, moved);
  if (s->role == RTCSEC_DTLS_CLIENT)
    make_transport(r, s, now);
  else if (s->t != NULL)
    list_add(&r->out_list, s, &s->out_link, OUT_OFF); /* anything queued goes there */
  /* DTLS that came early from this very address goes to the association
   * now (issue 14: a ClientHello that overtook the nomination). */
  rtcsec_dgram g;
  while (rtcsec_dgram_queue_pop(&s->early, &g)) {
    if (was_probe) {
      rtcsec_transport_input tin;
      feed_dtls(r, s, g.data, g.len, now, &tin);
      r->stats.early_dtls_kept++;
    } else {
      r->stats.early_dtls_dropped++;
    }
    free(g.data);
  }
}

/* The probed address proved the peer's keys: it becomes the media address
 * (RFC 9000 §9: a new path is used once authenticated, non-replayed
 * traffic came from it). */
static void promote_probe(rtcsec_router *r, session *s, uint64_t now) {
  path p = s->probe;
  path_clear(r, &s->probe);
  if (path_set(r, &s->active, &p.key, p.hash, &p.addr, p.addr_len) != RTCSEC_OK)
    return;
  s->auth_at = now;
  r->stats.moves++;
  r->stats.nominations++;
  address_event(r, s, RTCSEC_EVENT_NOMINATED, 1);
  list_add(&r->out_list, s, &s->out_link, OUT_OFF);
}

/* ---- ICE-lite: Binding requests --------------------------------------------------- */

static void answer(rtcsec_router *r, session *s, const rtcsec_ice_lite_check *c, int error,
                   const struct sockaddr_storage *src, socklen_t src_len,
                   const struct sockaddr_storage *mapped, socklen_t mapped_len) {
  uint8_t out[OUT_SMALL];
  size_t out_len = 0;
  int code = error ? rtcsec_ice_lite_error_code(error) : 0;
  int rc = error ? rtcsec_ice_lite_error(c, s ? s->key : NULL, code, out, sizeof(out), &out_len)
                 : rtcsec_ice_lite_success(c, s->key, (const struct sockaddr *)mapped, mapped_len,
                                           out, sizeof(out), &out_len);
  if (rc != RTCSEC_OK || out_push(r, s ? s->id : 0, out, out_len, src, src_len) != RTCSEC_OK)
    return;
  if (error)
    r->stats.stun_errors_sent++;
  else
    r->stats.stun_responses++;
}

/* A request that failed authentication gets an answer only if configured
 * (see router.h), and never one carrying integrity. */
static void unauthenticated(rtcsec_router *r, const rtcsec_ice_lite_check *c, int error,
                            const struct sockaddr_storage *src, socklen_t src_len) {
  if (r->cfg.reply_unauthenticated && rtcsec_ice_lite_error_code(error) != 0)
    answer(r, NULL, c, error, src, src_len, NULL, 0);
}

static uint64_t tid64(const uint8_t *tid) {
  uint64_t v;
  memcpy(&v, tid, sizeof(v));
  return v;
}

/* Index of the check among the remembered ones, or -1. */
static int recent_index(const session *s, uint64_t tid) {
  size_t n = s->n_recent < RTCSEC_ROUTER_RECENT_CHECKS ? s->n_recent : RTCSEC_ROUTER_RECENT_CHECKS;
  for (size_t i = 0; i < n; i++) {
    if (s->recent[i].tid == tid)
      return (int)i;
  }
  return -1;
}

static void count_stun_error(rtcsec_router *r, int rc) {
  switch (rc) {
  case RTCSEC_ERR_STUN_MALFORMED:
    r->stats.stun_malformed++;
    break;
  case RTCSEC_ERR_STUN_FINGERPRINT:
    r->stats.stun_bad_fingerprint++;
    break;
  case RTCSEC_ERR_STUN_IGNORED:
    r->stats.stun_ignored++;
    break;
  case RTCSEC_ERR_STUN_BAD_REQUEST:
    r->stats.stun_bad_request++;
    break;
  case RTCSEC_ERR_STUN_UNKNOWN_USER:
    r->stats.stun_unknown_user++;
    break;
  case RTCSEC_ERR_STUN_INTEGRITY:
    r->stats.stun_bad_integrity++;
    break;
  case RTCSEC_ERR_STUN_UNKNOWN_ATTRIBUTE:
    r->stats.stun_unknown_attribute++;
    break;
  case RTCSEC_ERR_STUN_ROLE_CONFLICT:
    r->stats.stun_role_conflicts++;
    break;
  default:
    break;
  }
}

static int handle_stun(rtcsec_router *r, const uint8_t *buf, size_t len,
                       const struct sockaddr_storage *src, socklen_t src_len, const addr_key *k,
                       uint64_t h, uint64_t now, rtcsec_router_input *in) {
  rtcsec_ice_lite_check c;
  int rc = rtcsec_ice_lite_parse(&c, buf, len);
  if (rc != RTCSEC_ERR_STUN_MALFORMED && rc != RTCSEC_ERR_STUN_IGNORED &&
      !(rc == RTCSEC_ERR_STUN_FINGERPRINT && c.msg.cls != RTCSEC_STUN_REQUEST))
    r->stats.stun_requests++;
  if (rc != RTCSEC_OK) {
    count_stun_error(r, rc);
    if (rc == RTCSEC_ERR_STUN_BAD_REQUEST)
      unauthenticated(r, &c, rc, src, src_len);
    return rc;
  }
  session *s = find_ufrag(r, c.local_ufrag, c.local_ufrag_len);
  if (s != NULL && consent_gone(r, s, now)) {
    expire(r, s);
    s = NULL;
  }
  rc = s == NULL ? RTCSEC_ERR_STUN_UNKNOWN_USER
                 : rtcsec_ice_lite_verify(&c, s->key, s->remote_ufrag, s->remote_ufrag_len);
  if (rc == RTCSEC_ERR_STUN_UNKNOWN_USER || rc == RTCSEC_ERR_STUN_INTEGRITY) {
    count_stun_error(r, rc);
    unauthenticated(r, &c, rc, src, src_len);
    return rc;
  }
  /* Authenticated from here on: answers carry MESSAGE-INTEGRITY. */
  in->session = s->id;
  in->user = s->user;
  /* The source address is not covered by MESSAGE-INTEGRITY: a check seen
   * before is a retransmission if it comes from the same address (answered
   * again, nothing else), a replay if from another (dropped unanswered, so
   * that nothing is reflected to where the replayer points). */
  uint64_t tid = tid64(c.msg.tid);
  int seen = recent_index(s, tid);
  if (seen >= 0 && s->recent[seen].addr_hash != h) {
    r->stats.stun_replays++;
    r->stats.stun_ignored++;
    return RTCSEC_ERR_STUN_IGNORED;
  }
  struct sockaddr_storage mapped;
  socklen_t mapped_len = 0;
  addr_key unused;
  /* The address as the peer sees it (XOR-MAPPED-ADDRESS): STUN only, not
   * built for every media packet. */
  make_key(src, src_len, &unused, &mapped, &mapped_len);
  if (seen >= 0) {
    r->stats.stun_retransmissions++;
    answer(r, s, &c, rc, src, src_len, &mapped, mapped_len);
    return rc;
  }
  s->recent[s->n_recent++ % RTCSEC_ROUTER_RECENT_CHECKS] = (recent_check){tid, h};
  if (rc != RTCSEC_OK) { /* 420, 400, 487 */
    count_stun_error(r, rc);
    answer(r, s, &c, rc, src, src_len, &mapped, mapped_len);
    return rc;
  }
  answer(r, s, &c, RTCSEC_OK, src, src_len, &mapped, mapped_len);
  s->checks++;

  int from_active = s->active.in_map && key_equal(&s->active.key, k);
  int connected = s->state >= RTCSEC_ROUTER_SESSION_CONNECTED;
  /* RFC 7675: consent is per 5-tuple: once nominated, only genuine checks
   * from the media address (or one that moves it before DTLS is up)
   * refresh it. */
  if (!s->active.in_map || from_active || (c.use_candidate && !connected)) {
    s->check_at = now;
    update_deadline(r, s);
  }
  if (from_active)
    return RTCSEC_OK;
  if (!s->active.in_map && !c.use_candidate) {
    /* A checked, not yet nominated address: early DTLS from it is kept. */
    if (!(s->probe.in_map && key_equal(&s->probe.key, k))) {
      r->stats.early_dtls_dropped += rtcsec_dgram_queue_count(&s->early);
      rtcsec_dgram_queue_clear(&s->early);
      path_set(r, &s->probe, k, h, src, src_len);
    }
  } else if (c.use_candidate && !connected) {
    nominate(r, s, k, h, src, src_len, now);
  } else if (c.use_candidate && s->state == RTCSEC_ROUTER_SESSION_CONNECTED &&
             !(s->probe.in_map && key_equal(&s->probe.key, k))) {
    /* RFC 9000 §9: answered, but media moves only on proof from there. */
    if (path_set(r, &s->probe, k, h, src, src_len) == RTCSEC_OK)
      r->stats.probes++;
  }
  return RTCSEC_OK;
}

/* ---- public: the datagram path ------------------------------------------------------ */

/* Non-STUN from a session's probed address. */
static int from_probe(rtcsec_router *r, session *s, uint8_t *buf, size_t len, uint64_t now,
                      rtcsec_router_input *in) {
  if (s->state == RTCSEC_ROUTER_SESSION_WAITING) {
    /* Before nomination: DTLS is kept, bounded, for the nomination. */
    if (in->kind == RTCSEC_PKT_DTLS &&
        rtcsec_dgram_queue_count(&s->early) < RTCSEC_ROUTER_EARLY_DATAGRAMS &&
        s->early.bytes + len <= EARLY_MAX_BYTES &&
        rtcsec_dgram_queue_push(&s->early, buf, len) == RTCSEC_OK)
      return RTCSEC_OK;
    if (in->kind == RTCSEC_PKT_DTLS) {
      r->stats.early_dtls_dropped++;
      return RTCSEC_ERR_LIMIT;
    }
    /* media: no keys can exist before nomination */
    r->stats.media_in++;
    s->media_in++;
    r->stats.media_dropped++;
    return RTCSEC_ERR_SRTP_NO_KEYS;
  }
  if (s->state != RTCSEC_ROUTER_SESSION_CONNECTED || s->t == NULL) {
    r->stats.probe_unproven++;
    return RTCSEC_ERR_UNKNOWN_SOURCE;
  }
  rtcsec_transport_input tin;
  int rc = rtcsec_transport_handle_classified(s->t, in->kind, buf, len, now, &tin);
  after_transport(r, s, now);
  if (tin.authenticated && s->probe.in_map && s->state == RTCSEC_ROUTER_SESSION_CONNECTED)
    promote_probe(r, s, now);
  else
    r->stats.probe_unproven++;
  if (in->kind == RTCSEC_PKT_RTP || in->kind == RTCSEC_PKT_RTCP) {
    r->stats.media_in++;
    s->media_in++;
    if (rc == RTCSEC_OK) {
      in->len = tin.len;
      r->stats.media_delivered++;
    } else {
      r->stats.media_dropped++;
    }
  } else if (in->kind == RTCSEC_PKT_DTLS) {
    r->stats.dtls_in++;
  }
  return rc;
}

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
  uint64_t h = rtcsec_map_hash(r->cfg.hash_seed, &k, sizeof(k));
  /* Classified once here; the transport is told the class. */
  in->kind = rtcsec_demux_classify(buf, len);
  if (in->kind == RTCSEC_PKT_STUN)
    return handle_stun(r, buf, len, src, src_len, &k, h, now, in);

  /* Everything else only from a session's address, and before any work. */
  path *p = find_path(r, &k, h);
  session *s = p ? p->s : NULL;
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
  if (in->kind != RTCSEC_PKT_DTLS && in->kind != RTCSEC_PKT_RTP && in->kind != RTCSEC_PKT_RTCP) {
    /* RFC 7983 §7: dropped, and counted like everything else dropped */
    r->stats.drop_other_class++;
    return in->kind == RTCSEC_PKT_UNKNOWN ? RTCSEC_ERR_DEMUX_UNKNOWN : RTCSEC_ERR_UNSUPPORTED;
  }
  if (p == &s->probe)
    return from_probe(r, s, buf, len, now, in);

  rtcsec_transport_input tin;
  int rc;
  if (in->kind == RTCSEC_PKT_DTLS) {
    r->stats.dtls_in++;
    /* The association is made by the first DTLS datagram from the media
     * address (server role; a client made it at nomination). */
    rc = feed_dtls(r, s, buf, len, now, &tin);
  } else {
    r->stats.media_in++;
    s->media_in++;
    if (s->t == NULL) {
      r->stats.media_dropped++;
      return RTCSEC_ERR_SRTP_NO_KEYS;
    }
    rc = rtcsec_transport_handle_classified(s->t, in->kind, buf, len, now, &tin);
    if (rc != RTCSEC_OK) {
      r->stats.media_dropped++;
    } else {
      in->len = tin.len;
      r->stats.media_delivered++;
    }
  }
  if (tin.authenticated && s->auth_at < now) {
    /* Consent: the peer is alive at this address. The session's heap key
     * is min(consent expiry, DTLS timer) and SRTP leaves the DTLS timer
     * alone, so the key moves only if the expiry did, which media does at
     * most once per check (router.h: consent counts from the older of
     * the last check and the last authenticated packet). Not re-keying
     * otherwise keeps the DTLS state out of the media path. */
    uint64_t before = consent_expiry(r, s);
    s->auth_at = now;
    if (consent_expiry(r, s) != before)
      update_deadline(r, s);
  }
  return rc;
}

/* ---- public: prefetching a batch ---------------------------------------------------- */

/* Four passes over the chunk, each starting the loads the next one reads,
 * so that no pass waits on memory for one datagram after another: the
 * table slots; the sessions (guessed from the slot's hash alone: the path
 * stored there is most likely a session's media path, which sits at a
 * fixed place in its first two lines); their transports; their SRTP
 * state. Only pointers the router owns are followed, read in a pass after
 * the one that loaded them. */
static void prefetch_chunk(const rtcsec_router *r, const struct sockaddr_storage *src,
                           const socklen_t *src_len, size_t n) {
  uint64_t h[RTCSEC_ROUTER_PREFETCH_MAX];
  const path *p[RTCSEC_ROUTER_PREFETCH_MAX];
  const session *s[RTCSEC_ROUTER_PREFETCH_MAX];
  for (size_t i = 0; i < n; i++) {
    addr_key k;
    h[i] = 0;
    p[i] = NULL;
    if (make_key(&src[i], src_len[i], &k, NULL, NULL) != RTCSEC_OK)
      continue;
    h[i] = rtcsec_map_hash(r->cfg.hash_seed, &k, sizeof(k));
    rtcsec_map_prefetch(&r->by_addr, h[i]);
  }
  for (size_t i = 0; i < n; i++) {
    /* h 0 marks an unusable address (a real hash of 0 only loses the hint) */
    p[i] = h[i] != 0 ? rtcsec_map_peek(&r->by_addr, h[i]) : NULL;
    if (p[i] != NULL) {
      const char *guess = (const char *)p[i] - offsetof(session, active);
      __builtin_prefetch(guess);
      __builtin_prefetch(guess + 64);
    }
  }
  for (size_t i = 0; i < n; i++) {
    s[i] = p[i] != NULL ? p[i]->s : NULL;
    if (s[i] != NULL && s[i]->t != NULL)
      __builtin_prefetch(s[i]->t);
  }
  for (size_t i = 0; i < n; i++) {
    if (s[i] != NULL && s[i]->t != NULL)
      rtcsec_transport_prefetch(s[i]->t);
  }
}

void rtcsec_router_prefetch(const rtcsec_router *r, const struct sockaddr_storage *src,
                            const socklen_t *src_len, size_t n) {
  if (r == NULL || src == NULL || src_len == NULL)
    return;
  for (size_t at = 0; at < n; at += RTCSEC_ROUTER_PREFETCH_MAX) {
    size_t m = n - at < RTCSEC_ROUTER_PREFETCH_MAX ? n - at : RTCSEC_ROUTER_PREFETCH_MAX;
    prefetch_chunk(r, src + at, src_len + at, m);
  }
}

int rtcsec_router_handle_timeout(rtcsec_router *r, uint64_t now) {
  if (r == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  if (now > r->now)
    r->now = now;
  /* Each session at most once per call, even if its timer did not move. */
  size_t budget = rtcsec_heap_size(&r->heap);
  rtcsec_heap_node *top;
  while (budget-- > 0 && (top = rtcsec_heap_top(&r->heap)) != NULL && top->key <= now) {
    session *s = RTCSEC_CONTAINER_OF(top, session, hnode);
    if (consent_gone(r, s, now)) {
      expire(r, s);
      continue;
    }
    if (s->t != NULL && rtcsec_transport_deadline(s->t) <= now) {
      rtcsec_transport_handle_timeout(s->t, now);
      after_transport(r, s, now);
    } else {
      update_deadline(r, s);
    }
  }
  return RTCSEC_OK;
}

uint64_t rtcsec_router_deadline(const rtcsec_router *r) {
  const rtcsec_heap_node *top = r ? rtcsec_heap_top(&r->heap) : NULL;
  return top ? top->key : UINT64_MAX;
}

int rtcsec_router_poll_datagram(rtcsec_router *r, uint8_t *buf, size_t cap, size_t *out_len,
                                struct sockaddr_storage *dst, socklen_t *dst_len,
                                rtcsec_session_id *session_out) {
  if (r == NULL || buf == NULL || out_len == NULL || dst == NULL || dst_len == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  *out_len = 0;
  if (session_out)
    *session_out = 0;
  /* The router's own datagrams first: answers to checks are what lets a
   * peer's ICE go on. Those of sessions gone since are not sent. */
  out_entry *e;
  while ((e = rtcsec_ring_peek(&r->outq)) != NULL) {
    if (e->sid != 0 && lookup(r, e->sid) == NULL) {
      free(e->big);
      rtcsec_ring_pop(&r->outq, NULL);
      continue;
    }
    if (cap < e->len)
      return RTCSEC_ERR_BUFFER_TOO_SMALL;
    memcpy(buf, e->big ? e->big : e->small, e->len);
    *out_len = e->len;
    memcpy(dst, &e->dst, e->dst_len);
    *dst_len = e->dst_len;
    if (session_out)
      *session_out = e->sid;
    free(e->big);
    rtcsec_ring_pop(&r->outq, NULL);
    r->stats.datagrams_out++;
    return RTCSEC_OK;
  }
  rtcsec_ring_shrink(&r->outq);
  /* Then the DTLS flights of sessions, straight into the caller's buffer. */
  session *s;
  while ((s = r->out_list.head) != NULL) {
    if (s->t == NULL || !s->active.in_map) {
      list_remove(&r->out_list, s, &s->out_link, OUT_OFF); /* kept until an address exists */
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
      list_remove(&r->out_list, s, &s->out_link, OUT_OFF);
      continue;
    }
    *out_len = n;
    memcpy(dst, &s->active.addr, s->active.addr_len);
    *dst_len = s->active.addr_len;
    if (session_out)
      *session_out = s->id;
    r->stats.datagrams_out++;
    return RTCSEC_OK;
  }
  return RTCSEC_OK;
}

/* The session to send media or data for, if it may be sent now. */
static int sendable(rtcsec_router *r, rtcsec_session_id id, uint64_t now, session **out) {
  session *s = r ? lookup(r, id) : NULL;
  if (s == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  if (now > r->now)
    r->now = now;
  if (s->t == NULL || !s->active.in_map)
    return RTCSEC_ERR_INVALID_STATE;
  if (consent_gone(r, s, r->now)) { /* RFC 7675 §5.1 */
    expire(r, s);
    return RTCSEC_ERR_CONSENT_EXPIRED;
  }
  *out = s;
  return RTCSEC_OK;
}

static int protect(rtcsec_router *r, rtcsec_session_id id, uint8_t *buf, size_t len, size_t cap,
                   size_t *out_len, struct sockaddr_storage *dst, socklen_t *dst_len, uint64_t now,
                   int rtcp) {
  if (dst == NULL || dst_len == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  session *s = NULL;
  int rc = sendable(r, id, now, &s);
  if (rc != RTCSEC_OK)
    return rc;
  if (s->state != RTCSEC_ROUTER_SESSION_CONNECTED)
    return RTCSEC_ERR_INVALID_STATE;
  rc = rtcp ? rtcsec_transport_protect_rtcp(s->t, buf, len, cap, out_len, now)
            : rtcsec_transport_protect_rtp(s->t, buf, len, cap, out_len, now);
  if (rc == RTCSEC_ERR_SRTP_KEY_LIMIT)
    after_transport(r, s, now); /* the transport ended itself: close_notify to send */
  if (rc != RTCSEC_OK)
    return rc;
  memcpy(dst, &s->active.addr, s->active.addr_len);
  *dst_len = s->active.addr_len;
  return RTCSEC_OK;
}

int rtcsec_router_protect_rtp(rtcsec_router *r, rtcsec_session_id id, uint8_t *buf, size_t len,
                              size_t cap, size_t *out_len, struct sockaddr_storage *dst,
                              socklen_t *dst_len, uint64_t now) {
  return protect(r, id, buf, len, cap, out_len, dst, dst_len, now, 0);
}

int rtcsec_router_protect_rtcp(rtcsec_router *r, rtcsec_session_id id, uint8_t *buf, size_t len,
                               size_t cap, size_t *out_len, struct sockaddr_storage *dst,
                               socklen_t *dst_len, uint64_t now) {
  return protect(r, id, buf, len, cap, out_len, dst, dst_len, now, 1);
}

int rtcsec_router_send_data(rtcsec_router *r, rtcsec_session_id id, const uint8_t *data, size_t len,
                            uint64_t now) {
  session *s = NULL;
  int rc = sendable(r, id, now, &s);
  if (rc != RTCSEC_OK)
    return rc;
  rc = rtcsec_transport_send_data(s->t, data, len, now);
  after_transport(r, s, now);
  return rc;
}

/* ---- public: events and introspection ------------------------------------------------ */

int rtcsec_router_poll_event(rtcsec_router *r, rtcsec_event *ev) {
  if (r == NULL || ev == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  memset(ev, 0, sizeof(*ev));
  if (rtcsec_ring_pop(&r->evq, ev))
    return RTCSEC_OK;
  rtcsec_ring_shrink(&r->evq);
  session *s;
  while ((s = r->ev_list.head) != NULL) {
    int rc = rtcsec_transport_poll_event(s->t, ev);
    if (rc != RTCSEC_OK || ev->type == RTCSEC_EVENT_NONE) {
      list_remove(&r->ev_list, s, &s->ev_link, EV_OFF);
      continue;
    }
    ev->session = s->id;
    ev->user = s->user;
    return RTCSEC_OK;
  }
  memset(ev, 0, sizeof(*ev));
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
  out->state = s->state;
  out->nominated = s->active.in_map;
  if (s->active.in_map) {
    memcpy(&out->addr, &s->active.addr, s->active.addr_len);
    out->addr_len = s->active.addr_len;
  }
  out->probing = s->probe.in_map && s->state >= RTCSEC_ROUTER_SESSION_CONNECTED;
  if (out->probing) {
    memcpy(&out->probe_addr, &s->probe.addr, s->probe.addr_len);
    out->probe_addr_len = s->probe.addr_len;
  }
  out->consent_expires = consent_expiry(r, s);
  out->deadline = s->hnode.key;
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

/* ---- public: lifecycle ------------------------------------------------------------- */

void rtcsec_router_config_default(rtcsec_router_config *cfg) {
  if (cfg == NULL)
    return;
  memset(cfg, 0, sizeof(*cfg));
  rtcsec_transport_config_default(&cfg->transport);
  cfg->consent_timeout_us = 30 * UINT64_C(1000000);
  cfg->max_sessions = 100000;
  cfg->max_queued_datagrams = 4096;
}

int rtcsec_router_new(rtcsec_router **out, const rtcsec_router_config *cfg) {
  if (out == NULL || cfg == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  *out = NULL;
  if (cfg->transport.dtls.cert == NULL || cfg->consent_timeout_us == 0 || cfg->max_sessions == 0 ||
      cfg->max_sessions > UINT32_MAX - 1 || cfg->max_queued_datagrams == 0)
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
  rtcsec_map_init(&r->by_ufrag);
  rtcsec_map_init(&r->by_addr);
  rtcsec_heap_init(&r->heap);
  rtcsec_ring_init(&r->outq, sizeof(out_entry), cfg->max_queued_datagrams);
  rtcsec_ring_init(&r->evq, sizeof(rtcsec_event), EVENTS_MAX);
  *out = r;
  return RTCSEC_OK;
}

void rtcsec_router_free(rtcsec_router *r) {
  if (r == NULL)
    return;
  for (size_t i = 0; i < r->n_slots; i++) {
    if (r->slots[i].s != NULL)
      destroy_session(r, r->slots[i].s);
  }
  out_entry *e;
  while ((e = rtcsec_ring_peek(&r->outq)) != NULL) {
    free(e->big);
    rtcsec_ring_pop(&r->outq, NULL);
  }
  rtcsec_ring_clear(&r->outq);
  rtcsec_ring_clear(&r->evq);
  free(r->slots);
  free(r->free_slots);
  rtcsec_map_free(&r->by_ufrag);
  rtcsec_map_free(&r->by_addr);
  rtcsec_heap_free(&r->heap);
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
    slot_entry *ns = realloc(r->slots, cap * sizeof(*ns));
    if (ns == NULL)
      return RTCSEC_ERR_NO_MEMORY;
    r->slots = ns;
    uint32_t *nf = realloc(r->free_slots, cap * sizeof(*nf));
    if (nf == NULL)
      return RTCSEC_ERR_NO_MEMORY;
    r->free_slots = nf;
    r->cap_slots = cap;
  }
  *slot = (uint32_t)r->n_slots;
  r->slots[*slot].s = NULL;
  r->slots[*slot].gen = 1;
  r->n_slots++;
  return RTCSEC_OK;
}

/* A zeroed session on a cache line of its own (see struct session). */
static session *session_alloc(void) {
  size_t size = (sizeof(session) + 63) / 64 * 64;
  session *s = aligned_alloc(64, size);
  if (s != NULL)
    memset(s, 0, size);
  return s;
}

static char *dup_n(const char *p, size_t n) {
  char *d = malloc(n + 1);
  if (d != NULL) {
    memcpy(d, p, n);
    d[n] = '\0';
  }
  return d;
}

static int cred_len(const char *p, size_t min, size_t *len) {
  *len = p ? strnlen(p, RTCSEC_ICE_UFRAG_MAX + 1) : 0;
  return rtcsec_sdp_ice_chars_valid(p, *len, min, RTCSEC_ICE_UFRAG_MAX);
}

int rtcsec_router_add_session(rtcsec_router *r, const rtcsec_router_session_config *cfg,
                              uint64_t now, rtcsec_session_id *id) {
  if (r == NULL || cfg == NULL || id == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  *id = 0;
  size_t ulen = 0, plen = 0, rlen = 0;
  /* RFC 8445 §5.3: ufrag 4..256, password 22..256 ice-chars */
  if (!cred_len(cfg->local_ufrag, RTCSEC_ICE_UFRAG_MIN, &ulen) ||
      !cred_len(cfg->local_pwd, RTCSEC_ICE_PWD_MIN, &plen) ||
      (cfg->remote_ufrag != NULL && !cred_len(cfg->remote_ufrag, RTCSEC_ICE_UFRAG_MIN, &rlen)) ||
      (cfg->role != RTCSEC_DTLS_CLIENT && cfg->role != RTCSEC_DTLS_SERVER) ||
      cfg->n_peer_fingerprints > RTCSEC_DTLS_MAX_FINGERPRINTS ||
      (cfg->n_peer_fingerprints > 0 && cfg->peer_fingerprints == NULL))
    return RTCSEC_ERR_INVALID_ARGUMENT;
  for (size_t i = 0; i < cfg->n_peer_fingerprints; i++) {
    const rtcsec_fingerprint *fp = &cfg->peer_fingerprints[i];
    if (rtcsec_hash_len(fp->hash) == 0 || fp->len != rtcsec_hash_len(fp->hash))
      return RTCSEC_ERR_INVALID_ARGUMENT;
  }
  if (find_ufrag(r, (const uint8_t *)cfg->local_ufrag, ulen) != NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  if (r->n_sessions >= r->cfg.max_sessions)
    return RTCSEC_ERR_LIMIT;

  session *s = session_alloc();
  if (s == NULL)
    return RTCSEC_ERR_NO_MEMORY;
  s->active.s = s->probe.s = s;
  s->hnode.index = SIZE_MAX;
  rtcsec_dgram_queue_init(&s->early, RTCSEC_ROUTER_EARLY_DATAGRAMS);
  s->ufrag = dup_n(cfg->local_ufrag, ulen);
  s->remote_ufrag = cfg->remote_ufrag ? dup_n(cfg->remote_ufrag, rlen) : NULL;
  int rc = rtcsec_stun_key_new(&s->key, (const uint8_t *)cfg->local_pwd, plen);
  if (rc == RTCSEC_OK &&
      (s->ufrag == NULL || (cfg->remote_ufrag != NULL && s->remote_ufrag == NULL)))
    rc = RTCSEC_ERR_NO_MEMORY;
  if (rc != RTCSEC_OK) {
    free_session(s);
    return rc;
  }
  s->ufrag_len = ulen;
  s->remote_ufrag_len = rlen;
  if (cfg->n_peer_fingerprints > 0) /* (memcpy from NULL is undefined even for 0 bytes) */
    memcpy(s->fps, cfg->peer_fingerprints, cfg->n_peer_fingerprints * sizeof(s->fps[0]));
  s->n_fps = cfg->n_peer_fingerprints;
  s->role = cfg->role;
  s->user = cfg->user;
  s->state = RTCSEC_ROUTER_SESSION_WAITING;
  s->ufrag_hash = rtcsec_map_hash(r->cfg.hash_seed, s->ufrag, ulen);
  s->check_at = s->auth_at = now;
  s->hnode.key = consent_expiry(r, s);

  uint32_t slot = 0;
  rc = take_slot(r, &slot);
  if (rc == RTCSEC_OK) {
    rc = rtcsec_map_insert(&r->by_ufrag, s->ufrag_hash, s);
    if (rc == RTCSEC_OK) {
      rc = rtcsec_heap_push(&r->heap, &s->hnode);
      if (rc != RTCSEC_OK)
        rtcsec_map_remove(&r->by_ufrag, s->ufrag_hash, s);
    }
    if (rc != RTCSEC_OK)
      r->free_slots[r->n_free++] = slot;
  }
  if (rc != RTCSEC_OK) {
    free_session(s);
    return rc;
  }
  s->slot = slot;
  s->id = (uint64_t)r->slots[slot].gen << 32 | slot;
  r->slots[slot].s = s;
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
  if (s->state == RTCSEC_ROUTER_SESSION_CONNECTED && s->active.in_map && !consent_gone(r, s, now)) {
    /* A polite close_notify; queued without a session id, since the
     * session is gone when it is sent. */
    rtcsec_transport_close(s->t, now);
    uint8_t buf[2048];
    size_t n = 0;
    while (rtcsec_transport_poll_datagram(s->t, buf, sizeof(buf), &n) == RTCSEC_OK && n > 0)
      out_push(r, 0, buf, n, &s->active.addr, s->active.addr_len);
  }
  r->stats.sessions_removed++;
  destroy_session(r, s);
  return RTCSEC_OK;
}

int rtcsec_router_add_peer_fingerprints(rtcsec_router *r, rtcsec_session_id id,
                                        const rtcsec_fingerprint *fps, size_t n, uint64_t now) {
  session *s = r ? lookup(r, id) : NULL;
  if (s == NULL || fps == NULL || n == 0)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  if (s->t != NULL) {
    int rc = rtcsec_transport_add_peer_fingerprints(s->t, fps, n, now);
    after_transport(r, s, now);
    return rc;
  }
  if (n > RTCSEC_DTLS_MAX_FINGERPRINTS - s->n_fps)
    return RTCSEC_ERR_LIMIT;
  for (size_t i = 0; i < n; i++) {
    if (rtcsec_hash_len(fps[i].hash) == 0 || fps[i].len != rtcsec_hash_len(fps[i].hash))
      return RTCSEC_ERR_INVALID_ARGUMENT;
  }
  memcpy(s->fps + s->n_fps, fps, n * sizeof(*fps));
  s->n_fps += n;
  return RTCSEC_OK;
}
