// An image by imageUrl: file://… — golem-js serves the file to the provider over GFTP itself (no registry).
const { order, run } = require('./common.cjs');

run(async (glm) => {
  const rental = await glm.oneOf({ order: order({ imageUrl: `file://${process.env.GOLEMJS_IMAGE_FILE}` }) });
  const exe = await rental.getExeUnit();
  const result = await exe.run('pwd && ls / | head -3');
  await rental.stopAndFinalize();
  return { stdout: result.stdout };
});
