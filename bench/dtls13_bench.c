/* DTLS 1.3 handshakes (rtcsec's server engine), both endpoints and the
 * server alone, CPU time on one thread, in memory, certificates reused:
 *   dtls13_mlkem      a browser-like ClientHello (X25519MLKEM768 and x25519
 *                     key shares, two datagrams) to an rtcsec_dtls server
 *                     with enable_mlkem 1 (the default): X25519MLKEM768;
 *   dtls13_mlkem_off  the same ClientHello, enable_mlkem 0: x25519 (the
 *                     client still made its ML-KEM key pair);
 *   dtls13_x25519     a ClientHello with an x25519 share only: x25519, the
 *                     classic DTLS 1.3 handshake, the baseline of both;
 *   rtcsec_dtls12     two rtcsec_dtls associations (OpenSSL's DTLS 1.2,
 *                     X25519): the baseline of dtls13_x25519.
 * The DTLS 1.3 client is the test suites' (tests/support/dtls13_client.c,
 * on the library's connection core): rtcsec has no DTLS 1.3 client of its
 * own, and no Debian package has one. What a browser spends is not
 * measured; the server figures are what rtcsec costs per call. */
#include <stdio.h>
#include <string.h>

#include "bench.h"
#include "dtls13_client.h"

enum { V_MLKEM, V_MLKEM_OFF, V_X25519, V_DTLS12, N_V };

static const char *v_name[N_V] = {"dtls13_mlkem", "dtls13_mlkem_off", "dtls13_x25519",
                                  "rtcsec_dtls12"};
static const char *v_group[N_V] = {"X25519MLKEM768", "x25519", "x25519", ""};

typedef struct d13_fixture {
  rtcsec_cert *cert[2]; /* [0] client, [1] server */
  rtcsec_fingerprint fp[2];
} d13_fixture;

/* What one handshake cost and carried. */
typedef struct d13_cost {
  uint64_t server_ns; /* thread CPU inside the server's calls */
  uint64_t datagrams, bytes;
} d13_cost;

/* Under callgrind, server_only counts the server's calls alone. */
static int cg_server_only;

static void server_enter(void) {
  if (cg_server_only)
    bench_cg_toggle();
}

static void server_leave(void) {
  if (cg_server_only)
    bench_cg_toggle();
}

/* The server's events: 1 connected with the group expected, -1 failed or
 * another group, 0 not yet. */
static int server_done(rtcsec_dtls *d, const char *group) {
  rtcsec_event ev;
  int done = 0;
  while (rtcsec_dtls_poll_event(d, &ev) == RTCSEC_OK && ev.type != RTCSEC_EVENT_NONE) {
    if (ev.type == RTCSEC_EVENT_CONNECTED) {
      /* What a user does with the keys: take them, hand them on, wipe them. */
      rtcsec_srtp_keys keys;
      int ok = rtcsec_dtls_export_srtp_keys(d, &keys) == RTCSEC_OK && ev.connected.group != NULL &&
               strcmp(ev.connected.group, group) == 0;
      rtcsec_srtp_keys_wipe(&keys);
      done = ok ? 1 : -1;
    } else if (ev.type == RTCSEC_EVENT_FAILED) {
      return -1;
    }
  }
  if (done == 0 && rtcsec_dtls_get_state(d) == RTCSEC_DTLS_STATE_CONNECTED)
    done = 1;
  return done;
}

static int client_done(d13c *c) {
  rtcsec_event ev;
  while (d13c_poll_event(c, &ev) == RTCSEC_OK && ev.type != RTCSEC_EVENT_NONE) {
    if (ev.type == RTCSEC_EVENT_FAILED)
      return -1;
  }
  if (d13c_state(c) == RTCSEC_DTLS_STATE_CONNECTED) {
    rtcsec_srtp_keys keys;
    int ok = d13c_export_srtp(c, &keys) == RTCSEC_OK;
    rtcsec_srtp_keys_wipe(&keys);
    return ok ? 1 : -1;
  }
  return d13c_state(c) == RTCSEC_DTLS_STATE_FAILED ? -1 : 0;
}

/* Datagrams both ways until both ends are connected (the clean in-memory
 * link needs no timer; one that fires is served on the real clock). */
