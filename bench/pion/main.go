// rtcsec-pion-bench: Pion's SRTP (Debian's golang-github-pion-srtp.v2-dev)
// timed on the same packets as rtcsec-bench's figure 1 (bench/srtp_bench.c),
// so that the C tool can put Pion next to rtcsec in the same run. Built by
// bench/pion/build.sh, run by rtcsec-bench, never by hand in normal use.
//
//	rtcsec-pion-bench -runs N -batch B -batches K -reps R -keys PROFILE=KEY:SALT,...
//
// For each profile given (cm80, cm32, gcm128; Pion 2.0.12 has no
// AEAD_AES_256_GCM), RTP and RTCP, 160- and 1200-byte payloads, protect and
// unprotect, it prints one line per run:
//
//	pion <cell> <ns per packet> <allocations per packet>
//
// with <cell> named as rtcsec-bench names it (srtp.rtp.protect.160.cm80).
// The method is rtcsec-bench's: every batch is fresh (plaintext, and for
// unprotect the packets protected by the Pion sender, are prepared outside
// the timed loop), runs are the outer loop, each cell keeps the fastest of
// R samples per run. Time is the process's CPU time (CLOCK_PROCESS_CPUTIME_ID),
// so the garbage collector's work on other threads is counted too; the
// receiving contexts have replay protection on (SRTP window 1024, SRTCP 128,
// as libsrtp2 under rtcsec), as Pion's own WebRTC stack enables it.
package main

import (
	"encoding/binary"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"
	"syscall"
	"unsafe"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/srtp/v2"
)

const ssrc = 0x5eb0c0de // rtcsec-bench's SSRC

var sizes = []int{160, 1200}

func cpuNs() int64 {
	var ts syscall.Timespec
	const clockProcessCPUTimeID = 2
	_, _, e := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockProcessCPUTimeID,
		uintptr(unsafe.Pointer(&ts)), 0)
	if e != 0 {
		fmt.Fprintln(os.Stderr, "rtcsec-pion-bench: clock_gettime failed")
		os.Exit(1)
	}
	return ts.Nano()
}

// The packets of rtcsec-bench's bench_make_rtp / bench_make_rtcp.
func makeRTP(buf []byte, seq uint16, payload int) []byte {
	buf = buf[:12+payload]
	buf[0] = 0x80
	buf[1] = 96
	binary.BigEndian.PutUint16(buf[2:], seq)
	binary.BigEndian.PutUint32(buf[4:], uint32(seq)*960)
	binary.BigEndian.PutUint32(buf[8:], ssrc)
	for i := 12; i < len(buf); i++ {
		buf[i] = 0x5a ^ byte(seq)
	}
	return buf
}

func makeRTCP(buf []byte, payload int) []byte {
	n := 8 + payload
	buf = buf[:n]
	buf[0] = 0x80
	buf[1] = 200
	binary.BigEndian.PutUint16(buf[2:], uint16(n/4-1))
	binary.BigEndian.PutUint32(buf[4:], ssrc)
	for i := 8; i < n; i++ {
		buf[i] = 0xa5
	}
	return buf
}

type profileCtx struct {
	name   string
	tx, rx *srtp.Context
	seq    uint16
	rtpH   rtp.Header
	rtcpH  rtcp.Header
}

type batch struct {
	in, out [][]byte // inputs of the timed loop, and where results go
}

func newBatch(n int) *batch {
	b := &batch{in: make([][]byte, n), out: make([][]byte, n)}
	for i := range b.in {
		b.in[i] = make([]byte, 0, 1300)
		b.out[i] = make([]byte, 0, 1300)
	}
	return b
}

func fail(err error, what string) {
	fmt.Fprintf(os.Stderr, "rtcsec-pion-bench: %s: %v\n", what, err)
	os.Exit(1)
}

// prepare fills the batch with fresh packets; for unprotect, protected by tx.
func (p *profileCtx) prepare(b *batch, isRTCP, unprotect bool, size int) {
	for i := range b.in {
		var pkt []byte
		if isRTCP {
			pkt = makeRTCP(b.in[i][:cap(b.in[i])], size)
		} else {
			pkt = makeRTP(b.in[i][:cap(b.in[i])], p.seq, size)
			p.seq++
		}
		if unprotect {
			var enc []byte
			var err error
			if isRTCP {
				enc, err = p.tx.EncryptRTCP(b.out[i][:0], pkt, &p.rtcpH)
			} else {
				enc, err = p.tx.EncryptRTP(b.out[i][:0], pkt, &p.rtpH)
			}
			if err != nil {
				fail(err, "prepare")
			}
			pkt = append(b.in[i][:0], enc...)
		}
		b.in[i] = pkt
	}
}

