/**
 * The composite negotiator (provider.md §1.6): each component looks at the requestor's demand and our current
 * offer and says ready, counter (with a changed offer) or reject (with a reason golem-js shows its user, final or
 * not). Any rejection wins; any change makes a counter-proposal; an agreement is approved only when every
 * component is ready on its exact terms. Pure: the caller passes the clock and how many agreements it holds.
 */
import { matchDemandOffer } from '../../language/index.ts';
import { unconfirmedNegotiables } from '../../standards/index.ts';
import { COEFFS, NEGOTIABLE } from './offer.ts';
import type { NegotiationSettings } from './settings.ts';

export type Props = Record<string, unknown>;

export interface NegotiationInput {
  demand: { properties: Props; constraints: string; requestorId: string };
  offer: { properties: Props; constraints: string };
  settings: NegotiationSettings;
  /** Agreements held now (approved, not yet ended), not counting the one decided. */
  agreementsHeld: number;
  now: number;
}

export type Verdict =
  | { kind: 'ready' }
  | { kind: 'counter'; properties: Props; changed: string[] }
  | { kind: 'reject'; message: string; final: boolean };

/** Flat dotted keys whatever shape the properties came in. */
export function flat(properties: unknown, prefix = '', out: Props = {}): Props {
  if (typeof properties !== 'object' || properties === null || Array.isArray(properties)) {
    if (prefix !== '') out[prefix] = properties;
    return out;
  }
  for (const [key, value] of Object.entries(properties)) {
    const name = prefix === '' ? key : key === '@tag' ? prefix : `${prefix}.${key}`;
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) flat(value, name, out);
    else out[name] = value;
  }
  return out;
}

const num = (value: unknown): number | undefined => {
  const n = typeof value === 'string' ? Number(value) : value;
  return typeof n === 'number' && Number.isFinite(n) ? n : undefined;
};

type Step = { reject: { message: string; final: boolean } } | { set?: Props; remove?: string[] } | undefined;

function nodeLists(input: NegotiationInput): Step {
  const id = input.demand.requestorId.toLowerCase();
  const { blockedNodes, allowedNodes } = input.settings;
  if (blockedNodes.some((node) => node.toLowerCase() === id))
    return { reject: { message: `Requestor node ${id} is blocked by this provider`, final: true } };
  if (allowedNodes.length > 0 && !allowedNodes.some((node) => node.toLowerCase() === id))
    return { reject: { message: `Requestor node ${id} is not on this provider's allow list`, final: true } };
  return undefined;
}

function capacity(input: NegotiationInput): Step {
  const max = input.settings.maxAgreements;
  if (input.agreementsHeld >= max)
    return { reject: { message: `No capacity available. Reached Agreements limit: ${max}`, final: false } };
  return undefined;
}

function expiration(input: NegotiationInput): Step {
  const s = input.settings;
  const expires = num(input.demand.properties['golem.srv.comp.expiration']);
  if (expires === undefined)
    return { reject: { message: 'The demand has no golem.srv.comp.expiration', final: true } };
  const withDeadline = input.demand.properties[NEGOTIABLE.acceptTimeout] !== undefined;
  const maxS = withDeadline ? s.maxAgreementExpirationS : s.maxAgreementExpirationWithoutDeadlineS;
  if (expires < input.now + s.minAgreementExpirationS * 1000)
    return {
      reject: {
        message: `Agreement expiration ${new Date(expires).toISOString()} is sooner than the minimum of ${s.minAgreementExpirationS} s`,
        final: true,
      },
    };
  if (expires > input.now + maxS * 1000)
    return {
      reject: {
        message: `Agreement expiration ${new Date(expires).toISOString()} is later than the maximum of ${maxS} s${withDeadline ? '' : ' for requestors that accept debit notes without a deadline'}`,
        final: false,
      },
    };
  return undefined;
}

function acceptTimeout(input: NegotiationInput): Step {
  const key = NEGOTIABLE.acceptTimeout;
  const ours = input.settings.debitNoteAcceptTimeoutS;
  const raw = input.demand.properties[key];
  if (raw === undefined) return { remove: [key] };
  const theirs = num(raw);
  if (theirs === undefined) return { reject: { message: `${key} is not a number`, final: true } };
  if (theirs > ours)
    return {
      reject: {
        message: `Debit note acceptance timeout ${theirs} s is longer than this provider's ${ours} s`,
        final: true,
      },
    };
  if (theirs < 5)
    return {
      reject: { message: `Debit note acceptance timeout ${theirs} s is shorter than 5 s`, final: true },
    };
  return { set: { [key]: Math.floor(theirs) } };
}

