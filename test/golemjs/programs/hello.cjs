// Hello world: oneOf + run (golem-js's canonical example).
const { order, run } = require('./common.cjs');

run(async (glm) => {
  const rental = await glm.oneOf({ order: order() });
  const exe = await rental.getExeUnit();
  const result = await exe.run('echo Hello World');
  const provider = exe.provider.id;
  await rental.stopAndFinalize();
  return { stdout: result.stdout, provider };
});
