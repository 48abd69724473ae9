/**
 * The language's errors. The language is a library: it knows nothing of the daemon, of GolemError or of HTTP;
 * whoever serves it (the REST server, the market, the CLI) decides what a parse error means to its users.
 */

/** The language's error codes, declared once. */
export const LanguageErrorCode = {
  /** A property set or constraint text that does not parse. */
  Parse: 'LANGUAGE_PARSE_ERROR',
} as const;
export type LanguageErrorCode = (typeof LanguageErrorCode)[keyof typeof LanguageErrorCode];

// A type, not an interface: it then fits any `Record<string, unknown>` its users keep details in.
export type ParseErrorDetails = {
  /** Offset in the text (0-based). */
  position: number;
  /** 1-based line and column. */
  line: number;
  column: number;
  expected: string;
  found: string;
};

/** A text of the language that does not parse; says where and what was expected. */
export class LanguageError extends Error {
  override name = 'LanguageError';
  readonly code: LanguageErrorCode = LanguageErrorCode.Parse;
  readonly details: ParseErrorDetails;

  constructor(what: string, text: string, position: number, expected: string) {
    const before = text.slice(0, position);
    const line = before.split('\n').length;
    const column = position - before.lastIndexOf('\n');
    const found =
      position >= text.length ? 'end of input' : JSON.stringify(text.slice(position, position + 12));
    super(`${what}: expected ${expected} at line ${line}, column ${column}, found ${found}`);
    this.details = { position, line, column, expected, found };
  }

  /** The same JSON shape as the daemon's errors: `{code, message, details}`. */
  toJSON(): { code: LanguageErrorCode; message: string; details: ParseErrorDetails } {
    return { code: this.code, message: this.message, details: this.details };
  }
}
