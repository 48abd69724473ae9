/**
 * Two-way matching of a demand and an offer: the demand's constraints over the offer's properties and the
 * offer's constraints over the demand's properties. `yes` when both are true, `no` when either is false,
 * `undefined` otherwise (only `yes` makes a proposal).
 */

import type { Shaped } from './codegen.ts';
import {
  type ClauseReport,
  type CompiledConstraints,
  compileConstraints,
  createShapedCompiler,
  FALSE,
  type ShapedCompiler,
  TRUE,
  type Tri,
} from './compile.ts';
import { flattenProperties } from './properties.ts';
import type { FlatProperties, PropertyValue } from './values.ts';

export type MatchOutcome = 'yes' | 'no' | 'undefined';

export interface Side {
  /** Nested or flat JSON, or an already flat property set. */
  properties: unknown;
  constraints: string;
}

export interface FlatSide {
  properties: FlatProperties;
  constraints: string;
}

export interface MatchResult {
  result: MatchOutcome;
  explanation: {
    /** The demand's top-level clauses evaluated over the offer's properties (side `demand`). */
    demandSide: ClauseReport[];
    /** The offer's top-level clauses evaluated over the demand's properties (side `offer`). */
    offerSide: ClauseReport[];
  };
}

function outcome(a: number, b: number): MatchOutcome {
  if (a === TRUE && b === TRUE) return 'yes';
  if (a === FALSE || b === FALSE) return 'no';
  return 'undefined';
}

function withSide(side: 'demand' | 'offer', reports: ClauseReport[]): ClauseReport[] {
  for (const report of reports) {
    report.side = side;
    if (report.clauses !== undefined) withSide(side, report.clauses);
  }
  return reports;
}

export function matchDemandOffer(demand: Side, offer: Side): MatchResult {
  const demandProps = flattenProperties(demand.properties);
  const offerProps = flattenProperties(offer.properties);
  const demandConstraints = compileConstraints(demand.constraints);
  const offerConstraints = compileConstraints(offer.constraints);
  const d = demandConstraints.predicate(offerProps);
  const o = offerConstraints.predicate(demandProps);
  return {
    result: outcome(d, o),
    explanation: {
      demandSide: withSide('demand', demandConstraints.explain(offerProps)),
      offerSide: withSide('offer', offerConstraints.explain(demandProps)),
    },
  };
}

/** An offer's constraints compiled once, with the last result it gave (for the property set it was given). */
export interface OfferEntry {
  compiled: Shaped;
  lastProps: FlatProperties | undefined;
  lastResult: Tri;
}

/** How many distinct offer constraint texts a cache keeps compiled by default; past that it starts afresh. */
export const OFFER_CACHE_LIMIT = 250_000;

/**
 * Offer constraints by text, compiled the first time a demand matcher meets them and reused by the matchers that
 * share the cache (as the market compiles an offer once when it arrives). Owned by its user: a market keeps one for
 * all its demands; a matcher made without one gets its own.
 */
export class OfferConstraintCache {
  readonly limit: number;
  /** Compiles offer constraints, sharing generated code between the offers of one shape. */
  readonly compile: ShapedCompiler = createShapedCompiler();
  readonly #entries = new Map<string, OfferEntry>();

