/**
 * A small client of the daemon's public REST API (agents use nothing else): JSON in and out, the app-key as a
 * bearer token, and a daemon's refusal turned into a `GolemError` that keeps the status and the daemon's body.
 */
import { GolemError } from '../../core/errors/index.ts';
import { RequestorErrorCode } from './errors.ts';

export interface ApiOptions {
  apiUrl: string;
  appKey: string;
}

export class RestClient {
  readonly apiUrl: string;
  readonly #appKey: string;

  constructor(options: ApiOptions) {
    this.apiUrl = options.apiUrl.replace(/\/+$/, '');
    this.#appKey = options.appKey;
  }

  async call<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    options: { signal?: AbortSignal } = {},
  ): Promise<T> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.#appKey}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(`${this.apiUrl}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: options.signal,
      });
    } catch (cause) {
      throw new GolemError(RequestorErrorCode.Api, `${method} ${path}: the daemon is unreachable`, {
        details: { apiUrl: this.apiUrl },
        cause,
      });
    }
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text === '' ? null : JSON.parse(text);
    } catch {
      // a plain-text answer: keep the text
    }
    if (!response.ok) {
      const message =
        typeof parsed === 'object' && parsed !== null && 'message' in parsed
          ? String((parsed as { message: unknown }).message)
          : text.slice(0, 200);
      throw new GolemError(RequestorErrorCode.Api, `${method} ${path}: ${response.status} ${message}`, {
        details: { status: response.status, body: parsed },
        httpStatus: response.status,
      });
    }
    return parsed as T;
  }

  get = <T = unknown>(path: string, options?: { signal?: AbortSignal }) =>
    this.call<T>('GET', path, undefined, options);
  post = <T = unknown>(path: string, body?: unknown, options?: { signal?: AbortSignal }) =>
    this.call<T>('POST', path, body, options);
  delete = <T = unknown>(path: string) => this.call<T>('DELETE', path);
}

/** The status of a REST failure, if it was one. */
export function statusOf(error: unknown): number | undefined {
  return error instanceof GolemError && error.code === RequestorErrorCode.Api
    ? (error.details?.status as number | undefined)
    : undefined;
}
