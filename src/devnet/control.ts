/**
 * `devnet status` and `devnet down` on a devnet started by another process: they read `devnet.json` and touch
 * only the processes recorded there whose command line is still the recorded one (a pid reused by another
 * program is left alone).
 */
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { GolemError } from '../core/errors/index.ts';
import { DEVNET_STATE, type DevnetState, readDevnetState } from './devnet.ts';
import { DevnetErrorCode } from './errors.ts';
import { isRunning } from './processes.ts';

/** `--dir`, else `YAGNA_DEVNET_DIR`, else `~/.local/share/golem-ts/devnet`. */
export function devnetDir(option: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (option !== undefined && option !== '') return resolve(option);
  if (env.YAGNA_DEVNET_DIR) return resolve(env.YAGNA_DEVNET_DIR);
  const xdg = env.XDG_DATA_HOME;
  return join(xdg ? xdg : join(homedir(), '.local', 'share'), 'golem-ts', 'devnet');
}

export interface ComponentStatus {
  name: string;
  pid: number;
  running: boolean;
  where: string;
}

export interface DevnetStatus {
  dir: string;
  running: boolean;
  state: DevnetState;
  components: ComponentStatus[];
}

export function devnetStatus(dir: string): DevnetStatus {
  const state = readDevnetState(dir);
  if (state === undefined)
    throw new GolemError(DevnetErrorCode.NotRunning, `no devnet in ${dir}`, {
      details: { dir, file: DEVNET_STATE },
    });
  const where = (name: string): string => {
    if (name === 'anvil') return state.chain.rpcUrl;
    if (name === 'relay') return state.relay.address;
    const node = [state.requestor, ...state.providers].find((n) => n.name === name);
    return node === undefined ? '' : `${node.apiUrl} ${node.nodeId}`;
  };
  const components: ComponentStatus[] = [
    {
      name: 'devnet (registry)',
      pid: state.supervisor.pid,
      running: isRunning(state.supervisor),
      where: state.registryUrl,
    },
    ...state.processes.map((p) => ({
      name: p.name,
      pid: p.pid,
      running: isRunning(p),
      where: where(p.name),
    })),
  ];
  return { dir, running: components[0]!.running, state, components };
}

/** Stops the devnet recorded in `dir`: its supervisor first (which stops the rest in order), then stragglers. */
export async function devnetDown(dir: string, timeoutMs = 60_000): Promise<ComponentStatus[]> {
  const { state } = devnetStatus(dir);
  const stopped: ComponentStatus[] = [];
  const signal = async (target: { pid: number; cmdline: string }, name: string) => {
    if (!isRunning(target)) return;
    process.kill(target.pid, 'SIGTERM');
    const deadline = Date.now() + timeoutMs;
    while (isRunning(target) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    if (isRunning(target)) process.kill(target.pid, 'SIGKILL');
    stopped.push({ name, pid: target.pid, running: false, where: '' });
  };
  await signal(state.supervisor, 'devnet');
  // A supervisor killed with SIGKILL leaves its children: stop what is left of them.
  for (const child of state.processes) await signal(child, child.name);
  return stopped;
}
