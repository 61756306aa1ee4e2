/**
 * A deliberately independent RTMP client, written from the spec and not from onair's codec, so the
 * stress tests can send what a well-behaved client never would (half messages, huge announced
 * lengths, 50 000-deep AMF) and still drive a normal publish or play when they need one.
 *
 * Chunk header written here (RTMP spec 5.3.1), chunk stream ids 2..63 only (one-byte basic header):
 *   fmt 0: [fmt:2 csid:6] [timestamp:24] [length:24] [type:8] [stream id:32 LE]
 *   fmt 3: [fmt:2 csid:6]   (continuation: everything from the last header)
 */
import { randomBytes } from "node:crypto";
import { connect, type Socket } from "node:net";

export const RTMP_HANDSHAKE_SIZE = 1536;
export const MAX_ONE_BYTE_CSID = 63;
/** The largest length a 24-bit message header field can announce: 16 MiB - 1. */
export const MAX_ANNOUNCED_LENGTH = 0xffffff;

export const MessageTypeId = {
  setChunkSize: 1,
  audio: 8,
  video: 9,
  dataAmf0: 18,
  commandAmf0: 20,
} as const;

/** Opens a TCP connection; rejects on error (refused, reset) before it connects. */
export function connectTcp(host: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    const onError = (error: Error): void => {
      socket.destroy();
      reject(error);
    };
    socket.once("error", onError);
    socket.once("connect", () => {
      socket.off("error", onError);
      // A hostile client must never crash the test on a reset; errors are seen through 'close'.
      socket.on("error", () => {});
      resolve(socket);
    });
  });
}

/** Collects what a socket receives so a test can wait for N bytes or for a text to appear. */
export class ReceivedBytes {
  #chunks: Buffer[] = [];
  #length = 0;
  total = 0;
  closed = false;
  readonly #waiters = new Set<() => void>();

  constructor(
    socket: Socket,
    /** Keep at most this many recent bytes (the total is always counted). */
    readonly keepBytes = 256 * 1024,
  ) {
    socket.on("data", (data: Buffer) => {
      this.total += data.length;
      this.#chunks.push(data);
      this.#length += data.length;
      while (this.#length - this.#chunks[0].length >= this.keepBytes && this.#chunks.length > 1) {
        this.#length -= (this.#chunks.shift() as Buffer).length;
      }
      this.#wake();
    });
    socket.once("close", () => {
      this.closed = true;
      this.#wake();
    });
  }

  /** The bytes kept (the most recent `keepBytes` or more). */
  bytes(): Buffer {
    if (this.#chunks.length > 1) this.#chunks = [Buffer.concat(this.#chunks)];
    return this.#chunks[0] ?? Buffer.alloc(0);
  }

  /** Removes and returns the first `n` kept bytes. */
  take(n: number): Buffer {
    const all = this.bytes();
    const taken = all.subarray(0, n);
    this.#chunks = [all.subarray(n)];
    this.#length = all.length - n;
    return taken;
  }

  /** Resolves when `predicate` holds; rejects if the socket closes first or after `timeoutMs`. */
  until(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (predicate()) finish();
        else if (this.closed) finish(new Error(`connection closed while waiting for ${what}`));
      };
      const timer = setTimeout(() => finish(new Error(`timed out waiting for ${what}`)), timeoutMs);
      const finish = (error?: Error): void => {
        clearTimeout(timer);
        this.#waiters.delete(check);
        if (error === undefined) resolve();
        else reject(error);
      };
      this.#waiters.add(check);
      check();
    });
  }

  untilLength(n: number, timeoutMs: number): Promise<void> {
    return this.until(() => this.#length >= n, timeoutMs, `${n} bytes`);
  }

  untilText(text: string, timeoutMs: number): Promise<void> {
    const needle = Buffer.from(text);
    return this.until(() => this.bytes().includes(needle), timeoutMs, `"${text}"`);
  }

  #wake(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }
}

/**
 * The simple handshake as a client: C0 (version 3) + C1, read S0 S1 S2, answer C2 = S1.
 * Returns the collector with the handshake bytes already taken off.
 */
