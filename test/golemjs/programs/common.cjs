// Shared by the golem-js programs of the compatibility suite: the order they rent with (the devnet's image by
// tag, tiny prices) and the one result line the suite reads. CommonJS on purpose: golem-js 3.6.0's ESM build
// cannot download data (golemjs.md §8).
const { GolemNetwork } = require('@golem-sdk/golem-js');

const order = (workload = { imageTag: 'golem/alpine:latest' }) => ({
  demand: { workload },
  market: {
    rentHours: 0.5,
    pricing: { model: 'linear', maxStartPrice: 0.5, maxCpuPerHourPrice: 1.0, maxEnvPerHourPrice: 0.5 },
  },
});

async function main(program) {
  const glm = new GolemNetwork();
  await glm.connect();
  let result;
  try {
    result = await program(glm);
  } finally {
    await glm.disconnect();
  }
  console.log(`RESULT ${JSON.stringify(result)}`);
}

function run(program) {
  main(program).catch((error) => {
    console.error('PROGRAM FAILED', error);
    process.exit(1);
  });
}

module.exports = { order, run };
