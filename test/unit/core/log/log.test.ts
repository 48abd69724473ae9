import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type ErrorCode, GolemError } from '../../../../src/core/errors/index.ts';
import { createLogger, type LogRecord } from '../../../../src/core/log/index.ts';

function capture(format: 'text' | 'json') {
  const lines: string[] = [];
  const records: LogRecord[] = [];
  const text = createLogger({
    level: 'info',
    format,
    sink:
      format === 'json'
        ? (record) => {
            records.push(record);
            lines.push(JSON.stringify(record));
          }
        : undefined,
  });
  return { logger: text, lines, records };
}

describe('logger', () => {
  it('never throws on what it is given, and writes what it can of it', () => {
    const { logger, records } = capture('json');
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic.self = cyclic;
    const throwing = {
      get broken(): never {
        throw new Error('getter failed');
      },
    };
    const error = new GolemError('PAYMENT_X' as ErrorCode, 'no funds', { details: { amount: 5n } });
    logger.info('amounts', { tx: { amount: 10n ** 20n, fees: [1n, 2n] } });
    logger.info('cycle', { cyclic, twice: [cyclic, cyclic] });
    logger.info('error', { error, nested: { error } });
    logger.info('bytes', {
      key: new Uint8Array(32),
      when: new Date(0),
      url: new URL('http://x/'),
      map: new Map([['a', 1n]]),
    });
    logger.info('getter', { throwing });
    assert.deepEqual(
      records.map((record) => record.fields),
      [
        { tx: { amount: '100000000000000000000', fees: ['1', '2'] } },
        {
          cyclic: { name: 'loop', self: '[circular]' },
          twice: [
            { name: 'loop', self: '[circular]' },
            { name: 'loop', self: '[circular]' },
          ],
        },
        {
          error: { message: 'no funds', code: 'PAYMENT_X', details: { amount: '5' } },
          nested: { error: { message: 'no funds', code: 'PAYMENT_X', details: { amount: '5' } } },
        },
        { key: '<32 bytes>', when: '1970-01-01T00:00:00.000Z', url: 'http://x/', map: { a: '1' } },
        { logFieldsUnreadable: 'getter failed' },
      ],
    );
  });

  it('the default text sink writes one line per record, with nested bigints', () => {
    const written: string[] = [];
    const original = process.stderr.write;
    process.stderr.write = ((chunk: string) => {
      written.push(chunk);
      return true;
    }) as typeof process.stderr.write;
    try {
      capture('text').logger.warn('paid', { amount: { value: 7n } });
    } finally {
      process.stderr.write = original;
    }
    assert.equal(written.length, 1);
    assert.match(written[0]!, / WARN {2}yagna: paid \{"amount":\{"value":"7"\}\}\n$/);
  });
});
