/**
 * Offer building (provider.md §1.4): hardware profile, the runtime's template, the preset's linear prices with
 * the start price last, the payment platforms, subnet and expiration constraints, and the negotiable payment
 * terms. The result is checked against the standards catalog before it is published.
 */
import { arch, cpus } from 'node:os';
import { validateProperties } from '../../standards/index.ts';
import { ProviderErrorCode, providerError } from './errors.ts';
import type { RuntimeInfo } from './runtimes.ts';
import type { Globals, HardwareProfile, Preset } from './settings.ts';
import { paymentPlatforms } from './settings.ts';

export const NEGOTIABLE = {
  acceptTimeout: 'golem.com.payment.debit-notes.accept-timeout?',
  debitNoteInterval: 'golem.com.scheme.payu.debit-note.interval-sec?',
  paymentTimeout: 'golem.com.scheme.payu.payment-timeout-sec?',
} as const;

export const COEFFS = 'golem.com.pricing.model.linear.coeffs';
export const USAGE_VECTOR = 'golem.com.usage.vector';

export interface OfferInput {
  preset: Preset;
  runtime: RuntimeInfo;
  globals: Globals;
  hardware: HardwareProfile;
  /** Payee address (the account, or the node id). */
  payee: string;
  now?: number;
}

export interface BuiltOffer {
  properties: Record<string, unknown>;
  constraints: string;
}

const NODE_ARCH: Record<string, string> = { x64: 'x86_64', arm64: 'aarch64', ia32: 'x86' };

export function buildOffer(input: OfferInput): BuiltOffer {
  const { preset, runtime, globals, hardware } = input;
  const template = runtime.template.properties;
  const templateVector = Array.isArray(template[USAGE_VECTOR]) ? (template[USAGE_VECTOR] as string[]) : [];
  const priced = Object.entries(runtime.counters)
    .filter(([, counter]) => counter.price)
    .map(([key]) => key);
  const candidates = new Set([...templateVector, ...priced]);
  // The preset's coefficients sorted by key, as ya-provider orders them.
  const prices = Object.entries(preset['usage-coeffs'])
    .filter(([key]) => candidates.has(key))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (prices.length === 0)
    throw providerError(
      ProviderErrorCode.BadOffer,
      `preset ${preset.name} prices no counter ${runtime.name} reports`,
      {
        preset: preset.name,
        counters: [...candidates],
      },
    );
  const n = globals.negotiation;
  const properties: Record<string, unknown> = {
    ...template,
    'golem.inf.cpu.architecture': NODE_ARCH[arch()] ?? arch(),
    'golem.inf.cpu.cores': Math.max(1, cpus().length),
    'golem.inf.cpu.threads': hardware.cpu_threads,
    'golem.inf.mem.gib': hardware.mem_gib,
    'golem.inf.storage.gib': hardware.storage_gib,
    'golem.node.debug.subnet': globals.subnet,
    'golem.node.net.is-public': false,
    'golem.runtime.name': runtime.name,
    'golem.runtime.version': runtime.version,
    ...Object.fromEntries(
      Object.entries(runtime.descriptor.properties).map(([k, v]) => [`golem.runtime.${k}`, v]),
    ),
    'golem.srv.caps.multi-activity': true,
    'golem.com.scheme': 'payu',
    'golem.com.pricing.model': 'linear',
    [COEFFS]: [...prices.map(([, price]) => price), preset['initial-price']],
    [USAGE_VECTOR]: prices.map(([key]) => key),
    'golem.com.payment.protocol.version': 3,
    [NEGOTIABLE.acceptTimeout]: n.debitNoteAcceptTimeoutS,
    [NEGOTIABLE.debitNoteInterval]: n.debitNoteIntervalS,
    [NEGOTIABLE.paymentTimeout]: n.paymentTimeoutS,
  };
  if (globals.nodeName !== null) properties['golem.node.id.name'] = globals.nodeName;
  for (const platform of paymentPlatforms(globals.paymentNetworks))
    properties[`golem.com.payment.platform.${platform}.address`] = input.payee.toLowerCase();
  const clauses = [
    `(golem.srv.comp.expiration>${input.now ?? Date.now()})`,
    `(golem.node.debug.subnet=${globals.subnet})`,
  ];
  if (runtime.template.constraints.trim() !== '') clauses.push(runtime.template.constraints.trim());
  const constraints = `(&\n  ${clauses.join('\n  ')}\n)`;
  const errors = validateProperties(properties as never, { side: 'offer' }).filter(
    (i) => i.severity === 'error',
  );
  if (errors.length > 0)
    throw providerError(
      ProviderErrorCode.BadOffer,
      `the offer for ${runtime.name} breaks the standards: ${errors.map((e) => `${e.key}: ${e.message}`).join('; ')}`,
      { issues: errors },
    );
  return { properties, constraints };
}
