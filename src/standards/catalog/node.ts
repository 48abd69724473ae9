import { type StandardProperty, t } from '../types.ts';

const ns = '1-node' as const;

export const node: StandardProperty[] = [
  {
    key: 'golem.node.id.name',
    type: t.string(),
    negotiable: false,
    side: 'both',
    namespace: ns,
    meaning: 'Display name of the node or its owner',
  },
  {
    key: 'golem.node.debug.subnet',
    type: t.string(),
    negotiable: false,
    side: 'both',
    namespace: ns,
    meaning: 'Market subnet for tests; pair it with a constraint on the same property',
    example: 'public',
  },
  {
    key: 'golem.node.net.is-public',
    type: t.boolean(),
    negotiable: false,
    side: 'both',
    namespace: ns,
    meaning: 'The node has publicly reachable ports',
  },
  {
    key: 'golem.node.geo.country_code',
    type: t.string(),
    negotiable: false,
    side: 'both',
    namespace: ns,
    meaning: 'Country of the node, ISO 3166-1 alpha-2',
  },
];