  constructor(limit = OFFER_CACHE_LIMIT) {
    this.limit = limit;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The compiled constraints of `constraints`; throws `LanguageError` when they do not parse. */
  entry(constraints: string): OfferEntry {
    let entry = this.#entries.get(constraints);
    if (entry === undefined) {
      entry = { compiled: this.compile(constraints), lastProps: undefined, lastResult: FALSE };
      if (this.#entries.size >= this.limit) this.#entries.clear();
      this.#entries.set(constraints, entry);
    }
    return entry;
  }
}

/** An offer made ready for matching once (when it arrives): flat properties and compiled constraints. */
export interface PreparedOffer extends FlatSide {
  /** The offer's constraints compiled (shared code for their shape, their own values): run over a demand's properties. */
  readonly compiled: Shaped;
}

/**
 * Flattens an offer's properties and compiles its constraints once, so that every later demand matcher reads
 * them without a lookup; offers prepared with one `cache` share the code of their shape. Throws `LanguageError`
 * when the constraints do not parse.
 */
export function prepareOffer(offer: Side, cache: OfferConstraintCache): PreparedOffer {
  return {
    properties: flattenProperties(offer.properties),
    constraints: offer.constraints,
    compiled: cache.compile(offer.constraints),
  };
}

/**
 * One demand against many offers: the demand is compiled once (generated code), each distinct offer constraint
 * text once per `offers` cache (pass one cache to many matchers to share the work; never when the offer was made
 * with `prepareOffer`), and nothing is parsed or flattened per offer. Offer properties must already be flat.
 * An offer constraint that does not parse throws its `LanguageError`.
 */
export function createDemandMatcher(
  demand: Side,
  offers: OfferConstraintCache = new OfferConstraintCache(),
): (offer: FlatSide | PreparedOffer) => MatchOutcome {
  const demandProps = flattenProperties(demand.properties);
  const demandPredicate = compileConstraints(demand.constraints).predicate;
  return (offer) => {
    const d = demandPredicate(offer.properties);
    if (d === FALSE) return 'no';
    const prepared = (offer as Partial<PreparedOffer>).compiled;
    if (prepared !== undefined) return outcome(d, prepared.shape(demandProps, prepared.values));
    const entry = offers.entry(offer.constraints);
    // Many offers share one constraint text; the answer for this demand's properties is kept beside it.
    if (entry.lastProps !== demandProps) {
      entry.lastResult = entry.compiled.shape(demandProps, entry.compiled.values);
      entry.lastProps = demandProps;
    }
    return outcome(d, entry.lastResult);
  };
}

/** A cache of compiled constraints by text, for callers that evaluate many property sets. */
export function createConstraintCache(limit = 10_000): (text: string) => CompiledConstraints {
  const cache = new Map<string, CompiledConstraints>();
  return (text) => {
    let compiled = cache.get(text);
    if (compiled === undefined) {
      compiled = compileConstraints(text);
      if (cache.size >= limit) cache.clear();
      cache.set(text, compiled);
    }
    return compiled;
  };
}

function show(value: PropertyValue | undefined, present: boolean): string {
  if (!present) return 'absent';
  if (value === null) return 'present without a value';
  return JSON.stringify(value);
}

function describe(report: ClauseReport, indent: string): string {
  const seen = report.property === '' ? '' : `: ${report.property} is ${show(report.seen, report.present)}`;
  const verdict =
    report.result === 'false' ? 'fails    ' : report.result === 'true' ? 'holds    ' : 'undecided';
  return `${indent}${verdict} ${report.clause}${report.clauses === undefined ? seen : ''}`;
}

/** A side's result: its top-level clauses are joined by `&`. */
function sideResult(reports: readonly ClauseReport[]): 'true' | 'false' | 'undefined' {
  if (reports.some((r) => r.result === 'false')) return 'false';
  return reports.some((r) => r.result === 'undefined') ? 'undefined' : 'true';
}

function describeSide(title: string, reports: readonly ClauseReport[], lines: string[]): void {
  lines.push(`${title}: ${sideResult(reports)}`);
  for (const report of reports) {
    if (report.result === 'true') continue;
    lines.push(describe(report, '  '));
    // Inside a compound clause, each comparison with the value it saw.
    for (const inner of report.clauses ?? []) lines.push(describe(inner, '      '));
  }
}

/** Human answer to "why does (or doesn't) this demand match this offer?": every clause that is not true. */
export function formatExplanation(match: MatchResult): string {
  const lines: string[] = [];
  describeSide("demand constraints over the offer's properties", match.explanation.demandSide, lines);
  describeSide("offer constraints over the demand's properties", match.explanation.offerSide, lines);
  return lines.join('\n');
}
