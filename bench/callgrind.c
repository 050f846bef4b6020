/* Instruction counts (--callgrind). Hardware counters are not available on
 * the shared machines this runs on, and wall-clock figures swing by 1.3-1.6x
 * between runs; callgrind's instruction counts are exact and repeatable.
 *
 * The parent re-runs this program under
 *   valgrind --tool=callgrind --collect-atstart=no
 *            --callgrind-out-file=DIR/callgrind.out.%p
 * The child prepares each batch with collection off, then switches it on
 * around exactly the calls a figure measures (bench_cg_begin/end) and
 * dumps one profile per figure, named "cell|variant|count" (the dump's
 * "desc: Trigger: Client Request:" line). The parent reads the totals back
 * into figures (Ir per packet or per handshake) and leaves the dumps in DIR
 * for callgrind_annotate. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#ifdef RTCSEC_BENCH_HAVE_CALLGRIND
#include <valgrind/callgrind.h>

void bench_cg_begin(void) {
  CALLGRIND_ZERO_STATS;
  CALLGRIND_TOGGLE_COLLECT;
}

void bench_cg_end(const char *dump_name) {
  CALLGRIND_TOGGLE_COLLECT;
  CALLGRIND_DUMP_STATS_AT(dump_name);
}

void bench_cg_pause(void) { CALLGRIND_TOGGLE_COLLECT; }
void bench_cg_resume(void) { CALLGRIND_TOGGLE_COLLECT; }

void bench_cg_begin_off(void) { CALLGRIND_ZERO_STATS; }

void bench_cg_toggle(void) { CALLGRIND_TOGGLE_COLLECT; }

void bench_cg_dump(const char *dump_name) { CALLGRIND_DUMP_STATS_AT(dump_name); }

int bench_running_on_valgrind(void) { return RUNNING_ON_VALGRIND ? 1 : 0; }
#else
void bench_cg_begin(void) {}
void bench_cg_end(const char *dump_name) { (void)dump_name; }
void bench_cg_pause(void) {}
void bench_cg_resume(void) {}
void bench_cg_begin_off(void) {}
void bench_cg_toggle(void) {}
void bench_cg_dump(const char *dump_name) { (void)dump_name; }
int bench_running_on_valgrind(void) { return 0; }
#endif

/* ---- parent side ----------------------------------------------------------------- */

/* Which variant is compared with which, and the figure group. */
static const struct {
  const char *variant, *baseline, *unit;
} pairs[] = {
    {"rtcsec", "libsrtp2", "Ir/packet"},
    {"libsrtp2", "evp", "Ir/packet"},
    {"rtcsec", "evp", "Ir/packet"},
    {"rtcsec_dtls", "raw_openssl", "Ir/handshake"},
    {"rtcsec_transport", "raw_openssl_srtp", "Ir/handshake"},
    {"raw_openssl", "pubkey_floor", "Ir/handshake"},
    {"raw_openssl_p256", "raw_openssl", "Ir/handshake"},
    {"dtls13_mlkem", "dtls13_x25519", "Ir/handshake"},
    {"dtls13_mlkem_off", "dtls13_x25519", "Ir/handshake"},
    {"dtls13_x25519", "rtcsec_dtls12", "Ir/handshake"},
    {"all", "100", "Ir/packet"},
    {"hostile", "genuine", "Ir/datagram"},
};

typedef struct cg_dump {
  char cell[96];
  char variant[40];
  double per_unit;
  char file[4400];
} cg_dump;

static long dump_seq(const char *path) {
  const char *dot = strrchr(path, '.');
  return dot ? strtol(dot + 1, NULL, 10) : 0;
}

static int parse_dump(const char *path, cg_dump *d) {
  FILE *f = fopen(path, "r");
  char line[1024], desc[1024] = "";
  double total = -1;
  if (f == NULL)
    return -1;
  while (fgets(line, sizeof(line), f) != NULL) {
    static const char trig[] = "desc: Trigger: Client Request: ";
    if (strncmp(line, trig, sizeof(trig) - 1) == 0) {
      snprintf(desc, sizeof(desc), "%s", line + sizeof(trig) - 1);
      desc[strcspn(desc, "\r\n")] = '\0';
    } else if (strncmp(line, "summary:", 8) == 0 || strncmp(line, "totals:", 7) == 0) {
      total = strtod(strchr(line, ':') + 1, NULL);
    }
  }
  fclose(f);
  char *a = strchr(desc, '|');
  char *b = a ? strchr(a + 1, '|') : NULL;
  if (a == NULL || b == NULL || total < 0)
    return -1;
  *a = *b = '\0';
  double count = strtod(b + 1, NULL);
  if (count <= 0)
    return -1;
  snprintf(d->cell, sizeof(d->cell), "%s", desc);
  snprintf(d->variant, sizeof(d->variant), "%s", a + 1);
  d->per_unit = total / count;
  snprintf(d->file, sizeof(d->file), "%s", path);
  return 0;
}