function ranged(
  key: string,
  what: string,
  min: number,
  max: number,
): (input: NegotiationInput, theirs: number) => Step {
  return (_input, theirs) => {
    if (theirs < min || theirs > max)
      return { reject: { message: `${what} ${theirs} s is outside [${min} s, ${max} s]`, final: true } };
    return { set: { [key]: Math.floor(theirs) } };
  };
}

function debitNoteInterval(input: NegotiationInput): Step {
  const key = NEGOTIABLE.debitNoteInterval;
  const raw = input.demand.properties[key];
  if (raw === undefined) return { remove: [key] };
  const theirs = num(raw);
  if (theirs === undefined) return { reject: { message: `${key} is not a number`, final: true } };
  const s = input.settings;
  return ranged(key, 'Debit note interval', s.minDebitNoteIntervalS, s.maxDebitNoteIntervalS)(input, theirs);
}

function paymentTimeout(input: NegotiationInput): Step {
  const key = NEGOTIABLE.paymentTimeout;
  const s = input.settings;
  const raw = input.demand.properties[key];
  if (raw === undefined) {
    const expires = num(input.demand.properties['golem.srv.comp.expiration']) ?? input.now;
    if (expires - input.now >= s.paymentTimeoutRequiredDurationS * 1000)
      return {
        reject: {
          message: `Agreements of ${s.paymentTimeoutRequiredDurationS} s or more need a payment timeout (${key})`,
          final: true,
        },
      };
    return { remove: [key] };
  }
  const theirs = num(raw);
  if (theirs === undefined) return { reject: { message: `${key} is not a number`, final: true } };
  return ranged(key, 'Payment timeout', s.minPaymentTimeoutS, s.maxPaymentTimeoutS)(input, theirs);
}

function price(input: NegotiationInput): Step {
  const theirs = input.demand.properties[COEFFS];
  if (theirs === undefined) return undefined;
  const ours = input.offer.properties[COEFFS] as number[];
  if (!Array.isArray(theirs) || theirs.length !== ours.length)
    return {
      reject: {
        message: `The demand's prices ${JSON.stringify(theirs)} do not fit this offer's`,
        final: false,
      },
    };
  const values = theirs.map(num);
  if (values.some((v, i) => v === undefined || v < ours[i]!))
    return {
      reject: {
        message: `The demand's prices ${JSON.stringify(theirs)} are below this offer's`,
        final: true,
      },
    };
  return { set: { [COEFFS]: values } };
}

const COMPONENTS = [nodeLists, capacity, expiration, acceptTimeout, debitNoteInterval, paymentTimeout, price];

/** Runs every component; `ready` only when nothing changes, every negotiable is confirmed and the demand matches. */
export function negotiate(input: NegotiationInput): Verdict {
  const properties: Props = { ...input.offer.properties };
  for (const component of COMPONENTS) {
    const step = component({ ...input, offer: { ...input.offer, properties } });
    if (step === undefined) continue;
    if ('reject' in step) return { kind: 'reject', ...step.reject };
    for (const key of step.remove ?? []) delete properties[key];
    Object.assign(properties, step.set ?? {});
  }
  const match = matchDemandOffer(
    { properties: input.demand.properties, constraints: input.demand.constraints },
    { properties, constraints: input.offer.constraints },
  );
  if (match.result !== 'yes')
    return {
      kind: 'reject',
      message: `This offer does not satisfy the demand's constraints (${match.result})`,
      final: true,
    };
  const changed = Object.keys({ ...properties, ...input.offer.properties }).filter(
    (key) => JSON.stringify(properties[key]) !== JSON.stringify(input.offer.properties[key]),
  );
  // A negotiable term of ours that the demand does not state with the same value binds nobody: counter it.
  const unconfirmed = unconfirmedNegotiables(properties as never, input.demand.properties as never);
  if (changed.length > 0 || unconfirmed.length > 0)
    return { kind: 'counter', properties, changed: [...changed, ...unconfirmed.map((u) => u.key)] };
  return { kind: 'ready' };
}
