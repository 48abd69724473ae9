/** The market's use of the language: checked subscription bodies, two-way matching, per-demand matchers. */

import {
  compileConstraints,
  createDemandMatcher,
  flattenProperties,
  LanguageError,
  type MatchOutcome,
  type MatchResult,
  matchDemandOffer,
  propertiesToJson,
} from '../../language/index.ts';
import { httpError } from '../errors/index.ts';
import type { SignedOffer } from '../model/market.ts';
import { MarketErrorCode } from './errors.ts';

export interface Checked {
  /** Flat properties as JSON values. */
  properties: Record<string, unknown>;
  constraints: string;
}

/** A `{properties, constraints}` body, flattened and with its constraints parsed; 400 with the position otherwise. */
export function compileChecked(body: unknown): Checked {
  const record = body as { properties?: unknown; constraints?: unknown } | null;
  if (
    record === null ||
    typeof record !== 'object' ||
    typeof record.constraints !== 'string' ||
    record.properties === null ||
    typeof record.properties !== 'object'
  ) {
    throw httpError.badRequest(
      MarketErrorCode.BadRequest,
      'expected {"properties": {...}, "constraints": "..."}',
    );
  }
  let properties: Record<string, unknown>;
  try {
    properties = propertiesToJson(flattenProperties(record.properties));
    compileConstraints(record.constraints);
  } catch (error) {
    if (error instanceof LanguageError)
      throw httpError.badRequest(MarketErrorCode.BadConstraints, error.message, error.details);
    throw httpError.badRequest(MarketErrorCode.BadRequest, (error as Error).message);
  }
  return { properties, constraints: record.constraints };
}

/** A demand's compiled matcher (fastest over offers made ready once by `prepareOffer`); an offer that fails to evaluate is 'no'. */
export type Matcher = (offer: Parameters<ReturnType<typeof createDemandMatcher>>[0]) => MatchOutcome;

export function createMatcher(demand: Checked): Matcher {
  const match = createDemandMatcher(demand as Parameters<typeof createDemandMatcher>[0]);
  return (offer) => {
    try {
      return match(offer);
    } catch {
      return 'no';
    }
  };
}

export function matchSides(
  demand: Checked,
  offer: Pick<SignedOffer, 'properties' | 'constraints'>,
): MatchResult {
  return matchDemandOffer(demand, offer);
}
