// Preloaded (node --require) into the TLS front's configurable-http-proxy, never into a
// deployment's. The front's upstream is another configurable-http-proxy, which ends a
// kept-alive socket in two ways the front is not told of in time:
// - idle for 6 s: the responses it proxies carry no Keep-Alive hint, so Node's agent
//   would keep the socket longer;
// - after relaying a non-101 answer to a websocket upgrade (a browser's websocket to a
//   stopped server gets the hub's redirect): it ends the socket, with no
//   "Connection: close", just after the answer.
// A request sent on such a socket fails ("socket hang up") and the front answers 503.
// Fronts in the field (nginx, ingress controllers) close idle upstream sockets first or
// retry; this front closes idle sockets first and never reuses one that carried an
// upgrade request.
"use strict";
const http = require("http");

const IDLE_MS = 500; // well under any upstream's keep-alive (Node's default closes at 6 s)

const keepSocketAlive = http.Agent.prototype.keepSocketAlive;
const reuseSocket = http.Agent.prototype.reuseSocket;

http.Agent.prototype.keepSocketAlive = function (socket) {
  const request = socket._httpMessage;
  if (request && request.getHeader("upgrade")) return false; // the agent destroys it
  const kept = keepSocketAlive.call(this, socket);
  if (kept) socket.setTimeout(IDLE_MS); // the agent destroys a free socket on its timeout
  return kept;
};

http.Agent.prototype.reuseSocket = function (socket, req) {
  socket.setTimeout(0); // a request in flight is never cut by the idle timer
  return reuseSocket.call(this, socket, req);
};
