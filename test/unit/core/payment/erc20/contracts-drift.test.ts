import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileContracts } from '../../../../../scripts/compile-contracts.ts';
import * as generated from '../../../../../src/core/payment/erc20/contracts.generated.ts';

test('the committed contract artifacts are what contracts/*.sol compile to (run `npm run contracts` after a change)', () => {
  const fresh = compileContracts();
  const committed = generated as unknown as Record<string, unknown>;
  assert.deepEqual(Object.keys(fresh).sort(), Object.keys(committed).sort());
  for (const [name, artifact] of Object.entries(fresh)) {
    assert.deepEqual(
      JSON.parse(JSON.stringify(committed[name])),
      JSON.parse(JSON.stringify(artifact)),
      `${name} drifted from its source`,
    );
  }
});
