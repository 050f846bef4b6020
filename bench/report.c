/* rtcsec-bench output: the table on stdout, --json FILE, --plot FILE.png. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

/* ---- formatting ------------------------------------------------------------------ */

static const char *num(char *buf, size_t cap, double v) {
  double a = fabs(v);
  if (a >= 1000)
    snprintf(buf, cap, "%.0f", v);
  else if (a >= 100)
    snprintf(buf, cap, "%.1f", v);
  else if (a >= 10)
    snprintf(buf, cap, "%.2f", v);
  else
    snprintf(buf, cap, "%.3f", v);
  return buf;
}

/* "median [min..max]" of a series. */
static const char *spread(char *buf, size_t cap, const bench_series *s) {
  char a[32], b[32], c[32];
  if (s->n == 0)
    snprintf(buf, cap, "-");
  else if (s->n == 1)
    snprintf(buf, cap, "%s", num(a, sizeof(a), bench_series_median(s)));
  else
    snprintf(buf, cap, "%s [%s..%s]", num(a, sizeof(a), bench_series_median(s)),
             num(b, sizeof(b), bench_series_min(s)), num(c, sizeof(c), bench_series_max(s)));
  return buf;
}

static const char *target_text(char *buf, size_t cap, const bench_figure *f) {
  int met = bench_figure_target_met(f);
  char t[32];
  if (met < 0)
    snprintf(buf, cap, "%s", "");
  else if (f->target_kind == BENCH_TARGET_RATIO_MAX)
    snprintf(buf, cap, "%s (<=%s)", met ? "met" : "MISSED", num(t, sizeof(t), f->target));
  else
    snprintf(buf, cap, "%s (<=%s %s)", met ? "met" : "MISSED", num(t, sizeof(t), f->target),
             f->unit);
  return buf;
}

static bench_figure *find(const char *name) {
  for (size_t i = 0; i < bench_figure_count(); i++) {
    if (strcmp(bench_figure_at(i)->name, name) == 0)
      return bench_figure_at(i);
  }
  return NULL;
}

/* ---- the table ------------------------------------------------------------------- */

static void print_env(const bench_env *env, const bench_opts *o) {
  printf("rtcsec-bench %s, %s\n", rtcsec_version(), env->date);
  printf("machine:  %s, %d CPUs, load average %.2f at start, %.2f at end\n", env->cpu, env->ncpu,
         env->loadavg_start, env->loadavg_end);
  printf("libsrtp2: %s, crypto backend %s (\"%s\"; \"%s\")\n", env->srtp_version, env->srtp_backend,
         env->srtp_cipher, env->srtp_gcm);
  printf("          %s\n", env->srtp_library);
  printf("OpenSSL:  %s\n", env->openssl_version);
  if (o->callgrind)
    printf("mode:     callgrind instruction counts (exact; one run)\n");
  else
    printf("mode:     thread CPU time, median of %d run%s [min..max]%s\n", o->runs,
           o->runs == 1 ? "" : "s", o->quick ? ", --quick (small counts: smoke test only)" : "");
}

static void print_srtp(const char *group, const char *floor_group, const char *unit) {
  int header = 0;
  for (size_t i = 0; i < bench_figure_count(); i++) {
    bench_figure *f = bench_figure_at(i);
    if (strcmp(f->group, group) != 0)
      continue;
    /* f: <cell>.rtcsec vs libsrtp2; its partner <cell>.libsrtp2 vs EVP. */
    char cell[128], partner[160];
    snprintf(cell, sizeof(cell), "%s", f->name);
    char *dot = strrchr(cell, '.');
    if (dot != NULL)
      *dot = '\0';
    snprintf(partner, sizeof(partner), "%s.libsrtp2", cell);
    bench_figure *g = find(partner);
    if (g != NULL && strcmp(g->group, floor_group) != 0)
      g = NULL;
    if (!header) {
      printf("\n== SRTP per packet (%s): rtcsec transport vs raw libsrtp2 vs EVP floor ==\n", unit);
      printf("%-24s %-26s %-26s %-26s %-8s %-8s %-15s %-8s %s\n", "profile/kind/op/payload",
             "rtcsec", "libsrtp2", "EVP floor", "rt/lib", "+rtcsec", "rt/lib target", "lib/EVP",
             "lib/EVP target");
      header = 1;
    }
    char a[64], b[64], c[64], r1[32], d[32], t1[48], r2[32], t2[48];
    double delta = bench_series_median(&f->val) - bench_series_median(&f->base);
    snprintf(d, sizeof(d), "%+.0f", delta);
    printf("%-24s %-26s %-26s %-26s %-8s %-8s %-15s %-8s %s\n", f->label,
           spread(a, sizeof(a), &f->val), spread(b, sizeof(b), &f->base),
           g ? spread(c, sizeof(c), &g->base) : "-", num(r1, sizeof(r1), bench_figure_ratio(f)), d,
           target_text(t1, sizeof(t1), f), g ? num(r2, sizeof(r2), bench_figure_ratio(g)) : "-",
           g ? target_text(t2, sizeof(t2), g) : "");
  }
}

