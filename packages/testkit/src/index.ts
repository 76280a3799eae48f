export {
  APP_ENVIRONMENT,
  APP_NODE_OPTIONS,
  type AppName,
  REPO_ROOT,
  type RunningProcess,
  type StartOptions,
  startApp,
  startNode,
  startProcess,
} from './child-process.js';
export { freePort } from './free-port.js';
export { type NatsCluster, startNatsCluster } from './nats-cluster.js';
export { type Nginx, type NginxOptions, startNginx } from './nginx.js';
export { type SeedTarget, seedRecords, seedStore, weekWindow } from './seed-store.js';
export { tamperWithStore } from './tamper-store.js';
export { getJson, waitUntil } from './wait.js';
export { readWholeDocument, type WholeReading } from './whole-document.js';
