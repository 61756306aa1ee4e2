import type { MediaPacket } from "@onair/core";
import { createPacketFromTagBody } from "@onair/flv";
import { splitAggregate } from "../codec/aggregate.js";
import { MessageType, type RtmpMessage } from "../codec/rtmp-message.js";
import { scriptTagBody } from "../codec/script-data.js";
import { RtmpProtocolError } from "../errors.js";

/**
 * Turns a media message a peer sent into packets, parsed once, for both sessions (a publisher to
 * the server, a played stream to the client). Data goes through byte-exact (an ECMA array stays
 * one); an aggregate (Wowza, FMS) becomes its audio, video and data as if sent alone. A malformed
 * data message or aggregate is advisory: `drop` hears why and nothing else happens. Empty audio
 * and video messages carry nothing and are skipped, and so is data starting with `ignoredScript`.
 */
export function ingestMediaMessage(
  message: RtmpMessage,
  sink: { push(packet: MediaPacket): void },
  drop: (what: "data message" | "aggregate", error: RtmpProtocolError) => void,
  ignoredScript?: Buffer,
): void {
  switch (message.typeId) {
    case MessageType.audio:
    case MessageType.video:
      if (message.payload.length === 0) return;
      sink.push(
        createPacketFromTagBody(
          message.typeId === MessageType.audio ? "audio" : "video",
          message.timestamp,
          message.payload,
        ),
      );
      return;
    case MessageType.dataAmf0:
    case MessageType.dataAmf3: {
      let body: Buffer;
      try {
        body = scriptTagBody(message);
      } catch (error) {
        if (!(error instanceof RtmpProtocolError)) throw error;
        drop("data message", error);
        return;
      }
      if (ignoredScript !== undefined && startsWith(body, ignoredScript)) return;
      sink.push(createPacketFromTagBody("script", message.timestamp, body));
      return;
    }
    case MessageType.aggregate: {
      let parts: RtmpMessage[];
      try {
        parts = splitAggregate(message);
      } catch (error) {
        if (!(error instanceof RtmpProtocolError)) throw error;
        drop("aggregate", error);
        return;
      }
      for (const part of parts) {
        // An aggregate inside an aggregate is not a thing peers send; it is not unpacked again.
        if (part.typeId !== MessageType.aggregate) ingestMediaMessage(part, sink, drop, ignoredScript);
      }
      return;
    }
  }
}

function startsWith(bytes: Buffer, prefix: Buffer): boolean {
  return bytes.length >= prefix.length && bytes.compare(prefix, 0, prefix.length, 0, prefix.length) === 0;
}
