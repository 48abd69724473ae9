import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  DateTime,
  Decimal,
  expandProperties,
  type FlatProperties,
  flattenProperties,
  formatFlatProperties,
  isLanguageError,
  parseFlatProperties,
  Version,
} from './helpers.ts';

describe('property sets', () => {
  it('flatten nested and flat-dotted JSON to the same set', () => {
    const nested = flattenProperties({ golem: { inf: { cpu: { threads: 4 } }, runtime: { name: 'vm' } } });
    const flat = flattenProperties({ 'golem.inf.cpu.threads': 4, 'golem.runtime.name': 'vm' });
    const mixed = flattenProperties({
      'golem.inf': { 'cpu.threads': 4 },
      golem: { runtime: { name: 'vm' } },
    });
    assert.deepEqual(nested, flat);
    assert.deepEqual(mixed, flat);
  });

  it('read @tag as the value of the parent node', () => {
    const props = flattenProperties({
      golem: { com: { pricing: { model: { '@tag': 'linear', linear: { coeffs: [0.1, 0] } } } } },
    });
    assert.deepEqual(props, {
      'golem.com.pricing.model': 'linear',
      'golem.com.pricing.model.linear.coeffs': [0.1, 0],
    });
  });

  it('keep null as a value-less property and drop what has no meaning', () => {
    const props = flattenProperties({ a: null, b: {}, c: [{ x: 1 }], d: [1, 'two', true], e: Number.NaN });
    assert.deepEqual(props, { a: null, d: [1, 'two', true] });
  });

  it('expand back to nested JSON with @tag where a name is also a parent', () => {
    const flat = { 'a.b': 1, a: 'x', 'a.c.d': [1, 2], z: true };
    const nested = expandProperties(flat);
    assert.deepEqual(nested, { a: { '@tag': 'x', b: 1, c: { d: [1, 2] } }, z: true });
    assert.deepEqual(flattenProperties(nested), flat);
  });

  it('read the flat textual syntax with every literal type', () => {
    const props = parseFlatProperties(
      [
        'name="a \\"quoted\\" text"',
        'n=-1.5e3',
        'b1=true',
        'b2=FALSE',
        'v=v"1.2.3-beta.1"',
        'd=d"0.000000000000000001"',
        't=t"2024-05-01T10:00:00Z"',
        'list=["x", 2, v"1.0.0"]',
        'empty=[]',
        'bare',
        '# a comment',
        '',
      ].join('\n'),
    );
    assert.equal(props.name, 'a "quoted" text');
    assert.equal(props.n, -1500);
    assert.equal(props.b1, true);
    assert.equal(props.b2, false);
    assert.ok(props.v instanceof Version && props.v.prerelease[0] === 'beta');
    assert.ok(props.d instanceof Decimal && props.d.scale === 18);
    assert.ok(props.t instanceof DateTime && props.t.epochMs === Date.UTC(2024, 4, 1, 10));
    assert.equal((props.list as unknown[]).length, 3);
    assert.deepEqual(props.empty, []);
    assert.equal(props.bare, null);
  });

  it('round-trip the flat textual syntax', () => {
    const text = 'a="x\\ty"\nb=[1,"two",false]\nc=v"2.0.0"\nd=d"1.50"\ne\nf=t"2024-01-01T00:00:00Z"';
    const props = parseFlatProperties(text);
    assert.deepEqual(parseFlatProperties(formatFlatProperties(props)), props);
  });

  it('round-trip random property sets through the flat syntax and through nested JSON', () => {
    const name = fc
      .array(fc.constantFrom('golem', 'inf', 'mem', 'gib', 'a-b', 'x?', 'é', '1'), {
        minLength: 1,
        maxLength: 4,
      })
      .map((parts) => parts.join('.'));
    const scalar = fc.oneof(
      fc.string({ maxLength: 12 }),
      fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => (Object.is(n, -0) ? 0 : n)),
      fc.boolean(),
    );
    const value = fc.oneof(scalar, fc.array(scalar, { maxLength: 3 }), fc.constant(null));
    fc.assert(
      fc.property(fc.dictionary(name, value, { maxKeys: 6 }), (generated) => {
        const props: FlatProperties = { ...generated };
        assert.deepEqual(parseFlatProperties(formatFlatProperties(props)), props);
        // Nested JSON keeps a value that is also a parent under @tag and flattens back to the same set.
        assert.deepEqual(flattenProperties(expandProperties(props)), props);
      }),
      { numRuns: 1000 },
    );
  });

  it('name the line and column of a bad literal', () => {
    assert.throws(
      () => parseFlatProperties('ok=1\nbad=v"not a version"'),
      (e) => isLanguageError(e) && e.details.line === 2 && /version/.test(e.message),
    );
    assert.throws(
      () => parseFlatProperties('x="unterminated'),
      (e) => isLanguageError(e) && /closing/.test(e.message),
    );
    assert.throws(
      () => parseFlatProperties('x=1 2'),
      (e) => isLanguageError(e) && /end of line/.test(e.message),
    );
  });
});
