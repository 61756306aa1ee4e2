// node-media-server 4.4.3 as a benchmark anchor, in its own process so its CPU and RSS are its own.
// Usage: node bench/nms-server.cjs RTMP_PORT HTTP_PORT WORK_DIR
const NodeMediaServer = require("node-media-server");

const [rtmpPort, httpPort, workDir] = process.argv.slice(2);
const server = new NodeMediaServer({
  bind: "127.0.0.1",
  rtmp: { port: Number(rtmpPort), chunk_size: 4096, gop_cache: true, ping: 60, ping_timeout: 30 },
  http: { port: Number(httpPort), allow_origin: "*" },
  record: { auto: false, path: workDir },
  store: { path: workDir },
  auth: { play: false, publish: false, secret: "" },
});
server.run();
process.on("SIGTERM", () => process.exit(0));
