// runAndStream: output arrives while the command runs (the activity's SSE stream).
const { order, run } = require('./common.cjs');

run(async (glm) => {
  const rental = await glm.oneOf({ order: order() });
  const exe = await rental.getExeUnit();
  const remote = await exe.runAndStream('for i in 1 2 3; do echo line-$i; sleep 0.3; done; echo oops >&2');
  let stdout = '';
  let stderr = '';
  remote.stdout.subscribe((chunk) => {
    stdout += chunk;
  });
  remote.stderr.subscribe((chunk) => {
    stderr += chunk;
  });
  const finished = await remote.waitForExit(20_000);
  await rental.stopAndFinalize();
  return { stdout, stderr, result: finished.result };
});
