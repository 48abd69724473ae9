import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type Constraint,
  compileConstraints,
  compilePredicate,
  createShapedCompiler,
  expandProperties,
  type FlatProperties,
  flattenProperties,
  formatConstraint,
  isLanguageError,
  parseConstraints,
  parseFlatProperties,
} from './helpers.ts';

/** One compiler for the file: constraints of one shape share its generated code. */
const compileShaped = createShapedCompiler();

function check(constraints: string, props: FlatProperties | string): string {
  return compileConstraints(constraints).evaluate(
    typeof props === 'string' ? parseFlatProperties(props) : props,
  );
}

/** The AST without source offsets, to compare meanings. */
function strip(node: Constraint): unknown {
  return JSON.parse(
    JSON.stringify(node, (key, value) => (key === 'start' || key === 'end' ? undefined : value)),
  );
}

describe('constraint parser', () => {
  it('accepts the whole grammar, multi-line and indented', () => {
    const text = `(&
      (golem.inf.mem.gib>=0.5)
      (|(golem.runtime.name=vm)(golem.runtime.name=wasm*))
      (!(golem.node.debug.subnet=private))
      (golem.com.payment.platform.erc20-holesky-tglm.address=*)
      (golem.runtime.version$v>=1.0.0)
      (golem.inf.cpu.capabilities[note]=*)
      ()
    )`;
    const root = parseConstraints(text);
    assert.equal(root.kind, 'and');
    assert.equal(root.kind === 'and' && root.items.length, 7);
  });

  it('treats () and an empty text as no constraint', () => {
    assert.equal(check('()', {}), 'true');
    assert.equal(check('', {}), 'true');
    assert.equal(check('  \n ', {}), 'true');
    assert.equal(check('(&)', {}), 'true');
    assert.equal(check('(|)', {}), 'false');
  });

  it('names the position and what was expected', () => {
    const cases: [string, RegExp, number][] = [
      ['(a=1', /"\)"/, 4],
      ['(&(a=1)(b<2)', /"\)"/, 12],
      ['(a=v(1)', /"\)"/, 4],
      ['(a~=1)', /approximate/, 2],
      ['(=1)', /property name/, 1],
      ['(a$x=1)', /type after "\$"/, 3],
      ['(a=1)(b=2)', /end of constraint/, 5],
      ['(a>1*)', /wildcards only/, 2],
      ['a=1', /"\("/, 0],
    ];
    for (const [text, message, position] of cases) {
      assert.throws(
        () => parseConstraints(text),
        (e) => isLanguageError(e) && message.test(e.message) && e.details.position === position,
        text,
      );
    }
  });

  it('accepts what Golem accepts at the edges: empty values, a typed reference before =*', () => {
    assert.equal(check('(a=)', { a: '' }), 'true');
    assert.equal(check('(a=)', { a: 'x' }), 'false');
    assert.equal(check('(a=)', { a: 1 }), 'false');
    assert.equal(check('(a$v=*)', { a: 'not a version' }), 'true');
    assert.equal(check('(a$v=*)', {}), 'false');
  });

  it('formats an AST back to text that parses to the same meaning, and compiles hand-built ASTs', () => {
    const text = '(&\n  (a$v>=1.0.0)\n  (|(b=wasm*)(!(c=*)))\n  (d[x]=*)\n  (e=lit\\*star\\))\n  ()\n)';
    const root = parseConstraints(text);
    const canonical = formatConstraint(root);
    assert.equal(canonical, '(&(a$v>=1.0.0)(|(b=wasm*)(!(c=*)))(d[x]=*)(e=lit\\*star\\))())');
    assert.deepEqual(strip(parseConstraints(canonical)), strip(root));
    const handBuilt: Constraint = {
      kind: 'compare',
      name: 'golem.inf.mem.gib',
      aspect: undefined,
      cast: undefined,
      op: '>=',
      value: '4',
      wildcards: [],
      start: 0,
      end: 0,
    };
    const compiled = compileConstraints(handBuilt);
    assert.equal(compiled.source, '(golem.inf.mem.gib>=4)');
    assert.equal(compiled.evaluate({ 'golem.inf.mem.gib': 8 }), 'true');
    assert.equal(compiled.explain({ 'golem.inf.mem.gib': 2 })[0]?.clause, '(golem.inf.mem.gib>=4)');
  });

  it('refuses nesting deeper than its limit instead of overflowing the stack', () => {
    const deep = `${'(!'.repeat(5000)}(a=1)${')'.repeat(5000)}`;
    assert.throws(
      () => parseConstraints(deep),
      (e) => isLanguageError(e) && /nesting/.test(e.message),
    );
  });
});

