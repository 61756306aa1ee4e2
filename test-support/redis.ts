/** A real redis-server on a loopback port, for interop tests (the Redis key store). */
import { freePort, hasCommand, requireTool, run } from "./media-tools.js";
import { waitForListening } from "./nginx-rtmp.js";

export const hasRedis = requireTool("redis-server", hasCommand("redis-server"));

export interface RedisServer {
  port: number;
  /** "127.0.0.1:PORT", livego's redis_addr form. */
  addr: string;
  /** redis-server's output. */
  log: () => string;
  stop: () => Promise<void>;
}

/**
 * Start `redis-server` on a free loopback port, with nothing saved to disk (`--save ''
 * --appendonly no`); `password` turns on requirepass. A server started again on the same `port`
 * starts empty.
 */
export async function startRedis(options: { port?: number; password?: string } = {}): Promise<RedisServer> {
  const port = options.port ?? (await freePort());
  const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"];
  if (options.password !== undefined) args.push("--requirepass", options.password);
  const redis = run("redis-server", args);
  const exitedEarly = redis.exited.then((code) => {
    throw new Error(`redis-server exited (${code}):\n${redis.stdout().slice(-3000)}${redis.stderr()}`);
  });
  await Promise.race([waitForListening(port), exitedEarly]);
  exitedEarly.catch(() => {});
  return {
    port,
    addr: `127.0.0.1:${port}`,
    log: () => redis.stdout() + redis.stderr(),
    stop: async () => {
      redis.kill("SIGTERM");
      await redis.exited;
    },
  };
}
