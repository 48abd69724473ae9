/** Helpers for tests of the devnet: its devnet.env read as a shell would source it. */
import { readFileSync } from 'node:fs';

export function sourceEnv(file: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const match = /^export ([A-Z_]+)=(.*)$/.exec(line);
    if (match) env[match[1]!] = match[2]!;
  }
  return env;
}
