/**
 * Error codes are declared once per module (`export const XErrorCode = {...} as const`) and used through that
 * object, so a typo does not compile. This check fails on any code written as a string literal where an error is
 * made or tested, outside the allow-list of files not converted yet (their modules' engineers convert them; the
 * list only shrinks).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { ProviderErrorCode } from '../../../../src/agents/provider/index.ts';
import { RequestorErrorCode } from '../../../../src/agents/requestor/errors.ts';
import { CliErrorCode } from '../../../../src/cli/errors.ts';
import { ActivityErrorCode } from '../../../../src/core/activity/index.ts';
import { ApiErrorCode, LongPollErrorCode } from '../../../../src/core/api/index.ts';
import { BusErrorCode } from '../../../../src/core/bus/errors.ts';
import { ConfigErrorCode } from '../../../../src/core/config/index.ts';
import { ControlBindErrorCode, ControlErrorCode } from '../../../../src/core/control/index.ts';
import { CryptoErrorCode } from '../../../../src/core/crypto/index.ts';
import { DbErrorCode } from '../../../../src/core/db/index.ts';
import type { ErrorCode } from '../../../../src/core/errors/index.ts';
import { GsbApiErrorCode } from '../../../../src/core/gsb-api/index.ts';
import { IdentityErrorCode } from '../../../../src/core/identity/index.ts';
import { MarketErrorCode } from '../../../../src/core/market/index.ts';
import { ExeScriptErrorCode } from '../../../../src/core/model/exescript.ts';
import { GftpErrorCode } from '../../../../src/core/model/gftp.ts';
import { NetErrorCode } from '../../../../src/core/net/index.ts';
import { Erc20ErrorCode } from '../../../../src/core/payment/erc20/index.ts';
import { PaymentErrorCode } from '../../../../src/core/payment/index.ts';
import { VpnErrorCode } from '../../../../src/core/vpn/index.ts';
import { DevnetErrorCode } from '../../../../src/devnet/errors.ts';
import { ExeUnitErrorCode } from '../../../../src/execution/exeunit/errors.ts';
import { ImageErrorCode } from '../../../../src/execution/image/index.ts';
import { RuntimeApiErrorCode } from '../../../../src/execution/runtime-api/index.ts';
import { VmErrorCode } from '../../../../src/execution/runtimes/vm/errors.ts';
import { WasiErrorCode } from '../../../../src/execution/runtimes/wasi/errors.ts';
import { TransferErrorCode } from '../../../../src/execution/transfer/index.ts';
import { LanguageErrorCode } from '../../../../src/language/index.ts';
import { StandardsErrorCode } from '../../../../src/standards/index.ts';
import { REPO_ROOT } from '../../../support/daemon.ts';
import { sourceFiles } from '../../../support/source-files.ts';

/**
 * Files that still write codes as literals: only files another engineer is changing right now, by owner. Remove a
 * line once its file is converted.
 */
const NOT_CONVERTED_YET = new Set<string>([]);

/** Every module's declared codes, by the name of their object (`export const XErrorCode = {...}`). */
const DECLARED = {
  ActivityErrorCode,
  ApiErrorCode,
  BusErrorCode,
  CliErrorCode,
  ConfigErrorCode,
  ControlBindErrorCode,
  ControlErrorCode,
  CryptoErrorCode,
  DbErrorCode,
  DevnetErrorCode,
  Erc20ErrorCode,
  ExeScriptErrorCode,
  ExeUnitErrorCode,
  GftpErrorCode,
  GsbApiErrorCode,
  IdentityErrorCode,
  ImageErrorCode,
  LanguageErrorCode,
  LongPollErrorCode,
  MarketErrorCode,
  NetErrorCode,
  PaymentErrorCode,
  ProviderErrorCode,
  RequestorErrorCode,
  RuntimeApiErrorCode,
  StandardsErrorCode,
  TransferErrorCode,
  VmErrorCode,
  VpnErrorCode,
  WasiErrorCode,
} as const;

type Declared = typeof DECLARED;
type ListedCode = { [Name in keyof Declared]: Declared[Name][keyof Declared[Name]] }[keyof Declared];
/** Does not compile when a listed module's codes are not registered in `ErrorCodes` (src/core/errors). */
const registered = (code: ListedCode): ErrorCode => code;