/* Issue 13's view of the per-packet cells: the EVP floor, stock libsrtp2,
 * libsrtp2 on rtcsec's types, rtcsec's whole path, and Pion, medians. The
 * rows are the figures <cell>.rtcsec_evp of `group`; the other columns are
 * their partners <cell>.stock, <cell>.libsrtp2, <cell>.pion (absent: "-"). */
static void print_srtp_summary(const char *group, const char *unit) {
  int header = 0;
  for (size_t i = 0; i < bench_figure_count(); i++) {
    bench_figure *f = bench_figure_at(i);
    if (strcmp(f->group, group) != 0)
      continue;
    char cell[128], name[160];
    snprintf(cell, sizeof(cell), "%s", f->name);
    char *dot = strrchr(cell, '.');
    if (dot != NULL)
      *dot = '\0';
    snprintf(name, sizeof(name), "%s.stock", cell);
    bench_figure *stock = find(name);
    snprintf(name, sizeof(name), "%s.libsrtp2", cell);
    bench_figure *lib = find(name);
    snprintf(name, sizeof(name), "%s.pion", cell);
    bench_figure *pion = find(name);
    if (!header) {
      printf("\n== SRTP per packet (%s, medians): EVP floor, stock libsrtp2, libsrtp2 on "
             "rtcsec's types, rtcsec, Pion ==\n",
             unit);
      printf("%-22s %-9s %-9s %-9s %-9s %-9s %-8s %-15s %-9s %-9s %s\n", "profile/kind/op/payload",
             "EVP", "stock", "stock/EVP", "lib+types", "rtcsec", "rt/EVP", "rt/EVP target", "Pion",
             "rt/Pion", "rt/Pion target");
      header = 1;
    }
    char a[32], b[32], c[32], d[32], e[32], g[32], t1[48], p[32], q[32], t2[48];
    printf("%-22s %-9s %-9s %-9s %-9s %-9s %-8s %-15s %-9s %-9s %s\n", f->label,
           num(a, sizeof(a), bench_series_median(&f->base)),
           stock ? num(b, sizeof(b), bench_series_median(&stock->val)) : "-",
           stock && stock->base.n ? num(c, sizeof(c), bench_figure_ratio(stock)) : "-",
           lib ? num(d, sizeof(d), bench_series_median(&lib->val)) : "-",
           num(e, sizeof(e), bench_series_median(&f->val)),
           num(g, sizeof(g), bench_figure_ratio(f)), target_text(t1, sizeof(t1), f),
           pion ? num(p, sizeof(p), bench_series_median(&pion->base)) : "-",
           pion && pion->val.n ? num(q, sizeof(q), bench_figure_ratio(pion)) : "-",
           pion ? target_text(t2, sizeof(t2), pion) : "");
  }
}

static void print_generic(const char *group, const char *title) {
  int header = 0;
  for (size_t i = 0; i < bench_figure_count(); i++) {
    bench_figure *f = bench_figure_at(i);
    if (strcmp(f->group, group) != 0)
      continue;
    if (!header) {
      printf("\n== %s ==\n", title);
      printf("%-28s %-28s %-14s %-28s %-28s %-8s %s\n", "figure", "value", "unit", "what",
             "baseline (what: see JSON)", "ratio", "target");
      header = 1;
    }
    char a[64], b[64], r[32], t[64];
    printf("%-28s %-28s %-14s %-28s %-28s %-8s %s\n", f->label, spread(a, sizeof(a), &f->val),
           f->unit, f->what, f->base.n ? spread(b, sizeof(b), &f->base) : "-",
           f->base.n ? num(r, sizeof(r), bench_figure_ratio(f)) : "-",
           target_text(t, sizeof(t), f));
  }
}

