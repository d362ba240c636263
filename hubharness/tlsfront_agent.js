// Preloaded (node --require) into the TLS front's configurable-http-proxy, never into a
// deployment's. The front's upstream is another configurable-http-proxy: its server closes
// an idle kept-alive socket after 6 s, and the responses it proxies carry no Keep-Alive
// hint, so Node's agent keeps the socket longer. A request sent on it as the upstream
// closes it fails ("socket hang up") and the front answers 503. Fronts in the field
// (nginx, ingress controllers) close idle upstream sockets first or retry; this front
// closes them first, and only while they are idle.
"use strict";
const http = require("http");

const IDLE_MS = 500; // well under any upstream's keep-alive (Node's default closes at 6 s)

const keepSocketAlive = http.Agent.prototype.keepSocketAlive;
const reuseSocket = http.Agent.prototype.reuseSocket;

http.Agent.prototype.keepSocketAlive = function (socket) {
  const kept = keepSocketAlive.call(this, socket);
  if (kept) socket.setTimeout(IDLE_MS); // the agent destroys a free socket on its timeout
  return kept;
};

http.Agent.prototype.reuseSocket = function (socket, req) {
  socket.setTimeout(0); // a request in flight is never cut by the idle timer
  return reuseSocket.call(this, socket, req);
};
