import { type OperatorResult, OperatorResultSchema } from './operator-action.js';
import { isOperatorErrorCode, OperatorError } from './operator-error.js';

/**
 * An action's answer as it crosses a process (the control socket, a NATS reply): the API's
 * envelope, `{"data": result, "error": null}` or `{"data": null, "error": {code, message}}`.
 */
export type ActionEnvelope =
  | { data: OperatorResult; error: null }
  | { data: null; error: { code: string; message: string } };

export function resultEnvelope(result: OperatorResult): ActionEnvelope {
  return { data: result, error: null };
}

/** A failed action's envelope: an OperatorError keeps its code, anything else is action_failed. */
export function errorEnvelope(error: unknown): ActionEnvelope {
  return {
    data: null,
    error: {
      code: error instanceof OperatorError ? error.code : 'action_failed',
      message: error instanceof Error ? error.message : String(error),
    },
  };
}

/** What an envelope says: the result, or the OperatorError it carries (`action_failed` for a code not of the catalogue). */
export function resultOf(envelope: unknown): OperatorResult {
  const { data, error } = (envelope ?? {}) as {
    data?: unknown;
    error?: { code?: unknown; message?: unknown } | null;
  };
  if (error == null) return OperatorResultSchema.parse(data);
  const code = isOperatorErrorCode(error.code) ? error.code : 'action_failed';
  throw new OperatorError(code, String(error.message ?? code));
}
