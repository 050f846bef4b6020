/* rtcsec-call: the SDP fragments the two processes exchange (the top of
 * rtcsec-call.c shows them), through files or stdin / stdout. See app.h
 * for the other files.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "app.h"

void fragment_clear(fragment *f) {
  for (size_t i = 0; i < f->n_cands; i++)
    g_free(f->cands[i]);
  memset(f, 0, sizeof(*f));
}

const char *fragment_parse(fragment *f, const char *text) {
  memset(f, 0, sizeof(*f));
  const char *p = text;
  while (*p != '\0') {
    const char *nl = strchr(p, '\n');
    size_t len = nl ? (size_t)(nl - p) : strlen(p);
    const char *line = p;
    p = nl ? nl + 1 : p + len;
    while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' '))
      len--;
    if (len == 0)
      continue;
    rtcsec_sdp_attr kind;
    if (rtcsec_sdp_attr_identify(&kind, line, len) != RTCSEC_OK)
      return "a line that is not an SDP attribute";
    switch (kind) {
    case RTCSEC_SDP_ATTR_ICE_UFRAG:
      if (rtcsec_sdp_ice_ufrag_parse(&f->creds, line, len) != RTCSEC_OK)
        return "bad a=ice-ufrag";
      break;
    case RTCSEC_SDP_ATTR_ICE_PWD:
      if (rtcsec_sdp_ice_pwd_parse(&f->creds, line, len) != RTCSEC_OK)
        return "bad a=ice-pwd";
      break;
    case RTCSEC_SDP_ATTR_FINGERPRINT:
      if (f->n_fps == RTCSEC_DTLS_MAX_FINGERPRINTS)
        return "too many a=fingerprint lines";
      if (rtcsec_sdp_fingerprint_parse(&f->fps[f->n_fps], line, len) != RTCSEC_OK)
        return "bad a=fingerprint";
      f->n_fps++;
      break;
    case RTCSEC_SDP_ATTR_SETUP:
      if (rtcsec_sdp_setup_parse(&f->setup, line, len) != RTCSEC_OK)
        return "bad a=setup";
      f->has_setup = 1;
      break;
    case RTCSEC_SDP_ATTR_CANDIDATE:
      if (f->n_cands == MAX_REMOTE_CANDIDATES)
        return "too many a=candidate lines";
      f->cands[f->n_cands++] = g_strndup(line, len);
      break;
    case RTCSEC_SDP_ATTR_END_OF_CANDIDATES:
      f->end_of_candidates = 1;
      break;
    default:
      break; /* ice-options, ice-lite, anything else: not needed here */
    }
  }
  if (f->creds.ufrag[0] == '\0' || f->creds.pwd[0] == '\0')
    return "no a=ice-ufrag / a=ice-pwd";
  if (f->n_fps == 0)
    return "no a=fingerprint";
  if (!f->has_setup)
    return "no a=setup";
  if (!f->end_of_candidates)
    return "no a=end-of-candidates";
  return NULL;
}

static int has_end_line(const char *text) {
  for (const char *p = text; (p = strstr(p, "a=end-of-candidates")) != NULL; p++) {
    if (p == text || p[-1] == '\n')
      return 1;
  }
  return 0;
}

char *read_remote(const char *path, gint64 deadline) {
  if (path != NULL) {
    while (g_get_monotonic_time() < deadline) {
      gchar *text = NULL;
      gsize len = 0;
      if (g_file_get_contents(path, &text, &len, NULL)) {
        if (len > MAX_SDP_BYTES)
          die("%s: larger than %d bytes", path, MAX_SDP_BYTES);
        if (has_end_line(text))
          return text;
        g_free(text);
      }
      g_usleep(POLL_FILE_US);
    }
    die("%s: no complete SDP fragment (ending in a=end-of-candidates) in time", path);
  }
  GString *s = g_string_new(NULL);
  char buf[4096];
  for (;;) {
    gint64 left = deadline - g_get_monotonic_time();
    if (left <= 0)
      die("stdin: no complete SDP fragment in time");
    struct pollfd pfd = {STDIN_FILENO, POLLIN, 0};
    int n = poll(&pfd, 1, (int)(left / 1000) + 1);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      continue;
    ssize_t r = read(STDIN_FILENO, buf, sizeof(buf));
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      die("stdin: end of input before a=end-of-candidates");
    g_string_append_len(s, buf, r);
    if (s->len > MAX_SDP_BYTES)
      die("stdin: more than %d bytes of SDP", MAX_SDP_BYTES);
    if (has_end_line(s->str))
      return g_string_free(s, FALSE);
  }
}

