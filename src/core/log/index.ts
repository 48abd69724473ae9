/**
 * Structured, namespaced logs. One line per record on stderr: human-readable text by default,
 * JSON lines with `format: 'json'`. A child logger adds a namespace segment (`market`, `market:gossip`).
 */

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export type LogFields = Record<string, unknown>;

export interface LogRecord {
  time: string;
  level: Exclude<LogLevel, 'silent'>;
  ns: string;
  msg: string;
  fields?: LogFields;
}

export type LogSink = (record: LogRecord) => void;

export interface Logger {
  readonly namespace: string;
  trace(msg: string, fields?: LogFields): void;
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(namespace: string): Logger;
  isEnabled(level: LogLevel): boolean;
}

export interface LoggerOptions {
  level?: LogLevel;
  format?: 'text' | 'json';
  sink?: LogSink;
  namespace?: string;
}

const rank: Record<LogLevel, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, silent: 100 };

export function parseLogLevel(value: string | undefined, fallback: LogLevel = 'info'): LogLevel {
  if (value === undefined || value === '') return fallback;
  const lower = value.toLowerCase();
  return (LOG_LEVELS as readonly string[]).includes(lower) ? (lower as LogLevel) : fallback;
}

/** How deep fields are followed; below that a value is shown as `[…]`. */
const MAX_FIELD_DEPTH = 8;

/**
 * A field as plain JSON: a log call must never throw, whatever it is given (a bigint anywhere inside, a cycle,
 * an error, bytes, a getter that throws). Errors keep their code and message; bytes show their length.
 */
function jsonSafe(value: unknown, seen: Set<object>, depth: number): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'symbol' || typeof value === 'function') return String(value);
  if (value === null || typeof value !== 'object') return value;
  if (seen.has(value)) return '[circular]';
  if (depth >= MAX_FIELD_DEPTH) return '[…]';
  if (value instanceof Uint8Array) return `<${value.length} bytes>`;
  seen.add(value);
  try {
    if (value instanceof Error) {
      const { code, details } = value as { code?: unknown; details?: unknown };
      const error: Record<string, unknown> = { message: value.message };
      if (code !== undefined) error.code = jsonSafe(code, seen, depth + 1);
      if (details !== undefined) error.details = jsonSafe(details, seen, depth + 1);
      return error;
    }
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') return jsonSafe(toJSON.call(value), seen, depth + 1);
    if (value instanceof Map) return jsonSafe(Object.fromEntries(value), seen, depth + 1);
    if (value instanceof Set || Array.isArray(value))
      return [...(value as Iterable<unknown>)].map((item) => jsonSafe(item, seen, depth + 1));
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) out[key] = jsonSafe(item, seen, depth + 1);
    return out;
  } finally {
    seen.delete(value);
  }
}

function normalizeFields(fields: LogFields | undefined): LogFields | undefined {
  if (fields === undefined) return undefined;
  try {
    return jsonSafe(fields, new Set(), 0) as LogFields;
  } catch (error) {
    // A getter or toJSON that throws: the record still goes out, saying why its fields are missing.
    return { logFieldsUnreadable: error instanceof Error ? error.message : String(error) };
  }
}

export function textSink(write: (line: string) => void = (line) => process.stderr.write(line)): LogSink {
  return (record) => {
    const fields =
      record.fields && Object.keys(record.fields).length > 0 ? ` ${JSON.stringify(record.fields)}` : '';
    write(`${record.time} ${record.level.toUpperCase().padEnd(5)} ${record.ns}: ${record.msg}${fields}\n`);
  };
}

export function jsonSink(write: (line: string) => void = (line) => process.stderr.write(line)): LogSink {
  return (record) => write(`${JSON.stringify(record)}\n`);
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? 'info';
  const sink = options.sink ?? (options.format === 'json' ? jsonSink() : textSink());
  return makeLogger(options.namespace ?? 'yagna', rank[level], sink);
}

/** A logger that drops everything: for tests and libraries used without a daemon. */
export const silentLogger: Logger = createLogger({ level: 'silent', sink: () => {} });

function makeLogger(namespace: string, threshold: number, sink: LogSink): Logger {
  const emit = (lvl: Exclude<LogLevel, 'silent'>, msg: string, fields?: LogFields) => {
    if (rank[lvl] < threshold) return;
    const record: LogRecord = { time: new Date().toISOString(), level: lvl, ns: namespace, msg };
    const normalized = normalizeFields(fields);
    if (normalized !== undefined) record.fields = normalized;
    sink(record);
  };
  return {
    namespace,
    trace: (msg, fields) => emit('trace', msg, fields),
    debug: (msg, fields) => emit('debug', msg, fields),
    info: (msg, fields) => emit('info', msg, fields),
    warn: (msg, fields) => emit('warn', msg, fields),
    error: (msg, fields) => emit('error', msg, fields),
    child: (ns) => makeLogger(`${namespace}:${ns}`, threshold, sink),
    isEnabled: (lvl) => rank[lvl] >= threshold && lvl !== 'silent',
  };
}
