/**
 * Review: YAML reads a plain `secret: 0123` as the number 123. The JWT secret and the Redis
 * password from the file were that number as a string: leading zeros dropped, hex and exponent
 * forms turned into other digits, and a long numeric secret rounded to 17 significant digits
 * (`839274928374928374928374` became "8.392749283749284e+23": far fewer bits than written). A
 * string setting takes the text exactly as written.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { tempDir } from "../../../test-support/media-tools.js";
import { loadConfig } from "../src/config.js";

describe("string settings written as YAML numbers (review)", () => {
  const dirs: { remove: () => void }[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) dir.remove();
  });

  function load(yaml: string) {
    const dir = tempDir("onair-review-config-");
    dirs.push(dir);
    const file = join(dir.path, "onair.yaml");
    writeFileSync(file, yaml);
    const loaded = loadConfig({ argv: ["-c", file], env: {} });
    if (loaded.help) throw new Error("help");
    return loaded.config;
  }

  it("jwt.secret and redis_pwd are the text as written", () => {
    const config = load(
      ["jwt:", "  secret: 839274928374928374928374", "redis_addr: 127.0.0.1:6379", "redis_pwd: 0x00ff"].join(
        "\n",
      ),
    );
    expect(config.jwt?.secret).toBe("839274928374928374928374");
    expect(config.redis?.password).toBe("0x00ff");
    expect(load("jwt:\n  secret: 0123\n").jwt?.secret).toBe("0123");
    expect(load("jwt:\n  secret: 1e3\n").jwt?.secret).toBe("1e3");
  });

  it("numbers stay numbers where a number is meant, and quoted strings are unchanged", () => {
    const config = load('rtmp_port: 1936\nhls_window: 4\njwt:\n  secret: "00042"\n');
    expect(config.rtmpPort).toBe(1936);
    expect(config.jwt?.secret).toBe("00042");
  });
});
