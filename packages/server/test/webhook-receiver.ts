import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface ReceivedHook {
  path: string;
  /** The URL's query, "?..." or "". */
  query: string;
  authorization: string | undefined;
  contentType: string | undefined;
  body: Record<string, unknown>;
}

/** What the receiver answers a hook: an HTTP status, or "hang" (never answer). */
export type HookAnswer = number | "hang";

/** A small HTTP server that stands for the user's webhook endpoint: records every POST. */
export interface WebhookReceiver {
  readonly base: string;
  readonly received: ReceivedHook[];
  /** Decides the answer of each POST; default 200. */
  answer: (hook: ReceivedHook) => HookAnswer;
  /** The hooks received on `path`. */
  on(path: string): ReceivedHook[];
  close(): Promise<void>;
}

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const held = new Set<ServerResponse>();
  const receiver: WebhookReceiver = {
    base: "",
    received: [],
    answer: () => 200,
    on: (path) => receiver.received.filter((hook) => hook.path === path),
    close: async () => {
      for (const res of held) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      } catch {
        body = { unparsable: Buffer.concat(chunks).toString("utf8") };
      }
      const url = new URL(req.url ?? "/", "http://x");
      const hook: ReceivedHook = {
        path: url.pathname,
        query: url.search,
        authorization: req.headers.authorization,
        contentType: req.headers["content-type"],
        body,
      };
      receiver.received.push(hook);
      const answer = req.method === "POST" ? receiver.answer(hook) : 405;
      if (answer === "hang") {
        held.add(res);
        res.on("close", () => held.delete(res));
        return;
      }
      res.writeHead(answer, { "content-type": "text/plain" });
      res.end(answer >= 200 && answer < 300 ? "ok" : "no");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  (receiver as { base: string }).base = `http://127.0.0.1:${port}`;
  return receiver;
}
