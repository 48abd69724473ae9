/**
 * The daemon's public REST API as the provider agent uses it (the agent never reaches into the daemon otherwise):
 * JSON over fetch with the app-key as a bearer token; an error status becomes a `PROVIDER_API_ERROR` carrying the
 * status and the daemon's body, so callers can act on 404/410 as ya-provider does.
 */
import { GolemError, isGolemError } from '../../core/errors/index.ts';
import { ProviderErrorCode, providerError } from './errors.ts';

export interface ApiOptions {
  apiUrl: string;
  appKey: string;
  /** Longest a call may take beyond the long-poll it asks for (ms). */
  timeoutMs?: number;
  /** Where the daemon listens now (e.g. read from its `daemon.json`): asked again when it cannot be reached. */
  locate?: () => string | undefined;
}

export class DaemonApi {
  #apiUrl: string;
  #appKey: string;
  #timeoutMs: number;
  #locate: (() => string | undefined) | undefined;

  constructor(options: ApiOptions) {
    this.#apiUrl = options.apiUrl.replace(/\/$/, '');
    this.#appKey = options.appKey;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#locate = options.locate;
  }

  get apiUrl(): string {
    return this.#apiUrl;
  }

  async call<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    options: { waitMs?: number; signal?: AbortSignal } = {},
  ): Promise<T> {
    const timeout = AbortSignal.timeout(this.#timeoutMs + (options.waitMs ?? 0));
    const signal = options.signal === undefined ? timeout : AbortSignal.any([timeout, options.signal]);
    let response: Response;
    try {
      response = await fetch(`${this.apiUrl}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.#appKey}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
      });
    } catch (cause) {
      const moved = this.#locate?.();
      if (moved !== undefined) this.#apiUrl = moved.replace(/\/$/, '');
      throw providerError(
        ProviderErrorCode.Unreachable,
        `${method} ${path}: the daemon is not reachable`,
        { path },
        cause,
      );
    }
    const text = await response.text();
    let parsed: unknown = text;
    if (text !== '') {
      try {
        parsed = JSON.parse(text);
      } catch {
        // a plain-text body stays text
      }
    } else parsed = undefined;
    if (!response.ok) {
      const message =
        typeof parsed === 'object' && parsed !== null && 'message' in parsed
          ? String((parsed as { message: unknown }).message)
          : text;
      throw new GolemError(ProviderErrorCode.Api, `${method} ${path}: ${response.status} ${message}`, {
        details: { status: response.status, path, body: parsed },
      });
    }
    return parsed as T;
  }

  get<T = unknown>(path: string, options?: { waitMs?: number; signal?: AbortSignal }): Promise<T> {
    return this.call<T>('GET', path, undefined, options);
  }
  post<T = unknown>(path: string, body?: unknown, options?: { waitMs?: number }): Promise<T> {
    return this.call<T>('POST', path, body ?? {}, options);
  }
  delete<T = unknown>(path: string): Promise<T> {
    return this.call<T>('DELETE', path);
  }
}

/** The HTTP status of a failed REST call (undefined for transport failures). */
export function apiStatus(error: unknown): number | undefined {
  if (!isGolemError(error, ProviderErrorCode.Api)) return undefined;
  return error.details?.status as number | undefined;
}

/** The daemon's error code in the body of a failed REST call. */
export function apiCode(error: unknown): string | undefined {
  if (!isGolemError(error, ProviderErrorCode.Api)) return undefined;
  const body = error.details?.body as { code?: unknown } | undefined;
  return typeof body?.code === 'string' ? body.code : undefined;
}
