/**
 * `golem`: the requestor agent's command line.
 *
 *   golem run --runtime wasi|vm [--image <tag|hash|file>] [--providers N] [--budget GLM] [--json] -- <command…>
 *
 * Reads the daemon from `YAGNA_API_URL`/`YAGNA_APPKEY` (what `devnet.env` sets), the payment network from
 * `PAYMENT_NETWORK`, images from `GOLEM_REGISTRY_URL`, the subnet from `YAGNA_SUBNET` (default `public`), and keeps
 * its provider reputation in `$GOLEM_REQUESTOR_DIR/reputation.json` (default `~/.local/share/golem-ts/requestor`).
 * Progress goes to stderr, the command's output to stdout (prefixed by the provider when there are several),
 * the summary last. Exit code: 0 when the command succeeded everywhere, 1 otherwise, 2 for bad usage.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { GolemError } from '../../core/errors/index.ts';
import { resolveImage } from './image.ts';
import { Reputation } from './reputation.ts';
import { type RunSummary, runOnProviders } from './run.ts';

const USAGE = `usage: golem run --runtime wasi|vm [--image <tag|hash|file>] [--providers N] [--budget GLM] [--json] -- <command…>

  --runtime    wasi (WebAssembly) or vm (QEMU virtual machine)
  --image      a registry tag (golem/alpine:latest), a sha3-224 hash, or a local file; on wasi the default is
               the sample echo package
  --providers  how many providers run the command (default 1), negotiated with all at once
  --budget     GLM the run may cost at most (default 1)
  --json       print the summary as JSON

environment: YAGNA_API_URL, YAGNA_APPKEY (source a devnet's devnet.env), PAYMENT_NETWORK, GOLEM_REGISTRY_URL,
YAGNA_SUBNET, GOLEM_REQUESTOR_DIR`;

export function reputationFile(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.GOLEM_REQUESTOR_DIR || join(homedir(), '.local', 'share', 'golem-ts', 'requestor');
  return join(base, 'reputation.json');
}

export function formatSummary(summary: RunSummary): string {
  const lines = [`done in ${summary.seconds.toFixed(1)} s, cost ${summary.cost} GLM`];
  for (const p of summary.providers) {
    lines.push(
      `  ${p.name} ${p.providerId}, agreement ${p.agreementId.slice(0, 16)}…: ` +
        `${p.ok ? 'ok' : `failed (exit ${p.exitCode ?? '-'})`}, ${p.seconds.toFixed(1)} s, ` +
        `${p.cost} GLM, invoice ${p.invoiceStatus}${p.transactions.length ? `, tx ${p.transactions.join(' ')}` : ''}`,
    );
    for (const d of p.disputes)
      lines.push(
        `    DISPUTE ${d.document} ${d.documentId}: asked ${d.claimed} GLM, agreed ${d.allowed} GLM; ` +
          `${d.rejected ? `rejected (${d.reason})` : 'not accepted'}: ${d.message}`,
      );
  }
  return lines.join('\n');
}

/** Writes streamed output line by line, each line prefixed (chunks may end mid-line); `flush` ends the last. */
export function prefixedLines(write: (text: string) => void) {
  const partial = new Map<string, string>();
  return {
    write(prefix: string, text: string) {
      const lines = ((partial.get(prefix) ?? '') + text).split('\n');
      partial.set(prefix, lines.pop()!);
      for (const line of lines) write(`${prefix}${line}\n`);
    },
    flush() {
      for (const [prefix, rest] of partial) if (rest !== '') write(`${prefix}${rest}\n`);
      partial.clear();
    },
  };
}

export async function main(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  if (verb !== 'run') {
    process.stderr.write(`${USAGE}\n`);
    return verb === undefined || verb === '--help' || verb === '-h' ? 0 : 2;
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: rest,
      allowPositionals: true,
      options: {
        runtime: { type: 'string' },
        image: { type: 'string' },
        providers: { type: 'string' },
        budget: { type: 'string' },
        json: { type: 'boolean' },
      },
    });
  } catch (error) {
    process.stderr.write(`golem: ${(error as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  const runtime = values.runtime;
  const providers = Number(values.providers ?? '1');
  const budget = Number(values.budget ?? '1');
  const bad =
    runtime !== 'wasi' && runtime !== 'vm'
      ? '--runtime is wasi or vm'
      : !Number.isInteger(providers) || providers < 1 || providers > 100
        ? '--providers is a number from 1 to 100'
        : !(budget > 0)
          ? '--budget is a positive amount of GLM'
          : parsed.positionals.length === 0
            ? 'give the command after --'
            : process.env.YAGNA_APPKEY
              ? undefined
              : 'YAGNA_APPKEY is not set (source the devnet.env of `yagna devnet up`)';
  if (bad !== undefined) {
    process.stderr.write(`golem: ${bad}\n${USAGE}\n`);
    return 2;
  }
  const progress = (line: string) => process.stderr.write(`[golem] ${line}\n`);
  let image: Awaited<ReturnType<typeof resolveImage>> | undefined;
  const out = prefixedLines((text) => process.stdout.write(text));
  try {
    image = await resolveImage(
      values.image as string | undefined,
      runtime as 'wasi',
      process.env.GOLEM_REGISTRY_URL,
    );
    progress(`image: ${image.describe}`);
    const summary = await runOnProviders({
      apiUrl: process.env.YAGNA_API_URL || 'http://127.0.0.1:7465',
      appKey: process.env.YAGNA_APPKEY!,
      runtime: runtime as 'wasi',
      taskPackage: image.taskPackage,
      command: parsed.positionals,
      providers,
      budget,
      paymentNetwork: process.env.PAYMENT_NETWORK || 'holesky',
      subnet: process.env.YAGNA_SUBNET || 'public',
      reputation: new Reputation(reputationFile()),
      progress,
      output: (provider, _stream, text) =>
        providers > 1 ? out.write(`[${provider}] `, text) : process.stdout.write(text),
    });
    out.flush();
    if (values.json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    else process.stderr.write(`${formatSummary(summary)}\n`);
    return summary.providers.every((p) => p.ok) ? 0 : 1;
  } catch (error) {
    const code = error instanceof GolemError ? ` [${error.code}]` : '';
    process.stderr.write(`golem: ${(error as Error).message}${code}\n`);
    return 1;
  } finally {
    await image?.close();
  }
}

if (import.meta.main) process.exitCode = await main(process.argv.slice(2));
