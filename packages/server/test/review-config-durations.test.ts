/**
 * Review: every duration setting ends up in a Node timer, which holds at most 2^31-1 ms (about
 * 24.8 days): past it Node fires after 1 ms (a webhook timeout of "600h" made every hook "time
 * out", so on_error decided every publish and play) or throws. Such a value is refused at start
 * with a message naming the setting, as any invalid setting.
 */
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../src/config.js";

function refusal(argv: string[]): unknown {
  try {
    loadConfig({ argv, env: {}, readFiles: false });
  } catch (error) {
    return error;
  }
  return undefined;
}

describe("durations a timer cannot hold (review)", () => {
  it("--webhooks-timeout over 24.8 days fails naming the setting", () => {
    const error = refusal(["--webhooks-on-publish", "http://127.0.0.1:9/p", "--webhooks-timeout", "600h"]);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(/webhooks[.-]timeout/);
  });

  it("other durations too (republish grace, read timeout in seconds)", () => {
    expect(refusal(["--republish-grace", "2147483648"])).toBeInstanceOf(ConfigError);
    expect(refusal(["--read-timeout", "2147484"])).toBeInstanceOf(ConfigError);
  });

  it("the longest a timer holds is still accepted", () => {
    expect(refusal(["--republish-grace", "2147483647"])).toBeUndefined();
    expect(
      refusal(["--webhooks-on-publish", "http://127.0.0.1:9/p", "--webhooks-timeout", "596h"]),
    ).toBeUndefined();
  });
});
