/* rtcsec-dtls: what runs before the handshake, and what is freed at exit
 * (see app.h). */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "app.h"

/* Resolves ADDR:PORT (numeric port) to the first UDP address. Returns 0 or
 * EXIT_USAGE after printing why. */
static int resolve(const char *spec, int passive, struct sockaddr_storage *out,
                   socklen_t *out_len) {
  char host[TOOL_HOST_MAX];
  uint16_t port_num;
  if (tool_parse_host_port(spec, host, sizeof(host), &port_num, passive) != 0) {
    tool_usage_error(PROG, "'%s': expected ADDR:PORT or [IPv6]:PORT%s", spec,
                     passive ? "" : " with a port from 1 to 65535");
    return EXIT_USAGE;
  }
  char port[8];
  snprintf(port, sizeof(port), "%u", (unsigned)port_num);
  struct addrinfo hints;
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  hints.ai_protocol = IPPROTO_UDP;
  hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
  struct addrinfo *res = NULL;
  int rc = getaddrinfo(host, port, &hints, &res);
  if (rc != 0 || res == NULL) {
    tool_usage_error(PROG, "'%s': %s", spec, rc != 0 ? gai_strerror(rc) : "no address");
    return EXIT_USAGE;
  }
  memcpy(out, res->ai_addr, res->ai_addrlen);
  *out_len = res->ai_addrlen;
  freeaddrinfo(res);
  return 0;
}

static void keylog_line(void *user, const char *line) {
  FILE *f = user;
  fprintf(f, "%s\n", line);
  fflush(f);
}

static int setup_cert(dtls_app *t) {
  const dtls_options *opt = t->opt;
  int rc;
  if (opt->cert_path == NULL && opt->psk_len > 0) {
    return 0; /* a device keyed by its pre-shared key needs no certificate */
  }
  if (opt->cert_path != NULL) {
    rc = rtcsec_cert_load_pem_file(&t->cert, opt->cert_path, opt->key_path);
    if (rc != 0) {
      fprintf(stderr, PROG ": cannot load --cert %s / --key %s: %s\n", opt->cert_path,
              opt->key_path, rtcsec_strerror(rc));
      return 1;
    }
    return 0;
  }
  rtcsec_cert_config cc;
  rtcsec_cert_config_default(&cc);
  cc.key_type = RTCSEC_KEY_ECDSA_P256;
  rc = rtcsec_cert_generate(&t->cert, &cc);
  if (rc != 0) {
    fprintf(stderr, PROG ": cannot generate a certificate: %s\n", rtcsec_strerror(rc));
    return 1;
  }
  return 0;
}

