/* A data-channel association: one SCTP association (usrsctp, AF_CONN) over
 * DTLS (RFC 8261), its channels (RFC 8831), DCEP (RFC 8832). See
 * rtcsec/datachannel.h for the API and the process-wide rules. This file:
 * the association (setup, state, time, end, stats); dc_channel.c: channels
 * (open, close by stream reset); dc_send.c: packets out and message
 * queues; dc_recv.c: reading, DCEP, events; env.c: usrsctp's process-wide
 * state; dcep.c: the DCEP codec.
 *
 * State of the association (one function moves it: set_state):
 *   NEW --start--> CONNECTING --COMM_UP--> CONNECTED --close--> CLOSING
 *   CONNECTING/CONNECTED/CLOSING --SHUTDOWN_COMP, transport gone--> CLOSED
 *   CONNECTING/CONNECTED/CLOSING --COMM_LOST, CANT_STR_ASSOC--> FAILED
 * Each channel: OPENING --association up / OPEN sent / OPEN received-->
 * OPEN --close, reset from the peer--> CLOSING --both directions
 * reset--> CLOSED --CHANNEL_CLOSED polled--> freed.
 *
 * Receiving is lazy: rtcsec_dc_poll_event() reads one message or
 * notification from usrsctp per event, into the association's receive
 * buffer, so a received message is never queued by us and an application
 * that stops polling closes SCTP's receive window. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <usrsctp.h>

#include "dc_internal.h"

#define FRAG_INTERLEAVE_LEVEL_0 0 /* RFC 6458 §8.1.20 */
#define FRAG_INTERLEAVE_LEVEL_2 2

#define MAX_PACKET 65535u
/* Receive buffer floor: the largest notification (a stream reset event
 * listing every stream) must fit one read. */
#define NOTIFICATION_ROOM(streams) (sizeof(struct sctp_stream_reset_event) + 2u * (streams) + 64u)

/* ---- config ------------------------------------------------------------------------------ */

void rtcsec_dc_config_default(rtcsec_dc_config *cfg) {
  if (cfg == NULL)
    return;
  memset(cfg, 0, sizeof(*cfg));
  cfg->dtls_role = RTCSEC_DTLS_CLIENT;
  cfg->local_port = RTCSEC_DC_DEFAULT_PORT;
  cfg->remote_port = RTCSEC_DC_DEFAULT_PORT;
  cfg->max_message_size = RTCSEC_DC_DEFAULT_MAX_MESSAGE_SIZE;
  cfg->remote_max_message_size = 0;
  cfg->max_packet_size = RTCSEC_DC_DEFAULT_PACKET_SIZE;
  cfg->max_streams = 1024;
  cfg->max_channels = 512;
  cfg->max_buffered = 16u * 1024u * 1024u;
  cfg->sctp_send_buffer = 1024u * 1024u;
  cfg->sctp_receive_buffer = 1024u * 1024u;
  cfg->receive_buffer = 16u * 1024u;
  cfg->max_queued_packets = 1024;
  cfg->interleaving = 1;
  cfg->rto_initial_ms = 1000;
  cfg->rto_min_ms = 200;
  cfg->rto_max_ms = 10000;
  cfg->max_retransmissions = 10;
  cfg->sack_delay_ms = 20;
  cfg->heartbeat_ms = 10000;
  cfg->tick_ms = 10;
  cfg->idle_tick_ms = 1000;
}

