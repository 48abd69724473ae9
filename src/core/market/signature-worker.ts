/**
 * A verification worker: answers each batch of offers with one byte per offer, 1 if its provider signed it.
 * Only the signature is checked here; the caller has checked everything else.
 */
import { parentPort } from 'node:worker_threads';
import { offerSignatureValid } from './offer-check.ts';
import type { SignatureJob } from './signature-pool.ts';

parentPort!.on('message', (job: SignatureJob) => {
  const valid = new Uint8Array(job.offers.length);
  for (const [i, offer] of job.offers.entries()) {
    try {
      valid[i] = offerSignatureValid(offer) ? 1 : 0;
    } catch {
      valid[i] = 0;
    }
  }
  parentPort!.postMessage({ id: job.id, valid }, [valid.buffer]);
});
