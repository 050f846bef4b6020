/* Data channels (datachannel/): two associations over the seeded in-memory
 * link with the fake clock (tests/support/dc_pair.c), SCTP straight on the
 * link or carried by two connected rtcsec_transports (DTLS). Every failure
 * message names the seed of its link. */
#include <arpa/inet.h>
#include <check.h>
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <usrsctp.h>

#include "dc_internal.h"
#include "dc_pair.h"
#include "dcep.h"
#include "fakeclock.h"
#include "rtcsec/datachannel.h"

#define SEC 1000000u
#define MS 1000u

/* ---- receive checks -------------------------------------------------------------- */

/* What the receiver saw on each channel: order, duplicates, damage. */
typedef struct rx {
  uint32_t next[2][DPAIR_MAX_IDS]; /* ordered: the next sequence expected */
  uint8_t *seen[2][DPAIR_MAX_IDS]; /* bitmap of sequences seen */
  size_t seen_bits;
  uint64_t got[2][DPAIR_MAX_IDS];
  uint64_t out_of_order[2], dup[2], corrupt[2], wrong_type[2];
  int ordered[DPAIR_MAX_IDS];
  int binary[DPAIR_MAX_IDS]; /* expected type */
  /* order of arrival between two channels (interleaving test) */
  int watch_a, watch_b;
  uint64_t b_before_a_done;
} rx;

static rx *rx_new(size_t max_seq) {
  rx *r = calloc(1, sizeof(*r));
  ck_assert_ptr_nonnull(r);
  r->seen_bits = max_seq;
  r->watch_a = r->watch_b = -1;
  for (int i = 0; i < DPAIR_MAX_IDS; i++)
    r->ordered[i] = 1;
  return r;
}

static void rx_free(rx *r) {
  for (int s = 0; s < 2; s++)
    for (int i = 0; i < DPAIR_MAX_IDS; i++)
      free(r->seen[s][i]);
  free(r);
}

static void rx_on_event(dpair *p, int side, const rtcsec_event *ev) {
  rx *r = p->user;
  if (r == NULL || ev->type != RTCSEC_EVENT_MESSAGE)
    return;
  uint16_t ch = ev->message.channel;
  if (ch >= DPAIR_MAX_IDS)
    return;
  uint32_t seq = 0;
  if (!dpair_check(ev->message.data, ev->message.len, ch, &seq) || seq >= r->seen_bits) {
    r->corrupt[side]++;
    return;
  }
  if (ev->message.binary != r->binary[ch])
    r->wrong_type[side]++;
  if (r->seen[side][ch] == NULL) {
    r->seen[side][ch] = calloc((r->seen_bits + 7) / 8, 1);
    ck_assert_ptr_nonnull(r->seen[side][ch]);
  }
  uint8_t *bits = r->seen[side][ch];
  if (bits[seq / 8] & (1u << (seq % 8)))
    r->dup[side]++;
  bits[seq / 8] |= (uint8_t)(1u << (seq % 8));
  if (r->ordered[ch]) {
    if (seq != r->next[side][ch])
      r->out_of_order[side]++;
    r->next[side][ch] = seq + 1;
  }
  r->got[side][ch]++;
  if (ch == r->watch_b && r->got[side][r->watch_a] == 0)
    r->b_before_a_done++;
}

/* ---- helpers ---------------------------------------------------------------------- */

static uint16_t open_ch(dpair *p, int side, const char *label, int ordered,
                        rtcsec_channel_reliability rel, uint32_t param) {
  rtcsec_dc_channel_config cc;
  rtcsec_dc_channel_config_default(&cc);
  cc.label = label;
  cc.ordered = ordered;
  cc.reliability = rel;
  cc.reliability_param = param;
  uint16_t id = 0;
  ck_assert_int_eq(rtcsec_dc_open_channel(p->side[side].dc, &cc, &id, p->now), 0);
  return id;
}

/* Runs until both sides reported the channel open (the OPEN can be lost
 * and retransmitted). */
static void wait_open(dpair *p, uint16_t id) {
  for (int guard = 0; guard < 600; guard++) {
    if (p->side[0].open_events[id] > 0 && p->side[1].open_events[id] > 0)
      return;
    dpair_run(p, 100 * MS, NULL);
  }
  ck_abort_msg("channel %u did not open (seed %llu)", id, (unsigned long long)p->seed);
}

static int send_seq(dpair *p, int side, uint16_t ch, uint32_t seq, size_t len, int binary) {
  uint8_t *buf = malloc(len);
  ck_assert_ptr_nonnull(buf);
  dpair_fill(buf, len, ch, seq);
  int rc = rtcsec_dc_send(p->side[side].dc, ch, buf, len, binary, p->now);
  free(buf);
  return rc;
}

static rtcsec_dc_stats stats(dpair *p, int side) {
  rtcsec_dc_stats st;
  ck_assert_int_eq(rtcsec_dc_get_stats(p->side[side].dc, &st), 0);
  return st;
}

/* usrsctp names every thread it starts ("SCTP iterator", "SCTP timer",
 * "SCTP addr mon", "SCTP/IP4 rcv", ...): *iterators counts the first kind,
 * *other_sctp every other. A thread that has not run yet still has the
 * process's name. */
static void count_sctp_threads(size_t *iterators, size_t *other_sctp) {
  DIR *d = opendir("/proc/self/task");
  ck_assert_ptr_nonnull(d);
  *iterators = *other_sctp = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.')
      continue;
    char path[300], name[64] = "";
    snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
    FILE *f = fopen(path, "r");
    if (f == NULL)
      continue;
    if (fgets(name, sizeof(name), f) != NULL) {
      if (strncmp(name, "SCTP iterator", 13) == 0)
        (*iterators)++;
      else if (strncmp(name, "SCTP", 4) == 0)
        (*other_sctp)++;
    }
    fclose(f);
  }
  closedir(d);
}

static rtcsec_dc_config cfg_for(int side) {
  rtcsec_dc_config c;
  rtcsec_dc_config_default(&c);
  c.dtls_role = side == 0 ? RTCSEC_DTLS_CLIENT : RTCSEC_DTLS_SERVER;
  return c;
}

/* Condition for dpair_run: both sides got `want` messages on the channel
 * in the test context. */
static uint64_t want_each;
static uint16_t want_ch;
static int both_got_want(dpair *p) {
  rx *r = p->user;
  return r->got[0][want_ch] >= want_each && r->got[1][want_ch] >= want_each;
}

/* ---- association ------------------------------------------------------------------ */

START_TEST(association_connects_without_a_timer_thread_and_reports_connected_once) {
  size_t iterators = 0, other = 0;
  count_sctp_threads(&iterators, &other);
  ck_assert_uint_eq(iterators + other, 0);
  dpair *p = dpair_new(NULL, NULL, NULL);
  ck_assert_uint_eq(rtcsec_dc_deadline(p->side[0].dc), UINT64_MAX); /* not started */
  dpair_connect(p);
  uint16_t id = open_ch(p, 0, "t", 1, RTCSEC_CHANNEL_RELIABLE, 0);
  for (uint32_t i = 0; i < 50; i++)
    ck_assert_int_eq(send_seq(p, 0, id, i, 5000, 1), 0);
  dpair_run(p, 2 * SEC, NULL);
  ck_assert_uint_eq(p->side[1].messages[id], 50);
  /* usrsctp_init_nothreads: no timer thread, no receive or address
   * threads; usrsctp 0.9.5.0 still starts its (sleeping) iterator thread,
   * which names itself when it first runs: give it up to 2 s */
  for (int i = 0; i < 200; i++) {
    count_sctp_threads(&iterators, &other);
    if (iterators > 0)
      break;
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  ck_assert_uint_eq(iterators, 1);
  ck_assert_uint_eq(other, 0);
  for (int i = 0; i < 2; i++) {
    ck_assert_int_eq(p->side[i].connected, 1);
    ck_assert_int_eq(p->side[i].bad_event, 0);
    rtcsec_dc_stats st = stats(p, i);
    ck_assert_int_eq(st.state, RTCSEC_DC_STATE_CONNECTED);
    ck_assert_uint_eq(st.streams_out, 1024);
    ck_assert_uint_eq(st.streams_in, 1024);
    ck_assert_int_eq(st.interleaving, 1); /* both offered I-DATA */
    ck_assert_uint_eq(st.drop_checksum + st.drop_vtag + st.drop_other + st.drop_malformed, 0);
  }
  dpair_free(p);
}
END_TEST

START_TEST(dcep_channel_opens_on_both_sides_with_its_parameters) {
  dpair *p = dpair_new(NULL, NULL, NULL);
  dpair_connect(p);
  rtcsec_dc_channel_config cc;
  rtcsec_dc_channel_config_default(&cc);
  cc.label = "ch\xC3\xA4t \xF0\x9F\x98\x80"; /* UTF-8: a-umlaut and an emoji */
  cc.protocol = "x-proto/1";
  cc.ordered = 0;
  cc.reliability = RTCSEC_CHANNEL_MAX_RETRANSMITS;
  cc.reliability_param = 3;
  cc.priority = RTCSEC_DC_PRIORITY_HIGH;
  uint16_t id = 99;
  ck_assert_int_eq(rtcsec_dc_open_channel(p->side[1].dc, &cc, &id, p->now), 0);
  ck_assert_uint_eq(id, 1); /* DTLS server: odd, lowest first (RFC 8832 §6) */
  /* the opener's CHANNEL_OPEN comes at once: data may follow the OPEN */
  dpair_poll(p);
  ck_assert_int_eq(p->side[1].open_events[1], 1);
  ck_assert_int_eq(send_seq(p, 1, 1, 0, 100, 1), 0);
  rx *r = rx_new(16);
  r->binary[1] = 1;
  r->ordered[1] = 0;
  p->user = r;
  p->on_event = rx_on_event;
  dpair_run(p, 2 * SEC, NULL);
  ck_assert_int_eq(p->side[0].open_events[1], 1);
  ck_assert_uint_eq(r->got[0][1], 1);
  /* what the receiver learnt from the OPEN */
  rtcsec_dc_channel_stats cs;
  ck_assert_int_eq(rtcsec_dc_get_channel_stats(p->side[0].dc, 1, &cs), 0);
  ck_assert_int_eq(cs.state, RTCSEC_DC_CHANNEL_OPEN);
  ck_assert_int_eq(rtcsec_dc_get_channel_stats(p->side[1].dc, 1, &cs), 0);
  ck_assert_int_eq(cs.acked, 1);
  rtcsec_dc_stats st0 = stats(p, 0), st1 = stats(p, 1);
  ck_assert_uint_eq(st0.dcep_opens_received, 1);
  ck_assert_uint_eq(st1.dcep_acks_received, 1);
  ck_assert_uint_eq(st0.dcep_malformed + st1.dcep_malformed, 0);
  rx_free(r);
  dpair_free(p);
}
END_TEST

/* The CHANNEL_OPEN event of the receiving side, checked field by field. */
static rtcsec_channel_info seen_open;
static char seen_label[256], seen_protocol[256];
static void keep_open(dpair *p, int side, const rtcsec_event *ev) {
  (void)p;
  if (side == 0 && ev->type == RTCSEC_EVENT_CHANNEL_OPEN) {
    seen_open = ev->channel;
    snprintf(seen_label, sizeof(seen_label), "%s", ev->channel.label);
    snprintf(seen_protocol, sizeof(seen_protocol), "%s", ev->channel.protocol);
  }
}

START_TEST(the_receiver_learns_label_protocol_and_reliability_from_the_open) {
  static const struct {
    int ordered;
    rtcsec_channel_reliability rel;
    uint32_t param;
  } kinds[] = {{1, RTCSEC_CHANNEL_RELIABLE, 0},        {0, RTCSEC_CHANNEL_RELIABLE, 0},
               {1, RTCSEC_CHANNEL_MAX_RETRANSMITS, 0}, {0, RTCSEC_CHANNEL_MAX_RETRANSMITS, 7},
               {1, RTCSEC_CHANNEL_MAX_LIFETIME, 150},  {0, RTCSEC_CHANNEL_MAX_LIFETIME, 1}};
  dpair *p = dpair_new(NULL, NULL, NULL);
  p->on_event = keep_open;
  dpair_connect(p);
  for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
    rtcsec_dc_channel_config cc;
    rtcsec_dc_channel_config_default(&cc);
    cc.label = k % 2 ? ""
                     : "l\xC3\xA4"
                       "bel";
    cc.protocol = k % 3 ? "proto" : NULL;
    cc.ordered = kinds[k].ordered;
    cc.reliability = kinds[k].rel;
    cc.reliability_param = kinds[k].param;
    cc.priority = (uint16_t)(100 + k);
    uint16_t id;
    ck_assert_int_eq(rtcsec_dc_open_channel(p->side[1].dc, &cc, &id, p->now), 0);
    memset(&seen_open, 0, sizeof(seen_open));
    dpair_run(p, SEC, NULL);
    ck_assert_uint_eq(seen_open.id, id);
    ck_assert_str_eq(seen_label, cc.label);
    ck_assert_str_eq(seen_protocol, cc.protocol ? cc.protocol : "");
    ck_assert_int_eq(seen_open.ordered, kinds[k].ordered);
    ck_assert_int_eq(seen_open.reliability, kinds[k].rel);
    ck_assert_uint_eq(seen_open.reliability_param, kinds[k].param);
    ck_assert_uint_eq(seen_open.priority, 100 + k);
    ck_assert_int_eq(seen_open.negotiated, 0);
  }
  dpair_free(p);
}
END_TEST

