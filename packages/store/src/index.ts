export * from './event-store.js';
export * from './layout.js';
export * from './store-error.js';
export * from './store-state.js';
