import { type StandardProperty, t } from '../types.ts';

const ns = 'usage' as const;

/** Usage counters: names that appear in `golem.com.usage.vector` and in ExeUnit usage reports. */
export const usage: StandardProperty[] = [
  {
    key: 'golem.usage.duration-sec',
    type: t.number(),
    negotiable: false,
    side: 'offer',
    namespace: ns,
    unit: 's',
    meaning: 'Wall-clock time of the activity',
  },
  {
    key: 'golem.usage.cpu-sec',
    type: t.number(),
    negotiable: false,
    side: 'offer',
    namespace: ns,
    unit: 's',
    meaning: 'CPU time used',
  },
  {
    key: 'golem.usage.gib',
    type: t.number(),
    negotiable: false,
    side: 'offer',
    namespace: ns,
    unit: 'GiB',
    meaning: 'Highest memory use',
  },
  {
    key: 'golem.usage.storage-gib',
    type: t.number(),
    negotiable: false,
    side: 'offer',
    namespace: ns,
    unit: 'GiB',
    meaning: 'Storage used',
  },
  {
    key: 'golem.usage.network.in-mib',
    type: t.number(),
    negotiable: false,
    side: 'offer',
    namespace: ns,
    unit: 'MiB',
    meaning: 'Network traffic received (outbound gateway)',
  },
  {
    key: 'golem.usage.network.out-mib',
    type: t.number(),
    negotiable: false,
    side: 'offer',
    namespace: ns,
    unit: 'MiB',
    meaning: 'Network traffic sent (outbound gateway)',
  },
  {
    key: 'golem.usage.duration_sec',
    type: t.number(),
    negotiable: false,
    side: 'offer',
    namespace: ns,
    unit: 's',
    meaning: 'Old name of the wall-clock counter',
    deprecated: { replacement: 'golem.usage.duration-sec' },
  },
  {
    key: 'golem.usage.cpu_sec',
    type: t.number(),
    negotiable: false,
    side: 'offer',
    namespace: ns,
    unit: 's',
    meaning: 'Old name of the CPU time counter',
    deprecated: { replacement: 'golem.usage.cpu-sec' },
  },
  {
    key: 'golem.usage.storage_gib',
    type: t.number(),
    negotiable: false,
    side: 'offer',
    namespace: ns,
    unit: 'GiB',
    meaning: 'Old name of the storage counter',
    deprecated: { replacement: 'golem.usage.storage-gib' },
  },
];

/** Names a usage vector may list (current and deprecated). */
export const USAGE_COUNTERS: ReadonlySet<string> = new Set([
  ...usage.map((p) => p.key),
  'http-auth.requests',
]);