START_TEST(negotiated_channels_skip_dcep) {
  dpair *p = dpair_new(NULL, NULL, NULL);
  rtcsec_dc_channel_config cc;
  rtcsec_dc_channel_config_default(&cc);
  cc.negotiated = 1;
  cc.id = 7; /* any parity when pre-agreed */
  cc.label = "pre-agreed";
  uint16_t id0 = 0, id1 = 0;
  /* opened before the association is up, on both sides */
  ck_assert_int_eq(rtcsec_dc_open_channel(p->side[0].dc, &cc, &id0, p->now), 0);
  ck_assert_int_eq(rtcsec_dc_open_channel(p->side[1].dc, &cc, &id1, p->now), 0);
  ck_assert_uint_eq(id0, 7);
  ck_assert_uint_eq(id1, 7);
  /* not open before the association is */
  ck_assert_int_eq(send_seq(p, 0, 7, 0, 10, 0), RTCSEC_ERR_DC_CHANNEL_CLOSED);
  dpair_connect(p);
  dpair_run(p, 100 * MS, NULL);
  ck_assert_int_eq(p->side[0].open_events[7], 1);
  ck_assert_int_eq(p->side[1].open_events[7], 1);
  rx *r = rx_new(64);
  p->user = r;
  p->on_event = rx_on_event;
  for (uint32_t i = 0; i < 20; i++) {
    ck_assert_int_eq(send_seq(p, 0, 7, i, 50, 0), 0);
    ck_assert_int_eq(send_seq(p, 1, 7, i, 60, 0), 0);
  }
  want_each = 20;
  want_ch = 7;
  ck_assert(dpair_run(p, 5 * SEC, both_got_want));
  for (int i = 0; i < 2; i++) {
    rtcsec_dc_stats st = stats(p, i);
    ck_assert_uint_eq(st.dcep_opens_received, 0);
    ck_assert_uint_eq(st.dcep_acks_received, 0);
    ck_assert_uint_eq(r->out_of_order[i] + r->dup[i] + r->corrupt[i], 0);
  }
  /* the same id again is refused; an auto id skips it */
  rtcsec_dc_channel_config_default(&cc);
  cc.negotiated = 1;
  cc.id = 7;
  ck_assert_int_eq(rtcsec_dc_open_channel(p->side[0].dc, &cc, &id0, p->now),
                   RTCSEC_ERR_DC_STREAM_ID);
  rx_free(r);
  dpair_free(p);
}
END_TEST

START_TEST(ids_follow_the_dtls_role_and_are_checked) {
  dpair *p = dpair_new(NULL, NULL, NULL);
  dpair_connect(p);
  for (int i = 0; i < 3; i++) {
    ck_assert_uint_eq(open_ch(p, 0, "c", 1, RTCSEC_CHANNEL_RELIABLE, 0), 2 * i);
    ck_assert_uint_eq(open_ch(p, 1, "s", 1, RTCSEC_CHANNEL_RELIABLE, 0), 2 * i + 1);
  }
  rtcsec_dc_channel_config cc;
  rtcsec_dc_channel_config_default(&cc);
  uint16_t id;
  cc.id = 9; /* the server's parity, asked for by the client */
  ck_assert_int_eq(rtcsec_dc_open_channel(p->side[0].dc, &cc, &id, p->now),
                   RTCSEC_ERR_DC_STREAM_ID);
  cc.id = 2; /* in use */
  ck_assert_int_eq(rtcsec_dc_open_channel(p->side[0].dc, &cc, &id, p->now),
                   RTCSEC_ERR_DC_STREAM_ID);
  cc.id = 1024; /* beyond the streams agreed */
  ck_assert_int_eq(rtcsec_dc_open_channel(p->side[0].dc, &cc, &id, p->now),
                   RTCSEC_ERR_DC_STREAM_ID);
  cc.id = 10;
  ck_assert_int_eq(rtcsec_dc_open_channel(p->side[0].dc, &cc, &id, p->now), 0);
  ck_assert_uint_eq(id, 10);
  /* bad labels and parameters */
  rtcsec_dc_channel_config_default(&cc);
  cc.label = "\xC3\x28"; /* not UTF-8 */
  ck_assert_int_eq(rtcsec_dc_open_channel(p->side[0].dc, &cc, &id, p->now),
                   RTCSEC_ERR_INVALID_ARGUMENT);
  rtcsec_dc_channel_config_default(&cc);
  cc.reliability = (rtcsec_channel_reliability)9;
  ck_assert_int_eq(rtcsec_dc_open_channel(p->side[0].dc, &cc, &id, p->now),
                   RTCSEC_ERR_INVALID_ARGUMENT);
  rtcsec_dc_channel_config_default(&cc);
  cc.negotiated = 1; /* without an id */
  ck_assert_int_eq(rtcsec_dc_open_channel(p->side[0].dc, &cc, &id, p->now),
                   RTCSEC_ERR_INVALID_ARGUMENT);
  dpair_free(p);
}
END_TEST

/* Records each message's type and length at side 0. */
static int kinds_binary[8];
static size_t kinds_len[8];
static int kinds_n;
static void keep_kinds(dpair *p, int side, const rtcsec_event *ev) {
  (void)p;
  if (side == 0 && ev->type == RTCSEC_EVENT_MESSAGE && kinds_n < 8) {
    kinds_binary[kinds_n] = ev->message.binary;
    kinds_len[kinds_n] = ev->message.len;
    kinds_n++;
  }
}

START_TEST(string_binary_and_empty_messages_keep_their_type) {
  dpair *p = dpair_new(NULL, NULL, NULL);
  p->on_event = keep_kinds;
  dpair_connect(p);
  uint16_t id = open_ch(p, 1, "kinds", 1, RTCSEC_CHANNEL_RELIABLE, 0);
  kinds_n = 0;
  ck_assert_int_eq(rtcsec_dc_send(p->side[1].dc, id, (const uint8_t *)"txt", 3, 0, p->now), 0);
  ck_assert_int_eq(rtcsec_dc_send(p->side[1].dc, id, (const uint8_t *)"\0\1", 2, 1, p->now), 0);
  /* RFC 8831 §6.6: empty messages (sent as one zero byte, PPID 56 / 57) */
  ck_assert_int_eq(rtcsec_dc_send(p->side[1].dc, id, NULL, 0, 0, p->now), 0);
  ck_assert_int_eq(rtcsec_dc_send(p->side[1].dc, id, NULL, 0, 1, p->now), 0);
  dpair_run(p, SEC, NULL);
  ck_assert_int_eq(kinds_n, 4);
  ck_assert_int_eq(kinds_binary[0], 0);
  ck_assert_uint_eq(kinds_len[0], 3);
  ck_assert_int_eq(kinds_binary[1], 1);
  ck_assert_uint_eq(kinds_len[1], 2);
  ck_assert_int_eq(kinds_binary[2], 0);
  ck_assert_uint_eq(kinds_len[2], 0);
  ck_assert_int_eq(kinds_binary[3], 1);
  ck_assert_uint_eq(kinds_len[3], 0);
  dpair_free(p);
}
END_TEST

/* Messages around the receive buffer's size (read in one piece or more),
 * each way, with and without interleaving on either side. */
START_TEST(messages_the_size_of_the_receive_buffer_are_delivered) {
  /* interleaving offered by neither, one side only (I-DATA not used, but
   * fragment interleave level 2 on that side), both */
  for (int interleave = 0; interleave < 4; interleave++) {
    rtcsec_dc_config c0 = cfg_for(0), c1 = cfg_for(1);
    c0.interleaving = interleave & 1;
    c1.interleaving = (interleave >> 1) & 1;
    dpair *p = dpair_new(NULL, &c0, &c1);
    rx *r = rx_new(64);
    r->binary[0] = r->binary[1] = 1;
    p->user = r;
    p->on_event = rx_on_event;
    dpair_connect(p);
    uint16_t id = open_ch(p, 0, "exact", 1, RTCSEC_CHANNEL_RELIABLE, 0);
    wait_open(p, id);
    size_t rb = c0.receive_buffer;
    const size_t sizes[] = {rb - 1, rb, rb + 1, 2 * rb, 2 * rb + 1, rb, rb};
    size_t n = sizeof(sizes) / sizeof(sizes[0]);
    for (uint32_t i = 0; i < n; i++) {
      ck_assert_int_eq(send_seq(p, 0, id, i, sizes[i], 1), 0);
      ck_assert_int_eq(send_seq(p, 1, id, i, sizes[i], 1), 0);
    }
    for (int guard = 0; guard < 100 && (r->got[1][id] < n || r->got[0][id] < n); guard++)
      dpair_run(p, 100 * MS, NULL);
    ck_assert_msg(r->got[1][id] == n && r->got[0][id] == n,
                  "interleaving %d: %llu / %llu of %zu messages", interleave,
                  (unsigned long long)r->got[1][id], (unsigned long long)r->got[0][id], n);
    for (int s = 0; s < 2; s++) {
      ck_assert_uint_eq(r->out_of_order[s] + r->dup[s] + r->corrupt[s] + r->wrong_type[s], 0);
      ck_assert_int_eq(stats(p, s).state, RTCSEC_DC_STATE_CONNECTED);
      ck_assert_int_eq(p->side[s].closed + p->side[s].failed, 0);
    }
    rx_free(r);
    dpair_free(p);
  }
}
END_TEST

/* The header's promise for MESSAGE: its bytes stay valid until the next
 * poll, so an echo may give them straight to rtcsec_dc_send() (as
 * rtcsec-echo does), whether they sit in the receive buffer or in an
 * assembly buffer of their own (over 16 KiB). Side 1 echoes from inside
 * the event; side 0 checks every echo. */
static void echo_from_event(dpair *p, int side, const rtcsec_event *ev) {
  if (side == 1 && ev->type == RTCSEC_EVENT_MESSAGE)
    ck_assert_int_eq(rtcsec_dc_send(p->side[1].dc, ev->message.channel, ev->message.data,
                                    ev->message.len, ev->message.binary, p->now),
                     0);
  else
    rx_on_event(p, side, ev);
}

START_TEST(an_echo_sends_each_message_back_from_the_event_itself) {
  dpair *p = dpair_new(NULL, NULL, NULL);
  rx *r = rx_new(64);
  p->user = r;
  p->on_event = echo_from_event;
  dpair_connect(p);
  uint16_t id = open_ch(p, 0, "echo", 1, RTCSEC_CHANNEL_RELIABLE, 0);
  wait_open(p, id);
  r->binary[id] = 1;
  for (uint32_t i = 0; i < 40; i++)
    ck_assert_int_eq(send_seq(p, 0, id, i, 8 + (i * 4099u) % 65529u, 1), 0);
  for (int guard = 0; guard < 200 && r->got[0][id] < 40; guard++)
    dpair_run(p, 100 * MS, NULL);
  ck_assert_uint_eq(r->got[0][id], 40);
  ck_assert_uint_eq(r->out_of_order[0] + r->dup[0] + r->corrupt[0] + r->wrong_type[0], 0);
  ck_assert_uint_eq(stats(p, 1).messages_sent, 40);
  rx_free(r);
  dpair_free(p);
}
END_TEST

