/** Offers and demands shaped like the ones Golem's own software sends (see the reference digests). */

/** A yagna VM provider offer as the provider agent publishes it: nested JSON, flattened by the market. */
export const vmOfferJson = {
  golem: {
    activity: {
      caps: {
        deploy: { 'report-progress': true },
        transfer: { protocol: ['gftp', 'https', 'http'], 'report-progress': true },
      },
    },
    com: {
      payment: {
        'debit-notes': { 'accept-timeout?': 240 },
        platform: { 'erc20-polygon-glm': { address: '0x1e0a7dd6b7a7f4a1b3e9a4f0e3c3f1d0c3b2a190' } },
        protocol: { version: 3 },
      },
      pricing: { model: { '@tag': 'linear', linear: { coeffs: [6.9e-6, 1.4e-6, 0.0] } } },
      scheme: {
        '@tag': 'payu',
        payu: { 'debit-note': { 'interval-sec?': 120 }, 'payment-timeout-sec?': 120 },
      },
      usage: { vector: ['golem.usage.cpu_sec', 'golem.usage.duration_sec'] },
    },
    inf: {
      cpu: {
        architecture: 'x86_64',
        brand: 'Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz',
        capabilities: ['sse3', 'avx', 'avx2'],
        cores: 4,
        model: 'Stepping 7 Family 6 Model 85',
        threads: 3,
        vendor: 'GenuineIntel',
      },
      mem: { gib: 10.9 },
      storage: { gib: 73.5 },
    },
    node: { debug: { subnet: 'public' }, id: { name: 'my-node' }, net: { 'is-public': false } },
    runtime: {
      capabilities: ['inet', 'vpn', 'manifest-support', 'start-entrypoint'],
      name: 'vm',
      version: '0.5.2',
    },
    srv: { caps: { 'multi-activity': true, 'payload-manifest': true } },
  },
};

/** The demand golem-js posts for a VM image (flat keys; the protocol version is the string "3"). */
export const golemJsDemandJson = {
  'golem.srv.caps.multi-activity': true,
  'golem.node.debug.subnet': 'public',
  'golem.srv.comp.expiration': 1795348194183,
  'golem.srv.comp.vm.package_format': 'gvmkit-squash',
  'golem.srv.comp.task_package':
    'hash:sha3:72407bd5c5b2fbd0dc5b2d5b0a3b1a9e8f7d6c5b4a39281706f5e4d3:http://127.0.0.1:7465/download/72407bd5',
  'golem.com.scheme.payu.debit-note.interval-sec?': 120,
  'golem.com.scheme.payu.payment-timeout-sec?': 43200,
  'golem.com.payment.debit-notes.accept-timeout?': 120,
  'golem.com.payment.platform.erc20-holesky-tglm.address': '0x5b9e2f3c4a1d0e6f7a8b9c0d1e2f3a4b5c6d7e8f',
  'golem.com.payment.protocol.version': '3',
};

/** golem-js's counter-proposal: the demand plus the platform it chose. */
export const golemJsCounterJson = {
  ...golemJsDemandJson,
  'golem.com.payment.chosen-platform': 'erc20-holesky-tglm',
};