static int setup_socket(dtls_app *t) {
  const dtls_options *opt = t->opt;
  struct sockaddr_storage addr;
  socklen_t addr_len = 0;
  int passive = opt->role == RTCSEC_DTLS_SERVER;
  int rc = resolve(opt->addr, passive, &addr, &addr_len);
  if (rc != 0) {
    return rc;
  }
  if (opt->turns != NULL) {
    /* The peer is reached through the relay: the socket talks to the TURN
     * server only, and the peer's address goes into TURN messages. */
    t->peer = addr;
    t->peer_len = addr_len;
    rc = resolve(opt->turns, 0, &addr, &addr_len);
    if (rc != 0) {
      return rc;
    }
  }
  t->fd = socket(addr.ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, IPPROTO_UDP);
  if (t->fd < 0) {
    fprintf(stderr, PROG ": socket: %s\n", strerror(errno));
    return 1;
  }
  if (opt->media) {
    /* Media at --rate 0 comes in bursts: ask for room (best effort, the
     * kernel caps it at net.core.rmem_max / wmem_max). */
    int size = SOCKET_BUFFER;
    (void)setsockopt(t->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
    (void)setsockopt(t->fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
  }
  char text[ADDR_STRLEN];
  if (!passive) {
    if (connect(t->fd, (const struct sockaddr *)&addr, addr_len) != 0) {
      tool_addr_text(&addr, addr_len, text, sizeof(text));
      fprintf(stderr, PROG ": connect %s: %s\n", text, strerror(errno));
      return 1;
    }
    if (opt->turns == NULL) {
      t->peer = addr;
      t->peer_len = addr_len;
    }
    t->have_peer = 1;
    t->socket_connected = 1;
    return 0;
  }
  if (bind(t->fd, (const struct sockaddr *)&addr, addr_len) != 0) {
    tool_addr_text(&addr, addr_len, text, sizeof(text));
    fprintf(stderr, PROG ": bind %s: %s\n", text, strerror(errno));
    return 1;
  }
  struct sockaddr_storage bound;
  socklen_t bound_len = sizeof(bound);
  if (getsockname(t->fd, (struct sockaddr *)&bound, &bound_len) != 0) {
    fprintf(stderr, PROG ": getsockname: %s\n", strerror(errno));
    return 1;
  }
  tool_addr_text(&bound, bound_len, text, sizeof(text));
  /* Scripts wait for this line to learn the port: flush it now. */
  printf("listening on %s\n", text);
  fflush(stdout);
  return 0;
}

static int setup_association(dtls_app *t) {
  const dtls_options *opt = t->opt;
  if (opt->keylog_path != NULL) {
    /* The key log unlocks the session: create it readable by us only. */
    int kfd = open(opt->keylog_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (kfd < 0 || (t->keylog = fdopen(kfd, "a")) == NULL) {
      fprintf(stderr, PROG ": --keylog %s: %s\n", opt->keylog_path, strerror(errno));
      if (kfd >= 0) {
        close(kfd);
      }
      return 1;
    }
  }
  return association_new(t);
}

int association_new(dtls_app *t) {
  const dtls_options *opt = t->opt;
  rtcsec_transport_config tcfg;
  rtcsec_transport_config_default(&tcfg);
  rtcsec_dtls_config *cfg = &tcfg.dtls;
  cfg->role = opt->role;
  cfg->cert = t->cert;
  memcpy(cfg->profiles, opt->profiles, sizeof(cfg->profiles));
  cfg->n_profiles = opt->n_profiles;
  if (opt->mtu != 0) {
    cfg->mtu = opt->mtu;
  }
  /* Let the association itself report a timeout, with its own reason. */
  uint64_t now = tool_now_us();
  cfg->handshake_timeout_us = t->deadline > now ? t->deadline - now : 1;
  cfg->peer_fingerprints = opt->fingerprints;
  cfg->n_peer_fingerprints = opt->n_fingerprints;
  if (t->keylog != NULL) {
    cfg->keylog = keylog_line;
    cfg->keylog_user = t->keylog;
  }
  cfg->use_srtp = !opt->no_srtp;
  cfg->ciphers = opt->ciphers;
  cfg->groups = opt->groups;
  if (opt->psk_len > 0) {
    cfg->psk_identity = opt->psk_identity;
    cfg->psk = opt->psk;
    cfg->psk_len = opt->psk_len;
  }
  cfg->ca_file = opt->ca_file;
  cfg->peer_name = opt->peer_name;
  if (opt->rto_initial_ms != 0) {
    cfg->rto_initial_us = opt->rto_initial_ms * 1000u;
  }
  if (opt->rto_max_ms != 0) {
    cfg->rto_max_us = opt->rto_max_ms * 1000u;
  } else if (cfg->rto_max_us < cfg->rto_initial_us) {
    cfg->rto_max_us = cfg->rto_initial_us;
  }
  int bare = opt->export_keying_material || opt->no_srtp;
  int rc = bare ? rtcsec_dtls_new(&t->dtls, cfg) : rtcsec_transport_new(&t->tr, &tcfg);
  if (rc != 0) {
    fprintf(stderr, PROG ": cannot create the %s: %s\n", bare ? "DTLS association" : "transport",
            rtcsec_strerror(rc));
    if (rc == RTCSEC_ERR_INVALID_ARGUMENT && (opt->ciphers != NULL || opt->groups != NULL)) {
      fprintf(stderr, PROG ": check --cipher (AEAD suites only: AES-GCM, AES-CCM, AES-CCM8, "
                           "ChaCha20-Poly1305; PSK suites need --psk) and --groups\n");
    }
    return rc == RTCSEC_ERR_INVALID_ARGUMENT ? EXIT_USAGE : 1;
  }
  return 0;
}

/* The TURN client for --turns (its own fresh certificate: the server
 * does not check it). */
static int setup_turn(dtls_app *t) {
  const dtls_options *opt = t->opt;
  if (opt->turns == NULL) {
    return 0;
  }
  rtcsec_turn_config tc;
  rtcsec_turn_config_default(&tc);
  tc.dtls.ca_file = opt->turn_ca;
  tc.dtls.peer_name = opt->turn_name;
  tc.dtls.peer_fingerprints = opt->turn_fps;
  tc.dtls.n_peer_fingerprints = opt->n_turn_fps;
  uint64_t now = tool_now_us();
  tc.dtls.handshake_timeout_us = t->deadline > now ? t->deadline - now : 1;
  tc.username = opt->turn_user;
  tc.password = opt->turn_pass;
  tc.software = PROG;
  int rc = rtcsec_turn_new(&t->turn, &tc);
  if (rc != 0) {
    fprintf(stderr, PROG ": cannot create the TURN client: %s\n", rtcsec_strerror(rc));
    return rc == RTCSEC_ERR_INVALID_ARGUMENT ? EXIT_USAGE : 1;
  }
  return 0;
}

int app_setup(dtls_app *t) {
  const dtls_options *opt = t->opt;
  int rc = setup_cert(t);
  if (rc == 0) {
    rc = setup_socket(t);
  }
  if (rc == 0) {
    rc = setup_turn(t);
  }
  if (rc == 0) {
    rc = setup_association(t);
  }
  if (rc != 0) {
    return rc;
  }
  if (!opt->quiet) {
    rtcsec_fingerprint fp;
    if (t->cert != NULL && rtcsec_cert_fingerprint(t->cert, RTCSEC_HASH_SHA256, &fp) == 0) {
      print_fingerprint("local fingerprint", &fp);
    }
    fflush(stdout);
    if (opt->n_fingerprints == 0 && opt->psk_len == 0 && opt->ca_file == NULL &&
        opt->turn_only == TURN_ONLY_NO) {
      fprintf(stderr, PROG ": warning: no --fingerprint (nor --psk or --ca-file) given: the "
                           "peer cannot be verified, so the handshake cannot complete (it will "
                           "time out)\n");
    }
  }
  return 0;
}

void association_free(dtls_app *t) {
  rtcsec_srtp_keys_wipe(&t->keys);
  rtcsec_transport_free(t->tr);
  t->tr = NULL;
  rtcsec_dtls_free(t->dtls);
  t->dtls = NULL;
}

void app_cleanup(dtls_app *t) {
  association_free(t);
  rtcsec_turn_free(t->turn);
  explicit_bzero(t->keymat, sizeof(t->keymat));
  rtcsec_cert_free(t->cert);
  if (t->keylog != NULL) {
    fclose(t->keylog);
  }
  if (t->fd >= 0) {
    close(t->fd);
  }
}
