/* The STUN / TURN client over DTLS (rtcsec/turn.h): STUN transactions on
 * the caller's clock (RFC 8489 §6.2.1), the long-term credential mechanism
 * (RFC 8489 §9.2), TURN allocations, permissions, channels and relayed
 * data (RFC 8656), all carried as application data of one rtcsec_dtls
 * association in client role (RFC 7350). */
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "be.h"
#include "ring.h"
#include "rtcsec/error.h"
#include "rtcsec/stun.h"
#include "rtcsec/turn.h"

#define EVENTS_MAX 1024
#define DATA_PENDING_MAX (64 * 1024)
/* A request with the longest credential still fits. */
#define TX_MSG_MAX 2048
/* Largest DTLS record plaintext (RFC 6347 §4.1): what one event may carry. */
#define RECORD_MAX 16384
#define REASON_MAX 96
/* RFC 8656 §9: permissions last 300 s; §12: channel bindings 600 s. Both
 * are refreshed a minute early. */
#define PERMISSION_REFRESH_US (240ull * 1000000u)
#define CHANNEL_REFRESH_US (540ull * 1000000u)
/* A refresh that failed is tried again this much later (the lifetime it
 * keeps alive has at least a minute left). */
#define REFRESH_RETRY_US (20ull * 1000000u)
/* Requests sent again after 401 / 438, per transaction. */
#define AUTH_RETRIES_MAX 3
/* RFC 8656 §12: channel numbers 0x4000 through 0x4FFF. */
#define CHANNEL_MIN 0x4000u
#define CHANNEL_MAX 0x4FFFu
/* RFC 8656 §18.4: REQUESTED-TRANSPORT, protocol 17 (UDP) and 3 RFFU bytes. */
#define PROTO_UDP 17

typedef struct tx {
  int used;
  int queued; /* built, waiting for the association to connect */
  uint16_t method;
  uint8_t tid[RTCSEC_STUN_TID_LEN];
  uint8_t msg[TX_MSG_MAX];
  size_t len;
  unsigned sent;     /* transmissions so far */
  uint64_t next;     /* the next retransmission, or the end of the wait */
  int peer;          /* CreatePermission / ChannelBind: index into peers; -1 */
  uint32_t lifetime; /* Allocate / Refresh: the lifetime asked for */
  int with_credentials;
  unsigned auth_retries;
} tx;

typedef struct peer_entry {
  int used;
  struct sockaddr_storage addr;
  socklen_t len;
  int perm_requested; /* a CreatePermission or ChannelBind went out */
  int perm_installed; /* ... and succeeded */
  uint64_t perm_refresh_at;
  uint16_t channel; /* 0: none */
  int channel_bound;
  uint64_t channel_refresh_at;
} peer_entry;

typedef struct event_node {
  rtcsec_event ev;
  size_t data_off; /* RELAYED_DATA: where its bytes are in data_buf */
  char reason[REASON_MAX];
} event_node;

struct rtcsec_turn {
  rtcsec_turn_state state;
  rtcsec_dtls *dtls;
  rtcsec_cert *own_cert;
  char *username, *password, *software;
  char realm[RTCSEC_TURN_MAX_CREDENTIAL + 1];
  char nonce[RTCSEC_TURN_MAX_CREDENTIAL + 1];
  uint8_t key[16]; /* MD5(username ":" realm ":" password), RFC 8489 §9.2.2 */
  int have_key;
  uint32_t lifetime_s;
  uint64_t rto_us;
  unsigned rc, rm;
  size_t mtu;

  tx txs[RTCSEC_TURN_MAX_TRANSACTIONS];
  peer_entry peers[RTCSEC_TURN_MAX_PEERS];
  uint16_t next_channel;
  int allocated;
  struct sockaddr_storage relayed;
  socklen_t relayed_len;
  uint64_t alloc_refresh_at;

  rtcsec_ring events; /* of event_node */
  uint8_t *data_buf;  /* RELAYED_DATA bytes, back to back */
  size_t data_used, data_cap, data_events;
  char reason_out[REASON_MAX]; /* the reason of the event last polled */
  uint8_t *rx;                 /* a copy of the record being processed */
  uint8_t *scratch;            /* indications and ChannelData being built */

  uint64_t now; /* the caller's clock at its last call */
  int error;
  char detail[256];
  rtcsec_turn_stats stats;
};

/* ---- events ----------------------------------------------------------------- */

static void push(rtcsec_turn *t, rtcsec_event_type type, const rtcsec_turn_info *info,
                 const char *reason) {
  event_node n;
  memset(&n, 0, sizeof(n));
  n.ev.type = type;
  if (info != NULL)
    n.ev.turn = *info;
  if (reason != NULL)
    snprintf(n.reason, sizeof(n.reason), "%s", reason);
  (void)rtcsec_ring_push(&t->events, &n); /* bounded: a full queue drops */
}

/* An event of the association (CONNECTED, FAILED, CLOSED), passed on. */
static void pass_on(rtcsec_turn *t, const rtcsec_event *ev) {
  event_node n;
  memset(&n, 0, sizeof(n));
  n.ev = *ev;
  (void)rtcsec_ring_push(&t->events, &n);
}

static void set_addr(rtcsec_turn_info *info, const struct sockaddr_storage *a, socklen_t len) {
  memcpy(&info->addr, a, sizeof(*a));
  info->addr_len = len;
}

/* ---- life cycle --------------------------------------------------------------- */

void rtcsec_turn_config_default(rtcsec_turn_config *cfg) {
  if (cfg == NULL)
    return;
  memset(cfg, 0, sizeof(*cfg));
  rtcsec_dtls_config_default(&cfg->dtls);
  cfg->dtls.role = RTCSEC_DTLS_CLIENT;
  cfg->dtls.use_srtp = 0;
  cfg->dtls.mtu = 1400;
  cfg->lifetime_s = 600;
  cfg->rto_us = 500000;    /* RFC 8489 §6.2.1: at least 500 ms */
  cfg->transmissions = 7;  /* Rc */
  cfg->last_wait_rto = 16; /* Rm */
}