/* rtcsec vs libsrtp2 and libsrtp2 vs EVP go to two groups, as the timed
 * figures do ("srtp" and "srtp-floor"), so the table pairs them up. */
static const char *cell_group(const char *cell, const char *variant, const char *baseline) {
  if (strncmp(cell, "sessions.", 9) == 0)
    return "cg-sessions";
  if (strncmp(cell, "hostile.", 8) == 0)
    return "cg-hostile";
  if (strncmp(cell, "router.", 7) == 0)
    return "cg-router";
  if (strncmp(cell, "dtls13.", 7) == 0)
    return "cg-dtls13";
  if (strncmp(cell, "srtp.", 5) != 0)
    return "cg-dtls";
  if (strcmp(baseline, "evp") == 0)
    return strcmp(variant, "rtcsec") == 0 ? "cg-srtp-target" : "cg-srtp-floor";
  return "cg-srtp";
}

/* "srtp.rtp.protect.1200.cm80" -> "cm80 rtp prot 1200", as the timed table. */
static void cell_label(char *out, size_t cap, const char *cell, const char *variant) {
  char kind[8], op[16], size[8], prof[16];
  if (strncmp(cell, "hostile.", 8) == 0) /* "hostile.router.dtls_forged" -> "router dtls_forged" */
    snprintf(out, cap, "%s", cell + 8);
  else if (strncmp(cell, "dtls13.", 7) == 0 && strncmp(variant, "dtls13_", 7) == 0)
    snprintf(out, cap, "%s %s", cell + 7, variant + 7); /* "server mlkem" */
  else if (sscanf(cell, "srtp.%7[^.].%15[^.].%7[^.].%15s", kind, op, size, prof) == 4)
    snprintf(out, cap, "%s %s %s %s", prof, kind, strcmp(op, "protect") == 0 ? "prot" : "unprot",
             size);
  else
    snprintf(out, cap, "%s %s", cell, variant);
}

