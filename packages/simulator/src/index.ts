export { conformanceDocument } from './conformance-documents.js';
export { SOUND_BASE_ID } from './fault-documents.js';
export { type Fault, type FaultPlan, FaultPlanSchema, FaultSchema } from './fault-plan.js';
export { basesForBytes, type GeneratedFeed, generateFeed } from './feed-generator.js';
export {
  generatePartnerFeed,
  type PartnerFeed,
  PartnerFeedSchema,
  partnerRecordsForBytes,
} from './partner-feed.js';
export {
  createProviderSim,
  FEED_PATH,
  type ProviderSim,
  type ProviderSimOptions,
  type ProviderSimState,
} from './provider-sim.js';
export { createRandom } from './random.js';
export { type ParsedSource, type Source, SourceSchema } from './source.js';
