import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { statSync } from "node:fs";
import { ClocksourceError, readUserFile } from "@clocksource/core";
import { CLIENT_NONCE_BYTES, SERVER_NONCE_BYTES } from "./protocol/messages.js";

/**
 * Challenge–response with a shared token: the agent sends a fresh random
 * nonce, the client answers HMAC-SHA256(token, "client" label ‖ server nonce ‖
 * client nonce), and the agent proves itself back with the "server" label.
 * The token never crosses the wire; a recorded proof is useless against a new
 * nonce; the distinct labels stop a proof being reflected back.
 */
const CLIENT_LABEL = Buffer.from("clocksource-pv1 client\0", "ascii");
const SERVER_LABEL = Buffer.from("clocksource-pv1 server\0", "ascii");

/** Shortest token accepted, in bytes. */
export const MIN_TOKEN_BYTES = 16;

function proof(label: Buffer, token: Buffer, serverNonce: Buffer, clientNonce: Buffer): Buffer {
  return createHmac("sha256", token).update(label).update(serverNonce).update(clientNonce).digest();
}

/** The client's proof of the token. */
export function clientProof(token: Buffer, serverNonce: Buffer, clientNonce: Buffer): Buffer {
  return proof(CLIENT_LABEL, token, serverNonce, clientNonce);
}

/** The agent's proof of the token. */
export function serverProof(token: Buffer, serverNonce: Buffer, clientNonce: Buffer): Buffer {
  return proof(SERVER_LABEL, token, serverNonce, clientNonce);
}

/** Compares two proofs in constant time. */
export function proofsEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

export function newServerNonce(): Buffer {
  return randomBytes(SERVER_NONCE_BYTES);
}

export function newClientNonce(): Buffer {
  return randomBytes(CLIENT_NONCE_BYTES);
}

/** A token read from a file, with a warning when the file is readable by others. */
export interface LoadedToken {
  readonly token: Buffer;
  readonly warning?: string;
}

/** The largest token file read (a token is a few dozen bytes; anything near this is not one). */
export const MAX_TOKEN_FILE_BYTES = 64 * 1024;

/**
 * Reads a token file: its bytes with trailing whitespace (a final newline)
 * removed. Read under core's `readUserFile` rules: a regular file only (a
 * FIFO or device is refused at once, never waited on), at most
 * {@link MAX_TOKEN_FILE_BYTES}.
 * @throws ClocksourceError `IO_ERROR` when it cannot be read or is not a regular
 *   file, or holds fewer than {@link MIN_TOKEN_BYTES} bytes
 */
export function loadTokenFile(path: string): LoadedToken {
  const raw = readUserFile(path, { maxBytes: MAX_TOKEN_FILE_BYTES, what: "token file" });
  let mode = 0;
  try {
    mode = statSync(path).mode;
  } catch {
    // it was just read; a file that vanished since has nothing to warn about
  }
  let end = raw.length;
  while (end > 0 && [0x0a, 0x0d, 0x20, 0x09].includes(raw[end - 1] as number)) end--;
  const token = Buffer.from(raw.subarray(0, end));
  if (token.length < MIN_TOKEN_BYTES) {
    throw new ClocksourceError("IO_ERROR", `token file ${path} holds ${token.length} bytes; use at least ${MIN_TOKEN_BYTES} (e.g. head -c 32 /dev/urandom | base64 > ${path})`);
  }
  const warning = (mode & 0o077) !== 0 ? `token file ${path} is readable by group or others (mode ${(mode & 0o777).toString(8)}); chmod 600 it` : undefined;
  return warning ? { token, warning } : { token };
}
