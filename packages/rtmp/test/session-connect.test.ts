/** connect validates the app name like a stream name; authorize is core's hook with protocol "rtmp". */
import { type Authorize as CoreAuthorize, StreamHub } from "@onair/core";
import { describe, expect, it } from "vitest";
import { type AmfObject, type Authorize, type AuthorizeRequest, ServerSession } from "../src/index.js";
import { command, connectCommand, RecordingTransport, settle } from "./session-fakes.js";

function connectTo(app: string, authorize?: Authorize) {
  const transport = new RecordingTransport();
  const hub = new StreamHub({ playWaitTimeoutMs: 1000 });
  const session = new ServerSession(transport, { handler: hub, authorize });
  session.handleMessage(connectCommand(app));
  return { transport, session, hub };
}

function rejection(transport: RecordingTransport): AmfObject | undefined {
  const error = transport.commands().find((c) => c.name === "_error");
  return error?.args[0] as AmfObject | undefined;
}

describe("server session connect: the app name", () => {
  it.each([
    ["a/b", '"/"'],
    ["a\\b", '"/"'],
    ["..", '".."'],
    [".", '"."'],
    ["x".repeat(257), "1 to 256"],
    ["li\u0001ve", "control characters"],
    ["", "no application name"],
    ["?token=1", "no application name"],
  ])("refuses app %j with NetConnection.Connect.Rejected saying why", (app, why) => {
    const { transport, session } = connectTo(app);
    expect(rejection(transport)?.code).toBe("NetConnection.Connect.Rejected");
    expect(String(rejection(transport)?.description)).toContain(why);
    expect(transport.closed).toBeUndefined();
    expect(session.state).toBe("awaiting-connect");
  });

  it.each(["live", "live/", "live?token=1", "my-app_2.0"])("accepts app %j", (app) => {
    const { transport, session } = connectTo(app);
    expect(rejection(transport)).toBeUndefined();
    expect(transport.closed).toBe("open");
    expect(session.state).toBe("connected");
  });
});

describe("server session authorize", () => {
  it("asks core's hook shape with protocol rtmp, the merged query and the connect object", async () => {
    const requests: AuthorizeRequest[] = [];
    const { transport, session, hub } = connectTo("live?token=abc", (request) => {
      requests.push(request);
      return true;
    });
    session.handleMessage(command("createStream", 2, null));
    session.handleMessage(command("publish", 0, null, ["cam?quality=hd", "live"], 1));
    await settle();
    expect(requests).toHaveLength(1);
    const [request] = requests;
    expect(request).toMatchObject({
      action: "publish",
      protocol: "rtmp",
      app: "live",
      name: "cam",
      remoteAddress: "127.0.0.1:5000",
      connect: { app: "live?token=abc" },
    });
    expect(Object.fromEntries(request.query)).toEqual({ token: "abc", quality: "hd" });
    expect(transport.statusCodes()).toContain("NetStream.Publish.Start");
    hub.close();
  });

  it("takes a hook written for core's request, as shared with the other protocols", async () => {
    const seen: string[] = [];
    const shared: CoreAuthorize = ({ protocol, action, name }) => {
      seen.push(`${protocol} ${action} ${name}`);
      return { allow: false, reason: "shared hook says no", status: 401 };
    };
    const { transport, session, hub } = connectTo("live", shared);
    session.handleMessage(command("createStream", 2, null));
    session.handleMessage(command("publish", 0, null, ["cam", "live"], 1));
    await settle();
    expect(seen).toEqual(["rtmp publish cam"]);
    const status = transport.commands().find((c) => c.name === "onStatus");
    expect(status?.args[0]).toMatchObject({
      code: "NetStream.Publish.Unauthorized",
      description: "shared hook says no",
    });
    hub.close();
  });

  it("sends the refusal reason in onStatus and closes", async () => {
    const { transport, session, hub } = connectTo("live", () => ({ allow: false, reason: "no key" }));
    session.handleMessage(command("createStream", 2, null));
    session.handleMessage(command("play", 0, null, ["cam"], 1));
    await settle();
    const status = transport.commands().find((c) => c.name === "onStatus");
    expect(status?.args[0]).toMatchObject({ code: "NetStream.Play.Failed", description: "no key" });
    expect(transport.closed).toBeUndefined();
    hub.close();
  });

  it("refuses when the hook throws, without saying why", async () => {
    const { transport, session, hub } = connectTo("live", () => {
      throw new Error("database down");
    });
    session.handleMessage(command("createStream", 2, null));
    session.handleMessage(command("publish", 0, null, ["cam", "live"], 1));
    await settle();
    const status = transport.commands().find((c) => c.name === "onStatus");
    expect(status?.args[0]).toMatchObject({
      code: "NetStream.Publish.Unauthorized",
      description: "publish not authorized",
    });
    expect(hub.isLive("live/cam")).toBe(false);
    hub.close();
  });
});
