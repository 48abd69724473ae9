import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveConfig } from '../../../../src/core/config/index.ts';
import { isGolemError } from '../../../../src/core/errors/index.ts';

const invalid = (setting: string) => (error: unknown) =>
  isGolemError(error, 'CONFIG_INVALID') && error.details?.setting === setting;

describe('core settings', () => {
  it('takes the log level from the flag, then YAGNA_LOG_LEVEL, then the first plain level of RUST_LOG', () => {
    assert.equal(resolveConfig({}, {}).logLevel, 'info');
    assert.equal(resolveConfig({ 'log-level': 'DEBUG' }, { YAGNA_LOG_LEVEL: 'warn' }).logLevel, 'debug');
    assert.equal(resolveConfig({}, { YAGNA_LOG_LEVEL: 'warn', RUST_LOG: 'trace' }).logLevel, 'warn');
    assert.equal(resolveConfig({}, { RUST_LOG: 'yagna=trace,debug' }).logLevel, 'debug');
    assert.equal(resolveConfig({}, { RUST_LOG: 'yagna=trace' }).logLevel, 'info');
  });

  it('refuses a log level it does not know instead of quietly logging at info', () => {
    assert.throws(() => resolveConfig({ 'log-level': 'verbose' }, {}), invalid('log-level'));
    assert.throws(() => resolveConfig({}, { YAGNA_LOG_LEVEL: 'loud' }), invalid('log-level'));
  });

  it('listens on http:// URLs only (no TLS is served)', () => {
    assert.equal(resolveConfig({ 'api-url': 'http://127.0.0.1:0' }, {}).apiUrl.port, '0');
    assert.throws(() => resolveConfig({ 'api-url': 'https://127.0.0.1:7465' }, {}), invalid('api-url'));
    assert.throws(() => resolveConfig({}, { YAGNA_API_URL: 'ftp://127.0.0.1' }), invalid('api-url'));
    assert.throws(() => resolveConfig({}, { YAGNA_API_URL: 'not a url' }), invalid('api-url'));
  });
});