const Q = `['"\`]`;
/** A code of ours: MODULE_WHAT (Node's system codes, EADDRINUSE or ERR_*, are not). */
const CODE = '(?!ERR_)[A-Z][A-Z0-9]*_[A-Z0-9_]+';
/** Where a code is written: making an error, testing one, or a `code:` field of an error body. */
const LITERAL_CODE = [
  new RegExp(`new GolemError\\(\\s*${Q}`),
  new RegExp(`httpError\\.\\w+\\(\\s*${Q}`),
  new RegExp(`isGolemError\\([^,()]+,\\s*${Q}`),
  new RegExp(`\\.code\\s*[!=]==?\\s*${Q}${CODE}${Q}`),
  new RegExp(`${Q}${CODE}${Q}\\s*[!=]==?\\s*[\\w.]*\\.code\\b`),
  new RegExp(`\\bcode:\\s*${Q}${CODE}${Q}`),
];

/** `file:line: text` of every literal code in `source`; a call split over lines is read joined. */
function literalCodes(file: string, source: string): string[] {
  const found: string[] = [];
  const lines = source.split('\n');
  lines.forEach((line, index) => {
    const joined = `${line.trimEnd()} ${(lines[index + 1] ?? '').trim()}`;
    const opensCall = /(?:new GolemError|httpError\.\w+|isGolemError)\($/.test(line.trimEnd());
    if (LITERAL_CODE.some((pattern) => pattern.test(line) || (opensCall && pattern.test(joined))))
      found.push(`${file}:${index + 1}: ${line.trim()}`);
  });
  return found;
}

describe('error codes', () => {
  it('the check sees every way a literal code is written', () => {
    const sample = [
      "throw new GolemError('X_ONE', 'm');",
      'throw new GolemError(',
      "  'X_TWO',",
      "httpError.notFound('X_THREE', 'm');",
      "isGolemError(error, 'X_FOUR');",
      "if (error.code === 'X_FIVE') {}",
      "if (cause.code === 'EADDRINUSE' || cause.code === 'ERR_SOCKET_CLOSED') {}",
      "reply.send({ message: 'm', code: 'X_SIX' });",
      "throw new GolemError(XErrorCode.Fine, 'm');",
    ].join('\n');
    assert.deepEqual(
      literalCodes('f.ts', sample).map((hit) => hit.split(':')[1]),
      ['1', '2', '4', '5', '6', '8'],
    );
  });

  it('no file writes a code as a literal, except those not converted yet', () => {
    const found = sourceFiles(join(REPO_ROOT, 'src')).flatMap((path) => {
      const file = relative(REPO_ROOT, path);
      return NOT_CONVERTED_YET.has(file) ? [] : literalCodes(file, readFileSync(path, 'utf8'));
    });
    assert.deepEqual(found, [], "declare the code in the module's XErrorCode and use it from there");
  });

  it('the allow-list names only files that still need it (shrink it when a file is converted)', () => {
    const stale = [...NOT_CONVERTED_YET].filter((file) => {
      try {
        return literalCodes(file, readFileSync(join(REPO_ROOT, file), 'utf8')).length === 0;
      } catch {
        return true; // moved or deleted
      }
    });
    assert.deepEqual(stale, [], 'remove these from NOT_CONVERTED_YET');
  });

  it('every declared code object is in the list above (and so registered in ErrorCodes)', () => {
    const inSource = sourceFiles(join(REPO_ROOT, 'src')).flatMap((path) =>
      [...readFileSync(path, 'utf8').matchAll(/^export const ([A-Z]\w*ErrorCode) = \{/gm)].map((m) => m[1]),
    );
    assert.deepEqual([...new Set(inSource)].sort(), Object.keys(DECLARED).sort());
  });

  it('declared codes are unique across modules and look like MODULE_WHAT', () => {
    const declared = Object.values(DECLARED).flatMap((codes) => Object.values(codes) as string[]);
    for (const code of declared)
      assert.match(registered(code as ListedCode), /^[A-Z][A-Z0-9]*(_[A-Z0-9]+)+$/);
    // StandardsErrorCode includes the issue codes; every other code is declared by one module only.
    assert.equal(new Set(declared).size, declared.length);
  });
});
