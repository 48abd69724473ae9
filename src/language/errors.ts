import { GolemError } from '../core/errors/index.ts';

export const LANGUAGE_PARSE_ERROR = 'LANGUAGE_PARSE_ERROR';

export interface ParseErrorDetails {
  /** Offset in the text (0-based). */
  position: number;
  /** 1-based line and column. */
  line: number;
  column: number;
  expected: string;
  found: string;
}

/** A text of the language that does not parse; says where and what was expected. */
export class LanguageError extends GolemError {
  override name = 'LanguageError';
  declare readonly details: ParseErrorDetails & Record<string, unknown>;

  constructor(what: string, text: string, position: number, expected: string) {
    const before = text.slice(0, position);
    const line = before.split('\n').length;
    const column = position - before.lastIndexOf('\n');
    const found =
      position >= text.length ? 'end of input' : JSON.stringify(text.slice(position, position + 12));
    super(
      LANGUAGE_PARSE_ERROR,
      `${what}: expected ${expected} at line ${line}, column ${column}, found ${found}`,
      {
        details: { position, line, column, expected, found },
        httpStatus: 400,
      },
    );
  }
}
