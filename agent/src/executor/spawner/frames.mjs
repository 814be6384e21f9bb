// The spawner protocol's frames (see agent/native/dy-spawn.c): u8 op, u32 id,
// u32 payload length (big-endian), payload. Plain JS: the Node helper runs
// without a TypeScript loader.

/** agent -> helper */
export const Op = Object.freeze({ Run: 1, Pause: 2, Resume: 3, Stop: 4 });
/** helper -> agent */
export const Ev = Object.freeze({ Started: 1, Stdout: 2, Stderr: 3, Exit: 4, Error: 5 });
export const HEADER = 9;

/** One frame, header and payload in one buffer. */
export function frame(op, id, payload = Buffer.alloc(0)) {
  const out = Buffer.allocUnsafe(HEADER + payload.length);
  out[0] = op;
  out.writeUInt32BE(id, 1);
  out.writeUInt32BE(payload.length, 5);
  payload.copy(out, HEADER);
  return out;
}

/** Splits `buf` into whole frames; returns the unparsed rest. */
export function parseFrames(buf, onFrame) {
  while (buf.length >= HEADER) {
    const len = buf.readUInt32BE(5);
    if (buf.length < HEADER + len) break;
    onFrame(buf[0], buf.readUInt32BE(1), buf.subarray(HEADER, HEADER + len));
    buf = buf.subarray(HEADER + len);
  }
  return buf;
}