export async function rtmpHandshake(socket: Socket, timeoutMs = 5_000): Promise<ReceivedBytes> {
  const received = new ReceivedBytes(socket);
  const c1 = randomBytes(RTMP_HANDSHAKE_SIZE);
  c1.fill(0, 0, 8); // time and zero fields
  socket.write(Buffer.concat([Buffer.from([3]), c1]));
  await received.untilLength(1 + 2 * RTMP_HANDSHAKE_SIZE, timeoutMs);
  const s0s1s2 = received.take(1 + 2 * RTMP_HANDSHAKE_SIZE);
  socket.write(s0s1s2.subarray(1, 1 + RTMP_HANDSHAKE_SIZE));
  return received;
}

/** One message as chunks: a type 0 header, then type 3 continuations every `chunkSize` bytes. */
export function encodeChunks(
  chunkStreamId: number,
  typeId: number,
  messageStreamId: number,
  timestamp: number,
  payload: Buffer,
  chunkSize: number,
): Buffer {
  return Buffer.concat([
    chunkHeader(chunkStreamId, typeId, messageStreamId, timestamp, payload.length),
    ...splitContinuations(chunkStreamId, payload, chunkSize),
  ]);
}

/** A type 0 chunk header announcing a message of `length` bytes. */
export function chunkHeader(
  chunkStreamId: number,
  typeId: number,
  messageStreamId: number,
  timestamp: number,
  length: number,
): Buffer {
  if (chunkStreamId < 2 || chunkStreamId > MAX_ONE_BYTE_CSID) throw new RangeError("csid must be 2..63");
  const header = Buffer.alloc(12);
  header[0] = chunkStreamId;
  header.writeUIntBE(Math.min(timestamp, 0xfffffe), 1, 3);
  header.writeUIntBE(length, 4, 3);
  header[7] = typeId;
  header.writeUInt32LE(messageStreamId, 8);
  return header;
}

/** The payload cut at `chunkSize`, with a one-byte type 3 header before every piece but the first. */
function splitContinuations(chunkStreamId: number, payload: Buffer, chunkSize: number): Buffer[] {
  const pieces: Buffer[] = [];
  for (let at = 0; at < payload.length; at += chunkSize) {
    if (at > 0) pieces.push(Buffer.from([0xc0 | chunkStreamId]));
    pieces.push(payload.subarray(at, at + chunkSize));
  }
  return pieces;
}

/** A Set Chunk Size message on chunk stream 2. `size` may be anything up to 0xffffffff. */
export function setChunkSize(size: number): Buffer {
  const body = Buffer.alloc(4);
  body.writeUInt32BE(size >>> 0);
  return encodeChunks(2, MessageTypeId.setChunkSize, 0, 0, body, 128);
}

export type Amf0Value = number | string | boolean | null | { [key: string]: Amf0Value };

/** AMF0 for the few types commands need (number, boolean, string, object, null). */
export function encodeAmf0(...values: Amf0Value[]): Buffer {
  const parts: Buffer[] = [];
  const put = (value: Amf0Value): void => {
    if (value === null) {
      parts.push(Buffer.from([0x05]));
    } else if (typeof value === "number") {
      const b = Buffer.alloc(9);
      b.writeDoubleBE(value, 1);
      parts.push(b);
    } else if (typeof value === "boolean") {
      parts.push(Buffer.from([0x01, value ? 1 : 0]));
    } else if (typeof value === "string") {
      parts.push(Buffer.from([0x02]), amf0Utf8(value));
    } else {
      parts.push(Buffer.from([0x03]));
      for (const [key, inner] of Object.entries(value)) {
        parts.push(amf0Utf8(key));
        put(inner);
      }
      parts.push(Buffer.from([0, 0, 0x09]));
    }
  };
  for (const value of values) put(value);
  return Buffer.concat(parts);
}

