// The framework floor of Node: node:http parsing a small JSON POST and answering JSON,
// the same exchange as floor_tornado.py. Usage: node bench/servers/floor_node.js PORT
"use strict";
const http = require("node:http");

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (chunk) => chunks.push(chunk));
  req.on("end", () => {
    const message = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    const params = message.params || {};
    const text = (params.arguments || {}).message || "";
    const body = JSON.stringify({
      jsonrpc: "2.0",
      id: message.id,
      result: { content: [{ type: "text", text: `Echo: ${text}` }] },
    });
    res.writeHead(200, { "Content-Type": "application/json" });
    res.end(body);
  });
});
server.keepAliveTimeout = 60000;
server.listen(Number(process.argv[2]), "127.0.0.1");
