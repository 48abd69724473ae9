// manyOf: a pool of three rentals used concurrently, on three different providers.
const { order, run } = require('./common.cjs');

run(async (glm) => {
  const pool = await glm.manyOf({ poolSize: { min: 3, max: 3 }, order: order() });
  const results = await Promise.all(
    [1, 2, 3].map(() =>
      pool.withRental(async (rental) => {
        const exe = await rental.getExeUnit();
        const result = await exe.run('echo from $(hostname)');
        return { provider: exe.provider.id, stdout: result.stdout };
      }),
    ),
  );
  await pool.drainAndClear();
  return {
    providers: [...new Set(results.map((r) => r.provider))].length,
    outputs: results.map((r) => r.stdout),
  };
});
