/* rtcsec-bench: figures, clocks, environment facts and the in-memory
 * fixtures (connected transport pairs, DTLS handshakes) the benchmarks share. */
#define _GNU_SOURCE /* dladdr */
#include <dlfcn.h>
#include <math.h>
#include <openssl/crypto.h>
#include <srtp2/cipher.h>
#include <srtp2/srtp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "rtcsec/stun.h"

/* ---- series and figures ------------------------------------------------------- */

void bench_series_add(bench_series *s, double v) {
  if (s->n < BENCH_MAX_RUNS)
    s->v[s->n++] = v;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

double bench_series_median(const bench_series *s) {
  if (s->n == 0)
    return 0;
  double tmp[BENCH_MAX_RUNS];
  memcpy(tmp, s->v, (size_t)s->n * sizeof(double));
  qsort(tmp, (size_t)s->n, sizeof(double), cmp_double);
  return s->n % 2 ? tmp[s->n / 2] : (tmp[s->n / 2 - 1] + tmp[s->n / 2]) / 2;
}

double bench_series_min(const bench_series *s) {
  double m = s->n ? s->v[0] : 0;
  for (int i = 1; i < s->n; i++)
    m = s->v[i] < m ? s->v[i] : m;
  return m;
}

double bench_series_max(const bench_series *s) {
  double m = s->n ? s->v[0] : 0;
  for (int i = 1; i < s->n; i++)
    m = s->v[i] > m ? s->v[i] : m;
  return m;
}

#define MAX_FIGURES 512
static bench_figure *figures[MAX_FIGURES];
static size_t n_figures;

static void copy_str(char *dst, size_t cap, const char *src) {
  snprintf(dst, cap, "%s", src ? src : "");
}

bench_figure *bench_figure_get(const char *group, const char *name, const char *label,
                               const char *unit, const char *what, const char *baseline_name) {
  for (size_t i = 0; i < n_figures; i++) {
    if (strcmp(figures[i]->name, name) == 0)
      return figures[i];
  }
  if (n_figures == MAX_FIGURES) {
    fprintf(stderr, "rtcsec-bench: too many figures\n");
    exit(2);
  }
  bench_figure *f = calloc(1, sizeof(*f));
  if (f == NULL) {
    fprintf(stderr, "rtcsec-bench: out of memory\n");
    exit(2);
  }
  copy_str(f->group, sizeof(f->group), group);
  copy_str(f->name, sizeof(f->name), name);
  copy_str(f->label, sizeof(f->label), label);
  copy_str(f->unit, sizeof(f->unit), unit);
  copy_str(f->what, sizeof(f->what), what);
  copy_str(f->baseline_name, sizeof(f->baseline_name), baseline_name);
  figures[n_figures++] = f;
  return f;
}

void bench_figure_set_target(bench_figure *f, bench_target_kind kind, double target) {
  f->target_kind = kind;
  f->target = target;
}

size_t bench_figure_count(void) { return n_figures; }

bench_figure *bench_figure_at(size_t i) { return i < n_figures ? figures[i] : NULL; }

double bench_figure_ratio(const bench_figure *f) {
  double b = bench_series_median(&f->base);
  return f->base.n > 0 && b != 0 ? bench_series_median(&f->val) / b : 0;
}

int bench_figure_target_met(const bench_figure *f) {
  switch (f->target_kind) {
  case BENCH_TARGET_RATIO_MAX:
    return f->base.n > 0 ? bench_figure_ratio(f) <= f->target : -1;
  case BENCH_TARGET_VALUE_MAX:
    return bench_series_median(&f->val) <= f->target;
  case BENCH_TARGET_NONE:
  default:
    return -1;
  }
}

#define MAX_NOT_DONE 8
static char not_done_name[MAX_NOT_DONE][64];
static char not_done_reason[MAX_NOT_DONE][256];
static size_t n_not_done;

void bench_not_done(const char *name, const char *reason) {
  if (n_not_done == MAX_NOT_DONE)
    return;
  copy_str(not_done_name[n_not_done], sizeof(not_done_name[0]), name);
  copy_str(not_done_reason[n_not_done], sizeof(not_done_reason[0]), reason);
  n_not_done++;
}

size_t bench_not_done_count(void) { return n_not_done; }
const char *bench_not_done_name(size_t i) { return i < n_not_done ? not_done_name[i] : ""; }
const char *bench_not_done_reason(size_t i) { return i < n_not_done ? not_done_reason[i] : ""; }

/* ---- clocks ------------------------------------------------------------------- */

uint64_t bench_cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- environment ---------------------------------------------------------------- */

/* Exported by every libsrtp2 2.x but declared only in its uninstalled
 * crypto_kernel.h: the cipher type the crypto kernel registered for an id,
 * whose description names the backend ("AES-128 counter mode using NSS"). */
const srtp_cipher_type_t *srtp_crypto_kernel_get_cipher_type(srtp_cipher_type_id_t id);

void bench_env_fill(bench_env *env) {
  memset(env, 0, sizeof(*env));
  /* Initialises libsrtp2 through the bridge (srtp_init() once). */
  (void)rtcsec_srtp_profile_supported(RTCSEC_SRTP_AES128_CM_SHA1_80);
  copy_str(env->srtp_version, sizeof(env->srtp_version), srtp_get_version_string());
  const srtp_cipher_type_t *ct = srtp_crypto_kernel_get_cipher_type(SRTP_AES_ICM_128);
  const char *d = ct && ct->description ? ct->description : "";
  copy_str(env->srtp_cipher, sizeof(env->srtp_cipher), d);
  const srtp_cipher_type_t *gt = srtp_crypto_kernel_get_cipher_type(SRTP_AES_GCM_128);
  copy_str(env->srtp_gcm, sizeof(env->srtp_gcm), gt && gt->description ? gt->description : "");
  const char *backend = "built-in";
  if (strstr(d, "rtcsec") != NULL)
    backend = "rtcsec's own (OpenSSL EVP)";
  else if (strstr(d, "openssl") != NULL)
    backend = "OpenSSL";
  else if (strstr(d, "NSS") != NULL)
    backend = "NSS";
  else if (strstr(d, "mbedtls") != NULL)
    backend = "mbedTLS";
  else if (d[0] == '\0')
    backend = "unknown";
  copy_str(env->srtp_backend, sizeof(env->srtp_backend), backend);
  Dl_info info;
  if (dladdr((void *)srtp_protect, &info) != 0 && info.dli_fname != NULL)
    copy_str(env->srtp_library, sizeof(env->srtp_library), info.dli_fname);
  copy_str(env->openssl_version, sizeof(env->openssl_version), OpenSSL_version(OPENSSL_VERSION));

  FILE *f = fopen("/proc/cpuinfo", "r");
  char line[256];
  while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
    if (strncmp(line, "model name", 10) == 0) {
      const char *c = strchr(line, ':');
      if (c != NULL) {
        c += 2;
        copy_str(env->cpu, sizeof(env->cpu), c);
        env->cpu[strcspn(env->cpu, "\n")] = '\0';
      }
      break;
    }
  }
  if (f != NULL)
    fclose(f);
  env->ncpu = 0;
  f = fopen("/proc/cpuinfo", "r");
  while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
    if (strncmp(line, "processor", 9) == 0)
      env->ncpu++;
  }
  if (f != NULL)
    fclose(f);
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(env->date, sizeof(env->date), "%Y-%m-%dT%H:%M:%SZ", &tm);
  env->loadavg_start = tool_loadavg();
}