char *fragment_format(rtcsec_ice_agent *agent, call *c, const rtcsec_fingerprint *fp,
                      rtcsec_sdp_setup setup) {
  rtcsec_sdp_ice_credentials creds;
  memset(&creds, 0, sizeof(creds));
  if (rtcsec_ice_get_local_credentials(agent, creds.ufrag, sizeof(creds.ufrag), creds.pwd,
                                       sizeof(creds.pwd)) != RTCSEC_OK)
    die("no local ICE credentials");
  char line[RTCSEC_SDP_MAX_LINE];
  GString *s = g_string_new(NULL);
  if (rtcsec_sdp_ice_ufrag_format(&creds, line, sizeof(line), NULL) != RTCSEC_OK)
    die("cannot format a=ice-ufrag");
  g_string_append_printf(s, "a=%s\r\n", line);
  if (rtcsec_sdp_ice_pwd_format(&creds, line, sizeof(line), NULL) != RTCSEC_OK)
    die("cannot format a=ice-pwd");
  g_string_append_printf(s, "a=%s\r\n", line);
  g_string_append(s, "a=ice-options:trickle\r\n");
  if (rtcsec_sdp_fingerprint_format(fp, line, sizeof(line), NULL) != RTCSEC_OK)
    die("cannot format a=fingerprint");
  g_string_append_printf(s, "a=%s\r\n", line);
  if (rtcsec_sdp_setup_format(setup, line, sizeof(line), NULL) != RTCSEC_OK)
    die("cannot format a=setup");
  g_string_append_printf(s, "a=%s\r\n", line);
  g_mutex_lock(&c->m);
  for (guint i = 0; i < c->cands->len; i++)
    g_string_append_printf(s, "a=%s\r\n", (const char *)g_ptr_array_index(c->cands, i));
  g_mutex_unlock(&c->m);
  g_string_append(s, "a=end-of-candidates\r\n");
  memset(creds.pwd, 0, sizeof(creds.pwd));
  return g_string_free(s, FALSE);
}

void write_local(const char *path, const char *text) {
  if (path == NULL) {
    fputs(text, stdout);
    fflush(stdout);
    return;
  }
  /* Whole or not at all: the peer polls for the file. */
  gchar *tmp = g_strdup_printf("%s.tmp.%ld", path, (long)getpid());
  if (!g_file_set_contents(tmp, text, -1, NULL) || rename(tmp, path) != 0) {
    unlink(tmp);
    die("%s: cannot write: %s", path, strerror(errno));
  }
  g_free(tmp);
}

void apply_remote(rtcsec_ice_agent *agent, const fragment *f) {
  /* all of the SDP's fingerprints at once (RFC 8122: any one may match) */
  int rc = rtcsec_ice_add_peer_fingerprints(agent, f->fps, f->n_fps);
  if (rc != RTCSEC_OK)
    die("peer fingerprint: %s", rtcsec_strerror(rc));
  rc = rtcsec_ice_set_remote_credentials(agent, f->creds.ufrag, f->creds.pwd);
  if (rc != RTCSEC_OK)
    die("remote credentials: %s", rtcsec_strerror(rc));
  for (size_t i = 0; i < f->n_cands; i++) {
    rc = rtcsec_ice_add_remote_candidate(agent, f->cands[i]);
    if (rc == RTCSEC_ERR_UNSUPPORTED)
      fprintf(stderr, PROG ": ignoring candidate (%s): %s\n", rtcsec_strerror(rc), f->cands[i]);
    else if (rc != RTCSEC_OK)
      die("remote candidate %s: %s", f->cands[i], rtcsec_strerror(rc));
  }
  rtcsec_ice_remote_end_of_candidates(agent);
}
