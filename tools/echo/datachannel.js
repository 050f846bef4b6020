// rtcsec-echo page: data channels. rtcsec-echo sends every message back on
// the channel it came on, same type, byte for byte; this part of the page
// sends, checks every echo and shows what happened.
//
// Two channels per call: "echo", opened by the page with DCEP (RFC 8832),
// and "negotiated", pre-agreed with rtcsec-echo as id 1 (no DCEP). Echoes
// come back in order on an ordered channel, so each channel keeps a queue
// of what it sent: every message received must equal the head of that
// queue (a string for a string, the same bytes for binary), or it counts
// as a mismatch.
//
//   text box       a string on "echo"; the echo is shown.
//   send 1 MB      1 MiB of pseudo-random bytes on "echo" in 16 KiB binary
//                  messages; every byte of the echo is checked and the
//                  round-trip throughput shown.
//   ?dc=test       (the browser suite) once both channels are open, 200
//                  messages on each, 0 bytes to 64 KiB, strings (with 2-, 3-
//                  and 4-byte UTF-8 characters) and binary alternating, then
//                  the 1 MB run.
// Sending keeps at most WINDOW bytes per channel sent and not yet echoed
// (one message at least), and at most HIGH in its bufferedAmount; it goes on
// as echoes come back and at bufferedamountlow. The window keeps what the
// echo holds small: a burst larger than rtcsec-echo's UDP receive buffer
// would only be lost and repeated by SCTP (and under a loaded machine the
// ICE consent checks sharing that socket would be lost with it).
// echoDataChannels.summary() is what the page reports.
'use strict';