/* ---- other processes --------------------------------------------------------------- */

const char *bench_self(void) {
  static char self[4096];
  if (self[0] == '\0') {
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0)
      return NULL;
    self[n] = '\0';
  }
  return self;
}

int bench_run_child(char *const argv[], void (*line)(char *text, void *ctx), void *ctx) {
  int fd[2];
  if (pipe(fd) != 0) {
    perror("rtcsec-bench: pipe");
    return -1;
  }
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) {
    perror("rtcsec-bench: fork");
    close(fd[0]);
    close(fd[1]);
    return -1;
  }
  if (pid == 0) {
    dup2(fd[1], 1);
    close(fd[0]);
    close(fd[1]);
    execv(argv[0], argv);
    fprintf(stderr, "rtcsec-bench: cannot run %s\n", argv[0]);
    _exit(127);
  }
  close(fd[1]);
  FILE *f = fdopen(fd[0], "r");
  char buf[512];
  while (f != NULL && fgets(buf, sizeof(buf), f) != NULL) {
    buf[strcspn(buf, "\n")] = '\0';
    line(buf, ctx);
  }
  if (f != NULL)
    fclose(f);
  else
    close(fd[0]);
  int status = 0;
  if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fprintf(stderr, "rtcsec-bench: %s failed (status %d)\n", argv[0], status);
    return -1;
  }
  return 0;
}