static int config_valid(const rtcsec_dc_config *c) {
  if (c->dtls_role != RTCSEC_DTLS_CLIENT && c->dtls_role != RTCSEC_DTLS_SERVER)
    return 0;
  if (c->local_port == 0 || c->remote_port == 0)
    return 0;
  if (c->max_message_size == 0 || c->max_message_size > (size_t)1 << 30)
    return 0;
  if (c->max_packet_size < 512 || c->max_packet_size > MAX_PACKET)
    return 0;
  if (c->max_streams < 16 || c->max_streams > RTCSEC_DC_MAX_STREAMS)
    return 0;
  if (c->max_channels == 0 || c->max_buffered == 0 || c->max_queued_packets == 0)
    return 0;
  if (c->sctp_send_buffer < 4096 || c->sctp_send_buffer > INT32_MAX ||
      c->sctp_receive_buffer < 4096 || c->sctp_receive_buffer > INT32_MAX)
    return 0;
  if (c->receive_buffer < 1024 || c->receive_buffer > (size_t)1 << 30)
    return 0;
  if (c->rto_min_ms == 0 || c->rto_min_ms > c->rto_initial_ms || c->rto_initial_ms > c->rto_max_ms)
    return 0;
  if (c->max_retransmissions == 0 || c->max_retransmissions > 0xFFFF)
    return 0;
  if (c->tick_ms == 0 || c->idle_tick_ms < c->tick_ms || c->heartbeat_ms == 0)
    return 0;
  return 1;
}

/* ---- association setup ------------------------------------------------------------------- */

static int set_opt(rtcsec_dc *dc, int level, int name, const void *v, socklen_t len) {
  return usrsctp_setsockopt(dc->sock, level, name, v, len) == 0 ? RTCSEC_OK : RTCSEC_ERR_DC_SCTP;
}

