/* rtcsec-call: the report, one `key: value` line each, and the result line
 * scripts look for (the top of rtcsec-call.c lists them). See app.h for the
 * other files.
 */
#include <stdio.h>

#include "app.h"

static double ms_of(uint64_t us) { return us / 1000.0; }

int call_report(call *c, rtcsec_ice_agent *agent, const options *o, const media_sent *ms,
                rtcsec_sdp_setup local_setup, gint64 start) {
  rtcsec_ice_stats st;
  rtcsec_ice_get_stats(agent, &st);
  g_mutex_lock(&c->m);
  char why[200];
  const char *failure = call_verdict(c, ms, why, sizeof(why));
  /* The data part's reason comes first unless the association itself
   * broke: waiting for it is what can make the count exchange late. */
  char dwhy[200];
  if (o->data > 0 && data_verdict(c, dwhy, sizeof(dwhy)) != NULL &&
      !(c->end.dtls_failed || c->end.dtls_closed || c->end.consent_lost)) {
    snprintf(why, sizeof(why), "%s", dwhy);
    failure = why;
  }
  rtcsec_dtls_state end_state = c->end.st.transport.state;
  uint64_t received = c->rtp_received, verified = c->rtp_verified, bad = c->rtp_bad;
  int got_done = c->got_done, got_receipt = c->got_receipt;
  uint64_t peer_sent = c->peer_sent, peer_verified = c->peer_verified;
  uint64_t data_send_errors = c->data_send_errors, data_unknown = c->data_unknown;
  g_mutex_unlock(&c->m);
  const rtcsec_srtp_direction_stats *in = &st.transport.srtp.inbound;
  fprintf(report, "role: %s (ICE %s, DTLS %s, a=setup:%s)\n", o->offer ? "offer" : "answer",
          o->offer ? "controlling" : "controlled",
          st.transport.role == RTCSEC_DTLS_CLIENT ? "client" : "server",
          rtcsec_sdp_setup_name(local_setup));
  /* From the program's start (the answerer creates its agent only once the
   * offer is in); 0 for what never happened. */
  uint64_t created = st.start_us > (uint64_t)start ? st.start_us - (uint64_t)start : 0;
  fprintf(report, "agent_created_ms: %.1f\n", ms_of(created));
  fprintf(report, "ice_connected_ms: %.1f\n",
          ms_of(st.ice_connected_us ? created + st.ice_connected_us : 0));
  fprintf(report, "dtls_connected_ms: %.1f\n",
          ms_of(st.dtls_connected_us ? created + st.dtls_connected_us : 0));
  fprintf(report, "first_media_ms: %.1f\n",
          ms_of(st.first_media_us ? created + st.first_media_us : 0));
  fprintf(report, "selected_pair: %s %s:%u -> %s %s:%u %s\n", st.pair.local_type,
          st.pair.local_address, st.pair.local_port, st.pair.remote_type, st.pair.remote_address,
          st.pair.remote_port, st.pair.protocol);
  fprintf(report, "dtls: %s %s\n", st.transport.dtls_version, st.transport.dtls_cipher);
  fprintf(report, "profile: %s\n", rtcsec_srtp_profile_name(st.transport.profile));
  fprintf(report, "rtp_sent: %llu\n", (unsigned long long)ms->sent);
  fprintf(report, "rtp_received: %llu\n", (unsigned long long)received);
  fprintf(report, "rtp_verified: %llu\n", (unsigned long long)verified);
  if (got_done)
    fprintf(report, "peer_sent: %llu\n", (unsigned long long)peer_sent);
  else
    fprintf(report, "peer_sent: unknown\n");
  if (got_receipt)
    fprintf(report, "peer_verified: %llu\n", (unsigned long long)peer_verified);
  else
    fprintf(report, "peer_verified: unknown\n");
  fprintf(report, "auth_failures: %llu\n", (unsigned long long)in->auth_failures);
  fprintf(report, "replay_drops: %llu\n", (unsigned long long)in->replay_drops);
  fprintf(report, "dropped_before_keys: %llu\n", (unsigned long long)st.transport.drop_no_keys);
  fprintf(report, "bad_media: %llu\n", (unsigned long long)bad);
  fprintf(report, "send_errors: %llu%s%s\n", (unsigned long long)ms->send_errors,
          ms->send_errors ? " last: " : "", ms->send_errors ? rtcsec_strerror(ms->last_error) : "");
  fprintf(report, "control_send_errors: %llu\n", (unsigned long long)data_send_errors);
  fprintf(report, "control_unknown: %llu\n", (unsigned long long)data_unknown);
  /* When the counts were agreed (or the exchange gave up). */
  fprintf(report, "dtls_state: %s\n", rtcsec_dtls_state_name(end_state));
  if (o->data > 0) {
    g_mutex_lock(&c->m);
    data_report(c);
    g_mutex_unlock(&c->m);
  }
  int ok = failure == NULL;
  if (ok)
    fprintf(report, "result: ok\n");
  else
    fprintf(report, "result: failed (%s)\n", failure);
  fflush(report);
  return ok;
}
