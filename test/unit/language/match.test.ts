import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createDemandMatcher, flattenProperties, formatExplanation, matchDemandOffer } from './helpers.ts';

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
      result.explanation.demandSide.failing.map((f) => [f.side, f.clause, f.seen]),
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
    assert.equal(result.explanation.offerSide.failing[0]?.property, 'golem.srv.comp.expiration');
    assert.equal(result.explanation.offerSide.failing[0]?.side, 'offer');
    assert.deepEqual(
      result.explanation.offerSide.clauses.map((c) => [c.side, c.clause, c.result]),
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
});
