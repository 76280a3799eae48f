/**
 * A feed id: the provider part of every event's identity, the key of its state, and a token of
 * the subjects and keys cluster mode names after it (so: no dots, wildcards or spaces).
 */
export const FEED_ID = /^[a-z0-9][a-z0-9_-]{0,63}$/;

export const isFeedId = (text: string): boolean => FEED_ID.test(text);
