/* rtcsec-echo's /stats document and exit summary.
 *
 * The document is built with json-glib (JsonBuilder), so every string is
 * escaped by the library. Its field names and types are an interface: the
 * browser suite (tests/browser/check.py, wire.py, table.py) and
 * tests/test_echo_http.py read them. Counters are JSON integers, states
 * and names strings, "pair" an object or null.
 */
#include <json-glib/json-glib.h>
#include <string.h>

#include "app.h"
#include "util.h"

/* ---- JsonBuilder shorthands ------------------------------------------------ */

static void kv_u64(JsonBuilder *b, const char *key, uint64_t v) {
  json_builder_set_member_name(b, key);
  /* JSON integers in json-glib are gint64; no counter here gets near 2^63. */
  json_builder_add_int_value(b, v > (uint64_t)G_MAXINT64 ? G_MAXINT64 : (gint64)v);
}

static void kv_int(JsonBuilder *b, const char *key, int v) {
  json_builder_set_member_name(b, key);
  json_builder_add_int_value(b, v);
}

static void kv_str(JsonBuilder *b, const char *key, const char *v) {
  json_builder_set_member_name(b, key);
  json_builder_add_string_value(b, v ? v : "");
}

static void kv_bool(JsonBuilder *b, const char *key, int v) {
  json_builder_set_member_name(b, key);
  json_builder_add_boolean_value(b, v != 0);
}

static void begin(JsonBuilder *b, const char *key) {
  json_builder_set_member_name(b, key);
  json_builder_begin_object(b);
}

static uint64_t since_ms(gint64 start, gint64 t) {
  return t > start ? (uint64_t)(t - start) / 1000 : 0;
}

/* ---- one call ----------------------------------------------------------------- */

static void stats_direction(JsonBuilder *b, const char *name,
                            const rtcsec_srtp_direction_stats *d) {
  begin(b, name);
  kv_u64(b, "rtp_packets", d->rtp_packets);
  kv_u64(b, "rtp_bytes", d->rtp_bytes);
  kv_u64(b, "rtcp_packets", d->rtcp_packets);
  kv_u64(b, "rtcp_bytes", d->rtcp_bytes);
  kv_u64(b, "auth_failures", d->auth_failures);
  kv_u64(b, "replay_drops", d->replay_drops);
  kv_u64(b, "too_old_drops", d->too_old_drops);
  kv_u64(b, "malformed", d->malformed);
  kv_u64(b, "ssrc_limit_drops", d->ssrc_limit_drops);
  kv_u64(b, "other_errors", d->other_errors);
  kv_u64(b, "ssrcs", d->ssrcs);
  json_builder_end_object(b);
}

/* The ICE part of a --single-port call: what the router knows. */
static void stats_lite_ice(JsonBuilder *b, echo_session *s) {
  const echo_app *app = s->app;
  rtcsec_router_session_info info;
  memset(&info, 0, sizeof(info));
  int have =
      s->rid && rtcsec_router_get_session_info(echo_lite_router(app->lite), s->rid, &info) == 0;
  const char *state = s->lite_expired   ? "expired"
                      : !have           ? "new"
                      : info.nominated  ? "connected"
                      : info.checks > 0 ? "checking"
                                        : "new";
  kv_str(b, "ice_state", state);
  char peer[80] = "";
  json_builder_set_member_name(b, "pair");
  if (have && info.nominated) {
    char buf[200];
    tool_addr_text(&info.addr, info.addr_len, peer, sizeof(peer));
    int v6 = strchr(app->opt.single_port.host, ':') != NULL;
    json_builder_begin_object(b);
    snprintf(buf, sizeof(buf), "host %s%s%s:%u", v6 ? "[" : "", app->opt.single_port.host,
             v6 ? "]" : "", (unsigned)app->lite_port);
    kv_str(b, "local", buf);
    snprintf(buf, sizeof(buf), "peer %s", peer);
    kv_str(b, "remote", buf);
    kv_str(b, "protocol", "udp");
    json_builder_end_object(b);
  } else {
    json_builder_add_null_value(b);
  }
  begin(b, "ms");
  kv_u64(b, "ice_connected", since_ms(s->start_us, s->nominated_us));
  kv_u64(b, "dtls_connected", since_ms(s->start_us, s->connected_us));
  kv_u64(b, "first_media", since_ms(s->start_us, s->first_media_us));
  json_builder_end_object(b);
  begin(b, "candidates");
  kv_u64(b, "local", s->n_candidates);
  kv_u64(b, "remote", s->lite_remote_candidates);
  json_builder_end_object(b);
  kv_u64(b, "pair_changes", s->lite_moves);
  kv_u64(b, "consent_losses", (uint64_t)s->lite_expired);
  kv_u64(b, "dropped_unvalidated", 0); /* per router: single_port.router */
  kv_u64(b, "ice_send_errors", 0);
  begin(b, "router");
  kv_u64(b, "session", s->rid);
  kv_bool(b, "nominated", have && info.nominated);
  kv_str(b, "peer", peer);
  kv_str(b, "last_peer", s->lite_peer); /* the last nominated, kept after expiry */
  kv_str(b, "local_ufrag", s->local.ice.ufrag);
  kv_u64(b, "nominations", s->lite_nominations);
  kv_u64(b, "moves", s->lite_moves);
  kv_u64(b, "checks", info.checks);
  kv_u64(b, "media_in", info.media_in);
  uint64_t now = echo_lite_now();
  kv_u64(b, "consent_left_ms",
         have && info.consent_expires > now ? (info.consent_expires - now) / 1000 : 0);
  kv_bool(b, "has_transport", have && info.has_transport);
  kv_bool(b, "expired", s->lite_expired);
  json_builder_end_object(b);
}

