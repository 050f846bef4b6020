/* rtcsec-echo's HTTP server (libsoup 3, on the GLib main loop of the
 * calls):
 *
 *   GET  /, /echo.js        the page (embedded at build time)
 *   POST /offer             the browser offers; rtcsec answers a=setup:active
 *                           (rtcsec is the DTLS client); body and answer are
 *                           SDP, the answer carries X-Rtcsec-Session
 *   GET  /offer             rtcsec offers actpass, as JSON {session, type,
 *                           sdp}; rtcsec will be the DTLS server
 *   POST /answer?session=N  the browser's answer to that offer (SDP)
 *   GET  /stats[?session=N] rtcsec's own view of each call (JSON)
 *   POST /report            the page's getStats() summary; with --report FILE
 *                           each is appended as one JSON line
 *
 * Signalling is non-trickle: rtcsec answers (or offers) once its ICE
 * gathering is done, with every candidate in the description. Bodies over
 * MAX_BODY are refused before they are read.
 */
#include <json-glib/json-glib.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "echo_assets.h"

void http_respond_text(SoupServerMessage *msg, guint status, const char *text) {
  soup_server_message_set_status(msg, status, NULL);
  soup_server_message_set_response(msg, "text/plain; charset=utf-8", SOUP_MEMORY_COPY, text,
                                   strlen(text));
}

void http_respond_error(SoupServerMessage *msg, guint status, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *text = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  echo_log("HTTP %u: %s", status, text);
  http_respond_text(msg, status, text);
  g_free(text);
}

void http_no_cache(SoupServerMessage *msg) {
  soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Cache-Control",
                               "no-store");
}

