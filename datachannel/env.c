/* The process-wide usrsctp environment.
 *
 * usrsctp is one SCTP stack per process: one packet-output callback, one
 * timer list advanced by usrsctp_handle_timers(), one set of sysctls. This
 * file owns it: it starts usrsctp without threads once, keeps the one lock
 * that every rtcsec_dc call entering usrsctp holds (usrsctp's callbacks for
 * any association can run inside any call: a timer of association A fires
 * in a call on association B), maps usrsctp's AF_CONN addresses to
 * associations through handles that are never reused (a late packet for a
 * freed association finds nothing), and turns the callers' `now` into
 * usrsctp ticks. */
#include <pthread.h>
#include <stdlib.h>
#include <usrsctp.h>

#include "dc_internal.h"
#include "rtcsec/error.h"

static pthread_once_t env_once = PTHREAD_ONCE_INIT;
static int env_ok;
static pthread_mutex_t env_lock = PTHREAD_MUTEX_INITIALIZER;
static rtcsec_dc *env_current;

/* The shared SCTP clock: usrsctp's ticks (1 ms each, its hz is 1000) have
 * been advanced up to env_clock_us. */
static uint64_t env_clock_us;
static int env_clock_set;

/* Handles: the low HANDLE_INDEX_BITS bits index `slots`, the rest count
 * how often the slot was reused, so a stale handle never matches. 0 is
 * never a handle (usrsctp takes it for NULL). */
#define HANDLE_INDEX_BITS 20u
#define HANDLE_INDEX_MASK ((1u << HANDLE_INDEX_BITS) - 1u)
typedef struct slot {
  rtcsec_dc *dc;
  uintptr_t gen;
} slot;
static slot *slots;
static size_t n_slots;
static size_t *free_slots;
static size_t n_free;

static rtcsec_dc *lookup(uintptr_t handle) {
  size_t index = (size_t)(handle & HANDLE_INDEX_MASK);
  if (index == 0 || index > n_slots)
    return NULL;
  const slot *s = &slots[index - 1];
  return s->gen == (handle >> HANDLE_INDEX_BITS) ? s->dc : NULL;
}

/* usrsctp's packet output: every packet of every association comes here,
 * with the address the association was bound to. The return value is
 * not an error code for a lost packet: a full queue is loss, which SCTP
 * repairs, not a reason for usrsctp to declare the path dead. */
static int conn_output(void *addr, void *buffer, size_t length, uint8_t tos, uint8_t set_df) {
  (void)tos;
  (void)set_df; /* path MTU discovery is off; DTLS decides on DF */
  rtcsec_dc *dc = lookup((uintptr_t)addr);
  if (dc != NULL)
    dc_on_output(dc, buffer, length);
  return 0;
}

static void env_start(void) {
  /* No timer thread, no UDP/raw sockets: port 0 (no UDP encapsulation),
   * nothreads. Debug output off (the library never prints). */
  usrsctp_init_nothreads(0, conn_output, NULL);
  /* Chunks an association may hold queued per direction (default 512):
   * a 256 KiB message is ~230 chunks, and many small messages queue one
   * chunk each. The receive window still bounds the memory. */
  usrsctp_sysctl_set_sctp_max_chunks_on_queue(4096);
  env_ok = 1;
}

int dc_env_init(void) {
  pthread_once(&env_once, env_start);
  return env_ok ? RTCSEC_OK : RTCSEC_ERR_DC_SCTP;
}

void dc_env_enter(rtcsec_dc *dc) {
  pthread_mutex_lock(&env_lock);
  env_current = dc;
  if (dc != NULL)
    dc->woken = 0;
}

void dc_env_leave(void) {
  env_current = NULL;
  pthread_mutex_unlock(&env_lock);
}

int dc_env_is_current(const rtcsec_dc *dc) { return env_current == dc; }

void dc_env_wake(rtcsec_dc *dc) {
  if (dc == env_current || dc->woken)
    return;
  dc->woken = 1;
  if (dc->cfg.wake != NULL)
    dc->cfg.wake(dc->cfg.wake_user);
}

void dc_env_advance(uint64_t now) {
  if (!env_clock_set) {
    env_clock_set = 1;
    env_clock_us = now;
    return;
  }
  if (now <= env_clock_us)
    return; /* another association's call was later: never backwards */
  uint64_t ms = (now - env_clock_us) / 1000u;
  if (ms == 0)
    return; /* the fraction waits for the next call */
  env_clock_us += ms * 1000u;
  /* One sweep however long the jump: each due timer fires once and sets
   * itself again relative to the new time. */
  while (ms > 0) {
    uint32_t step = ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
    usrsctp_handle_timers(step);
    ms -= step;
  }
}

uint64_t dc_env_clock(void) { return env_clock_set ? env_clock_us : 0; }

uintptr_t dc_env_register(rtcsec_dc *dc) {
  size_t index;
  if (n_free > 0) {
    index = free_slots[--n_free];
  } else {
    if (n_slots >= HANDLE_INDEX_MASK)
      return 0;
    slot *grown = realloc(slots, (n_slots + 1) * sizeof(*slots));
    if (grown == NULL)
      return 0;
    slots = grown;
    size_t *grown_free = realloc(free_slots, (n_slots + 1) * sizeof(*free_slots));
    if (grown_free == NULL)
      return 0;
    free_slots = grown_free;
    slots[n_slots].gen = 0;
    index = n_slots++;
  }
  slots[index].dc = dc;
  return (uintptr_t)(index + 1) | (slots[index].gen << HANDLE_INDEX_BITS);
}

void dc_env_unregister(uintptr_t handle) {
  size_t index = (size_t)(handle & HANDLE_INDEX_MASK);
  if (index == 0 || index > n_slots || lookup(handle) == NULL)
    return;
  slot *s = &slots[index - 1];
  s->dc = NULL;
  s->gen++; /* the old handle never matches again */
  free_slots[n_free++] = index - 1;
}

void rtcsec_dc_test_reset_clock(void) {
  pthread_mutex_lock(&env_lock);
  env_clock_set = 0;
  env_clock_us = 0;
  pthread_mutex_unlock(&env_lock);
}

int rtcsec_dc_test_for_replay(void) {
  int rc = dc_env_init();
  if (rc != RTCSEC_OK)
    return rc;
  pthread_mutex_lock(&env_lock);
  if (n_free != n_slots) {
    pthread_mutex_unlock(&env_lock);
    return RTCSEC_ERR_INVALID_STATE;
  }
  n_slots = 0;
  n_free = 0;
  env_clock_set = 0;
  env_clock_us = 0;
  usrsctp_sysctl_set_sctp_vtag_time_wait(0);
  pthread_mutex_unlock(&env_lock);
  return RTCSEC_OK;
}
