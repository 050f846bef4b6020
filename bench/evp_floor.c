/* The EVP floor over many keys: see evp_floor.h. */
#include "evp_floor.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "evp_srtp.h"

#define FLOOR_BATCH 256
#define FLOOR_ROUNDS 5
#define FLOOR_ROUND_NS (50 * 1000 * 1000ull)
#define FLOOR_PKT 1400

/* An inbound stream: protected by its peer (tx, not timed), unprotected
 * here (rx). */
typedef struct floor_in {
  evp_srtp tx, rx;
  uint16_t seq;
} floor_in;

typedef struct crypto_floor {
  floor_in *in;  /* n_in streams, taken in turn */
  evp_srtp *out; /* n_out outbound sessions, each its own key */
  unsigned n_in, n_out;
  unsigned next; /* the stream of the next packet */
  uint8_t (*wire)[FLOOR_PKT];
  size_t wire_len[FLOOR_BATCH];
  unsigned wire_in[FLOOR_BATCH];
  uint8_t work[FLOOR_PKT];
} crypto_floor;

static void crypto_floor_free(crypto_floor *f) {
  for (unsigned i = 0; f->in != NULL && i < f->n_in; i++) {
    evp_srtp_free(&f->in[i].tx);
    evp_srtp_free(&f->in[i].rx);
  }
  for (unsigned i = 0; f->out != NULL && i < f->n_out; i++)
    evp_srtp_free(&f->out[i]);
  free(f->in);
  free(f->out);
  free(f->wire);
}

/* Keys of their own for every stream and session (the EVP contexts of N
 * sessions take N times the cache, as rtcsec's do). */
static void floor_key(rtcsec_srtp_profile p, unsigned id, uint8_t master[46]) {
  bench_master_key(p, master);
  master[0] = (uint8_t)id;
  master[1] = (uint8_t)(id >> 8);
  master[2] = (uint8_t)(id >> 16);
}

static int crypto_floor_init(crypto_floor *f, rtcsec_srtp_profile p, unsigned n_in,
                             unsigned n_out) {
  memset(f, 0, sizeof(*f));
  size_t kl = rtcsec_srtp_profile_key_len(p);
  uint8_t master[46];
  f->in = calloc(n_in, sizeof(*f->in));
  f->out = calloc(n_out, sizeof(*f->out));
  f->wire = malloc(sizeof(*f->wire) * FLOOR_BATCH);
  int bad = f->in == NULL || f->out == NULL || f->wire == NULL;
  for (unsigned i = 0; !bad && i < n_in; i++) {
    floor_key(p, i, master);
    bad = evp_srtp_init(&f->in[i].tx, p, master, master + kl) != 0;
    if (!bad && evp_srtp_init(&f->in[i].rx, p, master, master + kl) != 0) {
      evp_srtp_free(&f->in[i].tx);
      bad = 1;
    }
    f->n_in = bad ? i : i + 1;
  }
  for (unsigned i = 0; !bad && i < n_out; i++) {
    floor_key(p, 0x800000u + i, master);
    bad = evp_srtp_init(&f->out[i], p, master, master + kl) != 0;
    f->n_out = bad ? i : i + 1;
  }
  OPENSSL_cleanse(master, sizeof(master));
  if (bad)
    crypto_floor_free(f);
  return bad ? -1 : 0;
}

/* The peers' side, not timed: a batch of protected packets, the streams
 * taken in turn. */
static int crypto_floor_fill(crypto_floor *f, size_t payload) {
  for (unsigned i = 0; i < FLOOR_BATCH; i++) {
    floor_in *in = &f->in[f->next];
    f->wire_in[i] = f->next;
    f->next = (f->next + 1) % f->n_in;
    size_t len = bench_make_rtp(f->wire[i], 0x10000u + f->wire_in[i], ++in->seq, payload);
    if (evp_srtp_protect_rtp(&in->tx, f->wire[i], len, &f->wire_len[i]) != 0)
      return -1;
  }
  return 0;
}

/* The timed part: unprotect each packet once, then protect it again: in
 * place under its stream's own session when every stream has one (an
 * echo), or from a copy of the plaintext under each of the n_out sessions
 * (a forwarder). */
static int crypto_floor_pass(crypto_floor *f) {
  for (unsigned i = 0; i < FLOOR_BATCH; i++) {
    size_t plain = 0, out = 0;
    unsigned s = f->wire_in[i];
    if (evp_srtp_unprotect_rtp(&f->in[s].rx, f->wire[i], f->wire_len[i], &plain) != 0)
      return -1;
    if (f->n_out == f->n_in) {
      if (evp_srtp_protect_rtp(&f->out[s], f->wire[i], plain, &out) != 0)
        return -1;
      continue;
    }
    for (unsigned k = 0; k < f->n_out; k++) {
      memcpy(f->work, f->wire[i], plain);
      if (evp_srtp_protect_rtp(&f->out[k], f->work, plain, &out) != 0)
        return -1;
    }
  }
  return 0;
}

double evp_floor_ns(rtcsec_srtp_profile p, size_t payload, unsigned n_in, unsigned n_out) {
  if (n_in == 0 || n_out == 0 || (n_in > 1 && n_out != n_in) || payload + 12 + 16 > FLOOR_PKT ||
      evp_srtp_selftest(p) != 0)
    return -1;
  crypto_floor f;
  if (crypto_floor_init(&f, p, n_in, n_out) != 0)
    return -1;
  bench_series s;
  memset(&s, 0, sizeof(s));
  int bad = 0;
  for (int round = 0; round < FLOOR_ROUNDS && !bad; round++) {
    uint64_t spent = 0, packets = 0;
    /* bounded: a round ends after its time or 1 << 20 packets */
    while (spent < FLOOR_ROUND_NS && packets < (1u << 20) && !bad) {
      if (crypto_floor_fill(&f, payload) != 0) {
        bad = 1;
        break;
      }
      uint64_t t0 = bench_cpu_ns();
      bad = crypto_floor_pass(&f) != 0;
      spent += bench_cpu_ns() - t0;
      packets += FLOOR_BATCH;
    }
    if (!bad && packets > 0)
      bench_series_add(&s, (double)spent / (double)packets);
  }
  crypto_floor_free(&f);
  /* a floor: the fastest round (the others met other work's cache) */
  return bad ? -1 : bench_series_min(&s);
}
