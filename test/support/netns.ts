/**
 * Network namespaces for e2e tests, made and removed by the test itself. Where they cannot be made (not root, no
 * iproute2) `createNamespaces` returns the reason, for the test's skip message.
 */
import { spawnSync } from 'node:child_process';

/** Runs `ip …`; throws with its error output when it fails. */
export function ip(...args: string[]): string {
  const result = spawnSync('ip', args, { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`ip ${args.join(' ')}: ${result.stderr || result.error?.message}`);
  return result.stdout;
}

/** The command prefix that runs a process inside namespace `name`. */
export const inNamespace = (name: string): string[] => ['ip', 'netns', 'exec', name];

/** Runs `args` inside namespace `name`, with `input` on its standard input. */
export function runInNamespace(name: string, args: string[], input?: string) {
  const [program, ...rest] = [...inNamespace(name), ...args];
  return spawnSync(program!, rest, { encoding: 'utf8', input });
}

/** Makes the namespaces with loopback up, or returns why they cannot be made. */
export function createNamespaces(names: readonly string[]): string | undefined {
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  try {
    ip('netns', 'add', names[0]!);
  } catch (error) {
    return `cannot create network namespaces: ${(error as Error).message}`;
  }
  for (const name of names.slice(1)) ip('netns', 'add', name);
  for (const name of names) ip('-n', name, 'link', 'set', 'lo', 'up');
  return undefined;
}

export function removeNamespaces(names: readonly string[]): void {
  for (const name of names) spawnSync('ip', ['netns', 'del', name]);
}

/** A veth pair `<name>l` in `left` and `<name>r` in `right`, addressed and up. */
export function vethLink(
  left: string,
  leftAddress: string,
  right: string,
  rightAddress: string,
  name: string,
) {
  ip('link', 'add', `${name}l`, 'type', 'veth', 'peer', 'name', `${name}r`);
  ip('link', 'set', `${name}l`, 'netns', left);
  ip('link', 'set', `${name}r`, 'netns', right);
  ip('-n', left, 'addr', 'add', leftAddress, 'dev', `${name}l`);
  ip('-n', right, 'addr', 'add', rightAddress, 'dev', `${name}r`);
  ip('-n', left, 'link', 'set', `${name}l`, 'up');
  ip('-n', right, 'link', 'set', `${name}r`, 'up');
}
