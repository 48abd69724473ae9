import { isGolemError } from '../../../src/core/errors/index.ts';
import { LANGUAGE_PARSE_ERROR, type LanguageError } from '../../../src/language/index.ts';

export * from '../../../src/language/index.ts';

export function isLanguageError(error: unknown): error is LanguageError {
  return isGolemError(error, LANGUAGE_PARSE_ERROR);
}
