// scan: the offers of the market matching a specification, without a demand.
const { run } = require('./common.cjs');

run(async (glm) => {
  const spec = glm.market.buildScanSpecification({
    workload: { runtime: { name: 'vm' }, minCpuCores: 1, minMemGib: 0.5 },
    payment: { network: process.env.PAYMENT_NETWORK },
  });
  const offers = [];
  await new Promise((resolve, reject) => {
    const subscription = glm.market.scan(spec).subscribe({
      next: (offer) => offers.push(offer),
      error: reject,
    });
    setTimeout(() => {
      subscription.unsubscribe();
      resolve();
    }, 4000);
  });
  return {
    offers: offers.length,
    providers: [...new Set(offers.map((o) => o.provider.id))].length,
    runtime: offers[0]?.properties['golem.runtime.name'],
  };
});
