import { t } from '../types.ts';
import { defineGroup } from './define.ts';

const comp = '2-service/srv/comp.md';
const manifest = 'golem-js / yagna computation payload manifest (GAP-4, GAP-5)';

/** 2-service: service capabilities (`golem.srv.caps.*`) and the computation platform (`golem.srv.comp.*`). */
export const service = defineGroup('2-service', [
  {
    key: 'golem.srv.caps.multi-activity',
    type: t.boolean(),
    side: 'both',
    source: '2-service/srv/caps.md',
    meaning: 'One agreement may run several activities, one after another or at once',
  },
  {
    key: 'golem.srv.caps.payload-manifest',
    type: t.boolean(),
    side: 'offer',
    source: 'yagna provider agent',
    status: 'de-facto',
    meaning: 'The provider understands signed computation payload manifests',
  },
  {
    key: 'golem.srv.comp.expiration',
    type: t.integer(0),
    side: 'demand',
    source: comp,
    unit: 'ms since 1970-01-01 UTC',
    meaning: 'When the negotiated agreement expires; absent asks for a perpetual agreement',
    note: 'the standard says int32, which cannot hold a millisecond timestamp; read as a 64-bit integer. Yagna providers refuse demands without it',
    example: 1714557600000,
  },
  {
    key: 'golem.srv.comp.task_package',
    type: t.string(),
    side: 'demand',
    source: comp,
    meaning: 'Package the provider runs, usually hash:sha3:<hex>:<url>; each platform defines its reading',
    example: 'hash:sha3:44ab…035b:http://registry.example/app.gvmi',
  },
  {
    key: 'golem.srv.comp.vm.package_format',
    type: t.string(),
    side: 'demand',
    source: 'cheat_sheet.md (2-service)',
    meaning: 'Image format of a VM payload',
    knownValues: ['gvmkit-squash'],
    example: 'gvmkit-squash',
  },
  {
    key: 'golem.srv.comp.wasm.wasi.version',
    type: t.version(),
    side: 'offer',
    source: '2-service/srv/comp/wasm.md',
    meaning: 'WASI interface version the WebAssembly runtime implements',
    example: '0.1.0',
  },
  {
    key: 'golem.srv.comp.payload',
    type: t.string(),
    side: 'demand',
    source: manifest,
    status: 'de-facto',
    meaning: 'Computation payload manifest: base64 of its JSON',
  },
  {
    key: 'golem.srv.comp.payload.sig',
    type: t.string(),
    side: 'demand',
    source: manifest,
    status: 'de-facto',
    meaning: 'Signature over the manifest, base64',
  },
  {
    key: 'golem.srv.comp.payload.sig.algorithm',
    type: t.string(),
    side: 'demand',
    source: manifest,
    status: 'de-facto',
    meaning: 'Hash algorithm the manifest signature uses',
    example: 'sha256',
  },
  {
    key: 'golem.srv.comp.payload.cert',
    type: t.string(),
    side: 'demand',
    source: manifest,
    status: 'de-facto',
    meaning: 'Certificate of the manifest signer, base64 PEM',
  },
  {
    key: 'golem.srv.app.eth.network',
    type: t.enum('mainnet', 'rinkeby', 'goerli', 'kovan', 'ropsten'),
    side: 'demand',
    source: '2-service/srv/app/eth.md',
    meaning: 'Ethereum network an Ethereum-node service should join',
    note: 'an example namespace of the standard; the testnets it lists are shut down',
  },
]);
