import { RtmpErrorCode, RtmpProtocolError } from "../errors.js";
import type { AmfLimits, AmfValue } from "./amf.js";
import { decodeAmf0, encodeAmf0 } from "./amf0.js";
import { MessageType, type RtmpMessage } from "./rtmp-message.js";

/** A NetConnection/NetStream command: `connect`, `createStream`, `publish`, `_result`, `onStatus`, ... */
export interface RtmpCommand {
  name: string;
  transactionId: number;
  /** The command object (connect's app/tcUrl/...), usually null for stream commands. */
  commandObject: AmfValue;
  args: AmfValue[];
}

/** Chunk streams the onair endpoints use: control, commands, then shared media. */
export const ChunkStream = { control: 2, command: 3, audio: 4, data: 5, video: 6 } as const;

/**
 * Decode a command message body (type 20 AMF0, or type 17 whose body is a 0x00 format byte
 * followed by AMF0 values that may switch to AMF3).
 */
export function decodeCommand(message: RtmpMessage, limits?: AmfLimits): RtmpCommand {
  const body = message.typeId === MessageType.commandAmf3 ? message.payload.subarray(1) : message.payload;
  const values = decodeAmf0(body, limits);
  const [name, transactionId, commandObject = null, ...args] = values;
  if (typeof name !== "string") {
    throw new RtmpProtocolError(RtmpErrorCode.command, "command message does not start with a name");
  }
  return {
    name,
    transactionId: typeof transactionId === "number" ? transactionId : 0,
    commandObject,
    args,
  };
}

/** Decode a data message body (type 18 AMF0 or type 15 with a leading format byte) into its values. */
export function decodeData(message: RtmpMessage, limits?: AmfLimits): AmfValue[] {
  const body = message.typeId === MessageType.dataAmf3 ? message.payload.subarray(1) : message.payload;
  return decodeAmf0(body, limits);
}

export function commandMessage(
  command: RtmpCommand,
  messageStreamId = 0,
  chunkStreamId: number = ChunkStream.command,
): RtmpMessage {
  return {
    chunkStreamId,
    typeId: MessageType.commandAmf0,
    messageStreamId,
    timestamp: 0,
    payload: encodeAmf0([command.name, command.transactionId, command.commandObject, ...command.args]),
  };
}

export function dataMessage(
  values: readonly AmfValue[],
  messageStreamId: number,
  chunkStreamId: number = ChunkStream.command,
): RtmpMessage {
  return {
    chunkStreamId,
    typeId: MessageType.dataAmf0,
    messageStreamId,
    timestamp: 0,
    payload: encodeAmf0(values),
  };
}

/** The info object of an onStatus command. */
export interface StatusInfo {
  level: "status" | "error" | "warning";
  code: string;
  description: string;
  [key: string]: AmfValue;
}

export function statusMessage(messageStreamId: number, info: StatusInfo): RtmpMessage {
  return commandMessage(
    { name: "onStatus", transactionId: 0, commandObject: null, args: [info] },
    messageStreamId,
  );
}
