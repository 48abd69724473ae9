import { catalog, EXPERIMENTAL_PREFIX, OPEN_PREFIXES, STANDARD_NAMESPACES } from './catalog/index.ts';
import type { StandardProperty, ValueType } from './types.ts';

/** A JSON Schema (draft 2020-12) document or subschema. */
export type JsonSchema = { [keyword: string]: unknown };

// Surrounding blanks as the language's Version.parse allows them.
const VERSION_PATTERN = '^\\s*v?[0-9]+(\\.[0-9]+){0,2}(-[0-9A-Za-z.-]+)?(\\+[0-9A-Za-z.-]+)?\\s*$';
const DECIMAL_PATTERN = '^[+-]?([0-9]+\\.?[0-9]*|\\.[0-9]+)([eE][+-]?[0-9]+)?$';

/** Escapes only ECMA-262 syntax characters, so the pattern also compiles in Unicode mode (as validators use it). */
function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The regular expression a `<placeholder>` key stands for: each placeholder is one non-empty segment. */
export function keyPattern(key: string): string {
  return `^${key
    .split('.')
    .map((segment) => (segment.startsWith('<') ? '[^.]+' : escapeRegExp(segment)))
    .join('\\.')}$`;
}

function typeSchema(type: ValueType): JsonSchema {
  switch (type.kind) {
    case 'string':
      return type.pattern === undefined ? { type: 'string' } : { type: 'string', pattern: type.pattern };
    case 'enum':
      return { type: 'string', enum: [...type.values] };
    case 'number': {
      const schema: JsonSchema = { type: type.integer ? 'integer' : 'number' };
      if (type.minimum !== undefined) schema.minimum = type.minimum;
      return schema;
    }
    case 'boolean':
      return { type: 'boolean' };
    case 'version':
      return { type: 'string', pattern: VERSION_PATTERN };
    case 'datetime':
      return { type: 'string', format: 'date-time' };
    case 'decimal':
      // `pattern` applies to strings only, so a number passes as it is.
      return { type: ['number', 'string'], pattern: DECIMAL_PATTERN };
    case 'list':
      return { type: 'array', items: typeSchema(type.of) };
  }
}

function propertySchema(property: StandardProperty): JsonSchema {
  const schema = typeSchema(property.type);
  if (property.acceptsNumericString && typeof schema.type === 'string') {
    schema.type = [schema.type, 'string'];
    schema.pattern = '^[0-9]+$';
  }
  const unit = property.unit === undefined ? '' : ` [${property.unit}]`;
  schema.description = `${property.meaning}${unit}.`;
  if (property.deprecated !== undefined) schema.deprecated = true;
  if (property.example !== undefined) schema.examples = [property.example];
  // Annotation keywords: 2020-12 validators ignore unknown keywords, tools can read them.
  schema['x-golem'] = {
    negotiable: property.negotiable,
    side: property.side,
    category: property.category,
    status: property.status,
    source: property.source,
    ...(property.unit === undefined ? {} : { unit: property.unit }),
    ...(property.deprecated?.replacement === undefined
      ? {}
      : { replacement: property.deprecated.replacement }),
  };
  return schema;
}

function schemaFor(side: 'offer' | 'demand'): JsonSchema {
  const properties: Record<string, JsonSchema> = {};
  const patternProperties: Record<string, JsonSchema> = {};
  const knownNames: string[] = [];
  const knownPatterns: string[] = [];
  for (const property of catalog) {
    const dynamic = property.key.includes('<');
    if (dynamic) knownPatterns.push(keyPattern(property.key));
    else knownNames.push(property.key);
    if (property.counter || (property.side !== 'both' && property.side !== side)) continue;
    if (dynamic) patternProperties[keyPattern(property.key)] = propertySchema(property);
    else properties[property.key] = propertySchema(property);
  }
  const standardPrefix = `^(${STANDARD_NAMESPACES.map(escapeRegExp).join('|')})`;
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: `https://golem-ts.invalid/standards/${side}.schema.json`,
    title: `Golem Standards 0.7.1: ${side} properties`,
    description:
      `Flat properties of ${side === 'offer' ? 'an offer' : 'a demand'} (dotted keys). Keys under a standard ` +
      'namespace must be defined by the standard; other keys are free. Properties of the other side are ' +
      `allowed by name but not described here, as are usage counters and keys under ${EXPERIMENTAL_PREFIX}.`,
    type: 'object',
    properties,
    patternProperties,
    propertyNames: {
      anyOf: [
        { not: { pattern: standardPrefix } },
        { enum: knownNames },
        ...[...knownPatterns, ...OPEN_PREFIXES.map((prefix) => `^${escapeRegExp(prefix)}`)].map(
          (pattern) => ({
            pattern,
          }),
        ),
      ],
    },
  };
}

/** JSON Schema (draft 2020-12) of the flat properties of an offer, generated from the catalog. */
export function offerSchema(): JsonSchema {
  return schemaFor('offer');
}

/** JSON Schema (draft 2020-12) of the flat properties of a demand, generated from the catalog. */
export function demandSchema(): JsonSchema {
  return schemaFor('demand');
}