static int socket_setup(rtcsec_dc *dc) {
  const rtcsec_dc_config *c = &dc->cfg;
  if (usrsctp_set_non_blocking(dc->sock, 1) != 0)
    return RTCSEC_ERR_DC_SCTP;
  /* Nothing may be sent once we let go (the DTLS under it may be gone):
   * closing aborts at once. */
  struct linger lg = {1, 0};
  int rc = set_opt(dc, SOL_SOCKET, SO_LINGER, &lg, (socklen_t)sizeof(lg));
  int on = 1;
  struct sctp_assoc_value av = {SCTP_FUTURE_ASSOC, SCTP_ENABLE_RESET_STREAM_REQ};
  /* RFC 8831 §6.7: channels close by stream reset (RFC 6525). */
  rc = rc ? rc : set_opt(dc, IPPROTO_SCTP, SCTP_ENABLE_STREAM_RESET, &av, (socklen_t)sizeof(av));
  rc = rc ? rc : set_opt(dc, IPPROTO_SCTP, SCTP_RECVRCVINFO, &on, (socklen_t)sizeof(on));
  /* Messages of any size go in pieces as SCTP has room; the last piece
   * carries SCTP_EOR. */
  rc = rc ? rc : set_opt(dc, IPPROTO_SCTP, SCTP_EXPLICIT_EOR, &on, (socklen_t)sizeof(on));
  /* RFC 8831 §6.6: the sender SHOULD disable the Nagle algorithm. */
  rc = rc ? rc : set_opt(dc, IPPROTO_SCTP, SCTP_NODELAY, &on, (socklen_t)sizeof(on));
  static const uint16_t events[] = {SCTP_ASSOC_CHANGE, SCTP_STREAM_RESET_EVENT,
                                    SCTP_PARTIAL_DELIVERY_EVENT, SCTP_SHUTDOWN_EVENT};
  for (size_t i = 0; rc == RTCSEC_OK && i < sizeof(events) / sizeof(events[0]); i++) {
    struct sctp_event ev = {SCTP_FUTURE_ASSOC, events[i], 1};
    rc = set_opt(dc, IPPROTO_SCTP, SCTP_EVENT, &ev, (socklen_t)sizeof(ev));
  }
  /* RFC 8261 §5: path MTU discovery off, a fixed size that fits one DTLS
   * record in one datagram. usrsctp's figure excludes the common header. */
  struct sctp_paddrparams spp;
  memset(&spp, 0, sizeof(spp));
  spp.spp_assoc_id = SCTP_FUTURE_ASSOC;
  spp.spp_flags = SPP_PMTUD_DISABLE | SPP_HB_ENABLE;
  spp.spp_pathmtu = (uint32_t)(c->max_packet_size - SCTP_COMMON_HEADER);
  spp.spp_hbinterval = c->heartbeat_ms;
  rc = rc ? rc : set_opt(dc, IPPROTO_SCTP, SCTP_PEER_ADDR_PARAMS, &spp, (socklen_t)sizeof(spp));
  struct sctp_initmsg init;
  memset(&init, 0, sizeof(init));
  init.sinit_num_ostreams = (uint16_t)c->max_streams;
  init.sinit_max_instreams = (uint16_t)c->max_streams;
  init.sinit_max_attempts = (uint16_t)c->max_retransmissions;
  init.sinit_max_init_timeo = (uint16_t)(c->rto_max_ms > 0xFFFF ? 0xFFFF : c->rto_max_ms);
  rc = rc ? rc : set_opt(dc, IPPROTO_SCTP, SCTP_INITMSG, &init, (socklen_t)sizeof(init));
  struct sctp_rtoinfo rto = {SCTP_FUTURE_ASSOC, c->rto_initial_ms, c->rto_max_ms, c->rto_min_ms};
  rc = rc ? rc : set_opt(dc, IPPROTO_SCTP, SCTP_RTOINFO, &rto, (socklen_t)sizeof(rto));
  struct sctp_assocparams ap;
  memset(&ap, 0, sizeof(ap));
  ap.sasoc_assoc_id = SCTP_FUTURE_ASSOC;
  ap.sasoc_asocmaxrxt = (uint16_t)c->max_retransmissions;
  rc = rc ? rc : set_opt(dc, IPPROTO_SCTP, SCTP_ASSOCINFO, &ap, (socklen_t)sizeof(ap));
  struct sctp_sack_info sack = {SCTP_FUTURE_ASSOC, c->sack_delay_ms, 2};
  rc = rc ? rc : set_opt(dc, IPPROTO_SCTP, SCTP_DELAYED_SACK, &sack, (socklen_t)sizeof(sack));
  int sndbuf = (int)c->sctp_send_buffer, rcvbuf = (int)c->sctp_receive_buffer;
  rc = rc ? rc : set_opt(dc, SOL_SOCKET, SO_SNDBUF, &sndbuf, (socklen_t)sizeof(sndbuf));
  rc = rc ? rc : set_opt(dc, SOL_SOCKET, SO_RCVBUF, &rcvbuf, (socklen_t)sizeof(rcvbuf));
  /* Over DTLS: no ECN (no IP header to mark), no ASCONF (one address),
   * no AUTH (DTLS authenticates); PR-SCTP (RFC 3758) and RE-CONFIG
   * (RFC 6525) are required by RFC 8831 §6.2. */
  static const struct {
    int opt, value;
  } features[] = {{SCTP_ECN_SUPPORTED, 0},
                  {SCTP_ASCONF_SUPPORTED, 0},
                  {SCTP_AUTH_SUPPORTED, 0},
                  {SCTP_PR_SUPPORTED, 1},
                  {SCTP_RECONFIG_SUPPORTED, 1}};
  for (size_t i = 0; rc == RTCSEC_OK && i < sizeof(features) / sizeof(features[0]); i++) {
    struct sctp_assoc_value fv = {SCTP_FUTURE_ASSOC, (uint32_t)features[i].value};
    rc = set_opt(dc, IPPROTO_SCTP, features[i].opt, &fv, (socklen_t)sizeof(fv));
  }
  /* RFC 8260: I-DATA needs fragment interleave level 2 on the receiving
   * side (pieces of messages of different streams may alternate). */
  uint32_t level = c->interleaving ? FRAG_INTERLEAVE_LEVEL_2 : FRAG_INTERLEAVE_LEVEL_0;
  rc = rc ? rc
          : set_opt(dc, IPPROTO_SCTP, SCTP_FRAGMENT_INTERLEAVE, &level, (socklen_t)sizeof(level));
  if (rc == RTCSEC_OK && c->interleaving) {
    struct sctp_assoc_value iv = {SCTP_FUTURE_ASSOC, 1};
    rc = set_opt(dc, IPPROTO_SCTP, SCTP_INTERLEAVING_SUPPORTED, &iv, (socklen_t)sizeof(iv));
  }
  return rc;
}

