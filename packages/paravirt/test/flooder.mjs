// A connection flood, run as its own process: keeps `connections` sockets
// open to the target, reconnecting each one as soon as it is closed (the way
// an attacker holds an agent's slots while its handshake deadlines drop
// them). In mode "hello" each connection sends a HELLO and then nothing (it
// never proves the token). Prints "ready" once every connection was made,
// and on SIGTERM one JSON line with what it did.
import { randomBytes } from "node:crypto";
import { connect } from "node:net";

const { target, connections, mode, localAddress } = JSON.parse(process.argv[2]);

function hello() {
  const payload = Buffer.alloc(24);
  payload.writeUInt8(1, 0);
  payload.writeUInt8(1, 1);
  payload.writeUInt32BE(4096, 4);
  randomBytes(16).copy(payload, 8);
  const f = Buffer.alloc(16 + payload.length);
  f.write("CSPV", 0, "ascii");
  f.writeUInt8(1, 4);
  f.writeUInt8(1, 5);
  f.writeUInt32BE(1, 8);
  f.writeUInt32BE(payload.length, 12);
  payload.copy(f, 16);
  return f;
}

let made = 0;
let closed = 0;
let failed = 0;
let stopping = false;
let announced = false;

function one() {
  if (stopping) return;
  const s = connect({ ...target, ...(localAddress ? { localAddress } : {}) });
  s.on("connect", () => {
    made++;
    if (mode === "hello") s.write(hello());
    if (!announced && made >= connections) {
      announced = true;
      process.stdout.write("ready\n");
    }
  });
  s.on("data", () => undefined);
  s.on("error", () => {
    failed++;
  });
  s.on("close", (hadError) => {
    closed++;
    // Reconnect at once, as a flood does; a little later after a failure.
    if (hadError) setTimeout(one, 5);
    else setImmediate(one);
  });
}

for (let i = 0; i < connections; i++) one();

process.on("SIGTERM", () => {
  stopping = true;
  process.stdout.write(`${JSON.stringify({ made, closed, failed })}\n`, () => process.exit(0));
});
