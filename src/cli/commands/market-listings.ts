import { MarketLocalAddress, type SignedOffer } from '../../core/model/market.ts';
import { formatExplanation, type MatchResult } from '../../language/index.ts';
import { type Command, type CommandContext, UsageError } from '../command.ts';
import { formatTable } from '../output.ts';

async function ask<T>(context: CommandContext, address: string, message?: unknown): Promise<T> {
  const control = await context.control();
  try {
    return await control.call<T>(address, message);
  } finally {
    await control.close();
  }
}

/** `linear` price of an offer as `start + a/unit …`, from its coefficients and usage vector. */
function price(offer: SignedOffer): string {
  const coeffs = offer.properties['golem.com.pricing.model.linear.coeffs'];
  const vector = offer.properties['golem.com.usage.vector'];
  if (!Array.isArray(coeffs) || !Array.isArray(vector)) return '';
  const parts = vector.map((name, i) => `${coeffs[i]}/${String(name).replace('golem.usage.', '')}`);
  return [`start ${coeffs[vector.length] ?? 0}`, ...parts].join(', ');
}

export const commands: Command[] = [
  {
    name: 'market offers',
    summary: 'List the offers this node knows (its own and propagated ones)',
    run: async (context) => {
      const offers = await ask<SignedOffer[]>(context, MarketLocalAddress.Offers);
      if (context.json) context.printJson(offers);
      else
        context.print(
          formatTable(
            ['offerId', 'provider', 'runtime', 'expires'],
            offers.map((o) => [
              o.offerId.slice(0, 16),
              o.providerId,
              String(o.properties['golem.runtime.name'] ?? ''),
              o.expiresAt,
            ]),
          ),
        );
      return 0;
    },
  },
  {
    name: 'market demands',
    summary: 'List the active demands of this node',
    run: async (context) => {
      const demands = await ask<{ demandId: string; requestorId: string; constraints: string }[]>(
        context,
        MarketLocalAddress.Demands,
      );
      if (context.json) context.printJson(demands);
      else
        context.print(
          formatTable(
            ['demandId', 'requestor', 'constraints'],
            demands.map((d) => [d.demandId.slice(0, 16), d.requestorId, d.constraints.replace(/\s+/g, ' ')]),
          ),
        );
      return 0;
    },
  },
  {
    name: 'market agreements',
    summary: 'List agreements of this node with their state',
    run: async (context) => {
      const agreements = await ask<
        {
          agreementId: string;
          state: string;
          offer: { providerId: string };
          demand: { requestorId: string };
          validTo: string;
        }[]
      >(context, MarketLocalAddress.Agreements);
      if (context.json) context.printJson(agreements);
      else
        context.print(
          formatTable(
            ['agreementId', 'state', 'requestor', 'provider', 'validTo'],
            agreements.map((a) => [
              a.agreementId.slice(0, 16),
              a.state,
              a.demand.requestorId,
              a.offer.providerId,
              a.validTo,
            ]),
          ),
        );
      return 0;
    },
  },
  {
    name: 'market scan',
    summary: 'Show the known offers that match a demand, with prices; when none matches, why',
    options: [
      {
        name: 'constraints',
        type: 'string',
        description: 'the demand constraints, inline or @file',
        required: true,
      },
      {
        name: 'properties',
        type: 'string',
        description: 'the demand properties as JSON, inline or @file (default {})',
      },
    ],
    run: async (context) => {
      const constraints = await context.readArgument(context.options.constraints as string);
      let properties: unknown = {};
      if (typeof context.options.properties === 'string') {
        try {
          properties = JSON.parse(await context.readArgument(context.options.properties));
        } catch (cause) {
          throw new UsageError(`--properties is not JSON: ${(cause as Error).message}`);
        }
      }
      const result = await ask<{
        matching: SignedOffer[];
        closest: {
          offerId: string;
          providerId: string;
          result: string;
          explanation: MatchResult['explanation'];
        }[];
        total: number;
      }>(context, MarketLocalAddress.Scan, { constraints, properties });
      if (context.json) {
        context.printJson(result);
        return 0;
      }
      if (result.matching.length > 0) {
        context.print(
          formatTable(
            ['offerId', 'provider', 'name', 'price (GLM)'],
            result.matching.map((o) => [
              o.offerId.slice(0, 16),
              o.providerId,
              String(o.properties['golem.node.id.name'] ?? ''),
              price(o),
            ]),
          ),
        );
        return 0;
      }
      context.print(`no offer matches (${result.total} known).`);
      for (const near of result.closest) {
        context.print(`\noffer ${near.offerId.slice(0, 16)} of ${near.providerId}: ${near.result}`);
        context.print(
          formatExplanation({ result: near.result as MatchResult['result'], explanation: near.explanation }),
        );
      }
      return 0;
    },
  },
];