/* The ICE part of a libnice call: what its agent says. */
static void stats_full_ice(JsonBuilder *b, const echo_session *s, const rtcsec_ice_stats *st,
                           int have_ice) {
  kv_str(b, "ice_state", rtcsec_ice_state_name(have_ice ? st->state : s->ice_state));
  json_builder_set_member_name(b, "pair");
  if (have_ice && st->has_pair) {
    char buf[200];
    json_builder_begin_object(b);
    snprintf(buf, sizeof(buf), "%s %s:%u", st->pair.local_type, st->pair.local_address,
             st->pair.local_port);
    kv_str(b, "local", buf);
    snprintf(buf, sizeof(buf), "%s %s:%u", st->pair.remote_type, st->pair.remote_address,
             st->pair.remote_port);
    kv_str(b, "remote", buf);
    kv_str(b, "protocol", st->pair.protocol);
    json_builder_end_object(b);
  } else {
    json_builder_add_null_value(b);
  }
  begin(b, "ms");
  kv_u64(b, "ice_connected", st->ice_connected_us / 1000);
  kv_u64(b, "dtls_connected", st->dtls_connected_us / 1000);
  kv_u64(b, "first_media", st->first_media_us / 1000);
  json_builder_end_object(b);
  begin(b, "candidates");
  kv_u64(b, "local", st->local_candidates);
  kv_u64(b, "remote", st->remote_candidates);
  json_builder_end_object(b);
  kv_u64(b, "pair_changes", st->pair_changes);
  kv_u64(b, "consent_losses", st->consent_losses);
  kv_u64(b, "dropped_unvalidated", st->dropped_unvalidated);
  kv_u64(b, "ice_send_errors", st->send_errors);
}

static void stats_transport(JsonBuilder *b, const echo_session *s, const rtcsec_transport_stats *t,
                            int have) {
  begin(b, "transport");
  kv_str(b, "dtls_state", have ? rtcsec_dtls_state_name(t->state) : "none");
  kv_str(b, "dtls_role", dtls_role_name(have ? t->role : s->dtls_role));
  kv_int(b, "error", have ? t->error : 0);
  kv_str(b, "error_text", have && t->error ? rtcsec_strerror(t->error) : "");
  kv_str(b, "dtls_version", have ? t->dtls_version : "");
  kv_str(b, "dtls_cipher", have ? t->dtls_cipher : "");
  kv_str(b, "dtls_group", have ? t->dtls_group : "");
  kv_str(b, "srtp_profile",
         have && t->profile != RTCSEC_SRTP_NONE ? rtcsec_srtp_profile_name(t->profile) : "");
  kv_str(b, "local_fingerprint", have ? t->local_fingerprint : s->app->local_fp_str);
  kv_str(b, "peer_fingerprint", have ? t->peer_fingerprint : "");
  kv_u64(b, "handshake_ms", t->handshake_us / 1000);
  begin(b, "dtls");
  kv_u64(b, "retransmissions", t->dtls.retransmissions);
  kv_u64(b, "datagrams_sent", t->dtls.datagrams_sent);
  kv_u64(b, "datagrams_received", t->dtls.datagrams_received);
  kv_u64(b, "datagrams_held", t->dtls.datagrams_held);
  json_builder_end_object(b);
  begin(b, "srtp");
  stats_direction(b, "inbound", &t->srtp.inbound);
  stats_direction(b, "outbound", &t->srtp.outbound);
  json_builder_end_object(b);
  begin(b, "in");
  kv_u64(b, "stun", t->in_stun);
  kv_u64(b, "dtls", t->in_dtls);
  kv_u64(b, "rtp", t->in_rtp);
  kv_u64(b, "rtcp", t->in_rtcp);
  json_builder_end_object(b);
  begin(b, "drops");
  kv_u64(b, "unknown", t->drop_unknown);
  kv_u64(b, "no_keys", t->drop_no_keys);
  kv_u64(b, "closed", t->drop_closed);
  json_builder_end_object(b);
  json_builder_end_object(b);
}

