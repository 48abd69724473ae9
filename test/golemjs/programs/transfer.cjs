// Upload and download through the default WebSocket storage provider (/gsb-api): a file and JSON up, a file and
// data back.
const { mkdtempSync, readFileSync, writeFileSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { order, run } = require('./common.cjs');

run(async (glm) => {
  const dir = mkdtempSync(join(tmpdir(), 'golemjs-transfer-'));
  const input = join(dir, 'input.txt');
  writeFileSync(input, 'quiet words from the requestor\n');
  const rental = await glm.oneOf({ order: order() });
  const exe = await rental.getExeUnit();
  await exe.uploadFile(input, '/golem/work/input.txt');
  await exe.uploadJson({ greeting: 'hi' }, '/golem/work/data.json');
  const shout = await exe.run(
    'tr a-z A-Z < /golem/work/input.txt > /golem/work/output.txt && cat /golem/work/data.json',
  );
  await exe.downloadFile('/golem/work/output.txt', join(dir, 'output.txt'));
  const data = await exe.downloadData('/golem/work/data.json');
  await rental.stopAndFinalize();
  return {
    output: readFileSync(join(dir, 'output.txt'), 'utf8'),
    json: shout.stdout,
    downloaded: Buffer.from(data.data ?? data).toString('utf8'),
  };
});
