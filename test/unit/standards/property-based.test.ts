import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { FlatProperties, PropertyValue } from '../../../src/language/index.ts';
import {
  catalog,
  demandSchema,
  type JsonSchema,
  offerSchema,
  unconfirmedNegotiables,
  validateProperties,
} from '../../../src/standards/index.ts';

/** Just enough of a JSON Schema checker to ask "does the schema accept this key's value / this key's name". */
function accepts(schema: JsonSchema, value: unknown): boolean {
  if (schema.type !== undefined) {
    const allowed = Array.isArray(schema.type) ? (schema.type as string[]) : [schema.type as string];
    const kinds =
      value === null
        ? ['null']
        : Array.isArray(value)
          ? ['array']
          : typeof value === 'number'
            ? Number.isInteger(value)
              ? ['number', 'integer']
              : ['number']
            : [typeof value];
    if (!kinds.some((kind) => allowed.includes(kind))) return false;
  }
  if (Array.isArray(schema.enum) && !schema.enum.includes(value)) return false;
  if (
    typeof schema.pattern === 'string' &&
    typeof value === 'string' &&
    !new RegExp(schema.pattern, 'u').test(value)
  )
    return false;
  if (typeof schema.minimum === 'number' && typeof value === 'number' && value < schema.minimum) return false;
  if (
    schema.items !== undefined &&
    Array.isArray(value) &&
    !value.every((item) => accepts(schema.items as JsonSchema, item))
  )
    return false;
  if (Array.isArray(schema.anyOf) && !(schema.anyOf as JsonSchema[]).some((sub) => accepts(sub, value)))
    return false;
  if (schema.not !== undefined && accepts(schema.not as JsonSchema, value)) return false;
  return true;
}

function schemaAcceptsKey(schema: JsonSchema, key: string, value: unknown): boolean {
  if (!accepts(schema.propertyNames as JsonSchema, key)) return false;
  const properties = schema.properties as Record<string, JsonSchema>;
  if (Object.hasOwn(properties, key) && !accepts(properties[key]!, value)) return false;
  for (const [pattern, sub] of Object.entries(schema.patternProperties as Record<string, JsonSchema>))
    if (new RegExp(pattern, 'u').test(key) && !accepts(sub, value)) return false;
  return true;
}

/** Random values, weighted towards the edge cases of the catalog's types and formats. */
const scalar = fc.oneof(
  fc.string({ maxLength: 6 }),
  {
    arbitrary: fc.constantFrom(
      '3',
      ' 3',
      '0.5.2',
      'v1.2',
      ' 1.0 ',
      '1.0-rc.1',
      'linear',
      'payu',
      'mainnet',
      'PL',
      'pl',
    ),
    weight: 6,
  },
  fc.constant('0x1e0a7dd6b7a7f4a1b3e9a4f0e3c3f1d0c3b2a190'),
  fc.integer({ min: -5, max: 2_000_000_000_000 }),
  fc.double({ noNaN: true, noDefaultInfinity: true, min: -10, max: 10 }),
  fc.boolean(),
);
const jsonValue = fc.oneof(scalar, fc.array(scalar, { maxLength: 3 }));

const properties = catalog.filter((p) => !p.counter);
const keyOf = fc.oneof(
  {
    arbitrary: fc.constantFrom(...properties.map((p) => p.key.replace('<platform>', 'erc20-polygon-glm'))),
    weight: 4,
  },
  fc.constantFrom(
    'golem.inf.cpu.speed',
    'golem.flavour',
    'golem.!exp.x',
    'golem.runtime.http-auth.a',
    'my.key',
  ),
  fc.string({ maxLength: 12 }).map((tail) => `golem.inf.${tail}`),
);

describe('standards: properties over random input', () => {
  it('validation never throws, and an error on a key means the schema of either side rejects it', () => {
    fc.assert(
      fc.property(
        keyOf,
        jsonValue,
        fc.constantFrom<'offer' | 'demand'>('offer', 'demand'),
        (key, value, side) => {
          const props: FlatProperties = {};
          Object.defineProperty(props, key, { value, enumerable: true, writable: true, configurable: true });
          const issues = validateProperties(props, { side });
          for (const issue of issues) {
            assert.ok(issue.code.startsWith('STANDARDS_') && issue.message.length > 0);
            assert.ok(issue.severity === 'error' || issue.severity === 'warning');
          }
          const hasError = issues.some((issue) => issue.severity === 'error');
          const schema = side === 'offer' ? offerSchema() : demandSchema();
          const otherSchema = side === 'offer' ? demandSchema() : offerSchema();
          // A key of the other side is described by the other side's schema: check against the union.
          const accepted = schemaAcceptsKey(schema, key, value) && schemaAcceptsKey(otherSchema, key, value);
          assert.equal(accepted, !hasError, `${key}=${JSON.stringify(value)}: ${JSON.stringify(issues)}`);
        },
      ),
      { numRuns: 10000 },
    );
  });

  it('a counter-proposal that copies the proposal confirms everything; dropping a negotiable unconfirms exactly it', () => {
    const negotiableKeys = catalog.filter((p) => p.negotiable).map((p) => p.key);
    fc.assert(
      fc.property(
        fc.dictionary(
          fc.constantFrom(...negotiableKeys, 'golem.inf.mem.gib', 'x.y?'),
          jsonValue as fc.Arbitrary<PropertyValue>,
        ),
        (proposal) => {
          assert.deepEqual(unconfirmedNegotiables(proposal, { ...proposal }), []);
          const negotiables = Object.keys(proposal).filter((key) => key.endsWith('?'));
          for (const dropped of negotiables) {
            const counter = { ...proposal };
            delete counter[dropped];
            assert.deepEqual(
              unconfirmedNegotiables(proposal, counter).map((u) => [u.key, u.reason]),
              [[dropped, 'absent']],
            );
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