static void conn_addr(const rtcsec_dc *dc, uint16_t port, struct sockaddr_conn *sc) {
  memset(sc, 0, sizeof(*sc));
  sc->sconn_family = AF_CONN;
  sc->sconn_port = htons(port);
  sc->sconn_addr = (void *)dc->handle;
}

void dc_on_upcall(rtcsec_dc *dc) { dc_env_wake(dc); }

static void upcall(struct socket *so, void *arg, int flags) {
  (void)so;
  (void)flags;
  dc_on_upcall(arg);
}

void rtcsec_dc_free(rtcsec_dc *dc) {
  if (dc == NULL)
    return;
  dc_env_enter(dc);
  dc->transport_gone = 1; /* the ABORT of the close goes nowhere */
  if (dc->sock != NULL) {
    usrsctp_set_upcall(dc->sock, NULL, NULL);
    usrsctp_close(dc->sock);
  }
  if (dc->handle != 0) {
    usrsctp_deregister_address((void *)dc->handle);
    dc_env_unregister(dc->handle);
  }
  if (dc->chan != NULL) {
    for (uint32_t i = 0; i < dc->cfg.max_streams; i++) {
      if (dc->chan[i] != NULL) {
        dc_drop_queue(dc, dc->chan[i]);
        dc_channel_free(dc->chan[i]);
      }
    }
  }
  dc_env_leave();
  for (size_t i = 0; i < dc->q_cap; i++)
    free(dc->q_slot[i]);
  free(dc->q_slot);
  free(dc->q_len);
  for (size_t i = 0; i < dc->n_asms; i++)
    free(dc->asms[i].buf);
  free(dc->asms);
  free(dc->release);
  free(dc->rbuf);
  free(dc->rejected);
  free(dc->chan);
  free(dc);
}