void http_respond_json(SoupServerMessage *msg, char *json, size_t len) {
  soup_server_message_set_status(msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response(msg, "application/json", SOUP_MEMORY_TAKE, json, len);
}

char *http_json_finish(JsonBuilder *b, size_t *len) {
  JsonGenerator *g = json_generator_new();
  JsonNode *root = json_builder_get_root(b);
  json_generator_set_root(g, root);
  gsize n = 0;
  char *out = json_generator_to_data(g, &n);
  *len = n;
  json_node_unref(root);
  g_object_unref(g);
  g_object_unref(b);
  return out;
}

/* The request body as a NUL-terminated string (caller frees), or NULL if
 * it is over MAX_BODY. */
static char *request_body(SoupServerMessage *msg, size_t *len) {
  SoupMessageBody *body = soup_server_message_get_request_body(msg);
  GBytes *bytes = soup_message_body_flatten(body);
  gsize n = 0;
  const char *data = g_bytes_get_data(bytes, &n);
  char *copy = NULL;
  if (n <= MAX_BODY) {
    copy = g_malloc(n + 1);
    if (n)
      memcpy(copy, data, n);
    copy[n] = '\0';
    *len = n;
  }
  g_bytes_unref(bytes);
  return copy;
}

/* POST /offer: the browser offers, rtcsec answers (active: DTLS client). */
static void handle_post_offer(echo_app *app, SoupServerMessage *msg) {
  size_t len = 0;
  char *body = request_body(msg, &len);
  char err[256] = "";
  echo_sdp *offer = g_new0(echo_sdp, 1);
  echo_transport_desc remote;
  int rc;
  if (body == NULL || len == 0) {
    http_respond_error(msg, SOUP_STATUS_BAD_REQUEST, "POST /offer needs the offer SDP as the body");
    goto out;
  }
  if ((rc = echo_sdp_parse(offer, body, len, err, sizeof(err))) != 0 ||
      (rc = echo_sdp_transport(offer, &remote, err, sizeof(err))) != 0) {
    http_respond_error(msg, SOUP_STATUS_BAD_REQUEST, "offer refused: %s", err);
    goto out;
  }
  if (lite_peer_refused(app, &remote)) {
    http_respond_error(msg, SOUP_STATUS_BAD_REQUEST,
                       "offer refused: a=ice-lite, and --single-port needs a full ICE agent");
    goto out;
  }
  /* RFC 5763 §5: the answerer picks its role; the echo prefers active
   * (DTLS client), as RFC 5763 recommends and /?dtls=client asks. */
  rtcsec_sdp_setup answer_setup;
  rtcsec_dtls_role role;
  if ((rc = rtcsec_sdp_setup_answer(remote.setup, RTCSEC_SDP_SETUP_ACTIVE, &answer_setup)) != 0 ||
      (rc = rtcsec_sdp_setup_dtls_role(answer_setup, &role)) != 0) {
    http_respond_error(msg, SOUP_STATUS_BAD_REQUEST,
                       "offer refused: a=setup:%s leaves no DTLS role",
                       rtcsec_sdp_setup_name(remote.setup));
    goto out;
  }
  echo_local_ids ids;
  char cname[ECHO_CNAME_LEN];
  uint32_t browser_a = 0, browser_v = 0;
  for (size_t i = 0; i < offer->n_sections; i++) {
    if (offer->s[i].kind == ECHO_KIND_AUDIO && !browser_a)
      browser_a = offer->s[i].ssrc;
    if (offer->s[i].kind == ECHO_KIND_VIDEO && !browser_v)
      browser_v = offer->s[i].ssrc;
  }
  echo_session *s = session_new(app, 0, role, err, sizeof(err));
  if (s == NULL) {
    http_respond_error(msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, "%s", err);
    goto out;
  }
  session_ids(&ids, cname, sizeof(cname), browser_a, browser_v);
  if ((rc = echo_plan_answer(&s->plan, offer, &ids, err, sizeof(err))) != 0) {
    http_respond_error(msg, SOUP_STATUS_BAD_REQUEST, "offer refused: %s", err);
    goto out; /* the session stays, failed, visible in /stats until evicted */
  }
  s->local.setup = answer_setup;
  session_plan_media(s);
  if ((rc = session_set_remote(s, offer, &remote, err, sizeof(err))) != 0) {
    http_respond_error(msg, SOUP_STATUS_BAD_REQUEST, "offer refused: %s", err);
    goto out;
  }
  if ((rc = session_start(s, msg)) != 0)
    http_respond_error(msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, "ICE gathering: %s",
                       rtcsec_strerror(rc));
out:
  g_free(offer);
  g_free(body);
}

/* GET /offer: rtcsec offers actpass and will be the DTLS server. */
static void handle_get_offer(echo_app *app, SoupServerMessage *msg) {
  char err[256] = "";
  echo_session *s = session_new(app, 1, RTCSEC_DTLS_SERVER, err, sizeof(err));
  if (s == NULL) {
    http_respond_error(msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, "%s", err);
    return;
  }
  echo_local_ids ids;
  char cname[ECHO_CNAME_LEN];
  session_ids(&ids, cname, sizeof(cname), 0, 0);
  echo_plan_offer(&s->plan, &ids);
  /* RFC 5763 §5: the offerer MUST say actpass. The browser answers active,
   * which makes rtcsec the DTLS server, as the agent was configured. */
  s->local.setup = RTCSEC_SDP_SETUP_ACTPASS;
  int rc;
  if (app->lite != NULL) {
    /* --single-port: the offer says a=ice-lite, so the browser, a full
     * agent, takes the controlling role although it answers (RFC 8445
     * §6.1.1) and starts its checks as soon as it has the offer, before
     * rtcsec sees the answer: the router must know the call now. The
     * fingerprint comes with the answer; no media before it matched. */
    if ((rc = lite_session_register(s, NULL, NULL, err, sizeof(err))) != 0) {
      http_respond_error(msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, "%s", err);
      return;
    }
  }
  if ((rc = session_start(s, msg)) != 0)
    http_respond_error(msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, "ICE gathering: %s",
                       rtcsec_strerror(rc));
}

/* POST /answer?session=N: the browser's answer to rtcsec's offer. */
static void handle_post_answer(echo_app *app, SoupServerMessage *msg, GHashTable *query) {
  const char *id_s = query ? g_hash_table_lookup(query, "session") : NULL;
  char *end = NULL;
  unsigned long long id = id_s ? strtoull(id_s, &end, 10) : 0;
  echo_session *s = (id_s && end && *end == '\0') ? session_find(app, id) : NULL;
  if (s == NULL || !s->rtcsec_offers) {
    http_respond_error(msg, SOUP_STATUS_NOT_FOUND, "POST /answer: no offer session '%s'",
                       id_s ? id_s : "(none)");
    return;
  }
  if (s->answered) {
    http_respond_error(msg, SOUP_STATUS_CONFLICT, "session %llu already has an answer", id);
    return;
  }
  size_t len = 0;
  char *body = request_body(msg, &len);
  char err[256] = "";
  echo_sdp *answer = g_new0(echo_sdp, 1);
  echo_plan *plan = NULL;
  echo_transport_desc remote;
  rtcsec_dtls_role role;
  int rc;
  if (body == NULL || len == 0) {
    http_respond_error(msg, SOUP_STATUS_BAD_REQUEST,
                       "POST /answer needs the answer SDP as the body");
    goto out;
  }
  /* The plan changes only once the whole answer is accepted, so that a
   * refused answer can be followed by a good one. */
  plan = g_memdup2(&s->plan, sizeof(s->plan));
  if ((rc = echo_sdp_parse(answer, body, len, err, sizeof(err))) != 0 ||
      (rc = echo_sdp_transport(answer, &remote, err, sizeof(err))) != 0 ||
      (rc = echo_plan_apply_answer(plan, answer, err, sizeof(err))) != 0) {
    http_respond_error(msg, SOUP_STATUS_BAD_REQUEST, "answer refused: %s", err);
    goto out;
  }
  if (lite_peer_refused(app, &remote)) {
    http_respond_error(msg, SOUP_STATUS_BAD_REQUEST,
                       "answer refused: a=ice-lite, and --single-port needs a full ICE agent");
    goto out;
  }
  /* RFC 8842 §5.3: the answer to actpass says active or passive, and that
   * fixes rtcsec's role. Browsers say active (rtcsec is the DTLS server,
   * as the agent was made); passive is honoured too. */
  if (rtcsec_sdp_setup_dtls_role_from_remote(remote.setup, &role) != 0) {
    http_respond_error(msg, SOUP_STATUS_BAD_REQUEST,
                       "answer refused: a=setup:%s to rtcsec's actpass (must be active or passive)",
                       rtcsec_sdp_setup_name(remote.setup));
    goto out;
  }
  if (role != s->dtls_role) {
    /* (--single-port: session_set_remote adds the router session again.) */
    if (s->agent != NULL && (rc = rtcsec_ice_set_dtls_role(s->agent, role)) != 0) {
      http_respond_error(msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, "DTLS role %s: %s",
                         dtls_role_name(role), rtcsec_strerror(rc));
      goto out;
    }
    s->dtls_role = role;
  }
  s->plan = *plan;
  s->answered = 1; /* from here on the session takes no other answer */
  session_plan_media(s);
  if ((rc = session_set_remote(s, answer, &remote, err, sizeof(err))) != 0) {
    http_respond_error(msg, SOUP_STATUS_BAD_REQUEST, "answer refused: %s", err);
    goto out;
  }
  slog(s, "answer applied (a=setup:%s)", rtcsec_sdp_setup_name(remote.setup));
  http_respond_text(msg, SOUP_STATUS_OK, "ok\n");
out:
  g_free(plan);
  g_free(answer);
  g_free(body);
}

/* GET /stats[?session=N]: rtcsec's view of every call (echo/stats.c). */
static void handle_stats(echo_app *app, SoupServerMessage *msg, GHashTable *query) {
  const char *id_s = query ? g_hash_table_lookup(query, "session") : NULL;
  unsigned long long want = id_s ? strtoull(id_s, NULL, 10) : 0;
  size_t len = 0;
  char *j = stats_json(app, id_s != NULL, want, &len);
  http_no_cache(msg);
  http_respond_json(msg, j, len);
}

/* POST /report: the page's getStats() summary, appended as one JSON line. */
static void handle_report(echo_app *app, SoupServerMessage *msg) {
  size_t len = 0;
  char *body = request_body(msg, &len);
  if (body == NULL || len == 0) {
    http_respond_error(msg, SOUP_STATUS_BAD_REQUEST, "POST /report needs a JSON body");
    g_free(body);
    return;
  }
  JsonParser *parser = json_parser_new();
  GError *error = NULL;
  if (!json_parser_load_from_data(parser, body, (gssize)len, &error) ||
      !JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser))) {
    http_respond_error(msg, SOUP_STATUS_BAD_REQUEST, "report is not a JSON object: %s",
                       error ? error->message : "wrong type");
    g_clear_error(&error);
    g_object_unref(parser);
    g_free(body);
    return;
  }
  app->reports++;
  if (app->report != NULL) {
    /* Serialised again without newlines: one report, one line. */
    char *line = json_to_string(json_parser_get_root(parser), FALSE);
    fprintf(app->report, "%s\n", line);
    fflush(app->report);
    g_free(line);
  }
  JsonObject *o = json_node_get_object(json_parser_get_root(parser));
  if (json_object_has_member(o, "transport") &&
      JSON_NODE_HOLDS_OBJECT(json_object_get_member(o, "transport"))) {
    JsonObject *t = json_object_get_object_member(o, "transport");
    const char *dtls = json_object_has_member(t, "dtlsState")
                           ? json_object_get_string_member_with_default(t, "dtlsState", "?")
                           : "?";
    echo_log("report %llu from the page: dtlsState %s", (unsigned long long)app->reports, dtls);
  }
  g_object_unref(parser);
  g_free(body);
  http_respond_text(msg, SOUP_STATUS_OK, "ok\n");
}