static void stats_echo(JsonBuilder *b, const echo_session *s) {
  uint64_t ap = 0, vp = 0;
  uint32_t a_local = 0, a_remote = 0, v_local = 0, v_remote = 0;
  for (size_t i = 0; i < s->rw.n_streams; i++) {
    const echo_stream *es = &s->rw.streams[i];
    if (es->kind == ECHO_KIND_AUDIO) {
      ap = es->packets;
      a_local = es->local_ssrc;
      a_remote = es->remote_ssrc;
    } else {
      vp = es->packets;
      v_local = es->local_ssrc;
      v_remote = es->remote_ssrc;
    }
  }
  begin(b, "echo");
  kv_u64(b, "audio_ssrc", a_local);
  kv_u64(b, "video_ssrc", v_local);
  kv_u64(b, "browser_audio_ssrc", a_remote);
  kv_u64(b, "browser_video_ssrc", v_remote);
  kv_u64(b, "audio_packets", ap);
  kv_u64(b, "video_packets", vp);
  kv_u64(b, "rtp_dropped_pt", s->rw.rtp_dropped_pt);
  kv_u64(b, "rtp_dropped_ssrc", s->rw.rtp_dropped_ssrc);
  kv_u64(b, "rtcp_forwarded", s->rw.rtcp_forwarded);
  kv_u64(b, "rtcp_parts_dropped", s->rw.rtcp_parts_dropped);
  kv_u64(b, "pli", s->rw.pli);
  kv_u64(b, "fir", s->rw.fir);
  kv_u64(b, "nack", s->rw.nack);
  kv_u64(b, "nack_resent", s->rw.nack_resent);
  kv_u64(b, "nack_resent_bytes", s->rw.nack_resent_bytes);
  kv_u64(b, "nack_duplicates", s->rw.nack_duplicates);
  kv_u64(b, "nack_refused_rtt", s->rw.nack_refused_rtt);
  kv_u64(b, "nack_refused_rate", s->rw.nack_refused_rate);
  kv_u64(b, "nack_rtt_window_us", echo_rewriter_rtt_window(&s->rw));
  kv_u64(b, "rtt_samples", s->rw.rtt_samples);
  kv_u64(b, "video_bytes_per_s", s->video_cache ? s->video_cache->rate_bytes_per_s : 0);
  kv_u64(b, "test_dropped", s->test_dropped);
  kv_u64(b, "send_errors", s->send_errors);
  kv_str(b, "last_send_error", s->send_errors ? rtcsec_strerror(s->last_send_error) : "");
  json_builder_end_object(b);
  json_builder_set_member_name(b, "codecs");
  json_builder_begin_array(b);
  for (size_t i = 0; i < s->plan.n_media; i++) {
    const echo_plan_media *m = &s->plan.m[i];
    for (size_t k = 0; m->accepted && k < m->n_codecs; k++) {
      char buf[96];
      snprintf(buf, sizeof(buf), "%s %s/%u pt %u->%u", echo_kind_name(m->kind),
               m->codecs[k].codec.name, (unsigned)m->codecs[k].codec.clock, m->codecs[k].local_pt,
               m->codecs[k].remote_pt);
      json_builder_add_string_value(b, buf);
    }
  }
  json_builder_end_array(b);
}

/* The call's data channels (echo/datachannel.c): always an object, with
 * state "none" when the call negotiated none. Counters are the
 * association's: in = from the browser, out = echoed back. */