typedef struct fig_ctx {
  void (*fig)(const char *name, double value, double base, void *ctx);
  void *ctx;
} fig_ctx;

static void fig_line(char *text, void *vctx) {
  fig_ctx *c = vctx;
  char *save = NULL;
  char *tag = strtok_r(text, "\t", &save);
  char *name = strtok_r(NULL, "\t", &save);
  char *val = strtok_r(NULL, "\t", &save);
  char *base = strtok_r(NULL, "\t", &save);
  if (tag == NULL || strcmp(tag, "fig") != 0 || name == NULL || val == NULL || base == NULL)
    return;
  c->fig(name, strtod(val, NULL), strtod(base, NULL), c->ctx);
}

int bench_run_self(const char *const args[],
                   void (*fig)(const char *name, double value, double base, void *ctx), void *ctx) {
  char *argv[32];
  size_t n = 0;
  const char *self = bench_self();
  if (self == NULL) {
    fprintf(stderr, "rtcsec-bench: cannot find own executable\n");
    return -1;
  }
  argv[n++] = (char *)self;
  argv[n++] = "--child-report";
  for (size_t i = 0; args[i] != NULL && n < 31; i++)
    argv[n++] = (char *)args[i];
  argv[n] = NULL;
  fig_ctx c = {fig, ctx};
  return bench_run_child(argv, fig_line, &c);
}

void bench_print_child_report(void) {
  for (size_t i = 0; i < bench_figure_count(); i++) {
    const bench_figure *f = bench_figure_at(i);
    printf("fig\t%s\t%.6g\t%.6g\n", f->name, bench_series_median(&f->val),
           f->base.n ? bench_series_median(&f->base) : NAN);
  }
  for (size_t i = 0; i < bench_not_done_count(); i++)
    fprintf(stderr, "rtcsec-bench (child): not measured: %s: %s\n", bench_not_done_name(i),
            bench_not_done_reason(i));
}

/* ---- packets ---------------------------------------------------------------------- */

const rtcsec_srtp_profile bench_profiles[4] = {
    RTCSEC_SRTP_AES128_CM_SHA1_80, RTCSEC_SRTP_AES128_CM_SHA1_32, RTCSEC_SRTP_AEAD_AES_128_GCM,
    RTCSEC_SRTP_AEAD_AES_256_GCM};

const char *bench_profile_short(rtcsec_srtp_profile p) {
  switch (p) {
  case RTCSEC_SRTP_AES128_CM_SHA1_80:
    return "cm80";
  case RTCSEC_SRTP_AES128_CM_SHA1_32:
    return "cm32";
  case RTCSEC_SRTP_AEAD_AES_128_GCM:
    return "gcm128";
  case RTCSEC_SRTP_AEAD_AES_256_GCM:
    return "gcm256";
  default:
    return "?";
  }
}

void bench_master_key(rtcsec_srtp_profile p, uint8_t out[46]) {
  for (size_t i = 0; i < 46; i++)
    out[i] = (uint8_t)(0x3c + 7 * i + 31 * (size_t)p);
}

static void put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

size_t bench_make_rtp(uint8_t *buf, uint32_t ssrc, uint16_t seq, size_t payload_len) {
  buf[0] = 0x80;
  buf[1] = 96;
  buf[2] = (uint8_t)(seq >> 8);
  buf[3] = (uint8_t)seq;
  put32(buf + 4, (uint32_t)seq * 960u);
  put32(buf + 8, ssrc);
  memset(buf + 12, 0x5a ^ (seq & 0xff), payload_len);
  return 12 + payload_len;
}

size_t bench_ice_check(uint8_t *buf, size_t cap, const char *user, const char *pwd,
                       const uint8_t tid[12], uint64_t tiebreak, int nominate) {
  rtcsec_stun_builder b;
  size_t n = 0;
  rtcsec_stun_builder_init(&b, buf, cap, RTCSEC_STUN_BINDING, RTCSEC_STUN_REQUEST, tid);
  rtcsec_stun_add_username(&b, user, strlen(user));
  rtcsec_stun_add_u32(&b, RTCSEC_STUN_ATTR_PRIORITY, 0x6e001eff);
  rtcsec_stun_add_u64(&b, RTCSEC_STUN_ATTR_ICE_CONTROLLING, tiebreak);
  if (nominate)
    rtcsec_stun_add_attr(&b, RTCSEC_STUN_ATTR_USE_CANDIDATE, NULL, 0);
  rtcsec_stun_add_integrity(&b, (const uint8_t *)pwd, strlen(pwd));
  rtcsec_stun_add_fingerprint(&b);
  return rtcsec_stun_builder_finish(&b, &n) == RTCSEC_OK ? n : 0;
}

