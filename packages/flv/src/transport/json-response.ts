import { type OutgoingHttpHeaders, type ServerResponse, STATUS_CODES } from "node:http";

export function corsHeaders(cors: string | false): Record<string, string> {
  if (cors === false) return {};
  return {
    "Access-Control-Allow-Origin": cors,
    "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
    "Access-Control-Allow-Headers": "Range, Content-Type",
    "Access-Control-Expose-Headers": "Content-Length",
  };
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  cors: string | false,
  head = false,
  extraHeaders: OutgoingHttpHeaders = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...corsHeaders(cors),
    ...extraHeaders,
    "Content-Type": "application/json; charset=utf-8",
    "Content-Length": Buffer.byteLength(text),
    "Cache-Control": "no-cache",
  });
  res.end(head ? undefined : text);
}

/** A whole HTTP/1.1 response with a JSON body, for a socket no `ServerResponse` is attached to. */
export function rawJsonResponse(status: number, body: unknown, headers: OutgoingHttpHeaders): string {
  const text = JSON.stringify(body);
  let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ""}\r\nConnection: close\r\n`;
  head += "Content-Type: application/json; charset=utf-8\r\nCache-Control: no-cache\r\n";
  head += `Content-Length: ${Buffer.byteLength(text)}\r\n`;
  for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
  return `${head}\r\n${text}`;
}

export function liveFlvHeaders(cors: string | false): OutgoingHttpHeaders {
  return { ...corsHeaders(cors), "Content-Type": "video/x-flv", "Cache-Control": "no-cache" };
}

export function errorCode(error: Error | undefined): string | undefined {
  return (error as { code?: string } | undefined)?.code;
}