START_TEST(a_message_over_the_peers_max_message_size_is_refused) {
  rtcsec_dc_config c0 = cfg_for(0), c1 = cfg_for(1);
  c1.remote_max_message_size = RTCSEC_DC_MESSAGE_SIZE_ANY; /* peer said 0 */
  dpair *p = dpair_new(NULL, &c0, &c1);
  dpair_connect(p);
  uint16_t id = open_ch(p, 0, "big", 1, RTCSEC_CHANNEL_RELIABLE, 0);
  dpair_run(p, 200 * MS, NULL); /* the OPEN reaches side 1 */
  /* RFC 8841 §6.1: no attribute from the peer means 64 KiB */
  ck_assert_int_eq(send_seq(p, 0, id, 0, 65537, 1), RTCSEC_ERR_DC_MESSAGE_TOO_LARGE);
  ck_assert_int_eq(send_seq(p, 0, id, 0, 65536, 1), 0);
  /* "any size" lets side 1 send what side 0 accepts (256 KiB) */
  ck_assert_int_eq(send_seq(p, 1, id, 0, 256 * 1024, 1), 0);
  rx *r = rx_new(4);
  r->binary[id] = 1;
  p->user = r;
  p->on_event = rx_on_event;
  want_each = 1;
  want_ch = id;
  ck_assert(dpair_run(p, 10 * SEC, both_got_want));
  ck_assert_uint_eq(r->corrupt[0] + r->corrupt[1], 0);
  rtcsec_dc_stats st = stats(p, 0);
  ck_assert_uint_eq(st.messages_sent, 1); /* the refused one is not counted */
  rx_free(r);
  dpair_free(p);
}
END_TEST

START_TEST(a_message_over_our_max_message_size_is_dropped_and_counted) {
  rtcsec_dc_config c0 = cfg_for(0), c1 = cfg_for(1);
  c0.max_message_size = 1000;
  c1.remote_max_message_size = RTCSEC_DC_MESSAGE_SIZE_ANY; /* a peer that ignores ours */
  dpair *p = dpair_new(NULL, &c0, &c1);
  dpair_connect(p);
  uint16_t id = open_ch(p, 1, "limit", 1, RTCSEC_CHANNEL_RELIABLE, 0);
  rx *r = rx_new(8);
  p->user = r;
  p->on_event = rx_on_event;
  ck_assert_int_eq(send_seq(p, 1, id, 0, 1000, 0), 0);
  ck_assert_int_eq(send_seq(p, 1, id, 1, 1001, 0), 0);  /* one copy into the buffer */
  ck_assert_int_eq(send_seq(p, 1, id, 2, 70000, 0), 0); /* in pieces (past 16 KiB) */
  ck_assert_int_eq(send_seq(p, 1, id, 3, 10, 0), 0);
  dpair_run(p, 5 * SEC, NULL);
  ck_assert_uint_eq(r->got[0][id], 2);
  ck_assert_uint_eq(r->corrupt[0], 0);
  rtcsec_dc_stats st = stats(p, 0);
  ck_assert_uint_eq(st.drop_too_large, 2);
  rtcsec_dc_channel_stats cs;
  ck_assert_int_eq(rtcsec_dc_get_channel_stats(p->side[0].dc, id, &cs), 0);
  ck_assert_uint_eq(cs.drop_too_large, 2);
  ck_assert_int_eq(cs.state, RTCSEC_DC_CHANNEL_OPEN); /* the channel goes on */
  rx_free(r);
  dpair_free(p);
}
END_TEST

/* Largest datagram each way, with the link's own count. */
START_TEST(every_packet_fits_one_dtls_record_in_a_1200_byte_datagram) {
  dpair *p = dpair_new(NULL, NULL, NULL);
  dpair_connect(p);
  uint16_t id = open_ch(p, 0, "mtu", 1, RTCSEC_CHANNEL_RELIABLE, 0);
  dpair_run(p, 200 * MS, NULL);
  rx *r = rx_new(64);
  r->binary[id] = 1;
  p->user = r;
  p->on_event = rx_on_event;
  for (uint32_t i = 0; i < 8; i++) {
    ck_assert_int_eq(send_seq(p, 0, id, i, 65536, 1), 0);
    ck_assert_int_eq(send_seq(p, 1, id, i, 3000 + i, 1), 0);
  }
  want_each = 8;
  want_ch = id;
  ck_assert(dpair_run(p, 30 * SEC, both_got_want));
  const link_stats *ls = link_get_stats(p->link);
  ck_assert_uint_le(ls->max_len, RTCSEC_DC_DEFAULT_PACKET_SIZE);
  ck_assert_uint_ge(ls->max_len, RTCSEC_DC_DEFAULT_PACKET_SIZE - 64); /* full packets */
  ck_assert_uint_eq(stats(p, 0).drop_queue_full + stats(p, 1).drop_queue_full, 0);
  rx_free(r);
  dpair_free(p);
}
END_TEST

START_TEST(buffered_amount_rises_and_the_low_event_fires_once_when_it_drains) {
  rtcsec_dc_config c0 = cfg_for(0), c1 = cfg_for(1);
  c0.sctp_send_buffer = 64 * 1024; /* SCTP takes little: rtcsec queues the rest */
  dpair *p = dpair_new(NULL, &c0, &c1);
  dpair_connect(p);
  uint16_t id = open_ch(p, 0, "flow", 1, RTCSEC_CHANNEL_RELIABLE, 0);
  ck_assert_int_eq(rtcsec_dc_set_buffered_amount_low_threshold(p->side[0].dc, id, 100000), 0);
  for (uint32_t i = 0; i < 40; i++)
    ck_assert_int_eq(send_seq(p, 0, id, i, 16000, 1), 0);
  size_t queued = rtcsec_dc_buffered_amount(p->side[0].dc, id);
  ck_assert_uint_gt(queued, 400000);
  ck_assert_uint_eq(stats(p, 0).buffered_amount, queued);
  ck_assert_int_eq(p->side[0].low_events[id], 0);
  rx *r = rx_new(64);
  r->binary[id] = 1;
  p->user = r;
  p->on_event = rx_on_event;
  want_each = 0;
  want_ch = id;
  for (int guard = 0; guard < 1000 && r->got[1][id] < 40; guard++)
    dpair_run(p, 50 * MS, NULL);
  ck_assert_uint_eq(r->got[1][id], 40);
  ck_assert_uint_eq(rtcsec_dc_buffered_amount(p->side[0].dc, id), 0);
  ck_assert_int_eq(p->side[0].low_events[id], 1);
  ck_assert_uint_eq(r->out_of_order[1] + r->corrupt[1] + r->dup[1], 0);
  rx_free(r);
  dpair_free(p);
}
END_TEST

START_TEST(the_send_queue_is_bounded) {
  rtcsec_dc_config c0 = cfg_for(0), c1 = cfg_for(1);
  c0.sctp_send_buffer = 16 * 1024;
  c0.max_buffered = 100000;
  dpair *p = dpair_new(NULL, &c0, &c1);
  dpair_connect(p);
  uint16_t id = open_ch(p, 0, "bounded", 1, RTCSEC_CHANNEL_RELIABLE, 0);
  int full = 0;
  for (uint32_t i = 0; i < 200 && !full; i++) {
    int rc = send_seq(p, 0, id, i, 4000, 1);
    if (rc == RTCSEC_ERR_DC_BUFFER_FULL)
      full = 1;
    else
      ck_assert_int_eq(rc, 0);
  }
  ck_assert_int_eq(full, 1);
  ck_assert_uint_le(stats(p, 0).buffered_amount, 100000);
  dpair_free(p);
}
END_TEST

/* ---- closing --------------------------------------------------------------------------- */

static int all_closed_events(dpair *p) {
  rx *r = p->user;
  (void)r;
  return p->side[0].closed_events[want_ch] && p->side[1].closed_events[want_ch];
}

START_TEST(closing_a_channel_resets_both_directions_and_frees_the_id) {
  for (int closer = 0; closer < 2; closer++) {
    dpair *p = dpair_new(NULL, NULL, NULL);
    dpair_connect(p);
    uint16_t id = open_ch(p, 0, "bye", 1, RTCSEC_CHANNEL_RELIABLE, 0);
    dpair_run(p, 200 * MS, NULL);
    ck_assert_int_eq(p->side[1].open_events[id], 1);
    /* queued data still goes before the reset (W3C closing semantics) */
    ck_assert_int_eq(send_seq(p, closer, id, 0, 50000, 1), 0);
    ck_assert_int_eq(rtcsec_dc_close_channel(p->side[closer].dc, id, p->now), 0);
    ck_assert_int_eq(rtcsec_dc_close_channel(p->side[closer].dc, id, p->now),
                     RTCSEC_ERR_DC_CHANNEL_CLOSED);
    ck_assert_int_eq(send_seq(p, closer, id, 1, 10, 1), RTCSEC_ERR_DC_CHANNEL_CLOSED);
    want_ch = id;
    ck_assert_msg(dpair_run(p, 10 * SEC, all_closed_events), "closer %d", closer);
    ck_assert_uint_eq(p->side[1 - closer].messages[id], 1);
    for (int i = 0; i < 2; i++) {
      ck_assert_int_eq(p->side[i].closed_events[id], 1);
      rtcsec_dc_stats st = stats(p, i);
      ck_assert_uint_eq(st.channels, 0);
      ck_assert_uint_eq(st.stream_resets_failed, 0);
    }
    /* the id is free again: a new channel takes it, and works */
    ck_assert_uint_eq(open_ch(p, 0, "again", 1, RTCSEC_CHANNEL_RELIABLE, 0), id);
    ck_assert_int_eq(send_seq(p, 0, id, 2, 10, 1), 0);
    dpair_run(p, SEC, NULL);
    ck_assert_int_eq(p->side[1].open_events[id], 2);
    ck_assert_uint_eq(p->side[1].messages[id], 1 + (closer == 0 ? 1 : 0));
    dpair_free(p);
  }
}
END_TEST

static int hundred_closed(dpair *p) {
  for (int i = 0; i < 2; i++) {
    if (stats(p, i).channels != 0)
      return 0;
  }
  return 1;
}

START_TEST(a_hundred_channels_open_and_close_from_both_sides) {
  link_config lc = {.seed = 77, .loss = 0.02, .reorder = 0.02};
  dpair *p = dpair_new(&lc, NULL, NULL);
  dpair_connect(p);
  for (int round = 0; round < 2; round++) {
    uint16_t ids[100];
    for (int k = 0; k < 100; k++)
      ids[k] = open_ch(p, k % 2, "many", 1, RTCSEC_CHANNEL_RELIABLE, 0);
    for (int k = 0; k < 100; k++)
      ck_assert_int_eq(send_seq(p, k % 2, ids[k], 0, 200, 0), 0);
    dpair_run(p, 3 * SEC, NULL);
    for (int k = 0; k < 100; k++) {
      ck_assert_int_eq(p->side[0].open_events[ids[k]], round + 1);
      ck_assert_int_eq(p->side[1].open_events[ids[k]], round + 1);
      ck_assert_uint_eq(p->side[1 - k % 2].messages[ids[k]], (uint64_t)round + 1);
    }
    /* a quarter closed by the opener, a quarter by the other side, the
     * rest by both at once */
    for (int k = 0; k < 100; k++) {
      int opener = k % 2;
      if (k % 4 < 2) {
        ck_assert_int_eq(rtcsec_dc_close_channel(p->side[opener].dc, ids[k], p->now), 0);
      } else if (k % 4 == 2) {
        ck_assert_int_eq(rtcsec_dc_close_channel(p->side[1 - opener].dc, ids[k], p->now), 0);
      } else {
        ck_assert_int_eq(rtcsec_dc_close_channel(p->side[0].dc, ids[k], p->now), 0);
        ck_assert_int_eq(rtcsec_dc_close_channel(p->side[1].dc, ids[k], p->now), 0);
      }
    }
    ck_assert_msg(dpair_run(p, 30 * SEC, hundred_closed), "round %d seed %llu", round,
                  (unsigned long long)lc.seed);
    for (int k = 0; k < 100; k++) {
      ck_assert_int_eq(p->side[0].closed_events[ids[k]], round + 1);
      ck_assert_int_eq(p->side[1].closed_events[ids[k]], round + 1);
    }
  }
  for (int i = 0; i < 2; i++) {
    rtcsec_dc_stats st = stats(p, i);
    ck_assert_uint_eq(st.channels_opened, 200);
    ck_assert_uint_eq(st.channels_closed, 200);
    ck_assert_int_eq(p->side[i].bad_event, 0);
  }
  dpair_free(p);
}
END_TEST

