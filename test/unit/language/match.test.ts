import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  compileConstraints,
  createDemandMatcher,
  createShapedCompiler,
  flattenProperties,
  formatExplanation,
  matchDemandOffer,
  OfferConstraintCache,
  parseFlatProperties,
  prepareOffer,
  TRISTATE,
} from './helpers.ts';

/** One compiler for the file: constraints of one shape share its generated code. */
const compileShaped = createShapedCompiler();

const demand = {
  properties: {
    golem: { node: { debug: { subnet: 'public' } }, srv: { comp: { expiration: 1714557600000 } } },
  },
  constraints: '(&(golem.runtime.name=vm)(golem.inf.mem.gib>=1)(golem.node.debug.subnet=public))',
};
const offer = {
  properties: { 'golem.runtime.name': 'vm', 'golem.inf.mem.gib': 4, 'golem.node.debug.subnet': 'public' },
  constraints: '(&(golem.srv.comp.expiration>0)(golem.node.debug.subnet=public))',
};

describe('two-way matching', () => {
  it('is yes only when both sides are true', () => {
    assert.equal(matchDemandOffer(demand, offer).result, 'yes');
  });

  it('is no when either side is false, and names the clause, the side and the value', () => {
    const small = { ...offer, properties: { ...offer.properties, 'golem.inf.mem.gib': 0.5 } };
    const result = matchDemandOffer(demand, small);
    assert.equal(result.result, 'no');
    assert.deepEqual(
      result.explanation.demandSide.filter((r) => r.result !== 'true').map((f) => [f.side, f.clause, f.seen]),
      [['demand', '(golem.inf.mem.gib>=1)', 0.5]],
    );
    assert.match(
      formatExplanation(result),
      /fails {5}\(golem\.inf\.mem\.gib>=1\): golem\.inf\.mem\.gib is 0\.5/,
    );
  });

  it('is undefined when a side cannot decide, and says which property is missing', () => {
    const noExpiration = { ...demand, properties: { golem: { node: { debug: { subnet: 'public' } } } } };
    const result = matchDemandOffer(noExpiration, offer);
    assert.equal(result.result, 'undefined');
    assert.equal(result.explanation.offerSide[0]?.property, 'golem.srv.comp.expiration');
    assert.deepEqual(
      result.explanation.offerSide.map((c) => [c.side, c.clause, c.result]),
      [
        ['offer', '(golem.srv.comp.expiration>0)', 'undefined'],
        ['offer', '(golem.node.debug.subnet=public)', 'true'],
      ],
    );
    assert.match(formatExplanation(result), /golem\.srv\.comp\.expiration is absent/);
  });

  it('gives the same answers through the fast matcher', () => {
    const match = createDemandMatcher(demand);
    const variants = [
      offer,
      { ...offer, properties: { ...offer.properties, 'golem.inf.mem.gib': 0.5 } },
      { ...offer, constraints: '(golem.srv.comp.expiration<0)' },
      { ...offer, constraints: '(golem.unknown=1)' },
    ];
    for (const variant of variants) {
      const flat = { properties: flattenProperties(variant.properties), constraints: variant.constraints };
      assert.equal(match(flat), matchDemandOffer(demand, variant).result);
    }
  });

  it('prepared offers (compiled once, shared code per shape) match exactly as the general path', () => {
    const match = createDemandMatcher(demand);
    const shapes = [
      '(&(golem.srv.comp.expiration>0)(golem.node.debug.subnet=public))',
      '(&(golem.srv.comp.expiration>99999999999999)(golem.node.debug.subnet=public))',
      '(&(golem.srv.comp.expiration>0)(golem.node.debug.subnet=devnet))',
      '(golem.node.debug.subnet=pub*)',
      '(golem.srv.comp.expiration$d>=1714557600000.0)',
      '(golem.missing=1)',
      '(|(golem.missing=1)(!(golem.node.debug.subnet=*)))',
    ];
    for (const constraints of shapes) {
      const side = { ...offer, constraints };
      assert.equal(
        match(prepareOffer(side, new OfferConstraintCache())),
        matchDemandOffer(demand, side).result,
        constraints,
      );
      assert.equal(
        match({ properties: flattenProperties(side.properties), constraints }),
        matchDemandOffer(demand, side).result,
        constraints,
      );
    }
  });

  it('a shape compiled once serves constraints with other values, including the rare comparisons', () => {
    const props = parseFlatProperties(
      'v=v"1.4.0"\ns="1.2.10"\nlist=["inet","vpn"]\nn=4\nd=d"0.25"\nname="wasmtime"\nb=true',
    );
    const texts = [
      '(v>=1.2.0)',
      '(v>=2.0.0)',
      '(s$v>1.2.9)',
      '(s$v>1.3)',
      '(s>1.3)',
      '(list=vpn)',
      '(list=gpu)',
      '(list=[vpn,inet])',
      '(n>=4)',
      '(n>=x)',
      '(n=4.0)',
      '(d<0.3)',
      '(d<0.2)',
      '(name=wasm*)',
      '(name=vm*)',
      '(b=true)',
      '(b=True)',
    ];
    const first = compileShaped(texts[0]!).shape;
    for (const text of texts) {
      const shaped = compileShaped(text);
      if (text.startsWith('(v>=')) assert.equal(shaped.shape, first, 'same shape, same code');
      assert.equal(
        TRISTATE[shaped.shape(props, shaped.values)],
        compileConstraints(text).evaluate(props),
        text,
      );
    }
  });

  it('answers "why does no provider match me?" in plain text, down to the comparisons inside a clause', () => {
    const picky = {
      ...demand,
      constraints: '(&(golem.inf.mem.gib>=1)(|(golem.runtime.name=wasmtime)(golem.inf.cpu.threads>=8)))',
    };
    const result = matchDemandOffer(picky, offer);
    assert.equal(result.result, 'undefined');
    assert.equal(
      formatExplanation(result),
      [
        "demand constraints over the offer's properties: undefined",
        '  undecided (|(golem.runtime.name=wasmtime)(golem.inf.cpu.threads>=8))',
        '      fails     (golem.runtime.name=wasmtime): golem.runtime.name is "vm"',
        '      undecided (golem.inf.cpu.threads>=8): golem.inf.cpu.threads is absent',
        "offer constraints over the demand's properties: true",
      ].join('\n'),
    );
  });
});