void bench_print_table(const bench_env *env, const bench_opts *o) {
  print_env(env, o);
  print_srtp_summary("srtp-target", "thread CPU ns/packet");
  print_srtp("srtp", "srtp-floor", "thread CPU ns/packet");
  print_generic("alloc", "Allocations on the per-packet paths (malloc/calloc/realloc calls)");
  print_generic("dtls", "DTLS 1.2 handshakes, both endpoints, one core (baseline: raw OpenSSL)");
  print_generic("dtls13", "DTLS 1.3 handshakes (rtcsec's server, the test suites' client), "
                          "with and without X25519MLKEM768 (baseline: x25519; for x25519: "
                          "DTLS 1.2)");
  print_generic("mem", "Memory per established session (baseline: bare SSL + libsrtp2)");
  print_generic("mem-stock", "Memory per established session, libsrtp2 on its own ciphers "
                             "(--libsrtp-ciphers child)");
  print_generic("sessions",
                "Sessions piling up: rtcsec_srtp create, packets, free (AEAD_AES_128_GCM)");
  print_generic("sessions-stock", "The same with libsrtp2 on its own ciphers (--libsrtp-ciphers "
                                  "child, at most 4000 sessions)");
  print_generic("hmac", "HMAC-SHA1 with a key set up once, per message (baseline: EVP_MAC "
                        "re-initialised)");
  print_generic("router", "Single-port router, echo of RTP in user space, round-robin over N "
                          "sessions (baseline: the EVP floor over as many keys)");
  print_generic("ice", "ICE connected -> DTLS connected -> first media, loopback (libnice)");
  print_generic("hostile", "Hostile datagrams, CPU per datagram (baseline: one genuine SRTP "
                           "unprotect through the same call)");
  print_srtp_summary("cg-srtp-target", "Ir = instructions/packet, callgrind");
  print_srtp("cg-srtp", "cg-srtp-floor", "Ir = instructions/packet, callgrind");
  print_generic("cg-dtls", "DTLS handshake instructions (callgrind)");
  print_generic("cg-dtls13", "DTLS 1.3 handshake instructions, both ends and the server alone "
                             "(callgrind)");
  print_generic("cg-sessions", "Instructions per protect + unprotect, round-robin over all "
                               "sessions vs over 100 (callgrind)");
  print_generic("cg-hostile", "Hostile datagram instructions (callgrind; baseline: one genuine "
                              "SRTP unprotect)");
  print_generic("cg-router", "Instructions per router echo, round-robin over all sessions vs "
                             "over 100 (callgrind)");
  for (size_t i = 0; i < bench_not_done_count(); i++)
    printf("\nnot measured: %s: %s\n", bench_not_done_name(i), bench_not_done_reason(i));
  size_t met = 0, missed = 0;
  for (size_t i = 0; i < bench_figure_count(); i++) {
    int m = bench_figure_target_met(bench_figure_at(i));
    met += m == 1;
    missed += m == 0;
  }
  printf("\ntargets: %zu met, %zu missed\n", met, missed);
}

/* ---- JSON ------------------------------------------------------------------------ */

static void jstr(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    if (*s == '"' || *s == '\\')
      fprintf(f, "\\%c", *s);
    else if ((unsigned char)*s < 0x20)
      fprintf(f, "\\u%04x", (unsigned char)*s);
    else
      fputc(*s, f);
  }
  fputc('"', f);
}

static void jnum(FILE *f, double v) {
  if (isfinite(v))
    fprintf(f, "%.6g", v);
  else
    fputs("null", f);
}