static int exchange(d13c *c, rtcsec_dtls *d, const char *group, d13_cost *cost) {
  uint8_t buf[2048];
  int c_done = 0, s_done = 0;
  for (int round = 0; round < 1000 && (c_done <= 0 || s_done <= 0); round++) {
    int moved = 0;
    size_t len = 0;
    while (d13c_poll_datagram(c, buf, sizeof(buf), &len) == RTCSEC_OK && len > 0) {
      moved = 1;
      cost->datagrams++;
      cost->bytes += len;
      uint64_t t0 = bench_cpu_ns();
      server_enter();
      int rc = rtcsec_dtls_handle_datagram(d, buf, len, tool_now_us());
      server_leave();
      cost->server_ns += bench_cpu_ns() - t0;
      if (rc != RTCSEC_OK)
        return rc;
      len = 0;
    }
    for (;;) {
      uint64_t t0 = bench_cpu_ns();
      server_enter();
      int rc = rtcsec_dtls_poll_datagram(d, buf, sizeof(buf), &len);
      server_leave();
      cost->server_ns += bench_cpu_ns() - t0;
      if (rc != RTCSEC_OK)
        return rc;
      if (len == 0)
        break;
      moved = 1;
      cost->datagrams++;
      cost->bytes += len;
      rc = d13c_handle_datagram(c, buf, len, tool_now_us());
      if (rc != RTCSEC_OK)
        return rc;
    }
    c_done = client_done(c);
    s_done = server_done(d, group);
    if (c_done < 0 || s_done < 0)
      return RTCSEC_ERR_HANDSHAKE;
    if (!moved) {
      uint64_t now = tool_now_us();
      if (d13c_deadline(c) <= now && d13c_handle_timeout(c, now) != RTCSEC_OK)
        return RTCSEC_ERR_HANDSHAKE;
      if (rtcsec_dtls_deadline(d) <= now && rtcsec_dtls_handle_timeout(d, now) != RTCSEC_OK)
        return RTCSEC_ERR_HANDSHAKE;
    }
  }
  return c_done > 0 && s_done > 0 ? RTCSEC_OK : RTCSEC_ERR_HANDSHAKE_TIMEOUT;
}

/* One DTLS 1.3 handshake of variant v, both ends created and freed. */
static int handshake13(const d13_fixture *f, int v, d13_cost *cost) {
  rtcsec_dtls_config sc;
  rtcsec_dtls_config_default(&sc);
  sc.role = RTCSEC_DTLS_SERVER;
  sc.cert = f->cert[1];
  sc.peer_fingerprints = &f->fp[0];
  sc.n_peer_fingerprints = 1;
  sc.enable_mlkem = v != V_MLKEM_OFF;
  d13c_config cc;
  d13c_config_default(&cc);
  cc.cert = f->cert[0];
  cc.server_fp = &f->fp[1];
  /* Chromium's and Firefox's shape: the hybrid share first, then x25519. */
  cc.hybrid_share = v != V_X25519;

  rtcsec_dtls *d = NULL;
  d13c *c = NULL;
  uint64_t now = tool_now_us();
  uint64_t t0 = bench_cpu_ns();
  server_enter();
  int rc = rtcsec_dtls_new(&d, &sc);
  if (rc == RTCSEC_OK)
    rc = rtcsec_dtls_start(d, now);
  server_leave();
  cost->server_ns += bench_cpu_ns() - t0;
  if (rc == RTCSEC_OK)
    rc = d13c_new(&c, &cc, now);
  if (rc == RTCSEC_OK)
    rc = exchange(c, d, v_group[v], cost);
  t0 = bench_cpu_ns();
  server_enter();
  rtcsec_dtls_free(d);
  server_leave();
  cost->server_ns += bench_cpu_ns() - t0;
  d13c_free(c);
  return rc;
}

static int one(const d13_fixture *f, int v, d13_cost *cost) {
  if (v != V_DTLS12)
    return handshake13(f, v, cost);
  /* bench_dtls_handshake takes [0] client, [1] server too. */
  rtcsec_cert *cert[2] = {f->cert[0], f->cert[1]};
  return bench_dtls_handshake(cert, f->fp, &cost->datagrams, &cost->bytes);
}

static int fixture_init(d13_fixture *f) {
  memset(f, 0, sizeof(*f));
  for (int i = 0; i < 2; i++) {
    if (rtcsec_cert_generate(&f->cert[i], NULL) != RTCSEC_OK ||
        rtcsec_cert_fingerprint(f->cert[i], RTCSEC_HASH_SHA256, &f->fp[i]) != RTCSEC_OK)
      return -1;
  }
  return 0;
}

static void fixture_free(d13_fixture *f) {
  for (int i = 0; i < 2; i++)
    rtcsec_cert_free(f->cert[i]);
}

static void add(const char *name, const char *label, const char *unit, int v, int base, double val,
                double base_val) {
  bench_figure *x = bench_figure_get("dtls13", name, label, unit, v_name[v], v_name[base]);
  bench_series_add(&x->val, val);
  bench_series_add(&x->base, base_val);
}

