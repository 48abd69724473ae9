/**
 * Bus contract of the payment module (after yagna's `/public/payment` and `/local/payment`): what payment modules
 * on two nodes say to each other about debit notes, invoices and payments, and what the CLI asks of the local one.
 * Documents and payments use the ya-client JSON shapes (camelCase, amounts as decimal strings of whole tokens).
 */

export const PAYMENT_LOCAL = '/local/payment';
export const PAYMENT_PUBLIC = '/public/payment';

/**
 * Addresses other nodes call (as `/net/<nodeId>/payment/<Message>`). Every message is answered with `Ack` (`{}`)
 * or a coded error; the authenticated caller must be the document's counterparty.
 */
export const PaymentPublicAddress = {
  /** Provider → requestor: `DebitNote` (status as issued). */
  SendDebitNote: `${PAYMENT_PUBLIC}/SendDebitNote`,
  /** Requestor → provider: `AcceptDebitNote`. */
  AcceptDebitNote: `${PAYMENT_PUBLIC}/AcceptDebitNote`,
  /** Provider → requestor: `Invoice`. */
  SendInvoice: `${PAYMENT_PUBLIC}/SendInvoice`,
  /** Requestor → provider: `AcceptInvoice`. */
  AcceptInvoice: `${PAYMENT_PUBLIC}/AcceptInvoice`,
  /** Requestor → provider: `RejectInvoice`. */
  RejectInvoice: `${PAYMENT_PUBLIC}/RejectInvoice`,
  /** Provider → requestor: `CancelInvoice`. */
  CancelInvoice: `${PAYMENT_PUBLIC}/CancelInvoice`,
  /** Requestor → provider: `SignedPayment`, once the transfer is confirmed on chain. */
  SendPayment: `${PAYMENT_PUBLIC}/SendPayment`,
} as const;

/** `/net/<nodeId>/payment/<Message>`: the address under which `nodeId`'s public payment service is called. */
export function remotePaymentAddress(nodeId: string, address: string): string {
  return `/net/${nodeId}${address.slice('/public'.length)}`;
}

/** Local addresses (CLI, other modules on this node). */
export const PaymentLocalAddress = {
  /** `InitAccount` → `Account`. */
  Init: `${PAYMENT_LOCAL}/Init`,
  /** `{}` → `Account[]`. */
  Accounts: `${PAYMENT_LOCAL}/Accounts`,
  /** `StatusRequest` → `PaymentStatus`. */
  Status: `${PAYMENT_LOCAL}/Status`,
  /** `FundRequest` → the driver's `FundResult`. */
  Fund: `${PAYMENT_LOCAL}/Fund`,
  /** `{ owner? }` → `{ released: string[] }`. */
  ReleaseAllocations: `${PAYMENT_LOCAL}/ReleaseAllocations`,
  /** `{ owner? }` → `DebitNote[]` (both roles). */
  ListDebitNotes: `${PAYMENT_LOCAL}/ListDebitNotes`,
  /** `{ owner? }` → `Invoice[]` (both roles). */
  ListInvoices: `${PAYMENT_LOCAL}/ListInvoices`,
  /** `{ platform? }` → `{}`: run the payment batch now instead of at the end of its window. */
  ProcessPayments: `${PAYMENT_LOCAL}/ProcessPayments`,
} as const;

/** Local topic: every document status change on this node (`PaymentDocumentEvent`). */
export const PAYMENT_EVENTS_TOPIC = 'local:payment-events';

export type DocumentStatus =
  | 'ISSUED'
  | 'RECEIVED'
  | 'ACCEPTED'
  | 'REJECTED'
  | 'FAILED'
  | 'SETTLED'
  | 'CANCELLED';

export interface DebitNote {
  debitNoteId: string;
  issuerId: string;
  recipientId: string;
  payeeAddr: string;
  payerAddr: string;
  paymentPlatform: string;
  previousDebitNoteId?: string;
  timestamp: string;
  agreementId: string;
  activityId: string;
  /** Cumulative for the activity. */
  totalAmountDue: string;
  usageCounterVector?: unknown;
  /** Set: the note is payable (mid-agreement payment). */
  paymentDueDate?: string;
  status: DocumentStatus;
}

export interface Invoice {
  invoiceId: string;
  issuerId: string;
  recipientId: string;
  payeeAddr: string;
  payerAddr: string;
  paymentPlatform: string;
  timestamp: string;
  agreementId: string;
  activityIds: string[];
  /** Total for the whole agreement. */
  amount: string;
  paymentDueDate: string;
  status: DocumentStatus;
}

export interface Acceptance {
  totalAmountAccepted: string;
  allocationId: string;
}

export interface Rejection {
  rejectionReason: 'UNSOLICITED_SERVICE' | 'BAD_SERVICE' | 'INCORRECT_AMOUNT';
  totalAmountAccepted: string;
  message?: string;
}

export interface AcceptDebitNote {
  debitNoteId: string;
  issuerId: string;
  /** The amount accepted (the note's `totalAmountDue`); the allocation id stays with the requestor. */
  totalAmountAccepted: string;
}

export interface AcceptInvoice {
  invoiceId: string;
  issuerId: string;
  totalAmountAccepted: string;
}

export interface RejectInvoice {
  invoiceId: string;
  issuerId: string;
  rejection: Rejection;
}

export interface CancelInvoice {
  invoiceId: string;
  recipientId: string;
}

export interface AgreementPayment {
  agreementId: string;
  amount: string;
}

export interface ActivityPayment {
  activityId: string;
  amount: string;
}

/** ya-client `Payment`: what one confirmed transfer paid for. `details` is the transaction hash. */
export interface Payment {
  paymentId: string;
  payerId: string;
  payeeId: string;
  payerAddr: string;
  payeeAddr: string;
  paymentPlatform: string;
  amount: string;
  timestamp: string;
  agreementPayments: AgreementPayment[];
  activityPayments: ActivityPayment[];
  details: string;
}

/**
 * A payment signed by the payer identity: `signature` (r‖s‖v hex) over `paymentDigest(payment)`, keccak256 of the
 * canonical JSON of the payment (yagna signs sha3-256 of its JCS bytes; the scheme differs, the guarantee is the same).
 */
export interface SignedPayment {
  payment: Payment;
  signature: string;
}

export interface Account {
  platform: string;
  address: string;
  driver: string;
  network: string;
  token: string;
  send: boolean;
  receive: boolean;
}

/** A platform by name (`erc20-dev-tglm`) or by parts, as the CLI's `--network`/`--driver` give it. */
export type PlatformRef = string | { driver?: string; network?: string; token?: string };

export interface InitAccount {
  platform?: PlatformRef;
  /** Default: the node's default identity. */
  address?: string;
  send?: boolean;
  receive?: boolean;
}

export interface StatusRequest {
  platform?: PlatformRef;
  address?: string;
}

export interface PaymentStatus {
  platform: string;
  address: string;
  token: string;
  gas: string;
  blockNumber: string;
  /** Remaining amounts of active allocations on this platform and address. */
  reserved: string;
  /** Accepted as requestor, not yet confirmed paid. */
  outgoingPending: string;
  outgoingPaid: string;
  /** Accepted as provider, not yet paid. */
  incomingPending: string;
  incomingPaid: string;
}

export interface FundRequest {
  platform?: PlatformRef;
  address?: string;
}

export type PaymentDocumentEvent = {
  kind: 'debitNote' | 'invoice';
  documentId: string;
  role: 'requestor' | 'provider';
  status: DocumentStatus;
  at: string;
};
