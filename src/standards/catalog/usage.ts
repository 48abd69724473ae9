import { t } from '../types.ts';
import { defineGroup } from './define.ts';

const usageDoc = '3-commercial/com/usage.md';
const compatibility =
  'golem-js prices offers by looking up exactly this name in the usage vector, and yagna providers still list it';

/**
 * Usage counters: the names `golem.com.usage.vector` lists and ExeUnits report values for. They are not property
 * keys of an offer or a demand.
 */
export const usage = defineGroup('3-commercial', [
  {
    key: 'golem.usage.duration-sec',
    type: t.number(),
    side: 'offer',
    counter: true,
    source: usageDoc,
    unit: 's',
    meaning: 'Wall-clock time since the activity started',
  },
  {
    key: 'golem.usage.cpu-sec',
    type: t.number(),
    side: 'offer',
    counter: true,
    source: usageDoc,
    unit: 's',
    meaning: 'CPU time the activity used',
  },
  {
    key: 'golem.usage.gib',
    type: t.number(),
    side: 'offer',
    counter: true,
    source: usageDoc,
    unit: 'GiB',
    meaning: 'Highest memory use during the activity',
  },
  {
    key: 'golem.usage.storage-gib',
    type: t.number(),
    side: 'offer',
    counter: true,
    source: usageDoc,
    unit: 'GiB',
    meaning: 'Highest disk use during the activity',
  },
  {
    key: 'golem.usage.duration_sec',
    type: t.number(),
    side: 'offer',
    counter: true,
    source: usageDoc,
    unit: 's',
    meaning: 'Older name of the wall-clock counter',
    deprecated: { replacement: 'golem.usage.duration-sec', note: compatibility },
  },
  {
    key: 'golem.usage.cpu_sec',
    type: t.number(),
    side: 'offer',
    counter: true,
    source: usageDoc,
    unit: 's',
    meaning: 'Older name of the CPU time counter',
    deprecated: { replacement: 'golem.usage.cpu-sec', note: compatibility },
  },
  {
    key: 'golem.usage.storage_gib',
    type: t.number(),
    side: 'offer',
    counter: true,
    source: usageDoc,
    unit: 'GiB',
    meaning: 'Older name of the disk use counter',
    deprecated: { replacement: 'golem.usage.storage-gib' },
  },
  {
    key: 'golem.usage.network.in-mib',
    type: t.number(),
    side: 'offer',
    counter: true,
    source: `${usageDoc} (ya-runtime-outbound-gateway)`,
    unit: 'MiB',
    meaning: 'Traffic received through the outbound gateway',
  },
  {
    key: 'golem.usage.network.out-mib',
    type: t.number(),
    side: 'offer',
    counter: true,
    source: `${usageDoc} (ya-runtime-outbound-gateway)`,
    unit: 'MiB',
    meaning: 'Traffic sent through the outbound gateway',
  },
  {
    key: 'http-auth.requests',
    type: t.integer(0),
    side: 'offer',
    counter: true,
    source: `${usageDoc} (ya-runtime-http-auth)`,
    meaning: 'Requests served by the proxied HTTP service',
  },
  {
    key: 'golem.usage.gpu-sec',
    type: t.number(),
    side: 'offer',
    counter: true,
    source: 'ya-runtime-ai',
    status: 'de-facto',
    unit: 's',
    meaning: 'Time spent serving requests on the GPU',
  },
  {
    key: 'ai-runtime.requests',
    type: t.integer(0),
    side: 'offer',
    counter: true,
    source: 'ya-runtime-ai',
    status: 'de-facto',
    meaning: 'Requests served by the AI runtime',
  },
]);