static void handle_asset(SoupServerMessage *msg, const char *path) {
  if (strcmp(path, "/") == 0)
    path = "/index.html";
  for (size_t i = 0; i < sizeof(echo_assets) / sizeof(echo_assets[0]); i++) {
    if (strcmp(echo_assets[i].path, path) == 0) {
      http_no_cache(msg);
      soup_server_message_set_status(msg, SOUP_STATUS_OK, NULL);
      soup_server_message_set_response(msg, echo_assets[i].content_type, SOUP_MEMORY_STATIC,
                                       (const char *)echo_assets[i].data, echo_assets[i].len);
      return;
    }
  }
  http_respond_text(msg, SOUP_STATUS_NOT_FOUND, "not found\n");
}

static void http_handler(SoupServer *server, SoupServerMessage *msg, const char *path,
                         GHashTable *query, gpointer user) {
  (void)server;
  echo_app *app = user;
  const char *method = soup_server_message_get_method(msg);
  int get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
  int post = strcmp(method, "POST") == 0;
  if (strcmp(path, "/offer") == 0 && post)
    handle_post_offer(app, msg);
  else if (strcmp(path, "/offer") == 0 && get)
    handle_get_offer(app, msg);
  else if (strcmp(path, "/answer") == 0 && post)
    handle_post_answer(app, msg, query);
  else if (strcmp(path, "/stats") == 0 && get)
    handle_stats(app, msg, query);
  else if (strcmp(path, "/report") == 0 && post)
    handle_report(app, msg);
  else if (get)
    handle_asset(msg, path);
  else
    http_respond_text(msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "method not allowed\n");
}