int bench_callgrind_parent(const bench_opts *o, const char *dir, int argc, char **argv) {
  (void)o;
#ifndef RTCSEC_BENCH_HAVE_CALLGRIND
  (void)dir;
  (void)argc;
  (void)argv;
  fprintf(stderr, "rtcsec-bench: built without <valgrind/callgrind.h> (Debian package "
                  "valgrind): --callgrind is not available\n");
  return -1;
#else
  char self[4096], outfile[4400];
  ssize_t sl = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (sl <= 0) {
    fprintf(stderr, "rtcsec-bench: cannot find own executable\n");
    return -1;
  }
  self[sl] = '\0';
  if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
    fprintf(stderr, "rtcsec-bench: mkdir %s: %s\n", dir, strerror(errno));
    return -1;
  }
  if (system("command -v valgrind >/dev/null 2>&1") != 0) {
    fprintf(stderr, "rtcsec-bench: valgrind not found: install the Debian package valgrind "
                    "(bash scripts/setup.sh)\n");
    return -1;
  }
  snprintf(outfile, sizeof(outfile), "--callgrind-out-file=%s/callgrind.out.%%p", dir);
  /* valgrind options, the program, then the child's own arguments: the
   * same as ours minus the output options (the parent writes those). */
  char **av = calloc((size_t)argc + 12, sizeof(char *));
  if (av == NULL)
    return -1;
  int n = 0;
  av[n++] = "valgrind";
  av[n++] = "--tool=callgrind";
  av[n++] = "--collect-atstart=no";
  av[n++] = "--dump-instr=no";
  av[n++] = "--quiet";
  av[n++] = outfile;
  av[n++] = self;
  for (int i = 1; i < argc; i++) {
    if ((strcmp(argv[i], "--json") == 0 || strcmp(argv[i], "--plot") == 0) && i + 1 < argc) {
      i++;
      continue;
    }
    av[n++] = argv[i];
  }
  av[n] = NULL;
  fprintf(stderr, "rtcsec-bench: running under callgrind (takes a minute)...\n");
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    execvp("valgrind", av);
    _exit(127);
  }
  free(av);
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
      WEXITSTATUS(status) != 0) {
    fprintf(stderr, "rtcsec-bench: the callgrind run failed\n");
    return -1;
  }

  /* Collect this child's dumps: callgrind.out.<pid>.<n>. */
  char prefix[64];
  snprintf(prefix, sizeof(prefix), "callgrind.out.%ld.", (long)pid);
  DIR *dd = opendir(dir);
  if (dd == NULL)
    return -1;
  size_t cap = 256, nd = 0;
  cg_dump *dumps = calloc(cap, sizeof(*dumps));
  char index_path[4400];
  snprintf(index_path, sizeof(index_path), "%s/index-%ld.txt", dir, (long)pid);
  FILE *index = fopen(index_path, "w");
  struct dirent *e;
  while (dumps != NULL && (e = readdir(dd)) != NULL) {
    if (strncmp(e->d_name, prefix, strlen(prefix)) != 0)
      continue;
    if (nd == cap) {
      cg_dump *more = realloc(dumps, 2 * cap * sizeof(*dumps));
      if (more == NULL)
        break;
      dumps = more;
      cap *= 2;
    }
    char path[4400];
    snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
    if (parse_dump(path, &dumps[nd]) == 0) {
      if (index != NULL)
        fprintf(index, "%s\t%s|%s\t%.0f\n", path, dumps[nd].cell, dumps[nd].variant,
                dumps[nd].per_unit);
      nd++;
    }
  }
  closedir(dd);
  if (index != NULL)
    fclose(index);
  if (dumps == NULL || nd == 0) {
    fprintf(stderr, "rtcsec-bench: no callgrind dumps found in %s\n", dir);
    free(dumps);
    return -1;
  }
  /* Figures in the order the child measured them (the dump number). */
  for (size_t i = 0; i < nd; i++) {
    for (size_t j = i + 1; j < nd; j++) {
      if (dump_seq(dumps[j].file) < dump_seq(dumps[i].file)) {
        cg_dump t = dumps[i];
        dumps[i] = dumps[j];
        dumps[j] = t;
      }
    }
  }
  for (size_t i = 0; i < nd; i++) {
    for (size_t p = 0; p < sizeof(pairs) / sizeof(pairs[0]); p++) {
      if (strcmp(dumps[i].variant, pairs[p].variant) != 0)
        continue;
      for (size_t j = 0; j < nd; j++) {
        if (strcmp(dumps[j].cell, dumps[i].cell) != 0 ||
            strcmp(dumps[j].variant, pairs[p].baseline) != 0)
          continue;
        char name[160], label[96];
        int vs_evp =
            strcmp(pairs[p].variant, "rtcsec") == 0 && strcmp(pairs[p].baseline, "evp") == 0;
        /* as the timed figures: <cell>.rtcsec (vs libsrtp2), <cell>.libsrtp2
         * (vs EVP), <cell>.rtcsec_evp */
        snprintf(name, sizeof(name), "cg.%s.%s%s", dumps[i].cell, dumps[i].variant,
                 vs_evp ? "_evp" : "");
        cell_label(label, sizeof(label), dumps[i].cell, dumps[i].variant);
        bench_figure *f =
            bench_figure_get(cell_group(dumps[i].cell, pairs[p].variant, pairs[p].baseline), name,
                             label, pairs[p].unit, dumps[i].variant, pairs[p].baseline);
        if (strcmp(pairs[p].variant, "rtcsec") == 0)
          bench_figure_set_target(f, BENCH_TARGET_RATIO_MAX, vs_evp ? 1.10 : 1.05);
        if (strcmp(pairs[p].variant, "rtcsec_dtls") == 0 ||
            strcmp(pairs[p].variant, "rtcsec_transport") == 0)
          bench_figure_set_target(f, BENCH_TARGET_RATIO_MAX, 1.10);
        bench_series_add(&f->val, dumps[i].per_unit);
        bench_series_add(&f->base, dumps[j].per_unit);
      }
    }
  }
  free(dumps);
  fprintf(stderr,
          "rtcsec-bench: callgrind dumps in %s (index: %s); per-function costs:\n"
          "  callgrind_annotate --inclusive=yes %s/callgrind.out.%ld.<n>\n",
          dir, index_path, dir, (long)pid);
  return 0;
#endif
}