/* The CPU figures: variant against its baseline, both ends or the server. */
static const struct {
  const char *name, *label;
  int v, base, server;
} cpu_figures[] = {
    {"dtls13.handshake.mlkem", "1.3 X25519MLKEM768, both", V_MLKEM, V_X25519, 0},
    {"dtls13.server.mlkem", "1.3 X25519MLKEM768, server", V_MLKEM, V_X25519, 1},
    {"dtls13.handshake.mlkem_off", "1.3 mlkem off, both", V_MLKEM_OFF, V_X25519, 0},
    {"dtls13.server.mlkem_off", "1.3 mlkem off, server", V_MLKEM_OFF, V_X25519, 1},
    {"dtls13.handshake.x25519", "1.3 x25519 vs 1.2, both", V_X25519, V_DTLS12, 0},
};

int bench_dtls13_run(const bench_opts *o) {
  d13_fixture f;
  int rc = -1;
  if (fixture_init(&f) != 0) {
    fprintf(stderr, "rtcsec-bench: DTLS 1.3 fixture setup failed\n");
    goto out;
  }
  /* Warm-up, and what goes on the wire (the same every time). */
  d13_cost wire[N_V];
  memset(wire, 0, sizeof(wire));
  for (int v = 0; v < N_V; v++) {
    d13_cost warm = {0};
    if (one(&f, v, &warm) != RTCSEC_OK || one(&f, v, &wire[v]) != RTCSEC_OK) {
      fprintf(stderr, "rtcsec-bench: %s handshake failed\n", v_name[v]);
      goto out;
    }
  }
  int n = o->handshakes;
  for (int run = 0; run < o->runs; run++) {
    uint64_t ns[N_V] = {0}, server_ns[N_V] = {0};
    for (int h = 0; h < n; h++) {
      for (int j = 0; j < N_V; j++) {
        int v = (j + h + run) % N_V; /* interleaved: drift hits every variant */
        d13_cost cost = {0};
        uint64_t t0 = bench_cpu_ns();
        if (one(&f, v, &cost) != RTCSEC_OK) {
          fprintf(stderr, "rtcsec-bench: %s handshake failed\n", v_name[v]);
          goto out;
        }
        ns[v] += bench_cpu_ns() - t0;
        server_ns[v] += cost.server_ns;
      }
    }
    double us[N_V], server_us[N_V];
    for (int v = 0; v < N_V; v++) {
      us[v] = (double)ns[v] / 1000.0 / n;
      server_us[v] = (double)server_ns[v] / 1000.0 / n;
    }
    for (size_t i = 0; i < sizeof(cpu_figures) / sizeof(cpu_figures[0]); i++) {
      const double *t = cpu_figures[i].server ? server_us : us;
      add(cpu_figures[i].name, cpu_figures[i].label, "us/handshake", cpu_figures[i].v,
          cpu_figures[i].base, t[cpu_figures[i].v], t[cpu_figures[i].base]);
    }
    add("dtls13.bytes.mlkem", "bytes, X25519MLKEM768", "bytes", V_MLKEM, V_X25519,
        (double)wire[V_MLKEM].bytes, (double)wire[V_X25519].bytes);
    add("dtls13.datagrams.mlkem", "datagrams, X25519MLKEM768", "datagrams", V_MLKEM, V_X25519,
        (double)wire[V_MLKEM].datagrams, (double)wire[V_X25519].datagrams);
    add("dtls13.bytes.x25519", "bytes, 1.3 x25519 vs 1.2", "bytes", V_X25519, V_DTLS12,
        (double)wire[V_X25519].bytes, (double)wire[V_DTLS12].bytes);
  }
  rc = 0;
out:
  fixture_free(&f);
  return rc;
}

/* Dumps "dtls13.handshake|VARIANT|n" (both ends) and, for the DTLS 1.3
 * variants, "dtls13.server|VARIANT|n" (the server's calls alone). */
int bench_dtls13_callgrind_child(const bench_opts *o) {
  d13_fixture f;
  int rc = -1;
  int n = o->quick ? 1 : 4;
  if (fixture_init(&f) != 0)
    goto out;
  for (int v = 0; v < N_V; v++) {
    for (int server_only = 0; server_only < (v == V_DTLS12 ? 1 : 2); server_only++) {
      char dump[128];
      d13_cost cost = {0};
      if (one(&f, v, &cost) != RTCSEC_OK) /* warm-up, not counted */
        goto out;
      snprintf(dump, sizeof(dump), "%s|%s|%d", server_only ? "dtls13.server" : "dtls13.handshake",
               v_name[v], n);
      /* Server only: counters zeroed, collection switched on around each
       * of the server's calls. */
      if (server_only)
        bench_cg_begin_off();
      else
        bench_cg_begin();
      cg_server_only = server_only;
      int ok = 1;
      for (int h = 0; h < n && ok; h++)
        ok = one(&f, v, &cost) == RTCSEC_OK;
      cg_server_only = 0;
      if (server_only)
        bench_cg_dump(dump);
      else
        bench_cg_end(dump);
      if (!ok)
        goto out;
    }
  }
  rc = 0;
out:
  fixture_free(&f);
  return rc;
}