int bench_write_json(const char *path, const bench_env *env, const bench_opts *o) {
  FILE *f = fopen(path, "w");
  if (f == NULL) {
    perror(path);
    return -1;
  }
  fprintf(f, "{\n  \"tool\": \"rtcsec-bench\",\n  \"rtcsec_version\": ");
  jstr(f, rtcsec_version());
  fprintf(f, ",\n  \"date\": ");
  jstr(f, env->date);
  fprintf(f, ",\n  \"mode\": \"%s\",\n  \"quick\": %s,\n  \"runs\": %d,\n",
          o->callgrind ? "callgrind" : "cpu-time", o->quick ? "true" : "false",
          o->callgrind ? 1 : o->runs);
  fprintf(f, "  \"machine\": {\"cpu\": ");
  jstr(f, env->cpu);
  fprintf(f, ", \"ncpu\": %d, \"loadavg_start\": ", env->ncpu);
  jnum(f, env->loadavg_start);
  fprintf(f, ", \"loadavg_end\": ");
  jnum(f, env->loadavg_end);
  fprintf(f, "},\n  \"libsrtp2\": {\"version\": ");
  jstr(f, env->srtp_version);
  fprintf(f, ", \"backend\": ");
  jstr(f, env->srtp_backend);
  fprintf(f, ", \"aes_icm_128\": ");
  jstr(f, env->srtp_cipher);
  fprintf(f, ", \"aes_gcm_128\": ");
  jstr(f, env->srtp_gcm);
  fprintf(f, ", \"library\": ");
  jstr(f, env->srtp_library);
  fprintf(f, "},\n  \"openssl\": ");
  jstr(f, env->openssl_version);
  fprintf(f, ",\n  \"not_done\": [");
  for (size_t i = 0; i < bench_not_done_count(); i++) {
    fprintf(f, "%s\n    {\"name\": ", i ? "," : "");
    jstr(f, bench_not_done_name(i));
    fprintf(f, ", \"reason\": ");
    jstr(f, bench_not_done_reason(i));
    fprintf(f, "}");
  }
  fprintf(f, "%s],\n  \"figures\": [", bench_not_done_count() ? "\n  " : "");
  for (size_t i = 0; i < bench_figure_count(); i++) {
    const bench_figure *g = bench_figure_at(i);
    int has_base = g->base.n > 0;
    fprintf(f, "%s\n    {\"name\": ", i ? "," : "");
    jstr(f, g->name);
    fprintf(f, ", \"group\": ");
    jstr(f, g->group);
    fprintf(f, ", \"label\": ");
    jstr(f, g->label);
    fprintf(f, ", \"value\": ");
    jnum(f, bench_series_median(&g->val));
    fprintf(f, ", \"unit\": ");
    jstr(f, g->unit);
    fprintf(f, ", \"what\": ");
    jstr(f, g->what);
    fprintf(f, ", \"baseline_name\": ");
    jstr(f, g->baseline_name);
    fprintf(f, ", \"baseline_value\": ");
    jnum(f, has_base ? bench_series_median(&g->base) : NAN);
    double ratio = bench_figure_ratio(g);
    fprintf(f, ", \"ratio\": ");
    jnum(f, has_base && bench_series_median(&g->base) != 0 ? ratio : NAN);
    fprintf(f, ", \"min\": ");
    jnum(f, bench_series_min(&g->val));
    fprintf(f, ", \"max\": ");
    jnum(f, bench_series_max(&g->val));
    fprintf(f, ", \"baseline_min\": ");
    jnum(f, has_base ? bench_series_min(&g->base) : NAN);
    fprintf(f, ", \"baseline_max\": ");
    jnum(f, has_base ? bench_series_max(&g->base) : NAN);
    fprintf(f, ", \"runs\": %d", g->val.n);
    int met = bench_figure_target_met(g);
    fprintf(f, ", \"target\": ");
    if (met < 0) {
      fprintf(f, "null, \"target_met\": null}");
    } else {
      fprintf(f, "{\"kind\": \"%s\", \"max\": ",
              g->target_kind == BENCH_TARGET_RATIO_MAX ? "ratio" : "value");
      jnum(f, g->target);
      fprintf(f, "}, \"target_met\": %s}", met ? "true" : "false");
    }
  }
  fprintf(f, "\n  ]\n}\n");
  if (fclose(f) != 0) {
    perror(path);
    return -1;
  }
  return 0;
}

/* ---- gnuplot ------------------------------------------------------------------------ */

/* One panel: the ratio of every figure of `group` (with a baseline) as a
 * bar, and dashed lines at the targets. */
static int panel(FILE *s, int idx, const char *group, const char *title, const char *lines) {
  int n = 0;
  fprintf(s, "$d%d << EOD\n", idx);
  for (size_t i = 0; i < bench_figure_count(); i++) {
    const bench_figure *f = bench_figure_at(i);
    if (strcmp(f->group, group) != 0 || f->base.n == 0 || bench_series_median(&f->base) == 0)
      continue;
    char label[80];
    snprintf(label, sizeof(label), "%s", f->label);
    for (char *c = label; *c; c++) {
      if (*c == '"')
        *c = '\'';
    }
    fprintf(s, "\"%s\" %.4f\n", label, bench_figure_ratio(f));
    n++;
  }
  fprintf(s, "EOD\n");
  if (n == 0)
    return 0;
  fprintf(s, "set title \"%s\"\n%s\n", title,
          strstr(lines, " title '") != NULL ? "set key top left opaque box" : "unset key");
  fprintf(s, "plot $d%d using 2:xtic(1) with boxes lc rgb '#4477aa' notitle%s\n", idx, lines);
  return 1;
}

