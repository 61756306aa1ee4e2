// The room page: the player, the chat (list and danmaku), the viewer count, likes and the board.
// Everything that came from another viewer is put in the page with textContent, never as HTML.

(() => {
  const $ = (id) => document.getElementById(id);
  const video = $("video");
  const danmakuLayer = $("danmaku");
  const messages = $("messages");
  const params = new URLSearchParams(location.search);
  const room = location.pathname.split("/")[2] || "demo";
  const NICKNAME = /^[\p{L}\p{N}_.-]{1,24}$/u;
  const name = pickName();
  let maxTextLength = 200;

  $("room-title").textContent = `room ${room}`;
  $("you").textContent = `you are ${name}`;
  const rtmp = document.querySelector('meta[name="onair-rtmp"]')?.content;
  if (rtmp) $("publish-url").textContent = `${rtmp}/${room}?key=KEY`;
  document.title = `${room} · onair live room`;

  function pickName() {
    const asked = params.get("name");
    if (asked && NICKNAME.test(asked)) {
      try {
        localStorage.setItem("onair-name", asked);
      } catch {}
      return asked;
    }
    let kept = null;
    try {
      kept = localStorage.getItem("onair-name");
    } catch {}
    if (kept && NICKNAME.test(kept)) return kept;
    return `guest-${Math.floor(1000 + Math.random() * 9000)}`;
  }

  // ---- the player: mpegts.js over HTTP-FLV where Media Source Extensions are; else HLS ----

  let player = null; // { destroy() } of the current player
  let generation = 0; // bumps at each start and stop, so late callbacks of an old player do nothing
  let retryTimer;
  let watchdog;
  const loaded = new Map();

  function loadScript(src) {
    if (!loaded.has(src)) {
      loaded.set(
        src,
        new Promise((resolve, reject) => {
          const script = document.createElement("script");
          script.src = src;
          script.onload = resolve;
          script.onerror = () => reject(new Error(`cannot load ${src}`));
          document.head.append(script);
        }),
      );
    }
    return loaded.get(src);
  }

  function playerKind() {
    const forced = params.get("player");
    if (forced === "flv" || forced === "hls" || forced === "native") return forced;
    return window.MediaSource ? "flv" : "hls";
  }

  async function startPlayer() {
    stopPlayer();
    const mine = ++generation;
    let kind = playerKind();
    const fail = () => retry(mine);
    try {
      if (kind === "flv") {
        await loadScript("/vendor/mpegts.js");
        if (mine !== generation) return;
        if (!window.mpegts.getFeatureList().mseLivePlayback) kind = "hls";
      }
      if (kind === "flv") {
        const { mpegts } = window;
        const flv = mpegts.createPlayer(
          { type: "flv", isLive: true, url: new URL(`/live/${room}.flv`, location.href).href },
          { enableStashBuffer: false, liveBufferLatencyChasing: true },
        );
        flv.on(mpegts.Events.ERROR, fail);
        flv.on(mpegts.Events.LOADING_COMPLETE, fail); // the server ended the response
        flv.attachMediaElement(video);
        flv.load();
        player = { destroy: () => flv.destroy() };
        $("player-kind").textContent = "HTTP-FLV · mpegts.js";
      } else if (!(window.MediaSource || window.ManagedMediaSource) || kind === "native") {
        video.src = `/live/${room}.m3u8`; // no MSE at all (older iPhones): the browser's own HLS
        video.onerror = fail;
        player = {
          destroy: () => {
            video.onerror = null;
            video.removeAttribute("src");
            video.load();
          },
        };
        $("player-kind").textContent = "HLS · native";
      } else {
        // hls.js: on MSE, or on iOS 17.1+'s ManagedMediaSource.
        await loadScript("/vendor/hls.js");
        if (mine !== generation) return;
        const { Hls } = window;
        const hls = new Hls({ liveDurationInfinity: true });
        hls.on(Hls.Events.ERROR, (_event, data) => data.fatal && fail());
        hls.loadSource(`/live/${room}.m3u8`);
        hls.attachMedia(video);
        player = { destroy: () => hls.destroy() };
        $("player-kind").textContent = "HLS · hls.js";
      }
    } catch (error) {
      notice(String(error));
      fail();
      return;
    }
    video.play().catch(() => {});
    // A player that stops moving while the room is live is started again.
    let lastTime = -1;
    let still = 0;
    watchdog = setInterval(() => {
      if (mine !== generation) return;
      if (video.currentTime !== lastTime) {
        lastTime = video.currentTime;
        still = 0;
      } else if (++still >= 10) fail();
    }, 500);
  }

  function retry(mine) {
    if (mine !== generation) return;
    stopPlayer();
    if (document.body.dataset.live === "true") retryTimer = setTimeout(startPlayer, 1000);
  }

  function stopPlayer() {
    generation += 1;
    clearTimeout(retryTimer);
    clearInterval(watchdog);
    if (player !== null) {
      try {
        player.destroy();
      } catch {}
      player = null;
    }
  }

  function setLive(live) {
    const was = document.body.dataset.live === "true";
    document.body.dataset.live = String(live);
    $("live-badge").textContent = live ? "live" : "offline";
    if (live && (!was || player === null)) startPlayer();
    if (!live) {
      stopPlayer();
      danmakuLayer.replaceChildren();
      $("player-kind").textContent = "";
    }
  }

  $("sound").addEventListener("click", () => {
    video.muted = !video.muted;
    if (!video.muted) video.play().catch(() => {});
    $("sound").textContent = video.muted ? "Sound off" : "Sound on";
  });

  // ---- danmaku: each message flies across the video in the lane that frees up first ----

  const LANE_HEIGHT = 32;
  const FLIGHT_MS = 8000;
  const lanes = []; // when each lane is free again (performance.now())

  function fly(text, mine) {
    // Danmaku fly over the stream only; the list keeps everything.
    if (!$("danmaku-toggle").checked || document.body.dataset.live !== "true") return;
    while (danmakuLayer.childElementCount >= 60) danmakuLayer.firstElementChild.remove();
    const el = document.createElement("span");
    el.className = mine ? "danmaku mine" : "danmaku";
    el.textContent = text;
    danmakuLayer.append(el);
    const width = danmakuLayer.clientWidth;
    const count = Math.max(1, Math.floor(danmakuLayer.clientHeight / LANE_HEIGHT) - 1);
    const now = performance.now();
    let lane = 0;
    for (let i = 0; i < count; i++) {
      if ((lanes[i] ?? 0) <= now) {
        lane = i;
        break;
      }
      if ((lanes[i] ?? 0) < (lanes[lane] ?? 0)) lane = i;
    }
    const w = el.offsetWidth;
    const speed = (width + w) / FLIGHT_MS; // px per ms
    lanes[lane] = Math.max(now, lanes[lane] ?? 0) + (w + 48) / speed;
    el.style.top = `${8 + lane * LANE_HEIGHT}px`;
    const flight = el.animate(
      [{ transform: `translateX(${width}px)` }, { transform: `translateX(${-w}px)` }],
      {
        duration: FLIGHT_MS,
        easing: "linear",
      },
    );
    flight.onfinish = () => el.remove();
  }

  $("danmaku-toggle").addEventListener("change", (event) => {
    danmakuLayer.classList.toggle("hidden", !event.target.checked);
  });

  // ---- the chat ----

  function addMessage(from, text, kind) {
    const nearBottom = messages.scrollHeight - messages.scrollTop - messages.clientHeight < 40;
    const li = document.createElement("li");
    if (kind) li.className = kind;
    const who = document.createElement("span");
    who.className = "from";
    who.textContent = from;
    const what = document.createElement("span");
    what.className = "text";
    what.textContent = text;
    li.append(who, what);
    messages.append(li);
    while (messages.childElementCount > 200) messages.firstElementChild.remove();
    if (nearBottom) messages.scrollTop = messages.scrollHeight;
  }

  function renderBoard(top) {
    const list = $("board");
    list.replaceChildren(
      ...top.map((entry) => {
        const li = document.createElement("li");
        const who = document.createElement("span");
        who.className = "name";
        who.textContent = entry.name;
        const count = document.createElement("span");
        count.className = "count";
        count.textContent = `❤ ${entry.gifts}`;
        li.append(who, count);
        return li;
      }),
    );
  }

  function notice(text) {
    $("notice").textContent = text;
  }

  let socket = null;
  let reconnectMs = 1000;

  function connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const url = `${scheme}//${location.host}/chat/${encodeURIComponent(room)}?name=${encodeURIComponent(name)}`;
    const ws = new WebSocket(url);
    socket = ws;
    ws.onopen = () => {
      document.body.dataset.connected = "true";
      $("chat-status").textContent = "";
    };
    ws.onmessage = (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      receive(message);
    };
    ws.onclose = (event) => {
      document.body.dataset.connected = "false";
      $("chat-status").textContent =
        `(disconnected${event.reason ? `: ${event.reason}` : ""}; reconnecting…)`;
      setTimeout(connect, reconnectMs);
      reconnectMs = Math.min(reconnectMs * 2, 15_000);
    };
  }

  function receive(message) {
    switch (message.type) {
      case "welcome":
        reconnectMs = 1000;
        maxTextLength = message.maxTextLength;
        messages.replaceChildren();
        for (const old of message.history) addMessage(old.from, old.text);
        $("viewers").textContent = String(message.viewers);
        renderBoard(message.board);
        setLive(message.live);
        break;
      case "chat":
        addMessage(message.from, message.text);
        fly(message.text, message.from === name);
        break;
      case "gift":
        addMessage(message.from, `sent a like ❤ (${message.total})`, "gift");
        fly("❤", message.from === name);
        break;
      case "board":
        renderBoard(message.top);
        break;
      case "viewers":
        $("viewers").textContent = String(message.count);
        break;
      case "live":
        setLive(message.live);
        break;
      case "refused":
        notice(`Not sent: ${message.reason}.`);
        break;
    }
  }

  function send(message) {
    if (socket === null || socket.readyState !== WebSocket.OPEN) {
      notice("Not connected; try again in a moment.");
      return false;
    }
    socket.send(JSON.stringify(message));
    return true;
  }

  $("chat-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $("chat-input");
    const text = input.value.trim();
    if (text === "") return;
    if ([...text].length > maxTextLength) {
      notice(`At most ${maxTextLength} characters.`);
      return;
    }
    if (send({ type: "chat", text })) {
      input.value = "";
      notice("");
    }
  });
  $("gift").addEventListener("click", () => send({ type: "gift" }));

  connect();
})();
