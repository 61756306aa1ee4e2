import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import { nextStreamId, type StreamInfo } from "@onair/core";
import { isSafePathPart } from "../safe-path.js";

export interface FlvTarget {
  app: string;
  name: string;
  query: URLSearchParams;
}

/** "/APP/NAME.flv?query" → its parts, or undefined when the path is not a safe stream path. */
export function parseFlvPath(url: string): FlvTarget | undefined {
  const queryAt = url.indexOf("?");
  const path = queryAt === -1 ? url : url.slice(0, queryAt);
  const parts = path.split("/");
  if (parts.length !== 3 || parts[0] !== "" || !parts[2].endsWith(".flv")) return undefined;
  let app: string;
  let name: string;
  try {
    app = decodeURIComponent(parts[1]);
    name = decodeURIComponent(parts[2].slice(0, -4));
  } catch {
    return undefined;
  }
  if (!isSafePathPart(app) || !isSafePathPart(name)) return undefined;
  return { app, name, query: new URLSearchParams(queryAt === -1 ? "" : url.slice(queryAt + 1)) };
}

export function peerAddress(socket: Socket | Duplex): string {
  const { remoteAddress, remotePort } = socket as Socket;
  return `${remoteAddress ?? "?"}:${remotePort ?? 0}`;
}

export function streamInfo(
  target: FlvTarget,
  scheme: "http" | "ws",
  host: string,
  remoteAddress: string,
): StreamInfo {
  return {
    key: `${target.app}/${target.name}`,
    app: target.app,
    name: target.name,
    url: `${scheme}://${host}/${target.app}/${target.name}.flv`,
    id: nextStreamId(scheme === "http" ? "http-flv-" : "ws-flv-"),
    query: target.query,
    remoteAddress,
  };
}
