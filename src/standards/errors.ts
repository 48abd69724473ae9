/** What a program can act on in a validation issue; the message says the same for a person. */
export const StandardsIssueCode = {
  /** error: the value has the wrong type (a string where the standard wants an integer, …). */
  WrongType: 'STANDARDS_WRONG_TYPE',
  /** error: right type, value the standard rules out (not in the enum, wrong format, below the minimum). */
  BadValue: 'STANDARDS_BAD_VALUE',
  /** warning: a value outside the set in use for an open-ended property. */
  UnknownValue: 'STANDARDS_UNKNOWN_VALUE',
  /** warning: a value the standard retired. */
  DeprecatedValue: 'STANDARDS_DEPRECATED_VALUE',
  /** warning: a number written as a numeric string, which Golem's clients send and accept. */
  LooseType: 'STANDARDS_LOOSE_TYPE',
  /** error: a key inside a standard namespace that the standard does not define. */
  UnknownKey: 'STANDARDS_UNKNOWN_KEY',
  /** warning: a `golem.*` key outside the standard namespaces. */
  UnknownGolemKey: 'STANDARDS_UNKNOWN_GOLEM_KEY',
  /** warning: a deprecated key; `replacement` names the key to use instead. */
  Deprecated: 'STANDARDS_DEPRECATED',
  /** warning: an offer-only key in a demand or the other way round. */
  WrongSide: 'STANDARDS_WRONG_SIDE',
  /** warning: a usage counter name used as a property key (counters belong in golem.com.usage.vector). */
  CounterAsProperty: 'STANDARDS_COUNTER_AS_PROPERTY',
  /** warning: the usage vector lists a golem.* counter the standard does not define. */
  UnknownCounter: 'STANDARDS_UNKNOWN_COUNTER',
  /** error or warning: the linear price coefficients do not fit the usage vector, or one of the two is missing. */
  PricingMismatch: 'STANDARDS_PRICING_MISMATCH',
} as const;
export type IssueCode = (typeof StandardsIssueCode)[keyof typeof StandardsIssueCode];

/** Every code of the standards: the issue codes and the failures of the standards tools. */
export const StandardsErrorCode = {
  ...StandardsIssueCode,
  /** The input of a standards tool is not a property set. */
  BadInput: 'STANDARDS_BAD_INPUT',
} as const;
export type StandardsErrorCode = (typeof StandardsErrorCode)[keyof typeof StandardsErrorCode];

declare module '../core/errors/index.ts' {
  interface ErrorCodes {
    standards: StandardsErrorCode;
  }
}