static void stats_datachannel(JsonBuilder *b, const echo_session *s) {
  echo_dc_info di;
  dc_get_info(s, &di);
  const rtcsec_dc_stats *st = &di.st;
  begin(b, "datachannel");
  kv_str(b, "state", di.state);
  kv_u64(b, "channels", st->channels);
  kv_u64(b, "channels_opened", st->channels_opened);
  kv_u64(b, "channels_closed", st->channels_closed);
  kv_bool(b, "negotiated_open", di.negotiated_open);
  kv_u64(b, "messages_in", st->messages_received);
  kv_u64(b, "bytes_in", st->bytes_received);
  kv_u64(b, "messages_out", st->messages_sent);
  kv_u64(b, "bytes_out", st->bytes_sent);
  kv_u64(b, "buffered", st->buffered_amount);
  kv_u64(b, "errors", di.send_errors + di.dropped);
  kv_u64(b, "send_errors", di.send_errors);
  kv_u64(b, "dropped", di.dropped);
  kv_int(b, "error", di.error);
  kv_str(b, "error_text", di.error ? rtcsec_strerror(di.error) : "");
  kv_u64(b, "packets_in", st->packets_in);
  kv_u64(b, "packets_out", st->packets_out);
  kv_u64(b, "dcep_opens", st->dcep_opens_received);
  kv_bool(b, "interleaving", st->interleaving);
  kv_u64(b, "sctp_port", di.local_port);
  kv_u64(b, "remote_sctp_port", di.remote_port);
  kv_u64(b, "remote_max_message_size",
         di.remote_max_message_size == RTCSEC_DC_MESSAGE_SIZE_ANY ? 0 : di.remote_max_message_size);
  kv_u64(b, "reading_paused", di.paused);
  json_builder_end_object(b);
}

static void stats_session(JsonBuilder *b, echo_session *s) {
  rtcsec_ice_stats st;
  memset(&st, 0, sizeof(st));
  int have_ice = s->agent && rtcsec_ice_get_stats(s->agent, &st) == 0;
  int have = s->agent ? have_ice : lite_session_transport_stats(s, &st.transport);
  json_builder_begin_object(b);
  kv_u64(b, "id", s->id);
  kv_str(b, "mode", s->rtcsec_offers ? "server" : "client");
  kv_str(b, "dtls_role", dtls_role_name(s->dtls_role));
  kv_str(b, "ice_mode", s->agent ? "full" : "lite");
  if (s->agent == NULL)
    stats_lite_ice(b, s);
  else
    stats_full_ice(b, s, &st, have_ice);
  kv_str(b, "failure", s->failure);
  kv_str(b, "expected_fingerprint", s->expected_fingerprint);
  kv_bool(b, "test_wrong_fingerprint", s->app->opt.wrong_fingerprint);
  stats_transport(b, s, &st.transport, have);
  stats_echo(b, s);
  stats_datachannel(b, s);
  json_builder_end_object(b);
}

/* --single-port: the socket and the router's own counters (all calls). */
static void stats_single_port(JsonBuilder *b, echo_app *app) {
  json_builder_set_member_name(b, "single_port");
  if (app->lite == NULL) {
    json_builder_add_null_value(b);
    return;
  }
  rtcsec_router_stats rs;
  memset(&rs, 0, sizeof(rs));
  rtcsec_router_get_stats(echo_lite_router(app->lite), &rs);
  echo_lite_stats ls;
  echo_lite_get_stats(app->lite, &ls);
  json_builder_begin_object(b);
  kv_str(b, "address", app->opt.single_port.host);
  kv_u64(b, "port", app->lite_port);
  kv_str(b, "candidate", app->lite_candidate);
  begin(b, "socket");
  kv_u64(b, "turns", ls.turns);
  kv_u64(b, "rx_datagrams", ls.rx_datagrams);
  kv_u64(b, "tx_datagrams", ls.tx_datagrams);
  kv_u64(b, "tx_dropped", ls.tx_dropped);
  kv_u64(b, "rx_refused", ls.rx_refused);
  kv_u64(b, "socket_errors", ls.socket_errors);
  json_builder_end_object(b);
  begin(b, "router");
  kv_u64(b, "sessions", rs.sessions);
  kv_u64(b, "nominated", rs.nominated);
  kv_u64(b, "transports", rs.transports);
  kv_u64(b, "sessions_added", rs.sessions_added);
  kv_u64(b, "sessions_removed", rs.sessions_removed);
  kv_u64(b, "sessions_expired", rs.sessions_expired);
  kv_u64(b, "datagrams_in", rs.datagrams_in);
  kv_u64(b, "datagrams_out", rs.datagrams_out);
  kv_u64(b, "stun_requests", rs.stun_requests);
  kv_u64(b, "stun_responses", rs.stun_responses);
  kv_u64(b, "stun_errors_sent", rs.stun_errors_sent);
  kv_u64(b, "stun_malformed", rs.stun_malformed);
  kv_u64(b, "stun_bad_fingerprint", rs.stun_bad_fingerprint);
  kv_u64(b, "stun_unknown_user", rs.stun_unknown_user);
  kv_u64(b, "stun_bad_integrity", rs.stun_bad_integrity);
  kv_u64(b, "stun_bad_request", rs.stun_bad_request);
  kv_u64(b, "stun_unknown_attribute", rs.stun_unknown_attribute);
  kv_u64(b, "stun_role_conflicts", rs.stun_role_conflicts);
  kv_u64(b, "stun_ignored", rs.stun_ignored);
  kv_u64(b, "stun_replays", rs.stun_replays);
  kv_u64(b, "nominations", rs.nominations);
  kv_u64(b, "moves", rs.moves);
  kv_u64(b, "drop_unknown_source", rs.drop_unknown_source);
  kv_u64(b, "drop_queue_full", rs.drop_queue_full);
  kv_u64(b, "dtls_in", rs.dtls_in);
  kv_u64(b, "media_in", rs.media_in);
  kv_u64(b, "media_delivered", rs.media_delivered);
  kv_u64(b, "media_dropped", rs.media_dropped);
  kv_u64(b, "address_takeovers", rs.address_takeovers);
  json_builder_end_object(b);
  json_builder_end_object(b);
}

