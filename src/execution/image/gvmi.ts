/**
 * GVMI, the image format of Golem's VM runtime (as gvmkit-build writes it and ya-runtime-vm reads it):
 *
 *   [ squashfs root filesystem ][ crc32(json), u32 LE ][ json: Docker ContainerConfig ][ len(json), 8 ASCII digits ]
 *
 * The whole file is attached to the VM as a read-only disk; the squashfs superblock's size hides the trailer from
 * the guest. Identity of an image = SHA3-224 of the whole file (what golem-js puts into `task_package`).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { appendFile, open } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { badGvmi } from './errors.ts';

/** The fields of Docker's ContainerConfig that a VM image uses (others are kept as read). */
export interface ContainerConfig {
  Hostname?: string;
  Domainname?: string;
  User?: string | null;
  Env?: string[] | null;
  Cmd?: string[] | null;
  Entrypoint?: string[] | null;
  WorkingDir?: string;
  Volumes?: Record<string, Record<string, never>> | null;
  Labels?: Record<string, string> | null;
  [key: string]: unknown;
}

const LENGTH_DIGITS = 8;
const MAX_CONFIG_BYTES = 1024 * 1024;

export function gvmiTrailer(config: ContainerConfig): Buffer {
  const json = Buffer.from(JSON.stringify(config));
  if (json.length >= 10 ** LENGTH_DIGITS)
    throw new RangeError('container config too large for the GVMI trailer');
  const crc = Buffer.alloc(4);
  crc.writeUInt32LE(crc32(json));
  return Buffer.concat([crc, json, Buffer.from(String(json.length).padStart(LENGTH_DIGITS, '0'), 'ascii')]);
}

/** Appends the trailer to a squashfs file, making it a GVMI image. */
export async function appendGvmiTrailer(squashfsPath: string, config: ContainerConfig): Promise<void> {
  await appendFile(squashfsPath, gvmiTrailer(config));
}

export interface GvmiInfo {
  config: ContainerConfig;
  /** Bytes before the trailer (the squashfs image). */
  fsBytes: number;
  fileBytes: number;
}

export async function readGvmi(path: string): Promise<GvmiInfo> {
  const file = await open(path, 'r');
  try {
    const { size } = await file.stat();
    if (size < LENGTH_DIGITS + 4) throw badGvmi(path, 'file too short for a trailer');
    const digits = Buffer.alloc(LENGTH_DIGITS);
    await file.read(digits, 0, LENGTH_DIGITS, size - LENGTH_DIGITS);
    const text = digits.toString('ascii');
    if (!/^\d{8}$/.test(text)) throw badGvmi(path, 'no 8-digit config length at the end');
    const length = Number(text);
    if (length > MAX_CONFIG_BYTES || length + LENGTH_DIGITS + 4 > size)
      throw badGvmi(path, `bad config length ${length}`);
    const crcAndJson = Buffer.alloc(4 + length);
    await file.read(crcAndJson, 0, 4 + length, size - LENGTH_DIGITS - length - 4);
    const json = crcAndJson.subarray(4);
    if (crcAndJson.readUInt32LE(0) !== crc32(json)) throw badGvmi(path, 'config CRC mismatch');
    let config: unknown;
    try {
      config = JSON.parse(json.toString('utf8'));
    } catch {
      throw badGvmi(path, 'config is not JSON');
    }
    if (config === null || typeof config !== 'object' || Array.isArray(config)) {
      throw badGvmi(path, 'config is not a JSON object');
    }
    return { config: config as ContainerConfig, fsBytes: size - LENGTH_DIGITS - length - 4, fileBytes: size };
  } finally {
    await file.close();
  }
}

/** SHA3-224 of a whole file, hex: the image hash golem-js and the registry use. */
export function sha3File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha3-224');
    createReadStream(path)
      .on('data', (chunk) => hash.update(chunk))
      .on('end', () => resolve(hash.digest('hex')))
      .on('error', reject);
  });
}
