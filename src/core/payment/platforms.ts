/** Which driver serves which platform, and how a platform is named in requests and in agreements. */
import type { PaymentDriver, PaymentPlatform, PlatformInfo } from './driver.ts';
import { PaymentErrorCode, paymentError } from './errors.ts';

/** yagna's REST default when a new allocation names no platform. */
export const DEFAULT_PLATFORM = 'erc20-holesky-tglm';
const PLATFORM_KEY = /^golem\.com\.payment\.platform\.([^.]+)\.address$/;

export class DriverRegistry {
  #drivers: PaymentDriver[];

  constructor(drivers: PaymentDriver[]) {
    this.#drivers = drivers;
  }

  get drivers(): readonly PaymentDriver[] {
    return this.#drivers;
  }

  platforms(): PlatformInfo[] {
    return this.#drivers.flatMap((driver) => driver.platforms());
  }

  info(platform: PaymentPlatform): PlatformInfo | undefined {
    return this.platforms().find((info) => info.platform === platform);
  }

  driverFor(platform: PaymentPlatform): PaymentDriver {
    const driver = this.#drivers.find((candidate) =>
      candidate.platforms().some((p) => p.platform === platform),
    );
    if (driver === undefined)
      throw paymentError(PaymentErrorCode.BadPlatform, `no payment driver serves platform ${platform}`, 400, {
        platform,
        known: this.platforms().map((p) => p.platform),
      });
    return driver;
  }

  /** The platform of a request: a string, `{driver, network, token}`, or nothing (the default). */
  resolve(requested: unknown): PaymentPlatform {
    const known = this.platforms();
    if (requested === undefined || requested === null) {
      const fallback =
        known.find((p) => p.platform === DEFAULT_PLATFORM) ?? known.find((p) => p.testnet) ?? known[0];
      if (fallback === undefined)
        throw paymentError(PaymentErrorCode.NoDriver, 'no payment driver is configured', 500);
      return fallback.platform;
    }
    if (typeof requested === 'string') {
      this.driverFor(requested);
      return requested;
    }
    if (typeof requested === 'object' && !Array.isArray(requested)) {
      const { driver, network, token } = requested as Record<string, unknown>;
      const found = known.find(
        (p) =>
          (driver === undefined || p.driver === driver) &&
          (network === undefined || p.network === network) &&
          (token === undefined || p.token === token) &&
          (network !== undefined || token !== undefined || p.testnet),
      );
      if (found !== undefined) return found.platform;
    }
    throw paymentError(PaymentErrorCode.BadPlatform, 'unknown payment platform', 400, {
      paymentPlatform: requested,
      known: known.map((p) => p.platform),
    });
  }
}

/** The platform both sides of an agreement named, with the payer's and payee's addresses on it. */
export function agreementPlatform(
  demandProperties: Record<string, unknown>,
  offerProperties: Record<string, unknown>,
  supported: (platform: string) => boolean,
): { platform: string; payerAddr: string; payeeAddr: string } | undefined {
  const candidates: { platform: string; payerAddr: string; payeeAddr: string }[] = [];
  for (const [key, value] of Object.entries(demandProperties)) {
    const match = PLATFORM_KEY.exec(key);
    const payee = offerProperties[key];
    if (match === null || typeof value !== 'string' || typeof payee !== 'string') continue;
    candidates.push({ platform: match[1]!, payerAddr: value.toLowerCase(), payeeAddr: payee.toLowerCase() });
  }
  return candidates.find((c) => supported(c.platform)) ?? candidates[0];
}

export function platformKey(platform: string): string {
  return `golem.com.payment.platform.${platform}.address`;
}