int bench_write_plot(const char *path, const bench_env *env) {
  if (system("command -v gnuplot >/dev/null 2>&1") != 0) {
    fprintf(stderr, "rtcsec-bench: --plot needs gnuplot: install the Debian package gnuplot-nox "
                    "(apt-get install gnuplot-nox, or bash scripts/setup.sh)\n");
    return -1;
  }
  char script[] = "/tmp/rtcsec-bench-plot.XXXXXX";
  int fd = mkstemp(script);
  FILE *s = fd >= 0 ? fdopen(fd, "w") : NULL;
  if (s == NULL) {
    perror("rtcsec-bench: plot script");
    return -1;
  }
  static const struct {
    const char *group, *title, *lines;
  } panels[] = {
      {"srtp", "rtcsec transport / raw libsrtp2, per packet (target <= 1.05)",
       ", 1 lc rgb 'black' notitle, 1.05 dt 2 lc rgb 'red' title 'target 1.05'"},
      {"srtp-target", "rtcsec / EVP cipher floor, per packet (target <= 1.10)",
       ", 1 lc rgb 'black' notitle, 1.10 dt 2 lc rgb 'red' title 'target 1.10'"},
      {"srtp-pion", "rtcsec / Pion, per packet (target < 1)",
       ", 1 lc rgb 'black' notitle, 1.0 dt 2 lc rgb 'red' title 'target 1'"},
      {"srtp-stock", "stock libsrtp2 (its own ciphers) / EVP cipher floor, per packet",
       ", 1 lc rgb 'black' notitle"},
      {"dtls", "DTLS handshake: rtcsec / baseline (see legend of docs/benchmarks.md)",
       ", 1 lc rgb 'black' notitle, 1.10 dt 2 lc rgb 'red' title 'target 1.10'"},
      {"mem", "memory per session: rtcsec / baseline", ", 1 lc rgb 'black' notitle"},
      {"ice", "ICE connected -> DTLS connected over loopback / the same handshake in memory",
       ", 1 lc rgb 'black' notitle"},
      {"cg-srtp", "instructions per packet (callgrind): rtcsec / raw libsrtp2",
       ", 1 lc rgb 'black' notitle, 1.05 dt 2 lc rgb 'red' title 'target 1.05'"},
      {"cg-srtp-target", "instructions per packet (callgrind): rtcsec / EVP floor",
       ", 1 lc rgb 'black' notitle, 1.10 dt 2 lc rgb 'red' title 'target 1.10'"},
      {"cg-dtls", "instructions per handshake (callgrind): variant / baseline",
       ", 1 lc rgb 'black' notitle, 1.10 dt 2 lc rgb 'red' title 'target 1.10'"},
      {"hostile", "hostile datagram / one genuine SRTP unprotect, CPU per datagram",
       ", 1 lc rgb 'black' notitle"},
      {"cg-hostile", "hostile datagram / one genuine SRTP unprotect, instructions",
       ", 1 lc rgb 'black' notitle"},
  };
  enum { N_PANELS = sizeof(panels) / sizeof(panels[0]) };
  int used[N_PANELS] = {0}, n = 0;
  for (size_t p = 0; p < N_PANELS; p++) {
    for (size_t i = 0; i < bench_figure_count() && !used[p]; i++) {
      const bench_figure *f = bench_figure_at(i);
      used[p] = strcmp(f->group, panels[p].group) == 0 && f->base.n > 0;
    }
    n += used[p];
  }
  if (n == 0) {
    fclose(s);
    unlink(script);
    fprintf(stderr, "rtcsec-bench: nothing to plot\n");
    return -1;
  }
  fprintf(s, "set terminal pngcairo size 1600,%d font ',9'\n", 420 * n + 60);
  fprintf(s, "set output \"%s\"\n", path);
  fprintf(s, "set multiplot layout %d,1 title \"rtcsec-bench %s: %s (%s backend), %s\"\n", n,
          env->date, env->srtp_version, env->srtp_backend, env->cpu);
  fprintf(s, "set style fill solid 0.8 border -1\nset boxwidth 0.7\nset grid ytics\n"
             "set xtics rotate by -50 left font ',8'\nset yrange [0:*]\nset ylabel 'ratio'\n"
             "set offsets 0.5, 0.5, 0, 0\n");
  int idx = 0;
  for (size_t p = 0; p < N_PANELS; p++) {
    if (used[p])
      panel(s, idx++, panels[p].group, panels[p].title, panels[p].lines);
  }
  fprintf(s, "unset multiplot\n");
  fclose(s);
  char cmd[256];
  snprintf(cmd, sizeof(cmd), "gnuplot %s", script);
  int rc = system(cmd);
  unlink(script);
  if (rc != 0) {
    fprintf(stderr, "rtcsec-bench: gnuplot failed (exit %d)\n", rc);
    return -1;
  }
  return 0;
}
