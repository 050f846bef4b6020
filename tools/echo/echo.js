// rtcsec-echo page: sends the camera and microphone to rtcsec-echo, shows
// what comes back, and reports what getStats() says. Data channels are
// datachannel.js's (window.echoDataChannels): both are set up here before
// the local description, and their summary goes into every report.
//
// /?dtls=client  the browser offers (actpass), rtcsec answers active: rtcsec
//                is the DTLS client.            POST /offer -> answer SDP
// /?dtls=server  rtcsec offers (actpass), the browser answers active: rtcsec
//                is the DTLS server.            GET /offer, POST /answer
// &dc=test       run the data-channel test once the channels are open (see
//                datachannel.js).
//
// Signalling is non-trickle: each side sends its description once its ICE
// gathering is complete. Every second the panels are refreshed and, from
// one second after the call is set up, a summary of getStats() (W3C names)
// is POSTed to /report, which rtcsec-echo --report FILE appends; the first
// one also carries both descriptions. The summary says when ICE and then
// the whole connection (ICE and DTLS) became connected, in page time.
'use strict';

(() => {
  const params = new URLSearchParams(location.search);
  const mode = params.get('dtls') === 'server' ? 'server' : 'client';
  const $ = (id) => document.getElementById(id);
  const localVideo = $('local');
  const remoteVideo = $('remote');
  const remoteStream = new MediaStream();
  const startedAt = performance.now();
  const errors = [];
  let pc = null;
  let session = null;
  let framesPresented = 0;
  let reportsSent = 0;
  // performance.now() of the first iceConnectionState connected/completed
  // and of the first connectionState connected (ICE and DTLS) or failed.
  const timing = { iceConnectedMs: null, connectedMs: null, failedMs: null };
  const since = () => Math.round((performance.now() - startedAt) * 10) / 10;

  function setStatus(text, cls) {
    const el = $('status');
    el.textContent = text;
    el.className = cls || '';
  }

  function fail(what, err) {
    const msg = `${what}: ${err && err.message ? err.message : err}`;
    errors.push(msg);
    setStatus(msg, 'bad');
    console.error(msg);
  }

  // Resolves once gathering is complete, or after ms (what was gathered by
  // then is sent; a bounded wait, never a hang).
  function gatheringDone(ms) {
    return new Promise((resolve) => {
      if (pc.iceGatheringState === 'complete') {
        resolve();
        return;
      }
      const finish = () => {
        clearTimeout(timer);
        pc.removeEventListener('icegatheringstatechange', check);
        resolve();
      };
      const check = () => {
        if (pc.iceGatheringState === 'complete') finish();
      };
      const timer = setTimeout(finish, ms);
      pc.addEventListener('icegatheringstatechange', check);
    });
  }

  async function request(method, url, body) {
    const opts = { method, cache: 'no-store' };
    if (body !== undefined) {
      opts.body = body;
      opts.headers = { 'Content-Type': 'application/sdp' };
    }
    const res = await fetch(url, opts);
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${url}: HTTP ${res.status}: ${text.trim()}`);
    return { res, text };
  }

  function countFrames() {
    framesPresented++;
    remoteVideo.requestVideoFrameCallback(countFrames);
  }

  async function call() {
    setStatus('opening camera and microphone');
    const media = await navigator.mediaDevices.getUserMedia({
      audio: true,
      video: { width: 640, height: 480 },
    });
    localVideo.srcObject = media;

    pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require' });
    pc.addEventListener('track', (ev) => {
      remoteStream.addTrack(ev.track);
      if (remoteVideo.srcObject !== remoteStream) remoteVideo.srcObject = remoteStream;
    });
    pc.addEventListener('iceconnectionstatechange', () => {
      const s = pc.iceConnectionState;
      if ((s === 'connected' || s === 'completed') && timing.iceConnectedMs === null) {
        timing.iceConnectedMs = since();
      }
    });
    pc.addEventListener('connectionstatechange', () => {
      const s = pc.connectionState;
      if (s === 'connected' && timing.connectedMs === null) timing.connectedMs = since();
      if (s === 'failed' && timing.failedMs === null) timing.failedMs = since();
      setStatus(`connection ${s}`, s === 'connected' ? 'good' : s === 'failed' ? 'bad' : '');
    });
    if ('requestVideoFrameCallback' in remoteVideo) remoteVideo.requestVideoFrameCallback(countFrames);

    setStatus(`signalling (rtcsec is the DTLS ${mode})`);
    const dcChanged = () => {};
    if (mode === 'client') {
      for (const t of media.getTracks()) pc.addTrack(t, media);
      // After the tracks: the data section comes last in the offer.
      window.echoDataChannels.setup(pc, params, dcChanged);
      await pc.setLocalDescription(await pc.createOffer());
      await gatheringDone(5000);
      const { res, text } = await request('POST', '/offer?dtls=client', pc.localDescription.sdp);
      session = res.headers.get('X-Rtcsec-Session');
      await pc.setRemoteDescription({ type: 'answer', sdp: text });
    } else {
      const { text } = await request('GET', '/offer?dtls=server');
      const offer = JSON.parse(text);
      session = String(offer.session);
      await pc.setRemoteDescription({ type: 'offer', sdp: offer.sdp });
      // addTrack takes over the transceivers the offer created.
      for (const t of media.getTracks()) pc.addTrack(t, media);
      // rtcsec's offer has the data section: the SCTP transport exists.
      window.echoDataChannels.setup(pc, params, dcChanged);
      await pc.setLocalDescription(await pc.createAnswer());
      await gatheringDone(5000);
      await request('POST', `/answer?session=${encodeURIComponent(session)}`,
        pc.localDescription.sdp);
    }
    setStatus(`connecting (session ${session})`);
  }

  function candidateInfo(c) {
    if (!c) return null;
    return {
      address: c.address || c.ip || '',
      port: c.port,
      candidateType: c.candidateType,
      protocol: c.protocol,
    };
  }

  // The summary, with the names getStats() uses (W3C webrtc-stats).
  async function summary() {
    const out = {
      time: new Date().toISOString(),
      elapsedMs: Math.round(performance.now() - startedAt),
      mode,
      session,
      userAgent: navigator.userAgent,
      connectionState: pc ? pc.connectionState : 'none',
      iceConnectionState: pc ? pc.iceConnectionState : 'none',
      transport: { dtlsState: 'new', tlsVersion: '', dtlsCipher: '', srtpCipher: '', dtlsRole: '' },
      inbound: [],
      outbound: [],
      selectedPair: null,
      remoteVideo: {
        width: remoteVideo.videoWidth,
        height: remoteVideo.videoHeight,
        framesPresented,
      },
      timing,
      errors,
      datachannel: window.echoDataChannels.summary(),
    };
    if (!pc) return out;
    const stats = await pc.getStats();
    const byId = new Map();
    stats.forEach((s) => byId.set(s.id, s));
    const codecOf = (s) => (s.codecId && byId.get(s.codecId) ? byId.get(s.codecId).mimeType : '');
    let transport = null;
    stats.forEach((s) => {
      if (s.type === 'transport') transport = s;
      if (s.type === 'inbound-rtp') {
        out.inbound.push({
          kind: s.kind,
          ssrc: s.ssrc,
          codec: codecOf(s),
          packetsReceived: s.packetsReceived || 0,
          bytesReceived: s.bytesReceived || 0,
          packetsLost: s.packetsLost || 0,
          framesDecoded: s.framesDecoded || 0,
          frameWidth: s.frameWidth || 0,
          frameHeight: s.frameHeight || 0,
          nackCount: s.nackCount || 0,
          pliCount: s.pliCount || 0,
        });
      }
      if (s.type === 'outbound-rtp') {
        out.outbound.push({
          kind: s.kind,
          ssrc: s.ssrc,
          codec: codecOf(s),
          packetsSent: s.packetsSent || 0,
          bytesSent: s.bytesSent || 0,
          framesEncoded: s.framesEncoded || 0,
          keyFramesEncoded: s.keyFramesEncoded || 0,
        });
      }
    });
    if (transport) {
      out.transport = {
        dtlsState: transport.dtlsState || 'new',
        tlsVersion: transport.tlsVersion || '',
        dtlsCipher: transport.dtlsCipher || '',
        srtpCipher: transport.srtpCipher || '',
        dtlsRole: transport.dtlsRole || '',
        iceState: transport.iceState || '',
      };
      const pair = byId.get(transport.selectedCandidatePairId);
      if (pair) {
        out.selectedPair = {
          state: pair.state,
          nominated: !!pair.nominated,
          local: candidateInfo(byId.get(pair.localCandidateId)),
          remote: candidateInfo(byId.get(pair.remoteCandidateId)),
          currentRoundTripTime: pair.currentRoundTripTime,
          bytesSent: pair.bytesSent,
          bytesReceived: pair.bytesReceived,
        };
      }
    }
    return out;
  }

  function fillTable(table, rows) {
    table.replaceChildren();
    for (const [k, v] of rows) {
      const tr = document.createElement('tr');
      const a = document.createElement('td');
      const b = document.createElement('td');
      a.textContent = k;
      b.textContent = v === undefined || v === null ? '' : String(v);
      tr.append(a, b);
      table.append(tr);
    }
  }

  function pairText(p) {
    if (!p || !p.local || !p.remote) return '';
    return `${p.local.candidateType} ${p.local.address}:${p.local.port} <-> ` +
      `${p.remote.candidateType} ${p.remote.address}:${p.remote.port}`;
  }

  function showBrowser(s) {
    const t = s.transport;
    const rows = [
      ['connection', `${s.connectionState} (ICE ${s.iceConnectionState})`],
      ['DTLS state', t.dtlsState],
      ['DTLS version', t.tlsVersion],
      ['DTLS cipher', t.dtlsCipher],
      ['SRTP profile', t.srtpCipher],
      ['browser DTLS role', t.dtlsRole],
      ['selected pair', pairText(s.selectedPair)],
    ];
    for (const o of s.outbound) {
      rows.push([`sent ${o.kind}`, `${o.packetsSent} packets, ${o.bytesSent} bytes` +
        `${o.kind === 'video' ? `, ${o.framesEncoded} frames encoded` : ''} (${o.codec})`]);
    }
    for (const i of s.inbound) {
      rows.push([`received ${i.kind}`, `${i.packetsReceived} packets, ${i.bytesReceived} bytes` +
        `${i.kind === 'video' ? `, ${i.framesDecoded} frames decoded ${i.frameWidth}x${i.frameHeight}` : ''}` +
        `, lost ${i.packetsLost}, NACKs ${i.nackCount}, PLIs ${i.pliCount} (${i.codec})`]);
    }
    rows.push(['echoed video shown', `${s.remoteVideo.width}x${s.remoteVideo.height}, ` +
      `${s.remoteVideo.framesPresented} frames`]);
    rows.push(...window.echoDataChannels.rows());
    if (s.errors.length) rows.push(['errors', s.errors.join('; ')]);
    fillTable($('browser'), rows);
  }

  async function showServer() {
    if (!session) return;
    try {
      const res = await fetch(`/stats?session=${encodeURIComponent(session)}`, { cache: 'no-store' });
      const j = await res.json();
      const s = j.sessions && j.sessions[0];
      if (!s) return;
      const t = s.transport || {};
      const srtp = t.srtp || {};
      const rows = [
        ['session', `${s.id} (rtcsec is the DTLS ${s.dtls_role})`],
        ['ICE state', s.ice_state],
        ['selected pair', s.pair ? `${s.pair.local} <-> ${s.pair.remote}` : ''],
        ['DTLS state', t.dtls_state],
        ['DTLS version', t.dtls_version],
        ['DTLS cipher', t.dtls_cipher],
        ['key exchange group', t.dtls_group],
        ['SRTP profile', t.srtp_profile],
        ['DTLS failure', s.failure || ''],
        ['SRTP in', srtp.inbound ? `${srtp.inbound.rtp_packets} RTP, ${srtp.inbound.rtcp_packets} RTCP` : ''],
        ['SRTP out', srtp.outbound ? `${srtp.outbound.rtp_packets} RTP, ${srtp.outbound.rtcp_packets} RTCP` : ''],
        ['echoed', s.echo ? `audio ${s.echo.audio_packets}, video ${s.echo.video_packets} packets; ` +
          `PLI ${s.echo.pli}, FIR ${s.echo.fir}, NACK ${s.echo.nack} (${s.echo.nack_resent} resent, ` +
          `${s.echo.nack_refused_rtt + s.echo.nack_refused_rate} refused)` : ''],
      ];
      const d = s.datachannel;
      if (d) {
        rows.push(['data channels', `${d.state}: ${d.channels} open (${d.channels_opened} opened` +
          `${d.negotiated_open ? ', negotiated id 1 open' : ''}); in ${d.messages_in} messages ` +
          `${d.bytes_in} B, echoed ${d.messages_out} messages ${d.bytes_out} B; ` +
          `errors ${d.errors}${d.error_text ? ` (${d.error_text})` : ''}`]);
      }
      fillTable($('server'), rows);
      $('serverRaw').textContent = JSON.stringify(s, null, 1);
    } catch (e) {
      // The server may be gone (e.g. --exit-after): keep the last view.
    }
  }

  async function report() {
    try {
      const s = await summary();
      s.reportNumber = ++reportsSent;
      // The first report carries both descriptions, so that a test keeps
      // exactly what the browser offered or answered.
      if (s.reportNumber === 1 && pc) {
        s.localSdp = pc.localDescription ? pc.localDescription.sdp : '';
        s.remoteSdp = pc.remoteDescription ? pc.remoteDescription.sdp : '';
      }
      await fetch('/report', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(s),
      });
    } catch (e) {
      console.error('report', e);
    }
  }

  setInterval(async () => {
    try {
      showBrowser(await summary());
    } catch (e) {
      console.error('stats', e);
    }
    showServer();
  }, 1000);

  call()
    .then(() => {
      setTimeout(() => {
        report();
        setInterval(report, 1000);
      }, 1000);
    })
    .catch((e) => {
      fail('call setup failed', e);
      report();
    });
})();