size_t bench_make_rtcp(uint8_t *buf, uint32_t ssrc, size_t payload_len) {
  size_t len = 8 + payload_len;
  buf[0] = 0x80;
  buf[1] = 200; /* SR; the length field below covers the whole packet */
  buf[2] = (uint8_t)((len / 4 - 1) >> 8);
  buf[3] = (uint8_t)(len / 4 - 1);
  put32(buf + 4, ssrc);
  memset(buf + 8, 0xa5, payload_len);
  return len;
}

/* ---- in-memory transport pair ------------------------------------------------------- */

typedef struct endpoint_ops {
  void *obj[2];
  int (*handle)(void *o, uint8_t *buf, size_t len, uint64_t now);
  int (*poll_dgram)(void *o, uint8_t *buf, size_t cap, size_t *len);
  int (*timeout)(void *o, uint64_t now);
  uint64_t (*deadline)(void *o);
  int (*done)(void *o); /* 1 connected, -1 failed, 0 not yet */
} endpoint_ops;

/* Moves datagrams both ways until both ends are done; timers are served on
 * the real clock (on a clean in-memory link none should fire). */
static int pump(endpoint_ops *ops, uint64_t *datagrams, uint64_t *bytes) {
  uint8_t buf[2048];
  for (int round = 0; round < 10000; round++) {
    int moved = 0;
    for (int s = 0; s < 2; s++) {
      for (;;) {
        size_t len = 0;
        int rc = ops->poll_dgram(ops->obj[s], buf, sizeof(buf), &len);
        if (rc != RTCSEC_OK)
          return rc;
        if (len == 0)
          break;
        moved = 1;
        if (datagrams)
          (*datagrams)++;
        if (bytes)
          *bytes += len;
        rc = ops->handle(ops->obj[1 - s], buf, len, tool_now_us());
        if (rc != RTCSEC_OK)
          return rc;
      }
    }
    int d0 = ops->done(ops->obj[0]), d1 = ops->done(ops->obj[1]);
    if (d0 < 0 || d1 < 0)
      return RTCSEC_ERR_HANDSHAKE;
    if (d0 > 0 && d1 > 0)
      return RTCSEC_OK;
    if (!moved) {
      uint64_t now = tool_now_us();
      for (int s = 0; s < 2; s++) {
        if (ops->deadline(ops->obj[s]) <= now) {
          int rc = ops->timeout(ops->obj[s], now);
          if (rc != RTCSEC_OK)
            return rc;
        }
      }
    }
  }
  return RTCSEC_ERR_HANDSHAKE_TIMEOUT;
}

static int tr_handle(void *o, uint8_t *buf, size_t len, uint64_t now) {
  rtcsec_transport_input in;
  return rtcsec_transport_handle_datagram(o, buf, len, now, &in);
}
static int tr_poll(void *o, uint8_t *buf, size_t cap, size_t *len) {
  return rtcsec_transport_poll_datagram(o, buf, cap, len);
}
static int tr_timeout(void *o, uint64_t now) { return rtcsec_transport_handle_timeout(o, now); }
static uint64_t tr_deadline(void *o) { return rtcsec_transport_deadline(o); }
static int tr_done(void *o) {
  rtcsec_event ev;
  int done = 0;
  /* Events are drained as an application would. */
  while (rtcsec_transport_poll_event(o, &ev) == RTCSEC_OK && ev.type != RTCSEC_EVENT_NONE) {
    if (ev.type == RTCSEC_EVENT_FAILED || ev.type == RTCSEC_EVENT_CLOSED)
      return -1;
  }
  rtcsec_dtls_state st = rtcsec_transport_get_state(o);
  if (st == RTCSEC_DTLS_STATE_CONNECTED)
    done = 1;
  else if (st == RTCSEC_DTLS_STATE_FAILED || st == RTCSEC_DTLS_STATE_CLOSED)
    done = -1;
  return done;
}

