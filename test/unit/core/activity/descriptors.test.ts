/** Runtime descriptors in Golem's format, found through EXE_UNIT_PATH patterns; the shipped ones load. */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  ActivityErrorCode,
  DEFAULT_EXE_UNIT_PATH,
  loadDescriptors,
  parseDescriptorFile,
} from '../../../../src/core/activity/index.ts';
import { isGolemError } from '../../../../src/core/errors/index.ts';
import { tempDir } from '../../../support/daemon.ts';

describe('runtime descriptors', () => {
  it("reads Golem's fields; relative paths against the file; exe-unit means this project's supervisor", () => {
    const [vm, custom] = parseDescriptorFile(
      '/plugins/ya-runtime-vm.json',
      JSON.stringify([
        {
          name: 'vm',
          version: '0.5.2',
          'supervisor-path': 'exe-unit',
          'runtime-path': 'ya-runtime-vm/ya-runtime-vm',
          description: 'vm runtime',
          'extra-args': ['--cap-handoff'],
          properties: { 'golem.runtime.capabilities': ['vpn'] },
          config: { counters: {} },
        },
        { name: 'custom', 'supervisor-path': '/opt/sup', 'runtime-path': '/opt/rt' },
      ]),
    );
    assert.equal(vm!.runtimePath, '/plugins/ya-runtime-vm/ya-runtime-vm');
    assert.match(vm!.supervisorPath, /src\/execution\/exeunit\/main\.ts$/);
    assert.deepEqual(vm!.extraArgs, ['--cap-handoff']);
    assert.equal(custom!.supervisorPath, '/opt/sup');
    assert.equal(custom!.version, '0.0.0');
    for (const bad of [
      '{',
      '{}',
      '[{"runtime-path":"x"}]',
      '[{"name":"x"}]',
      '[{"name":"x","runtime-path":"y","extra-args":[1]}]',
    ])
      assert.throws(
        () => parseDescriptorFile('/d.json', bad),
        (e: unknown) => isGolemError(e, ActivityErrorCode.BadDescriptor),
      );
  });

  it('finds files through * patterns; the first descriptor of a name wins; the shipped ones load', () => {
    const root = tempDir('descriptors-');
    for (const [dir, name] of [
      ['a', 'one'],
      ['b', 'two'],
      ['c', 'one'],
    ] as const) {
      mkdirSync(join(root, dir));
      writeFileSync(
        join(root, dir, 'descriptor.json'),
        JSON.stringify([{ name, 'runtime-path': `${dir}.ts` }]),
      );
    }
    const found = loadDescriptors([join(root, '*', 'descriptor.json')]);
    assert.deepEqual(
      found.map((d) => [d.name, d.runtimePath]),
      [
        ['one', join(root, 'a', 'a.ts')],
        ['two', join(root, 'b', 'b.ts')],
      ],
    );
    const shipped = loadDescriptors([DEFAULT_EXE_UNIT_PATH]).map((d) => d.name);
    assert.ok(shipped.includes('wasmtime') && shipped.includes('vm'), shipped.join(','));
  });
});