static int both_final(dpair *p) {
  return (p->side[0].closed || p->side[0].failed) && (p->side[1].closed || p->side[1].failed);
}

START_TEST(shutdown_closes_every_channel_then_the_association_on_both_sides) {
  dpair *p = dpair_new(NULL, NULL, NULL);
  dpair_connect(p);
  uint16_t a = open_ch(p, 0, "a", 1, RTCSEC_CHANNEL_RELIABLE, 0);
  uint16_t b = open_ch(p, 1, "b", 0, RTCSEC_CHANNEL_MAX_RETRANSMITS, 2);
  dpair_run(p, 200 * MS, NULL);
  /* queued data is delivered before the SHUTDOWN (RFC 4960 §9.2) */
  ck_assert_int_eq(send_seq(p, 0, a, 0, 60000, 1), 0);
  ck_assert_int_eq(rtcsec_dc_close(p->side[0].dc, p->now), 0);
  ck_assert_int_eq(send_seq(p, 0, a, 1, 10, 1), RTCSEC_ERR_DC_CHANNEL_CLOSED);
  ck_assert(dpair_run(p, 20 * SEC, both_final));
  for (int i = 0; i < 2; i++) {
    ck_assert_int_eq(p->side[i].closed, 1);
    ck_assert_int_eq(p->side[i].failed, 0);
    ck_assert_int_eq(p->side[i].closed_events[a], 1);
    ck_assert_int_eq(p->side[i].closed_events[b], 1);
    ck_assert_int_eq(p->side[i].events_after_final, 0);
    ck_assert_int_eq(stats(p, i).state, RTCSEC_DC_STATE_CLOSED);
    ck_assert_uint_eq(rtcsec_dc_deadline(p->side[i].dc), UINT64_MAX);
  }
  ck_assert_uint_eq(p->side[1].messages[a], 1);
  ck_assert_int_eq(send_seq(p, 1, b, 0, 10, 1), RTCSEC_ERR_CLOSED);
  dpair_free(p);
}
END_TEST

START_TEST(an_unreachable_peer_fails_the_association_with_a_timeout) {
  rtcsec_dc_config c0 = cfg_for(0), c1 = cfg_for(1);
  c0.max_retransmissions = 4;
  c0.rto_max_ms = 2000;
  dpair *p = dpair_new(NULL, &c0, &c1);
  dpair_connect(p);
  uint16_t id = open_ch(p, 0, "void", 1, RTCSEC_CHANNEL_RELIABLE, 0);
  dpair_run(p, 200 * MS, NULL);
  /* from now on side 1 hears nothing: it is freed (its ABORT goes nowhere) */
  rtcsec_dc_free(p->side[1].dc);
  ck_assert_int_eq(rtcsec_dc_new(&p->side[1].dc, &c1), 0); /* a stranger, never started */
  ck_assert_int_eq(send_seq(p, 0, id, 0, 100, 1), 0);
  for (int guard = 0; guard < 200 && !p->side[0].failed; guard++)
    dpair_run(p, SEC, NULL);
  ck_assert_int_eq(p->side[0].failed, 1);
  ck_assert_int_eq(p->side[0].error, RTCSEC_ERR_DC_TIMEOUT);
  ck_assert_int_eq(p->side[0].closed_events[id], 1);
  ck_assert_int_eq(send_seq(p, 0, id, 1, 100, 1), RTCSEC_ERR_DC_TIMEOUT); /* sticky */
  ck_assert_int_eq(stats(p, 0).error, RTCSEC_ERR_DC_TIMEOUT);
  dpair_free(p);
}
END_TEST

/* ---- time --------------------------------------------------------------------------- */

START_TEST(an_idle_association_wakes_once_per_idle_tick_a_busy_one_every_tick) {
  dpair *p = dpair_new(NULL, NULL, NULL);
  dpair_connect(p);
  dpair_run(p, SEC, NULL); /* settle */
  uint64_t w0 = stats(p, 0).wakeups;
  uint64_t dl = rtcsec_dc_deadline(p->side[0].dc);
  ck_assert_uint_ge(dl, p->now + 900 * MS); /* idle: the 1 s tick */
  dpair_run(p, 60 * SEC, NULL);
  uint64_t idle_wakeups = stats(p, 0).wakeups - w0;
  /* 60 s idle: about one wake a second (heartbeats every 10 s add a few) */
  ck_assert_uint_le(idle_wakeups, 75);
  ck_assert_uint_ge(idle_wakeups, 55);
  /* unacknowledged data: the 10 ms tick */
  uint16_t id = open_ch(p, 0, "t", 1, RTCSEC_CHANNEL_RELIABLE, 0);
  ck_assert_int_eq(send_seq(p, 0, id, 0, 100, 1), 0);
  dl = rtcsec_dc_deadline(p->side[0].dc);
  ck_assert_uint_le(dl, p->now + 10 * MS);
  printf("idle association: %llu wakeups in 60 s of protocol time\n",
         (unsigned long long)idle_wakeups);
  dpair_free(p);
}
END_TEST

static int wakes;
static void count_wake(void *user) {
  (void)user;
  wakes++;
}

START_TEST(a_call_on_one_association_runs_the_others_timers_and_wakes_it) {
  rtcsec_dc_config c0 = cfg_for(0), c1 = cfg_for(1);
  c0.wake = count_wake;
  dpair *p = dpair_new(NULL, &c0, &c1);
  dpair_connect(p);
  uint16_t id = open_ch(p, 0, "w", 1, RTCSEC_CHANNEL_RELIABLE, 0);
  dpair_run(p, SEC, NULL);
  /* side 0 sends; its packet is lost (never handed over) */
  ck_assert_int_eq(send_seq(p, 0, id, 0, 100, 1), 0);
  uint8_t buf[2048];
  size_t n = 0;
  ck_assert_int_eq(rtcsec_dc_poll_datagram(p->side[0].dc, buf, sizeof(buf), &n), 0);
  ck_assert_uint_gt(n, 0);
  wakes = 0;
  /* only side 1 is called, past side 0's retransmission timeout (RTO
   * 1 s at most here): usrsctp's timers are process-wide */
  for (int i = 0; i < 40 && wakes == 0; i++) {
    p->now += 100 * MS;
    fakeclock_set(p->now);
    ck_assert_int_eq(rtcsec_dc_handle_timeout(p->side[1].dc, p->now), 0);
  }
  ck_assert_int_eq(wakes, 1);
  /* the retransmission waits in side 0's queue, and its deadline says so */
  ck_assert_uint_le(rtcsec_dc_deadline(p->side[0].dc), p->now);
  /* once woken, no second wake until side 0 is called again, although
   * its next retransmission comes (the RTO doubles: 5 s is plenty) */
  p->now += 5 * SEC;
  fakeclock_set(p->now);
  ck_assert_int_eq(rtcsec_dc_handle_timeout(p->side[1].dc, p->now), 0);
  ck_assert_int_eq(wakes, 1);
  n = 0;
  ck_assert_int_eq(rtcsec_dc_poll_datagram(p->side[0].dc, buf, sizeof(buf), &n), 0);
  ck_assert_uint_gt(n, 0);
  ck_assert_int_eq(rtcsec_dc_handle_datagram(p->side[1].dc, buf, n, p->now), 0);
  dpair_run(p, 2 * SEC, NULL);
  ck_assert_uint_eq(p->side[1].messages[id], 1);
  dpair_free(p);
}
END_TEST

/* Two pairs of associations, each driven by its own thread on the real
 * clock: the process-wide lock keeps usrsctp's shared state and every
 * association's queues consistent. */
typedef struct thread_pair {
  rtcsec_dc *dc[2];
  uint64_t got;
  int ok;
} thread_pair;

static uint64_t real_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void *thread_pair_run(void *arg) {
  thread_pair *tp = arg;
  uint8_t pkt[2048], msg[500];
  memset(msg, 0x42, sizeof(msg));
  int connected = 0;
  uint64_t sent = 0, end = real_us() + 60u * SEC;
  for (int i = 0; i < 2; i++) {
    rtcsec_connected_info info = dpair_plain_dtls(i == 0 ? RTCSEC_DTLS_CLIENT : RTCSEC_DTLS_SERVER);
    rtcsec_dc_start(tp->dc[i], &info, real_us());
  }
  while (tp->got < 5000 && real_us() < end) {
    uint64_t now = real_us();
    while (connected == 2 && sent < 5000 && rtcsec_dc_buffered_amount(tp->dc[0], 0) == 0 &&
           rtcsec_dc_send(tp->dc[0], 0, msg, sizeof(msg), 1, now) == 0)
      sent++;
    for (int i = 0; i < 2; i++) {
      size_t n = 0;
      while (rtcsec_dc_poll_datagram(tp->dc[i], pkt, sizeof(pkt), &n) == 0 && n > 0) {
        rtcsec_dc_handle_datagram(tp->dc[1 - i], pkt, n, now);
        n = 0;
      }
      rtcsec_event ev;
      while (rtcsec_dc_poll_event(tp->dc[i], &ev) == 0 && ev.type != RTCSEC_EVENT_NONE) {
        if (ev.type == RTCSEC_EVENT_CONNECTED)
          connected++;
        else if (ev.type == RTCSEC_EVENT_MESSAGE && i == 1 && ev.message.len == sizeof(msg))
          tp->got++;
      }
      if (rtcsec_dc_deadline(tp->dc[i]) <= now)
        rtcsec_dc_handle_timeout(tp->dc[i], now);
    }
  }
  tp->ok = tp->got == 5000;
  return NULL;
}

START_TEST(two_threads_with_a_pair_each_share_usrsctp_safely) {
  thread_pair tp[2];
  memset(tp, 0, sizeof(tp));
  for (int k = 0; k < 2; k++) {
    for (int i = 0; i < 2; i++) {
      rtcsec_dc_config c = cfg_for(i);
      ck_assert_int_eq(rtcsec_dc_new(&tp[k].dc[i], &c), 0);
      rtcsec_dc_channel_config cc;
      rtcsec_dc_channel_config_default(&cc);
      cc.negotiated = 1;
      cc.id = 0;
      uint16_t id;
      ck_assert_int_eq(rtcsec_dc_open_channel(tp[k].dc[i], &cc, &id, real_us()), 0);
    }
  }
  pthread_t th[2];
  for (int k = 0; k < 2; k++)
    ck_assert_int_eq(pthread_create(&th[k], NULL, thread_pair_run, &tp[k]), 0);
  for (int k = 0; k < 2; k++)
    ck_assert_int_eq(pthread_join(th[k], NULL), 0);
  for (int k = 0; k < 2; k++) {
    ck_assert_msg(tp[k].ok, "pair %d got %llu of 5000", k, (unsigned long long)tp[k].got);
    for (int i = 0; i < 2; i++)
      rtcsec_dc_free(tp[k].dc[i]);
  }
}
END_TEST

/* ---- under loss ------------------------------------------------------------------------- */

static size_t lossy_len(uint32_t seq) {
  /* mostly small, every 97th over two packets */
  return seq % 97 == 0 ? 3000 : 8 + (seq * 37u) % 300;
}

