/** Golem Standards as checked code: the property catalog, validation, negotiation checks, JSON Schema, docs. */
export { catalog, lookupProperty, STANDARD_NAMESPACES, USAGE_COUNTERS } from './catalog/index.ts';
export { standardsMarkdown } from './markdown.ts';
export { type UnconfirmedNegotiable, unconfirmedNegotiables } from './negotiation.ts';
export { demandSchema, offerSchema } from './schema.ts';
export { describeType, type Side, type StandardProperty, type ValueType } from './types.ts';
export { type IssueSeverity, type ValidationIssue, validateProperties } from './validate.ts';
