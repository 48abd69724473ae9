/**
 * Memory limit of a module, enforced by the engine: the module's memory section is rewritten so that every memory
 * declares `maximum <= limit` (a `memory.grow` past it then returns -1, as the WebAssembly spec says, instead of
 * taking the host's memory). A module that needs more than the limit to start is refused.
 */
import { GolemError } from '../../../core/errors/index.ts';
import { WasiErrorCode } from './errors.ts';

export const WASM_PAGE_BYTES = 64 * 1024;
/** 32-bit memories address at most 4 GiB. */
export const MAX_WASM32_PAGES = 65_536;

const MEMORY_SECTION = 5;
const IMPORT_SECTION = 2;

function badModule(message: string): GolemError {
  return new GolemError(WasiErrorCode.BadModule, `not a valid WebAssembly module: ${message}`);
}

class Reader {
  at: number;
  readonly bytes: Uint8Array;
  constructor(bytes: Uint8Array, at = 0) {
    this.bytes = bytes;
    this.at = at;
  }
  byte(): number {
    if (this.at >= this.bytes.length) throw badModule('unexpected end');
    return this.bytes[this.at++]!;
  }
  u32(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      const byte = this.byte();
      result += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) break;
      shift += 7;
      if (shift > 35) throw badModule('LEB128 too long');
    }
    if (result > 0xffff_ffff) throw badModule('u32 out of range');
    return result;
  }
}

function u32Bytes(value: number): number[] {
  const out: number[] = [];
  let rest = value;
  do {
    let byte = rest & 0x7f;
    rest = Math.floor(rest / 128);
    if (rest !== 0) byte |= 0x80;
    out.push(byte);
  } while (rest !== 0);
  return out;
}

/** Returns the module with every memory's maximum capped at `limitPages`; throws if one starts larger. */
export function capMemory(module: Uint8Array, limitPages: number): Uint8Array {
  if (
    module.length < 8 ||
    module[0] !== 0x00 ||
    module[1] !== 0x61 ||
    module[2] !== 0x73 ||
    module[3] !== 0x6d
  ) {
    throw badModule('no \\0asm header');
  }
  const reader = new Reader(module, 8);
  const parts: Uint8Array[] = [module.subarray(0, 8)];
  while (reader.at < module.length) {
    const start = reader.at;
    const id = reader.byte();
    const size = reader.u32();
    const bodyStart = reader.at;
    const bodyEnd = bodyStart + size;
    if (bodyEnd > module.length) throw badModule('section runs past the end');
    if (id === IMPORT_SECTION) assertNoImportedMemory(new Reader(module.subarray(bodyStart, bodyEnd)));
    if (id === MEMORY_SECTION) {
      const body = rewriteMemories(new Reader(module.subarray(bodyStart, bodyEnd)), limitPages);
      parts.push(Uint8Array.from([MEMORY_SECTION, ...u32Bytes(body.length), ...body]));
    } else {
      parts.push(module.subarray(start, bodyEnd));
    }
    reader.at = bodyEnd;
  }
  return Buffer.concat(parts);
}

function rewriteMemories(reader: Reader, limitPages: number): number[] {
  const count = reader.u32();
  const out = u32Bytes(count);
  for (let index = 0; index < count; index++) {
    const flags = reader.byte();
    if (flags > 0x03) throw badModule('64-bit memories are not supported');
    const minimum = reader.u32();
    const maximum = (flags & 0x01) !== 0 ? reader.u32() : undefined;
    if (minimum > limitPages) {
      throw new GolemError(
        WasiErrorCode.MemoryLimit,
        `the module needs ${minimum * WASM_PAGE_BYTES} bytes of memory to start; the limit is ${limitPages * WASM_PAGE_BYTES}`,
        { details: { minimumPages: minimum, limitPages } },
      );
    }
    const capped = Math.min(maximum ?? MAX_WASM32_PAGES, limitPages);
    out.push(flags | 0x01, ...u32Bytes(minimum), ...u32Bytes(capped));
  }
  if (reader.at !== reader.bytes.length) throw badModule('memory section has trailing bytes');
  return out;
}

/** Only WASI functions are provided: a memory import could never be satisfied, say so clearly. */
function assertNoImportedMemory(reader: Reader): void {
  const count = reader.u32();
  const name = () => {
    const length = reader.u32();
    reader.at += length;
  };
  for (let index = 0; index < count; index++) {
    name();
    name();
    const kind = reader.byte();
    if (kind === 0x00) reader.u32();
    else if (kind === 0x01) {
      reader.byte();
      const flags = reader.byte();
      reader.u32();
      if (flags & 0x01) reader.u32();
    } else if (kind === 0x02) {
      throw badModule('it imports its memory; a WASI module must define its own');
    } else if (kind === 0x03) {
      reader.byte();
      reader.byte();
    } else if (kind === 0x04) {
      reader.byte();
      reader.u32();
    } else throw badModule(`unknown import kind ${kind}`);
  }
}