/* Refuses a body larger than MAX_BODY before it is read (libsoup calls
 * early handlers once the headers are in; a status set here ends it). */
static void http_early_handler(SoupServer *server, SoupServerMessage *msg, const char *path,
                               GHashTable *query, gpointer user) {
  (void)server, (void)path, (void)query, (void)user;
  SoupMessageHeaders *h = soup_server_message_get_request_headers(msg);
  goffset n = soup_message_headers_get_content_length(h);
  if (n > MAX_BODY || soup_message_headers_get_encoding(h) == SOUP_ENCODING_CHUNKED) /* unbounded */
    http_respond_error(msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, "request body over %d bytes",
                       MAX_BODY);
}

/* ---- options ------------------------------------------------------------------- */

int http_listen(echo_app *app) {
  GError *error = NULL;
  GSocketAddress *sa =
      g_inet_socket_address_new_from_string(app->opt.listen.host, app->opt.listen.port);
  if (sa == NULL) {
    fprintf(stderr, PROG ": --listen: '%s' is not an IP address\n", app->opt.listen.host);
    return -1;
  }
  app->server = soup_server_new("server-header", PROG " ", NULL);
  soup_server_add_early_handler(app->server, NULL, http_early_handler, app, NULL);
  soup_server_add_handler(app->server, NULL, http_handler, app, NULL);
  if (!soup_server_listen(app->server, sa, 0, &error)) {
    fprintf(stderr, PROG ": cannot listen on %s:%u: %s\n", app->opt.listen.host,
            app->opt.listen.port, error->message);
    g_error_free(error);
    g_object_unref(sa);
    return -1;
  }
  g_object_unref(sa);
  /* The port actually bound (port 0 picks one). */
  GSList *uris = soup_server_get_uris(app->server);
  int port = uris ? g_uri_get_port(uris->data) : app->opt.listen.port;
  g_slist_free_full(uris, (GDestroyNotify)g_uri_unref);
  int v6 = strchr(app->opt.listen.host, ':') != NULL;
  char base[200];
  snprintf(base, sizeof(base), "http://%s%s%s:%d/", v6 ? "[" : "", app->opt.listen.host,
           v6 ? "]" : "", port);
  printf("listening on %s\n", base);
  printf("open %s?dtls=client  (the browser offers, rtcsec is the DTLS client)\n", base);
  printf("  or %s?dtls=server  (rtcsec offers, rtcsec is the DTLS server)\n", base);
  printf("rtcsec fingerprint: %s\n", app->local_fp_str);
  fflush(stdout);
  return 0;
}
