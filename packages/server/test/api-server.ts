/** Test helpers for the control API: the handler on a loopback http server, and JSON calls to it. */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { type ApiHandlerOptions, createApiHandler } from "../src/api/api-handler.js";

export interface ApiUnderTest {
  base: string;
  errors: unknown[];
  close: () => Promise<void>;
}

export async function serveApi(options: ApiHandlerOptions): Promise<ApiUnderTest> {
  const errors: unknown[] = [];
  const handler = createApiHandler({ onError: (error) => errors.push(error), ...options });
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    errors,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface ApiReply {
  httpStatus: number;
  contentType: string | null;
  body: { status: number; data: unknown };
  text: string;
}

/** Call the API; the body is parsed as JSON (the test fails if it is not). */
export async function call(url: string, init?: RequestInit): Promise<ApiReply> {
  const response = await fetch(url, init);
  const text = await response.text();
  let body: ApiReply["body"];
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`not JSON (${response.status}): ${text.slice(0, 200)}`);
  }
  return { httpStatus: response.status, contentType: response.headers.get("content-type"), body, text };
}