START_TEST(ten_thousand_messages_each_way_ordered_reliable_under_10pct_loss) {
  uint64_t seed = 1000 + (uint64_t)_i;
  link_config lc = {.seed = seed, .loss = 0.10, .reorder = 0.05, .duplicate = 0.01};
  dpair *p = dpair_new(&lc, NULL, NULL);
  dpair_connect(p);
  uint16_t id = open_ch(p, 0, "reliable", 1, RTCSEC_CHANNEL_RELIABLE, 0);
  wait_open(p, id);
  rx *r = rx_new(10000);
  p->user = r;
  p->on_event = rx_on_event;
  const uint32_t total = 10000;
  uint32_t sent[2] = {0, 0};
  for (int guard = 0; guard < 100000 && (r->got[0][id] < total || r->got[1][id] < total); guard++) {
    for (int s = 0; s < 2; s++) {
      /* keep at most 200 KB queued per side */
      while (sent[s] < total && rtcsec_dc_buffered_amount(p->side[s].dc, id) < 200000) {
        int rc = send_seq(p, s, id, sent[s], lossy_len(sent[s]), 0);
        ck_assert_msg(rc == 0, "send rc %d seed %llu", rc, (unsigned long long)seed);
        sent[s]++;
      }
    }
    dpair_run(p, 100 * MS, NULL);
    ck_assert_msg(p->now < 3600ull * SEC, "too slow (seed %llu)", (unsigned long long)seed);
  }
  for (int s = 0; s < 2; s++) {
    ck_assert_msg(r->got[s][id] == total, "side %d got %llu (seed %llu)", s,
                  (unsigned long long)r->got[s][id], (unsigned long long)seed);
    ck_assert_msg(r->out_of_order[s] == 0 && r->dup[s] == 0 && r->corrupt[s] == 0,
                  "side %d: %llu out of order, %llu dup, %llu corrupt (seed %llu)", s,
                  (unsigned long long)r->out_of_order[s], (unsigned long long)r->dup[s],
                  (unsigned long long)r->corrupt[s], (unsigned long long)seed);
    ck_assert_int_eq(p->side[s].failed, 0);
  }
  const link_stats *ls = link_get_stats(p->link);
  ck_assert_uint_gt(ls->lost[0] + ls->lost[1], 100); /* the loss was real */
  printf("10000 each way at 10%% loss (seed %llu): %.1f s of protocol time, %llu + %llu "
         "datagrams, %llu + %llu lost\n",
         (unsigned long long)seed, (double)(p->now - SEC) / SEC, (unsigned long long)ls->sent[0],
         (unsigned long long)ls->sent[1], (unsigned long long)ls->lost[0],
         (unsigned long long)ls->lost[1]);
  rx_free(r);
  dpair_free(p);
}
END_TEST

START_TEST(unordered_reliable_under_loss_delivers_everything_once) {
  uint64_t seed = 2000 + (uint64_t)_i;
  link_config lc = {.seed = seed, .loss = 0.10, .reorder = 0.10};
  dpair *p = dpair_new(&lc, NULL, NULL);
  dpair_connect(p);
  uint16_t id = open_ch(p, 1, "unordered", 0, RTCSEC_CHANNEL_RELIABLE, 0);
  wait_open(p, id);
  rx *r = rx_new(3000);
  r->ordered[id] = 0;
  p->user = r;
  p->on_event = rx_on_event;
  for (uint32_t i = 0; i < 3000; i++) {
    ck_assert_int_eq(send_seq(p, 1, id, i, lossy_len(i), 0), 0);
    ck_assert_int_eq(send_seq(p, 0, id, i, lossy_len(i), 0), 0);
  }
  want_each = 3000;
  want_ch = id;
  ck_assert_msg(dpair_run(p, 600 * SEC, both_got_want), "seed %llu", (unsigned long long)seed);
  for (int s = 0; s < 2; s++)
    ck_assert_msg(r->dup[s] + r->corrupt[s] == 0, "seed %llu", (unsigned long long)seed);
  rx_free(r);
  dpair_free(p);
}
END_TEST

static int reliable_done(dpair *p) {
  rx *r = p->user;
  return r->got[1][want_ch] >= want_each;
}

START_TEST(max_retransmits_zero_loses_some_and_stalls_nothing) {
  uint64_t seed = 3000 + (uint64_t)_i;
  link_config lc = {.seed = seed, .loss = 0.10, .reorder = 0.05};
  dpair *p = dpair_new(&lc, NULL, NULL);
  dpair_connect(p);
  uint16_t lossy = open_ch(p, 0, "lossy", 0, RTCSEC_CHANNEL_MAX_RETRANSMITS, 0);
  uint16_t safe = open_ch(p, 0, "safe", 1, RTCSEC_CHANNEL_RELIABLE, 0);
  wait_open(p, lossy);
  wait_open(p, safe);
  rx *r = rx_new(2000);
  r->ordered[lossy] = 0;
  p->user = r;
  p->on_event = rx_on_event;
  dpair_run(p, SEC, NULL); /* the OPENs are acknowledged: unordered from now on */
  for (uint32_t i = 0; i < 2000; i++) {
    ck_assert_int_eq(send_seq(p, 0, lossy, i, 200, 0), 0);
    ck_assert_int_eq(send_seq(p, 0, safe, i, 200, 0), 0);
    if (i % 50 == 49)
      dpair_run(p, 20 * MS, NULL);
  }
  want_each = 2000;
  want_ch = safe;
  ck_assert_msg(dpair_run(p, 300 * SEC, reliable_done), "seed %llu", (unsigned long long)seed);
  dpair_run(p, 5 * SEC, NULL); /* whatever of the lossy channel still comes */
  ck_assert_uint_eq(r->got[1][safe], 2000);
  ck_assert_uint_eq(r->out_of_order[1], 0);
  ck_assert_msg(r->got[1][lossy] < 2000 && r->got[1][lossy] > 1000,
                "lossy channel got %llu of 2000 (seed %llu)", (unsigned long long)r->got[1][lossy],
                (unsigned long long)seed);
  ck_assert_uint_eq(r->dup[1] + r->corrupt[1], 0);
  printf("max_retransmits=0 at 10%% loss (seed %llu): %llu of 2000 delivered\n",
         (unsigned long long)seed, (unsigned long long)r->got[1][lossy]);
  rx_free(r);
  dpair_free(p);
}
END_TEST

START_TEST(max_lifetime_drops_what_is_too_old) {
  link_config lc = {.seed = 42, .loss = 0.20};
  dpair *p = dpair_new(&lc, NULL, NULL);
  dpair_connect(p);
  uint16_t id = open_ch(p, 0, "ttl", 0, RTCSEC_CHANNEL_MAX_LIFETIME, 30);
  wait_open(p, id);
  rx *r = rx_new(1000);
  r->ordered[id] = 0;
  p->user = r;
  p->on_event = rx_on_event;
  dpair_run(p, SEC, NULL);
  for (uint32_t i = 0; i < 1000; i++)
    ck_assert_int_eq(send_seq(p, 0, id, i, 200, 0), 0);
  dpair_run(p, 60 * SEC, NULL);
  ck_assert_uint_lt(r->got[1][id], 1000);
  ck_assert_uint_gt(r->got[1][id], 500);
  ck_assert_uint_eq(r->dup[1] + r->corrupt[1], 0);
  rx_free(r);
  dpair_free(p);
}
END_TEST

START_TEST(a_256_kib_message_does_not_hold_up_small_ones_with_interleaving) {
  for (int il = 1; il >= 0; il--) {
    rtcsec_dc_config c0 = cfg_for(0), c1 = cfg_for(1);
    c0.remote_max_message_size = 256 * 1024; /* side 1's a=max-message-size */
    c1.interleaving = il;                    /* without: the peer does not offer I-DATA */
    dpair *p = dpair_new(NULL, &c0, &c1);
    dpair_connect(p);
    ck_assert_int_eq(stats(p, 0).interleaving, il);
    uint16_t big = open_ch(p, 0, "file", 1, RTCSEC_CHANNEL_RELIABLE, 0);
    uint16_t small = open_ch(p, 0, "chat", 1, RTCSEC_CHANNEL_RELIABLE, 0);
    rx *r = rx_new(256);
    r->binary[big] = 1;
    r->watch_a = big;
    r->watch_b = small;
    p->user = r;
    p->on_event = rx_on_event;
    dpair_run(p, SEC, NULL);
    ck_assert_int_eq(send_seq(p, 0, big, 0, 256 * 1024, 1), 0);
    for (uint32_t i = 0; i < 200; i++) {
      ck_assert_int_eq(send_seq(p, 0, small, i, 100, 0), 0);
      if (i % 10 == 9)
        dpair_run(p, 5 * MS, NULL);
    }
    want_each = 200;
    want_ch = small;
    ck_assert(dpair_run(p, 60 * SEC, reliable_done));
    dpair_run(p, 5 * SEC, NULL);
    ck_assert_uint_eq(r->got[1][big], 1);
    ck_assert_uint_eq(r->corrupt[1] + r->out_of_order[1], 0);
    printf("interleaving %d: %llu of 200 small messages arrived before the 256 KiB one\n", il,
           (unsigned long long)r->b_before_a_done);
    if (il)
      ck_assert_uint_ge(r->b_before_a_done, 100);
    rx_free(r);
    dpair_free(p);
  }
}
END_TEST

/* ---- the whole stack: SCTP in DTLS in the link ------------------------------------------ */

START_TEST(the_whole_stack_carries_channels_over_dtls_under_loss) {
  uint64_t seed = 4000 + (uint64_t)_i;
  link_config lc = {.seed = seed, .loss = 0.05, .reorder = 0.05};
  dpair *p = dpair_new_stack(&lc, NULL, NULL);
  dpair_connect(p);
  /* CONNECTED repeats the transport's payload (checked in count_event) */
  for (int s = 0; s < 2; s++) {
    ck_assert_str_ne(p->tp->side[s].info.version, "");
    ck_assert_int_eq(p->side[s].bad_event, 0);
  }
  uint16_t a = open_ch(p, 0, "stack-a", 1, RTCSEC_CHANNEL_RELIABLE, 0);
  uint16_t b = open_ch(p, 1, "stack-b", 1, RTCSEC_CHANNEL_RELIABLE, 0);
  wait_open(p, a);
  wait_open(p, b);
  rx *r = rx_new(1000);
  r->binary[a] = 1;
  p->user = r;
  p->on_event = rx_on_event;
  for (uint32_t i = 0; i < 1000; i++) {
    ck_assert_int_eq(send_seq(p, 0, a, i, 20 + (i * 53u) % 4000, 1), 0);
    ck_assert_int_eq(send_seq(p, 1, b, i, 20 + (i * 31u) % 2000, 0), 0);
    if (i % 100 == 99)
      dpair_run(p, 50 * MS, NULL);
  }
  for (int guard = 0; guard < 6000 && (r->got[1][a] < 1000 || r->got[0][b] < 1000); guard++)
    dpair_run(p, 50 * MS, NULL);
  ck_assert_msg(r->got[1][a] == 1000 && r->got[0][b] == 1000, "got %llu / %llu (seed %llu)",
                (unsigned long long)r->got[1][a], (unsigned long long)r->got[0][b],
                (unsigned long long)seed);
  for (int s = 0; s < 2; s++)
    ck_assert_uint_eq(r->out_of_order[s] + r->dup[s] + r->corrupt[s] + r->wrong_type[s], 0);
  /* every SCTP packet went as one DTLS record in one datagram of <= 1200 */
  ck_assert_uint_le(link_get_stats(p->link)->max_len, 1200);
  rx_free(r);
  dpair_free(p);
}
END_TEST