int bench_pair_connect(bench_pair *p, rtcsec_cert *cert[2], const rtcsec_fingerprint fp[2],
                       rtcsec_srtp_profile profile) {
  memset(p, 0, sizeof(*p));
  for (int i = 0; i < 2; i++) {
    rtcsec_transport_config cfg;
    rtcsec_transport_config_default(&cfg);
    cfg.dtls.role = i == 0 ? RTCSEC_DTLS_CLIENT : RTCSEC_DTLS_SERVER;
    cfg.dtls.cert = cert[i];
    if (profile != RTCSEC_SRTP_NONE) {
      cfg.dtls.profiles[0] = profile;
      cfg.dtls.n_profiles = 1;
    }
    cfg.dtls.peer_fingerprints = &fp[1 - i];
    cfg.dtls.n_peer_fingerprints = 1;
    int rc = rtcsec_transport_new(&p->t[i], &cfg);
    if (rc != RTCSEC_OK) {
      bench_pair_free(p);
      return rc;
    }
  }
  uint64_t now = tool_now_us();
  int rc = rtcsec_transport_start(p->t[1], now);
  if (rc == RTCSEC_OK)
    rc = rtcsec_transport_start(p->t[0], now);
  if (rc == RTCSEC_OK) {
    endpoint_ops ops = {{p->t[0], p->t[1]}, tr_handle, tr_poll, tr_timeout, tr_deadline, tr_done};
    rc = pump(&ops, &p->datagrams, &p->bytes);
  }
  if (rc != RTCSEC_OK)
    bench_pair_free(p);
  return rc;
}

void bench_pair_free(bench_pair *p) {
  for (int i = 0; i < 2; i++) {
    rtcsec_transport_free(p->t[i]);
    p->t[i] = NULL;
  }
}

/* ---- in-memory DTLS handshake ---------------------------------------------------------- */

typedef struct dtls_end {
  rtcsec_dtls *d;
  int connected, failed;
  rtcsec_srtp_profile profile;
} dtls_end;

static int dt_handle(void *o, uint8_t *buf, size_t len, uint64_t now) {
  return rtcsec_dtls_handle_datagram(((dtls_end *)o)->d, buf, len, now);
}
static int dt_poll(void *o, uint8_t *buf, size_t cap, size_t *len) {
  return rtcsec_dtls_poll_datagram(((dtls_end *)o)->d, buf, cap, len);
}
static int dt_timeout(void *o, uint64_t now) {
  return rtcsec_dtls_handle_timeout(((dtls_end *)o)->d, now);
}
static uint64_t dt_deadline(void *o) { return rtcsec_dtls_deadline(((dtls_end *)o)->d); }
static int dt_done(void *o) {
  dtls_end *e = o;
  rtcsec_event ev;
  while (rtcsec_dtls_poll_event(e->d, &ev) == RTCSEC_OK && ev.type != RTCSEC_EVENT_NONE) {
    if (ev.type == RTCSEC_EVENT_CONNECTED) {
      /* What a user does with the keys: take them, hand them on, wipe them. */
      rtcsec_srtp_keys keys;
      e->connected = rtcsec_dtls_export_srtp_keys(e->d, &keys) == RTCSEC_OK;
      e->failed = !e->connected;
      e->profile = ev.connected.profile;
      rtcsec_srtp_keys_wipe(&keys);
    } else if (ev.type == RTCSEC_EVENT_FAILED) {
      e->failed = 1;
    }
  }
  return e->failed ? -1 : e->connected;
}

int bench_dtls_handshake(rtcsec_cert *cert[2], const rtcsec_fingerprint fp[2], uint64_t *datagrams,
                         uint64_t *bytes) {
  dtls_end end[2];
  memset(end, 0, sizeof(end));
  int rc = RTCSEC_OK;
  for (int i = 0; i < 2 && rc == RTCSEC_OK; i++) {
    rtcsec_dtls_config cfg;
    rtcsec_dtls_config_default(&cfg);
    cfg.role = i == 0 ? RTCSEC_DTLS_CLIENT : RTCSEC_DTLS_SERVER;
    cfg.cert = cert[i];
    cfg.peer_fingerprints = &fp[1 - i];
    cfg.n_peer_fingerprints = 1;
    rc = rtcsec_dtls_new(&end[i].d, &cfg);
  }
  uint64_t now = tool_now_us();
  if (rc == RTCSEC_OK)
    rc = rtcsec_dtls_start(end[1].d, now);
  if (rc == RTCSEC_OK)
    rc = rtcsec_dtls_start(end[0].d, now);
  if (rc == RTCSEC_OK) {
    endpoint_ops ops = {{&end[0], &end[1]}, dt_handle, dt_poll, dt_timeout, dt_deadline, dt_done};
    rc = pump(&ops, datagrams, bytes);
  }
  for (int i = 0; i < 2; i++)
    rtcsec_dtls_free(end[i].d);
  return rc;
}