describe('evaluation (three-valued)', () => {
  it('compares in the type of the property', () => {
    assert.equal(check('(n>=2)', 'n=3'), 'true');
    assert.equal(check('(n=3)', 'n=3.0'), 'true');
    assert.equal(check('(n<abc)', 'n=3'), 'false');
    assert.equal(check('(s=abc)', 's="abc"'), 'true');
    assert.equal(check('(s<abd)', 's="abc"'), 'true');
    assert.equal(check('(s=3)', 's="3.0"'), 'false');
    assert.equal(check('(b=true)', 'b=true'), 'true');
    assert.equal(check('(b=True)', 'b=true'), 'false');
    assert.equal(check('(b>false)', 'b=true'), 'false');
    assert.equal(check('(v>1.2.3)', 'v=v"1.10.0"'), 'true');
    assert.equal(check('(v<1.0.0)', 'v=v"1.0.0-rc.1"'), 'true');
    assert.equal(check('(d=0.30)', 'd=d"0.3"'), 'true');
    assert.equal(check('(d>0.1)', 'd=d"0.10000000000000000001"'), 'true');
    assert.equal(check('(t<2024-06-01T00:00:00Z)', 't=t"2024-05-01T10:00:00+02:00"'), 'true');
  });

  it('matches wildcards literally apart from *', () => {
    assert.equal(check('(s=wasm*)', 's="wasmtime"'), 'true');
    assert.equal(check('(s=*time)', 's="wasmtime"'), 'true');
    assert.equal(check('(s=w*m*e)', 's="wasmtime"'), 'true');
    assert.equal(check('(s=a.c*)', 's="abcd"'), 'false');
    assert.equal(check('(s=a.c*)', 's="a.cd"'), 'true');
    assert.equal(check('(s=a\\*b)', 's="a*b"'), 'true');
    assert.equal(check('(s=a\\*b)', 's="axxb"'), 'false');
    assert.equal(check('(s=ab*ab)', 's="ab"'), 'false');
  });

  it('reads lists: contains one value, or equals a listed set', () => {
    assert.equal(check('(l=vm)', 'l=["wasm","vm"]'), 'true');
    assert.equal(check('(l=v*)', 'l=["wasm","vm"]'), 'true');
    assert.equal(check('(l=[vm,wasm])', 'l=["wasm","vm"]'), 'true');
    assert.equal(check('(l=[vm])', 'l=["wasm","vm"]'), 'false');
    assert.equal(check('(l=3)', 'l=[1,2,3]'), 'true');
    assert.equal(check('(l>1)', 'l=[1,2,3]'), 'false');
  });

  it('is undefined for missing and value-less properties; presence is never undefined', () => {
    assert.equal(check('(x=1)', {}), 'undefined');
    assert.equal(check('(x=1)', 'x'), 'undefined');
    assert.equal(check('(x=*)', 'x'), 'true');
    assert.equal(check('(x=*)', {}), 'false');
    assert.equal(check('(!(x=1))', {}), 'undefined');
    assert.equal(check('(|(!(x=*))(!(x=1)))', {}), 'true');
  });

  it('combines with three-valued AND, OR and NOT', () => {
    assert.equal(check('(&(x=1)(y=1))', 'y=2'), 'false');
    assert.equal(check('(&(x=1)(y=1))', 'y=1'), 'undefined');
    assert.equal(check('(|(x=1)(y=1))', 'y=1'), 'true');
    assert.equal(check('(|(x=1)(y=1))', 'y=2'), 'undefined');
    assert.equal(check('(!(y=1))', 'y=2'), 'true');
  });

  it('casts string properties with $v $d $t and is undefined when the cast fails', () => {
    assert.equal(check('(v$v>=1.2.0)', 'v="1.10.0"'), 'true');
    assert.equal(check('(v>=1.2.0)', 'v="1.10.0"'), 'false');
    assert.equal(check('(d$d=1.0)', 'd="1.00"'), 'true');
    assert.equal(check('(d$d=1.0)', 'd=1'), 'true');
    assert.equal(check('(t$t>2020-01-01T00:00:00Z)', 't="2024-01-01T00:00:00Z"'), 'true');
    assert.equal(check('(v$v>=1.0.0)', 'v="not a version"'), 'undefined');
  });

  it('explains each clause with the value it saw', () => {
    const compiled = compileConstraints('(&(golem.inf.mem.gib>=4)(golem.runtime.name=vm)(golem.x=1))');
    const props = parseFlatProperties('golem.inf.mem.gib=2\ngolem.runtime.name="vm"');
    const failing = compiled.failing(props);
    assert.deepEqual(
      failing.map((r) => [r.clause, r.result, r.seen]),
      [
        ['(golem.inf.mem.gib>=4)', 'false', 2],
        ['(golem.x=1)', 'undefined', undefined],
      ],
    );
    assert.equal(compiled.explain(props).length, 3);
  });

  it('never sees what every JavaScript object inherits (constructor, toString, __proto__)', () => {
    for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      assert.equal(check(`(${name}=*)`, {}), 'false', name);
      assert.equal(check(`(${name}=x)`, {}), 'undefined', name);
      assert.equal(compilePredicate(`(${name}=*)`)({}), 0, name);
      const shaped = compileShaped(`(${name}=x)`);
      assert.equal(shaped.shape({}, shaped.values), 2, name);
      const own = parseFlatProperties(`${name}="x"`);
      assert.equal(check(`(${name}=x)`, own), 'true', name);
      assert.deepEqual(flattenProperties(expandProperties(own)), own);
      assert.equal(
        check(`(&(${name}.a=1)(${name}=*))`, flattenProperties(JSON.parse(`{"${name}":{"a":1}}`))),
        'false',
      );
    }
  });

  it('explains a compound clause with each comparison inside it', () => {
    const compiled = compileConstraints(
      '(&(golem.inf.mem.gib>=1)\n  (|(golem.runtime.name=vm)\n    (golem.runtime.name=wasm*)))',
    );
    const [memory, runtime] = compiled.explain({ 'golem.inf.mem.gib': 2, 'golem.runtime.name': 'docker' });
    assert.equal(memory?.clauses, undefined);
    assert.deepEqual(
      [runtime?.clause, runtime?.result, runtime?.property, runtime?.seen],
      ['(|(golem.runtime.name=vm) (golem.runtime.name=wasm*))', 'false', 'golem.runtime.name', 'docker'],
    );
    assert.deepEqual(
      runtime?.clauses?.map((c) => [c.clause, c.result]),
      [
        ['(golem.runtime.name=vm)', 'false'],
        ['(golem.runtime.name=wasm*)', 'false'],
      ],
    );
  });
});