START_TEST(the_association_closes_cleanly_when_dtls_closes) {
  dpair *p = dpair_new_stack(NULL, NULL, NULL);
  dpair_connect(p);
  uint16_t a = open_ch(p, 0, "a", 1, RTCSEC_CHANNEL_RELIABLE, 0);
  uint16_t b = open_ch(p, 1, "b", 1, RTCSEC_CHANNEL_RELIABLE, 0);
  ck_assert_int_eq(send_seq(p, 0, a, 0, 1000, 0), 0);
  dpair_run(p, SEC, NULL);
  ck_assert_uint_eq(p->side[1].messages[a], 1);
  /* side 0 closes DTLS: close_notify; its own association ends at once */
  ck_assert_int_eq(rtcsec_transport_close(p->side[0].ht.t, p->now), 0);
  ck_assert_int_eq(rtcsec_dc_transport_closed(p->side[0].dc, p->now), 0);
  ck_assert(dpair_run(p, 5 * SEC, both_final));
  for (int i = 0; i < 2; i++) {
    ck_assert_int_eq(p->side[i].closed, 1);
    ck_assert_int_eq(p->side[i].failed, 0);
    ck_assert_int_eq(p->side[i].closed_events[a], 1);
    ck_assert_int_eq(p->side[i].closed_events[b], 1);
    ck_assert_uint_eq(rtcsec_dc_deadline(p->side[i].dc), UINT64_MAX);
    size_t n = 1;
    uint8_t buf[2048];
    ck_assert_int_eq(rtcsec_dc_poll_datagram(p->side[i].dc, buf, sizeof(buf), &n), 0);
    ck_assert_uint_eq(n, 0); /* nothing left to send */
  }
  ck_assert_int_eq(p->side[1].transport_closed, 1); /* it learnt it from close_notify */
  /* usrsctp holds no association for either side any more: no timer of
   * theirs retransmits into the void */
  for (int i = 0; i < 2; i++) {
    struct sctp_status status;
    socklen_t len = (socklen_t)sizeof(status);
    memset(&status, 0, sizeof(status));
    int rc = usrsctp_getsockopt(p->side[i].dc->sock, IPPROTO_SCTP, SCTP_STATUS, &status, &len);
    ck_assert_msg(rc != 0 || status.sstat_state == SCTP_CLOSED, "side %d: state %d", i,
                  (int)status.sstat_state);
  }
  ck_assert_int_eq(send_seq(p, 1, b, 0, 10, 0), RTCSEC_ERR_CLOSED);
  dpair_free(p);
}
END_TEST

START_TEST(a_graceful_end_shuts_sctp_down_before_dtls) {
  dpair *p = dpair_new_stack(NULL, NULL, NULL);
  dpair_connect(p);
  uint16_t a = open_ch(p, 1, "a", 1, RTCSEC_CHANNEL_RELIABLE, 0);
  ck_assert_int_eq(send_seq(p, 1, a, 0, 60000, 1), 0);
  ck_assert_int_eq(rtcsec_dc_close(p->side[1].dc, p->now), 0);
  ck_assert(dpair_run(p, 10 * SEC, both_final));
  ck_assert_int_eq(p->side[0].closed, 1);
  ck_assert_int_eq(p->side[1].closed, 1);
  ck_assert_uint_eq(p->side[0].messages[a], 1);
  ck_assert_int_eq(p->side[0].transport_closed + p->side[1].transport_closed, 0);
  for (int i = 0; i < 2; i++)
    ck_assert_int_eq(rtcsec_transport_close(p->side[i].ht.t, p->now), 0);
  dpair_free(p);
}
END_TEST

/* ---- bad input ------------------------------------------------------------------------------ */

/* A healthy channel between the two, checked before and after an attack. */
static void check_alive(dpair *p, uint16_t id, uint32_t seq) {
  uint64_t before = p->side[0].messages[id];
  ck_assert_int_eq(send_seq(p, 1, id, seq, 64, 0), 0);
  dpair_run(p, 500 * MS, NULL);
  ck_assert_msg(p->side[0].messages[id] == before + 1, "channel %u stopped", id);
  ck_assert_int_eq(p->side[0].failed + p->side[1].failed, 0);
}

static uint16_t healthy(dpair *p) {
  uint16_t id = open_ch(p, 1, "healthy", 1, RTCSEC_CHANNEL_RELIABLE, 0);
  dpair_run(p, 200 * MS, NULL);
  check_alive(p, id, 0);
  return id;
}

static size_t valid_open(uint8_t *buf, size_t cap) {
  dcep_open o;
  memset(&o, 0, sizeof(o));
  o.ordered = 1;
  o.reliability = RTCSEC_CHANNEL_RELIABLE;
  o.label = (const uint8_t *)"label";
  o.label_len = 5;
  o.protocol = (const uint8_t *)"proto";
  o.protocol_len = 5;
  size_t n = 0;
  ck_assert_int_eq(dcep_write_open(&o, buf, cap, &n), 0);
  return n;
}

START_TEST(malformed_dcep_opens_are_refused_and_harm_no_other_channel) {
  dpair *p = dpair_new(NULL, NULL, NULL);
  dpair_connect(p);
  uint16_t ok = healthy(p);
  uint8_t good[64];
  size_t n = valid_open(good, sizeof(good));
  uint8_t bad[80];
  uint16_t sid = 101; /* the server's (side 1's) parity: valid ids */
  uint64_t attempts = 0;
  /* truncated at every byte (SCTP sends no empty message) */
  for (size_t cut = 1; cut < n; cut++) {
    ck_assert_int_ge(rtcsec_dc_test_send_raw(p->side[1].dc, sid, DC_PPID_DCEP, good, cut, 0), 0);
    sid += 2;
    attempts++;
  }
  /* every length field wrong, both ways */
  static const int deltas[] = {-1, 1, 200};
  for (size_t d = 0; d < 3; d++) {
    for (int field = 0; field < 2; field++) {
      memcpy(bad, good, n);
      size_t at = field == 0 ? 8 : 10;
      uint16_t v = (uint16_t)(bad[at] << 8 | bad[at + 1]);
      v = (uint16_t)(v + deltas[d]);
      bad[at] = (uint8_t)(v >> 8);
      bad[at + 1] = (uint8_t)v;
      ck_assert_int_ge(rtcsec_dc_test_send_raw(p->side[1].dc, sid, DC_PPID_DCEP, bad, n, 0), 0);
      sid += 2;
      attempts++;
    }
  }
  /* a byte more than the lengths say */
  memcpy(bad, good, n);
  bad[n] = 'x';
  ck_assert_int_ge(rtcsec_dc_test_send_raw(p->side[1].dc, sid, DC_PPID_DCEP, bad, n + 1, 0), 0);
  sid += 2;
  attempts++;
  /* an unknown channel type, a label that is not UTF-8, a NUL in it */
  static const struct {
    size_t at;
    uint8_t v;
  } pokes[] = {{1, 0x03}, {1, 0x7F}, {12, 0xFF}, {13, 0x00}, {17, 0xC0}};
  for (size_t k = 0; k < sizeof(pokes) / sizeof(pokes[0]); k++) {
    memcpy(bad, good, n);
    bad[pokes[k].at] = pokes[k].v;
    ck_assert_int_ge(rtcsec_dc_test_send_raw(p->side[1].dc, sid, DC_PPID_DCEP, bad, n, 0), 0);
    sid += 2;
    attempts++;
  }
  dpair_run(p, SEC, NULL);
  rtcsec_dc_stats st = stats(p, 0);
  ck_assert_uint_eq(st.dcep_malformed, attempts);
  ck_assert_uint_eq(st.dcep_rejected, attempts);
  for (uint16_t s = 101; s < sid; s += 2)
    ck_assert_int_eq(p->side[0].open_events[s], 0);
  ck_assert_uint_eq(st.channels, 1);
  /* an unknown DCEP message type and a long ACK: dropped, nothing closed */
  static const uint8_t odd_type[] = {0x07, 0, 0};
  static const uint8_t long_ack[] = {DCEP_ACK, 0};
  ck_assert_int_ge(rtcsec_dc_test_send_raw(p->side[1].dc, ok, DC_PPID_DCEP, odd_type, 3, 0), 0);
  ck_assert_int_ge(rtcsec_dc_test_send_raw(p->side[1].dc, ok, DC_PPID_DCEP, long_ack, 2, 0), 0);
  dpair_run(p, SEC, NULL);
  ck_assert_uint_eq(stats(p, 0).dcep_malformed, st.dcep_malformed + 2);
  check_alive(p, ok, 1);
  dpair_free(p);
}
END_TEST

START_TEST(an_unknown_ppid_is_dropped_and_counted) {
  dpair *p = dpair_new(NULL, NULL, NULL);
  dpair_connect(p);
  uint16_t ok = healthy(p);
  static const uint8_t junk[] = {1, 2, 3};
  ck_assert_int_ge(rtcsec_dc_test_send_raw(p->side[1].dc, ok, 99, junk, 3, 0), 0);
  ck_assert_int_ge(rtcsec_dc_test_send_raw(p->side[1].dc, ok, 0, junk, 3, 0), 0);
  /* and one in pieces, larger than the receive buffer */
  uint8_t *big = calloc(1, 40000);
  ck_assert_int_ge(rtcsec_dc_test_send_raw(p->side[1].dc, ok, 1234, big, 40000, 0), 0);
  free(big);
  dpair_run(p, SEC, NULL);
  rtcsec_dc_stats st = stats(p, 0);
  ck_assert_uint_eq(st.drop_unknown_ppid, 3);
  rtcsec_dc_channel_stats cs;
  ck_assert_int_eq(rtcsec_dc_get_channel_stats(p->side[0].dc, ok, &cs), 0);
  ck_assert_uint_eq(cs.drop_unknown_ppid, 3);
  check_alive(p, ok, 1);
  dpair_free(p);
}
END_TEST

START_TEST(deprecated_partial_ppids_are_joined_and_never_sent) {
  dpair *p = dpair_new(NULL, NULL, NULL);
  dpair_connect(p);
  uint16_t ok = healthy(p);
  uint8_t msg[300];
  dpair_fill(msg, sizeof(msg), ok, 1);
  /* RFC 8831 §8: 54 (string partial) pieces, then 51 ends the message */
  ck_assert_int_ge(rtcsec_dc_test_send_raw(p->side[1].dc, ok, DC_PPID_STRING_PARTIAL, msg, 100, 0),
                   0);
  ck_assert_int_ge(
      rtcsec_dc_test_send_raw(p->side[1].dc, ok, DC_PPID_STRING_PARTIAL, msg + 100, 100, 0), 0);
  ck_assert_int_ge(rtcsec_dc_test_send_raw(p->side[1].dc, ok, DC_PPID_STRING, msg + 200, 100, 0),
                   0);
  rx *r = rx_new(8);
  r->next[0][ok] = 1;
  p->user = r;
  p->on_event = rx_on_event;
  dpair_run(p, SEC, NULL);
  ck_assert_uint_eq(r->got[0][ok], 1); /* one message of 300 bytes, intact */
  ck_assert_uint_eq(r->corrupt[0], 0);
  rx_free(r);
  dpair_free(p);
}
END_TEST

START_TEST(an_open_with_the_wrong_parity_is_refused) {
  dpair *p = dpair_new(NULL, NULL, NULL);
  dpair_connect(p);
  uint16_t ok = healthy(p);
  uint8_t good[64];
  size_t n = valid_open(good, sizeof(good));
  /* side 1 is the DTLS server: even ids are side 0's (RFC 8832 §6) */
  ck_assert_int_ge(rtcsec_dc_test_send_raw(p->side[1].dc, 4, DC_PPID_DCEP, good, n, 0), 0);
  dpair_run(p, SEC, NULL);
  ck_assert_int_eq(p->side[0].open_events[4], 0);
  rtcsec_dc_stats st = stats(p, 0);
  ck_assert_uint_eq(st.dcep_rejected, 1);
  ck_assert_uint_eq(st.dcep_opens_received, 2); /* the healthy channel's and this one */
  ck_assert_uint_eq(st.channels, 1);
  check_alive(p, ok, 1);
  /* side 0's own channels still open, on its own even ids */
  uint16_t mine = open_ch(p, 0, "mine", 1, RTCSEC_CHANNEL_RELIABLE, 0);
  ck_assert_uint_eq(mine % 2, 0);
  dpair_run(p, SEC, NULL);
  ck_assert_int_eq(p->side[1].open_events[mine], 1);
  dpair_free(p);
}
END_TEST

START_TEST(an_open_for_an_id_already_open_closes_that_channel_only) {
  dpair *p = dpair_new(NULL, NULL, NULL);
  dpair_connect(p);
  uint16_t ok = healthy(p);
  uint16_t victim = open_ch(p, 1, "victim", 1, RTCSEC_CHANNEL_RELIABLE, 0);
  dpair_run(p, 500 * MS, NULL);
  ck_assert_int_eq(p->side[0].open_events[victim], 1);
  uint8_t good[64];
  size_t n = valid_open(good, sizeof(good));
  ck_assert_int_ge(rtcsec_dc_test_send_raw(p->side[1].dc, victim, DC_PPID_DCEP, good, n, 0), 0);
  dpair_run(p, 2 * SEC, NULL);
  /* RFC 8832 §6: an OPEN on a used stream closes the channel there */
  ck_assert_int_eq(p->side[0].open_events[victim], 1);
  ck_assert_int_eq(p->side[0].closed_events[victim], 1);
  ck_assert_int_eq(p->side[1].closed_events[victim], 1);
  ck_assert_uint_eq(stats(p, 0).dcep_rejected, 1);
  check_alive(p, ok, 1);
  dpair_free(p);
}
END_TEST

