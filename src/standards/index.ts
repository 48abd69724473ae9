/**
 * Golem Standards as checked code: the property catalog, validation of offers and demands, the negotiable-property
 * check, JSON Schema and the generated docs page.
 */
export {
  catalog,
  EXPERIMENTAL_PREFIX,
  lookupProperty,
  OPEN_PREFIXES,
  STANDARD_NAMESPACES,
  suggestKey,
  USAGE_COUNTERS,
} from './catalog/index.ts';
export { type IssueCode, StandardsErrorCode, StandardsIssueCode } from './errors.ts';
export { standardsMarkdown } from './markdown.ts';
export { sameValue, type UnconfirmedNegotiable, unconfirmedNegotiables } from './negotiation.ts';
export { demandSchema, type JsonSchema, keyPattern, offerSchema } from './schema.ts';
export {
  type Category,
  describeType,
  type Side,
  type StandardProperty,
  type Status,
  type ValueType,
} from './types.ts';
export {
  type IssueSeverity,
  type ValidateOptions,
  type ValidationIssue,
  validateProperties,
} from './validate.ts';
