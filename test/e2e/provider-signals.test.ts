/**
 * Ctrl-C or SIGTERM to `golemsp run` while its daemon is still starting stops the daemon too: before, the signal
 * came before golemsp's handlers and killed it alone, leaving its daemon running with nobody to stop it.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { tempDir } from '../support/daemon.ts';
import { eventually } from '../support/net.ts';
import { alive, descendants } from '../support/processes.ts';
import { GOLEMSP } from '../support/provider.ts';

describe('golemsp run stopped while its daemon starts', () => {
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    it(`${signal} ends golemsp and the daemon it was starting`, async () => {
      const dataDir = tempDir('golemsp-signal-');
      const golemsp = spawn(process.execPath, [GOLEMSP, 'run', '--data-dir', dataDir], {
        env: { ...process.env, YA_NET_LISTEN: '/ip4/127.0.0.1/tcp/0', YAGNA_API_URL: 'http://127.0.0.1:0' },
        stdio: 'ignore',
      });
      const exited = once(golemsp, 'exit');
      try {
        // The signal goes as soon as the daemon process exists, long before it serves its API.
        let daemon = 0;
        await eventually(() => {
          daemon = descendants(golemsp.pid!)[0] ?? 0;
          return daemon !== 0;
        }, 'the daemon process');
        assert.ok(
          !existsSync(join(dataDir, 'yagna', 'daemon.json')),
          'signalled before the daemon served its API',
        );
        golemsp.kill(signal);
        const [code, killedBy] = await exited;
        assert.deepEqual(
          { code, killedBy },
          { code: 0, killedBy: null },
          'golemsp handled the signal and exited 0',
        );
        await eventually(() => !alive(daemon), 'the daemon gone');
      } finally {
        if (golemsp.exitCode === null) golemsp.kill('SIGKILL');
      }
    });
});
