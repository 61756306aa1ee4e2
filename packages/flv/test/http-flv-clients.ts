/** Small HTTP, raw-socket and WebSocket clients for the HTTP-FLV server tests. */
import { type IncomingHttpHeaders, request } from "node:http";
import { connect, type Socket } from "node:net";
import { WebSocket } from "ws";

export interface HttpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  /** The body, or its first 4 KiB for a live stream. */
  body: Buffer;
}

export interface ClientOptions {
  method?: string;
  headers?: Record<string, string>;
  /** Source address to connect from (any 127.x.y.z works on loopback). */
  localAddress?: string;
}

/** One HTTP request; a live body is read up to 4 KiB, then the connection is dropped. */
export function httpGet(port: number, path: string, options: ClientOptions = {}): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        path,
        method: options.method ?? "GET",
        headers: options.headers,
        localAddress: options.localAddress,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let bytes = 0;
        res.on("data", (chunk: Buffer) => {
          chunks.push(chunk);
          bytes += chunk.length;
          if (bytes >= 4096) res.destroy();
        });
        res.on("close", () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
      },
    );
    req.on("error", reject);
    req.end();
  });
}

export function json(answer: HttpAnswer): unknown {
  return JSON.parse(answer.body.toString("utf8"));
}

/** Connect, send `bytes` (if any), and collect everything the server sends until it closes. */
export function rawExchange(port: number, bytes: string | undefined, localAddress?: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port, localAddress });
    let answer = "";
    socket.setEncoding("utf8");
    socket.on("data", (d: string) => {
      answer += d;
    });
    socket.on("error", () => {});
    socket.on("close", () => resolve(answer));
    if (bytes !== undefined) socket.write(bytes);
  });
}

/** An open TCP connection that sends nothing: it holds a connection slot. */
export function idleConnection(port: number, localAddress?: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port, localAddress }, () => resolve(socket));
    socket.on("error", reject);
  });
}

export interface WebSocketOutcome {
  /** The upgrade succeeded. */
  opened: boolean;
  /** The HTTP status of a failed upgrade. */
  status?: number;
  closeCode?: number;
  closeReason?: string;
  /** Bytes received before the close. */
  bytes: number;
  firstMessage?: Buffer;
}

/** A ws client until the socket closes, or until `bytesWanted` bytes arrived (then it closes it). */
export function webSocketOutcome(
  url: string,
  options: { localAddress?: string; bytesWanted?: number } = {},
): Promise<WebSocketOutcome> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { localAddress: options.localAddress });
    const outcome: WebSocketOutcome = { opened: false, bytes: 0 };
    ws.on("open", () => {
      outcome.opened = true;
    });
    ws.on("unexpected-response", (_req, res) => {
      outcome.status = res.statusCode;
      res.resume();
      ws.terminate();
      resolve(outcome);
    });
    ws.on("message", (data: Buffer) => {
      outcome.firstMessage ??= data;
      outcome.bytes += data.length;
      if (options.bytesWanted !== undefined && outcome.bytes >= options.bytesWanted) ws.close(1000);
    });
    ws.on("error", () => {});
    ws.on("close", (code, reason) => {
      outcome.closeCode = code;
      outcome.closeReason = reason.toString("utf8");
      resolve(outcome);
    });
  });
}
