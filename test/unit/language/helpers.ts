import { LanguageError, LanguageErrorCode } from '../../../src/language/index.ts';

export * from '../../../src/language/index.ts';

export function isLanguageError(error: unknown): error is LanguageError {
  return error instanceof LanguageError && error.code === LanguageErrorCode.Parse;
}
