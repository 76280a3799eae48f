import { v5 as uuidv5 } from 'uuid';

/** Namespace of Tessera's event ids. Changing it changes every public id: never do. */
export const EVENT_ID_NAMESPACE = '5b0c3a6e-2f1d-4d8e-9a57-0c1f6a8e4b21';

/**
 * An event is (provider, base id, event id): the partner reuses event ids across base events
 * (1642 appears under three). The public id is a UUID v5 of that triple, so it is the same on
 * every restart and every machine without any id table.
 */
export function eventIdFor(provider: string, baseId: string, eventId: string): string {
  return uuidv5(`${provider}\u0000${baseId}\u0000${eventId}`, EVENT_ID_NAMESPACE);
}
