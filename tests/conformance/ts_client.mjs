// The TypeScript SDK's client against the hub: Streamable HTTP, then legacy SSE.
// Usage: node ts_client.mjs <sdk package dir> <url> <tool> <resource uri> <prompt>
// Prints one JSON object: per transport, the tool names, the call's result, the
// resource's contents and the prompt's messages.
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [sdkRoot, url, tool, uri, prompt] = process.argv.slice(2);
const load = (path) => import(pathToFileURL(join(sdkRoot, "dist/esm", path)).href);
const { Client } = await load("client/index.js");
const { StreamableHTTPClientTransport } = await load("client/streamableHttp.js");
const { SSEClientTransport } = await load("client/sse.js");

const transports = {
  streamable: () => new StreamableHTTPClientTransport(new URL(url)),
  sse: () => new SSEClientTransport(new URL(url)),
};
const report = {};
for (const [kind, open] of Object.entries(transports)) {
  const client = new Client({ name: "tornadohub-interop", version: "1.0.0" });
  await client.connect(open());
  const tools = await client.listTools();
  report[kind] = {
    server: client.getServerVersion(),
    tools: tools.tools.map((t) => t.name),
    call: await client.callTool({ name: tool, arguments: {} }),
    read: await client.readResource({ uri }),
    prompt: await client.getPrompt({ name: prompt, arguments: {} }),
  };
  await client.close();
}
console.log(JSON.stringify(report));