START_TEST(sixty_five_thousand_opens_leave_the_association_usable) {
  rtcsec_dc_config c0 = cfg_for(0), c1 = cfg_for(1);
  c0.max_channels = 64;
  dpair *p = dpair_new(NULL, &c0, &c1);
  dpair_connect(p);
  uint16_t ok = healthy(p);
  uint8_t good[64];
  size_t n = valid_open(good, sizeof(good));
  uint32_t sent = 0, k = 0;
  size_t max_channels_seen = 0;
  for (int guard = 0; guard < 20000 && sent < 65535; guard++) {
    for (int b = 0; b < 500 && sent < 65535; b++, k++) {
      uint16_t sid = (uint16_t)(1 + 2 * (k % 511)); /* every odd id below 1024 */
      if (sid == ok)
        continue;
      if (rtcsec_dc_test_send_raw(p->side[1].dc, sid, DC_PPID_DCEP, good, n, 0) > 0)
        sent++;
    }
    dpair_run(p, 20 * MS, NULL);
    size_t ch = stats(p, 0).channels;
    if (ch > max_channels_seen)
      max_channels_seen = ch;
  }
  ck_assert_uint_eq(sent, 65535);
  dpair_run(p, 5 * SEC, NULL);
  rtcsec_dc_stats st = stats(p, 0);
  ck_assert_uint_eq(st.dcep_opens_received, 65535 + 1); /* + the healthy channel's */
  ck_assert_uint_le(max_channels_seen, 64);
  ck_assert_uint_gt(st.dcep_rejected, 65535 - 64 * 2);
  printf("65535 OPENs: %llu accepted, %llu refused, at most %zu channels at once\n",
         (unsigned long long)st.channels_opened, (unsigned long long)st.dcep_rejected,
         max_channels_seen);
  check_alive(p, ok, 1);
  dpair_free(p);
}
END_TEST

START_TEST(data_on_a_stream_without_a_channel_is_dropped) {
  dpair *p = dpair_new(NULL, NULL, NULL);
  dpair_connect(p);
  uint16_t ok = healthy(p);
  static const uint8_t hi[] = "hi";
  ck_assert_int_ge(rtcsec_dc_test_send_raw(p->side[1].dc, 33, DC_PPID_STRING, hi, 2, 0), 0);
  ck_assert_int_ge(
      rtcsec_dc_test_send_raw(p->side[1].dc, 33, DC_PPID_DCEP, (const uint8_t *)"\2", 1, 0),
      0); /* an ACK for nothing */
  dpair_run(p, SEC, NULL);
  rtcsec_dc_stats st = stats(p, 0);
  ck_assert_uint_eq(st.drop_no_channel, 1);
  ck_assert_uint_eq(st.dcep_malformed, 1);
  ck_assert_uint_eq(p->side[0].messages_total, 1); /* only the healthy channel's */
  check_alive(p, ok, 1);
  dpair_free(p);
}
END_TEST

static void put_crc(uint8_t *pkt, size_t len) {
  pkt[8] = pkt[9] = pkt[10] = pkt[11] = 0;
  uint32_t crc = usrsctp_crc32c(pkt, len);
  memcpy(pkt + 8, &crc, 4); /* usrsctp gives it in wire order */
}

START_TEST(garbage_sctp_packets_are_dropped_and_counted) {
  dpair *p = dpair_new(NULL, NULL, NULL);
  dpair_connect(p);
  uint16_t ok = healthy(p);
  /* a real packet from side 1, held back from the link */
  ck_assert_int_eq(send_seq(p, 1, ok, 1, 100, 0), 0);
  uint8_t pkt[2048];
  size_t n = 0;
  ck_assert_int_eq(rtcsec_dc_poll_datagram(p->side[1].dc, pkt, sizeof(pkt), &n), 0);
  ck_assert_uint_gt(n, 28);
  uint8_t bad[2048];
  /* bad CRC32c */
  memcpy(bad, pkt, n);
  bad[n - 1] ^= 0x40;
  ck_assert_int_eq(rtcsec_dc_handle_datagram(p->side[0].dc, bad, n, p->now),
                   RTCSEC_ERR_DC_PACKET_DROPPED);
  ck_assert_uint_eq(stats(p, 0).drop_checksum, 1);
  /* wrong verification tag, right CRC */
  memcpy(bad, pkt, n);
  bad[4] ^= 0x55;
  put_crc(bad, n);
  ck_assert_int_eq(rtcsec_dc_handle_datagram(p->side[0].dc, bad, n, p->now),
                   RTCSEC_ERR_DC_PACKET_DROPPED);
  ck_assert_uint_eq(stats(p, 0).drop_vtag, 1);
  /* shorter than a common header; nothing at all */
  ck_assert_int_eq(rtcsec_dc_handle_datagram(p->side[0].dc, pkt, 11, p->now),
                   RTCSEC_ERR_DC_PACKET_DROPPED);
  ck_assert_int_eq(rtcsec_dc_handle_datagram(p->side[0].dc, pkt, 0, p->now),
                   RTCSEC_ERR_DC_PACKET_DROPPED);
  ck_assert_uint_eq(stats(p, 0).drop_malformed, 2);
  /* random bytes: never accepted, never fatal */
  uint64_t rng = 5;
  for (int k = 0; k < 2000; k++) {
    size_t len = 1 + test_rand_next(&rng) % 1200;
    for (size_t i = 0; i < len; i++)
      bad[i] = (uint8_t)test_rand_next(&rng);
    if (k % 2)
      put_crc(bad, len);
    rtcsec_dc_handle_datagram(p->side[0].dc, bad, len, p->now);
  }
  /* the held packet, late, still counts: the message arrives */
  ck_assert_int_eq(rtcsec_dc_handle_datagram(p->side[0].dc, pkt, n, p->now), 0);
  dpair_run(p, 500 * MS, NULL);
  ck_assert_uint_eq(p->side[0].messages[ok], 2);
  check_alive(p, ok, 2);
  ck_assert_int_eq(stats(p, 0).state, RTCSEC_DC_STATE_CONNECTED);
  dpair_free(p);
}
END_TEST

/* A carrier for rtcsec_dc_pump(): hands packets to the other side, or
 * refuses them with `refuse`. */
typedef struct carrier {
  rtcsec_dc *to;
  int refuse, calls, delivered;
} carrier;

static int carry(void *user, const uint8_t *packet, size_t len, uint64_t now) {
  carrier *c = user;
  c->calls++;
  if (c->refuse != 0)
    return c->refuse;
  c->delivered++;
  return rtcsec_dc_handle_datagram(c->to, packet, len, now);
}

