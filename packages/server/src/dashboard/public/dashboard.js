// The onair dashboard page: reads the server's stats stream (Server-Sent Events at /stat/events,
// one sample per second) and draws it; actions go to the control API. Everything the server sends
// is shown with textContent (stream names come from publishers: never HTML).
/* global uPlot, mpegts, Hls */
(() => {
  // The token the page was opened with (?jwt=...) goes on every API call and the event stream.
  const token = new URLSearchParams(location.search).get("jwt");

  /** A same-origin URL with the token added. */
  function withToken(path, params = {}) {
    const url = new URL(path, location.href);
    for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
    if (token !== null) url.searchParams.set("jwt", token);
    return url.href;
  }

  /** POST a form to the control API; resolves with livego's { status, data }. */
  async function control(path, params) {
    const response = await fetch(withToken(path), {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(params).toString(),
      cache: "no-store",
    });
    let body;
    try {
      body = await response.json();
    } catch {
      body = { status: response.status, data: `HTTP ${response.status}` };
    }
    if (!response.ok) throw new Error(typeof body.data === "string" ? body.data : `HTTP ${response.status}`);
    return body;
  }

  const $ = (id) => document.getElementById(id);

  function formatBytes(bytes) {
    if (bytes < 1024) return `${bytes} B`;
    const units = ["KiB", "MiB", "GiB", "TiB"];
    let value = bytes / 1024;
    let unit = 0;
    while (value >= 1024 && unit < units.length - 1) {
      value /= 1024;
      unit += 1;
    }
    return `${value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`;
  }

  function formatKbps(kbps) {
    return kbps >= 10_000 ? `${(kbps / 1000).toFixed(1)} Mbit/s` : `${kbps} kbit/s`;
  }

  function formatDuration(seconds) {
    const h = Math.floor(seconds / 3600);
    const m = Math.floor((seconds % 3600) / 60);
    const s = Math.floor(seconds % 60);
    const mm = String(m).padStart(2, "0");
    const ss = String(s).padStart(2, "0");
    return h > 0 ? `${h}:${mm}:${ss}` : `${m}:${ss}`;
  }

  function describeVideo(stream) {
    const video = stream.video;
    if (video === null) return "none";
    const parts = [video.codec];
    if (video.profile !== undefined) parts[0] += ` ${video.profile}${video.level ? ` @${video.level}` : ""}`;
    if (video.width !== undefined) parts.push(`${video.width}×${video.height}`);
    const fps = stream.fps > 0 ? Math.round(stream.fps * 10) / 10 : video.fps;
    if (fps !== undefined && fps > 0) parts.push(`${fps} fps`);
    return parts.join(", ");
  }

  function describeAudio(audio) {
    if (audio === null) return "none";
    const parts = [audio.codec];
    if (audio.sampleRate !== undefined) parts.push(`${audio.sampleRate / 1000} kHz`);
    if (audio.channels !== undefined)
      parts.push(audio.channels === 1 ? "mono" : audio.channels === 2 ? "stereo" : `${audio.channels} ch`);
    return parts.join(", ");
  }

  function peerText(peer) {
    return peer.address === null ? peer.protocol : `${peer.protocol} ${peer.address}`;
  }

  // ---- state ------------------------------------------------------------------------------

  let hello = { intervalMs: 1000, historySamples: 300, endpoints: {} };
  /** Per stream key: its card, charts and chart data (columns: time in s, value). */
  const cards = new Map();
  let relays = [];

  // What tests and people at the console can look at.
  window.onairDashboard = {
    cards,
    samples: 0,
    get hello() {
      return hello;
    },
  };

  /** An x-axis label for `seconds` since the epoch: the time on the minute, else its seconds. */
  function timeLabel(seconds) {
    const date = new Date(seconds * 1000);
    const s = date.getSeconds();
    if (s !== 0) return `:${String(s).padStart(2, "0")}`;
    return `${date.getHours()}:${String(date.getMinutes()).padStart(2, "0")}`;
  }

  function chartOptions(width, label, color, integer) {
    return {
      width,
      height: 130,
      legend: { show: false },
      cursor: { show: true, points: { show: false } },
      scales: {
        x: { time: true },
        y: { range: (_u, _min, max) => [0, Math.max(integer ? 2 : 10, max * 1.15)] },
      },
      axes: [
        {
          stroke: "#687083",
          grid: { stroke: "#eef0f3" },
          ticks: { stroke: "#dde0e6" },
          // One row of labels, ":20" or "16:52" on the minute (uPlot's default adds a date row
          // whose labels overlapped when a minute began near the left edge).
          values: (_u, splits) => splits.map(timeLabel),
          size: 30,
        },
        {
          stroke: "#687083",
          grid: { stroke: "#eef0f3" },
          ticks: { stroke: "#dde0e6" },
          size: 50,
          incrs: integer ? [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000] : undefined,
        },
      ],
      series: [{}, { label, stroke: color, width: 1.5, fill: `${color}22`, points: { show: false } }],
    };
  }

  function createCard(stream) {
    const node = $("stream-template").content.firstElementChild.cloneNode(true);
    node.dataset.key = stream.key;
    node.querySelector(".stream-key").textContent = stream.key;
    $("streams").append(node);
    const bitrateEl = node.querySelector(".chart-bitrate");
    const playersEl = node.querySelector(".chart-players");
    const width = Math.max(200, bitrateEl.clientWidth || 300);
    const card = {
      node,
      time: [],
      kbps: [],
      players: [],
      bitrate: new uPlot(chartOptions(width, "kbit/s", "#2563eb", false), [[], []], bitrateEl),
      viewers: new uPlot(chartOptions(width, "players", "#16a34a", true), [[], []], playersEl),
    };
    for (const button of node.querySelectorAll("[data-preview]")) {
      button.addEventListener("click", () => preview(stream.key, button.dataset.preview));
    }
    const room = stream.name;
    const keyLine = node.querySelector(".key-line");
    node.querySelector('[data-key-op="copy"]').addEventListener("click", async () => {
      try {
        const { data } = await control("/control/get", { room });
        keyLine.textContent = `key of room ${room}: ${data}`;
        keyLine.dataset.key = data;
        await copy(data);
        keyLine.textContent += " (copied)";
      } catch (error) {
        keyLine.textContent = `copy key: ${error.message}`;
      }
    });
    node.querySelector('[data-key-op="reset"]').addEventListener("click", async () => {
      if (!confirm(`Reset the key of room ${room}? The old key stops working at once.`)) return;
      try {
        const { data } = await control("/control/reset", { room });
        keyLine.textContent = `new key of room ${room}: ${data}`;
        keyLine.dataset.key = data;
      } catch (error) {
        keyLine.textContent = `reset key: ${error.message}`;
      }
    });
    cards.set(stream.key, card);
    return card;
  }

  /** Put a history (oldest first) into a card's columns. */
  function seed(card, history, key) {
    const series = history.streams[key];
    if (series === undefined) return;
    for (let i = 0; i < history.time.length; i++) {
      if (series.kbpsIn[i] === null) continue;
      card.time.push(history.time[i] / 1000);
      card.kbps.push(series.kbpsIn[i]);
      card.players.push(series.players[i]);
    }
  }

  let pendingHistory;

  function render(sample) {
    window.onairDashboard.samples += 1;
    $("total-streams").textContent = `${sample.server.live} live`;
    $("total-players").textContent = String(sample.server.players);
    $("total-in").textContent = formatKbps(sample.server.kbpsIn);
    $("total-out").textContent = formatKbps(sample.server.kbpsOut);
    $("no-streams").hidden = sample.streams.length > 0;
    const seen = new Set();
    const sorted = [...sample.streams].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    for (const stream of sorted) {
      seen.add(stream.key);
      let card = cards.get(stream.key);
      if (card === undefined) {
        card = createCard(stream);
        if (pendingHistory !== undefined) seed(card, pendingHistory, stream.key);
      }
      updateCard(card, stream, sample.time);
      $("streams").append(card.node); // in key order (append moves a node already there)
    }
    pendingHistory = undefined;
    for (const [key, card] of cards) {
      if (seen.has(key)) continue;
      card.bitrate.destroy();
      card.viewers.destroy();
      card.node.remove();
      cards.delete(key);
    }
    relays = sample.relays;
    renderRelays();
  }

  function updateCard(card, stream, time) {
    const { node } = card;
    const badge = node.querySelector(".badge");
    badge.textContent = stream.live ? "live" : "waiting";
    badge.dataset.live = String(stream.live);
    node.querySelector(".uptime").textContent = stream.live ? `up ${formatDuration(stream.uptimeS)}` : "";
    const publisher = stream.publisher;
    node.querySelector(".publisher").textContent = publisher === null ? "none" : peerText(publisher);
    node.querySelector(".video").textContent = describeVideo(stream);
    node.querySelector(".audio").textContent = describeAudio(stream.audio);
    node.querySelector(".bitrate").textContent =
      `${formatKbps(stream.kbpsIn)} (video ${stream.videoKbps}, audio ${stream.audioKbps})`;

    // The latest sample may be in the history a page got on connecting already.
    if (card.time.length === 0 || card.time[card.time.length - 1] < time / 1000) {
      card.time.push(time / 1000);
      card.kbps.push(stream.kbpsIn);
      card.players.push(stream.playerCount);
    }
    const keep = hello.historySamples;
    if (card.time.length > keep) {
      const drop = card.time.length - keep;
      card.time.splice(0, drop);
      card.kbps.splice(0, drop);
      card.players.splice(0, drop);
    }
    // At least the last minute on the time axis, so a new stream's first points are not stretched
    // (and a single point does not make uPlot pick a range of years).
    const last = card.time[card.time.length - 1];
    const span = { min: Math.min(card.time[0], last - 60), max: last };
    card.bitrate.setData([card.time, card.kbps]);
    card.bitrate.setScale("x", span);
    card.viewers.setData([card.time, card.players]);
    card.viewers.setScale("x", span);

    const rows = stream.players.map((player) => {
      const tr = document.createElement("tr");
      tr.dataset.id = player.id;
      const since = Math.max(0, Math.round((time - player.since) / 1000));
      for (const text of [
        player.protocol === "hls" && player.address === null ? "hls (segmenter)" : player.protocol,
        player.address ?? "",
        formatBytes(player.bytes),
        String(player.kbps),
        formatDuration(since),
      ]) {
        const td = document.createElement("td");
        td.textContent = text;
        tr.append(td);
      }
      return tr;
    });
    if (stream.writerCount > stream.players.length) {
      const tr = document.createElement("tr");
      const td = document.createElement("td");
      td.colSpan = 5;
      td.className = "muted";
      td.textContent = `and ${stream.writerCount - stream.players.length} more`;
      tr.append(td);
      rows.push(tr);
    }
    node.querySelector(".players tbody").replaceChildren(...rows);
  }

  /**
   * A relay URL as the table shows it: no credentials or query, and for a push no last path part,
   * where YouTube and Twitch put the stream key (as /stat/livestat shows it). The full URL stays in
   * the data: the Stop button needs it.
   */
  function shownRelayUrl(relay) {
    try {
      const url = new URL(relay.url);
      const path = relay.kind === "push" ? url.pathname.replace(/\/[^/]*$/, "/…") : url.pathname;
      return `${url.protocol}//${url.host}${path}${url.search === "" ? "" : "?…"}`;
    } catch {
      return "(unreadable URL)";
    }
  }

  function renderRelays() {
    const rows = relays.map((relay) => {
      const tr = document.createElement("tr");
      for (const text of [
        relay.kind,
        relay.key,
        shownRelayUrl(relay),
        relay.state + (relay.lastError ? ` (${relay.lastError})` : ""),
      ]) {
        const td = document.createElement("td");
        td.textContent = text;
        tr.append(td);
      }
      const td = document.createElement("td");
      const stop = document.createElement("button");
      stop.type = "button";
      stop.textContent = "Stop";
      stop.addEventListener("click", async () => {
        const slash = relay.key.indexOf("/");
        try {
          await control(`/control/${relay.kind}`, {
            oper: "stop",
            app: relay.key.slice(0, slash),
            name: relay.key.slice(slash + 1),
            url: relay.url,
          });
          $("relay-status").textContent = `stopped ${relay.kind} ${relay.key}`;
        } catch (error) {
          $("relay-status").textContent = `stop: ${error.message}`;
        }
      });
      td.append(stop);
      tr.append(td);
      return tr;
    });
    $("relay-rows").replaceChildren(...rows);
  }

  // ---- preview ----------------------------------------------------------------------------

  let player;
  let hls;

  function stopPreview() {
    if (player !== undefined) {
      player.destroy();
      player = undefined;
    }
    if (hls !== undefined) {
      hls.destroy();
      hls = undefined;
    }
    const video = $("preview-video");
    video.removeAttribute("src");
    video.load();
    $("preview-stop").disabled = true;
    $("preview-title").textContent = "";
    for (const button of document.querySelectorAll("[data-preview]"))
      button.setAttribute("aria-pressed", "false");
  }

  /** A media listener's URL: on its own address when it is bound to one, else this page's host. */
  function mediaUrl(scheme, bound, port, path) {
    const host = bound === undefined ? location.hostname : bound.includes(":") ? `[${bound}]` : bound;
    return `${scheme}//${host}:${port}/${path}`;
  }

  function preview(key, protocol) {
    stopPreview();
    const video = $("preview-video");
    const status = $("preview-status");
    const { flvPort, hlsPort, flvHost, hlsHost } = hello.endpoints;
    const path = key.split("/").map(encodeURIComponent).join("/");
    video.dataset.key = key;
    video.dataset.protocol = protocol;
    try {
      if (protocol === "hls") {
        if (hlsPort === undefined) throw new Error("HLS is off on this server");
        const url = mediaUrl(location.protocol, hlsHost, hlsPort, `${path}.m3u8`);
        if (window.Hls?.isSupported()) {
          hls = new Hls({ lowLatencyMode: true });
          hls.on(Hls.Events.ERROR, (_event, data) => {
            if (data.fatal) status.textContent = `HLS error: ${data.details}`;
          });
          hls.loadSource(url);
          hls.attachMedia(video);
        } else {
          video.src = url;
        }
        status.textContent = url;
      } else {
        if (flvPort === undefined) throw new Error("this server has no HTTP-FLV port");
        if (!window.mpegts?.getFeatureList().mseLivePlayback)
          throw new Error("this browser cannot play FLV (no MSE)");
        const scheme =
          protocol === "ws-flv" ? (location.protocol === "https:" ? "wss:" : "ws:") : location.protocol;
        const url = mediaUrl(scheme, flvHost, flvPort, `${path}.flv`);
        player = mpegts.createPlayer(
          { type: "flv", isLive: true, url },
          { enableStashBuffer: false, liveBufferLatencyChasing: true },
        );
        player.on(mpegts.Events.ERROR, (type, detail) => {
          status.textContent = `${protocol} error: ${type} ${detail}`;
        });
        player.attachMediaElement(video);
        player.load();
        status.textContent = url;
      }
    } catch (error) {
      status.textContent = error.message;
      return;
    }
    const playing = video.play();
    if (playing !== undefined) playing.catch(() => undefined);
    $("preview-title").textContent = `${key} over ${protocol}`;
    $("preview-stop").disabled = false;
    const card = cards.get(key);
    if (card !== undefined) {
      card.node.querySelector(`[data-preview="${protocol}"]`).setAttribute("aria-pressed", "true");
    }
  }

  $("preview-stop").addEventListener("click", () => {
    stopPreview();
    $("preview-status").textContent = "Pick a stream and a protocol.";
  });

  // ---- channel keys -----------------------------------------------------------------------

  async function copy(text) {
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      // No clipboard permission: select the key so that Ctrl+C copies it.
      const range = document.createRange();
      range.selectNodeContents($("key-value"));
      getSelection().removeAllRanges();
      getSelection().addRange(range);
    }
  }

  async function keyOperation(op) {
    const room = $("key-room").value.trim();
    const status = $("key-status");
    if (room === "") {
      status.textContent = "Type a room name.";
      return;
    }
    if (op === "reset" && !confirm(`Reset the key of room ${room}? The old key stops working at once.`))
      return;
    if (op === "delete" && !confirm(`Delete room ${room}? Its key goes, and a live stream in it ends.`))
      return;
    try {
      const { data } = await control(`/control/${op}`, { room });
      if (op === "delete") {
        $("key-value").textContent = "";
        $("key-copy").hidden = true;
        status.textContent = `room ${room}: ${data}`;
      } else {
        $("key-value").textContent = data;
        $("key-copy").hidden = false;
        status.textContent = op === "reset" ? `new key of room ${room}` : `key of room ${room}`;
      }
    } catch (error) {
      status.textContent = `${op}: ${error.message}`;
    }
  }

  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    keyOperation("get");
  });
  for (const button of document.querySelectorAll("#key-form [data-op]")) {
    if (button.type === "button") button.addEventListener("click", () => keyOperation(button.dataset.op));
  }
  $("key-copy").addEventListener("click", async () => {
    await copy($("key-value").textContent);
    $("key-status").textContent = "copied";
  });

  // ---- relays -----------------------------------------------------------------------------

  $("relay-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    const kind = form.get("kind");
    try {
      const { data } = await control(`/control/${kind}`, {
        oper: "start",
        app: form.get("app"),
        name: form.get("name"),
        url: form.get("url"),
      });
      $("relay-status").textContent = String(data);
    } catch (error) {
      $("relay-status").textContent = `start ${kind}: ${error.message}`;
    }
  });

  // ---- the stats stream -------------------------------------------------------------------

  const connection = $("connection");
  const events = new EventSource(withToken("/stat/events"));
  events.addEventListener("open", () => {
    connection.dataset.state = "open";
    connection.textContent = "live";
  });
  events.addEventListener("error", () => {
    connection.dataset.state = "error";
    // CLOSED: the server refused the stream (an expired token: 403), so EventSource gave up.
    connection.textContent =
      events.readyState === EventSource.CLOSED
        ? "disconnected: reload (with a valid ?jwt=)"
        : "reconnecting…";
  });
  events.addEventListener("hello", (event) => {
    hello = JSON.parse(event.data);
    const rtmpPort = hello.endpoints.rtmpPort ?? 1935;
    $("publish-hint").textContent =
      `ffmpeg -re -i input.mp4 -c copy -f flv rtmp://${location.hostname}:${rtmpPort}/live/KEY`;
  });
  events.addEventListener("history", (event) => {
    // A reconnect starts the charts again from the server's history.
    for (const card of cards.values()) {
      card.time.length = 0;
      card.kbps.length = 0;
      card.players.length = 0;
    }
    const history = JSON.parse(event.data);
    for (const [key, card] of cards) seed(card, history, key);
    pendingHistory = history;
  });
  events.addEventListener("stats", (event) => render(JSON.parse(event.data)));

  // Charts follow the width of their column.
  window.addEventListener("resize", () => {
    for (const card of cards.values()) {
      const width = Math.max(200, card.node.querySelector(".chart-bitrate").clientWidth);
      card.bitrate.setSize({ width, height: 130 });
      card.viewers.setSize({ width, height: 130 });
    }
  });
})();
