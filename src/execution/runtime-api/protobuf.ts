/**
 * The few protobuf 3 wire-format pieces the Runtime API needs, written by hand (no codegen): varints, 64-bit
 * doubles and length-delimited fields. Encoding follows prost (what Golem's runtimes use): scalar fields that hold
 * their default value are left out, except inside a oneof, where presence is the value.
 */
import { malformed } from './errors.ts';

export const WireType = { Varint: 0, Fixed64: 1, Bytes: 2, Fixed32: 5 } as const;

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8', { fatal: true });

export class ProtoWriter {
  private buffer = new Uint8Array(64);
  private length = 0;

  private reserve(extra: number): void {
    if (this.length + extra <= this.buffer.length) return;
    const grown = new Uint8Array(Math.max(this.buffer.length * 2, this.length + extra));
    grown.set(this.buffer.subarray(0, this.length));
    this.buffer = grown;
  }

  /** Unsigned varint of a non-negative safe integer, or of any 64-bit pattern given as a bigint. */
  varint(value: number | bigint): this {
    this.reserve(10);
    if (typeof value === 'number' && value >= 0 && value < 0x80000000) {
      let v = value;
      while (v > 0x7f) {
        this.buffer[this.length++] = (v & 0x7f) | 0x80;
        v >>>= 7;
      }
      this.buffer[this.length++] = v;
      return this;
    }
    let v = BigInt.asUintN(64, BigInt(value));
    while (v > 0x7fn) {
      this.buffer[this.length++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.buffer[this.length++] = Number(v);
    return this;
  }

  tag(field: number, wireType: number): this {
    return this.varint(field * 8 + wireType);
  }

  bytes(value: Uint8Array): this {
    this.varint(value.length);
    this.reserve(value.length);
    this.buffer.set(value, this.length);
    this.length += value.length;
    return this;
  }

  double(value: number): this {
    this.reserve(8);
    new DataView(this.buffer.buffer, this.buffer.byteOffset + this.length, 8).setFloat64(0, value, true);
    this.length += 8;
    return this;
  }

  // Field writers. `*Field` skips the proto3 default; `*Always` writes it (a oneof member is present even when default).
  uint64Field(field: number, value: number): this {
    return value === 0 ? this : this.tag(field, WireType.Varint).varint(value);
  }
  /** int32 on the wire: negative values are sign-extended to 64 bits (10 bytes), as protobuf requires. */
  int32Field(field: number, value: number): this {
    return value === 0 ? this : this.tag(field, WireType.Varint).varint(value < 0 ? BigInt(value) : value);
  }
  boolField(field: number, value: boolean): this {
    return value ? this.tag(field, WireType.Varint).varint(1) : this;
  }
  stringField(field: number, value: string): this {
    return value === '' ? this : this.stringAlways(field, value);
  }
  stringAlways(field: number, value: string): this {
    return this.tag(field, WireType.Bytes).bytes(textEncoder.encode(value));
  }
  bytesField(field: number, value: Uint8Array): this {
    return value.length === 0 ? this : this.tag(field, WireType.Bytes).bytes(value);
  }
  doubleField(field: number, value: number): this {
    return value === 0 && !Object.is(value, -0) ? this : this.tag(field, WireType.Fixed64).double(value);
  }
  /** A nested message (always written when present, even empty). */
  messageField(field: number, write: (writer: ProtoWriter) => void): this {
    const nested = new ProtoWriter();
    write(nested);
    return this.tag(field, WireType.Bytes).bytes(nested.finish());
  }
  /** `map<string,string>`: one entry message per pair, key = 1, value = 2, defaults left out (as prost does). */
  stringMapField(field: number, map: Record<string, string>): this {
    for (const [key, value] of Object.entries(map)) {
      this.messageField(field, (entry) => entry.stringField(1, key).stringField(2, value));
    }
    return this;
  }

  finish(): Uint8Array {
    return this.buffer.slice(0, this.length);
  }
}

export interface ProtoField {
  field: number;
  wireType: number;
  /** Varint fields: the raw 64-bit value. */
  varint: bigint;
  /** Length-delimited fields: the payload. Fixed64: its 8 bytes. */
  data: Uint8Array;
}

/** Reads one message's fields in order; unknown fields are the caller's to skip (it just ignores them). */
export function* readFields(bytes: Uint8Array): Generator<ProtoField> {
  let offset = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (let i = 0; i < 10; i++) {
      if (offset >= bytes.length) throw malformed('truncated varint', { offset });
      const byte = bytes[offset++]!;
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return BigInt.asUintN(64, result);
      shift += 7n;
    }
    throw malformed('varint longer than 10 bytes', { offset });
  };
  const take = (n: number): Uint8Array => {
    if (n > bytes.length - offset) throw malformed('truncated field', { offset, wanted: n });
    const data = bytes.subarray(offset, offset + n);
    offset += n;
    return data;
  };
  while (offset < bytes.length) {
    const key = varint();
    const field = Number(key >> 3n);
    const wireType = Number(key & 7n);
    if (field === 0) throw malformed('field number 0', { offset });
    switch (wireType) {
      case WireType.Varint:
        yield { field, wireType, varint: varint(), data: new Uint8Array(0) };
        break;
      case WireType.Fixed64:
        yield { field, wireType, varint: 0n, data: take(8) };
        break;
      case WireType.Bytes: {
        const length = varint();
        if (length > BigInt(bytes.length - offset)) throw malformed('truncated field', { offset, field });
        yield { field, wireType, varint: 0n, data: take(Number(length)) };
        break;
      }
      case WireType.Fixed32:
        yield { field, wireType, varint: 0n, data: take(4) };
        break;
      default:
        throw malformed(`unsupported wire type ${wireType}`, { field, wireType });
    }
  }
}

function expectWire(f: ProtoField, wireType: number, what: string): void {
  if (f.wireType !== wireType) {
    throw malformed(`${what}: field ${f.field} has wire type ${f.wireType}, expected ${wireType}`);
  }
}

export const read = {
  uint64(f: ProtoField, what: string): number {
    expectWire(f, WireType.Varint, what);
    if (f.varint > BigInt(Number.MAX_SAFE_INTEGER))
      throw malformed(`${what} exceeds 2^53`, { value: `${f.varint}` });
    return Number(f.varint);
  },
  uint32(f: ProtoField, what: string): number {
    expectWire(f, WireType.Varint, what);
    return Number(BigInt.asUintN(32, f.varint));
  },
  int32(f: ProtoField, what: string): number {
    expectWire(f, WireType.Varint, what);
    return Number(BigInt.asIntN(32, f.varint));
  },
  bool(f: ProtoField, what: string): boolean {
    expectWire(f, WireType.Varint, what);
    return f.varint !== 0n;
  },
  string(f: ProtoField, what: string): string {
    expectWire(f, WireType.Bytes, what);
    try {
      return textDecoder.decode(f.data);
    } catch (cause) {
      throw malformed(`${what} is not UTF-8`, { cause });
    }
  },
  bytes(f: ProtoField, what: string): Uint8Array {
    expectWire(f, WireType.Bytes, what);
    return f.data.slice();
  },
  message(f: ProtoField, what: string): Uint8Array {
    expectWire(f, WireType.Bytes, what);
    return f.data;
  },
  double(f: ProtoField, what: string): number {
    expectWire(f, WireType.Fixed64, what);
    return new DataView(f.data.buffer, f.data.byteOffset, 8).getFloat64(0, true);
  },
  stringMapEntry(f: ProtoField, what: string): [string, string] {
    let key = '';
    let value = '';
    for (const e of readFields(read.message(f, what))) {
      if (e.field === 1) key = read.string(e, `${what} key`);
      else if (e.field === 2) value = read.string(e, `${what} value`);
    }
    return [key, value];
  },
};
