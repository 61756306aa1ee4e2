/**
 * The chat of the live rooms, on the `ws` package: per room, messages broadcast to every viewer, a
 * viewer count, gifts (likes) with a board of the top senders, and the room's live/offline state.
 *
 * Everything a viewer sends is hostile input:
 * - a frame over `maxPayloadBytes` is refused by ws itself, which closes the connection (1009);
 * - a text over `maxTextLength` characters is refused (the sender is told), control characters go;
 * - each connection has a token bucket (`burst` messages, refilled at `ratePerSecond`); a message
 *   without a token is dropped, and `maxDroppedInARow` of them close the connection (1008);
 * - nothing is HTML: the page renders every field with textContent;
 * - a viewer that does not read (its socket's bufferedAmount over `maxBufferedBytes`) is dropped,
 *   never buffered for without bound.
 * Memory is bounded too: rooms, connections, history and board entries all have a cap.
 *
 * Wire protocol (JSON text frames). Viewer → server: `{ type: "chat", text }`, `{ type: "gift" }`.
 * Server → viewer: `welcome` (state on join), `chat`, `gift`, `viewers`, `board`, `live`, `refused`.
 */
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { type RawData, type WebSocket, WebSocketServer } from "ws";

export interface ChatHubOptions {
  /** Characters (code points) per chat message. Default 200. */
  maxTextLength?: number;
  /** Bytes per WebSocket frame; ws closes the connection with 1009 past it. Default 4096. */
  maxPayloadBytes?: number;
  /** Messages (chat or gift) a connection may send at once. Default 8. */
  burst?: number;
  /** Tokens refilled per second. Default 2. */
  ratePerSecond?: number;
  /** Messages dropped in a row for want of a token before the connection is closed (1008). Default 10. */
  maxDroppedInARow?: number;
  /** Bytes queued to one viewer before it is dropped as a slow reader. Default 256 KiB. */
  maxBufferedBytes?: number;
  /** Chat messages kept per room for viewers who join later. Default 30. */
  historySize?: number;
  /** Entries of the top-senders board sent to viewers. Default 10. */
  boardSize?: number;
  /** Names a room's gift tally keeps; past it the smallest sender is forgotten. Default 10 000. */
  maxBoardEntries?: number;
  /** Rooms kept; past it an empty room is forgotten, or the viewer refused. Default 1000. */
  maxRooms?: number;
  /** Viewers connected at once, all rooms together. Default 10 000. */
  maxConnections?: number;
  /** How often viewer counts and boards go out, at most, in ms. Default 200. */
  updateIntervalMs?: number;
}

export interface ChatMessage {
  from: string;
  text: string;
  at: number;
}

export interface ChatHubStats {
  rooms: number;
  connections: number;
  /** Refused or dropped since start, by cause. */
  dropped: {
    tooLong: number;
    rateLimited: number;
    invalid: number;
    slowReaders: number;
    closedForSpam: number;
  };
}

const ROOM_NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/;
const NICKNAME = /^[\p{L}\p{N}_.-]{1,24}$/u;
// C0/C1 controls and bidi overrides: nothing that moves the cursor or reorders the text around it.
// biome-ignore lint/suspicious/noControlCharactersInRegex: they are what it removes
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/** A room name: lowercase letters, digits, `_` and `-`, up to 32, as it appears in URLs and stream keys. */
export function isRoomName(value: string): boolean {
  return ROOM_NAME.test(value);
}

/** A nickname: 1 to 24 letters, digits, `_`, `.` or `-` (any script). */
export function isNickname(value: string): boolean {
  return NICKNAME.test(value);
}

class TokenBucket {
  #tokens: number;
  #last = Date.now();
  droppedInARow = 0;

  constructor(
    readonly burst: number,
    readonly ratePerMs: number,
  ) {
    this.#tokens = burst;
  }

