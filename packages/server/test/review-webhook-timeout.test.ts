/**
 * Review: a webhook timeout past what a Node timer holds (2^31-1 ms, about 24.8 days) became a
 * 1 ms timeout (every hook "timed out": with on_error allow, everything was let in), and past
 * 2^32-1 ms a RangeError inside each POST (an unhandled rejection for notifications). Such a
 * setting is refused at start.
 */
import { describe, expect, it } from "vitest";
import { createWebhooks } from "../src/webhooks.js";

describe("webhook timeouts a timer cannot hold (review)", () => {
  it("createWebhooks refuses a timeoutMs over 2^31-1 ms", () => {
    for (const timeoutMs of [2 ** 31, 2 ** 32, 1e12]) {
      expect(() => createWebhooks({ onPublish: "http://127.0.0.1:9/p", timeoutMs })).toThrow(
        expect.objectContaining({ code: "ERR_WEBHOOK_CONFIG" }),
      );
    }
    expect(() => createWebhooks({ onPublish: "http://127.0.0.1:9/p", timeoutMs: 2 ** 31 - 1 })).not.toThrow();
  });
});
