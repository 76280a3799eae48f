/**
 * What tests of this package and its users may ask of a store beyond its production interface:
 * imported as `@tessera/store/testing`, never by an app's source.
 */
export { lastTransactionId } from './store-writer.js';
