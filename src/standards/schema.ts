import { catalog } from './catalog/index.ts';
import type { StandardProperty, ValueType } from './types.ts';

type JsonSchema = Record<string, unknown>;

function typeSchema(type: ValueType): JsonSchema {
  switch (type.kind) {
    case 'string':
      return type.values === undefined ? { type: 'string' } : { type: 'string', enum: [...type.values] };
    case 'number':
      return { type: type.integer ? 'integer' : 'number' };
    case 'boolean':
      return { type: 'boolean' };
    case 'version':
      return { type: 'string', pattern: '^v?\\d+(\\.\\d+){0,2}(-[0-9A-Za-z.-]+)?(\\+[0-9A-Za-z.-]+)?$' };
    case 'datetime':
      return { type: 'string', format: 'date-time' };
    case 'decimal':
      return { type: ['string', 'number'] };
    case 'list':
      return { type: 'array', items: typeSchema(type.of) };
  }
}

function propertySchema(property: StandardProperty): JsonSchema {
  const schema: JsonSchema = { ...typeSchema(property.type), description: property.meaning };
  if (property.deprecated !== undefined) schema.deprecated = true;
  return schema;
}

function patternOf(key: string): string {
  return `^${key
    .split('.')
    .map((segment) => (segment.startsWith('<') ? '[^.]+' : segment.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&')))
    .join('\\.')}$`;
}

function schemaFor(side: 'offer' | 'demand'): JsonSchema {
  const properties: Record<string, JsonSchema> = {};
  const patternProperties: Record<string, JsonSchema> = {};
  for (const property of catalog) {
    if (property.side !== 'both' && property.side !== side) continue;
    if (property.key.includes('<')) patternProperties[patternOf(property.key)] = propertySchema(property);
    else properties[property.key] = propertySchema(property);
  }
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: `https://golem-ts.invalid/standards/${side}.schema.json`,
    title: `Golem Standards: ${side} properties (flat form)`,
    type: 'object',
    properties,
    patternProperties,
    additionalProperties: true,
  };
}

/** JSON Schema of the flat properties of an offer. */
export function offerSchema(): JsonSchema {
  return schemaFor('offer');
}

/** JSON Schema of the flat properties of a demand. */
export function demandSchema(): JsonSchema {
  return schemaFor('demand');
}
