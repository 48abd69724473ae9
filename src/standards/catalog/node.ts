import { t } from '../types.ts';
import { defineGroup } from './define.ts';

/** 1-node: who the node is and where it is. */
export const node = defineGroup('1-node', [
  {
    key: 'golem.node.id.name',
    type: t.string(),
    side: 'both',
    source: '1-node/node/id.md',
    meaning: 'Display name of the node or of the party that runs it',
    example: 'provider-1',
  },
  {
    key: 'golem.node.debug.subnet',
    type: t.string(),
    side: 'both',
    source: 'cheat_sheet.md (1-node)',
    meaning: 'Market subnet tag; a node matches only nodes whose constraint names the same tag',
    note: 'it isolates nothing by itself: each side must also constrain on it',
    example: 'public',
  },
  {
    key: 'golem.node.net.is-public',
    type: t.boolean(),
    side: 'both',
    source: 'cheat_sheet.md (1-node)',
    meaning: 'The node has publicly reachable ports and can take direct connections',
  },
  {
    key: 'golem.node.geo.country_code',
    type: t.string('^[A-Z]{2}$'),
    side: 'both',
    source: '1-node/node/geo.md',
    meaning: 'Country the node is in, as an ISO 3166-1 alpha-2 code',
    note: 'marked unused in the standard',
    example: 'PL',
  },
]);