// process is the timed loop: ns per packet and mallocs per packet.
func (p *profileCtx) process(b *batch, isRTCP, unprotect bool) (float64, float64) {
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	t0 := cpuNs()
	var err error
	for i := range b.in {
		switch {
		case !isRTCP && !unprotect:
			b.out[i], err = p.tx.EncryptRTP(b.out[i][:0], b.in[i], &p.rtpH)
		case isRTCP && !unprotect:
			b.out[i], err = p.tx.EncryptRTCP(b.out[i][:0], b.in[i], &p.rtcpH)
		case !isRTCP && unprotect:
			b.out[i], err = p.rx.DecryptRTP(b.out[i][:0], b.in[i], &p.rtpH)
		default:
			b.out[i], err = p.rx.DecryptRTCP(b.out[i][:0], b.in[i], &p.rtcpH)
		}
		if err != nil {
			fail(err, "process")
		}
	}
	t := cpuNs() - t0
	runtime.ReadMemStats(&ms1)
	n := float64(len(b.in))
	return float64(t) / n, float64(ms1.Mallocs-ms0.Mallocs) / n
}

func main() {
	runs := flag.Int("runs", 7, "measurement runs")
	batchN := flag.Int("batch", 256, "packets per batch")
	batches := flag.Int("batches", 4, "batches per sample")
	reps := flag.Int("reps", 3, "samples per cell and run; the fastest is kept")
	keys := flag.String("keys", "", "PROFILE=KEYHEX:SALTHEX,... (cm80, cm32, gcm128)")
	flag.Parse()

	profiles := map[string]srtp.ProtectionProfile{
		"cm80":   srtp.ProtectionProfileAes128CmHmacSha1_80,
		"cm32":   srtp.ProtectionProfileAes128CmHmacSha1_32,
		"gcm128": srtp.ProtectionProfileAeadAes128Gcm,
	}
	var ctxs []*profileCtx
	for _, kv := range strings.Split(*keys, ",") {
		if kv == "" {
			continue
		}
		name, rest, ok1 := strings.Cut(kv, "=")
		khex, shex, ok2 := strings.Cut(rest, ":")
		prof, ok3 := profiles[name]
		key, err1 := hex.DecodeString(khex)
		salt, err2 := hex.DecodeString(shex)
		if !ok1 || !ok2 || !ok3 || err1 != nil || err2 != nil {
			fmt.Fprintf(os.Stderr, "rtcsec-pion-bench: bad -keys entry %q\n", kv)
			os.Exit(2)
		}
		tx, err := srtp.CreateContext(key, salt, prof)
		if err != nil {
			fail(err, name)
		}
		rx, err := srtp.CreateContext(key, salt, prof, srtp.SRTPReplayProtection(1024),
			srtp.SRTCPReplayProtection(128))
		if err != nil {
			fail(err, name)
		}
		ctxs = append(ctxs, &profileCtx{name: name, tx: tx, rx: rx, seq: 4000})
	}
	b := newBatch(*batchN)
	kinds := []string{"rtp", "rtcp"}
	ops := []string{"protect", "unprotect"}
	sample := func(p *profileCtx, k, op, size int) (float64, float64) {
		var ns, allocs float64
		for i := 0; i < *batches; i++ {
			p.prepare(b, k == 1, op == 1, size)
			t, a := p.process(b, k == 1, op == 1)
			ns += t
			allocs += a
		}
		return ns / float64(*batches), allocs / float64(*batches)
	}
	// Warm-up: first packets create per-SSRC state.
	for _, p := range ctxs {
		for k := range kinds {
			for op := range ops {
				sample(p, k, op, 1200)
			}
		}
	}
	for run := 0; run < *runs; run++ {
		for _, p := range ctxs {
			for k := range kinds {
				for _, size := range sizes {
					for op := range ops {
						best, bestAllocs := -1.0, 0.0
						for r := 0; r < *reps; r++ {
							ns, a := sample(p, k, op, size)
							if best < 0 || ns < best {
								best, bestAllocs = ns, a
							}
						}
						fmt.Printf("pion srtp.%s.%s.%d.%s %.1f %.3f\n", kinds[k], ops[op], size,
							p.name, best, bestAllocs)
					}
				}
			}
		}
	}
}
