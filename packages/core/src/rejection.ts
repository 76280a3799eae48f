/**
 * Why a provider record did not become an event. The codes are stable: they appear in logs,
 * in the ingestor's summary and in metrics, so renaming one is a breaking change.
 */
export const REJECTION_CODES = [
  'missing_attribute',
  'invalid_id',
  'attribute_too_long',
  'invalid_datetime',
  'end_before_start',
  'invalid_price',
  /** A mapped feed's value of the wrong kind (an object where a title belongs, say). */
  'invalid_value',
] as const;

export type RejectionCode = (typeof REJECTION_CODES)[number];

export interface Rejection {
  code: RejectionCode;
  /** Which attribute was at fault, when one was. */
  field?: string;
  message: string;
}

export function reject(code: RejectionCode, message: string, field?: string): Rejection {
  return field === undefined ? { code, message } : { code, field, message };
}