START_TEST(the_pump_hands_packets_to_any_carrier_and_reports_refusal) {
  dpair *p = dpair_new(NULL, NULL, NULL);
  carrier c[2] = {{p->side[1].dc, 0, 0, 0}, {p->side[0].dc, 0, 0, 0}};
  ck_assert_int_eq(rtcsec_dc_pump(p->side[0].dc, NULL, NULL, p->now), RTCSEC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(rtcsec_dc_pump(NULL, carry, &c[0], p->now), RTCSEC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(rtcsec_dc_pump(p->side[0].dc, carry, &c[0], p->now), 0); /* nothing yet */
  rtcsec_connected_info info[2] = {dpair_plain_dtls(RTCSEC_DTLS_CLIENT),
                                   dpair_plain_dtls(RTCSEC_DTLS_SERVER)};
  for (int i = 0; i < 2; i++)
    ck_assert_int_eq(rtcsec_dc_start(p->side[i].dc, &info[i], p->now), 0);
  /* a carrier that is not ready: the INIT is lost, the error comes back */
  c[0].refuse = RTCSEC_ERR_INVALID_STATE;
  ck_assert_int_eq(rtcsec_dc_pump(p->side[0].dc, carry, &c[0], p->now), RTCSEC_ERR_INVALID_STATE);
  ck_assert_int_eq(c[0].calls, 1);
  ck_assert_int_eq(c[0].delivered, 0);
  c[0].refuse = 0;
  /* from now on only the pump carries packets, both ways; SCTP repeats the
   * lost INIT and the association comes up */
  for (int k = 0; k < 2000 && !(p->side[0].connected && p->side[1].connected); k++) {
    for (int i = 0; i < 2; i++) {
      ck_assert_int_ge(rtcsec_dc_pump(p->side[i].dc, carry, &c[i], p->now), 0);
      if (rtcsec_dc_deadline(p->side[i].dc) <= p->now)
        rtcsec_dc_handle_timeout(p->side[i].dc, p->now);
    }
    dpair_poll(p);
    p->now += 10 * MS;
    fakeclock_set(p->now);
  }
  ck_assert_int_eq(p->side[0].connected, 1);
  ck_assert_int_eq(p->side[1].connected, 1);
  ck_assert_int_gt(c[0].delivered, 0);
  ck_assert_int_gt(c[1].delivered, 0);
  ck_assert_int_eq(p->side[0].bad_event + p->side[1].bad_event, 0);
  dpair_free(p);
}
END_TEST

START_TEST(calls_in_the_wrong_state_are_refused) {
  rtcsec_dc_config c = cfg_for(0);
  rtcsec_dc *dc = NULL;
  c.max_packet_size = 100;
  ck_assert_int_eq(rtcsec_dc_new(&dc, &c), RTCSEC_ERR_INVALID_ARGUMENT);
  c = cfg_for(0);
  c.local_port = 0;
  ck_assert_int_eq(rtcsec_dc_new(&dc, &c), RTCSEC_ERR_INVALID_ARGUMENT);
  c = cfg_for(0);
  ck_assert_int_eq(rtcsec_dc_new(&dc, &c), 0);
  uint8_t pkt[64] = {0};
  ck_assert_int_eq(rtcsec_dc_handle_datagram(dc, pkt, sizeof(pkt), 1), RTCSEC_ERR_INVALID_STATE);
  ck_assert_int_eq(rtcsec_dc_send(dc, 0, pkt, 1, 0, 1), RTCSEC_ERR_DC_CHANNEL_CLOSED);
  rtcsec_connected_info info = dpair_plain_dtls(RTCSEC_DTLS_SERVER);
  /* the DTLS role decides the ids' parity: it must be the configured one */
  ck_assert_int_eq(rtcsec_dc_start(dc, NULL, 1), RTCSEC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(rtcsec_dc_start(dc, &info, 1), RTCSEC_ERR_INVALID_ARGUMENT);
  info.role = RTCSEC_DTLS_CLIENT;
  ck_assert_int_eq(rtcsec_dc_start(dc, &info, 1), 0);
  ck_assert_int_eq(rtcsec_dc_start(dc, &info, 1), RTCSEC_ERR_INVALID_STATE);
  ck_assert_int_eq(rtcsec_dc_close(dc, 2), 0);
  rtcsec_event ev;
  ck_assert_int_eq(rtcsec_dc_poll_event(dc, &ev), 0);
  ck_assert_int_eq(ev.type, RTCSEC_EVENT_CLOSED);
  ck_assert_int_eq(rtcsec_dc_poll_event(dc, &ev), 0);
  ck_assert_int_eq(ev.type, RTCSEC_EVENT_NONE);
  uint16_t id;
  rtcsec_dc_channel_config cc;
  rtcsec_dc_channel_config_default(&cc);
  ck_assert_int_eq(rtcsec_dc_open_channel(dc, &cc, &id, 3), RTCSEC_ERR_INVALID_STATE);
  ck_assert_int_eq(rtcsec_dc_poll_event(NULL, &ev), RTCSEC_ERR_INVALID_ARGUMENT);
  ck_assert_str_eq(rtcsec_dc_state_name(RTCSEC_DC_STATE_CLOSED), "closed");
  ck_assert_str_eq(rtcsec_strerror(RTCSEC_ERR_DC_TIMEOUT),
                   "SCTP association could not be set up or the peer stopped answering");
  rtcsec_dc_free(dc);
  rtcsec_dc_free(NULL);
}
END_TEST

/* ---- SDP (RFC 8841) ---------------------------------------------------------------------------
 */

START_TEST(sdp_media_line_parses_and_formats) {
  uint16_t port;
  rtcsec_sdp_dc_proto proto;
  const char *line = "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n";
  ck_assert_int_eq(rtcsec_sdp_dc_media_parse(&port, &proto, line, strlen(line)), 0);
  ck_assert_uint_eq(port, 9);
  ck_assert_int_eq(proto, RTCSEC_SDP_DC_UDP_DTLS_SCTP);
  const char *tcp = "m=application 0 TCP/DTLS/SCTP webrtc-datachannel";
  ck_assert_int_eq(rtcsec_sdp_dc_media_parse(&port, &proto, tcp, strlen(tcp)), 0);
  ck_assert_uint_eq(port, 0);
  ck_assert_int_eq(proto, RTCSEC_SDP_DC_TCP_DTLS_SCTP);
  static const char *unsupported[] = {
      "m=application 9 DTLS/SCTP 5000", /* pre-RFC 8841 */
      "m=audio 9 UDP/TLS/RTP/SAVPF 111",
      "m=application 9 UDP/DTLS/SCTP other",
      "m=video 9 UDP/DTLS/SCTP webrtc-datachannel",
  };
  for (size_t i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++)
    ck_assert_int_eq(
        rtcsec_sdp_dc_media_parse(&port, &proto, unsupported[i], strlen(unsupported[i])),
        RTCSEC_ERR_UNSUPPORTED);
  static const char *bad[] = {
      "m=application 9 UDP/DTLS/SCTP",
      "m=application 9 UDP/DTLS/SCTP webrtc-datachannel extra",
      "m=application 70000 UDP/DTLS/SCTP webrtc-datachannel",
      "m=application 9/2 UDP/DTLS/SCTP webrtc-datachannel",
      "m=application  9 UDP/DTLS/SCTP webrtc-datachannel",
      "a=application 9 UDP/DTLS/SCTP webrtc-datachannel",
      "m=application x UDP/DTLS/SCTP webrtc-datachannel",
      "",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    ck_assert_msg(rtcsec_sdp_dc_media_parse(&port, &proto, bad[i], strlen(bad[i])) ==
                      RTCSEC_ERR_PARSE,
                  "%s", bad[i]);
  char buf[128];
  size_t n = 0;
  ck_assert_int_eq(rtcsec_sdp_dc_media_format(9, RTCSEC_SDP_DC_UDP_DTLS_SCTP, buf, sizeof(buf), &n),
                   0);
  ck_assert_str_eq(buf, "m=application 9 UDP/DTLS/SCTP webrtc-datachannel");
  ck_assert_uint_eq(n, strlen(buf));
  ck_assert_int_eq(rtcsec_sdp_dc_media_format(9, RTCSEC_SDP_DC_UDP_DTLS_SCTP, buf, 10, &n),
                   RTCSEC_ERR_BUFFER_TOO_SMALL);
  ck_assert_uint_eq(n, strlen("m=application 9 UDP/DTLS/SCTP webrtc-datachannel"));
  ck_assert_int_eq(rtcsec_sdp_dc_media_format(9, (rtcsec_sdp_dc_proto)5, buf, sizeof(buf), &n),
                   RTCSEC_ERR_INVALID_ARGUMENT);
}
END_TEST

START_TEST(sdp_sctp_port_and_max_message_size_parse_and_format) {
  uint16_t port = 0;
  ck_assert_int_eq(rtcsec_sdp_sctp_port_parse(&port, "a=sctp-port:5000\r\n", 18), 0);
  ck_assert_uint_eq(port, 5000);
  ck_assert_int_eq(rtcsec_sdp_sctp_port_parse(&port, "sctp-port:65535", 15), 0);
  ck_assert_uint_eq(port, 65535);
  static const char *bad_ports[] = {
      "a=sctp-port:0",      "a=sctp-port:65536", "a=sctp-port:",  "a=sctp-port:50 00",
      "a=sctp-port:123456", "a=sctpport:5000",   "a=sctp-port:-1"};
  for (size_t i = 0; i < sizeof(bad_ports) / sizeof(bad_ports[0]); i++)
    ck_assert_msg(rtcsec_sdp_sctp_port_parse(&port, bad_ports[i], strlen(bad_ports[i])) ==
                      RTCSEC_ERR_PARSE,
                  "%s", bad_ports[i]);
  size_t mms = 0;
  ck_assert_int_eq(rtcsec_sdp_max_message_size_parse(&mms, "a=max-message-size:262144", 25), 0);
  ck_assert_uint_eq(mms, 262144);
  /* RFC 8841 §6.1: 0 is "any size" */
  ck_assert_int_eq(rtcsec_sdp_max_message_size_parse(&mms, "a=max-message-size:0", 20), 0);
  ck_assert_uint_eq(mms, RTCSEC_DC_MESSAGE_SIZE_ANY);
  const char *huge = "a=max-message-size:99999999999999999999999";
  ck_assert_int_eq(rtcsec_sdp_max_message_size_parse(&mms, huge, strlen(huge)), 0);
  ck_assert_uint_eq(mms, RTCSEC_DC_MESSAGE_SIZE_ANY);
  ck_assert_int_eq(rtcsec_sdp_max_message_size_parse(&mms, "a=max-message-size:0065536", 26), 0);
  ck_assert_uint_eq(mms, 65536);
  static const char *bad_sizes[] = {"a=max-message-size:", "a=max-message-size:12a",
                                    "a=max-message-size: 1", "a=max-message-size:-5"};
  for (size_t i = 0; i < sizeof(bad_sizes) / sizeof(bad_sizes[0]); i++)
    ck_assert_msg(rtcsec_sdp_max_message_size_parse(&mms, bad_sizes[i], strlen(bad_sizes[i])) ==
                      RTCSEC_ERR_PARSE,
                  "%s", bad_sizes[i]);
  char buf[64];
  size_t n;
  ck_assert_int_eq(rtcsec_sdp_sctp_port_format(5000, buf, sizeof(buf), &n), 0);
  ck_assert_str_eq(buf, "sctp-port:5000");
  ck_assert_int_eq(rtcsec_sdp_sctp_port_format(0, buf, sizeof(buf), &n),
                   RTCSEC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(rtcsec_sdp_max_message_size_format(262144, buf, sizeof(buf), &n), 0);
  ck_assert_str_eq(buf, "max-message-size:262144");
  ck_assert_int_eq(
      rtcsec_sdp_max_message_size_format(RTCSEC_DC_MESSAGE_SIZE_ANY, buf, sizeof(buf), &n), 0);
  ck_assert_str_eq(buf, "max-message-size:0");
  /* round trip through the parser */
  ck_assert_int_eq(rtcsec_sdp_max_message_size_parse(&mms, buf, n), 0);
  ck_assert_uint_eq(mms, RTCSEC_DC_MESSAGE_SIZE_ANY);
  /* the core's line rules apply: over 1024 bytes, control characters */
  char longline[1100];
  memset(longline, '1', sizeof(longline));
  memcpy(longline, "a=sctp-port:", 12);
  ck_assert_int_eq(rtcsec_sdp_sctp_port_parse(&port, longline, sizeof(longline)),
                   RTCSEC_ERR_TOO_LARGE);
  ck_assert_int_eq(rtcsec_sdp_sctp_port_parse(&port,
                                              "a=sctp-port:50\0"
                                              "0",
                                              16),
                   RTCSEC_ERR_PARSE);
}
END_TEST

int main(void) {
  Suite *s = suite_create("datachannel");
  TCase *basic = tcase_create("association");
  tcase_set_timeout(basic, 120);
  tcase_add_test(basic, association_connects_without_a_timer_thread_and_reports_connected_once);
  tcase_add_test(basic, dcep_channel_opens_on_both_sides_with_its_parameters);
  tcase_add_test(basic, the_receiver_learns_label_protocol_and_reliability_from_the_open);
  tcase_add_test(basic, negotiated_channels_skip_dcep);
  tcase_add_test(basic, ids_follow_the_dtls_role_and_are_checked);
  tcase_add_test(basic, string_binary_and_empty_messages_keep_their_type);
  tcase_add_test(basic, messages_the_size_of_the_receive_buffer_are_delivered);
  tcase_add_test(basic, an_echo_sends_each_message_back_from_the_event_itself);
  tcase_add_test(basic, a_message_over_the_peers_max_message_size_is_refused);
  tcase_add_test(basic, a_message_over_our_max_message_size_is_dropped_and_counted);
  tcase_add_test(basic, every_packet_fits_one_dtls_record_in_a_1200_byte_datagram);
  tcase_add_test(basic, buffered_amount_rises_and_the_low_event_fires_once_when_it_drains);
  tcase_add_test(basic, the_send_queue_is_bounded);
  tcase_add_test(basic, closing_a_channel_resets_both_directions_and_frees_the_id);
  tcase_add_test(basic, a_hundred_channels_open_and_close_from_both_sides);
  tcase_add_test(basic, shutdown_closes_every_channel_then_the_association_on_both_sides);
  tcase_add_test(basic, an_unreachable_peer_fails_the_association_with_a_timeout);
  tcase_add_test(basic, an_idle_association_wakes_once_per_idle_tick_a_busy_one_every_tick);
  tcase_add_test(basic, the_pump_hands_packets_to_any_carrier_and_reports_refusal);
  tcase_add_test(basic, calls_in_the_wrong_state_are_refused);
  tcase_add_test(basic, a_call_on_one_association_runs_the_others_timers_and_wakes_it);
  tcase_add_test(basic, two_threads_with_a_pair_each_share_usrsctp_safely);
  suite_add_tcase(s, basic);

  TCase *loss = tcase_create("loss");
  tcase_set_timeout(loss, 600);
  /* seeds: 1000.., 2000.., 3000.., 4000.. (printed on failure) */
  tcase_add_loop_test(loss, ten_thousand_messages_each_way_ordered_reliable_under_10pct_loss, 0,
                      10);
  tcase_add_loop_test(loss, unordered_reliable_under_loss_delivers_everything_once, 0, 5);
  tcase_add_loop_test(loss, max_retransmits_zero_loses_some_and_stalls_nothing, 0, 5);
  tcase_add_test(loss, max_lifetime_drops_what_is_too_old);
  tcase_add_test(loss, a_256_kib_message_does_not_hold_up_small_ones_with_interleaving);
  suite_add_tcase(s, loss);

  TCase *stack = tcase_create("stack");
  tcase_set_timeout(stack, 300);
  tcase_add_loop_test(stack, the_whole_stack_carries_channels_over_dtls_under_loss, 0, 4);
  tcase_add_test(stack, the_association_closes_cleanly_when_dtls_closes);
  tcase_add_test(stack, a_graceful_end_shuts_sctp_down_before_dtls);
  suite_add_tcase(s, stack);

  TCase *bad = tcase_create("bad_input");
  tcase_set_timeout(bad, 300);
  tcase_add_test(bad, malformed_dcep_opens_are_refused_and_harm_no_other_channel);
  tcase_add_test(bad, an_unknown_ppid_is_dropped_and_counted);
  tcase_add_test(bad, deprecated_partial_ppids_are_joined_and_never_sent);
  tcase_add_test(bad, an_open_with_the_wrong_parity_is_refused);
  tcase_add_test(bad, an_open_for_an_id_already_open_closes_that_channel_only);
  tcase_add_test(bad, sixty_five_thousand_opens_leave_the_association_usable);
  tcase_add_test(bad, data_on_a_stream_without_a_channel_is_dropped);
  tcase_add_test(bad, garbage_sctp_packets_are_dropped_and_counted);
  suite_add_tcase(s, bad);

  TCase *sdp = tcase_create("sdp");
  tcase_add_test(sdp, sdp_media_line_parses_and_formats);
  tcase_add_test(sdp, sdp_sctp_port_and_max_message_size_parse_and_format);
  suite_add_tcase(s, sdp);

  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? 0 : 1;
}