window.echoDataChannels = (() => {
  const HIGH = 1 << 20;
  const LOW = 256 << 10;
  const WINDOW = 64 << 10;
  const TEST_MESSAGES = 200;
  const MAX_TEST_SIZE = 65536;
  const BULK_BYTES = 1 << 20;
  const BULK_CHUNK = 16 << 10;
  const NEGOTIATED_ID = 1;
  const $ = (id) => document.getElementById(id);
  const errors = [];
  const channels = {}; // name -> state, see open()
  const test = { requested: false, started: false, done: false, startMs: 0, ms: 0 };
  const bulk = {
    started: false, done: false, startMs: 0, ms: 0, bytes: 0, verifiedBytes: 0,
    mismatches: 0, mbps: 0,
  };
  const text = { sent: 0, echoed: 0, last: '' };
  let onChange = () => {};

  function fail(what) {
    errors.push(what);
    console.error(`data channels: ${what}`);
    onChange();
  }

  // ---- content that checks itself --------------------------------------------

  // Test message i: 0 bytes for the first two, 64 KiB for the last two,
  // growing as the 6th power in between: every size class from 1 byte to
  // 64 KiB, most of them small (1.9 MB a channel in all).
  function testSize(i) {
    return Math.min(MAX_TEST_SIZE, Math.round(MAX_TEST_SIZE * (i / (TEST_MESSAGES - 2)) ** 6));
  }

  // A string of exactly n UTF-8 bytes, mixing 1- to 4-byte characters.
  const CHARS = ['a', 'Z', '7', ' ', 'é', 'ß', '€', '中', '𝄞', '😀', '~', 'q'];
  const utf8Len = (c) => new TextEncoder().encode(c).length;
  const CHAR_LEN = CHARS.map(utf8Len);
  function makeString(n, seed) {
    const parts = [];
    let left = n;
    for (let k = 0; left > 0; k++) {
      const j = (seed * 7 + k * 5) % CHARS.length;
      if (CHAR_LEN[j] <= left) {
        parts.push(CHARS[j]);
        left -= CHAR_LEN[j];
      } else {
        parts.push('x');
        left -= 1;
      }
    }
    return parts.join('');
  }

  function makeBytes(n, seed) {
    const b = new Uint8Array(n);
    let x = (seed * 2654435761) >>> 0 || 1;
    for (let k = 0; k < n; k++) {
      x ^= x << 13;
      x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5;
      x >>>= 0;
      b[k] = x & 0xff;
    }
    return b;
  }

  function sameBytes(a, b) {
    if (a.length !== b.length) return false;
    for (let k = 0; k < a.length; k++) if (a[k] !== b[k]) return false;
    return true;
  }

  const sizeOf = (d) => (typeof d === 'string' ? new TextEncoder().encode(d).length : d.length);

  // ---- channels ------------------------------------------------------------------

  function open(name, ch) {
    const c = {
      name, ch, state: ch.readyState, id: ch.id,
      expect: [], // what was sent and not echoed yet: {what, data}
      outbox: [], // what waits for bufferedAmount to fall
      sent: 0, bytesSent: 0, echoed: 0, bytesEchoed: 0, mismatches: 0, unexpected: 0,
      testSent: 0, testEchoed: 0,
    };
    channels[name] = c;
    ch.binaryType = 'arraybuffer';
    ch.bufferedAmountLowThreshold = LOW;
    ch.addEventListener('open', () => {
      c.state = ch.readyState;
      c.id = ch.id;
      onChange();
      maybeStartTest();
    });
    ch.addEventListener('close', () => {
      c.state = ch.readyState;
      onChange();
    });
    ch.addEventListener('error', (ev) => fail(`${name}: ${ev.error ? ev.error.message : 'error'}`));
    ch.addEventListener('bufferedamountlow', () => pump(c));
    ch.addEventListener('message', (ev) => received(c, ev.data));
  }

  function send(c, what, data) {
    c.outbox.push({ what, data });
    pump(c);
  }

  function pump(c) {
    while (c.outbox.length > 0 && c.ch.readyState === 'open' && c.ch.bufferedAmount < HIGH &&
      (c.expect.length === 0 || c.bytesSent - c.bytesEchoed < WINDOW)) {
      const m = c.outbox.shift();
      try {
        c.ch.send(m.data);
      } catch (e) {
        fail(`${c.name}: send: ${e.message}`);
        return;
      }
      c.expect.push(m);
      c.sent++;
      c.bytesSent += sizeOf(m.data);
      if (m.what === 'test') c.testSent++;
    }
  }

  function received(c, data) {
    const m = c.expect.shift();
    const got = typeof data === 'string' ? data : new Uint8Array(data);
    if (!m) {
      c.unexpected++;
      fail(`${c.name}: a message nobody sent came back`);
      return;
    }
    const ok = typeof m.data === 'string'
      ? typeof got === 'string' && got === m.data
      : typeof got !== 'string' && sameBytes(got, m.data);
    c.echoed++;
    c.bytesEchoed += sizeOf(m.data);
    pump(c);
    if (!ok) {
      c.mismatches++;
      fail(`${c.name}: echo of a ${typeof m.data === 'string' ? 'string' : 'binary'} ` +
        `${m.what} message of ${sizeOf(m.data)} bytes differs ` +
        `(${typeof got === 'string' ? 'string' : 'binary'} of ${sizeOf(got)} bytes)`);
    }
    if (m.what === 'test') {
      c.testEchoed++;
      checkTestDone();
    } else if (m.what === 'bulk') {
      if (ok) bulk.verifiedBytes += got.length;
      else bulk.mismatches++;
      if (bulk.verifiedBytes + bulk.mismatches * BULK_CHUNK >= BULK_BYTES) {
        bulk.ms = Math.round(performance.now() - bulk.startMs);
        bulk.mbps = Math.round((bulk.verifiedBytes / 1e6 / (bulk.ms / 1000)) * 100) / 100;
        bulk.done = true;
      }
    } else if (m.what === 'text') {
      text.echoed++;
      text.last = ok ? got : `(differs) ${got}`;
    }
    onChange();
  }

  // ---- the runs ---------------------------------------------------------------------

  function maybeStartTest() {
    const a = channels.echo;
    const b = channels.negotiated;
    if (!test.requested || test.started || !a || !b) return;
    if (a.state !== 'open' || b.state !== 'open') return;
    test.started = true;
    test.startMs = performance.now();
    for (const [seed, c] of [[1, a], [2, b]]) {
      for (let i = 0; i < TEST_MESSAGES; i++) {
        const n = testSize(i);
        send(c, 'test', i % 2 === 0 ? makeString(n, seed * 1000 + i) : makeBytes(n, seed * 1000 + i));
      }
    }
  }

  function checkTestDone() {
    const all = [channels.echo, channels.negotiated];
    if (test.done || !all.every((c) => c && c.testEchoed === TEST_MESSAGES)) return;
    test.done = true;
    test.ms = Math.round(performance.now() - test.startMs);
    sendBulk(); // the suite checks the 1 MB path too
  }

  function sendBulk() {
    const c = channels.echo;
    if (!c || c.state !== 'open') {
      fail('send 1 MB: the "echo" channel is not open');
      return;
    }
    if (bulk.started && !bulk.done) return;
    Object.assign(bulk, {
      started: true, done: false, startMs: performance.now(), ms: 0, bytes: BULK_BYTES,
      verifiedBytes: 0, mismatches: 0, mbps: 0,
    });
    const all = makeBytes(BULK_BYTES, 424242);
    for (let off = 0; off < BULK_BYTES; off += BULK_CHUNK) {
      send(c, 'bulk', all.slice(off, off + BULK_CHUNK));
    }
    onChange();
  }

  function sendText(s) {
    const c = channels.echo;
    if (!c || c.state !== 'open') {
      fail('the "echo" channel is not open');
      return;
    }
    text.sent++;
    send(c, 'text', s);
  }

  // ---- what the page sees --------------------------------------------------------------

  function channelSummary(c) {
    return {
      label: c.ch.label, id: c.id, negotiated: c.ch.negotiated, state: c.state,
      sent: c.sent, bytesSent: c.bytesSent, echoed: c.echoed, bytesEchoed: c.bytesEchoed,
      pending: c.expect.length + c.outbox.length, mismatches: c.mismatches,
      unexpected: c.unexpected, testSent: c.testSent, testEchoed: c.testEchoed,
    };
  }

  function summary() {
    const out = { enabled: Object.keys(channels).length > 0, channels: {}, errors };
    for (const [name, c] of Object.entries(channels)) out.channels[name] = channelSummary(c);
    out.test = {
      requested: test.requested, started: test.started, done: test.done, ms: test.ms,
      messages: TEST_MESSAGES,
    };
    out.bulk = { ...bulk };
    delete out.bulk.startMs;
    out.text = { sent: text.sent, echoed: text.echoed };
    return out;
  }

  // One line per channel and run for the getStats() panel.
  function rows() {
    const r = [];
    for (const c of Object.values(channels)) {
      r.push([`data channel "${c.ch.label}"`, `${c.state}, id ${c.id}` +
        `${c.ch.negotiated ? ' (negotiated)' : ' (DCEP)'}; sent ${c.sent} (${c.bytesSent} B), ` +
        `echoed ${c.echoed} (${c.bytesEchoed} B), mismatches ${c.mismatches}`]);
    }
    if (test.requested) {
      r.push(['data channel test', test.done ? `done in ${test.ms} ms`
        : test.started ? 'running' : 'waiting for the channels']);
    }
    return r;
  }

  function showBulk() {
    const el = $('dcBulkResult');
    if (!el) return;
    if (!bulk.started) el.textContent = '';
    else if (!bulk.done) el.textContent = `1 MiB: ${bulk.verifiedBytes} bytes back so far`;
    else el.textContent = `1 MiB there and back in ${bulk.ms} ms: ${bulk.mbps} MB/s round trip` +
      `${bulk.mismatches ? `, ${bulk.mismatches} chunks DIFFER` : ', every byte identical'}`;
    el.className = bulk.done ? (bulk.mismatches ? 'bad' : 'good') : '';
  }

  // Creates both channels on pc (before the offer when the page offers, after
  // the remote offer otherwise) and wires the controls.
  function setup(pc, params, changed) {
    onChange = () => {
      showBulk();
      const el = $('dcEcho');
      if (el) el.textContent = text.echoed ? `echoed: ${text.last}` : '';
      changed();
    };
    test.requested = params.get('dc') === 'test';
    open('echo', pc.createDataChannel('echo', { ordered: true }));
    open('negotiated', pc.createDataChannel('negotiated', { negotiated: true, id: NEGOTIATED_ID }));
    const input = $('dcText');
    const go = () => {
      if (input && input.value !== '') sendText(input.value);
    };
    if ($('dcSend')) $('dcSend').addEventListener('click', go);
    if (input) input.addEventListener('keydown', (ev) => { if (ev.key === 'Enter') go(); });
    if ($('dcBulk')) $('dcBulk').addEventListener('click', sendBulk);
  }

  return { setup, summary, rows };
})();
