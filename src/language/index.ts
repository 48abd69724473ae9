/**
 * The Demand & Offer Specification Language: property sets, constraint expressions, compiled evaluation with
 * three-valued logic, two-way matching and explanations.
 */

export type { Shaped, ShapePredicate } from './codegen.ts';
export {
  type ClauseReport,
  type CompiledConstraints,
  compileConstraints,
  compilePredicate,
  createShapedCompiler,
  FALSE,
  type Predicate,
  type ShapedCompiler,
  TRISTATE,
  TRUE,
  type Tri,
  type Tristate,
  UNDEFINED,
} from './compile.ts';
export {
  type Cast,
  type Constraint,
  formatConstraint,
  type Operator,
  parseConstraints,
} from './constraints.ts';
export { LanguageError, LanguageErrorCode, type ParseErrorDetails } from './errors.ts';
export {
  createConstraintCache,
  createDemandMatcher,
  type FlatSide,
  formatExplanation,
  type MatchOutcome,
  type MatchResult,
  matchDemandOffer,
  OFFER_CACHE_LIMIT,
  OfferConstraintCache,
  type PreparedOffer,
  prepareOffer,
  type Side,
} from './match.ts';
export {
  expandProperties,
  flattenProperties,
  formatFlatProperties,
  parseFlatProperties,
  propertiesToJson,
} from './properties.ts';
export {
  DateTime,
  Decimal,
  type FlatProperties,
  type PropertyValue,
  parseNumber,
  Version,
} from './values.ts';
