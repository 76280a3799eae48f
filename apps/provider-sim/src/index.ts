export * from './fault-documents.js';
export * from './fault-plan.js';
export * from './feed-generator.js';
export * from './provider-sim.js';