function amf0Utf8(text: string): Buffer {
  const bytes = Buffer.from(text, "utf8");
  const length = Buffer.alloc(2);
  length.writeUInt16BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

/**
 * The body of a `connect` command whose command object nests objects `depth` deep:
 * "connect", 1, {a: {a: {a: ... null ...}}}. At 50 000 it is ~350 KB; it segfaults nginx-rtmp.
 */
export function deepAmfConnectBody(depth: number): Buffer {
  const head = encodeAmf0("connect", 1);
  const open = Buffer.from([0x03, 0x00, 0x01, 0x61]); // object marker, key "a"
  const close = Buffer.from([0x00, 0x00, 0x09]);
  const body = Buffer.alloc(head.length + depth * (open.length + close.length) + 1);
  let at = head.copy(body, 0);
  for (let i = 0; i < depth; i++) at += open.copy(body, at);
  body[at++] = 0x05; // the innermost value: null
  for (let i = 0; i < depth; i++) at += close.copy(body, at);
  return body;
}

/** Command chunk stream and the chunk size the raw session writes with after its Set Chunk Size. */
const COMMAND_CSID = 3;
const STREAM_CSID = 8;
const AUDIO_CSID = 4;
const VIDEO_CSID = 6;
export const RAW_CHUNK_SIZE = 60_000;

/**
 * A connected, handshaken RTMP client speaking plain AMF0 commands: enough to publish or play and
 * then misbehave. Statuses are found by their text in the received bytes (robust enough for a test:
 * the server's chunk size is far larger than any status message).
 */
export class RawRtmpSession {
  streamId = 0;
  #transaction = 1;

  private constructor(
    readonly socket: Socket,
    readonly received: ReceivedBytes,
    readonly app: string,
  ) {}

  static async open(host: string, port: number, app: string, timeoutMs = 5_000): Promise<RawRtmpSession> {
    const socket = await connectTcp(host, port);
    try {
      const received = await rtmpHandshake(socket, timeoutMs);
      const session = new RawRtmpSession(socket, received, app);
      socket.write(setChunkSize(RAW_CHUNK_SIZE));
      session.command("connect", {
        app,
        type: "nonprivate",
        flashVer: "FMLE/3.0 (compatible; onair-stress)",
        tcUrl: `rtmp://${host}:${port}/${app}`,
      });
      await received.untilText("NetConnection.Connect.Success", timeoutMs);
      session.command("createStream", null);
      await received.until(
        () => session.#createStreamResult() !== undefined,
        timeoutMs,
        "createStream _result",
      );
      session.streamId = session.#createStreamResult() ?? 1;
      return session;
    } catch (error) {
      socket.destroy();
      throw error;
    }
  }

  command(name: string, commandObject: Amf0Value, ...args: Amf0Value[]): void {
    const body = encodeAmf0(name, this.#transaction++, commandObject, ...args);
    const csid = name === "connect" || name === "createStream" ? COMMAND_CSID : STREAM_CSID;
    const streamId = csid === COMMAND_CSID ? 0 : this.streamId;
    this.socket.write(encodeChunks(csid, MessageTypeId.commandAmf0, streamId, 0, body, RAW_CHUNK_SIZE));
  }

  async publish(name: string, timeoutMs = 5_000): Promise<void> {
    this.command("publish", null, name, "live");
    await this.received.untilText("NetStream.Publish.Start", timeoutMs);
  }

  async play(name: string, timeoutMs = 5_000): Promise<void> {
    this.command("play", null, name, -2);
    await this.received.untilText("NetStream.Play.Start", timeoutMs);
  }

  /** One audio or video message on the published stream. */
  sendMedia(kind: "audio" | "video", timestamp: number, body: Buffer): boolean {
    const csid = kind === "video" ? VIDEO_CSID : AUDIO_CSID;
    const type = kind === "video" ? MessageTypeId.video : MessageTypeId.audio;
    return this.socket.write(encodeChunks(csid, type, this.streamId, timestamp, body, RAW_CHUNK_SIZE));
  }

  /** The stream id from the `_result` of createStream (transaction 2), once it has arrived. */
  #createStreamResult(): number | undefined {
    const bytes = this.received.bytes();
    const marker = Buffer.from("\x02\x00\x07_result");
    for (let at = bytes.indexOf(marker); at !== -1; at = bytes.indexOf(marker, at + 1)) {
      let p = at + marker.length;
      if (bytes.length < p + 9 || bytes[p] !== 0x00 || bytes.readDoubleBE(p + 1) !== 2) continue;
      p += 9;
      if (bytes[p] === 0x05) p += 1;
      else return 1; // a command object we do not walk: assume the first stream id
      if (bytes.length < p + 9) return undefined;
      if (bytes[p] === 0x00) return bytes.readDoubleBE(p + 1);
      return 1;
    }
    return undefined;
  }
}

/** A fake H.264 video tag body: FLV video header (AVC) and `size` bytes of noise. The server never decodes the picture. */
export function videoTagBody(kind: "sequenceHeader" | "keyframe" | "interframe", size: number): Buffer {
  const body = randomBytes(5 + size);
  body[0] = kind === "interframe" ? 0x27 : 0x17;
  body[1] = kind === "sequenceHeader" ? 0 : 1;
  body.fill(0, 2, 5); // composition time
  if (kind === "sequenceHeader") {
    // A minimal AVCDecoderConfigurationRecord header: version 1, baseline 3.0, 4-byte NAL lengths, 0 SPS.
    Buffer.from([1, 66, 0, 30, 0xff, 0xe0]).copy(body, 5);
    return body.subarray(0, 5 + 6 + 1);
  }
  return body;
}

/** An AAC audio tag body: the sequence header (AudioSpecificConfig LC 44.1 kHz stereo) or a raw frame of noise. */
export function audioTagBody(kind: "sequenceHeader" | "frame", size = 200): Buffer {
  if (kind === "sequenceHeader") return Buffer.from([0xaf, 0x00, 0x12, 0x10]);
  const body = randomBytes(2 + size);
  body[0] = 0xaf;
  body[1] = 1;
  return body;
}

export interface MediaPumpOptions {
  /** Video frames per second (one AAC frame goes with each). Default 25. */
  fps?: number;
  /** Bytes of each video frame body. Default 2 000. */
  frameBytes?: number;
  /** A keyframe every this many frames. Default 25. */
  gop?: number;
}

/** Noise shared by every pumped frame: the server never decodes it, and fresh random bytes per frame would cost the test CPU. */
const NOISE = randomBytes(1024 * 1024);

/**
 * Publishes synthetic H.264/AAC on a session that has `publish`ed: the sequence headers, then
 * frames at `fps` with timestamps that advance in real time. `stop()` ends the timer only.
 */
export function startMediaPump(
  session: RawRtmpSession,
  options: MediaPumpOptions = {},
): { stop(): void; frames(): number; timestamp(): number } {
  const fps = options.fps ?? 25;
  const frameBytes = Math.min(options.frameBytes ?? 2_000, NOISE.length);
  const gop = options.gop ?? 25;
  session.sendMedia("video", 0, videoTagBody("sequenceHeader", 0));
  session.sendMedia("audio", 0, audioTagBody("sequenceHeader"));
  const keyframe = Buffer.from([0x17, 1, 0, 0, 0]);
  const interframe = Buffer.from([0x27, 1, 0, 0, 0]);
  const audio = Buffer.concat([Buffer.from([0xaf, 1]), NOISE.subarray(0, 200)]);
  let frame = 0;
  const started = Date.now();
  const send = (): void => {
    // Catch up to the wall clock, so a busy event loop does not slow the stream down.
    const due = Math.floor(((Date.now() - started) * fps) / 1000) + 1;
    while (frame < due && !session.socket.destroyed) {
      const timestamp = Math.round((frame * 1000) / fps);
      const header = frame % gop === 0 ? keyframe : interframe;
      session.sendMedia("video", timestamp, Buffer.concat([header, NOISE.subarray(0, frameBytes)]));
      session.sendMedia("audio", timestamp, audio);
      frame++;
    }
  };
  send();
  const timer = setInterval(send, Math.max(1, Math.floor(1000 / fps)));
  return {
    stop: () => clearInterval(timer),
    frames: () => frame,
    timestamp: () => Math.round((frame * 1000) / fps),
  };
}
