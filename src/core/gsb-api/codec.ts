/**
 * Frames of the `gsb+flexbuffers` WebSocket subprotocol: one FlexBuffers map per binary message
 * (`flatbuffers/js/flexbuffers.js`, the library golem-js itself uses).
 */
import { encode, toObject } from 'flatbuffers/js/flexbuffers.js';
import { badRequest } from './errors.ts';

export function encodeFrame(value: unknown): Uint8Array {
  return encode(flexValue(value));
}

export function decodeFrame(data: Uint8Array): unknown {
  // toObject reads an ArrayBuffer from its start: hand it exactly this message's bytes.
  const bytes = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer;
  let value: unknown;
  try {
    value = toObject(bytes);
  } catch (cause) {
    throw badRequest(`not a FlexBuffers frame: ${String(cause)}`);
  }
  return withNumbers(value);
}

/**
 * FlexBuffers hands 64-bit integers (a file size past 4 GiB) back as bigint, which the bus cannot carry: make them
 * numbers (exact up to 2^53, far past any file); larger ones are refused.
 */
function withNumbers(value: unknown): unknown {
  if (typeof value === 'bigint') {
    if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw badRequest(`integer ${value} is too large`);
    }
    return Number(value);
  }
  if (Array.isArray(value)) return value.map(withNumbers);
  if (value !== null && typeof value === 'object' && !(value instanceof Uint8Array)) {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) out[key] = withNumbers(item);
    return out;
  }
  return value;
}

/**
 * FlexBuffers' encoder writes a byte view's whole underlying buffer (not just the view) and refuses
 * `undefined`: copy views to buffers of their own and leave undefined fields out.
 */
function flexValue(value: unknown): unknown {
  if (value instanceof Uint8Array) {
    return value.byteOffset === 0 && value.byteLength === value.buffer.byteLength
      ? value
      : new Uint8Array(value);
  }
  if (Array.isArray(value)) return value.map((item) => (item === undefined ? null : flexValue(item)));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) if (item !== undefined) out[key] = flexValue(item);
    return out;
  }
  return value === undefined ? null : value;
}
