// The event streams: market, activity and payment events a program sees during one rental.
const { order, run } = require('./common.cjs');

run(async (glm) => {
  const seen = [];
  const listen = (module, names) => {
    for (const name of names) module.events.on(name, () => seen.push(name));
  };
  listen(glm.market, ['agreementApproved', 'agreementTerminated', 'demandSubscriptionStarted']);
  listen(glm.activity, ['activityCreated', 'activityDestroyed']);
  listen(glm.payment, ['allocationCreated', 'invoiceReceived', 'invoiceAccepted']);
  const rental = await glm.oneOf({ order: order() });
  const exe = await rental.getExeUnit();
  await exe.run('true');
  await rental.stopAndFinalize();
  return { events: [...new Set(seen)].sort() };
});