char *stats_json(echo_app *app, int has_only, uint64_t only, size_t *len) {
  JsonBuilder *b = json_builder_new();
  json_builder_begin_object(b);
  kv_str(b, "server", PROG " " RTCSEC_VERSION_STRING);
  kv_str(b, "local_fingerprint", app->local_fp_str);
  kv_u64(b, "reports", app->reports);
  stats_single_port(b, app);
  json_builder_set_member_name(b, "sessions");
  json_builder_begin_array(b);
  for (GList *l = app->sessions.tail; l; l = l->prev) { /* newest first */
    echo_session *s = l->data;
    if (!has_only || s->id == only)
      stats_session(b, s);
  }
  json_builder_end_array(b);
  json_builder_end_object(b);
  size_t n = 0;
  char *body = http_json_finish(b, &n);
  /* One document, one line. */
  char *out = g_strconcat(body, "\n", NULL);
  g_free(body);
  *len = n + 1;
  return out;
}

/* A name from the stats, "" when there is none yet. */
static const char *nonempty(const char *s) { return s != NULL ? s : ""; }

void stats_print_summary(echo_app *app) {
  for (GList *l = app->sessions.head; l; l = l->next) {
    echo_session *s = l->data;
    rtcsec_ice_stats st;
    memset(&st, 0, sizeof(st));
    const char *ice;
    if (s->agent != NULL) {
      if (rtcsec_ice_get_stats(s->agent, &st) != 0)
        continue;
      ice = rtcsec_ice_state_name(st.state);
    } else {
      if (!lite_session_transport_stats(s, &st.transport))
        continue;
      ice = s->lite_peer[0] ? "lite, nominated" : "lite";
    }
    const rtcsec_srtp_stats *sr = &st.transport.srtp;
    echo_log(
        "session %llu summary: DTLS %s as %s, ICE %s, %s%s%s%s%s%s%s; SRTP in %llu RTP %llu "
        "RTCP, out %llu RTP %llu RTCP%s%s",
        (unsigned long long)s->id, rtcsec_dtls_state_name(st.transport.state),
        dtls_role_name(s->dtls_role), ice,
        st.transport.profile ? rtcsec_srtp_profile_name(st.transport.profile) : "no SRTP",
        nonempty(st.transport.dtls_version) ? " " : "", nonempty(st.transport.dtls_version),
        nonempty(st.transport.dtls_cipher) ? " " : "", nonempty(st.transport.dtls_cipher),
        nonempty(st.transport.dtls_group) ? " " : "", nonempty(st.transport.dtls_group),
        (unsigned long long)sr->inbound.rtp_packets, (unsigned long long)sr->inbound.rtcp_packets,
        (unsigned long long)sr->outbound.rtp_packets, (unsigned long long)sr->outbound.rtcp_packets,
        s->failure[0] ? "; failure: " : "", s->failure);
    echo_dc_info di;
    if (dc_get_info(s, &di))
      echo_log("session %llu data channels: %s, %llu opened, %llu messages (%llu bytes) in, "
               "%llu (%llu bytes) echoed, %llu errors",
               (unsigned long long)s->id, di.state, (unsigned long long)di.st.channels_opened,
               (unsigned long long)di.st.messages_received,
               (unsigned long long)di.st.bytes_received, (unsigned long long)di.st.messages_sent,
               (unsigned long long)di.st.bytes_sent,
               (unsigned long long)(di.send_errors + di.dropped));
  }
}
