// The TypeScript SDK's Client, driven one command at a time, to watch what it receives.
// Usage: node ts_agent.mjs <sdk package dir> <url> <streamable|sse>
//
// Connects, then reads one JSON command per line on stdin and answers each with one JSON
// line on stdout ({"ok": ...} or {"error": "..."}):
//   {"op": "subscribe", "uri": ...}            resources/subscribe
//   {"op": "setLevel", "level": ...}           logging/setLevel
//   {"op": "call", "name": ..., "arguments": {...}}
//                                              tools/call with onprogress; ok: {result, progress}
//   {"op": "wait", "method": ..., "count": n, "timeout": ms}
//                                              until n notifications of method arrived (or
//                                              the timeout); ok: how many did
//   {"op": "lists"}                            every tools/resources/templates/prompts list;
//                                              ok: how many of each
//   {"op": "tools"}                            tools/list (every page); ok: the definitions
//   {"op": "report"}                           ok: {notifications: [{method, params}],
//                                              requests: [{method, params}], errors}
//   {"op": "close"}                            closes the client and exits
// Every schema the hub's notifications must satisfy has a handler; every error the client
// reports (an invalid message is dropped and reported only there) is kept in `errors`. It
// answers sampling ("reply to <text>"), elicitation (accept {name: "Ada"}) and roots
// (file:///work), and keeps those requests in `requests`.
import { join } from "node:path";
import { createInterface } from "node:readline";
import { pathToFileURL } from "node:url";

const [sdkRoot, url, kind] = process.argv.slice(2);
const load = (path) => import(pathToFileURL(join(sdkRoot, "dist/esm", path)).href);
const { Client } = await load("client/index.js");
const { StreamableHTTPClientTransport } = await load("client/streamableHttp.js");
const { SSEClientTransport } = await load("client/sse.js");
const types = await load("types.js");

const notifications = [];
const requests = [];
const errors = [];
const waiters = new Set();

function record(notification) {
  notifications.push({ method: notification.method, params: notification.params ?? null });
  for (const waiter of waiters) waiter();
}

function seen(method) {
  return notifications.filter((n) => n.method === method).length;
}

function waitFor(method, count, timeout) {
  return new Promise((resolve) => {
    const check = () => {
      if (seen(method) >= count) done();
    };
    const done = () => {
      waiters.delete(check);
      clearTimeout(timer);
      resolve(seen(method));
    };
    const timer = setTimeout(done, timeout);
    waiters.add(check);
    check();
  });
}

const client = new Client(
  { name: "tornadohub-ts-agent", version: "1.0.0" },
  { capabilities: { sampling: {}, elicitation: {}, roots: { listChanged: true } } },
);
client.onerror = (error) => errors.push(String(error?.stack ?? error));
for (const schema of [
  types.ToolListChangedNotificationSchema,
  types.ResourceListChangedNotificationSchema,
  types.PromptListChangedNotificationSchema,
  types.ResourceUpdatedNotificationSchema,
  types.LoggingMessageNotificationSchema,
]) {
  client.setNotificationHandler(schema, record);
}
const answers = [
  [
    types.CreateMessageRequestSchema,
    (request) => ({
      role: "assistant",
      content: { type: "text", text: `reply to ${request.params.messages[0].content.text}` },
      model: "ts-agent",
    }),
  ],
  [types.ElicitRequestSchema, () => ({ action: "accept", content: { name: "Ada" } })],
  [types.ListRootsRequestSchema, () => ({ roots: [{ uri: "file:///work", name: "work" }] })],
];
for (const [schema, answer] of answers) {
  client.setRequestHandler(schema, (request) => {
    requests.push({ method: request.method, params: request.params ?? null });
    return answer(request);
  });
}
const transport =
  kind === "sse"
    ? new SSEClientTransport(new URL(url))
    : new StreamableHTTPClientTransport(new URL(url));
await client.connect(transport);

const commands = {
  subscribe: (command) => client.subscribeResource({ uri: command.uri }),
  setLevel: (command) => client.setLoggingLevel(command.level),
  call: async (command) => {
    const progress = [];
    const result = await client.callTool(
      { name: command.name, arguments: command.arguments ?? {} },
      undefined,
      { onprogress: (update) => progress.push(update) },
    );
    return { result, progress };
  },
  wait: (command) => waitFor(command.method, command.count ?? 1, command.timeout ?? 20000),
  lists: async () => ({
    tools: (await client.listTools()).tools.length,
    resources: (await client.listResources()).resources.length,
    resourceTemplates: (await client.listResourceTemplates()).resourceTemplates.length,
    prompts: (await client.listPrompts()).prompts.length,
  }),
  tools: async () => {
    const tools = [];
    let cursor;
    do {
      const page = await client.listTools(cursor === undefined ? undefined : { cursor });
      tools.push(...page.tools);
      cursor = page.nextCursor;
    } while (cursor !== undefined);
    return tools;
  },
  report: () => ({ notifications, requests, errors }),
};

const reply = (value) => process.stdout.write(JSON.stringify(value) + "\n");
for await (const line of createInterface({ input: process.stdin })) {
  const command = JSON.parse(line);
  if (command.op === "close") break;
  try {
    reply({ ok: (await commands[command.op](command)) ?? null });
  } catch (error) {
    reply({ error: String(error?.message ?? error) });
  }
}
await client.close();
reply({ ok: "closed" });
process.exit(0); // stdin may still be open