int rtcsec_dc_new(rtcsec_dc **out, const rtcsec_dc_config *cfg) {
  if (out == NULL || cfg == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  *out = NULL;
  if (!config_valid(cfg))
    return RTCSEC_ERR_INVALID_ARGUMENT;
  int rc = dc_env_init();
  if (rc != RTCSEC_OK)
    return rc;
  rtcsec_dc *dc = calloc(1, sizeof(*dc));
  if (dc == NULL)
    return RTCSEC_ERR_NO_MEMORY;
  dc->cfg = *cfg;
  dc->locked_sid = -1;
  dc->state = RTCSEC_DC_STATE_NEW;
  dc->rbuf_cap = cfg->receive_buffer;
  if (dc->rbuf_cap < NOTIFICATION_ROOM(cfg->max_streams))
    dc->rbuf_cap = NOTIFICATION_ROOM(cfg->max_streams);
  dc->rbuf = malloc(dc->rbuf_cap);
  dc->chan = calloc(cfg->max_streams, sizeof(*dc->chan));
  dc->rejected = calloc((cfg->max_streams + 7) / 8, 1);
  if (dc->rbuf == NULL || dc->chan == NULL || dc->rejected == NULL) {
    rtcsec_dc_free(dc);
    return RTCSEC_ERR_NO_MEMORY;
  }
  dc_env_enter(dc);
  dc->handle = dc_env_register(dc);
  if (dc->handle == 0) {
    dc_env_leave();
    rtcsec_dc_free(dc);
    return RTCSEC_ERR_NO_MEMORY;
  }
  rc = RTCSEC_ERR_DC_SCTP;
  usrsctp_register_address((void *)dc->handle);
  dc->sock = usrsctp_socket(AF_CONN, SOCK_STREAM, IPPROTO_SCTP, NULL, NULL, 0, NULL);
  if (dc->sock != NULL) {
    usrsctp_set_upcall(dc->sock, upcall, dc);
    rc = socket_setup(dc);
  }
  if (rc == RTCSEC_OK) {
    struct sockaddr_conn local;
    conn_addr(dc, cfg->local_port, &local);
    if (usrsctp_bind(dc->sock, (struct sockaddr *)&local, (socklen_t)sizeof(local)) != 0)
      rc = RTCSEC_ERR_DC_SCTP;
  }
  dc_env_leave();
  if (rc != RTCSEC_OK) {
    rtcsec_dc_free(dc);
    return rc;
  }
  *out = dc;
  return RTCSEC_OK;
}

/* ---- state and time ---------------------------------------------------------------------- */

void dc_set_state(rtcsec_dc *dc, rtcsec_dc_state s, int error) {
  if (dc_is_ended(dc))
    return; /* sticky */
  dc->state = s;
  if (s == RTCSEC_DC_STATE_FAILED || s == RTCSEC_DC_STATE_CLOSED) {
    dc->error = s == RTCSEC_DC_STATE_FAILED ? error : 0;
    dc_close_all_channels(dc);
    dc->ev_final = 1;
    dc_env_wake(dc);
  }
}

/* What the association has that a timer will act on: then the deadline is
 * the next tick, else the idle tick (see "Time" in datachannel.h). */
static void update_busy(rtcsec_dc *dc, uint64_t now) {
  dc->busy = 0;
  switch (dc->state) {
  case RTCSEC_DC_STATE_CONNECTING:
  case RTCSEC_DC_STATE_CLOSING:
    dc->busy = 1;
    return;
  case RTCSEC_DC_STATE_CONNECTED:
    break;
  default:
    return;
  }
  if (dc->send_head != NULL || dc->n_closing > 0 || now < dc->sack_until) {
    dc->busy = 1;
    return;
  }
  struct sctp_status status;
  socklen_t len = (socklen_t)sizeof(status);
  memset(&status, 0, sizeof(status));
  if (usrsctp_getsockopt(dc->sock, IPPROTO_SCTP, SCTP_STATUS, &status, &len) != 0) {
    dc->busy = 1;
    return;
  }
  /* Unacknowledged data (T3-rtx, window probes), and received data held
   * for a gap (a SACK with gap reports is owed). */
  dc->busy = status.sstat_unackdata > 0 || status.sstat_penddata > 0;
}

/* Every call that carries `now`: the shared clock first (timers due
 * before this input run before it). */
void dc_enter_at(rtcsec_dc *dc, uint64_t now) {
  dc_env_enter(dc);
  if (now > dc->last_now)
    dc->last_now = now;
  dc_env_advance(now);
}

void dc_leave_at(rtcsec_dc *dc, uint64_t now) {
  dc_flush(dc);
  update_busy(dc, now);
  dc_env_leave();
}

int rtcsec_dc_start(rtcsec_dc *dc, const rtcsec_connected_info *dtls, uint64_t now) {
  if (dc == NULL || dtls == NULL || dtls->role != dc->cfg.dtls_role)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  dc_enter_at(dc, now);
  int rc = RTCSEC_OK;
  if (dc->started || dc->state != RTCSEC_DC_STATE_NEW) {
    rc = RTCSEC_ERR_INVALID_STATE;
  } else {
    dc->dtls = *dtls; /* its strings are static (rtcsec/event.h) */
    dc->dtls.version = dtls->version ? dtls->version : "";
    dc->dtls.cipher = dtls->cipher ? dtls->cipher : "";
    dc->dtls.group = dtls->group ? dtls->group : "";
    dc->started = 1;
    dc->state = RTCSEC_DC_STATE_CONNECTING;
    struct sockaddr_conn remote;
    conn_addr(dc, dc->cfg.remote_port, &remote);
    /* RFC 8841 §9.3: both ends connect (SCTP's simultaneous open). */
    if (usrsctp_connect(dc->sock, (struct sockaddr *)&remote, (socklen_t)sizeof(remote)) != 0 &&
        errno != EINPROGRESS) {
      dc_set_state(dc, RTCSEC_DC_STATE_FAILED, RTCSEC_ERR_DC_SCTP);
      rc = RTCSEC_ERR_DC_SCTP;
    }
  }
  dc_leave_at(dc, now);
  return rc;
}

int rtcsec_dc_handle_datagram(rtcsec_dc *dc, const uint8_t *p, size_t len, uint64_t now) {
  if (dc == NULL || p == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  dc_enter_at(dc, now);
  int rc = RTCSEC_OK;
  if (!dc->started || dc_is_ended(dc)) {
    rc = RTCSEC_ERR_INVALID_STATE;
  } else if (len < SCTP_COMMON_HEADER || len > MAX_PACKET) {
    dc->st.drop_malformed++;
    rc = RTCSEC_ERR_DC_PACKET_DROPPED;
  } else {
    dc->st.packets_in++;
    dc->st.bytes_in += len;
    /* usrsctp counts what it drops only process-wide; under the lock the
     * difference around this one packet is this packet's fate. */
    struct sctpstat before, after;
    usrsctp_get_stat(&before);
    usrsctp_conninput((void *)dc->handle, p, len, 0);
    usrsctp_get_stat(&after);
    if (after.sctps_badsum != before.sctps_badsum) {
      dc->st.drop_checksum++;
      rc = RTCSEC_ERR_DC_PACKET_DROPPED;
    } else if (after.sctps_badvtag != before.sctps_badvtag) {
      dc->st.drop_vtag++;
      rc = RTCSEC_ERR_DC_PACKET_DROPPED;
    } else if (after.sctps_hdrops != before.sctps_hdrops ||
               after.sctps_noport != before.sctps_noport ||
               after.sctps_outoftheblue != before.sctps_outoftheblue) {
      dc->st.drop_other++;
      rc = RTCSEC_ERR_DC_PACKET_DROPPED;
    } else {
      /* A delayed SACK may now be owed (RFC 4960 §6.2). */
      dc->sack_until = now + (uint64_t)(dc->cfg.sack_delay_ms + dc->cfg.tick_ms) * 1000u;
    }
  }
  dc_leave_at(dc, now);
  return rc;
}

int rtcsec_dc_handle_timeout(rtcsec_dc *dc, uint64_t now) {
  if (dc == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  dc_enter_at(dc, now);
  dc->st.wakeups++;
  dc_leave_at(dc, now);
  return RTCSEC_OK;
}

uint64_t rtcsec_dc_deadline(const rtcsec_dc *dc) {
  if (dc == NULL)
    return UINT64_MAX;
  rtcsec_dc *m = (rtcsec_dc *)dc; /* the lock, not the object, changes */
  dc_env_enter(NULL);
  uint64_t dl;
  if (m->q_count > 0 || dc_has_events(m) ||
      (m->started && !dc_is_ended(m) && (usrsctp_get_events(m->sock) & SCTP_EVENT_READ))) {
    dl = m->last_now; /* something is waiting to be polled */
  } else if (!m->started || dc_is_ended(m)) {
    dl = UINT64_MAX;
  } else if (m->busy) {
    dl = dc_env_clock() + (uint64_t)m->cfg.tick_ms * 1000u;
  } else {
    uint64_t base = dc_env_clock() > m->last_now ? dc_env_clock() : m->last_now;
    dl = base + (uint64_t)m->cfg.idle_tick_ms * 1000u;
  }
  dc_env_leave();
  return dl;
}

/* ---- ending the association -------------------------------------------------------------- */

/* Nothing can carry packets any more: usrsctp's association is aborted
 * at once (its ABORT goes nowhere), so that its timers stop instead of
 * retransmitting into the void until the retransmission limit. */
static void abort_locally(rtcsec_dc *dc) {
  dc->transport_gone = 1;
  if (dc->started && !dc_is_ended(dc)) {
    static const uint8_t none = 0; /* usrsctp wants a pointer even for 0 bytes */
    struct sctp_sndinfo snd;
    memset(&snd, 0, sizeof(snd));
    snd.snd_flags = SCTP_ABORT;
    (void)usrsctp_sendv(dc->sock, &none, 0, NULL, 0, &snd, (socklen_t)sizeof(snd),
                        SCTP_SENDV_SNDINFO, 0);
  }
  dc_out_clear(dc);
}

/* rtcsec_dc_close(): every channel closes; once their queues are out,
 * SCTP SHUTDOWN (RFC 4960 §9.2: it waits for outstanding data itself). */
void dc_maybe_shutdown(rtcsec_dc *dc) {
  if (!dc->close_requested || dc->shutdown_sent || dc->send_head != NULL ||
      dc->state != RTCSEC_DC_STATE_CONNECTED)
    return;
  dc->shutdown_sent = 1;
  dc_set_state(dc, RTCSEC_DC_STATE_CLOSING, 0);
  if (usrsctp_shutdown(dc->sock, SHUT_WR) != 0)
    dc_set_state(dc, RTCSEC_DC_STATE_CLOSED, 0);
}

int rtcsec_dc_close(rtcsec_dc *dc, uint64_t now) {
  if (dc == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  dc_enter_at(dc, now);
  if (!dc_is_ended(dc) && !dc->close_requested) {
    dc->close_requested = 1;
    if (dc->state == RTCSEC_DC_STATE_CONNECTED) {
      dc_flush(dc);
      dc_maybe_shutdown(dc);
    } else if (dc->state != RTCSEC_DC_STATE_CLOSING) {
      /* Not up (yet): nothing to shut down cleanly; an INIT still being
       * retried is dropped. */
      abort_locally(dc);
      dc_set_state(dc, RTCSEC_DC_STATE_CLOSED, 0);
    }
  }
  dc_leave_at(dc, now);
  return RTCSEC_OK;
}

int rtcsec_dc_transport_closed(rtcsec_dc *dc, uint64_t now) {
  if (dc == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  dc_enter_at(dc, now);
  abort_locally(dc);
  dc_set_state(dc, RTCSEC_DC_STATE_CLOSED, 0);
  dc_leave_at(dc, now);
  return RTCSEC_OK;
}

/* ---- stats ------------------------------------------------------------------------------- */

const char *rtcsec_dc_state_name(rtcsec_dc_state s) {
  switch (s) {
  case RTCSEC_DC_STATE_NEW:
    return "new";
  case RTCSEC_DC_STATE_CONNECTING:
    return "connecting";
  case RTCSEC_DC_STATE_CONNECTED:
    return "connected";
  case RTCSEC_DC_STATE_CLOSING:
    return "closing";
  case RTCSEC_DC_STATE_CLOSED:
    return "closed";
  case RTCSEC_DC_STATE_FAILED:
    return "failed";
  default:
    return "unknown";
  }
}

int rtcsec_dc_get_stats(const rtcsec_dc *dc, rtcsec_dc_stats *out) {
  if (dc == NULL || out == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  dc_env_enter(NULL);
  *out = dc->st;
  out->state = dc->state;
  out->error = dc->state == RTCSEC_DC_STATE_FAILED ? dc->error : 0;
  out->interleaving = dc->interleaving;
  out->streams_out = dc->streams_out;
  out->streams_in = dc->streams_in;
  out->channels = dc->n_channels;
  out->buffered_amount = dc->buffered_total;
  dc_env_leave();
  return RTCSEC_OK;
}

int rtcsec_dc_get_channel_stats(const rtcsec_dc *dc, uint16_t id, rtcsec_dc_channel_stats *out) {
  if (dc == NULL || out == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  dc_env_enter(NULL);
  int rc = RTCSEC_OK;
  const dc_channel *ch = id < dc->cfg.max_streams ? dc->chan[id] : NULL;
  if (ch == NULL) {
    rc = RTCSEC_ERR_DC_CHANNEL_CLOSED;
  } else {
    memset(out, 0, sizeof(*out));
    out->id = ch->id;
    out->state = ch->state;
    out->acked = ch->acked;
    out->messages_sent = ch->messages_sent;
    out->bytes_sent = ch->bytes_sent;
    out->messages_received = ch->messages_received;
    out->bytes_received = ch->bytes_received;
    out->drop_too_large = ch->drop_too_large;
    out->drop_unknown_ppid = ch->drop_unknown_ppid;
    out->buffered_amount = ch->buffered;
  }
  dc_env_leave();
  return rc;
}