static int dup_opt(const char *s, char **out) {
  *out = NULL;
  if (s == NULL)
    return RTCSEC_OK;
  if (strnlen(s, RTCSEC_TURN_MAX_CREDENTIAL + 1) > RTCSEC_TURN_MAX_CREDENTIAL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  *out = strdup(s);
  return *out != NULL ? RTCSEC_OK : RTCSEC_ERR_NO_MEMORY;
}

int rtcsec_turn_new(rtcsec_turn **out, const rtcsec_turn_config *cfg) {
  if (out == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  *out = NULL;
  if (cfg == NULL || (cfg->username == NULL) != (cfg->password == NULL) || cfg->rto_us == 0 ||
      cfg->transmissions == 0)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  /* RFC 8489 §6.2.3: the server must be authenticated; without a way to
   * do it the association could never connect. */
  if (cfg->dtls.n_peer_fingerprints == 0 && cfg->dtls.ca_file == NULL && cfg->dtls.psk_len == 0)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  rtcsec_turn *t = calloc(1, sizeof(*t));
  if (t == NULL)
    return RTCSEC_ERR_NO_MEMORY;
  rtcsec_ring_init(&t->events, sizeof(event_node), EVENTS_MAX);
  t->lifetime_s = cfg->lifetime_s;
  t->rto_us = cfg->rto_us;
  t->rc = cfg->transmissions;
  t->rm = cfg->last_wait_rto;
  t->mtu = cfg->dtls.mtu;
  t->next_channel = CHANNEL_MIN;
  int rc = dup_opt(cfg->username, &t->username);
  if (rc == RTCSEC_OK)
    rc = dup_opt(cfg->password, &t->password);
  if (rc == RTCSEC_OK)
    rc = dup_opt(cfg->software, &t->software);
  if (rc == RTCSEC_OK) {
    t->rx = malloc(RECORD_MAX);
    t->scratch = malloc(t->mtu + 64);
    if (t->rx == NULL || t->scratch == NULL)
      rc = RTCSEC_ERR_NO_MEMORY;
  }
  rtcsec_dtls_config dcfg = cfg->dtls;
  dcfg.role = RTCSEC_DTLS_CLIENT;
  dcfg.use_srtp = 0;
  if (rc == RTCSEC_OK && dcfg.cert == NULL && dcfg.psk_len == 0) {
    rtcsec_cert_config cc;
    rtcsec_cert_config_default(&cc);
    rc = rtcsec_cert_generate(&t->own_cert, &cc);
    dcfg.cert = t->own_cert;
  }
  if (rc == RTCSEC_OK)
    rc = rtcsec_dtls_new(&t->dtls, &dcfg);
  if (rc != RTCSEC_OK) {
    rtcsec_turn_free(t);
    return rc;
  }
  *out = t;
  return RTCSEC_OK;
}

static void free_secret(char *s) {
  if (s != NULL) {
    OPENSSL_cleanse(s, strlen(s));
    free(s);
  }
}

void rtcsec_turn_free(rtcsec_turn *t) {
  if (t == NULL)
    return;
  rtcsec_dtls_free(t->dtls);
  rtcsec_cert_free(t->own_cert);
  free_secret(t->username);
  free_secret(t->password);
  free(t->software);
  rtcsec_ring_clear(&t->events);
  if (t->data_buf != NULL) {
    OPENSSL_cleanse(t->data_buf, t->data_cap);
    free(t->data_buf);
  }
  if (t->rx != NULL) {
    OPENSSL_cleanse(t->rx, RECORD_MAX);
    free(t->rx);
  }
  free(t->scratch);
  OPENSSL_cleanse(t, sizeof(*t)); /* the key and the messages with it */
  free(t);
}

/* ---- failure of the association ------------------------------------------------ */

static void fail(rtcsec_turn *t, int code, const char *why) {
  if (t->state == RTCSEC_TURN_STATE_FAILED)
    return;
  t->state = RTCSEC_TURN_STATE_FAILED;
  t->error = code;
  snprintf(t->detail, sizeof(t->detail), "%s", why);
  memset(t->txs, 0, sizeof(t->txs)); /* nothing queued ever leaves */
}

/* ---- building requests ---------------------------------------------------------- */

/* Writes tx's request with a fresh transaction ID: the method's attributes,
 * then (once a realm and nonce are known) the long-term credential and
 * MESSAGE-INTEGRITY (RFC 8489 §9.2.3). */
static int build_request(rtcsec_turn *t, tx *x) {
  if (RAND_bytes(x->tid, sizeof(x->tid)) != 1) /* RFC 8489 §5: uniformly random */
    return RTCSEC_ERR_CRYPTO;
  rtcsec_stun_builder b;
  rtcsec_stun_builder_init(&b, x->msg, sizeof(x->msg), x->method, RTCSEC_STUN_REQUEST, x->tid);
  const peer_entry *p = x->peer >= 0 ? &t->peers[x->peer] : NULL;
  switch (x->method) {
  case RTCSEC_STUN_ALLOCATE: {
    uint8_t rt[4] = {PROTO_UDP, 0, 0, 0};
    rtcsec_stun_add_attr(&b, RTCSEC_STUN_ATTR_REQUESTED_TRANSPORT, rt, sizeof(rt));
    if (x->lifetime != 0)
      rtcsec_stun_add_u32(&b, RTCSEC_STUN_ATTR_LIFETIME, x->lifetime);
    break;
  }
  case RTCSEC_STUN_REFRESH:
    rtcsec_stun_add_u32(&b, RTCSEC_STUN_ATTR_LIFETIME, x->lifetime);
    break;
  case RTCSEC_STUN_CREATE_PERMISSION:
    rtcsec_stun_add_xor_address(&b, RTCSEC_STUN_ATTR_XOR_PEER_ADDRESS,
                                (const struct sockaddr *)&p->addr, p->len);
    break;
  case RTCSEC_STUN_CHANNEL_BIND:
    /* RFC 8656 §18.1: the number, then 2 RFFU bytes */
    rtcsec_stun_add_u32(&b, RTCSEC_STUN_ATTR_CHANNEL_NUMBER, (uint32_t)p->channel << 16);
    rtcsec_stun_add_xor_address(&b, RTCSEC_STUN_ATTR_XOR_PEER_ADDRESS,
                                (const struct sockaddr *)&p->addr, p->len);
    break;
  default:
    break;
  }
  if (t->software != NULL)
    rtcsec_stun_add_attr(&b, RTCSEC_STUN_ATTR_SOFTWARE, t->software, strlen(t->software));
  x->with_credentials = t->have_key && x->method != RTCSEC_STUN_BINDING;
  if (x->with_credentials) {
    rtcsec_stun_add_username(&b, t->username, strlen(t->username));
    rtcsec_stun_add_attr(&b, RTCSEC_STUN_ATTR_REALM, t->realm, strlen(t->realm));
    rtcsec_stun_add_attr(&b, RTCSEC_STUN_ATTR_NONCE, t->nonce, strlen(t->nonce));
    rtcsec_stun_add_integrity(&b, t->key, sizeof(t->key));
  }
  return rtcsec_stun_builder_finish(&b, &x->len);
}

/* RFC 8489 §6.2.1: the next timer after transmission number x->sent: RTO
 * doubling while transmissions remain, then Rm * RTO to wait for the last. */
static void arm(rtcsec_turn *t, tx *x, uint64_t now) {
  if (x->sent < t->rc) {
    unsigned shift = x->sent - 1 < 16 ? x->sent - 1 : 16;
    x->next = now + (t->rto_us << shift);
  } else {
    x->next = now + (uint64_t)t->rm * t->rto_us;
  }
}

static void tx_finish(rtcsec_turn *t, tx *x);

/* The transaction failed for good: one TURN_ERROR event. A refresh that
 * keeps something alive is tried again a little later. */
static void tx_fail(rtcsec_turn *t, tx *x, int code, const char *reason) {
  rtcsec_turn_info info;
  memset(&info, 0, sizeof(info));
  info.method = x->method;
  info.error_code = code;
  peer_entry *p = x->peer >= 0 ? &t->peers[x->peer] : NULL;
  if (p != NULL)
    set_addr(&info, &p->addr, p->len);
  if (x->method == RTCSEC_STUN_REFRESH && x->lifetime != 0 && t->allocated)
    t->alloc_refresh_at = t->now + REFRESH_RETRY_US;
  else if (x->method == RTCSEC_STUN_CHANNEL_BIND && p != NULL && p->channel_bound)
    p->channel_refresh_at = t->now + REFRESH_RETRY_US;
  else if (x->method == RTCSEC_STUN_CREATE_PERMISSION && p != NULL && p->perm_installed)
    p->perm_refresh_at = t->now + REFRESH_RETRY_US;
  t->stats.transactions_failed++;
  push(t, RTCSEC_EVENT_TURN_ERROR, &info, reason);
  tx_finish(t, x);
}

static void tx_transmit(rtcsec_turn *t, tx *x, uint64_t now) {
  int rc = rtcsec_dtls_send_data(t->dtls, x->msg, x->len, now);
  if (rc != RTCSEC_OK) {
    tx_fail(t, x, 0,
            rc == RTCSEC_ERR_TOO_LARGE ? "request larger than the DTLS MTU"
                                       : "the DTLS association refused to send");
    return;
  }
  x->sent++;
  if (x->sent == 1)
    t->stats.requests_sent++;
  else
    t->stats.retransmissions++;
  arm(t, x, now);
}

/* Sends a built transaction now if the association is connected. */
static void tx_go(rtcsec_turn *t, tx *x, uint64_t now) {
  x->queued = t->state != RTCSEC_TURN_STATE_CONNECTED;
  x->sent = 0;
  if (!x->queued)
    tx_transmit(t, x, now);
}

static tx *tx_new(rtcsec_turn *t, uint16_t method, int peer, uint32_t lifetime, int *rc) {
  for (size_t i = 0; i < RTCSEC_TURN_MAX_TRANSACTIONS; i++) {
    tx *x = &t->txs[i];
    if (x->used)
      continue;
    memset(x, 0, sizeof(*x));
    x->used = 1;
    x->method = method;
    x->peer = peer;
    x->lifetime = lifetime;
    *rc = build_request(t, x);
    if (*rc != RTCSEC_OK) {
      x->used = 0;
      return NULL;
    }
    return x;
  }
  *rc = RTCSEC_ERR_LIMIT;
  return NULL;
}

static void tx_finish(rtcsec_turn *t, tx *x) {
  (void)t;
  OPENSSL_cleanse(x, sizeof(*x));
}

/* ---- the requests of the API ---------------------------------------------------- */

static int can_request(const rtcsec_turn *t) {
  return t->state == RTCSEC_TURN_STATE_NEW || t->state == RTCSEC_TURN_STATE_CONNECTING ||
         t->state == RTCSEC_TURN_STATE_CONNECTED;
}

static int request(rtcsec_turn *t, uint16_t method, int peer, uint32_t lifetime, uint64_t now) {
  t->now = now;
  int rc = RTCSEC_OK;
  tx *x = tx_new(t, method, peer, lifetime, &rc);
  if (x == NULL)
    return rc;
  tx_go(t, x, now);
  return RTCSEC_OK;
}

int rtcsec_turn_binding(rtcsec_turn *t, uint64_t now) {
  if (t == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  if (!can_request(t))
    return RTCSEC_ERR_INVALID_STATE;
  return request(t, RTCSEC_STUN_BINDING, -1, 0, now);
}

static int pending(const rtcsec_turn *t, uint16_t method) {
  for (size_t i = 0; i < RTCSEC_TURN_MAX_TRANSACTIONS; i++) {
    if (t->txs[i].used && t->txs[i].method == method)
      return 1;
  }
  return 0;
}

int rtcsec_turn_allocate(rtcsec_turn *t, uint64_t now) {
  if (t == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  if (!can_request(t) || t->username == NULL || t->allocated || pending(t, RTCSEC_STUN_ALLOCATE))
    return RTCSEC_ERR_INVALID_STATE;
  return request(t, RTCSEC_STUN_ALLOCATE, -1, t->lifetime_s, now);
}

int rtcsec_turn_refresh(rtcsec_turn *t, uint32_t lifetime_s, uint64_t now) {
  if (t == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  if (t->state != RTCSEC_TURN_STATE_CONNECTED || !t->allocated)
    return RTCSEC_ERR_INVALID_STATE;
  return request(t, RTCSEC_STUN_REFRESH, -1, lifetime_s, now);
}

static int addr_ok(const struct sockaddr *a, socklen_t len) {
  if (a == NULL)
    return 0;
  if (a->sa_family == AF_INET)
    return len >= (socklen_t)sizeof(struct sockaddr_in);
  if (a->sa_family == AF_INET6)
    return len >= (socklen_t)sizeof(struct sockaddr_in6);
  return 0;
}

/* Same IP address (RFC 8656 §9: a permission ignores the port). */
static int same_ip(const struct sockaddr_storage *a, const struct sockaddr *b) {
  if (a->ss_family != b->sa_family)
    return 0;
  if (a->ss_family == AF_INET)
    return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
           ((const struct sockaddr_in *)b)->sin_addr.s_addr;
  return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
                &((const struct sockaddr_in6 *)b)->sin6_addr, 16) == 0;
}

static int same_port(const struct sockaddr_storage *a, const struct sockaddr *b) {
  if (a->ss_family == AF_INET)
    return ((const struct sockaddr_in *)a)->sin_port == ((const struct sockaddr_in *)b)->sin_port;
  return ((const struct sockaddr_in6 *)a)->sin6_port == ((const struct sockaddr_in6 *)b)->sin6_port;
}

/* The entry of exactly this transport address, made if need be; -1 if
 * the table is full. */
static int peer_index(rtcsec_turn *t, const struct sockaddr *a, int make) {
  int free_slot = -1;
  for (int i = 0; i < RTCSEC_TURN_MAX_PEERS; i++) {
    peer_entry *p = &t->peers[i];
    if (!p->used) {
      if (free_slot < 0)
        free_slot = i;
      continue;
    }
    if (same_ip(&p->addr, a) && same_port(&p->addr, a))
      return i;
  }
  if (!make || free_slot < 0)
    return -1;
  peer_entry *p = &t->peers[free_slot];
  memset(p, 0, sizeof(*p));
  p->used = 1;
  memcpy(&p->addr, a,
         a->sa_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
  p->len = a->sa_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
  return free_slot;
}

static int turn_ready(const rtcsec_turn *t) {
  return can_request(t) && t->username != NULL && t->allocated;
}

/* The checks of a request about a peer, and its entry in *i. */
static int peer_request(rtcsec_turn *t, const struct sockaddr *peer, socklen_t peer_len, int *i) {
  if (t == NULL || !addr_ok(peer, peer_len))
    return RTCSEC_ERR_INVALID_ARGUMENT;
  if (!turn_ready(t))
    return RTCSEC_ERR_INVALID_STATE;
  *i = peer_index(t, peer, 1);
  return *i < 0 ? RTCSEC_ERR_LIMIT : RTCSEC_OK;
}

int rtcsec_turn_create_permission(rtcsec_turn *t, const struct sockaddr *peer, socklen_t peer_len,
                                  uint64_t now) {
  int i = -1;
  int rc = peer_request(t, peer, peer_len, &i);
  if (rc != RTCSEC_OK)
    return rc;
  rc = request(t, RTCSEC_STUN_CREATE_PERMISSION, i, 0, now);
  if (rc == RTCSEC_OK)
    t->peers[i].perm_requested = 1;
  return rc;
}

int rtcsec_turn_bind_channel(rtcsec_turn *t, const struct sockaddr *peer, socklen_t peer_len,
                             uint64_t now) {
  int i = -1;
  int rc = peer_request(t, peer, peer_len, &i);
  if (rc != RTCSEC_OK)
    return rc;
  peer_entry *p = &t->peers[i];
  if (p->channel != 0)
    return RTCSEC_OK; /* bound or being bound; refreshed on its own */
  if (t->next_channel > CHANNEL_MAX)
    return RTCSEC_ERR_LIMIT;
  p->channel = t->next_channel;
  rc = request(t, RTCSEC_STUN_CHANNEL_BIND, i, 0, now);
  if (rc != RTCSEC_OK) {
    p->channel = 0;
    return rc;
  }
  t->next_channel++;
  p->perm_requested = 1;
  return RTCSEC_OK;
}

/* ---- responses -------------------------------------------------------------------- */

/* Comprehension-required attributes the codec leaves unknown but TURN
 * defines (RFC 8656 §18). */
static int turn_attribute(uint16_t type) {
  switch (type) {
  case RTCSEC_STUN_ATTR_CHANNEL_NUMBER:
  case RTCSEC_STUN_ATTR_LIFETIME:
  case RTCSEC_STUN_ATTR_XOR_PEER_ADDRESS:
  case RTCSEC_STUN_ATTR_DATA:
  case RTCSEC_STUN_ATTR_XOR_RELAYED_ADDRESS:
  case RTCSEC_STUN_ATTR_REQUESTED_ADDRESS_FAMILY:
  case RTCSEC_STUN_ATTR_EVEN_PORT:
  case RTCSEC_STUN_ATTR_REQUESTED_TRANSPORT:
  case RTCSEC_STUN_ATTR_DONT_FRAGMENT:
  case RTCSEC_STUN_ATTR_RESERVATION_TOKEN:
    return 1;
  default:
    return 0;
  }
}

static int has_unknown_required(const rtcsec_stun_msg *m) {
  if (m->n_unknown > RTCSEC_STUN_MAX_UNKNOWN)
    return 1;
  for (size_t i = 0; i < m->n_unknown; i++) {
    if (!turn_attribute(m->unknown[i]))
      return 1;
  }
  return 0;
}

static tx *find_tx(rtcsec_turn *t, const uint8_t tid[RTCSEC_STUN_TID_LEN]) {
  for (size_t i = 0; i < RTCSEC_TURN_MAX_TRANSACTIONS; i++) {
    tx *x = &t->txs[i];
    if (x->used && !x->queued && x->sent > 0 && memcmp(x->tid, tid, RTCSEC_STUN_TID_LEN) == 0)
      return x;
  }
  return NULL;
}

/* A 4-byte LIFETIME (RFC 8656 §18.2), or `dflt` if absent or malformed. */
static uint32_t lifetime_of(const rtcsec_stun_msg *m, uint32_t dflt) {
  const uint8_t *v = NULL;
  size_t n = 0;
  if (rtcsec_stun_find_attr(m, RTCSEC_STUN_ATTR_LIFETIME, &v, &n) && n == 4)
    return rtcsec_be32(v);
  return dflt;
}

/* The XOR'ed address attribute `type`: 0 with *out set, or -1. */
static int xor_addr_of(const rtcsec_stun_msg *m, uint16_t type, struct sockaddr_storage *out,
                       socklen_t *out_len) {
  const uint8_t *v = NULL;
  size_t n = 0;
  if (!rtcsec_stun_find_attr(m, type, &v, &n))
    return -1;
  return rtcsec_stun_decode_xor_address(m, v, n, out, out_len) == RTCSEC_OK ? 0 : -1;
}

/* Schedules the allocation's refresh: a minute before it expires, or at
 * half its lifetime if that is shorter than two minutes. */
static void schedule_alloc_refresh(rtcsec_turn *t, uint32_t lifetime, uint64_t now) {
  uint64_t l = (uint64_t)lifetime * 1000000u;
  t->alloc_refresh_at = now + (lifetime >= 120 ? l - 60000000u : l / 2);
}

static void on_allocated(rtcsec_turn *t, tx *x, const rtcsec_stun_msg *m, uint64_t now) {
  rtcsec_turn_info info;
  memset(&info, 0, sizeof(info));
  info.method = RTCSEC_STUN_ALLOCATE;
  struct sockaddr_storage relayed;
  socklen_t relayed_len = 0;
  /* RFC 8656 §7.3: XOR-RELAYED-ADDRESS and LIFETIME are in every success. */
  if (xor_addr_of(m, RTCSEC_STUN_ATTR_XOR_RELAYED_ADDRESS, &relayed, &relayed_len) != 0) {
    tx_fail(t, x, 0, "Allocate success response without a valid XOR-RELAYED-ADDRESS");
    return;
  }
  uint32_t lifetime = lifetime_of(m, x->lifetime ? x->lifetime : 600);
  if (m->present & RTCSEC_STUN_HAS_XOR_MAPPED_ADDRESS) {
    set_addr(&info, &m->xor_mapped, m->xor_mapped_len);
    push(t, RTCSEC_EVENT_MAPPED_ADDRESS, &info, NULL);
  }
  t->allocated = 1;
  t->relayed = relayed;
  t->relayed_len = relayed_len;
  schedule_alloc_refresh(t, lifetime, now);
  set_addr(&info, &relayed, relayed_len);
  info.lifetime_s = lifetime;
  push(t, RTCSEC_EVENT_ALLOCATED, &info, NULL);
  tx_finish(t, x);
}

/* The allocation is gone (deleted, expired or refused): so are its
 * permissions and channels (RFC 8656 §8). */
static void drop_allocation(rtcsec_turn *t) {
  t->allocated = 0;
  t->alloc_refresh_at = 0;
  memset(t->peers, 0, sizeof(t->peers));
  for (size_t i = 0; i < RTCSEC_TURN_MAX_TRANSACTIONS; i++) {
    if (t->txs[i].used && t->txs[i].peer >= 0)
      tx_finish(t, &t->txs[i]); /* about a permission or channel that is gone */
  }
}

static void on_success(rtcsec_turn *t, tx *x, const rtcsec_stun_msg *m, uint64_t now) {
  rtcsec_turn_info info;
  memset(&info, 0, sizeof(info));
  info.method = x->method;
  peer_entry *p = x->peer >= 0 ? &t->peers[x->peer] : NULL;
  switch (x->method) {
  case RTCSEC_STUN_BINDING:
    /* RFC 8489 §6.3.3: the client checks XOR-MAPPED-ADDRESS is present */
    if (!(m->present & RTCSEC_STUN_HAS_XOR_MAPPED_ADDRESS)) {
      tx_fail(t, x, 0, "Binding success response without XOR-MAPPED-ADDRESS");
      return;
    }
    set_addr(&info, &m->xor_mapped, m->xor_mapped_len);
    push(t, RTCSEC_EVENT_MAPPED_ADDRESS, &info, NULL);
    break;
  case RTCSEC_STUN_ALLOCATE:
    on_allocated(t, x, m, now);
    return;
  case RTCSEC_STUN_REFRESH:
    info.lifetime_s = lifetime_of(m, x->lifetime);
    if (info.lifetime_s == 0)
      drop_allocation(t);
    else
      schedule_alloc_refresh(t, info.lifetime_s, now);
    push(t, RTCSEC_EVENT_REFRESHED, &info, NULL);
    break;
  case RTCSEC_STUN_CREATE_PERMISSION:
    p->perm_installed = 1;
    p->perm_refresh_at = now + PERMISSION_REFRESH_US;
    set_addr(&info, &p->addr, p->len);
    push(t, RTCSEC_EVENT_PERMISSION, &info, NULL);
    break;
  case RTCSEC_STUN_CHANNEL_BIND: {
    /* RFC 8656 §12: a binding refreshed before it expires stays bound */
    int fresh = !p->channel_bound;
    p->channel_bound = p->perm_installed = 1;
    p->channel_refresh_at = now + CHANNEL_REFRESH_US;
    if (fresh) {
      set_addr(&info, &p->addr, p->len);
      info.channel = p->channel;
      push(t, RTCSEC_EVENT_CHANNEL_BOUND, &info, NULL);
    }
    break;
  }
  default:
    break;
  }
  tx_finish(t, x);
}

/* The reason phrase of an error response, printable ASCII only. */
static void reason_of(const rtcsec_stun_msg *m, char *buf, size_t cap) {
  size_t n = 0;
  int len = snprintf(buf, cap, "%d ", m->error_code);
  if (len > 0 && (size_t)len < cap)
    n = (size_t)len;
  for (size_t i = 0; i < m->error_reason_len && n + 1 < cap; i++) {
    uint8_t c = m->error_reason[i];
    buf[n++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
  }
  buf[n] = '\0';
}

/* Copies a REALM or NONCE value (RFC 8489 §14.9, §14.10); -1 if unusable. */
static int take_text(const uint8_t *v, size_t n, char *out) {
  if (v == NULL || n == 0 || n > RTCSEC_TURN_MAX_CREDENTIAL || memchr(v, '\0', n) != NULL)
    return -1;
  memcpy(out, v, n);
  out[n] = '\0';
  return 0;
}

/* The same request again, with a new transaction ID and the credential
 * (RFC 8489 §9.2.5: "retry the request with a new transaction"). */
static void retry_with_credentials(rtcsec_turn *t, tx *x, uint64_t now) {
  unsigned retries = x->auth_retries + 1;
  if (retries > AUTH_RETRIES_MAX) {
    tx_fail(t, x, RTCSEC_STUN_ERR_STALE_NONCE, "too many 401 / 438 answers");
    return;
  }
  int rc = build_request(t, x);
  if (rc != RTCSEC_OK) {
    tx_fail(t, x, 0, "the request with credentials could not be built");
    return;
  }
  x->auth_retries = retries;
  t->stats.auth_retries++;
  x->sent = 0;
  tx_transmit(t, x, now);
}

static void on_error(rtcsec_turn *t, tx *x, const rtcsec_stun_msg *m, uint64_t now) {
  char reason[REASON_MAX];
  reason_of(m, reason, sizeof(reason));
  int code = m->error_code;
  int is_turn = x->method != RTCSEC_STUN_BINDING;
  if (is_turn && (code == RTCSEC_STUN_ERR_UNAUTHENTICATED || code == RTCSEC_STUN_ERR_STALE_NONCE)) {
    /* RFC 8489 §9.2.5: 401 to a request without credentials, or 438,
     * carry the realm (401) and a nonce to use. A 401 to a request that
     * had credentials means they are wrong: no retry. */
    if (code == RTCSEC_STUN_ERR_UNAUTHENTICATED && x->with_credentials) {
      tx_fail(t, x, code, reason);
      return;
    }
    char realm[RTCSEC_TURN_MAX_CREDENTIAL + 1], nonce[RTCSEC_TURN_MAX_CREDENTIAL + 1];
    int have_realm = take_text(m->realm, m->realm_len, realm) == 0;
    if (take_text(m->nonce, m->nonce_len, nonce) != 0 ||
        (code == RTCSEC_STUN_ERR_UNAUTHENTICATED && !have_realm) || (!have_realm && !t->have_key)) {
      tx_fail(t, x, code, "401 / 438 without a usable REALM and NONCE");
      return;
    }
    if (have_realm) {
      memcpy(t->realm, realm, sizeof(realm));
      if (rtcsec_stun_long_term_key(t->username, t->realm, t->password, t->key) != RTCSEC_OK) {
        tx_fail(t, x, code, "the long-term key could not be computed");
        return;
      }
      t->have_key = 1;
    }
    memcpy(t->nonce, nonce, sizeof(nonce));
    retry_with_credentials(t, x, now);
    return;
  }
  if (code == RTCSEC_STUN_ERR_ALLOCATION_MISMATCH && x->method == RTCSEC_STUN_REFRESH)
    drop_allocation(t); /* RFC 8656 §8: the allocation does not exist */
  if (x->peer >= 0 && x->method == RTCSEC_STUN_CHANNEL_BIND && !t->peers[x->peer].channel_bound)
    t->peers[x->peer].channel = 0;
  tx_fail(t, x, code, reason);
}

/* RFC 8489 §9.2.5: a response to a request that carried the credential
 * must carry a MESSAGE-INTEGRITY that verifies (else it is treated as
 * never received: the request is retransmitted), except a 400, 401 or
 * 438 without one. */
static int response_authentic(rtcsec_turn *t, const tx *x, const rtcsec_stun_msg *m) {
  if (!x->with_credentials)
    return 1;
  if (m->present & RTCSEC_STUN_HAS_INTEGRITY)
    return rtcsec_stun_check_integrity(m, t->key, sizeof(t->key)) == RTCSEC_OK;
  return m->cls == RTCSEC_STUN_ERROR && (m->error_code == RTCSEC_STUN_ERR_BAD_REQUEST ||
                                         m->error_code == RTCSEC_STUN_ERR_UNAUTHENTICATED ||
                                         m->error_code == RTCSEC_STUN_ERR_STALE_NONCE);
}

static void relayed(rtcsec_turn *t, const struct sockaddr_storage *peer, socklen_t peer_len,
                    uint16_t channel, const uint8_t *data, size_t len) {
  /* Undelivered data stays where it is; once all was handed out the buffer
   * starts over. */
  if (t->data_events == 0)
    t->data_used = 0;
  if (len > DATA_PENDING_MAX - t->data_used) {
    t->stats.dropped++;
    return;
  }
  if (t->data_used + len > t->data_cap) {
    size_t cap = t->data_used + len;
    uint8_t *n = malloc(cap);
    if (n == NULL) {
      t->stats.dropped++;
      return;
    }
    if (t->data_buf != NULL) {
      memcpy(n, t->data_buf, t->data_used);
      OPENSSL_cleanse(t->data_buf, t->data_cap);
      free(t->data_buf);
    }
    t->data_buf = n;
    t->data_cap = cap;
  }
  event_node node;
  memset(&node, 0, sizeof(node));
  node.ev.type = RTCSEC_EVENT_RELAYED_DATA;
  set_addr(&node.ev.turn, peer, peer_len);
  node.ev.turn.channel = channel;
  node.ev.turn.len = len;
  node.data_off = t->data_used;
  if (rtcsec_ring_push(&t->events, &node) != RTCSEC_OK) {
    t->stats.dropped++;
    return;
  }
  if (len > 0)
    memcpy(t->data_buf + t->data_used, data, len);
  t->data_used += len;
  t->data_events++;
  t->stats.relayed_received++;
}

/* 1 if a permission for the peer's IP address was asked for. */
static int permitted(const rtcsec_turn *t, const struct sockaddr *a) {
  for (int i = 0; i < RTCSEC_TURN_MAX_PEERS; i++) {
    const peer_entry *p = &t->peers[i];
    if (p->used && p->perm_requested && same_ip(&p->addr, a))
      return 1;
  }
  return 0;
}

/* RFC 8656 §11.4: a Data indication with XOR-PEER-ADDRESS and DATA, from
 * a peer this client has a permission for. */
static void on_data_indication(rtcsec_turn *t, const rtcsec_stun_msg *m) {
  struct sockaddr_storage peer;
  socklen_t peer_len = 0;
  const uint8_t *v = NULL;
  size_t n = 0;
  if (!t->allocated || has_unknown_required(m) ||
      xor_addr_of(m, RTCSEC_STUN_ATTR_XOR_PEER_ADDRESS, &peer, &peer_len) != 0 ||
      !rtcsec_stun_find_attr(m, RTCSEC_STUN_ATTR_DATA, &v, &n) ||
      !permitted(t, (const struct sockaddr *)&peer)) {
    t->stats.dropped++;
    return;
  }
  relayed(t, &peer, peer_len, 0, v, n);
}

static void on_stun(rtcsec_turn *t, const uint8_t *p, size_t n, uint64_t now) {
  rtcsec_stun_msg m;
  if (rtcsec_stun_parse(&m, p, n) != RTCSEC_OK) {
    t->stats.dropped++;
    return;
  }
  if (m.cls == RTCSEC_STUN_INDICATION && m.method == RTCSEC_STUN_DATA) {
    on_data_indication(t, &m);
    return;
  }
  tx *x = m.cls == RTCSEC_STUN_SUCCESS || m.cls == RTCSEC_STUN_ERROR ? find_tx(t, m.tid) : NULL;
  if (x == NULL || x->method != m.method || !response_authentic(t, x, &m)) {
    t->stats.dropped++;
    return;
  }
  t->stats.responses++;
  /* RFC 8489 §6.3.3, §6.3.4: unknown comprehension-required attributes,
   * or an error response without ERROR-CODE, fail the transaction. */
  if (has_unknown_required(&m)) {
    tx_fail(t, x, m.cls == RTCSEC_STUN_ERROR ? m.error_code : 0,
            "response with an unknown comprehension-required attribute");
    return;
  }
  if (m.cls == RTCSEC_STUN_ERROR && !(m.present & RTCSEC_STUN_HAS_ERROR_CODE)) {
    tx_fail(t, x, 0, "error response without ERROR-CODE");
    return;
  }
  if (m.cls == RTCSEC_STUN_ERROR)
    on_error(t, x, &m, now);
  else
    on_success(t, x, &m, now);
}

/* RFC 8656 §12.4: ChannelData, a channel number 0x4000..0x4FFF, a length,
 * the data, and over UDP / DTLS optional padding to four bytes. */
static void on_channel_data(rtcsec_turn *t, const uint8_t *p, size_t n) {
  if (n < 4) {
    t->stats.dropped++;
    return;
  }
  uint16_t ch = rtcsec_be16(p);
  size_t len = rtcsec_be16(p + 2);
  if (ch < CHANNEL_MIN || ch > CHANNEL_MAX || len > n - 4 || n - 4 - len > 3) {
    t->stats.dropped++;
    return;
  }
  for (int i = 0; i < RTCSEC_TURN_MAX_PEERS; i++) {
    const peer_entry *e = &t->peers[i];
    if (e->used && e->channel == ch) {
      relayed(t, &e->addr, e->len, ch, p + 4, len);
      return;
    }
  }
  t->stats.dropped++;
}

/* One record of application data from the server: STUN (first two bits
 * 00) or ChannelData (01), RFC 8656 §12. */
static void on_record(rtcsec_turn *t, const uint8_t *p, size_t n, uint64_t now) {
  if (n > 0 && (p[0] & 0xc0u) == 0x00)
    on_stun(t, p, n, now);
  else if (n > 0 && (p[0] & 0xc0u) == 0x40)
    on_channel_data(t, p, n);
  else
    t->stats.dropped++;
}

static void flush_queued(rtcsec_turn *t, uint64_t now) {
  for (size_t i = 0; i < RTCSEC_TURN_MAX_TRANSACTIONS; i++) {
    tx *x = &t->txs[i];
    if (x->used && x->queued) {
      x->queued = 0;
      tx_transmit(t, x, now);
    }
  }
}

/* Takes what the association reports after any call into it. */
static void pump(rtcsec_turn *t, uint64_t now) {
  rtcsec_event ev;
  while (rtcsec_dtls_poll_event(t->dtls, &ev) == RTCSEC_OK && ev.type != RTCSEC_EVENT_NONE) {
    switch (ev.type) {
    case RTCSEC_EVENT_CONNECTED:
      /* The server is authenticated (RFC 8489 §6.2.3): now STUN may go. */
      if (t->state == RTCSEC_TURN_STATE_CONNECTING) {
        t->state = RTCSEC_TURN_STATE_CONNECTED;
        pass_on(t, &ev);
        flush_queued(t, now);
      }
      break;
    case RTCSEC_EVENT_DATA:
      if (ev.data.len <= RECORD_MAX && t->state == RTCSEC_TURN_STATE_CONNECTED) {
        /* a copy: handling it may call the association again */
        memcpy(t->rx, ev.data.data, ev.data.len);
        on_record(t, t->rx, ev.data.len, now);
      } else {
        t->stats.dropped++;
      }
      break;
    case RTCSEC_EVENT_FAILED:
      fail(t, ev.failed.error, rtcsec_dtls_error_detail(t->dtls));
      pass_on(t, &ev);
      break;
    case RTCSEC_EVENT_CLOSED:
      if (t->state != RTCSEC_TURN_STATE_FAILED) {
        t->state = RTCSEC_TURN_STATE_CLOSED;
        memset(t->txs, 0, sizeof(t->txs));
        pass_on(t, &ev);
      }
      break;
    default:
      break;
    }
  }
}

/* ---- driving ------------------------------------------------------------------------- */

int rtcsec_turn_start(rtcsec_turn *t, uint64_t now) {
  if (t == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  if (t->state != RTCSEC_TURN_STATE_NEW)
    return RTCSEC_ERR_INVALID_STATE;
  t->state = RTCSEC_TURN_STATE_CONNECTING;
  t->now = now;
  int rc = rtcsec_dtls_start(t->dtls, now);
  pump(t, now);
  return rc;
}

int rtcsec_turn_handle_datagram(rtcsec_turn *t, const uint8_t *data, size_t len, uint64_t now) {
  if (t == NULL || (data == NULL && len > 0))
    return RTCSEC_ERR_INVALID_ARGUMENT;
  if (t->state == RTCSEC_TURN_STATE_FAILED)
    return t->error;
  if (t->state != RTCSEC_TURN_STATE_CONNECTING && t->state != RTCSEC_TURN_STATE_CONNECTED) {
    t->stats.dropped++;
    return RTCSEC_OK;
  }
  /* RFC 7983: only DTLS (20..63) comes from the server here: STUN and
   * ChannelData travel inside it. */
  if (len == 0 || data[0] < 20 || data[0] > 63) {
    t->stats.dropped++;
    return RTCSEC_OK;
  }
  t->now = now;
  int rc = rtcsec_dtls_handle_datagram(t->dtls, data, len, now);
  pump(t, now);
  return t->state == RTCSEC_TURN_STATE_FAILED ? t->error
                                              : (rc == RTCSEC_ERR_CLOSED ? RTCSEC_OK : rc);
}

/* The refreshes due: the allocation, permissions and channel bindings
 * (each at most once in flight). */
static void run_refreshes(rtcsec_turn *t, uint64_t now) {
  if (t->state != RTCSEC_TURN_STATE_CONNECTED || !t->allocated)
    return;
  if (now >= t->alloc_refresh_at && !pending(t, RTCSEC_STUN_REFRESH) &&
      request(t, RTCSEC_STUN_REFRESH, -1, t->lifetime_s ? t->lifetime_s : 600, now) == RTCSEC_OK)
    t->alloc_refresh_at = UINT64_MAX; /* until the answer schedules the next */
  for (int i = 0; i < RTCSEC_TURN_MAX_PEERS; i++) {
    peer_entry *p = &t->peers[i];
    if (!p->used)
      continue;
    if (p->channel_bound && now >= p->channel_refresh_at &&
        request(t, RTCSEC_STUN_CHANNEL_BIND, i, 0, now) == RTCSEC_OK)
      p->channel_refresh_at = UINT64_MAX;
    else if (!p->channel_bound && p->perm_installed && now >= p->perm_refresh_at &&
             request(t, RTCSEC_STUN_CREATE_PERMISSION, i, 0, now) == RTCSEC_OK)
      p->perm_refresh_at = UINT64_MAX;
  }
}

int rtcsec_turn_handle_timeout(rtcsec_turn *t, uint64_t now) {
  if (t == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  if (t->state == RTCSEC_TURN_STATE_FAILED)
    return t->error;
  if (t->state != RTCSEC_TURN_STATE_CONNECTING && t->state != RTCSEC_TURN_STATE_CONNECTED)
    return RTCSEC_OK;
  t->now = now;
  (void)rtcsec_dtls_handle_timeout(t->dtls, now);
  pump(t, now);
  for (size_t i = 0; i < RTCSEC_TURN_MAX_TRANSACTIONS && t->state == RTCSEC_TURN_STATE_CONNECTED;
       i++) {
    tx *x = &t->txs[i];
    if (!x->used || x->queued || now < x->next)
      continue;
    if (x->sent < t->rc) {
      tx_transmit(t, x, now);
    } else {
      if (x->method == RTCSEC_STUN_CHANNEL_BIND && x->peer >= 0 && !t->peers[x->peer].channel_bound)
        t->peers[x->peer].channel = 0;
      tx_fail(t, x, 0, "no response (RFC 8489 6.2.1: Rc transmissions, then Rm * RTO)");
    }
  }
  run_refreshes(t, now);
  return t->state == RTCSEC_TURN_STATE_FAILED ? t->error : RTCSEC_OK;
}

static uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }

uint64_t rtcsec_turn_deadline(const rtcsec_turn *t) {
  if (t == NULL ||
      (t->state != RTCSEC_TURN_STATE_CONNECTING && t->state != RTCSEC_TURN_STATE_CONNECTED))
    return UINT64_MAX;
  uint64_t d = rtcsec_dtls_deadline(t->dtls);
  if (t->state != RTCSEC_TURN_STATE_CONNECTED)
    return d;
  for (size_t i = 0; i < RTCSEC_TURN_MAX_TRANSACTIONS; i++) {
    if (t->txs[i].used && !t->txs[i].queued)
      d = min_u64(d, t->txs[i].next);
  }
  if (t->allocated) {
    if (t->alloc_refresh_at != 0)
      d = min_u64(d, t->alloc_refresh_at);
    for (int i = 0; i < RTCSEC_TURN_MAX_PEERS; i++) {
      const peer_entry *p = &t->peers[i];
      if (p->used && p->channel_bound)
        d = min_u64(d, p->channel_refresh_at);
      else if (p->used && p->perm_installed)
        d = min_u64(d, p->perm_refresh_at);
    }
  }
  return d;
}

int rtcsec_turn_poll_datagram(rtcsec_turn *t, uint8_t *buf, size_t cap, size_t *out_len) {
  if (t == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  return rtcsec_dtls_poll_datagram(t->dtls, buf, cap, out_len);
}

int rtcsec_turn_poll_event(rtcsec_turn *t, rtcsec_event *ev) {
  if (t == NULL || ev == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  memset(ev, 0, sizeof(*ev));
  event_node n;
  if (!rtcsec_ring_pop(&t->events, &n)) {
    rtcsec_ring_shrink(&t->events);
    return RTCSEC_OK;
  }
  *ev = n.ev;
  if (ev->type >= RTCSEC_EVENT_MAPPED_ADDRESS) {
    memcpy(t->reason_out, n.reason, sizeof(t->reason_out));
    ev->turn.reason = t->reason_out;
  }
  if (ev->type == RTCSEC_EVENT_RELAYED_DATA) {
    ev->turn.data = t->data_buf + n.data_off;
    t->data_events--;
  }
  return RTCSEC_OK;
}

int rtcsec_turn_send(rtcsec_turn *t, const struct sockaddr *peer, socklen_t peer_len,
                     const uint8_t *data, size_t len, uint64_t now) {
  if (t == NULL || !addr_ok(peer, peer_len) || (data == NULL && len > 0))
    return RTCSEC_ERR_INVALID_ARGUMENT;
  if (t->state != RTCSEC_TURN_STATE_CONNECTED || !t->allocated)
    return RTCSEC_ERR_INVALID_STATE;
  t->now = now;
  int i = peer_index(t, peer, 0);
  size_t n = 0;
  if (i >= 0 && t->peers[i].channel_bound) {
    /* RFC 8656 §12.4: no padding over UDP / DTLS */
    if (len > 0xffffu || len + 4 > t->mtu + 64)
      return RTCSEC_ERR_TOO_LARGE;
    rtcsec_put_be16(t->scratch, t->peers[i].channel);
    rtcsec_put_be16(t->scratch + 2, (uint16_t)len);
    if (len > 0)
      memcpy(t->scratch + 4, data, len);
    n = 4 + len;
    t->stats.channel_data_sent++;
  } else {
    /* RFC 8656 §10: a Send indication; the server relays it only with a
     * permission for the peer's IP address. */
    if (!permitted(t, peer))
      return RTCSEC_ERR_INVALID_STATE;
    uint8_t tid[RTCSEC_STUN_TID_LEN];
    if (RAND_bytes(tid, sizeof(tid)) != 1)
      return RTCSEC_ERR_CRYPTO;
    rtcsec_stun_builder b;
    rtcsec_stun_builder_init(&b, t->scratch, t->mtu + 64, RTCSEC_STUN_SEND, RTCSEC_STUN_INDICATION,
                             tid);
    rtcsec_stun_add_xor_address(&b, RTCSEC_STUN_ATTR_XOR_PEER_ADDRESS, peer, peer_len);
    rtcsec_stun_add_attr(&b, RTCSEC_STUN_ATTR_DATA, data, len);
    int rc = rtcsec_stun_builder_finish(&b, &n);
    if (rc != RTCSEC_OK)
      return rc == RTCSEC_ERR_BUFFER_TOO_SMALL ? RTCSEC_ERR_TOO_LARGE : rc;
    t->stats.indications_sent++;
  }
  int rc = rtcsec_dtls_send_data(t->dtls, t->scratch, n, now);
  pump(t, now);
  return rc;
}

int rtcsec_turn_close(rtcsec_turn *t, uint64_t now) {
  if (t == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  if (t->state == RTCSEC_TURN_STATE_CLOSED || t->state == RTCSEC_TURN_STATE_FAILED)
    return RTCSEC_OK;
  if (t->state == RTCSEC_TURN_STATE_CONNECTED && t->allocated) {
    /* RFC 8656 §8: a Refresh with LIFETIME 0 deletes the allocation; sent
     * once, not waited for (it would expire anyway). */
    tx x;
    memset(&x, 0, sizeof(x));
    x.method = RTCSEC_STUN_REFRESH;
    x.peer = -1;
    if (build_request(t, &x) == RTCSEC_OK)
      (void)rtcsec_dtls_send_data(t->dtls, x.msg, x.len, now);
    OPENSSL_cleanse(&x, sizeof(x));
    drop_allocation(t);
  }
  memset(t->txs, 0, sizeof(t->txs));
  (void)rtcsec_dtls_close(t->dtls, now);
  t->state = RTCSEC_TURN_STATE_CLOSED;
  return RTCSEC_OK;
}

/* ---- introspection ---------------------------------------------------------------------- */

rtcsec_turn_state rtcsec_turn_get_state(const rtcsec_turn *t) {
  return t ? t->state : RTCSEC_TURN_STATE_FAILED;
}

int rtcsec_turn_get_relayed(const rtcsec_turn *t, struct sockaddr_storage *out,
                            socklen_t *out_len) {
  if (t == NULL || out == NULL || out_len == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  if (!t->allocated)
    return RTCSEC_ERR_INVALID_STATE;
  *out = t->relayed;
  *out_len = t->relayed_len;
  return RTCSEC_OK;
}

int rtcsec_turn_error(const rtcsec_turn *t) {
  if (t == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  return t->state == RTCSEC_TURN_STATE_FAILED ? t->error : RTCSEC_OK;
}

const char *rtcsec_turn_error_detail(const rtcsec_turn *t) { return t ? t->detail : ""; }

const char *rtcsec_turn_state_name(rtcsec_turn_state s) {
  switch (s) {
  case RTCSEC_TURN_STATE_NEW:
    return "new";
  case RTCSEC_TURN_STATE_CONNECTING:
    return "connecting";
  case RTCSEC_TURN_STATE_CONNECTED:
    return "connected";
  case RTCSEC_TURN_STATE_CLOSED:
    return "closed";
  case RTCSEC_TURN_STATE_FAILED:
    return "failed";
  default:
    return "unknown";
  }
}

int rtcsec_turn_get_stats(const rtcsec_turn *t, rtcsec_turn_stats *out) {
  if (t == NULL || out == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  *out = t->stats;
  out->state = t->state;
  out->allocated = t->allocated;
  return rtcsec_dtls_get_stats(t->dtls, &out->dtls);
}
