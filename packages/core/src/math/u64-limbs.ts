/** True on little-endian hosts, where a u64 array element's low 32-bit word comes first. */
export const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