  take(): boolean {
    const now = Date.now();
    this.#tokens = Math.min(this.burst, this.#tokens + (now - this.#last) * this.ratePerMs);
    this.#last = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}

interface Viewer {
  socket: WebSocket;
  name: string;
  bucket: TokenBucket;
}

class Room {
  readonly viewers = new Set<Viewer>();
  readonly history: ChatMessage[] = [];
  readonly gifts = new Map<string, number>();
  live = false;
  /** Viewer count or board changed since the last update went out. */
  countChanged = false;
  boardChanged = false;
  timer: NodeJS.Timeout | undefined;

  constructor(readonly name: string) {}

  board(size: number): { name: string; gifts: number }[] {
    return [...this.gifts]
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
      .slice(0, size)
      .map(([name, gifts]) => ({ name, gifts }));
  }
}

export class ChatHub {
  readonly #options: Required<ChatHubOptions>;
  readonly #isLive: (room: string) => boolean;
  readonly #server: WebSocketServer;
  readonly #rooms = new Map<string, Room>();
  #connections = 0;
  #closed = false;
  readonly #dropped: ChatHubStats["dropped"] = {
    tooLong: 0,
    rateLimited: 0,
    invalid: 0,
    slowReaders: 0,
    closedForSpam: 0,
  };

  /** `isLive(room)` tells a room's state when its first viewer joins; `setLive` keeps it after. */
  constructor(isLive: (room: string) => boolean, options: ChatHubOptions = {}) {
    this.#isLive = isLive;
    this.#options = {
      maxTextLength: 200,
      maxPayloadBytes: 4096,
      burst: 8,
      ratePerSecond: 2,
      maxDroppedInARow: 10,
      maxBufferedBytes: 256 * 1024,
      historySize: 30,
      boardSize: 10,
      maxBoardEntries: 10_000,
      maxRooms: 1000,
      maxConnections: 10_000,
      updateIntervalMs: 200,
      ...options,
    };
    this.#server = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      perMessageDeflate: false,
      maxPayload: this.#options.maxPayloadBytes,
    });
  }

  /** Viewers in `room` now. */
  viewers(room: string): number {
    return this.#rooms.get(room)?.viewers.size ?? 0;
  }

  stats(): ChatHubStats {
    return { rooms: this.#rooms.size, connections: this.#connections, dropped: { ...this.#dropped } };
  }

  /**
   * Take an HTTP upgrade for `room` as viewer `name` (both checked here: a bad one, a full server
   * or a closed hub answers an HTTP error and the socket is ended).
   */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, room: string, name: string): void {
    const target = this.#refusal(room, name) ?? this.#room(room);
    if (typeof target === "string" || target === undefined) {
      const status = target ?? "503 Service Unavailable";
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    // Counted from now, so a burst of upgrades cannot pass the cap; given back if ws refuses it.
    this.#connections += 1;
    let joined = false;
    socket.once("close", () => {
      if (!joined) this.#connections -= 1;
    });
    this.#server.handleUpgrade(req, socket, head, (ws) => {
      joined = true;
      this.#join(target, ws, name);
    });
  }

  /** Why a viewer cannot join (an HTTP status line), or undefined. */
  #refusal(room: string, name: string): string | undefined {
    if (this.#closed || this.#connections >= this.#options.maxConnections) return "503 Service Unavailable";
    if (!isRoomName(room) || !isNickname(name)) return "400 Bad Request";
    return undefined;
  }

  /** The room's stream went live (true) or offline (false): every viewer is told at once. */
  setLive(room: string, live: boolean): void {
    const target = this.#rooms.get(room);
    if (target === undefined || target.live === live) return;
    target.live = live;
    this.#broadcast(target, { type: "live", live });
  }

  /** Close every connection (1001; cut after 1 s without an answer), refuse new viewers. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const room of this.#rooms.values()) {
      clearTimeout(room.timer);
      for (const { socket } of room.viewers) {
        socket.close(1001, "server closing");
        // A peer that does not answer the close is cut off, so the server can finish closing.
        setTimeout(() => socket.terminate(), 1000).unref();
      }
    }
    this.#rooms.clear();
    this.#server.close();
  }

  #room(name: string): Room | undefined {
    let room = this.#rooms.get(name);
    if (room !== undefined) return room;
    if (this.#rooms.size >= this.#options.maxRooms) {
      // Forget the oldest room nobody is watching (its board goes with it), or refuse.
      let idle: Room | undefined;
      for (const candidate of this.#rooms.values()) {
        if (candidate.viewers.size === 0) {
          idle = candidate;
          break;
        }
      }
      if (idle === undefined) return undefined;
      clearTimeout(idle.timer);
      this.#rooms.delete(idle.name);
    }
    room = new Room(name);
    room.live = this.#isLive(name);
    this.#rooms.set(name, room);
    return room;
  }

  #join(room: Room, socket: WebSocket, name: string): void {
    const { burst, ratePerSecond } = this.#options;
    const viewer: Viewer = { socket, name, bucket: new TokenBucket(burst, ratePerSecond / 1000) };
    if (this.#closed) {
      this.#connections -= 1;
      socket.close(1001, "server closing");
      return;
    }
    room.viewers.add(viewer);
    // ws reports a bad frame (too big: 1009, not UTF-8: 1007) here, then closes the connection.
    socket.on("error", () => socket.terminate());
    socket.on("close", () => {
      this.#connections -= 1;
      room.viewers.delete(viewer);
      this.#changed(room, "count");
    });
    socket.on("message", (data, isBinary) => this.#onMessage(room, viewer, data, isBinary));
    this.#send(viewer, {
      type: "welcome",
      room: room.name,
      you: name,
      live: room.live,
      viewers: room.viewers.size,
      board: room.board(this.#options.boardSize),
      history: room.history,
      maxTextLength: this.#options.maxTextLength,
    });
    this.#changed(room, "count");
  }

  #onMessage(room: Room, viewer: Viewer, data: RawData, isBinary: boolean): void {
    const { bucket, socket } = viewer;
    if (socket.readyState !== socket.OPEN) return; // closing: what it still sends is not read
    if (!bucket.take()) {
      this.#dropped.rateLimited += 1;
      bucket.droppedInARow += 1;
      if (bucket.droppedInARow >= this.#options.maxDroppedInARow) {
        this.#dropped.closedForSpam += 1;
        socket.close(1008, "too many messages");
      }
      return;
    }
    bucket.droppedInARow = 0;
    let message: unknown;
    try {
      message = isBinary ? undefined : JSON.parse(data.toString());
    } catch {
      message = undefined;
    }
    const type =
      typeof message === "object" && message !== null ? (message as { type?: unknown }).type : undefined;
    if (type === "chat") {
      const raw = (message as { text?: unknown }).text;
      const text = typeof raw === "string" ? raw.replace(CONTROL, " ").trim() : "";
      if (text === "") {
        this.#dropped.invalid += 1;
        return;
      }
      if ([...text].length > this.#options.maxTextLength) {
        this.#dropped.tooLong += 1;
        this.#send(viewer, {
          type: "refused",
          reason: `longer than ${this.#options.maxTextLength} characters`,
        });
        return;
      }
      const chat: ChatMessage = { from: viewer.name, text, at: Date.now() };
      room.history.push(chat);
      if (room.history.length > this.#options.historySize) room.history.shift();
      this.#broadcast(room, { type: "chat", ...chat });
    } else if (type === "gift") {
      const gifts = room.gifts;
      if (!gifts.has(viewer.name) && gifts.size >= this.#options.maxBoardEntries) {
        let smallest: string | undefined;
        let least = Number.POSITIVE_INFINITY;
        for (const [name, count] of gifts) {
          if (count < least) [smallest, least] = [name, count];
        }
        if (smallest !== undefined) gifts.delete(smallest);
      }
      const total = (gifts.get(viewer.name) ?? 0) + 1;
      gifts.set(viewer.name, total);
      this.#broadcast(room, { type: "gift", from: viewer.name, total });
      this.#changed(room, "board");
    } else {
      this.#dropped.invalid += 1;
    }
  }

  /** Viewer counts and boards go out at most every updateIntervalMs per room, not per join or gift. */
  #changed(room: Room, what: "count" | "board"): void {
    if (what === "count") room.countChanged = true;
    else room.boardChanged = true;
    if (room.timer !== undefined || this.#closed) return;
    room.timer = setTimeout(() => {
      room.timer = undefined;
      if (room.countChanged) this.#broadcast(room, { type: "viewers", count: room.viewers.size });
      if (room.boardChanged)
        this.#broadcast(room, { type: "board", top: room.board(this.#options.boardSize) });
      room.countChanged = false;
      room.boardChanged = false;
    }, this.#options.updateIntervalMs);
    room.timer.unref();
  }

  /** Encoded once, sent to every viewer that keeps up; one that does not is dropped. */
  #broadcast(room: Room, message: object): void {
    const frame = JSON.stringify(message);
    for (const viewer of room.viewers) this.#sendFrame(viewer, frame);
  }

  #send(viewer: Viewer, message: object): void {
    this.#sendFrame(viewer, JSON.stringify(message));
  }

  #sendFrame(viewer: Viewer, frame: string): void {
    const { socket } = viewer;
    if (socket.readyState !== socket.OPEN) return;
    if (socket.bufferedAmount > this.#options.maxBufferedBytes) {
      this.#dropped.slowReaders += 1;
      socket.terminate(); // its queue is what is too big: no close frame behind it
      return;
    }
    socket.send(frame);
  }
}
